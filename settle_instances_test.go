package boxoffice_test

import (
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/testdb"
	"boxoffice/internal/testpay"
)

// TestCallbacksThreeInstances: three instances, each with its own pool on
// one MariaDB, are handed every payment's succeeded callback at the same
// moments, with a stale failed callback of each payment in between: their
// batches of reports race for the same payments and provider events, and
// every order is paid exactly once, with exactly its tickets.
func TestCallbacksThreeInstances(t *testing.T) {
	const secret = "three-instances-callback-secret"
	url := testdb.MySQLURL(t)
	h := newHarness(t, testdb.OpenMySQL(t, url))
	instance := func(store boxoffice.Store) *boxoffice.Service {
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: store, Hasher: auth.NewHasher(4, 0, 0, 0), Provider: testpay.New(secret),
			Now: h.clock.Now, SweepInterval: 10 * time.Millisecond,
		})
		run(t, svc)
		return svc
	}
	svcs := []*boxoffice.Service{instance(h.store), instance(testdb.OpenMySQL(t, url)), instance(testdb.OpenMySQL(t, url))}
	const orders, perOrder = 60, 2
	e := h.event(t, orders*perOrder, 10)
	type callback struct{ body, sig, staleBody, staleSig string }
	var cbs []callback
	var orderIDs []string
	for _, u := range h.users(t, orders) {
		o, err := svcs[0].Orders.CreateOrder(t.Context(), u, boxoffice.OrderInput{EventID: e.ID,
			Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[0].ID, Quantity: perOrder}}})
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := svcs[0].Orders.StartPayment(t.Context(), u, o.ID, "tok_processing")
		if err != nil || p.Status != boxoffice.PaymentProcessing {
			t.Fatalf("payment: %+v, %v", p, err)
		}
		created := time.Now()
		body, sig := testpay.Signed(secret, testpay.Callback{Type: "payment", Created: created,
			PaymentID: p.ID, Status: "succeeded", Ref: testpay.PaymentRef(p.ID)})
		staleBody, staleSig := testpay.Signed(secret, testpay.Callback{Type: "payment", Created: created.Add(-time.Second),
			PaymentID: p.ID, Status: "failed", Ref: testpay.PaymentRef(p.ID), FailureReason: testpay.DeclineReason})
		cbs = append(cbs, callback{string(body), sig, string(staleBody), staleSig})
		orderIDs = append(orderIDs, o.ID)
	}

	deliver := func(svc *boxoffice.Service, body, sig string) {
		err := svc.Orders.HandleWebhook(t.Context(), "test", []byte(body), func(h string) string {
			if h == testpay.SignatureHeader {
				return sig
			}
			return ""
		})
		if err != nil {
			t.Errorf("callback: %v", err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, svc := range svcs {
		for g := range 8 {
			wg.Go(func() {
				<-start
				for k := range cbs {
					c := cbs[(k+g*7+i*13)%len(cbs)]
					deliver(svc, c.body, c.sig)
					if (k+g+i)%3 == 0 {
						deliver(svc, c.staleBody, c.staleSig)
					}
				}
			})
		}
	}
	close(start)
	wg.Wait()

	buyer := h.admin
	for _, id := range orderIDs {
		o, err := h.svc.Orders.Order(t.Context(), buyer, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != boxoffice.OrderPaid || o.Payment == nil || o.Payment.Status != boxoffice.PaymentSucceeded {
			t.Fatalf("order %s: %s, payment %+v", id, o.Status, o.Payment)
		}
		ts, err := h.svc.Tickets.OrderTickets(t.Context(), buyer, id)
		if err != nil || len(ts) != perOrder {
			t.Fatalf("order %s: %d tickets (%v), want %d", id, len(ts), err, perOrder)
		}
		refunds, err := h.store.OrderRefunds(t.Context(), id)
		if err != nil || len(refunds) != 0 {
			t.Fatalf("order %s: refunds %+v (%v)", id, refunds, err)
		}
	}
	h.checkSales(t, e.ID, orders*perOrder)
	rev, err := h.store.Revenue(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(orders * perOrder * 5000); rev.Paid["USD"] != want || rev.Refunded["USD"] != 0 {
		t.Fatalf("revenue %+v, want %d paid", rev, want)
	}
}
