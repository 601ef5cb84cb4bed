package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	register("queue-stream", scenarioInfo{New: newQueueStream, NeedsUsers: true})
}

// streamConfig holds the queue-stream scenario's flags.
type streamConfig struct {
	ServerPID      int
	LocalAddrs     int
	AdmitPerMinute int
	JoinWorkers    int
	OpenWorkers    int
	MaxFanoutP99   time.Duration
	TickGap        time.Duration
	Period         time.Duration
}

// addStreamFlags declares the queue-stream flags on fs.
func addStreamFlags(fs *flag.FlagSet, s *streamConfig) {
	fs.IntVar(&s.ServerPID, "server-pid", 0, "queue-stream: pid of the (local) server, to read its memory and CPU from /proc")
	fs.IntVar(&s.LocalAddrs, "local-addrs", 1, "queue-stream: spread the streams over source addresses 127.0.0.1..127.0.0.N (more ephemeral ports)")
	fs.IntVar(&s.AdmitPerMinute, "admit-per-minute", 0, "queue-stream: first set the event's queue.admit_per_minute to this as the admin (0: leave it)")
	fs.IntVar(&s.JoinWorkers, "join-workers", 64, "queue-stream: concurrent joins before the streams open")
	fs.IntVar(&s.OpenWorkers, "open-workers", 256, "queue-stream: streams being opened at once (until their headers arrive)")
	fs.DurationVar(&s.MaxFanoutP99, "max-fanout-p99", time.Second, "queue-stream: the check fails when the fan-out p99 is above this")
	fs.DurationVar(&s.Period, "stream-tick", time.Second, "queue-stream: the server's stream tick; updates are grouped into windows this long, at the phase the updates show")
	fs.DurationVar(&s.TickGap, "tick-gap", 150*time.Millisecond, "queue-stream: also group updates by pauses: one this long starts a new tick")
}

// checkStreamFlags checks the queue-stream flags and makes -vus default to
// -users: virtual user i holds the stream of seeded user i for the whole
// run.
func checkStreamFlags(c *config) error {
	s := &c.Stream
	var errs []error
	if c.EventID == "" {
		errs = append(errs, errors.New("queue-stream needs -event (a queue-enabled event)"))
	}
	if c.Rate > 0 || c.Stages != nil {
		errs = append(errs, errors.New("queue-stream holds one stream per virtual user: use -vus (default -users), not -rate or -stages"))
	}
	if c.VUs == 0 {
		c.VUs = c.Users
	}
	if c.VUs > c.Users {
		errs = append(errs, fmt.Errorf("queue-stream: -vus %d is more than -users %d (one stream per seeded user)", c.VUs, c.Users))
	}
	if s.AdmitPerMinute < 0 || (s.AdmitPerMinute > 0 && c.AdminEmail == "") {
		errs = append(errs, errors.New("-admit-per-minute needs -admin-email and -admin-password, and must not be negative"))
	}
	if s.LocalAddrs < 1 || s.LocalAddrs > 254 {
		errs = append(errs, errors.New("-local-addrs must be between 1 and 254"))
	}
	if s.JoinWorkers < 1 || s.OpenWorkers < 1 || s.TickGap <= 0 || s.Period <= 0 {
		errs = append(errs, errors.New("-join-workers, -open-workers, -tick-gap and -stream-tick must be positive"))
	}
	return errors.Join(errs...)
}

// queueStream is the waiting room's scale test: N seeded users join the
// event's queue, then each holds a status stream (GET …/queue/stream) for
// the whole run while the coordinator admits people ahead of them, so every
// admission tick changes everyone's position and the server fans out one
// update per waiting client. Streams are read with a bare HTTP/1.1 client
// (one goroutine and a few KB each) so the generator does not dwarf the
// server. The check reports the fan-out latency per tick: for each tick,
// the delay of each client's update after the tick's first update.
type queueStream struct {
	cfg     *config
	n       int // streams wanted (= VUs)
	dialers []*net.Dialer
	open    chan struct{} // bounds the streams being opened at once

	// Per user, touched only by that user's virtual user while the load
	// runs, and read by Check after it.
	arrivals [][]arrival
	finished []bool // the stream ended with a final status
	everOpen []bool

	opened     atomic.Int64 // users whose stream opened at least once
	attempts   atomic.Int64
	failed     atomic.Int64 // attempts that got no stream
	endedEarly atomic.Int64 // streams the server ended without a final status
	startedAt  atomic.Int64 // unix ns of the first Iterate
	allOpenAt  atomic.Int64 // unix ns when the last stream opened

	joins joinTally
	logf  func(format string, args ...any)

	// Server (and generator) samples, when -server-pid is set.
	probe   probeState
	sampler sync.Once
	sampled sync.WaitGroup
}

// arrival is one `event: status` as the client saw it.
type arrival struct {
	at       int64 // unix ns
	position int32
	status   string
	initial  bool // the first event of a connection (not a tick's update)
}

// joinTally sums up the joins.
type joinTally struct {
	OK, Failed int
	Elapsed    time.Duration
	Latency    LatencySummary
	Codes      map[string]int
}

// probeState holds the /proc samples of the server and the generator.
type probeState struct {
	mu                          sync.Mutex
	before, afterJoins, allOpen procSample
	end                         procSample
	peakRSSKB                   int64
	genAllOpenKB                int64
	fdLimit                     int
}

func newQueueStream(cfg *config) Scenario { return &queueStream{cfg: cfg} }

// Prepare samples the server, sets the admission pace, mints the tokens and
// joins every user to the queue.
func (q *queueStream) Prepare(ctx context.Context, env *Env) error {
	cfg := q.cfg
	q.n = cfg.VUs
	q.logf = env.Logf
	q.arrivals = make([][]arrival, q.n)
	q.finished = make([]bool, q.n)
	q.everOpen = make([]bool, q.n)
	q.open = make(chan struct{}, cfg.Stream.OpenWorkers)
	dialers, err := localDialers(cfg.Targets, cfg.Stream.LocalAddrs)
	if err != nil {
		return err
	}
	q.dialers = dialers

	if pid := cfg.Stream.ServerPID; pid > 0 {
		s, err := readProc(pid, true)
		if err != nil {
			return fmt.Errorf("-server-pid: %w", err)
		}
		q.probe.before = s
		q.probe.fdLimit = readFDLimit(pid)
		if lim := q.probe.fdLimit; lim > 0 && s.FDs+q.n+8 > lim {
			env.Logf("warning: the server has %d files open and a limit of %d: %d streams will not fit", s.FDs, lim, q.n)
		}
	}
	if err := loadAdminToken(ctx, env); err != nil {
		return err
	}
	if apm := cfg.Stream.AdmitPerMinute; apm > 0 {
		if err := setAdmitPace(ctx, env, cfg.Targets[0], cfg.EventID, apm); err != nil {
			return err
		}
		if !cfg.Quiet {
			env.Logf("event %s: queue.admit_per_minute set to %d", cfg.EventID, apm)
		}
	}
	if err := loadUserTokens(ctx, env); err != nil {
		return err
	}
	q.joins = joinAll(ctx, env, q.n)
	if !cfg.Quiet {
		env.Logf("joined %d users in %s (%d failed)", q.joins.OK, q.joins.Elapsed.Round(time.Millisecond), q.joins.Failed)
	}
	if q.joins.OK == 0 {
		return fmt.Errorf("no join succeeded: %v", q.joins.Codes)
	}
	// The join connections would hold a file descriptor on both sides for
	// the whole run.
	env.Client.CloseIdleConnections()
	if pid := cfg.Stream.ServerPID; pid > 0 {
		if s, err := readProc(pid, false); err == nil {
			q.probe.afterJoins = s
		}
	}
	return nil
}

// localDialers returns one dialer per source address 127.0.0.1..127.0.0.n
// (with n = 1, the kernel picks the address).
func localDialers(targets []*url.URL, n int) ([]*net.Dialer, error) {
	if n == 1 {
		return []*net.Dialer{{Timeout: 10 * time.Second}}, nil
	}
	for _, t := range targets {
		ip, err := netip.ParseAddr(t.Hostname())
		if err != nil || !ip.Is4() || !ip.IsLoopback() {
			return nil, fmt.Errorf("-local-addrs needs IPv4 loopback targets (127.x.x.x), not %q", t.Host)
		}
	}
	out := make([]*net.Dialer, n)
	for i := range out {
		out[i] = &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}}
	}
	return out, nil
}

// setAdmitPace PATCHes the event's queue as the admin.
func setAdmitPace(ctx context.Context, env *Env, target *url.URL, eventID string, perMinute int) error {
	body, _ := json.Marshal(map[string]any{"queue": map[string]any{"enabled": true, "admit_per_minute": perMinute}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, endpoint(target, "/api/v1/events", eventID).String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header["Authorization"] = env.AdminAuth
	status, resp, err := doJSON(env.Client, req)
	if err != nil {
		return fmt.Errorf("setting the admission pace: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("setting the admission pace: status %d (%s)", status, problemCode(resp))
	}
	return nil
}

// joinAll joins users 0..n-1 to the event's queue with bounded concurrency.
func joinAll(ctx context.Context, env *Env, n int) joinTally {
	cfg := env.Cfg
	var (
		mu   sync.Mutex
		t    = joinTally{Codes: map[string]int{}}
		hist Histogram
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range min(cfg.Stream.JoinWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				u := endpoint(cfg.Targets[i%len(cfg.Targets)], "/api/v1/events", cfg.EventID, "queue")
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
				if err != nil {
					return
				}
				req.Header["Authorization"] = env.Auth[i]
				t0 := time.Now()
				status, body, err := doJSON(env.Client, req)
				hist.Record(time.Since(t0))
				mu.Lock()
				switch {
				case err != nil:
					t.Failed++
					t.Codes[errorKind(err)]++
				case status != http.StatusOK:
					t.Failed++
					t.Codes[strconv.Itoa(status)+" "+problemCode(body)]++
				default:
					t.OK++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Elapsed = time.Since(start)
	t.Latency = hist.Snapshot().Summary()
	return t
}

// Iterate holds user w.ID's stream until the run ends. A stream that
// fails, or that the server ends without a final status, is opened again
// a second later; after a final status (admitted, sold_out, expired) the
// virtual user idles.
func (q *queueStream) Iterate(ctx context.Context, w *Worker) {
	q.startedAt.CompareAndSwap(0, time.Now().UnixNano())
	q.sampler.Do(func() { q.sampled.Go(func() { q.sample(ctx) }) })
	u := w.ID
	if q.finished[u] {
		<-ctx.Done()
		return
	}
	if !q.stream(ctx, w.Env, u) && ctx.Err() == nil && !q.finished[u] {
		sleepCtx(ctx, time.Second)
	}
}

// stream opens user u's stream and reads it to its end. It reports whether
// the stream opened.
func (q *queueStream) stream(ctx context.Context, env *Env, u int) bool {
	select {
	case q.open <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	held := true
	release := func() {
		if held {
			held = false
			<-q.open
		}
	}
	defer release()
	q.attempts.Add(1)
	target := q.cfg.Targets[u%len(q.cfg.Targets)]
	start := time.Now()
	conn, err := q.dialers[u%len(q.dialers)].DialContext(ctx, "tcp", hostPort(target))
	if err != nil {
		q.fail(ctx, env, 0, errorKind(err), []byte(err.Error()))
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	path := endpoint(target, "/api/v1/events", q.cfg.EventID, "queue", "stream").RequestURI()
	req := make([]byte, 0, 512)
	req = append(req, "GET "...)
	req = append(req, path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, target.Host...)
	req = append(req, "\r\nAuthorization: "...)
	req = append(req, env.Auth[u][0]...)
	req = append(req, "\r\nAccept: text/event-stream\r\nUser-Agent: boxoffice-loadgen\r\n\r\n"...)
	if _, err := conn.Write(req); err != nil {
		q.fail(ctx, env, 0, errorKind(err), []byte(err.Error()))
		return false
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		q.fail(ctx, env, 0, errorKind(err), []byte(err.Error()))
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		q.fail(ctx, env, resp.StatusCode, problemCode(body), body)
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			q.finished[u] = true // asking again would get the same answer
		}
		return false
	}
	env.Rec.Record("stream", resp.StatusCode, "", time.Since(start), nil)
	release()
	if !q.everOpen[u] {
		q.everOpen[u] = true
		if q.opened.Add(1) == int64(q.n) {
			q.allOpened()
		}
	}

	initial := true
	err = readEvents(bufio.NewReaderSize(resp.Body, 1024), func(event string, data []byte) bool {
		if event != "status" {
			return true
		}
		a := arrival{at: time.Now().UnixNano(), initial: initial, status: jsonStringField(data, "status"),
			position: int32(jsonIntField(data, "position"))}
		initial = false
		q.arrivals[u] = append(q.arrivals[u], a)
		env.Rec.Record("status", http.StatusOK, a.status, 0, nil)
		if a.status != "waiting" {
			q.finished[u] = true
			return false
		}
		return true
	})
	if ctx.Err() == nil && !q.finished[u] {
		q.endedEarly.Add(1)
		code := "ended_early"
		if err != nil && !errors.Is(err, io.EOF) {
			code = errorKind(err)
		}
		env.Rec.Record("stream_end", 0, code, 0, nil)
	}
	return true
}

// fail records an attempt that got no stream (unless the run is ending).
func (q *queueStream) fail(ctx context.Context, env *Env, status int, code string, sample []byte) {
	if ctx.Err() != nil {
		env.Rec.Abort()
		return
	}
	q.failed.Add(1)
	env.Rec.Record("stream", status, code, 0, sample)
}

// hostPort returns u's host with the port (80 or 443 by default).
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// readEvents reads server-sent events from r and calls fn with each one's
// type and data until fn returns false or r fails; it returns r's error
// (io.EOF at a clean end, nil when fn stopped).
func readEvents(r *bufio.Reader, fn func(event string, data []byte) bool) error {
	var (
		event string
		data  []byte
		long  []byte
	)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if event != "" || len(data) > 0 {
				if event == "" {
					event = "message"
				}
				if !fn(event, data) {
					return nil
				}
			}
			event, data = "", data[:0]
		case line[0] == ':': // a comment (keep-alive)
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
}

// jsonIntField finds the first "key": integer in a JSON document by
// scanning (see jsonStringField); -1 when it is missing or not an integer.
func jsonIntField(body []byte, key string) int {
	pat := []byte(`"` + key + `"`)
	i := bytes.Index(body, pat)
	if i < 0 {
		return -1
	}
	j := skipSpace(body, i+len(pat))
	if j >= len(body) || body[j] != ':' {
		return -1
	}
	j = skipSpace(body, j+1)
	k := j
	for k < len(body) && body[k] >= '0' && body[k] <= '9' {
		k++
	}
	n, err := strconv.Atoi(string(body[j:k]))
	if err != nil {
		return -1
	}
	return n
}

// allOpened notes the moment the last stream opened and samples the server
// and the generator then.
func (q *queueStream) allOpened() {
	q.allOpenAt.Store(time.Now().UnixNano())
	if !q.cfg.Quiet {
		q.logf("all %d streams open, %s after the load started", q.n, time.Since(time.Unix(0, q.startedAt.Load())).Round(time.Millisecond))
	}
	gen, _ := readProc(0, false)
	q.probe.mu.Lock()
	q.probe.genAllOpenKB = gen.RSSKB
	q.probe.mu.Unlock()
	if pid := q.cfg.Stream.ServerPID; pid > 0 {
		if s, err := readProc(pid, true); err == nil {
			q.probe.mu.Lock()
			q.probe.allOpen = s
			q.probe.mu.Unlock()
		}
	}
}

// sample reads the server's RSS every half second for the peak, and its
// CPU time when the load ends.
func (q *queueStream) sample(ctx context.Context) {
	pid := q.cfg.Stream.ServerPID
	if pid <= 0 {
		return
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if s, err := readProc(pid, false); err == nil {
				q.probe.mu.Lock()
				q.probe.end = s
				q.probe.peakRSSKB = max(q.probe.peakRSSKB, s.RSSKB)
				q.probe.mu.Unlock()
			}
			return
		case <-t.C:
			if s, err := readProc(pid, false); err == nil {
				q.probe.mu.Lock()
				q.probe.peakRSSKB = max(q.probe.peakRSSKB, s.RSSKB)
				q.probe.mu.Unlock()
			}
		}
	}
}

// Classify: an open stream and waiting updates are ok; final statuses are
// expected; failures and streams ended early are unexpected.
func (q *queueStream) Classify(op string, status int, code string) Class {
	switch {
	case op == "stream" && status == http.StatusOK:
		return ClassOK
	case op == "status" && code == "waiting":
		return ClassOK
	case op == "status" && (code == "admitted" || code == "sold_out" || code == "expired"):
		return ClassExpected
	}
	return ClassUnexpected
}

// Close does nothing; the streams close with the run.
func (q *queueStream) Close() error { return nil }
