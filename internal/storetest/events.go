package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"boxoffice"
)

func testEvents(t *testing.T, s boxoffice.Store) {
	t.Run("CreateAndRead", func(t *testing.T) {
		ctx := t.Context()
		e := newEvent(100, 50, 5)
		e.Queue = boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 600}
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
		got, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		diff(t, "Event", e, got)
		if got.StartsAt.Location() != time.UTC || got.EndsAt.Location() != time.UTC || got.CreatedAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v %v %v", got.StartsAt, got.EndsAt, got.CreatedAt)
		}
	})

	t.Run("OptionalFieldsEmpty", func(t *testing.T) {
		ctx := t.Context()
		e := newEvent()
		e.EndsAt = nil
		e.Description = ""
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
		got, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		diff(t, "Event", e, got)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Event(t.Context(), boxoffice.NewID())
		wantErr(t, "Event(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("ReservedCounts", func(t *testing.T) {
		e := createEvent(t, s, 10, 20)
		u := createUser(t, s)
		at := now()
		mustHold(t, s, e, 0, u.ID, 3, at)
		mustHold(t, s, e, 1, u.ID, 1, at)
		got, err := s.Event(t.Context(), e.ID)
		must(t, "Event", err)
		e.Tiers[0].Reserved = 3
		e.Tiers[1].Reserved = 1
		diff(t, "Event", e, got)
		if got.Available() != 26 {
			t.Errorf("Available() = %d, want 26", got.Available())
		}
	})
}

// eventOrder sorts events the way ListEvents returns them.
func eventOrder(a, b *boxoffice.Event) int {
	if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// listAll pages through ListEvents with f and limit, following the cursor,
// and returns everything.
func listAll(t *testing.T, s boxoffice.Store, f boxoffice.EventFilter, limit int) []*boxoffice.Event {
	t.Helper()
	var all []*boxoffice.Event
	f.Limit = limit
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("ListEvents does not terminate")
		}
		got, err := s.ListEvents(t.Context(), f)
		must(t, "ListEvents", err)
		if len(got) > limit {
			t.Fatalf("ListEvents returned %d events, limit %d", len(got), limit)
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		last := got[len(got)-1]
		f.AfterStartsAt, f.AfterID = last.StartsAt, last.ID
	}
}

func testListEvents(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	base := now().Truncate(time.Hour).Add(7 * 24 * time.Hour)
	at := now()

	// 30 events, three starting at each hour, created in random order so
	// that ID order and start order differ; a few with searchable names and
	// different sales windows.
	var events []*boxoffice.Event
	for i := range 30 {
		e := newEvent(10 + i)
		if i%4 == 0 {
			e.Tiers = append(e.Tiers, boxoffice.Tier{ID: boxoffice.NewID(), EventID: e.ID, Name: "VIP",
				Price: boxoffice.Money{Amount: 20000, Currency: "EUR"}, Capacity: 3})
		}
		e.Title = fmt.Sprintf("Filler Show %d", i)
		e.Venue = fmt.Sprintf("Hall %d", i)
		e.StartsAt = base.Add(time.Duration(i/3) * time.Hour)
		ends := e.StartsAt.Add(2 * time.Hour)
		e.EndsAt = &ends
		switch i % 5 {
		case 1: // sales over
			e.SalesStartAt, e.SalesEndAt = at.Add(-48*time.Hour), at.Add(-24*time.Hour)
		case 2: // sales not open yet
			e.SalesStartAt, e.SalesEndAt = at.Add(24*time.Hour), at.Add(48*time.Hour)
		case 3: // sales open exactly now (inclusive)
			e.SalesStartAt, e.SalesEndAt = at, at.Add(time.Hour)
		case 4: // sales end exactly now (exclusive)
			e.SalesStartAt, e.SalesEndAt = at.Add(-time.Hour), at
		}
		events = append(events, e)
	}
	events[4].Title, events[4].Venue = "Rammstein Live", "Olympiastadion"
	events[11].Title, events[11].Venue = "Jazz Night", "O2 Arena"
	events[17].Title, events[17].Venue = "Arena Tour Warmup", "Club Basement"
	events[23].Title, events[23].Venue = "Live Unplugged Session", "Rammstein Hall"
	for _, i := range rand.Perm(len(events)) {
		must(t, "CreateEvent", s.CreateEvent(ctx, events[i]))
	}
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, eventOrder)

	filter := func(keep func(*boxoffice.Event) bool) []*boxoffice.Event {
		var out []*boxoffice.Event
		for _, e := range sorted {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}

	t.Run("AllOnePage", func(t *testing.T) {
		diff(t, "ListEvents", sorted, listAll(t, s, boxoffice.EventFilter{}, 100))
	})

	t.Run("KeysetPages", func(t *testing.T) {
		for _, limit := range []int{1, 2, 4, 7, 30} {
			t.Run(fmt.Sprint(limit), func(t *testing.T) {
				diff(t, "all pages", sorted, listAll(t, s, boxoffice.EventFilter{}, limit))
			})
		}
	})

	t.Run("CursorInsideTie", func(t *testing.T) {
		// Start from the middle event of a group of three with the same
		// StartsAt: only the later ones follow.
		mid := sorted[13]
		got, err := s.ListEvents(ctx, boxoffice.EventFilter{AfterStartsAt: mid.StartsAt, AfterID: mid.ID, Limit: 3})
		must(t, "ListEvents", err)
		diff(t, "page after cursor", sorted[14:17], got)
	})

	t.Run("StartsAfterAndBefore", func(t *testing.T) {
		after, before := base.Add(2*time.Hour), base.Add(6*time.Hour)
		got := listAll(t, s, boxoffice.EventFilter{StartsAfter: after}, 5)
		diff(t, "StartsAfter", filter(func(e *boxoffice.Event) bool { return e.StartsAt.After(after) }), got)
		got = listAll(t, s, boxoffice.EventFilter{StartsBefore: before}, 5)
		diff(t, "StartsBefore", filter(func(e *boxoffice.Event) bool { return e.StartsAt.Before(before) }), got)
		got = listAll(t, s, boxoffice.EventFilter{StartsAfter: after, StartsBefore: before}, 2)
		diff(t, "StartsAfter and StartsBefore", filter(func(e *boxoffice.Event) bool {
			return e.StartsAt.After(after) && e.StartsAt.Before(before)
		}), got)
	})

	t.Run("OnSaleAt", func(t *testing.T) {
		want := filter(func(e *boxoffice.Event) bool { return e.OnSale(at) })
		if len(want) == 0 || len(want) == len(sorted) {
			t.Fatalf("bad fixture: %d of %d on sale", len(want), len(sorted))
		}
		diff(t, "OnSaleAt", want, listAll(t, s, boxoffice.EventFilter{OnSaleAt: at}, 4))
	})

	t.Run("Query", func(t *testing.T) {
		for _, tc := range []struct {
			q    string
			want []int // indexes into events
		}{
			{"rammstein", []int{4, 23}},
			{"Rammstein", []int{4, 23}},
			{"RAMM", []int{4, 23}},
			{"arena", []int{11, 17}},
			{"olympiastadion", []int{4}},
			{"jazz", []int{11}},
			{"live", []int{4, 23}},
			{"unplugged", []int{23}},
			{"nosuchword", nil},
		} {
			t.Run(tc.q, func(t *testing.T) {
				var want []*boxoffice.Event
				for _, i := range tc.want {
					want = append(want, events[i])
				}
				slices.SortFunc(want, eventOrder)
				diff(t, "Query "+tc.q, want, listAll(t, s, boxoffice.EventFilter{Query: tc.q}, 1))
			})
		}
	})

	t.Run("QueryWithFilters", func(t *testing.T) {
		got := listAll(t, s, boxoffice.EventFilter{Query: "rammstein", StartsAfter: events[4].StartsAt}, 10)
		diff(t, "Query and StartsAfter", []*boxoffice.Event{events[23]}, got)
	})

	t.Run("Empty", func(t *testing.T) {
		got, err := s.ListEvents(ctx, boxoffice.EventFilter{StartsAfter: base.Add(1000 * time.Hour), Limit: 10})
		must(t, "ListEvents", err)
		if len(got) != 0 {
			t.Fatalf("got %d events, want none", len(got))
		}
	})
}

func testUpdateEvent(t *testing.T, s boxoffice.Store) {
	t.Run("ChangesFieldsAndAddsTier", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 20)
		u := createUser(t, s)
		mustHold(t, s, e, 0, u.ID, 2, now())

		later := now().Add(time.Second)
		newTier := boxoffice.Tier{ID: boxoffice.NewID(), EventID: e.ID, Name: "Balcony",
			Price: boxoffice.Money{Amount: 1500, Currency: "USD"}, Capacity: 40}
		starts := e.StartsAt.Add(24 * time.Hour)
		got, err := s.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
			if e.Tiers[0].Reserved != 2 {
				t.Errorf("apply sees Reserved %d, want 2", e.Tiers[0].Reserved)
			}
			e.Title = "Renamed"
			e.Description = "New description"
			e.Venue = "New Venue"
			e.StartsAt = starts
			e.EndsAt = nil
			e.SalesEndAt = e.SalesEndAt.Add(time.Hour)
			e.MaxTicketsPerUser = 6
			e.HoldSeconds = 300
			e.Queue = boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 120}
			e.Tiers[0].Capacity = 2 // equal to Reserved is allowed
			e.Tiers[1].Name = "Stalls"
			e.Tiers[1].Price = boxoffice.Money{Amount: 9900, Currency: "USD"}
			e.Tiers[1].Capacity = 25
			e.Tiers = append(e.Tiers, newTier)
			e.UpdatedAt = later
			return nil
		})
		must(t, "UpdateEvent", err)

		want := *e
		want.Tiers = slices.Clone(e.Tiers)
		want.Title, want.Description, want.Venue = "Renamed", "New description", "New Venue"
		want.StartsAt, want.EndsAt = starts, nil
		want.SalesEndAt = e.SalesEndAt.Add(time.Hour)
		want.MaxTicketsPerUser, want.HoldSeconds = 6, 300
		want.Queue = boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 120}
		want.Tiers[0].Capacity, want.Tiers[0].Reserved = 2, 2
		want.Tiers[1].Name, want.Tiers[1].Price, want.Tiers[1].Capacity = "Stalls", boxoffice.Money{Amount: 9900, Currency: "USD"}, 25
		want.Tiers = append(want.Tiers, newTier)
		want.UpdatedAt = later
		diff(t, "UpdateEvent result", &want, got)
		stored, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		diff(t, "stored event", &want, stored)

		// The added tier takes holds.
		mustHold(t, s, stored, 2, u.ID, 1, now())
		wantReserved(t, s, e.ID, 2, 0, 1)
	})

	t.Run("CapacityBelowReserved", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		mustHold(t, s, e, 1, u.ID, 3, now())
		before, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		_, err = s.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
			e.Title = "Should not stick"
			e.Tiers[0].Capacity = 20
			e.Tiers[1].Capacity = 2
			return nil
		})
		wantErr(t, "UpdateEvent", err, boxoffice.ErrCapacityConflict)
		after, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		diff(t, "event after refused update", before, after)
	})

	t.Run("ApplyErrorAborts", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		errApply := errors.New("apply refuses")
		_, err := s.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
			e.Title = "Should not stick"
			e.Tiers[0].Capacity = 99
			return errApply
		})
		if !errors.Is(err, errApply) {
			t.Fatalf("UpdateEvent: got %v, want apply's error", err)
		}
		stored, err := s.Event(ctx, e.ID)
		must(t, "Event", err)
		diff(t, "event after aborted update", e, stored)
	})

	t.Run("NotFound", func(t *testing.T) {
		called := false
		_, err := s.UpdateEvent(t.Context(), boxoffice.NewID(), func(*boxoffice.Event) error { called = true; return nil })
		wantErr(t, "UpdateEvent(unknown)", err, boxoffice.ErrNotFound)
		if called {
			t.Error("apply called for an unknown event")
		}
	})
}

func testDeleteEvent(t *testing.T, s boxoffice.Store) {
	t.Run("NotFound", func(t *testing.T) {
		wantErr(t, "DeleteEvent(unknown)", s.DeleteEvent(t.Context(), boxoffice.NewID()), boxoffice.ErrNotFound)
	})

	t.Run("WithoutReservations", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5, 5)
		must(t, "DeleteEvent", s.DeleteEvent(ctx, e.ID))
		_, err := s.Event(ctx, e.ID)
		wantErr(t, "Event(deleted)", err, boxoffice.ErrNotFound)
		wantErr(t, "DeleteEvent again", s.DeleteEvent(ctx, e.ID), boxoffice.ErrNotFound)
	})

	t.Run("RefusedWhileReserved", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		paid := createEvent(t, s, 10)
		other := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		held := mustHold(t, s, e, 0, u.ID, 1, at)
		confirmed := mustHold(t, s, paid, 0, u.ID, 2, at)
		_, err := s.Confirm(ctx, confirmed.ID, at, chargeOK, nil)
		must(t, "Confirm", err)
		expired := mustHold(t, s, e, 1, u.ID, 1, at.Add(-time.Hour))
		n, err := s.ExpireHolds(ctx, at, 100)
		must(t, "ExpireHolds", err)
		if n != 1 {
			t.Fatalf("ExpireHolds expired %d, want 1", n)
		}
		must(t, "PutBookmark", s.PutBookmark(ctx, u.ID, e.ID, at))
		must(t, "PutBookmark other", s.PutBookmark(ctx, u.ID, other.ID, at.Add(time.Second)))

		wantErr(t, "DeleteEvent with a hold", s.DeleteEvent(ctx, e.ID), boxoffice.ErrHasReservations)
		wantErr(t, "DeleteEvent with confirmed", s.DeleteEvent(ctx, paid.ID), boxoffice.ErrHasReservations)
		_, err = s.Cancel(ctx, held.ID, at, time.Time{}, nil)
		must(t, "Cancel held", err)
		_, err = s.Cancel(ctx, confirmed.ID, at, refundable, nil)
		must(t, "Cancel confirmed", err)
		// A reservation that was paid keeps its money history, refunded or not.
		wantErr(t, "DeleteEvent with a refunded reservation", s.DeleteEvent(ctx, paid.ID), boxoffice.ErrHasReservations)
		wantStatus(t, s, confirmed.ID, boxoffice.StatusCancelled)

		must(t, "DeleteEvent", s.DeleteEvent(ctx, e.ID))
		_, err = s.Event(ctx, e.ID)
		wantErr(t, "Event(deleted)", err, boxoffice.ErrNotFound)
		_, err = s.Sales(ctx, e.ID)
		wantErr(t, "Sales(deleted)", err, boxoffice.ErrNotFound)
		for _, id := range []string{held.ID, expired.ID} {
			_, err = s.Reservation(ctx, id)
			wantErr(t, "Reservation of deleted event", err, boxoffice.ErrNotFound)
		}
		marks, err := s.ListBookmarks(ctx, boxoffice.BookmarkFilter{UserID: u.ID, Limit: 10})
		must(t, "ListBookmarks", err)
		if len(marks) != 1 || marks[0].Event.ID != other.ID {
			t.Fatalf("bookmarks after delete: %d, want only the other event's", len(marks))
		}
		wantErr(t, "PutBookmark(deleted)", s.PutBookmark(ctx, u.ID, e.ID, at), boxoffice.ErrNotFound)
		// The other event is untouched.
		got, err := s.Event(ctx, other.ID)
		must(t, "Event(other)", err)
		diff(t, "other event", other, got)
	})
}
