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

// LoginPrefix starts every sign-in failure counter in Redis.
const LoginPrefix = "bo:login:"

var (
	//go:embed lua/login_blocked.lua
	luaLoginBlocked string
	//go:embed lua/login_failed.lua
	luaLoginFailed string

	scriptLoginBlocked = rueidis.NewLuaScriptReadOnly(luaLoginBlocked)
	scriptLoginFailed  = rueidis.NewLuaScript(luaLoginFailed)
)

// LoginLimiter is a boxoffice.LoginLimiter in Redis, shared by every
// instance: a fixed window per key, one counter under
// "bo:login:<hex sha256 of the key>" (so no email appears in Redis) that the
// first failure creates with the window as its expiry. Each operation is one
// round trip and atomic. Errors, bounded by the Client's timeout, are
// *boxoffice.RetryableError and counted by Errors.
type LoginLimiter struct {
	raw     rueidis.Client
	prefix  string
	max     string
	window  string
	timeout time.Duration
	errors  atomic.Uint64
}

var _ boxoffice.LoginLimiter = (*LoginLimiter)(nil)

// LoginLimiter returns a LoginLimiter on this connection, with keys under
// LoginPrefix, that blocks a key after maxFailures failures within window
// until the window ends.
func (c *Client) LoginLimiter(maxFailures int, window time.Duration) *LoginLimiter {
	return NewLoginLimiter(c, LoginPrefix, maxFailures, window)
}

// NewLoginLimiter returns a LoginLimiter on c whose keys start with prefix
// (tests use their own prefixes to stay apart).
func NewLoginLimiter(c *Client, prefix string, maxFailures int, window time.Duration) *LoginLimiter {
	return &LoginLimiter{
		raw: c.raw, prefix: prefix, timeout: c.cache.timeout,
		max:    strconv.Itoa(maxFailures),
		window: strconv.FormatInt(max(window.Milliseconds(), 1), 10),
	}
}

// Blocked implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Blocked(ctx context.Context, key string) (time.Duration, error) {
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	n, err := scriptLoginBlocked.Exec(opCtx, l.raw, l.keys(key), []string{l.max}).AsInt64()
	if err != nil {
		return 0, l.fail(ctx, "blocked", err)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// Failed implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Failed(ctx context.Context, key string) error {
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	return l.fail(ctx, "failed", scriptLoginFailed.Exec(opCtx, l.raw, l.keys(key), []string{l.window}).Error())
}

// Reset implements boxoffice.LoginLimiter.
func (l *LoginLimiter) Reset(ctx context.Context, key string) error {
	opCtx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	return l.fail(ctx, "reset", l.raw.Do(opCtx, l.raw.B().Del().Key(l.keys(key)[0]).Build()).Error())
}

// Errors returns how many operations failed so far, not counting those
// whose caller gave up.
func (l *LoginLimiter) Errors() uint64 { return l.errors.Load() }

func (l *LoginLimiter) keys(key string) []string {
	sum := sha256.Sum256([]byte(key))
	return []string{l.prefix + hex.EncodeToString(sum[:])}
}

// fail counts and wraps err; the caller's own cancellation passes through
// uncounted.
func (l *LoginLimiter) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	l.errors.Add(1)
	return &boxoffice.RetryableError{Err: fmt.Errorf("redis: login limiter %s: %w", op, err)}
}
