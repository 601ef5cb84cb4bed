package storetest

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

// RunAttendees runs the attendee list's part of the suite (Store.Attendees)
// alone: a store with several plans runs it again with each forced.
func RunAttendees(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("Attendees", func(t *testing.T) { testAttendees(t, open(t)) })
}

// namedOrder places and pays an order of user for e with the order's
// email (""= the buyer's), each line's tickets named as given.
func namedOrder(t *testing.T, s boxoffice.Store, e *boxoffice.Event, user, email string, at time.Time, lines map[int][]string) *boxoffice.Order {
	t.Helper()
	var ols []ol
	for _, tier := range slices.Sorted(maps.Keys(lines)) {
		ols = append(ols, ol{tier, len(lines[tier])})
	}
	req := newOrder(e, user, at, ols...)
	req.Order.Email = email
	for i, l := range ols {
		for _, name := range lines[l.tier] {
			req.Order.Lines[i].Attendees = append(req.Order.Lines[i].Attendees, boxoffice.Attendee{Name: name})
		}
	}
	placeOrders(t, s, e, req)
	if req.Err != nil {
		t.Fatalf("order: %v", req.Err)
	}
	p := mustPayment(t, s, req.Order, at)
	o, err := s.SettlePayment(t.Context(), p.ID, "", settleWith(succeeded("pi_"+p.ID), at, at, e.MaxTicketsPerUser, nil))
	must(t, "SettlePayment", err)
	return o
}

func testAttendees(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	e := createEvent(t, s, 10, 10)
	other := createEvent(t, s, 10)
	u := createUser(t, s)
	v := newUser()
	v.Name, v.Email = "Vera Buyer", "Vera.Buyer@Example.test"
	must(t, "CreateUser", s.CreateUser(ctx, v, nil))
	at := now()

	o1 := namedOrder(t, s, e, u.ID, "orders@alpha.test", at, map[int][]string{0: {"Alice Smith", "Bob Jones"}, 1: {"Carol Ng"}})
	o2 := namedOrder(t, s, e, v.ID, "", at, map[int][]string{1: {"alina Ortiz", "Dan % Under_score"}})
	namedOrder(t, s, other, u.ID, "", at, map[int][]string{0: {"Alice Other"}})

	byName := map[string]*boxoffice.Ticket{}
	var want []*boxoffice.EventAttendee
	for _, o := range []*boxoffice.Order{o1, o2} {
		for _, tk := range orderTickets(t, s, o.ID) {
			byName[tk.AttendeeName] = tk
		}
	}
	// Bob's ticket is refunded (void), Carol's checked in at North.
	t1 := at.Add(time.Minute)
	_, err := s.RefundOrder(ctx, o1.ID, refundWith(e, boxoffice.RefundRequest{TicketIDs: []string{byName["Bob Jones"].ID},
		ByOrganizer: true}, t1, nil))
	must(t, "RefundOrder", err)
	checkIn(t, s, e.ID, onlineScan(byName["Carol Ng"], "North", t1))

	for _, o := range []*boxoffice.Order{o1, o2} {
		for _, tk := range orderTickets(t, s, o.ID) {
			a := &boxoffice.EventAttendee{TicketID: tk.ID, AttendeeName: tk.AttendeeName, TierID: tk.TierID, Status: tk.Status,
				CheckedInAt: tk.CheckedInAt, Gate: tk.Gate, OrderID: o.ID, BuyerEmail: o.Email, BuyerName: u.Name, IssuedAt: tk.IssuedAt}
			if o == o2 {
				a.BuyerEmail, a.BuyerName = v.Email, v.Name // the order has no email: the buyer's
			}
			want = append(want, a)
		}
	}
	slices.SortFunc(want, func(a, b *boxoffice.EventAttendee) int { return strings.Compare(a.TicketID, b.TicketID) })
	named := func(names ...string) []*boxoffice.EventAttendee {
		var out []*boxoffice.EventAttendee
		for _, a := range want {
			if slices.Contains(names, a.AttendeeName) {
				out = append(out, a)
			}
		}
		return out
	}
	if a := named("Bob Jones")[0]; a.Status != boxoffice.TicketVoid {
		t.Fatalf("Bob's ticket after the refund: %s", a.Status)
	}
	if a := named("Carol Ng")[0]; a.Status != boxoffice.TicketUsed || a.Gate != "North" || a.CheckedInAt == nil {
		t.Fatalf("Carol's ticket after the scan: %+v", a)
	}

	// all pages through f in pages of size and returns what they held.
	all := func(f boxoffice.AttendeeFilter, size int) []*boxoffice.EventAttendee {
		t.Helper()
		f.EventID, f.Limit = e.ID, size
		var got []*boxoffice.EventAttendee
		for pages := 0; ; pages++ {
			page, err := s.Attendees(ctx, f)
			must(t, "Attendees", err)
			if len(page) > size || pages > len(want) {
				t.Fatalf("Attendees(%+v): page %d of %d", f, pages, len(page))
			}
			got = append(got, page...)
			if len(page) < size {
				return got
			}
			f.AfterID = page[len(page)-1].TicketID
		}
	}
	diff(t, "Attendees, pages of 2", want, all(boxoffice.AttendeeFilter{}, 2))
	diff(t, "Attendees, one page", want, all(boxoffice.AttendeeFilter{}, 100))
	rest, err := s.Attendees(ctx, boxoffice.AttendeeFilter{EventID: e.ID, AfterID: want[2].TicketID, Limit: 100})
	must(t, "Attendees(after the third)", err)
	diff(t, "Attendees after the third", want[3:], rest)
	none, err := s.Attendees(ctx, boxoffice.AttendeeFilter{EventID: boxoffice.NewID(), Limit: 100})
	must(t, "Attendees(unknown event)", err)
	diff(t, "Attendees of an unknown event", 0, len(none))

	for _, c := range []struct {
		name string
		f    boxoffice.AttendeeFilter
		want []*boxoffice.EventAttendee
	}{
		{"void", boxoffice.AttendeeFilter{Status: boxoffice.TicketVoid}, named("Bob Jones")},
		{"used", boxoffice.AttendeeFilter{Status: boxoffice.TicketUsed}, named("Carol Ng")},
		{"valid", boxoffice.AttendeeFilter{Status: boxoffice.TicketValid}, named("Alice Smith", "alina Ortiz", "Dan % Under_score")},
		{"name prefix, any case", boxoffice.AttendeeFilter{Prefix: "ali"}, named("Alice Smith", "alina Ortiz")},
		{"name prefix, valid", boxoffice.AttendeeFilter{Prefix: "ali", Status: boxoffice.TicketValid}, named("Alice Smith", "alina Ortiz")},
		{"name prefix, void", boxoffice.AttendeeFilter{Prefix: "ali", Status: boxoffice.TicketVoid}, nil},
		{"not a substring", boxoffice.AttendeeFilter{Prefix: "smith"}, nil},
		{"wildcards are literal", boxoffice.AttendeeFilter{Prefix: "dan % under_"}, named("Dan % Under_score")},
		{"underscore is no wildcard", boxoffice.AttendeeFilter{Prefix: "d_n"}, nil},
		{"percent is no wildcard", boxoffice.AttendeeFilter{Prefix: "%"}, nil},
		{"order email prefix", boxoffice.AttendeeFilter{Prefix: "orders@al"}, named("Alice Smith", "Bob Jones", "Carol Ng")},
		{"order email, used", boxoffice.AttendeeFilter{Prefix: "orders@al", Status: boxoffice.TicketUsed}, named("Carol Ng")},
		{"buyer email when the order has none", boxoffice.AttendeeFilter{Prefix: "vera.buyer@ex"}, named("alina Ortiz", "Dan % Under_score")},
		{"buyer email only when the order has none", boxoffice.AttendeeFilter{Prefix: "user-"}, nil},
		{"order ID", boxoffice.AttendeeFilter{ID: o2.ID}, named("alina Ortiz", "Dan % Under_score")},
		{"order ID, status", boxoffice.AttendeeFilter{ID: o1.ID, Status: boxoffice.TicketVoid}, named("Bob Jones")},
		{"ticket ID", boxoffice.AttendeeFilter{ID: byName["Carol Ng"].ID}, named("Carol Ng")},
		{"ticket ID, other status", boxoffice.AttendeeFilter{ID: byName["Carol Ng"].ID, Status: boxoffice.TicketValid}, nil},
		{"unknown ID", boxoffice.AttendeeFilter{ID: boxoffice.NewID()}, nil},
		{"other event's name", boxoffice.AttendeeFilter{Prefix: "alice o"}, nil},
	} {
		for _, size := range []int{1, 100} {
			got := all(c.f, size)
			if len(got) == 0 {
				got = nil
			}
			diff(t, c.name, c.want, got)
		}
	}
	// The other event's order is not this event's.
	got, err := s.Attendees(ctx, boxoffice.AttendeeFilter{EventID: e.ID, ID: orderTicketsOf(t, s, other)[0].OrderID, Limit: 10})
	must(t, "Attendees(other event's order)", err)
	diff(t, "Attendees by another event's order ID", 0, len(got))
}

// orderTicketsOf returns an event's tickets.
func orderTicketsOf(t *testing.T, s boxoffice.Store, e *boxoffice.Event) []*boxoffice.Ticket {
	t.Helper()
	ts, err := s.EventTickets(t.Context(), e.ID, "", 100)
	must(t, "EventTickets", err)
	return ts
}
