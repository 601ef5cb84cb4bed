package memory

import (
	"context"
	"sync"
	"time"

	"boxoffice"
)

// DefaultMaxLoginKeys is how many emails a LoginLimiter made with a
// non-positive bound tracks.
const DefaultMaxLoginKeys = 100_000

// LoginLimiter is a boxoffice.LoginLimiter in process memory: a fixed window
// per key that starts at the key's first failure. It tracks at most a bounded
// number of keys. Every window has the same length, so windows end in the
// order they started: a queue in that order lets each failure drop the
// expired windows at its head, with no goroutine and no full scans. When it
// is full of live windows it forgets, among a few sampled, the one with the
// fewest failures, so a flood of distinct emails costs bounded memory and
// is unlikely to free an email that was guessed at many times. It never
// fails. It is safe for concurrent use.
type LoginLimiter struct {
	max     int64
	window  time.Duration
	maxKeys int

	mu      sync.Mutex
	windows map[string]loginWindow
	// order lists windows by start from order[head] on; entries whose
	// window was reset, replaced or evicted are skipped.
	order []queuedWindow
	head  int
}

var _ boxoffice.LoginLimiter = (*LoginLimiter)(nil)

type loginWindow struct {
	failures int64
	ends     time.Time
}

type queuedWindow struct {
	key  string
	ends time.Time
}

// NewLoginLimiter returns a LoginLimiter that blocks a key after maxFailures
// failures within window, until that window ends, tracking at most maxKeys
// keys (DefaultMaxLoginKeys when maxKeys is not positive).
func NewLoginLimiter(maxFailures int, window time.Duration, maxKeys int) *LoginLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxLoginKeys
	}
	return &LoginLimiter{
		max: int64(maxFailures), window: window, maxKeys: maxKeys,
		windows: make(map[string]loginWindow),
	}
}

// Blocked implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Blocked(_ context.Context, key string) (time.Duration, error) {
	now := time.Now()
	l.mu.Lock()
	w, ok := l.windows[key]
	l.mu.Unlock()
	if !ok || w.failures < l.max || !now.Before(w.ends) {
		return 0, nil
	}
	return w.ends.Sub(now), nil
}

// Failed implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Failed(_ context.Context, key string) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.windows[key]; ok && now.Before(w.ends) {
		w.failures++
		l.windows[key] = w
		return nil
	}
	l.dropExpired(now)
	if _, ok := l.windows[key]; !ok && len(l.windows) >= l.maxKeys {
		l.evict()
	}
	w := loginWindow{failures: 1, ends: now.Add(l.window)}
	l.windows[key] = w
	l.order = append(l.order, queuedWindow{key: key, ends: w.ends})
	if len(l.order)-l.head > 2*l.maxKeys {
		l.compact()
	}
	return nil
}

// Reset implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	delete(l.windows, key)
	l.mu.Unlock()
	return nil
}

// Len returns how many keys the LoginLimiter tracks, counting expired
// windows not yet dropped.
func (l *LoginLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}

// dropExpired forgets the windows that ended by now. The caller holds l.mu.
func (l *LoginLimiter) dropExpired(now time.Time) {
	for l.head < len(l.order) {
		q := l.order[l.head]
		if now.Before(q.ends) {
			break
		}
		if w, ok := l.windows[q.key]; ok && w.ends.Equal(q.ends) {
			delete(l.windows, q.key)
		}
		l.order[l.head] = queuedWindow{}
		l.head++
	}
	if l.head >= 64 && l.head > len(l.order)/2 {
		l.order = append([]queuedWindow(nil), l.order[l.head:]...)
		l.head = 0
	}
}

// compact removes the queue entries of windows that were reset, replaced or
// evicted, which Reset and evict leave behind. Called once the queue is
// twice the bound, it costs O(1) per failure on average. The caller holds
// l.mu.
func (l *LoginLimiter) compact() {
	live := make([]queuedWindow, 0, len(l.windows))
	for _, q := range l.order[l.head:] {
		if w, ok := l.windows[q.key]; ok && w.ends.Equal(q.ends) {
			live = append(live, q)
		}
	}
	l.order, l.head = live, 0
}

// evict makes room for one window: among a few windows (map iteration
// starts at a random place) it forgets the one with the fewest failures,
// the soonest to end among equals. The caller holds l.mu.
func (l *LoginLimiter) evict() {
	var victim string
	var best loginWindow
	seen := 0
	for k, w := range l.windows {
		if seen == 0 || w.failures < best.failures || (w.failures == best.failures && w.ends.Before(best.ends)) {
			victim, best = k, w
		}
		if seen++; seen >= evictionSample {
			break
		}
	}
	delete(l.windows, victim)
}
