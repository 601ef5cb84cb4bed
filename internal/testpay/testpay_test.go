package testpay

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
)

const secret = "whsec_test"

func newPayment() (*boxoffice.Payment, *boxoffice.Order) {
	o := &boxoffice.Order{ID: boxoffice.NewID(), EventID: boxoffice.NewID(), Total: boxoffice.Money{Amount: 2500, Currency: "EUR"}}
	p := &boxoffice.Payment{ID: boxoffice.NewID(), OrderID: o.ID, Provider: Name, Amount: o.Total, Status: boxoffice.PaymentProcessing}
	return p, o
}

func TestStartPayment(t *testing.T) {
	tests := []struct {
		token string
		want  func(ref string) boxoffice.PaymentState
	}{
		{"tok_visa", func(ref string) boxoffice.PaymentState {
			return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentSucceeded}
		}},
		{"pm_card_mastercard", func(ref string) boxoffice.PaymentState {
			return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentSucceeded}
		}},
		{DeclinedToken, func(ref string) boxoffice.PaymentState {
			return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentFailed, FailureReason: "Your card was declined."}
		}},
		{ProcessingToken, func(ref string) boxoffice.PaymentState {
			return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentProcessing}
		}},
		{"", func(ref string) boxoffice.PaymentState {
			return boxoffice.PaymentState{Ref: ref, Status: boxoffice.PaymentRequiresAction, ClientSecret: ref + "_secret"}
		}},
	}
	for _, tt := range tests {
		t.Run("token="+tt.token, func(t *testing.T) {
			prov := New(secret)
			p, o := newPayment()
			st, err := prov.StartPayment(t.Context(), p, o, tt.token)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want("test_" + p.ID)
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("StartPayment (-want +got):\n%s", diff)
			}
			// Idempotent: the same payment again, and a lookup, report the same.
			again, err := prov.StartPayment(t.Context(), p, o, tt.token)
			if err != nil || again != st {
				t.Errorf("StartPayment again = %+v, %v; want %+v", again, err, st)
			}
			look, err := prov.LookupPayment(t.Context(), p, o)
			if err != nil || look != st {
				t.Errorf("LookupPayment = %+v, %v; want %+v", look, err, st)
			}
		})
	}
}

func TestRequiresActionThenToken(t *testing.T) {
	prov := New(secret)
	p, o := newPayment()
	if st, _ := prov.StartPayment(t.Context(), p, o, ""); st.Status != boxoffice.PaymentRequiresAction {
		t.Fatalf("StartPayment without token: %s", st.Status)
	}
	st, err := prov.StartPayment(t.Context(), p, o, "tok_visa")
	if err != nil || st.Status != boxoffice.PaymentSucceeded {
		t.Fatalf("StartPayment with token after requires_action = %+v, %v", st, err)
	}
	// A succeeded payment stays succeeded whatever token comes later.
	if st, _ := prov.StartPayment(t.Context(), p, o, DeclinedToken); st.Status != boxoffice.PaymentSucceeded {
		t.Errorf("succeeded payment started again with a declined token: %s", st.Status)
	}
}

func TestLookupUnstartedPayment(t *testing.T) {
	prov := New(secret)
	p, o := newPayment()
	st, err := prov.LookupPayment(t.Context(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ref != PaymentRef(p.ID) || st.Status != boxoffice.PaymentRequiresAction || st.ClientSecret == "" {
		t.Errorf("LookupPayment of a payment never started = %+v", st)
	}
}

func TestSettle(t *testing.T) {
	for _, status := range []boxoffice.PaymentStatus{boxoffice.PaymentSucceeded, boxoffice.PaymentFailed} {
		t.Run(string(status), func(t *testing.T) {
			prov := New(secret)
			p, o := newPayment()
			st, err := prov.StartPayment(t.Context(), p, o, ProcessingToken)
			if err != nil {
				t.Fatal(err)
			}
			if !prov.Settle(st.Ref, status) {
				t.Fatal("Settle did not find the payment")
			}
			got, err := prov.LookupPayment(t.Context(), p, o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != status || got.Ref != st.Ref || (status == boxoffice.PaymentFailed) != (got.FailureReason != "") {
				t.Errorf("LookupPayment after Settle(%s) = %+v", status, got)
			}
		})
	}
	if New(secret).Settle("test_unknown", boxoffice.PaymentSucceeded) {
		t.Error("Settle of an unknown ref reported true")
	}
}

func TestRefund(t *testing.T) {
	prov := New(secret)
	p, o := newPayment()
	st, _ := prov.StartPayment(t.Context(), p, o, "tok_visa")
	p.Ref, p.Status = st.Ref, st.Status
	r := &boxoffice.Refund{ID: boxoffice.NewID(), PaymentID: p.ID, Amount: boxoffice.Money{Amount: 1000, Currency: "EUR"}}

	prov.FailRefunds(p.Ref, true)
	got, err := prov.Refund(t.Context(), r, p)
	if err != nil || got.Status != boxoffice.RefundFailed || got.FailureReason == "" {
		t.Fatalf("Refund of a payment marked FailRefunds = %+v, %v; want failed", got, err)
	}
	// The same attempt again gets the same answer; the next attempt, after
	// the mark is lifted, succeeds.
	prov.FailRefunds(p.Ref, false)
	if again, _ := prov.Refund(t.Context(), r, p); again.Status != boxoffice.RefundFailed {
		t.Errorf("same attempt repeated = %s, want the first answer (failed)", again.Status)
	}
	r.Attempts++
	got, err = prov.Refund(t.Context(), r, p)
	want := boxoffice.RefundState{Ref: "test_re_" + r.ID, Status: boxoffice.RefundSucceeded}
	if err != nil || got != want {
		t.Fatalf("Refund = %+v, %v; want %+v", got, err, want)
	}
	if _, err := prov.Refund(t.Context(), r, p); err != nil {
		t.Fatal(err)
	}
	if n := prov.Refunded(p.Ref); n != 1000 {
		t.Errorf("Refunded = %d after one refund of 1000 (repeated), want 1000", n)
	}

	if _, err := prov.Refund(t.Context(), r, &boxoffice.Payment{ID: "x"}); err == nil {
		t.Error("Refund of a payment without ref succeeded")
	}
}

func TestDown(t *testing.T) {
	prov := New(secret)
	p, o := newPayment()
	prov.SetDown(true)
	_, err := prov.StartPayment(t.Context(), p, o, "tok_visa")
	var re *boxoffice.RetryableError
	if !errors.As(err, &re) {
		t.Errorf("StartPayment while down = %v, want a *RetryableError", err)
	}
	if _, err := prov.LookupPayment(t.Context(), p, o); !errors.As(err, &re) {
		t.Errorf("LookupPayment while down = %v, want a *RetryableError", err)
	}
	if _, err := prov.Refund(t.Context(), &boxoffice.Refund{ID: "r"}, &boxoffice.Payment{Ref: "test_x"}); !errors.As(err, &re) {
		t.Errorf("Refund while down = %v, want a *RetryableError", err)
	}
	prov.SetDown(false)
	if st, err := prov.StartPayment(t.Context(), p, o, "tok_visa"); err != nil || st.Status != boxoffice.PaymentSucceeded {
		t.Errorf("StartPayment after the provider came back = %+v, %v", st, err)
	}
}

func header(h http.Header) func(string) string { return h.Get }

func TestParseWebhook(t *testing.T) {
	prov := New(secret)
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		c    Callback
		want *boxoffice.WebhookEvent
	}{
		{"payment succeeded", Callback{ID: "evt_1", Type: "payment", Created: at, PaymentID: "pay1", Status: "succeeded", Ref: "test_pay1"},
			&boxoffice.WebhookEvent{ID: "evt_1", Kind: boxoffice.WebhookPayment, At: at, PaymentID: "pay1",
				Payment: boxoffice.PaymentState{Ref: "test_pay1", Status: boxoffice.PaymentSucceeded}}},
		{"payment failed", Callback{ID: "evt_2", Type: "payment", Created: at, PaymentID: "pay1", Status: "failed", Ref: "test_pay1", FailureReason: DeclineReason},
			&boxoffice.WebhookEvent{ID: "evt_2", Kind: boxoffice.WebhookPayment, At: at, PaymentID: "pay1",
				Payment: boxoffice.PaymentState{Ref: "test_pay1", Status: boxoffice.PaymentFailed, FailureReason: DeclineReason}}},
		{"refund succeeded", Callback{ID: "evt_3", Type: "refund", Created: at, RefundID: "re1", Status: "succeeded", Ref: "test_re_re1"},
			&boxoffice.WebhookEvent{ID: "evt_3", Kind: boxoffice.WebhookRefund, At: at, RefundID: "re1",
				Refund: boxoffice.RefundState{Ref: "test_re_re1", Status: boxoffice.RefundSucceeded}}},
		{"other type", Callback{ID: "evt_4", Type: "dispute", Created: at, Status: "open"},
			&boxoffice.WebhookEvent{ID: "evt_4", Kind: boxoffice.WebhookIgnored, At: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, sig := Signed(secret, tt.c)
			h := http.Header{}
			h.Set(SignatureHeader, sig)
			got, err := prov.ParseWebhook(body, header(h))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseWebhook (-want +got):\n%s", diff)
			}
		})
	}

	body, sig := Signed(secret, Callback{Type: "payment", PaymentID: "pay1", Status: "succeeded"})
	ev, err := prov.ParseWebhook(body, func(string) string { return sig })
	if err != nil || ev.ID == "" || ev.At.IsZero() {
		t.Errorf("Signed filled no id or time: %+v, %v", ev, err)
	}

	bad := []struct {
		name string
		prov *Provider
		body []byte
		sig  string
		want error
	}{
		{"tampered body", prov, append(append([]byte{}, body[:len(body)-1]...), ' ', '}'), sig, boxoffice.ErrWebhookSignature},
		{"wrong secret", New("whsec_other"), body, sig, boxoffice.ErrWebhookSignature},
		{"no secret", New(""), body, Sign("", body), boxoffice.ErrWebhookSignature},
		{"no signature", prov, body, "", boxoffice.ErrWebhookSignature},
		{"signature not hex", prov, body, "zz", boxoffice.ErrWebhookSignature},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.prov.ParseWebhook(tt.body, func(string) string { return tt.sig }); !errors.Is(err, tt.want) {
				t.Errorf("ParseWebhook = %v, want %v", err, tt.want)
			}
		})
	}

	for _, c := range []Callback{
		{ID: "e", Type: "payment", PaymentID: "p", Status: "pending"},
		{ID: "e", Type: "payment", Status: "succeeded"},
		{ID: "e", Type: "refund", RefundID: "r", Status: "processing"},
		{Type: "refund", RefundID: "r", Status: "succeeded"},
	} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prov.ParseWebhook(b, func(string) string { return Sign(secret, b) }); err == nil || errors.Is(err, boxoffice.ErrWebhookSignature) {
			t.Errorf("ParseWebhook(%+v) = %v, want a decoding error", c, err)
		}
	}
	if _, err := prov.ParseWebhook([]byte("{"), func(string) string { return Sign(secret, []byte("{")) }); err == nil {
		t.Error("ParseWebhook of a body that is not JSON succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	prov := New(secret)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p, o := newPayment()
			st, err := prov.StartPayment(t.Context(), p, o, ProcessingToken)
			if err != nil {
				t.Error(err)
				return
			}
			prov.Settle(st.Ref, boxoffice.PaymentSucceeded)
			p.Ref = st.Ref
			if _, err := prov.Refund(t.Context(), &boxoffice.Refund{ID: p.ID, Amount: p.Amount}, p); err != nil {
				t.Error(err)
			}
			prov.Refunded(st.Ref)
		})
	}
	wg.Wait()
}

func TestName(t *testing.T) {
	if got := New(secret).Name(); got != "test" {
		t.Errorf("Name = %q, want test", got)
	}
}
