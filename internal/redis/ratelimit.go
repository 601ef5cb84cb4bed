package redis

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"boxoffice"
)

// RatePrefix starts every rate-limit counter in Redis.
const RatePrefix = "bo:rl:"

var (
	//go:embed lua/rate_add.lua
	luaRateAdd string

	scriptRateAdd = rueidis.NewLuaScript(luaRateAdd)
)

// RateCounter is a boxoffice.RateCounter in Redis, shared by every
// instance: a fixed window per key, one counter under "bo:rl:<hex of the
// first 16 bytes of the key's SHA-256>" (so no email or address appears in
// Redis) that the first event creates with the window as its expiry. Each
// call is one round trip whatever the number of keys (one script per key,
// pipelined, so the keys may live on different cluster nodes), and atomic
// per key. Errors, bounded by the Client's timeout, are
// *boxoffice.RetryableError and counted by Errors.
type RateCounter struct {
	raw     rueidis.Client
	prefix  string
	timeout time.Duration
	errors  atomic.Uint64
}

var _ boxoffice.RateCounter = (*RateCounter)(nil)

// RateCounter returns a RateCounter on this connection, with keys under
// RatePrefix.
func (c *Client) RateCounter() *RateCounter { return NewRateCounter(c, RatePrefix) }

// NewRateCounter returns a RateCounter on c whose keys start with prefix
// (tests use their own prefixes to stay apart).
func NewRateCounter(c *Client, prefix string) *RateCounter {
	return &RateCounter{raw: c.raw, prefix: prefix, timeout: c.cache.timeout}
}

// Add implements boxoffice.RateCounter.
func (l *RateCounter) Add(ctx context.Context, hits []boxoffice.Hit) error {
	if len(hits) == 0 {
		return nil
	}
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	execs := make([]rueidis.LuaExec, len(hits))
	for i, h := range hits {
		execs[i] = rueidis.LuaExec{
			Keys: []string{l.key(h.Key)},
			Args: []string{strconv.FormatInt(h.N, 10), strconv.FormatInt(max(h.Window.Milliseconds(), 1), 10)},
		}
	}
	for i, resp := range scriptRateAdd.ExecMulti(opCtx, l.raw, execs...) {
		v, err := resp.AsIntSlice()
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("unexpected reply %v", v)
		}
		if err != nil {
			return l.fail(ctx, "add", err)
		}
		hits[i].Count, hits[i].ResetIn = v[0], time.Duration(v[1])*time.Millisecond
	}
	return nil
}

// Reset implements boxoffice.RateCounter.
func (l *RateCounter) Reset(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = l.raw.B().Del().Key(l.key(k)).Build()
	}
	for _, resp := range l.raw.DoMulti(opCtx, cmds...) {
		if err := resp.Error(); err != nil {
			return l.fail(ctx, "reset", err)
		}
	}
	return nil
}

// Errors returns how many operations failed so far, not counting those
// whose caller gave up.
func (l *RateCounter) Errors() uint64 { return l.errors.Load() }

func (l *RateCounter) key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return l.prefix + hex.EncodeToString(sum[:16])
}

// fail counts and wraps err; the caller's own cancellation passes through
// uncounted.
func (l *RateCounter) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	l.errors.Add(1)
	return &boxoffice.RetryableError{Err: fmt.Errorf("redis: rate counter %s: %w", op, err)}
}
