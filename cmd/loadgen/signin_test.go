package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSigninClassify(t *testing.T) {
	s := newSignin(&config{})
	for _, tc := range []struct {
		op     string
		status int
		code   string
		want   Class
	}{
		{"signin", 200, "", ClassOK},
		{"signin", 429, "rate_limited", ClassExpected},
		{"signin", 503, "unavailable", ClassExpected},
		{"signin", 401, "invalid_credentials", ClassUnexpected},
		{"signin", 429, "-", ClassUnexpected},
		{"signin", 503, "internal", ClassUnexpected},
		{"signin", 500, "internal", ClassUnexpected},
		{"signin", 502, "-", ClassUnexpected},
		{"signin", 0, "transport:timeout", ClassUnexpected},
		{"signin_token", 200, "no_access_token", ClassUnexpected},
		{"signin_retry_after", 429, "missing", ClassUnexpected},
	} {
		if got := s.Classify(tc.op, tc.status, tc.code); got != tc.want {
			t.Errorf("Classify(%s, %d, %q) = %s, want %s", tc.op, tc.status, tc.code, got, tc.want)
		}
	}
	for status, want := range map[int]Class{200: ClassOK, 404: ClassUnexpected, 500: ClassUnexpected, 0: ClassUnexpected} {
		if got := classifyDetail("get_event", status, ""); got != want {
			t.Errorf("classifyDetail(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestSigninBodyAndRoundRobin(t *testing.T) {
	s := newSignin(&config{Users: 3, Password: `pa"ss\wörd`}).(*signin)
	if err := s.Prepare(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	var got struct{ Email, Password string }
	if err := json.Unmarshal(s.body(7), &got); err != nil {
		t.Fatalf("body %s: %v", s.body(7), err)
	}
	if got.Email != "user7@seed.boxoffice.test" || got.Password != `pa"ss\wörd` {
		t.Fatalf("body decodes to %+v", got)
	}
	var users []int
	for range 7 {
		users = append(users, s.nextUser())
	}
	if diff := cmp.Diff([]int{0, 1, 2, 0, 1, 2, 0}, users); diff != "" {
		t.Fatalf("users (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"1", time.Second, true},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		got, ok := retryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.value, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTallySignins(t *testing.T) {
	s := newSignin(&config{})
	rec := newRecorder(s.Classify)
	for _, a := range []struct {
		op     string
		status int
		code   string
		n      int
	}{
		{"signin", 200, "", 5},
		{"signin", 429, "rate_limited", 4},
		{"signin", 503, "unavailable", 3},
		{"signin", 401, "invalid_credentials", 2},
		{"signin", 500, "internal", 1},
		{"signin", 0, "transport:eof", 1},
		{"signin", 404, "not_found", 1},
		{"signin_token", 200, "no_access_token", 1},
		{"signin_retry_after", 429, "missing", 2},
	} {
		for range a.n {
			rec.Record(a.op, a.status, a.code, time.Millisecond, nil)
		}
	}
	want := signinTally{OK: 5, RateLimited: 4, Unavailable: 3, Unauthorized: 2, Failed: 2, Other: 1, NoToken: 1, NoRetryAfter: 2}
	if diff := cmp.Diff(want, tallySignins(rec)); diff != "" {
		t.Fatalf("tally (-want +got):\n%s", diff)
	}
}

func TestDetailReaderFlags(t *testing.T) {
	base := []string{"-scenario", "browse", "-vus", "1"}
	for _, tc := range []struct {
		extra []string
		ok    bool
	}{
		{nil, true},
		{[]string{"-detail-readers", "4", "-detail-event", "E"}, true},
		{[]string{"-detail-readers", "4"}, false},
		{[]string{"-detail-readers", "-1", "-detail-event", "E"}, false},
	} {
		_, err := parseFlags(append(base, tc.extra...), io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q): err %v, want ok=%v", tc.extra, err, tc.ok)
		}
	}
	// The signin scenario acts as users but needs no -jwt-secret.
	t.Setenv("BOXOFFICE_JWT_SECRET", "")
	if _, err := parseFlags([]string{"-scenario", "signin", "-vus", "1"}, io.Discard); err != nil {
		t.Errorf("signin without -jwt-secret: %v", err)
	}
}

func TestSigninAgainstRealServer(t *testing.T) {
	base, event, _ := startBoxoffice(t, 20, 10)
	rep, stdout, err := runLoadgen(t, "-scenario", "signin", "-targets", base, "-users", "20", "-vus", "4", "-duration", "1s",
		"-detail-readers", "2", "-detail-event", event, "-fail-on-unexpected", "-quiet")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.OK == 0 || rep.Unexpected != 0 || rep.Check == nil || !rep.Check.OK {
		t.Fatalf("ok=%d unexpected=%d check=%+v", rep.OK, rep.Unexpected, rep.Check)
	}
	d := rep.DetailReads
	if d == nil || d.Requests == 0 || d.ByStatus["200"] != d.Requests || d.Latency.Count != d.Requests || d.EventID != event {
		t.Fatalf("detail reads: %+v", d)
	}
	if !strings.Contains(stdout, "detail   GET /api/v1/events/"+event+" by 2 readers") {
		t.Fatalf("the summary lacks the detail reads")
	}
	// The reads are kept apart from the sign-ins.
	if _, mixed := rep.Ops["get_event"]; mixed || rep.Latency.Count != rep.Requests {
		t.Fatalf("detail reads leaked into the sign-in numbers: ops %v", rep.Ops)
	}
}

// fakeSignin answers sign-ins with answer(n) for the n-th (from 1), where
// 200 with a code means a 200 without a token, and event reads (once
// sign-ins have begun) with readStatus.
type fakeSignin struct {
	n          atomic.Int64
	answer     func(n int64) (status int, code, retryAfter string)
	readStatus int
}

func (f *fakeSignin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/token":
		status, code, ra := f.answer(f.n.Add(1))
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(status)
		switch {
		case status == http.StatusOK && code == "":
			fmt.Fprint(w, `{"access_token":"a.b.c","token_type":"Bearer","expires_in":900}`)
		case status == http.StatusOK:
			fmt.Fprint(w, `{"token_type":"Bearer"}`)
		default:
			fmt.Fprintf(w, `{"status":%d,"code":%q}`, status, code)
		}
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/events/E":
		if f.n.Load() > 0 && f.readStatus != 0 {
			w.WriteHeader(f.readStatus)
		}
		fmt.Fprint(w, `{"id":"E"}`)
	default:
		http.NotFound(w, r)
	}
}

func TestSigninFailurePaths(t *testing.T) {
	ok := func(int64) (int, string, string) { return 200, "", "" }
	every := func(k int64, status int, code, ra string) func(int64) (int, string, string) {
		return func(n int64) (int, string, string) {
			if n%k == 0 {
				return status, code, ra
			}
			return 200, "", ""
		}
	}
	for _, tc := range []struct {
		name     string
		fake     *fakeSignin
		extra    []string
		wantCode int
		want     func(*Report) bool
	}{
		{"healthy", &fakeSignin{answer: ok}, []string{"-fail-on-unexpected"}, 0,
			func(r *Report) bool { return r.Expected == 0 && r.DetailReads.OK > 0 }},
		{"shedding with Retry-After", &fakeSignin{answer: every(2, 429, "rate_limited", "1")}, []string{"-fail-on-unexpected"}, 0,
			func(r *Report) bool { return r.ByCode["rate_limited"] > 0 && r.Unexpected == 0 }},
		{"503 with Retry-After", &fakeSignin{answer: every(3, 503, "unavailable", "5")}, []string{"-fail-on-unexpected"}, 0,
			func(r *Report) bool { return r.ByStatus["503"] > 0 && r.Unexpected == 0 }},
		{"shedding without Retry-After", &fakeSignin{answer: every(2, 429, "rate_limited", "")}, nil, 2, nil},
		{"500", &fakeSignin{answer: every(5, 500, "internal", "")}, nil, 2, nil},
		{"200 without a token", &fakeSignin{answer: every(3, 200, "no_token", "")}, nil, 2, nil},
		{"401 is unexpected, not a violation", &fakeSignin{answer: every(4, 401, "invalid_credentials", "")}, nil, 0,
			func(r *Report) bool { return r.Unexpected > 0 && r.Check.OK }},
		{"401 fails the run", &fakeSignin{answer: every(4, 401, "invalid_credentials", "")}, []string{"-fail-on-unexpected"}, 3, nil},
		{"failed reads fail the run", &fakeSignin{answer: ok, readStatus: 500}, []string{"-fail-on-unexpected"}, 3,
			func(r *Report) bool { return r.Unexpected == 0 && r.DetailReads.ByStatus["500"] > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.fake)
			defer srv.Close()
			args := append([]string{"-scenario", "signin", "-targets", srv.URL, "-users", "10", "-vus", "4", "-duration", "300ms",
				"-detail-readers", "1", "-detail-event", "E", "-quiet"}, tc.extra...)
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
			if tc.want != nil && !tc.want(rep) {
				t.Fatalf("report: ok=%d expected=%d unexpected=%d status=%v codes=%v check=%+v detail=%+v",
					rep.OK, rep.Expected, rep.Unexpected, rep.ByStatus, rep.ByCode, rep.Check, rep.DetailReads)
			}
		})
	}
}

func TestSigninHonorsRetryAfter(t *testing.T) {
	shed := func(int64) (int, string, string) { return 429, "rate_limited", "1" }
	for _, tc := range []struct {
		honor    bool
		min, max uint64
	}{
		{true, 2, 2}, // each VU signs in once, then waits past the end
		{false, 20, 1 << 62},
	} {
		srv := httptest.NewServer(&fakeSignin{answer: shed})
		args := []string{"-scenario", "signin", "-targets", srv.URL, "-vus", "2", "-duration", "400ms", "-quiet"}
		if tc.honor {
			args = append(args, "-honor-retry-after")
		}
		rep, _, err := runLoadgen(t, args...)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests < tc.min || rep.Requests > tc.max || rep.Expected != rep.Requests {
			t.Errorf("honor=%v: %d sign-ins (%d shed), want %d..%d", tc.honor, rep.Requests, rep.Expected, tc.min, tc.max)
		}
	}
}

// TestSigninXFF: with -signin-xff N the sign-ins carry X-Forwarded-For
// with N distinct addresses in turn; without it, none.
func TestSigninXFF(t *testing.T) {
	if got := []string{xffAddress(0), xffAddress(255), xffAddress(65535), xffAddress(maxSigninXFF - 1)}; !cmp.Equal(got,
		[]string{"10.0.0.1", "10.0.1.0", "10.1.0.0", "10.255.255.254"}) {
		t.Fatalf("addresses %v", got)
	}
	for _, n := range []int{0, 3} {
		var mu sync.Mutex
		seen := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.Header.Get("X-Forwarded-For")]++
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"status":401,"code":"invalid_credentials"}`)
		}))
		args := []string{"-scenario", "signin", "-targets", srv.URL, "-users", "1", "-vus", "2", "-duration", "200ms", "-quiet"}
		if n > 0 {
			args = append(args, "-signin-xff", fmt.Sprint(n))
		}
		_, _, err := runLoadgen(t, args...)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"": true}
		if n > 0 {
			want = map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": true}
		}
		if len(seen) != len(want) {
			t.Fatalf("-signin-xff %d: X-Forwarded-For seen %v", n, seen)
		}
		for a := range seen {
			if !want[a] {
				t.Fatalf("-signin-xff %d: X-Forwarded-For seen %v", n, seen)
			}
		}
	}
	if _, err := parseFlags([]string{"-scenario", "browse", "-vus", "1", "-signin-xff", "2"}, io.Discard); err == nil {
		t.Error("-signin-xff with the browse scenario was accepted")
	}
}

// TestSigninDeviceFile: with -signin-device-file each user presents the
// newest device token it was answered, starting from the file's, and the
// file holds the newest ones after the run.
func TestSigninDeviceFile(t *testing.T) {
	var mu sync.Mutex
	var n int
	got := map[string]int{} // device tokens presented, by value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email       string `json:"email"`
			DeviceToken string `json:"device_token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		mu.Lock()
		n++
		got[in.DeviceToken]++
		tok := fmt.Sprintf("%s-%d", strings.TrimSuffix(in.Email, "@seed.boxoffice.test"), n)
		mu.Unlock()
		fmt.Fprintf(w, `{"access_token":"a","token_type":"Bearer","expires_in":900,"refresh_token":"r","device_token":%q}`, tok)
	}))
	defer srv.Close()
	file := t.TempDir() + "/devices"
	args := []string{"-scenario", "signin", "-targets", srv.URL, "-users", "2", "-vus", "1", "-duration", "200ms", "-quiet",
		"-signin-device-file", file}
	if _, _, err := runLoadgen(t, args...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	mu.Lock()
	first := n
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "user0-") || !strings.HasPrefix(lines[1], "user1-") ||
		got[""] != 2 || first < 4 || got[lines[0]] > 1 || got[lines[1]] > 1 { // (a sign-in cut off at the end may have presented one)
		t.Fatalf("after %d sign-ins: file %q; %d without a token; want the first sign-in of each user without one, then each the one before", first, lines, got[""])
	}
	clear(got)
	mu.Unlock()
	// The next run starts from the file's tokens.
	if _, _, err := runLoadgen(t, args...); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got[""] != 0 || got[lines[0]] < 1 || got[lines[1]] < 1 {
		t.Fatalf("second run: %d sign-ins without a token, the file's %q %d and %q %d times; want 0 and at least once each", got[""], lines[0], got[lines[0]], lines[1], got[lines[1]])
	}
	if _, err := parseFlags([]string{"-scenario", "browse", "-vus", "1", "-signin-device-file", file}, io.Discard); err == nil {
		t.Error("-signin-device-file with the browse scenario was accepted")
	}
}
