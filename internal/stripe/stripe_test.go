package stripe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
	"boxoffice/internal/stripe/stripemock"
)

// request is one call the provider made, as the server received it.
type request struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
}

// recorder is an http.RoundTripper that records each request.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, request{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), form})
	rec.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests recorded since the last take.
func (rec *recorder) take() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r := rec.reqs
	rec.reqs = nil
	return r
}

func newProvider(t *testing.T, base, key string) (*Provider, *recorder) {
	t.Helper()
	rec := &recorder{}
	p, err := New(Config{SecretKey: key, WebhookSecret: whsec, APIBase: base, HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

func newPayment() (*boxoffice.Payment, *boxoffice.Order) {
	o := &boxoffice.Order{ID: boxoffice.NewID(), EventID: boxoffice.NewID(), Total: boxoffice.Money{Amount: 2500, Currency: "EUR"}}
	p := &boxoffice.Payment{ID: boxoffice.NewID(), OrderID: o.ID, Provider: Name, Amount: o.Total, Status: boxoffice.PaymentProcessing}
	return p, o
}

// wantCreate checks that req is the creation of p's PaymentIntent.
func wantCreate(t *testing.T, req request, p *boxoffice.Payment, o *boxoffice.Order) {
	t.Helper()
	want := request{Method: "POST", Path: "/v1/payment_intents", IdempotencyKey: "boxoffice-payment-" + p.ID, Form: url.Values{
		"amount":                             {"2500"},
		"currency":                           {"eur"},
		"description":                        {"boxoffice order " + o.ID},
		"automatic_payment_methods[enabled]": {"true"},
		"automatic_payment_methods[allow_redirects]": {"never"},
		"metadata[boxoffice_payment_id]":             {p.ID},
		"metadata[boxoffice_order_id]":               {o.ID},
		"metadata[boxoffice_event_id]":               {o.EventID},
	}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("create request (-want +got):\n%s", diff)
	}
}

// stripe-mock answers every PaymentIntent in its fixture's status,
// requires_payment_method, whatever was asked: these tests check that
// Stripe's API (as its specification says) accepts boxoffice's requests,
// which requests and idempotency keys are sent, and how the fixture's
// answer is mapped. They cannot see a payment succeed or be declined; the
// tests with a hand-written server below do.
func TestStartPaymentStripeMock(t *testing.T) {
	sm := stripemock.Start(t)
	prov, rec := newProvider(t, sm.URL, stripemock.APIKey)

	t.Run("no token", func(t *testing.T) {
		p, o := newPayment()
		st, err := prov.StartPayment(t.Context(), p, o, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(st.Ref, "pi_") || st.Status != boxoffice.PaymentRequiresAction || st.ClientSecret == "" {
			t.Errorf("StartPayment without token = %+v, want requires_action with a pi_ ref and a client secret", st)
		}
		reqs := rec.take()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want the create only: %+v", len(reqs), reqs)
		}
		wantCreate(t, reqs[0], p, o)
	})

	t.Run("token", func(t *testing.T) {
		p, o := newPayment()
		for range 2 { // a repeat sends the same requests with the same keys
			st, err := prov.StartPayment(t.Context(), p, o, "pm_card_visa")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(st.Ref, "pi_") || !st.Status.Valid() {
				t.Errorf("StartPayment = %+v", st)
			}
			reqs := rec.take()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want create and confirm: %+v", len(reqs), reqs)
			}
			wantCreate(t, reqs[0], p, o)
			confirm := reqs[1]
			if confirm.Method != "POST" || !strings.HasPrefix(confirm.Path, "/v1/payment_intents/pi_") || !strings.HasSuffix(confirm.Path, "/confirm") ||
				confirm.Form.Get("payment_method") != "pm_card_visa" || len(confirm.Form) != 1 {
				t.Errorf("confirm request = %+v", confirm)
			}
			if want := confirmKey(p.ID, "pm_card_visa"); confirm.IdempotencyKey != want {
				t.Errorf("confirm idempotency key = %q, want %q", confirm.IdempotencyKey, want)
			}
		}
		// Another token is another confirmation.
		if confirmKey(p.ID, "pm_card_visa") == confirmKey(p.ID, "pm_card_mastercard") {
			t.Error("two tokens share a confirmation key")
		}
	})
}

func TestLookupPaymentStripeMock(t *testing.T) {
	sm := stripemock.Start(t)
	prov, rec := newProvider(t, sm.URL, stripemock.APIKey)
	p, o := newPayment()

	// Without a ref: the create again (same key, same parameters), then the
	// PaymentIntent's current state.
	st, err := prov.LookupPayment(t.Context(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.take()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want create and retrieve: %+v", len(reqs), reqs)
	}
	wantCreate(t, reqs[0], p, o)
	if reqs[1].Method != "GET" || !strings.HasPrefix(reqs[1].Path, "/v1/payment_intents/pi_") {
		t.Errorf("second request = %+v, want the retrieve", reqs[1])
	}
	if st.Status != boxoffice.PaymentRequiresAction || st.Ref == "" {
		t.Errorf("LookupPayment = %+v, want the fixture's requires_payment_method as requires_action", st)
	}

	// With a ref: the retrieve only.
	p.Ref = "pi_boxoffice1"
	st, err = prov.LookupPayment(t.Context(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	reqs = rec.take()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/v1/payment_intents/pi_boxoffice1" {
		t.Errorf("requests = %+v, want GET /v1/payment_intents/pi_boxoffice1", reqs)
	}
	if st.Ref != "pi_boxoffice1" || st.Status != boxoffice.PaymentRequiresAction {
		t.Errorf("LookupPayment = %+v", st)
	}
}

func TestRefundStripeMock(t *testing.T) {
	sm := stripemock.Start(t)
	prov, rec := newProvider(t, sm.URL, stripemock.APIKey)
	p, _ := newPayment()
	p.Ref, p.Status = "pi_boxoffice1", boxoffice.PaymentSucceeded
	r := &boxoffice.Refund{ID: boxoffice.NewID(), OrderID: p.OrderID, PaymentID: p.ID, Amount: boxoffice.Money{Amount: 1000, Currency: "EUR"}}

	for attempt := range 2 {
		r.Attempts = attempt
		st, err := prov.Refund(t.Context(), r, p)
		if err != nil {
			t.Fatal(err)
		}
		// The fixture's refund has succeeded.
		if !strings.HasPrefix(st.Ref, "re_") || st.Status != boxoffice.RefundSucceeded {
			t.Errorf("Refund = %+v, want succeeded with a re_ ref", st)
		}
		want := []request{{Method: "POST", Path: "/v1/refunds", IdempotencyKey: refundKey(r.ID, attempt), Form: url.Values{
			"payment_intent":                 {"pi_boxoffice1"},
			"amount":                         {"1000"},
			"metadata[boxoffice_refund_id]":  {r.ID},
			"metadata[boxoffice_payment_id]": {p.ID},
			"metadata[boxoffice_order_id]":   {p.OrderID},
		}}}
		if diff := cmp.Diff(want, rec.take()); diff != "" {
			t.Errorf("attempt %d: requests (-want +got):\n%s", attempt, diff)
		}
	}
	if refundKey(r.ID, 0) == refundKey(r.ID, 1) {
		t.Error("two attempts share a key")
	}

	if _, err := prov.Refund(t.Context(), r, &boxoffice.Payment{ID: "x"}); err == nil {
		t.Error("Refund of a payment without a ref succeeded")
	}
}

// stripe-mock refuses a key that does not look like a test key with 401,
// as Stripe does a bad key: not a failure that passes by itself.
func TestLookupRefundStripeMock(t *testing.T) {
	sm := stripemock.Start(t)
	prov, rec := newProvider(t, sm.URL, stripemock.APIKey)
	r := &boxoffice.Refund{ID: boxoffice.NewID(), Ref: "re_boxoffice1", Status: boxoffice.RefundPending}
	st, err := prov.LookupRefund(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ref == "" || st.Status != boxoffice.RefundSucceeded {
		t.Errorf("LookupRefund = %+v, want the fixture's succeeded refund", st)
	}
	if got := rec.take(); len(got) != 1 || got[0].Method != "GET" || got[0].Path != "/v1/refunds/re_boxoffice1" {
		t.Errorf("requests = %+v, want one GET /v1/refunds/re_boxoffice1", got)
	}
	if _, err := prov.LookupRefund(t.Context(), &boxoffice.Refund{ID: r.ID}); err == nil {
		t.Error("LookupRefund of a refund Stripe never accepted: no error")
	}
}

func TestBadKeyStripeMock(t *testing.T) {
	sm := stripemock.Start(t)
	prov, _ := newProvider(t, sm.URL, "not_a_key")
	p, o := newPayment()
	_, err := prov.StartPayment(t.Context(), p, o, "pm_card_visa")
	var re *boxoffice.RetryableError
	if err == nil || errors.As(err, &re) {
		t.Errorf("StartPayment with a bad key = %v, want a plain error", err)
	}
	p.Ref = "pi_1"
	if _, err := prov.Refund(t.Context(), &boxoffice.Refund{ID: "r"}, p); err == nil || errors.As(err, &re) {
		t.Errorf("Refund with a bad key = %v, want a plain error", err)
	}
}

// fakeStripe serves handler as the Stripe API. stripe-mock cannot decline
// a payment, fail, or be slow, so these cases use a server written here
// that answers as Stripe's documentation says Stripe does.
func fakeStripe(t *testing.T, handler http.HandlerFunc) (*Provider, *recorder) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return newProvider(t, srv.URL, "sk_test_fake")
}

// pi is a PaymentIntent pi_1 in status as Stripe sends it.
func pi(status string) string {
	return fmt.Sprintf(`{"id":"pi_1","object":"payment_intent","status":%q,"client_secret":"pi_1_secret_x","amount":2500,"currency":"eur"}`, status)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestStartPaymentOutcomes(t *testing.T) {
	created := func(w http.ResponseWriter) { writeJSON(w, 200, pi("requires_payment_method")) }
	tests := []struct {
		name    string
		confirm func(w http.ResponseWriter)
		want    boxoffice.PaymentState
	}{
		{"succeeded", func(w http.ResponseWriter) {
			writeJSON(w, 200, pi("succeeded"))
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentSucceeded}},
		{"processing", func(w http.ResponseWriter) {
			writeJSON(w, 200, pi("processing"))
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentProcessing}},
		{"requires action (3-D Secure)", func(w http.ResponseWriter) {
			writeJSON(w, 200, pi("requires_action"))
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentRequiresAction, ClientSecret: "pi_1_secret_x"}},
		{"card declined", func(w http.ResponseWriter) {
			writeJSON(w, 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline",
				"message":"Your card was declined.","payment_intent":{"id":"pi_1","object":"payment_intent","status":"requires_payment_method"}}}`)
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "Your card was declined."}},
		{"insufficient funds", func(w http.ResponseWriter) {
			writeJSON(w, 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
				"message":"Your card has insufficient funds."}}`)
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: "Your card has insufficient funds."}},
		{"authentication failed", func(w http.ResponseWriter) {
			writeJSON(w, 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_authentication_failure",
				"message":"developer text"}}`)
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: reasonAuthentication}},
		{"unknown payment method", func(w http.ResponseWriter) {
			writeJSON(w, 400, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method",
				"message":"No such PaymentMethod: 'pm_nope'"}}`)
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentFailed, FailureReason: reasonPaymentMethod}},
		{"already confirmed", func(w http.ResponseWriter) {
			writeJSON(w, 400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",
				"message":"This PaymentIntent's payment_method could not be updated because it has a status of succeeded."}}`)
		}, boxoffice.PaymentState{Ref: "pi_1", Status: boxoffice.PaymentSucceeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prov, rec := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "POST" && r.URL.Path == "/v1/payment_intents":
					created(w)
				case r.Method == "POST" && r.URL.Path == "/v1/payment_intents/pi_1/confirm":
					tt.confirm(w)
				case r.Method == "GET" && r.URL.Path == "/v1/payment_intents/pi_1":
					writeJSON(w, 200, pi("succeeded"))
				default:
					http.NotFound(w, r)
				}
			})
			p, o := newPayment()
			st, err := prov.StartPayment(t.Context(), p, o, "pm_card_visa")
			if err != nil {
				t.Fatalf("StartPayment = %v (requests %+v)", err, rec.take())
			}
			if diff := cmp.Diff(tt.want, st); diff != "" {
				t.Errorf("StartPayment (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		retryable bool
	}{
		{"500", 500, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`, true},
		{"503 from a proxy", 503, `<html>Service Unavailable</html>`, true},
		{"rate limited", 429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`, true},
		{"lock timeout", 429, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"locked"}}`, true},
		{"key in use", 409, `{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"in use"}}`, true},
		{"bad key", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****fake"}}`, false},
		{"key reused", 400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}`, false},
		{"invalid amount", 400, `{"error":{"type":"invalid_request_error","code":"amount_too_small","param":"amount","message":"Amount must be at least €0.50 eur"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prov, rec := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, tt.body) })
			p, o := newPayment()
			check := func(op string, err error) {
				t.Helper()
				var re *boxoffice.RetryableError
				if err == nil || errors.As(err, &re) != tt.retryable {
					t.Errorf("%s = %v, want an error, retryable %v", op, err, tt.retryable)
				}
				if n := len(rec.take()); n != 1 {
					t.Errorf("%s made %d requests, want 1 (no retries inside a call)", op, n)
				}
			}
			st, err := prov.StartPayment(t.Context(), p, o, "pm_card_visa")
			check("StartPayment", err)
			if st.Status != "" {
				t.Errorf("StartPayment state with an error = %+v", st)
			}
			_, err = prov.LookupPayment(t.Context(), p, o)
			check("LookupPayment", err)
			p.Ref = "pi_1"
			_, err = prov.LookupPayment(t.Context(), p, o)
			check("LookupPayment with ref", err)
			_, err = prov.Refund(t.Context(), &boxoffice.Refund{ID: "r", Amount: p.Amount}, p)
			check("Refund", err)
		})
	}
}

// A confirmation that fails after the PaymentIntent was created returns
// its ref with the error, so the caller keeps it.
func TestConfirmFailureKeepsRef(t *testing.T) {
	prov, _ := fakeStripe(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/payment_intents" {
			writeJSON(w, 200, pi("requires_payment_method"))
			return
		}
		writeJSON(w, 500, `{"error":{"type":"api_error","message":"boom"}}`)
	})
	p, o := newPayment()
	st, err := prov.StartPayment(t.Context(), p, o, "pm_card_visa")
	var re *boxoffice.RetryableError
	if !errors.As(err, &re) || st.Ref != "pi_1" || st.Status != "" {
		t.Errorf("StartPayment = %+v, %v; want ref pi_1 with a retryable error", st, err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	prov, _ := newProvider(t, base, "sk_test_x")
	p, o := newPayment()
	_, err = prov.StartPayment(t.Context(), p, o, "pm_card_visa")
	var re *boxoffice.RetryableError
	if !errors.As(err, &re) || !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Errorf("StartPayment with Stripe unreachable = %v, want a *RetryableError", err)
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{{WebhookSecret: whsec}, {SecretKey: "sk_test_x"}, {}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	p, err := New(Config{SecretKey: "sk_test_x", WebhookSecret: whsec})
	if err != nil || p.Name() != "stripe" {
		t.Errorf("New = %v, %v", p, err)
	}
}
