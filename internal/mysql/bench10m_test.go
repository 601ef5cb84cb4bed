package mysql

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"boxoffice"

	"golang.org/x/crypto/bcrypt"
)

// Size of the persistent benchmark data set.
const (
	bench10MEvents = 10_000_000
	bench10MUsers  = 1_000_000
	bench10MDB     = "boxoffice_seed10m"
)

// TestListEvents10M proves that ListEvents stays fast at ten million
// events. It runs only with BOXOFFICE_BENCH_10M=1 (and
// BOXOFFICE_TEST_MYSQL_URL): it seeds the database boxoffice_seed10m unless
// it already holds the data set, leaves it in place, and logs the latency
// percentiles, EXPLAIN and rows read of each kind of list.
func TestListEvents10M(t *testing.T) {
	if os.Getenv("BOXOFFICE_BENCH_10M") != "1" {
		t.Skip("set BOXOFFICE_BENCH_10M=1 to seed 10M events into " + bench10MDB + " and measure ListEvents")
	}
	base := testURL(t)
	ctx := context.Background()
	admin, err := Open(ctx, withDB(t, base, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The data set needs a bigger buffer pool than the default 128 MiB to
	// stay in memory; both settings are dynamic in MariaDB 10.11.
	for _, set := range []string{
		"SET GLOBAL innodb_buffer_pool_size = 4294967296",
		"SET GLOBAL max_connections = 1000",
	} {
		if _, err := admin.DB().Exec(set); err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		t.Log(set)
	}

	if _, err := admin.DB().Exec("CREATE DATABASE IF NOT EXISTS " + bench10MDB + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, withDB(t, base, bench10MDB))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var events, users int
	if err := s.DB().QueryRow("SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM users)").Scan(&events, &users); err != nil {
		t.Fatal(err)
	}
	if events != bench10MEvents || users != bench10MUsers {
		s = seed10M(t, admin, s, events+users > 0)
		defer s.Close()
	} else {
		t.Logf("%s already holds %d events and %d users", bench10MDB, events, users)
	}
	measure10M(t, s)
}

// seed10M loads the data set into s's database and returns the store to
// use from then on (a new one when the database had to be made anew).
func seed10M(t *testing.T, admin, s *Store, dirty bool) *Store {
	ctx := context.Background()
	if dirty {
		// A partial earlier run: start over.
		t.Log("dropping a partial " + bench10MDB)
		s.Close()
		if _, err := admin.DB().Exec("DROP DATABASE " + bench10MDB); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DB().Exec("CREATE DATABASE " + bench10MDB + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
			t.Fatal(err)
		}
		ns, err := Open(ctx, withDB(t, testURL(t), bench10MDB))
		if err != nil {
			t.Fatal(err)
		}
		s = ns
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("seed-password"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	// Group commit of the redo log for the load only: each batch commits
	// on its own, and durability of a seed is not a concern.
	var flush int
	if err := admin.DB().QueryRow("SELECT @@innodb_flush_log_at_trx_commit").Scan(&flush); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DB().Exec("SET GLOBAL innodb_flush_log_at_trx_commit = 2"); err != nil {
		t.Fatal(err)
	}
	t.Log("SET GLOBAL innodb_flush_log_at_trx_commit = 2 (restored afterwards)")
	defer admin.DB().Exec(fmt.Sprintf("SET GLOBAL innodb_flush_log_at_trx_commit = %d", flush))

	start := time.Now()
	stageStart := map[string]time.Time{}
	lastLog := map[string]int{}
	spec := boxoffice.SeedSpec{Users: bench10MUsers, PasswordHash: hash, Events: bench10MEvents, Now: time.Now()}
	err = s.Seed(ctx, spec, func(stage string, done, total int) {
		if _, ok := stageStart[stage]; !ok {
			stageStart[stage] = time.Now()
		}
		if done-lastLog[stage] >= total/10 || done == total {
			lastLog[stage] = done
			t.Logf("seed %-7s %9d/%d  %6.1fs", stage, done, total, time.Since(stageStart[stage]).Seconds())
		}
	})
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	t.Logf("seeded %d users and %d events in %v", spec.Users, spec.Events, time.Since(start).Round(time.Second))
	for _, tbl := range []string{"events", "tiers", "users"} {
		if _, err := s.DB().Exec("ANALYZE TABLE " + tbl); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func measure10M(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Now().UTC()

	var deepAt time.Time
	var deepID string
	start := time.Now()
	if err := s.DB().QueryRow("SELECT starts_at, id FROM events ORDER BY starts_at, id LIMIT 1 OFFSET 5000000").Scan(&deepAt, &deepID); err != nil {
		t.Fatal(err)
	}
	t.Logf("cursor 5,000,000 rows in: (%s, %s), found by OFFSET in %v (what keyset avoids)", deepAt.Format(time.RFC3339), deepID, time.Since(start).Round(time.Millisecond))

	first, err := s.ListEvents(ctx, boxoffice.EventFilter{Limit: 1})
	if err != nil || len(first) == 0 {
		t.Fatalf("first event: %v", err)
	}
	words := strings.Fields(first[0].Title)
	rare := words[len(words)-1]
	var rareCount int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM events WHERE MATCH(title, venue) AGAINST(? IN BOOLEAN MODE)", "+"+rare+"*").Scan(&rareCount); err != nil {
		t.Fatal(err)
	}
	t.Logf("rare word %q matches %d events", rare, rareCount)

	cases := []struct {
		name string
		f    boxoffice.EventFilter
	}{
		{"page 1", boxoffice.EventFilter{Limit: 20}},
		{"page 5,000,000 rows deep", boxoffice.EventFilter{AfterStartsAt: deepAt, AfterID: deepID, Limit: 20}},
		{"q=" + rare, boxoffice.EventFilter{Query: rare, Limit: 20}},
		{"on_sale=true", boxoffice.EventFilter{OnSaleAt: now, Limit: 20}},
		{"on_sale=true, 2nd page", boxoffice.EventFilter{OnSaleAt: now, Limit: 20}},
		{"q=golden (common word)", boxoffice.EventFilter{Query: "golden", Limit: 20}},
		{"q=" + rare + ", deep cursor", boxoffice.EventFilter{Query: rare, AfterStartsAt: deepAt, AfterID: deepID, Limit: 20}},
	}
	// The on-sale second page continues after the first on-sale page.
	if p, err := s.ListEvents(ctx, cases[3].f); err == nil && len(p) > 0 {
		cases[4].f.AfterStartsAt, cases[4].f.AfterID = p[len(p)-1].StartsAt, p[len(p)-1].ID
	}

	const calls = 300
	for _, c := range cases {
		b := salesBounds{}
		if !c.f.OnSaleAt.IsZero() {
			var err error
			if b, err = s.salesBounds(ctx); err != nil {
				t.Fatal(err)
			}
		}
		n := calls
		var got int
		lat := make([]time.Duration, 0, n)
		for i := 0; i < n+5; i++ {
			start := time.Now()
			page, err := s.ListEvents(ctx, c.f)
			d := time.Since(start)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got = len(page)
			if i >= 5 { // the first calls warm the buffer pool
				lat = append(lat, d)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
		t.Logf("%-30s %3d items  p50 %7.2fms  p99 %7.2fms  max %7.2fms  (%d calls)",
			c.name, got, ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]), len(lat))
		// The statements ListEvents may run: for a text search the bounded
		// ordered scan, then (when it does not fill the page) FULLTEXT.
		scans := []int{0}
		if c.f.Query != "" && s.mariadb {
			scans = []int{textScanRows, 0}
		}
		for _, scan := range scans {
			q, args := listEventsQuery(c.f, b, scan)
			t.Logf("    SQL: %s", q)
			t.Logf("    EXPLAIN: %s", explain(t, s.DB(), q, args...))
			t.Logf("    rows read: %d", handlerReads(t, s.DB(), q, args...))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
