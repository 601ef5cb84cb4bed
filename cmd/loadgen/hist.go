package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear: values below 2^(subBits+1) get one bucket
// each, and every octave above that is cut into 2^subBits equal buckets, so
// a bucket is never wider than 1/2^subBits of its lower bound. Reporting a
// bucket's midpoint puts every percentile within ±1/2^(subBits+1) (≈0.2 %)
// of the true value.
const (
	subBits    = 7
	subCount   = 1 << subBits // buckets per octave
	linearMax  = 2 << subBits // values below this are exact
	maxValueUS = 1<<38 - 1    // ≈ 76 hours; larger values are clamped
	numBuckets = linearMax + (38-subBits-1)*subCount
)

// relErrorBound is the worst relative error of a reported percentile.
const relErrorBound = 1.0 / (2 * subCount)

// Histogram records latencies in microseconds. Record is lock-free and safe
// for concurrent use, so all workers share one histogram and the progress
// line can read it while they write.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sumUS  atomic.Uint64
	maxUS  atomic.Uint64
}

// bucketOf returns the bucket index of v (in microseconds).
func bucketOf(v uint64) int {
	if v < linearMax {
		return int(v)
	}
	if v > maxValueUS {
		v = maxValueUS
	}
	shift := bits.Len64(v) - (subBits + 1)
	top := v >> shift // in [subCount, 2*subCount)
	return linearMax + (shift-1)*subCount + int(top-subCount)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < linearMax {
		return uint64(i), uint64(i)
	}
	i -= linearMax
	shift := i/subCount + 1
	top := uint64(i%subCount + subCount)
	return top << shift, (top+1)<<shift - 1
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0))
	h.counts[bucketOf(us)].Add(1)
	h.total.Add(1)
	h.sumUS.Add(us)
	for {
		m := h.maxUS.Load()
		if us <= m || h.maxUS.CompareAndSwap(m, us) {
			break
		}
	}
}

// Snapshot is a point-in-time copy of a Histogram; snapshots can be
// subtracted to get the distribution of an interval.
type Snapshot struct {
	Counts []uint64
	Total  uint64
	SumUS  uint64
	MaxUS  uint64
}

// Snapshot copies the histogram. Under concurrent writes the copy may be
// off by the few observations in flight, which is fine for progress lines.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Counts: make([]uint64, numBuckets)}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] = c
		s.Total += c
	}
	s.SumUS = h.sumUS.Load()
	s.MaxUS = h.maxUS.Load()
	return s
}

// Sub returns the observations in s that are not in earlier. MaxUS of the
// result is the largest bucket's upper bound (the exact maximum of an
// interval is not kept).
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	d := Snapshot{Counts: make([]uint64, len(s.Counts)), SumUS: s.SumUS - earlier.SumUS}
	for i := range s.Counts {
		var e uint64
		if i < len(earlier.Counts) {
			e = earlier.Counts[i]
		}
		d.Counts[i] = s.Counts[i] - e
		d.Total += d.Counts[i]
		if d.Counts[i] > 0 {
			_, d.MaxUS = bucketBounds(i)
		}
	}
	return d
}

// Quantile returns the value at quantile q (0..1) in microseconds: the
// midpoint of the bucket holding the ceil(q*Total)-th smallest observation,
// capped at MaxUS. It returns 0 for an empty snapshot.
func (s Snapshot) Quantile(q float64) float64 {
	if s.Total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.Total)))
	rank = min(max(rank, 1), s.Total)
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			mid := (float64(lo) + float64(hi)) / 2
			if s.MaxUS > 0 {
				mid = math.Min(mid, float64(s.MaxUS))
			}
			return mid
		}
	}
	return float64(s.MaxUS)
}

// Mean returns the average observation in microseconds.
func (s Snapshot) Mean() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.SumUS) / float64(s.Total)
}

// LatencySummary is the usual set of percentiles, in milliseconds.
type LatencySummary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary returns the snapshot's percentiles in milliseconds.
func (s Snapshot) Summary() LatencySummary {
	ms := func(us float64) float64 { return math.Round(us) / 1000 }
	return LatencySummary{
		Count: s.Total,
		Mean:  ms(s.Mean()),
		P50:   ms(s.Quantile(0.50)),
		P90:   ms(s.Quantile(0.90)),
		P95:   ms(s.Quantile(0.95)),
		P99:   ms(s.Quantile(0.99)),
		P999:  ms(s.Quantile(0.999)),
		Max:   ms(float64(s.MaxUS)),
	}
}
