package boxoffice_test

import (
	"context"
	"testing"

	"boxoffice"
	"boxoffice/internal/mysql"
)

// openMySQL opens and migrates another Store (another "instance" with its own
// pool) on the database at url.
func openMySQL(t *testing.T, url string) boxoffice.Store {
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
