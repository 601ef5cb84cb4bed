package boxoffice

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// SeedSpec describes the load-test data set: many users sharing one password
// hash, many filler events, and one hot event for the on-sale.
type SeedSpec struct {
	// Users is the number of users to create. User i (0-based) has ID
	// SeedUserID(i), email SeedUserEmail(i), name "Seed User i", role user
	// and PasswordHash.
	Users        int
	PasswordHash []byte
	// Events is the number of filler events, each with one tier. Their IDs
	// are made by NewID; their starts_at values spread over several years
	// around Now so lists, cursors and time filters have realistic work.
	Events int
	// HotEvent, when not nil, is inserted as is (IDs already assigned).
	HotEvent *Event
	// HotTickets is the number of tickets sold for the hot event's first
	// tier (its capacity must hold them): the orders of SeedSale, bought by
	// the seeded users in turn (Users must be positive). Its Reserved
	// count is set to the tickets kept; the users' per-event counts are
	// not (seeded sales do not count against max_tickets_per_user).
	HotTickets int
	Now        time.Time
}

// Seeder bulk-loads a SeedSpec far faster than one insert per row (multi-row
// inserts, secondary indexes built after the load where that helps). Stores
// that support it implement it; progress, when not nil, is called now and
// then with the stage ("users", "events", "indexes", "tickets") and counts.
type Seeder interface {
	Seed(ctx context.Context, spec SeedSpec, progress func(stage string, done, total int)) error
	// HasData reports whether the store holds any event and any user, so
	// that a seed can refuse to add its data set to a database in use. It
	// stays cheap on tens of millions of rows.
	HasData(ctx context.Context) (events, users bool, err error)
}

// SeedUserID returns the deterministic ID of seeded user i, so load
// generators can mint tokens for seeded users without asking the server.
func SeedUserID(i int) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], 1<<16) // millisecond 1: before any real ID
	binary.BigEndian.PutUint64(raw[8:16], uint64(i))
	return encodeID(raw)
}

// SeedUserEmail returns the email of seeded user i.
func SeedUserEmail(i int) string { return fmt.Sprintf("user%d@seed.boxoffice.test", i) }

// SeedOrderTickets is the number of tickets of each seeded order (the last
// may hold fewer).
const SeedOrderTickets = 2

// seedID returns a deterministic ID: the millisecond of at, then kind, then
// i, so that the IDs of one kind sort by i.
func seedID(at time.Time, kind byte, i int) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], uint64(at.UnixMilli())<<16|uint64(kind)<<8)
	binary.BigEndian.PutUint64(raw[8:16], uint64(i))
	return encodeID(raw)
}

var (
	seedFirstNames = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Edsger", "Barbara", "Donald", "Frances",
		"Ken", "Radia", "Dennis", "Hedy", "John", "Katherine", "Niklaus", "Sophie", "Tim", "Anita", "Bjarne", "Carol",
		"Dorothy", "Ivan", "Joan", "Leslie", "Mary", "Peter", "Ruth", "Shafi", "Vint", "Whitfield", "Yukihiro", "Zoë",
		"Åsa", "Chloé", "José", "Noël"}
	seedLastNames = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Dijkstra", "Liskov", "Knuth",
		"Allen", "Thompson", "Perlman", "Ritchie", "Lamarr", "McCarthy", "Johnson", "Wirth", "Wilson", "Berners-Lee",
		"Borg", "Stroustrup", "Shaw", "Vaughan", "Sutherland", "Clarke", "Lamport", "Keller", "Naur", "Teitelbaum",
		"Goldwasser", "Cerf", "Diffie", "Matsumoto", "Müller", "O'Brien", "García", "Nørgaard", "Smith, Jr.",
		"Ó Súilleabháin", "van Rossum", "de la Cruz", "Łukasiewicz"}
)

// SeedSale returns the j-th seeded order of the hot event e, paid at now,
// with its tickets of e's first tier: tickets j×SeedOrderTickets onwards,
// up to total. IDs are deterministic and sort by j (orders) and by ticket
// number (tickets), so stores can write them in key order. Ticket k is
// named from a list of names (accents, apostrophes, a comma; every
// 100,000th one a formula, for the export's protection); every 10th is used
// (checked in at North, South or East) and every 50th void (refunded: the
// order is partially refunded). Every other order has no email of its own
// (its buyer's account email stands in).
func SeedSale(e *Event, j, users, total int, now time.Time) (*Order, []*Ticket) {
	tier := &e.Tiers[0]
	first := j * SeedOrderTickets
	n := min(SeedOrderTickets, total-first)
	o := &Order{
		ID: seedID(now, 'o', j), EventID: e.ID, UserID: SeedUserID(j % users), Status: OrderPaid,
		Total:    Money{Amount: tier.Price.Amount * int64(n), Currency: tier.Price.Currency},
		Refunded: Money{Currency: tier.Price.Currency}, HoldExpiresAt: now, CreatedAt: now, UpdatedAt: now, PaidAt: &now,
	}
	if j%2 == 1 {
		o.Email = "buyer" + strconv.Itoa(j) + "@orders.seed.boxoffice.test"
	}
	line := OrderLine{TierID: tier.ID, Quantity: n, UnitPrice: tier.Price, Amount: o.Total}
	ts := make([]*Ticket, n)
	for x := range n {
		k := first + x
		t := &Ticket{
			ID: seedID(now, 't', k), OrderID: o.ID, EventID: e.ID, TierID: tier.ID, UserID: o.UserID,
			AttendeeName: seedFirstNames[k%len(seedFirstNames)] + " " + seedLastNames[(k/len(seedFirstNames))%len(seedLastNames)],
			Status:       TicketValid, Version: 1, IssuedAt: now, UpdatedAt: now,
		}
		if k%100_000 == 99_999 {
			t.AttendeeName = "=HYPERLINK(\"http://example.test\",\"" + strconv.Itoa(k) + "\")"
		}
		switch {
		case k%50 == 49:
			t.Status = TicketVoid
			line.Refunded++
			o.Status = OrderPartiallyRefunded
			o.Refunded.Amount += tier.Price.Amount
		case k%10 == 3:
			at := now.Add(-time.Duration(k%3600) * time.Second)
			t.Status, t.CheckedInAt, t.Gate = TicketUsed, &at, [...]string{"North", "South", "East"}[k%3]
		}
		ts[x] = t
	}
	o.Lines = []OrderLine{line}
	return o, ts
}
