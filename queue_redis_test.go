package boxoffice_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/redis"
)

// redisQueues opens n connections ("instances") to the test Redis and
// returns a Queue on each under one fresh prefix. It skips the test when
// BOXOFFICE_TEST_REDIS_URL is unset.
func redisQueues(t *testing.T, n int) []boxoffice.Queue {
	t.Helper()
	url := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); skipping Redis waiting-room tests")
	}
	prefix := "bo:qtest:" + rand.Text() + ":"
	var out []boxoffice.Queue
	for range n {
		c, err := redis.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		out = append(out, redis.NewQueue(c, prefix))
	}
	c, err := redis.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		raw := c.Raw()
		keys, err := raw.Do(ctx, raw.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice()
		if err == nil && len(keys) > 0 {
			raw.Do(ctx, raw.B().Del().Key(keys...).Build())
		}
	})
	return out
}

// admissionLog collects the admissions reported by several instances.
type admissionLog struct {
	mu     sync.Mutex
	rounds []round
}

type round struct {
	owner string
	first int64
	users []string
	at    time.Time
}

func (l *admissionLog) hook(owner string) func(string, int64, []string) {
	return func(_ string, first int64, us []string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.rounds = append(l.rounds, round{owner, first, slices.Clone(us), time.Now()})
	}
}

// order returns the admitted users by sequence number, failing on gaps and
// overlaps.
func (l *admissionLog) order(t *testing.T) []string {
	t.Helper()
	l.mu.Lock()
	rs := slices.Clone(l.rounds)
	l.mu.Unlock()
	sort.Slice(rs, func(i, j int) bool { return rs[i].first < rs[j].first })
	var out []string
	for _, r := range rs {
		if r.first != int64(len(out))+1 {
			t.Fatalf("admission round starting at %d after %d admissions (gap or overlap)", r.first, len(out))
		}
		out = append(out, r.users...)
	}
	return out
}

func (l *admissionLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.rounds {
		n += len(r.users)
	}
	return n
}

func runRoom(t *testing.T, r *boxoffice.WaitingRoom) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFairnessAcrossInstances: 1,000 users join after sales open, in a
// known order, spread over three instances that share Redis and all run
// the coordinator loop; they are admitted in exactly that order, none twice,
// none skipped.
func TestFairnessAcrossInstances(t *testing.T) {
	qs := redisQueues(t, 3)
	h := newRoomHarness(t)
	ctx := t.Context()
	e := h.queued(t, 10_000, 60*2000) // 2,000 a second: admission runs while users join
	var log admissionLog
	var rooms []*boxoffice.WaitingRoom
	var stops []func()
	for i, q := range qs {
		owner := string(rune('a' + i))
		r := h.room(q, func(c *boxoffice.WaitingRoomConfig) {
			c.Now, c.Tick, c.LeaseTTL, c.Owner, c.OnAdmit = time.Now, 20*time.Millisecond, 500*time.Millisecond, owner, log.hook(owner)
		})
		rooms = append(rooms, r)
		stops = append(stops, runRoom(t, r))
	}
	u := callers(1000)
	for i, c := range u {
		if _, err := rooms[i%3].Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "1,000 admissions", 20*time.Second, func() bool { return log.count() >= len(u) })
	// Once the coordinators have stopped, every round is in the log; and
	// with nobody left waiting, no later round could have admitted anyone.
	for _, stop := range stops {
		stop()
	}
	if _, info, err := qs[0].Entries(ctx, e.ID, nil); err != nil || info.Waiting != 0 || info.Admitted != len(u) {
		t.Fatalf("queue after the admissions: %+v, %v; want nobody waiting and %d admitted", info, err, len(u))
	}
	got := log.order(t)
	if len(got) != len(u) {
		t.Fatalf("admitted %d, want %d", len(got), len(u))
	}
	for i, c := range u {
		if got[i] != c.UserID {
			t.Fatalf("admission %d went to the user who joined %d-th", i, slices.Index(got, c.UserID))
		}
	}
	for _, r := range rooms {
		if st := status(t, r, u[999], e.ID); st.Status != boxoffice.QueueAdmitted {
			t.Errorf("last user: %+v", st)
		}
	}
}

// TestCoordinatorLease: with two coordinators on one Redis only the lease
// holder admits; when it stops, the other takes over, and a lease whose
// holder died lapses.
func TestCoordinatorLease(t *testing.T) {
	qs := redisQueues(t, 2)
	h := newRoomHarness(t)
	ctx := t.Context()
	e := h.queued(t, 100_000, 60*200) // 200 a second
	var log admissionLog
	var stops []func()
	var rooms []*boxoffice.WaitingRoom
	for i, q := range qs {
		owner := string(rune('a' + i))
		r := h.room(q, func(c *boxoffice.WaitingRoomConfig) {
			c.Now, c.Tick, c.LeaseTTL, c.Owner, c.OnAdmit = time.Now, 20*time.Millisecond, 300*time.Millisecond, owner, log.hook(owner)
		})
		rooms = append(rooms, r)
	}
	for _, c := range callers(2000) {
		if _, err := rooms[0].Join(ctx, c, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	// A dead instance holds the lease; it lapses after its TTL. The clock
	// starts before the lease is taken, so a slow Lead call cannot make
	// an admission look early: this bound only fails if one came before
	// the lease lapsed.
	start := time.Now()
	if ok, err := qs[0].Lead(ctx, "dead", 400*time.Millisecond); !ok || err != nil {
		t.Fatalf("Lead = %v, %v", ok, err)
	}
	for _, r := range rooms {
		stops = append(stops, runRoom(t, r))
	}
	waitUntil(t, "first admissions", 5*time.Second, func() bool { return log.count() > 0 })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("admitted %v after start while a dead instance's lease had 400ms left", d)
	}
	// Both coordinators run; wait until the log shows one of them
	// admitting over more than two lease TTLs (so it renewed its lease
	// while the other kept trying to take it), rather than for a fixed
	// time that a loaded machine may spend elsewhere.
	waitUntil(t, "admissions over two lease TTLs", 10*time.Second, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return log.rounds[len(log.rounds)-1].at.Sub(log.rounds[0].at) > 600*time.Millisecond
	})
	log.mu.Lock()
	owners := map[string]int{}
	for _, r := range log.rounds {
		owners[r.owner] += len(r.users)
	}
	leader := log.rounds[0].owner
	log.mu.Unlock()
	if len(owners) != 1 {
		t.Fatalf("both coordinators admitted while both ran: %v", owners)
	}
	// The leader stops; the other takes over.
	li := int(leader[0] - 'a')
	stops[li]()
	before := log.count()
	waitUntil(t, "the other coordinator to take over", 5*time.Second, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return log.rounds[len(log.rounds)-1].owner != leader
	})
	got := log.order(t) // contiguous sequence numbers: nobody twice, nobody skipped
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s admitted twice", id)
		}
		seen[id] = true
	}
	if len(got) <= before {
		t.Errorf("no admissions after the takeover")
	}
}

// TestCoordinatorSurvivesPartition: while Redis is silently partitioned
// (connections swallow everything and never answer, also after it heals),
// a coordinator round fails within its deadlines instead of hanging, and
// rounds work again once the partition ends.
func TestCoordinatorSurvivesPartition(t *testing.T) {
	url := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); skipping Redis waiting-room tests")
	}
	rest := strings.TrimPrefix(url, "redis://")
	at := strings.LastIndex(rest, "@") + 1
	slash := strings.Index(rest[at:], "/") + at
	proxy := newCutProxy(t, rest[at:slash])
	prefix := "bo:qtest:" + rand.Text() + ":"
	c, err := redis.Open(t.Context(), "redis://"+rest[:at]+proxy.addr()+rest[slash:]) // as the server opens it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cleanup, err := redis.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cleanup.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		raw := cleanup.Raw()
		if keys, err := raw.Do(ctx, raw.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice(); err == nil && len(keys) > 0 {
			raw.Do(ctx, raw.B().Del().Key(keys...).Build())
		}
	})

	h := newRoomHarness(t)
	room := h.room(redis.NewQueue(c, prefix))
	e := h.queued(t, 100, 60)
	if _, err := room.Join(t.Context(), callers(1)[0], e.ID); err != nil {
		t.Fatal(err)
	}
	if err := room.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}

	proxy.setBlackhole(true)
	done := make(chan error, 1)
	go func() { done <- room.Tick(context.Background()) }()
	// Real time: the deadlines and the network are real. The bound only
	// keeps a hanging round from hanging the test.
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a coordinator round succeeded while Redis was partitioned")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a coordinator round still hangs 30 s into the partition")
	}
	proxy.setBlackhole(false)
	waitUntil(t, "a coordinator round to work after the partition", 30*time.Second, func() bool {
		return room.Tick(context.Background()) == nil
	})
}

// startRedis starts a redis-server of the test's own, without persistence,
// on a free port and in a temporary directory, and stops it when t ends.
// It returns its URL. The test may flush or restart it freely.
func startRedis(t *testing.T) string {
	t.Helper()
	if os.Getenv("BOXOFFICE_TEST_REDIS_URL") == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set; skipping the tests that run their own Redis")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed to run this test: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "redis://127.0.0.1:" + port + "/0"
	waitUntil(t, "the test's redis-server to answer", 10*time.Second, func() bool {
		c, err := redis.Open(t.Context(), url, redis.WithTimeout(200*time.Millisecond))
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return url
}

// TestRedisWipedWhileCoordinating: Redis loses everything (FLUSHALL, as a
// restart without persistence does) while three instances coordinate. The
// users join again; admission resumes within a few ticks and the loss is
// logged.
func TestRedisWipedWhileCoordinating(t *testing.T) {
	url := startRedis(t)
	h := newRoomHarness(t)
	ctx := t.Context()
	e := h.queued(t, 100_000, 60*100) // a hundred a second
	var log admissionLog
	var logs syncBuffer
	var rooms []*boxoffice.WaitingRoom
	var admin *redis.Client
	for i := range 3 {
		c, err := redis.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		admin = c
		owner := string(rune('a' + i))
		r := h.room(c.Queue(), func(cfg *boxoffice.WaitingRoomConfig) {
			cfg.Now, cfg.Tick, cfg.LeaseTTL, cfg.Owner, cfg.OnAdmit = time.Now, 50*time.Millisecond, 500*time.Millisecond, owner, log.hook(owner)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		rooms = append(rooms, r)
		runRoom(t, r)
	}
	join := func(us []boxoffice.Caller) {
		t.Helper()
		for i, c := range us {
			if _, err := rooms[i%3].Join(ctx, c, e.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	u := callers(2000)
	join(u[:1000])
	waitUntil(t, "first admissions", 10*time.Second, func() bool { return log.count() > 0 })
	raw := admin.Raw()
	if err := raw.Do(ctx, raw.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	before := log.count()
	log.mu.Lock()
	roundsBefore := len(log.rounds)
	log.mu.Unlock()
	join(u[1000:])
	// A hundred a second: admissions after the wipe should show within a
	// few ticks; the deadline only keeps a broken room from hanging.
	waitUntil(t, "admissions after the wipe", 20*time.Second, func() bool { return log.count() > before+10 })
	// The coordinator that knew the room open logs the loss. When the lease
	// moved meanwhile (a loaded machine can let a 500 ms lease lapse), the
	// new coordinator never knew the room open and opens it as new.
	log.mu.Lock()
	rs := slices.Clone(log.rounds)
	log.mu.Unlock()
	moved := rs[roundsBefore-1].owner != rs[len(rs)-1].owner
	if !strings.Contains(logs.String(), "state was lost") && !moved {
		t.Errorf("the loss was not logged; log:\n%s", logs.String())
	}
}

// syncBuffer is a strings.Builder safe for concurrent writers (a log).
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
