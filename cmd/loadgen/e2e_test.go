package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/httpapi"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/testpay"
)

const testSecret = "loadgen-test-secret-0123456789abcdef"

// startBoxoffice serves the real API on a seeded SQLite store: users seeded
// users, a few filler events, and a hot event whose only tier holds
// capacity tickets. It returns the base URL and the hot event and tier.
func startBoxoffice(t *testing.T, users, capacity int) (base, eventID, tierID string) {
	t.Helper()
	base, eventID, tiers := startServer(t, serverSpec{users: users, capacities: []int{capacity}, maxPerUser: 4})
	return base, eventID, tiers[0]
}

// serverSpec shapes the server startServer starts.
type serverSpec struct {
	users      int
	capacities []int // one tier of the hot event per entry, priced 5000, 3000, 1000 … USD cents
	maxPerUser int
	// paymentsSecret signs the test provider's callbacks ("": none taken).
	paymentsSecret string
}

// startServer serves the real API on a seeded SQLite store: spec.users
// seeded users, a few filler events, and a hot event with a tier per
// capacity. It returns the base URL, the hot event and its tiers.
func startServer(t *testing.T, spec serverSpec) (base, eventID string, tierIDs []string) {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "boxoffice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(4, 0, 0, 0)
	hash, err := hasher.Hash(ctx, "password123")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	hot := &boxoffice.Event{
		ID: boxoffice.NewID(), Title: "Hot", Venue: "Stadium",
		StartsAt: now.Add(24 * time.Hour), SalesStartAt: now.Add(-time.Minute), SalesEndAt: now.Add(time.Hour),
		MaxTicketsPerUser: spec.maxPerUser, HoldSeconds: 600, CreatedAt: now, UpdatedAt: now,
	}
	for i, c := range spec.capacities {
		tier := boxoffice.Tier{ID: boxoffice.NewID(), EventID: hot.ID, Name: fmt.Sprintf("Tier %d", i),
			Price: boxoffice.Money{Amount: int64(5000 - 2000*i), Currency: "USD"}, Capacity: c}
		hot.Tiers = append(hot.Tiers, tier)
		tierIDs = append(tierIDs, tier.ID)
	}
	if err := store.Seed(ctx, boxoffice.SeedSpec{Users: spec.users, PasswordHash: hash, Events: 45, HotEvent: hot, Now: now}, nil); err != nil {
		t.Fatal(err)
	}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: hasher, Provider: testpay.New(spec.paymentsSecret)})
	if _, err := svc.EnsureAdmin(ctx, "admin@example.test", "admin-password", "Admin"); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Run(runCtx) })
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Service: svc, Tokens: auth.NewTokens([]byte(testSecret), time.Hour)}))
	t.Cleanup(func() {
		srv.Close()
		stop()
		wg.Wait()
	})
	return srv.URL, hot.ID, tierIDs
}

// runLoadgen runs the command and returns its report and error.
func runLoadgen(t *testing.T, args ...string) (*Report, string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append(args, "-json", out), &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		if err == nil {
			t.Fatalf("no JSON report: %v", rerr)
		}
		return nil, stdout.String(), err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep, stdout.String(), err
}

func TestHoldAgainstRealServer(t *testing.T) {
	base, event, tier := startBoxoffice(t, 50, 40)
	for _, model := range [][]string{{"-rate", "300"}, {"-vus", "8"}} {
		t.Run(model[0], func(t *testing.T) {
			args := append([]string{"-scenario", "hold", "-targets", base, "-event", event, "-tier", tier,
				"-jwt-secret", testSecret, "-users", "50", "-duration", "1500ms",
				"-admin-email", "admin@example.test", "-admin-password", "admin-password", "-fail-on-unexpected"}, model...)
			rep, stdout, err := runLoadgen(t, args...)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if rep.Check == nil || !rep.Check.OK || rep.Check.Inconclusive {
				t.Fatalf("invariant check: %+v", rep.Check)
			}
			if rep.Unexpected != 0 || rep.Expected == 0 || rep.ByCode["sold_out"] == 0 {
				t.Fatalf("want only ok and sold_out answers, got ok=%d expected=%d unexpected=%d codes=%v", rep.OK, rep.Expected, rep.Unexpected, rep.ByCode)
			}
			if !strings.Contains(stdout, "invariants OK") || rep.Latency.Count != rep.Requests {
				t.Fatalf("summary or latency count is off: %d latencies for %d answers", rep.Latency.Count, rep.Requests)
			}
		})
	}
	// Both runs together sold exactly the capacity.
	rep, _, err := runLoadgen(t, "-scenario", "hold", "-targets", base, "-event", event, "-tier", tier,
		"-jwt-secret", testSecret, "-users", "50", "-vus", "2", "-duration", "300ms",
		"-admin-email", "admin@example.test", "-admin-password", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 0 || !strings.Contains(strings.Join(rep.Check.Lines, "\n"), "capacity 40 = held 40 + confirmed 0 + available 0") {
		t.Fatalf("after the sell-out: ok=%d, check %v", rep.OK, rep.Check.Lines)
	}
}

func TestHoldWithSignIn(t *testing.T) {
	base, event, tier := startBoxoffice(t, 5, 1000)
	rep, _, err := runLoadgen(t, "-scenario", "hold", "-targets", base, "-event", event, "-tier", tier,
		"-tokens", "signin", "-users", "5", "-vus", "2", "-duration", "2s", "-quiet")
	if err != nil {
		t.Fatal(err)
	}
	// 5 users × 4 tickets each: the rest is limit_exceeded. The run lasts
	// long enough that the last grant is never cut off by its end.
	if rep.OK != 20 || rep.ByCode["limit_exceeded"] == 0 || rep.Unexpected != 0 {
		t.Fatalf("ok=%d codes=%v unexpected=%d", rep.OK, rep.ByCode, rep.Unexpected)
	}
	if !strings.Contains(strings.Join(rep.Check.Lines, "\n"), "skipped") {
		t.Fatalf("without an admin the sales view should be skipped: %v", rep.Check.Lines)
	}
}

func TestBrowseAgainstRealServer(t *testing.T) {
	base, _, _ := startBoxoffice(t, 1, 10)
	rep, _, err := runLoadgen(t, "-scenario", "browse", "-targets", base+","+base, "-vus", "4", "-duration", "1s", "-fail-on-unexpected")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops["list"].Count == 0 || rep.Ops["get"].Count == 0 || rep.Unexpected != 0 {
		t.Fatalf("ops %v, unexpected %d", rep.Ops, rep.Unexpected)
	}
}

// fakeServer imitates the hold endpoints, with knobs to lose reservations
// and to fail requests.
type fakeServer struct {
	mu        sync.Mutex
	n         int
	loseEvery int // every loseEvery-th 201 is forgotten at once
	failEvery int // every failEvery-th request answers 500
	held      map[string]bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	problem := func(status int, code string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d,"code":%q}`, status, code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/events/E":
		fmt.Fprint(w, `{"id":"E","tiers":[{"id":"T","capacity":100,"available":100}]}`)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/events/E/reservations":
		f.n++
		if f.failEvery > 0 && f.n%f.failEvery == 0 {
			problem(500, "internal")
			return
		}
		id := fmt.Sprintf("R%d", f.n)
		if f.loseEvery == 0 || f.n%f.loseEvery != 0 {
			f.held[id] = true
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"event_id":"E","tier_id":"T","quantity":1,"status":"held"}`, id)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/reservations/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/v1/reservations/")
		if !f.held[id] {
			problem(404, "not_found")
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, id)
	default:
		problem(404, "not_found")
	}
}

func TestHoldFailurePaths(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fake     *fakeServer
		extra    []string
		wantCode int
	}{
		{"healthy", &fakeServer{}, nil, 0},
		{"lost reservation", &fakeServer{loseEvery: 7}, nil, 2},
		{"500s tolerated", &fakeServer{failEvery: 5}, nil, 0},
		{"500s fail the run", &fakeServer{failEvery: 5}, []string{"-fail-on-unexpected"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fake.held = map[string]bool{}
			srv := httptest.NewServer(tc.fake)
			defer srv.Close()
			args := append([]string{"-scenario", "hold", "-targets", srv.URL, "-event", "E", "-tier", "T",
				"-jwt-secret", testSecret, "-users", "10", "-rate", "200", "-duration", "500ms", "-quiet"}, tc.extra...)
			rep, _, err := runLoadgen(t, args...)
			code := 0
			if err != nil {
				ee, ok := err.(*exitError)
				if !ok {
					t.Fatalf("run: %v", err)
				}
				code = ee.code
			}
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d", code, tc.wantCode)
			}
			if tc.fake.failEvery > 0 && rep.ByCode["internal"] == 0 {
				t.Fatalf("500s were not counted: %v", rep.ByCode)
			}
		})
	}
}

// sleepyScenario takes a fixed time per iteration and records one answer.
type sleepyScenario struct{ d time.Duration }

func (s sleepyScenario) Prepare(context.Context, *Env) error { return nil }
func (s sleepyScenario) Iterate(ctx context.Context, w *Worker) {
	start := time.Now()
	select {
	case <-ctx.Done():
		w.Env.Rec.Abort()
	case <-time.After(s.d):
		w.Env.Rec.Record("sleep", 200, "", time.Since(start), nil)
	}
}
func (s sleepyScenario) Classify(string, int, string) Class                { return ClassOK }
func (s sleepyScenario) Check(context.Context, *Env) (*CheckReport, error) { return nil, nil }
func (s sleepyScenario) Close() error                                      { return nil }

// TestOpenModelDropsWhatItCannotStart and TestClosedModelStages run in
// synctest bubbles: the scheduler, the workers and the run's end are on the
// fake clock, so the counts do not depend on the machine (only on the order
// of events due at the same instant) and the run's length is exact.
func TestOpenModelDropsWhatItCannotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 2 workers taking 50 ms each can start at most 40 of the 200
		// arrivals due in a second; the rest must be counted, not skipped.
		// An arrival comes every 5 ms, so a free worker takes one within
		// 5 ms: each worker starts one every 50 to 55 ms, from 5 or 10 ms
		// on, 37 to 40 starts between the two in the second. The arrival
		// due at the very end may lose the race with the end of the run.
		cfg := &config{Open: true, Rate: 200, Workers: 2, Duration: time.Second, Quiet: true}
		sc := sleepyScenario{d: 50 * time.Millisecond}
		env := &Env{Cfg: cfg, Rec: newRecorder(sc.Classify)}
		// The run ends at its duration, cutting the iterations in flight.
		if elapsed := runLoad(t.Context(), env, sc); elapsed != cfg.Duration {
			t.Errorf("the run took %s, want exactly its duration %s", elapsed, cfg.Duration)
		}
		started := env.Rec.Total() + env.Rec.aborted.Load()
		dropped := env.Rec.dropped.Load()
		if started < 37 || started > 40 || started+dropped < 199 || started+dropped > 200 {
			t.Fatalf("started %d, dropped %d: want 37 to 40 started and the rest of 199 or 200 dropped", started, dropped)
		}
	})
}

func TestClosedModelStages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// VUs ramp 0→4 over 400 ms then hold; each iteration takes 20 ms.
		st, _ := parseStages("400ms:4,400ms:4")
		cfg := &config{Stages: st, Duration: 800 * time.Millisecond, Quiet: true}
		sc := sleepyScenario{d: 20 * time.Millisecond}
		env := &Env{Cfg: cfg, Rec: newRecorder(sc.Classify)}
		runLoad(t.Context(), env, sc)
		// Full speed would be 4 VUs × 40 = 160; the ramp costs about a
		// quarter. VU i joins at i×100 ms and runs to the end: (800 −
		// 100i) / 20 = 40, 35, 30 and 25 iterations, 130 in all, less at
		// most two each for the 10 ms a waiting VU sleeps between looks
		// at the ramp and for the iteration the end cuts.
		if n := env.Rec.Total(); n < 122 || n > 130 {
			t.Fatalf("%d iterations, want between 122 and 130", n)
		}
	})
}

// TestHoldCheckOnly: -tokens-out writes tokens another client can use, and
// -held-ids checks the 201s that client reports, finding a lost one.
func TestHoldCheckOnly(t *testing.T) {
	base, event, tier := startBoxoffice(t, 5, 100)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.txt")
	if _, _, err := runLoadgen(t, "-scenario", "hold", "-targets", base, "-event", event, "-tier", tier,
		"-jwt-secret", testSecret, "-users", "5", "-rate", "1", "-duration", "100ms", "-tokens-out", tokens, "-quiet"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "Bearer ") {
		t.Fatalf("tokens file: %q", lines)
	}
	// Another client holds a ticket with the first token.
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/events/"+event+"/reservations",
		strings.NewReader(`{"tier_id":"`+tier+`","quantity":1}`))
	req.Header.Set("Authorization", lines[0])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || res.ID == "" {
		t.Fatalf("hold: %d %+v", resp.StatusCode, res)
	}

	check := func(ids ...string) (*Report, error) {
		f := filepath.Join(t.TempDir(), "ids.0")
		if err := os.WriteFile(f, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, _, err := runLoadgen(t, "-scenario", "hold", "-targets", base, "-event", event, "-tier", tier,
			"-vus", "1", "-held-ids", filepath.Join(filepath.Dir(f), "ids.*"),
			"-admin-email", "admin@example.test", "-admin-password", "admin-password", "-fail-on-unexpected")
		return rep, err
	}
	rep, err := check(res.ID)
	if err != nil || rep.Requests != 0 || !rep.Check.OK || !strings.Contains(rep.Check.Lines[0], "1 answered 201, 1 found, 0 lost") {
		t.Fatalf("check of a real hold: err %v, %d requests, %+v", err, rep.Requests, rep.Check)
	}
	if rep, err := check(res.ID, boxoffice.NewID()); err == nil || rep.Check.OK {
		t.Fatalf("a made-up id passed the check: err %v, %+v", err, rep.Check)
	}
	if rep, err := check("MISSING"); err == nil || rep.Check.OK {
		t.Fatalf("a 201 without an id passed the check: err %v, %+v", err, rep.Check)
	}
}
