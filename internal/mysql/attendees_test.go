package mysql

import (
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/storetest"
)

// TestAttendeePlans runs the attendee list's conformance tests with search
// windows of one and two tickets, so that prefix searches take both plans:
// a window that fills the page, and the indexes after a full window short
// of matches.
func TestAttendeePlans(t *testing.T) {
	testURL(t)
	defer func(w int) { searchWindow = w }(searchWindow)
	for _, w := range []int{1, 2} {
		searchWindow = w
		storetest.RunAttendees(t, func(t *testing.T) boxoffice.Store { return openStore(t) })
	}
}

// TestSeedSales seeds sold tickets of the hot event and reads them back as
// attendees: every ticket once, in ID order, with the seed's states and
// the buyer's email where the order has none.
func TestSeedSales(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	hot := &boxoffice.Event{ID: boxoffice.NewID(), Title: "Hot", Venue: "Hall", StartsAt: now.Add(time.Hour),
		SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(time.Hour), MaxTicketsPerUser: 4, HoldSeconds: 600,
		CreatedAt: now, UpdatedAt: now}
	hot.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: hot.ID, Name: "GA",
		Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: 12_345}}
	const total = 12_345
	stages := map[string]int{}
	err := s.Seed(ctx, boxoffice.SeedSpec{Users: 7, PasswordHash: []byte("h"), HotEvent: hot, HotTickets: total, Now: now},
		func(stage string, done, _ int) { stages[stage] = done })
	if err != nil {
		t.Fatal(err)
	}
	if stages["tickets"] != total {
		t.Errorf("progress %v", stages)
	}
	f := boxoffice.AttendeeFilter{EventID: hot.ID, Limit: 5000}
	counts := map[boxoffice.TicketStatus]int{}
	n, last := 0, ""
	for {
		page, err := s.Attendees(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			if a.TicketID <= last {
				t.Fatalf("ticket %s after %s", a.TicketID, last)
			}
			last = a.TicketID
			counts[a.Status]++
			if a.BuyerEmail == "" || a.AttendeeName == "" || a.BuyerName == "" {
				t.Fatalf("attendee %+v", a)
			}
			if n == 0 && !strings.HasSuffix(a.BuyerEmail, "@seed.boxoffice.test") { // order 0 has no email
				t.Errorf("first attendee's buyer email %q", a.BuyerEmail)
			}
			n++
		}
		if len(page) < f.Limit {
			break
		}
		f.AfterID = last
	}
	if n != total || counts[boxoffice.TicketVoid] != total/50 || counts[boxoffice.TicketUsed] != (total+6)/10 {
		t.Errorf("%d attendees, %v", n, counts)
	}
	e, err := s.Event(ctx, hot.ID)
	if err != nil || e.Tiers[0].Reserved != total-total/50 {
		t.Errorf("reserved %d, %v", e.Tiers[0].Reserved, err)
	}
	// A prefix search reads its matches from the name index.
	page, err := s.Attendees(ctx, boxoffice.AttendeeFilter{EventID: hot.ID, Prefix: "zoë", Limit: 100})
	if err != nil || len(page) == 0 || !strings.HasPrefix(page[0].AttendeeName, "Zoë") {
		t.Errorf("search zoë: %d %v", len(page), err)
	}
}
