package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func init() {
	register("order", scenarioInfo{New: newOrder, NeedsUsers: true, CheckFlags: checkOrderFlags})
}

// orderConfig holds the flags of the order, checkout and webhook scenarios.
type orderConfig struct {
	Lines          string // "TIER:QTY,TIER:QTY"
	lines          []orderLine
	PaymentsSecret string // the test provider's callback key

	Cancel  float64       // checkout: the share of buyers who cancel instead of paying
	Visa    float64       // checkout: the share who pay with tok_visa (succeeds at once)
	Refund  float64       // checkout: the share of paid orders refunded one ticket
	PollFor time.Duration // checkout: bound on polling an order until paid

	Orders       int     // webhook: orders prepared with a payment under way
	Duplicates   float64 // webhook: the share of callbacks delivered twice
	Stale        float64 // webhook: the share followed by an older failed callback
	SetupWorkers int     // webhook: concurrency of the setup phase
}

// orderLine is one line of the orders a scenario places.
type orderLine struct {
	TierID   string `json:"tier_id"`
	Quantity int    `json:"quantity"`
}

// addOrderFlags declares the order flags on fs.
func addOrderFlags(fs *flag.FlagSet, o *orderConfig) {
	fs.StringVar(&o.Lines, "order-lines", "", "order, checkout, webhook, checkin: the lines of each order as TIER:QTY,TIER:QTY (tiers of -event)")
	fs.StringVar(&o.PaymentsSecret, "payments-secret", "", "checkout, webhook: the server's BOXOFFICE_TEST_PAYMENTS_SECRET, to sign the test provider's callbacks (default: $BOXOFFICE_TEST_PAYMENTS_SECRET)")
	fs.Float64Var(&o.Cancel, "checkout-cancel", 0.1, "checkout: the share of buyers (0 to 1) who cancel their order instead of paying")
	fs.Float64Var(&o.Visa, "checkout-visa", 0.2, "checkout: the share of buyers who pay with tok_visa (paid at once); the others pay with tok_processing and the signed succeeded callback")
	fs.Float64Var(&o.Refund, "checkout-refund", 0.1, "checkout: the share of paid orders whose buyer then refunds one ticket of the first line")
	fs.DurationVar(&o.PollFor, "checkout-poll-for", 5*time.Second, "checkout: how long a buyer polls its order after the callback until it is paid")
	fs.IntVar(&o.Orders, "webhook-orders", 10000, "webhook: orders prepared (not timed), each with a tok_processing payment; the timed phase delivers their succeeded callbacks")
	fs.Float64Var(&o.Duplicates, "webhook-duplicates", 0.1, "webhook: the share of callbacks delivered a second time (the same event id)")
	fs.Float64Var(&o.Stale, "webhook-stale", 0.1, "webhook: the share of payments that also get an older failed callback after the succeeded one")
	fs.IntVar(&o.SetupWorkers, "setup-workers", 32, "webhook: concurrent requests of the setup phase")
}

// checkOrderFlags checks the flags of the order, checkout and webhook
// scenarios.
func checkOrderFlags(c *config, _ map[string]bool) error {
	o := &c.Orders
	errs := checkEventLines(c)
	if c.Scenario == "order" {
		return errors.Join(errs...)
	}
	if o.PaymentsSecret == "" {
		o.PaymentsSecret = os.Getenv("BOXOFFICE_TEST_PAYMENTS_SECRET")
	}
	if o.PaymentsSecret == "" {
		errs = append(errs, fmt.Errorf("%s needs -payments-secret (or BOXOFFICE_TEST_PAYMENTS_SECRET) to sign the test provider's callbacks", c.Scenario))
	}
	if c.AdminEmail == "" {
		errs = append(errs, fmt.Errorf("%s needs -admin-email and -admin-password: its check reads every order and the sales view", c.Scenario))
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"-checkout-cancel", o.Cancel}, {"-checkout-visa", o.Visa}, {"-checkout-refund", o.Refund},
		{"-webhook-duplicates", o.Duplicates}, {"-webhook-stale", o.Stale}} {
		if s.v < 0 || s.v > 1 {
			errs = append(errs, fmt.Errorf("%s %g: want a share from 0 to 1", s.name, s.v))
		}
	}
	if o.Cancel+o.Visa > 1 {
		errs = append(errs, errors.New("-checkout-cancel and -checkout-visa add up to more than 1"))
	}
	if o.PollFor <= 0 || o.Orders < 1 || o.SetupWorkers < 1 {
		errs = append(errs, errors.New("-checkout-poll-for, -webhook-orders and -setup-workers must be positive"))
	}
	if c.Scenario == "webhook" && c.Open {
		errs = append(errs, errors.New("webhook delivers callbacks as fast as the server takes them: use -vus (closed model)"))
	}
	return errors.Join(errs...)
}

// checkEventLines checks -event and parses -order-lines, for the scenarios
// that place orders.
func checkEventLines(c *config) []error {
	var errs []error
	if c.EventID == "" {
		errs = append(errs, fmt.Errorf("%s needs -event", c.Scenario))
	}
	lines, err := parseOrderLines(c.Orders.Lines)
	if err != nil {
		errs = append(errs, err)
	}
	c.Orders.lines = lines
	return errs
}

// parseOrderLines parses "TIER:QTY,TIER:QTY".
func parseOrderLines(s string) ([]orderLine, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("-order-lines is required, e.g. -order-lines TIER_A:1,TIER_B:1")
	}
	var out []orderLine
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		tier, q, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(strings.TrimSpace(q))
		tier = strings.TrimSpace(tier)
		if !ok || tier == "" || err != nil || n < 1 {
			return nil, fmt.Errorf("-order-lines: %q is not TIER:QTY with QTY at least 1", part)
		}
		if seen[tier] {
			return nil, fmt.Errorf("-order-lines: tier %s appears twice (one line per tier)", tier)
		}
		seen[tier] = true
		out = append(out, orderLine{TierID: tier, Quantity: n})
	}
	return out, nil
}

// orderRequestBody encodes the body of POST /api/v1/events/{id}/orders.
func orderRequestBody(lines []orderLine) ([]byte, error) {
	return json.Marshal(struct {
		Lines []orderLine `json:"lines"`
	}{lines})
}

// placedOrder is an order a run created, with what its buyer did to it.
// Want is the state the buyer's journey left it in ("" when the journey
// was cut off or failed, so that any state is accepted); Refunded the
// tickets the buyer refunded. Only the goroutine that placed it writes it.
type placedOrder struct {
	ID        string
	User      int
	Want      string
	Refunded  int
	PaymentID string
}

// orders is the shared part of the order, checkout and webhook scenarios:
// the endpoints, the lines, the run's orders and the sales view before the
// load.
type orders struct {
	cfg   *config
	o     *orderConfig
	urls  []*url.URL // POST …/orders, per target
	body  []byte
	hooks []*url.URL // POST …/payments/webhooks/test, per target

	mu     sync.Mutex
	placed []*placedOrder
	noID   int64 // 201s without an order id

	before *sales // the sales view after Prepare, nil without an admin
}

// prepare checks the event's tiers, gets the tokens and reads the sales
// view the check compares against.
func (s *orders) prepare(ctx context.Context, env *Env) error {
	body, err := orderRequestBody(s.o.lines)
	if err != nil {
		return err
	}
	s.body = body
	for _, t := range s.cfg.Targets {
		s.urls = append(s.urls, endpoint(t, "/api/v1/events", s.cfg.EventID, "orders"))
		s.hooks = append(s.hooks, endpoint(t, "/api/v1/payments/webhooks/test"))
	}
	ev, err := lookUpTiers(ctx, env, s.cfg.Targets[0], s.cfg.EventID)
	if err != nil {
		return err
	}
	for _, l := range s.o.lines {
		found := false
		for _, t := range ev.Tiers {
			if t.ID == l.TierID {
				found = true
				if !s.cfg.Quiet {
					env.Logf("tier %s: capacity %d, available %d; %d a line", t.ID, t.Capacity, t.Available, l.Quantity)
				}
			}
		}
		if !found {
			return fmt.Errorf("event %s has no tier %s", s.cfg.EventID, l.TierID)
		}
	}
	if err := loadAdminToken(ctx, env); err != nil {
		return err
	}
	return loadUserTokens(ctx, env)
}

// readBaseline reads the sales view the check compares the run's orders
// against (nothing without an admin).
func (s *orders) readBaseline(ctx context.Context, env *Env) error {
	if env.AdminAuth == nil {
		return nil
	}
	sv, err := fetchSales(ctx, env, s.cfg.Targets[0], s.cfg.EventID)
	if err != nil {
		return fmt.Errorf("reading the sales view: %w", err)
	}
	s.before = sv
	return nil
}

// place creates one order as user on worker w, recording the answer under
// op "order". It returns the order (also added to the run's orders) or nil.
func (s *orders) place(w *Worker, user int) *placedOrder {
	req := w.Request(http.MethodPost, s.urls[w.Target()], s.body)
	req.Header["Authorization"] = w.Env.Auth[user]
	req.Header["Idempotency-Key"] = w.IdempotencyKey()
	status, body := w.Send("order", req)
	if status != http.StatusCreated {
		return nil
	}
	po := &placedOrder{ID: jsonStringField(body, "id"), User: user, Want: "pending"}
	s.mu.Lock()
	defer s.mu.Unlock()
	if po.ID == "" {
		s.noID++
		return nil
	}
	s.placed = append(s.placed, po)
	return po
}

// classifyOrder: 201 is ok; sold_out, limit_exceeded and not_admitted are
// the correct refusals of an on-sale.
func classifyOrder(status int, code string) (Class, bool) {
	switch {
	case status == http.StatusCreated:
		return ClassOK, true
	case status == http.StatusConflict && (code == "sold_out" || code == "limit_exceeded"):
		return ClassExpected, true
	case status == http.StatusForbidden && code == "not_admitted":
		return ClassExpected, true
	}
	return ClassUnexpected, false
}

// order is the on-sale rush with multi-line orders: every request places
// one order of -order-lines as a random seeded user, with a fresh
// Idempotency-Key. Afterwards it verifies that every 201 is an order the
// server has with exactly its lines, and that the sales view balances.
type order struct{ orders }

func newOrder(cfg *config) Scenario { return &order{orders{cfg: cfg, o: &cfg.Orders}} }

// Prepare checks the tiers, gets the tokens and reads the sales view.
func (s *order) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env); err != nil {
		return err
	}
	return s.readBaseline(ctx, env)
}

// Iterate places one order as a random user.
func (s *order) Iterate(_ context.Context, w *Worker) { s.place(w, w.Rng.IntN(len(w.Env.Auth))) }

// Classify: see classifyOrder.
func (s *order) Classify(op string, status int, code string) Class {
	if c, ok := classifyOrder(status, code); op == "order" && ok {
		return c
	}
	return ClassUnexpected
}

// Check verifies every order the run placed and the sales view
// (checkOrders). An order of this scenario may be pending or, once its
// hold ran out, expired.
func (s *order) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	for _, po := range s.placed {
		po.Want = ""
	}
	return checkOrders(ctx, env, &s.orders)
}

// Close does nothing.
func (s *order) Close() error { return nil }
