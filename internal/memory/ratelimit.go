package memory

import (
	"context"
	"sync"
	"time"

	"boxoffice"
)

// DefaultMaxRateKeys is how many keys a RateCounter made with a
// non-positive bound tracks.
const DefaultMaxRateKeys = 1_000_000

// RateCounter is a boxoffice.RateCounter in process memory: a fixed window
// per key that starts at the key's first event. It tracks at most a bounded
// number of keys. Windows of one length end in the order they started, so
// one queue per window length, in that order, lets each new window drop the
// expired windows at the heads, with no goroutine and no full scans. When
// it is full of live windows it forgets, among a few sampled, the one with
// the lowest count, so a flood of distinct keys costs bounded memory and is
// unlikely to free a key that was used many times. It never fails. It is
// safe for concurrent use.
type RateCounter struct {
	maxKeys int

	mu      sync.Mutex
	windows map[string]rateWindow
	queues  map[time.Duration]*windowQueue
}

var _ boxoffice.RateCounter = (*RateCounter)(nil)

type rateWindow struct {
	count int64
	ends  time.Time
}

// windowQueue lists the windows of one length by start from order[head] on;
// entries whose window was reset, replaced or evicted are skipped.
type windowQueue struct {
	order []queuedWindow
	head  int
}

type queuedWindow struct {
	key  string
	ends time.Time
}

// NewRateCounter returns a RateCounter that tracks at most maxKeys keys
// (DefaultMaxRateKeys when maxKeys is not positive).
func NewRateCounter(maxKeys int) *RateCounter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxRateKeys
	}
	return &RateCounter{maxKeys: maxKeys, windows: make(map[string]rateWindow), queues: make(map[time.Duration]*windowQueue)}
}

// Add implements boxoffice.RateCounter.
func (l *RateCounter) Add(_ context.Context, hits []boxoffice.Hit) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range hits {
		h := &hits[i]
		w, ok := l.windows[h.Key]
		switch {
		case ok && now.Before(w.ends):
			if h.N != 0 {
				w.count = max(w.count+h.N, 0)
				l.windows[h.Key] = w
			}
		case h.N <= 0:
			w = rateWindow{}
		default:
			w = l.start(h.Key, h.Window, h.N, now)
		}
		h.Count = w.count
		h.ResetIn = 0
		if w.count > 0 {
			h.ResetIn = w.ends.Sub(now)
		}
	}
	return nil
}

// start opens a window for key. The caller holds l.mu.
func (l *RateCounter) start(key string, window time.Duration, n int64, now time.Time) rateWindow {
	q := l.queues[window]
	if q == nil {
		q = &windowQueue{}
		l.queues[window] = q
	}
	l.dropExpired(q, now)
	if _, ok := l.windows[key]; !ok && len(l.windows) >= l.maxKeys {
		for _, q := range l.queues {
			l.dropExpired(q, now)
		}
		if len(l.windows) >= l.maxKeys {
			l.evict()
		}
	}
	w := rateWindow{count: n, ends: now.Add(window)}
	l.windows[key] = w
	q.order = append(q.order, queuedWindow{key: key, ends: w.ends})
	if len(q.order)-q.head > 2*l.maxKeys {
		l.compact(q)
	}
	return w
}

// Reset implements boxoffice.RateCounter.
func (l *RateCounter) Reset(_ context.Context, keys ...string) error {
	l.mu.Lock()
	for _, k := range keys {
		delete(l.windows, k)
	}
	l.mu.Unlock()
	return nil
}

// Len returns how many keys the RateCounter tracks, counting expired
// windows not yet dropped.
func (l *RateCounter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}

// dropExpired forgets the windows of q that ended by now. The caller holds
// l.mu.
func (l *RateCounter) dropExpired(q *windowQueue, now time.Time) {
	for q.head < len(q.order) {
		e := q.order[q.head]
		if now.Before(e.ends) {
			break
		}
		if w, ok := l.windows[e.key]; ok && w.ends.Equal(e.ends) {
			delete(l.windows, e.key)
		}
		q.order[q.head] = queuedWindow{}
		q.head++
	}
	if q.head >= 64 && q.head > len(q.order)/2 {
		q.order = append([]queuedWindow(nil), q.order[q.head:]...)
		q.head = 0
	}
}

// compact removes the entries of q whose windows were reset, replaced or
// evicted, which Reset and evict leave behind. Called once a queue is twice
// the bound, it costs O(1) per window on average. The caller holds l.mu.
func (l *RateCounter) compact(q *windowQueue) {
	live := make([]queuedWindow, 0, len(l.windows))
	for _, e := range q.order[q.head:] {
		if w, ok := l.windows[e.key]; ok && w.ends.Equal(e.ends) {
			live = append(live, e)
		}
	}
	q.order, q.head = live, 0
}

// evict makes room for one window: among a few windows (map iteration
// starts at a random place) it forgets the one with the lowest count, the
// soonest to end among equals. The caller holds l.mu.
func (l *RateCounter) evict() {
	var victim string
	var best rateWindow
	seen := 0
	for k, w := range l.windows {
		if seen == 0 || w.count < best.count || (w.count == best.count && w.ends.Before(best.ends)) {
			victim, best = k, w
		}
		if seen++; seen >= evictionSample {
			break
		}
	}
	delete(l.windows, victim)
}
