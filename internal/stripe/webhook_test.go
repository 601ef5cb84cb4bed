package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"boxoffice"
)

const whsec = "whsec_boxoffice_test"

// event returns the JSON of a Stripe event of type typ about object, as
// Stripe sends it to a webhook endpoint.
func event(t *testing.T, id, typ, apiVersion string, created int64, object any) []byte {
	t.Helper()
	obj, err := json.Marshal(object)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": apiVersion, "created": created, "type": typ,
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": json.RawMessage(obj)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// sign returns the Stripe-Signature header for body signed with secret at
// time at.
func sign(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func headerOf(sig string) func(string) string {
	h := http.Header{}
	if sig != "" {
		h.Set("Stripe-Signature", sig)
	}
	return h.Get
}

func paymentIntent(status string, metadata map[string]string, lastError map[string]any) map[string]any {
	return map[string]any{"id": "pi_1", "object": "payment_intent", "status": status, "amount": 2500, "currency": "eur",
		"client_secret": "pi_1_secret_x", "metadata": metadata, "last_payment_error": lastError}
}

func refund(status, failureReason string, metadata map[string]string) map[string]any {
	r := map[string]any{"id": "re_1", "object": "refund", "status": status, "amount": 1000, "currency": "eur",
		"payment_intent": "pi_1", "metadata": metadata}
	if failureReason != "" {
		r["failure_reason"] = failureReason
	}
	return r
}

func TestParseWebhook(t *testing.T) {
	prov, err := New(Config{SecretKey: "sk_test_x", WebhookSecret: whsec})
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{MetaPaymentID: "pay1", MetaOrderID: "ord1", MetaEventID: "ev1"}
	ourRefund := map[string]string{MetaRefundID: "ref1", MetaPaymentID: "pay1"}
	created := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	decline := map[string]any{"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
	payment := func(st boxoffice.PaymentState) *boxoffice.WebhookEvent {
		return &boxoffice.WebhookEvent{ID: "evt_1", Kind: boxoffice.WebhookPayment, At: created, PaymentID: "pay1", Payment: st}
	}
	refundEv := func(st boxoffice.RefundState) *boxoffice.WebhookEvent {
		return &boxoffice.WebhookEvent{ID: "evt_1", Kind: boxoffice.WebhookRefund, At: created, RefundID: "ref1", Refund: st}
	}
	ignored := &boxoffice.WebhookEvent{ID: "evt_1", Kind: boxoffice.WebhookIgnored, At: created}

	tests := []struct {
		typ    string
		object any
		want   *boxoffice.WebhookEvent
	}{
		{"payment_intent.succeeded", paymentIntent("succeeded", ours, nil),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentSucceeded})},
		{"payment_intent.processing", paymentIntent("processing", ours, nil),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentProcessing})},
		{"payment_intent.requires_action", paymentIntent("requires_action", ours, nil),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentRequiresAction, ClientSecret: "pi_1_secret_x"})},
		{"payment_intent.payment_failed", paymentIntent("requires_payment_method", ours, decline),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "Your card was declined."})},
		{"payment_intent.payment_failed", paymentIntent("requires_payment_method", ours,
			map[string]any{"type": "invalid_request_error", "message": "text for developers"}),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "The payment failed."})},
		{"payment_intent.payment_failed", paymentIntent("requires_payment_method", ours, nil),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "The payment failed."})},
		{"payment_intent.canceled", paymentIntent("canceled", ours, nil),
			payment(boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "The payment was canceled."})},
		// Another application's payment on the same account.
		{"payment_intent.succeeded", paymentIntent("succeeded", map[string]string{"shop_order": "9"}, nil), ignored},
		{"refund.created", refund("pending", "", ourRefund),
			refundEv(boxoffice.RefundState{Ref: "re_1", Status: boxoffice.RefundPending})},
		{"refund.updated", refund("succeeded", "", ourRefund),
			refundEv(boxoffice.RefundState{Ref: "re_1", Status: boxoffice.RefundSucceeded})},
		{"refund.updated", refund("requires_action", "", ourRefund),
			refundEv(boxoffice.RefundState{Ref: "re_1", Status: boxoffice.RefundPending})},
		{"refund.failed", refund("failed", "expired_or_canceled_card", ourRefund),
			refundEv(boxoffice.RefundState{Ref: "re_1", Status: boxoffice.RefundFailed, FailureReason: "expired_or_canceled_card"})},
		{"refund.updated", refund("canceled", "", ourRefund),
			refundEv(boxoffice.RefundState{Ref: "re_1", Status: boxoffice.RefundFailed, FailureReason: "canceled"})},
		{"refund.created", refund("succeeded", "", nil), ignored},
		{"charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "refunded": true, "metadata": ours}, ignored},
		{"payment_intent.created", paymentIntent("requires_payment_method", ours, nil), ignored},
		{"customer.created", map[string]any{"id": "cus_1", "object": "customer"}, ignored},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", i, tt.typ), func(t *testing.T) {
			body := event(t, "evt_1", tt.typ, stripego.APIVersion, created.Unix(), tt.object)
			got, err := prov.ParseWebhook(body, headerOf(sign(body, whsec, time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseWebhook (-want +got):\n%s", diff)
			}
		})
	}

	body := event(t, "evt_1", "payment_intent.succeeded", stripego.APIVersion, created.Unix(), paymentIntent("succeeded", ours, nil))
	t.Run("other API version", func(t *testing.T) {
		// An endpoint made with an older API version; see ParseWebhook.
		old := event(t, "evt_1", "payment_intent.succeeded", "2020-08-27", created.Unix(), paymentIntent("succeeded", ours, nil))
		got, err := prov.ParseWebhook(old, headerOf(sign(old, whsec, time.Now())))
		if err != nil || got.Kind != boxoffice.WebhookPayment || got.Payment.Status != boxoffice.PaymentSucceeded {
			t.Errorf("ParseWebhook = %+v, %v", got, err)
		}
	})

	tampered := append([]byte{}, body...)
	tampered[len(tampered)-2] ^= 1
	bad := []struct {
		name string
		body []byte
		sig  string
	}{
		{"tampered body", tampered, sign(body, whsec, time.Now())},
		{"wrong secret", body, sign(body, "whsec_other", time.Now())},
		{"old timestamp", body, sign(body, whsec, time.Now().Add(-6*time.Minute))},
		{"no header", body, ""},
		{"malformed header", body, "garbage"},
		{"no v1 signature", body, fmt.Sprintf("t=%d,v0=abc", time.Now().Unix())},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := prov.ParseWebhook(tt.body, headerOf(tt.sig)); !errors.Is(err, boxoffice.ErrWebhookSignature) {
				t.Errorf("ParseWebhook = %v, want ErrWebhookSignature", err)
			}
		})
	}
	t.Run("signature within tolerance", func(t *testing.T) {
		if _, err := prov.ParseWebhook(body, headerOf(sign(body, whsec, time.Now().Add(-4*time.Minute)))); err != nil {
			t.Errorf("ParseWebhook of a 4-minute-old signature = %v", err)
		}
	})
	t.Run("signed but not an event", func(t *testing.T) {
		for _, b := range [][]byte{[]byte("{"), []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`)} {
			_, err := prov.ParseWebhook(b, headerOf(sign(b, whsec, time.Now())))
			if err == nil || errors.Is(err, boxoffice.ErrWebhookSignature) {
				t.Errorf("ParseWebhook(%s) = %v, want a decoding error", b, err)
			}
		}
	})
}

func TestPaymentState(t *testing.T) {
	tests := []struct {
		status stripego.PaymentIntentStatus
		want   boxoffice.PaymentStatus
		secret bool
	}{
		{"succeeded", boxoffice.PaymentSucceeded, false},
		{"processing", boxoffice.PaymentProcessing, false},
		{"requires_action", boxoffice.PaymentRequiresAction, true},
		{"requires_confirmation", boxoffice.PaymentRequiresAction, true},
		{"requires_payment_method", boxoffice.PaymentRequiresAction, true},
		{"requires_capture", boxoffice.PaymentRequiresAction, true},
		{"canceled", boxoffice.PaymentFailed, false},
		{"some_future_status", boxoffice.PaymentProcessing, false},
	}
	for _, tt := range tests {
		st := paymentState(&stripego.PaymentIntent{ID: "pi_1", Status: tt.status, ClientSecret: "s"})
		if st.Ref != "pi_1" || st.Status != tt.want || (st.ClientSecret != "") != tt.secret {
			t.Errorf("paymentState(%s) = %+v, want %s (client secret %v)", tt.status, st, tt.want, tt.secret)
		}
	}
	// A PaymentIntent declined once waits for another card; the buyer sees why.
	st := paymentState(&stripego.PaymentIntent{ID: "pi_1", Status: "requires_payment_method", ClientSecret: "s",
		LastPaymentError: &stripego.Error{Type: stripego.ErrorTypeCard, Msg: "Your card has expired."}})
	if st.Status != boxoffice.PaymentRequiresAction || st.FailureReason != "Your card has expired." {
		t.Errorf("paymentState after a decline = %+v", st)
	}
}
