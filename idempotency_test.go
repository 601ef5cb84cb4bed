package boxoffice

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOutcomeText(t *testing.T) {
	held := Outcome{Kind: OutcomeHeld, ReservationID: "r1", Quantity: 3, Amount: Money{Amount: 15000, Currency: "EUR"}}
	for _, o := range []Outcome{held, {Kind: OutcomeConfirmed, ReservationID: "r1"}, {Kind: OutcomeCancelled, ReservationID: "r1"}} {
		b, err := o.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		got := Outcome{ReservationID: "r1"}
		if err := got.UnmarshalText(b); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o, got); d != "" {
			t.Errorf("%s did not round-trip (-want +got):\n%s", b, d)
		}
	}
	if b, _ := held.MarshalText(); string(b) != "o2:held:3:15000:EUR" {
		t.Errorf("held outcome stored as %q", b)
	}

	// Records written before outcomes were stored, and ones this version
	// cannot read, never fail.
	for text, want := range map[string]Outcome{
		"hold:3:15000:EUR": held,
		`{"id":"r1","status":"held","quantity":3,"amount":{"amount":15000,"currency":"EUR"}}`: held,
		`{"id":"r1","status":"confirmed","quantity":3}`:                                       {Kind: OutcomeConfirmed, ReservationID: "r1"},
		`{"id":"r1","status":"cancelled"}`:                                                    {Kind: OutcomeCancelled, ReservationID: "r1"},
		"o3:transferred:someone":                                                              {Kind: OutcomeUnknown, ReservationID: "r1"},
		"o2:held:x:1:EUR":                                                                     {Kind: OutcomeUnknown, ReservationID: "r1"},
		`{"status":`:                                                                          {Kind: OutcomeUnknown, ReservationID: "r1"},
		"":                                                                                    {Kind: OutcomeUnknown, ReservationID: "r1"},
	} {
		got := Outcome{ReservationID: "r1"}
		if err := got.UnmarshalText([]byte(text)); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", text, d)
		}
	}
}

func TestOutcomeReplay(t *testing.T) {
	created := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	confirmed, cancelled := created.Add(time.Minute), created.Add(time.Hour)
	now := Reservation{
		ID: "r1", Quantity: 2, Status: StatusCancelled, Amount: Money{Amount: 10000, Currency: "EUR"},
		CreatedAt: created, UpdatedAt: cancelled, ConfirmedAt: &confirmed, CancelledAt: &cancelled,
	}
	held := Outcome{Kind: OutcomeHeld, ReservationID: "r1", Quantity: 3, Amount: Money{Amount: 15000, Currency: "EUR"}}
	want := now
	want.Status, want.Quantity, want.Amount, want.UpdatedAt, want.ConfirmedAt, want.CancelledAt = StatusHeld, 3, held.Amount, created, nil, nil
	if d := cmp.Diff(&want, held.Replay(&now)); d != "" {
		t.Errorf("replayed hold (-want +got):\n%s", d)
	}
	want = now
	want.Status, want.UpdatedAt, want.CancelledAt = StatusConfirmed, confirmed, nil
	if d := cmp.Diff(&want, Outcome{Kind: OutcomeConfirmed}.Replay(&now)); d != "" {
		t.Errorf("replayed confirmation (-want +got):\n%s", d)
	}
	for _, k := range []OutcomeKind{OutcomeCancelled, OutcomeUnknown} {
		if d := cmp.Diff(&now, Outcome{Kind: k}.Replay(&now)); d != "" {
			t.Errorf("replayed %s (-want +got):\n%s", k, d)
		}
	}
}
