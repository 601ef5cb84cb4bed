package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"boxoffice/internal/stripe"
	"boxoffice/internal/stripe/stripemock"
	"boxoffice/internal/testdb"
)

const stripeWebhookSecret = "whsec_boxoffice_e2e"

// stripePublishableKey goes with stripemock.APIKey (a test-mode key).
const stripePublishableKey = "pk_test_boxoffice"

// stripeEvent returns a Stripe event about object, signed as Stripe signs
// its webhooks.
func stripeEvent(t *testing.T, id, typ string, object map[string]any) (body []byte, signature string) {
	t.Helper()
	obj, err := json.Marshal(object)
	if err != nil {
		t.Fatal(err)
	}
	body, err = json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2025-08-27.basil", "created": time.Now().Unix(), "type": typ,
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": json.RawMessage(obj)},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: stripeWebhookSecret, Timestamp: time.Now()})
	return body, signed.Header
}

// deliver posts a signed Stripe webhook to the server and returns the status.
func deliver(t *testing.T, base string, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/payments/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStripeCheckout runs the checkout end to end as deployed: the binary's
// wiring with BOXOFFICE_PAYMENTS=stripe against stripe-mock (a server that
// validates every request against Stripe's API), MariaDB, and Stripe's
// signed webhooks delivered to the real endpoint.
func TestStripeCheckout(t *testing.T) {
	sm := stripemock.Start(t)
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL": testdb.MySQLURL(t), "BOXOFFICE_PAYMENTS": "stripe",
		"BOXOFFICE_STRIPE_SECRET_KEY": stripemock.APIKey, "BOXOFFICE_STRIPE_WEBHOOK_SECRET": stripeWebhookSecret,
		"BOXOFFICE_STRIPE_API_BASE": sm.URL, "BOXOFFICE_STRIPE_PUBLISHABLE_KEY": stripePublishableKey,
		"BOXOFFICE_ADMIN_EMAIL": "admin@example.com", "BOXOFFICE_ADMIN_PASSWORD": "admin-stage-door-1",
	})
	var ready struct{ Payments string }
	if code := (client{t: t, base: in.url}).do("GET", "/readyz", nil, &ready); code != 200 || !strings.HasPrefix(ready.Payments, "stripe") {
		t.Fatalf("readyz: %d %+v", code, ready)
	}
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-stage-door-1")}
	now := time.Now().UTC()
	var e struct {
		ID    string
		Tiers []struct{ ID string }
	}
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Stripe night", "venue": "Hall", "starts_at": now.Add(48 * time.Hour).Format(time.RFC3339),
		"sales_start_at": now.Add(-time.Hour).Format(time.RFC3339), "sales_end_at": now.Add(24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 600,
		"tiers": []map[string]any{
			{"name": "Adult", "price": map[string]any{"amount": 2500, "currency": "EUR"}, "capacity": 10},
			{"name": "Child", "price": map[string]any{"amount": 1000, "currency": "EUR"}, "capacity": 10}},
	}, &e); code != 201 {
		t.Fatalf("create event: %d", code)
	}
	if code := (client{t: t, base: in.url}).do("POST", "/api/v1/users", map[string]string{
		"email": "fan@example.com", "password": "stage-door-123", "name": "Fan"}, nil); code != 201 {
		t.Fatalf("sign-up: %d", code)
	}
	fan := client{t: t, base: in.url, token: signIn(t, in.url, "fan@example.com", "stage-door-123")}

	// A v1 reservation keeps no record of a Stripe payment that could be
	// refunded: with Stripe it is paid for through an order.
	var hold struct{ ID string }
	if code := fan.do("POST", "/api/v1/events/"+e.ID+"/reservations", map[string]any{"tier_id": e.Tiers[0].ID, "quantity": 1}, &hold); code != 201 {
		t.Fatalf("hold: %d", code)
	}
	if code := fan.do("POST", "/api/v1/reservations/"+hold.ID+"/confirm", map[string]string{"payment_token": "pm_card_visa"}, nil); code != 409 {
		t.Fatalf("v1 confirm under Stripe: %d, want 409", code)
	}
	if code := fan.do("POST", "/api/v1/reservations/"+hold.ID+"/cancel", nil, nil); code != 200 {
		t.Fatalf("cancel hold: %d", code)
	}

	var o struct {
		ID      string
		Status  string
		Total   struct{ Amount int64 }
		Payment *struct{ Status string }
	}
	if code := fan.do("POST", "/api/v1/events/"+e.ID+"/orders", map[string]any{"lines": []map[string]any{
		{"tier_id": e.Tiers[0].ID, "quantity": 2}, {"tier_id": e.Tiers[1].ID, "quantity": 1}}}, &o); code != 201 || o.Total.Amount != 6000 {
		t.Fatalf("order: %d %+v", code, o)
	}
	// Without a token: a PaymentIntent the buyer's page confirms with
	// Stripe.js, using its client secret.
	var pay struct {
		ID           string
		Status       string
		ClientSecret string `json:"client_secret"`
	}
	if code := fan.do("POST", "/api/v1/orders/"+o.ID+"/payments", nil, &pay); code != 201 ||
		pay.Status != "requires_action" || pay.ClientSecret == "" {
		t.Fatalf("payment: %d %+v", code, pay)
	}
	// Stripe tells boxoffice the payment succeeded (stripe-mock sends no
	// webhooks: this is the event Stripe would send, signed as it signs).
	pi := map[string]any{"id": "pi_e2e_" + pay.ID, "object": "payment_intent", "status": "succeeded", "amount": 6000,
		"currency": "eur", "metadata": map[string]string{stripe.MetaPaymentID: pay.ID, stripe.MetaOrderID: o.ID}}
	body, sig := stripeEvent(t, "evt_paid_"+pay.ID, "payment_intent.succeeded", pi)
	if code := deliver(t, in.url, body, sig); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	if code := deliver(t, in.url, body, sig); code != 200 { // Stripe retries; nothing changes
		t.Fatalf("repeated webhook: %d", code)
	}
	if code := deliver(t, in.url, body, "t=1,v1=00"); code != 401 {
		t.Fatalf("badly signed webhook: %d, want 401", code)
	}
	fan.do("GET", "/api/v1/orders/"+o.ID, nil, &o)
	if o.Status != "paid" || o.Payment == nil || o.Payment.Status != "succeeded" {
		t.Fatalf("order after the webhook: %+v", o)
	}

	// The fan refunds the child's ticket: Stripe (stripe-mock) accepts the
	// refund, and the sales view balances.
	var rf struct {
		ID     string
		Amount struct{ Amount int64 }
	}
	if code := fan.do("POST", "/api/v1/orders/"+o.ID+"/refunds", map[string]any{
		"lines": []map[string]any{{"tier_id": e.Tiers[1].ID, "quantity": 1}}}, &rf); code != 201 || rf.Amount.Amount != 1000 {
		t.Fatalf("refund: %d %+v", code, rf)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list struct {
			Items []struct{ Status string }
		}
		fan.do("GET", "/api/v1/orders/"+o.ID+"/refunds", nil, &list)
		if len(list.Items) == 1 && list.Items[0].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refund did not succeed at Stripe: %+v", list.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var sales struct {
		Tiers []struct {
			Capacity, Held, Confirmed, Available int
		}
		Revenue []struct {
			Currency               string
			Orders, Paid, Refunded int64
		}
	}
	admin.do("GET", "/api/v1/events/"+e.ID+"/sales", nil, &sales)
	if len(sales.Revenue) != 1 || sales.Revenue[0].Paid != 6000 || sales.Revenue[0].Refunded != 1000 ||
		sales.Revenue[0].Orders != 5000 || sales.Tiers[0].Confirmed != 2 || sales.Tiers[1].Available != 10 {
		t.Fatalf("sales: %+v", sales)
	}
}

// TestProductionRefusesTestPayments: production mode starts only with a
// real payment provider.
func TestProductionRefusesTestPayments(t *testing.T) {
	for _, env := range []map[string]string{
		{"BOXOFFICE_ENV": "production", "BOXOFFICE_PAYMENTS": "test"},
		{"BOXOFFICE_ENV": "production"},
		{"BOXOFFICE_ENV": "production", "BOXOFFICE_PAYMENTS": "stripe", "BOXOFFICE_STRIPE_SECRET_KEY": "sk_test_x",
			"BOXOFFICE_STRIPE_WEBHOOK_SECRET": "whsec_x"},
		{"BOXOFFICE_PAYMENTS": "stripe"},
		{"BOXOFFICE_PAYMENTS": "paypal"},
	} {
		if _, err := loadConfig(envOf(env)); err == nil || !strings.Contains(err.Error(), "BOXOFFICE_") {
			t.Errorf("%v: %v; want a refusal", env, err)
		}
	}
	if _, err := loadConfig(envOf(map[string]string{"BOXOFFICE_ENV": "production", "BOXOFFICE_PAYMENTS": "stripe",
		"BOXOFFICE_STRIPE_SECRET_KEY": "sk_live_x", "BOXOFFICE_STRIPE_WEBHOOK_SECRET": "whsec_x",
		"BOXOFFICE_STRIPE_PUBLISHABLE_KEY": "pk_live_x"})); err != nil {
		t.Errorf("production with live Stripe keys: %v", err)
	}
}

// TestConfigStripePublishableKey: Stripe needs the publishable key the
// checkout page gives Stripe.js, of the same mode as the secret key, and a
// live one in production.
func TestConfigStripePublishableKey(t *testing.T) {
	stripeEnv := func(kv ...string) map[string]string {
		env := map[string]string{"BOXOFFICE_PAYMENTS": "stripe", "BOXOFFICE_STRIPE_SECRET_KEY": "sk_test_x",
			"BOXOFFICE_STRIPE_WEBHOOK_SECRET": "whsec_x", "BOXOFFICE_STRIPE_PUBLISHABLE_KEY": "pk_test_x"}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	c, err := loadConfig(envOf(stripeEnv()))
	if err != nil || c.StripePublishableKey != "pk_test_x" {
		t.Fatalf("test-mode keys: %+v %v", c.StripePublishableKey, err)
	}
	if c, err := loadConfig(envOf(stripeEnv("BOXOFFICE_STRIPE_SECRET_KEY", "rk_live_x", "BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "pk_live_x"))); err != nil || c.StripePublishableKey != "pk_live_x" {
		t.Errorf("a restricted live key with a live publishable key: %v", err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{stripeEnv("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", ""), "must be set to the Stripe publishable key"},
		{stripeEnv("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "sk_test_x"), "must be set to the Stripe publishable key"},
		{stripeEnv("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", `pk_test_x"><script>`), "must be set to the Stripe publishable key"},
		{stripeEnv("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "pk_live_x"), "same mode"},
		{stripeEnv("BOXOFFICE_STRIPE_SECRET_KEY", "sk_live_x"), "same mode"},
		{stripeEnv("BOXOFFICE_ENV", "production", "BOXOFFICE_STRIPE_SECRET_KEY", "sk_live_x"), "production needs a live key (pk_live_…)"},
	} {
		_, err := loadConfig(envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), "BOXOFFICE_STRIPE_PUBLISHABLE_KEY") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want BOXOFFICE_STRIPE_PUBLISHABLE_KEY %s", tc.env, err, tc.want)
		}
	}
	// Without Stripe the key is not needed (nor read by the pages).
	if c, err := loadConfig(envOf(map[string]string{"BOXOFFICE_PAYMENTS": "test"})); err != nil || c.StripePublishableKey != "" {
		t.Errorf("test payments without a publishable key: %v", err)
	}
}
