package boxoffice

import (
	"context"
	"time"
)

// PaymentStatus is the state of one payment attempt, as boxoffice knows it:
//
//	processing      created here, not yet confirmed by the provider, or the provider is working on it
//	requires_action the buyer must act (authenticate, pick a payment method) with the provider's client flow
//	succeeded       the money was taken: final
//	failed          the provider declined or gave up; the buyer may pay again with a new payment
type PaymentStatus string

// The payment states.
const (
	PaymentProcessing     PaymentStatus = "processing"
	PaymentRequiresAction PaymentStatus = "requires_action"
	PaymentSucceeded      PaymentStatus = "succeeded"
	PaymentFailed         PaymentStatus = "failed"
)

// Valid reports whether s is one of the payment states.
func (s PaymentStatus) Valid() bool {
	switch s {
	case PaymentProcessing, PaymentRequiresAction, PaymentSucceeded, PaymentFailed:
		return true
	}
	return false
}

// Payment is one attempt to pay for an order with a provider.
type Payment struct {
	ID      string
	OrderID string
	// Provider names the PaymentProvider ("test", "stripe").
	Provider string
	// Ref is the provider's id of the payment (a Stripe PaymentIntent id);
	// "" until the provider answered.
	Ref    string
	Status PaymentStatus
	Amount Money
	// ClientSecret lets the buyer's browser complete a payment that
	// requires action with the provider's client library. It is shown to
	// the order's buyer only.
	ClientSecret string
	// FailureReason is the provider's reason for a failed payment, safe to
	// show to the buyer.
	FailureReason string
	// StatusAt is the time of the provider's report that set Status: an
	// older report never overrides a newer one.
	StatusAt  time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PaymentState is a payment's state as its provider reports it.
type PaymentState struct {
	Ref           string
	Status        PaymentStatus
	ClientSecret  string
	FailureReason string
}

// Advance moves p to st, reported at at, as the payment rule says, and
// reports whether p changed. succeeded is final; otherwise a report older
// than the one p has is ignored (providers deliver events out of order), and
// a report of the same state changes nothing. The provider's ref and client
// secret are kept once known.
func (p *Payment) Advance(st PaymentState, at, now time.Time) bool {
	changed := false
	if p.Ref == "" && st.Ref != "" {
		p.Ref, changed = st.Ref, true
	}
	if p.ClientSecret == "" && st.ClientSecret != "" {
		p.ClientSecret, changed = st.ClientSecret, true
	}
	switch {
	case !st.Status.Valid() || st.Status == p.Status || p.Status == PaymentSucceeded:
	case st.Status != PaymentSucceeded && at.Before(p.StatusAt):
	default:
		p.Status, p.StatusAt, p.FailureReason, changed = st.Status, at, st.FailureReason, true
	}
	if changed {
		p.UpdatedAt = now
	}
	return changed
}

// RefundStatus is the state of a refund: pending until the provider
// confirms it, then succeeded, or failed (tried again later; visible to the
// organizer meanwhile).
type RefundStatus string

// The refund states.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund gives back money of one payment. It is written in the same
// transaction as the change that owes it (the order's tickets going back on
// sale, or a payment that cannot be kept) and sent to the provider by the
// refund outbox, with retries, until the provider confirms it.
type Refund struct {
	ID        string
	OrderID   string
	PaymentID string
	Provider  string
	// Ref is the provider's id of the refund, "" until it answered.
	Ref    string
	Amount Money
	Status RefundStatus
	Reason string
	// Lines are the tickets refunded (none for a refund of a payment that
	// held no tickets).
	Lines []RefundLine
	// TicketIDs are the issued tickets the refund voided.
	TicketIDs   []string
	ByOrganizer bool
	// Automatic marks a refund boxoffice made on its own: a payment whose
	// tickets were gone.
	Automatic bool
	// Attempts counts the refusals of the provider so far: each new
	// request after a refusal is a new one (its idempotency key has the
	// count), while a request that got no answer is repeated as it was.
	// LastError is the last failure; NextAttemptAt is when the outbox
	// calls the provider (again), or the end of a sender's lease while one
	// holds it.
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Webhooks go to the webhook outbox with the refund when RefundOrder
	// writes it (set by the service; not kept with the refund).
	Webhooks []*WebhookMessage
}

// RefundState is a refund's state as its provider reports it.
type RefundState struct {
	Ref           string
	Status        RefundStatus
	FailureReason string
}

// PaymentProvider is the port to a payment service. internal/stripe and
// internal/testpay implement it. Every call is idempotent: a call repeated
// with the same payment or refund (after a timeout, or by the
// reconciliation job) never moves money twice.
type PaymentProvider interface {
	// Name is the provider's name in the API and in stored payments.
	Name() string
	// StartPayment creates the provider's payment for p (idempotently, keyed
	// by p.ID) for order o and, when token is not "" (a payment method the
	// buyer's client obtained), confirms it with that token. It returns the
	// payment's state: succeeded, failed (a decline, with its reason),
	// processing, or requires_action with a client secret. An error means
	// the provider could not be asked; the payment may or may not exist
	// there, and LookupPayment finds out.
	StartPayment(ctx context.Context, p *Payment, o *Order, token string) (PaymentState, error)
	// LookupPayment asks the provider for p's state now. For a payment
	// without a Ref it finds or creates the provider's payment exactly as
	// StartPayment did, without confirming it.
	LookupPayment(ctx context.Context, p *Payment, o *Order) (PaymentState, error)
	// Refund asks the provider to refund r of payment p, idempotently
	// keyed by r.ID and r.Attempts. It returns the refund's state
	// (pending when the provider confirms it later).
	Refund(ctx context.Context, r *Refund, p *Payment) (RefundState, error)
	// LookupRefund asks the provider for the state of a refund it accepted
	// (r.Ref set). A refund the provider has is never requested again
	// while it is pending: an idempotency key does not last for ever.
	LookupRefund(ctx context.Context, r *Refund) (RefundState, error)
	// ParseWebhook verifies a callback's signature with the headers
	// (header returns a header's value) and decodes it. It returns
	// ErrWebhookSignature when the signature does not verify; an event
	// boxoffice does not act on comes back with Kind WebhookIgnored.
	ParseWebhook(body []byte, header func(string) string) (*WebhookEvent, error)
}

// WebhookKind is what a provider's callback reports.
type WebhookKind string

// The callbacks boxoffice acts on.
const (
	WebhookPayment WebhookKind = "payment" // a payment's state changed
	WebhookRefund  WebhookKind = "refund"  // a refund's state changed
	WebhookIgnored WebhookKind = "ignored"
)

// WebhookEvent is a verified provider callback.
type WebhookEvent struct {
	// ID is the provider's event id: an event is applied once.
	ID   string
	Kind WebhookKind
	// At is when the provider created the event.
	At time.Time
	// PaymentID is boxoffice's payment id (sent to the provider as
	// metadata), when the event is about a payment; RefundID likewise.
	PaymentID string
	RefundID  string
	Payment   PaymentState
	Refund    RefundState
}

// ErrWebhookSignature is the answer to a callback whose signature does not
// verify.
var ErrWebhookSignature = &Error{CodeUnauthenticated, "the webhook signature does not verify"}

// providerCharges pays for v1 reservations (Payments) with a
// PaymentProvider: a reservation's confirmation is a payment that must
// succeed at once with the client's token.
type providerCharges struct{ p PaymentProvider }

func (c providerCharges) Charge(ctx context.Context, r *Reservation, token string) error {
	pay := &Payment{ID: r.ID, OrderID: r.ID, Provider: c.p.Name(), Amount: r.Amount, Status: PaymentProcessing}
	o := &Order{ID: r.ID, EventID: r.EventID, UserID: r.UserID, Total: r.Amount}
	st, err := c.p.StartPayment(ctx, pay, o, token)
	switch {
	case err != nil:
		return err
	case st.Status == PaymentSucceeded:
		return nil
	case st.Status == PaymentFailed:
		if st.FailureReason != "" {
			return Errorf(CodePaymentDeclined, "%s", st.FailureReason)
		}
		return ErrPaymentDeclined
	}
	return Errorf(CodePaymentDeclined, "this payment needs the buyer to act; pay for an order instead")
}

func (c providerCharges) Refund(ctx context.Context, r *Reservation) error {
	pay := &Payment{ID: r.ID, OrderID: r.ID, Provider: c.p.Name(), Amount: r.Amount, Status: PaymentSucceeded}
	_, err := c.p.Refund(ctx, &Refund{ID: r.ID, OrderID: r.ID, PaymentID: r.ID, Amount: r.Amount}, pay)
	return err
}
