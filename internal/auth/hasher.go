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

// Hasher implements boxoffice.PasswordHasher with bcrypt. At most Workers
// hashes run at once and at most MaxWaiting callers wait for a worker; a
// caller that finds the queue full, waits longer than MaxWait, or whose
// context ends gets boxoffice.ErrRateLimited at once, so a flood of sign-ins
// never piles up goroutines or CPU. It is safe for concurrent use.
type Hasher struct {
	cost       int
	maxWaiting int64
	maxWait    time.Duration
	// slots holds one token per running hash.
	slots    chan struct{}
	waiting  atomic.Int64
	rejected atomic.Uint64
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
	return &Hasher{
		cost:       cost,
		maxWaiting: int64(maxWaiting),
		maxWait:    maxWait,
		slots:      make(chan struct{}, workers),
	}
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
