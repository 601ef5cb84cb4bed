package boxoffice_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/mailtest"
	"boxoffice/internal/smtp"
	"boxoffice/internal/testpay"
)

// TestOrderMail: a paid order's confirmation and a refund's notice go
// through the outbox to a real SMTP server, on both stores.
func TestOrderMail(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			mp := mailtest.Start(t, mailtest.Options{})
			m, err := smtp.New("smtp://"+mp.SMTP, "tickets@example.com")
			if err != nil {
				t.Fatal(err)
			}
			store := open(t)
			h := &harness{store: store, clock: newClock(time.Now().Truncate(time.Second))}
			h.admin = boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleAdmin}
			h.svc = boxoffice.NewService(boxoffice.ServiceConfig{
				Store: store, Hasher: auth.NewHasher(4, 0, 0, 0), Provider: testpay.New(""), Mailer: m,
				PublicURL: "https://tickets.example.com", Now: h.clock.Now, SweepInterval: 10 * time.Millisecond,
				Outbox: boxoffice.OutboxConfig{Poll: 10 * time.Millisecond},
			})
			run(t, h.svc)
			e := h.event(t, 10, 4)
			buyer := h.users(t, 1)[0]
			u, err := store.User(t.Context(), buyer.UserID)
			if err != nil {
				t.Fatal(err)
			}
			o, err := h.svc.Orders.CreateOrder(t.Context(), buyer, boxoffice.OrderInput{EventID: e.ID,
				Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[0].ID, Quantity: 2}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.svc.Orders.StartPayment(t.Context(), buyer, o.ID, "tok_visa"); err != nil {
				t.Fatal(err)
			}
			paid := mp.WaitFor(u.Email, "Your tickets for Show", 30*time.Second)
			for _, want := range []string{"2 × GA", "USD 100.00", o.ID, "https://tickets.example.com/api/v1/orders/" + o.ID + "/tickets.pdf?"} {
				if !strings.Contains(paid.Text, want) {
					t.Errorf("the confirmation does not say %q:\n%s", want, paid.Text)
				}
			}
			followTicketLinks(t, h.svc, paid.Text, o.ID)
			if _, err := h.svc.Orders.RefundOrder(t.Context(), buyer, o.ID, boxoffice.RefundInput{
				Lines: []boxoffice.RefundLine{{TierID: e.Tiers[0].ID, Quantity: 1}}}); err != nil {
				t.Fatal(err)
			}
			refunded := mp.WaitFor(u.Email, "Refund for Show", 30*time.Second)
			if !strings.Contains(refunded.Text, "USD 50.00") {
				t.Errorf("the refund notice does not say the amount:\n%s", refunded.Text)
			}
		})
	}
}

// followTicketLinks opens the signed links of a confirmation as their
// reader would, without signing in: the order's link gives both tickets,
// each ticket's link its ticket, and a link changed in any way nothing.
func followTicketLinks(t *testing.T, svc *boxoffice.Service, text, orderID string) {
	t.Helper()
	var links []*url.URL
	for _, f := range strings.Fields(text) {
		if u, err := url.Parse(f); err == nil && u.Query().Has("sig") {
			links = append(links, u)
		}
	}
	if len(links) != 3 {
		t.Fatalf("%d signed links in the confirmation, want 3 (the order's, each ticket's):\n%s", len(links), text)
	}
	open := func(u *url.URL) ([]boxoffice.PrintedTicket, error) {
		parts := strings.Split(u.Path, "/") // /api/v1/{orders|tickets}/{id}/{file}
		kind, id := strings.TrimSuffix(parts[3], "s"), parts[4]
		q := u.Query()
		l, ok := boxoffice.ParseLink(kind, id, q.Get("event"), q.Get("exp"), q.Get("sig"))
		if !ok {
			return nil, boxoffice.ErrNotFound
		}
		if kind == "order" {
			return svc.Tickets.PrintTickets(t.Context(), boxoffice.Caller{}, &l, id, "")
		}
		return svc.Tickets.PrintTickets(t.Context(), boxoffice.Caller{}, &l, "", id)
	}
	ts, err := open(links[0])
	if err != nil || len(ts) != 2 || ts[0].OrderID != orderID || ts[0].Code == "" {
		t.Fatalf("the order's link: %v, %d tickets", err, len(ts))
	}
	for i, u := range links[1:] {
		one, err := open(u)
		if err != nil || len(one) != 1 || one[0].ID != ts[i].ID {
			t.Errorf("ticket link %d: %v", i, err)
		}
	}
	// Another order's ID under the same signature, or a later expiry.
	forged := *links[0]
	forged.Path = strings.Replace(forged.Path, orderID, boxoffice.NewID(), 1)
	later := *links[1]
	q := later.Query()
	q.Set("exp", "9999999999")
	later.RawQuery = q.Encode()
	for _, u := range []*url.URL{&forged, &later} {
		if _, err := open(u); !errors.Is(err, boxoffice.ErrNotFound) {
			t.Errorf("a changed link %s: %v", u, err)
		}
	}
}
