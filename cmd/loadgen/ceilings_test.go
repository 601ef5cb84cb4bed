package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/rueidis"
)

func TestBareBody(t *testing.T) {
	for _, n := range []int{2, 5, 9, 10, 11, 900, 4096} {
		b := bareBody(n)
		if len(b) != n || !json.Valid(b) {
			t.Errorf("bareBody(%d) = %d bytes, valid JSON %v", n, len(b), json.Valid(b))
		}
	}
}

func TestIsServeBare(t *testing.T) {
	for args, want := range map[string]bool{
		"-serve-bare 127.0.0.1:1":      true,
		"--serve-bare=127.0.0.1:1":     true,
		"-bare-bytes 9 -serve-bare :1": true,
		"-scenario get -url /x":        false,
		"-scenario get -- -serve-bare": false,
		"-serve-barely 1":              false,
	} {
		if got := isServeBare(strings.Fields(args)); got != want {
			t.Errorf("isServeBare(%q) = %v, want %v", args, got, want)
		}
	}
}

func TestGetURLs(t *testing.T) {
	a, _ := parseTarget("http://127.0.0.1:1", false)
	b, _ := parseTarget("http://127.0.0.1:2/base/", false)
	urls, err := getURLs("/api/v1/events/E?x=1", []*url.URL{a, b}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range urls {
		got = append(got, u.String())
	}
	want := "http://127.0.0.1:1/api/v1/events/E?x=1 http://127.0.0.1:2/base/api/v1/events/E?x=1"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if u, err := getURLs("http://[::1]:9", nil, false); err != nil || u[0].String() != "http://[::1]:9/" {
		t.Fatalf("absolute: %v %v", u, err)
	}
	for _, bad := range []string{"", "example.com/x", "ftp://127.0.0.1/", "http://example.com/"} {
		if _, err := getURLs(bad, []*url.URL{a}, false); err == nil {
			t.Errorf("getURLs(%q) accepted", bad)
		}
	}
	if _, err := getURLs("http://example.com/", nil, true); err != nil {
		t.Errorf("-allow-remote: %v", err)
	}
}

func TestCeilingFlags(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string
		vus     int
	}{
		{"-scenario get -url /api/v1/events/E -vus 4", "", 4},
		{"-scenario get -vus 4", "needs -url", 0},
		{"-scenario get -url /x -vus 4 -get-auth bogus", "-get-auth", 0},
		{"-scenario get -url /x -vus 4 -get-auth admin", "needs -admin-email", 0},
		{"-scenario baseline-redis -redis redis://127.0.0.1:6379/7", "", 16},
		{"-scenario baseline-redis -redis redis://127.0.0.1:6379/7 -clients 3", "", 3},
		{"-scenario baseline-redis -redis redis://127.0.0.1:6379/7 -vus 5", "", 5},
		{"-scenario baseline-redis", "-redis is required", 0},
		{"-scenario baseline-redis -redis redis://10.1.2.3:6379/0", "not on loopback", 0},
		{"-scenario baseline-redis -redis http://127.0.0.1:6379/0", "want redis://", 0},
	} {
		c, err := parseFlags(strings.Fields(tc.args), io.Discard)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && c.VUs != tc.vus:
			t.Errorf("%s: %d VUs, want %d", tc.args, c.VUs, tc.vus)
		}
	}
}

// startBare runs `loadgen -serve-bare 127.0.0.1:0` as the command would and
// returns its base URL.
func startBare(t *testing.T, size int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Go(func() {
		err := run(ctx, []string{"-serve-bare", "127.0.0.1:0", "-bare-bytes", strconv.Itoa(size)}, io.Discard, pw)
		pw.CloseWithError(err)
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("the bare server did not start: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// "bare net/http server on 127.0.0.1:NNNN, N-byte JSON body"
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, "bare net/http server on "), ",")
	return "http://" + addr
}

func TestGetAgainstBareServer(t *testing.T) {
	base := startBare(t, 777)
	resp, err := http.Get(base + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 777 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("bare answer: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}
	for _, model := range [][]string{{"-vus", "4"}, {"-rate", "300"}} {
		t.Run(model[0], func(t *testing.T) {
			rep, _, err := runLoadgen(t, append([]string{"-scenario", "get", "-url", base + "/api/v1/events/E",
				"-duration", "500ms", "-quiet", "-fail-on-unexpected"}, model...)...)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK == 0 || rep.Unexpected != 0 || rep.ByStatus["200"] != rep.OK || rep.Check != nil {
				t.Fatalf("ok=%d unexpected=%d status=%v check=%v", rep.OK, rep.Unexpected, rep.ByStatus, rep.Check)
			}
			if rep.Generator.CPUPerRequestUS <= 0 || rep.Latency.Count != rep.Requests {
				t.Fatalf("generator %+v, %d latencies for %d answers", rep.Generator, rep.Latency.Count, rep.Requests)
			}
		})
	}
}

// authEcho counts the Authorization headers it sees per target. Once
// failFrom is set, it answers 503 from its failFrom-th request on.
type authEcho struct {
	mu       sync.Mutex
	seen     map[string]int
	paths    map[string]int
	requests int
	failFrom int
}

func (a *authEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen[r.Header.Get("Authorization")]++
	a.paths[r.URL.RequestURI()]++
	a.requests++
	fail := a.failFrom > 0 && a.requests >= a.failFrom
	a.mu.Unlock()
	if fail {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":503,"code":"unavailable"}`)
		return
	}
	_, _ = io.WriteString(w, `{"id":"E"}`)
}

func TestGetPathRoundRobinWithUserTokens(t *testing.T) {
	e1 := &authEcho{seen: map[string]int{}, paths: map[string]int{}}
	e2 := &authEcho{seen: map[string]int{}, paths: map[string]int{}}
	s1, s2 := httptest.NewServer(e1), httptest.NewServer(e2)
	defer s1.Close()
	defer s2.Close()
	rep, _, err := runLoadgen(t, "-scenario", "get", "-targets", s1.URL+","+s2.URL, "-url", "/api/v1/events/E?fields=all",
		"-get-auth", "user", "-jwt-secret", testSecret, "-users", "3", "-vus", "2", "-duration", "300ms", "-quiet", "-fail-on-unexpected")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []*authEcho{e1, e2} {
		e.mu.Lock()
		if e.paths["/api/v1/events/E?fields=all"] == 0 || len(e.paths) != 1 {
			t.Errorf("target %d saw paths %v", i, e.paths)
		}
		if e.seen[""] != 0 || len(e.seen) != 3 {
			t.Errorf("target %d saw %d distinct Authorization headers (%d without): want the 3 users'", i, len(e.seen), e.seen[""])
		}
		e.mu.Unlock()
	}
	if rep.OK == 0 || rep.Unexpected != 0 {
		t.Fatalf("ok=%d unexpected=%d", rep.OK, rep.Unexpected)
	}

	// A target that stops answering 200 during the run makes the answers
	// unexpected, and -fail-on-unexpected turns them into exit status 3.
	// The second target answers the run's probe of it and a few requests
	// of the load, then fails: counted in requests, not in time, so the
	// probe cannot be the one to see the failure.
	e2.mu.Lock()
	e2.failFrom = e2.requests + 5
	e2.mu.Unlock()
	rep, _, err = runLoadgen(t, "-scenario", "get", "-targets", s1.URL+","+s2.URL, "-url", "/x",
		"-vus", "2", "-duration", "400ms", "-quiet", "-fail-on-unexpected")
	if ee, ok := err.(*exitError); !ok || ee.code != 3 || rep.ByCode["unavailable"] == 0 {
		t.Fatalf("err %v, codes %v: want exit 3 with 503 unavailable counted", err, rep.ByCode)
	}
	// A URL that does not answer 200 fails before the load.
	if _, _, err := runLoadgen(t, "-scenario", "get", "-url", s2.URL+"/x", "-vus", "1", "-duration", "100ms", "-quiet"); err == nil ||
		!strings.Contains(err.Error(), "status 503") {
		t.Fatalf("err %v, want the probe's status 503", err)
	}
}

func TestBaselineRedis(t *testing.T) {
	redisURL := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); skipping the baseline-redis test")
	}
	for _, model := range [][]string{{"-clients", "4"}, {"-rate", "500"}} {
		t.Run(model[0], func(t *testing.T) {
			rep, stdout, err := runLoadgen(t, append([]string{"-scenario", "baseline-redis", "-redis", redisURL,
				"-duration", "500ms", "-fail-on-unexpected"}, model...)...)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK == 0 || rep.Unexpected != 0 || rep.ByCode["decremented"] != rep.OK {
				t.Fatalf("ok=%d unexpected=%d codes=%v", rep.OK, rep.Unexpected, rep.ByCode)
			}
			if rep.Check == nil || !rep.Check.OK || !strings.Contains(stdout, "invariants OK") {
				t.Fatalf("check %+v", rep.Check)
			}
			if rep.Generator.CPUPerRequestUS <= 0 {
				t.Fatalf("generator %+v", rep.Generator)
			}
		})
	}

	// A small stock sells out exactly: 5 decrements, the rest sold_out,
	// and the counter is deleted afterwards.
	rep, _, err := runLoadgen(t, "-scenario", "baseline-redis", "-redis", redisURL, "-redis-stock", "5",
		"-clients", "3", "-duration", "300ms", "-quiet", "-fail-on-unexpected")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 5 || rep.ByCode["sold_out"] == 0 || !rep.Check.OK {
		t.Fatalf("ok=%d codes=%v check=%v", rep.OK, rep.ByCode, rep.Check.Lines)
	}
	opt, err := rueidis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key, _, _ := strings.Cut(strings.TrimPrefix(rep.Check.Lines[0], "counter "), ": ")
	if n, err := c.Do(t.Context(), c.B().Exists().Key(key).Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("counter %q left behind (exists=%d, err %v)", key, n, err)
	}
}
