package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/sqlite"
)

// stuckEvents is a store whose event reads never finish before their
// context ends, like a saturated database.
type stuckEvents struct{ boxoffice.Store }

func (stuckEvents) Event(ctx context.Context, id string) (*boxoffice.Event, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A request that cannot be served within RequestTimeout is answered 503
// unavailable with Retry-After, not left hanging.
func TestRequestTimeoutAnswersUnavailable(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: stuckEvents{store}, Hasher: auth.NewHasher(4, 0, 0, 0), Logger: discardLogger(),
	})
	srv := httptest.NewServer(New(Config{
		Service: svc, Cache: memory.NewCache(100), Tokens: auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour),
		Logger: discardLogger(), RequestTimeout: 50 * time.Millisecond,
	}))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/api/v1/events/" + boxoffice.NewID())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Requests that need no slow read are served as usual.
	resp, err = http.Get(srv.URL + "/api/v1/events?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d", resp.StatusCode)
	}
}
