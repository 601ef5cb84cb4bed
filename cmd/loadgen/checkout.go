package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"boxoffice/internal/testpay"
)

func init() {
	register("checkout", scenarioInfo{New: newCheckout, NeedsUsers: true, CheckFlags: checkOrderFlags})
}

// checkout is the whole purchase, hold → pay → callback → paid, one buyer's
// journey per iteration: a random seeded user places an order of
// -order-lines, then
//
//   - cancels it (-checkout-cancel of the buyers), or
//   - pays with tok_visa, which succeeds at once (-checkout-visa), or
//   - pays with tok_processing, delivers the provider's signed succeeded
//     callback as the provider would, and reads the order until it is
//     paid (at most -checkout-poll-for);
//
// and a paid buyer may then refund one ticket of the first line
// (-checkout-refund). The check (checkOrders) reads every order back and
// holds the sales view's tickets and money to what the journeys did.
type checkout struct {
	orders
	paid   atomic.Int64 // orders the journeys saw paid
	polled atomic.Int64 // reads of an order after its callback
}

func newCheckout(cfg *config) Scenario { return &checkout{orders: orders{cfg: cfg, o: &cfg.Orders}} }

// Prepare checks the tiers, gets the tokens and reads the sales view.
func (s *checkout) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env); err != nil {
		return err
	}
	return s.readBaseline(ctx, env)
}

// Iterate is one buyer's journey.
func (s *checkout) Iterate(ctx context.Context, w *Worker) {
	user := w.Rng.IntN(len(w.Env.Auth))
	po := s.place(w, user)
	if po == nil {
		return
	}
	t := w.Target()
	auth := w.Env.Auth[user]
	orderURL := endpoint(s.cfg.Targets[t], "/api/v1/orders", po.ID)
	// Until the journey's last step answers, its outcome is unknown.
	po.Want = ""
	r := w.Rng.Float64()
	if r < s.o.Cancel {
		req := w.Request(http.MethodPost, orderURL.JoinPath("cancel"), nil)
		req.Header["Authorization"] = auth
		if status, body := w.Send("cancel", req); status == http.StatusOK && jsonStringField(body, "status") == "cancelled" {
			po.Want = "cancelled"
		}
		return
	}
	token := testpay.ProcessingToken
	if r < s.o.Cancel+s.o.Visa {
		token = "tok_visa"
	}
	req := w.Request(http.MethodPost, orderURL.JoinPath("payments"), paymentBody(token))
	req.Header["Authorization"] = auth
	status, body := w.Send("pay", req)
	if status != http.StatusCreated {
		return
	}
	po.PaymentID = jsonStringField(body, "id")
	if token == testpay.ProcessingToken {
		if jsonStringField(body, "status") != "processing" || !s.deliver(w, t, po.PaymentID) || !s.awaitPaid(ctx, w, orderURL, auth) {
			return
		}
	} else if jsonStringField(body, "status") != "succeeded" {
		return
	}
	s.paid.Add(1)
	po.Want = "paid"
	if w.Rng.Float64() >= s.o.Refund {
		return
	}
	po.Want = ""
	first := s.o.lines[0]
	req = w.Request(http.MethodPost, orderURL.JoinPath("refunds"), refundBody(first.TierID))
	req.Header["Authorization"] = auth
	if status, _ := w.Send("refund", req); status == http.StatusCreated {
		po.Refunded = 1
		po.Want = "partially_refunded"
		if tickets(s.o.lines) == 1 {
			po.Want = "refunded"
		}
	}
}

// deliver sends the provider's signed succeeded callback of payment id to
// target t and reports whether it was taken (200). Like a provider, it
// delivers the same event again after a 503 (a few times, briefly apart).
func (s *orders) deliver(w *Worker, t int, paymentID string) bool {
	body, sig := testpay.Signed(s.o.PaymentsSecret, testpay.Callback{Type: "payment", PaymentID: paymentID,
		Status: "succeeded", Ref: testpay.PaymentRef(paymentID)})
	for try := range 5 {
		req := w.Request(http.MethodPost, s.hooks[t], body)
		req.Header[testpay.SignatureHeader] = []string{sig}
		status, _ := w.Send("webhook", req)
		if status != http.StatusServiceUnavailable {
			return status == http.StatusOK
		}
		time.Sleep(time.Duration(50<<try) * time.Millisecond)
	}
	return false
}

// awaitPaid reads the order at u until it is paid, for at most
// -checkout-poll-for. A callback answered 200 was applied, so the first read
// should find it paid; an order still unpaid at the end is recorded as an
// unexpected "paid" outcome.
func (s *checkout) awaitPaid(ctx context.Context, w *Worker, u *url.URL, auth []string) bool {
	deadline := time.Now().Add(s.o.PollFor)
	status := ""
	for {
		req := w.Request(http.MethodGet, u, nil)
		req.Header["Authorization"] = auth
		code, body := w.Send("read", req)
		s.polled.Add(1)
		if code == http.StatusOK {
			if status = jsonStringField(body, "status"); status == "paid" {
				return true
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			if ctx.Err() == nil {
				w.Env.Rec.Record("paid", 0, "still_"+status, 0, nil)
			}
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Classify: see classifyOrder for "order"; every other step has one good
// answer.
func (s *checkout) Classify(op string, status int, code string) Class {
	switch op {
	case "order":
		c, _ := classifyOrder(status, code)
		return c
	case "pay", "refund":
		if status == http.StatusCreated {
			return ClassOK
		}
	case "webhook":
		switch status {
		case http.StatusOK:
			return ClassOK
		case http.StatusServiceUnavailable:
			return ClassExpected // the provider delivers it again (deliver does)
		}
	case "cancel", "read":
		if status == http.StatusOK {
			return ClassOK
		}
	}
	return ClassUnexpected
}

// Check verifies the run's orders, tickets and money (checkOrders).
func (s *checkout) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	rep, err := checkOrders(ctx, env, &s.orders)
	if rep != nil {
		rep.Lines = append(rep.Lines, formatJourneys(s.paid.Load(), s.polled.Load()))
	}
	return rep, err
}

// formatJourneys sums up the journeys.
func formatJourneys(paid, polled int64) string {
	return fmt.Sprintf("journeys: %d saw their order paid (%d reads of an order after its callback)", paid, polled)
}

// Close does nothing.
func (s *checkout) Close() error { return nil }

// paymentBody encodes the body of POST /api/v1/orders/{id}/payments.
func paymentBody(token string) []byte {
	b, _ := json.Marshal(map[string]string{"payment_token": token})
	return b
}

// refundBody encodes a refund of one ticket of tier.
func refundBody(tier string) []byte {
	b, _ := json.Marshal(map[string][]orderLine{"lines": {{TierID: tier, Quantity: 1}}})
	return b
}

// tickets is the number of tickets of an order of lines.
func tickets(lines []orderLine) int {
	n := 0
	for _, l := range lines {
		n += l.Quantity
	}
	return n
}
