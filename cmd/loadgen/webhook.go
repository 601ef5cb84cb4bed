package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice/internal/testpay"
)

func init() {
	register("webhook", scenarioInfo{New: newWebhook, NeedsUsers: true, CheckFlags: checkOrderFlags})
}

// webhook measures how fast the server applies payment callbacks. Its
// setup, in Prepare and not timed, places -webhook-orders orders of
// -order-lines (order i as seeded user i mod -users) and starts a
// tok_processing payment for each. The timed phase then delivers each
// payment's signed succeeded callback once, in a closed loop of -vus
// senders; after its callback is taken, a share of the payments get the
// same callback again (-webhook-duplicates: the same event id) and a share
// an older failed callback (-webhook-stale: created before the succeeded
// one, delivered after it), neither of which may change anything. The load
// ends when every callback has been delivered. The check (checkOrders):
// every order whose callback was taken is paid by its payment, once, with
// nothing refunded; every other order is still pending; the sales view's
// paid money grew by exactly their totals.
type webhook struct {
	orders
	calls []webhookCalls // per order, in placement order

	next     atomic.Int64
	ended    atomic.Int64
	finished chan struct{}
	finish   sync.Once
	taken    atomic.Int64 // succeeded callbacks answered 200
}

// webhookCalls is what the timed phase sends for one order.
type webhookCalls struct {
	body, sig           []byte // the succeeded callback and its signature
	staleBody, staleSig []byte // the older failed callback, or nil
	duplicate           bool   // deliver body a second time
}

func newWebhook(cfg *config) Scenario {
	return &webhook{orders: orders{cfg: cfg, o: &cfg.Orders}, finished: make(chan struct{})}
}

// Finished is closed when every callback has been delivered.
func (s *webhook) Finished() <-chan struct{} { return s.finished }

// Prepare checks the tiers, gets the tokens, places the orders with their
// payments and signs their callbacks, then reads the sales view.
func (s *webhook) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env); err != nil {
		return err
	}
	start := time.Now()
	n := s.o.Orders
	s.placed = make([]*placedOrder, n)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, s.o.SetupWorkers)
	)
	for k := range s.o.SetupWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				po, err := s.setupOrder(ctx, env, i)
				if err != nil {
					errs[k] = fmt.Errorf("setting up order %d: %w", i, err)
					next.Store(int64(n)) // stop everyone
					return
				}
				s.placed[i] = po
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
	// The callbacks are signed now, so that the timed phase measures the
	// server, not the signing.
	s.calls = make([]webhookCalls, n)
	created := time.Now()
	rng := newWorker(ctx, 0, env).Rng
	for i, po := range s.placed {
		c := &s.calls[i]
		body, sig := testpay.Signed(s.o.PaymentsSecret, testpay.Callback{Type: "payment", Created: created,
			PaymentID: po.PaymentID, Status: "succeeded", Ref: testpay.PaymentRef(po.PaymentID)})
		c.body, c.sig = body, []byte(sig)
		c.duplicate = rng.Float64() < s.o.Duplicates
		if rng.Float64() < s.o.Stale {
			body, sig := testpay.Signed(s.o.PaymentsSecret, testpay.Callback{Type: "payment", Created: created.Add(-time.Second),
				PaymentID: po.PaymentID, Status: "failed", Ref: testpay.PaymentRef(po.PaymentID), FailureReason: testpay.DeclineReason})
			c.staleBody, c.staleSig = body, []byte(sig)
		}
	}
	if !s.cfg.Quiet {
		env.Logf("set up %d orders with a payment under way in %s", n, time.Since(start).Round(time.Millisecond))
	}
	return s.readBaseline(ctx, env)
}

// setupOrder places order i as user i mod -users and starts its
// tok_processing payment.
func (s *webhook) setupOrder(ctx context.Context, env *Env, i int) (*placedOrder, error) {
	user := i % len(env.Auth)
	t := s.cfg.Targets[i%len(s.cfg.Targets)]
	post := func(u *url.URL, body []byte, key string) (int, []byte, error) {
		return requestJSON(ctx, env, http.MethodPost, u, env.Auth[user], body, key)
	}
	status, body, err := post(endpoint(t, "/api/v1/events", s.cfg.EventID, "orders"), s.body, env.RunID+"-setup-"+strconv.Itoa(i))
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated {
		return nil, fmt.Errorf("placing it: status %d (%s)", status, problemCode(body))
	}
	po := &placedOrder{ID: jsonStringField(body, "id"), User: user, Want: "pending"}
	status, body, err = post(endpoint(t, "/api/v1/orders", po.ID, "payments"), paymentBody(testpay.ProcessingToken), "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusCreated || jsonStringField(body, "status") != "processing" {
		return nil, fmt.Errorf("starting its payment: status %d (%s), payment %s", status, problemCode(body), jsonStringField(body, "status"))
	}
	po.PaymentID = jsonStringField(body, "id")
	return po, nil
}

// Iterate delivers the next order's succeeded callback, then its duplicate
// and stale callbacks when it has them.
func (s *webhook) Iterate(ctx context.Context, w *Worker) {
	i := int(s.next.Add(1) - 1)
	if i >= len(s.calls) {
		select {
		case <-s.finished:
		case <-ctx.Done():
		}
		return
	}
	defer func() {
		if s.ended.Add(1) == int64(len(s.calls)) {
			s.finish.Do(func() { close(s.finished) })
		}
	}()
	c, po := &s.calls[i], s.placed[i]
	t := w.Target()
	po.Want = "" // sent: paid if taken, else unknown
	if !s.send(w, t, "webhook", c.body, c.sig) {
		return
	}
	s.taken.Add(1)
	po.Want = "paid"
	if c.duplicate {
		s.send(w, t, "duplicate", c.body, c.sig)
	}
	if c.staleBody != nil {
		s.send(w, t, "stale", c.staleBody, c.staleSig)
	}
}

// send posts one signed callback to target t, recorded under op, and
// reports whether it was taken (200). Like a provider, it delivers the same
// event again after a 503 (a few times, briefly apart).
func (s *webhook) send(w *Worker, t int, op string, body, sig []byte) bool {
	for try := range 5 {
		req := w.Request(http.MethodPost, s.hooks[t], body)
		req.Header[testpay.SignatureHeader] = []string{string(sig)}
		status, _ := w.Send(op, req)
		if status != http.StatusServiceUnavailable {
			return status == http.StatusOK
		}
		time.Sleep(time.Duration(50<<try) * time.Millisecond)
	}
	return false
}

// Classify: every callback is answered 200, or 503 and then delivered
// again.
func (s *webhook) Classify(op string, status int, code string) Class {
	if op != "webhook" && op != "duplicate" && op != "stale" {
		return ClassUnexpected
	}
	switch status {
	case http.StatusOK:
		return ClassOK
	case http.StatusServiceUnavailable:
		return ClassExpected
	}
	return ClassUnexpected
}

// Check verifies the orders and the money (checkOrders) and says how many
// callbacks were delivered.
func (s *webhook) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	rep, err := checkOrders(ctx, env, &s.orders)
	if rep != nil {
		dups, stale := 0, 0
		for _, c := range s.calls[:min(int(s.next.Load()), len(s.calls))] {
			if c.duplicate {
				dups++
			}
			if c.staleBody != nil {
				stale++
			}
		}
		rep.Lines = append(rep.Lines, fmt.Sprintf("callbacks: %d of %d payments' succeeded callbacks taken; %d of them sent again, %d followed by an older failed one",
			s.taken.Load(), len(s.calls), dups, stale))
	}
	return rep, err
}

// Close does nothing.
func (s *webhook) Close() error { return nil }
