package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// issueBulk inserts n valid tickets of e's first tier (of one made-up
// order) straight into the tickets table and returns them in ID order:
// the check-in path needs nothing else of them.
func issueBulk(t testing.TB, s *Store, e *boxoffice.Event, n int) []*boxoffice.Ticket {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	orderID, user := boxoffice.NewID(), boxoffice.NewID()
	ts := make([]*boxoffice.Ticket, n)
	for i := range ts {
		ts[i] = &boxoffice.Ticket{ID: boxoffice.NewID(), OrderID: orderID, EventID: e.ID, TierID: e.Tiers[0].ID,
			UserID: user, Status: boxoffice.TicketValid, Version: 1, IssuedAt: now, UpdatedAt: now}
	}
	err := s.inTx(context.Background(), "issue", nil, func(tx *sql.Tx) error { return insertTickets(context.Background(), tx, ts) })
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// scanOf returns an online scan of tk at gate, or an offline one when
// device is not "".
func scanOf(tk *boxoffice.Ticket, gate, device, scanID string, at time.Time) *boxoffice.Scan {
	return &boxoffice.Scan{Claim: boxoffice.TicketClaim{TicketID: tk.ID, Version: tk.Version}, Gate: gate,
		DeviceID: device, ScanID: scanID, ScannedAt: at, RecordedAt: at, Offline: device != "", DeviceAdmitted: device != ""}
}

// TestCheckInTwoInstances has two Store values (two server instances,
// two pools) scan the same tickets at once from several gates each: every
// gate scans every ticket online, and uploads the same offline scan of
// each ticket (one device's, made after every online scan). Every batch
// must commit (lock conflicts and duplicate keys are retried); online
// scans admit each ticket at most once; the offline scan is recorded once
// and answers every upload alike: ok when it reached the ticket before any
// online scan (then no online scan admitted it), else already_used.
func TestCheckInTwoInstances(t *testing.T) {
	a := openStore(t)
	b, err := Open(t.Context(), withDB(t, testURL(t), a.dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const tickets, gates, batch = 300, 8, 20
	e := holdEvent(t, a, 1000, 10)
	ts := issueBulk(t, a, e, tickets)
	at := time.Now().UTC().Truncate(time.Microsecond)

	scans := make([][]*boxoffice.Scan, gates)
	for g := range scans {
		for k, j := range rand.Perm(tickets) {
			scans[g] = append(scans[g], scanOf(ts[j], fmt.Sprint("G", g), "", "", at.Add(time.Duration(k)*time.Millisecond)),
				scanOf(ts[j], "Dev", "dev-1", ts[j].ID, at.Add(time.Hour)))
		}
	}
	errs := make([]error, gates)
	var wg sync.WaitGroup
	for g := range gates {
		s := []*Store{a, b}[g%2]
		wg.Go(func() {
			for k := 0; k < len(scans[g]); k += batch {
				if err := s.CheckIn(t.Context(), e.ID, scans[g][k:min(k+batch, len(scans[g]))]); err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("gate %d: %v", g, err)
		}
	}

	admitted := map[string][]string{}
	offline := map[string]boxoffice.CheckinResult{}
	for _, rs := range scans {
		for _, sc := range rs {
			id := sc.Claim.TicketID
			switch {
			case sc.Offline:
				if prev, ok := offline[id]; ok && prev != sc.Result {
					t.Fatalf("ticket %s: one offline scan answered %q and %q", id, prev, sc.Result)
				}
				offline[id] = sc.Result
			case sc.Result == boxoffice.CheckinOK:
				admitted[id] = append(admitted[id], sc.Gate)
			case sc.Result != boxoffice.CheckinAlreadyUsed || sc.First == nil:
				t.Fatalf("online scan answered %q, first %+v", sc.Result, sc.First)
			}
		}
	}
	for _, tk := range ts {
		got, err := a.Ticket(t.Context(), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch res, online := offline[tk.ID], admitted[tk.ID]; {
		case res == boxoffice.CheckinOK && len(online) == 0 && got.Gate == "Dev":
		case res == boxoffice.CheckinAlreadyUsed && len(online) == 1 && got.Gate == online[0]:
		default:
			t.Fatalf("ticket %s (%s at %q): offline scan %q, admitted online at %v", tk.ID, got.Status, got.Gate, res, online)
		}
		if got.Status != boxoffice.TicketUsed {
			t.Fatalf("ticket %s is %s", tk.ID, got.Status)
		}
	}
	var records, recorded int
	if err := a.db.QueryRow("SELECT COUNT(*), COUNT(scan_id) FROM checkins WHERE event_id = ?", e.ID).Scan(&records, &recorded); err != nil {
		t.Fatal(err)
	}
	if records != tickets*gates+tickets || recorded != tickets {
		t.Fatalf("%d records, %d offline; want %d and %d", records, recorded, tickets*gates+tickets, tickets)
	}
}

// TestCheckInStatements checks that CheckIn reads with the indexes it is
// written for: the ticket locks by primary key, the first scans by
// checkins_ticket, and the recorded offline scans by checkins_scan.
func TestCheckInStatements(t *testing.T) {
	s := openStore(t)
	e := holdEvent(t, s, 1000, 10)
	// An event's worth of rows, so that the optimizer chooses as it would
	// for a real one (on a table of a few hundred rows it scans).
	ts := issueBulk(t, s, e, 5000)
	at := time.Now().UTC()
	var scans []*boxoffice.Scan
	for i, tk := range ts {
		scans = append(scans, scanOf(tk, "A", "dev", fmt.Sprint(i), at))
	}
	for k := 0; k < len(scans); k += 500 {
		if err := s.CheckIn(t.Context(), e.ID, scans[k:k+500]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.Exec("ANALYZE TABLE tickets, checkins"); err != nil {
		t.Fatal(err)
	}
	// A batch of the group commit's size.
	const n = 200
	for _, c := range []struct{ query, key string }{
		{lockTicketsQuery(n), "PRIMARY"},
		{firstScansQuery(n), "checkins_ticket"},
		{recordedScansQuery(n), "checkins_scan"},
	} {
		n := strings.Count(c.query, "?")
		args := make([]any, n)
		for i := range args {
			args[i] = ts[i%len(ts)].ID
		}
		if strings.Contains(c.query, "event_id = ?") {
			args[0] = e.ID
		}
		rows, err := s.db.Query("EXPLAIN "+c.query, args...)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan := map[string]string{}
			for i, c := range cols {
				plan[c] = vals[i].String
			}
			if plan["key"] != c.key || plan["type"] != "range" {
				t.Errorf("%.120s…\nplan %v, want a range on %s", c.query, plan, c.key)
			}
		}
		rows.Close()
	}
}

// BenchmarkCheckIn measures online first scans: 20,000 tickets of one
// event are scanned once each per iteration, in batches of the given size
// as the group commit makes them, with 1 or 4 batches in flight at a time
// (the group commit's parallel setting: one goroutine each); between
// iterations the tickets are made valid again. The webhooks run has an
// endpoint subscribed to ticket.checked_in: each batch writes its messages
// in one more statement. It reports scans/s and, when the MariaDB server
// runs on this machine, its CPU time per scan.
func BenchmarkCheckIn(b *testing.B) {
	const tickets = 20_000
	s := openStore(b)
	e := holdEvent(b, s, tickets, 10)
	ts := issueBulk(b, s, e, tickets)
	for _, run := range []struct {
		size, gates int
		hook        bool // an endpoint subscribes: each admission writes a ticket.checked_in message
	}{{64, 4, false}, {256, 4, false}, {64, 1, false}, {256, 1, false}, {256, 1, true}} {
		size, gates := run.size, run.gates
		name := fmt.Sprintf("batch=%d/inflight=%d", size, gates)
		if run.hook {
			name += "/webhooks"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var scans int
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				if _, err := s.db.Exec("UPDATE tickets SET status = 'valid', checked_in_at = NULL, gate = NULL WHERE event_id = ?", e.ID); err != nil {
					b.Fatal(err)
				}
				at := time.Now().UTC()
				perm := rand.Perm(tickets)
				work := make([][]*boxoffice.Scan, gates)
				for k, j := range perm {
					g := k % gates
					sc := scanOf(ts[j], fmt.Sprint("G", g), "", "", at.Add(time.Duration(k)*time.Microsecond))
					if run.hook {
						sc.Hook = e.OrganizerOf()
					}
					work[g] = append(work[g], sc)
				}
				cpu0 := mariadbCPU()
				b.StartTimer()
				errs := make([]error, gates)
				var wg sync.WaitGroup
				for g := range gates {
					wg.Go(func() {
						for k := 0; k < len(work[g]); k += size {
							if err := s.CheckIn(ctx, e.ID, work[g][k:min(k+size, len(work[g]))]); err != nil {
								errs[g] = err
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				cpu += mariadbCPU() - cpu0
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				for _, w := range work {
					for _, sc := range w {
						if sc.Result != boxoffice.CheckinOK {
							b.Fatalf("scan answered %q", sc.Result)
						}
					}
				}
				scans += tickets
				b.StartTimer()
			}
			b.ReportMetric(float64(scans)/b.Elapsed().Seconds(), "scans/s")
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(scans)/float64(time.Microsecond), "mariadb-µs/scan")
			}
		})
	}
}

// paidTestOrder places and pays an order of n tickets of e's first tier
// and returns it with its tickets.
func paidTestOrder(t *testing.T, s *Store, e *boxoffice.Event, n int) (*boxoffice.Order, []*boxoffice.Ticket) {
	t.Helper()
	ctx := t.Context()
	o := newOrder(e, boxoffice.NewID(), []int{0}, []int{n}, time.Now().Add(time.Hour))
	r := orderReq(e, o, "")
	if err := s.CreateOrders(ctx, e.ID, []*boxoffice.OrderRequest{r}); err != nil || r.Err != nil {
		t.Fatalf("CreateOrders: %v, %v", err, r.Err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	p := &boxoffice.Payment{ID: boxoffice.NewID(), OrderID: o.ID, Provider: "test", Status: boxoffice.PaymentProcessing,
		Amount: o.Total, StatusAt: at, CreatedAt: at, UpdatedAt: at}
	if err := s.CreatePayment(ctx, p, func(*boxoffice.Order) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.SettlePayment(ctx, p.ID, "", func(f boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
		f.MaxPerUser = e.MaxTicketsPerUser
		st, changed := boxoffice.Settle(f, boxoffice.PaymentState{Ref: "pi_" + p.ID, Status: boxoffice.PaymentSucceeded}, at, at)
		return st, changed, nil
	})
	if err != nil || got.Status != boxoffice.OrderPaid {
		t.Fatalf("SettlePayment: %v, %v", err, got)
	}
	ts, err := s.OrderTickets(ctx, o.ID)
	if err != nil || len(ts) != n {
		t.Fatalf("OrderTickets: %d, %v", len(ts), err)
	}
	return got, ts
}

// TestRefundRacesCheckIn refunds an order's tickets one by one on one
// instance while another scans them at the door: RefundOrder locks the
// order and then its tickets, CheckIn the tickets alone, so both must
// commit every time. A scan answered void found its ticket refunded; a
// ticket scanned ok before its refund stays on record as used until the
// refund voids it; every ticket ends void.
func TestRefundRacesCheckIn(t *testing.T) {
	a := openStore(t)
	b, err := Open(t.Context(), withDB(t, testURL(t), a.dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 60
	e := orderEvent(t, a, n, n)
	_, ts := paidTestOrder(t, a, e, n)
	o := ts[0].OrderID
	at := time.Now().UTC().Truncate(time.Microsecond)

	var refundErr error
	var scans []*boxoffice.Scan
	var scanErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, i := range rand.Perm(n) {
			_, err := a.RefundOrder(t.Context(), o, func(o *boxoffice.Order, p *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
				r, err := boxoffice.DecideRefund(o, p, boxoffice.RefundRequest{TicketIDs: []string{ts[i].ID}, ByOrganizer: true},
					time.Time{}, false, at)
				return r, nil, err
			})
			if err != nil {
				refundErr = err
				return
			}
		}
	})
	wg.Go(func() {
		for k, i := range rand.Perm(n) {
			scans = append(scans, scanOf(ts[i], "A", "", "", at.Add(time.Duration(k)*time.Millisecond)))
		}
		for k := 0; k < n; k += 3 {
			if err := b.CheckIn(t.Context(), e.ID, scans[k:k+3]); err != nil {
				scanErr = err
				return
			}
		}
	})
	wg.Wait()
	if refundErr != nil || scanErr != nil {
		t.Fatalf("refunds: %v; scans: %v", refundErr, scanErr)
	}
	for _, sc := range scans {
		if sc.Result != boxoffice.CheckinOK && sc.Result != boxoffice.CheckinVoid {
			t.Fatalf("scan answered %q (%s)", sc.Result, sc.Reason)
		}
		got, err := a.Ticket(t.Context(), sc.Claim.TicketID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != boxoffice.TicketVoid || (sc.Result == boxoffice.CheckinOK) != (got.CheckedInAt != nil) {
			t.Fatalf("ticket %s after scan %q: %s, checked in %v", got.ID, sc.Result, got.Status, got.CheckedInAt)
		}
	}
	refunds, err := a.OrderRefunds(t.Context(), o)
	if err != nil || len(refunds) != n {
		t.Fatalf("%d refunds, %v", len(refunds), err)
	}
}
