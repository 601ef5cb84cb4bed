package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

// testLoginLimiter returns a LoginLimiter on c under a prefix of its own and
// deletes its keys when t ends.
func testLoginLimiter(t *testing.T, c *Client, maxFailures int, window time.Duration) *LoginLimiter {
	t.Helper()
	l := NewLoginLimiter(c, LoginPrefix+"test:"+rand.Text()+":", maxFailures, window)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, err := c.raw.Do(ctx, c.raw.B().Keys().Pattern(l.prefix+"*").Build()).AsStrSlice()
		if err == nil && len(keys) > 0 {
			c.raw.Do(ctx, c.raw.B().Del().Key(keys...).Build())
		}
	})
	return l
}

func TestLoginLimiter(t *testing.T) {
	c := openTest(t, testURL(t))
	ctx := t.Context()
	l := testLoginLimiter(t, c, 3, time.Minute)
	blocked := func(key string) time.Duration {
		t.Helper()
		d, err := l.Blocked(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := range 3 {
		if d := blocked("ann@example.com"); d != 0 {
			t.Fatalf("blocked after %d failures: %v", i, d)
		}
		if err := l.Failed(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if d := blocked("ann@example.com"); d <= 50*time.Second || d > time.Minute {
		t.Fatalf("Blocked after 3 failures = %v, want about 1m", d)
	}
	if d := blocked("bob@example.com"); d != 0 {
		t.Fatalf("another key is blocked: %v", d)
	}

	// No email appears in Redis: the one key is the hash.
	keys, err := c.raw.Do(ctx, c.raw.B().Keys().Pattern(l.prefix+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || strings.Contains(keys[0], "ann") || len(keys[0]) != len(l.prefix)+64 {
		t.Fatalf("keys = %q, want one hex SHA-256 under the prefix", keys)
	}

	if err := l.Reset(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if d := blocked("ann@example.com"); d != 0 {
		t.Fatalf("blocked after Reset: %v", d)
	}
}

func TestLoginLimiterWindowEnds(t *testing.T) {
	c := openTest(t, testURL(t))
	ctx := t.Context()
	l := testLoginLimiter(t, c, 2, 300*time.Millisecond)
	for range 2 {
		if err := l.Failed(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	d, err := l.Blocked(ctx, "k")
	if err != nil || d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("Blocked = %v, %v; want (0, 300ms]", d, err)
	}
	// The window ends on Redis's clock: poll for that rather than sleep
	// past d and hope the two clocks agree.
	eventually(t, "the window to end", func() bool {
		d, err := l.Blocked(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return d == 0
	})
	// The next failure starts a new window with a count of 1.
	if err := l.Failed(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Blocked(ctx, "k"); err != nil || d != 0 {
		t.Fatalf("1 failure in a new window: Blocked = %v, %v; want 0", d, err)
	}
}

func TestLoginLimiterErrors(t *testing.T) {
	c := openTest(t, testURL(t), WithTimeout(200*time.Millisecond))
	l := testLoginLimiter(t, c, 3, time.Minute)
	c.Close()
	if _, err := l.Blocked(t.Context(), "k"); !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Fatalf("Blocked on a closed client: %v, want ErrUnavailable", err)
	}
	if err := l.Failed(t.Context(), "k"); !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Fatalf("Failed on a closed client: %v, want ErrUnavailable", err)
	}
	if n := l.Errors(); n != 2 {
		t.Fatalf("Errors = %d, want 2", n)
	}
}
