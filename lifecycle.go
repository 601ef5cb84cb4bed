package boxoffice

import "time"

// This file is the reservation life cycle, the one place that says which
// state a reservation may move to and when:
//
//	held      → confirmed  paid before the hold runs out
//	held      → cancelled  by its holder or an admin, at any time
//	held      → expired    the hold ran out (now ≥ HoldExpiresAt)
//	confirmed → cancelled  refunded, while the event has not started
//
// cancelled and expired are final. Stores lock the reservation, ask the step
// functions below what to do, and persist the step (releasing the tickets
// when it says so).

// HoldRunOut reports whether r's hold has run out at now: from
// HoldExpiresAt on, a hold can no longer be confirmed or changed, and the
// sweeper expires it.
func (r *Reservation) HoldRunOut(now time.Time) bool { return !now.Before(r.HoldExpiresAt) }

// Step is a decided change of a reservation.
type Step struct {
	// To is the reservation's next state, or "" when it stays as it is.
	To ReservationStatus
	// Err is what the caller is told: nil, or a domain error. It may come
	// with a change: a confirm that finds the hold run out expires it and
	// reports ErrHoldExpired.
	Err error
}

// Releases reports whether the step gives the reservation's tickets back to
// its tier and its user's count.
func (s Step) Releases() bool { return s.To == StatusCancelled || s.To == StatusExpired }

// ConfirmStep decides a confirmation of r at now: a live hold is confirmed
// (after payment); a confirmed reservation stays as it is (confirming twice
// is not an error); a hold that ran out is expired with ErrHoldExpired; an
// expired one answers ErrHoldExpired and a cancelled one ErrInvalidState.
func ConfirmStep(r *Reservation, now time.Time) Step {
	switch r.Status {
	case StatusConfirmed:
		return Step{}
	case StatusHeld:
		if r.HoldRunOut(now) {
			return Step{To: StatusExpired, Err: ErrHoldExpired}
		}
		return Step{To: StatusConfirmed}
	case StatusExpired:
		return Step{Err: ErrHoldExpired}
	}
	return Step{Err: ErrInvalidState}
}

// CancelStep decides a cancellation of r at now. A hold can always be
// cancelled; a confirmed reservation only before refundableUntil (the
// event's start); anything else answers ErrInvalidState.
func CancelStep(r *Reservation, now, refundableUntil time.Time) Step {
	switch {
	case r.Status == StatusHeld:
		return Step{To: StatusCancelled}
	case r.Status == StatusConfirmed && now.Before(refundableUntil):
		return Step{To: StatusCancelled}
	}
	return Step{Err: ErrInvalidState}
}

// ExpireStep decides whether the sweeper expires r at now: only a hold that
// ran out is expired; anything else stays as it is.
func ExpireStep(r *Reservation, now time.Time) Step {
	if r.Status == StatusHeld && r.HoldRunOut(now) {
		return Step{To: StatusExpired}
	}
	return Step{}
}

// Apply moves r as s says, at now: its status, UpdatedAt, and ConfirmedAt or
// CancelledAt. A step without a change leaves r as it is.
func (r *Reservation) Apply(s Step, now time.Time) {
	if s.To == "" {
		return
	}
	r.Status, r.UpdatedAt = s.To, now
	switch s.To {
	case StatusConfirmed:
		r.ConfirmedAt = &now
	case StatusCancelled:
		r.CancelledAt = &now
	}
}
