package boxoffice

import (
	"context"
	"net/netip"
	"time"
)

// Caller is the authenticated user on whose behalf a service method runs.
type Caller struct {
	UserID string
	Role   Role
	// Addr is the client's address, as the HTTP layer determined it (the
	// zero Addr when there is none, as on the command line). Rate limits
	// count by it.
	Addr netip.Addr
	// EmailVerified is true when the caller's email was verified when
	// their access token was issued. False may be out of date: rules that
	// need a verified email look the user up before refusing.
	EmailVerified bool
	// TokenVersion is the user's token version the access token was
	// issued for; the token stands while it is the user's current one.
	TokenVersion int64
	// Key is the organizer API key the request was made with (nil for a
	// user's access token). A key's caller has no UserID: it acts for one
	// organizer only, with the key's role, and is never an admin.
	Key *KeyGrant
}

// IsAdmin reports whether the caller has the admin role.
func (c Caller) IsAdmin() bool { return c.Role == RoleAdmin && c.Key == nil }

// SignUp is the input of Service.SignUp.
type SignUp struct {
	Email    string
	Password string
	Name     string
}

// EventInput is the input of Service.CreateEvent: the contract's event
// fields. Zero-valued optional fields take their defaults.
type EventInput struct {
	// OrganizerID is the organizer the event is created for. Platform
	// admins may leave it out (DefaultOrganizerID, published at once);
	// a member of exactly one organizer may too (that one).
	OrganizerID       string
	Title             string
	Description       string
	Venue             string
	StartsAt          time.Time
	EndsAt            *time.Time
	SalesStartAt      time.Time
	SalesEndAt        time.Time
	MaxTicketsPerUser int
	HoldSeconds       int // 0 = DefaultHoldSeconds
	Queue             *QueueConfig
	// RequireVerifiedEmail sets Event.RequireVerifiedEmail.
	RequireVerifiedEmail bool
	// Refunds is what buyers may refund themselves (zero: until the
	// event starts).
	Refunds RefundPolicy
	// NameChangesUntil is until when holders may change the names on
	// their tickets (nil: until the event starts).
	NameChangesUntil *time.Time
	Tiers            []TierInput
}

// TierInput is one tier of an EventInput.
type TierInput struct {
	Name     string
	Price    Money
	Capacity int
	Hidden   bool
	Closed   bool
}

// EventQuery is the input of Service.ListEvents as clients send it.
type EventQuery struct {
	Query        string
	StartsAfter  time.Time
	StartsBefore time.Time
	OnSale       bool
	Limit        int    // 0 = DefaultLimit
	Cursor       string // opaque, from a previous page
}

// HoldInput is the input of Service.CreateReservation.
type HoldInput struct {
	EventID  string
	TierID   string
	Quantity int
	Attendee *Attendee
	// AdmissionToken is the waiting-room admission the request carried
	// ("" = none). Holds on events with a waiting room need a valid one.
	AdmissionToken string
	// IdempotencyKey is the client's Idempotency-Key ("" = none) and
	// Fingerprint a hash of the request it came with.
	IdempotencyKey string
	Fingerprint    string
}

// Idempotent carries an optional Idempotency-Key for confirm and cancel.
type Idempotent struct {
	Key         string
	Fingerprint string
}

// ReservationQuery is the input of Service.ListReservations.
type ReservationQuery struct {
	Status ReservationStatus
	Limit  int
	Cursor string
}

// Page is one page of a list with the cursor of the next page ("" = last).
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// Limits of the API.
const (
	DefaultLimit       = 20
	MaxLimit           = 100
	DefaultHoldSeconds = 900
	MaxIdempotencyKey  = 255
	IdempotencyTTL     = 24 * time.Hour
)

var _ = context.Background
