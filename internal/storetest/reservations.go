package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"boxoffice"
)

func testHolds(t *testing.T, s boxoffice.Store) {
	t.Run("GrantedIsReadable", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		req := newHold(e, 1, u.ID, 3, now())
		req.Reservation.Attendee = &boxoffice.Attendee{Name: "Ada Lovelace", Phone: "+44 20 7946 0000"}
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[1].ID, []*boxoffice.HoldRequest{req}))
		if req.Err != nil {
			t.Fatalf("hold refused: %v", req.Err)
		}
		got, err := s.Reservation(ctx, req.Reservation.ID)
		must(t, "Reservation", err)
		diff(t, "Reservation", req.Reservation, got)
		if got.HoldExpiresAt.Location() != time.UTC {
			t.Errorf("HoldExpiresAt in %v, want UTC", got.HoldExpiresAt.Location())
		}
		wantReserved(t, s, e.ID, 0, 3)

		// Without an attendee.
		r := mustHold(t, s, e, 0, u.ID, 1, now())
		got, err = s.Reservation(ctx, r.ID)
		must(t, "Reservation", err)
		diff(t, "Reservation without attendee", r, got)
		wantReserved(t, s, e.ID, 1, 3)
		wantBalanced(t, s, e.ID)
	})

	t.Run("UnknownReservation", func(t *testing.T) {
		_, err := s.Reservation(t.Context(), boxoffice.NewID())
		wantErr(t, "Reservation(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("SoldOutInSliceOrder", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5)
		e.MaxTicketsPerUser = 10
		a, b, c := createUser(t, s), createUser(t, s), createUser(t, s)
		at := now()
		mustHold(t, s, e, 0, a.ID, 3, at)
		reqs := []*boxoffice.HoldRequest{
			newHold(e, 0, b.ID, 3, at), // 2 left: refused
			newHold(e, 0, c.ID, 2, at), // fits
			newHold(e, 0, b.ID, 1, at), // nothing left
		}
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, reqs))
		wantErr(t, "request for 3", reqs[0].Err, boxoffice.ErrSoldOut)
		if reqs[1].Err != nil {
			t.Fatalf("request for 2: %v", reqs[1].Err)
		}
		wantErr(t, "request for 1", reqs[2].Err, boxoffice.ErrSoldOut)
		for _, i := range []int{0, 2} {
			_, err := s.Reservation(ctx, reqs[i].Reservation.ID)
			wantErr(t, "Reservation(refused)", err, boxoffice.ErrNotFound)
		}
		wantStatus(t, s, reqs[1].Reservation.ID, boxoffice.StatusHeld)
		wantReserved(t, s, e.ID, 5)
		wantBalanced(t, s, e.ID)
		wantErr(t, "hold on a sold-out tier", hold(t, s, e, 0, b.ID, 1, at).Err, boxoffice.ErrSoldOut)
	})

	t.Run("LimitAcrossTiersAndStates", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10) // at most 4 per user
		u, other := createUser(t, s), createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		_, err := s.Confirm(ctx, r.ID, at, chargeOK, nil)
		must(t, "Confirm", err)
		mustHold(t, s, e, 1, u.ID, 1, at)
		wantErr(t, "hold past the limit (tier 1)", hold(t, s, e, 1, u.ID, 2, at).Err, boxoffice.ErrLimitExceeded)
		wantErr(t, "hold past the limit (tier 0)", hold(t, s, e, 0, u.ID, 2, at).Err, boxoffice.ErrLimitExceeded)
		mustHold(t, s, e, 0, u.ID, 1, at) // exactly 4
		wantErr(t, "fifth ticket", hold(t, s, e, 1, u.ID, 1, at).Err, boxoffice.ErrLimitExceeded)
		mustHold(t, s, e, 1, other.ID, 4, at) // others are not affected
		// Another event has its own limit.
		e2 := createEvent(t, s)
		mustHold(t, s, e2, 0, u.ID, 4, at)
		wantReserved(t, s, e.ID, 3, 5)
	})

	t.Run("LimitWithinBatch", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 20)
		u, other := createUser(t, s), createUser(t, s)
		at := now()
		reqs := []*boxoffice.HoldRequest{
			newHold(e, 0, u.ID, 2, at),
			newHold(e, 0, other.ID, 4, at),
			newHold(e, 0, u.ID, 3, at), // 5 > 4
			newHold(e, 0, u.ID, 2, at), // exactly 4
			newHold(e, 0, u.ID, 1, at), // 5 > 4
		}
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, reqs))
		for i, want := range []error{nil, nil, boxoffice.ErrLimitExceeded, nil, boxoffice.ErrLimitExceeded} {
			if want == nil && reqs[i].Err != nil {
				t.Fatalf("request %d: %v", i, reqs[i].Err)
			}
			if want != nil {
				wantErr(t, "request", reqs[i].Err, want)
			}
		}
		wantReserved(t, s, e.ID, 8)
		wantBalanced(t, s, e.ID)
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		e := createEvent(t, s)
		must(t, "CreateHolds(empty)", s.CreateHolds(t.Context(), e.Tiers[0].ID, nil))
		wantReserved(t, s, e.ID, 0)
	})
}

// newIdem returns an idempotency record for r as the service would write it
// for a request that left r in its status.
func newIdem(t *testing.T, r *boxoffice.Reservation, key string, at time.Time) *boxoffice.Idempotency {
	t.Helper()
	o := boxoffice.Outcome{Kind: boxoffice.OutcomeKind(r.Status), ReservationID: r.ID}
	if r.Status == boxoffice.StatusHeld {
		o.Quantity, o.Amount = r.Quantity, r.Amount
	}
	return &boxoffice.Idempotency{
		UserID:      r.UserID,
		Key:         key,
		Fingerprint: "fp-" + key + "-" + r.ID,
		Outcome:     o,
		CreatedAt:   at,
	}
}

func testIdempotency(t *testing.T, s boxoffice.Store) {
	t.Run("RecordedWithHold", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u, other := createUser(t, s), createUser(t, s)
		at := now()
		req := newHold(e, 0, u.ID, 1, at)
		req.Idempotency = newIdem(t, req.Reservation, "key-1", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{req}))
		if req.Err != nil {
			t.Fatalf("hold refused: %v", req.Err)
		}
		got, err := s.Idempotency(ctx, u.ID, "key-1")
		must(t, "Idempotency", err)
		diff(t, "Idempotency", req.Idempotency, got)

		// The same key again, in a later batch: refused, nothing held.
		again := newHold(e, 0, u.ID, 1, at)
		again.Idempotency = newIdem(t, again.Reservation, "key-1", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{again}))
		wantErr(t, "key reused across batches", again.Err, boxoffice.ErrIdempotencyKeyReused)
		_, err = s.Reservation(ctx, again.Reservation.ID)
		wantErr(t, "Reservation(refused)", err, boxoffice.ErrNotFound)
		got, err = s.Idempotency(ctx, u.ID, "key-1")
		must(t, "Idempotency", err)
		diff(t, "Idempotency after reuse", req.Idempotency, got)

		// Keys belong to users.
		theirs := newHold(e, 0, other.ID, 1, at)
		theirs.Idempotency = newIdem(t, theirs.Reservation, "key-1", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{theirs}))
		if theirs.Err != nil {
			t.Fatalf("other user's key: %v", theirs.Err)
		}
		wantReserved(t, s, e.ID, 2)
	})

	t.Run("ReusedWithinBatch", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		reqs := []*boxoffice.HoldRequest{newHold(e, 0, u.ID, 1, at), newHold(e, 0, u.ID, 1, at), newHold(e, 0, u.ID, 1, at)}
		reqs[0].Idempotency = newIdem(t, reqs[0].Reservation, "batch-key", at)
		reqs[1].Idempotency = newIdem(t, reqs[1].Reservation, "batch-key", at)
		reqs[2].Idempotency = newIdem(t, reqs[2].Reservation, "other-key", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, reqs))
		if reqs[0].Err != nil || reqs[2].Err != nil {
			t.Fatalf("distinct keys refused: %v, %v", reqs[0].Err, reqs[2].Err)
		}
		wantErr(t, "key reused within batch", reqs[1].Err, boxoffice.ErrIdempotencyKeyReused)
		got, err := s.Idempotency(ctx, u.ID, "batch-key")
		must(t, "Idempotency", err)
		diff(t, "Idempotency", reqs[0].Idempotency, got)
		wantReserved(t, s, e.ID, 2)
	})

	t.Run("RefusedHoldRecordsNothing", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 1)
		u := createUser(t, s)
		at := now()
		req := newHold(e, 0, u.ID, 2, at)
		req.Idempotency = newIdem(t, req.Reservation, "sold-out-key", at)
		must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{req}))
		wantErr(t, "hold", req.Err, boxoffice.ErrSoldOut)
		_, err := s.Idempotency(ctx, u.ID, "sold-out-key")
		wantErr(t, "Idempotency(refused hold)", err, boxoffice.ErrNotFound)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Idempotency(t.Context(), boxoffice.NewID(), "no-such-key")
		wantErr(t, "Idempotency(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("Purge", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		e.MaxTicketsPerUser = 10
		u := createUser(t, s)
		at := now()
		ages := map[string]time.Duration{"old-1": 72 * time.Hour, "old-2": 25 * time.Hour, "new-1": 23 * time.Hour, "new-2": 0}
		for key, age := range ages {
			req := newHold(e, 0, u.ID, 1, at)
			req.Idempotency = newIdem(t, req.Reservation, key, at.Add(-age))
			must(t, "CreateHolds", s.CreateHolds(ctx, e.Tiers[0].ID, []*boxoffice.HoldRequest{req}))
			if req.Err != nil {
				t.Fatalf("hold: %v", req.Err)
			}
		}
		n, err := s.PurgeIdempotency(ctx, at.Add(-24*time.Hour))
		must(t, "PurgeIdempotency", err)
		if n != 2 {
			t.Fatalf("PurgeIdempotency deleted %d, want 2", n)
		}
		for key, age := range ages {
			_, err := s.Idempotency(ctx, u.ID, key)
			if age > 24*time.Hour {
				wantErr(t, "Idempotency(purged)", err, boxoffice.ErrNotFound)
			} else {
				must(t, "Idempotency(kept)", err)
			}
		}
		n, err = s.PurgeIdempotency(ctx, at.Add(-24*time.Hour))
		must(t, "PurgeIdempotency again", err)
		if n != 0 {
			t.Fatalf("second PurgeIdempotency deleted %d, want 0", n)
		}
		wantReserved(t, s, e.ID, 4) // purging touches no reservation
	})
}

func testChangeQuantity(t *testing.T, s boxoffice.Store) {
	t.Run("UpAndDown", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 1, u.ID, 2, at)
		later := at.Add(time.Second)

		got, err := s.ChangeQuantity(ctx, r.ID, 4, 4, later)
		must(t, "ChangeQuantity up", err)
		want := *r
		want.Quantity, want.Amount.Amount, want.UpdatedAt = 4, 4*e.Tiers[1].Price.Amount, later
		diff(t, "changed reservation", &want, got)
		stored, err := s.Reservation(ctx, r.ID)
		must(t, "Reservation", err)
		diff(t, "stored reservation", &want, stored)
		wantReserved(t, s, e.ID, 0, 4)

		got, err = s.ChangeQuantity(ctx, r.ID, 1, 4, later)
		must(t, "ChangeQuantity down", err)
		want.Quantity, want.Amount.Amount = 1, e.Tiers[1].Price.Amount
		diff(t, "changed reservation", &want, got)
		wantReserved(t, s, e.ID, 0, 1)
		wantBalanced(t, s, e.ID)
		// The user's limit followed: 3 more fit, 4 do not.
		wantErr(t, "hold past the limit", hold(t, s, e, 0, u.ID, 4, at).Err, boxoffice.ErrLimitExceeded)
		mustHold(t, s, e, 0, u.ID, 3, at)
	})

	t.Run("SoldOut", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		u, other := createUser(t, s), createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		mustHold(t, s, e, 0, other.ID, 4, at)
		e.MaxTicketsPerUser = 10
		mustHold(t, s, e, 0, other.ID, 4, at.Add(time.Millisecond)) // a different request of the same user; 0 left
		_, err := s.ChangeQuantity(ctx, r.ID, 3, 4, at)
		wantErr(t, "ChangeQuantity", err, boxoffice.ErrSoldOut)
		diff(t, "unchanged reservation", r, wantStatus(t, s, r.ID, boxoffice.StatusHeld))
		wantReserved(t, s, e.ID, 10)
	})

	t.Run("LimitExceeded", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		mustHold(t, s, e, 1, u.ID, 2, at)
		_, err := s.ChangeQuantity(ctx, r.ID, 3, 4, at)
		wantErr(t, "ChangeQuantity", err, boxoffice.ErrLimitExceeded)
		diff(t, "unchanged reservation", r, wantStatus(t, s, r.ID, boxoffice.StatusHeld))
		wantReserved(t, s, e.ID, 2, 2)
		// A higher limit lets it through.
		_, err = s.ChangeQuantity(ctx, r.ID, 3, 5, at)
		must(t, "ChangeQuantity with a higher limit", err)
		wantReserved(t, s, e.ID, 3, 2)
	})

	t.Run("NotHeld", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		confirmed := mustHold(t, s, e, 0, u.ID, 1, at)
		_, err := s.Confirm(ctx, confirmed.ID, at, chargeOK, nil)
		must(t, "Confirm", err)
		cancelled := mustHold(t, s, e, 0, u.ID, 1, at)
		_, err = s.Cancel(ctx, cancelled.ID, at, time.Time{}, nil)
		must(t, "Cancel", err)
		for _, id := range []string{confirmed.ID, cancelled.ID} {
			_, err := s.ChangeQuantity(ctx, id, 2, 4, at)
			wantErr(t, "ChangeQuantity(not held)", err, boxoffice.ErrInvalidState)
		}
		wantReserved(t, s, e.ID, 1)
		_, err = s.ChangeQuantity(ctx, boxoffice.NewID(), 2, 4, at)
		wantErr(t, "ChangeQuantity(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("HoldExpired", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		r := mustHold(t, s, e, 0, u.ID, 1, now())
		_, err := s.ChangeQuantity(ctx, r.ID, 2, 4, r.HoldExpiresAt)
		wantErr(t, "ChangeQuantity at expiry", err, boxoffice.ErrHoldExpired)
		_, err = s.ChangeQuantity(ctx, r.ID, 2, 4, r.HoldExpiresAt.Add(time.Hour))
		wantErr(t, "ChangeQuantity after expiry", err, boxoffice.ErrHoldExpired)
		got, err := s.Reservation(ctx, r.ID)
		must(t, "Reservation", err)
		if got.Quantity != 1 {
			t.Fatalf("quantity %d after refused change, want 1", got.Quantity)
		}
	})
}

func testConfirm(t *testing.T, s boxoffice.Store) {
	t.Run("ConfirmsOnceAndRecords", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		later := at.Add(time.Minute)
		var c charger
		want := *r
		want.Status, want.UpdatedAt, want.ConfirmedAt = boxoffice.StatusConfirmed, later, &later
		idem := newIdem(t, &want, "confirm-key", later)
		got, err := s.Confirm(ctx, r.ID, later, c.charge, idem)
		must(t, "Confirm", err)
		diff(t, "confirmed reservation", &want, got)
		if n := c.count(r.ID); n != 1 {
			t.Fatalf("charge called %d times, want 1", n)
		}
		diff(t, "stored reservation", &want, wantStatus(t, s, r.ID, boxoffice.StatusConfirmed))
		rec, err := s.Idempotency(ctx, u.ID, "confirm-key")
		must(t, "Idempotency", err)
		diff(t, "Idempotency", idem, rec)
		wantReserved(t, s, e.ID, 2)
		sales := wantBalanced(t, s, e.ID)
		if sales.Tiers[0].Confirmed != 2 || sales.Tiers[0].Held != 0 {
			t.Fatalf("sales after confirm: %+v", sales.Tiers[0])
		}

		// Again: unchanged, not charged, even after the hold time.
		got, err = s.Confirm(ctx, r.ID, r.HoldExpiresAt.Add(time.Hour), c.charge, nil)
		must(t, "Confirm again", err)
		diff(t, "confirmed again", &want, got)
		if n := c.count(r.ID); n != 1 {
			t.Fatalf("charge called %d times after a second confirm, want 1", n)
		}
		wantReserved(t, s, e.ID, 2)
	})

	t.Run("ChargeFails", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		c := charger{err: boxoffice.ErrPaymentDeclined}
		idem := newIdem(t, r, "declined-key", at)
		_, err := s.Confirm(ctx, r.ID, at, c.charge, idem)
		wantErr(t, "Confirm with failing charge", err, boxoffice.ErrPaymentDeclined)
		if n := c.count(r.ID); n != 1 {
			t.Fatalf("charge called %d times, want 1", n)
		}
		diff(t, "reservation after failed charge", r, wantStatus(t, s, r.ID, boxoffice.StatusHeld))
		_, err = s.Idempotency(ctx, u.ID, "declined-key")
		wantErr(t, "Idempotency(failed confirm)", err, boxoffice.ErrNotFound)
		wantReserved(t, s, e.ID, 2)

		c.err = errCharge
		_, err = s.Confirm(ctx, r.ID, at, c.charge, nil)
		wantErr(t, "Confirm with another charge error", err, errCharge)
		wantStatus(t, s, r.ID, boxoffice.StatusHeld)

		// A later confirm with a working payment succeeds.
		c.err = nil
		_, err = s.Confirm(ctx, r.ID, at, c.charge, nil)
		must(t, "Confirm after failures", err)
		wantStatus(t, s, r.ID, boxoffice.StatusConfirmed)
	})

	t.Run("ClientLeavesDuringCharge", func(t *testing.T) {
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 2, at)
		ctx, cancel := context.WithCancel(t.Context())
		leave := func(context.Context, *boxoffice.Reservation) error { cancel(); return nil }
		_, err := s.Confirm(ctx, r.ID, at, leave, newIdem(t, r, "left-key", at))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Confirm whose caller left: err %v, want context.Canceled", err)
		}
		wantStatus(t, s, r.ID, boxoffice.StatusHeld)
		_, err = s.Idempotency(t.Context(), u.ID, "left-key")
		wantErr(t, "Idempotency(abandoned confirm)", err, boxoffice.ErrNotFound)
		wantReserved(t, s, e.ID, 2)
	})

	t.Run("Cancelled", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 1, at)
		_, err := s.Cancel(ctx, r.ID, at, time.Time{}, nil)
		must(t, "Cancel", err)
		var c charger
		_, err = s.Confirm(ctx, r.ID, at, c.charge, nil)
		wantErr(t, "Confirm(cancelled)", err, boxoffice.ErrInvalidState)
		if c.count(r.ID) != 0 {
			t.Fatal("charge called for a cancelled reservation")
		}
		wantStatus(t, s, r.ID, boxoffice.StatusCancelled)
	})

	t.Run("RanOut", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 4, at)
		var c charger
		_, err := s.Confirm(ctx, r.ID, r.HoldExpiresAt, c.charge, nil)
		wantErr(t, "Confirm at expiry", err, boxoffice.ErrHoldExpired)
		if c.count(r.ID) != 0 {
			t.Fatal("charge called for an expired hold")
		}
		wantStatus(t, s, r.ID, boxoffice.StatusExpired)
		wantReserved(t, s, e.ID, 0)
		wantBalanced(t, s, e.ID)
		// The user's tickets were released too.
		mustHold(t, s, e, 0, u.ID, 4, at)

		_, err = s.Confirm(ctx, r.ID, at, c.charge, nil)
		wantErr(t, "Confirm(expired)", err, boxoffice.ErrHoldExpired)
		if c.count(r.ID) != 0 {
			t.Fatal("charge called for an expired hold")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		var c charger
		_, err := s.Confirm(t.Context(), boxoffice.NewID(), now(), c.charge, nil)
		wantErr(t, "Confirm(unknown)", err, boxoffice.ErrNotFound)
	})
}

func testCancel(t *testing.T, s boxoffice.Store) {
	t.Run("Held", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 4, at)
		later := at.Add(time.Minute)
		want := *r
		want.Status, want.UpdatedAt, want.CancelledAt = boxoffice.StatusCancelled, later, &later
		idem := newIdem(t, &want, "cancel-key", later)
		got, err := s.Cancel(ctx, r.ID, later, time.Time{}, idem)
		must(t, "Cancel", err)
		diff(t, "cancelled reservation", &want, got)
		diff(t, "stored reservation", &want, wantStatus(t, s, r.ID, boxoffice.StatusCancelled))
		rec, err := s.Idempotency(ctx, u.ID, "cancel-key")
		must(t, "Idempotency", err)
		diff(t, "Idempotency", idem, rec)
		wantReserved(t, s, e.ID, 0)
		wantBalanced(t, s, e.ID)
		// Tickets and the user's limit are back at once.
		mustHold(t, s, e, 0, u.ID, 4, at)

		_, err = s.Cancel(ctx, r.ID, later, refundable, nil)
		wantErr(t, "Cancel twice", err, boxoffice.ErrInvalidState)
		wantReserved(t, s, e.ID, 4)
	})

	t.Run("Confirmed", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 3, at)
		_, err := s.Confirm(ctx, r.ID, at, chargeOK, nil)
		must(t, "Confirm", err)
		_, err = s.Cancel(ctx, r.ID, at, time.Time{}, nil)
		wantErr(t, "Cancel(confirmed, not allowed)", err, boxoffice.ErrInvalidState)
		wantStatus(t, s, r.ID, boxoffice.StatusConfirmed)
		wantReserved(t, s, e.ID, 3)

		got, err := s.Cancel(ctx, r.ID, at, refundable, nil)
		must(t, "Cancel(confirmed, allowed)", err)
		if got.Status != boxoffice.StatusCancelled || got.CancelledAt == nil || !got.CancelledAt.Equal(at) || got.ConfirmedAt == nil {
			t.Fatalf("cancelled confirmed reservation: %+v", got)
		}
		wantReserved(t, s, e.ID, 0)
		wantBalanced(t, s, e.ID)
		_, err = s.Cancel(ctx, r.ID, at, refundable, nil)
		wantErr(t, "Cancel twice", err, boxoffice.ErrInvalidState)
		wantReserved(t, s, e.ID, 0)
	})

	t.Run("Expired", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s)
		u := createUser(t, s)
		at := now()
		r := mustHold(t, s, e, 0, u.ID, 1, at)
		_, err := s.Confirm(ctx, r.ID, r.HoldExpiresAt, chargeOK, nil)
		wantErr(t, "Confirm late", err, boxoffice.ErrHoldExpired)
		_, err = s.Cancel(ctx, r.ID, at, refundable, nil)
		wantErr(t, "Cancel(expired)", err, boxoffice.ErrInvalidState)
		wantReserved(t, s, e.ID, 0)
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := s.Cancel(t.Context(), boxoffice.NewID(), now(), refundable, nil)
		wantErr(t, "Cancel(unknown)", err, boxoffice.ErrNotFound)
	})
}

func testExpireHolds(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 50, 50)
	e.MaxTicketsPerUser = 20
	u := createUser(t, s)
	at := now()
	hold := func(i, quantity int, expiresAt time.Time) *boxoffice.Reservation {
		t.Helper()
		created := expiresAt.Add(-time.Duration(e.HoldSeconds) * time.Second)
		return mustHold(t, s, e, i, u.ID, quantity, created)
	}
	past := hold(0, 2, at.Add(-time.Minute))
	exact := hold(1, 3, at) // ran out by now: now ≥ HoldExpiresAt
	future := hold(0, 1, at.Add(time.Microsecond))
	confirmed := hold(1, 4, at.Add(time.Minute))
	_, err := s.Confirm(ctx, confirmed.ID, at, chargeOK, nil)
	must(t, "Confirm", err)
	cancelled := hold(0, 5, at.Add(-time.Hour))
	_, err = s.Cancel(ctx, cancelled.ID, at, time.Time{}, nil)
	must(t, "Cancel", err)
	wantReserved(t, s, e.ID, 3, 7)

	n, err := s.ExpireHolds(ctx, at, 100)
	must(t, "ExpireHolds", err)
	if n != 2 {
		t.Fatalf("ExpireHolds expired %d, want 2", n)
	}
	wantStatus(t, s, past.ID, boxoffice.StatusExpired)
	wantStatus(t, s, exact.ID, boxoffice.StatusExpired)
	diff(t, "future hold", future, wantStatus(t, s, future.ID, boxoffice.StatusHeld))
	wantStatus(t, s, confirmed.ID, boxoffice.StatusConfirmed)
	wantStatus(t, s, cancelled.ID, boxoffice.StatusCancelled)
	wantReserved(t, s, e.ID, 1, 4)
	wantBalanced(t, s, e.ID)

	n, err = s.ExpireHolds(ctx, at, 100)
	must(t, "ExpireHolds again", err)
	if n != 0 {
		t.Fatalf("second ExpireHolds expired %d, want 0", n)
	}

	t.Run("Limit", func(t *testing.T) {
		for range 5 {
			hold(0, 1, at.Add(-time.Second))
		}
		wantReserved(t, s, e.ID, 6, 4)
		for _, want := range []int{2, 2, 1, 0} {
			n, err := s.ExpireHolds(ctx, at, 2)
			must(t, "ExpireHolds", err)
			if n != want {
				t.Fatalf("ExpireHolds(limit 2) expired %d, want %d", n, want)
			}
		}
		wantReserved(t, s, e.ID, 1, 4)
	})

	t.Run("ReleasesUserLimit", func(t *testing.T) {
		// The user holds 1 + confirmed 4 = 5 of 20; fill up to 20 with a
		// hold that then expires, and the full 15 fit again.
		r := hold(1, 15, at.Add(-time.Second))
		wantErr(t, "hold past the limit", newHoldErr(t, s, e, u.ID, 1, at), boxoffice.ErrLimitExceeded)
		n, err := s.ExpireHolds(ctx, at, 10)
		must(t, "ExpireHolds", err)
		if n != 1 {
			t.Fatalf("ExpireHolds expired %d, want 1", n)
		}
		wantStatus(t, s, r.ID, boxoffice.StatusExpired)
		mustHold(t, s, e, 1, u.ID, 15, at)
	})
}

// newHoldErr asks for a hold of quantity on tier 0 and returns the verdict.
func newHoldErr(t *testing.T, s boxoffice.Store, e *boxoffice.Event, user string, quantity int, at time.Time) error {
	t.Helper()
	return hold(t, s, e, 0, user, quantity, at).Err
}

func testListReservations(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 100)
	e.MaxTicketsPerUser = 100
	u, other := createUser(t, s), createUser(t, s)
	at := now()
	var all []*boxoffice.Reservation // oldest first
	for i := range 7 {
		r := mustHold(t, s, e, 0, u.ID, 1+i%3, at)
		mustHold(t, s, e, 0, other.ID, 1, at)
		switch i % 3 {
		case 1:
			var err error
			r, err = s.Confirm(ctx, r.ID, at, chargeOK, nil)
			must(t, "Confirm", err)
		case 2:
			var err error
			r, err = s.Cancel(ctx, r.ID, at, time.Time{}, nil)
			must(t, "Cancel", err)
		}
		all = append(all, r)
	}
	newestFirst := func(status boxoffice.ReservationStatus) []*boxoffice.Reservation {
		var out []*boxoffice.Reservation
		for i := len(all) - 1; i >= 0; i-- {
			if status == "" || all[i].Status == status {
				out = append(out, all[i])
			}
		}
		return out
	}

	for _, status := range []boxoffice.ReservationStatus{"", boxoffice.StatusHeld, boxoffice.StatusConfirmed, boxoffice.StatusCancelled, boxoffice.StatusExpired} {
		for _, limit := range []int{1, 2, 100} {
			var got []*boxoffice.Reservation
			f := boxoffice.ReservationFilter{UserID: u.ID, Status: status, Limit: limit}
			for {
				page, err := s.ListReservations(ctx, f)
				must(t, "ListReservations", err)
				if len(page) > limit {
					t.Fatalf("ListReservations returned %d, limit %d", len(page), limit)
				}
				got = append(got, page...)
				if len(page) < limit || len(got) > len(all) {
					break
				}
				f.BeforeID = page[len(page)-1].ID
			}
			diff(t, "ListReservations status "+string(status), newestFirst(status), got)
		}
	}

	got, err := s.ListReservations(ctx, boxoffice.ReservationFilter{UserID: boxoffice.NewID(), Limit: 10})
	must(t, "ListReservations(no such user)", err)
	if len(got) != 0 {
		t.Fatalf("got %d reservations for an unknown user", len(got))
	}
}

func testSales(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 20, 5)
	e.MaxTicketsPerUser = 50
	u := createUser(t, s)
	at := now()
	mustHold(t, s, e, 0, u.ID, 2, at)
	mustHold(t, s, e, 0, u.ID, 1, at)
	r := mustHold(t, s, e, 0, u.ID, 3, at)
	_, err := s.Confirm(ctx, r.ID, at, chargeOK, nil)
	must(t, "Confirm", err)
	r = mustHold(t, s, e, 1, u.ID, 4, at)
	_, err = s.Cancel(ctx, r.ID, at, time.Time{}, nil)
	must(t, "Cancel", err)
	r = mustHold(t, s, e, 1, u.ID, 6, at)
	_, err = s.Confirm(ctx, r.ID, at, chargeOK, nil)
	must(t, "Confirm", err)
	mustHold(t, s, e, 2, u.ID, 5, at.Add(-time.Hour))
	_, err = s.ExpireHolds(ctx, at, 100)
	must(t, "ExpireHolds", err)

	got := wantBalanced(t, s, e.ID)
	want := &boxoffice.Sales{EventID: e.ID, Tiers: []boxoffice.TierSales{
		{TierID: e.Tiers[0].ID, Capacity: 10, Held: 3, Confirmed: 3, Available: 4},
		{TierID: e.Tiers[1].ID, Capacity: 20, Held: 0, Confirmed: 6, Available: 14},
		{TierID: e.Tiers[2].ID, Capacity: 5, Held: 0, Confirmed: 0, Available: 5},
	}}
	diff(t, "Sales", want, got)

	_, err = s.Sales(ctx, boxoffice.NewID())
	wantErr(t, "Sales(unknown)", err, boxoffice.ErrNotFound)
}
