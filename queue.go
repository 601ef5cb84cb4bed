package boxoffice

import (
	"context"
	"errors"
	"time"
)

// QueueState is where a user stands in an event's waiting room.
type QueueState string

// The waiting-room states a client sees.
const (
	// QueueWaiting: in line (or, before sales open, in the pre-sale pool).
	QueueWaiting QueueState = "waiting"
	// QueueAdmitted: holds an admission token that lets the user buy.
	QueueAdmitted QueueState = "admitted"
	// QueueSoldOut: nothing is left to sell and nothing can come back.
	QueueSoldOut QueueState = "sold_out"
	// QueueExpired: the user was admitted but did not use the admission in
	// time; joining again puts them at the back of the line.
	QueueExpired QueueState = "expired"
	// QueueCancelled: the event is cancelled; its waiting room is closed
	// for good and admits nobody.
	QueueCancelled QueueState = "cancelled"
)

// Terminal reports whether a stream of statuses ends after s.
func (s QueueState) Terminal() bool {
	return s == QueueAdmitted || s == QueueSoldOut || s == QueueExpired || s == QueueCancelled
}

// QueueStatus is a user's place in an event's waiting room, as the HTTP API
// shows it (QueueStatus in api/openapi.json). Position is 1 for the next to be admitted and 0 when it
// is not defined: before sales open (the pre-sale pool is drawn at random
// when they do) and in every state but waiting. AdmissionToken and
// AdmissionExpiresAt are set only when admitted.
type QueueStatus struct {
	EventID            string
	Status             QueueState
	Position           int
	ETASeconds         int
	AdmissionToken     string
	AdmissionExpiresAt *time.Time
}

// sameAs reports whether a client would see a difference between s and o
// other than the estimate (eta_seconds), which drifts every second and is
// carried along with the next real change.
func (s *QueueStatus) sameAs(o *QueueStatus) bool {
	return s.Status == o.Status && s.Position == o.Position && s.AdmissionToken == o.AdmissionToken
}

// QueueEntry is one user's place in an event's queue as a Queue stores it.
type QueueEntry struct {
	// State is "" when the user is not in the queue, else QueueWaiting,
	// QueueAdmitted or QueueExpired (sold out is a property of the event,
	// see QueueInfo).
	State QueueState
	// Presale is true while the user waits in the pre-sale pool, before the
	// draw.
	Presale bool
	// Position is the 1-based place in line when waiting after the draw.
	Position int
	// AdmittedUntil is when the admission ends, when admitted.
	AdmittedUntil time.Time
}

// QueueInfo is the state of one event's queue as a whole.
type QueueInfo struct {
	// Opened is true once the pre-sale pool has been drawn; nobody is
	// admitted before.
	Opened bool
	// SoldOut is true while the coordinator has found nothing left to
	// sell (or sales closed).
	SoldOut bool
	// Presale counts the pre-sale pool, Waiting the line after the draw.
	Presale, Waiting int
	// InFlight counts unused, unexpired admissions; Admitted also counts
	// those already used to buy and not yet expired.
	InFlight, Admitted int
	// Live counts the admissions in flight that counted against the cap
	// at the last coordinator round: those granted or whose holders were
	// seen (Seen) recently enough. The others are idle: still valid, but
	// no longer holding anyone back.
	Live int
	// Pace is the measured admission rate, in users per second (0 =
	// unknown).
	Pace float64
	// Version changes whenever positions or the sold-out flag may have
	// changed for users already in the queue (a draw, an admission, an
	// expiry, a leave), so watchers can skip rounds when it did not.
	Version int64
}

// Revocation is an admission its holder gave up by leaving the queue before
// it ended.
type Revocation struct {
	EventID, UserID string
	// Until is when the admission would have ended.
	Until time.Time
}

// AdmitRequest is one coordinator round for one event (Queue.Admit).
type AdmitRequest struct {
	// Owner is the coordinator's lease owner; the round is refused with
	// ErrNotLeader unless Owner holds the lease.
	Owner string
	// Now is the coordinator's clock: admissions that ended by Now expire.
	Now time.Time
	// Max is how many users may be admitted in this round.
	Max int
	// Limit caps the live admissions in flight (unused, unexpired, and
	// live: see LiveUntil) after the round; negative means no cap.
	Limit int
	// Until is when the new admissions end.
	Until time.Time
	// LiveUntil is when the new admissions stop counting against Limit
	// unless their holders are seen again (Queue.Seen); zero means they
	// count until they end.
	LiveUntil time.Time
	// SoldOut sets the event's sold-out flag; nobody is admitted while it
	// is set.
	SoldOut bool
	// Pace is the measured admission rate to publish (users per second).
	Pace float64
}

// AdmitResult is the outcome of Queue.Admit.
type AdmitResult struct {
	// Admitted lists the users admitted in this round, in queue order.
	Admitted []string
	// First is the event-wide sequence number (1-based) of Admitted[0]:
	// every admission of an event gets the next number, across
	// coordinators.
	First int64
	// Expired counts the admissions that ran out in this round.
	Expired int
	// Info is the queue after the round.
	Info QueueInfo
}

// ErrNotLeader is returned by Queue.Admit and Queue.Release when the caller
// does not hold the coordinator lease: another instance coordinates.
var ErrNotLeader = errors.New("boxoffice: not the waiting-room coordinator")

// Queue is the storage of the waiting rooms, shared by every instance
// (Redis) or held in one process (memory). It keeps, per event, the
// pre-sale pool, the line, the admitted users and the expired admissions,
// and a coordinator lease for all events. Every method is safe for
// concurrent use; changes that touch several parts of an event's state are
// atomic. Methods return a *RetryableError when the backing server cannot be
// reached. Users are never dropped for waiting: only Leave, Drop and an
// admission's expiry remove them.
type Queue interface {
	// Join puts userID in the event's queue unless it is already there
	// (then its place is kept): into the pre-sale pool when presale is set
	// and the pool has not been drawn, else at the back of the line. A user
	// whose admission expired joins again at the back. It returns the
	// user's entry and the event's queue.
	Join(ctx context.Context, eventID, userID string, presale bool, now time.Time) (QueueEntry, QueueInfo, error)
	// Entries returns the entries of userIDs (State "" for those not in
	// the queue) and the event's queue; with no users it returns only the
	// latter.
	Entries(ctx context.Context, eventID string, userIDs []string) ([]QueueEntry, QueueInfo, error)
	// Leave removes userID from every part of the event's queue; leaving a
	// queue one is not in is not an error. An admission (used or not) that
	// the user held is revoked: Revoked lists it until it would have ended
	// or the user is admitted again.
	Leave(ctx context.Context, eventID, userID string) error
	// Revoked lists, across events, the admissions given up by leaving
	// that would still be valid at now (their tokens still verify), except
	// those of users admitted again since.
	Revoked(ctx context.Context, now time.Time) ([]Revocation, error)
	// MarkUsed records that the users presented their admissions to buy:
	// unexpired admissions stop counting as in flight (their tickets now
	// count in the inventory) but stay valid until they end.
	MarkUsed(ctx context.Context, eventID string, userIDs []string, now time.Time) error
	// Seen records that the users, if they hold unused admissions, were
	// seen (they asked for their status): their admissions count against
	// the in-flight cap until at least until.
	Seen(ctx context.Context, eventID string, userIDs []string, until time.Time) error

	// Events lists the events whose queues need a coordinator: those with
	// users in them that have not been closed.
	Events(ctx context.Context) ([]string, error)
	// Pool returns the pre-sale pool in join order (ties by user ID).
	Pool(ctx context.Context, eventID string) ([]string, error)
	// Release draws the pool: it places order (the pool, shuffled) ahead of
	// everyone in line, in that order, and opens the queue for admission.
	// It returns false, changing nothing, when order is not exactly the
	// current pool (someone joined meanwhile), and true when the queue is
	// open (also when it already was). It returns ErrNotLeader unless
	// owner holds the lease.
	Release(ctx context.Context, eventID, owner string, order []string) (bool, error)
	// Admit runs one coordinator round for the event, atomically: it
	// expires ended admissions, sets the sold-out flag, and moves up to
	// req.Max users from the head of the line to the admitted set (none
	// while the queue is not open or sold out, and no more than req.Limit
	// leaves live in flight). It returns ErrNotLeader unless req.Owner
	// holds the lease.
	Admit(ctx context.Context, eventID string, req AdmitRequest) (AdmitResult, error)
	// Close ends the event's waiting room when its sales end: it is marked
	// sold out and no longer listed by Events; its state is kept for a
	// while so that users can still learn their status.
	Close(ctx context.Context, eventID string) error
	// Drop deletes the event's queue entirely (the event is gone).
	Drop(ctx context.Context, eventID string) error

	// Lead acquires the coordinator lease for owner for ttl, or renews it
	// when owner holds it. It reports whether owner holds it now. A lease
	// that is not renewed lapses after ttl, so another instance takes over
	// when its holder dies.
	Lead(ctx context.Context, owner string, ttl time.Duration) (bool, error)
	// Resign gives up the lease if owner holds it.
	Resign(ctx context.Context, owner string) error
}

// AdmissionTokens issues and verifies signed admission tokens bound to a user
// and an event. internal/auth.AdmissionTokens implements it.
type AdmissionTokens interface {
	// Issue returns a token admitting userID to buy for eventID until
	// expires. The same arguments give the same token.
	Issue(userID, eventID string, expires time.Time) (string, error)
	// Verify reports whether token is genuine, unexpired, and admits
	// userID for eventID. It needs no round trip to any server.
	Verify(token, userID, eventID string) bool
}
