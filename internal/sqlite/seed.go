package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"boxoffice"
)

const (
	// seedRows is how many rows one multi-row INSERT of the seed carries.
	seedRows = 250
	// seedTxRows is how many rows one seed transaction carries.
	seedTxRows = 50_000
)

// Seed bulk-loads spec: users and filler events with prepared multi-row
// inserts in large transactions, then the hot event. When the events table
// starts out empty and many events are loaded, its secondary indexes are
// dropped first and built after the load (stage "indexes"), which is much
// faster than maintaining them row by row. Seeded users that exist already
// (same ID or email) are kept as they are; every call adds new filler events.
func (s *Store) Seed(ctx context.Context, spec boxoffice.SeedSpec, progress func(stage string, done, total int)) error {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond)

	if spec.Users > 0 {
		hash := spec.PasswordHash
		err := s.bulkInsert(ctx, "users", spec.Users, progress,
			"INSERT INTO users (id, email, email_lower, name, role, password_hash, created_at) VALUES ", 7,
			" ON CONFLICT DO NOTHING",
			func(args []any, i int) []any {
				email := boxoffice.SeedUserEmail(i)
				return append(args, boxoffice.SeedUserID(i), email, strings.ToLower(email),
					fmt.Sprintf("Seed User %d", i), string(boxoffice.RoleUser), hash, us(now))
			})
		if err != nil {
			return err
		}
	}

	if spec.Events > 0 {
		if err := s.seedEvents(ctx, spec.Events, now, progress); err != nil {
			return err
		}
	}

	if spec.HotTickets > 0 {
		return errors.New("seed: the SQLite store does not seed sold tickets (HotTickets); use MySQL/MariaDB")
	}
	if spec.HotEvent != nil {
		if err := s.CreateEvent(ctx, spec.HotEvent); err != nil {
			return err
		}
	}
	return nil
}

// HasData reports whether the database holds any event and any user.
func (s *Store) HasData(ctx context.Context) (events, users bool, err error) {
	err = s.r.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events), EXISTS (SELECT 1 FROM users)").Scan(&events, &users)
	return events, users, wrap("has data", err)
}

// seedIndexes are the secondary indexes that the events load builds after
// the fact.
var seedIndexes = []struct{ name, create string }{
	{"events_starts_at", "CREATE INDEX IF NOT EXISTS events_starts_at ON events (status, starts_at, id)"},
	{"tiers_event_id", "CREATE INDEX IF NOT EXISTS tiers_event_id ON tiers (event_id)"},
}

func (s *Store) seedEvents(ctx context.Context, n int, now time.Time, progress func(string, int, int)) (err error) {
	var existing int
	if err := s.w.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events)").Scan(&existing); err != nil {
		return wrap("seed", err)
	}
	if existing == 0 && n >= 10_000 {
		for _, ix := range seedIndexes {
			if _, err := s.w.ExecContext(ctx, "DROP INDEX IF EXISTS "+ix.name); err != nil {
				return wrap("seed", err)
			}
		}
		// Whatever happens, the indexes come back.
		defer func() {
			progress("indexes", 0, len(seedIndexes))
			for i, ix := range seedIndexes {
				if _, ierr := s.w.ExecContext(context.WithoutCancel(ctx), ix.create); ierr != nil && err == nil {
					err = wrap("seed indexes", ierr)
				}
				progress("indexes", i+1, len(seedIndexes))
			}
		}()
	}

	gen := newEventGen(now)
	// Events and their one tier each are written as pairs of chunks in the
	// same transactions.
	return s.bulkInsertPairs(ctx, "events", n, progress, gen)
}

// eventGen makes plausible filler events: titles and venues from small word
// lists (so searches have work), start times spread from a year before now
// to three years after it on a 15-minute grid (so ties occur).
type eventGen struct {
	rng *rand.Rand
	now time.Time
}

func newEventGen(now time.Time) *eventGen {
	return &eventGen{rng: rand.New(rand.NewPCG(uint64(now.UnixNano()), 42)), now: now}
}

var (
	seedAdjectives = []string{"Midnight", "Electric", "Golden", "Silent", "Wild", "Northern", "Crimson", "Velvet", "Neon", "Summer", "Winter", "Cosmic"}
	seedNouns      = []string{"Symphony", "Festival", "Sessions", "Tour", "Revue", "Jam", "Gala", "Showcase", "Parade", "Nights", "Live", "Unplugged"}
	seedArtists    = []string{"Orchestra", "Quartet", "Collective", "Band", "Choir", "Ensemble", "Trio", "DJs", "Players", "Company"}
	seedCities     = []string{"London", "Berlin", "Paris", "Madrid", "Rome", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Warsaw", "Zurich"}
	seedPlaces     = []string{"Arena", "Stadium", "Hall", "Theatre", "Club", "Park", "Forum", "Pavilion", "Opera House", "Dome"}
)

func (g *eventGen) event(i int) *boxoffice.Event {
	r := g.rng
	const quarter = 15 * time.Minute
	span := int64(4 * 365 * 24 * time.Hour / quarter)
	starts := g.now.Truncate(quarter).Add(-365*24*time.Hour + time.Duration(r.Int64N(span))*quarter)
	ends := starts.Add(3 * time.Hour)
	id := boxoffice.NewID()
	return &boxoffice.Event{
		ID: id,
		Title: fmt.Sprintf("%s %s %s %d", seedAdjectives[r.IntN(len(seedAdjectives))], seedNouns[r.IntN(len(seedNouns))],
			seedArtists[r.IntN(len(seedArtists))], i),
		Description:       "A seeded event for load tests.",
		Venue:             seedCities[r.IntN(len(seedCities))] + " " + seedPlaces[r.IntN(len(seedPlaces))],
		StartsAt:          starts,
		EndsAt:            &ends,
		SalesStartAt:      starts.Add(-90 * 24 * time.Hour),
		SalesEndAt:        starts,
		MaxTicketsPerUser: 4 + r.IntN(7),
		HoldSeconds:       boxoffice.DefaultHoldSeconds,
		Tiers: []boxoffice.Tier{{
			ID:       boxoffice.NewID(),
			EventID:  id,
			Name:     "General Admission",
			Price:    boxoffice.Money{Amount: int64(20+r.IntN(131)) * 100, Currency: "USD"},
			Capacity: 100 + r.IntN(4901),
		}},
		CreatedAt: g.now,
		UpdatedAt: g.now,
	}
}

// bulkInsert inserts n rows made by row with prepared multi-row statements
// (prefix, the rows, suffix), seedTxRows rows per transaction, reporting
// progress after each one.
func (s *Store) bulkInsert(ctx context.Context, stage string, n int, progress func(string, int, int),
	prefix string, cols int, suffix string, row func(args []any, i int) []any) error {
	full := prefix + rowsOf(seedRows, cols) + suffix
	for start := 0; start < n; start += seedTxRows {
		end := min(start+seedTxRows, n)
		err := s.inTx(ctx, "seed "+stage, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, full)
			if err != nil {
				return err
			}
			defer stmt.Close()
			args := make([]any, 0, seedRows*cols)
			for i := start; i < end; i += seedRows {
				k := min(seedRows, end-i)
				args = args[:0]
				for j := range k {
					args = row(args, i+j)
				}
				if k == seedRows {
					_, err = stmt.ExecContext(ctx, args...)
				} else {
					_, err = tx.ExecContext(ctx, prefix+rowsOf(k, cols)+suffix, args...)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		progress(stage, end, n)
	}
	return nil
}

// bulkInsertPairs inserts n generated events with their tiers like
// bulkInsert.
func (s *Store) bulkInsertPairs(ctx context.Context, stage string, n int, progress func(string, int, int), gen *eventGen) error {
	fullEvents := insertEventsSQL(seedRows)
	fullTiers := insertTiersSQL(seedRows)
	for start := 0; start < n; start += seedTxRows {
		end := min(start+seedTxRows, n)
		err := s.inTx(ctx, "seed "+stage, func(tx *sql.Tx) error {
			es, err := tx.PrepareContext(ctx, fullEvents)
			if err != nil {
				return err
			}
			defer es.Close()
			ts, err := tx.PrepareContext(ctx, fullTiers)
			if err != nil {
				return err
			}
			defer ts.Close()
			eargs := make([]any, 0, seedRows*eventInsertCols)
			targs := make([]any, 0, seedRows*tierInsertCols)
			for i := start; i < end; i += seedRows {
				k := min(seedRows, end-i)
				eargs, targs = eargs[:0], targs[:0]
				for j := range k {
					e := gen.event(i + j)
					eargs = appendEventArgs(eargs, e)
					targs = appendTierArgs(targs, e.ID, &e.Tiers[0])
				}
				if k == seedRows {
					if _, err := es.ExecContext(ctx, eargs...); err != nil {
						return err
					}
					if _, err := ts.ExecContext(ctx, targs...); err != nil {
						return err
					}
					continue
				}
				if _, err := tx.ExecContext(ctx, insertEventsSQL(k), eargs...); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, insertTiersSQL(k), targs...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		progress(stage, end, n)
	}
	return nil
}
