package metrics

import (
	"context"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/httpapi"
)

// BenchmarkRequestObserve is the metrics' cost per HTTP request: the
// in-flight gauge and one histogram observation.
func BenchmarkRequestObserve(b *testing.B) {
	m := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestBegin()
			m.RequestEnd("POST", "POST /api/v1/events/{id}/reservations", 201, "", 12*time.Millisecond)
		}
	})
}

// nopHolds grants every hold at once.
type nopHolds struct{ boxoffice.Store }

func (nopHolds) CreateHolds(_ context.Context, _ string, reqs []*boxoffice.HoldRequest) error {
	for _, r := range reqs {
		r.Err = nil
	}
	return nil
}

// BenchmarkHoldBatch is the cost of one group-commit batch of 64 holds
// through the counting Store decorator ("metrics") and without it ("off").
func BenchmarkHoldBatch(b *testing.B) {
	reqs := make([]*boxoffice.HoldRequest, 64)
	for i := range reqs {
		reqs[i] = &boxoffice.HoldRequest{}
	}
	for _, bc := range []struct {
		name  string
		store boxoffice.Store
	}{{"off", nopHolds{}}, {"metrics", New().Store(nopHolds{})}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				_ = bc.store.CreateHolds(ctx, "T", reqs)
			}
		})
	}
}

// cpuTime returns the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// instantStore serves one event and grants every hold at once, so that
// BenchmarkHoldRequest measures the server's own work.
type instantStore struct {
	boxoffice.Store
	event *boxoffice.Event
}

func (s instantStore) Event(context.Context, string) (*boxoffice.Event, error) { return s.event, nil }

func (s instantStore) CreateHolds(_ context.Context, _ string, reqs []*boxoffice.HoldRequest) error {
	for _, r := range reqs {
		r.Err = nil
	}
	return nil
}

// BenchmarkHoldRequest is POST /api/v1/events/{id}/reservations through the
// whole HTTP stack (middleware, routing, token check, decoding, the
// group-commit engine, encoding) on a store that answers at once, with
// metrics off and on: their difference is what metrics cost a hold.
func BenchmarkHoldRequest(b *testing.B) {
	now := time.Now().UTC()
	e := &boxoffice.Event{
		ID: boxoffice.NewID(), Title: "Hot", StartsAt: now.Add(time.Hour), SalesStartAt: now.Add(-time.Hour),
		SalesEndAt: now.Add(time.Hour), MaxTicketsPerUser: 10, HoldSeconds: 600,
	}
	e.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: e.ID, Name: "GA", Price: boxoffice.Money{Amount: 100, Currency: "USD"}, Capacity: 1 << 30}}
	tokens := auth.NewTokens(auth.RandomSecret(), time.Hour)
	token, _, err := tokens.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"tier_id":"` + e.Tiers[0].ID + `","quantity":1}`
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "metrics=off", true: "metrics=on"}[on], func(b *testing.B) {
			var store boxoffice.Store = instantStore{event: e}
			cfg := httpapi.Config{Tokens: tokens}
			if on {
				m := New()
				store = m.Store(store)
				cfg.Observer = m
			}
			cfg.Service = boxoffice.NewService(boxoffice.ServiceConfig{Store: store})
			h := httpapi.New(cfg)
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/api/v1/events/"+e.ID+"/reservations", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 201 {
						b.Fatalf("hold: %d %s", rec.Code, rec.Body)
					}
				}
			})
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
