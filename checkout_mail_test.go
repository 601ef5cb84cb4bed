package boxoffice_test

import (
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
			for _, want := range []string{"2 × GA", "USD 100.00", o.ID, "https://tickets.example.com/orders/" + o.ID} {
				if !strings.Contains(paid.Text, want) {
					t.Errorf("the confirmation does not say %q:\n%s", want, paid.Text)
				}
			}
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
