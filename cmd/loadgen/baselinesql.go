package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"boxoffice"
)

func init() {
	register("baseline-sql", scenarioInfo{New: newBaselineSQL})
}

// baselineCapacity is the scratch tier's capacity: large enough never to
// sell out.
const baselineCapacity = 1 << 60

// baselineSQL is the naive design to compare boxoffice against: every hold
// is its own transaction, straight on MariaDB, that bumps one hot counter
// row and inserts one hold row. It uses its own scratch tables
// (baseline_tiers, baseline_holds) and a fresh tier row per run, and never
// touches boxoffice's tables.
type baselineSQL struct {
	cfg    *config
	db     *sql.DB
	tierID string
}

func newBaselineSQL(cfg *config) Scenario { return &baselineSQL{cfg: cfg} }

// baselineDSN turns mysql://user:pass@host:port/dbname into a driver DSN.
func baselineDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "mysql" {
		return "", fmt.Errorf("-mysql: want mysql://user:pass@host:port/dbname")
	}
	c := mysql.NewConfig()
	c.User = u.User.Username()
	c.Passwd, _ = u.User.Password()
	c.Net = "tcp"
	c.Addr = u.Host
	if u.Port() == "" {
		c.Addr = u.Hostname() + ":3306"
	}
	c.DBName = strings.TrimPrefix(u.Path, "/")
	if c.DBName == "" {
		return "", fmt.Errorf("-mysql: the URL names no database")
	}
	c.ParseTime = true
	// Client-side interpolation: one round trip per statement, as a
	// typical ORM-less service would do.
	c.InterpolateParams = true
	return c.FormatDSN(), nil
}

// Prepare creates the scratch tables and this run's tier row.
func (b *baselineSQL) Prepare(ctx context.Context, env *Env) error {
	dsn, err := baselineDSN(b.cfg.MySQL)
	if err != nil {
		return err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	b.db = db
	db.SetMaxOpenConns(b.cfg.Clients)
	db.SetMaxIdleConns(b.cfg.Clients)
	db.SetConnMaxIdleTime(time.Minute)
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS baseline_tiers (
			id CHAR(26) NOT NULL PRIMARY KEY,
			capacity BIGINT NOT NULL,
			reserved BIGINT NOT NULL DEFAULT 0
		) ENGINE=InnoDB`,
		`CREATE TABLE IF NOT EXISTS baseline_holds (
			id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
			tier_id CHAR(26) NOT NULL,
			user_id CHAR(26) NOT NULL,
			created_at DATETIME(6) NOT NULL,
			KEY baseline_holds_tier (tier_id)
		) ENGINE=InnoDB`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("creating the scratch tables: %w", err)
		}
	}
	b.tierID = boxoffice.NewID()
	if _, err := db.ExecContext(ctx, `INSERT INTO baseline_tiers (id, capacity, reserved) VALUES (?, ?, 0)`, b.tierID, baselineCapacity); err != nil {
		return fmt.Errorf("creating the scratch tier: %w", err)
	}
	// Open every connection now so the first second is not spent dialing.
	conns := make([]*sql.Conn, 0, b.cfg.Clients)
	for range b.cfg.Clients {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	if !b.cfg.Quiet {
		env.Logf("baseline-sql: scratch tier %s in baseline_tiers", b.tierID)
	}
	return nil
}

// Iterate runs one hold transaction.
func (b *baselineSQL) Iterate(ctx context.Context, w *Worker) {
	rec := w.Env.Rec
	rec.inflight.Add(1)
	defer rec.inflight.Add(-1)
	start := time.Now()
	code, err := b.holdOnce(ctx, boxoffice.SeedUserID(w.Rng.IntN(b.cfg.Users)))
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			rec.Abort()
			return
		}
		rec.Record("hold_tx", 0, sqlErrorCode(err), d, []byte(err.Error()))
		return
	}
	rec.Record("hold_tx", 0, code, d, nil)
}

// holdOnce is the naive hold: BEGIN; conditional UPDATE of the hot row;
// INSERT; COMMIT. It returns "committed" or "sold_out".
func (b *baselineSQL) holdOnce(ctx context.Context, userID string) (string, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE baseline_tiers SET reserved = reserved + 1 WHERE id = ? AND reserved + 1 <= capacity`, b.tierID)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n == 0 {
		return "sold_out", nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO baseline_holds (tier_id, user_id, created_at) VALUES (?, ?, NOW(6))`, b.tierID, userID); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	return "committed", nil
}

// sqlErrorCode names a database error: mysql_<number> for server errors.
func sqlErrorCode(err error) string {
	if me, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return "mysql_" + strconv.Itoa(int(me.Number))
	}
	return "sql:" + errorKind(err)
}

// Classify: a commit is ok, sold_out expected (it cannot happen with the
// scratch capacity), any error unexpected.
func (b *baselineSQL) Classify(_ string, _ int, code string) Class {
	switch code {
	case "committed":
		return ClassOK
	case "sold_out":
		return ClassExpected
	}
	return ClassUnexpected
}

// Check verifies that the counter row matches the hold rows and that every
// acknowledged commit is there.
func (b *baselineSQL) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	var capacity, reserved, rows int64
	if err := b.db.QueryRowContext(ctx, `SELECT capacity, reserved FROM baseline_tiers WHERE id = ?`, b.tierID).Scan(&capacity, &reserved); err != nil {
		return nil, err
	}
	if err := b.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM baseline_holds WHERE tier_id = ?`, b.tierID).Scan(&rows); err != nil {
		return nil, err
	}
	committed := int64(env.Rec.Count(ClassOK))
	rep := &CheckReport{OK: reserved <= capacity && reserved == rows && committed <= rows}
	rep.Lines = append(rep.Lines, fmt.Sprintf("tier %s: reserved %d, hold rows %d, acknowledged commits %d, capacity %d",
		b.tierID, reserved, rows, committed, capacity))
	return rep, nil
}

// Close closes the database handle.
func (b *baselineSQL) Close() error {
	if b.db == nil {
		return nil
	}
	return b.db.Close()
}
