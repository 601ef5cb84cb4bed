package boxoffice

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CreateReservation places a hold. It returns ErrNotFound (event), a
// *ValidationError (quantity, tier, attendee, key), ErrSalesClosed,
// ErrNotAdmitted, ErrSoldOut, ErrLimitExceeded, ErrIdempotencyKeyReused or
// ErrRequestInProgress. With an idempotency key that already succeeded it
// returns the first reservation as it was answered then, and creates nothing.
func (s *Service) CreateReservation(ctx context.Context, c Caller, in HoldInput) (*Reservation, error) {
	if !ValidID(in.EventID) {
		return nil, ErrNotFound
	}
	var v ValidationError
	if in.Quantity < 1 {
		v.Add("quantity", "must be at least 1")
	}
	if in.Attendee != nil {
		checkLen(&v, "attendee.name", in.Attendee.Name, 0, 100)
		checkLen(&v, "attendee.phone", in.Attendee.Phone, 0, 40)
	}
	checkKey(&v, in.IdempotencyKey)
	if err := v.Err(); err != nil {
		return nil, err
	}
	e, err := s.eventRules(ctx, in.EventID)
	if err != nil {
		return nil, err
	}
	tier := e.Tier(in.TierID)
	if tier == nil {
		v.Add("tier_id", "is not a tier of this event")
		return nil, &v
	}
	now := s.clock()
	switch {
	case !e.OnSale(now):
		return nil, ErrSalesClosed
	case e.Queue.Enabled && !in.Admitted:
		return nil, ErrNotAdmitted
	case in.Quantity > e.MaxTicketsPerUser:
		return nil, ErrLimitExceeded
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
		req.Idempotency = s.record(c.UserID, Idempotent{in.IdempotencyKey, in.Fingerprint}, 201, r.ID, appendHoldAnswer(nil, r), now)
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
	return r, nil
}

func checkKey(v *ValidationError, key string) {
	if len(key) > MaxIdempotencyKey || !utf8.ValidString(key) {
		v.Add("Idempotency-Key", "must be at most %d characters", MaxIdempotencyKey)
	}
}

// record builds the idempotency record answering with status and resp for
// reservation resID. A new hold's resp is its hold answer (appendHoldAnswer),
// every other the reservation's JSON.
func (s *Service) record(userID string, idem Idempotent, status int, resID string, resp []byte, now time.Time) *Idempotency {
	return &Idempotency{
		UserID: userID, Key: idem.Key, Fingerprint: idem.Fingerprint,
		Status: status, ReservationID: resID, Response: resp, CreatedAt: now,
	}
}

// A new hold's record keeps only what the reservation's row stops telling
// once the reservation changes: the quantity and amount it was held with.
// Everything else in the 201 (IDs, attendee, hold_expires_at, created_at)
// never changes, so a replay rebuilds the answer from the row, and the record
// written on the hot path is about 20 bytes instead of the answer's 400.
// A hold answer is recorded as "hold:<quantity>:<amount>:<currency>"; a
// recorded JSON answer starts with '{'.
const holdAnswerPrefix = "hold:"

func appendHoldAnswer(b []byte, r *Reservation) []byte {
	b = append(b, holdAnswerPrefix...)
	b = strconv.AppendInt(b, int64(r.Quantity), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, r.Amount.Amount, 10)
	b = append(b, ':')
	return append(b, r.Amount.Currency...)
}

// parseHoldAnswer reads a recorded hold answer; ok is false for anything else.
func parseHoldAnswer(b []byte) (quantity int, amount Money, ok bool) {
	rest, found := strings.CutPrefix(string(b), holdAnswerPrefix)
	if !found {
		return 0, Money{}, false
	}
	q, rest, _ := strings.Cut(rest, ":")
	a, cur, found := strings.Cut(rest, ":")
	qn, err1 := strconv.Atoi(q)
	an, err2 := strconv.ParseInt(a, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, Money{}, false
	}
	return qn, Money{Amount: an, Currency: cur}, true
}

// replay returns the recorded answer for (userID, key), nil when there is
// none, or ErrIdempotencyKeyReused when it was recorded for another request.
// A hold's answer is rebuilt from its reservation as it was when held; when
// the reservation is gone (its event was deleted) it returns ErrNotFound.
func (s *Service) replay(ctx context.Context, userID, key, fingerprint string) (*Reservation, error) {
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
	if q, amount, ok := parseHoldAnswer(rec.Response); ok {
		r, err := s.store.Reservation(ctx, rec.ReservationID)
		if err != nil {
			return nil, err
		}
		held := *r
		held.Status, held.Quantity, held.Amount = StatusHeld, q, amount
		held.UpdatedAt, held.ConfirmedAt, held.CancelledAt = held.CreatedAt, nil, nil
		return &held, nil
	}
	var r Reservation
	if err := json.Unmarshal(rec.Response, &r); err != nil {
		return nil, err
	}
	r.UserID = userID
	return &r, nil
}

// Reservation returns a reservation its owner or an admin may see, or
// ErrNotFound.
func (s *Service) Reservation(ctx context.Context, c Caller, id string) (*Reservation, error) {
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
func (s *Service) ListReservations(ctx context.Context, c Caller, q ReservationQuery) (Page[*Reservation], error) {
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
// ErrLimitExceeded.
func (s *Service) ChangeQuantity(ctx context.Context, c Caller, id string, quantity int) (*Reservation, error) {
	if quantity < 1 {
		var v ValidationError
		v.Add("quantity", "must be at least 1")
		return nil, &v
	}
	r, err := s.Reservation(ctx, c, id)
	if err != nil {
		return nil, err
	}
	e, err := s.eventRules(ctx, r.EventID)
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
// one returns it unchanged. It returns ErrNotFound, a *ValidationError (no
// payment token), ErrPaymentDeclined (the hold stays), ErrHoldExpired,
// ErrInvalidState, ErrIdempotencyKeyReused or ErrRequestInProgress.
func (s *Service) Confirm(ctx context.Context, c Caller, id, paymentToken string, idem Idempotent) (*Reservation, error) {
	var v ValidationError
	checkLen(&v, "payment_token", paymentToken, 1, 255)
	checkKey(&v, idem.Key)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, c, id, idem, func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error) {
		if r.Status == StatusConfirmed {
			return r, nil
		}
		return s.store.Confirm(ctx, id, now, func(ctx context.Context, r *Reservation) error {
			return s.payments.Charge(ctx, r, paymentToken)
		}, rec)
	}, func(r *Reservation, now time.Time) {
		r.Status, r.ConfirmedAt = StatusConfirmed, &now
	})
}

// Cancel cancels a held reservation, or a confirmed one before the event
// starts (refunding it), and returns its tickets at once. It returns
// ErrNotFound, ErrInvalidState, ErrIdempotencyKeyReused or
// ErrRequestInProgress.
func (s *Service) Cancel(ctx context.Context, c Caller, id string, idem Idempotent) (*Reservation, error) {
	var v ValidationError
	checkKey(&v, idem.Key)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, c, id, idem, func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error) {
		allowConfirmed := false
		if r.Status == StatusConfirmed {
			e, err := s.store.Event(ctx, r.EventID)
			if err != nil {
				return nil, err
			}
			allowConfirmed = now.Before(e.StartsAt)
		}
		out, err := s.store.Cancel(ctx, id, now, allowConfirmed, rec)
		if err != nil {
			return nil, err
		}
		if r.Status == StatusConfirmed {
			if err := s.payments.Refund(context.WithoutCancel(ctx), out); err != nil {
				s.log.Error("refund failed; settle by hand", "reservation", out.ID, "err", err)
			}
		}
		return out, nil
	}, func(r *Reservation, now time.Time) {
		r.Status, r.CancelledAt = StatusCancelled, &now
	})
}

// transition runs a state change of a reservation the caller may see, with
// optional idempotency: the answer is recorded (as after would shape it) in
// the change's transaction and replayed for a repeated request.
func (s *Service) transition(ctx context.Context, c Caller, id string, idem Idempotent,
	change func(r *Reservation, now time.Time, rec *Idempotency) (*Reservation, error),
	after func(r *Reservation, now time.Time),
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
		answer := *r
		answer.UpdatedAt = now
		after(&answer, now)
		rec = s.record(c.UserID, idem, 200, answer.ID, answer.AppendJSON(nil), now)
	}
	return change(r, now, rec)
}
