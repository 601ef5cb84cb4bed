package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// This file is the conformance suite of boxoffice.TicketStore: tickets
// issued by SettlePayment and voided by RefundOrder, the events' signing
// keys, check-in, gates and door staff. The decisions are the domain's
// (IssueTickets through Settle, DecideRefund, RenameStep, UndoCheckinStep,
// DecideScans); the suite checks that a store reads the facts they need
// and writes what they decided.

// runTickets runs the ticket groups of the suite; Run calls it.
func runTickets(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("IssueTickets", func(t *testing.T) { testIssueTickets(t, open(t)) })
	t.Run("RefundVoidsTickets", func(t *testing.T) { testRefundVoidsTickets(t, open(t)) })
	t.Run("NameChangesUntil", func(t *testing.T) { testNameChangesUntil(t, open(t)) })
	t.Run("EventKey", func(t *testing.T) { testEventKey(t, open(t)) })
	t.Run("UpdateTicket", func(t *testing.T) { testUpdateTicket(t, open(t)) })
	t.Run("CheckIn", func(t *testing.T) { testCheckIn(t, open(t)) })
	t.Run("OfflineScans", func(t *testing.T) { testOfflineScans(t, open(t)) })
	t.Run("TicketCounts", func(t *testing.T) { testTicketCounts(t, open(t)) })
	t.Run("Gates", func(t *testing.T) { testGates(t, open(t)) })
	t.Run("Staff", func(t *testing.T) { testStaff(t, open(t)) })
	t.Run("EventTickets", func(t *testing.T) { testEventTickets(t, open(t)) })
	t.Run("DeleteEventDoor", func(t *testing.T) { testDeleteEventDoor(t, open(t)) })
}

// orderTickets returns an order's tickets as the store has them.
func orderTickets(t *testing.T, s boxoffice.Store, orderID string) []*boxoffice.Ticket {
	t.Helper()
	ts, err := s.OrderTickets(t.Context(), orderID)
	must(t, "OrderTickets", err)
	return ts
}

// getTicket reads a ticket, failing the test on error.
func getTicket(t *testing.T, s boxoffice.Store, id string) *boxoffice.Ticket {
	t.Helper()
	tk, err := s.Ticket(t.Context(), id)
	must(t, "Ticket", err)
	return tk
}

// ticketIDs returns the IDs of ts.
func ticketIDs(ts []*boxoffice.Ticket) []string {
	out := make([]string, len(ts))
	for i, tk := range ts {
		out[i] = tk.ID
	}
	return out
}

// byTicketID orders tickets by ID.
func byTicketID(a, b *boxoffice.Ticket) int { return cmp.Compare(a.ID, b.ID) }

// onlineScan returns a scan of tk's current code at gate, made and
// recorded at at, as the service builds one.
func onlineScan(tk *boxoffice.Ticket, gate string, at time.Time) *boxoffice.Scan {
	return &boxoffice.Scan{Claim: boxoffice.TicketClaim{TicketID: tk.ID, Version: tk.Version}, Gate: gate,
		ScannedAt: at, RecordedAt: at}
}

// offlineScan returns a scan of tk's current code that device made
// offline at at (letting the person in) and uploaded at recorded.
func offlineScan(tk *boxoffice.Ticket, gate, device, scanID string, at, recorded time.Time) *boxoffice.Scan {
	return &boxoffice.Scan{Claim: boxoffice.TicketClaim{TicketID: tk.ID, Version: tk.Version}, Gate: gate,
		DeviceID: device, ScanID: scanID, ScannedAt: at, RecordedAt: recorded, Offline: true, DeviceAdmitted: true}
}

// checkIn decides scans of an event in one batch, failing the test when
// the batch failed as a whole.
func checkIn(t *testing.T, s boxoffice.Store, eventID string, scans ...*boxoffice.Scan) {
	t.Helper()
	must(t, "CheckIn", s.CheckIn(t.Context(), eventID, scans))
}

// wantResult fails the test unless the scan answered want.
func wantResult(t *testing.T, what string, sc *boxoffice.Scan, want boxoffice.CheckinResult) {
	t.Helper()
	if sc.Result != want {
		t.Fatalf("%s: result %q (%s), want %q", what, sc.Result, sc.Reason, want)
	}
}

// wantUsed fails the test unless the stored ticket is used, checked in at
// gate at at.
func wantUsed(t *testing.T, s boxoffice.Store, id, gate string, at time.Time) *boxoffice.Ticket {
	t.Helper()
	tk := getTicket(t, s, id)
	if tk.Status != boxoffice.TicketUsed || tk.CheckedInAt == nil || !tk.CheckedInAt.Equal(at) || tk.Gate != gate {
		t.Fatalf("ticket %s: status %s, checked in %v at %q; want used at %v at %q", id, tk.Status, tk.CheckedInAt, tk.Gate, at, gate)
	}
	return tk
}

// wantTicketStatus fails the test unless the stored ticket has status want.
func wantTicketStatus(t *testing.T, s boxoffice.Store, id string, want boxoffice.TicketStatus) *boxoffice.Ticket {
	t.Helper()
	tk := getTicket(t, s, id)
	if tk.Status != want {
		t.Fatalf("ticket %s: status %q, want %q", id, tk.Status, want)
	}
	return tk
}

// admissions returns the event's CheckinAdmissions, failing the test on
// error.
func admissions(t *testing.T, s boxoffice.Store, eventID string) []*boxoffice.CheckinRecord {
	t.Helper()
	rs, err := s.CheckinAdmissions(t.Context(), eventID)
	must(t, "CheckinAdmissions", err)
	return rs
}

// scanWho names a record by what a test knows of it: ticket, gate, device,
// scan ID and scan time.
type scanWho struct {
	Ticket, Gate, Device, ScanID string
	ScannedAt                    time.Time
}

func whoOf(r *boxoffice.CheckinRecord) scanWho {
	return scanWho{r.TicketID, r.Gate, r.DeviceID, r.ScanID, r.ScannedAt}
}

func whosOf(rs []*boxoffice.CheckinRecord) []scanWho {
	out := make([]scanWho, len(rs))
	for i, r := range rs {
		out[i] = whoOf(r)
	}
	slices.SortFunc(out, func(a, b scanWho) int {
		return cmp.Or(cmp.Compare(a.Ticket, b.Ticket), a.ScannedAt.Compare(b.ScannedAt), cmp.Compare(a.Device, b.Device))
	})
	return out
}

// countsOf returns the non-zero counts of TicketCounts keyed by tier and
// status, and the non-zero gate counts.
func countsOf(t *testing.T, s boxoffice.Store, eventID string) (map[string]int, map[string]int) {
	t.Helper()
	cs, gates, err := s.TicketCounts(t.Context(), eventID)
	must(t, "TicketCounts", err)
	out := map[string]int{}
	for _, c := range cs {
		if c.Count != 0 {
			k := c.TierID + "/" + string(c.Status)
			if _, ok := out[k]; ok {
				t.Fatalf("TicketCounts has %s twice", k)
			}
			out[k] = c.Count
		}
	}
	g := map[string]int{}
	for k, n := range gates {
		if n != 0 {
			g[k] = n
		}
	}
	return out, g
}

// settleCapturing is settleWith that also hands the settlement decided
// to got.
func settleCapturing(st boxoffice.PaymentState, at, now time.Time, maxPerUser int, got *boxoffice.Settlement) func(boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
	decide := settleWith(st, at, now, maxPerUser, nil)
	return func(f boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
		s, changed, err := decide(f)
		*got = s
		return s, changed, err
	}
}

func testIssueTickets(t *testing.T, s boxoffice.Store) {
	t.Run("PaidOrderIssues", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10, 10)
		u := createUser(t, s)
		at := now()
		req := newOrder(e, u.ID, at, ol{0, 3}, ol{1, 1})
		req.Order.Lines[0].Attendees = []boxoffice.Attendee{{Name: "Ada Lovelace"}, {Name: "Bob Builder", Phone: "+15550100"}}
		placeOrders(t, s, e, req)
		must(t, "order", req.Err)
		o := req.Order
		p := mustPayment(t, s, o, at)
		if ts := orderTickets(t, s, o.ID); len(ts) != 0 {
			t.Fatalf("a pending order has %d tickets", len(ts))
		}

		t1 := at.Add(time.Second)
		var st boxoffice.Settlement
		got, err := s.SettlePayment(ctx, p.ID, "evt_issue", settleCapturing(succeeded("pi_issue"), t1, t1, e.MaxTicketsPerUser, &st))
		must(t, "SettlePayment", err)
		if got.Status != boxoffice.OrderPaid || len(st.Tickets) != 4 {
			t.Fatalf("paid order %s issued %d tickets, want paid and 4", got.Status, len(st.Tickets))
		}
		want := slices.SortedFunc(slices.Values(st.Tickets), byTicketID)
		stored := orderTickets(t, s, o.ID)
		diff(t, "OrderTickets", want, stored)
		var names []string
		for _, tk := range stored {
			if tk.OrderID != o.ID || tk.EventID != e.ID || tk.UserID != u.ID || tk.Status != boxoffice.TicketValid ||
				tk.Version != 1 || !tk.IssuedAt.Equal(t1) || !tk.UpdatedAt.Equal(t1) || tk.CheckedInAt != nil || tk.Gate != "" {
				t.Fatalf("issued ticket: %+v", tk)
			}
			if tk.TierID == e.Tiers[0].ID {
				names = append(names, tk.AttendeeName)
			} else if tk.TierID != e.Tiers[1].ID || tk.AttendeeName != "" {
				t.Fatalf("ticket of tier 1: %+v", tk)
			}
		}
		slices.Sort(names)
		diff(t, "attendee names of tier 0", []string{"", "Ada Lovelace", "Bob Builder"}, names)
		for _, tk := range want {
			diff(t, "Ticket", tk, getTicket(t, s, tk.ID))
		}
		_, err = s.Ticket(ctx, boxoffice.NewID())
		wantErr(t, "Ticket(unknown)", err, boxoffice.ErrNotFound)
		if none := orderTickets(t, s, boxoffice.NewID()); len(none) != 0 {
			t.Fatalf("OrderTickets(unknown): %d", len(none))
		}

		// A report that changes nothing issues nothing more.
		_, err = s.SettlePayment(ctx, p.ID, "evt_issue_again", settleWith(succeeded("pi_issue"), t1, t1, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(again)", err)
		diff(t, "OrderTickets after a repeated report", want, orderTickets(t, s, o.ID))
	})

	t.Run("LatePaymentIssues", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5, 5)
		u := createUser(t, s)
		at := now()
		o := mustOrder(t, s, e, u.ID, at.Add(-time.Hour), ol{0, 2}, ol{1, 1})
		p := mustPayment(t, s, o, at.Add(-time.Hour))
		_, err := s.ExpireOrders(ctx, at, 100)
		must(t, "ExpireOrders", err)
		wantOrderStatus(t, s, o.ID, boxoffice.OrderExpired)
		var st boxoffice.Settlement
		got, err := s.SettlePayment(ctx, p.ID, "", settleCapturing(succeeded("pi_late"), at, at, e.MaxTicketsPerUser, &st))
		must(t, "SettlePayment(late)", err)
		if got.Status != boxoffice.OrderPaid || !st.Reserve || len(st.Tickets) != 3 {
			t.Fatalf("late payment: order %s, reserve %v, %d tickets", got.Status, st.Reserve, len(st.Tickets))
		}
		diff(t, "OrderTickets of a late payment", slices.SortedFunc(slices.Values(st.Tickets), byTicketID), orderTickets(t, s, o.ID))
	})

	t.Run("RefundedPaymentIssuesNone", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 5)
		u := createUser(t, s)
		at := now()
		o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 2})
		second := mustPayment(t, s, o, at)
		_, err := s.SettlePayment(ctx, second.ID, "", settleWith(succeeded("pi_second"), at, at, e.MaxTicketsPerUser, nil))
		must(t, "SettlePayment(second)", err)
		if n := len(orderTickets(t, s, o.ID)); n != 2 {
			t.Fatalf("an order paid twice has %d tickets, want 2", n)
		}
	})
}

func testRefundVoidsTickets(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	u := createUser(t, s)
	at := now()
	o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 1})
	issued := orderTickets(t, s, o.ID)
	if len(issued) != 4 {
		t.Fatalf("paid order has %d tickets, want 4", len(issued))
	}
	var tier0, tier1 []*boxoffice.Ticket
	for _, tk := range issued {
		if tk.TierID == e.Tiers[0].ID {
			tier0 = append(tier0, tk)
		} else {
			tier1 = append(tier1, tk)
		}
	}

	// The store loads the order's issued tickets for decide.
	t1 := at.Add(time.Minute)
	var seen []*boxoffice.Ticket
	byLine := refundWith(e, boxoffice.RefundRequest{Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 1}}}, t1, nil)
	r1, err := s.RefundOrder(ctx, o.ID, func(o *boxoffice.Order, p *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
		for _, tk := range o.Issued {
			c := *tk
			seen = append(seen, &c)
		}
		return byLine(o, p)
	})
	must(t, "RefundOrder(line)", err)
	diff(t, "Order.Issued given to decide", issued, slices.SortedFunc(slices.Values(seen), byTicketID))
	if len(r1.TicketIDs) != 1 {
		t.Fatalf("refund of one line ticket voided %v", r1.TicketIDs)
	}
	void := wantTicketStatus(t, s, r1.TicketIDs[0], boxoffice.TicketVoid)
	if void.TierID != e.Tiers[0].ID || !void.UpdatedAt.Equal(t1) {
		t.Fatalf("voided ticket: %+v", void)
	}
	for _, tk := range issued {
		if tk.ID != void.ID {
			wantTicketStatus(t, s, tk.ID, boxoffice.TicketValid)
		}
	}

	// Naming a void ticket, or a ticket of another order, is refused and
	// writes nothing.
	stranger, _ := paidOrder(t, s, e, u.ID, at, ol{1, 1})
	strangers := orderTickets(t, s, stranger.ID)
	for _, id := range []string{void.ID, strangers[0].ID} {
		_, err = s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{TicketIDs: []string{id}, ByOrganizer: true}, t1, nil))
		var ve *boxoffice.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("RefundOrder naming a ticket it cannot refund: %v, want a ValidationError", err)
		}
	}
	if refunds, err := s.OrderRefunds(ctx, o.ID); err != nil || len(refunds) != 1 {
		t.Fatalf("refunds after refused refunds: %d (%v)", len(refunds), err)
	}
	wantTicketStatus(t, s, strangers[0].ID, boxoffice.TicketValid)
	diff(t, "tickets after refused refunds", ticketIDs(issued), ticketIDs(orderTickets(t, s, o.ID)))

	// A used ticket is voided last: the refund takes the unused one.
	var used, unused *boxoffice.Ticket
	for _, tk := range tier0 {
		if tk.ID == void.ID {
			continue
		}
		if used == nil {
			used = tk
		} else {
			unused = tk
		}
	}
	t2 := t1.Add(time.Minute)
	sc := onlineScan(used, "A", t2)
	checkIn(t, s, e.ID, sc)
	wantResult(t, "scan", sc, boxoffice.CheckinOK)
	r2, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 1}}}, t2, nil))
	must(t, "RefundOrder(line, one used)", err)
	diff(t, "voided tickets", []string{unused.ID}, r2.TicketIDs)
	wantTicketStatus(t, s, unused.ID, boxoffice.TicketVoid)
	wantUsed(t, s, used.ID, "A", t2)

	// A refund of named tickets voids exactly those, used or not.
	t3 := t2.Add(time.Minute)
	named := []string{used.ID, tier1[0].ID}
	slices.Sort(named)
	r3, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{TicketIDs: named}, t3, nil))
	must(t, "RefundOrder(named)", err)
	diff(t, "voided tickets", named, slices.Sorted(slices.Values(r3.TicketIDs)))
	for _, id := range named {
		wantTicketStatus(t, s, id, boxoffice.TicketVoid)
	}
	got := wantOrderStatus(t, s, o.ID, boxoffice.OrderRefunded)
	if got.Tickets() != 0 {
		t.Fatalf("order after refunds of every ticket: %+v", got)
	}

	refunds, err := s.OrderRefunds(ctx, o.ID)
	must(t, "OrderRefunds", err)
	diff(t, "OrderRefunds", []*boxoffice.Refund{r1, r2, r3}, refunds, equateEmpty)
	one, err := s.Refund(ctx, r3.ID)
	must(t, "Refund", err)
	diff(t, "Refund", r3, one, equateEmpty)

	// A refund of everything voids every ticket left.
	r4, err := s.RefundOrder(ctx, stranger.ID, refundWith(e, boxoffice.RefundRequest{}, t3, nil))
	must(t, "RefundOrder(all)", err)
	if len(r4.TicketIDs) != 1 {
		t.Fatalf("full refund voided %v, want the one ticket", r4.TicketIDs)
	}
	wantTicketStatus(t, s, r4.TicketIDs[0], boxoffice.TicketVoid)
}

func testNameChangesUntil(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	plain := createEvent(t, s, 10)
	got, err := s.Event(ctx, plain.ID)
	must(t, "Event", err)
	if got.NameChangesUntil != nil {
		t.Fatalf("NameChangesUntil of an event without one: %v", got.NameChangesUntil)
	}

	e := newEvent(10)
	until := e.StartsAt.Add(-48 * time.Hour)
	e.NameChangesUntil = &until
	must(t, "CreateEvent", s.CreateEvent(ctx, e))
	got, err = s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "NameChangesUntil", &until, got.NameChangesUntil)

	later := until.Add(time.Hour)
	got, err = s.UpdateEvent(ctx, plain.ID, func(e *boxoffice.Event) error {
		e.NameChangesUntil = &later
		return nil
	})
	must(t, "UpdateEvent(set)", err)
	diff(t, "NameChangesUntil after UpdateEvent", &later, got.NameChangesUntil)
	got, err = s.Event(ctx, plain.ID)
	must(t, "Event", err)
	diff(t, "NameChangesUntil stored", &later, got.NameChangesUntil)

	_, err = s.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
		e.NameChangesUntil = nil
		return nil
	})
	must(t, "UpdateEvent(clear)", err)
	got, err = s.Event(ctx, e.ID)
	must(t, "Event", err)
	if got.NameChangesUntil != nil {
		t.Fatalf("NameChangesUntil after clearing: %v", got.NameChangesUntil)
	}
}

func testEventKey(t *testing.T, s boxoffice.Store) {
	t.Run("StoredOnce", func(t *testing.T) {
		ctx := t.Context()
		e := createEvent(t, s, 10)
		at := now()
		first := boxoffice.NewEventKey(e.ID, at)
		got, err := s.EventKey(ctx, e.ID, first)
		must(t, "EventKey(first)", err)
		diff(t, "first EventKey", first, got)
		again, err := s.EventKey(ctx, e.ID, boxoffice.NewEventKey(e.ID, at.Add(time.Second)))
		must(t, "EventKey(again)", err)
		diff(t, "second EventKey", first, again)
		_, err = s.EventKey(ctx, boxoffice.NewID(), boxoffice.NewEventKey("x", at))
		wantErr(t, "EventKey(unknown event)", err, boxoffice.ErrNotFound)

		// The stored key signs codes that it verifies.
		u := createUser(t, s)
		o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 1})
		tk := orderTickets(t, s, o.ID)[0]
		claim, res := again.Verify(again.Code(tk))
		if res != boxoffice.CheckinOK || claim.TicketID != tk.ID || claim.Version != tk.Version {
			t.Fatalf("Verify(Code(ticket)) with the stored key: %s %+v", res, claim)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const callers = 8
		e := createEvent(t, s, 10)
		at := now()
		keys := make([]*boxoffice.EventKey, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				keys[i], errs[i] = s.EventKey(t.Context(), e.ID, boxoffice.NewEventKey(e.ID, at))
			})
		}
		wg.Wait()
		for i := range callers {
			must(t, "EventKey(concurrent)", errs[i])
			diff(t, fmt.Sprintf("key of caller %d", i), keys[0], keys[i])
		}
		last, err := s.EventKey(t.Context(), e.ID, boxoffice.NewEventKey(e.ID, at))
		must(t, "EventKey(after)", err)
		diff(t, "key after the race", keys[0], last)
	})
}

// errApply is what a refusing apply returns.
var errApply = errors.New("storetest: apply refused")

func testUpdateTicket(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10)
	u := createUser(t, s)
	at := now()
	o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 3})
	ts := orderTickets(t, s, o.ID)

	t.Run("Rename", func(t *testing.T) {
		t1 := at.Add(time.Minute)
		got, err := s.UpdateTicket(ctx, ts[0].ID, func(tk *boxoffice.Ticket) (bool, error) {
			return false, boxoffice.RenameStep(tk, e, "Zoe Zed", false, t1)
		})
		must(t, "UpdateTicket(rename)", err)
		want := *ts[0]
		want.AttendeeName, want.Version, want.UpdatedAt = "Zoe Zed", 2, t1
		diff(t, "renamed ticket", &want, got)
		diff(t, "stored renamed ticket", &want, getTicket(t, s, ts[0].ID))
	})

	t.Run("ApplyError", func(t *testing.T) {
		before := getTicket(t, s, ts[1].ID)
		_, err := s.UpdateTicket(ctx, ts[1].ID, func(tk *boxoffice.Ticket) (bool, error) {
			tk.AttendeeName, tk.Version, tk.Status = "Nobody", 9, boxoffice.TicketVoid
			return true, errApply
		})
		wantErr(t, "UpdateTicket(apply error)", err, errApply)
		diff(t, "ticket after a refused update", before, getTicket(t, s, ts[1].ID))
		called := false
		_, err = s.UpdateTicket(ctx, boxoffice.NewID(), func(*boxoffice.Ticket) (bool, error) {
			called = true
			return false, nil
		})
		wantErr(t, "UpdateTicket(unknown)", err, boxoffice.ErrNotFound)
		if called {
			t.Fatalf("UpdateTicket(unknown) called apply")
		}
	})

	t.Run("Undo", func(t *testing.T) {
		tk := getTicket(t, s, ts[2].ID)
		t1 := at.Add(2 * time.Minute)
		// Two devices let the ticket in offline: two admissions on record.
		a := offlineScan(tk, "A", "dev-a", "undo-1", t1, t1.Add(time.Minute))
		b := offlineScan(tk, "B", "dev-b", "undo-1", t1.Add(time.Second), t1.Add(time.Minute))
		checkIn(t, s, e.ID, a, b)
		wantResult(t, "offline scan a", a, boxoffice.CheckinOK)
		wantResult(t, "offline scan b", b, boxoffice.CheckinAlreadyUsed)
		if n := len(admissions(t, s, e.ID)); n != 2 {
			t.Fatalf("CheckinAdmissions of a ticket admitted twice: %d records", n)
		}

		t2 := t1.Add(time.Hour)
		got, err := s.UpdateTicket(ctx, tk.ID, func(tk *boxoffice.Ticket) (bool, error) {
			return true, boxoffice.UndoCheckinStep(tk, t2)
		})
		must(t, "UpdateTicket(undo)", err)
		if got.Status != boxoffice.TicketValid || got.CheckedInAt != nil || got.Gate != "" || !got.UpdatedAt.Equal(t2) {
			t.Fatalf("ticket after undo: %+v", got)
		}
		diff(t, "stored ticket after undo", got, getTicket(t, s, tk.ID))
		if rs := admissions(t, s, e.ID); len(rs) != 0 {
			t.Fatalf("CheckinAdmissions after undo: %v", whosOf(rs))
		}

		// A scan after the undo admits again, and is the first.
		t3 := t2.Add(time.Minute)
		sc := onlineScan(got, "C", t3)
		checkIn(t, s, e.ID, sc)
		wantResult(t, "scan after undo", sc, boxoffice.CheckinOK)
		wantUsed(t, s, tk.ID, "C", t3)
		again := onlineScan(got, "D", t3.Add(time.Minute))
		checkIn(t, s, e.ID, again)
		wantResult(t, "second scan after undo", again, boxoffice.CheckinAlreadyUsed)
		if again.First == nil || again.First.Gate != "C" || !again.First.ScannedAt.Equal(t3) {
			t.Fatalf("first scan after undo: %+v", again.First)
		}
	})
}

func testCheckIn(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	e.MaxTicketsPerUser = 10
	other := createEvent(t, s, 10)
	u := createUser(t, s)
	at := now()
	o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 4}, ol{1, 1})
	ts := orderTickets(t, s, o.ID)
	var tier0 []*boxoffice.Ticket
	var tier1 *boxoffice.Ticket
	for _, tk := range ts {
		if tk.TierID == e.Tiers[0].ID {
			tier0 = append(tier0, tk)
		} else {
			tier1 = tk
		}
	}
	oo, _ := paidOrder(t, s, other, u.ID, at, ol{0, 1})
	foreign := orderTickets(t, s, oo.ID)[0]

	t.Run("OKThenAlreadyUsed", func(t *testing.T) {
		tk := tier0[0]
		t1 := at.Add(time.Minute)
		sc := onlineScan(tk, "A", t1)
		checkIn(t, s, e.ID, sc)
		wantResult(t, "first scan", sc, boxoffice.CheckinOK)
		if sc.Ticket == nil || sc.Ticket.ID != tk.ID || sc.Ticket.Status != boxoffice.TicketUsed {
			t.Fatalf("ticket of the first scan: %+v", sc.Ticket)
		}
		stored := wantUsed(t, s, tk.ID, "A", t1)
		if !stored.UpdatedAt.Equal(t1) {
			t.Fatalf("used ticket's UpdatedAt %v, want %v", stored.UpdatedAt, t1)
		}

		t2 := t1.Add(time.Minute)
		sc2 := onlineScan(tk, "B", t2)
		checkIn(t, s, e.ID, sc2)
		wantResult(t, "second scan", sc2, boxoffice.CheckinAlreadyUsed)
		if f := sc2.First; f == nil || f.Gate != "A" || !f.ScannedAt.Equal(t1) || f.TicketID != tk.ID {
			t.Fatalf("first scan answered: %+v", sc2.First)
		}
		wantUsed(t, s, tk.ID, "A", t1)
		if rs := admissions(t, s, e.ID); len(rs) != 0 {
			t.Fatalf("an online second scan counts as an admission: %v", whosOf(rs))
		}
	})

	t.Run("SameBatch", func(t *testing.T) {
		tk := tier0[1]
		t1 := at.Add(2 * time.Minute)
		a, b := onlineScan(tk, "A", t1), onlineScan(tk, "B", t1)
		checkIn(t, s, e.ID, a, b)
		wantResult(t, "first scan of the batch", a, boxoffice.CheckinOK)
		wantResult(t, "second scan of the batch", b, boxoffice.CheckinAlreadyUsed)
		if b.First == nil || b.First.Gate != "A" {
			t.Fatalf("first scan answered in the batch: %+v", b.First)
		}
		wantUsed(t, s, tk.ID, "A", t1)
	})

	t.Run("Void", func(t *testing.T) {
		tk := tier0[2]
		_, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{TicketIDs: []string{tk.ID}}, at, nil))
		must(t, "RefundOrder", err)
		sc := onlineScan(tk, "A", at.Add(3*time.Minute))
		checkIn(t, s, e.ID, sc)
		wantResult(t, "scan of a void ticket", sc, boxoffice.CheckinVoid)
		wantTicketStatus(t, s, tk.ID, boxoffice.TicketVoid)
	})

	t.Run("Renamed", func(t *testing.T) {
		tk := tier0[3]
		renamed, err := s.UpdateTicket(ctx, tk.ID, func(tk *boxoffice.Ticket) (bool, error) {
			return false, boxoffice.RenameStep(tk, e, "New Holder", false, at)
		})
		must(t, "UpdateTicket(rename)", err)
		t1 := at.Add(4 * time.Minute)
		old := onlineScan(tk, "A", t1)
		future := onlineScan(tk, "A", t1)
		future.Claim.Version = renamed.Version + 1
		checkIn(t, s, e.ID, old, future)
		wantResult(t, "scan of the old code", old, boxoffice.CheckinVoid)
		wantResult(t, "scan of a version never issued", future, boxoffice.CheckinInvalid)
		wantTicketStatus(t, s, tk.ID, boxoffice.TicketValid)
		cur := onlineScan(renamed, "A", t1)
		checkIn(t, s, e.ID, cur)
		wantResult(t, "scan of the new code", cur, boxoffice.CheckinOK)
		wantUsed(t, s, tk.ID, "A", t1)
	})

	t.Run("Invalid", func(t *testing.T) {
		t1 := at.Add(5 * time.Minute)
		f := onlineScan(foreign, "A", t1)
		unknown := onlineScan(&boxoffice.Ticket{ID: boxoffice.NewID(), Version: 1}, "A", t1)
		checkIn(t, s, e.ID, f, unknown)
		wantResult(t, "scan of another event's ticket", f, boxoffice.CheckinInvalid)
		wantResult(t, "scan of an unknown ticket", unknown, boxoffice.CheckinInvalid)
		wantTicketStatus(t, s, foreign.ID, boxoffice.TicketValid)
	})

	t.Run("WrongGate", func(t *testing.T) {
		t1 := at.Add(6 * time.Minute)
		sc := onlineScan(tier1, "Stalls", t1)
		sc.Admits = []string{e.Tiers[0].ID}
		checkIn(t, s, e.ID, sc)
		wantResult(t, "scan at a gate not admitting the tier", sc, boxoffice.CheckinWrongGate)
		wantTicketStatus(t, s, tier1.ID, boxoffice.TicketValid)
		ok := onlineScan(tier1, "Balcony", t1)
		ok.Admits = []string{e.Tiers[1].ID}
		checkIn(t, s, e.ID, ok)
		wantResult(t, "scan at a gate admitting the tier", ok, boxoffice.CheckinOK)
		wantUsed(t, s, tier1.ID, "Balcony", t1)
	})

	t.Run("EmptyBatch", func(t *testing.T) {
		checkIn(t, s, e.ID)
	})
}

func testOfflineScans(t *testing.T, s boxoffice.Store) {
	e := createEvent(t, s, 10)
	u := createUser(t, s)
	at := now()
	o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 4})
	ts := orderTickets(t, s, o.ID)

	t.Run("UploadedTwice", func(t *testing.T) {
		tk, online := ts[0], ts[1]
		t1 := at.Add(time.Minute)
		// online is used at the server before the device's scan of it.
		first := onlineScan(online, "Main", t1)
		checkIn(t, s, e.ID, first)
		batch := func() []*boxoffice.Scan {
			return []*boxoffice.Scan{
				offlineScan(tk, "Side", "dev-1", "s-1", t1.Add(time.Second), t1.Add(time.Hour)),
				offlineScan(online, "Side", "dev-1", "s-2", t1.Add(2*time.Second), t1.Add(time.Hour)),
			}
		}
		up1 := batch()
		checkIn(t, s, e.ID, up1...)
		wantResult(t, "offline scan", up1[0], boxoffice.CheckinOK)
		wantResult(t, "offline scan of a used ticket", up1[1], boxoffice.CheckinAlreadyUsed)
		wantUsed(t, s, tk.ID, "Side", t1.Add(time.Second))
		before := whosOf(admissions(t, s, e.ID))
		want := []scanWho{
			{online.ID, "Main", "", "", t1},
			{online.ID, "Side", "dev-1", "s-2", t1.Add(2 * time.Second)},
		}
		diff(t, "admissions after the upload", want, before)
		counts, gates := countsOf(t, s, e.ID)

		up2 := batch()
		up2[0].RecordedAt, up2[1].RecordedAt = t1.Add(2*time.Hour), t1.Add(2*time.Hour)
		checkIn(t, s, e.ID, up2...)
		for i := range up2 {
			wantResult(t, fmt.Sprintf("scan %d uploaded again", i), up2[i], up1[i].Result)
		}
		if up2[1].First == nil || up2[1].First.Gate != "Main" {
			t.Fatalf("first scan answered to an upload again: %+v", up2[1].First)
		}
		diff(t, "admissions after uploading again", before, whosOf(admissions(t, s, e.ID)))
		c2, g2 := countsOf(t, s, e.ID)
		diff(t, "counts after uploading again", counts, c2)
		diff(t, "gates after uploading again", gates, g2)
		wantUsed(t, s, tk.ID, "Side", t1.Add(time.Second))
	})

	// Two devices scan one ticket offline; whichever uploads first, the
	// earlier scan is the ticket's check-in and both are admissions.
	for i, order := range []string{"LaterFirst", "EarlierFirst"} {
		t.Run(order, func(t *testing.T) {
			tk := ts[2+i]
			t1 := at.Add(time.Duration(10+i) * time.Minute)
			early := offlineScan(tk, "North", "dev-n", order, t1, t1.Add(time.Hour))
			late := offlineScan(tk, "South", "dev-s", order, t1.Add(5*time.Second), t1.Add(time.Hour))
			ups := []*boxoffice.Scan{late, early}
			if order == "EarlierFirst" {
				ups = []*boxoffice.Scan{early, late}
			}
			checkIn(t, s, e.ID, ups[0])
			checkIn(t, s, e.ID, ups[1])
			wantResult(t, "the earlier scan", early, boxoffice.CheckinOK)
			if order == "LaterFirst" {
				wantResult(t, "the later scan, uploaded first", late, boxoffice.CheckinOK)
			} else {
				wantResult(t, "the later scan, uploaded second", late, boxoffice.CheckinAlreadyUsed)
			}
			wantUsed(t, s, tk.ID, "North", t1)

			var mine []*boxoffice.CheckinRecord
			for _, r := range admissions(t, s, e.ID) {
				if r.TicketID == tk.ID {
					if r.EventID != e.ID || !r.Admitted || r.Undone {
						t.Fatalf("admission on record: %+v", r)
					}
					mine = append(mine, r)
				}
			}
			diff(t, "admissions of the ticket", []scanWho{
				{tk.ID, "North", "dev-n", order, t1},
				{tk.ID, "South", "dev-s", order, t1.Add(5 * time.Second)},
			}, whosOf(mine))
			cs := boxoffice.Conflicts(mine)
			if len(cs) != 1 || cs[0].TicketID != tk.ID || whoOf(cs[0].First).Device != "dev-n" ||
				len(cs[0].Others) != 1 || whoOf(cs[0].Others[0]).Device != "dev-s" {
				t.Fatalf("Conflicts: %+v", cs)
			}

			// A later online scan answers with the earlier scan.
			sc := onlineScan(tk, "East", t1.Add(time.Hour))
			checkIn(t, s, e.ID, sc)
			wantResult(t, "online scan after the conflict", sc, boxoffice.CheckinAlreadyUsed)
			if sc.First == nil || sc.First.DeviceID != "dev-n" || !sc.First.ScannedAt.Equal(t1) {
				t.Fatalf("first scan after the conflict: %+v", sc.First)
			}
		})
	}
}

func testTicketCounts(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	e.MaxTicketsPerUser = 10
	u := createUser(t, s)
	at := now()
	c0, g0 := countsOf(t, s, e.ID)
	if len(c0) != 0 || len(g0) != 0 {
		t.Fatalf("counts of an event without tickets: %v %v", c0, g0)
	}
	o, _ := paidOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 2})
	var tier0, tier1 []*boxoffice.Ticket
	for _, tk := range orderTickets(t, s, o.ID) {
		if tk.TierID == e.Tiers[0].ID {
			tier0 = append(tier0, tk)
		} else {
			tier1 = append(tier1, tk)
		}
	}
	t0, t1 := e.Tiers[0].ID, e.Tiers[1].ID
	c, g := countsOf(t, s, e.ID)
	diff(t, "counts of a paid order", map[string]int{t0 + "/valid": 3, t1 + "/valid": 2}, c)
	diff(t, "gate counts before scans", map[string]int{}, g)

	checkIn(t, s, e.ID, onlineScan(tier0[0], "A", at), onlineScan(tier0[1], "A", at), onlineScan(tier1[0], "B", at),
		onlineScan(tier1[0], "A", at))
	c, g = countsOf(t, s, e.ID)
	diff(t, "counts after scans", map[string]int{t0 + "/used": 2, t0 + "/valid": 1, t1 + "/used": 1, t1 + "/valid": 1}, c)
	diff(t, "gate counts after scans", map[string]int{"A": 2, "B": 1}, g)

	// A refund voids the unused ticket of tier 0 and the used one of tier 1.
	_, err := s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{Lines: []boxoffice.RefundLine{{TierID: t0, Quantity: 1}}}, at, nil))
	must(t, "RefundOrder(line)", err)
	_, err = s.RefundOrder(ctx, o.ID, refundWith(e, boxoffice.RefundRequest{TicketIDs: []string{tier1[0].ID}}, at, nil))
	must(t, "RefundOrder(named)", err)
	c, g = countsOf(t, s, e.ID)
	diff(t, "counts after refunds", map[string]int{t0 + "/used": 2, t0 + "/void": 1, t1 + "/void": 1, t1 + "/valid": 1}, c)
	diff(t, "gate counts after refunds", map[string]int{"A": 2}, g)
}

func testGates(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	at := now()
	b := &boxoffice.Gate{EventID: e.ID, Name: "B side", Tiers: []string{e.Tiers[0].ID}, CreatedAt: at}
	a := &boxoffice.Gate{EventID: e.ID, Name: "A main", CreatedAt: at.Add(time.Second)}
	must(t, "PutGate(B)", s.PutGate(ctx, b))
	must(t, "PutGate(A)", s.PutGate(ctx, a))
	gates, err := s.Gates(ctx, e.ID)
	must(t, "Gates", err)
	diff(t, "Gates", []*boxoffice.Gate{a, b}, gates, equateEmpty)

	b2 := &boxoffice.Gate{EventID: e.ID, Name: "B side", Tiers: []string{e.Tiers[0].ID, e.Tiers[1].ID}, CreatedAt: at.Add(time.Minute)}
	must(t, "PutGate(replace B)", s.PutGate(ctx, b2))
	gates, err = s.Gates(ctx, e.ID)
	must(t, "Gates", err)
	diff(t, "Gates after replacing B", []*boxoffice.Gate{a, b2}, gates, equateEmpty)

	must(t, "DeleteGate(A)", s.DeleteGate(ctx, e.ID, a.Name))
	gates, err = s.Gates(ctx, e.ID)
	must(t, "Gates", err)
	diff(t, "Gates after deleting A", []*boxoffice.Gate{b2}, gates, equateEmpty)
	wantErr(t, "DeleteGate(deleted)", s.DeleteGate(ctx, e.ID, a.Name), boxoffice.ErrNotFound)
	wantErr(t, "DeleteGate(unknown event)", s.DeleteGate(ctx, boxoffice.NewID(), b2.Name), boxoffice.ErrNotFound)
	wantErr(t, "PutGate(unknown event)", s.PutGate(ctx, &boxoffice.Gate{EventID: boxoffice.NewID(), Name: "X", CreatedAt: at}),
		boxoffice.ErrNotFound)

	other := createEvent(t, s, 10)
	none, err := s.Gates(ctx, other.ID)
	must(t, "Gates(no gates)", err)
	if len(none) != 0 {
		t.Fatalf("Gates of an event without gates: %d", len(none))
	}
}

func testStaff(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10)
	u, v := createUser(t, s), createUser(t, s)
	at := now()
	role, err := s.StaffRole(ctx, e.ID, u.ID)
	must(t, "StaffRole(none)", err)
	if role != "" {
		t.Fatalf("StaffRole of a user without one: %q", role)
	}

	su := &boxoffice.Staff{EventID: e.ID, UserID: u.ID, Role: boxoffice.StaffScanner, AddedAt: at}
	sv := &boxoffice.Staff{EventID: e.ID, UserID: v.ID, Role: boxoffice.StaffSupervisor, AddedAt: at}
	must(t, "PutStaff(u)", s.PutStaff(ctx, su))
	must(t, "PutStaff(v)", s.PutStaff(ctx, sv))
	role, err = s.StaffRole(ctx, e.ID, u.ID)
	must(t, "StaffRole", err)
	if role != boxoffice.StaffScanner {
		t.Fatalf("StaffRole: %q, want scanner", role)
	}
	want := []*boxoffice.Staff{su, sv}
	slices.SortFunc(want, func(a, b *boxoffice.Staff) int { return cmp.Compare(a.UserID, b.UserID) })
	list, err := s.ListStaff(ctx, e.ID)
	must(t, "ListStaff", err)
	diff(t, "ListStaff", want, list)

	up := &boxoffice.Staff{EventID: e.ID, UserID: u.ID, Role: boxoffice.StaffSupervisor, AddedAt: at.Add(time.Minute)}
	must(t, "PutStaff(replace)", s.PutStaff(ctx, up))
	role, err = s.StaffRole(ctx, e.ID, u.ID)
	must(t, "StaffRole", err)
	if role != boxoffice.StaffSupervisor {
		t.Fatalf("StaffRole after replacing: %q, want supervisor", role)
	}
	list, err = s.ListStaff(ctx, e.ID)
	must(t, "ListStaff", err)
	if len(list) != 2 {
		t.Fatalf("ListStaff after replacing: %d members", len(list))
	}

	must(t, "DeleteStaff", s.DeleteStaff(ctx, e.ID, u.ID))
	role, err = s.StaffRole(ctx, e.ID, u.ID)
	must(t, "StaffRole(deleted)", err)
	if role != "" {
		t.Fatalf("StaffRole after DeleteStaff: %q", role)
	}
	wantErr(t, "DeleteStaff(deleted)", s.DeleteStaff(ctx, e.ID, u.ID), boxoffice.ErrNotFound)
	list, err = s.ListStaff(ctx, e.ID)
	must(t, "ListStaff", err)
	diff(t, "ListStaff after DeleteStaff", []*boxoffice.Staff{sv}, list)

	wantErr(t, "PutStaff(unknown event)", s.PutStaff(ctx, &boxoffice.Staff{EventID: boxoffice.NewID(), UserID: u.ID,
		Role: boxoffice.StaffScanner, AddedAt: at}), boxoffice.ErrNotFound)
	wantErr(t, "PutStaff(unknown user)", s.PutStaff(ctx, &boxoffice.Staff{EventID: e.ID, UserID: boxoffice.NewID(),
		Role: boxoffice.StaffScanner, AddedAt: at}), boxoffice.ErrNotFound)
	other := createEvent(t, s, 10)
	list, err = s.ListStaff(ctx, other.ID)
	must(t, "ListStaff(none)", err)
	if len(list) != 0 {
		t.Fatalf("ListStaff of an event without staff: %d", len(list))
	}
}

func testEventTickets(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	other := createEvent(t, s, 10)
	u, v := createUser(t, s), createUser(t, s)
	at := now()
	var want []*boxoffice.Ticket
	o1, _ := paidOrder(t, s, e, u.ID, at, ol{0, 3}, ol{1, 1})
	o2, _ := paidOrder(t, s, e, v.ID, at, ol{1, 3})
	want = append(want, orderTickets(t, s, o1.ID)...)
	want = append(want, orderTickets(t, s, o2.ID)...)
	slices.SortFunc(want, byTicketID)
	paidOrder(t, s, other, u.ID, at, ol{0, 2})

	var got []*boxoffice.Ticket
	after := ""
	for pages := 0; ; pages++ {
		page, err := s.EventTickets(ctx, e.ID, after, 3)
		must(t, "EventTickets", err)
		if len(page) > 3 || pages > 3 {
			t.Fatalf("EventTickets: page %d of %d tickets", pages, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	diff(t, "EventTickets, pages of 3", want, got)
	rest, err := s.EventTickets(ctx, e.ID, want[4].ID, 100)
	must(t, "EventTickets(after the fifth)", err)
	diff(t, "EventTickets after the fifth", ticketIDs(want[5:]), ticketIDs(rest))
	none, err := s.EventTickets(ctx, boxoffice.NewID(), "", 100)
	must(t, "EventTickets(unknown)", err)
	if len(none) != 0 {
		t.Fatalf("EventTickets(unknown event): %d", len(none))
	}
}

func testDeleteEventDoor(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10)
	u := createUser(t, s)
	at := now()
	_, err := s.EventKey(ctx, e.ID, boxoffice.NewEventKey(e.ID, at))
	must(t, "EventKey", err)
	must(t, "PutGate", s.PutGate(ctx, &boxoffice.Gate{EventID: e.ID, Name: "Main", CreatedAt: at}))
	must(t, "PutStaff", s.PutStaff(ctx, &boxoffice.Staff{EventID: e.ID, UserID: u.ID, Role: boxoffice.StaffScanner, AddedAt: at}))
	must(t, "DeleteEvent", s.DeleteEvent(ctx, e.ID))
	_, err = s.EventKey(ctx, e.ID, boxoffice.NewEventKey(e.ID, at))
	wantErr(t, "EventKey(deleted event)", err, boxoffice.ErrNotFound)
	gates, err := s.Gates(ctx, e.ID)
	must(t, "Gates(deleted event)", err)
	list, err := s.ListStaff(ctx, e.ID)
	must(t, "ListStaff(deleted event)", err)
	if len(gates) != 0 || len(list) != 0 {
		t.Fatalf("deleted event keeps %d gates and %d staff", len(gates), len(list))
	}
	// The event's ID can be used again without meeting its old door.
	again := newEvent(10)
	again.ID = e.ID
	for i := range again.Tiers {
		again.Tiers[i].EventID = e.ID
	}
	must(t, "CreateEvent(same ID)", s.CreateEvent(ctx, again))
	fresh := boxoffice.NewEventKey(e.ID, at)
	k, err := s.EventKey(ctx, e.ID, fresh)
	must(t, "EventKey(new event)", err)
	diff(t, "key of the new event", fresh, k)
	must(t, "PutGate(again)", s.PutGate(ctx, &boxoffice.Gate{EventID: e.ID, Name: "Main", CreatedAt: at}))
}

// testConcurrentCheckIn has 16 gates scan the same 200 tickets, each in
// its own order and in batches: every ticket is admitted exactly once.
func testConcurrentCheckIn(t *testing.T, s boxoffice.Store) {
	const (
		tickets = 200
		gates   = 16
		batch   = 25
	)
	ctx := t.Context()
	e := newEvent(tickets)
	e.MaxTicketsPerUser = tickets
	must(t, "CreateEvent", s.CreateEvent(ctx, e))
	u := createUser(t, s)
	at := now()
	for range tickets / 50 {
		paidOrder(t, s, e, u.ID, at, ol{0, 50})
	}
	ts, err := s.EventTickets(ctx, e.ID, "", 2*tickets)
	must(t, "EventTickets", err)
	if len(ts) != tickets {
		t.Fatalf("%d tickets issued, want %d", len(ts), tickets)
	}

	results := make([][]*boxoffice.Scan, gates)
	errs := make([]error, gates)
	var wg sync.WaitGroup
	for g := range gates {
		wg.Go(func() {
			gate := fmt.Sprintf("G%02d", g)
			for off, i := range rand.Perm(tickets) {
				results[g] = append(results[g], onlineScan(ts[i], gate, at.Add(time.Duration(off)*time.Millisecond)))
			}
			for chunk := range slices.Chunk(results[g], batch) {
				if err := s.CheckIn(ctx, e.ID, chunk); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "CheckIn(concurrent)", err)
	}

	ok := map[string]*boxoffice.Scan{}
	perGate := map[string]int{}
	for _, rs := range results {
		for _, sc := range rs {
			switch sc.Result {
			case boxoffice.CheckinOK:
				if prev := ok[sc.Claim.TicketID]; prev != nil {
					t.Fatalf("ticket %s admitted at %s and at %s", sc.Claim.TicketID, prev.Gate, sc.Gate)
				}
				ok[sc.Claim.TicketID] = sc
				perGate[sc.Gate]++
			case boxoffice.CheckinAlreadyUsed:
				if sc.First == nil {
					t.Fatalf("already_used without the first scan")
				}
			default:
				t.Fatalf("scan answered %q (%s)", sc.Result, sc.Reason)
			}
		}
	}
	if len(ok) != tickets {
		t.Fatalf("%d tickets admitted, want %d", len(ok), tickets)
	}
	for _, rs := range results {
		for _, sc := range rs {
			if sc.Result == boxoffice.CheckinAlreadyUsed && sc.First.Gate != ok[sc.Claim.TicketID].Gate {
				t.Fatalf("ticket %s: first scan answered at %s, admitted at %s", sc.Claim.TicketID, sc.First.Gate, ok[sc.Claim.TicketID].Gate)
			}
		}
	}
	for _, tk := range ts {
		first := ok[tk.ID]
		wantUsed(t, s, tk.ID, first.Gate, first.ScannedAt)
	}
	if rs := admissions(t, s, e.ID); len(rs) != 0 {
		t.Fatalf("tickets admitted more than once on record: %v", whosOf(rs))
	}
	c, g := countsOf(t, s, e.ID)
	diff(t, "counts after the race", map[string]int{e.Tiers[0].ID + "/used": tickets}, c)
	diff(t, "gate counts after the race", perGate, g)
}
