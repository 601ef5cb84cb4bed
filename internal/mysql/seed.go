package mysql

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice"
)

// Tuning of the bulk seed.
const (
	// seedWorkers is the number of connections that load rows in parallel.
	seedWorkers = 2
	// seedBatch is the number of rows per multi-row INSERT.
	seedBatch = 2500
	// seedDropIndexesAt is the number of filler events from which Seed
	// drops the secondary indexes of events and tiers and builds them again
	// after the load, which is far faster than maintaining them row by row.
	seedDropIndexesAt = 100_000
)

// secondaryIndex is an index that Seed may drop and build again.
type secondaryIndex struct {
	table, name, def string
}

// seedIndexes must match the schema of the migrations.
var seedIndexes = []secondaryIndex{
	{"events", "events_starts_at", "INDEX events_starts_at (status, starts_at, id)"},
	{"events", "events_sales_lead", "INDEX events_sales_lead (sales_lead_us)"},
	{"events", "events_sales_lag", "INDEX events_sales_lag (sales_lag_us)"},
	{"events", "events_text", "FULLTEXT INDEX events_text (title, venue)"},
	{"tiers", "tiers_event", "INDEX tiers_event (event_id)"},
}

// Seed bulk-loads spec: users and filler events (one tier each) with large
// multi-row INSERTs from two connections in parallel, then the hot event.
// For large loads (seedDropIndexesAt filler events or more) it drops the
// secondary indexes of events and tiers first and builds them afterwards,
// so lists are slow while Seed runs: it is meant for an idle database.
// Seeding users again is harmless (existing IDs are kept); every call adds
// new filler events. progress, when not nil, is called after every batch
// with the stage ("users", "events", "indexes") and counts.
func (s *Store) Seed(ctx context.Context, spec boxoffice.SeedSpec, progress func(stage string, done, total int)) error {
	var mu sync.Mutex
	report := func(stage string, done, total int) {
		if progress != nil {
			mu.Lock()
			progress(stage, done, total)
			mu.Unlock()
		}
	}
	now := spec.Now.UTC()
	if now.IsZero() {
		now = time.Now().UTC()
	}
	now = now.Truncate(time.Microsecond)

	if spec.Users > 0 {
		hash := spec.PasswordHash
		err := s.bulkLoad(ctx, spec.Users, func(w *sqlWriter, from, to int) []string {
			w.reset("INSERT INTO users (id, email, email_lower, name, role, password_hash, created_at) VALUES ")
			for i := from; i < to; i++ {
				email := boxoffice.SeedUserEmail(i)
				w.row()
				w.str(boxoffice.SeedUserID(i))
				w.str(email)
				w.str(emailKey(email))
				w.str("Seed User " + strconv.Itoa(i))
				w.str(string(boxoffice.RoleUser))
				w.bytes(hash)
				w.time(now)
			}
			w.raw(") ON DUPLICATE KEY UPDATE id = id")
			return []string{w.String()}
		}, func(done int) { report("users", done, spec.Users) })
		if err != nil {
			return translate("seed users", err)
		}
	}

	if spec.Events > 0 {
		var dropped []secondaryIndex
		if spec.Events >= seedDropIndexesAt {
			var err error
			if dropped, err = s.dropSecondaryIndexes(ctx); err != nil {
				return translate("seed drop indexes", err)
			}
		}
		gen := newEventGen(now)
		err := s.bulkLoad(ctx, spec.Events, func(w *sqlWriter, from, to int) []string {
			return gen.batch(w, from, to)
		}, func(done int) { report("events", done, spec.Events) })
		if err != nil {
			return translate("seed events", err)
		}
		if len(dropped) > 0 {
			if err := s.buildIndexes(ctx, dropped, func(done int) { report("indexes", done, len(dropped)) }); err != nil {
				return translate("seed build indexes", err)
			}
		}
	}

	if spec.HotEvent != nil {
		if err := s.CreateEvent(ctx, spec.HotEvent); err != nil {
			return err
		}
		if spec.HotTickets > 0 {
			if err := s.seedSales(ctx, spec, now, func(done int) { report("tickets", done, spec.HotTickets) }); err != nil {
				return translate("seed tickets", err)
			}
		}
	}
	return nil
}

// seedSales loads the hot event's sold tickets (boxoffice.SeedSale) with
// their orders and order lines, in multi-row INSERTs of seedBatch orders
// from seedWorkers connections, then sets the tier's Reserved count.
func (s *Store) seedSales(ctx context.Context, spec boxoffice.SeedSpec, now time.Time, done func(int)) error {
	e, total := spec.HotEvent, spec.HotTickets
	if spec.Users <= 0 || len(e.Tiers) == 0 || e.Tiers[0].Capacity < total {
		return errors.New("seeded tickets need users and a first tier whose capacity holds them")
	}
	orders := (total + boxoffice.SeedOrderTickets - 1) / boxoffice.SeedOrderTickets
	var kept atomic.Int64
	err := s.bulkLoad(ctx, orders, func(w *sqlWriter, from, to int) []string {
		var ords []*boxoffice.Order
		var tickets []*boxoffice.Ticket
		for j := from; j < to; j++ {
			o, ts := boxoffice.SeedSale(e, j, spec.Users, total, now)
			ords = append(ords, o)
			tickets = append(tickets, ts...)
			kept.Add(int64(o.Lines[0].Kept()))
		}
		var stmts []string
		w.reset("INSERT INTO orders (" + orderCols + ") VALUES ")
		for _, o := range ords {
			w.row()
			w.str(o.ID)
			w.str(o.EventID)
			w.str(o.UserID)
			w.str(o.Email)
			w.str(string(o.Status))
			w.int(o.Total.Amount)
			w.str(o.Total.Currency)
			w.int(o.Refunded.Amount)
			w.time(o.HoldExpiresAt)
			w.time(o.CreatedAt)
			w.time(o.UpdatedAt)
			w.time(*o.PaidAt)
			w.null()
		}
		w.raw(")")
		stmts = append(stmts, w.String())
		w.reset("INSERT INTO order_lines (" + lineCols + ") VALUES ")
		for _, o := range ords {
			l := &o.Lines[0]
			w.row()
			w.str(o.ID)
			w.int(0)
			w.str(l.TierID)
			w.int(int64(l.Quantity))
			w.int(l.UnitPrice.Amount)
			w.int(int64(l.Refunded))
			w.null()
		}
		w.raw(")")
		stmts = append(stmts, w.String())
		w.reset("INSERT INTO tickets (" + ticketCols + ") VALUES ")
		for _, t := range tickets {
			w.row()
			w.str(t.ID)
			w.str(t.OrderID)
			w.str(t.EventID)
			w.str(t.TierID)
			w.str(t.UserID)
			w.str(t.AttendeeName)
			w.str(string(t.Status))
			w.int(int64(t.Version))
			w.time(t.IssuedAt)
			w.time(t.UpdatedAt)
			if t.CheckedInAt != nil {
				w.time(*t.CheckedInAt)
				w.str(t.Gate)
			} else {
				w.null()
				w.null()
			}
		}
		w.raw(")")
		return append(stmts, w.String())
	}, func(n int) { done(min(n*boxoffice.SeedOrderTickets, total)) })
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, "UPDATE tiers SET reserved = ? WHERE id = ?", kept.Load(), e.Tiers[0].ID)
	return err
}

// HasData reports whether the database holds any event and any user.
func (s *Store) HasData(ctx context.Context) (events, users bool, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events), EXISTS (SELECT 1 FROM users)").Scan(&events, &users)
	return events, users, translate("has data", err)
}

// bulkLoad runs n rows' worth of statements, made by build for row ranges of
// seedBatch, on seedWorkers connections in parallel. Each statement commits
// on its own.
func (s *Store) bulkLoad(ctx context.Context, n int, build func(w *sqlWriter, from, to int) []string, done func(int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, finished atomic.Int64
	batches := (n + seedBatch - 1) / seedBatch
	errs := make(chan error, seedWorkers)
	var wg sync.WaitGroup
	for range min(seedWorkers, batches) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := s.db.Conn(ctx)
			if err != nil {
				errs <- err
				cancel()
				return
			}
			defer conn.Close()
			w := &sqlWriter{}
			for {
				b := int(next.Add(1) - 1)
				if b >= batches || ctx.Err() != nil {
					return
				}
				from, to := b*seedBatch, min((b+1)*seedBatch, n)
				for _, stmt := range build(w, from, to) {
					if _, err := conn.ExecContext(ctx, stmt); err != nil {
						errs <- err
						cancel()
						return
					}
				}
				done(int(finished.Add(int64(to - from))))
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// dropSecondaryIndexes drops those of seedIndexes that exist and returns
// them.
func (s *Store) dropSecondaryIndexes(ctx context.Context) ([]secondaryIndex, error) {
	var dropped []secondaryIndex
	for _, ix := range seedIndexes {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.statistics
			WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?`, ix.table, ix.name).Scan(&n); err != nil {
			return dropped, err
		}
		if n == 0 {
			continue
		}
		if _, err := s.db.ExecContext(ctx, "ALTER TABLE "+ix.table+" DROP INDEX "+ix.name); err != nil {
			return dropped, err
		}
		dropped = append(dropped, ix)
	}
	return dropped, nil
}

// buildIndexes adds indexes again, one ALTER TABLE per table so each table
// is read once.
func (s *Store) buildIndexes(ctx context.Context, ixs []secondaryIndex, done func(int)) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// As in the migrations: FULLTEXT indexes without stopwords.
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_ft_enable_stopword = OFF"); err != nil {
		return err
	}
	byTable := map[string][]string{}
	var tables []string
	for _, ix := range ixs {
		if _, ok := byTable[ix.table]; !ok {
			tables = append(tables, ix.table)
		}
		byTable[ix.table] = append(byTable[ix.table], "ADD "+ix.def)
	}
	finished := 0
	for _, t := range tables {
		// InnoDB builds only one FULLTEXT index per ALTER; the others go
		// together.
		var plain, fulltext []string
		for _, def := range byTable[t] {
			if strings.HasPrefix(def, "ADD FULLTEXT") {
				fulltext = append(fulltext, def)
			} else {
				plain = append(plain, def)
			}
		}
		for _, group := range append([][]string{plain}, wrap(fulltext)...) {
			if len(group) == 0 {
				continue
			}
			if _, err := conn.ExecContext(ctx, "ALTER TABLE "+t+" "+strings.Join(group, ", ")); err != nil {
				return err
			}
			finished += len(group)
			done(finished)
		}
	}
	return nil
}

func wrap(defs []string) [][]string {
	out := make([][]string, len(defs))
	for i, d := range defs {
		out[i] = []string{d}
	}
	return out
}

// sqlWriter builds a multi-row INSERT with literal values. It is used only
// for values the seed generates itself or that come from the SeedSpec's
// hash (written in hex), so quoting needs no more than doubling quotes.
type sqlWriter struct {
	b     []byte
	first bool // no value written in the current row yet
	rows  int
}

func (w *sqlWriter) reset(prefix string) {
	w.b = append(w.b[:0], prefix...)
	w.rows = 0
}

// row starts a new row of values.
func (w *sqlWriter) row() {
	if w.rows > 0 {
		w.b = append(w.b, "), ("...)
	} else {
		w.b = append(w.b, '(')
	}
	w.rows++
	w.first = true
}

func (w *sqlWriter) sep() {
	if !w.first {
		w.b = append(w.b, ", "...)
	}
	w.first = false
}

func (w *sqlWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *sqlWriter) str(s string) {
	w.sep()
	w.b = append(w.b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			w.b = append(w.b, '\'', '\'')
		case '\\':
			w.b = append(w.b, '\\', '\\')
		default:
			w.b = append(w.b, c)
		}
	}
	w.b = append(w.b, '\'')
}

func (w *sqlWriter) int(n int64) {
	w.sep()
	w.b = strconv.AppendInt(w.b, n, 10)
}

func (w *sqlWriter) null() {
	w.sep()
	w.b = append(w.b, "NULL"...)
}

func (w *sqlWriter) time(t time.Time) {
	w.sep()
	w.b = append(w.b, '\'')
	w.b = t.UTC().AppendFormat(w.b, "2006-01-02 15:04:05.000000")
	w.b = append(w.b, '\'')
}

func (w *sqlWriter) bytes(p []byte) {
	w.sep()
	const hexdig = "0123456789ABCDEF"
	w.b = append(w.b, "X'"...)
	for _, c := range p {
		w.b = append(w.b, hexdig[c>>4], hexdig[c&15])
	}
	w.b = append(w.b, '\'')
}

func (w *sqlWriter) String() string { return string(w.b) }

// eventGen makes filler events: starts_at spread over five years around
// now (two before, three after) on quarter hours, so many events share a
// start time; sales open 14 to 90 days before the start and end at the
// start; titles and venues combine common words with a made-up name that
// occurs a few hundred times per ten million events.
type eventGen struct {
	now   time.Time
	start time.Time
}

func newEventGen(now time.Time) *eventGen {
	return &eventGen{now: now, start: now.Truncate(time.Hour).AddDate(-2, 0, 0)}
}

var (
	seedAdjectives = []string{"Electric", "Golden", "Midnight", "Silver", "Crimson", "Velvet", "Wild", "Lunar",
		"Solar", "Neon", "Quiet", "Grand", "Royal", "Urban", "Cosmic", "Frozen", "Burning", "Hidden", "Endless", "Bright",
		"Northern", "Southern", "Eastern", "Western", "Little", "Big", "Ancient", "Modern", "Secret", "Open"}
	seedNouns = []string{"Harbor", "Garden", "River", "Mountain", "Forest", "Ocean", "Desert", "Valley", "Island",
		"Bridge", "Tower", "Castle", "Station", "Meadow", "Canyon", "Lagoon", "Prairie", "Glacier", "Summit", "Orchard"}
	seedKinds = []string{"Festival", "Concert", "Jazz Night", "Symphony", "Comedy Show", "Opera", "Ballet",
		"Rock Show", "Folk Session", "Film Screening", "Theatre", "Recital", "Showcase", "Tour", "Gala"}
	seedPlaces = []string{"Arena", "Hall", "Theatre", "Stadium", "Club", "Pavilion", "Amphitheatre", "Ballroom", "Center", "Lounge"}
	seedCities = []string{"Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown", "Ashford", "Brookhaven",
		"Cedar Falls", "Dunmore", "Elmwood", "Greenville", "Hillcrest", "Kingsport", "Maplewood", "Northgate", "Oakridge"}
	seedSyllables = []string{"ka", "zo", "mir", "tel", "vra", "lun", "qui", "dax", "per", "sol", "nyx", "bel",
		"tor", "gal", "fen", "rho", "xan", "ul", "ith", "mor", "vek", "sha", "dru", "pim", "cor", "lix", "ba", "ro", "ne", "ven"}
)

// seedName is a made-up name: three of the 30 syllables.
func seedName(r *rand.Rand) string {
	a, b, c := seedSyllables[r.IntN(30)], seedSyllables[r.IntN(30)], seedSyllables[r.IntN(30)]
	name := []byte(a + b + c)
	name[0] -= 'a' - 'A'
	return string(name)
}

// batch writes the INSERTs of filler events from..to and their tiers.
func (g *eventGen) batch(w *sqlWriter, from, to int) []string {
	r := rand.New(rand.NewPCG(uint64(from), 0x5eed))
	const slots = 5 * 365 * 24 * 4 // quarter hours in five years
	type tier struct {
		id, eventID     string
		price, capacity int64
	}
	tiers := make([]tier, 0, to-from)
	w.reset("INSERT INTO events (" + eventCols + ") VALUES ")
	for i := from; i < to; i++ {
		id := boxoffice.NewID()
		starts := g.start.Add(time.Duration(r.IntN(slots)) * 15 * time.Minute)
		title := seedAdjectives[r.IntN(len(seedAdjectives))] + " " + seedNouns[r.IntN(len(seedNouns))] + " " +
			seedKinds[r.IntN(len(seedKinds))] + " with " + seedName(r)
		venue := seedNouns[r.IntN(len(seedNouns))] + " " + seedPlaces[r.IntN(len(seedPlaces))] + ", " + seedCities[r.IntN(len(seedCities))]
		w.row()
		w.str(id)
		w.str(title)
		w.str("Seeded event " + strconv.Itoa(i) + ".")
		w.str(venue)
		w.time(starts)
		if r.IntN(10) < 7 {
			w.time(starts.Add(3 * time.Hour))
		} else {
			w.null()
		}
		w.time(starts.Add(-time.Duration(14+r.IntN(77)) * 24 * time.Hour))
		w.time(starts)
		w.int(int64(4 + r.IntN(7)))
		w.int(900)
		w.int(0)
		w.int(0)
		w.time(g.now)
		w.time(g.now)
		w.int(0) // require_verified_email
		w.int(0) // refunds_none
		w.null() // refunds_until
		w.null() // name_changes_until
		w.str(boxoffice.DefaultOrganizerID)
		w.str(string(boxoffice.EventPublished))
		tiers = append(tiers, tier{boxoffice.NewID(), id, int64(15+r.IntN(136)) * 100, int64(100 + r.IntN(4901))})
	}
	w.raw(")")
	events := w.String()
	w.reset("INSERT INTO tiers (" + tierCols + ") VALUES ")
	for _, t := range tiers {
		w.row()
		w.str(t.id)
		w.str(t.eventID)
		w.str("General Admission")
		w.int(t.price)
		w.str("USD")
		w.int(t.capacity)
		w.int(0)
		w.int(0) // hidden
		w.int(0) // closed
	}
	w.raw(")")
	return []string{events, w.String()}
}
