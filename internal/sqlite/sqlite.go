// Package sqlite implements boxoffice.Store (and boxoffice.Seeder) on an
// embedded SQLite database, the zero-setup default system of record.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a power loss. All writes go through one connection
// whose transactions begin IMMEDIATE: writers in this process queue for that
// connection, writers in other processes wait on SQLite's lock (busy_timeout),
// and a transaction never has to be retried because another writer slipped in
// between its read and its write. Reads use a separate pool of read-only
// connections and never block or wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"boxoffice"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeout is how long a writer waits for another process's write lock
// before the store gives up with a *boxoffice.RetryableError.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a boxoffice.Store on one SQLite database file. It is safe for
// concurrent use, and several processes may open the same file.
type Store struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections
}

var (
	_ boxoffice.Store  = (*Store)(nil)
	_ boxoffice.Seeder = (*Store)(nil)
)

// Open opens (creating it if needed) the database file at path, the part of
// BOXOFFICE_DATABASE_URL after "sqlite:". It does not migrate; call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	ms := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	common := url.Values{}
	common.Set("_busy_timeout", ms)
	common.Set("_foreign_keys", "1")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = v
	}
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer connection puts the file into WAL mode before any reader
	// opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, wrap("open", err)
	}

	rq := url.Values{}
	for k, v := range common {
		rq[k] = v
	}
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, wrap("open", err)
	}
	return &Store{w: w, r: r}, nil
}

// Close releases the store's connections.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// DBStats returns the statistics of the connection pools: "writer" (one
// connection) and "reader".
func (s *Store) DBStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": s.w.Stats(), "reader": s.r.Stats()}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return wrap("ping", s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// Migrate applies the embedded migrations that have not been applied yet, in
// order, in one IMMEDIATE transaction: a second process migrating at the same
// time waits for the first and then finds nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		n, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("sqlite: migrate: bad migration file name %q", name)
		}
		todo = append(todo, migration{v, f})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].version < todo[j].version })

	return s.inTx(ctx, "migrate", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, m := range todo {
			if applied[m.version] {
				continue
			}
			body, err := migrations.ReadFile(m.name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
				m.version, time.Now().UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits when fn returns nil. Errors are translated by wrap.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// readTx runs fn in a read transaction on a read-only connection: every
// statement of fn reads the same snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// wrap translates a driver error into the store's contract: no rows become
// boxoffice.ErrNotFound, a busy or locked database a
// *boxoffice.RetryableError, any other SQLite error an error that carries its
// message but not its type. Everything else (domain errors, context errors,
// the error of an UpdateEvent apply or a Confirm charge) passes through.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return boxoffice.ErrNotFound
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &boxoffice.RetryableError{Err: fmt.Errorf("sqlite %s: %v", op, err)}
	}
	return fmt.Errorf("sqlite %s: %v", op, err)
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// us converts t to the stored form: unix microseconds.
func us(t time.Time) int64 { return t.UnixMicro() }

// fromUS converts a stored time back, in UTC.
func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullUS converts an optional time to the stored form.
func nullUS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: us(*t), Valid: true}
}

// fromNullUS converts an optional stored time back.
func fromNullUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// rowsOf returns "(?, …), (?, …)" for n rows of cols columns.
func rowsOf(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.Repeat(row+", ", n-1) + row
}

// limitOf clamps a page size.
func limitOf(n int) int {
	if n <= 0 {
		return boxoffice.DefaultLimit
	}
	return n
}
