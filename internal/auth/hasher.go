// Package auth hashes passwords with bcrypt in a bounded pool and issues and
// verifies the HS256 JWT access tokens that authenticate API callers.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"boxoffice"
)

// DefaultCost is the bcrypt cost a Hasher uses when given none.
const DefaultCost = bcrypt.DefaultCost

// DefaultMaxWait is how long a Hasher lets a caller wait for a free worker
// when given no limit.
const DefaultMaxWait = time.Second

// maxBcryptInput is the longest password bcrypt accepts, in bytes.
const maxBcryptInput = 72

// DefaultReservedWorkers is how many workers a Hasher keeps for
// CompareReserved when given no number; its queue holds eight times as
// many callers.
const DefaultReservedWorkers = 1

// Hasher implements boxoffice.PasswordHasher with bcrypt. At most Workers
// hashes run at once and at most MaxWaiting callers wait for a worker; a
// caller that finds the queue full, waits longer than MaxWait, or whose
// context ends gets boxoffice.ErrRateLimited at once, so a flood of sign-ins
// never piles up goroutines or CPU. CompareReserved has a lane of its own
// next to that pool (DefaultReservedWorkers, see Reserve), which Hash and
// Compare never use. It is safe for concurrent use.
type Hasher struct {
	cost       int
	maxWaiting int64
	maxWait    time.Duration
	// slots holds one token per running hash.
	slots    chan struct{}
	waiting  atomic.Int64
	rejected atomic.Uint64
	// reserved is the lane of CompareReserved: one token per running
	// comparison, and at most maxReservedWaiting callers waiting.
	reserved           chan struct{}
	reservedWaiting    atomic.Int64
	maxReservedWaiting int64
}

var _ boxoffice.PasswordHasher = (*Hasher)(nil)

// NewHasher returns a Hasher. A zero (or negative) argument takes its
// default: cost DefaultCost, workers runtime.GOMAXPROCS(0), maxWaiting eight
// times the workers, maxWait DefaultMaxWait. A cost outside bcrypt's range
// makes Hash fail.
func NewHasher(cost, workers, maxWaiting int, maxWait time.Duration) *Hasher {
	if cost <= 0 {
		cost = DefaultCost
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if maxWaiting <= 0 {
		maxWaiting = 8 * workers
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	h := &Hasher{
		cost:       cost,
		maxWaiting: int64(maxWaiting),
		maxWait:    maxWait,
		slots:      make(chan struct{}, workers),
	}
	return h.Reserve(0, 0)
}

// Reserve sizes the lane of CompareReserved: workers of its own (0:
// DefaultReservedWorkers) and at most maxWaiting callers waiting for one
// (0: eight times the workers). These workers run on top of the pool's, so
// while both are busy bcrypt uses that many more CPUs. Call it before the
// Hasher is used; it returns h.
func (h *Hasher) Reserve(workers, maxWaiting int) *Hasher {
	if workers <= 0 {
		workers = DefaultReservedWorkers
	}
	if maxWaiting <= 0 {
		maxWaiting = 8 * workers
	}
	h.reserved = make(chan struct{}, workers)
	h.maxReservedWaiting = int64(maxWaiting)
	return h
}

// Hash returns the bcrypt hash of password. Passwords longer than bcrypt's
// 72-byte limit are first reduced with SHA-256, so every byte counts. It
// returns boxoffice.ErrRateLimited when no worker frees up in time.
func (h *Hasher) Hash(ctx context.Context, password string) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	hash, err := bcrypt.GenerateFromPassword(bcryptInput(password), h.cost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	return hash, nil
}

// Compare returns nil when password matches hash,
// boxoffice.ErrInvalidCredentials when it does not, or
// boxoffice.ErrRateLimited when no worker frees up in time. A hash that is
// not a bcrypt hash is a stored-data fault, reported as a plain error.
func (h *Hasher) Compare(ctx context.Context, hash []byte, password string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	return compare(hash, password)
}

// compare checks password against hash, as Compare describes.
func compare(hash []byte, password string) error {
	err := bcrypt.CompareHashAndPassword(hash, bcryptInput(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return boxoffice.ErrInvalidCredentials
	default:
		return fmt.Errorf("auth: compare password: %w", err)
	}
}

// CompareReserved is Compare in the reserved lane: it takes an idle worker
// of the pool if there is one, else one of the lane's own, waiting (up to
// MaxWait) in the lane's queue, never in the pool's. It returns
// boxoffice.ErrRateLimited only when the lane's queue is full, the wait
// runs out or ctx ends.
func (h *Hasher) CompareReserved(ctx context.Context, hash []byte, password string) error {
	lane, err := h.acquireReserved(ctx)
	if err != nil {
		return err
	}
	defer func() { <-lane }()
	return compare(hash, password)
}

// Waiting returns how many callers are waiting for a worker now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Rejected returns how many calls got boxoffice.ErrRateLimited so far.
func (h *Hasher) Rejected() uint64 { return h.rejected.Load() }

// acquire takes a worker slot or returns boxoffice.ErrRateLimited.
func (h *Hasher) acquire(ctx context.Context) error {
	// A caller that has gone away must not cost a hash.
	if ctx.Err() != nil {
		return h.reject()
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return h.reject()
	}
	defer h.waiting.Add(-1)
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return h.reject()
	case <-ctx.Done():
		return h.reject()
	}
}

func (h *Hasher) release() { <-h.slots }

// acquireReserved takes an idle worker of the pool or one of the reserved
// lane, and returns the channel to give it back to, or returns
// boxoffice.ErrRateLimited.
func (h *Hasher) acquireReserved(ctx context.Context) (chan struct{}, error) {
	if ctx.Err() != nil {
		return nil, h.reject()
	}
	select {
	case h.reserved <- struct{}{}:
		return h.reserved, nil
	case h.slots <- struct{}{}:
		return h.slots, nil
	default:
	}
	if h.reservedWaiting.Add(1) > h.maxReservedWaiting {
		h.reservedWaiting.Add(-1)
		return nil, h.reject()
	}
	defer h.reservedWaiting.Add(-1)
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	// Only the lane's own workers: a pool worker that frees up goes to
	// the pool's queue, which it was taken from.
	select {
	case h.reserved <- struct{}{}:
		return h.reserved, nil
	case <-timer.C:
		return nil, h.reject()
	case <-ctx.Done():
		return nil, h.reject()
	}
}

// Saturated reports whether every worker is busy and the wait queue is
// full, so a new call would be refused: callers use it to shed a sign-in
// before spending a database lookup on it.
func (h *Hasher) Saturated() bool {
	return len(h.slots) == cap(h.slots) && h.waiting.Load() >= h.maxWaiting
}

func (h *Hasher) reject() error {
	h.rejected.Add(1)
	return boxoffice.ErrRateLimited
}

// bcryptInput returns password as bcrypt's input. Bcrypt ignores (and
// x/crypto refuses) bytes past the 72nd, so a longer password is replaced by
// the base64 of its SHA-256, which fits and depends on every byte.
func bcryptInput(password string) []byte {
	if len(password) <= maxBcryptInput {
		return []byte(password)
	}
	sum := sha256.Sum256([]byte(password))
	out := make([]byte, base64.RawStdEncoding.EncodedLen(len(sum)))
	base64.RawStdEncoding.Encode(out, sum[:])
	return out
}
