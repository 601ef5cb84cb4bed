package boxoffice

import (
	"context"
	"time"
)

// Store is the system of record. Every method is safe for concurrent use, and
// several processes may share one Store's database. Methods return the
// domain errors named in their comments, a *RetryableError when the database
// cannot be reached, and never a driver error. All times a Store returns are
// in UTC; it keeps at least microsecond precision.
type Store interface {
	// Migrate applies the embedded, numbered schema migrations that have not
	// been applied yet. It is safe when several processes call it at once.
	Migrate(ctx context.Context) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error

	// CreateUser inserts u and, when verify is not nil, its token and mail
	// in the same transaction. It returns ErrEmailTaken when a user with
	// the same email, compared case-insensitively, exists.
	CreateUser(ctx context.Context, u *User, verify *IssuedToken) error
	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id string) (*User, error)
	// UserByEmail returns the user whose email equals email
	// case-insensitively, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpsertAdmin makes u an admin: it inserts u with role admin, or, when a
	// user with the same email (case-insensitively) exists, sets that user's
	// role to admin and password hash to u.PasswordHash. It returns the
	// stored user.
	UpsertAdmin(ctx context.Context, u *User) (*User, error)

	// Token returns the user's one-time token of purpose p, or ErrNotFound.
	Token(ctx context.Context, userID string, p TokenPurpose) (*UserToken, error)
	// PutToken replaces the user's token of it.Token.Purpose with
	// it.Token and inserts it.Mail into the outbox, in one transaction. It
	// returns ErrRateLimited, writing nothing, when the token it would
	// replace was created after issuedBefore.
	PutToken(ctx context.Context, it *IssuedToken, issuedBefore time.Time) error
	// RedeemToken loads the user's token of purpose p and the user under
	// lock, calls decide, and writes what it returns in one transaction:
	// the token's Attempts and use, and the user's email_verified and
	// password hash. The token's Attempts and use are written even when
	// decide returns an error; RedeemToken then returns that error. It
	// returns the user as written, or ErrNotFound when there is no such
	// token.
	RedeemToken(ctx context.Context, userID string, p TokenPurpose, decide func(*UserToken, *User) (Redemption, error)) (*User, error)

	// ClaimMail claims up to limit outbox messages due by now (unsent,
	// NextAttemptAt ≤ now, oldest due first) by setting their
	// NextAttemptAt to leaseUntil, and returns them. Several processes may
	// call it at once; a message is claimed by one of them.
	ClaimMail(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*OutboxMessage, error)
	// MailSent marks messages sent at at, in one statement; they are never
	// claimed again and their text (which may carry secrets) is dropped.
	MailSent(ctx context.Context, ids []string, at time.Time) error
	// MailFailed records a failed delivery: the attempts so far, the last
	// error, and when to try again (nil: never).
	MailFailed(ctx context.Context, id string, attempts int, lastErr string, next *time.Time) error
	// PurgeMail deletes the messages sent before sentBefore, in bounded
	// batches, and returns how many it deleted. Unsent messages (due,
	// leased or given up) stay.
	PurgeMail(ctx context.Context, sentBefore time.Time) (int, error)

	// CreateEvent inserts e and its tiers (IDs already assigned).
	CreateEvent(ctx context.Context, e *Event) error
	// Event returns the event with its tiers (ordered by tier ID) and their
	// current Reserved counts, or ErrNotFound.
	Event(ctx context.Context, id string) (*Event, error)
	// ListEvents returns up to f.Limit events with their tiers matching f,
	// ordered by (StartsAt, ID). It must stay fast on tens of millions of
	// events: the cost of a page does not grow with the cursor's depth.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// UpdateEvent loads the event with its tiers under lock, calls apply to
	// change it (apply may append tiers with new IDs and returns an error to
	// abort), and writes it back, all in one transaction. It returns
	// ErrNotFound, apply's error, or ErrCapacityConflict when a tier's
	// capacity would fall below its Reserved count.
	UpdateEvent(ctx context.Context, id string, apply func(*Event) error) (*Event, error)
	// DeleteEvent deletes the event with its tiers, bookmarks, and
	// cancelled or expired reservations. It returns ErrNotFound, or
	// ErrHasReservations when any tier has held or confirmed tickets.
	DeleteEvent(ctx context.Context, id string) error

	// PutBookmark saves eventID for userID at time at; saving it again
	// changes nothing. It returns ErrNotFound for an unknown event.
	PutBookmark(ctx context.Context, userID, eventID string, at time.Time) error
	// DeleteBookmark removes the bookmark if it exists.
	DeleteBookmark(ctx context.Context, userID, eventID string) error
	// ListBookmarks returns up to f.Limit bookmarks with their events,
	// newest first by (CreatedAt, event ID).
	ListBookmarks(ctx context.Context, f BookmarkFilter) ([]*Bookmark, error)

	// CreateHolds decides a batch of hold requests, all for the same tier,
	// in one transaction: it reads the facts DecideHolds needs (the tickets
	// left, the users' held + confirmed tickets for the event, the keys on
	// record), lets DecideHolds set each request's Err, inserts the granted
	// reservations (and their Idempotency records) and moves the tier's
	// Reserved count once. A store may read recorded keys lazily: a
	// request whose key turns out to be recorded gets ErrIdempotencyKeyReused
	// all the same. The returned error is non-nil only when the transaction
	// failed as a whole, in which case nothing was granted and the
	// requests' Err fields are meaningless.
	CreateHolds(ctx context.Context, tierID string, reqs []*HoldRequest) error
	// Reservation returns the reservation with the given id, or ErrNotFound.
	Reservation(ctx context.Context, id string) (*Reservation, error)
	// ListReservations returns up to f.Limit of a user's reservations,
	// newest first.
	ListReservations(ctx context.Context, f ReservationFilter) ([]*Reservation, error)
	// ChangeQuantity sets a held reservation's quantity (and amount, price
	// times quantity) in one transaction with the inventory and the user's
	// count, as DecideQuantityChange decides. It returns ErrNotFound,
	// ErrInvalidState, ErrHoldExpired, ErrSoldOut or ErrLimitExceeded.
	ChangeQuantity(ctx context.Context, id string, quantity, maxPerUser int, now time.Time) (*Reservation, error)
	// Confirm confirms a held reservation. Under the reservation's lock it
	// asks ConfirmStep, calls charge (the payment), and marks it confirmed,
	// inserting idem (when not nil) in the same transaction; a hold that ran
	// out by now is marked expired and its tickets released instead. It
	// returns the reservation unchanged when it is already confirmed,
	// ErrNotFound, ErrHoldExpired, ErrInvalidState (cancelled), or charge's
	// error (nothing changes then).
	Confirm(ctx context.Context, id string, now time.Time, charge func(context.Context, *Reservation) error, idem *Idempotency) (*Reservation, error)
	// Cancel cancels a reservation as CancelStep decides under its lock (a
	// confirmed one only before refundableUntil), releasing its tickets at
	// once; idem (when not nil) is inserted in the same transaction. It
	// returns ErrNotFound or ErrInvalidState.
	Cancel(ctx context.Context, id string, now, refundableUntil time.Time, idem *Idempotency) (*Reservation, error)
	// ExpireHolds marks up to limit held reservations whose hold ran out by
	// now (ExpireStep) as expired and releases their tickets. It returns how many it
	// expired. Several processes may call it at once; each hold expires once.
	ExpireHolds(ctx context.Context, now time.Time, limit int) (int, error)
	// Sales returns the inventory of an event's tiers read in one
	// consistent snapshot, or ErrNotFound.
	Sales(ctx context.Context, eventID string) (*Sales, error)

	// Idempotency returns the record for (userID, key), or ErrNotFound.
	Idempotency(ctx context.Context, userID, key string) (*Idempotency, error)
	// PurgeIdempotency deletes records created before before and returns
	// how many it deleted.
	PurgeIdempotency(ctx context.Context, before time.Time) (int, error)
}

// Cache holds encoded read responses shared by every instance (Redis) or
// within one process (memory). A Cache never fails a request: errors count
// as misses.
type Cache interface {
	// Get returns the value stored under key, if present and fresh.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration)
	// Delete removes keys.
	Delete(ctx context.Context, keys ...string)
}

// PasswordHasher hashes and checks passwords with bounded concurrency. When
// too many hashes are waiting it returns ErrRateLimited rather than queueing
// without bound.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) ([]byte, error)
	// Compare returns nil when password matches hash,
	// ErrInvalidCredentials when it does not, or ErrRateLimited.
	Compare(ctx context.Context, hash []byte, password string) error
	// Saturated reports whether a new Hash or Compare would be refused
	// with ErrRateLimited right now.
	Saturated() bool
}

// Payments charges for reservations.
type Payments interface {
	// Charge takes payment for r with the client's payment token. It
	// returns ErrPaymentDeclined when the provider declines. It must be
	// idempotent per reservation ID.
	Charge(ctx context.Context, r *Reservation, token string) error
	// Refund returns the payment for a cancelled confirmed reservation.
	Refund(ctx context.Context, r *Reservation) error
}
