package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/httpapi"
	"boxoffice/internal/memory"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/testpay"
)

func TestReadEvents(t *testing.T) {
	long := strings.Repeat("x", 3000)
	in := ": keep-alive\n\n" +
		"event: status\ndata: {\"status\":\"waiting\",\"position\":3}\n\n" +
		"data: a\r\ndata: b\r\n\r\n" +
		"event: status\ndata: " + long + "\n\n" +
		"event: status\ndata: cut"
	type ev struct{ Event, Data string }
	var got []ev
	err := readEvents(bufio.NewReaderSize(strings.NewReader(in), 64), func(e string, d []byte) bool {
		got = append(got, ev{e, string(d)})
		return true
	})
	if err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	want := []ev{{"status", `{"status":"waiting","position":3}`}, {"message", "a\nb"}, {"status", long}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	n := 0
	err = readEvents(bufio.NewReader(strings.NewReader(in)), func(string, []byte) bool { n++; return false })
	if err != nil || n != 1 {
		t.Fatalf("stopping: err %v after %d events", err, n)
	}
}

func TestJSONIntField(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"status":"waiting","position": 42,"eta_seconds":5}`, 42},
		{`{"position":0}`, 0},
		{`{"status":"admitted"}`, -1},
		{`{"position":"x"}`, -1},
	} {
		if got := jsonIntField([]byte(tc.body), "position"); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.body, got, tc.want)
		}
	}
}

func TestAnalyzeFanout(t *testing.T) {
	ms := func(v float64) int64 { return int64(v * 1e6) }
	var ups []update
	add := func(at float64, users ...int32) {
		for _, u := range users {
			ups = append(ups, update{at: ms(at), user: u})
		}
	}
	// A tick during the ramp (before from), then two clean ticks, then
	// two ticks that run into each other with no pause (user 1 repeats).
	add(0, 1)
	add(1000, 1, 2, 3)
	add(1010, 4)
	add(1100, 5)
	add(2000, 1, 2)
	add(2100, 3, 4, 5)
	add(2150, 1, 2)
	got := analyzeFanout(ups, ms(500), 150*time.Millisecond)
	if got.Ticks != 3 || got.Repeats != 1 {
		t.Fatalf("ticks %d repeats %d, want 3 and 1", got.Ticks, got.Repeats)
	}
	if got.ClientsPerTick != [3]int{2, 5, 5} {
		t.Fatalf("clients per tick %v", got.ClientsPerTick)
	}
	// Delays: tick 1: 0,0,0,10,100; tick 2: 0,0,100,100,100; tick 3: 0,0.
	if got.Delay.Count != 12 || got.Delay.Max != 100 || got.SpreadMax != 100 || got.SpreadP50 != 100 {
		t.Fatalf("delays %+v, spread %v/%v", got.Delay, got.SpreadP50, got.SpreadMax)
	}
	if empty := analyzeFanout(nil, 0, time.Second); empty.Ticks != 0 || empty.Delay.Count != 0 {
		t.Fatalf("no updates: %+v", empty)
	}
}

func TestAnalyzeWindows(t *testing.T) {
	ms := func(v float64) int64 { return int64(v * 1e6) }
	var ups []update
	add := func(at float64, users ...int32) {
		for _, u := range users {
			ups = append(ups, update{at: ms(at), user: u})
		}
	}
	// Rounds start at x.3 s. A ramp update before from, then three
	// rounds; the first and the last pause inside their fan-out, which
	// pause grouping would split.
	add(300, 1)
	add(1320, 1, 2)
	add(1600, 3)
	add(1900, 4)
	add(2310, 1)
	add(2311, 2)
	add(2312, 3)
	add(2313, 4)
	add(3305, 1)
	add(3400, 2)
	add(3700, 3)
	add(3950, 4)
	got := analyzeWindows(slices.Clone(ups), ms(1000), time.Second)
	want := fanoutReport{Ticks: 3, ClientsPerTick: [3]int{4, 4, 4}, WorstTickP99: 645, SpreadP50: 580, SpreadMax: 645, QuietGap: 355}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(fanoutReport{}, "Delay")); diff != "" {
		t.Fatalf("windows (-want +got):\n%s", diff)
	}
	if got.Delay.Count != 12 || got.Delay.Max != 645 {
		t.Fatalf("delays %+v", got.Delay)
	}
	if byPause := analyzeFanout(ups, ms(1000), 150*time.Millisecond); byPause.Ticks != 7 || byPause.Delay.Max != 95 {
		t.Fatalf("grouped by pauses: %d ticks, max %v; want 7 and 95", byPause.Ticks, byPause.Delay.Max)
	}
	// A round that spills into the next window counts as a repeat.
	if spill := analyzeWindows([]update{{ms(1300), 1}, {ms(2300), 1}, {ms(2350), 1}}, 0, time.Second); spill.Repeats != 1 {
		t.Fatalf("spill: %+v", spill)
	}
	if empty := analyzeWindows(nil, 0, time.Second); empty.Ticks != 0 {
		t.Fatalf("no updates: %+v", empty)
	}
}

func TestProcParsing(t *testing.T) {
	if got := procStatusKB([]byte("Name:\tx\nVmRSS:\t   12345 kB\nVmSwap:\t0 kB\n"), "VmRSS"); got != 12345 {
		t.Fatalf("VmRSS = %d", got)
	}
	stat := []byte("42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0")
	if got := procStatCPU(stat); got != 3*time.Second {
		t.Fatalf("cpu = %s", got)
	}
	s, err := readProc(os.Getpid(), true)
	if err != nil || s.RSSKB <= 0 || s.FDs <= 0 {
		t.Fatalf("readProc(self) = %+v, %v", s, err)
	}
	if readFDLimit(os.Getpid()) <= 0 {
		t.Fatal("no open-files limit")
	}
}

func TestQueueStreamFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"-users", "10"}, "needs -event"},
		{[]string{"-users", "10", "-event", "e", "-rate", "5"}, "not -rate"},
		{[]string{"-users", "10", "-event", "e", "-vus", "11"}, "more than -users"},
		{[]string{"-users", "10", "-event", "e", "-admit-per-minute", "60"}, "needs -admin-email"},
		{[]string{"-users", "10", "-event", "e", "-local-addrs", "0"}, "-local-addrs"},
		{[]string{"-users", "10", "-event", "e"}, ""},
	} {
		cfg, err := parseFlags(append([]string{"-scenario", "queue-stream", "-jwt-secret", "s"}, tc.args...), io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want == "" && (cfg.VUs != 10 || cfg.Open):
			t.Errorf("%v: vus %d open %v, want 10 closed", tc.args, cfg.VUs, cfg.Open)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// startQueueServer serves the real API with a waiting room ticking every
// tick on the hot event, which admits admitPerMinute.
func startQueueServer(t *testing.T, users int, tick time.Duration) (base, eventID string) {
	t.Helper()
	h, eventID, closeStreams := queueHandler(t, users, tick)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		closeStreams() // else Close waits for the open streams
		srv.Close()
	})
	return srv.URL, eventID
}

// queueHandler is startQueueServer's API without a listener, for tests
// that serve it behind several addresses (instances of one deployment).
// closeStreams ends the open status streams; call it before closing a
// server that serves h.
func queueHandler(t *testing.T, users int, tick time.Duration) (h http.Handler, eventID string, closeStreams func()) {
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
		MaxTicketsPerUser: 4, HoldSeconds: 600, CreatedAt: now, UpdatedAt: now,
		Queue: boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 60_000},
	}
	hot.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: hot.ID, Name: "GA", Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: 100}}
	if err := store.Seed(ctx, boxoffice.SeedSpec{Users: users, PasswordHash: hash, Events: 3, HotEvent: hot, Now: now}, nil); err != nil {
		t.Fatal(err)
	}
	room := boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{
		Queue: memory.NewQueue(), Store: store, Tick: tick,
		Tokens: auth.NewAdmissionTokens(auth.AdmissionSecret([]byte(testSecret))),
	})
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: hasher, Provider: testpay.New(""), Admissions: room})
	if _, err := svc.EnsureAdmin(ctx, "admin@example.test", "admin-password", "Admin"); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Run(runCtx) })
	wg.Go(func() { _ = room.Run(runCtx) })
	h = httpapi.New(httpapi.Config{
		Service: svc, Tokens: auth.NewTokens([]byte(testSecret), time.Hour), Queue: room,
	})
	t.Cleanup(func() {
		room.CloseStreams()
		stop()
		wg.Wait()
	})
	return h, hot.ID, room.CloseStreams
}

func TestQueueStreamAgainstRealServer(t *testing.T) {
	base, event := startQueueServer(t, 40, 200*time.Millisecond)
	// 300 a minute at 5 ticks a second: one admission a tick, so every
	// tick moves everyone's position by one; 40 users last the run.
	rep, stdout, err := runLoadgen(t, "-scenario", "queue-stream", "-targets", base, "-event", event,
		"-jwt-secret", testSecret, "-users", "40", "-duration", "2500ms", "-admit-per-minute", "300",
		"-admin-email", "admin@example.test", "-admin-password", "admin-password",
		"-local-addrs", "3", "-open-workers", "8", "-tick-gap", "60ms", "-stream-tick", "200ms", "-server-pid", strconv.Itoa(os.Getpid()),
		"-fail-on-unexpected")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	b, _ := json.Marshal(rep.Check.Details)
	var d streamReport
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.Joined != 40 || d.Opened != 40 || d.Failed != 0 || d.EndedEarly != 0 || d.Initial != 40 {
		t.Fatalf("joins and streams: %+v", d)
	}
	if d.Fanout.Ticks < 5 || d.Fanout.Delay.Count == 0 || d.Final["admitted"] == 0 {
		t.Fatalf("fan-out: %+v, final %v", d.Fanout, d.Final)
	}
	if d.Server == nil || d.Server.RSSAllOpenMB <= 0 || d.Server.FDsAllOpen == 0 {
		t.Fatalf("server probe: %+v", d.Server)
	}
	if !strings.Contains(stdout, "fan-out delay after the tick's first update") || rep.Ops["stream"].Count != 40 {
		t.Fatalf("summary: %s\nops %v", stdout, rep.Ops)
	}
}
