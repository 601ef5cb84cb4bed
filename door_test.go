package boxoffice_test

import (
	"errors"
	"sync"
	"testing"

	"boxoffice"
	"boxoffice/internal/testdb"
)

// paidTickets places and pays an order of n tickets of e's first tier for
// buyer and returns its tickets with their codes.
func (h *harness) paidTickets(t *testing.T, svc *boxoffice.Service, buyer boxoffice.Caller, e *boxoffice.Event, n int) []boxoffice.IssuedTicket {
	t.Helper()
	o, err := svc.Orders.CreateOrder(t.Context(), buyer, boxoffice.OrderInput{EventID: e.ID,
		Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[0].ID, Quantity: n}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Orders.StartPayment(t.Context(), buyer, o.ID, "tok_visa"); err != nil {
		t.Fatal(err)
	}
	ts, err := svc.Tickets.OrderTickets(t.Context(), buyer, o.ID)
	if err != nil || len(ts) != n {
		t.Fatalf("tickets: %v, %d of %d", err, len(ts), n)
	}
	return ts
}

// TestDoorResults: every scan result, on both stores, through the
// service (signature checks, the group commit, the store's transaction).
func TestDoorResults(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			e := h.event(t, 20, 10)
			other := h.event(t, 20, 10)
			buyer := h.users(t, 1)[0]
			ts := h.paidTickets(t, h.svc, buyer, e, 4)
			foreign := h.paidTickets(t, h.svc, buyer, other, 1)[0]
			scan := func(who boxoffice.Caller, code, gate string) boxoffice.CheckinResult {
				t.Helper()
				o, err := h.svc.Tickets.Scan(t.Context(), who, e.ID, boxoffice.ScanInput{Code: code, Gate: gate})
				if err != nil {
					t.Fatalf("scan: %v", err)
				}
				return o.Result
			}
			// A buyer is no member of the event's organizer: its door is
			// unknown to them.
			if _, err := h.svc.Tickets.Scan(t.Context(), buyer, e.ID, boxoffice.ScanInput{Code: ts[0].Code}); !errors.Is(err, boxoffice.ErrNotFound) {
				t.Fatalf("a buyer scanning: %v", err)
			}
			if r := scan(h.admin, ts[0].Code, "North"); r != boxoffice.CheckinOK {
				t.Errorf("first scan: %s", r)
			}
			if r := scan(h.admin, ts[0].Code, "North"); r != boxoffice.CheckinAlreadyUsed {
				t.Errorf("second scan: %s", r)
			}
			changed := []byte(ts[1].Code)
			changed[100] ^= 2
			if r := scan(h.admin, string(changed), ""); r != boxoffice.CheckinInvalid {
				t.Errorf("changed code: %s", r)
			}
			if r := scan(h.admin, foreign.Code, ""); r != boxoffice.CheckinWrongEvent {
				t.Errorf("another event's code: %s", r)
			}
			if _, err := h.svc.Orders.RefundOrder(t.Context(), buyer, ts[1].OrderID, boxoffice.RefundInput{TicketIDs: []string{ts[1].ID}}); err != nil {
				t.Fatal(err)
			}
			if r := scan(h.admin, ts[1].Code, ""); r != boxoffice.CheckinVoid {
				t.Errorf("refunded ticket: %s", r)
			}
			renamed, err := h.svc.Tickets.RenameTicket(t.Context(), buyer, ts[2].ID, "Hedy")
			if err != nil {
				t.Fatal(err)
			}
			if r := scan(h.admin, ts[2].Code, ""); r != boxoffice.CheckinVoid {
				t.Errorf("code replaced by a name change: %s", r)
			}
			gate := &boxoffice.Gate{EventID: e.ID, Name: "Staff", Tiers: []string{e.Tiers[0].ID}}
			if _, err := h.svc.Tickets.PutGate(t.Context(), h.admin, gate); err != nil {
				t.Fatal(err)
			}
			if r := scan(h.admin, renamed.Code, "Staff"); r != boxoffice.CheckinOK {
				t.Errorf("the new code at a gate for its tier: %s", r)
			}
			counts, err := h.svc.Tickets.GateCounts(t.Context(), h.admin, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if all := counts[len(counts)-1]; all.CheckedIn != 2 || all.Expected != 3 {
				t.Errorf("counts: %+v", counts)
			}
		})
	}
}

// TestDoubleScanThreeInstances: three instances, each with its own pool on
// one MariaDB, scan the same codes at the same moments from four gates
// each: every ticket is admitted exactly once.
func TestDoubleScanThreeInstances(t *testing.T) {
	url := testdb.MySQLURL(t)
	h := newHarness(t, testdb.OpenMySQL(t, url))
	svcs := []*boxoffice.Service{h.svc, h.service(testdb.OpenMySQL(t, url)), h.service(testdb.OpenMySQL(t, url))}
	for _, s := range svcs {
		run(t, s)
	}
	e := h.event(t, 400, 100)
	var codes []string
	for _, b := range h.users(t, 3) {
		for _, tk := range h.paidTickets(t, h.svc, b, e, 100) {
			codes = append(codes, tk.Code)
		}
	}
	var mu sync.Mutex
	oks := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, svc := range svcs {
		for g := range 4 {
			wg.Go(func() {
				<-start
				for k := range codes {
					code := codes[(k+g*7+i*13)%len(codes)]
					o, err := svc.Tickets.Scan(t.Context(), h.admin, e.ID, boxoffice.ScanInput{Code: code, Gate: "gate"})
					mu.Lock()
					switch {
					case err != nil:
						t.Errorf("scan: %v", err)
					case o.Result == boxoffice.CheckinOK:
						oks[code]++
					case o.Result != boxoffice.CheckinAlreadyUsed:
						t.Errorf("scan answered %s", o.Result)
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for _, c := range codes {
		if oks[c] != 1 {
			t.Fatalf("a ticket was admitted %d times", oks[c])
		}
	}
	counts, err := h.svc.Tickets.GateCounts(t.Context(), h.admin, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if all := counts[len(counts)-1]; all.CheckedIn != len(codes) {
		t.Errorf("checked in %d, want %d", all.CheckedIn, len(codes))
	}
}
