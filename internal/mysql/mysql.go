// Package mysql implements boxoffice.Store and boxoffice.Seeder on
// MySQL/MariaDB (InnoDB) with database/sql and go-sql-driver/mysql. It is
// the production system of record: hot rows are keyed by event and tier, hold
// requests are decided in batches with a constant number of statements, and
// lists use keyset pagination on covering indexes.
package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"boxoffice"

	"github.com/go-sql-driver/mysql"
)

// Pool defaults. They suit one server instance on a small database host; the
// URL parameters max_open_conns, max_idle_conns and conn_max_lifetime
// override them.
const (
	DefaultMaxOpenConns    = 32
	DefaultMaxIdleConns    = 32
	DefaultConnMaxLifetime = 30 * time.Minute
)

// Connection timeouts. They catch what no context deadline covers (a call
// made without one, a network that swallows packets without a reset): a
// connection that cannot be dialed within DefaultDialTimeout, or whose
// answer or write stalls longer than DefaultReadTimeout or
// DefaultWriteTimeout, fails and leaves the pool. The read timeout counts
// from the moment the driver waits for an answer, so it is set above the
// longest wait a healthy server may make before answering (InnoDB's lock
// wait, 50 s by default, which ends with an error that inTx retries). The
// URL parameters timeout, readTimeout and writeTimeout override them; 0
// turns one off (for a long one-off migration, say).
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 60 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

// maxTxAttempts bounds how often InTx runs a transaction that failed with a
// deadlock, a lock-wait timeout or a duplicate-key race. Eight attempts
// pause about 0.3 s in all: a sweep that loses four deadlocks in a row to
// a flash crowd of orders and holds on a busy host still commits.
const maxTxAttempts = 8

// Store is a boxoffice.Store and boxoffice.Seeder on MySQL/MariaDB. It is
// safe for concurrent use, and several processes may share its database.
type Store struct {
	db      *sql.DB
	dbName  string
	mariadb bool // the server is MariaDB (not MySQL): LIMIT … ROWS EXAMINED exists
	bulk    bulkStmts
}

var (
	_ boxoffice.Store  = (*Store)(nil)
	_ boxoffice.Seeder = (*Store)(nil)
)

// Open connects to the database named by rawURL, which has the form
// mysql://user:pass@host:port/dbname?param=value. Parameters are passed to
// the driver (see go-sql-driver/mysql's DSN parameters), except for the pool
// settings max_open_conns, max_idle_conns (integers) and conn_max_lifetime (a
// time.Duration). The connection always uses parseTime, UTC, utf8mb4 and
// client-side interpolation of parameters; the driver's timeout,
// readTimeout and writeTimeout default to DefaultDialTimeout,
// DefaultReadTimeout and DefaultWriteTimeout. Open asks the database for its
// version and returns a *boxoffice.RetryableError when it cannot be reached; it does not
// migrate.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, pool, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(pool.maxOpen)
	db.SetMaxIdleConns(pool.maxIdle)
	db.SetConnMaxLifetime(pool.maxLifetime)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dbName: cfg.DBName}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		db.Close()
		return nil, translate("open", err)
	}
	s.mariadb = strings.Contains(strings.ToLower(version), "mariadb")
	return s, nil
}

type poolConfig struct {
	maxOpen, maxIdle int
	maxLifetime      time.Duration
}

// parseURL turns a mysql:// URL into a driver configuration.
func parseURL(rawURL string) (*mysql.Config, poolConfig, error) {
	pool := poolConfig{DefaultMaxOpenConns, DefaultMaxIdleConns, DefaultConnMaxLifetime}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "mysql" {
		return nil, pool, fmt.Errorf("mysql: database URL must look like mysql://user:pass@host:port/dbname")
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	cfg.Timeout = DefaultDialTimeout
	cfg.ReadTimeout = DefaultReadTimeout
	cfg.WriteTimeout = DefaultWriteTimeout
	cfg.Collation = "utf8mb4_unicode_ci"
	// The columns keep microseconds. A literal with nanoseconds is not a
	// valid DATETIME(6) to the range optimizer: it silently falls back to a
	// full index scan.
	if err := cfg.Apply(mysql.TimeTruncate(time.Microsecond)); err != nil {
		return nil, pool, err
	}
	// Statements are small; the bulk seed sizes its batches below the
	// server's limit, which the driver then learns from the server.
	cfg.MaxAllowedPacket = 0

	// Everything else goes through the driver's own DSN parser, so every
	// documented parameter works and unknown ones become session variables.
	var pass []string
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		var n int
		switch k {
		case "max_open_conns":
			if n, err = strconv.Atoi(v); err == nil {
				pool.maxOpen = n
			}
		case "max_idle_conns":
			if n, err = strconv.Atoi(v); err == nil {
				pool.maxIdle = n
			}
		case "conn_max_lifetime":
			pool.maxLifetime, err = time.ParseDuration(v)
		default:
			pass = append(pass, url.QueryEscape(k)+"="+url.QueryEscape(v))
			continue
		}
		if err != nil {
			return nil, pool, fmt.Errorf("mysql: bad %s in database URL: %v", k, err)
		}
	}
	if len(pass) > 0 {
		// The driver has no merge, so cfg's DSN is re-parsed with the
		// URL's parameters appended; later parameters win.
		base := cfg.FormatDSN()
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		merged, err := mysql.ParseDSN(base + sep + strings.Join(pass, "&"))
		if err != nil {
			return nil, pool, fmt.Errorf("mysql: bad database URL parameters: %v", err)
		}
		cfg = merged
	}
	return cfg, pool, nil
}

// DB returns the underlying pool, for tools and tests.
func (s *Store) DB() *sql.DB { return s.db }

// DBStats returns the statistics of the connection pool, named "primary".
func (s *Store) DBStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"primary": s.db.Stats()}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate("ping", s.db.PingContext(ctx))
}

// Close releases the store's connections.
func (s *Store) Close() error {
	s.bulk.close()
	return s.db.Close()
}

// inTx runs fn in a transaction and commits it. It runs fn again (at most
// maxTxAttempts times in all) when the transaction fails with a deadlock, a
// lock-wait timeout or a duplicate-key race, so fn must be safe to repeat.
// fn's own domain errors roll back and return as they are.
func (s *Store) inTx(ctx context.Context, op string, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.tryTx(ctx, opts, fn)
		if err == nil || attempt == maxTxAttempts || !retryableTx(err) || ctx.Err() != nil {
			break
		}
		// A short, growing pause lets the winner of the conflict commit.
		select {
		case <-time.After(time.Duration(attempt*attempt) * 2 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	return translate(op, err)
}

func (s *Store) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return ctxOr(ctx, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		var de *boxoffice.Error
		if errors.As(err, &de) {
			return err
		}
		return ctxOr(ctx, err)
	}
	return ctxOr(ctx, tx.Commit())
}

// ctxOr returns ctx's error instead of err when ctx has ended: database/sql
// rolls a transaction back when its context ends, and what the driver says
// then ("transaction has already been committed or rolled back", a broken
// connection) is only the consequence.
func ctxOr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// MySQL/MariaDB error numbers the store reacts to.
const (
	errDupEntry        = 1062
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
)

// retryableTx reports whether a transaction that failed with err may succeed
// when run again.
func retryableTx(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errDeadlock, errLockWaitTimeout, errDupEntry:
			return true
		}
	}
	return false
}

// isDup reports whether err is a duplicate-key error.
func isDup(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == errDupEntry
}

// translate turns a driver error into what the Store contract allows: domain
// errors and context errors pass through, sql.ErrNoRows becomes
// ErrNotFound, connection failures and transient server conditions become a
// *boxoffice.RetryableError, and anything else an opaque error whose text
// names the operation (for logs) but which does not wrap the driver error.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce callerError
	var de *boxoffice.Error
	var ve *boxoffice.ValidationError
	var re *boxoffice.RetryableError
	switch {
	case errors.As(err, &ce):
		return ce.err
	case errors.As(err, &de), errors.As(err, &ve), errors.As(err, &re):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return boxoffice.ErrNotFound
	case isConnErr(err):
		return &boxoffice.RetryableError{Err: fmt.Errorf("mysql %s: %v", op, err)}
	}
	return fmt.Errorf("mysql %s: %v", op, err)
}

// callerError carries an error returned by a caller's function (UpdateEvent's
// apply, Confirm's charge) through inTx untouched.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// isConnErr reports whether err means the database could not be reached or
// is temporarily refusing work.
func isConnErr(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,               // server shutdown in progress
			errLockWaitTimeout, // still contended after the retries
			errDeadlock,
			1290, 1836, // read-only (failover in progress)
			1927, // connection killed
			2002, 2003, 2006, 2013:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &ne)
}
