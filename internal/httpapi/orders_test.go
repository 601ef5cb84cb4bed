package httpapi

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/testpay"
)

type orderJSON struct {
	ID      string `json:"id"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Lines   []struct {
		TierID   string `json:"tier_id"`
		Quantity int    `json:"quantity"`
		Refunded int    `json:"refunded"`
	} `json:"lines"`
	Total         money      `json:"total"`
	Refunded      money      `json:"refunded"`
	HoldExpiresAt time.Time  `json:"hold_expires_at"`
	PaidAt        *time.Time `json:"paid_at"`
	Payment       *struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		ClientSecret string `json:"client_secret"`
	} `json:"payment"`
}

type paymentJSON struct {
	ID            string `json:"id"`
	Provider      string `json:"provider"`
	Status        string `json:"status"`
	Amount        money  `json:"amount"`
	ClientSecret  string `json:"client_secret"`
	FailureReason string `json:"failure_reason"`
}

type refundJSONT struct {
	ID        string `json:"id"`
	Amount    money  `json:"amount"`
	Status    string `json:"status"`
	Automatic bool   `json:"automatic"`
	Attempts  int    `json:"attempts"`
}

type salesJSON struct {
	Tiers []struct {
		TierID    string `json:"tier_id"`
		Capacity  int    `json:"capacity"`
		Held      int    `json:"held"`
		Confirmed int    `json:"confirmed"`
		Available int    `json:"available"`
	} `json:"tiers"`
	Revenue []struct {
		Currency string `json:"currency"`
		Orders   int64  `json:"orders"`
		Paid     int64  `json:"paid"`
		Refunded int64  `json:"refunded"`
	} `json:"revenue"`
}

// twoTiers creates an event with tiers A (adults, 50.00) and C (children,
// 20.00) of the given capacities.
func (ts *testServer) twoTiers(a, c int) (event, tierA, tierC string) {
	body := ts.eventBody("Family day", a)
	body["hold_seconds"] = 600
	body["tiers"] = []map[string]any{
		{"name": "Adult", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": a},
		{"name": "Child", "price": map[string]any{"amount": 2000, "currency": "USD"}, "capacity": c},
	}
	e := ts.createEvent(body)
	return e.ID, e.Tiers[0].ID, e.Tiers[1].ID
}

func lines(pairs ...any) map[string]any {
	var ls []map[string]any
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, map[string]any{"tier_id": pairs[i], "quantity": pairs[i+1]})
	}
	return map[string]any{"lines": ls}
}

// sales returns the admin's sales view and checks that every tier balances
// and that the orders' revenue is paid minus refunded.
func (ts *testServer) sales(eventID string) salesJSON {
	ts.t.Helper()
	var s salesJSON
	ts.call("GET", "/api/v1/events/"+eventID+"/sales", ts.adminToken, nil).ok(ts.t, 200, &s)
	for _, t := range s.Tiers {
		if t.Held+t.Confirmed+t.Available != t.Capacity {
			ts.t.Errorf("tier %s unbalanced: %+v", t.TierID, t)
		}
	}
	for _, r := range s.Revenue {
		if r.Orders != r.Paid-r.Refunded {
			ts.t.Errorf("revenue %s: orders %d != paid %d − refunded %d", r.Currency, r.Orders, r.Paid, r.Refunded)
		}
	}
	return s
}

func TestCheckout(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, c := ts.twoTiers(10, 3)

	// Two adults and a child: one order, one total.
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2, c, 1)).ok(t, 201, &o)
	if o.Status != "pending" || o.Total != (money{12000, "USD"}) || len(o.Lines) != 2 || o.Payment != nil {
		t.Fatalf("order = %+v", o)
	}
	s := ts.sales(event)
	if s.Tiers[0].Held != 2 || s.Tiers[1].Held != 1 {
		t.Fatalf("sales after the order: %+v", s.Tiers)
	}

	// Declined: 402, the order keeps its tickets, and the fan pays again.
	p := ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": testpay.DeclinedToken})
	p.problem(t, 402, boxoffice.CodePaymentDeclined)
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "pending" || o.Payment == nil || o.Payment.Status != "failed" {
		t.Fatalf("after a decline: %+v", o)
	}
	var pay paymentJSON
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(t, 201, &pay)
	if pay.Status != "succeeded" || pay.Provider != "test" || pay.Amount != o.Total {
		t.Fatalf("payment = %+v", pay)
	}
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "paid" || o.PaidAt == nil {
		t.Fatalf("after paying: %+v", o)
	}
	// Paying a paid order again is refused.
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).
		problem(t, 409, boxoffice.CodeInvalidState)
	s = ts.sales(event)
	if s.Tiers[0].Confirmed != 2 || s.Tiers[1].Confirmed != 1 || s.Revenue[0].Orders != 12000 {
		t.Fatalf("sales after paying: %+v", s)
	}

	// The child's ticket is refunded: back on sale at once, money back
	// through the refund outbox.
	var rf refundJSONT
	ts.call("POST", "/api/v1/orders/"+o.ID+"/refunds", fan, map[string]any{
		"lines": []map[string]any{{"tier_id": c, "quantity": 1}}, "reason": "ill"}).ok(t, 201, &rf)
	if rf.Amount != (money{2000, "USD"}) {
		t.Fatalf("refund = %+v", rf)
	}
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "partially_refunded" || o.Refunded.Amount != 2000 || o.Lines[1].Refunded != 1 {
		t.Fatalf("after the refund: %+v", o)
	}
	s = ts.sales(event)
	if s.Tiers[1].Available != 3 || s.Revenue[0].Orders != 10000 || s.Revenue[0].Refunded != 2000 {
		t.Fatalf("sales after the refund: %+v", s)
	}
	waitUntil(t, func() bool {
		var list struct{ Items []refundJSONT }
		ts.call("GET", "/api/v1/orders/"+o.ID+"/refunds", fan, nil).ok(t, 200, &list)
		return len(list.Items) == 1 && list.Items[0].Status == "succeeded"
	})
	if got := ts.pay.Refunded(testpay.PaymentRef(pay.ID)); got != 2000 {
		t.Fatalf("the provider refunded %d, want 2000", got)
	}

	// Another user sees nothing of it.
	other, _ := ts.signUp("other@example.test")
	ts.call("GET", "/api/v1/orders/"+o.ID, other, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/refunds", other, nil).problem(t, 404, boxoffice.CodeNotFound)

	// The fan's list.
	var list listJSON[orderJSON]
	ts.call("GET", "/api/v1/users/me/orders?status=partially_refunded", fan, nil).ok(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != o.ID {
		t.Fatalf("list = %+v", list)
	}

	// An event with orders keeps its money history.
	ts.call("DELETE", "/api/v1/events/"+event, ts.adminToken, nil).problem(t, 409, boxoffice.CodeHasOrders)
}

func TestOrderAllOrNothing(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, c := ts.twoTiers(10, 1)

	// The child tier has 1 left: an order for 2 adults and 2 children is
	// refused whole, naming its second line, and takes nothing.
	r := ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2, c, 2))
	p := r.problem(t, 409, boxoffice.CodeSoldOut)
	if p.Line == nil || *p.Line != 1 || p.TierID != c {
		t.Fatalf("problem = %+v; want line 1, tier %s", p, c)
	}
	s := ts.sales(event)
	if s.Tiers[0].Held != 0 || s.Tiers[1].Held != 0 {
		t.Fatalf("a refused order left tickets held: %+v", s.Tiers)
	}
	// Limits count the whole order (max 4 per user).
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 4, c, 1)).problem(t, 409, boxoffice.CodeLimitExceeded)
	// Bad input changes nothing and says what is wrong.
	for name, body := range map[string]any{
		"no lines":       map[string]any{"lines": []any{}},
		"unknown tier":   lines(boxoffice.NewID(), 1),
		"twice the tier": lines(a, 1, a, 1),
		"zero quantity":  lines(a, 0),
		"too many names": map[string]any{"lines": []map[string]any{{"tier_id": a, "quantity": 1, "attendees": []map[string]string{{"name": "A"}, {"name": "B"}}}}},
		"bad email":      map[string]any{"lines": []map[string]any{{"tier_id": a, "quantity": 1}}, "email": "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			ts.call("POST", "/api/v1/events/"+event+"/orders", fan, body).problem(t, 422, boxoffice.CodeValidationFailed)
		})
	}
	// Cancel gives the tickets back at once; a cancelled order cannot be paid.
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 1, c, 1)).ok(t, 201, &o)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/cancel", fan, nil).ok(t, 200, &o)
	if o.Status != "cancelled" {
		t.Fatalf("cancel: %+v", o)
	}
	if s := ts.sales(event); s.Tiers[1].Available != 1 {
		t.Fatalf("after cancel: %+v", s.Tiers)
	}
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).
		problem(t, 409, boxoffice.CodeInvalidState)

	// The same Idempotency-Key gives the same order, never a second one.
	var first, again orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 1), "Idempotency-Key", "k1").ok(t, 201, &first)
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 1), "Idempotency-Key", "k1").ok(t, 201, &again)
	if first.ID != again.ID {
		t.Fatalf("a retried order made a second one: %s, %s", first.ID, again.ID)
	}
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2), "Idempotency-Key", "k1").
		problem(t, 409, boxoffice.CodeIdempotencyKeyReused)
}

// expire moves the clock past holds and runs the order sweeper once.
func (ts *testServer) expire(d time.Duration) {
	ts.t.Helper()
	ts.clock.advance(d)
	if _, err := ts.store.ExpireOrders(context.Background(), ts.clock.now().UTC(), 1000); err != nil {
		ts.t.Fatal(err)
	}
}

// callback delivers a signed test-provider callback and returns the answer.
func (ts *testServer) callback(c testpay.Callback) *response {
	body, sig := testpay.Signed(testWebhookSecret, c)
	return ts.call("POST", "/api/v1/payments/webhooks/test", "", body, testpay.SignatureHeader, sig)
}

// The never-paid-but-released cases: a payment that succeeds after its
// order's hold expired.
func TestLatePayment(t *testing.T) {
	for _, tc := range []struct {
		name          string
		goneMeanwhile bool
	}{{"tickets still there", false}, {"tickets gone", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			fan, _ := ts.signUp("fan@example.test")
			event, a, c := ts.twoTiers(2, 2)
			var o orderJSON
			ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2, c, 1)).ok(t, 201, &o)
			var pay paymentJSON
			ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": testpay.ProcessingToken}).ok(t, 201, &pay)
			if pay.Status != "processing" {
				t.Fatalf("payment = %+v", pay)
			}
			ts.expire(11 * time.Minute)
			ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
			if o.Status != "expired" {
				t.Fatalf("order = %s, want expired", o.Status)
			}
			if tc.goneMeanwhile {
				other, _ := ts.signUp("other@example.test")
				ts.call("POST", "/api/v1/events/"+event+"/orders", other, lines(a, 2)).ok(t, 201, nil)
			}
			// The provider's callback says the money was taken.
			cb := testpay.Callback{Type: "payment", PaymentID: pay.ID, Status: "succeeded", Ref: testpay.PaymentRef(pay.ID)}
			cb.ID = "evt_late_" + pay.ID
			ts.callback(cb).ok(t, 200, nil)
			ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
			var refunds struct{ Items []refundJSONT }
			ts.call("GET", "/api/v1/orders/"+o.ID+"/refunds", fan, nil).ok(t, 200, &refunds)
			s := ts.sales(event)
			if !tc.goneMeanwhile {
				if o.Status != "paid" || len(refunds.Items) != 0 || s.Tiers[0].Confirmed != 2 || s.Tiers[1].Confirmed != 1 {
					t.Fatalf("order %s, refunds %+v, sales %+v; want paid with its tickets", o.Status, refunds.Items, s.Tiers)
				}
			} else {
				if o.Status != "expired" || len(refunds.Items) != 1 || !refunds.Items[0].Automatic ||
					refunds.Items[0].Amount != o.Total || s.Tiers[0].Held != 2 || s.Tiers[1].Held != 0 {
					t.Fatalf("order %s, refunds %+v, sales %+v; want the payment refunded in full", o.Status, refunds.Items, s.Tiers)
				}
				waitUntil(t, func() bool { return ts.pay.Refunded(testpay.PaymentRef(pay.ID)) == o.Total.Amount })
			}
			// The same callback again changes nothing.
			ts.callback(cb).ok(t, 200, nil)
			var again struct{ Items []refundJSONT }
			ts.call("GET", "/api/v1/orders/"+o.ID+"/refunds", fan, nil).ok(t, 200, &again)
			if len(again.Items) != len(refunds.Items) {
				t.Fatalf("a repeated callback made another refund: %d, then %d", len(refunds.Items), len(again.Items))
			}
			ts.sales(event)
		})
	}
}

func TestWebhookOrderAndSignatures(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, _ := ts.twoTiers(5, 5)
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 1)).ok(t, 201, &o)
	var pay paymentJSON
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": testpay.ProcessingToken}).ok(t, 201, &pay)

	now := time.Now()
	// Out of order: the success (newer) arrives before an older
	// "processing"; the older one changes nothing.
	ts.callback(testpay.Callback{Type: "payment", PaymentID: pay.ID, Status: "succeeded", Created: now}).ok(t, 200, nil)
	ts.callback(testpay.Callback{Type: "payment", PaymentID: pay.ID, Status: "processing", Created: now.Add(-time.Minute)}).ok(t, 200, nil)
	ts.callback(testpay.Callback{Type: "payment", PaymentID: pay.ID, Status: "failed", Created: now.Add(time.Minute)}).ok(t, 200, nil)
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "paid" || o.Payment.Status != "succeeded" {
		t.Fatalf("order %s, payment %s; want paid, succeeded", o.Status, o.Payment.Status)
	}

	// A callback that does not verify changes nothing: 401.
	body, _ := testpay.Signed(testWebhookSecret, testpay.Callback{Type: "payment", PaymentID: pay.ID, Status: "failed"})
	ts.call("POST", "/api/v1/payments/webhooks/test", "", body, testpay.SignatureHeader, testpay.Sign("wrong", body)).
		problem(t, 401, boxoffice.CodeUnauthenticated)
	// A provider that is not configured: 404. A signed body that is not a
	// callback: 422.
	ts.call("POST", "/api/v1/payments/webhooks/stripe", "", body).problem(t, 404, boxoffice.CodeNotFound)
	junk := []byte(`{"nope": true}`)
	ts.call("POST", "/api/v1/payments/webhooks/test", "", junk, testpay.SignatureHeader, testpay.Sign(testWebhookSecret, junk)).
		problem(t, 422, boxoffice.CodeValidationFailed)
	// A callback larger than the webhook's cap is refused, naming that cap.
	big := ts.call("POST", "/api/v1/payments/webhooks/test", "", strings.Repeat("x", maxWebhookBody+1))
	if p := big.problem(t, 413, codePayloadTooLarge); !strings.Contains(p.Detail, strconv.Itoa(maxWebhookBody)) {
		t.Errorf("413 detail %q does not name the webhook's cap", p.Detail)
	}
	// A callback about a payment boxoffice does not know is acknowledged.
	ts.callback(testpay.Callback{Type: "payment", PaymentID: boxoffice.NewID(), Status: "succeeded"}).ok(t, 200, nil)
}

func TestProviderDownDuringCheckout(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, _ := ts.twoTiers(5, 5)
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 1)).ok(t, 201, &o)

	ts.pay.SetDown(true)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).
		problem(t, 503, boxoffice.CodeUnavailable)
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "pending" || o.Payment == nil || o.Payment.Status != "processing" {
		t.Fatalf("order during the outage: %+v", o)
	}
	// While a payment is under way no second one starts (no double charge).
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).
		problem(t, 409, boxoffice.CodeInvalidState)

	// The provider comes back; reconciliation asks it about the payment
	// (which it never received) and learns it needs the buyer's action;
	// then a new payment goes through.
	ts.pay.SetDown(false)
	ts.clock.advance(2 * time.Minute)
	if n := ts.svc.Orders.Reconcile(context.Background()); n != 1 {
		t.Fatalf("reconciled %d payments, want 1", n)
	}
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Payment.Status == "processing" {
		t.Fatalf("after reconciliation the payment is still %s", o.Payment.Status)
	}
	var pay paymentJSON
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(t, 201, &pay)
	if pay.Status != "succeeded" {
		t.Fatalf("payment after the outage: %+v", pay)
	}
}

func TestRefundRetriesUntilDone(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, _ := ts.twoTiers(5, 5)
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2)).ok(t, 201, &o)
	var pay paymentJSON
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(t, 201, &pay)
	ref := testpay.PaymentRef(pay.ID)
	ts.pay.FailRefunds(ref, true)

	// The organizer refunds everything (the admin, at any time).
	var rf refundJSONT
	ts.call("POST", "/api/v1/orders/"+o.ID+"/refunds", ts.adminToken, nil).ok(t, 201, &rf)
	waitUntil(t, func() bool {
		var list struct{ Items []refundJSONT }
		ts.call("GET", "/api/v1/orders/"+o.ID+"/refunds", ts.adminToken, nil).ok(t, 200, &list)
		return list.Items[0].Status == "failed" && list.Items[0].Attempts >= 1
	})
	ts.call("GET", "/api/v1/orders/"+o.ID, fan, nil).ok(t, 200, &o)
	if o.Status != "refunded" {
		t.Fatalf("order = %s; the tickets go back on sale whatever the provider says", o.Status)
	}
	// The provider recovers; the next attempt (after its backoff) succeeds.
	ts.pay.FailRefunds(ref, false)
	ts.clock.advance(time.Hour)
	waitUntil(t, func() bool {
		ts.svc.Orders.SendRefundsNow()
		var list struct{ Items []refundJSONT }
		ts.call("GET", "/api/v1/orders/"+o.ID+"/refunds", ts.adminToken, nil).ok(t, 200, &list)
		return list.Items[0].Status == "succeeded"
	})
	if got := ts.pay.Refunded(ref); got != o.Total.Amount {
		t.Fatalf("refunded %d, want %d", got, o.Total.Amount)
	}
	s := ts.sales(event)
	if s.Tiers[0].Available != 5 || s.Revenue[0].Orders != 0 || s.Revenue[0].Paid != 10000 || s.Revenue[0].Refunded != 10000 {
		t.Fatalf("sales = %+v", s)
	}
}

func TestFanRefundPolicy(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	body := ts.eventBody("No refunds", 5)
	body["refund_policy"] = map[string]any{"fan_refunds": false}
	e := ts.createEvent(body)
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+e.ID+"/orders", fan, lines(e.Tiers[0].ID, 1)).ok(t, 201, &o)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(t, 201, nil)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/refunds", fan, nil).problem(t, 409, boxoffice.CodeRefundClosed)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/refunds", ts.adminToken, nil).ok(t, 201, nil)

	var got struct {
		RefundPolicy struct {
			FanRefunds bool       `json:"fan_refunds"`
			Until      *time.Time `json:"until"`
		} `json:"refund_policy"`
	}
	ts.call("GET", "/api/v1/events/"+e.ID, "", nil).ok(t, 200, &got)
	if got.RefundPolicy.FanRefunds {
		t.Fatalf("refund_policy = %+v", got.RefundPolicy)
	}
	until := ts.clock.now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, map[string]any{
		"refund_policy": map[string]any{"until": until.Format(time.RFC3339)}}).ok(t, 200, nil)
	ts.call("GET", "/api/v1/events/"+e.ID, "", nil).ok(t, 200, &got)
	if !got.RefundPolicy.FanRefunds || got.RefundPolicy.Until == nil || !got.RefundPolicy.Until.Equal(until) {
		t.Fatalf("refund_policy = %+v", got.RefundPolicy)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
