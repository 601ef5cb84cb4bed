package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"boxoffice"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// orgHooks is the default organizer's webhook endpoints (the admin's
// events belong to it).
const orgHooks = "/api/v1/organizers/" + boxoffice.DefaultOrganizerID + "/webhooks"

// received is one request a receiver got.
type received struct {
	id, timestamp, signature string
	body                     []byte
	header                   http.Header
	// Type and Data are the body's.
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

// receiver is an organizer's webhook endpoint: an HTTP server that
// records every request and answers the status answer gives for the n-th
// request (from 0).
type receiver struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	got    []received
	answer func(n int) int
	// arrived is signalled on each request.
	arrived chan struct{}
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rc := &receiver{t: t, answer: answer, arrived: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := received{id: r.Header.Get("webhook-id"), timestamp: r.Header.Get("webhook-timestamp"),
			signature: r.Header.Get("webhook-signature"), body: body, header: r.Header.Clone()}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("a webhook body that is not JSON: %q", body)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, m)
		rc.mu.Unlock()
		status := http.StatusNoContent
		if rc.answer != nil {
			status = rc.answer(n)
		}
		w.WriteHeader(status)
		rc.arrived <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hooks"
	return rc
}

// wait returns the requests once there are at least n, failing the test
// after 10 s.
func (rc *receiver) wait(n int) []received {
	rc.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		rc.mu.Lock()
		if len(rc.got) >= n {
			out := append([]received(nil), rc.got...)
			rc.mu.Unlock()
			return out
		}
		rc.mu.Unlock()
		select {
		case <-rc.arrived:
		case <-deadline:
			rc.t.Fatalf("the receiver got %d requests within 10 s, want %d", len(rc.got), n)
		}
	}
}

// count returns how many requests arrived.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// endpointJSON is an endpoint as the API shows it.
type endpointJSON struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Enabled        bool       `json:"enabled"`
	Secret         string     `json:"secret"`
	Failures       int        `json:"failures"`
	FailingSince   *time.Time `json:"failing_since"`
	DisabledReason string     `json:"disabled_reason"`
}

// deliveryJSON is a delivery as the API shows it.
type deliveryJSON struct {
	ID             string     `json:"id"`
	WebhookID      string     `json:"webhook_id"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	ResponseStatus int        `json:"response_status"`
	Error          string     `json:"error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
}

// subscribe makes an endpoint of the default organizer at rc for events.
func (ts *testServer) subscribe(rc *receiver, events ...string) endpointJSON {
	ts.t.Helper()
	var ep endpointJSON
	ts.call("POST", orgHooks, ts.adminToken, map[string]any{"url": rc.url, "events": events}).ok(ts.t, 201, &ep)
	return ep
}

// verify checks a request's signature with the Standard Webhooks
// reference library (not boxoffice's code), within its 5-minute
// tolerance unless anyTime.
func verify(t *testing.T, secret string, m received, anyTime bool) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if anyTime {
		err = wh.VerifyIgnoringTimestamp(m.body, m.header)
	} else {
		err = wh.Verify(m.body, m.header)
	}
	if err != nil {
		t.Errorf("webhook %s (%s) does not verify: %v", m.id, m.Type, err)
	}
}

func (ts *testServer) deliveries(wid string) []deliveryJSON {
	ts.t.Helper()
	var page listJSON[deliveryJSON]
	ts.call("GET", orgHooks+"/"+wid+"/deliveries", ts.adminToken, nil).ok(ts.t, 200, &page)
	return page.Items
}

// waitDelivery polls an endpoint's log until its newest delivery is in
// state status.
func (ts *testServer) waitDelivery(wid, status string) deliveryJSON {
	ts.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds := ts.deliveries(wid)
		if len(ds) > 0 && ds[0].Status == status {
			return ds[0]
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("no delivery %s within 10 s: %+v", status, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhooksEndToEnd pays an order, refunds it and scans a ticket
// through the API, and receives order.paid, order.refunded and
// ticket.checked_in, signed as the Standard Webhooks specification says.
func TestWebhooksEndToEnd(t *testing.T) {
	ts := newTestServer(t)
	rc := newReceiver(t, nil)
	ep := ts.subscribe(rc, "order.paid", "order.refunded", "ticket.checked_in")
	if len(ep.Secret) < len("whsec_")+40 || ep.Secret[:6] != "whsec_" {
		t.Fatalf("secret %q", ep.Secret)
	}
	e := ts.createEvent(ts.eventBody("Hooked", 10))
	fan, _ := ts.signUp("hooked@example.test")
	orderID, tickets := ts.paidOrder(fan, e.ID, map[string]any{"lines": []map[string]any{{"tier_id": e.Tiers[0].ID, "quantity": 2}}})

	paid := rc.wait(1)[0]
	verify(t, ep.Secret, paid, false)
	if paid.Type != "order.paid" || paid.Data["order_id"] != orderID || paid.Data["event_id"] != e.ID ||
		paid.Data["tickets"] != float64(2) || paid.Data["email"] != "hooked@example.test" {
		t.Errorf("order.paid: %s", paid.body)
	}
	if paid.header.Get("Content-Type") != "application/json" || paid.id == "" || paid.timestamp == "" {
		t.Errorf("headers: %v", paid.header)
	}

	ts.call("POST", "/api/v1/orders/"+orderID+"/refunds", fan, map[string]any{"ticket_ids": []string{tickets[1].ID}}).ok(t, 201, nil)
	refunded := rc.wait(2)[1]
	verify(t, ep.Secret, refunded, false)
	if refunded.Type != "order.refunded" || refunded.Data["order_id"] != orderID || refunded.Data["status"] != "partially_refunded" {
		t.Errorf("order.refunded: %s", refunded.body)
	}

	if s := ts.scan(ts.adminToken, e.ID, tickets[0].Code, "North"); s.Result != "ok" {
		t.Fatalf("scan: %+v", s)
	}
	// A second scan admits nobody: no second message.
	ts.scan(ts.adminToken, e.ID, tickets[0].Code, "North")
	in := rc.wait(3)[2]
	verify(t, ep.Secret, in, false)
	if in.Type != "ticket.checked_in" || in.Data["ticket_id"] != tickets[0].ID || in.Data["gate"] != "North" {
		t.Errorf("ticket.checked_in: %s", in.body)
	}
	if paid.id == refunded.id || refunded.id == in.id {
		t.Errorf("webhook-ids repeat: %s %s %s", paid.id, refunded.id, in.id)
	}
	time.Sleep(200 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Errorf("the receiver got %d requests, want 3", n)
	}
	ds := ts.deliveries(ep.ID)
	if len(ds) != 3 || ds[0].Status != "succeeded" || ds[0].Attempts != 1 || ds[0].ResponseStatus != 204 {
		t.Errorf("delivery log: %+v", ds)
	}
}

// TestWebhookRetries: a receiver that answers 500 gets the message again
// after the backoff with the same webhook-id; a manual retry sends a
// delivered message once more, with the same webhook-id again; an endpoint
// that subscribes to nothing that happened gets nothing.
func TestWebhookRetries(t *testing.T) {
	ts := newTestServer(t)
	rc := newReceiver(t, func(n int) int {
		if n == 0 {
			return 500
		}
		return 200
	})
	ep := ts.subscribe(rc, "order.paid")
	idle := newReceiver(t, nil)
	ts.subscribe(idle, "event.sold_out")
	e := ts.createEvent(ts.eventBody("Retried", 10))
	fan, _ := ts.signUp("retried@example.test")
	ts.paidOrder(fan, e.ID, map[string]any{"lines": []map[string]any{{"tier_id": e.Tiers[0].ID, "quantity": 1}}})

	first := rc.wait(1)[0]
	d := ts.waitDelivery(ep.ID, "failed")
	if d.Attempts != 1 || d.ResponseStatus != 500 || d.NextAttemptAt == nil || d.Error == "" {
		t.Fatalf("after a 500: %+v", d)
	}
	// The retry is due 5 s (±20 %) later.
	if n := rc.count(); n != 1 {
		t.Fatalf("retried before its time: %d requests", n)
	}
	ts.clock.advance(10 * time.Second)
	second := rc.wait(2)[1]
	verify(t, ep.Secret, first, false)
	verify(t, ep.Secret, second, false)
	if second.id != first.id || string(second.body) != string(first.body) {
		t.Errorf("the retry is another message: %s %s", first.id, second.id)
	}
	d = ts.waitDelivery(ep.ID, "succeeded")
	if d.Attempts != 2 || d.ResponseStatus != 200 || d.NextAttemptAt != nil {
		t.Errorf("after the retry: %+v", d)
	}

	var queued deliveryJSON
	ts.call("POST", orgHooks+"/"+ep.ID+"/deliveries/"+d.ID+"/retry", ts.adminToken, nil).ok(t, 202, &queued)
	if queued.Status != "pending" {
		t.Errorf("a retried delivery: %+v", queued)
	}
	third := rc.wait(3)[2]
	if third.id != first.id {
		t.Errorf("a manual retry sent %s, want %s", third.id, first.id)
	}
	verify(t, ep.Secret, third, false)
	if d := ts.waitDelivery(ep.ID, "succeeded"); d.Attempts != 3 {
		t.Errorf("after the manual retry: %+v", d)
	}
	ts.call("POST", orgHooks+"/"+ep.ID+"/deliveries/"+boxoffice.NewID()+"/retry", ts.adminToken, nil).
		problem(t, 404, boxoffice.CodeNotFound)
	if n := idle.count(); n != 0 {
		t.Errorf("an endpoint subscribed to event.sold_out got %d requests", n)
	}
}

// TestWebhookEndpointDisabled: an endpoint whose every attempt fails for
// a day (five attempts at least) is disabled; its delivery waits, and is
// sent when the organizer enables the endpoint again.
func TestWebhookEndpointDisabled(t *testing.T) {
	ts := newTestServer(t)
	var mu sync.Mutex
	failing := true
	rc := newReceiver(t, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return 503
		}
		return 200
	})
	ep := ts.subscribe(rc, "order.paid")
	e := ts.createEvent(ts.eventBody("Down", 10))
	fan, _ := ts.signUp("down@example.test")
	ts.paidOrder(fan, e.ID, map[string]any{"lines": []map[string]any{{"tier_id": e.Tiers[0].ID, "quantity": 1}}})

	for attempt := 1; attempt <= boxoffice.WebhookDisableMinFailures; attempt++ {
		rc.wait(attempt)
		ts.waitAttempts(ep.ID, attempt)
		if attempt < boxoffice.WebhookDisableMinFailures {
			ts.clock.advance(6 * time.Hour)
		}
	}
	var got endpointJSON
	ts.call("GET", orgHooks+"/"+ep.ID, ts.adminToken, nil).ok(t, 200, &got)
	if got.Enabled || got.Failures != 5 || got.DisabledReason == "" || got.Secret != "" {
		t.Fatalf("after a day of failures: %+v", got)
	}
	d := ts.deliveries(ep.ID)[0]
	if d.Status != "failed" || d.NextAttemptAt != nil {
		t.Errorf("the delivery of a disabled endpoint: %+v", d)
	}
	ts.call("POST", orgHooks+"/"+ep.ID+"/deliveries/"+d.ID+"/retry", ts.adminToken, nil).problem(t, 409, boxoffice.CodeInvalidState)
	ts.clock.advance(24 * time.Hour)
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 5 {
		t.Fatalf("a disabled endpoint got %d requests, want 5", n)
	}

	mu.Lock()
	failing = false
	mu.Unlock()
	ts.call("PATCH", orgHooks+"/"+ep.ID, ts.adminToken, map[string]any{"enabled": true}).ok(t, 200, &got)
	if !got.Enabled || got.Failures != 0 || got.FailingSince != nil {
		t.Errorf("enabled again: %+v", got)
	}
	last := rc.wait(6)[5]
	verify(t, ep.Secret, last, true)
	if d := ts.waitDelivery(ep.ID, "succeeded"); d.Attempts != 6 {
		t.Errorf("after enabling: %+v", d)
	}
}

// waitAttempts polls an endpoint's newest delivery until it has had n
// attempts.
func (ts *testServer) waitAttempts(wid string, n int) {
	ts.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds := ts.deliveries(wid)
		if len(ds) > 0 && ds[0].Attempts >= n {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("no %d attempts within 10 s: %+v", n, ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookEndpoints covers the endpoint API: validation, the secret
// shown once, changes and deletion.
func TestWebhookEndpoints(t *testing.T) {
	ts := newTestServer(t)
	for name, body := range map[string]any{
		"no url":          map[string]any{"events": []string{"order.paid"}},
		"ftp":             map[string]any{"url": "ftp://example.com/", "events": []string{"order.paid"}},
		"http public":     map[string]any{"url": "http://example.com/hooks", "events": []string{"order.paid"}},
		"credentials":     map[string]any{"url": "https://u:p@example.com/", "events": []string{"order.paid"}},
		"relative":        map[string]any{"url": "/hooks", "events": []string{"order.paid"}},
		"no events":       map[string]any{"url": "https://example.com/", "events": []string{}},
		"unknown event":   map[string]any{"url": "https://example.com/", "events": []string{"order.lost"}},
		"unknown field":   map[string]any{"url": "https://example.com/", "events": []string{"order.paid"}, "secret": "x"},
		"events a string": map[string]any{"url": "https://example.com/", "events": "order.paid"},
	} {
		r := ts.call("POST", orgHooks, ts.adminToken, body)
		if r.status != 422 && r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	var ep endpointJSON
	ts.call("POST", orgHooks, ts.adminToken, map[string]any{"url": "https://hooks.example.com/in",
		"events": []string{"ticket.checked_in", "order.paid", "order.paid"}}).ok(t, 201, &ep)
	if !ep.Enabled || len(ep.Events) != 2 || ep.Events[0] != "order.paid" || ep.Secret == "" {
		t.Errorf("created: %+v", ep)
	}
	var list listJSON[endpointJSON]
	ts.call("GET", orgHooks, ts.adminToken, nil).ok(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Secret != "" {
		t.Errorf("list: %+v", list.Items)
	}
	ts.call("PATCH", orgHooks+"/"+ep.ID, ts.adminToken, map[string]any{"url": "http://example.com/"}).
		problem(t, 422, boxoffice.CodeValidationFailed)
	var changed endpointJSON
	ts.call("PATCH", orgHooks+"/"+ep.ID, ts.adminToken, map[string]any{"events": []string{"event.cancelled"}, "enabled": false}).
		ok(t, 200, &changed)
	if changed.Enabled || len(changed.Events) != 1 || changed.URL != ep.URL {
		t.Errorf("changed: %+v", changed)
	}
	other := "/api/v1/organizers/" + boxoffice.NewID() + "/webhooks/" + ep.ID
	ts.call("GET", other, ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", orgHooks+"/"+ep.ID+"/deliveries?status=lost", ts.adminToken, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("DELETE", orgHooks+"/"+ep.ID, ts.adminToken, nil).ok(t, 204, nil)
	ts.call("GET", orgHooks+"/"+ep.ID, ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
}

// TestWebhookEventMessages: the payment that takes an event's last ticket
// brings event.sold_out, once; the cancel-event feature's call brings
// event.cancelled.
func TestWebhookEventMessages(t *testing.T) {
	ts := newTestServer(t)
	rc := newReceiver(t, nil)
	ep := ts.subscribe(rc, "event.sold_out", "event.cancelled")
	e := ts.createEvent(ts.eventBody("Small", 2))
	fan, _ := ts.signUp("small@example.test")
	ts.paidOrder(fan, e.ID, map[string]any{"lines": []map[string]any{{"tier_id": e.Tiers[0].ID, "quantity": 1}}})
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 0 {
		t.Fatalf("%d messages with a ticket left", n)
	}
	ts.paidOrder(fan, e.ID, map[string]any{"lines": []map[string]any{{"tier_id": e.Tiers[0].ID, "quantity": 1}}})
	soldOut := rc.wait(1)[0]
	verify(t, ep.Secret, soldOut, false)
	if soldOut.Type != "event.sold_out" || soldOut.Data["event_id"] != e.ID {
		t.Errorf("event.sold_out: %s", soldOut.body)
	}

	ev, err := ts.store.Event(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.svc.Webhooks.EventCancelled(t.Context(), ev, "the venue flooded", time.Now()); err != nil {
		t.Fatal(err)
	}
	cancelled := rc.wait(2)[1]
	verify(t, ep.Secret, cancelled, false)
	if cancelled.Type != "event.cancelled" || cancelled.Data["event_id"] != e.ID || cancelled.Data["reason"] != "the venue flooded" {
		t.Errorf("event.cancelled: %s", cancelled.body)
	}
	time.Sleep(1500 * time.Millisecond) // past the next sold-out check
	if n := rc.count(); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}
