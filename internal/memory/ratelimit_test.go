package memory

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"boxoffice"
)

// add adds n to key's count in a window of w and returns the count and the
// time left.
func add(t *testing.T, l *RateCounter, key string, w time.Duration, n int64) (int64, time.Duration) {
	t.Helper()
	h := []boxoffice.Hit{{Key: key, Window: w, N: n}}
	if err := l.Add(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	return h[0].Count, h[0].ResetIn
}

func TestRateCounterWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateCounter(0)
		for i := range 3 {
			if n, _ := add(t, l, "ann", time.Minute, 1); n != int64(i+1) {
				t.Fatalf("count = %d, want %d", n, i+1)
			}
			time.Sleep(10 * time.Second)
		}
		// The window started at the first event, 30 s ago.
		if n, d := add(t, l, "ann", time.Minute, 0); n != 3 || d != 30*time.Second {
			t.Fatalf("read = %d, %v; want 3, 30s", n, d)
		}
		if n, d := add(t, l, "bob", time.Minute, 0); n != 0 || d != 0 {
			t.Fatalf("another key: %d, %v; want 0, 0", n, d)
		}
		time.Sleep(30 * time.Second)
		if n, d := add(t, l, "ann", time.Minute, 0); n != 0 || d != 0 {
			t.Fatalf("after the window: %d, %v; want 0, 0", n, d)
		}
		// A new window starts with the next event.
		if n, d := add(t, l, "ann", time.Minute, 1); n != 1 || d != time.Minute {
			t.Fatalf("new window: %d, %v; want 1, 1m", n, d)
		}
		// Windows of other lengths live side by side.
		if n, d := add(t, l, "ann-hour", time.Hour, 2); n != 2 || d != time.Hour {
			t.Fatalf("hour window: %d, %v; want 2, 1h", n, d)
		}
	})
}

// TestRateCounterRefund: a negative count takes from an open window,
// never below zero, and never starts a window.
func TestRateCounterRefund(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateCounter(0)
		add(t, l, "ann", time.Minute, 3)
		time.Sleep(10 * time.Second)
		for _, tc := range []struct {
			n, want int64
			left    time.Duration
		}{{-1, 2, 50 * time.Second}, {-5, 0, 0}, {1, 1, 50 * time.Second}} {
			if n, d := add(t, l, "ann", time.Minute, tc.n); n != tc.want || d != tc.left {
				t.Fatalf("add %d: %d, %v; want %d, %v", tc.n, n, d, tc.want, tc.left)
			}
		}
		if n, d := add(t, l, "bob", time.Minute, -1); n != 0 || d != 0 || l.Len() != 1 {
			t.Fatalf("a refund without a window: %d, %v, %d keys; want 0, 0, 1 key", n, d, l.Len())
		}
	})
}

func TestRateCounterReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewRateCounter(0)
		add(t, l, "ann", time.Minute, 2)
		add(t, l, "bob", time.Minute, 2)
		if err := l.Reset(t.Context(), "ann", "bob"); err != nil {
			t.Fatal(err)
		}
		if n, _ := add(t, l, "ann", time.Minute, 0); n != 0 {
			t.Fatalf("count after Reset = %d", n)
		}
		if n, _ := add(t, l, "ann", time.Minute, 1); n != 1 {
			t.Fatalf("count after Reset and 1 = %d", n)
		}
	})
}

func TestRateCounterBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxKeys = 100
		l := NewRateCounter(maxKeys)
		add(t, l, "target", time.Minute, 3)
		for i := range 10 * maxKeys {
			w := time.Minute
			if i%2 == 1 {
				w = time.Hour
			}
			add(t, l, fmt.Sprint("k", i), w, 1)
			if n := l.Len(); n > maxKeys {
				t.Fatalf("after %d keys, tracking %d > %d", i+1, n, maxKeys)
			}
		}
		// A flood of single events does not free a key counted more.
		if n, _ := add(t, l, "target", time.Minute, 0); n != 3 {
			t.Fatalf("target: count = %d, want 3", n)
		}
		// Once their windows end, keys are dropped as new ones come.
		time.Sleep(time.Hour)
		for i := range maxKeys {
			add(t, l, fmt.Sprint("new", i), time.Minute, 3)
		}
		for i := range maxKeys {
			if n, _ := add(t, l, fmt.Sprint("new", i), time.Minute, 0); n != 3 {
				t.Fatalf("new%d: count = %d, want 3 (a live window was evicted while expired ones remained)", i, n)
			}
		}
	})
}

// BenchmarkRateCounter measures the in-process cost of a hold's check: two
// keys, one of 10,000 users and one of 100 addresses.
func BenchmarkRateCounter(b *testing.B) {
	l := NewRateCounter(0)
	users := make([]string, 10_000)
	for i := range users {
		users[i] = fmt.Sprint("h:u:user-", i)
	}
	addrs := make([]string, 100)
	for i := range addrs {
		addrs[i] = fmt.Sprint("h:a:10.0.", i/256, ".", i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		var hits [2]boxoffice.Hit
		for pb.Next() {
			hits[0] = boxoffice.Hit{Key: addrs[i%len(addrs)], Window: time.Minute, N: 1}
			hits[1] = boxoffice.Hit{Key: users[i%len(users)], Window: time.Minute, N: 1}
			_ = l.Add(b.Context(), hits[:])
			i++
		}
	})
}
