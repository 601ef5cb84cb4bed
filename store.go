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
	// UpdateUser loads the user under lock, calls apply to change it, and
	// writes back its role, disabled state, token version and ChangedAt,
	// in one transaction. It returns the user as written, ErrNotFound, or
	// apply's error (writing nothing).
	UpdateUser(ctx context.Context, id string, apply func(*User) error) (*User, error)
	// UsersChangedSince returns the standing of every user whose
	// ChangedAt is after since. It must stay fast on millions of users (an
	// index on ChangedAt).
	UsersChangedSince(ctx context.Context, since time.Time) ([]UserStanding, error)

	// CreateRefreshToken inserts t.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// RotateRefreshToken loads the refresh token whose Hash is hash and
	// its user under lock, calls decide, and writes what it returns in one
	// transaction: the token's RotatedAt, its successor, and the end of its
	// family. What decide returns is written even when it returns an
	// error; RotateRefreshToken then returns that error. It returns the
	// user, or ErrNotFound when there is no such token.
	RotateRefreshToken(ctx context.Context, hash []byte, decide func(*RefreshToken, *User) (RefreshRotation, error)) (*User, error)
	// PurgeRefreshTokens deletes the refresh tokens that expired before
	// before and returns how many it deleted.
	PurgeRefreshTokens(ctx context.Context, before time.Time) (int, error)

	// Token returns the user's one-time token of purpose p, or ErrNotFound.
	Token(ctx context.Context, userID string, p TokenPurpose) (*UserToken, error)
	// PutToken replaces the user's token of it.Token.Purpose with
	// it.Token and inserts it.Mail into the outbox, in one transaction. It
	// returns ErrRateLimited, writing nothing, when the token it would
	// replace was created after issuedBefore.
	PutToken(ctx context.Context, it *IssuedToken, issuedBefore time.Time) error
	// RedeemToken loads the user's token of purpose p and the user under
	// lock, calls decide, and writes what it returns in one transaction:
	// the token's Attempts and use, and the user's email_verified,
	// password hash and, when the redemption ends the user's sessions,
	// token version and ChangedAt (User.ChangeStanding). The token's
	// Attempts and use are written even when decide returns an error;
	// RedeemToken then returns that error. It returns the user as written,
	// or ErrNotFound when there is no such token.
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

	// CreateEvent inserts e and its tiers (IDs already assigned). Its
	// OrganizerID "" is stored as DefaultOrganizerID and its Status "" as
	// EventPublished.
	CreateEvent(ctx context.Context, e *Event) error
	// Event returns the event with its tiers (ordered by tier ID) and their
	// current Reserved counts, or ErrNotFound.
	Event(ctx context.Context, id string) (*Event, error)
	// ListEvents returns up to f.Limit events with their tiers matching f
	// (of status f.Status, "" = published), ordered by (StartsAt, ID). It
	// must stay fast on tens of millions of events: the cost of a page
	// does not grow with the cursor's depth nor with the events of other
	// statuses.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// OrganizerEvents returns up to f.Limit of an organizer's events with
	// their tiers, drafts, cancelled and archived ones included, ordered by
	// (StartsAt, ID) descending. A page costs the same whatever its depth
	// and however many events other organizers have.
	OrganizerEvents(ctx context.Context, f OrganizerEventFilter) ([]*Event, error)
	// UpdateEvent loads the event with its tiers under lock, calls apply to
	// change it (apply may append tiers with new IDs and returns an error to
	// abort), and writes it back (its status and tiers' flags included; its
	// organizer never changes), all in one transaction. It returns
	// ErrNotFound, apply's error, or ErrCapacityConflict when a tier's
	// capacity would fall below its Reserved count.
	UpdateEvent(ctx context.Context, id string, apply func(*Event) error) (*Event, error)
	// DeleteEvent deletes the event with its tiers, bookmarks, and
	// cancelled or expired reservations that were never paid. It returns
	// ErrNotFound, ErrHasReservations when any tier has held or confirmed
	// tickets or a reservation was ever confirmed (its money history
	// stays), or ErrHasOrders when the event has any order.
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
	// consistent snapshot, or ErrNotFound. Held counts held reservations
	// and pending orders' tickets; Confirmed counts confirmed reservations
	// and the kept tickets of paid and partially refunded orders.
	// OrderRevenue is Σ (Total − Refunded) of the event's paid, partially
	// refunded and refunded orders, per currency.
	Sales(ctx context.Context, eventID string) (*Sales, error)

	OrderStore
	TicketStore
	WebhookStore

	// InsertAudit appends e to its organizer's audit log.
	InsertAudit(ctx context.Context, e *AuditEntry) error
	// AuditLog returns up to f.Limit entries of an organizer's audit log,
	// newest first (by ID). A page costs the same whatever its depth.
	AuditLog(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)

	// Idempotency returns the record for (userID, key), or ErrNotFound.
	Idempotency(ctx context.Context, userID, key string) (*Idempotency, error)
	// PurgeIdempotency deletes records created before before and returns
	// how many it deleted.
	PurgeIdempotency(ctx context.Context, before time.Time) (int, error)
}

// OrderStore keeps orders, their payments and refunds. Orders share the
// tiers' Reserved counts and the users' ticket counts with v1 reservations:
// an order in a state that Holds() counts its lines' kept tickets in both,
// so held + confirmed ≤ capacity covers both kinds. Lock order everywhere:
// payment → order → reservation → user counters → tiers (sorted by ID).
type OrderStore interface {
	// CreateOrders decides a batch of orders, all for the same event, in
	// one transaction: it reads the facts DecideOrders needs (the tickets
	// left in every tier the batch asks for, under the tiers' locks, the
	// users' held + confirmed tickets for the event, the keys on record),
	// lets DecideOrders set each request's Err, inserts the granted orders
	// with their lines (and their Idempotency records), and moves each
	// tier's Reserved count and each user's count once. Nothing of a
	// refused order is written. The returned error is non-nil only when the
	// transaction failed as a whole (nothing granted).
	CreateOrders(ctx context.Context, eventID string, reqs []*OrderRequest) error
	// Order returns the order with its lines (in order) and its latest
	// payment (Payment, nil when none), or ErrNotFound.
	Order(ctx context.Context, id string) (*Order, error)
	// ListOrders returns up to f.Limit orders, newest first (by ID), of a
	// user or of an event, without their latest payment.
	ListOrders(ctx context.Context, f OrderFilter) ([]*Order, error)
	// CancelOrder cancels an order as OrderCancelStep decides under its
	// lock, releasing its tickets at once; idem (when not nil) is inserted
	// in the same transaction. It returns ErrNotFound or the step's error.
	CancelOrder(ctx context.Context, id string, now time.Time, idem *Idempotency) (*Order, error)
	// ExpireOrders marks up to limit pending orders whose hold ran out by
	// now (OrderExpireStep) as expired and releases their tickets. It
	// returns how many it expired. Several processes may call it at once.
	ExpireOrders(ctx context.Context, now time.Time, limit int) (int, error)

	// CreatePayment loads p.OrderID's order under lock, calls check with it
	// (check returns an error to refuse), and inserts p, in one
	// transaction. It returns ErrNotFound or check's error.
	CreatePayment(ctx context.Context, p *Payment, check func(*Order) error) error
	// Payment returns a payment, or ErrNotFound.
	Payment(ctx context.Context, id string) (*Payment, error)
	// PaymentByRef returns the payment of a provider with the provider's
	// id ref, or ErrNotFound.
	PaymentByRef(ctx context.Context, provider, ref string) (*Payment, error)
	// OrderPayments returns an order's payments, oldest first.
	OrderPayments(ctx context.Context, orderID string) ([]*Payment, error)
	// SettlePayment loads, under lock, the payment, its order with its
	// lines, the tickets left in each of the order's tiers and the
	// order's user's tickets for the event (SettleFacts, MaxPerUser left
	// zero for decide to fill), calls decide, and writes the Settlement it
	// returns in one transaction: the payment; the order when OrderChanged;
	// the order's tickets taken again when Reserve (tiers' Reserved and the
	// user's count); the refund and the mail when set. eventKey, when not
	// "", names the provider event being applied: it is recorded in the
	// same transaction, and when it was recorded before SettlePayment
	// changes nothing and returns ErrDuplicateEvent. decide returning
	// changed false writes nothing but the event key. It returns the order
	// as written with Payment the settled payment as written, ErrNotFound,
	// or decide's error.
	SettlePayment(ctx context.Context, paymentID, eventKey string, decide func(SettleFacts) (Settlement, bool, error)) (*Order, error)
	// SettlePayments applies a batch of reports on payments of one event
	// in one transaction, each as SettlePayment would and in their order:
	// a report sees what the reports before it wrote (one payment reported
	// twice, two late payments wanting the same last tickets). A report's
	// own failure (ErrNotFound, ErrDuplicateEvent, its Decide's error) is
	// its Err, writes nothing of it and leaves the others; an error of the
	// transaction is returned, and none of the batch is written.
	SettlePayments(ctx context.Context, eventID string, reqs []*SettleRequest) error
	// PaymentParties returns, in one read, who and what each payment is
	// for: its order's ID and event, and where the order's mail goes (the
	// order's email, else its buyer's), by payment ID. An unknown payment
	// is missing from the map.
	PaymentParties(ctx context.Context, paymentIDs []string) (map[string]PaymentParty, error)
	// StuckPayments returns up to limit payments in processing or
	// requires_action last updated before before and created after since,
	// oldest update first: the reconciliation job asks their provider.
	StuckPayments(ctx context.Context, before, since time.Time, limit int) ([]*Payment, error)

	// RefundOrder loads the order with its lines and the payment that paid
	// it (nil when none) under lock, calls decide (which changes the order
	// and returns the refund), and writes, in one transaction, the order,
	// the refund, and the refund's tickets given back to their tiers and
	// to the user's count; mail (when decide returns one) goes to the
	// outbox. It returns the refund, ErrNotFound, or decide's error.
	RefundOrder(ctx context.Context, orderID string, decide func(*Order, *Payment) (*Refund, *OutboxMessage, error)) (*Refund, error)
	// CancelledEventOrders returns the IDs of up to limit orders of
	// cancelled events that are still paid, partially refunded or
	// pending, ordered by ID: the orders a cancellation has yet to settle.
	CancelledEventOrders(ctx context.Context, limit int) ([]string, error)
	// OrderRefunds returns an order's refunds, oldest first.
	OrderRefunds(ctx context.Context, orderID string) ([]*Refund, error)
	// ClaimRefunds claims up to limit refunds that are pending or failed
	// and due by now (NextAttemptAt ≤ now), oldest due first, by setting
	// their NextAttemptAt to leaseUntil, and returns them. Several
	// processes may call it at once; a refund is claimed by one.
	ClaimRefunds(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*Refund, error)
	// UpdateRefund writes r's Ref, Status, Attempts, LastError,
	// NextAttemptAt and UpdatedAt, unless the stored refund has succeeded
	// (final), in which case it changes nothing. eventKey as in
	// SettlePayment.
	UpdateRefund(ctx context.Context, r *Refund, eventKey string) error
	// Refund returns a refund, or ErrNotFound.
	Refund(ctx context.Context, id string) (*Refund, error)
	// Revenue returns an event's money: the amounts of the succeeded
	// payments of its orders, and of all their refunds (owed or made: a
	// failed refund is tried again until it is done); ErrNotFound for an
	// unknown event.
	Revenue(ctx context.Context, eventID string) (*Revenue, error)
}

// TicketStore keeps tickets, the events' signing keys, scans, gates and
// door staff. Tickets are inserted by SettlePayment (Settlement.Tickets)
// and voided by RefundOrder (Refund.TicketIDs); RefundOrder loads the
// order's Issued tickets for its decide. Lock order: ticket rows (sorted
// by ID) after the order.
type TicketStore interface {
	// EventKey returns the event's signing key. When the event has none
	// yet, it stores fresh and returns it; when several callers race, all
	// get the one stored first. It returns ErrNotFound for an unknown
	// event.
	EventKey(ctx context.Context, eventID string, fresh *EventKey) (*EventKey, error)
	// Ticket returns a ticket, or ErrNotFound.
	Ticket(ctx context.Context, id string) (*Ticket, error)
	// OrderTickets returns an order's tickets ordered by ID.
	OrderTickets(ctx context.Context, orderID string) ([]*Ticket, error)
	// EventTickets returns up to limit of an event's tickets with IDs
	// after afterID ("" = from the first), ordered by ID: the check-in
	// bundle and the attendee lists page through them.
	EventTickets(ctx context.Context, eventID, afterID string, limit int) ([]*Ticket, error)
	// Attendees returns up to f.Limit of an event's tickets as attendees
	// (TierName left empty: the domain names the tiers), matching f,
	// ordered by ticket ID. BuyerEmail is the order's email, else its
	// user's; BuyerName the order's user's name. A page costs the same
	// whatever its depth, and a search by ID or prefix reads from indexes
	// where the store has them.
	Attendees(ctx context.Context, f AttendeeFilter) ([]*EventAttendee, error)
	// UpdateTicket loads the ticket under lock, calls apply to change it,
	// and writes back its attendee name, version, status, check-in (time
	// and gate) and UpdatedAt in one transaction. When undone is true
	// (a check-in undone), the ticket's admitted scans on record are
	// marked Undone in the same transaction. It returns the ticket as
	// written, ErrNotFound, or apply's error (writing nothing).
	UpdateTicket(ctx context.Context, id string, apply func(*Ticket) (undone bool, err error)) (*Ticket, error)
	// CheckIn decides a batch of scans of one event in one transaction: it
	// loads the scans' tickets under lock (those of the event; IDs of
	// other events or unknown are left out), the first admitting scan on
	// record of each used one (not undone), and the offline scans
	// recorded before under the batch's (device, scan) keys, calls
	// DecideScans, and writes the tickets and records it returns. The
	// returned error is non-nil only when the transaction failed as a
	// whole (nothing written).
	CheckIn(ctx context.Context, eventID string, scans []*Scan) error
	// CheckinAdmissions returns the admitting scans on record (Admitted,
	// not undone) of the event's tickets that were admitted more than
	// once, for Conflicts.
	CheckinAdmissions(ctx context.Context, eventID string) ([]*CheckinRecord, error)
	// TicketCounts returns the event's tickets counted by tier and
	// status, and the used tickets counted by the gate of their check-in.
	TicketCounts(ctx context.Context, eventID string) ([]TicketCount, map[string]int, error)

	// PutGate inserts or replaces the event's gate of g.Name. It returns
	// ErrNotFound for an unknown event.
	PutGate(ctx context.Context, g *Gate) error
	// DeleteGate removes a gate; ErrNotFound when there is none.
	DeleteGate(ctx context.Context, eventID, name string) error
	// Gates returns an event's gates ordered by name.
	Gates(ctx context.Context, eventID string) ([]*Gate, error)

	// PutStaff gives a user a door role at an event (replacing any). It
	// returns ErrNotFound for an unknown event or user.
	PutStaff(ctx context.Context, s *Staff) error
	// DeleteStaff removes a user's door role; ErrNotFound when none.
	DeleteStaff(ctx context.Context, eventID, userID string) error
	// StaffRole returns a user's door role at an event, "" when none.
	StaffRole(ctx context.Context, eventID, userID string) (StaffRole, error)
	// ListStaff returns an event's door staff ordered by user ID.
	ListStaff(ctx context.Context, eventID string) ([]*Staff, error)

	// CreateOrganizer inserts o and its first member (its owner) in one
	// transaction. It returns ErrSlugTaken when another organizer has
	// o.Slug.
	CreateOrganizer(ctx context.Context, o *Organizer, owner *Member) error
	// Organizer returns the organizer with the given id, or ErrNotFound.
	Organizer(ctx context.Context, id string) (*Organizer, error)
	// MemberRole returns a user's role in an organizer's team, "" when
	// none.
	MemberRole(ctx context.Context, organizerID, userID string) (MemberRole, error)
	// UserOrganizers returns a user's memberships ordered by organizer ID.
	UserOrganizers(ctx context.Context, userID string) ([]*Member, error)
	// ListMembers returns an organizer's team ordered by user ID.
	ListMembers(ctx context.Context, organizerID string) ([]*Member, error)
	// UpdateMember loads a user's membership (nil when none) and the
	// number of owners of the organizer under lock, calls decide, and
	// writes what it returns (nil: remove the membership) in one
	// transaction. It returns the membership as written (nil when
	// removed), ErrNotFound for an unknown organizer, or decide's error
	// (writing nothing).
	UpdateMember(ctx context.Context, organizerID, userID string, decide func(cur *Member, owners int) (*Member, error)) (*Member, error)
	// CreateAPIKey inserts k.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns the API key whose Hash is hash, or ErrNotFound.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListAPIKeys returns an organizer's API keys ordered by ID.
	ListAPIKeys(ctx context.Context, organizerID string) ([]*APIKey, error)
	// DeleteAPIKey removes an organizer's API key; ErrNotFound when it has
	// none with that id.
	DeleteAPIKey(ctx context.Context, organizerID, id string) error
}

// WebhookStore keeps the organizers' webhook endpoints, the webhook
// outbox (messages, written in the transaction of the change they report)
// and the deliveries of the messages to the endpoints. The stores write
// the messages of Settlement.Webhooks (SettlePayment), Refund.Webhooks
// (RefundOrder) and CheckinChanges.Webhooks (CheckIn) with the rest of
// their transaction.
type WebhookStore interface {
	// CreateWebhookEndpoint inserts ep.
	CreateWebhookEndpoint(ctx context.Context, ep *WebhookEndpoint) error
	// WebhookEndpoint returns an endpoint, or ErrNotFound.
	WebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	// WebhookEndpoints returns an organizer's endpoints ordered by ID.
	WebhookEndpoints(ctx context.Context, organizerID string) ([]*WebhookEndpoint, error)
	// UpdateWebhookEndpoint loads the endpoint under lock, calls apply to
	// change it, and writes back its URL, events, enabled state, failures
	// and UpdatedAt in one transaction. When it goes from enabled to
	// disabled, its deliveries waiting for an attempt are paused
	// (NextAttemptAt NULL); from disabled to enabled, its paused
	// deliveries (pending or failed, without NextAttemptAt) are due at
	// its UpdatedAt. It returns the endpoint as written, ErrNotFound, or
	// apply's error (writing nothing).
	UpdateWebhookEndpoint(ctx context.Context, id string, apply func(*WebhookEndpoint) error) (*WebhookEndpoint, error)
	// DeleteWebhookEndpoint deletes an endpoint with its deliveries;
	// ErrNotFound when there is none.
	DeleteWebhookEndpoint(ctx context.Context, id string) error

	// InsertWebhookMessages writes messages to the webhook outbox, in one
	// statement; a message whose ID is on record already is left as it
	// was.
	InsertWebhookMessages(ctx context.Context, msgs []*WebhookMessage) error
	// FanOutWebhooks takes up to limit messages not fanned out yet (oldest
	// first), calls plan with them and every enabled endpoint of their
	// organizers, and inserts the deliveries plan returns and marks the
	// messages fanned out, in one transaction. Several processes may call
	// it at once; a message is fanned out once. It returns how many
	// messages it took.
	FanOutWebhooks(ctx context.Context, limit int, plan func([]*WebhookMessage, []*WebhookEndpoint) []*WebhookDelivery) (int, error)
	// ClaimWebhookDeliveries claims up to limit deliveries due by now
	// (NextAttemptAt ≤ now, oldest due first) by setting their
	// NextAttemptAt to leaseUntil, and returns them with their endpoint
	// and message. Several processes may call it at once; a delivery is
	// claimed by one of them.
	ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*WebhookJob, error)
	// RecordWebhookAttempts records attempts: it locks the deliveries'
	// endpoints (in ID order), calls apply with each endpoint and its
	// deliveries of ds (apply may change both), and writes back the
	// deliveries' status, attempts, last attempt, error and NextAttemptAt
	// and the endpoints as UpdateWebhookEndpoint does, in one transaction.
	// Deliveries deleted meanwhile are skipped.
	RecordWebhookAttempts(ctx context.Context, ds []*WebhookDelivery, apply func(*WebhookEndpoint, []*WebhookDelivery)) error
	// WebhookDelivery returns a delivery, or ErrNotFound.
	WebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, error)
	// WebhookDeliveries returns up to f.Limit deliveries of an endpoint,
	// newest first (by ID).
	WebhookDeliveries(ctx context.Context, f DeliveryFilter) ([]*WebhookDelivery, error)
	// UpdateWebhookDelivery loads a delivery under lock, calls apply, and
	// writes back its status, attempts and NextAttemptAt. It returns the
	// delivery as written, ErrNotFound, or apply's error.
	UpdateWebhookDelivery(ctx context.Context, id string, apply func(*WebhookDelivery) error) (*WebhookDelivery, error)
	// PurgeWebhooks deletes, in bounded batches, the deliveries that
	// succeeded or were given up and last changed before before, then the
	// fanned-out messages created before before that no delivery refers
	// to, and returns how many rows it deleted.
	PurgeWebhooks(ctx context.Context, before time.Time) (int, error)
}

// PaymentParty is who and what a payment is for (Store.PaymentParties).
type PaymentParty struct {
	OrderID string
	EventID string
	// Email is where the order's mail goes.
	Email string
}

// OrderFilter selects orders, newest first. Exactly one of UserID and
// EventID is set.
type OrderFilter struct {
	UserID   string
	EventID  string
	Status   OrderStatus // "" = all
	BeforeID string      // keyset cursor: only IDs < BeforeID; "" = first page
	Limit    int
}

// Revenue is an event's money, per currency (an event sells in one
// currency in practice; nothing forbids more).
type Revenue struct {
	EventID string
	// Paid is the sum of succeeded payments; Refunded the sum of refunds
	// owed or made; Net = Paid − Refunded, per currency.
	Paid     map[string]int64
	Refunded map[string]int64
}

// ErrDuplicateEvent is what SettlePayment and UpdateRefund return for a
// provider event applied before.
var ErrDuplicateEvent = &Error{CodeInvalidState, "this provider event was applied before"}

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
	// CompareReserved is Compare in a lane of its own, kept for the
	// sign-ins that present a valid device token: however busy Compare's
	// workers are, CompareReserved gets a place in its lane (it may also
	// use an idle worker of Compare's). It returns ErrRateLimited only when
	// its own lane is full too.
	CompareReserved(ctx context.Context, hash []byte, password string) error
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
