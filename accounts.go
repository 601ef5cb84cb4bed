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

// Authenticate returns the user with the email and password, signing in
// from c's address, or ErrInvalidCredentials (the same for an unknown email
// and a wrong password), or ErrRateLimited when the password hashers are
// busy. Failures are counted per (address, email) and per address, never
// per email alone, so that nobody can lock an owner out of their account
// from elsewhere: an address with too many recent failures as this email,
// or at all, gets a *RetryAfterError (ErrRateLimited) before any lookup or
// hashing, and a success forgets the failures of its (address, email).
func (s *Accounts) Authenticate(ctx context.Context, c Caller, email, password string) (*User, error) {
	email = strings.TrimSpace(email)
	if email == "" || password == "" || len(email) > 254 || len(password) > 128 {
		return nil, ErrInvalidCredentials
	}
	if err := s.limits.SignInAllowed(ctx, c, email); err != nil {
		return nil, err
	}
	u, err := s.authenticate(ctx, email, password)
	// Record even when the client has gone away, so that hanging up after
	// a wrong guess does not make it free.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limiterTimeout)
	defer cancel()
	switch {
	case err == nil:
		s.limits.SignInSucceeded(lctx, c, email)
	case errors.Is(err, ErrInvalidCredentials):
		s.limits.SignInFailed(lctx, c, email)
	}
	return u, err
}

// limiterTimeout bounds each call to a shared RateCounter: one that does
// not answer in time counts as failed (the Limiter then counts in process),
// and the request goes on.
const limiterTimeout = time.Second

func (s *Accounts) authenticate(ctx context.Context, email, password string) (*User, error) {
	if s.hasher.Saturated() {
		return nil, ErrRateLimited // shed before spending a database lookup
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
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
