package memory

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestLoginLimiterWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := NewLoginLimiter(3, time.Minute, 0)
		blocked := func(key string) time.Duration {
			t.Helper()
			d, err := l.Blocked(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for i := range 3 {
			if d := blocked("ann"); d != 0 {
				t.Fatalf("blocked after %d failures: %v", i, d)
			}
			if err := l.Failed(ctx, "ann"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Second)
		}
		// The window started at the first failure, 30 s ago.
		if d := blocked("ann"); d != 30*time.Second {
			t.Fatalf("Blocked after 3 failures = %v, want 30s", d)
		}
		if d := blocked("bob"); d != 0 {
			t.Fatalf("another key is blocked: %v", d)
		}
		time.Sleep(30 * time.Second)
		if d := blocked("ann"); d != 0 {
			t.Fatalf("still blocked after the window: %v", d)
		}
		// A new window starts with the next failure.
		for range 2 {
			if err := l.Failed(ctx, "ann"); err != nil {
				t.Fatal(err)
			}
		}
		if d := blocked("ann"); d != 0 {
			t.Fatalf("blocked after 2 failures in a new window: %v", d)
		}
	})
}

func TestLoginLimiterReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := NewLoginLimiter(2, time.Minute, 0)
		for range 2 {
			_ = l.Failed(ctx, "ann")
		}
		if d, _ := l.Blocked(ctx, "ann"); d != time.Minute {
			t.Fatalf("Blocked = %v, want 1m", d)
		}
		if err := l.Reset(ctx, "ann"); err != nil {
			t.Fatal(err)
		}
		if d, _ := l.Blocked(ctx, "ann"); d != 0 {
			t.Fatalf("blocked after Reset: %v", d)
		}
		_ = l.Failed(ctx, "ann")
		if d, _ := l.Blocked(ctx, "ann"); d != 0 {
			t.Fatalf("blocked after 1 failure since Reset: %v", d)
		}
	})
}

func TestLoginLimiterBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		const maxKeys = 100
		l := NewLoginLimiter(3, time.Minute, maxKeys)
		for range 3 {
			_ = l.Failed(ctx, "target")
		}
		for i := range 10 * maxKeys {
			_ = l.Failed(ctx, fmt.Sprint("k", i))
			if n := l.Len(); n > maxKeys {
				t.Fatalf("after %d keys, tracking %d > %d", i+1, n, maxKeys)
			}
		}
		// A flood of single failures does not free a key guessed at more.
		if d, _ := l.Blocked(ctx, "target"); d != time.Minute {
			t.Fatalf("target: Blocked = %v, want 1m", d)
		}
		// Once their windows end, keys are dropped as new ones come.
		time.Sleep(time.Minute)
		for i := range maxKeys {
			for range 3 {
				_ = l.Failed(ctx, fmt.Sprint("new", i))
			}
		}
		for i := range maxKeys {
			if d, _ := l.Blocked(ctx, fmt.Sprint("new", i)); d != time.Minute {
				t.Fatalf("new%d: Blocked = %v, want 1m (a live window was evicted while expired ones remained)", i, d)
			}
		}
	})
}
