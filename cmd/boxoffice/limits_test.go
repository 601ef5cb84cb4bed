package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

// defaultLimits returns env with every rate limit at its default (the
// tests' startInstance turns those env leaves out off).
func defaultLimits(env map[string]string) map[string]string {
	for _, spec := range boxoffice.LimitSpecs() {
		env[limitEnv(spec)] = spec.Default.String()
	}
	env["BOXOFFICE_STREAMS_PER_USER"] = strconv.Itoa(boxoffice.DefaultStreamsPerUser)
	return env
}

// from returns an HTTP client whose connections come from the loopback
// address ip (any 127.0.0.0/8 address works on Linux), so a test can play
// clients at different addresses against one server.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// send sends one JSON request with hc and returns the response, its body
// read.
func send(t *testing.T, hc *http.Client, method, url, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func limitedInstance(t *testing.T) *instance {
	return startInstance(t, defaultLimits(map[string]string{
		"BOXOFFICE_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
		"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":    "4",
		"BOXOFFICE_LOG_LEVEL":      "error",
	}))
}

// TestSybilSignUpsFromOneAddress: one address signs up 20 accounts an hour
// by default; the next answers 429 with a Retry-After, while another
// address still signs up.
func TestSybilSignUpsFromOneAddress(t *testing.T) {
	in := limitedInstance(t)
	sybil := from("127.0.0.3")
	for i := range 21 {
		resp, body := send(t, sybil, "POST", in.url+"/api/v1/users", "", map[string]string{
			"email": fmt.Sprintf("sybil%d@example.com", i), "password": "stage-door-123", "name": "Sybil",
		})
		switch {
		case i < 20 && resp.StatusCode != http.StatusCreated:
			t.Fatalf("sign-up %d: %d %s", i+1, resp.StatusCode, body)
		case i == 20:
			if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "rate_limited") {
				t.Fatalf("sign-up 21 from one address: %d %s, want 429 rate_limited", resp.StatusCode, body)
			}
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 3500 || secs > 3600 {
				t.Fatalf("Retry-After = %q, want about an hour", resp.Header.Get("Retry-After"))
			}
		}
	}
	if resp, body := send(t, from("127.0.0.5"), "POST", in.url+"/api/v1/users", "", map[string]string{
		"email": "fan@example.com", "password": "stage-door-123", "name": "Fan",
	}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up from another address: %d %s", resp.StatusCode, body)
	}
}

// TestSignInCannotLockOutTheAdmin: guesses at the admin's email from one
// address throttle that address, not the admin at theirs.
func TestSignInCannotLockOutTheAdmin(t *testing.T) {
	in := limitedInstance(t)
	attacker, admin := from("127.0.0.4"), from("127.0.0.1")
	throttled := 0
	for range 15 {
		resp, _ := send(t, attacker, "POST", in.url+"/api/v1/auth/token", "", map[string]string{"email": "admin@example.com", "password": "guess-guess"})
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("15 guesses from one address were never throttled")
	}
	if resp, body := send(t, admin, "POST", in.url+"/api/v1/auth/token", "", map[string]string{"email": "admin@example.com", "password": "admin-secret-pw"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("the admin from their own address: %d %s, want 200", resp.StatusCode, body)
	}
}

// TestStreamsPerUser: one user keeps at most 3 waiting-room streams open
// by default; the 4th answers 429 until one closes.
func TestStreamsPerUser(t *testing.T) {
	in := limitedInstance(t)
	hc := from("127.0.0.1")
	admin := signIn(t, in.url, "admin@example.com", "admin-secret-pw")
	now := time.Now().UTC()
	var ev struct{ ID string }
	if resp, body := send(t, hc, "POST", in.url+"/api/v1/events", admin, map[string]any{
		"title": "Stream Show", "venue": "Arena", "starts_at": now.Add(48 * time.Hour),
		"sales_start_at": now.Add(time.Hour), "sales_end_at": now.Add(24 * time.Hour), "max_tickets_per_user": 2,
		"queue": map[string]any{"enabled": true, "admit_per_minute": 60},
		"tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": 10}},
	}); resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &ev) != nil {
		t.Fatalf("create event: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, hc, "POST", in.url+"/api/v1/events/"+ev.ID+"/queue", admin, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("join: %d %s", resp.StatusCode, body)
	}
	open := func() (*http.Response, context.CancelFunc) {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", in.url+"/api/v1/events/"+ev.ID+"/queue/stream", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp, cancel
	}
	var closers []context.CancelFunc
	for i := range 3 {
		resp, cancel := open()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
		// The first status event says the stream is being served.
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		closers = append(closers, cancel)
	}
	resp, _ := open()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th stream: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	closers[0]()
	// The server notices the closed stream when its context ends; a hang
	// guard, not a timing assertion.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := open()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream after one closed: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSybilOneAddress replays the throwaway-account attack with the default
// limits: one actor at one address signs up as fast as it can, every
// account joins the waiting room and holds 2 of 100 tickets. Within the
// hour it gets 20 accounts, so at most 40 tickets; the test logs the
// figures.
func TestSybilOneAddress(t *testing.T) {
	in := limitedInstance(t)
	hc := from("127.0.0.6")
	admin := signIn(t, in.url, "admin@example.com", "admin-secret-pw")
	now := time.Now().UTC()
	var ev struct {
		ID    string
		Tiers []struct{ ID string }
	}
	if resp, body := send(t, hc, "POST", in.url+"/api/v1/events", admin, map[string]any{
		"title": "Sybil Show", "venue": "Arena", "starts_at": now.Add(48 * time.Hour),
		"sales_start_at": now.Add(-time.Minute), "sales_end_at": now.Add(24 * time.Hour), "max_tickets_per_user": 2,
		"queue": map[string]any{"enabled": true, "admit_per_minute": 6000},
		"tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": 100}},
	}); resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &ev) != nil {
		t.Fatalf("create event: %d %s", resp.StatusCode, body)
	}
	start := time.Now()
	var tokens []string
	refused := 0
	for i := range 40 {
		email := fmt.Sprintf("sybil%d@example.com", i)
		resp, _ := send(t, hc, "POST", in.url+"/api/v1/users", "", map[string]string{"email": email, "password": "stage-door-123", "name": "Sybil"})
		if resp.StatusCode != http.StatusCreated {
			refused++
			continue
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		resp, body := send(t, hc, "POST", in.url+"/api/v1/auth/token", "", map[string]string{"email": email, "password": "stage-door-123"})
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
		}
		tokens = append(tokens, tok.AccessToken)
	}
	for _, tok := range tokens {
		if resp, body := send(t, hc, "POST", in.url+"/api/v1/events/"+ev.ID+"/queue", tok, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("join: %d %s", resp.StatusCode, body)
		}
	}
	// Poll every account's status, a round at a time, until each is
	// admitted; each admitted account holds 2.
	held := 0
	admitted := make([]bool, len(tokens))
	for left, deadline := len(tokens), time.Now().Add(30*time.Second); left > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d accounts not admitted (a hang guard)", left)
		}
		for i, tok := range tokens {
			if admitted[i] {
				continue
			}
			var st queueStatus
			resp, body := send(t, hc, "GET", in.url+"/api/v1/events/"+ev.ID+"/queue", tok, nil)
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil {
				t.Fatalf("status: %d %s", resp.StatusCode, body)
			}
			if st.AdmissionToken == "" {
				continue
			}
			admitted[i], left = true, left-1
			req, _ := http.NewRequestWithContext(t.Context(), "POST", in.url+"/api/v1/events/"+ev.ID+"/reservations",
				strings.NewReader(fmt.Sprintf(`{"tier_id":%q,"quantity":2}`, ev.Tiers[0].ID)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Admission-Token", st.AdmissionToken)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				held += 2
			}
		}
	}
	t.Logf("one address: %d sign-ups accepted, %d refused (429); %d of 100 tickets held in %v", len(tokens), refused, held, time.Since(start).Round(time.Millisecond))
	if held > 40 {
		t.Fatalf("one address held %d tickets, want at most 40 (20 accounts an hour)", held)
	}
}

// TestNoLimitsScriptListsEveryLimit: scripts/nolimits.sh, which the load
// scripts source (all their clients come from 127.0.0.1), turns off every
// rate limit there is; a limit added without it would throttle the benchmarks.
func TestNoLimitsScriptListsEveryLimit(t *testing.T) {
	script, err := os.ReadFile("../../scripts/nolimits.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range limitEnvs() {
		if name == "BOXOFFICE_TRUSTED_PROXIES" {
			continue
		}
		short := strings.TrimPrefix(name, "BOXOFFICE_LIMIT_")
		if !regexp.MustCompile(`(^|\s)`+regexp.QuoteMeta(short)+`(\s|;|$)`).Match(script) && !strings.Contains(string(script), name) {
			t.Errorf("scripts/nolimits.sh does not turn off %s", name)
		}
	}
}
