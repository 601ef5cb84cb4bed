package sqlite_test

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/storetest"
)

// open returns a migrated store on a fresh file in t.TempDir().
func open(t *testing.T) *sqlite.Store {
	t.Helper()
	s := openAt(t, filepath.Join(t.TempDir(), "boxoffice.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// openAt opens path without migrating; the store is closed at cleanup.
func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) boxoffice.Store { return open(t) })
}

func TestSeeder(t *testing.T) {
	storetest.Seeder(t, open(t))
}

func TestMigrateTwice(t *testing.T) {
	s := open(t)
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
}

func TestMigrateConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	stores := []*sqlite.Store{openAt(t, path), openAt(t, path), openAt(t, path), openAt(t, path)}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d: %v", i, err)
		}
	}
	// Each store sees the schema the other made.
	e := &boxoffice.Event{ID: boxoffice.NewID(), Title: "Shared", Venue: "Here",
		StartsAt: time.Now().UTC(), SalesStartAt: time.Now().UTC(), SalesEndAt: time.Now().UTC().Add(time.Hour),
		MaxTicketsPerUser: 4, HoldSeconds: 900,
		Tiers: []boxoffice.Tier{{ID: boxoffice.NewID(), Name: "GA", Capacity: 1, Price: boxoffice.Money{Amount: 1, Currency: "USD"}}}}
	if err := stores[0].CreateEvent(t.Context(), e); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	for i, s := range stores {
		if _, err := s.Event(t.Context(), e.ID); err != nil {
			t.Fatalf("store %d: Event: %v", i, err)
		}
	}
}

func TestSeed(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	hot := &boxoffice.Event{ID: boxoffice.NewID(), Title: "Hot Show", Venue: "Big Arena",
		StartsAt: now.Add(30 * 24 * time.Hour), SalesStartAt: now, SalesEndAt: now.Add(24 * time.Hour),
		MaxTicketsPerUser: 4, HoldSeconds: 900, CreatedAt: now, UpdatedAt: now}
	hot.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: hot.ID, Name: "GA", Capacity: 5000,
		Price: boxoffice.Money{Amount: 5000, Currency: "USD"}}}
	const users, events = 1200, 12_000 // enough events to take the drop-and-rebuild-indexes path
	stages := map[string]int{}
	spec := boxoffice.SeedSpec{Users: users, PasswordHash: []byte("hash"), Events: events, HotEvent: hot, Now: now}
	start := time.Now()
	err := s.Seed(ctx, spec, func(stage string, done, total int) { stages[stage] = done })
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	t.Logf("seeded %d users and %d events in %v", users, events, time.Since(start))
	if stages["users"] != users || stages["events"] != events || stages["indexes"] != 2 {
		t.Errorf("last progress per stage: %v", stages)
	}

	u, err := s.UserByEmail(ctx, boxoffice.SeedUserEmail(users-1))
	if err != nil {
		t.Fatalf("UserByEmail(seeded): %v", err)
	}
	if u.ID != boxoffice.SeedUserID(users-1) || u.Role != boxoffice.RoleUser || string(u.PasswordHash) != "hash" {
		t.Errorf("seeded user: %+v", u)
	}
	if _, err := s.Event(ctx, hot.ID); err != nil {
		t.Fatalf("Event(hot): %v", err)
	}

	// Walk every event through the cursor: all there, in order.
	n := 0
	var f boxoffice.EventFilter
	f.Limit = 100
	var last *boxoffice.Event
	for {
		page, err := s.ListEvents(ctx, f)
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		for _, e := range page {
			if last != nil && (e.StartsAt.Before(last.StartsAt) || e.StartsAt.Equal(last.StartsAt) && e.ID <= last.ID) {
				t.Fatalf("events out of order: %s after %s", e.ID, last.ID)
			}
			if len(e.Tiers) != 1 {
				t.Fatalf("event %s has %d tiers", e.ID, len(e.Tiers))
			}
			last = e
		}
		n += len(page)
		if len(page) < f.Limit {
			break
		}
		f.AfterStartsAt, f.AfterID = last.StartsAt, last.ID
	}
	if n != events+1 {
		t.Fatalf("listed %d events, want %d", n, events+1)
	}
	got, err := s.ListEvents(ctx, boxoffice.EventFilter{Query: "arena", OnSaleAt: now, Limit: 10})
	if err != nil || len(got) == 0 {
		t.Fatalf("ListEvents(q=arena, on sale): %d events, %v", len(got), err)
	}
}

// TestSeedLarge times a full-size seed. It runs only when
// BOXOFFICE_TEST_SEED_EVENTS is set to the number of events (with 10,000
// users), e.g. 1000000.
func TestSeedLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BOXOFFICE_TEST_SEED_EVENTS"))
	if n <= 0 {
		t.Skip("set BOXOFFICE_TEST_SEED_EVENTS to time a large seed")
	}
	s := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()
	spec := boxoffice.SeedSpec{Users: 10_000, PasswordHash: []byte("hash"), Events: n, Now: now}
	if err := s.Seed(ctx, spec, func(stage string, done, total int) {
		t.Logf("%8v %s %d/%d", time.Since(start).Round(time.Millisecond), stage, done, total)
	}); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	t.Logf("seeded 10000 users and %d events in %v", n, time.Since(start))

	// A deep page costs what the first one costs.
	f := boxoffice.EventFilter{Limit: 20}
	for _, depth := range []string{"first", "deep"} {
		begin := time.Now()
		page, err := s.ListEvents(ctx, f)
		if err != nil || len(page) != 20 {
			t.Fatalf("ListEvents: %d, %v", len(page), err)
		}
		t.Logf("%s page: %v", depth, time.Since(begin))
		f.AfterStartsAt, f.AfterID = now.Add(365*24*time.Hour), ""
		f.AfterID = "0"
	}
	for _, q := range []string{"arena", "midnight symphony"} {
		begin := time.Now()
		page, err := s.ListEvents(ctx, boxoffice.EventFilter{Query: q, OnSaleAt: now, Limit: 20})
		if err != nil {
			t.Fatalf("ListEvents(q=%s): %v", q, err)
		}
		t.Logf("q=%q on sale: %d events in %v", q, len(page), time.Since(begin))
	}
}
