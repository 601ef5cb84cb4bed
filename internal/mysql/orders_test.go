package mysql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// orderEvent creates an event with tiers of the given capacities.
func orderEvent(t testing.TB, s *Store, maxPerUser int, capacities ...int) *boxoffice.Event {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := &boxoffice.Event{ID: boxoffice.NewID(), Title: "Hot", Venue: "Arena", StartsAt: now.Add(48 * time.Hour),
		SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(time.Hour), MaxTicketsPerUser: maxPerUser,
		HoldSeconds: 900, CreatedAt: now, UpdatedAt: now}
	for i, c := range capacities {
		e.Tiers = append(e.Tiers, boxoffice.Tier{ID: boxoffice.NewID(), EventID: e.ID, Name: fmt.Sprint("T", i),
			Price: boxoffice.Money{Amount: int64(1000 * (i + 1)), Currency: "USD"}, Capacity: c})
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// newOrder builds a pending order of user for e with quantities[i] tickets
// of tier tiers[i], its hold running out at expires.
func newOrder(e *boxoffice.Event, user string, tiers, quantities []int, expires time.Time) *boxoffice.Order {
	now := time.Now().UTC().Truncate(time.Microsecond)
	o := &boxoffice.Order{ID: boxoffice.NewID(), EventID: e.ID, UserID: user, Email: "fan@example.com",
		Status: boxoffice.OrderPending, Total: boxoffice.Money{Currency: "USD"}, HoldExpiresAt: expires,
		CreatedAt: now, UpdatedAt: now}
	for i, ti := range tiers {
		t := e.Tiers[ti]
		o.Lines = append(o.Lines, boxoffice.OrderLine{TierID: t.ID, Quantity: quantities[i], UnitPrice: t.Price,
			Amount: boxoffice.Money{Amount: t.Price.Amount * int64(quantities[i]), Currency: "USD"}})
		o.Total.Amount += t.Price.Amount * int64(quantities[i])
	}
	return o
}

func orderReq(e *boxoffice.Event, o *boxoffice.Order, key string) *boxoffice.OrderRequest {
	r := &boxoffice.OrderRequest{Order: o, MaxPerUser: e.MaxTicketsPerUser}
	if key != "" {
		r.Idempotency = &boxoffice.Idempotency{UserID: o.UserID, Key: key, Fingerprint: "f",
			Outcome: boxoffice.Outcome{Kind: boxoffice.OutcomeOrder, ReservationID: o.ID}, CreatedAt: o.CreatedAt}
	}
	return r
}

// TestCreateOrdersRecordedKey: a batch whose granted order's key is on
// record fails its insert with a duplicate; the retry reads the keys and
// refuses that order alone, granting the others.
func TestCreateOrdersRecordedKey(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	e := orderEvent(t, s, 10, 10, 10)
	exp := time.Now().Add(time.Hour)
	u1, u2 := boxoffice.NewID(), boxoffice.NewID()
	first := orderReq(e, newOrder(e, u1, []int{0, 1}, []int{1, 2}, exp), "k1")
	if err := s.CreateOrders(ctx, e.ID, []*boxoffice.OrderRequest{first}); err != nil || first.Err != nil {
		t.Fatalf("CreateOrders: %v, %v", err, first.Err)
	}
	again := orderReq(e, newOrder(e, u1, []int{0}, []int{1}, exp), "k1")
	other := orderReq(e, newOrder(e, u2, []int{1, 0, 1}, []int{1, 1, 1}, exp), "k2")
	if err := s.CreateOrders(ctx, e.ID, []*boxoffice.OrderRequest{again, other}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(again.Err, boxoffice.ErrIdempotencyKeyReused) || other.Err != nil {
		t.Fatalf("verdicts: %v, %v; want key reused, nil", again.Err, other.Err)
	}
	// Sold out: the batch is decided on a plain read, a repeated key still
	// answered as such.
	big := orderReq(e, newOrder(e, boxoffice.NewID(), []int{0}, []int{8}, exp), "")
	if err := s.CreateOrders(ctx, e.ID, []*boxoffice.OrderRequest{big}); err != nil || big.Err != nil {
		t.Fatalf("CreateOrders big: %v, %v", err, big.Err)
	}
	u3 := boxoffice.NewID()
	late := orderReq(e, newOrder(e, u3, []int{0}, []int{1}, exp), "k3")
	replay := orderReq(e, newOrder(e, u1, []int{0}, []int{1}, exp), "k1")
	if err := s.CreateOrders(ctx, e.ID, []*boxoffice.OrderRequest{late, replay}); err != nil {
		t.Fatal(err)
	}
	if le, ok := boxoffice.IsLineError(late.Err); !ok || !errors.Is(le, boxoffice.ErrSoldOut) || le.Line != 0 {
		t.Fatalf("late: %v, want line 0 sold out", late.Err)
	}
	if !errors.Is(replay.Err, boxoffice.ErrIdempotencyKeyReused) {
		t.Fatalf("replay: %v, want key reused", replay.Err)
	}
	checkInventory(t, s, e)
	got, err := s.Order(ctx, other.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Lines) != 3 || got.Tickets() != 3 || got.Total != other.Order.Total {
		t.Fatalf("Order: %+v", got)
	}
}

// TestOrdersConcurrently runs three stores (three instances with their own
// pools) on one database placing multi-line orders, v1 holds, cancels and
// expiries for one event at once. Every transaction must commit (deadlocks
// are retried), and afterwards each tier's Reserved count must equal the
// tickets of its held and confirmed reservations plus the kept tickets of
// orders that hold theirs, within capacity, and each user's counter the
// user's tickets.
func TestOrdersConcurrently(t *testing.T) {
	a := openStore(t)
	stores := []*Store{a}
	for range 2 {
		s, err := Open(t.Context(), withDB(t, testURL(t), a.dbName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	e := orderEvent(t, a, 6, 60, 40, 25)
	users := make([]string, 40)
	for i := range users {
		users[i] = boxoffice.NewID()
	}
	const workers, rounds = 12, 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	var placed []string
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			ctx := context.Background()
			for i := range rounds {
				now := time.Now().UTC().Truncate(time.Microsecond)
				switch rng.IntN(5) {
				case 0, 1, 2: // a batch of multi-line orders
					var reqs []*boxoffice.OrderRequest
					for j := range 1 + rng.IntN(8) {
						n := 1 + rng.IntN(3)
						tiers, qs := make([]int, n), make([]int, n)
						for k := range n {
							tiers[k], qs[k] = rng.IntN(len(e.Tiers)), 1+rng.IntN(2)
						}
						exp := now.Add(time.Hour)
						if rng.IntN(3) == 0 {
							exp = now.Add(-time.Second) // for the sweeper
						}
						key := ""
						if rng.IntN(2) == 0 {
							key = fmt.Sprintf("w%d-%d-%d", w, i, j)
						}
						reqs = append(reqs, orderReq(e, newOrder(e, users[rng.IntN(len(users))], tiers, qs, exp), key))
					}
					if err := s.CreateOrders(ctx, e.ID, reqs); err != nil {
						t.Errorf("CreateOrders: %v", err)
						return
					}
					mu.Lock()
					for _, r := range reqs {
						if r.Err == nil {
							placed = append(placed, r.Order.ID)
						}
					}
					mu.Unlock()
				case 3: // v1 holds on one tier
					tier := e.Tiers[rng.IntN(len(e.Tiers))]
					var reqs []*boxoffice.HoldRequest
					for range 1 + rng.IntN(5) {
						u := users[rng.IntN(len(users))]
						reqs = append(reqs, &boxoffice.HoldRequest{MaxPerUser: e.MaxTicketsPerUser,
							Reservation: &boxoffice.Reservation{ID: boxoffice.NewID(), EventID: e.ID, TierID: tier.ID,
								UserID: u, Quantity: 1 + rng.IntN(2), Status: boxoffice.StatusHeld, Amount: tier.Price,
								HoldExpiresAt: now.Add(time.Duration(rng.IntN(2)*2-1) * time.Minute), CreatedAt: now, UpdatedAt: now}})
					}
					if err := s.CreateHolds(ctx, tier.ID, reqs); err != nil {
						t.Errorf("CreateHolds: %v", err)
						return
					}
				case 4: // cancel an order, expire what ran out
					mu.Lock()
					var id string
					if len(placed) > 0 {
						id = placed[rng.IntN(len(placed))]
					}
					mu.Unlock()
					if id != "" {
						if _, err := s.CancelOrder(ctx, id, now, nil); err != nil && !errors.Is(err, boxoffice.ErrInvalidState) {
							t.Errorf("CancelOrder: %v", err)
							return
						}
					}
					if _, err := s.ExpireOrders(ctx, now, 20); err != nil {
						t.Errorf("ExpireOrders: %v", err)
						return
					}
					if _, err := s.ExpireHolds(ctx, now, 20); err != nil {
						t.Errorf("ExpireHolds: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(placed) == 0 {
		t.Fatal("no order was granted")
	}
	checkInventory(t, a, e)
}

// checkInventory checks the event's tiers' Reserved counts and its users'
// counters against its reservations and orders.
func checkInventory(t *testing.T, s *Store, e *boxoffice.Event) {
	t.Helper()
	ctx := t.Context()
	wantTier := map[string]int{}
	wantUser := map[string]int{}
	rows, err := s.DB().QueryContext(ctx, "SELECT tier_id, user_id, quantity FROM reservations WHERE event_id = ? AND status IN ('held', 'confirmed')", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tier, user string
		var q int
		if err := rows.Scan(&tier, &user, &q); err != nil {
			t.Fatal(err)
		}
		wantTier[tier] += q
		wantUser[user] += q
	}
	rows.Close()
	orders, err := s.ListOrders(ctx, boxoffice.OrderFilter{EventID: e.ID, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if !o.Status.Holds() {
			continue
		}
		for tier, n := range o.PerTier() {
			wantTier[tier] += n
		}
		wantUser[o.UserID] += o.Tickets()
	}
	got, err := s.Event(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range got.Tiers {
		if tier.Reserved != wantTier[tier.ID] || tier.Reserved > tier.Capacity {
			t.Errorf("tier %s: reserved %d, want %d (capacity %d)", tier.Name, tier.Reserved, wantTier[tier.ID], tier.Capacity)
		}
	}
	rows, err = s.DB().QueryContext(ctx, "SELECT user_id, tickets FROM user_event_tickets WHERE event_id = ?", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	gotUser := map[string]int{}
	for rows.Next() {
		var user string
		var n int
		if err := rows.Scan(&user, &n); err != nil {
			t.Fatal(err)
		}
		gotUser[user] = n
		if n > e.MaxTicketsPerUser {
			t.Errorf("user %s: %d tickets, over the limit %d", user, n, e.MaxTicketsPerUser)
		}
	}
	for user := range gotUser {
		if gotUser[user] != wantUser[user] {
			t.Errorf("user %s: counter %d, want %d", user, gotUser[user], wantUser[user])
		}
	}
	for user, n := range wantUser {
		if gotUser[user] != n {
			t.Errorf("user %s: counter %d, want %d", user, gotUser[user], n)
		}
	}
}

// BenchmarkCreateOrders measures one batch of two-line orders for one event
// (b.N batches in a row; each order is by a new user with an idempotency
// key), to compare with BenchmarkCreateHolds: orders/s against holds/s.
func BenchmarkCreateOrders(b *testing.B) {
	s := openStore(b)
	for _, n := range []int{1, 50, 200} {
		b.Run(fmt.Sprint("batch=", n), func(b *testing.B) {
			e := orderEvent(b, s, 4, 1<<30, 1<<30)
			exp := time.Now().Add(time.Hour)
			batches := make([][]*boxoffice.OrderRequest, b.N)
			for i := range batches {
				for j := range n {
					o := newOrder(e, boxoffice.NewID(), []int{0, 1}, []int{1, 1}, exp)
					batches[i] = append(batches[i], orderReq(e, o, fmt.Sprint(i, "-", j)))
				}
			}
			b.ResetTimer()
			cpu0 := mariadbCPU()
			for i := 0; i < b.N; i++ {
				if err := s.CreateOrders(context.Background(), e.ID, batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "orders/s")
			if cpu1 := mariadbCPU(); cpu0 > 0 && cpu1 > cpu0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*n)/float64(time.Microsecond), "mariadb-µs/order")
			}
		})
	}
}
