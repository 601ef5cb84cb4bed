package boxoffice

import (
	"time"
)

// User is an account. PasswordHash is a bcrypt hash and never leaves the
// server.
type User struct {
	ID           string
	Email        string // stored as given; unique case-insensitively
	Name         string
	Role         Role
	PasswordHash []byte
	// EmailVerified is true once the user has proved they read mail at
	// Email (VerifyEmail, or a password reset).
	EmailVerified bool
	CreatedAt     time.Time
	// TokenVersion is the version every access and refresh token of the
	// user must carry. ChangeStanding raises it, which ends them all.
	TokenVersion int64
	// Disabled users cannot sign in and their tokens stand no more. A
	// user is disabled rather than deleted: reservations refer to them.
	Disabled bool
	// ChangedAt is when Role, TokenVersion or Disabled last changed (zero:
	// never). Instances poll for users changed lately (see UserStanding).
	ChangedAt time.Time
}

// QueueConfig is an event's waiting room. A zero value means no waiting room.
type QueueConfig struct {
	Enabled        bool
	AdmitPerMinute int
}

// Event is something people buy tickets for, with one or more tiers.
type Event struct {
	ID string
	// OrganizerID owns the event ("" = DefaultOrganizerID).
	OrganizerID string
	// Status is where the event is in its life cycle (see eventstatus.go);
	// "" is stored as EventPublished.
	Status            EventStatus
	Title             string
	Description       string
	Venue             string
	StartsAt          time.Time
	EndsAt            *time.Time // nil when not set
	SalesStartAt      time.Time
	SalesEndAt        time.Time
	MaxTicketsPerUser int
	HoldSeconds       int
	Queue             QueueConfig
	// RequireVerifiedEmail admits only buyers with a verified email to
	// the event's waiting room and holds.
	RequireVerifiedEmail bool
	// Refunds is what the event's buyers may refund themselves.
	Refunds RefundPolicy
	// NameChangesUntil is until when holders may change the names on
	// their tickets (nil: until the event starts).
	NameChangesUntil *time.Time
	Tiers            []Tier
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Available returns the number of tickets left over all tiers.
func (e *Event) Available() int {
	n := 0
	for _, t := range e.Tiers {
		n += t.Available()
	}
	return n
}

// Tier returns the event's tier with the given id, or nil.
func (e *Event) Tier(id string) *Tier {
	for i := range e.Tiers {
		if e.Tiers[i].ID == id {
			return &e.Tiers[i]
		}
	}
	return nil
}

// OnSale reports whether sales are open at now: SalesStartAt ≤ now < SalesEndAt.
func (e *Event) OnSale(now time.Time) bool {
	return !now.Before(e.SalesStartAt) && now.Before(e.SalesEndAt)
}

// RefundPolicy says until when an event's buyers may refund their own
// orders (organizers may refund at any time). The zero value allows it
// until the event starts.
type RefundPolicy struct {
	// None forbids refunds by buyers.
	None bool
	// Until, when set, is the deadline instead of the event's start.
	Until *time.Time
}

// FanRefundDeadline returns until when the event's buyers may refund
// their orders, and false when they may not at all.
func (e *Event) FanRefundDeadline() (time.Time, bool) {
	switch {
	case e.Refunds.None:
		return time.Time{}, false
	case e.Refunds.Until != nil:
		return *e.Refunds.Until, true
	}
	return e.StartsAt, true
}

// Tier is a class of tickets of one event with its own price and capacity.
// Reserved counts the tickets that are held or confirmed; it never exceeds
// Capacity.
type Tier struct {
	ID       string
	EventID  string
	Name     string
	Price    Money
	Capacity int
	Reserved int
	// Hidden tiers are not shown to the public and do not sell (a tier
	// kept for guests or sold later).
	Hidden bool
	// Closed tiers are shown but do not sell.
	Closed bool
}

// Sellable reports whether the public may buy the tier's tickets.
func (t *Tier) Sellable() bool { return !t.Hidden && !t.Closed }

// Available returns Capacity - Reserved, never below zero.
func (t *Tier) Available() int {
	return max(t.Capacity-t.Reserved, 0)
}

// EventFilter selects events for a list. Zero fields do not filter.
type EventFilter struct {
	Query        string    // case-insensitive substring of title or venue
	StartsAfter  time.Time // starts_at > StartsAfter
	StartsBefore time.Time // starts_at < StartsBefore
	OnSaleAt     time.Time // sales_start_at ≤ OnSaleAt < sales_end_at
	// Status lists only events in that state ("" = EventPublished): the
	// lists are the public's, and the stores keep one index walk per
	// status.
	Status EventStatus
	// AfterStartsAt and AfterID are the keyset cursor: only events ordered
	// strictly after (AfterStartsAt, AfterID) are returned. AfterID "" = first page.
	AfterStartsAt time.Time
	AfterID       string
	Limit         int
}

// OrganizerEventFilter selects an organizer's events, of every status,
// for its back office, ordered by (StartsAt, ID) descending: the latest
// first.
type OrganizerEventFilter struct {
	OrganizerID string
	// BeforeStartsAt and BeforeID are the keyset cursor: only events
	// ordered strictly before (BeforeStartsAt, BeforeID) are returned.
	// BeforeID "" = first page.
	BeforeStartsAt time.Time
	BeforeID       string
	Limit          int
}

// EventPatch is a partial update of an event; nil fields stay as they are.
// Tiers in TierPatches are matched by ID; a patch with an empty ID adds a tier.
type EventPatch struct {
	Title             *string
	Description       *string
	Venue             *string
	StartsAt          *time.Time
	EndsAt            *time.Time
	SalesStartAt      *time.Time
	SalesEndAt        *time.Time
	MaxTicketsPerUser *int
	HoldSeconds       *int
	Queue             *QueueConfig
	// RequireVerifiedEmail sets Event.RequireVerifiedEmail.
	RequireVerifiedEmail *bool
	Refunds              *RefundPolicy
	NameChangesUntil     *time.Time
	Tiers                []TierPatch
}

// TierPatch changes or adds one tier.
type TierPatch struct {
	ID       string
	Name     *string
	Price    *Money
	Capacity *int
	Hidden   *bool
	Closed   *bool
}

// Bookmark is a user's saved event.
type Bookmark struct {
	UserID    string
	Event     *Event
	CreatedAt time.Time
}

// ReservationStatus is the state of a reservation:
// held → confirmed | cancelled | expired, and confirmed → cancelled.
type ReservationStatus string

// The reservation states.
const (
	StatusHeld      ReservationStatus = "held"
	StatusConfirmed ReservationStatus = "confirmed"
	StatusCancelled ReservationStatus = "cancelled"
	StatusExpired   ReservationStatus = "expired"
)

// Valid reports whether s is one of the four states.
func (s ReservationStatus) Valid() bool {
	switch s {
	case StatusHeld, StatusConfirmed, StatusCancelled, StatusExpired:
		return true
	}
	return false
}

// Attendee is the person a reservation is for.
type Attendee struct {
	Name  string
	Phone string
}

// Reservation is a hold on tickets of one tier, later confirmed, cancelled or
// expired.
type Reservation struct {
	ID            string
	EventID       string
	TierID        string
	UserID        string
	Quantity      int
	Status        ReservationStatus
	Amount        Money
	Attendee      *Attendee
	HoldExpiresAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ConfirmedAt   *time.Time
	CancelledAt   *time.Time
}

// ReservationFilter selects a user's reservations, newest first (by ID, which
// is time-ordered).
type ReservationFilter struct {
	UserID   string
	Status   ReservationStatus // "" = all
	BeforeID string            // keyset cursor: only IDs < BeforeID; "" = first page
	Limit    int
}

// BookmarkFilter selects a user's bookmarks, newest first by (CreatedAt, event ID).
type BookmarkFilter struct {
	UserID string
	// BeforeCreatedAt and BeforeEventID are the keyset cursor; BeforeEventID "" = first page.
	BeforeCreatedAt time.Time
	BeforeEventID   string
	Limit           int
}

// HoldRequest is one request for a hold, decided together with others for the
// same tier in one transaction by Store.CreateHolds.
type HoldRequest struct {
	// Reservation is fully built by the service (ID, times, amount, status
	// held); the store inserts it when the hold is granted.
	Reservation *Reservation
	// MaxPerUser is the event's max_tickets_per_user.
	MaxPerUser int
	// Idempotency, when not nil, is inserted with the reservation.
	Idempotency *Idempotency
	// Err is the store's verdict: nil when the hold was committed, or
	// ErrSoldOut, ErrLimitExceeded, ErrIdempotencyKeyReused (the key was
	// recorded meanwhile by another request).
	Err error
}

// TierSales is one tier's line in the admin sales view. Held + Confirmed +
// Available = Capacity, always.
type TierSales struct {
	TierID    string
	Capacity  int
	Held      int
	Confirmed int
	Available int
}

// Sales is the admin view of an event's inventory, read in one snapshot.
type Sales struct {
	EventID string
	Tiers   []TierSales
	// OrderRevenue is what the event's orders kept: paid minus refunded,
	// per currency.
	OrderRevenue map[string]int64
}
