package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
)

// orderView is the part of GET /api/v1/orders/{id} the checks read.
type orderView struct {
	ID      string `json:"id"`
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Lines   []struct {
		TierID    string `json:"tier_id"`
		Quantity  int    `json:"quantity"`
		Refunded  int    `json:"refunded"`
		UnitPrice struct {
			Amount int64 `json:"amount"`
		} `json:"unit_price"`
	} `json:"lines"`
	Total struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"total"`
	Refunded struct {
		Amount int64 `json:"amount"`
	} `json:"refunded"`
	Payment *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"payment"`
}

// holdsTickets reports whether an order in status counts its kept tickets
// as confirmed in the sales view.
func holdsTickets(status string) bool { return status == "paid" || status == "partially_refunded" }

// sold reports whether an order in status was paid for.
func sold(status string) bool { return holdsTickets(status) || status == "refunded" }

// getOrder fetches one order (as the admin when there is one, else as its
// buyer). It returns the status and, for a 200, the order.
func getOrder(ctx context.Context, env *Env, target *url.URL, po *placedOrder) (int, *orderView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(target, "/api/v1/orders", po.ID).String(), nil)
	if err != nil {
		return 0, nil, err
	}
	if env.AdminAuth != nil {
		req.Header["Authorization"] = env.AdminAuth
	} else {
		req.Header["Authorization"] = env.Auth[po.User]
	}
	status, body, err := doJSON(env.Client, req)
	if err != nil || status != http.StatusOK {
		return status, nil, err
	}
	var v orderView
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, nil, fmt.Errorf("decoding order %s: %w", po.ID, err)
	}
	if v.ID != po.ID {
		return 0, nil, fmt.Errorf("GET order %s answered another id", po.ID)
	}
	return status, &v, nil
}

// readOrders fetches every order in placed with bounded concurrency. views
// holds each order (nil when it was not found or could not be read); lost
// the ids answered 404; unverified counts the rest.
func readOrders(ctx context.Context, env *Env, placed []*placedOrder) (views []*orderView, lost []string, unverified int) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	views = make([]*orderView, len(placed))
	targets := env.Cfg.Targets
	for range env.Cfg.CheckWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(placed) {
					return
				}
				var (
					status int
					v      *orderView
				)
				err := onAnyTarget(targets, i, func(t *url.URL) (err error) {
					status, v, err = getOrder(ctx, env, t, placed[i])
					return err
				})
				mu.Lock()
				switch {
				case err == nil && status == http.StatusOK:
					views[i] = v
				case err == nil && status == http.StatusNotFound:
					lost = append(lost, placed[i].ID)
				default:
					unverified++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return views, lost, unverified
}

// orderCheckReport is the order check's result, in the JSON report as
// check.details.
type orderCheckReport struct {
	Orders     int               `json:"orders"`
	Found      int               `json:"found"`
	Lost       int               `json:"lost"`
	Wrong      int               `json:"wrong"`
	ByStatus   map[string]uint64 `json:"by_status"`
	Confirmed  map[string]int    `json:"confirmed_by_tier"` // kept tickets of this run's paid orders
	Paid       int64             `json:"paid"`              // Σ totals of this run's sold orders
	Refunded   int64             `json:"refunded"`          // Σ refunded of them
	OrderMoney int64             `json:"orders_revenue"`    // Σ (total − refunded) of them
	Currency   string            `json:"currency,omitempty"`
	Sales      *sales            `json:"sales,omitempty"`
}

// checkOrders verifies what the run's orders left behind:
//
//   - every order that answered 201 exists, once, with exactly the lines
//     asked for (-order-lines), and is in the state its buyer's journey
//     left it in (placedOrder.Want, when known), with the tickets refunded
//     that the buyer refunded and a refunded amount that matches them;
//   - a paid, partially refunded or refunded order's latest payment
//     succeeded, and is the payment the run started for it when known;
//   - with an admin: every tier of the event balances; since the sales view
//     read in Prepare, each tier's confirmed tickets grew by exactly the kept
//     tickets of the run's paid and partially refunded orders, and the
//     revenue by exactly the run's sold orders (paid by Σ totals, refunded
//     by Σ refunded, orders by Σ (total − refunded)); and orders = paid −
//     refunded for the whole event.
//
// The differences assume that nothing else sells or refunds tickets of the
// event while the run lasts. The sales view is read before and after the
// orders, and the three reads are repeated (up to three times) until the
// two sales views agree, so that a callback still being applied as the run
// ended cannot fall between them.
func checkOrders(ctx context.Context, env *Env, s *orders) (*CheckReport, error) {
	s.mu.Lock()
	placed := slices.Clone(s.placed)
	noID := s.noID
	s.mu.Unlock()
	rep := &CheckReport{OK: true}
	fail := func(format string, a ...any) {
		rep.OK = false
		if len(rep.Lines) < 60 {
			rep.Lines = append(rep.Lines, fmt.Sprintf(format, a...))
		}
	}
	d := orderCheckReport{Orders: len(placed), ByStatus: map[string]uint64{}, Confirmed: map[string]int{}}
	if noID > 0 {
		fail("%d answers were 201 without an order id", noID)
	}
	seen := make(map[string]bool, len(placed))
	for _, po := range placed {
		if seen[po.ID] {
			fail("order %s was answered twice (two 201s with one id)", po.ID)
		}
		seen[po.ID] = true
	}

	var (
		views      []*orderView
		lost       []string
		unverified int
		after      *sales
		salesErr   error
	)
	for range 3 {
		var s1 *sales
		if env.AdminAuth != nil {
			if s1, salesErr = fetchSales(ctx, env, env.Cfg.Targets[0], s.cfg.EventID); salesErr != nil {
				break
			}
		}
		views, lost, unverified = readOrders(ctx, env, placed)
		if env.AdminAuth == nil {
			break
		}
		if after, salesErr = fetchSales(ctx, env, env.Cfg.Targets[0], s.cfg.EventID); salesErr != nil {
			break
		}
		if slices.Equal(s1.Tiers, after.Tiers) && slices.Equal(s1.Revenue, after.Revenue) {
			break
		}
		after = nil
		salesErr = fmt.Errorf("the sales view kept changing while the orders were read")
	}

	for i, po := range placed {
		v := views[i]
		if v == nil {
			continue
		}
		d.Found++
		d.ByStatus[v.Status]++
		if problem := orderProblem(po, v, s.o.lines, s.cfg.EventID); problem != "" {
			d.Wrong++
			fail("WRONG order %s: %s", po.ID, problem)
			continue
		}
		if holdsTickets(v.Status) {
			for _, l := range v.Lines {
				d.Confirmed[l.TierID] += l.Quantity - l.Refunded
			}
		}
		if sold(v.Status) {
			d.Paid += v.Total.Amount
			d.Refunded += v.Refunded.Amount
			d.OrderMoney += v.Total.Amount - v.Refunded.Amount
			d.Currency = v.Total.Currency
		}
	}
	d.Lost = len(lost)
	for _, id := range lost[:min(len(lost), 10)] {
		fail("LOST order %s", id)
	}
	if d.Lost > 10 {
		fail("… and %d more lost orders", d.Lost-10)
	}
	if unverified > 0 {
		rep.Inconclusive = true
	}
	rep.Lines = append([]string{fmt.Sprintf("orders: %d answered 201, %d found, %d lost, %d wrong, %d could not be verified (read as %s); by status: %s",
		d.Orders, d.Found, d.Lost, d.Wrong, unverified, checkedAs(env), formatCounts(d.ByStatus))}, rep.Lines...)

	if env.AdminAuth == nil {
		rep.Lines = append(rep.Lines, "sales view: skipped (no -admin-email)")
		rep.Details = d
		return rep, nil
	}
	if salesErr != nil || s.before == nil {
		rep.Inconclusive = true
		rep.Lines = append(rep.Lines, fmt.Sprintf("sales view: %v", salesErr))
		rep.Details = d
		return rep, nil
	}
	d.Sales = after
	checkBalance(rep, after)
	for _, l := range s.o.lines {
		_, _, c0, _, ok0 := tierOf(s.before, l.TierID)
		_, _, c1, _, ok1 := tierOf(after, l.TierID)
		if !ok0 || !ok1 {
			rep.Inconclusive = true
			rep.Lines = append(rep.Lines, "the sales view lists no tier "+l.TierID)
			continue
		}
		verdict := "ok"
		if c1-c0 != d.Confirmed[l.TierID] {
			rep.OK = false
			verdict = "VIOLATED"
		}
		rep.Lines = append(rep.Lines, fmt.Sprintf("tier %s: confirmed grew by %d, the run's paid orders keep %d tickets of it: %s",
			l.TierID, c1-c0, d.Confirmed[l.TierID], verdict))
	}
	r0, r1 := revenueIn(s.before, d.Currency), revenueIn(after, d.Currency)
	verdict := "ok"
	if r1.Paid-r0.Paid != d.Paid || r1.Refunded-r0.Refunded != d.Refunded || r1.Orders-r0.Orders != d.OrderMoney {
		rep.OK = false
		verdict = "VIOLATED"
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("money %s: the sales view's paid grew by %d, refunded by %d, orders by %d; the run's sold orders: Σ total %d, Σ refunded %d, Σ (total − refunded) %d: %s",
		d.Currency, r1.Paid-r0.Paid, r1.Refunded-r0.Refunded, r1.Orders-r0.Orders, d.Paid, d.Refunded, d.OrderMoney, verdict))
	for _, r := range after.Revenue {
		verdict := "ok"
		if r.Orders != r.Paid-r.Refunded {
			rep.OK = false
			verdict = "VIOLATED"
		}
		rep.Lines = append(rep.Lines, fmt.Sprintf("money %s, whole event: orders %d = paid %d − refunded %d: %s",
			r.Currency, r.Orders, r.Paid, r.Refunded, verdict))
	}
	rep.Details = d
	return rep, nil
}

// orderProblem says what is wrong with order v, placed as po with lines,
// or "" when nothing is.
func orderProblem(po *placedOrder, v *orderView, lines []orderLine, eventID string) string {
	if v.EventID != eventID {
		return fmt.Sprintf("of event %s", v.EventID)
	}
	if len(v.Lines) != len(lines) {
		return fmt.Sprintf("%d lines, want %d", len(v.Lines), len(lines))
	}
	refunded, amount := 0, int64(0)
	for i, l := range v.Lines {
		if l.TierID != lines[i].TierID || l.Quantity != lines[i].Quantity {
			return fmt.Sprintf("line %d is %d of tier %s, want %d of %s", i, l.Quantity, l.TierID, lines[i].Quantity, lines[i].TierID)
		}
		if l.Refunded < 0 || l.Refunded > l.Quantity {
			return fmt.Sprintf("line %d has %d of %d tickets refunded", i, l.Refunded, l.Quantity)
		}
		refunded += l.Refunded
		amount += int64(l.Refunded) * l.UnitPrice.Amount
	}
	if v.Refunded.Amount != amount {
		return fmt.Sprintf("refunded %d, but its refunded tickets cost %d", v.Refunded.Amount, amount)
	}
	if po.Want != "" && v.Status != po.Want {
		return fmt.Sprintf("is %s, want %s", v.Status, po.Want)
	}
	if po.Want != "" && refunded != po.Refunded {
		return fmt.Sprintf("has %d tickets refunded, want %d", refunded, po.Refunded)
	}
	if !sold(v.Status) {
		if refunded > 0 {
			return fmt.Sprintf("is %s with %d tickets refunded", v.Status, refunded)
		}
		return ""
	}
	switch {
	case v.Payment == nil:
		return fmt.Sprintf("is %s without a payment", v.Status)
	case v.Payment.Status != "succeeded":
		return fmt.Sprintf("is %s, its payment %s", v.Status, v.Payment.Status)
	case po.PaymentID != "" && v.Payment.ID != po.PaymentID:
		return fmt.Sprintf("is paid by payment %s, want %s", v.Payment.ID, po.PaymentID)
	}
	return ""
}

// revenueIn returns sv's money in currency (zero when it has none).
func revenueIn(sv *sales, currency string) revenue {
	for _, r := range sv.Revenue {
		if r.Currency == currency {
			return r
		}
	}
	return revenue{Currency: currency}
}
