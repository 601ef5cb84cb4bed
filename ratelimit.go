package boxoffice

import (
	"context"
	"strings"
	"time"
)

// LoginLimiter counts failed sign-ins per key (a lower-cased email) within
// a window, shared by every instance (Redis) or within one process (memory).
// Implementations may return any error when their backend fails; the Service
// then lets the sign-in through (see Authenticate).
type LoginLimiter interface {
	// Blocked returns how long until key may try again: 0 while key has
	// fewer failures than the limit in its current window.
	Blocked(ctx context.Context, key string) (retryAfter time.Duration, err error)
	// Failed records one failed sign-in for key.
	Failed(ctx context.Context, key string) error
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// RetryAfterError is a rate_limited failure that knows when the client may
// try again; the HTTP layer sends that as Retry-After. errors.Is(err,
// ErrRateLimited) is true for it.
type RetryAfterError struct {
	Err        *Error // code rate_limited
	RetryAfter time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// errTooManySignIns returns the failure for a key blocked for retryAfter.
func errTooManySignIns(retryAfter time.Duration) error {
	return &RetryAfterError{
		Err:        Errorf(CodeRateLimited, "too many failed sign-ins for this email; try again in %d s", int64((retryAfter+time.Second-1)/time.Second)),
		RetryAfter: retryAfter,
	}
}

// loginKey is the key under which an email's failed sign-ins count, so that
// changing the case of an email does not buy more guesses.
func loginKey(email string) string { return strings.ToLower(email) }
