package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
)

func init() {
	register("mixed", scenarioInfo{New: newMixed, NeedsUsers: true, CheckFlags: checkMixedFlags})
}

// mixedConfig holds the mixed scenario's flags.
type mixedConfig struct {
	Buyers int
}

// addMixedFlags declares the mixed flags on fs.
func addMixedFlags(fs *flag.FlagSet, m *mixedConfig) {
	fs.IntVar(&m.Buyers, "mixed-buyers", 0, "mixed: simulated buyers taking turns; each arrival sends the next request of the buyer idle longest (0: 5 × the peak -rate, at most -users, so a buyer acts about every 5 s, as the seed's 500 users at ~100 requests/s did)")
}

// checkMixedFlags checks the mixed flags and sizes the buyer pool.
func checkMixedFlags(c *config, _ map[string]bool) error {
	m := &c.Mixed
	var errs []error
	if c.EventID == "" {
		errs = append(errs, errors.New("mixed needs -event (boxoffice seed prints it as hot_event_id=)"))
	}
	if !c.Open {
		errs = append(errs, errors.New("mixed is an open model: give -rate (requests per second) or -stages, not -vus"))
	}
	peak := c.Rate
	for _, s := range c.Stages {
		peak = max(peak, s.Target)
	}
	switch {
	case m.Buyers < 0:
		errs = append(errs, errors.New("-mixed-buyers must not be negative"))
	case m.Buyers == 0:
		m.Buyers = min(c.Users, max(1, int(math.Ceil(5*peak))))
	case m.Buyers > c.Users:
		errs = append(errs, fmt.Errorf("-mixed-buyers %d is more than -users %d (a buyer is a seeded user)", m.Buyers, c.Users))
	}
	return errors.Join(errs...)
}

// mixedStep is where a buyer is in their journey: the request they send
// next.
type mixedStep uint8

// The steps of a buyer's journey, in order.
const (
	stepList    mixedStep = iota // GET /api/v1/events, following next_cursor
	stepDetail                   // GET a listed event
	stepEvent                    // GET the hot event
	stepJoin                     // POST …/queue
	stepPoll                     // GET …/queue until admitted
	stepHold                     // POST …/reservations
	stepConfirm                  // POST /api/v1/reservations/{id}/confirm
)

// mixedOps names the ops in journey order, for the request mix.
var mixedOps = []string{"list", "detail", "event", "join", "poll", "hold", "confirm"}

// buyer is one simulated buyer: a seeded user and where they are.
type buyer struct {
	user   int
	target int
	step   mixedStep
	pages  int    // list pages still to read
	cursor string // of the next list page
	detail string // a listed event to open
	token  string // admission token
	key    []string
	resID  string
	fails  int // unexpected answers in a row
}

// mixed is the seed's request mix at a given request rate: every arrival
// is one HTTP request, the next one of a simulated buyer's journey (list
// pages → an event → the hot event → join → polls → hold → confirm), so
// the mix follows from the journeys. Buyers take turns in a FIFO: an
// arrival takes the buyer idle longest, and no two workers drive one buyer
// at once. A buyer whose journey ends hands their seeded user back and
// starts over as another one.
type mixed struct {
	cfg *config

	// Per target.
	lists, eventsBase, events, queues, holds, reservations []*url.URL

	holdBody, confirmBody []byte

	idle chan *buyer // buyers not being driven, longest idle first
	free chan int    // seeded users not in use, longest unused first

	mu        sync.Mutex
	held      []heldReservation
	confirmed []heldReservation
	noID      atomic.Int64

	ends    [journeyFailed + 1]atomic.Int64
	queueSt sync.Map // queue status → *atomic.Int64
}

func newMixed(cfg *config) Scenario { return &mixed{cfg: cfg} }

// Prepare looks up the tier, gets the tokens and seats the buyers.
func (m *mixed) Prepare(ctx context.Context, env *Env) error {
	cfg := m.cfg
	tier, err := lookupHotTier(ctx, env, cfg.EventID, cfg.TierID)
	if err != nil {
		return err
	}
	if !cfg.Quiet {
		env.Logf("tier %s: capacity %d, available %d; %d buyers among %d users", tier.ID, tier.Capacity, tier.Available, cfg.Mixed.Buyers, cfg.Users)
	}
	m.holdBody, _ = json.Marshal(map[string]any{"tier_id": tier.ID, "quantity": 1})
	m.confirmBody, _ = json.Marshal(map[string]any{"payment_token": "tok_loadgen"})
	for _, t := range cfg.Targets {
		base := endpoint(t, "/api/v1/events")
		l := *base
		l.RawQuery = "limit=20"
		m.lists = append(m.lists, &l)
		m.eventsBase = append(m.eventsBase, base)
		m.events = append(m.events, endpoint(t, "/api/v1/events", cfg.EventID))
		m.queues = append(m.queues, endpoint(t, "/api/v1/events", cfg.EventID, "queue"))
		m.holds = append(m.holds, endpoint(t, "/api/v1/events", cfg.EventID, "reservations"))
		m.reservations = append(m.reservations, endpoint(t, "/api/v1/reservations"))
	}
	n := cfg.Mixed.Buyers
	m.idle = make(chan *buyer, n)
	m.free = make(chan int, cfg.Users)
	for u := n; u < cfg.Users; u++ {
		m.free <- u
	}
	w := newWorker(ctx, 0, env)
	for u := range n {
		b := &buyer{user: u}
		m.reset(w, b)
		m.idle <- b
	}
	if err := loadAdminToken(ctx, env); err != nil {
		return err
	}
	return loadUserTokens(ctx, env)
}

// reset starts b's journey from the list.
func (m *mixed) reset(w *Worker, b *buyer) {
	*b = buyer{user: b.user, target: w.Target(), step: stepList, pages: 1 + w.Rng.IntN(max(m.cfg.BrowsePages, 1))}
}

// restart ends b's journey and starts another as the seeded user unused
// longest.
func (m *mixed) restart(w *Worker, b *buyer, end journeyEnd) {
	m.ends[end].Add(1)
	m.free <- b.user
	b.user = <-m.free
	m.reset(w, b)
}

// fail notes an unexpected answer: the buyer tries the same step again on
// their next turn (a hold or confirm with the same Idempotency-Key), and
// gives up the journey after three in a row.
func (m *mixed) fail(w *Worker, b *buyer) {
	if b.fails++; b.fails >= 3 {
		m.restart(w, b, journeyFailed)
	}
}

// advance moves b to step after a good answer.
func (b *buyer) advance(step mixedStep) { b.step, b.fails = step, 0 }

// toHold moves b to the hold with an admission token (or none).
func (b *buyer) toHold(w *Worker, token string) {
	b.advance(stepHold)
	b.token, b.key = token, w.IdempotencyKey()
}

// countQueue tallies a queue status.
func (m *mixed) countQueue(st string) {
	v, ok := m.queueSt.Load(st)
	if !ok {
		v, _ = m.queueSt.LoadOrStore(st, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

// Iterate sends one request: the next one of the buyer idle longest. With
// every buyer busy the arrival is dropped.
func (m *mixed) Iterate(_ context.Context, w *Worker) {
	var b *buyer
	select {
	case b = <-m.idle:
	default:
		w.Env.Rec.Drop()
		return
	}
	defer func() { m.idle <- b }()
	m.step(w, b)
}

// step sends b's next request and moves b on by its answer.
func (m *mixed) step(w *Worker, b *buyer) {
	t := b.target
	auth := w.Env.Auth[b.user]
	switch b.step {
	case stepList:
		u := m.lists[t]
		if b.cursor != "" {
			next := *u
			next.RawQuery = "limit=20&cursor=" + url.QueryEscape(b.cursor)
			u = &next
		}
		status, body := w.Send("list", w.Request(http.MethodGet, u, nil))
		var page eventPage
		if status != http.StatusOK || decodeEventPage(body, &page) != nil {
			m.fail(w, b)
			return
		}
		if len(page.Items) > 0 {
			b.detail = page.Items[w.Rng.IntN(len(page.Items))].ID
		}
		b.pages--
		switch {
		case b.pages > 0 && page.NextCursor != nil:
			b.cursor = *page.NextCursor
			b.fails = 0
		case b.detail != "":
			b.advance(stepDetail)
		default:
			b.advance(stepEvent)
		}

	case stepDetail:
		if status, _ := w.Send("detail", w.Request(http.MethodGet, endpoint(m.eventsBase[t], b.detail), nil)); status != http.StatusOK {
			m.fail(w, b)
			return
		}
		b.advance(stepEvent)

	case stepEvent:
		if status, _ := w.Send("event", w.Request(http.MethodGet, m.events[t], nil)); status != http.StatusOK {
			m.fail(w, b)
			return
		}
		b.advance(stepJoin)

	case stepJoin, stepPoll:
		op, method := "join", http.MethodPost
		if b.step == stepPoll {
			op, method = "poll", http.MethodGet
		}
		req := w.Request(method, m.queues[t], nil)
		req.Header["Authorization"] = auth
		status, body := w.Send(op, req)
		switch {
		case status == http.StatusOK:
			st := jsonStringField(body, "status")
			m.countQueue(st)
			switch st {
			case "waiting":
				b.advance(stepPoll)
			case "admitted":
				b.toHold(w, jsonStringField(body, "admission_token"))
			case "sold_out":
				m.restart(w, b, journeySoldOut)
			case "expired":
				b.advance(stepJoin) // join again
			default:
				m.fail(w, b)
			}
		case status == http.StatusConflict && op == "join" && problemCode(body) == "queue_disabled":
			b.toHold(w, "")
		case status == http.StatusNotFound && op == "poll":
			b.step = stepJoin // no longer in the queue: join again
			m.fail(w, b)
		default:
			m.fail(w, b)
		}

	case stepHold:
		req := w.Request(http.MethodPost, m.holds[t], m.holdBody)
		req.Header["Authorization"] = auth
		req.Header["Idempotency-Key"] = b.key
		if b.token != "" {
			req.Header["Admission-Token"] = []string{b.token}
		}
		status, body := w.Send("hold", req)
		code := ""
		if status >= 400 {
			code = problemCode(body)
		}
		switch {
		case status == http.StatusCreated:
			id := jsonStringField(body, "id")
			if id == "" {
				m.noID.Add(1)
				m.restart(w, b, journeyFailed)
				return
			}
			m.mu.Lock()
			m.held = append(m.held, heldReservation{ID: id, User: b.user})
			m.mu.Unlock()
			b.resID = id
			b.advance(stepConfirm)
			b.key = w.IdempotencyKey()
		case code == "sold_out":
			m.restart(w, b, journeySoldOut)
		case code == "limit_exceeded":
			m.restart(w, b, journeyLimit)
		case code == "not_admitted":
			b.advance(stepJoin) // the admission expired: queue again
		default:
			m.fail(w, b) // the same key next turn
		}

	case stepConfirm:
		req := w.Request(http.MethodPost, endpoint(m.reservations[t], b.resID, "confirm"), m.confirmBody)
		req.Header["Authorization"] = auth
		req.Header["Idempotency-Key"] = b.key
		status, body := w.Send("confirm", req)
		if status != http.StatusOK || jsonStringField(body, "status") != "confirmed" {
			m.fail(w, b)
			return
		}
		m.mu.Lock()
		m.confirmed = append(m.confirmed, heldReservation{ID: b.resID, User: b.user})
		m.mu.Unlock()
		m.restart(w, b, journeyBought)
	}
}

// Classify: 2xx is ok; sold_out, limit_exceeded, not_admitted (an
// admission that expired) and queue_disabled are expected; everything
// else is unexpected. A queue answering sold_out is a 200 (ok); the
// check's lines count the queue's statuses.
func (m *mixed) Classify(op string, status int, code string) Class {
	switch {
	case status == http.StatusOK && code == "" && op != "hold":
		return ClassOK
	case op == "hold" && status == http.StatusCreated:
		return ClassOK
	case op == "hold" && status == http.StatusConflict && (code == "sold_out" || code == "limit_exceeded"):
		return ClassExpected
	case op == "hold" && status == http.StatusForbidden && code == "not_admitted":
		return ClassExpected
	case op == "join" && status == http.StatusConflict && code == "queue_disabled":
		return ClassExpected
	}
	return ClassUnexpected
}

// mixedReport is the mixed scenario's result, in the JSON report as
// check.details.
type mixedReport struct {
	Requests uint64             `json:"requests"`
	Shares   map[string]float64 `json:"op_shares"`
	Journeys map[string]int64   `json:"journeys_ended"`
	Queue    map[string]int64   `json:"queue_statuses"`
}

// Check verifies the sale (checkSale) and prints the observed request mix.
func (m *mixed) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	m.mu.Lock()
	held, confirmed := m.held, m.confirmed
	m.mu.Unlock()
	rep, _, _ := checkSale(ctx, env, m.cfg.EventID, held, confirmed, m.noID.Load())

	r := mixedReport{Shares: map[string]float64{}, Journeys: map[string]int64{}, Queue: map[string]int64{}}
	counts := map[string]uint64{}
	env.Rec.outcomes.Range(func(k, v any) bool {
		n := v.(*outcome).n.Load()
		counts[k.(outcomeKey).Op] += n
		r.Requests += n
		return true
	})
	var mix []string
	for _, op := range mixedOps {
		share := 0.0
		if r.Requests > 0 {
			share = float64(counts[op]) / float64(r.Requests)
		}
		r.Shares[op] = round3(share)
		mix = append(mix, fmt.Sprintf("%s %.1f%%", op, 100*share))
	}
	for end, name := range []string{"cut_off", "bought", "sold_out", "limit_exceeded", "failed"} {
		if end > 0 {
			r.Journeys[name] = m.ends[end].Load()
		}
	}
	m.queueSt.Range(func(k, v any) bool {
		r.Queue[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	rep.Lines = append(rep.Lines,
		fmt.Sprintf("request mix over %d requests: %s", r.Requests, strings.Join(mix, ", ")),
		fmt.Sprintf("journeys ended: %d bought, %d sold_out, %d limit_exceeded, %d failed; queue answers %v",
			r.Journeys["bought"], r.Journeys["sold_out"], r.Journeys["limit_exceeded"], r.Journeys["failed"], r.Queue))
	rep.Details = r
	return rep, nil
}

// Close does nothing.
func (m *mixed) Close() error { return nil }
