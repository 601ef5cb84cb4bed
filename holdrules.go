package boxoffice

import "time"

// This file holds the one rule that decides holds. Both stores read, inside
// the batch's transaction, exactly what DecideHolds needs (the tickets left
// in the tier, each user's tickets for the event, the idempotency keys on
// record), call it, and write its verdicts; neither has a copy of the rule.

// IdempotencyKey names one idempotency record: a key is scoped to its user.
type IdempotencyKey struct {
	UserID string
	Key    string
}

// HoldFacts is what the hold decision reads from the system of record, in
// the transaction that writes its verdicts.
type HoldFacts struct {
	// Left is the number of tickets left in the tier (capacity − held −
	// confirmed).
	Left int
	// Tickets is each user's held + confirmed tickets for the event before
	// the batch. A missing user has none. DecideHolds does not change it.
	Tickets map[string]int
	// Recorded holds the idempotency keys already on record. A nil map
	// means none.
	Recorded map[IdempotencyKey]bool
}

// DecideHolds decides a batch of hold requests for one tier, in slice order,
// and sets each request's Err: nil when granted, else
//
//   - ErrIdempotencyKeyReused when its key is on record, or claimed by an
//     earlier request of the batch (granted or not: a concurrent duplicate
//     is never a second hold);
//   - ErrSoldOut when the tier has fewer tickets left than it asks for (a
//     request for fewer than one ticket is refused the same way; the service
//     never sends one);
//   - ErrLimitExceeded when the user's held + confirmed tickets for the
//     event, with those granted earlier in the batch, would exceed
//     MaxPerUser (a MaxPerUser below 1 means no limit).
//
// A refused request takes nothing from the tier or from its user's count, so
// a later, smaller request of the same user may still be granted. It returns
// the number of tickets granted.
func DecideHolds(reqs []*HoldRequest, f HoldFacts) (granted int) {
	left := f.Left
	var batch map[string]int // tickets granted per user in this batch
	keys := keyClaims{recorded: f.Recorded}
	for _, req := range reqs {
		r := req.Reservation
		if !keys.claim(req) {
			req.Err = ErrIdempotencyKeyReused
			continue
		}
		if err := decideOne(r.Quantity, left, f.Tickets[r.UserID]+batch[r.UserID], req.MaxPerUser); err != nil {
			req.Err = err
			continue
		}
		req.Err = nil
		left -= r.Quantity
		granted += r.Quantity
		if batch == nil {
			batch = make(map[string]int)
		}
		batch[r.UserID] += r.Quantity
	}
	return granted
}

// decideOne is the rule for one request of quantity tickets when left are
// left in the tier and the user has tickets for the event: availability
// first, then the user's limit.
func decideOne(quantity, left, tickets, maxPerUser int) error {
	switch {
	case quantity < 1 || quantity > left:
		return ErrSoldOut
	case maxPerUser > 0 && tickets+quantity > maxPerUser:
		return ErrLimitExceeded
	}
	return nil
}

// HoldCandidates reports, for each request, whether DecideHolds could grant
// it with the same Tickets and Recorded for some number of tickets left: its
// key is neither on record nor claimed earlier in the batch, and the request
// alone stays within its user's limit. Every request DecideHolds grants is a
// candidate, whatever f.Left is. A store that locks the tier late writes the
// candidates first, then decides under the tier's lock and takes back the
// candidates that were refused.
func HoldCandidates(reqs []*HoldRequest, f HoldFacts) []bool {
	out := make([]bool, len(reqs))
	keys := keyClaims{recorded: f.Recorded}
	for i, req := range reqs {
		r := req.Reservation
		out[i] = keys.claim(req) && decideOne(r.Quantity, r.Quantity, f.Tickets[r.UserID], req.MaxPerUser) == nil
	}
	return out
}

// keyClaims tells, in slice order, which requests of a batch may use their
// idempotency key: one whose key is on record, or claimed by an earlier
// request of the batch (granted or not), may not.
type keyClaims struct {
	recorded map[IdempotencyKey]bool
	claimed  map[IdempotencyKey]bool
}

// claim reports whether req may use its key (a request without one may),
// and claims it.
func (c *keyClaims) claim(req *HoldRequest) bool { return c.claimKey(req.Idempotency) }

// claimKey reports whether a request with the record idem (nil: no key) may
// use its key, and claims it.
func (c *keyClaims) claimKey(idem *Idempotency) bool {
	if idem == nil {
		return true
	}
	k := IdempotencyKey{idem.UserID, idem.Key}
	if c.recorded[k] || c.claimed[k] {
		return false
	}
	if c.claimed == nil {
		c.claimed = make(map[IdempotencyKey]bool)
	}
	c.claimed[k] = true
	return true
}

// DecideQuantityChange decides a change of a held reservation's quantity to
// quantity at now, when the tier has left tickets left and the reservation's
// user holds tickets (this reservation's included) for the event. It returns
// the change in tickets (negative to give some back), or ErrInvalidState
// (not held), ErrHoldExpired (the hold ran out), ErrSoldOut or
// ErrLimitExceeded for the tickets added, by the rule of DecideHolds.
func DecideQuantityChange(r *Reservation, quantity int, now time.Time, left, tickets, maxPerUser int) (delta int, err error) {
	switch {
	case r.Status != StatusHeld:
		return 0, ErrInvalidState
	case r.HoldRunOut(now):
		return 0, ErrHoldExpired
	}
	delta = quantity - r.Quantity
	if delta > 0 {
		if err := decideOne(delta, left, tickets, maxPerUser); err != nil {
			return 0, err
		}
	}
	return delta, nil
}
