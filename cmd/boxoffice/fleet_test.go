package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"boxoffice/internal/testdb"
)

// fleetRedisDB is the Redis database the fleet test uses, so the servers'
// fixed key prefix (bo:q:) and coordinator lease do not meet those of a
// developer's server on database 0 or of scripts/fleet.sh (database 1).
const fleetRedisDB = "13"

// call sends one request with optional headers and decodes a JSON answer.
func call(t *testing.T, method, base, path, token string, header map[string]string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type queueStatus struct {
	Status         string `json:"status"`
	Position       int    `json:"position"`
	AdmissionToken string `json:"admission_token"`
}

// waitAdmitted polls the queue status, each poll on the next of bases,
// until the user is admitted, and returns the admission token.
func waitAdmitted(t *testing.T, bases []string, eventID, token string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		var st queueStatus
		code := call(t, "GET", bases[i%len(bases)], "/api/v1/events/"+eventID+"/queue", token, nil, nil, &st)
		if code == 200 && st.Status == "admitted" && st.AdmissionToken != "" {
			return st.AdmissionToken
		}
		if code != 200 || (st.Status != "waiting" && st.Status != "admitted") {
			t.Fatalf("queue status on %s: %d %+v", bases[i%len(bases)], code, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("not admitted within 20s")
	return ""
}

// TestFleetInstancesAreInterchangeable runs three servers the way the Helm
// chart does (migrations first, then pods with BOXOFFICE_MIGRATE=false) on
// one MariaDB and one Redis with a shared JWT secret, and shows that any
// instance serves any step: a fan signs up and signs in on the first, joins
// the waiting room on the second, is admitted by whichever instance holds
// the coordinator lease, holds tickets on the third with the admission token,
// and reads the hold back on the first. Then one instance stops and the other
// two keep admitting and selling.
func TestFleetInstancesAreInterchangeable(t *testing.T) {
	dbURL := testdb.MySQLURL(t)
	redisBase := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if redisBase == "" {
		t.Skip("Redis-backed fleet test skipped: set BOXOFFICE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	ru, err := url.Parse(redisBase)
	if err != nil {
		t.Fatalf("BOXOFFICE_TEST_REDIS_URL: %v", err)
	}
	ru.Path = "/" + fleetRedisDB
	env := func() map[string]string {
		return map[string]string{
			"BOXOFFICE_DATABASE_URL":   dbURL,
			"BOXOFFICE_REDIS_URL":      ru.String(),
			"BOXOFFICE_JWT_SECRET":     "fleet-secret-shared-by-every-instance-0123",
			"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
			"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
			"BOXOFFICE_BCRYPT_COST":    "4",
			"BOXOFFICE_LOG_LEVEL":      "error",
		}
	}
	// The chart's migration hook: `boxoffice migrate`, once, before the pods.
	if err := run(t.Context(), []string{"migrate"}, envOf(env()), nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var fleet []*instance
	var bases []string
	for range 3 {
		e := env()
		e["BOXOFFICE_MIGRATE"] = "false"
		in := startInstance(t, e)
		fleet = append(fleet, in)
		bases = append(bases, in.url)
	}
	a, b, c := bases[0], bases[1], bases[2]

	admin := signIn(t, b, "admin@example.com", "admin-secret-pw")
	now := time.Now().UTC()
	var ev struct {
		ID    string
		Tiers []struct{ ID string }
	}
	if code := call(t, "POST", b, "/api/v1/events", admin, nil, map[string]any{
		"title": "Fleet Show", "venue": "Arena", "starts_at": now.Add(24 * time.Hour),
		"sales_start_at": now.Add(-time.Minute), "sales_end_at": now.Add(time.Hour), "max_tickets_per_user": 2,
		"queue": map[string]any{"enabled": true, "admit_per_minute": 6000},
		"tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": 10}},
	}, &ev); code != 201 {
		t.Fatalf("create event on %s: %d", b, code)
	}

	buy := func(email, joinOn, holdOn, readOn string, pollOn []string) {
		t.Helper()
		if code := call(t, "POST", joinOn, "/api/v1/users", "", nil, map[string]string{"email": email, "password": "stage-door-123", "name": "Fan"}, nil); code != 201 {
			t.Fatalf("sign-up: %d", code)
		}
		fan := signIn(t, joinOn, email, "stage-door-123")
		var st queueStatus
		if code := call(t, "POST", joinOn, "/api/v1/events/"+ev.ID+"/queue", fan, nil, nil, &st); code != 200 {
			t.Fatalf("join on %s: %d", joinOn, code)
		}
		admission := waitAdmitted(t, pollOn, ev.ID, fan)
		var res struct{ ID, Status string }
		if code := call(t, "POST", holdOn, "/api/v1/events/"+ev.ID+"/reservations", fan, map[string]string{"Admission-Token": admission},
			map[string]any{"tier_id": ev.Tiers[0].ID, "quantity": 2}, &res); code != 201 || res.Status != "held" {
			t.Fatalf("hold on %s: %d %+v", holdOn, code, res)
		}
		var got struct{ ID, Status string }
		if code := call(t, "GET", readOn, "/api/v1/reservations/"+res.ID, fan, nil, nil, &got); code != 200 || got.ID != res.ID {
			t.Fatalf("reservation %s read on %s: %d", res.ID, readOn, code)
		}
	}

	// Signed in on a, joined on b, polled everywhere, held on c, read on a.
	buy("fan1@example.com", a, c, a, bases)
	// A token without admission is refused on every instance.
	again := signIn(t, a, "fan1@example.com", "stage-door-123")
	for _, base := range bases {
		if code := call(t, "POST", base, "/api/v1/events/"+ev.ID+"/reservations", again, nil,
			map[string]any{"tier_id": ev.Tiers[0].ID, "quantity": 1}, nil); code != 403 {
			t.Errorf("hold without admission on %s: %d, want 403", base, code)
		}
	}

	// One instance goes away (a pod deleted mid-sale): whichever held the
	// coordinator lease, the other two keep admitting and selling.
	if err := fleet[0].stop(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	buy("fan2@example.com", b, c, b, []string{b, c})

	var sales struct {
		Tiers []struct{ Capacity, Held, Confirmed, Available int }
		Queue struct{ Waiting, Admitted int }
	}
	if code := call(t, "GET", c, "/api/v1/events/"+ev.ID+"/sales", admin, nil, nil, &sales); code != 200 {
		t.Fatalf("sales: %d", code)
	}
	if s := sales.Tiers[0]; s.Held != 4 || s.Available != 6 {
		t.Fatalf("sales after two holds of 2: %+v", s)
	}
}
