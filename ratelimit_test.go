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

// laneHasher counts the password comparisons of the hasher it wraps, per
// lane.
type laneHasher struct {
	boxoffice.PasswordHasher
	pool, reserved atomic.Int64
}

func (h *laneHasher) Compare(ctx context.Context, hash []byte, password string) error {
	h.pool.Add(1)
	return h.PasswordHasher.Compare(ctx, hash, password)
}

func (h *laneHasher) CompareReserved(ctx context.Context, hash []byte, password string) error {
	h.reserved.Add(1)
	return h.PasswordHasher.CompareReserved(ctx, hash, password)
}

// TestSignInAttemptsInFlightCount: guesses sent at once from one address
// at one email get at most the limit's bcrypt checks, because each is
// counted before its password is checked; the others are answered 429.
func TestSignInAttemptsInFlightCount(t *testing.T) {
	ctx := t.Context()
	// Room for every guess in the pool, so only the limits refuse.
	hasher := &countingHasher{PasswordHasher: auth.NewHasher(4, 2, 64, time.Minute)}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: hasher,
		Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), nil, memory.NewRateCounter(0), nil),
	})
	if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	const guesses = 40
	errs := make(chan error, guesses)
	start := make(chan struct{})
	for range guesses {
		go func() {
			<-start
			_, err := svc.Authenticate(ctx, attacker, "ann@example.com", "wrong-password")
			errs <- err
		}()
	}
	close(start)
	var invalid, limited int
	for range guesses {
		switch err := <-errs; {
		case errors.Is(err, boxoffice.ErrInvalidCredentials):
			invalid++
		case errors.Is(err, boxoffice.ErrRateLimited):
			retryAfter(t, err)
			limited++
		default:
			t.Fatalf("guess: %v", err)
		}
	}
	if n := hasher.compares.Load(); invalid != 5 || limited != guesses-5 || n != 5 {
		t.Fatalf("%d guesses at once: %d checked (%d compares), %d refused; want 5 checked, the rest refused", guesses, invalid, n, limited)
	}
	// A refused attempt counts nothing: the owner signs in from elsewhere,
	// and the attacker's address waits out the same minute.
	if _, err := svc.Authenticate(ctx, owner, "ann@example.com", "stage-door-123"); err != nil {
		t.Fatal(err)
	}
}

// TestSignInAttemptNotCheckedIsTakenBack: an attempt the hashers refuse
// (the pool is full) does not count as a failure.
func TestSignInAttemptNotCheckedIsTakenBack(t *testing.T) {
	ctx := t.Context()
	limits := boxoffice.DefaultRateLimits()
	limits.Set(boxoffice.SignInFailuresPerAddressEmail, boxoffice.Limit{Max: 1, Window: time.Hour})
	hasher := &busyHasher{PasswordHasher: auth.NewHasher(4, 0, 0, 0)}
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: hasher,
		Limits: boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil),
	})
	if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	hasher.busy.Store(true)
	for range 3 {
		if _, err := svc.Authenticate(ctx, owner, "ann@example.com", "stage-door-123"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("while busy: %v, want ErrRateLimited", err)
		}
	}
	hasher.busy.Store(false)
	if _, err := svc.Authenticate(ctx, owner, "ann@example.com", "stage-door-123"); err != nil {
		t.Fatalf("after the busy spell: %v", err)
	}
}

// busyHasher refuses every comparison in the pool while busy.
type busyHasher struct {
	boxoffice.PasswordHasher
	busy atomic.Bool
}

func (h *busyHasher) Compare(ctx context.Context, hash []byte, password string) error {
	if h.busy.Load() {
		return boxoffice.ErrRateLimited
	}
	return h.PasswordHasher.Compare(ctx, hash, password)
}

func (h *busyHasher) Saturated() bool { return h.busy.Load() }

// TestSignInWithDeviceToken: a sign-in hands out a device token; with it,
// the owner's password is checked in the reserved lane and its failures
// count per device; any other token counts as none.
func TestSignInWithDeviceToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		hasher := &laneHasher{PasswordHasher: auth.NewHasher(4, 0, 0, 0)}
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: hasher,
			Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), nil, memory.NewRateCounter(0), nil),
		})
		ann, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "bob@example.com", Password: "stage-door-456", Name: "Bob"}); err != nil {
			t.Fatal(err)
		}
		signIn := func(c boxoffice.Caller, email, password, device string) (*boxoffice.SignedIn, error) {
			return svc.SignIn(ctx, c, boxoffice.Credentials{Email: email, Password: password, DeviceToken: device})
		}
		// lane returns which lane the next sign-in's password was checked
		// in.
		lane := func(f func()) string {
			p, r := hasher.pool.Load(), hasher.reserved.Load()
			f()
			switch {
			case hasher.reserved.Load() > r && hasher.pool.Load() == p:
				return "reserved"
			case hasher.pool.Load() > p && hasher.reserved.Load() == r:
				return "pool"
			case hasher.pool.Load() == p && hasher.reserved.Load() == r:
				return "none"
			}
			return "both"
		}

		var first *boxoffice.SignedIn
		if got := lane(func() { first, err = signIn(owner, "ann@example.com", "stage-door-123", "") }); err != nil || got != "pool" {
			t.Fatalf("first sign-in: %v in %s", err, got)
		}
		if first.DeviceToken == "" {
			t.Fatal("no device token")
		}
		annToken := first.DeviceToken
		bob, err := signIn(owner, "bob@example.com", "stage-door-456", "")
		if err != nil {
			t.Fatal(err)
		}

		// With the token, from anywhere: the reserved lane, and a fresh
		// token for the same device.
		var again *boxoffice.SignedIn
		if got := lane(func() { again, err = signIn(attacker, "ANN@example.com", "stage-door-123", annToken) }); err != nil || got != "reserved" {
			t.Fatalf("with the device token: %v in %s", err, got)
		}
		if again.DeviceToken == "" || again.User.ID != ann.ID {
			t.Fatalf("signed in as %+v", again)
		}

		// Other tokens count as none: the pool, and the same answers.
		for _, tc := range []struct{ name, token string }{
			{"another account's", bob.DeviceToken},
			{"forged", annToken[:len(annToken)-2] + "AA"},
			{"garbage", "not a token"},
		} {
			if got := lane(func() { _, err = signIn(owner, "ann@example.com", "stage-door-123", tc.token) }); err != nil || got != "pool" {
				t.Errorf("%s token: %v in %s, want a sign-in in the pool", tc.name, err, got)
			}
		}

		// A stolen token's guesses count per device: 5 a minute in the
		// reserved lane, then the token counts as none (and the address's
		// limits apply).
		thief := boxoffice.Caller{Addr: netip.MustParseAddr("192.0.2.1")}
		for i := range 5 {
			from := boxoffice.Caller{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})}
			if got := lane(func() { _, err = signIn(from, "ann@example.com", "guess", annToken) }); !errors.Is(err, boxoffice.ErrInvalidCredentials) || got != "reserved" {
				t.Fatalf("stolen-token guess %d: %v in %s", i+1, err, got)
			}
		}
		if got := lane(func() { _, err = signIn(thief, "ann@example.com", "guess", annToken) }); !errors.Is(err, boxoffice.ErrInvalidCredentials) || got != "pool" {
			t.Fatalf("6th stolen-token guess: %v in %s, want a failure in the pool", err, got)
		}
		// The owner, with a new device token from the pool, is unaffected.
		if _, err := signIn(owner, "ann@example.com", "stage-door-123", ""); err != nil {
			t.Fatal(err)
		}
		// After the minute the device is back in its lane, and a success
		// forgets its failures.
		time.Sleep(time.Minute)
		if got := lane(func() { _, err = signIn(owner, "ann@example.com", "stage-door-123", annToken) }); err != nil || got != "reserved" {
			t.Fatalf("after the minute: %v in %s", err, got)
		}

		// Signing out everywhere ends every device token.
		if err := svc.SignOutEverywhere(ctx, boxoffice.Caller{UserID: ann.ID}); err != nil {
			t.Fatal(err)
		}
		if got := lane(func() { _, err = signIn(owner, "ann@example.com", "stage-door-123", annToken) }); err != nil || got != "pool" {
			t.Fatalf("after signing out everywhere: %v in %s, want the pool", err, got)
		}
	})
}

// TestDeviceLaneBudgetPerAccount: each account has a budget of checks in
// the reserved lane, successes too, so that signing in to accounts of
// one's own cannot keep the lane full; past it the token counts as none.
func TestDeviceLaneBudgetPerAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		limits := boxoffice.DefaultRateLimits()
		limits.Set(boxoffice.SignInDeviceLanePerUser, boxoffice.Limit{Max: 2, Window: time.Hour})
		hasher := &laneHasher{PasswordHasher: auth.NewHasher(4, 0, 0, 0)}
		svc := boxoffice.NewService(boxoffice.ServiceConfig{
			Store: testdb.SQLite(t), Hasher: hasher,
			Limits: boxoffice.NewLimiter(limits, nil, memory.NewRateCounter(0), nil),
		})
		if _, err := svc.SignUp(ctx, owner, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
			t.Fatal(err)
		}
		in, err := svc.SignIn(ctx, owner, boxoffice.Credentials{Email: "ann@example.com", Password: "stage-door-123"})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int64{1, 2, 2} {
			if _, err := svc.SignIn(ctx, owner, boxoffice.Credentials{Email: "ann@example.com", Password: "stage-door-123", DeviceToken: in.DeviceToken}); err != nil {
				t.Fatalf("sign-in %d: %v", i+1, err)
			}
			if got := hasher.reserved.Load(); got != want {
				t.Fatalf("after sign-in %d with the device token: %d checks in the lane, want %d", i+1, got, want)
			}
		}
		time.Sleep(time.Hour)
		if _, err := svc.SignIn(ctx, owner, boxoffice.Credentials{Email: "ann@example.com", Password: "stage-door-123", DeviceToken: in.DeviceToken}); err != nil || hasher.reserved.Load() != 3 {
			t.Fatalf("after the hour: %v, %d checks in the lane; want the lane again", err, hasher.reserved.Load())
		}
	})
}
