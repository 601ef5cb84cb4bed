package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/storetest"
)

// testURL returns BOXOFFICE_TEST_MYSQL_URL, or skips the test.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("BOXOFFICE_TEST_MYSQL_URL")
	if u == "" {
		t.Skip("BOXOFFICE_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/): skipping MySQL/MariaDB tests")
	}
	return u
}

// withDB returns rawURL with its database name replaced by name.
func withDB(t testing.TB, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("bad BOXOFFICE_TEST_MYSQL_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// freshDB creates an empty database boxoffice_test_<random>, drops it at
// cleanup, and returns its URL.
func freshDB(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "boxoffice_test_" + hex.EncodeToString(rnd[:])
	admin, err := Open(context.Background(), withDB(t, base, ""))
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	if _, err := admin.DB().Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.DB().Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return withDB(t, base, name)
}

// openStore opens and migrates a store on a fresh database.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), freshDB(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) boxoffice.Store { return openStore(t) })
}

func TestSeeder(t *testing.T) {
	storetest.Seeder(t, openStore(t))
}

// TestMigrateConcurrently starts four Store values on one empty database at
// once; every Migrate must succeed and the migrations be applied once.
func TestMigrateConcurrently(t *testing.T) {
	dbURL := freshDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(t.Context(), dbURL)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Migrate(t.Context())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	s, err := Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	migs, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
	}
}

// TestUnreachable checks that a database that is not there is reported as
// a *boxoffice.RetryableError, at Open and after it went away.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there

	_, err = Open(t.Context(), "mysql://root@"+addr+"/nothing")
	var re *boxoffice.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("Open on a closed port: got %v (%T), want a *boxoffice.RetryableError", err, err)
	}
	if boxoffice.CodeOf(err) != boxoffice.CodeUnavailable {
		t.Errorf("CodeOf = %q, want unavailable", boxoffice.CodeOf(err))
	}

	// A store whose server goes away: kill its connections with a proxy
	// that we close.
	s := openStore(t)
	proxy := startProxy(t, s)
	ps, err := Open(t.Context(), proxy.url)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if _, err := ps.User(t.Context(), boxoffice.NewID()); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Fatalf("User through the proxy: %v", err)
	}
	proxy.close()
	_, err = ps.User(t.Context(), boxoffice.NewID())
	if !errors.As(err, &re) {
		t.Fatalf("User after the server went away: got %v (%T), want a *boxoffice.RetryableError", err, err)
	}
	if err := ps.Ping(t.Context()); !errors.As(err, &re) {
		t.Fatalf("Ping after the server went away: got %v, want a *boxoffice.RetryableError", err)
	}
}

// tcpProxy forwards connections to the test server until closed.
type tcpProxy struct {
	l     net.Listener
	url   string
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, s *Store) *tcpProxy {
	t.Helper()
	target, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	host := target.Host
	if target.Port() == "" {
		host = net.JoinHostPort(target.Hostname(), "3306")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l}
	u := *target
	u.Host = l.Addr().String()
	u.Path = "/" + s.dbName
	p.url = u.String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", host)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go pipe(c, up)
			go pipe(up, c)
		}
	}()
	t.Cleanup(p.close)
	return p
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *tcpProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestParseURL(t *testing.T) {
	cfg, pool, err := parseURL("mysql://app:s%3Acret@db.example:3307/box?max_open_conns=50&readTimeout=3s&conn_max_lifetime=1m")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "app" || cfg.Passwd != "s:cret" || cfg.Addr != "db.example:3307" || cfg.DBName != "box" {
		t.Errorf("config %+v", cfg)
	}
	if !cfg.ParseTime || !cfg.InterpolateParams || cfg.Loc != time.UTC || cfg.ReadTimeout != 3*time.Second {
		t.Errorf("driver settings %+v", cfg)
	}
	if !strings.Contains(cfg.FormatDSN(), "timeTruncate=1µs") {
		t.Errorf("time truncation lost: %s", cfg.FormatDSN())
	}
	if pool.maxOpen != 50 || pool.maxLifetime != time.Minute {
		t.Errorf("pool %+v", pool)
	}
	if cfg, _, err := parseURL("mysql://root@localhost/x"); err != nil || cfg.Addr != "localhost:3306" {
		t.Errorf("default port: %v %v", cfg, err)
	}
	// Every connection has a dial, read and write timeout unless the URL
	// says otherwise (0 turns one off).
	cfg, _, err = parseURL("mysql://root@localhost/x")
	if err != nil || cfg.Timeout != DefaultDialTimeout || cfg.ReadTimeout != DefaultReadTimeout || cfg.WriteTimeout != DefaultWriteTimeout {
		t.Errorf("default timeouts: dial %v, read %v, write %v (%v)", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout, err)
	}
	cfg, _, err = parseURL("mysql://root@localhost/x?timeout=2s&writeTimeout=0&readTimeout=10m")
	if err != nil || cfg.Timeout != 2*time.Second || cfg.ReadTimeout != 10*time.Minute || cfg.WriteTimeout != 0 {
		t.Errorf("timeouts from the URL: dial %v, read %v, write %v (%v)", cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout, err)
	}
	if _, _, err := parseURL("postgres://x"); err == nil {
		t.Error("postgres URL accepted")
	}
}

func TestTextCondition(t *testing.T) {
	for _, tc := range []struct {
		q, cond string
		args    []any
	}{
		{"rock", "MATCH(title, venue) AGAINST(? IN BOOLEAN MODE)", []any{"+rock*"}},
		{`"Jazz" -night+`, "MATCH(title, venue) AGAINST(? IN BOOLEAN MODE)", []any{"+Jazz* +night*"}},
		{"AC/DC live", "MATCH(title, venue) AGAINST(? IN BOOLEAN MODE) AND (title LIKE ? OR venue LIKE ?) AND (title LIKE ? OR venue LIKE ?)",
			[]any{"+live*", "%AC%", "%AC%", "%DC%", "%DC%"}},
		{"%_", `(title LIKE ? OR venue LIKE ?)`, []any{`%\%\_%`, `%\%\_%`}},
	} {
		cond, args := textCondition(tc.q, false)
		if cond != tc.cond || strings.Join(toStrings(args), "|") != strings.Join(toStrings(tc.args), "|") {
			t.Errorf("textCondition(%q) = %q %v, want %q %v", tc.q, cond, args, tc.cond, tc.args)
		}
	}
}

func toStrings(args []any) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.(string)
	}
	return out
}

// TestListEventsText checks the FULLTEXT and LIKE paths and that stopwords
// are indexed.
func TestListEventsText(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(title, venue string, startsIn time.Duration) *boxoffice.Event {
		e := &boxoffice.Event{ID: boxoffice.NewID(), Title: title, Venue: venue, StartsAt: now.Add(startsIn),
			SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(time.Hour), MaxTicketsPerUser: 4, HoldSeconds: 900,
			CreatedAt: now, UpdatedAt: now}
		e.Tiers = []boxoffice.Tier{{ID: boxoffice.NewID(), EventID: e.ID, Name: "GA", Price: boxoffice.Money{Amount: 100, Currency: "USD"}, Capacity: 5}}
		if err := s.CreateEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := mk("The Who Live", "Wembley Arena", time.Hour)
	b := mk("Jazz Nights", "Blue Note", 2*time.Hour)
	c := mk("AC/DC", "the Forum", 3*time.Hour)
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"the", []string{a.ID, c.ID}},
		{"JAZZ", []string{b.ID}},
		{"jaz", []string{b.ID}},
		{"ac", []string{c.ID}},
		{"who wemb", []string{a.ID}},
		{"note blue", []string{b.ID}},
		{"nothing", nil},
	} {
		got, err := s.ListEvents(ctx, boxoffice.EventFilter{Query: tc.q, Limit: 10})
		if err != nil {
			t.Fatalf("q=%q: %v", tc.q, err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("q=%q: got %v, want %v", tc.q, ids, tc.want)
		}
		// The bounded ordered scan must match the same events.
		query, args := listEventsQuery(boxoffice.EventFilter{Query: tc.q, Limit: 10}, salesBounds{}, 1000)
		scanned, err := s.queryEvents(ctx, query, args...)
		if err != nil {
			t.Fatalf("q=%q scan: %v", tc.q, err)
		}
		ids = nil
		for _, e := range scanned {
			ids = append(ids, e.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("q=%q scan: got %v, want %v", tc.q, ids, tc.want)
		}
	}
}

// TestSeedSmall seeds a small data set (indexes kept) and one big enough to
// drop and rebuild the secondary indexes.
func TestSeedSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 events")
	}
	s := openStore(t)
	ctx := t.Context()
	stages := map[string]int{}
	spec := boxoffice.SeedSpec{Users: 3000, PasswordHash: []byte("hash'\\x"), Events: seedDropIndexesAt, Now: time.Now()}
	start := time.Now()
	if err := s.Seed(ctx, spec, func(stage string, done, total int) { stages[stage] = done }); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d users and %d events in %v; progress %v", spec.Users, spec.Events, time.Since(start), stages)
	if stages["users"] != spec.Users || stages["events"] != spec.Events || stages["indexes"] != len(seedIndexes) {
		t.Errorf("progress %v", stages)
	}
	u, err := s.UserByEmail(ctx, boxoffice.SeedUserEmail(2999))
	if err != nil || u.ID != boxoffice.SeedUserID(2999) || string(u.PasswordHash) != "hash'\\x" {
		t.Fatalf("seeded user: %+v %v", u, err)
	}
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM events e JOIN tiers t ON t.event_id = e.id").Scan(&n); err != nil || n != spec.Events {
		t.Fatalf("events with tiers: %d %v", n, err)
	}
	// Walk a few pages and check the order.
	f := boxoffice.EventFilter{Limit: 100}
	var last *boxoffice.Event
	for range 5 {
		page, err := s.ListEvents(ctx, f)
		if err != nil || len(page) != 100 {
			t.Fatalf("page: %d %v", len(page), err)
		}
		for _, e := range page {
			if last != nil && (e.StartsAt.Before(last.StartsAt) || e.StartsAt.Equal(last.StartsAt) && e.ID <= last.ID) {
				t.Fatalf("out of order: %v %s after %v %s", e.StartsAt, e.ID, last.StartsAt, last.ID)
			}
			if len(e.Tiers) != 1 {
				t.Fatalf("event %s has %d tiers", e.ID, len(e.Tiers))
			}
			last = e
		}
		f.AfterStartsAt, f.AfterID = last.StartsAt, last.ID
	}
	// On sale now: every result must be.
	now := time.Now().UTC()
	page, err := s.ListEvents(ctx, boxoffice.EventFilter{OnSaleAt: now, Limit: 50})
	if err != nil || len(page) == 0 {
		t.Fatalf("on sale: %d %v", len(page), err)
	}
	for _, e := range page {
		if !e.OnSale(now) {
			t.Fatalf("event %s is not on sale", e.ID)
		}
	}
	// Seeding users again keeps them.
	if err := s.Seed(ctx, boxoffice.SeedSpec{Users: 10, PasswordHash: []byte("x")}, nil); err != nil {
		t.Fatalf("second seed: %v", err)
	}
}

// TestExplainListEvents checks that a deep keyset page reads about as many
// index entries as it returns (a range scan on INDEX(starts_at, id) from the
// cursor, in order), whatever EXPLAIN's access type.
func TestExplainListEvents(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	if err := s.Seed(ctx, boxoffice.SeedSpec{Events: 20000, Now: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("ANALYZE TABLE events"); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	var id string
	if err := s.DB().QueryRow("SELECT starts_at, id FROM events ORDER BY starts_at, id LIMIT 1 OFFSET 15000").Scan(&at, &id); err != nil {
		t.Fatal(err)
	}
	q, args := listEventsQuery(boxoffice.EventFilter{AfterStartsAt: at, AfterID: id, Limit: 20}, salesBounds{}, 0)
	t.Logf("EXPLAIN keyset: %s", explain(t, s.DB(), q, args...))
	reads := handlerReads(t, s.DB(), q, args...)
	t.Logf("handler reads: %d", reads)
	if reads > 100 {
		t.Errorf("a page 15,000 rows deep read %d index entries", reads)
	}

	// On sale now, with a time that has nanoseconds (they once turned the
	// range into a full index scan).
	now := time.Now()
	if now.Nanosecond()%1000 == 0 {
		now = now.Add(1)
	}
	b, err := s.salesBounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, args = listEventsQuery(boxoffice.EventFilter{OnSaleAt: now, Limit: 20}, b, 0)
	reads = handlerReads(t, s.DB(), q, args...)
	t.Logf("on sale: EXPLAIN %s; handler reads %d", explain(t, s.DB(), q, args...), reads)
	if reads > 200 {
		t.Errorf("the first on-sale page read %d index entries", reads)
	}
}

// handlerReads runs query and returns the rows InnoDB read for it
// (Handler_read_* counters).
func handlerReads(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "FLUSH STATUS"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	st, err := conn.QueryContext(context.Background(), "SHOW SESSION STATUS LIKE 'Handler_read%'")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	total := 0
	for st.Next() {
		var name string
		var n int
		if err := st.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		if name != "Handler_read_rnd_deleted" {
			total += n
		}
	}
	return total
}

// explain returns EXPLAIN's rows for query as "col=value" text.
func explain(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, c := range cols {
			if vals[i].Valid {
				parts = append(parts, c+"="+vals[i].String)
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	return strings.Join(out, " | ")
}
