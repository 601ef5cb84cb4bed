package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
)

// Admissions decides whether a buyer has been admitted by an event's waiting
// room. *WaitingRoom implements it.
type Admissions interface {
	// Admits reports whether token admits userID to buy for eventID. It
	// changes nothing.
	Admits(token, userID, eventID string) bool
	// AdmissionUsed notes that userID's admission to eventID was used: a
	// hold was granted with it.
	AdmissionUsed(eventID, userID string)
}

// Reservations is the reservation aggregate: holds (through the group-commit
// engine), quantity changes, confirmation with payment, cancellation, expiry
// and idempotent replays. It is safe for concurrent use; Run must be running
// for holds to expire.
type Reservations struct {
	store      Store
	payments   Payments
	admissions Admissions
	log        *slog.Logger
	now        func() time.Time
	sweep      time.Duration
	// sweepTimeout bounds each store call of an expiry pass; onSweep
	// (optional) learns how each pass went.
	sweepTimeout time.Duration
	onSweep      func(SweepPass)
	holds        *holdEngine
	events       *eventCache
	inflight     *inflightKeys
	limits       *Limiter
}

func (s *Reservations) clock() time.Time { return normTime(s.now()) }

// CreateReservation places a hold. It returns ErrNotFound (event), a
// *ValidationError (quantity, tier, attendee, key), ErrSalesClosed,
// ErrNotAdmitted, ErrEmailNotVerified, ErrSoldOut, ErrLimitExceeded, ErrIdempotencyKeyReused or
// ErrRequestInProgress. With an idempotency key that already succeeded it
// returns the first reservation as it was answered then, and creates nothing.
// On an event with a waiting room the hold needs in.AdmissionToken; the
// admission is noted as used only when the hold is granted. Every request
// counts against the hold limits of c's address and user in this instance,
// and one over them gets a *RetryAfterError (ErrRateLimited).
func (s *Reservations) CreateReservation(ctx context.Context, c Caller, in HoldInput) (*Reservation, error) {
	if err := s.limits.Hold(ctx, c); err != nil {
		return nil, err
	}
	if !ValidID(in.EventID) {
		return nil, ErrNotFound
	}
	var v ValidationError
	if in.Quantity < 1 {
		v.Add("quantity", "must be at least 1")
	}
	if in.Attendee != nil {
		checkText(&v, "attendee.name", in.Attendee.Name, 0, 100)
		checkText(&v, "attendee.phone", in.Attendee.Phone, 0, 40)
	}
	checkKey(&v, in.IdempotencyKey)
	if err := v.Err(); err != nil {
		return nil, err
	}
	e, err := s.events.load(ctx, s.store, in.EventID)
	if err != nil {
		return nil, err
	}
	if !e.Public() {
		return nil, ErrNotFound // a draft sells to nobody and is not revealed
	}
	tier := e.Tier(in.TierID)
	if tier == nil || tier.Hidden {
		v.Add("tier_id", "is not a tier of this event")
		return nil, &v
	}
	now := s.clock()
	switch {
	case !e.Selling() || tier.Closed || !e.OnSale(now):
		return nil, ErrSalesClosed
	case e.Queue.Enabled && !s.admitted(in.AdmissionToken, c.UserID, e.ID):
		return nil, ErrNotAdmitted
	case in.Quantity > e.MaxTicketsPerUser:
		return nil, ErrLimitExceeded
	}
	if err := checkBuyer(ctx, s.store, c, e); err != nil {
		return nil, err
	}
	if in.IdempotencyKey != "" {
		if !s.inflight.begin(c.UserID, in.IdempotencyKey) {
			return nil, ErrRequestInProgress
		}
		defer s.inflight.end(c.UserID, in.IdempotencyKey)
		// No lookup here: the hold's transaction checks the key anyway, and
		// a repeated request is the rare case. It comes back as
		// ErrIdempotencyKeyReused and is answered from the record below.
	}
	r := &Reservation{
		ID: NewID(), EventID: e.ID, TierID: tier.ID, UserID: c.UserID,
		Quantity: in.Quantity, Status: StatusHeld,
		Amount:        Money{Amount: tier.Price.Amount * int64(in.Quantity), Currency: tier.Price.Currency},
		Attendee:      in.Attendee,
		HoldExpiresAt: now.Add(time.Duration(e.HoldSeconds) * time.Second),
		CreatedAt:     now, UpdatedAt: now,
	}
	req := HoldRequest{Reservation: r, MaxPerUser: e.MaxTicketsPerUser}
	if in.IdempotencyKey != "" {
		req.Idempotency = &Idempotency{
			UserID: c.UserID, Key: in.IdempotencyKey, Fingerprint: in.Fingerprint, CreatedAt: now,
			Outcome: Outcome{Kind: OutcomeHeld, ReservationID: r.ID, Quantity: r.Quantity, Amount: r.Amount},
		}
	}
	err = s.holds.hold(ctx, tier.ID, req)
	if errors.Is(err, ErrIdempotencyKeyReused) {
		// The key is recorded: replay its answer if the request is the same.
		if r, err := s.replay(ctx, c.UserID, in.IdempotencyKey, in.Fingerprint); r != nil || err != nil {
			return r, err
		}
		return nil, ErrRequestInProgress
	}
	if err != nil {
		return nil, err
	}
	if e.Queue.Enabled {
		s.admissions.AdmissionUsed(e.ID, c.UserID)
	}
	return r, nil
}

// admitted reports whether token admits userID to eventID; without a
// waiting room wired nobody is.
func (s *Reservations) admitted(token, userID, eventID string) bool {
	return token != "" && s.admissions != nil && s.admissions.Admits(token, userID, eventID)
}

func checkKey(v *ValidationError, key string) {
	if len(key) > MaxIdempotencyKey || !utf8.ValidString(key) {
		v.Add("Idempotency-Key", "must be at most %d characters", MaxIdempotencyKey)
	}
}

// replay returns the recorded answer for (userID, key), nil when there is
// none, or ErrIdempotencyKeyReused when it was recorded for another request.
// The answer is rebuilt from the reservation (Outcome.Replay); when the
// reservation is gone (its event was deleted) it returns ErrNotFound.
func (s *Reservations) replay(ctx context.Context, userID, key, fingerprint string) (*Reservation, error) {
	rec, err := s.store.Idempotency(ctx, userID, key)
	if errors.Is(err, ErrNotFound) || err == nil && s.clock().Sub(rec.CreatedAt) > IdempotencyTTL {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Fingerprint != fingerprint {
		return nil, ErrIdempotencyKeyReused
	}
	r, err := s.store.Reservation(ctx, rec.Outcome.ReservationID)
	if err != nil {
		return nil, err
	}
	return rec.Outcome.Replay(r), nil
}

// Reservation returns a reservation its owner or an admin may see, or
// ErrNotFound.
func (s *Reservations) Reservation(ctx context.Context, c Caller, id string) (*Reservation, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	r, err := s.store.Reservation(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.UserID != c.UserID && !c.IsAdmin() {
		return nil, ErrNotFound // never reveal that someone else's exists
	}
	return r, nil
}

// ListReservations returns the caller's reservations, newest first. It
// returns a *ValidationError for a bad status, limit or cursor.
func (s *Reservations) ListReservations(ctx context.Context, c Caller, q ReservationQuery) (Page[*Reservation], error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*Reservation]{}, err
	}
	if q.Status != "" && !q.Status.Valid() {
		var v ValidationError
		v.Add("status", "must be one of held, confirmed, cancelled, expired")
		return Page[*Reservation]{}, &v
	}
	f := ReservationFilter{UserID: c.UserID, Status: q.Status, Limit: limit + 1}
	if q.Cursor != "" {
		id, ok := decodeIDCursor(q.Cursor)
		if !ok {
			return Page[*Reservation]{}, badCursor()
		}
		f.BeforeID = id
	}
	items, err := s.store.ListReservations(ctx, f)
	if err != nil {
		return Page[*Reservation]{}, err
	}
	p := Page[*Reservation]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeIDCursor(p.Items[limit-1].ID)
	}
	return p, nil
}

// ChangeQuantity changes a held reservation's quantity. It returns
// ErrNotFound, a *ValidationError, ErrSalesClosed (to add tickets outside the
// sales window), ErrInvalidState, ErrHoldExpired, ErrSoldOut or
// ErrLimitExceeded (DecideQuantityChange).
func (s *Reservations) ChangeQuantity(ctx context.Context, c Caller, id string, quantity int) (*Reservation, error) {
	if quantity < 1 {
		var v ValidationError
		v.Add("quantity", "must be at least 1")
		return nil, &v
	}
	r, err := s.Reservation(ctx, c, id)
	if err != nil {
		return nil, err
	}
	e, err := s.events.load(ctx, s.store, r.EventID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	switch {
	case quantity > e.MaxTicketsPerUser:
		return nil, ErrLimitExceeded
	case quantity > r.Quantity && !e.OnSale(now):
		return nil, ErrSalesClosed
	}
	return s.store.ChangeQuantity(ctx, id, quantity, e.MaxTicketsPerUser, now)
}

// Confirm pays for and confirms a held reservation; confirming a confirmed
// one returns it unchanged (ConfirmStep). It returns ErrNotFound, a
// *ValidationError (no payment token), ErrPaymentDeclined (the hold stays),
// ErrHoldExpired, ErrInvalidState, ErrIdempotencyKeyReused or
// ErrRequestInProgress.
func (s *Reservations) Confirm(ctx context.Context, c Caller, id, paymentToken string, idem Idempotent) (*Reservation, error) {
	var v ValidationError
	checkLen(&v, "payment_token", paymentToken, 1, 255)
	checkKey(&v, idem.Key)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, c, id, idem, OutcomeConfirmed, func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error) {
		if r.Status == StatusConfirmed {
			return r, nil
		}
		return s.store.Confirm(ctx, id, now, func(ctx context.Context, r *Reservation) error {
			return s.payments.Charge(ctx, r, paymentToken)
		}, rec)
	})
}

// Cancel cancels a held reservation, or a confirmed one before the event
// starts (refunding it), and returns its tickets at once (CancelStep). It
// returns ErrNotFound, ErrInvalidState, ErrIdempotencyKeyReused or
// ErrRequestInProgress.
func (s *Reservations) Cancel(ctx context.Context, c Caller, id string, idem Idempotent) (*Reservation, error) {
	var v ValidationError
	checkKey(&v, idem.Key)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, c, id, idem, OutcomeCancelled, func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error) {
		var refundableUntil time.Time // a hold needs no deadline
		if r.Status == StatusConfirmed {
			e, err := s.store.Event(ctx, r.EventID)
			if err != nil {
				return nil, err
			}
			refundableUntil = e.StartsAt
		}
		out, err := s.store.Cancel(ctx, id, now, refundableUntil, rec)
		if err != nil {
			return nil, err
		}
		if out.ConfirmedAt != nil {
			if err := s.payments.Refund(context.WithoutCancel(ctx), out); err != nil {
				s.log.Error("refund failed; settle by hand", "reservation", out.ID, "err", err)
			}
		}
		return out, nil
	})
}

// transition runs a state change of a reservation the caller may see, with
// optional idempotency: the outcome is recorded in the change's transaction
// and replayed for a repeated request.
func (s *Reservations) transition(ctx context.Context, c Caller, id string, idem Idempotent, kind OutcomeKind,
	change func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error),
) (*Reservation, error) {
	if idem.Key != "" {
		if !s.inflight.begin(c.UserID, idem.Key) {
			return nil, ErrRequestInProgress
		}
		defer s.inflight.end(c.UserID, idem.Key)
		if r, err := s.replay(ctx, c.UserID, idem.Key, idem.Fingerprint); r != nil || err != nil {
			return r, err
		}
	}
	r, err := s.Reservation(ctx, c, id)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var rec *Idempotency
	if idem.Key != "" {
		rec = &Idempotency{
			UserID: c.UserID, Key: idem.Key, Fingerprint: idem.Fingerprint, CreatedAt: now,
			Outcome: Outcome{Kind: kind, ReservationID: r.ID},
		}
	}
	return change(r, now, rec)
}

// Run does the aggregate's background work until ctx is done: it releases
// expired holds every SweepInterval (so tickets return within seconds, also
// for holds that ran out while no server was running) and, beside that,
// purges idempotency records older than IdempotencyTTL every ten minutes.
// Every store call runs under its own deadline (SweepTimeout for a batch
// of expiries), so a database that stops answering costs a pass, never the
// sweeper: the next pass starts on time and works once the database is back.
// Each pass is reported to OnSweep.
func (s *Reservations) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Go(func() { s.purgeIdempotency(ctx) })
	defer bg.Wait()
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		err := s.expireHolds(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if s.onSweep != nil {
			s.onSweep(SweepPass{Interval: s.sweep, Err: err})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// expireHolds runs one pass of the sweeper: batches of expiries until one
// comes back short. It returns the error of the batch that failed.
func (s *Reservations) expireHolds(ctx context.Context) error {
	const batch = 1000
	for ctx.Err() == nil {
		bctx, cancel := context.WithTimeout(ctx, s.sweepTimeout)
		n, err := s.store.ExpireHolds(bctx, s.clock(), batch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("expiring holds", "err", err)
			}
			return err
		}
		if n > 0 {
			s.log.Debug("expired holds", "count", n)
		}
		if n < batch {
			return nil
		}
	}
	return ctx.Err()
}

// purgeIdempotency deletes expired idempotency records now and every
// purgeEvery until ctx is done.
func (s *Reservations) purgeIdempotency(ctx context.Context) {
	purgeLoop(ctx, s.log, s.now, "idempotency records", IdempotencyTTL, s.store.PurgeIdempotency)
}
