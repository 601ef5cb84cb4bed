package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Accounts is the account aggregate: sign-up, sign-in (with its rate limit)
// and the bootstrap admin. It is safe for concurrent use.
type Accounts struct {
	store  Store
	hasher PasswordHasher
	limits *Limiter
	log    *slog.Logger
	now    func() time.Time
	// outbox is woken when a mail is written; publicURL is where the
	// mailed links point.
	outbox    *Outbox
	publicURL string
	// standings checks access tokens against their users' current
	// standing; refreshTTL is how long a refresh token lives.
	standings  *standings
	refreshTTL time.Duration

	// devices issues and reads device tokens.
	devices *deviceSigner

	dummyOnce sync.Once
	dummyHash []byte
}

func (s *Accounts) clock() time.Time { return normTime(s.now()) }

// SignUp creates a user with role user for c (whose address counts) and,
// in the same transaction, the mail with the code that verifies their
// email. It returns a *ValidationError for bad input, ErrEmailTaken, a
// *RetryAfterError (ErrRateLimited) when c's address or the fleet has
// signed up too many accounts lately, or ErrRateLimited when the password
// hashers are busy.
func (s *Accounts) SignUp(ctx context.Context, c Caller, in SignUp) (*User, error) {
	if err := validateSignUp(&in); err != nil {
		return nil, err
	}
	if err := s.limits.SignUp(ctx, c); err != nil {
		return nil, err
	}
	if s.hasher.Saturated() {
		return nil, ErrRateLimited
	}
	if _, err := s.store.UserByEmail(ctx, in.Email); err == nil {
		return nil, ErrEmailTaken // answer before spending a hash on it
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := &User{ID: NewID(), Email: in.Email, Name: in.Name, Role: RoleUser, PasswordHash: hash, CreatedAt: s.clock()}
	if err := s.store.CreateUser(ctx, u, s.verificationFor(u)); err != nil {
		return nil, err
	}
	s.outbox.wake()
	return u, nil
}

// Credentials are what a sign-in presents: an email and a password and,
// optionally, the device token from an earlier sign-in on this device.
type Credentials struct {
	Email       string
	Password    string
	DeviceToken string
}

// SignedIn is a successful sign-in: the user, and the device token to
// present next time (see devices.go).
type SignedIn struct {
	User        *User
	DeviceToken string
}

// Authenticate is SignIn without a device token, for callers that have
// none to give and want none back.
func (s *Accounts) Authenticate(ctx context.Context, c Caller, email, password string) (*User, error) {
	in, err := s.SignIn(ctx, c, Credentials{Email: email, Password: password})
	if err != nil {
		return nil, err
	}
	return in.User, nil
}

// SignIn returns the user with the email and password, signing in from c's
// address, and a device token for next time; or ErrInvalidCredentials (the
// same for an unknown email and a wrong password), or ErrRateLimited when
// the password hashers are busy.
//
// Failures are counted per (address, email) and per address, never per
// email alone, so that nobody can lock an owner out of their account from
// elsewhere: an address with too many recent failures as this email, or at
// all, gets a *RetryAfterError (ErrRateLimited) before any lookup or
// hashing. Each attempt is counted before its password is checked, so that
// guesses in flight at once cannot overrun the limits; a success forgets
// the failures of its (address, email) and takes its own attempt back.
//
// A device token issued to this account at its current token version, and
// whose device has not failed too often lately, takes the device's lane
// instead: its failures are counted per device (and no address limit
// applies), and its password is checked in the hashers' reserved lane, so
// that guesses from others, however many and from however many addresses,
// do not shut the owner out. Each account has a budget of checks in that
// lane (SignInDeviceLanePerUser, successes too), so that holders of
// accounts of their own cannot keep it full by signing in to them. Any
// other token (unknown, forged, expired, another account's, from before a
// sign-out everywhere, a device over its limits, an account over its
// budget) is treated as none; it is never an error.
func (s *Accounts) SignIn(ctx context.Context, c Caller, in Credentials) (*SignedIn, error) {
	email, password := strings.TrimSpace(in.Email), in.Password
	if email == "" || password == "" || len(email) > 254 || len(password) > 128 {
		return nil, ErrInvalidCredentials
	}
	var known *User
	lookedUp := false
	if d, ok := s.devices.parse(in.DeviceToken, s.clock()); ok && s.limits.SignInAttempt(ctx, c, email, d.ID) == nil {
		// The attempt stays counted against the device unless the token
		// turns out good for this account and the check is not made: a
		// device token is good for one account, so presenting it with
		// others is a failure of its own.
		u, err := s.store.UserByEmail(ctx, email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			s.limits.SignInNotChecked(context.WithoutCancel(ctx), c, email, d.ID)
			return nil, err
		}
		known, lookedUp = u, true
		if d.validFor(u) {
			if s.limits.SignInLane(ctx, u.ID) == nil {
				return s.signInDevice(ctx, c, email, password, u, d)
			}
			s.limits.SignInNotChecked(context.WithoutCancel(ctx), c, email, d.ID)
		}
	}

	if err := s.limits.SignInAttempt(ctx, c, email, ""); err != nil {
		return nil, err
	}
	u, err := s.authenticate(ctx, email, password, known, lookedUp)
	// End the attempt even when the client has gone away: a guess that was
	// checked stays counted.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limiterTimeout)
	defer cancel()
	switch {
	case err == nil:
		s.limits.SignInSucceeded(lctx, c, email, "")
		return &SignedIn{User: u, DeviceToken: s.devices.issue("", u, s.clock())}, nil
	case !errors.Is(err, ErrInvalidCredentials):
		s.limits.SignInNotChecked(lctx, c, email, "")
	}
	return nil, err
}

// signInDevice checks the password of u, for whom device d presented a
// valid token, in the reserved lane; the device's attempt is counted.
func (s *Accounts) signInDevice(ctx context.Context, c Caller, email, password string, u *User, d device) (*SignedIn, error) {
	err := s.hasher.CompareReserved(ctx, u.PasswordHash, password)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limiterTimeout)
	defer cancel()
	switch {
	case err == nil:
		s.limits.SignInSucceeded(lctx, c, email, d.ID)
		return &SignedIn{User: u, DeviceToken: s.devices.issue(d.ID, u, s.clock())}, nil
	case !errors.Is(err, ErrInvalidCredentials):
		s.limits.SignInNotChecked(lctx, c, email, d.ID)
	}
	return nil, err
}

// limiterTimeout bounds each call to a shared RateCounter: one that does
// not answer in time counts as failed (the Limiter then counts in process),
// and the request goes on.
const limiterTimeout = time.Second

// authenticate checks email and password in the hashers' shared pool. When
// lookedUp, known is the user with the email (nil: none).
func (s *Accounts) authenticate(ctx context.Context, email, password string, known *User, lookedUp bool) (*User, error) {
	if s.hasher.Saturated() {
		return nil, ErrRateLimited // shed before spending a database lookup
	}
	u, err := known, error(nil)
	if !lookedUp {
		u, err = s.store.UserByEmail(ctx, email)
	}
	if u == nil && err == nil || errors.Is(err, ErrNotFound) {
		// Spend the same time as for a wrong password, so response times
		// do not reveal which emails have accounts.
		if err := s.hasher.Compare(ctx, s.dummy(ctx), password); errors.Is(err, ErrRateLimited) {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := s.hasher.Compare(ctx, u.PasswordHash, password); err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, ErrInvalidCredentials // the same answer, after the same work
	}
	return u, nil
}

func (s *Accounts) dummy(ctx context.Context) []byte {
	s.dummyOnce.Do(func() {
		h, err := s.hasher.Hash(context.WithoutCancel(ctx), "boxoffice-dummy-password")
		if err == nil {
			s.dummyHash = h
		}
	})
	return s.dummyHash
}

// User returns the user with the given id, or ErrNotFound.
func (s *Accounts) User(ctx context.Context, id string) (*User, error) {
	return s.store.User(ctx, id)
}

// EnsureAdmin creates the admin with this email and password, or makes the
// existing user with this email an enabled admin with this password
// (User.ChangeStanding). It returns a
// *ValidationError for an invalid email or password.
func (s *Accounts) EnsureAdmin(ctx context.Context, email, password, name string) (*User, error) {
	if name == "" {
		name = "Administrator"
	}
	in := SignUp{Email: email, Password: password, Name: name}
	if err := validateSignUp(&in); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	// The operator vouches for the admin's email.
	u, err := s.store.UpsertAdmin(ctx, &User{ID: NewID(), Email: in.Email, Name: in.Name, Role: RoleAdmin, PasswordHash: hash,
		EmailVerified: true, CreatedAt: s.clock()})
	if err != nil {
		return nil, err
	}
	s.standings.note(StandingOf(u))
	return u, nil
}
