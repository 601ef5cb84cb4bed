package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	var prevHi uint64
	for i := range numBuckets {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi, got, i)
		}
		if lo >= linearMax && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-12 {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/%d of its lower bound", i, lo, hi, subCount)
		}
		prevHi = hi
	}
	if prevHi != maxValueUS {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, uint64(maxValueUS))
	}
	if got := bucketOf(math.MaxUint64); got != numBuckets-1 {
		t.Fatalf("huge values land in bucket %d, want the last", got)
	}
}

func TestQuantilesWithinErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() uint64
	}{
		{"small exact", func() uint64 { return uint64(rng.IntN(200)) }},
		{"log-uniform 1µs..10s", func() uint64 { return uint64(math.Exp(rng.Float64() * math.Log(1e7))) }},
		{"bimodal", func() uint64 {
			if rng.IntN(10) == 0 {
				return 500_000 + uint64(rng.IntN(100_000))
			}
			return 2_000 + uint64(rng.IntN(1_000))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vals := make([]uint64, 100_000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(time.Duration(vals[i]) * time.Microsecond)
			}
			slices.Sort(vals)
			s := h.Snapshot()
			if s.Total != uint64(len(vals)) || s.MaxUS != vals[len(vals)-1] {
				t.Fatalf("total %d max %d, want %d and %d", s.Total, s.MaxUS, len(vals), vals[len(vals)-1])
			}
			for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q * float64(len(vals))))
				want := float64(vals[rank-1])
				got := s.Quantile(q)
				if math.Abs(got-want) > want*relErrorBound+0.5 {
					t.Errorf("q%.3f = %.1f, exact %.0f: off by more than %.3f%%", q, got, want, 100*relErrorBound)
				}
			}
		})
	}
}

func TestSnapshotSub(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(time.Millisecond)
	}
	before := h.Snapshot()
	for range 50 {
		h.Record(100 * time.Millisecond)
	}
	d := h.Snapshot().Sub(before)
	if d.Total != 50 {
		t.Fatalf("interval total %d, want 50", d.Total)
	}
	if got := d.Quantile(0.5); math.Abs(got-100_000) > 100_000*relErrorBound {
		t.Fatalf("interval p50 = %.0fµs, want ≈100000", got)
	}
	if (Snapshot{}).Quantile(0.99) != 0 {
		t.Fatal("an empty snapshot's quantile is not 0")
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(1234) * time.Microsecond
		for pb.Next() {
			h.Record(d)
		}
	})
}
