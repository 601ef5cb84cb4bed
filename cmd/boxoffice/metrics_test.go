package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/api"
)

// sample is one series of a scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads GET /metrics in the Prometheus text format.
func scrape(t *testing.T, base string) []sample {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		s := sample{name: line[:cut], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, m := range labelRE.FindAllStringSubmatch(s.name[i:], -1) {
				s.labels[m[1]] = m[2]
			}
			s.name = s.name[:i]
		}
		out = append(out, s)
	}
	return out
}

// find returns the samples of name whose labels include want.
func find(all []sample, name string, want map[string]string) []sample {
	var out []sample
	for _, s := range all {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func sum(ss []sample) float64 {
	t := 0.0
	for _, s := range ss {
		t += s.value
	}
	return t
}

// operations returns "METHOD path" for every operation of the OpenAPI
// document.
func operations(t *testing.T) []string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// TestMetricsEndToEnd runs the real server, exercises every route, and
// checks the scrape: metric names and labels, route patterns instead of
// paths, the business counters, and that a thousand events outside their
// sales window add no series.
func TestMetricsEndToEnd(t *testing.T) {
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL":     "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
		"BOXOFFICE_ADMIN_EMAIL":      "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD":   "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":      "4",
		"BOXOFFICE_METRICS_INTERVAL": "50ms",
	})
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}
	if code := (client{t: t, base: in.url}).do("POST", "/api/v1/users", map[string]string{"email": "fan@example.com", "password": "stage-door-123", "name": "Fan"}, nil); code != 201 {
		t.Fatalf("sign-up: %d", code)
	}
	fan := client{t: t, base: in.url, token: signIn(t, in.url, "fan@example.com", "stage-door-123")}

	now := time.Now().UTC()
	type event struct {
		ID    string
		Tiers []struct{ ID string }
	}
	create := func(title string, salesStart time.Time, queue map[string]any) event {
		t.Helper()
		body := map[string]any{
			"title": title, "venue": "Arena", "starts_at": salesStart.Add(48 * time.Hour),
			"sales_start_at": salesStart, "sales_end_at": salesStart.Add(24 * time.Hour), "max_tickets_per_user": 4,
			"tiers": []any{
				map[string]any{"name": "GA", "price": map[string]any{"amount": 100, "currency": "USD"}, "capacity": 100},
				map[string]any{"name": "VIP", "price": map[string]any{"amount": 900, "currency": "USD"}, "capacity": 10},
			},
		}
		if queue != nil {
			body["queue"] = queue
		}
		var e event
		if code := admin.do("POST", "/api/v1/events", body, &e); code != 201 {
			t.Fatalf("create event %s: %d", title, code)
		}
		return e
	}
	open := create("Open", now.Add(-time.Minute), nil)
	slow := create("Slow queue", now.Add(-time.Minute), map[string]any{"enabled": true, "admit_per_minute": 1})
	fast := create("Fast queue", now.Add(-time.Minute), map[string]any{"enabled": true, "admit_per_minute": 6000})
	gone := create("Gone", now.Add(time.Hour), nil)

	// Every route, successfully where it is cheap to.
	expect := func(code, want int, what string) {
		t.Helper()
		if code != want {
			t.Errorf("%s: %d, want %d", what, code, want)
		}
	}
	var me struct{ ID string }
	expect(fan.do("GET", "/api/v1/users/me", nil, &me), 200, "me")
	expect(admin.do("PATCH", "/api/v1/users/"+me.ID, map[string]any{}, nil), 200, "patch a user (no change)")
	expect((client{t: t, base: in.url}).do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": "unknown"}, nil), 401, "refresh an unknown token")
	expect((client{t: t, base: in.url}).do("POST", "/api/v1/users/me/sign-out-everywhere", nil, nil), 401, "sign out everywhere, anonymously")
	expect(fan.do("POST", "/api/v1/users/me/email/verify", map[string]string{"code": "12"}, nil), 422, "verify a malformed code")
	expect(fan.do("POST", "/api/v1/users/me/email/verification", nil, nil), 429, "resend right after sign-up")
	expect(fan.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": "nobody@example.com"}, nil), 202, "reset request")
	expect(fan.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": "bad", "password": "password-456"}, nil), 422, "reset with a bad token")
	expect(fan.do("GET", "/api/v1/events?on_sale=true", nil, nil), 200, "list events")
	expect(fan.do("GET", "/api/v1/events/"+open.ID, nil, nil), 200, "get event")
	expect(fan.do("GET", "/api/v1/events/"+open.ID, nil, nil), 200, "get event (cached)")
	expect(admin.do("PATCH", "/api/v1/events/"+open.ID, map[string]any{"description": "Now with metrics"}, nil), 200, "patch event")
	expect(admin.do("GET", "/api/v1/events/"+open.ID+"/sales", nil, nil), 200, "sales")
	expect(admin.do("GET", "/api/v1/events/"+open.ID+"/attendees?q=ada", nil, nil), 200, "attendees")
	expect(admin.do("GET", "/api/v1/events/"+open.ID+"/attendees.csv", nil, nil), 200, "attendee export")
	expect(admin.do("DELETE", "/api/v1/events/"+gone.ID, nil, nil), 204, "delete event")
	expect(fan.do("PUT", "/api/v1/users/me/bookmarks/"+open.ID, nil, nil), 204, "bookmark")
	expect(fan.do("GET", "/api/v1/users/me/bookmarks", nil, nil), 200, "bookmarks")
	expect(fan.do("DELETE", "/api/v1/users/me/bookmarks/"+open.ID, nil, nil), 204, "unbookmark")
	var r1, r2 struct{ ID string }
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/reservations", map[string]any{"tier_id": open.Tiers[0].ID, "quantity": 1}, &r1), 201, "hold")
	expect(fan.do("GET", "/api/v1/reservations/"+r1.ID, nil, nil), 200, "get reservation")
	expect(fan.do("PATCH", "/api/v1/reservations/"+r1.ID, map[string]any{"quantity": 2}, nil), 200, "change quantity")
	expect(fan.do("POST", "/api/v1/reservations/"+r1.ID+"/confirm", map[string]any{"payment_token": "tok_visa"}, nil), 200, "confirm")
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/reservations", map[string]any{"tier_id": open.Tiers[1].ID, "quantity": 1}, &r2), 201, "hold 2")
	expect(fan.do("POST", "/api/v1/reservations/"+r2.ID+"/cancel", nil, nil), 200, "cancel")
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/reservations", map[string]any{"tier_id": open.Tiers[1].ID, "quantity": 5}, nil), 409, "over the limit")
	expect(fan.do("GET", "/api/v1/users/me/reservations", nil, nil), 200, "my reservations")
	var o1, o2 struct {
		ID string `json:"id"`
	}
	oneTicket := map[string]any{"lines": []map[string]any{{"tier_id": open.Tiers[0].ID, "quantity": 1}}}
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/orders", oneTicket, &o1), 201, "order")
	expect(fan.do("GET", "/api/v1/orders/"+o1.ID, nil, nil), 200, "get order")
	expect(fan.do("POST", "/api/v1/orders/"+o1.ID+"/cancel", nil, nil), 200, "cancel order")
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/orders", oneTicket, &o2), 201, "order 2")
	expect(fan.do("POST", "/api/v1/orders/"+o2.ID+"/payments", map[string]any{"payment_token": "tok_visa"}, nil), 201, "pay")
	expect(fan.do("POST", "/api/v1/orders/"+o2.ID+"/refunds", nil, nil), 201, "refund")
	expect(fan.do("GET", "/api/v1/orders/"+o2.ID+"/refunds", nil, nil), 200, "refunds")
	expect(fan.do("GET", "/api/v1/users/me/orders", nil, nil), 200, "my orders")
	var o3 struct {
		ID string `json:"id"`
	}
	var tickets struct {
		Items []struct{ ID, Code string }
	}
	expect(fan.do("POST", "/api/v1/events/"+open.ID+"/orders", oneTicket, &o3), 201, "order 3")
	expect(fan.do("POST", "/api/v1/orders/"+o3.ID+"/payments", map[string]any{"payment_token": "tok_visa"}, nil), 201, "pay 3")
	expect(fan.do("GET", "/api/v1/orders/"+o3.ID+"/tickets", nil, &tickets), 200, "tickets")
	tk := tickets.Items[0]
	expect(fan.do("GET", "/api/v1/orders/"+o3.ID+"/tickets.pdf", nil, nil), 200, "tickets pdf")
	expect(fan.do("GET", "/api/v1/tickets/"+tk.ID, nil, nil), 200, "ticket")
	expect(fan.do("GET", "/api/v1/tickets/"+tk.ID+"/qr.png", nil, nil), 200, "qr png")
	expect(fan.do("GET", "/api/v1/tickets/"+tk.ID+"/qr.svg", nil, nil), 200, "qr svg")
	expect(fan.do("GET", "/api/v1/tickets/"+tk.ID+"/ticket.pdf", nil, nil), 200, "ticket pdf")
	expect(fan.do("PATCH", "/api/v1/tickets/"+tk.ID, map[string]any{"attendee_name": "Cy"}, &tk), 200, "rename ticket")
	door := "/api/v1/events/" + open.ID
	expect(admin.do("PUT", door+"/gates/North", map[string]any{"tiers": []string{}}, nil), 200, "put gate")
	expect(admin.do("PUT", door+"/staff/"+me.ID, map[string]any{"role": "scanner"}, nil), 200, "put staff")
	expect(admin.do("GET", door+"/staff", nil, nil), 200, "staff")
	expect(fan.do("GET", door+"/checkin-bundle", nil, nil), 200, "bundle")
	expect(fan.do("POST", door+"/checkins", map[string]any{"code": tk.Code, "gate": "North"}, nil), 200, "scan")
	expect(fan.do("POST", door+"/checkins/batch", map[string]any{"device_id": "d", "scans": []map[string]any{
		{"scan_id": "1", "code": tk.Code, "scanned_at": time.Now().UTC().Format(time.RFC3339)}}}, nil), 200, "scan batch")
	expect(fan.do("GET", door+"/gates", nil, nil), 200, "gates")
	expect(admin.do("GET", door+"/checkins/conflicts", nil, nil), 200, "conflicts")
	expect(admin.do("DELETE", door+"/checkins/"+tk.ID, nil, nil), 200, "undo check-in")
	expect(admin.do("DELETE", door+"/gates/North", nil, nil), 204, "delete gate")
	expect(admin.do("DELETE", door+"/staff/"+me.ID, nil, nil), 204, "delete staff")
	hooks := "/api/v1/organizers/" + boxoffice.DefaultOrganizerID + "/webhooks"
	var hook struct{ ID string }
	expect(admin.do("POST", hooks, map[string]any{"url": "https://hooks.example.com/in", "events": []string{"event.cancelled"}}, &hook), 201, "create webhook")
	expect(admin.do("GET", hooks, nil, nil), 200, "webhooks")
	expect(admin.do("GET", hooks+"/"+hook.ID, nil, nil), 200, "webhook")
	expect(admin.do("PATCH", hooks+"/"+hook.ID, map[string]any{"enabled": false}, nil), 200, "update webhook")
	expect(admin.do("GET", hooks+"/"+hook.ID+"/deliveries", nil, nil), 200, "deliveries")
	expect(admin.do("POST", hooks+"/"+hook.ID+"/deliveries/"+boxoffice.NewID()+"/retry", nil, nil), 409, "retry on a disabled endpoint")
	expect(admin.do("DELETE", hooks+"/"+hook.ID, nil, nil), 204, "delete webhook")
	var org, key struct {
		ID string `json:"id"`
	}
	expect(admin.do("POST", "/api/v1/organizers", map[string]any{"name": "Metrics Org"}, &org), 201, "create organizer")
	expect(admin.do("GET", "/api/v1/organizers/"+org.ID, nil, nil), 200, "organizer")
	expect(admin.do("PUT", "/api/v1/organizers/"+org.ID+"/members/"+me.ID, map[string]any{"role": "staff"}, nil), 200, "put member")
	expect(admin.do("GET", "/api/v1/organizers/"+org.ID+"/members", nil, nil), 200, "members")
	expect(admin.do("GET", "/api/v1/organizers/"+org.ID+"/events", nil, nil), 200, "organizer's events")
	expect(admin.do("GET", "/api/v1/users/me/organizers", nil, nil), 200, "my organizers")
	expect(admin.do("DELETE", "/api/v1/organizers/"+org.ID+"/members/"+me.ID, nil, nil), 204, "delete member")
	expect(admin.do("POST", "/api/v1/organizers/"+org.ID+"/api-keys", map[string]any{"name": "k", "role": "staff"}, &key), 201, "create key")
	expect(admin.do("GET", "/api/v1/organizers/"+org.ID+"/api-keys", nil, nil), 200, "keys")
	expect(admin.do("DELETE", "/api/v1/organizers/"+org.ID+"/api-keys/"+key.ID, nil, nil), 204, "revoke key")
	expect(admin.do("POST", "/api/v1/events/"+open.ID+"/publish", nil, nil), 409, "publish a published event")
	expect(admin.do("GET", "/api/v1/organizers/"+org.ID+"/audit", nil, nil), 200, "audit log")
	expect(admin.do("POST", "/api/v1/events/"+boxoffice.NewID()+"/cancel", nil, nil), 404, "cancel an unknown event")
	expect(fan.do("POST", "/api/v1/payments/webhooks/test", map[string]any{"id": "evt"}, nil), 401, "unsigned callback")
	expect(fan.do("GET", "/healthz", nil, nil), 200, "healthz")
	expect(fan.do("GET", "/readyz", nil, nil), 200, "readyz")
	expect(fan.do("GET", "/api/v1/openapi.json", nil, nil), 200, "openapi")
	expect(fan.do("GET", "/api/v1/no/such/thing", nil, nil), 404, "unmatched")

	// The waiting rooms: one that admits at once, one that keeps the fan
	// waiting with a status stream open.
	expect(fan.do("POST", "/api/v1/events/"+fast.ID+"/queue", nil, nil), 200, "join fast")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct{ Status string }
		expect(fan.do("GET", "/api/v1/events/"+fast.ID+"/queue", nil, &st), 200, "queue status")
		if st.Status == "admitted" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not admitted: %q", st.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	expect(fan.do("DELETE", "/api/v1/events/"+fast.ID+"/queue", nil, nil), 204, "leave")
	expect(fan.do("POST", "/api/v1/events/"+slow.ID+"/queue", nil, nil), 200, "join slow")
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", in.url+"/api/v1/events/"+slow.ID+"/queue/stream", nil)
	req.Header.Set("Authorization", "Bearer "+fan.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 64)
	if _, err := resp.Body.Read(first); err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %d %v", resp.StatusCode, err)
	}
	during := scrape(t, in.metricsURL)
	if got := sum(find(during, "boxoffice_queue_streams", nil)); got != 1 {
		t.Errorf("boxoffice_queue_streams = %v with one stream open", got)
	}
	// The scrape is no API request: only the stream is in flight.
	if got := sum(find(during, "boxoffice_http_requests_in_flight", nil)); got != 1 {
		t.Errorf("in flight = %v during a stream (and a scrape on the metrics listener)", got)
	}
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	// Let the gauges of the events on sale refresh, then look.
	waitRefresh := func() []sample {
		t.Helper()
		last := sum(find(scrape(t, in.metricsURL), "boxoffice_onsale_refresh_timestamp_seconds", nil))
		for range 2 { // a refresh that started before now may miss recent writes
			deadline := time.Now().Add(10 * time.Second)
			for {
				now := sum(find(scrape(t, in.metricsURL), "boxoffice_onsale_refresh_timestamp_seconds", nil))
				if now > last {
					last = now
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the gauges of the events on sale are not refreshed")
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return scrape(t, in.metricsURL)
	}
	before := waitRefresh()
	// Held and confirmed tickets come from the audit, which counts
	// reservations every 20 refreshes (and when an event is first seen).
	// A tier's drift is reported only from an audit during which its
	// counter did not move, so wait for one that saw all six tiers still.
	audited := func(ss []sample) bool {
		return sum(find(ss, "boxoffice_tier_confirmed_tickets", map[string]string{"tier_id": open.Tiers[0].ID})) >= 2 &&
			len(find(ss, "boxoffice_tier_inventory_drift_tickets", nil)) == 6
	}
	for deadline := time.Now().Add(20 * time.Second); !audited(before); {
		if time.Now().After(deadline) {
			t.Fatal("no audit counted the confirmed tickets and saw every tier still")
		}
		before = waitRefresh()
	}

	// Every route of the API appears by its pattern, and nothing else does.
	routes := map[string]bool{}
	for _, s := range find(before, "boxoffice_http_request_duration_seconds_count", nil) {
		routes[s.labels["method"]+" "+s.labels["route"]] = true
		if r := s.labels["route"]; r != "unmatched" && !strings.HasPrefix(r, "/") || regexp.MustCompile(`[0-9A-Z]{26}`).MatchString(r) {
			t.Errorf("route label %q is not a pattern", r)
		}
		if !slices.Contains([]string{"1xx", "2xx", "3xx", "4xx", "5xx"}, s.labels["status"]) {
			t.Errorf("status label %q", s.labels["status"])
		}
	}
	for _, op := range operations(t) {
		if !routes[op] {
			t.Errorf("no request metrics for %s", op)
		}
		delete(routes, op)
	}
	delete(routes, "GET unmatched")
	if len(routes) > 0 {
		t.Errorf("request metrics for routes the API does not have: %v", routes)
	}

	// Names and label sets.
	wantLabels := map[string]string{
		"boxoffice_http_request_duration_seconds_bucket":      "le,method,route,status",
		"boxoffice_http_requests_in_flight":                   "",
		"boxoffice_http_problems_total":                       "code",
		"boxoffice_hold_requests_total":                       "result",
		"boxoffice_holds_total":                               "step",
		"boxoffice_hold_batch_size_bucket":                    "le",
		"boxoffice_hold_batch_duration_seconds_bucket":        "le",
		"boxoffice_hold_sweeps_total":                         "result",
		"boxoffice_hold_sweep_last_success_timestamp_seconds": "",
		"boxoffice_hold_sweep_interval_seconds":               "",
		"boxoffice_cache_requests_total":                      "result",
		"boxoffice_queue_joins_total":                         "",
		"boxoffice_queue_admissions_total":                    "event_id",
		"boxoffice_queue_streams":                             "",
		"boxoffice_queue_waiting":                             "event_id",
		"boxoffice_queue_admitted":                            "event_id",
		"boxoffice_queue_in_flight":                           "event_id",
		"boxoffice_queue_admission_pace":                      "event_id",
		"boxoffice_queue_sold_out":                            "event_id",
		"boxoffice_onsale_event_info":                         "event,event_id",
		"boxoffice_tier_capacity_tickets":                     "event_id,tier,tier_id",
		"boxoffice_tier_available_tickets":                    "event_id,tier,tier_id",
		"boxoffice_tier_held_tickets":                         "event_id,tier,tier_id",
		"boxoffice_tier_confirmed_tickets":                    "event_id,tier,tier_id",
		"boxoffice_tier_inventory_drift_tickets":              "event_id,tier,tier_id",
		"boxoffice_onsale_events":                             "",
		"boxoffice_db_pool_in_use_connections":                "pool",
		"boxoffice_db_pool_max_open_connections":              "pool",
		"boxoffice_db_pool_wait_duration_seconds_total":       "pool",
		"boxoffice_password_hash_waiting":                     "",
		"boxoffice_password_hash_rejected_total":              "",
		"boxoffice_build_info":                                "commit,version",
		"go_goroutines":                                       "",
		"process_cpu_seconds_total":                           "",
	}
	for name, want := range wantLabels {
		ss := find(before, name, nil)
		if len(ss) == 0 {
			t.Errorf("no series of %s", name)
			continue
		}
		for _, s := range ss {
			var got []string
			for k := range s.labels {
				got = append(got, k)
			}
			slices.Sort(got)
			if strings.Join(got, ",") != want {
				t.Errorf("%s has labels %v, want %s", name, got, want)
				break
			}
		}
	}

	// The business counters moved.
	atLeast := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := sum(find(before, name, labels)); got < want {
			t.Errorf("%s%v = %v, want at least %v", name, labels, got, want)
		}
	}
	atLeast("boxoffice_holds_total", map[string]string{"step": "created"}, 2)
	atLeast("boxoffice_holds_total", map[string]string{"step": "confirmed"}, 1)
	atLeast("boxoffice_holds_total", map[string]string{"step": "cancelled"}, 1)
	atLeast("boxoffice_hold_requests_total", map[string]string{"result": "granted"}, 2)
	atLeast("boxoffice_hold_batch_size_count", nil, 2)
	atLeast("boxoffice_http_problems_total", map[string]string{"code": "not_found"}, 1)
	atLeast("boxoffice_http_problems_total", map[string]string{"code": "limit_exceeded"}, 1)
	atLeast("boxoffice_cache_requests_total", map[string]string{"result": "hit"}, 1)
	atLeast("boxoffice_queue_joins_total", nil, 2)
	atLeast("boxoffice_queue_admissions_total", map[string]string{"event_id": fast.ID}, 1)
	atLeast("boxoffice_queue_waiting", map[string]string{"event_id": slow.ID}, 1)
	atLeast("boxoffice_tier_confirmed_tickets", map[string]string{"tier_id": open.Tiers[0].ID}, 2)
	atLeast("boxoffice_hold_sweeps_total", map[string]string{"result": "ok"}, 1)
	if got := sum(find(before, "boxoffice_hold_sweep_interval_seconds", nil)); got != 1 {
		t.Errorf("hold sweep interval = %v s, want 1", got)
	}
	if got := sum(find(before, "boxoffice_tier_available_tickets", map[string]string{"tier_id": open.Tiers[0].ID})); got != 97 { // two confirmed, one paid order
		t.Errorf("tickets left in GA = %v, want 97", got)
	}
	if got := sum(find(before, "boxoffice_onsale_events", nil)); got != 3 {
		t.Errorf("events on sale followed = %v, want 3", got)
	}
	if ss := find(before, "boxoffice_tier_inventory_drift_tickets", nil); len(ss) != 6 || sum(ss) != 0 {
		t.Errorf("inventory drift: %v", ss)
	}

	// A thousand events outside their sales window add no series.
	var wg sync.WaitGroup
	ids := make(chan string, 1000)
	sem := make(chan struct{}, 8)
	for i := range 1000 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			start := now.Add(time.Duration(1+i%50) * time.Hour)
			if i%2 == 1 {
				start = now.Add(-72 * time.Hour) // sales over
			}
			var e event
			code := admin.do("POST", "/api/v1/events", map[string]any{
				"title": fmt.Sprintf("Off %d", i), "venue": "Hall", "starts_at": now.Add(96 * time.Hour),
				"sales_start_at": start, "sales_end_at": start.Add(time.Hour), "max_tickets_per_user": 4,
				"queue": map[string]any{"enabled": i%3 == 0, "admit_per_minute": 60},
				"tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 100, "currency": "USD"}, "capacity": 10}},
			}, &e)
			if code != 201 {
				t.Errorf("create off-sale event: %d", code)
			}
			ids <- e.ID
		})
	}
	wg.Wait()
	close(ids)
	after := waitRefresh()
	t.Logf("%d series before and %d after creating 1,000 events off sale", len(before), len(after))
	// The on-sale events' series come and go with their activity (a
	// drift needs a still counter, a slow queue's first admission adds a
	// counter), so allow a few; a thousand events leaking into the
	// metrics would add a thousand or more. The label check below is exact.
	if len(after) > len(before)+20 {
		seen := map[string]bool{}
		for _, s := range before {
			seen[fmt.Sprint(s.name, s.labels)] = true
		}
		for _, s := range after {
			if !seen[fmt.Sprint(s.name, s.labels)] {
				t.Logf("new: %s %v", s.name, s.labels)
			}
		}
		t.Errorf("series grew from %d to %d with 1,000 events off sale", len(before), len(after))
	}
	labelled := map[string]bool{}
	for _, s := range after {
		for _, v := range s.labels {
			labelled[v] = true
		}
	}
	for id := range ids {
		if labelled[id] {
			t.Errorf("event %s, off sale, has series", id)
		}
	}
}

func TestMetricsOff(t *testing.T) {
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
		"BOXOFFICE_METRICS":      "false",
	})
	if code := (client{t: t, base: in.url}).do("GET", "/metrics", nil, nil); code != 404 {
		t.Fatalf("GET /metrics with metrics off: %d", code)
	}
	if in.metricsURL != "" {
		t.Fatalf("a metrics listener at %s with metrics off", in.metricsURL)
	}
	if _, err := loadConfig(envOf(map[string]string{"BOXOFFICE_METRICS": "sometimes", "BOXOFFICE_METRICS_INTERVAL": "1ms", "BOXOFFICE_METRICS_MAX_EVENTS": "0"})); err == nil ||
		!strings.Contains(err.Error(), "BOXOFFICE_METRICS:") || !strings.Contains(err.Error(), "BOXOFFICE_METRICS_INTERVAL") || !strings.Contains(err.Error(), "BOXOFFICE_METRICS_MAX_EVENTS") {
		t.Fatalf("bad metrics config: %v", err)
	}
}

// TestMetricsPrivate checks that the metrics, which show sales figures, are
// served only on their own listener: the public port answers 404.
func TestMetricsPrivate(t *testing.T) {
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
	})
	if got := find(scrape(t, in.metricsURL), "boxoffice_build_info", nil); len(got) == 0 {
		t.Error("no boxoffice_build_info on the metrics listener")
	}
	resp, err := http.Get(in.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.Contains(string(body), "boxoffice_") {
		t.Errorf("GET /metrics on the public port: %d %.200s", resp.StatusCode, body)
	}
	// The metrics listener serves nothing else.
	if code := (client{t: t, base: in.metricsURL}).do("GET", "/api/v1/events", nil, nil); code != 404 {
		t.Errorf("GET /api/v1/events on the metrics listener: %d", code)
	}
}

func TestMetricsAddrConfig(t *testing.T) {
	cfg, err := loadConfig(envOf(nil))
	if err != nil || cfg.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("default metrics address %q, %v; want loopback", cfg.MetricsAddr, err)
	}
	for _, bad := range []string{"9464", "localhost", ":8080"} {
		_, err := loadConfig(envOf(map[string]string{"BOXOFFICE_ADDR": ":8080", "BOXOFFICE_METRICS_ADDR": bad}))
		if err == nil || !strings.Contains(err.Error(), "BOXOFFICE_METRICS_ADDR") {
			t.Errorf("BOXOFFICE_METRICS_ADDR=%s: %v", bad, err)
		}
	}
	// With metrics off the address does not matter beyond its form.
	if _, err := loadConfig(envOf(map[string]string{"BOXOFFICE_ADDR": ":8080", "BOXOFFICE_METRICS_ADDR": ":8080", "BOXOFFICE_METRICS": "false"})); err != nil {
		t.Errorf("metrics off on the API's address: %v", err)
	}
}
