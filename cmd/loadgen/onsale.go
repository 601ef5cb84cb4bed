package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func init() {
	register("onsale", scenarioInfo{New: newOnsale, NeedsUsers: true, CheckFlags: checkOnsaleFlags})
}

// onsaleConfig holds the onsale scenario's flags.
type onsaleConfig struct {
	Wait          string        // "sse" or "poll"
	Poll          time.Duration // poll interval
	Qty           int
	Confirm       bool
	ExpectSellout bool
	Conns         int     // pooled connections per target
	Streams       int     // SSE streams open at once; 0 = derived from the open-files limit
	Abandon       float64 // the share of buyers who, once admitted, never buy
}

// addOnsaleFlags declares the onsale flags on fs.
func addOnsaleFlags(fs *flag.FlagSet, o *onsaleConfig) {
	fs.StringVar(&o.Wait, "onsale-wait", "sse", "onsale: how a buyer waits for admission: sse (GET …/queue/stream) or poll (GET …/queue)")
	fs.DurationVar(&o.Poll, "onsale-poll", time.Second, "onsale: poll interval with -onsale-wait poll, stretched up to 5× while the eta is long")
	fs.IntVar(&o.Qty, "onsale-qty", 1, "onsale: tickets per hold")
	fs.BoolVar(&o.Confirm, "onsale-confirm", true, "onsale: pay for (confirm) every hold")
	fs.BoolVar(&o.ExpectSellout, "onsale-expect-sellout", false, "onsale: fail the check when tickets are left unsold while buyers were told sold_out (needs -admin-email)")
	fs.IntVar(&o.Conns, "onsale-conns", 2048, "onsale: pooled connections per target at most; requests beyond wait for one (SSE streams have their own)")
	fs.Float64Var(&o.Abandon, "onsale-abandon", 0, "onsale: the share of buyers (0 to 1) who leave once admitted, never holding: their admissions stay unused until they expire")
	fs.IntVar(&o.Streams, "onsale-streams", 0, "onsale: SSE streams open at once at most; a buyer who finds none free polls instead (0: what the open-files limit leaves after the pool)")
}

// checkOnsaleFlags checks the onsale flags. In the open model the worker
// pool defaults to -users + 64: a journey keeps its worker while it waits
// in the queue, so every buyer may need one at once.
func checkOnsaleFlags(c *config, set map[string]bool) error {
	o := &c.Onsale
	var errs []error
	if c.EventID == "" {
		errs = append(errs, errors.New("onsale needs -event (boxoffice seed prints it as hot_event_id=)"))
	}
	if o.Wait != "sse" && o.Wait != "poll" {
		errs = append(errs, fmt.Errorf("-onsale-wait %q: want sse or poll", o.Wait))
	}
	if o.Poll <= 0 || o.Qty < 1 || o.Conns < 1 || o.Streams < 0 {
		errs = append(errs, errors.New("-onsale-poll, -onsale-qty and -onsale-conns must be positive, -onsale-streams not negative"))
	}
	if o.Abandon < 0 || o.Abandon > 1 {
		errs = append(errs, fmt.Errorf("-onsale-abandon %g: want a share from 0 to 1", o.Abandon))
	}
	if o.ExpectSellout && c.AdminEmail == "" {
		errs = append(errs, errors.New("-onsale-expect-sellout needs -admin-email and -admin-password (the check reads the sales view)"))
	}
	if c.Open && !set["workers"] {
		// A few more than buyers: arrivals after the last buyer's
		// return at once, and must not be counted as dropped.
		c.Workers = c.Users + 64
	}
	if !c.Open && c.Stages == nil && c.VUs > c.Users {
		errs = append(errs, fmt.Errorf("onsale: -vus %d is more than -users %d (each buyer has one journey)", c.VUs, c.Users))
	}
	return errors.Join(errs...)
}

// journeyEnd is how a buyer's journey ended.
type journeyEnd uint8

// The ends of a journey.
const (
	journeyCutOff    journeyEnd = iota // not ended: the run ended first
	journeyBought                      // held and (with -onsale-confirm) confirmed
	journeySoldOut                     // told sold_out by the queue or the hold
	journeyLimit                       // the hold was refused with limit_exceeded
	journeyFailed                      // an unexpected answer ended it
	journeyAbandoned                   // admitted, then left without buying (-onsale-abandon)
)

// journey is what one buyer got, for the check.
type journey struct {
	end       journeyEnd
	resID     string // the reservation of a 201
	confirmed bool   // the confirm answered 200 confirmed
}

// onsale is the re-created system's spike flow, one buyer's whole journey
// per iteration: browse the list, open the hot event, join its queue, wait
// for admission (SSE or polling), hold and pay. Every seeded user buys at
// most once; when all have had their journey the load phase ends.
type onsale struct {
	cfg *config
	o   *onsaleConfig

	// Per target.
	lists, events, queues, holds, reservations []*url.URL
	streams                                    []string // request URI of …/queue/stream

	tierID      string
	holdBody    []byte
	confirmBody []byte

	dialer  *net.Dialer
	slots   chan struct{} // SSE streams open
	opening chan struct{} // SSE streams being opened (until their headers)

	startedAt atomic.Int64 // unix ns of the first journey
	next      atomic.Int64 // the next buyer (user index)
	ended     atomic.Int64 // journeys ended
	finished  chan struct{}
	finish    sync.Once

	journeys []journey // per user; each written only by its journey

	noID          atomic.Int64 // 201s without an id
	viaStream     atomic.Int64 // waits answered over SSE
	viaPoll       atomic.Int64 // waits answered by polling
	noSlot        atomic.Int64 // SSE waits that found no stream slot and polled
	fallbacks     atomic.Int64 // streams that failed or ended early, then polled
	failedOver    atomic.Int64 // moves to another target after finding an instance gone
	rejoined      atomic.Int64 // joins again after the status answered 404 (not in the queue)
	soldOutQueue  atomic.Int64
	soldOutHold   atomic.Int64
	lastSale      atomic.Int64 // unix ns of the last successful hold/confirm
	firstSoldOut  atomic.Int64 // unix ns of the first sold_out answer
	ticketsBought atomic.Int64
}

func newOnsale(cfg *config) Scenario {
	return &onsale{cfg: cfg, o: &cfg.Onsale, finished: make(chan struct{})}
}

// hotTier is the tier a scenario sells and its state at the start.
type hotTier struct {
	ID                  string
	Capacity, Available int
}

// lookupHotTier reads the event and returns the tier with id tierID, or its
// first tier when tierID is empty.
func lookupHotTier(ctx context.Context, env *Env, eventID, tierID string) (hotTier, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(env.Cfg.Targets[0], "/api/v1/events", eventID).String(), nil)
	if err != nil {
		return hotTier{}, err
	}
	status, body, err := doJSON(env.Client, req)
	if err != nil {
		return hotTier{}, fmt.Errorf("looking up the event: %w", err)
	}
	if status != http.StatusOK {
		return hotTier{}, fmt.Errorf("looking up the event: status %d (%s)", status, problemCode(body))
	}
	var ev struct {
		Tiers []struct {
			ID        string `json:"id"`
			Capacity  int    `json:"capacity"`
			Available int    `json:"available"`
		} `json:"tiers"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return hotTier{}, fmt.Errorf("decoding the event: %w", err)
	}
	for _, t := range ev.Tiers {
		if tierID == "" || t.ID == tierID {
			return hotTier{ID: t.ID, Capacity: t.Capacity, Available: t.Available}, nil
		}
	}
	return hotTier{}, fmt.Errorf("event %s has no tier %q", eventID, tierID)
}

// limitConns replaces env's client by one whose pool holds at most conns
// connections per target: with thousands of buyers, one connection each
// would exhaust the open-files limit on both sides.
func limitConns(env *Env, conns int) {
	env.Client.CloseIdleConnections()
	env.Client = &http.Client{Transport: newLeanTransport(conns, conns), Timeout: env.Client.Timeout}
}

// openFilesLimit returns the process's soft limit on open files, 0 when
// unknown.
func openFilesLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 0
	}
	return int(lim.Cur)
}

// Prepare looks up the tier, sizes the connection pool and the stream
// slots, and gets the tokens.
func (s *onsale) Prepare(ctx context.Context, env *Env) error {
	cfg := s.cfg
	limitConns(env, s.o.Conns)
	tier, err := lookupHotTier(ctx, env, cfg.EventID, cfg.TierID)
	if err != nil {
		return err
	}
	s.tierID = tier.ID
	if !cfg.Quiet {
		env.Logf("tier %s: capacity %d, available %d; %d buyers", tier.ID, tier.Capacity, tier.Available, cfg.Users)
	}
	s.holdBody, _ = json.Marshal(map[string]any{"tier_id": tier.ID, "quantity": s.o.Qty})
	s.confirmBody, _ = json.Marshal(map[string]any{"payment_token": "tok_loadgen"})
	for _, t := range cfg.Targets {
		l := endpoint(t, "/api/v1/events")
		l.RawQuery = "limit=20"
		s.lists = append(s.lists, l)
		s.events = append(s.events, endpoint(t, "/api/v1/events", cfg.EventID))
		s.queues = append(s.queues, endpoint(t, "/api/v1/events", cfg.EventID, "queue"))
		s.holds = append(s.holds, endpoint(t, "/api/v1/events", cfg.EventID, "reservations"))
		s.reservations = append(s.reservations, endpoint(t, "/api/v1/reservations"))
		s.streams = append(s.streams, endpoint(t, "/api/v1/events", cfg.EventID, "queue", "stream").RequestURI())
	}
	if s.o.Wait == "sse" {
		n := s.o.Streams
		if n == 0 {
			// Every stream is a file here and at the server; leave room
			// for the pool and the rest.
			n = max(0, openFilesLimit()-s.o.Conns*len(cfg.Targets)-512)
		}
		n = min(n, cfg.Users)
		s.slots = make(chan struct{}, n)
		s.opening = make(chan struct{}, 256)
		s.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		if n == 0 {
			env.Logf("warning: no room for SSE streams under the open-files limit; every buyer polls")
		} else if !cfg.Quiet {
			env.Logf("at most %d SSE streams at once (%d opening at once); buyers beyond poll", n, cap(s.opening))
		}
	}
	s.journeys = make([]journey, cfg.Users)
	if err := loadAdminToken(ctx, env); err != nil {
		return err
	}
	return loadUserTokens(ctx, env)
}

// Finished is closed when every buyer's journey has ended.
func (s *onsale) Finished() <-chan struct{} { return s.finished }

// Iterate runs the next buyer's journey. Once every buyer has had one, an
// arrival (open model) returns at once and a virtual user (closed model)
// waits for the run to end rather than spin.
func (s *onsale) Iterate(ctx context.Context, w *Worker) {
	s.startedAt.CompareAndSwap(0, time.Now().UnixNano())
	u := int(s.next.Add(1) - 1)
	if u >= len(s.journeys) {
		if !s.cfg.Open {
			select {
			case <-s.finished:
			case <-ctx.Done():
			}
		}
		return
	}
	end := s.journey(ctx, w, u)
	if ctx.Err() != nil && end == journeyFailed {
		end = journeyCutOff
	}
	s.journeys[u].end = end
	if s.ended.Add(1) == int64(len(s.journeys)) {
		s.finish.Do(func() { close(s.finished) })
	}
}

// journey is buyer u's way from the list to a paid ticket. Like the
// clients docs/api.md describes, a buyer whose instance is gone
// (connection refused, reset or cut off) carries on at the next target.
func (s *onsale) journey(ctx context.Context, w *Worker, u int) journeyEnd {
	auth := w.Env.Auth[u]
	t := w.Target()

	// 1. Browse the list.
	pages := 1 + w.Rng.IntN(max(s.cfg.BrowsePages, 1))
	list := s.lists[t]
	for p := 0; p < pages; p++ {
		status, body := w.Send("list", w.Request(http.MethodGet, list, nil))
		if ctx.Err() != nil {
			return journeyCutOff
		}
		if status != http.StatusOK {
			s.failover(ctx, w.Err, &t)
			break // browsing is not needed to buy
		}
		cursor := jsonStringField(body, "next_cursor")
		if cursor == "" {
			break
		}
		next := *s.lists[t]
		next.RawQuery = "limit=20&cursor=" + url.QueryEscape(cursor)
		list = &next
	}

	// 2. Open the hot event.
	if status, _ := w.Send("event", w.Request(http.MethodGet, s.events[t], nil)); status == 0 {
		s.failover(ctx, w.Err, &t)
	}
	if ctx.Err() != nil {
		return journeyCutOff
	}

	// 3. Join its queue (joining again keeps the place, so a join is
	// retried like a hold).
	joined := time.Now()
	status, body := s.join(ctx, w, u, &t)
	token := ""
	switch {
	case status == http.StatusOK:
		st := jsonStringField(body, "status")
		token = jsonStringField(body, "admission_token")
		eta := jsonIntField(body, "eta_seconds")
		// 4. Wait for admission.
		if st == "waiting" {
			st, token = s.wait(ctx, w, &t, u, eta)
		}
		if st == "" {
			return journeyFailed // the failure is recorded by the poll or stream
		}
		recordWait(w.Env.Rec, st, time.Since(joined))
		switch st {
		case "admitted":
			if s.abandons(u) {
				return journeyAbandoned
			}
		case "sold_out":
			s.soldOutQueue.Add(1)
			s.noteSoldOut()
			return journeySoldOut
		default:
			return journeyFailed
		}
	case status == http.StatusConflict && problemCode(body) == "queue_disabled":
		// No waiting room: straight to the hold.
	default:
		return journeyFailed
	}

	// 5. Hold.
	key := w.IdempotencyKey()
	status, body = s.sendRetrying(ctx, w, "hold", &t, func() *http.Request {
		req := w.Request(http.MethodPost, s.holds[t], s.holdBody)
		req.Header["Authorization"] = auth
		req.Header["Idempotency-Key"] = key
		if token != "" {
			req.Header["Admission-Token"] = []string{token}
		}
		return req
	})
	switch {
	case status == http.StatusCreated:
	case status == http.StatusConflict && problemCode(body) == "sold_out":
		s.soldOutHold.Add(1)
		s.noteSoldOut()
		return journeySoldOut
	case status == http.StatusConflict && problemCode(body) == "limit_exceeded":
		return journeyLimit
	default:
		return journeyFailed
	}
	id := jsonStringField(body, "id")
	if id == "" {
		s.noID.Add(1)
		return journeyFailed
	}
	s.journeys[u].resID = id
	if !s.o.Confirm {
		s.sold()
		return journeyBought
	}

	// 6. Pay.
	key = w.IdempotencyKey()
	status, body = s.sendRetrying(ctx, w, "confirm", &t, func() *http.Request {
		req := w.Request(http.MethodPost, endpoint(s.reservations[t], id, "confirm"), s.confirmBody)
		req.Header["Authorization"] = auth
		req.Header["Idempotency-Key"] = key
		return req
	})
	if status != http.StatusOK || jsonStringField(body, "status") != "confirmed" {
		return journeyFailed
	}
	s.journeys[u].confirmed = true
	s.sold()
	return journeyBought
}

// join joins buyer u to the queue at target *t, retried like a hold.
func (s *onsale) join(ctx context.Context, w *Worker, u int, t *int) (int, []byte) {
	return s.sendRetrying(ctx, w, "join", t, func() *http.Request {
		req := w.Request(http.MethodPost, s.queues[*t], nil)
		req.Header["Authorization"] = w.Env.Auth[u]
		return req
	})
}

// abandons says whether buyer u is one of the -onsale-abandon share who
// leave once admitted; they are spread evenly over the arrivals.
func (s *onsale) abandons(u int) bool {
	a := s.o.Abandon
	return int(float64(u+1)*a) > int(float64(u)*a)
}

// failover moves *t to the next target when err says the instance there
// is gone: the connection was refused, reset or cut off mid-answer. It
// reports whether it moved.
func (s *onsale) failover(ctx context.Context, err error, t *int) bool {
	n := len(s.cfg.Targets)
	if n < 2 || ctx.Err() != nil || !instanceGone(err) {
		return false
	}
	*t = (*t + 1) % n
	s.failedOver.Add(1)
	return true
}

// instanceGone says whether a transport error means the instance went
// away (as opposed to a slow one: a timeout is not a reason to move).
func instanceGone(err error) bool {
	return err != nil && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

// sold counts the tickets of a finished purchase and notes the time.
func (s *onsale) sold() {
	s.ticketsBought.Add(int64(s.o.Qty))
	now := time.Now().UnixNano()
	for {
		last := s.lastSale.Load()
		if now <= last || s.lastSale.CompareAndSwap(last, now) {
			return
		}
	}
}

// noteSoldOut notes the time of the first sold_out answer.
func (s *onsale) noteSoldOut() { s.firstSoldOut.CompareAndSwap(0, time.Now().UnixNano()) }

// recordWait records the synthetic op "wait": the final queue status as
// its code, its duration (join to the final status) in the op's histogram
// only, so the overall latency stays that of real requests.
func recordWait(rec *Recorder, final string, d time.Duration) {
	rec.Record("wait", http.StatusOK, final, 0, nil)
	rec.opHistogram("wait").Record(max(d, time.Microsecond))
}

// wait waits for buyer u's admission at target *t; eta is the join's
// eta_seconds. It returns the final status and the admission token, or ""
// when it failed (or the run ended).
func (s *onsale) wait(ctx context.Context, w *Worker, t *int, u, eta int) (status, token string) {
	if s.o.Wait == "sse" {
		select {
		case s.slots <- struct{}{}:
			var err error
			status, token, err = s.stream(ctx, w, *t, u)
			<-s.slots
			if status != "" || ctx.Err() != nil {
				if status != "" {
					s.viaStream.Add(1)
				}
				return status, token
			}
			s.fallbacks.Add(1)
			s.failover(ctx, err, t)
			eta = 0
		default:
			s.noSlot.Add(1)
		}
	}
	status, token = s.poll(ctx, w, t, u, eta)
	if status != "" {
		s.viaPoll.Add(1)
	}
	return status, token
}

// maxRejoins bounds how often one buyer joins again after a 404.
const maxRejoins = 5

// poll polls buyer u's queue status at target *t until it is final. The
// pause between polls is -onsale-poll, stretched to half the eta (at most
// 5×) while the eta is long, with ±10 % jitter so buyers do not poll in
// lockstep. A poll that finds the instance gone moves to the next target;
// a 404 (the waiting room no longer knows the buyer: its state was lost)
// joins again, at most maxRejoins times. Five failed polls in a row give up.
func (s *onsale) poll(ctx context.Context, w *Worker, t *int, u, eta int) (status, token string) {
	interval := s.o.Poll
	fails, rejoins := 0, 0
	for {
		pause := interval
		if eta > 0 {
			pause = min(max(interval, time.Duration(eta)*time.Second/2), 5*interval)
		}
		pause += time.Duration((w.Rng.Float64() - 0.5) * 0.2 * float64(pause))
		sleepCtx(ctx, pause)
		if ctx.Err() != nil {
			return "", ""
		}
		req := w.Request(http.MethodGet, s.queues[*t], nil)
		req.Header["Authorization"] = w.Env.Auth[u]
		code, body := w.Send("poll", req)
		if code == http.StatusNotFound && rejoins < maxRejoins {
			rejoins++
			s.rejoined.Add(1)
			code, body = s.join(ctx, w, u, t)
		}
		if code != http.StatusOK {
			if ctx.Err() != nil {
				return "", ""
			}
			if code == 0 && s.failover(ctx, w.Err, t) {
				eta = 0
				continue // a new instance, a new count
			}
			if fails++; fails >= 5 {
				return "", ""
			}
			eta = 0
			continue
		}
		fails = 0
		if st := jsonStringField(body, "status"); st != "waiting" {
			return st, jsonStringField(body, "admission_token")
		}
		eta = jsonIntField(body, "eta_seconds")
	}
}

// retryable says whether an answer is worth sending again with the same
// Idempotency-Key: no answer, a 5xx, a 429, or the first attempt still
// running at the server.
func retryable(status int, body []byte) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests ||
		(status == http.StatusConflict && problemCode(body) == "request_in_progress")
}

// sendRetrying sends the request mk builds, up to three times while the
// answer is retryable, pausing 200 ms, then 400 ms (or what Retry-After
// says, at most 2 s). mk must reuse one Idempotency-Key, so a retry can
// never make a second reservation, and must address target *t: when the
// instance there is gone, the retry goes at once to the next target (an
// attempt that does not count). It returns the last answer.
func (s *onsale) sendRetrying(ctx context.Context, w *Worker, op string, t *int, mk func() *http.Request) (int, []byte) {
	moves := 0
	for attempt := 1; ; attempt++ {
		status, body := w.Send(op, mk())
		if status == 0 && moves < len(s.cfg.Targets) && s.failover(ctx, w.Err, t) {
			moves++
			attempt--
			continue
		}
		if attempt == 3 || ctx.Err() != nil || !retryable(status, body) {
			return status, body
		}
		pause := time.Duration(attempt) * 200 * time.Millisecond
		if w.Header != nil {
			if ra, err := strconv.Atoi(w.Header.Get("Retry-After")); err == nil && ra > 0 {
				pause = min(time.Duration(ra)*time.Second, 2*time.Second)
			}
		}
		sleepCtx(ctx, pause)
	}
}

// Classify: 2xx is ok; the refusals of a sell-out (sold_out,
// limit_exceeded, and queue_disabled for an event without a waiting room),
// a wait ending in sold_out and request_in_progress on a retried hold or
// confirm are expected; everything else, an expired admission included, is
// unexpected.
func (s *onsale) Classify(op string, status int, code string) Class {
	switch op {
	case "list", "event", "poll", "stream", "confirm":
		if status == http.StatusOK && code == "" {
			return ClassOK
		}
	case "join":
		switch {
		case status == http.StatusOK && code == "":
			return ClassOK
		case status == http.StatusConflict && code == "queue_disabled":
			return ClassExpected
		}
	case "wait":
		switch code {
		case "admitted":
			return ClassOK
		case "sold_out":
			return ClassExpected
		}
	case "hold":
		switch {
		case status == http.StatusCreated:
			return ClassOK
		case status == http.StatusConflict && (code == "sold_out" || code == "limit_exceeded"):
			return ClassExpected
		}
	}
	// A retry (same Idempotency-Key) after a timeout may find the first
	// attempt still running: the right answer, retried again.
	if (op == "hold" || op == "confirm") && status == http.StatusConflict && code == "request_in_progress" {
		return ClassExpected
	}
	return ClassUnexpected
}

// Close does nothing; streams close with their journeys.
func (s *onsale) Close() error { return nil }
