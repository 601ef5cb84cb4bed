package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// checkSale verifies what a sale left behind, for hold, onsale and mixed: every
// reservation that answered 201 still exists (verifyReservations), every
// one that answered confirmed is confirmed now, and (with an admin) every
// tier of the event balances: held + confirmed + available = capacity and
// held + confirmed ≤ capacity. It returns the report so far and the sales
// view (nil when it was skipped or could not be read) and the number of
// lost reservations.
func checkSale(ctx context.Context, env *Env, eventID string, holds, confirmed []heldReservation, noID int64) (*CheckReport, *sales, int) {
	targets := env.Cfg.Targets
	rep := &CheckReport{OK: true}
	found, lost, unverified := verifyReservations(ctx, env, targets, holds)
	rep.Lines = append(rep.Lines, fmt.Sprintf("reservations: %d answered 201, %d found, %d lost, %d could not be verified (checked as %s)",
		len(holds), found, len(lost), unverified, checkedAs(env)))
	if noID > 0 {
		rep.OK = false
		rep.Lines = append(rep.Lines, fmt.Sprintf("%d answers were 201 without a reservation id", noID))
	}
	if len(lost) > 0 {
		rep.OK = false
		for _, id := range lost[:min(len(lost), 10)] {
			rep.Lines = append(rep.Lines, "LOST reservation "+id)
		}
	}
	ok, wrong, unverifiedConfirmed := reservationStatuses(ctx, env, confirmed, "confirmed")
	if len(confirmed) > 0 {
		rep.Lines = append(rep.Lines, fmt.Sprintf("confirmations: %d answered confirmed, %d are confirmed, %d are not, %d could not be verified",
			len(confirmed), ok, len(wrong), unverifiedConfirmed))
	}
	if len(wrong) > 0 {
		rep.OK = false
		for _, l := range wrong[:min(len(wrong), 10)] {
			rep.Lines = append(rep.Lines, "NOT CONFIRMED: "+l)
		}
	}
	if unverified > 0 || unverifiedConfirmed > 0 {
		rep.Inconclusive = true
	}
	if env.AdminAuth == nil {
		rep.Lines = append(rep.Lines, "sales view: skipped (no -admin-email)")
		return rep, nil, len(lost)
	}
	var sv *sales
	err := onAnyTarget(targets, 0, func(t *url.URL) (err error) {
		sv, err = fetchSales(ctx, env, t, eventID)
		return err
	})
	if err != nil {
		rep.Inconclusive = true
		rep.Lines = append(rep.Lines, "sales view: "+err.Error())
		return rep, nil, len(lost)
	}
	checkBalance(rep, sv)
	return rep, sv, len(lost)
}

// checkBalance adds a line per tier of sv to rep, failing it for a tier
// that does not balance: held + confirmed + available = capacity, held +
// confirmed ≤ capacity.
func checkBalance(rep *CheckReport, sv *sales) {
	for _, t := range sv.Tiers {
		balanced := t.Held+t.Confirmed <= t.Capacity && t.Held+t.Confirmed+t.Available == t.Capacity && t.Available >= 0
		verdict := "ok"
		if !balanced {
			rep.OK = false
			verdict = "VIOLATED"
		}
		rep.Lines = append(rep.Lines, fmt.Sprintf("tier %s: capacity %d = held %d + confirmed %d + available %d: %s",
			t.TierID, t.Capacity, t.Held, t.Confirmed, t.Available, verdict))
	}
}

// reservationStatuses fetches every reservation in rs (as the admin when
// there is one, else as its owner) with bounded concurrency and counts
// those whose status is want; wrong describes the others (a 404 included).
func reservationStatuses(ctx context.Context, env *Env, rs []heldReservation, want string) (ok int, wrong []string, unverified int) {
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	targets := env.Cfg.Targets
	for range env.Cfg.CheckWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rs) {
					return
				}
				r := rs[i]
				var (
					status int
					got    string
				)
				err := onAnyTarget(targets, i, func(t *url.URL) (err error) {
					status, got, err = reservationStatus(ctx, env, t, r)
					return err
				})
				mu.Lock()
				switch {
				case err == nil && status == http.StatusOK && got == want:
					ok++
				case err == nil && status == http.StatusOK:
					wrong = append(wrong, fmt.Sprintf("reservation %s is %q", r.ID, got))
				case err == nil && status == http.StatusNotFound:
					wrong = append(wrong, fmt.Sprintf("reservation %s is gone", r.ID))
				default:
					unverified++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok, wrong, unverified
}

// reservationStatus fetches one reservation and returns its status field.
func reservationStatus(ctx context.Context, env *Env, target *url.URL, r heldReservation) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(target, "/api/v1/reservations", r.ID).String(), nil)
	if err != nil {
		return 0, "", err
	}
	if env.AdminAuth != nil {
		req.Header["Authorization"] = env.AdminAuth
	} else {
		req.Header["Authorization"] = env.Auth[r.User]
	}
	status, body, err := doJSON(env.Client, req)
	if err != nil {
		return 0, "", err
	}
	if status == http.StatusOK && jsonStringField(body, "id") != r.ID {
		return 0, "", fmt.Errorf("GET reservation %s answered another id", r.ID)
	}
	return status, jsonStringField(body, "status"), nil
}

// tierOf returns the sales of tier id.
func tierOf(sv *sales, id string) (capacity, held, confirmed, available int, ok bool) {
	for _, t := range sv.Tiers {
		if t.TierID == id {
			return t.Capacity, t.Held, t.Confirmed, t.Available, true
		}
	}
	return 0, 0, 0, 0, false
}

// onsaleReport is the onsale scenario's result, in the JSON report as
// check.details.
type onsaleReport struct {
	Buyers         int     `json:"buyers"`
	Bought         int     `json:"journeys_bought"`
	SoldOut        int     `json:"journeys_sold_out"`
	SoldOutInQueue int64   `json:"told_sold_out_by_queue"`
	SoldOutAtHold  int64   `json:"told_sold_out_at_hold"`
	LimitExceeded  int     `json:"journeys_limit_exceeded"`
	Failed         int     `json:"journeys_failed"`
	Abandoned      int     `json:"journeys_abandoned"`
	CutOff         int     `json:"journeys_cut_off"`
	Tickets        int64   `json:"tickets_bought"`
	Capacity       int     `json:"capacity"`
	Confirmed      int     `json:"confirmed"`
	Held           int     `json:"held"`
	Available      int     `json:"available"`
	AllSold        bool    `json:"all_sold"`
	Oversold       int     `json:"oversold"`
	Lost           int     `json:"lost"`
	LastSaleS      float64 `json:"last_sale_s"`
	FirstSoldOutS  float64 `json:"first_sold_out_s"`
	WaitsSSE       int64   `json:"waits_over_sse"`
	WaitsPolled    int64   `json:"waits_polled"`
	NoStreamSlot   int64   `json:"waits_without_stream_slot"`
	StreamFailed   int64   `json:"streams_failed_then_polled"`
	FailedOver     int64   `json:"failed_over"`
	Rejoined       int64   `json:"rejoined"`
}

// Check verifies the sale (checkSale) and sums up the journeys: tickets
// sold against capacity, oversold, lost. It fails on a lost reservation,
// an unbalanced or oversold tier, a reservation that answered confirmed but
// is not, and, with -onsale-expect-sellout, tickets left available while
// buyers were told sold_out.
func (s *onsale) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	var holds, confirmed []heldReservation
	r := onsaleReport{Buyers: len(s.journeys), Tickets: s.ticketsBought.Load(),
		SoldOutInQueue: s.soldOutQueue.Load(), SoldOutAtHold: s.soldOutHold.Load(),
		WaitsSSE: s.viaStream.Load(), WaitsPolled: s.viaPoll.Load(), NoStreamSlot: s.noSlot.Load(), StreamFailed: s.fallbacks.Load(),
		FailedOver: s.failedOver.Load(), Rejoined: s.rejoined.Load()}
	for u, j := range s.journeys {
		switch j.end {
		case journeyBought:
			r.Bought++
		case journeySoldOut:
			r.SoldOut++
		case journeyLimit:
			r.LimitExceeded++
		case journeyFailed:
			r.Failed++
		case journeyAbandoned:
			r.Abandoned++
		default:
			r.CutOff++
		}
		if j.resID != "" {
			holds = append(holds, heldReservation{ID: j.resID, User: u})
			if j.confirmed {
				confirmed = append(confirmed, heldReservation{ID: j.resID, User: u})
			}
		}
	}
	rep, sv, lost := checkSale(ctx, env, s.cfg.EventID, holds, confirmed, s.noID.Load())
	r.Lost = lost
	start := s.startedAt.Load()
	since := func(ns int64) float64 {
		if ns == 0 || start == 0 {
			return 0
		}
		return round3(time.Duration(ns - start).Seconds())
	}
	r.LastSaleS, r.FirstSoldOutS = since(s.lastSale.Load()), since(s.firstSoldOut.Load())
	rep.Lines = append(rep.Lines,
		fmt.Sprintf("journeys: %d buyers: %d bought %d tickets, %d told sold_out (%d by the queue, %d at the hold), %d limit_exceeded, %d abandoned once admitted, %d failed, %d cut off by the end of the run",
			r.Buyers, r.Bought, r.Tickets, r.SoldOut, r.SoldOutInQueue, r.SoldOutAtHold, r.LimitExceeded, r.Abandoned, r.Failed, r.CutOff),
		fmt.Sprintf("waits: %d answered over SSE, %d by polling (%d found no free stream slot, %d streams failed first); %d moves to another instance, %d joins again after a 404",
			r.WaitsSSE, r.WaitsPolled, r.NoStreamSlot, r.StreamFailed, r.FailedOver, r.Rejoined))
	if sv == nil {
		rep.Details = r
		return rep, nil
	}
	capacity, held, conf, avail, ok := tierOf(sv, s.tierID)
	if !ok {
		rep.Inconclusive = true
		rep.Lines = append(rep.Lines, "the sales view lists no tier "+s.tierID)
		rep.Details = r
		return rep, nil
	}
	r.Capacity, r.Held, r.Confirmed, r.Available = capacity, held, conf, avail
	// Unsold means available: tickets held but never paid for (a buyer
	// whose confirm failed) are rightly not for sale until the hold expires.
	sold, unsold := conf, avail
	if !s.o.Confirm {
		sold = held + conf
	}
	r.AllSold = sold == capacity
	r.Oversold = max(0, held+conf-capacity)
	if r.Oversold > 0 {
		rep.OK = false
	}
	what := "confirmed"
	if !s.o.Confirm {
		what = "held or confirmed"
	}
	sellOut := "no"
	if r.AllSold {
		sellOut = fmt.Sprintf("yes, the last %.1fs into the load", r.LastSaleS)
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("sold: %d of %d tickets %s (%d bought in this run); all %d sold: %s; oversold %d; lost %d",
		sold, capacity, what, r.Tickets, capacity, sellOut, r.Oversold, r.Lost))
	if s.o.Confirm && held > 0 {
		rep.Lines = append(rep.Lines, fmt.Sprintf("%d tickets are held but unpaid; they are for sale again when the holds expire", held))
	}
	if r.FirstSoldOutS > 0 {
		rep.Lines = append(rep.Lines, fmt.Sprintf("first sold_out answer %.1fs into the load", r.FirstSoldOutS))
	}
	if told := r.SoldOutInQueue + r.SoldOutAtHold; told > 0 && unsold > 0 {
		verdict := "(not checked: no -onsale-expect-sellout)"
		if s.o.ExpectSellout {
			verdict = "VIOLATED"
			rep.OK = false
		}
		rep.Lines = append(rep.Lines, fmt.Sprintf("%d tickets left unsold while %d buyers were told sold_out %s", unsold, told, verdict))
	}
	rep.Details = r
	return rep, nil
}
