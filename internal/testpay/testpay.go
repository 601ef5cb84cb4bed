// Package testpay is boxoffice's test payment provider, for development and
// tests: a boxoffice.PaymentProvider that moves no money. Its behaviour is
// chosen by the payment token:
//
//	"tok_declined"   failed, "Your card was declined."
//	"tok_processing" processing, until the test calls Settle
//	""               requires_action, with a client secret
//	anything else    succeeded ("tok_visa")
//
// Refunds succeed, except those of payments the test marked with
// FailRefunds. Its callbacks are JSON signed with HMAC-SHA256 in the
// Boxoffice-Test-Signature header; Signed builds them for tests.
package testpay

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"boxoffice"
)

// The tokens with a behaviour of their own.
const (
	DeclinedToken   = "tok_declined"
	ProcessingToken = "tok_processing"
)

// DeclineReason is the failure reason of a declined payment.
const DeclineReason = "Your card was declined."

// SignatureHeader is the header that carries a callback's signature: the
// hex HMAC-SHA256 of the body with the webhook secret.
const SignatureHeader = "Boxoffice-Test-Signature"

// Name is the provider's name.
const Name = "test"

// PaymentRef returns the provider's ref of the payment paymentID.
func PaymentRef(paymentID string) string { return "test_" + paymentID }

// RefundRef returns the provider's ref of the refund refundID.
func RefundRef(refundID string) string { return "test_re_" + refundID }

// Provider is the test payment provider. Its zero value is not usable:
// create it with New. It is safe for concurrent use.
type Provider struct {
	secret string

	mu sync.Mutex
	// payments is the state of each payment started, by payment id.
	payments map[string]boxoffice.PaymentState
	// refunds is the provider's answer to each refund request, by
	// refund id and attempt: a repeated request gets the same answer.
	refunds map[string]refundRecord
	// failRefunds holds the payment refs whose refunds fail.
	failRefunds map[string]bool
	down        bool
}

type refundRecord struct {
	paymentRef string
	amount     boxoffice.Money
	state      boxoffice.RefundState
}

var _ boxoffice.PaymentProvider = (*Provider)(nil)

// New returns a provider whose callbacks are signed with webhookSecret. With
// an empty secret, ParseWebhook refuses every callback.
func New(webhookSecret string) *Provider {
	return &Provider{
		secret:      webhookSecret,
		payments:    make(map[string]boxoffice.PaymentState),
		refunds:     make(map[string]refundRecord),
		failRefunds: make(map[string]bool),
	}
}

// Simulated reports that the provider moves no money: boxoffice lets it
// pay v1 reservations too, which keep no record of a payment.
func (*Provider) Simulated() bool { return true }

// Name returns "test".
func (*Provider) Name() string { return Name }

// errDown is the failure of every call while the provider is down.
var errDown = &boxoffice.RetryableError{Err: errors.New("testpay: the provider is down")}

// StartPayment starts p as its token says (see the package comment). It is
// idempotent by p.ID: a payment started before keeps its state, except that
// one that requires action, or was declined, is confirmed again by a token
// given later (as a card payment can be retried with another card). While
// the provider is down it returns a *boxoffice.RetryableError.
func (t *Provider) StartPayment(ctx context.Context, p *boxoffice.Payment, o *boxoffice.Order, token string) (boxoffice.PaymentState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down {
		return boxoffice.PaymentState{}, errDown
	}
	if st, ok := t.payments[p.ID]; ok && (token == "" || st.Status == boxoffice.PaymentSucceeded || st.Status == boxoffice.PaymentProcessing) {
		return st, nil
	}
	st := boxoffice.PaymentState{Ref: PaymentRef(p.ID)}
	switch token {
	case "":
		st.Status, st.ClientSecret = boxoffice.PaymentRequiresAction, st.Ref+"_secret"
	case DeclinedToken:
		st.Status, st.FailureReason = boxoffice.PaymentFailed, DeclineReason
	case ProcessingToken:
		st.Status = boxoffice.PaymentProcessing
	default:
		st.Status = boxoffice.PaymentSucceeded
	}
	t.payments[p.ID] = st
	return st, nil
}

// LookupPayment returns p's state: as StartPayment left it or as Settle
// changed it since. A payment never started is created as StartPayment
// does without a token (requires_action). While the provider is down it
// returns a *boxoffice.RetryableError.
func (t *Provider) LookupPayment(ctx context.Context, p *boxoffice.Payment, o *boxoffice.Order) (boxoffice.PaymentState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down {
		return boxoffice.PaymentState{}, errDown
	}
	st, ok := t.payments[p.ID]
	if !ok {
		ref := PaymentRef(p.ID)
		st = boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentRequiresAction, ClientSecret: ref + "_secret"}
		t.payments[p.ID] = st
	}
	return st, nil
}

// Settle decides the outcome of the payment with provider ref ref (one
// still processing, or one that requires action) as status: LookupPayment
// reports it from then on. A failed payment gets DeclineReason. It returns
// false when no such payment was started.
func (t *Provider) Settle(ref string, status boxoffice.PaymentStatus) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, st := range t.payments {
		if st.Ref != ref {
			continue
		}
		st.Status, st.FailureReason = status, ""
		if status == boxoffice.PaymentFailed {
			st.FailureReason = DeclineReason
		}
		t.payments[id] = st
		return true
	}
	return false
}

// Refund refunds r of payment p: succeeded with ref RefundRef(r.ID), or
// failed when p's ref was marked with FailRefunds. A request repeated with
// the same r.ID and r.Attempts gets the first answer and refunds nothing
// more. While the provider is down it returns a *boxoffice.RetryableError.
func (t *Provider) Refund(ctx context.Context, r *boxoffice.Refund, p *boxoffice.Payment) (boxoffice.RefundState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down {
		return boxoffice.RefundState{}, errDown
	}
	if p.Ref == "" {
		return boxoffice.RefundState{}, fmt.Errorf("testpay: refund %s of payment %s, which has no ref", r.ID, p.ID)
	}
	key := r.ID + "/" + strconv.Itoa(r.Attempts)
	if rec, ok := t.refunds[key]; ok {
		return rec.state, nil
	}
	st := boxoffice.RefundState{Ref: RefundRef(r.ID), Status: boxoffice.RefundSucceeded}
	if t.failRefunds[p.Ref] {
		st.Status, st.FailureReason = boxoffice.RefundFailed, "the test failed this refund"
	}
	t.refunds[key] = refundRecord{paymentRef: p.Ref, amount: r.Amount, state: st}
	return st, nil
}

// LookupRefund returns the state of the refund r.Ref: the answer its last
// attempt got.
func (t *Provider) LookupRefund(ctx context.Context, r *boxoffice.Refund) (boxoffice.RefundState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.down {
		return boxoffice.RefundState{}, errDown
	}
	if rec, ok := t.refunds[r.ID+"/"+strconv.Itoa(r.Attempts)]; ok && rec.state.Ref == r.Ref {
		return rec.state, nil
	}
	return boxoffice.RefundState{}, fmt.Errorf("testpay: no refund %s", r.Ref)
}

// FailRefunds makes the refunds of the payment with ref ref fail (fail
// true) or succeed again (fail false).
func (t *Provider) FailRefunds(ref string, fail bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fail {
		t.failRefunds[ref] = true
	} else {
		delete(t.failRefunds, ref)
	}
}

// Refunded returns the sum of the amounts of the succeeded refunds of the
// payment with ref ref: what the provider gave back.
func (t *Provider) Refunded(ref string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, rec := range t.refunds {
		if rec.paymentRef == ref && rec.state.Status == boxoffice.RefundSucceeded {
			n += rec.amount.Amount
		}
	}
	return n
}

// SetDown makes every call fail with a *boxoffice.RetryableError (down
// true), as a provider that cannot be reached, or work again.
func (t *Provider) SetDown(down bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.down = down
}

// Callback is the body of one of the provider's callbacks.
type Callback struct {
	ID string `json:"id"`
	// Type is "payment" or "refund".
	Type      string    `json:"type"`
	Created   time.Time `json:"created"`
	PaymentID string    `json:"payment_id,omitempty"`
	RefundID  string    `json:"refund_id,omitempty"`
	// Status is a boxoffice.PaymentStatus for a payment, a
	// boxoffice.RefundStatus for a refund.
	Status        string `json:"status"`
	Ref           string `json:"ref,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
}

// Sign returns the signature of body with secret, as SignatureHeader
// carries it.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Signed encodes c and signs it with secret: the body of a callback and
// the value of its SignatureHeader. An empty ID becomes a new id, a zero
// Created the current time.
func Signed(secret string, c Callback) (body []byte, signature string) {
	if c.ID == "" {
		c.ID = "evt_" + boxoffice.NewID()
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
	body, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of strings and a time always encodes
	}
	return body, Sign(secret, body)
}

// ParseWebhook verifies the callback's SignatureHeader and decodes it. It
// returns boxoffice.ErrWebhookSignature when the signature does not verify
// (or the provider has no secret), an error for a body that is not a
// callback, and an event of Kind WebhookIgnored for a type other than
// "payment" and "refund".
func (t *Provider) ParseWebhook(body []byte, header func(string) string) (*boxoffice.WebhookEvent, error) {
	sig, err := hex.DecodeString(header(SignatureHeader))
	if t.secret == "" || err != nil || len(sig) != sha256.Size {
		return nil, boxoffice.ErrWebhookSignature
	}
	mac := hmac.New(sha256.New, []byte(t.secret))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, boxoffice.ErrWebhookSignature
	}
	var c Callback
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("testpay: callback: %w", err)
	}
	if c.ID == "" {
		return nil, errors.New("testpay: callback without an id")
	}
	ev := &boxoffice.WebhookEvent{ID: c.ID, At: c.Created, Kind: boxoffice.WebhookIgnored}
	switch c.Type {
	case "payment":
		st := boxoffice.PaymentStatus(c.Status)
		if !st.Valid() || c.PaymentID == "" {
			return nil, fmt.Errorf("testpay: payment callback %s: status %q, payment %q", c.ID, c.Status, c.PaymentID)
		}
		ev.Kind, ev.PaymentID = boxoffice.WebhookPayment, c.PaymentID
		ev.Payment = boxoffice.PaymentState{Ref: c.Ref, Status: st, FailureReason: c.FailureReason}
	case "refund":
		st := boxoffice.RefundStatus(c.Status)
		if (st != boxoffice.RefundPending && st != boxoffice.RefundSucceeded && st != boxoffice.RefundFailed) || c.RefundID == "" {
			return nil, fmt.Errorf("testpay: refund callback %s: status %q, refund %q", c.ID, c.Status, c.RefundID)
		}
		ev.Kind, ev.RefundID = boxoffice.WebhookRefund, c.RefundID
		ev.Refund = boxoffice.RefundState{Ref: c.Ref, Status: st, FailureReason: c.FailureReason}
	}
	return ev, nil
}
