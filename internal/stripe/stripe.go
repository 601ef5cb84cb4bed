// Package stripe is boxoffice's payment provider on Stripe: a
// boxoffice.PaymentProvider on PaymentIntents and Refunds, with webhooks
// verified by Stripe's signing scheme.
//
// Every call that creates something at Stripe carries an idempotency key
// derived from boxoffice's ids, so that a call repeated after a timeout (by
// the caller's outbox or reconciliation job) moves no money twice:
//
//	create the PaymentIntent of payment P   boxoffice-payment-P
//	confirm it with token T                 boxoffice-payment-P-confirm-<hash of T>
//	refund R, attempt N                     boxoffice-refund-R-N
//
// Stripe keeps idempotency keys for at least 24 hours.
package stripe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"boxoffice"
)

// Name is the provider's name.
const Name = "stripe"

// The metadata keys boxoffice sets on Stripe's objects; webhooks find
// boxoffice's payment and refund by them.
const (
	MetaPaymentID = "boxoffice_payment_id"
	MetaOrderID   = "boxoffice_order_id"
	MetaEventID   = "boxoffice_event_id"
	MetaRefundID  = "boxoffice_refund_id"
)

// SignatureHeader is the header of Stripe's webhook signature.
const SignatureHeader = "Stripe-Signature"

// DefaultTimeout bounds one call to Stripe when Config.HTTPClient is nil.
const DefaultTimeout = 30 * time.Second

// Config configures a Provider.
type Config struct {
	// SecretKey is the Stripe API key (sk_live_…, sk_test_… or a
	// restricted rk_… key with write access to PaymentIntents and Refunds).
	SecretKey string
	// WebhookSecret is the signing secret of the webhook endpoint (whsec_…).
	WebhookSecret string
	// APIBase is the API's base URL; "" is Stripe's. Tests point it at
	// stripe-mock.
	APIBase string
	// HTTPClient makes the calls; nil is a client with DefaultTimeout.
	HTTPClient *http.Client
}

// Provider is the Stripe payment provider. It is safe for concurrent use.
type Provider struct {
	client        *stripego.Client
	webhookSecret string
}

var _ boxoffice.PaymentProvider = (*Provider)(nil)

// New returns a Provider for cfg. It returns an error when the secret key
// or the webhook secret is missing.
func New(cfg Config) (*Provider, error) {
	var missing []string
	if cfg.SecretKey == "" {
		missing = append(missing, "the secret key")
	}
	if cfg.WebhookSecret == "" {
		missing = append(missing, "the webhook secret")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("stripe: %s missing", strings.Join(missing, " and "))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	bc := &stripego.BackendConfig{
		HTTPClient: hc,
		// No retries inside a call: a failed call returns at once as a
		// *boxoffice.RetryableError, and the caller's outbox or
		// reconciliation job repeats it with the same idempotency keys.
		// This keeps a checkout request's time bounded by one call.
		MaxNetworkRetries: stripego.Int64(0),
		// Failures are returned to the caller, which logs them.
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if cfg.APIBase != "" {
		bc.URL = stripego.String(strings.TrimSuffix(cfg.APIBase, "/"))
	}
	return &Provider{
		client:        stripego.NewClient(cfg.SecretKey, stripego.WithBackends(stripego.NewBackendsWithConfig(bc))),
		webhookSecret: cfg.WebhookSecret,
	}, nil
}

// Name returns "stripe".
func (*Provider) Name() string { return Name }

// StartPayment creates the PaymentIntent of p for order o and, when token
// is not "", confirms it with that payment method (a pm_… id, or a legacy
// card token). A decline is a failed state with Stripe's message for the
// buyer, not an error. It returns a *boxoffice.RetryableError when Stripe
// could not be reached or answered 429 or 5xx, and another error for a
// request Stripe refused (a bad key, an invalid amount); after the
// PaymentIntent was created, the state returned with an error carries its
// Ref.
func (s *Provider) StartPayment(ctx context.Context, p *boxoffice.Payment, o *boxoffice.Order, token string) (boxoffice.PaymentState, error) {
	pi, err := s.create(ctx, p, o)
	if err != nil {
		return s.paymentFailure(ctx, "create payment intent", err, "")
	}
	if token == "" || !confirmable(pi.Status) {
		return paymentState(pi), nil
	}
	params := &stripego.PaymentIntentConfirmParams{PaymentMethod: stripego.String(token)}
	params.SetIdempotencyKey(confirmKey(p.ID, token))
	confirmed, err := s.client.V1PaymentIntents.Confirm(ctx, pi.ID, params)
	if err != nil {
		return s.paymentFailure(ctx, "confirm payment intent", err, pi.ID)
	}
	return paymentState(confirmed), nil
}

// LookupPayment returns p's state at Stripe. For a payment without a Ref
// it first repeats StartPayment's create, with the same idempotency key
// and parameters: Stripe answers with the PaymentIntent made then, or
// makes it, unconfirmed, when the first call never reached it. Errors are
// StartPayment's.
func (s *Provider) LookupPayment(ctx context.Context, p *boxoffice.Payment, o *boxoffice.Order) (boxoffice.PaymentState, error) {
	ref := p.Ref
	if ref == "" {
		pi, err := s.create(ctx, p, o)
		if err != nil {
			return boxoffice.PaymentState{}, apiError("create payment intent", err)
		}
		// A repeated create answers what the first one did, the state at
		// creation; the PaymentIntent may have moved on since.
		ref = pi.ID
	}
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, ref, nil)
	if err != nil {
		return boxoffice.PaymentState{Ref: ref}, apiError("retrieve payment intent", err)
	}
	return paymentState(pi), nil
}

// create creates (or, with the same key, finds) p's PaymentIntent. Its
// parameters depend on p and o only, so that a repeat is the same request:
// Stripe refuses a reused key with other parameters.
func (s *Provider) create(ctx context.Context, p *boxoffice.Payment, o *boxoffice.Order) (*stripego.PaymentIntent, error) {
	params := &stripego.PaymentIntentCreateParams{
		Amount:      stripego.Int64(p.Amount.Amount),
		Currency:    stripego.String(strings.ToLower(p.Amount.Currency)),
		Description: stripego.String("boxoffice order " + o.ID),
		// Without redirects, a token confirms on the server with no return
		// URL; cards and wallets need none, and 3-D Secure is completed in
		// the browser with the client secret.
		AutomaticPaymentMethods: &stripego.PaymentIntentCreateAutomaticPaymentMethodsParams{
			Enabled:        stripego.Bool(true),
			AllowRedirects: stripego.String("never"),
		},
		Metadata: map[string]string{MetaPaymentID: p.ID, MetaOrderID: o.ID, MetaEventID: o.EventID},
	}
	params.SetIdempotencyKey(paymentKey(p.ID))
	return s.client.V1PaymentIntents.Create(ctx, params)
}

func paymentKey(paymentID string) string { return "boxoffice-payment-" + paymentID }

// confirmKey is the idempotency key of confirming paymentID with token: a
// hash, so that the token itself is not repeated in Stripe's logs, and a
// different token is a different confirmation.
func confirmKey(paymentID, token string) string {
	h := sha256.Sum256([]byte(token))
	return paymentKey(paymentID) + "-confirm-" + hex.EncodeToString(h[:12])
}

func refundKey(refundID string, attempt int) string {
	return "boxoffice-refund-" + refundID + "-" + strconv.Itoa(attempt)
}

// confirmable reports whether a PaymentIntent in status st takes a payment
// method.
func confirmable(st stripego.PaymentIntentStatus) bool {
	return st == stripego.PaymentIntentStatusRequiresPaymentMethod ||
		st == stripego.PaymentIntentStatusRequiresConfirmation ||
		st == stripego.PaymentIntentStatusRequiresAction
}

// Failure reasons shown to the buyer when Stripe gave none meant for them.
const (
	reasonFailed         = "The payment failed."
	reasonCanceled       = "The payment was canceled."
	reasonPaymentMethod  = "The payment method was not accepted."
	reasonAuthentication = "The payment could not be authenticated."
)

// paymentState maps a PaymentIntent to boxoffice's payment state.
func paymentState(pi *stripego.PaymentIntent) boxoffice.PaymentState {
	st := boxoffice.PaymentState{Ref: pi.ID}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		st.Status = boxoffice.PaymentSucceeded
	case stripego.PaymentIntentStatusProcessing:
		st.Status = boxoffice.PaymentProcessing
	case stripego.PaymentIntentStatusCanceled:
		st.Status, st.FailureReason = boxoffice.PaymentFailed, reasonCanceled
	case stripego.PaymentIntentStatusRequiresAction, stripego.PaymentIntentStatusRequiresConfirmation,
		stripego.PaymentIntentStatusRequiresPaymentMethod, stripego.PaymentIntentStatusRequiresCapture:
		st.Status, st.ClientSecret = boxoffice.PaymentRequiresAction, pi.ClientSecret
		// A PaymentIntent back in requires_payment_method after a decline
		// can still be paid with another card; the buyer learns why.
		if pi.Status == stripego.PaymentIntentStatusRequiresPaymentMethod && pi.LastPaymentError != nil {
			st.FailureReason = buyerReason(pi.LastPaymentError, "")
		}
	default:
		// A status newer than this code: ask again later.
		st.Status = boxoffice.PaymentProcessing
	}
	return st
}

// buyerReason returns the reason of a failed payment safe to show to the
// buyer: Stripe's message for card errors is written for them; any other
// message is for developers, so a generic reason (fallback) stands in.
func buyerReason(e *stripego.Error, fallback string) string {
	switch {
	case e.Type == stripego.ErrorTypeCard && e.Msg != "":
		return e.Msg
	case e.Code == stripego.ErrorCodePaymentIntentAuthenticationFailure:
		return reasonAuthentication
	}
	return fallback
}

// declined reports whether Stripe's error e is the refusal of a payment
// (the buyer may pay again), rather than of boxoffice's request.
func declined(e *stripego.Error) bool {
	switch {
	case e.Type == stripego.ErrorTypeCard:
		return true
	case e.Code == stripego.ErrorCodePaymentIntentAuthenticationFailure,
		e.Code == stripego.ErrorCodePaymentIntentPaymentAttemptFailed,
		e.Code == stripego.ErrorCodePaymentMethodProviderDecline:
		return true
	case e.Param == "payment_method" && e.HTTPStatusCode == http.StatusBadRequest:
		// A token the buyer's client sent that Stripe does not know or
		// cannot use for this payment.
		return true
	}
	return false
}

// paymentFailure turns a failed call about a payment into its answer: a
// failed state for a decline, the PaymentIntent's state when it was
// already beyond confirming, else an error (see apiError) with the state
// known so far (its Ref).
func (s *Provider) paymentFailure(ctx context.Context, op string, err error, ref string) (boxoffice.PaymentState, error) {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return boxoffice.PaymentState{Ref: ref}, apiError(op, err)
	}
	if declined(se) {
		if se.PaymentIntent != nil && se.PaymentIntent.ID != "" {
			ref = se.PaymentIntent.ID
		}
		return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentFailed, FailureReason: buyerReason(se, reasonPaymentMethod)}, nil
	}
	if se.Code == stripego.ErrorCodePaymentIntentUnexpectedState && ref != "" {
		// Confirmed already (by the buyer's browser, or by an earlier call
		// with another token): its state now is the answer.
		pi, err := s.client.V1PaymentIntents.Retrieve(ctx, ref, nil)
		if err != nil {
			return boxoffice.PaymentState{Ref: ref}, apiError("retrieve payment intent", err)
		}
		return paymentState(pi), nil
	}
	return boxoffice.PaymentState{Ref: ref}, apiError(op, err)
}

// apiError describes a failed call: a *boxoffice.RetryableError when it
// may pass on a repeat (Stripe not reached, 429, 5xx, a conflicting
// concurrent request with the same key), else a plain error.
func apiError(op string, err error) error {
	var se *stripego.Error
	if !errors.As(err, &se) {
		// Not an answer from Stripe: the network, a timeout, a proxy's page.
		return &boxoffice.RetryableError{Err: fmt.Errorf("stripe: %s: %w", op, err)}
	}
	msg := fmt.Errorf("stripe: %s: %d %s %s: %s (request %s)", op, se.HTTPStatusCode, se.Type, se.Code, se.Msg, se.RequestID)
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode >= 500,
		se.Type == stripego.ErrorTypeAPI,
		se.Code == stripego.ErrorCodeIdempotencyKeyInUse, se.Code == stripego.ErrorCodeLockTimeout:
		return &boxoffice.RetryableError{Err: msg}
	}
	return msg
}

// Refund creates a Stripe Refund of r.Amount on p's PaymentIntent, keyed by
// r.ID and r.Attempts: the caller must count an attempt only once Stripe
// answered it (a refund that failed), and repeat an attempt that got no
// answer with the same count, or a partial refund could be made twice.
// Errors are StartPayment's.
func (s *Provider) Refund(ctx context.Context, r *boxoffice.Refund, p *boxoffice.Payment) (boxoffice.RefundState, error) {
	if p.Ref == "" {
		return boxoffice.RefundState{}, fmt.Errorf("stripe: refund %s of payment %s, which has no payment intent", r.ID, p.ID)
	}
	params := &stripego.RefundCreateParams{
		PaymentIntent: stripego.String(p.Ref),
		Amount:        stripego.Int64(r.Amount.Amount),
		Metadata:      map[string]string{MetaRefundID: r.ID, MetaPaymentID: p.ID, MetaOrderID: r.OrderID},
	}
	params.SetIdempotencyKey(refundKey(r.ID, r.Attempts))
	re, err := s.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return boxoffice.RefundState{}, apiError("create refund", err)
	}
	return refundState(re), nil
}

// LookupRefund retrieves the Stripe Refund r.Ref. Errors are
// StartPayment's.
func (s *Provider) LookupRefund(ctx context.Context, r *boxoffice.Refund) (boxoffice.RefundState, error) {
	if r.Ref == "" {
		return boxoffice.RefundState{}, fmt.Errorf("stripe: look up refund %s, which Stripe has not accepted", r.ID)
	}
	re, err := s.client.V1Refunds.Retrieve(ctx, r.Ref, nil)
	if err != nil {
		return boxoffice.RefundState{}, apiError("retrieve refund", err)
	}
	return refundState(re), nil
}

// refundState maps a Stripe Refund to boxoffice's refund state.
func refundState(re *stripego.Refund) boxoffice.RefundState {
	st := boxoffice.RefundState{Ref: re.ID}
	switch re.Status {
	case stripego.RefundStatusSucceeded:
		st.Status = boxoffice.RefundSucceeded
	case stripego.RefundStatusFailed, stripego.RefundStatusCanceled:
		st.Status, st.FailureReason = boxoffice.RefundFailed, string(re.FailureReason)
		if st.FailureReason == "" {
			st.FailureReason = string(re.Status)
		}
	default: // pending, requires_action, or a status newer than this code
		st.Status = boxoffice.RefundPending
	}
	return st
}

// ParseWebhook verifies the Stripe-Signature header of a webhook with the
// webhook secret (the signature's timestamp must be within five minutes)
// and decodes the event. It returns boxoffice.ErrWebhookSignature when the
// signature does not verify. PaymentIntent events (succeeded,
// payment_failed, processing, requires_action, canceled) are payment
// events, Refund events (refund.created, refund.updated, refund.failed)
// refund events; events of other types, and of objects boxoffice did not
// create (no boxoffice metadata), come back with Kind WebhookIgnored.
func (s *Provider) ParseWebhook(body []byte, header func(string) string) (*boxoffice.WebhookEvent, error) {
	ev, err := webhook.ConstructEventWithOptions(body, header(SignatureHeader), s.webhookSecret, webhook.ConstructEventOptions{
		// An endpoint sends events in the API version it was created
		// with, which may differ from this library's. The fields read here
		// (ids, status, metadata, last_payment_error, failure_reason) are
		// the same in every version, so an endpoint of another version
		// works rather than having every event refused.
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		for _, sigErr := range []error{webhook.ErrNotSigned, webhook.ErrInvalidHeader, webhook.ErrNoValidSignature, webhook.ErrTooOld} {
			if errors.Is(err, sigErr) {
				return nil, boxoffice.ErrWebhookSignature
			}
		}
		return nil, fmt.Errorf("stripe: webhook: %w", err)
	}
	out := &boxoffice.WebhookEvent{ID: ev.ID, Kind: boxoffice.WebhookIgnored, At: time.Unix(ev.Created, 0).UTC()}
	if ev.Data == nil {
		return nil, fmt.Errorf("stripe: webhook %s: no data", ev.ID)
	}
	switch ev.Type {
	case stripego.EventTypePaymentIntentSucceeded, stripego.EventTypePaymentIntentPaymentFailed,
		stripego.EventTypePaymentIntentProcessing, stripego.EventTypePaymentIntentRequiresAction,
		stripego.EventTypePaymentIntentCanceled:
		var pi stripego.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return nil, fmt.Errorf("stripe: webhook %s: payment intent: %w", ev.ID, err)
		}
		id := pi.Metadata[MetaPaymentID]
		if id == "" {
			return out, nil
		}
		st := paymentState(&pi)
		if ev.Type == stripego.EventTypePaymentIntentPaymentFailed {
			// The attempt failed; the PaymentIntent itself waits for another
			// payment method, which boxoffice asks for with a new payment.
			st.Status, st.ClientSecret = boxoffice.PaymentFailed, ""
			st.FailureReason = reasonFailed
			if pi.LastPaymentError != nil {
				st.FailureReason = buyerReason(pi.LastPaymentError, reasonFailed)
			}
		}
		out.Kind, out.PaymentID, out.Payment = boxoffice.WebhookPayment, id, st
	case stripego.EventTypeRefundCreated, stripego.EventTypeRefundUpdated, stripego.EventTypeRefundFailed:
		// charge.refunded is not used: its charge lists no refunds in the
		// current API versions, so it cannot name boxoffice's refund; the
		// refund events carry the same news.
		var re stripego.Refund
		if err := json.Unmarshal(ev.Data.Raw, &re); err != nil {
			return nil, fmt.Errorf("stripe: webhook %s: refund: %w", ev.ID, err)
		}
		id := re.Metadata[MetaRefundID]
		if id == "" {
			return out, nil
		}
		out.Kind, out.RefundID, out.Refund = boxoffice.WebhookRefund, id, refundState(&re)
	}
	return out, nil
}
