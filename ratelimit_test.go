package boxoffice_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/testdb"
)

// countingHasher counts the password comparisons of the hasher it wraps.
type countingHasher struct {
	boxoffice.PasswordHasher
	compares atomic.Int64
}

func (h *countingHasher) Compare(ctx context.Context, hash []byte, password string) error {
	h.compares.Add(1)
	return h.PasswordHasher.Compare(ctx, hash, password)
}

// countingStore counts the user lookups by email of the store it wraps.
type countingStore struct {
	boxoffice.Store
	lookups atomic.Int64
}

func (s *countingStore) UserByEmail(ctx context.Context, email string) (*boxoffice.User, error) {
	s.lookups.Add(1)
	return s.Store.UserByEmail(ctx, email)
}

// failingLimiter is a LoginLimiter whose backend is away.
type failingLimiter struct{}

func (failingLimiter) Blocked(context.Context, string) (time.Duration, error) {
	return 0, errors.New("redis is away")
}
func (failingLimiter) Failed(context.Context, string) error { return errors.New("redis is away") }
func (failingLimiter) Reset(context.Context, string) error  { return errors.New("redis is away") }

// TestSignInRateLimit runs in a synctest bubble: the limiter's window is on
// the bubble's fake clock, which stands still while bcrypt and SQLite work,
// so the window's length and the time left are exact, and waiting the window
// out costs no real time.
func TestSignInRateLimit(t *testing.T) {
	synctest.Test(t, testSignInRateLimit)
}

func testSignInRateLimit(t *testing.T) {
	ctx := t.Context()
	store := &countingStore{Store: testdb.SQLite(t)}
	hasher := &countingHasher{PasswordHasher: auth.NewHasher(4, 0, 0, 0)}
	const window = time.Minute
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: store, Hasher: hasher, Logins: memory.NewLoginLimiter(10, window, 0),
	})
	if _, err := svc.SignUp(ctx, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	wrong := func(n int) {
		t.Helper()
		for i := range n {
			// Any case of the email counts against the same account.
			email := "ann@example.com"
			if i%2 == 1 {
				email = "ANN@Example.COM"
			}
			if _, err := svc.Authenticate(ctx, email, "wrong-password"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
				t.Fatalf("wrong password %d: %v, want ErrInvalidCredentials", i+1, err)
			}
		}
	}
	right := func() error {
		t.Helper()
		_, err := svc.Authenticate(ctx, "ann@example.com", "stage-door-123")
		return err
	}

	// A success resets the count: 9 + 9 failures around it block nothing.
	wrong(9)
	if err := right(); err != nil {
		t.Fatalf("sign-in after 9 failures: %v", err)
	}
	wrong(9)
	if err := right(); err != nil {
		t.Fatalf("sign-in after a success and 9 failures: %v", err)
	}

	// The 10th failure blocks the email, even with the right password,
	// without hashing or looking anything up.
	wrong(10)
	compares, lookups := hasher.compares.Load(), store.lookups.Load()
	err := right()
	var ra *boxoffice.RetryAfterError
	if !errors.Is(err, boxoffice.ErrRateLimited) || !errors.As(err, &ra) {
		t.Fatalf("11th attempt: %v, want a *RetryAfterError (ErrRateLimited)", err)
	}
	// No fake time has passed since the window began with the first of
	// these 10 failures.
	if ra.RetryAfter != window {
		t.Fatalf("RetryAfter = %v, want %v", ra.RetryAfter, window)
	}
	if _, err := svc.Authenticate(ctx, "ANN@EXAMPLE.COM", "wrong-password"); !errors.Is(err, boxoffice.ErrRateLimited) {
		t.Fatalf("blocked email in another case: %v, want ErrRateLimited", err)
	}
	if c, l := hasher.compares.Load()-compares, store.lookups.Load()-lookups; c != 0 || l != 0 {
		t.Fatalf("blocked sign-ins ran %d comparisons and %d lookups, want none", c, l)
	}
	// Other emails are not affected.
	if _, err := svc.Authenticate(ctx, "bob@example.com", "stage-door-123"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
		t.Fatalf("other email: %v, want ErrInvalidCredentials", err)
	}

	// Up to the window's end the email stays blocked; once it ends, the
	// right password works again.
	time.Sleep(ra.RetryAfter - time.Nanosecond)
	if err := right(); !errors.Is(err, boxoffice.ErrRateLimited) {
		t.Fatalf("sign-in a moment before the window ends: %v, want ErrRateLimited", err)
	}
	time.Sleep(time.Nanosecond)
	if err := right(); err != nil {
		t.Fatalf("sign-in after the window: %v", err)
	}
}

func TestSignInRateLimiterFailsOpen(t *testing.T) {
	ctx := t.Context()
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0), Logins: failingLimiter{},
	})
	if _, err := svc.SignUp(ctx, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if _, err := svc.Authenticate(ctx, "ann@example.com", "wrong-password"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
			t.Fatalf("wrong password with the limiter away: %v, want ErrInvalidCredentials", err)
		}
	}
	if _, err := svc.Authenticate(ctx, "ann@example.com", "stage-door-123"); err != nil {
		t.Fatalf("sign-in with the limiter away: %v", err)
	}
}

// hangingLimiter is a LoginLimiter whose backend never answers: each call
// waits for its context, or for stop.
type hangingLimiter struct{ stop chan struct{} }

func (l hangingLimiter) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-l.stop:
		return errors.New("the test is over")
	}
}

func (l hangingLimiter) Blocked(ctx context.Context, _ string) (time.Duration, error) {
	return 0, l.wait(ctx)
}
func (l hangingLimiter) Failed(ctx context.Context, _ string) error { return l.wait(ctx) }
func (l hangingLimiter) Reset(ctx context.Context, _ string) error  { return l.wait(ctx) }

// TestSignInRateLimiterHangs: a limiter that never answers delays a sign-in
// by its deadlines only, also when the caller has none (the failure is
// counted on a context detached from the request's). On the bubble's fake
// clock an hour passes at once if the sign-in waits for good.
func TestSignInRateLimiterHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limiter := hangingLimiter{stop: make(chan struct{})}
		defer close(limiter.stop)
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0), Logins: limiter,
		})
		if _, err := svc.SignUp(t.Context(), boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		for _, password := range []string{"wrong-password", "stage-door-123"} {
			done := make(chan error, 1)
			go func() {
				_, err := svc.Authenticate(context.Background(), "ann@example.com", password)
				done <- err
			}()
			select {
			case err := <-done:
				if want := password == "wrong-password"; errors.Is(err, boxoffice.ErrInvalidCredentials) != want {
					t.Fatalf("sign-in with %q and the limiter hanging: %v", password, err)
				}
			case <-time.After(time.Hour):
				t.Fatalf("sign-in with %q still waits for the limiter after an hour", password)
			}
		}
	})
}

func TestRetryAfterErrorCode(t *testing.T) {
	err := error(&boxoffice.RetryAfterError{Err: boxoffice.ErrRateLimited, RetryAfter: time.Second})
	if !errors.Is(err, boxoffice.ErrRateLimited) || boxoffice.CodeOf(err) != boxoffice.CodeRateLimited || !strings.Contains(err.Error(), "rate_limited") {
		t.Fatalf("RetryAfterError: Is=%v CodeOf=%q Error=%q", errors.Is(err, boxoffice.ErrRateLimited), boxoffice.CodeOf(err), err)
	}
}
