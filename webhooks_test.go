package boxoffice

import (
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestWebhookRetryDelay(t *testing.T) {
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}
	var total time.Duration
	for i, w := range want {
		d, ok := WebhookRetryDelay(i+1, 0.5)
		if !ok || d != w {
			t.Errorf("after attempt %d: %s %v, want %s", i+1, d, ok, w)
		}
		if lo, _ := WebhookRetryDelay(i+1, 0); lo != time.Duration(float64(w)*0.8) {
			t.Errorf("after attempt %d, least jitter: %s", i+1, lo)
		}
		if hi, _ := WebhookRetryDelay(i+1, 0.999999); hi > time.Duration(float64(w)*1.2) || hi < w {
			t.Errorf("after attempt %d, most jitter: %s", i+1, hi)
		}
		total += w
	}
	if _, ok := WebhookRetryDelay(MaxWebhookAttempts, 0.5); ok {
		t.Errorf("attempt %d is retried", MaxWebhookAttempts)
	}
	// The last attempt comes about a day after the first.
	if total < 20*time.Hour || total > 26*time.Hour {
		t.Errorf("the retries span %s", total)
	}
}

// TestSignWebhook checks the signature with the Standard Webhooks
// reference library and, when python3 is here, with its hmac module:
// two implementations of the specification that are not boxoffice's.
func TestSignWebhook(t *testing.T) {
	secret := NewWebhookSecret()
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q", secret)
	}
	m := NewWebhookMessage(DefaultOrganizerID, HookOrderPaid, map[string]any{"order_id": "X", "note": "ünïcode & <html>"}, t0)
	at := time.Now()
	sig, err := SignWebhook(secret, m.ID, at, m.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", m.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(m.Body, h); err != nil {
		t.Errorf("the reference library does not verify: %v", err)
	}
	if err := wh.Verify(append(m.Body, ' '), h); err == nil {
		t.Errorf("a changed body verifies")
	}
	var body struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(m.Body, &body); err != nil || body.Type != "order.paid" || body.Timestamp != "2026-12-04T10:00:00Z" ||
		body.Data["order_id"] != "X" {
		t.Errorf("body %s: %v", m.Body, err)
	}

	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3: the reference library's check stands alone")
		return
	}
	const script = `import base64, hashlib, hmac, sys
secret, msg_id, ts, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin.buffer.read()
key = base64.b64decode(secret[len("whsec_"):])
mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
sys.stdout.write("v1," + base64.b64encode(mac).decode())`
	cmd := exec.Command(py, "-c", script, secret, m.ID, strconv.FormatInt(at.Unix(), 10))
	cmd.Stdin = strings.NewReader(string(m.Body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	if string(out) != sig {
		t.Errorf("python's hmac: %s, boxoffice: %s", out, sig)
	}
}

func TestCheckWebhookURL(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://hooks.example.com/in?x=1", false, true},
		{"https://93.184.216.34/in", false, true},
		{"http://hooks.example.com/in", false, false},
		{"http://localhost:8080/in", false, false},
		{"http://localhost:8080/in", true, true},
		{"http://127.0.0.1:9/in", true, true},
		{"http://[::1]:9/in", true, true},
		{"http://example.com/in", true, false},
		{"https://10.0.0.5/in", false, false},
		{"https://169.254.169.254/latest", false, false},
		{"https://[fe80::1]/in", false, false},
		{"https://10.0.0.5/in", true, true},
		{"https://u:p@example.com/", false, false},
		{"https://example.com/#frag", false, false},
		{"example.com/in", false, false},
		{"mailto:a@example.com", false, false},
		{"", false, false},
		{"https://" + strings.Repeat("a", 2000) + ".com/", false, false},
	} {
		var v ValidationError
		checkWebhookURL(&v, c.url, c.insecure)
		if got := v.Err() == nil; got != c.ok {
			t.Errorf("%q (insecure %v): ok %v, want %v (%v)", c.url, c.insecure, got, c.ok, v.Err())
		}
	}
}

func TestWebhookEndpointChange(t *testing.T) {
	u := "https://hooks.example.com/"
	ep, err := NewWebhookEndpoint(DefaultOrganizerID, WebhookEndpointInput{URL: &u,
		Events: []HookType{HookTicketCheckedIn, HookOrderPaid, HookOrderPaid}}, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]HookType{HookOrderPaid, HookTicketCheckedIn}, ep.Events); diff != "" || !ep.Enabled {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, err := NewWebhookEndpoint(DefaultOrganizerID, WebhookEndpointInput{URL: &u, Events: []HookType{"order.lost"}}, false, t0); err == nil {
		t.Errorf("an unknown type is accepted")
	}
	off, on := false, true
	ep.Failures, ep.FailingSince = 3, &t0
	if err := ep.Change(WebhookEndpointInput{Enabled: &off}, false, t0); err != nil || ep.Enabled {
		t.Fatalf("disable: %v %+v", err, ep)
	}
	ep.Failures, ep.FailingSince, ep.DisabledReason = 7, &t0, "down"
	if err := ep.Change(WebhookEndpointInput{Enabled: &on}, false, t0); err != nil || !ep.Enabled || ep.Failures != 0 ||
		ep.FailingSince != nil || ep.DisabledReason != "" {
		t.Errorf("enable: %v %+v", err, ep)
	}
	bad := "http://example.com/"
	if err := ep.Change(WebhookEndpointInput{URL: &bad, Enabled: &off}, false, t0); err == nil || !ep.Enabled || ep.URL != u {
		t.Errorf("a refused change changed the endpoint: %+v", ep)
	}
}

func TestDeliveryAttempts(t *testing.T) {
	d := &WebhookDelivery{ID: NewID(), Status: DeliveryPending}
	at := t0
	for i := 1; i < MaxWebhookAttempts; i++ {
		d.Attempted(AttemptOutcome{Status: 500, At: at}, 0.5)
		if d.Status != DeliveryFailed || d.Attempts != i || d.NextAttemptAt == nil || d.Error == "" {
			t.Fatalf("after failure %d: %+v", i, d)
		}
		at = *d.NextAttemptAt
	}
	d.Attempted(AttemptOutcome{Err: errors.New("connection refused"), At: at}, 0.5)
	if d.Status != DeliveryGivenUp || d.NextAttemptAt != nil || d.Error != "connection refused" || d.ResponseStatus != 0 {
		t.Fatalf("after the last failure: %+v", d)
	}
	d.Requeue(at)
	if d.Status != DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(at) {
		t.Fatalf("requeued: %+v", d)
	}
	d.Attempted(AttemptOutcome{Status: 302, At: at}, 0.5)
	if d.Status != DeliveryGivenUp {
		t.Errorf("a redirect after a manual retry of a given-up delivery: %+v", d)
	}
	d.Requeue(at)
	d.Attempted(AttemptOutcome{Status: 204, At: at, Duration: time.Millisecond}, 0.5)
	if d.Status != DeliverySucceeded || d.NextAttemptAt != nil || d.Error != "" || d.Duration != time.Millisecond {
		t.Errorf("succeeded: %+v", d)
	}
}

func TestEndpointDisabledAfterADayOfFailures(t *testing.T) {
	failed := func(at time.Time) *WebhookDelivery {
		d := &WebhookDelivery{ID: NewID()}
		d.Attempted(AttemptOutcome{Status: 503, At: at}, 0.5)
		return d
	}
	ep := &WebhookEndpoint{ID: NewID(), Enabled: true}
	// Fifty failures within a minute (an outage): still enabled.
	var burst []*WebhookDelivery
	for i := range 50 {
		burst = append(burst, failed(t0.Add(time.Duration(i)*time.Second)))
	}
	if ep.RecordAttempts(burst, t0.Add(time.Minute)) || !ep.Enabled || ep.Failures != 50 || !ep.FailingSince.Equal(t0) {
		t.Fatalf("after a burst: %+v", ep)
	}
	// A success resets the count.
	ok := &WebhookDelivery{ID: NewID()}
	ok.Attempted(AttemptOutcome{Status: 200, At: t0.Add(2 * time.Minute)}, 0.5)
	ep.RecordAttempts([]*WebhookDelivery{ok}, t0.Add(2*time.Minute))
	if ep.Failures != 0 || ep.FailingSince != nil {
		t.Fatalf("after a success: %+v", ep)
	}
	// Four failures over two days: too few.
	start := t0.Add(time.Hour)
	for i := range 4 {
		ep.RecordAttempts([]*WebhookDelivery{failed(start.Add(time.Duration(i) * 16 * time.Hour))}, start.Add(time.Duration(i)*16*time.Hour))
	}
	if !ep.Enabled {
		t.Fatalf("disabled after 4 failures: %+v", ep)
	}
	// The fifth, 64 hours after the first: disabled, and the delivery
	// waiting for its next attempt is paused.
	last := failed(start.Add(64 * time.Hour))
	if !ep.RecordAttempts([]*WebhookDelivery{last}, start.Add(64*time.Hour)) || ep.Enabled || ep.DisabledReason == "" {
		t.Fatalf("after 5 failures over 64 h: %+v", ep)
	}
	if last.Status != DeliveryFailed || last.NextAttemptAt != nil {
		t.Errorf("the delivery of a disabled endpoint: %+v", last)
	}

	// Five failures within 23 hours: still enabled.
	ep = &WebhookEndpoint{ID: NewID(), Enabled: true}
	for i := range 5 {
		at := t0.Add(time.Duration(i) * 5 * time.Hour)
		ep.RecordAttempts([]*WebhookDelivery{failed(at)}, at)
	}
	if !ep.Enabled {
		t.Errorf("disabled after 20 h of failures: %+v", ep)
	}
}

func TestFanOut(t *testing.T) {
	org, other := NewID(), NewID()
	sub := &WebhookEndpoint{ID: "A", OrganizerID: org, Enabled: true, Events: []HookType{HookOrderPaid}, CreatedAt: t0}
	late := &WebhookEndpoint{ID: "B", OrganizerID: org, Enabled: true, Events: []HookType{HookOrderPaid}, CreatedAt: t0.Add(time.Hour)}
	off := &WebhookEndpoint{ID: "C", OrganizerID: org, Enabled: false, Events: []HookType{HookOrderPaid}, CreatedAt: t0}
	refunds := &WebhookEndpoint{ID: "D", OrganizerID: org, Enabled: true, Events: []HookType{HookOrderRefunded}, CreatedAt: t0}
	theirs := &WebhookEndpoint{ID: "E", OrganizerID: other, Enabled: true, Events: []HookType{HookOrderPaid}, CreatedAt: t0}
	m := NewWebhookMessage(org, HookOrderPaid, map[string]any{}, t0.Add(time.Minute))
	ds := FanOut([]*WebhookMessage{m}, []*WebhookEndpoint{sub, late, off, refunds, theirs}, t0.Add(2*time.Minute))
	if len(ds) != 1 || ds[0].EndpointID != "A" || ds[0].MessageID != m.ID || ds[0].Status != DeliveryPending ||
		!ds[0].NextAttemptAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("deliveries: %+v", ds)
	}
}

func TestScansEmitCheckedIn(t *testing.T) {
	e := NewID()
	a, b := testTicket(e, "A"), testTicket(e, "A")
	used := testTicket(e, "A")
	used.Status = TicketUsed
	s1, s2, s3 := scan(a, "North", t0), scan(b, "North", t0), scan(used, "North", t0)
	s1.Hook, s3.Hook = DefaultOrganizerID, DefaultOrganizerID
	f := facts(a, b, used)
	f.First[used.ID] = &CheckinRecord{ID: NewID(), TicketID: used.ID, ScannedAt: t0.Add(-time.Hour), Admitted: true}
	ch := DecideScans(e, []*Scan{s1, s2, s3}, f)
	if len(ch.Webhooks) != 1 {
		t.Fatalf("%d messages, want 1 (the admission of a scan with a hook)", len(ch.Webhooks))
	}
	m := ch.Webhooks[0]
	var body struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(m.Body, &body); err != nil || m.Type != HookTicketCheckedIn || m.OrganizerID != DefaultOrganizerID ||
		body.Data["ticket_id"] != a.ID || body.Data["gate"] != "North" {
		t.Errorf("message %+v: %s", m, m.Body)
	}
}

func TestSoldOut(t *testing.T) {
	s := &Sales{Tiers: []TierSales{{Capacity: 10, Held: 2, Confirmed: 8}, {Capacity: 5, Confirmed: 4}}}
	if s.SoldOut() {
		t.Errorf("a tier with a ticket left is sold out")
	}
	s.Tiers[1].Held = 1
	if !s.SoldOut() {
		t.Errorf("no ticket left, not sold out")
	}
	e := &Event{ID: NewID(), Title: "Gone"}
	if a, b := eventSoldOutMessage(e, s, t0), eventSoldOutMessage(e, s, t0.Add(time.Hour)); a.ID != b.ID {
		t.Errorf("two sold-out messages of one event: %s %s", a.ID, b.ID)
	}
}
