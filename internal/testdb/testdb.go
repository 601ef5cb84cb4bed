// Package testdb opens fresh, migrated stores for tests: an SQLite file in a
// temporary directory, or a new database on the MariaDB named by
// BOXOFFICE_TEST_MYSQL_URL (skipped, with a message, when it is unset; CI
// sets it and fails if such tests skip).
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"boxoffice"
	"boxoffice/internal/mysql"
	"boxoffice/internal/sqlite"

	driver "github.com/go-sql-driver/mysql"
)

// SQLite returns a fresh, migrated SQLite store closed at the end of the test.
func SQLite(t testing.TB) boxoffice.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "boxoffice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// MySQLURL creates an empty database on the test MariaDB, dropped at the end
// of the test, and returns its mysql:// URL. It skips the test when
// BOXOFFICE_TEST_MYSQL_URL is unset.
func MySQLURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BOXOFFICE_TEST_MYSQL_URL")
	if base == "" {
		t.Skip("MySQL-backed test skipped: set BOXOFFICE_TEST_MYSQL_URL (e.g. mysql://root@127.0.0.1:3306/)")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "boxoffice_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("mysql", adminDSN(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	})
	u := strings.TrimSuffix(strings.SplitN(base, "?", 2)[0], "/")
	if i := strings.LastIndex(u, "/"); i > len("mysql://") {
		u = u[:i]
	}
	return u + "/" + name
}

// MySQL returns a fresh, migrated MySQL store on its own database (see
// MySQLURL), closed at the end of the test.
func MySQL(t testing.TB) boxoffice.Store {
	t.Helper()
	return OpenMySQL(t, MySQLURL(t))
}

// OpenMySQL opens and migrates another Store (another "instance", with its
// own connection pool) on the database at url, closed at the end of the test.
func OpenMySQL(t testing.TB, url string) boxoffice.Store {
	t.Helper()
	s, err := mysql.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// adminDSN turns mysql://user:pass@host:port/... into a driver DSN without a
// database, for creating and dropping test databases.
func adminDSN(t testing.TB, url string) string {
	t.Helper()
	rest := strings.TrimPrefix(url, "mysql://")
	rest = strings.SplitN(rest, "?", 2)[0]
	hostPart := rest
	cfg := driver.NewConfig()
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		hostPart = rest[at+1:]
		cfg.User, cfg.Passwd, _ = strings.Cut(userinfo, ":")
	}
	cfg.Net = "tcp"
	cfg.Addr = strings.SplitN(hostPart, "/", 2)[0]
	return cfg.FormatDSN()
}
