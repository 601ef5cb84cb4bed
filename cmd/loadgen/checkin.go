package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	register("checkin", scenarioInfo{New: newCheckin, NeedsUsers: true, CheckFlags: checkCheckinFlags})
}

// checkinGates is how many gates the checkin scenario scans at: gate-0 …
// gate-7.
const checkinGates = 8

// checkinConfig holds the checkin scenario's flags.
type checkinConfig struct {
	Tickets        int // tickets issued in the setup and scanned
	ScansPerTicket int // scans of each ticket, each at another gate
}

// addCheckinFlags declares the checkin flags on fs.
func addCheckinFlags(fs *flag.FlagSet, c *checkinConfig) {
	fs.IntVar(&c.Tickets, "checkin-tickets", 10000, "checkin: tickets issued (not timed) by placing and paying orders of -order-lines as seeded users, then scanned")
	fs.IntVar(&c.ScansPerTicket, "checkin-scans-per-ticket", 2, "checkin: scans of each ticket, each at another gate (the first admits, the others answer already_used)")
}

// checkCheckinFlags checks the checkin scenario's flags.
func checkCheckinFlags(c *config, _ map[string]bool) error {
	errs := checkEventLines(c)
	if c.AdminEmail == "" {
		errs = append(errs, errors.New("checkin needs -admin-email and -admin-password: the admin scans (admins may scan every event) and reads the counts"))
	}
	if c.Checkin.Tickets < 1 || c.Orders.SetupWorkers < 1 {
		errs = append(errs, errors.New("-checkin-tickets and -setup-workers must be positive"))
	}
	if n := c.Checkin.ScansPerTicket; n < 1 || n > checkinGates {
		errs = append(errs, fmt.Errorf("-checkin-scans-per-ticket %d: want 1 to %d (one gate a scan)", n, checkinGates))
	}
	if c.Open {
		errs = append(errs, errors.New("checkin scans as fast as the server answers: use -vus (closed model)"))
	}
	return errors.Join(errs...)
}

// checkin measures the door: how many scans a second the server decides.
// Its setup, in Prepare and not timed, puts gates gate-0 … gate-7 on the
// event, places orders of -order-lines (as seeded users, from a random one
// on; a user at the event's per-user limit is skipped), pays each with
// tok_visa and reads its tickets' codes, until -checkin-tickets tickets
// exist. The timed phase scans every ticket -checkin-scans-per-ticket
// times as the admin, each scan at another gate, in a closed loop of -vus
// scanners taking the scans in turn. The scans are shuffled in windows of
// four times the VUs, so that a ticket's scans are sometimes in flight at
// the same moment (two gates, one ticket) and sometimes one after the
// other. The load ends when every scan has been answered.
//
// A scan answered ok or already_used counts as a success; anything else is
// an error. The check: every ticket scanned was answered ok exactly once;
// since the setup, the event's checked_in count grew by exactly the scans
// answered ok and each gate's checked_in_here by the ok answers at that
// gate; a sample of the admitted tickets reads back used at the gate that
// admitted them, and a sample of the tickets never scanned reads back
// valid. A ticket one of whose scans got no answer (a transport error or
// the end of the run) is read back to learn whether that scan admitted
// it. The counts assume nothing else checks tickets of the event in
// meanwhile.
type checkin struct {
	orders
	c    *checkinConfig
	scan []*url.URL // POST …/checkins, per target

	tickets []checkinTicket
	state   []checkinState // per ticket
	slots   []checkinSlot  // the scans, in the order they are taken
	before  []gateCount    // the gate counts after the setup
	skipped atomic.Int64   // users skipped at their limit
	orderN  int

	next     atomic.Int64
	ended    atomic.Int64
	finished chan struct{}
	finish   sync.Once
}

// checkinTicket is a ticket the setup issued.
type checkinTicket struct{ ID, Code string }

// checkinSlot is one scan: a ticket at a gate, its request body made in
// the setup.
type checkinSlot struct {
	ticket int32
	gate   int8
	body   []byte
}

// checkinState is what the scans of one ticket were answered.
type checkinState struct {
	sent     atomic.Int32 // scans sent
	inflight atomic.Int32 // scans awaiting their answer
	overlap  atomic.Bool  // two scans were in flight at once
	oks      atomic.Int32 // answered ok
	okGate   atomic.Int32 // the gate of the ok answer, plus one
	used     atomic.Int32 // answered already_used
	other    atomic.Int32 // answered anything else with a 200
	unsure   atomic.Bool  // a scan got no answer, or not a 200
}

// gateCount is an item of GET /api/v1/events/{id}/gates.
type gateCount struct {
	Gate          string `json:"gate"`
	CheckedIn     int    `json:"checked_in"`
	CheckedInHere int    `json:"checked_in_here"`
	Expected      int    `json:"expected"`
}

func newCheckin(cfg *config) Scenario {
	return &checkin{orders: orders{cfg: cfg, o: &cfg.Orders}, c: &cfg.Checkin, finished: make(chan struct{})}
}

// Finished is closed when every scan has been answered.
func (s *checkin) Finished() <-chan struct{} { return s.finished }

// gateName names gate g.
func gateName(g int) string { return "gate-" + strconv.Itoa(g) }

// Prepare checks the tiers, gets the tokens, puts the gates, issues the
// tickets, reads the gate counts and lays out the scans.
func (s *checkin) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env); err != nil {
		return err
	}
	for _, t := range s.cfg.Targets {
		s.scan = append(s.scan, endpoint(t, "/api/v1/events", s.cfg.EventID, "checkins"))
	}
	target := s.cfg.Targets[0]
	for g := range checkinGates {
		status, body, err := requestJSON(ctx, env, http.MethodPut, endpoint(target, "/api/v1/events", s.cfg.EventID, "gates", gateName(g)),
			env.AdminAuth, nil, "")
		if err != nil {
			return fmt.Errorf("putting gate %s: %w", gateName(g), err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("putting gate %s: status %d (%s)", gateName(g), status, problemCode(body))
		}
	}
	start := time.Now()
	if err := s.issue(ctx, env); err != nil {
		return err
	}
	if !s.cfg.Quiet {
		env.Logf("issued %d tickets in %d paid orders in %s (%d users skipped at their limit)",
			len(s.tickets), s.orderN, time.Since(start).Round(time.Millisecond), s.skipped.Load())
	}
	before, err := fetchGateCounts(ctx, env, target, s.cfg.EventID)
	if err != nil {
		return fmt.Errorf("reading the gate counts: %w", err)
	}
	s.before = before
	s.layOut(newWorker(ctx, 0, env).Rng)
	return nil
}

// issue places and pays orders until -checkin-tickets tickets exist, with
// -setup-workers at a time, and keeps their tickets.
func (s *checkin) issue(ctx context.Context, env *Env) error {
	per := tickets(s.o.lines)
	s.orderN = (s.c.Tickets + per - 1) / per
	users := len(env.Auth)
	first := rand.IntN(users)
	var (
		nextOrder, nextUser atomic.Int64
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		byOrder             = make([][]checkinTicket, s.orderN)
		errs                = make([]error, s.o.SetupWorkers)
	)
	for k := range s.o.SetupWorkers {
		wg.Go(func() {
			for {
				i := int(nextOrder.Add(1) - 1)
				if i >= s.orderN || ctx.Err() != nil {
					return
				}
				ts, err := s.issueOrder(ctx, env, i, func() int {
					n := int(nextUser.Add(1) - 1)
					if n >= users {
						return -1
					}
					return (first + n) % users
				})
				if err != nil {
					errs[k] = fmt.Errorf("issuing the tickets of order %d: %w", i, err)
					nextOrder.Store(int64(s.orderN)) // stop everyone
					return
				}
				mu.Lock()
				byOrder[i] = ts
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.tickets = slices.Concat(byOrder...)
	s.state = make([]checkinState, len(s.tickets))
	return nil
}

// issueOrder places order i as the next user who may still buy (user
// returns the next one, -1 when none is left), pays it with tok_visa and
// returns its tickets.
func (s *checkin) issueOrder(ctx context.Context, env *Env, i int, user func() int) ([]checkinTicket, error) {
	t := s.cfg.Targets[i%len(s.cfg.Targets)]
	var (
		u       int
		orderID string
	)
	for orderID == "" {
		if u = user(); u < 0 {
			return nil, fmt.Errorf("every one of the %d users is at the event's per-user limit: seed more, or give -users", len(env.Auth))
		}
		status, body, err := requestJSON(ctx, env, http.MethodPost, s.urls[i%len(s.urls)], env.Auth[u], s.body,
			env.RunID+"-checkin-"+strconv.Itoa(i)+"-"+strconv.Itoa(u))
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusConflict && problemCode(body) == "limit_exceeded":
			s.skipped.Add(1)
		case status != http.StatusCreated:
			return nil, fmt.Errorf("placing it: status %d (%s)", status, problemCode(body))
		default:
			if orderID = jsonStringField(body, "id"); orderID == "" {
				return nil, errors.New("placing it: a 201 without an order id")
			}
		}
	}
	auth := env.Auth[u]
	status, body, err := requestJSON(ctx, env, http.MethodPost, endpoint(t, "/api/v1/orders", orderID, "payments"), auth, paymentBody("tok_visa"), "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated || jsonStringField(body, "status") != "succeeded" {
		return nil, fmt.Errorf("paying it with tok_visa: status %d (%s), payment %s", status, problemCode(body), jsonStringField(body, "status"))
	}
	status, body, err = requestJSON(ctx, env, http.MethodGet, endpoint(t, "/api/v1/orders", orderID, "tickets"), auth, nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("reading its tickets: status %d (%s)", status, problemCode(body))
	}
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Code   string `json:"code"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decoding its tickets: %w", err)
	}
	if want := tickets(s.o.lines); len(list.Items) != want {
		return nil, fmt.Errorf("paid order %s has %d tickets, want %d", orderID, len(list.Items), want)
	}
	out := make([]checkinTicket, len(list.Items))
	for k, it := range list.Items {
		if it.ID == "" || it.Code == "" || it.Status != "valid" {
			return nil, fmt.Errorf("ticket %q of order %s is %s with code %q: want a valid ticket with a code", it.ID, orderID, it.Status, it.Code)
		}
		out[k] = checkinTicket{ID: it.ID, Code: it.Code}
	}
	return out, nil
}

// layOut makes the scans: each ticket -checkin-scans-per-ticket times, at
// gates one apart from a random one, its scans next to each other and then
// shuffled within windows of four times the VUs. A scan and the next few
// are taken by different VUs at nearly the same moment, so two scans of a
// ticket less than about the VUs apart race each other; those further
// apart come one after the other.
func (s *checkin) layOut(rng *rand.Rand) {
	k := s.c.ScansPerTicket
	s.slots = make([]checkinSlot, 0, len(s.tickets)*k)
	for i, t := range s.tickets {
		g0 := rng.IntN(checkinGates)
		for j := range k {
			g := (g0 + j) % checkinGates
			body, _ := json.Marshal(map[string]string{"code": t.Code, "gate": gateName(g)})
			s.slots = append(s.slots, checkinSlot{ticket: int32(i), gate: int8(g), body: body})
		}
	}
	window := k * max(1, (4*max(s.cfg.VUs, maxStage(s.cfg.Stages))+k-1)/k)
	for lo := 0; lo < len(s.slots); lo += window {
		w := s.slots[lo:min(lo+window, len(s.slots))]
		rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
}

// maxStage is the largest target of a profile (0 without one).
func maxStage(st []stage) int {
	n := 0
	for _, x := range st {
		n = max(n, int(x.Target+0.5))
	}
	return n
}

// Iterate sends the next scan.
func (s *checkin) Iterate(ctx context.Context, w *Worker) {
	i := int(s.next.Add(1) - 1)
	if i >= len(s.slots) {
		select {
		case <-s.finished:
		case <-ctx.Done():
		}
		return
	}
	defer func() {
		if s.ended.Add(1) == int64(len(s.slots)) {
			s.finish.Do(func() { close(s.finished) })
		}
	}()
	sl := &s.slots[i]
	st := &s.state[sl.ticket]
	id := s.tickets[sl.ticket].ID
	st.sent.Add(1)
	if st.inflight.Add(1) > 1 {
		st.overlap.Store(true)
	}
	req := w.Request(http.MethodPost, s.scan[w.Target()], sl.body)
	req.Header["Authorization"] = w.Env.AdminAuth
	var result string
	status, _ := w.SendAs("scan", req, func(status int, body []byte) string {
		result = scanResult(status, body, id)
		return result
	})
	st.inflight.Add(-1)
	switch {
	case status != http.StatusOK:
		st.unsure.Store(true)
	case result == "ok":
		st.okGate.Store(int32(sl.gate) + 1)
		st.oks.Add(1)
	case result == "already_used":
		st.used.Add(1)
	default:
		st.other.Add(1)
	}
}

// scanResult is the outcome of a scan of ticket id: the result of a 200
// (other_ticket when it speaks of another ticket, no_result when it has
// none), else the problem code.
func scanResult(status int, body []byte, id string) string {
	if status != http.StatusOK {
		return problemCode(body)
	}
	r := jsonStringField(body, "result")
	switch {
	case r == "":
		return "no_result"
	case (r == "ok" || r == "already_used") && jsonStringField(body, "id") != id:
		return "other_ticket"
	}
	return r
}

// Classify: a scan answered ok or already_used is a success, anything else
// an error.
func (s *checkin) Classify(op string, status int, code string) Class {
	if op == "scan" && status == http.StatusOK && (code == "ok" || code == "already_used") {
		return ClassOK
	}
	return ClassUnexpected
}

// fetchGateCounts reads GET /api/v1/events/{id}/gates as the admin.
func fetchGateCounts(ctx context.Context, env *Env, target *url.URL, eventID string) ([]gateCount, error) {
	status, body, err := requestJSON(ctx, env, http.MethodGet, endpoint(target, "/api/v1/events", eventID, "gates"), env.AdminAuth, nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d (%s)", status, problemCode(body))
	}
	var out struct {
		Items []gateCount `json:"items"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	if len(out.Items) == 0 || out.Items[len(out.Items)-1].Gate != "" {
		return nil, errors.New("the gate counts do not end with the whole event's")
	}
	return out.Items, nil
}

// checkinCheckReport is the checkin check's result, in the JSON report as
// check.details.
type checkinCheckReport struct {
	Tickets      int            `json:"tickets"`
	Scanned      int            `json:"scanned"`
	Overlapping  int            `json:"scanned_at_two_gates_at_once"`
	Results      map[string]int `json:"results"`
	Unanswered   int            `json:"tickets_with_an_unanswered_scan"`
	AdmittedOnce int            `json:"admitted_once"`
	Wrong        int            `json:"wrong"`
	CheckedIn    int            `json:"checked_in_grew_by"`
	ReadBack     int            `json:"read_back"`
}

// checkinRead is a ticket to read back and what it should say ("" when
// it is read to learn its state).
type checkinRead struct {
	ticket     int
	wantStatus string
	wantGate   string
}

// Check verifies the answers per ticket, the gate counts and a sample of
// tickets read back (see checkin).
func (s *checkin) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	rep := &CheckReport{OK: true}
	fail := func(format string, a ...any) {
		rep.OK = false
		if len(rep.Lines) < 60 {
			rep.Lines = append(rep.Lines, fmt.Sprintf(format, a...))
		}
	}
	d := checkinCheckReport{Tickets: len(s.tickets), Results: map[string]int{}}
	okAt := make([]int, checkinGates) // ok answers per gate
	var reads []checkinRead
	var okSample, unscanned []int
	for i := range s.state {
		st := &s.state[i]
		oks := int(st.oks.Load())
		d.Results["ok"] += oks
		d.Results["already_used"] += int(st.used.Load())
		d.Results["other"] += int(st.other.Load())
		if st.sent.Load() == 0 {
			unscanned = append(unscanned, i)
			continue
		}
		d.Scanned++
		if st.overlap.Load() {
			d.Overlapping++
		}
		if oks == 1 {
			okAt[st.okGate.Load()-1]++
		}
		switch {
		case oks > 1:
			d.Wrong++
			fail("WRONG ticket %s: answered ok %d times", s.tickets[i].ID, oks)
		case st.unsure.Load():
			d.Unanswered++
			want := ""
			if oks == 1 {
				want = "used"
			}
			reads = append(reads, checkinRead{ticket: i, wantStatus: want})
		case oks == 0:
			d.Wrong++
			fail("WRONG ticket %s: %d scans answered, none ok", s.tickets[i].ID, st.sent.Load())
		default:
			d.AdmittedOnce++
			okSample = append(okSample, i)
		}
	}
	if n := d.Results["other"]; n > 0 {
		fail("%d scans were answered neither ok nor already_used (see the outcomes)", n)
	}
	rand.Shuffle(len(okSample), func(a, b int) { okSample[a], okSample[b] = okSample[b], okSample[a] })
	for _, i := range okSample[:min(len(okSample), 200)] {
		reads = append(reads, checkinRead{ticket: i, wantStatus: "used", wantGate: gateName(int(s.state[i].okGate.Load()) - 1)})
	}
	rand.Shuffle(len(unscanned), func(a, b int) { unscanned[a], unscanned[b] = unscanned[b], unscanned[a] })
	for _, i := range unscanned[:min(len(unscanned), 50)] {
		reads = append(reads, checkinRead{ticket: i, wantStatus: "valid"})
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("scans: %d tickets, %d of them scanned (%d at two gates at once); answers ok %d, already_used %d, other %d; %d tickets had a scan without an answer",
		d.Tickets, d.Scanned, d.Overlapping, d.Results["ok"], d.Results["already_used"], d.Results["other"], d.Unanswered))
	verdict := "ok"
	if d.AdmittedOnce+d.Unanswered != d.Scanned {
		verdict = "VIOLATED"
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("tickets answered ok exactly once: %d of the %d scanned whose scans were all answered: %s",
		d.AdmittedOnce, d.Scanned-d.Unanswered, verdict))

	// Read the sample and the tickets whose fate is unknown between two
	// reads of the gate counts, until the counts agree: a scan the end of
	// the run cut off may still be committing as the check begins.
	var (
		statuses, gates []string
		unverified      int
		after           []gateCount
		countErr        error
	)
	for try := range 5 {
		if try > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		var c0 []gateCount
		if c0, countErr = fetchGateCounts(ctx, env, env.Cfg.Targets[0], s.cfg.EventID); countErr != nil {
			break
		}
		statuses, gates, unverified = s.readTickets(ctx, env, reads)
		if after, countErr = fetchGateCounts(ctx, env, env.Cfg.Targets[0], s.cfg.EventID); countErr != nil {
			break
		}
		if slices.Equal(c0, after) {
			break
		}
		after, countErr = nil, errors.New("the gate counts kept changing while the tickets were read")
	}
	resolved, wrongReads := 0, 0
	for k, r := range reads {
		id := s.tickets[r.ticket].ID
		switch {
		case statuses[k] == "":
			continue // unverified
		case r.wantStatus == "":
			if statuses[k] == "used" {
				resolved++
				if n, err := strconv.Atoi(strings.TrimPrefix(gates[k], "gate-")); err == nil && n >= 0 && n < checkinGates {
					okAt[n]++
				}
			}
		case statuses[k] != r.wantStatus || (r.wantGate != "" && gates[k] != r.wantGate):
			wrongReads++
			fail("WRONG ticket %s reads back %s at gate %q, want %s at %q", id, statuses[k], gates[k], r.wantStatus, r.wantGate)
		}
	}
	d.ReadBack = len(reads) - unverified
	if unverified > 0 {
		rep.Inconclusive = true
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("read back: %d tickets (%d admitted, want used at the gate that answered ok; %d never scanned, want valid; %d with an unanswered scan, %d of them used), %d could not be read: %s",
		len(reads), min(len(okSample), 200), min(len(unscanned), 50), d.Unanswered, resolved, unverified, okVerdict(wrongReads == 0)))

	// The gate counts.
	if countErr != nil {
		rep.Inconclusive = true
		rep.Lines = append(rep.Lines, fmt.Sprintf("gate counts: %v", countErr))
		rep.Details = d
		return rep, nil
	}
	b, a := s.before[len(s.before)-1], after[len(after)-1]
	d.CheckedIn = a.CheckedIn - b.CheckedIn
	admitted := d.Results["ok"] + resolved
	good := d.CheckedIn == admitted && a.Expected == b.Expected
	if !good {
		rep.OK = false
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("gate counts, whole event: checked_in grew by %d, expected by %d; scans answered ok %d + tickets with an unanswered scan read back used %d = %d, want expected unchanged: %s",
		d.CheckedIn, a.Expected-b.Expected, d.Results["ok"], resolved, admitted, okVerdict(good)))
	var grew, want []string
	good = true
	for g := range checkinGates {
		n := countAt(after, gateName(g)) - countAt(s.before, gateName(g))
		grew, want = append(grew, strconv.Itoa(n)), append(want, strconv.Itoa(okAt[g]))
		if n != okAt[g] {
			good = false
		}
	}
	if !good {
		rep.OK = false
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("gate counts, gate-0 … gate-%d: checked_in_here grew by %s, admissions there %s: %s",
		checkinGates-1, strings.Join(grew, " "), strings.Join(want, " "), okVerdict(good)))
	rep.Details = d
	return rep, nil
}

// readTickets reads the tickets of reads as the admin, -check-workers at
// a time: each one's status and gate ("" for one that could not be read,
// counted in unverified).
func (s *checkin) readTickets(ctx context.Context, env *Env, reads []checkinRead) (statuses, gates []string, unverified int) {
	statuses, gates = make([]string, len(reads)), make([]string, len(reads))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		bad  atomic.Int64
	)
	for range env.Cfg.CheckWorkers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(reads) {
					return
				}
				id := s.tickets[reads[k].ticket].ID
				err := onAnyTarget(env.Cfg.Targets, k, func(t *url.URL) error {
					status, body, err := requestJSON(ctx, env, http.MethodGet, endpoint(t, "/api/v1/tickets", id), env.AdminAuth, nil, "")
					if err == nil && status != http.StatusOK {
						err = fmt.Errorf("status %d (%s)", status, problemCode(body))
					}
					if err == nil && jsonStringField(body, "id") != id {
						err = errors.New("another ticket answered")
					}
					if err == nil {
						statuses[k], gates[k] = jsonStringField(body, "status"), jsonStringField(body, "gate")
					}
					return err
				})
				if err != nil {
					statuses[k], gates[k] = "", ""
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return statuses, gates, int(bad.Load())
}

// countAt is gate's checked_in_here in counts (0 when it is not listed).
func countAt(counts []gateCount, gate string) int {
	for _, c := range counts {
		if c.Gate == gate {
			return c.CheckedInHere
		}
	}
	return 0
}

// okVerdict is "ok" or "VIOLATED".
func okVerdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "VIOLATED"
}

// Close does nothing.
func (s *checkin) Close() error { return nil }
