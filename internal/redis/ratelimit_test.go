package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

// testRateCounter returns a RateCounter on c under a prefix of its own and
// deletes its keys when t ends.
func testRateCounter(t testing.TB, c *Client) *RateCounter {
	t.Helper()
	l := NewRateCounter(c, RatePrefix+"test:"+rand.Text()+":")
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

func TestRateCounter(t *testing.T) {
	c := openTest(t, testURL(t))
	ctx := t.Context()
	l := testRateCounter(t, c)
	add := func(hits ...boxoffice.Hit) []boxoffice.Hit {
		t.Helper()
		if err := l.Add(ctx, hits); err != nil {
			t.Fatal(err)
		}
		return hits
	}
	for i := range 3 {
		h := add(boxoffice.Hit{Key: "si:ae:ann@example.com", Window: time.Minute, N: 1}, boxoffice.Hit{Key: "si:a:10.0.0.1", Window: time.Hour, N: 2})
		if h[0].Count != int64(i+1) || h[1].Count != int64(2*i+2) {
			t.Fatalf("counts = %d, %d; want %d, %d", h[0].Count, h[1].Count, i+1, 2*i+2)
		}
		if h[0].ResetIn <= 50*time.Second || h[0].ResetIn > time.Minute || h[1].ResetIn <= 59*time.Minute || h[1].ResetIn > time.Hour {
			t.Fatalf("reset in %v, %v; want about 1m and 1h", h[0].ResetIn, h[1].ResetIn)
		}
	}
	if h := add(boxoffice.Hit{Key: "si:ae:bob@example.com", Window: time.Minute}); h[0].Count != 0 || h[0].ResetIn != 0 {
		t.Fatalf("a read of another key: %+v", h[0])
	}

	// No email or address appears in Redis: the keys are hashes.
	keys, err := c.raw.Do(ctx, c.raw.B().Keys().Pattern(l.prefix+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || strings.Contains(keys[0]+keys[1], "ann") || len(keys[0]) != len(l.prefix)+32 {
		t.Fatalf("keys = %q, want two hex hashes under the prefix", keys)
	}

	if err := l.Reset(ctx, "si:ae:ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if h := add(boxoffice.Hit{Key: "si:ae:ann@example.com", Window: time.Minute}, boxoffice.Hit{Key: "si:a:10.0.0.1", Window: time.Hour}); h[0].Count != 0 || h[1].Count != 6 {
		t.Fatalf("after Reset: %+v", h)
	}

	// Refunds take from an open window, never below zero, and start none.
	for _, tc := range []struct {
		n, want int64
	}{{-4, 2}, {-5, 0}, {1, 1}} {
		h := add(boxoffice.Hit{Key: "si:a:10.0.0.1", Window: time.Hour, N: tc.n})
		if h[0].Count != tc.want || tc.want > 0 && h[0].ResetIn <= 59*time.Minute {
			t.Fatalf("add %d: %+v, want count %d in the hour's window", tc.n, h[0], tc.want)
		}
	}
	if h := add(boxoffice.Hit{Key: "si:a:10.0.0.9", Window: time.Hour, N: -1}); h[0].Count != 0 || h[0].ResetIn != 0 {
		t.Fatalf("a refund without a window: %+v", h[0])
	}
	if n, err := c.raw.Do(ctx, c.raw.B().Exists().Key(l.key("si:a:10.0.0.9")).Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("a refund without a window wrote a key (%d, %v)", n, err)
	}
}

func TestRateCounterWindowEnds(t *testing.T) {
	c := openTest(t, testURL(t))
	ctx := t.Context()
	l := testRateCounter(t, c)
	h := []boxoffice.Hit{{Key: "k", Window: 300 * time.Millisecond, N: 2}}
	if err := l.Add(ctx, h); err != nil || h[0].Count != 2 || h[0].ResetIn <= 0 || h[0].ResetIn > 300*time.Millisecond {
		t.Fatalf("Add = %+v, %v; want count 2, (0, 300ms] left", h[0], err)
	}
	// The window ends on Redis's clock: poll for that rather than sleep
	// past it and hope the two clocks agree.
	eventually(t, "the window to end", func() bool {
		h := []boxoffice.Hit{{Key: "k", Window: 300 * time.Millisecond}}
		if err := l.Add(ctx, h); err != nil {
			t.Fatal(err)
		}
		return h[0].Count == 0
	})
	// The next event starts a new window with a count of 1.
	h = []boxoffice.Hit{{Key: "k", Window: time.Minute, N: 1}}
	if err := l.Add(ctx, h); err != nil || h[0].Count != 1 || h[0].ResetIn <= 50*time.Second {
		t.Fatalf("new window: %+v, %v", h[0], err)
	}
}

func TestRateCounterErrors(t *testing.T) {
	c := openTest(t, testURL(t), WithTimeout(200*time.Millisecond))
	l := testRateCounter(t, c)
	c.Close()
	if err := l.Add(t.Context(), []boxoffice.Hit{{Key: "k", Window: time.Minute, N: 1}}); !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Fatalf("Add on a closed client: %v, want ErrUnavailable", err)
	}
	if err := l.Reset(t.Context(), "k"); !errors.Is(err, boxoffice.ErrUnavailable) {
		t.Fatalf("Reset on a closed client: %v, want ErrUnavailable", err)
	}
	if n := l.Errors(); n != 2 {
		t.Fatalf("Errors = %d, want 2", n)
	}
}

// BenchmarkRateCounter measures a shared check of two keys (one round
// trip): "serial" is its latency from 2 goroutines, "concurrent" the cost
// per check when 64 goroutines share the connection (as requests do).
func BenchmarkRateCounter(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchmarkRateCounter(b, 1) })
	b.Run("concurrent", func(b *testing.B) { benchmarkRateCounter(b, 32) })
}

func benchmarkRateCounter(b *testing.B, parallelism int) {
	c := openTest(b, testURL(b))
	l := testRateCounter(b, c)
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			hits := [2]boxoffice.Hit{
				{Key: fmt.Sprint("qs:a:10.0.0.", i%100), Window: time.Minute, N: 1},
				{Key: fmt.Sprint("qs:u:user-", i%10000), Window: time.Minute, N: 1},
			}
			if err := l.Add(b.Context(), hits[:]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
