package boxoffice

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// batchStore settles reports without a database: a batch holding the
// poisoned payment fails as a whole, as a store's transaction does when
// one of its rows cannot be written.
type batchStore struct {
	Store
	poison  string
	batches [][]string
}

func (s *batchStore) SettlePayments(_ context.Context, _ string, reqs []*SettleRequest) error {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.PaymentID)
	}
	s.batches = append(s.batches, ids)
	if slices.Contains(ids, s.poison) {
		return errors.New("a row of the batch cannot be written")
	}
	for _, r := range reqs {
		r.Changed = true
	}
	return nil
}

// TestSettleApart: a report the store cannot write fails alone; the
// reports batched with it are written each in its own transaction.
func TestSettleApart(t *testing.T) {
	s := &batchStore{poison: "bad"}
	reqs := []*SettleRequest{{PaymentID: "a"}, {PaymentID: "bad"}, {PaymentID: "c"}}
	if err := settleApart(s)(t.Context(), "ev", reqs); err != nil {
		t.Fatalf("settleApart: %v", err)
	}
	if !reqs[0].Changed || reqs[0].Err != nil || !reqs[2].Changed || reqs[2].Err != nil {
		t.Fatalf("the good reports: %+v, %+v", reqs[0], reqs[2])
	}
	if reqs[1].Err == nil || reqs[1].Changed {
		t.Fatalf("the poisoned report: %+v", reqs[1])
	}
	want := [][]string{{"a", "bad", "c"}, {"a"}, {"bad"}, {"c"}}
	if !slices.EqualFunc(s.batches, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", s.batches, want)
	}

	// A batch of one that fails is the batch's error.
	s.batches = nil
	one := []*SettleRequest{{PaymentID: "bad"}}
	if err := settleApart(s)(t.Context(), "ev", one); err == nil || len(s.batches) != 1 {
		t.Fatalf("one poisoned report: %v after %v", err, s.batches)
	}
}
