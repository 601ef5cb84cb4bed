package httpapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/redis"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/testpay"
)

// queueServer is the whole stack with a real waiting room: SQLite store,
// service, WaitingRoom (running its coordinator) on the given Queue, and
// the HTTP API.
type queueServer struct {
	*testServer
	room      *boxoffice.WaitingRoom
	tokens    *auth.Tokens
	admission *auth.AdmissionTokens
}

func newQueueServer(t *testing.T, q boxoffice.Queue, tick time.Duration) *queueServer {
	t.Helper()
	return startQueueServer(t, q, tick, nil)
}

// newBubbleQueueServer is newQueueServer for a test in a synctest bubble:
// the server listens on an in-memory network (see pipeNet), and everything
// runs on the bubble's fake clock. Reach it through qs.client.
func newBubbleQueueServer(t *testing.T, q boxoffice.Queue, tick time.Duration) *queueServer {
	t.Helper()
	return startQueueServer(t, q, tick, newPipeNet())
}

// startQueueServer starts a queueServer on a loopback port, or on pn when
// it is not nil.
func startQueueServer(t *testing.T, q boxoffice.Queue, tick time.Duration, pn *pipeNet) *queueServer {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	admission := auth.NewAdmissionTokens(auth.AdmissionSecret(secret))
	room := boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{
		Queue: q, Store: store, Tokens: admission, Logger: discardLogger(), Tick: tick, LeaseTTL: 10 * tick,
	})
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: store, Hasher: auth.NewHasher(4, 0, 0, 0), Provider: testpay.New(""), Admissions: room, Logger: discardLogger(),
	})
	runCtx, stop := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() { _ = svc.Run(runCtx) })
	bg.Go(func() { _ = room.Run(runCtx) })
	t.Cleanup(func() { stop(); bg.Wait() })
	// Tokens are minted for users the store does not have: wait until
	// they are checked in memory, not against the store.
	waitStandings(t, svc)

	tokens := auth.NewTokens(secret, time.Hour)
	logs := &syncBuffer{}
	handler := New(Config{
		Service: svc, Cache: memory.NewCache(10000), Tokens: tokens, Queue: room, Logger: newJSONLogger(logs), Ready: svc.Ready,
	})
	var srv *httptest.Server
	var client *http.Client
	if pn == nil {
		srv = httptest.NewUnstartedServer(handler)
	} else {
		srv = &httptest.Server{Listener: pn, Config: &http.Server{Handler: handler}}
		client = &http.Client{Transport: &http.Transport{DialContext: pn.DialContext}}
		t.Cleanup(client.CloseIdleConnections) // after srv.Close
	}
	srv.Config.RegisterOnShutdown(room.CloseStreams)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tail(logs.String(), 4000))
		}
	})
	ts := &testServer{t: t, url: srv.URL, client: client, svc: svc, clock: &testClock{}, secret: secret}
	qs := &queueServer{testServer: ts, room: room, tokens: tokens, admission: admission}
	ts.adminToken = qs.mint(boxoffice.RoleAdmin)
	return qs
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// mint returns an access token for a new user (users need not exist in the
// store for the waiting room and holds).
func (qs *queueServer) mint(role boxoffice.Role) string {
	tok, _, err := qs.tokens.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: role})
	if err != nil {
		qs.t.Fatal(err)
	}
	return tok
}

func (qs *queueServer) userID(token string) string {
	c, err := qs.tokens.Verify(token)
	if err != nil {
		qs.t.Fatal(err)
	}
	return c.UserID
}

// queuedEvent creates an on-sale event with a waiting room.
func (qs *queueServer) queuedEvent(capacity, perMinute int) eventJSON {
	body := qs.eventBody("Queued", capacity)
	body["queue"] = map[string]any{"enabled": true, "admit_per_minute": perMinute}
	body["max_tickets_per_user"] = 1
	body["hold_seconds"] = 600
	return qs.createEvent(body)
}

// queueStatusJSON is a QueueStatus as a client decodes it.
type queueStatusJSON struct {
	EventID            string     `json:"event_id"`
	Status             string     `json:"status"`
	Position           int        `json:"position"`
	ETASeconds         int        `json:"eta_seconds"`
	AdmissionToken     string     `json:"admission_token"`
	AdmissionExpiresAt *time.Time `json:"admission_expires_at"`
}

func TestQueueHTTP(t *testing.T) {
	qs := newQueueServer(t, memory.NewQueue(), time.Hour) // nobody is admitted
	e := qs.queuedEvent(10, 60)
	plain := qs.createEvent(qs.eventBody("Plain", 10))
	u1, u2 := qs.mint(boxoffice.RoleUser), qs.mint(boxoffice.RoleUser)
	path := "/api/v1/events/" + e.ID + "/queue"

	qs.call("POST", path, "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
	qs.call("POST", "/api/v1/events/"+boxoffice.NewID()+"/queue", u1, nil).problem(t, 404, boxoffice.CodeNotFound)
	qs.call("POST", "/api/v1/events/nope/queue", u1, nil).problem(t, 404, boxoffice.CodeNotFound)
	qs.call("POST", "/api/v1/events/"+plain.ID+"/queue", u1, nil).problem(t, 409, boxoffice.CodeQueueDisabled)
	qs.call("GET", "/api/v1/events/"+plain.ID+"/queue", u1, nil).problem(t, 409, boxoffice.CodeQueueDisabled)
	qs.call("GET", path, u1, nil).problem(t, 404, boxoffice.CodeNotFound)
	qs.call("POST", path, u1, `{"user_id":"someone-else"}`).problem(t, 422, boxoffice.CodeValidationFailed)

	var st queueStatusJSON
	r := qs.call("POST", path, u1, nil)
	r.ok(t, 200, &st)
	if st.EventID != e.ID || st.Status != "waiting" || st.Position != 1 || st.ETASeconds != 1 || st.AdmissionToken != "" || st.AdmissionExpiresAt != nil {
		t.Errorf("join = %+v", st)
	}
	if !strings.Contains(string(r.body), `"admission_expires_at":null`) || strings.Contains(string(r.body), "admission_token") {
		t.Errorf("join body = %s", r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	qs.call("POST", path, u2, "{}").ok(t, 200, &st)
	if st.Position != 2 {
		t.Errorf("second user at %d", st.Position)
	}
	qs.call("POST", path, u1, nil).ok(t, 200, &st)
	if st.Position != 1 {
		t.Errorf("joining again: position %d, want 1", st.Position)
	}
	qs.call("GET", path, u2, nil).ok(t, 200, &st)
	if st.Position != 2 {
		t.Errorf("status: %+v", st)
	}
	var sales struct {
		Queue struct{ Waiting, Admitted int } `json:"queue"`
	}
	qs.call("GET", "/api/v1/events/"+e.ID+"/sales", qs.adminToken, nil).ok(t, 200, &sales)
	if sales.Queue.Waiting != 2 || sales.Queue.Admitted != 0 {
		t.Errorf("sales queue = %+v", sales.Queue)
	}
	qs.call("DELETE", path, u1, nil).ok(t, 204, nil)
	qs.call("DELETE", path, u1, nil).ok(t, 204, nil)
	qs.call("GET", path, u1, nil).problem(t, 404, boxoffice.CodeNotFound)
	qs.call("GET", path, u2, nil).ok(t, 200, &st)
	if st.Position != 1 {
		t.Errorf("after the first left: %+v", st)
	}
	qs.call("PUT", path, u1, nil).problem(t, 405, codeMethodNotAllowed)
}

// TestAdmissionTokenRefused: holds on a queue-enabled event need a valid
// admission token for this user and event.
func TestAdmissionTokenRefused(t *testing.T) {
	qs := newQueueServer(t, memory.NewQueue(), 20*time.Millisecond)
	e, other := qs.queuedEvent(10, 600_000), qs.queuedEvent(10, 600_000)
	user, stranger := qs.mint(boxoffice.RoleUser), qs.mint(boxoffice.RoleUser)
	st := qs.admitted(user, e.ID)
	if st.AdmissionExpiresAt == nil || time.Until(*st.AdmissionExpiresAt) < 9*time.Minute {
		t.Errorf("admission ends %v, want about 10 min from now", st.AdmissionExpiresAt)
	}
	uid := qs.userID(user)
	otherEvent, _ := qs.admission.Issue(uid, other.ID, time.Now().Add(time.Minute))
	expired, _ := qs.admission.Issue(uid, e.ID, time.Now().Add(-time.Second))
	forged, _ := auth.NewAdmissionTokens([]byte("another key, another key, another")).Issue(uid, e.ID, time.Now().Add(time.Minute))
	tampered := st.AdmissionToken[:len(st.AdmissionToken)-2] + "xx"
	tier := e.Tiers[0].ID
	for name, tc := range map[string]struct{ token, admission string }{
		"none":           {user, ""},
		"forged":         {user, forged},
		"tampered":       {user, tampered},
		"expired":        {user, expired},
		"other event":    {user, otherEvent},
		"other user":     {stranger, st.AdmissionToken},
		"access token":   {user, user},
		"garbage":        {user, "not a token"},
		"other's access": {stranger, stranger},
	} {
		hdr := []string{}
		if tc.admission != "" {
			hdr = []string{"Admission-Token", tc.admission}
		}
		p := qs.hold(tc.token, e.ID, tier, 1, hdr...).problem(t, 403, boxoffice.CodeNotAdmitted)
		if p.Code != boxoffice.CodeNotAdmitted {
			t.Errorf("%s: %+v", name, p)
		}
	}
	qs.hold(user, e.ID, tier, 1, "Admission-Token", st.AdmissionToken).ok(t, 201, nil)
}

// admitted joins the event's queue with token and waits until admitted.
func (qs *queueServer) admitted(token, eventID string) queueStatusJSON {
	qs.t.Helper()
	var st queueStatusJSON
	qs.call("POST", "/api/v1/events/"+eventID+"/queue", token, nil).ok(qs.t, 200, &st)
	deadline := time.Now().Add(10 * time.Second)
	for st.Status == "waiting" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		qs.call("GET", "/api/v1/events/"+eventID+"/queue", token, nil).ok(qs.t, 200, &st)
	}
	if st.Status != "admitted" || st.AdmissionToken == "" {
		qs.t.Fatalf("not admitted: %+v", st)
	}
	return st
}

func TestOnSaleEndToEnd(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testOnSale(t, memory.NewQueue()) })
	t.Run("redis", func(t *testing.T) { testOnSale(t, testRedisQueue(t, "")) })
}

// testRedisQueue returns a Queue on the test Redis (through addr when set)
// under a fresh prefix, or skips the test.
func testRedisQueue(t *testing.T, addr string) *redis.Queue {
	t.Helper()
	url := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); skipping the Redis waiting-room test")
	}
	prefix := "bo:qtest:" + rand.Text() + ":"
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
	if addr != "" {
		url = "redis://" + addr + "/0"
	}
	c, err := redis.Open(t.Context(), url, redis.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return redis.NewQueue(c, prefix)
}

// testOnSale: 2,000 users join, are admitted, hold and confirm; exactly the
// capacity is sold, and everyone else learns sold_out (or, admitted at the
// very end, finds the tier sold out).
func testOnSale(t *testing.T, q boxoffice.Queue) {
	const users, capacity, workers = 2000, 800, 16
	qs := newQueueServer(t, q, 20*time.Millisecond)
	e := qs.queuedEvent(capacity, 600_000)
	path := "/api/v1/events/" + e.ID + "/queue"
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = qs.mint(boxoffice.RoleUser)
	}
	parallel := func(fn func(i int)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < users && !t.Failed(); i = int(next.Add(1) - 1) {
					fn(i)
				}
			})
		}
		wg.Wait()
	}
	start := time.Now()
	parallel(func(i int) {
		var st queueStatusJSON
		qs.call("POST", path, tokens[i], nil).ok(t, 200, &st)
	})
	joined := time.Since(start)
	var confirmed, soldOut, late atomic.Int64
	parallel(func(i int) {
		var st queueStatusJSON
		// A client polling its status; the deadline only keeps a broken
		// room from hanging the test.
		deadline := time.Now().Add(time.Minute)
		for {
			qs.call("GET", path, tokens[i], nil).ok(t, 200, &st)
			if st.Status != "waiting" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("user %d still waiting after a minute: %+v", i, st)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		switch st.Status {
		case "sold_out":
			soldOut.Add(1)
			return
		case "admitted":
		default:
			t.Errorf("user %d: %+v", i, st)
			return
		}
		r := qs.hold(tokens[i], e.ID, e.Tiers[0].ID, 1, "Admission-Token", st.AdmissionToken)
		if r.status == 409 {
			late.Add(1)
			return
		}
		var res reservationJSON
		r.ok(t, 201, &res)
		qs.call("POST", "/api/v1/reservations/"+res.ID+"/confirm", tokens[i], map[string]string{"payment_token": "tok_ok"}).ok(t, 200, &res)
		confirmed.Add(1)
	})
	if confirmed.Load() != capacity || confirmed.Load()+soldOut.Load()+late.Load() != users {
		t.Errorf("confirmed %d, sold_out %d, late %d; want %d confirmed of %d", confirmed.Load(), soldOut.Load(), late.Load(), capacity, users)
	}
	var sales struct {
		Tiers []tierSalesBody `json:"tiers"`
		Queue struct{ Waiting, Admitted int }
	}
	qs.call("GET", "/api/v1/events/"+e.ID+"/sales", qs.adminToken, nil).ok(t, 200, &sales)
	if tr := sales.Tiers[0]; tr.Confirmed != capacity || tr.Held != 0 || tr.Available != 0 {
		t.Errorf("sales = %+v", tr)
	}
	t.Logf("%d users: joined in %v; sold %d in %v; %d learned sold_out, %d admitted too late; queue now %+v",
		users, joined.Round(time.Millisecond), confirmed.Load(), time.Since(start).Round(time.Millisecond), soldOut.Load(), late.Load(), sales.Queue)
}

// TestQueueStream: the stream sends the current status at once, then each
// change at most once a second, and ends after admitted. It runs in a
// synctest bubble, so the times at which statuses arrive are exact.
func TestQueueStream(t *testing.T) {
	synctest.Test(t, testQueueStream)
}

func testQueueStream(t *testing.T) {
	qs := newBubbleQueueServer(t, memory.NewQueue(), time.Second)
	e := qs.queuedEvent(100, 60) // one a second
	var tokens []string
	for range 3 {
		tok := qs.mint(boxoffice.RoleUser)
		qs.call("POST", "/api/v1/events/"+e.ID+"/queue", tok, nil).ok(t, 200, nil)
		tokens = append(tokens, tok)
	}
	qs.call("GET", "/api/v1/events/"+e.ID+"/queue/stream", qs.mint(boxoffice.RoleUser), nil).problem(t, 404, boxoffice.CodeNotFound)

	req, _ := http.NewRequestWithContext(t.Context(), "GET", qs.url+"/api/v1/events/"+e.ID+"/queue/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[2])
	resp, err := qs.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []queueStatusJSON
	var at []time.Time
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if event != "status" {
				t.Errorf("data for event %q", event)
			}
			var st queueStatusJSON
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &st); err != nil {
				t.Fatal(err)
			}
			got = append(got, st)
			at = append(at, time.Now())
		}
	}
	if len(got) < 2 || got[0].Status != "waiting" || got[len(got)-1].Status != "admitted" || got[len(got)-1].AdmissionToken == "" {
		t.Fatalf("stream = %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if d := at[i].Sub(at[i-1]); d < time.Second {
			t.Errorf("statuses %d and %d only %v apart", i-1, i, d)
		}
	}
	t.Logf("stream: %d statuses, positions %v", len(got), func() (ps []string) {
		for _, s := range got {
			ps = append(ps, fmt.Sprintf("%s/%d", s.Status, s.Position))
		}
		return
	}())
}

// TestQueueRedisOutage: while Redis is unreachable, queue calls answer 503
// with Retry-After and nobody is admitted, but holders of admission tokens
// can still buy; when Redis is back, everything works without a restart.
func TestQueueRedisOutage(t *testing.T) {
	proxy := newTCPProxy(t, "127.0.0.1:6379")
	q := testRedisQueue(t, proxy.addr)
	qs := newQueueServer(t, q, 20*time.Millisecond)
	e := qs.queuedEvent(100, 600_000)
	path := "/api/v1/events/" + e.ID + "/queue"
	holder := qs.mint(boxoffice.RoleUser)
	st := qs.admitted(holder, e.ID)

	proxy.stop()
	waiter := qs.mint(boxoffice.RoleUser)
	r := qs.call("POST", path, waiter, nil)
	r.problem(t, 503, boxoffice.CodeUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	qs.call("GET", path, holder, nil).problem(t, 503, boxoffice.CodeUnavailable)
	// The admission token is checked without Redis.
	qs.hold(holder, e.ID, e.Tiers[0].ID, 1, "Admission-Token", st.AdmissionToken).ok(t, 201, nil)
	var sales struct{ Tiers []tierSalesBody }
	qs.call("GET", "/api/v1/events/"+e.ID+"/sales", qs.adminToken, nil).ok(t, 200, &sales)

	proxy.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := qs.call("POST", path, waiter, nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis is back but join answers %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := qs.admitted(waiter, e.ID); st.Status != "admitted" {
		t.Errorf("after Redis came back: %+v", st)
	}
}

// pipeNet is an in-memory network with one listener, for a server in a
// synctest bubble. Its connections are net.Pipe pairs: a goroutine blocked
// reading or writing one is durably blocked, so the bubble's clock can
// advance, which it cannot while a goroutine waits on a real socket.
type pipeNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})}
}

// DialContext connects to the listener; network and address are ignored.
func (p *pipeNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeNet) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe.test" }

// tcpProxy forwards connections to a backend and can be cut and restored,
// to play a Redis that goes away and comes back on the same address.
type tcpProxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
}

func newTCPProxy(t *testing.T, backend string) *tcpProxy {
	p := &tcpProxy{t: t, backend: backend}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

// stop closes the listener and every forwarded connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// BenchmarkJoinStatus measures a join followed by a status call over HTTP
// (two requests per operation) against the in-process queue and Redis.
func BenchmarkJoinStatus(b *testing.B) {
	for _, kind := range []string{"memory", "redis"} {
		b.Run(kind, func(b *testing.B) {
			var q boxoffice.Queue = memory.NewQueue()
			if kind == "redis" {
				url := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
				if url == "" {
					b.Skip("BOXOFFICE_TEST_REDIS_URL is not set")
				}
				c, err := redis.Open(b.Context(), url)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				prefix := "bo:qbench:" + rand.Text() + ":"
				q = redis.NewQueue(c, prefix)
				defer func() {
					raw := c.Raw()
					if keys, err := raw.Do(context.Background(), raw.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice(); err == nil && len(keys) > 0 {
						raw.Do(context.Background(), raw.B().Del().Key(keys...).Build())
					}
				}()
			}
			benchJoinStatus(b, q)
		})
	}
}

func benchJoinStatus(b *testing.B, q boxoffice.Queue) {
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "t.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	room := boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{Queue: q, Store: store, Tokens: auth.NewAdmissionTokens(secret)})
	svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: store, Hasher: auth.NewHasher(4, 0, 0, 0), Admissions: room})
	tokens := auth.NewTokens(secret, time.Hour)
	srv := httptest.NewServer(New(Config{Service: svc, Tokens: tokens, Queue: room}))
	defer srv.Close()
	now := time.Now()
	e, err := svc.CreateEvent(b.Context(), boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleAdmin}, boxoffice.EventInput{
		Title: "Bench", Venue: "Hall", StartsAt: now.Add(48 * time.Hour), SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(24 * time.Hour),
		MaxTicketsPerUser: 1, Queue: &boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 60},
		Tiers: []boxoffice.TierInput{{Name: "GA", Price: boxoffice.Money{Amount: 1, Currency: "USD"}, Capacity: 100}},
	})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	url := srv.URL + "/api/v1/events/" + e.ID + "/queue"
	do := func(method, token string) {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("%s: %d", method, resp.StatusCode)
		}
	}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok, _, _ := tokens.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
			do("POST", tok)
			do("GET", tok)
		}
	})
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "req/s")
}
