package main

import (
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/mysql"
	"boxoffice/internal/stripe"
	"boxoffice/internal/stripe/stripemock"
	"boxoffice/internal/testdb"
)

// TestStripeCancelEvent cancels an event with a Stripe-paid order, end to
// end as deployed: the binary against stripe-mock and MariaDB. The order
// is refunded in full as by the organizer, the refund reaches Stripe
// (stripe-mock gives it its re_ id and it succeeds), and the tickets are
// void.
func TestStripeCancelEvent(t *testing.T) {
	sm := stripemock.Start(t)
	dbURL := testdb.MySQLURL(t)
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL": dbURL, "BOXOFFICE_PAYMENTS": "stripe",
		"BOXOFFICE_STRIPE_SECRET_KEY": stripemock.APIKey, "BOXOFFICE_STRIPE_WEBHOOK_SECRET": stripeWebhookSecret,
		"BOXOFFICE_STRIPE_API_BASE": sm.URL, "BOXOFFICE_STRIPE_PUBLISHABLE_KEY": stripePublishableKey,
		"BOXOFFICE_ADMIN_EMAIL": "admin@example.com", "BOXOFFICE_ADMIN_PASSWORD": "admin-stage-door-1",
	})
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-stage-door-1")}
	now := time.Now().UTC()
	var e struct {
		ID    string
		Tiers []struct{ ID string }
	}
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Rained off", "venue": "Park", "starts_at": now.Add(48 * time.Hour).Format(time.RFC3339),
		"sales_start_at": now.Add(-time.Hour).Format(time.RFC3339), "sales_end_at": now.Add(24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 600,
		"tiers": []map[string]any{{"name": "Lawn", "price": map[string]any{"amount": 3000, "currency": "EUR"}, "capacity": 10}},
	}, &e); code != 201 {
		t.Fatalf("create event: %d", code)
	}
	if code := (client{t: t, base: in.url}).do("POST", "/api/v1/users", map[string]string{
		"email": "fan@example.com", "password": "stage-door-123", "name": "Fan"}, nil); code != 201 {
		t.Fatalf("sign-up: %d", code)
	}
	fan := client{t: t, base: in.url, token: signIn(t, in.url, "fan@example.com", "stage-door-123")}
	var o struct {
		ID     string
		Status string
	}
	if code := fan.do("POST", "/api/v1/events/"+e.ID+"/orders", map[string]any{"lines": []map[string]any{
		{"tier_id": e.Tiers[0].ID, "quantity": 2}}}, &o); code != 201 {
		t.Fatalf("order: %d", code)
	}
	var pay struct{ ID string }
	if code := fan.do("POST", "/api/v1/orders/"+o.ID+"/payments", nil, &pay); code != 201 {
		t.Fatalf("payment: %d", code)
	}
	pi := map[string]any{"id": "pi_e2e_" + pay.ID, "object": "payment_intent", "status": "succeeded", "amount": 6000,
		"currency": "eur", "metadata": map[string]string{stripe.MetaPaymentID: pay.ID, stripe.MetaOrderID: o.ID}}
	body, sig := stripeEvent(t, "evt_paid_"+pay.ID, "payment_intent.succeeded", pi)
	if code := deliver(t, in.url, body, sig); code != 200 {
		t.Fatalf("webhook: %d", code)
	}

	var out struct {
		Event          struct{ Status string }
		OrdersRefunded int `json:"orders_refunded"`
		Complete       bool
	}
	if code := admin.do("POST", "/api/v1/events/"+e.ID+"/cancel", map[string]string{"reason": "Storm warning"}, &out); code != 200 ||
		out.Event.Status != "cancelled" || out.OrdersRefunded != 1 || !out.Complete {
		t.Fatalf("cancel: %d %+v", code, out)
	}
	type refund struct {
		ID          string
		Status      string
		Amount      struct{ Amount int64 }
		ByOrganizer bool `json:"by_organizer"`
		Reason      string
	}
	var rf refund
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list struct{ Items []refund }
		fan.do("GET", "/api/v1/orders/"+o.ID+"/refunds", nil, &list)
		if len(list.Items) == 1 && list.Items[0].Status == "succeeded" {
			rf = list.Items[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refund did not succeed at Stripe: %+v", list.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rf.Amount.Amount != 6000 || !rf.ByOrganizer || !strings.Contains(rf.Reason, "Storm warning") {
		t.Fatalf("refund: %+v", rf)
	}
	// The refund carries Stripe's id for it: it reached stripe-mock.
	store, err := mysql.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.Refund(t.Context(), rf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Ref, "re_") || got.Provider != "stripe" || got.Status != boxoffice.RefundSucceeded {
		t.Fatalf("stored refund: ref %q, provider %q, status %s", got.Ref, got.Provider, got.Status)
	}
	fan.do("GET", "/api/v1/orders/"+o.ID, nil, &o)
	if o.Status != "refunded" {
		t.Fatalf("order after the cancellation: %s", o.Status)
	}
	var tickets struct {
		Items []struct{ Status string }
	}
	fan.do("GET", "/api/v1/orders/"+o.ID+"/tickets", nil, &tickets)
	if len(tickets.Items) != 2 {
		t.Fatalf("tickets: %+v", tickets.Items)
	}
	for _, tk := range tickets.Items {
		if tk.Status != "void" {
			t.Fatalf("a ticket of the cancelled event is %s", tk.Status)
		}
	}
}
