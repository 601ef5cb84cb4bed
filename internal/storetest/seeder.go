package storetest

import (
	"testing"

	"boxoffice"
)

// SeederStore is a Store that also implements boxoffice.Seeder.
type SeederStore interface {
	boxoffice.Store
	boxoffice.Seeder
}

// Seeder checks the parts of boxoffice.Seeder that the seed command relies
// on, on a fresh, empty, migrated store: HasData tells events and users
// apart, and seeding users that exist already keeps them and succeeds.
func Seeder(t *testing.T, s SeederStore) {
	ctx := t.Context()
	hasData := func(wantEvents, wantUsers bool) {
		t.Helper()
		events, users, err := s.HasData(ctx)
		if err != nil {
			t.Fatalf("HasData: %v", err)
		}
		if events != wantEvents || users != wantUsers {
			t.Fatalf("HasData: events %v, users %v; want %v, %v", events, users, wantEvents, wantUsers)
		}
	}
	hasData(false, false)

	must(t, "CreateEvent", s.CreateEvent(ctx, newEvent()))
	hasData(true, false)

	spec := boxoffice.SeedSpec{Users: 3, PasswordHash: []byte("first-hash"), Now: now()}
	must(t, "Seed users", s.Seed(ctx, spec, nil))
	hasData(true, true)

	// Seeding the same users again (a forced seed) keeps the stored ones.
	spec.Users, spec.PasswordHash, spec.Events = 5, []byte("second-hash"), 2
	must(t, "Seed users again", s.Seed(ctx, spec, nil))
	for i, want := range []string{"first-hash", "first-hash", "first-hash", "second-hash", "second-hash"} {
		u, err := s.UserByEmail(ctx, boxoffice.SeedUserEmail(i))
		if err != nil {
			t.Fatalf("UserByEmail(seeded user %d): %v", i, err)
		}
		if u.ID != boxoffice.SeedUserID(i) || string(u.PasswordHash) != want {
			t.Errorf("seeded user %d: id %s, hash %q; want %s, %q", i, u.ID, u.PasswordHash, boxoffice.SeedUserID(i), want)
		}
	}
	hasData(true, true)
}
