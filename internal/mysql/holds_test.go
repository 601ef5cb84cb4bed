package mysql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// holdEvent creates an event with one tier of the given capacity and
// returns it.
func holdEvent(t testing.TB, s *Store, capacity, maxPerUser int) *boxoffice.Event {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := &boxoffice.Event{ID: boxoffice.NewID(), Title: "Hot", Venue: "Arena", StartsAt: now.Add(48 * time.Hour),
		SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(time.Hour), MaxTicketsPerUser: maxPerUser,
		HoldSeconds: 900, CreatedAt: now, UpdatedAt: now}
	e.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: e.ID, Name: "GA",
		Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: capacity}}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// holdBatch builds n requests of quantity 1 by distinct users, each with an
// idempotency key.
func holdBatch(e *boxoffice.Event, n int, tag string) []*boxoffice.HoldRequest {
	now := time.Now().UTC().Truncate(time.Microsecond)
	reqs := make([]*boxoffice.HoldRequest, n)
	for i := range reqs {
		user := boxoffice.NewID()
		r := &boxoffice.Reservation{ID: boxoffice.NewID(), EventID: e.ID, TierID: e.Tiers[0].ID, UserID: user,
			Quantity: 1, Status: boxoffice.StatusHeld, Amount: boxoffice.Money{Amount: 5000, Currency: "USD"},
			HoldExpiresAt: now.Add(15 * time.Minute), CreatedAt: now, UpdatedAt: now}
		reqs[i] = &boxoffice.HoldRequest{Reservation: r, MaxPerUser: e.MaxTicketsPerUser,
			Idempotency: &boxoffice.Idempotency{UserID: user, Key: fmt.Sprintf("%s-%d", tag, i), Fingerprint: "f",
				Outcome: boxoffice.Outcome{Kind: boxoffice.OutcomeHeld, ReservationID: r.ID, Quantity: r.Quantity, Amount: r.Amount}, CreatedAt: now}}
	}
	return reqs
}

// TestCreateHoldsTwoInstances runs batches for one tier from two Store
// values (two server instances) at once: every batch must commit (lock
// conflicts are retried), and exactly the capacity is granted.
func TestCreateHoldsTwoInstances(t *testing.T) {
	a := openStore(t)
	b, err := Open(t.Context(), withDB(t, testURL(t), a.dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const capacity, batches, perBatch = 1500, 40, 50
	e := holdEvent(t, a, capacity, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted, soldOut := 0, 0
	for i := range batches {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reqs := holdBatch(e, perBatch, fmt.Sprint("b", i))
			if err := s.CreateHolds(context.Background(), e.Tiers[0].ID, reqs); err != nil {
				t.Errorf("batch %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range reqs {
				switch r.Err {
				case nil:
					granted++
				case boxoffice.ErrSoldOut:
					soldOut++
				default:
					t.Errorf("request: %v", r.Err)
				}
			}
		}()
	}
	wg.Wait()
	if granted != capacity || soldOut != batches*perBatch-capacity {
		t.Errorf("granted %d, sold out %d; want %d and %d", granted, soldOut, capacity, batches*perBatch-capacity)
	}
	sales, err := a.Sales(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ts := sales.Tiers[0]; ts.Held != capacity || ts.Available != 0 {
		t.Errorf("sales %+v", ts)
	}
}

// BenchmarkCreateHolds measures one batch of holds for one tier (b.N
// batches in a row; each request is by a new user with an idempotency key).
// When the MariaDB server runs on this machine it also reports the server's
// CPU time per hold (mariadb-µs/hold), the database's share of a hold.
func BenchmarkCreateHolds(b *testing.B) {
	s := openStore(b)
	for _, n := range []int{1, 50, 200} {
		b.Run(fmt.Sprint("batch=", n), func(b *testing.B) {
			e := holdEvent(b, s, 1<<30, 4)
			batches := make([][]*boxoffice.HoldRequest, b.N)
			for i := range batches {
				batches[i] = holdBatch(e, n, fmt.Sprint(i))
			}
			b.ResetTimer()
			cpu0 := mariadbCPU()
			for i := 0; i < b.N; i++ {
				if err := s.CreateHolds(context.Background(), e.Tiers[0].ID, batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "holds/s")
			if cpu1 := mariadbCPU(); cpu0 > 0 && cpu1 > cpu0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*n)/float64(time.Microsecond), "mariadb-µs/hold")
			}
		})
	}
}

// mariadbCPU returns the CPU time (user + system) the local mariadbd (or
// mysqld) process has used, or 0 when there is none (another machine, not
// Linux).
func mariadbCPU() time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); name != "mariadbd" && name != "mysqld" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			return 0
		}
		// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 13 {
			return 0
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return 0
}
