package boxoffice_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
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

// failingCounter is a RateCounter whose backend is away.
type failingCounter struct{ calls atomic.Int64 }

func (f *failingCounter) Add(context.Context, []boxoffice.Hit) error {
	f.calls.Add(1)
	return errors.New("redis is away")
}
func (f *failingCounter) Reset(context.Context, ...string) error { return errors.New("redis is away") }

var (
	owner    = boxoffice.Caller{Addr: netip.MustParseAddr("198.51.100.7")}
	attacker = boxoffice.Caller{Addr: netip.MustParseAddr("203.0.113.9")}
)

// retryAfter returns err's RetryAfter, failing unless err is a
// *RetryAfterError.
func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var ra *boxoffice.RetryAfterError
	if !errors.Is(err, boxoffice.ErrRateLimited) || !errors.As(err, &ra) {
		t.Fatalf("%v, want a *RetryAfterError (ErrRateLimited)", err)
	}
	return ra.RetryAfter
}

// TestSignInCannotLockOutTheOwner runs in a synctest bubble: the counters'
// windows are on the bubble's fake clock, which stands still while bcrypt
// and SQLite work, so the waits are exact and cost no real time.
func TestSignInCannotLockOutTheOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		hasher := &countingHasher{PasswordHasher: auth.NewHasher(4, 0, 0, 0)}
		limits := boxoffice.DefaultRateLimits()
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: hasher,
			Limits: boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil),
		})
		if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		guess := func(c boxoffice.Caller, email string) error {
			_, err := svc.Authenticate(ctx, c, email, "wrong-password")
			return err
		}
		right := func(c boxoffice.Caller) error {
			_, err := svc.Authenticate(ctx, c, "ann@example.com", "stage-door-123")
			return err
		}

		// 5 guesses a minute from one address at one email (in any case),
		// then that address waits for the minute to end.
		for i := range 5 {
			email := "ann@example.com"
			if i%2 == 1 {
				email = "ANN@Example.COM"
			}
			if err := guess(attacker, email); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
				t.Fatalf("guess %d: %v", i+1, err)
			}
		}
		compares := hasher.compares.Load()
		if d := retryAfter(t, guess(attacker, "ann@example.com")); d != time.Minute {
			t.Fatalf("6th guess: retry after %v, want 1m", d)
		}
		if hasher.compares.Load() != compares {
			t.Fatal("a throttled sign-in compared a password")
		}
		// The owner, from their own address, signs in all along.
		if err := right(owner); err != nil {
			t.Fatalf("owner while the attacker is throttled: %v", err)
		}

		// The waits grow: 20 guesses an hour, then the hour must end.
		for range 3 {
			time.Sleep(time.Minute)
			for range 5 {
				if err := guess(attacker, "ann@example.com"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
					t.Fatalf("guess after the minute: %v", err)
				}
			}
		}
		time.Sleep(time.Minute)
		if d := retryAfter(t, guess(attacker, "ann@example.com")); d != 56*time.Minute {
			t.Fatalf("21st guess: retry after %v, want the 56 min left of the hour", d)
		}
		if err := right(owner); err != nil {
			t.Fatalf("owner after 20 guesses from elsewhere: %v", err)
		}

		// Spreading guesses over emails meets the address's budget.
		for i := range 300 - 20 {
			if err := guess(attacker, "someone"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+"@example.com"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
				t.Fatalf("spread guess %d: %v", i+1, err)
			}
		}
		retryAfter(t, guess(attacker, "nobody@example.com"))
		if err := right(owner); err != nil {
			t.Fatalf("owner after the attacker's address ran out: %v", err)
		}
	})
}

// TestSignInSuccessForgetsItsFailures: a success forgets the failures of
// its (address, email), not the address's failures as other emails.
func TestSignInSuccessForgetsItsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		limits := boxoffice.DefaultRateLimits()
		limits.Set(boxoffice.SignInFailuresPerAddress, boxoffice.Limit{Max: 6, Window: time.Hour})
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
			Limits: boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil),
		})
		if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			_, _ = svc.Authenticate(ctx, owner, "ann@example.com", "wrong-password")
		}
		if _, err := svc.Authenticate(ctx, owner, "ann@example.com", "stage-door-123"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := svc.Authenticate(ctx, owner, "bob@example.com", "wrong-password"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
				t.Fatalf("guess at bob: %v", err)
			}
		}
		// 6 failures from the address in all: its budget is spent.
		retryAfter(t, func() error { _, err := svc.Authenticate(ctx, owner, "carl@example.com", "x"); return err }())
	})
}

// TestLimiterFallsBackToLocal: while the shared counter fails, the limits
// hold in process (logged once), rather than going away.
func TestLimiterFallsBackToLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		var logs bytes.Buffer
		shared := &failingCounter{}
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
			Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), shared, memory.NewRateCounter(0),
				slog.New(slog.NewTextHandler(&logs, nil))),
		})
		if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := svc.Authenticate(ctx, attacker, "ann@example.com", "wrong-password"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
		if _, err := svc.Authenticate(ctx, attacker, "ann@example.com", "stage-door-123"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("6th attempt with the shared counter away: %v, want ErrRateLimited", err)
		}
		if _, err := svc.Authenticate(ctx, owner, "ann@example.com", "stage-door-123"); err != nil {
			t.Fatalf("owner with the shared counter away: %v", err)
		}
		if shared.calls.Load() == 0 {
			t.Fatal("the shared counter was never asked")
		}
		if n := strings.Count(logs.String(), "shared rate limits failed"); n != 1 {
			t.Fatalf("logged the failure %d times, want once:\n%s", n, logs.String())
		}
	})
}

func TestSignUpLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		limits := boxoffice.DefaultRateLimits()
		limits.Set(boxoffice.SignUpFleet, boxoffice.Limit{Max: 26, Window: time.Minute}) // the refused 21st counts too
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
			Limits: boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil),
		})
		signUp := func(c boxoffice.Caller, i int) error {
			_, err := svc.SignUp(ctx, c, boxoffice.SignUp{Email: "fan" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "@example.com", Password: "stage-door-123", Name: "Fan"})
			return err
		}
		for i := range 20 {
			if err := signUp(attacker, i); err != nil {
				t.Fatalf("sign-up %d: %v", i+1, err)
			}
		}
		if d := retryAfter(t, signUp(attacker, 20)); d != time.Hour {
			t.Fatalf("21st sign-up from one address: retry after %v, want 1h", d)
		}
		// An IPv6 client counts by its /64.
		v6 := func(s string) boxoffice.Caller { return boxoffice.Caller{Addr: netip.MustParseAddr(s)} }
		for i := range 5 {
			if err := signUp(v6("2001:db8:1:2::"+string(rune('1'+i))), 100+i); err != nil {
				t.Fatalf("IPv6 sign-up %d: %v", i+1, err)
			}
		}
		// The fleet's cap (26 a minute here) is reached by now.
		retryAfter(t, signUp(owner, 200))
		// The command line (no address) is not limited by address.
		time.Sleep(time.Minute)
		if err := signUp(boxoffice.Caller{}, 300); err != nil {
			t.Fatalf("sign-up without an address: %v", err)
		}
	})
}

// BenchmarkHoldLimit measures the hold path's limit check in process: two
// counters (address and user), the keys built per request; "allowed" never
// reaches the limits, "refused" is over them nearly always.
func BenchmarkHoldLimit(b *testing.B) {
	high := boxoffice.DefaultRateLimits()
	high.Set(boxoffice.HoldPerAddress, boxoffice.Limit{Max: 1e9, Window: time.Minute})
	high.Set(boxoffice.HoldPerUser, boxoffice.Limit{Max: 1e9, Window: time.Minute})
	b.Run("allowed", func(b *testing.B) { benchmarkHoldLimit(b, high) })
	b.Run("refused", func(b *testing.B) { benchmarkHoldLimit(b, boxoffice.DefaultRateLimits()) })
}

func benchmarkHoldLimit(b *testing.B, limits boxoffice.RateLimits) {
	l := boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil)
	callers := make([]boxoffice.Caller, 10_000)
	for i := range callers {
		callers[i] = boxoffice.Caller{UserID: boxoffice.NewID(), Addr: netip.AddrFrom4([4]byte{10, 0, byte(i / 256 % 4), byte(i)})}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = l.Hold(context.Background(), callers[i%len(callers)])
			i++
		}
	})
}

// hangingCounter is a shared RateCounter whose backend never answers: each
// call waits for its context, or for stop.
type hangingCounter struct{ stop chan struct{} }

func (c hangingCounter) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errors.New("the test is over")
	}
}

func (c hangingCounter) Add(ctx context.Context, _ []boxoffice.Hit) error { return c.wait(ctx) }
func (c hangingCounter) Reset(ctx context.Context, _ ...string) error     { return c.wait(ctx) }

// TestSignInRateLimiterHangs: shared limits that never answer delay a
// sign-in by their deadlines only, also when the caller has none (failures
// are counted on a context detached from the request's), and the limits are
// then counted in process. On the bubble's fake clock an hour passes at once
// if the sign-in waits for good.
func TestSignInRateLimiterHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shared := hangingCounter{stop: make(chan struct{})}
		defer close(shared.stop)
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
			Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), shared, memory.NewRateCounter(0), nil),
		})
		if _, err := svc.SignUp(t.Context(), owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		for _, password := range []string{"wrong-password", "stage-door-123"} {
			done := make(chan error, 1)
			go func() {
				_, err := svc.Authenticate(context.Background(), owner, "ann@example.com", password)
				done <- err
			}()
			select {
			case err := <-done:
				if want := password == "wrong-password"; errors.Is(err, boxoffice.ErrInvalidCredentials) != want {
					t.Fatalf("sign-in with %q and the shared limits hanging: %v", password, err)
				}
			case <-time.After(time.Hour):
				t.Fatalf("sign-in with %q still waits for the shared limits after an hour", password)
			}
		}
	})
}
