package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
)

// onsaleDetails decodes the onsale check's details.
func onsaleDetails(t *testing.T, rep *Report) onsaleReport {
	t.Helper()
	if rep.Check == nil {
		t.Fatal("no check")
	}
	b, _ := json.Marshal(rep.Check.Details)
	var d onsaleReport
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOnsaleAgainstRealServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"sse closed model", []string{"-onsale-wait", "sse", "-vus", "100"}},
		{"poll open model", []string{"-onsale-wait", "poll", "-onsale-poll", "100ms", "-rate", "1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 300 buyers for the 100 tickets of a queue-enabled event.
			base, event := startQueueServer(t, 300, 100*time.Millisecond)
			args := append([]string{"-scenario", "onsale", "-targets", base, "-event", event,
				"-jwt-secret", testSecret, "-users", "300", "-duration", "30s", "-timeout", "30s", "-browse-pages", "2",
				"-admin-email", "admin@example.test", "-admin-password", "admin-password",
				"-onsale-expect-sellout", "-fail-on-unexpected"}, tc.extra...)
			rep, stdout, err := runLoadgen(t, args...)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !rep.Check.OK || rep.Check.Inconclusive {
				t.Fatalf("check: %v", rep.Check.Lines)
			}
			d := onsaleDetails(t, rep)
			if d.Confirmed != 100 || d.Capacity != 100 || !d.AllSold || d.Bought != 100 || d.Tickets != 100 ||
				d.SoldOut != 200 || d.Failed != 0 || d.CutOff != 0 || d.Lost != 0 || d.Oversold != 0 {
				t.Fatalf("details: %+v", d)
			}
			// Every journey ended, so the load phase ended before its bound.
			if rep.DurationS >= 30 {
				t.Fatalf("the load ran its full %.1fs though every journey had ended", rep.DurationS)
			}
			if rep.Unexpected != 0 || rep.Ops["hold"].Count == 0 || rep.Ops["confirm"].Count != 100 || rep.Ops["wait"].Count == 0 {
				t.Fatalf("unexpected %d, ops %v", rep.Unexpected, rep.Ops)
			}
			waits := d.WaitsSSE + d.WaitsPolled
			if tc.extra[1] == "sse" && d.WaitsSSE == 0 || tc.extra[1] == "poll" && (d.WaitsSSE != 0 || rep.Ops["poll"].Count == 0) {
				t.Fatalf("waits: %+v, ops %v", d, rep.Ops)
			}
			if waits == 0 || !strings.Contains(stdout, "all 100 sold: yes") {
				t.Fatalf("summary:\n%s", stdout)
			}
		})
	}
}

func TestOnsaleCheckFailsOnLostOrUnconfirmedReservation(t *testing.T) {
	base, event := startQueueServer(t, 30, 50*time.Millisecond)
	cfg, err := parseFlags([]string{"-scenario", "onsale", "-targets", base, "-event", event,
		"-jwt-secret", testSecret, "-users", "30", "-vus", "30", "-duration", "10s", "-quiet",
		"-admin-email", "admin@example.test", "-admin-password", "admin-password", "-onsale-expect-sellout"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := newOnsale(cfg).(*onsale)
	env := &Env{Cfg: cfg, Client: newHTTPClient(64, 5*time.Second), Rec: newRecorder(s.Classify), RunID: "t", Logf: t.Logf}
	ctx := t.Context()
	if err := s.Prepare(ctx, env); err != nil {
		t.Fatal(err)
	}
	runLoad(ctx, env, s)
	check := func() *CheckReport {
		t.Helper()
		rep, err := s.Check(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("check:\n%s", strings.Join(rep.Lines, "\n"))
		return rep
	}
	if rep := check(); !rep.OK || rep.Inconclusive || rep.Details.(onsaleReport).Bought != 30 {
		t.Fatalf("the untouched run should pass: %+v", rep)
	}

	// A reservation the server never had (or lost) fails the check.
	real := s.journeys[0]
	s.journeys[0] = journey{end: journeyBought, resID: boxoffice.NewID(), confirmed: true}
	rep := check()
	if rep.OK || !strings.Contains(strings.Join(rep.Lines, "\n"), "LOST reservation") || rep.Details.(onsaleReport).Lost != 1 {
		t.Fatalf("a lost reservation passed the check: %v", rep.Lines)
	}
	s.journeys[0] = real

	// A reservation that answered confirmed, cancelled behind the
	// scenario's back, fails it too.
	victim := s.journeys[1].resID
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/reservations/"+victim+"/cancel", nil)
	req.Header["Authorization"] = env.Auth[1]
	status, body, err := doJSON(env.Client, req)
	if err != nil || status != http.StatusOK {
		t.Fatalf("cancel: %d %s %v", status, body, err)
	}
	rep = check()
	if rep.OK || !strings.Contains(strings.Join(rep.Lines, "\n"), "NOT CONFIRMED: reservation "+victim+` is "cancelled"`) {
		t.Fatalf("an unconfirmed reservation passed the check: %v", rep.Lines)
	}

	// Tickets left unsold while a buyer was told sold_out fail it with
	// -onsale-expect-sellout.
	s.journeys[1].confirmed = false
	s.soldOutHold.Store(1)
	rep = check()
	if rep.OK || !strings.Contains(strings.Join(rep.Lines, "\n"), "71 tickets left unsold while 1 buyers were told sold_out VIOLATED") {
		t.Fatalf("unsold tickets after sold_out passed the check: %v", rep.Lines)
	}
}

func TestOnsaleAndMixedFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"-scenario", "onsale", "-vus", "5"}, "needs -event"},
		{[]string{"-scenario", "onsale", "-event", "e", "-vus", "5", "-onsale-wait", "carrier-pigeon"}, "-onsale-wait"},
		{[]string{"-scenario", "onsale", "-event", "e", "-vus", "5", "-onsale-qty", "0"}, "must be positive"},
		{[]string{"-scenario", "onsale", "-event", "e", "-vus", "11"}, "more than -users"},
		{[]string{"-scenario", "onsale", "-event", "e", "-vus", "5", "-onsale-expect-sellout"}, "needs -admin-email"},
		{[]string{"-scenario", "mixed", "-event", "e", "-vus", "5"}, "open model"},
		{[]string{"-scenario", "mixed", "-event", "e", "-rate", "5", "-mixed-buyers", "11"}, "more than -users"},
	} {
		_, err := parseFlags(append([]string{"-jwt-secret", "s", "-users", "10"}, tc.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args            []string
		workers, buyers int
	}{
		{[]string{"-scenario", "onsale", "-rate", "50"}, 74, 0},                 // workers = users + 64
		{[]string{"-scenario", "onsale", "-rate", "50", "-workers", "3"}, 3, 0}, // unless given
		{[]string{"-scenario", "mixed", "-rate", "1"}, 256, 5},                  // 5 × rate
		{[]string{"-scenario", "mixed", "-rate", "100"}, 256, 10},               // at most -users
		{[]string{"-scenario", "mixed", "-rate", "1", "-mixed-buyers", "7"}, 256, 7},
	} {
		cfg, err := parseFlags(append([]string{"-jwt-secret", "s", "-users", "10", "-event", "e"}, tc.args...), io.Discard)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if cfg.Workers != tc.workers || cfg.Mixed.Buyers != tc.buyers {
			t.Errorf("%v: workers %d buyers %d, want %d and %d", tc.args, cfg.Workers, cfg.Mixed.Buyers, tc.workers, tc.buyers)
		}
	}
}

// countingServers serves h at n addresses and counts each one's queue joins.
func countingServers(t *testing.T, h http.Handler, closeStreams func(), n int) (targets []string, joins []*atomic.Int64) {
	t.Helper()
	for range n {
		c := new(atomic.Int64)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/queue") {
				c.Add(1)
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(func() {
			closeStreams()
			srv.Close()
		})
		targets = append(targets, srv.URL)
		joins = append(joins, c)
	}
	return targets, joins
}

// deadTarget returns the URL of a loopback port nobody listens on.
func deadTarget(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestOnsaleSpreadsBuyersOverTargets(t *testing.T) {
	h, event, closeStreams := queueHandler(t, 300, 50*time.Millisecond)
	targets, joins := countingServers(t, h, closeStreams, 3)
	rep, _, err := runLoadgen(t, "-scenario", "onsale", "-targets", strings.Join(targets, ","), "-event", event,
		"-jwt-secret", testSecret, "-users", "300", "-rate", "1000", "-duration", "30s", "-quiet",
		"-onsale-wait", "poll", "-onsale-poll", "50ms", "-fail-on-unexpected")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var got []int64
	for _, c := range joins {
		got = append(got, c.Load())
	}
	for i, c := range got {
		if c < 70 || c > 130 {
			t.Errorf("target %d got %d of 300 joins, want about 100 each: %v", i, c, got)
		}
	}
	if d := onsaleDetails(t, rep); d.Bought != 100 || d.Failed != 0 {
		t.Fatalf("details: %+v", d)
	}
}

func TestOnsaleBuyersFailOverToAnotherTarget(t *testing.T) {
	for _, wait := range []string{"sse", "poll"} {
		t.Run(wait, func(t *testing.T) {
			h, event, closeStreams := queueHandler(t, 300, 50*time.Millisecond)
			live, _ := countingServers(t, h, closeStreams, 2)
			// The dead instance is not first: the setup reads the event
			// from the first target.
			targets := []string{live[0], deadTarget(t), live[1]}
			rep, _, err := runLoadgen(t, "-scenario", "onsale", "-targets", strings.Join(targets, ","), "-event", event,
				"-jwt-secret", testSecret, "-users", "300", "-rate", "1000", "-duration", "30s", "-quiet",
				"-onsale-wait", wait, "-onsale-poll", "50ms",
				"-admin-email", "admin@example.test", "-admin-password", "admin-password", "-onsale-expect-sellout")
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			d := onsaleDetails(t, rep)
			if d.Bought != 100 || d.SoldOut != 200 || d.Failed != 0 || d.CutOff != 0 || !d.AllSold {
				t.Fatalf("a dead instance failed journeys: %+v", d)
			}
			if d.FailedOver == 0 {
				t.Fatalf("no buyer failed over: %+v", d)
			}
		})
	}
}

func TestOnsaleBuyersRejoinAfterNotInQueue(t *testing.T) {
	for _, wait := range []string{"poll", "sse"} {
		t.Run(wait, func(t *testing.T) {
			h, event, closeStreams := queueHandler(t, 60, 50*time.Millisecond)
			// The first join of each buyer is answered "waiting" without
			// reaching the waiting room, as if it had lost its state (a
			// Redis restart without persistence): the buyer's status then
			// answers 404.
			var mu sync.Mutex
			seen := map[string]bool{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/queue") {
					mu.Lock()
					first := !seen[r.Header.Get("Authorization")]
					seen[r.Header.Get("Authorization")] = true
					mu.Unlock()
					if first {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, `{"status":"waiting","position":1,"eta_seconds":0}`)
						return
					}
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(func() {
				closeStreams()
				srv.Close()
			})
			rep, _, err := runLoadgen(t, "-scenario", "onsale", "-targets", srv.URL, "-event", event,
				"-jwt-secret", testSecret, "-users", "60", "-rate", "1000", "-duration", "30s", "-quiet",
				"-onsale-wait", wait, "-onsale-poll", "50ms")
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			d := onsaleDetails(t, rep)
			if d.Bought != 60 || d.Failed != 0 || d.Rejoined < 60 {
				t.Fatalf("buyers did not rejoin after a 404: %+v", d)
			}
		})
	}
}

func TestOnsaleAbandonersAreSpreadOverArrivals(t *testing.T) {
	s := &onsale{o: &onsaleConfig{Abandon: 0.3}}
	n := 0
	for u := range 10 {
		if s.abandons(u) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d of the first 10 buyers abandon, want 3", n)
	}
}
