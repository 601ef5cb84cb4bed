package mysql

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	stmts   []string
}

// loadMigrations reads the embedded migrations in version order. A file is
// named NNNN_name.sql and holds statements that each end with ";" at the end
// of a line.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, path := range names {
		base := strings.TrimPrefix(path, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("mysql: migration %s: name must start with a number and _", base)
		}
		text, err := migrationFS.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, stmts: splitStatements(string(text))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("mysql: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// splitStatements splits SQL text at lines ending with ";", dropping
// comment lines.
func splitStatements(text string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		stmts = append(stmts, strings.TrimSpace(cur.String()))
	}
	return stmts
}

// Migrate applies the embedded migrations that schema_migrations does not
// list yet. A named lock (GET_LOCK, per database) around the check and the
// apply makes concurrent calls from several processes safe: the others
// wait, then find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return translate("migrate", err)
	}
	defer conn.Close()

	lock := "boxoffice_migrate:" + s.dbName
	if len(lock) > 64 {
		lock = lock[:64]
	}
	// Up to two minutes for another process's migrations, asked for in
	// short waits so that no answer takes longer than the read timeout.
	for wait := 0; ; wait += 5 {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 5)", lock).Scan(&got); err != nil {
			return translate("migrate lock", err)
		}
		if got.Valid && got.Int64 == 1 {
			break
		}
		if !got.Valid || wait >= 120 { // NULL: the server could not take it
			return fmt.Errorf("mysql migrate: timed out waiting for the migration lock")
		}
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx ended.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(rctx, "DO RELEASE_LOCK(?)", lock)
	}()

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INT NOT NULL PRIMARY KEY,
		name       VARCHAR(255) NOT NULL,
		applied_at DATETIME(6) NOT NULL
	) ENGINE=InnoDB`); err != nil {
		return translate("migrate", err)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return translate("migrate", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return translate("migrate", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return translate("migrate", err)
	}

	// Stopwords off: titles like "The Who" must be findable word by word.
	// The setting applies to FULLTEXT indexes created in this session.
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_ft_enable_stopword = OFF"); err != nil {
		return translate("migrate", err)
	}
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		// DDL commits implicitly, so a migration is not atomic; each
		// statement of a migration must therefore be one the lock makes
		// safe, and the version is recorded only after all of them.
		for _, stmt := range m.stmts {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return translate("migrate "+m.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, time.Now().UTC()); err != nil {
			return translate("migrate "+m.name, err)
		}
	}
	return nil
}
