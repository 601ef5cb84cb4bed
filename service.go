package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store    Store
	Cache    Cache
	Hasher   PasswordHasher
	Payments Payments
	Logger   *slog.Logger
	// Now is the clock (time.Now when nil). Tests set it to control time.
	Now func() time.Time
}

// Service enforces boxoffice's rules on top of a Store. It is safe for
// concurrent use. Run must be running for holds to be decided and to expire.
type Service struct {
	store    Store
	cache    Cache
	hasher   PasswordHasher
	payments Payments
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns a Service.
func NewService(cfg ServiceConfig) *Service {
	s := &Service{store: cfg.Store, cache: cfg.Cache, hasher: cfg.Hasher, payments: cfg.Payments, log: cfg.Logger, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

var errTODO = errors.New("not implemented yet")

// Run does the service's background work (expiring holds, purging old
// idempotency records) until ctx is done.
func (s *Service) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Ready returns nil when the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// SignUp creates a user with role user. It returns a *ValidationError for bad
// input, ErrEmailTaken, or ErrRateLimited when the password hashers are busy.
func (s *Service) SignUp(ctx context.Context, in SignUp) (*User, error) { return nil, errTODO }

// Authenticate returns the user with the email and password, or
// ErrInvalidCredentials (the same for an unknown email and a wrong password),
// or ErrRateLimited when the password hashers are busy.
func (s *Service) Authenticate(ctx context.Context, email, password string) (*User, error) {
	return nil, errTODO
}

// User returns the user with the given id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id string) (*User, error) { return nil, errTODO }

// EnsureAdmin creates the admin with this email and password, or makes the
// existing user with this email an admin with this password.
func (s *Service) EnsureAdmin(ctx context.Context, email, password, name string) (*User, error) {
	return nil, errTODO
}

// CreateEvent creates an event (admin only). It returns ErrForbidden or a
// *ValidationError.
func (s *Service) CreateEvent(ctx context.Context, c Caller, in EventInput) (*Event, error) {
	return nil, errTODO
}

// Event returns an event, or ErrNotFound.
func (s *Service) Event(ctx context.Context, id string) (*Event, error) { return nil, errTODO }

// EventJSON returns the JSON encoding of an event, from the read cache when
// fresh (availability at most one second old), or ErrNotFound.
func (s *Service) EventJSON(ctx context.Context, id string) ([]byte, error) { return nil, errTODO }

// ListEvents returns one page of events. It returns a *ValidationError for a
// bad limit or cursor.
func (s *Service) ListEvents(ctx context.Context, q EventQuery) (Page[*Event], error) {
	return Page[*Event]{}, errTODO
}

// ListEventsJSON returns the JSON encoding of one page of events
// ({"items": [...], "next_cursor": ...}), from the read cache when fresh.
func (s *Service) ListEventsJSON(ctx context.Context, q EventQuery) ([]byte, error) {
	return nil, errTODO
}

// UpdateEvent applies a partial update (admin only). It returns ErrForbidden,
// ErrNotFound, a *ValidationError, or ErrCapacityConflict.
func (s *Service) UpdateEvent(ctx context.Context, c Caller, id string, p EventPatch) (*Event, error) {
	return nil, errTODO
}

// DeleteEvent deletes an event (admin only). It returns ErrForbidden,
// ErrNotFound or ErrHasReservations.
func (s *Service) DeleteEvent(ctx context.Context, c Caller, id string) error { return errTODO }

// PutBookmark bookmarks an event for the caller; it returns ErrNotFound for an
// unknown event.
func (s *Service) PutBookmark(ctx context.Context, c Caller, eventID string) error { return errTODO }

// DeleteBookmark removes the caller's bookmark, if any.
func (s *Service) DeleteBookmark(ctx context.Context, c Caller, eventID string) error { return errTODO }

// ListBookmarks returns the caller's bookmarked events, newest bookmark first.
func (s *Service) ListBookmarks(ctx context.Context, c Caller, limit int, cursor string) (Page[*Event], error) {
	return Page[*Event]{}, errTODO
}

// CreateReservation places a hold. It returns ErrNotFound (event or tier),
// a *ValidationError, ErrSalesClosed, ErrNotAdmitted, ErrSoldOut,
// ErrLimitExceeded, ErrIdempotencyKeyReused or ErrRequestInProgress. With an
// idempotency key that already succeeded it returns the first reservation as
// it was answered then.
func (s *Service) CreateReservation(ctx context.Context, c Caller, in HoldInput) (*Reservation, error) {
	return nil, errTODO
}

// Reservation returns a reservation its owner or an admin may see, or
// ErrNotFound.
func (s *Service) Reservation(ctx context.Context, c Caller, id string) (*Reservation, error) {
	return nil, errTODO
}

// ListReservations returns the caller's reservations, newest first.
func (s *Service) ListReservations(ctx context.Context, c Caller, q ReservationQuery) (Page[*Reservation], error) {
	return Page[*Reservation]{}, errTODO
}

// ChangeQuantity changes a held reservation's quantity. It returns
// ErrNotFound, a *ValidationError, ErrInvalidState, ErrHoldExpired,
// ErrSoldOut or ErrLimitExceeded.
func (s *Service) ChangeQuantity(ctx context.Context, c Caller, id string, quantity int) (*Reservation, error) {
	return nil, errTODO
}

// Confirm pays for and confirms a held reservation; confirming a confirmed
// one returns it unchanged. It returns ErrNotFound, ErrPaymentDeclined,
// ErrHoldExpired, ErrInvalidState, ErrIdempotencyKeyReused or
// ErrRequestInProgress.
func (s *Service) Confirm(ctx context.Context, c Caller, id, paymentToken string, idem Idempotent) (*Reservation, error) {
	return nil, errTODO
}

// Cancel cancels a held reservation, or a confirmed one before the event
// starts, and returns its tickets. It returns ErrNotFound, ErrInvalidState,
// ErrIdempotencyKeyReused or ErrRequestInProgress.
func (s *Service) Cancel(ctx context.Context, c Caller, id string, idem Idempotent) (*Reservation, error) {
	return nil, errTODO
}

// Sales returns the admin sales view of an event. It returns ErrForbidden or
// ErrNotFound.
func (s *Service) Sales(ctx context.Context, c Caller, eventID string) (*Sales, error) {
	return nil, errTODO
}
