package boxoffice

import (
	"context"
	"errors"
	"time"
)

// CurrentCaller returns c, the caller an access token names, as its user
// now stands: with the user's current role. It returns ErrUnauthenticated
// when the token no longer stands (UserStanding.Admit). It costs a map
// lookup; a change made on any instance applies on every instance within
// about two StandingPollIntervals (see standings for what happens while
// the database does not answer).
func (s *Accounts) CurrentCaller(ctx context.Context, c Caller) (Caller, error) {
	return s.standings.check(ctx, c)
}

// StandingsFresh reports whether access tokens are checked against this
// instance's map of recently changed users: false before its first read
// and once reads have failed for longer than the access-token lifetime,
// when every token is checked against the store instead.
func (s *Accounts) StandingsFresh() bool { return !s.standings.stale.Load() }

// UserChange is an admin's change to a user; nil fields stay as they are.
type UserChange struct {
	Role     *Role
	Disabled *bool
}

// ChangeUser lets an admin change a user's role or disable (or enable)
// them, on every instance within about two StandingPollIntervals: a new
// role applies to the user's current tokens (a demoted admin is answered
// 403 on admin routes), disabling ends them (401). It returns ErrForbidden
// for a caller who is not an admin, a *ValidationError for an unknown
// role, ErrInvalidState when admins would demote or disable themselves (so
// that the last admin cannot lock everyone out), or ErrNotFound.
func (s *Accounts) ChangeUser(ctx context.Context, c Caller, id string, ch UserChange) (*User, error) {
	if !c.IsAdmin() {
		return nil, ErrForbidden
	}
	if ch.Role != nil && *ch.Role != RoleUser && *ch.Role != RoleAdmin {
		v := &ValidationError{}
		v.Add("role", "must be user or admin")
		return nil, v
	}
	if id == c.UserID && (ch.Role != nil && *ch.Role != RoleAdmin || ch.Disabled != nil && *ch.Disabled) {
		return nil, Errorf(CodeInvalidState, "admins cannot demote or disable themselves")
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	now := s.clock()
	return s.changeStanding(ctx, id, func(u *User) {
		role, disabled := u.Role, u.Disabled
		if ch.Role != nil {
			role = *ch.Role
		}
		if ch.Disabled != nil {
			disabled = *ch.Disabled
		}
		u.ChangeStanding(role, disabled, false, now)
	})
}

// SignOutEverywhere ends every access and refresh token of the caller, on
// every instance within about two StandingPollIntervals.
func (s *Accounts) SignOutEverywhere(ctx context.Context, c Caller) error {
	now := s.clock()
	_, err := s.changeStanding(ctx, c.UserID, func(u *User) { u.ChangeStanding(u.Role, u.Disabled, true, now) })
	return err
}

// changeStanding writes change's change of the user and applies it here at
// once.
func (s *Accounts) changeStanding(ctx context.Context, id string, change func(*User)) (*User, error) {
	u, err := s.store.UpdateUser(ctx, id, func(u *User) error { change(u); return nil })
	if err != nil {
		return nil, err
	}
	s.standings.note(StandingOf(u))
	return u, nil
}

// NewRefreshToken starts a family of refresh tokens for u, who has just
// signed in, and returns the secret of its first token.
func (s *Accounts) NewRefreshToken(ctx context.Context, u *User) (string, error) {
	t, secret := newRefreshToken(u, NewID(), s.clock(), s.refreshTTL)
	if err := s.store.CreateRefreshToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// Refresh exchanges a refresh token for its successor: it returns the user
// as they stand now (to issue a new access token for) and the successor's
// secret. The presented token works once. It returns ErrRefreshTokenInvalid
// for a token that is unknown, expired, ended, or whose user was disabled
// or signed out everywhere; presenting a token that was exchanged already
// also ends every token of its family (someone holds a copy).
func (s *Accounts) Refresh(ctx context.Context, token string) (*User, string, error) {
	if len(token) != refreshSecretLen {
		return nil, "", ErrRefreshTokenInvalid
	}
	now := s.clock()
	var secret string
	u, err := s.store.RotateRefreshToken(ctx, refreshHash(token), func(t *RefreshToken, u *User) (RefreshRotation, error) {
		var next *RefreshToken
		next, secret = newRefreshToken(u, t.FamilyID, now, s.refreshTTL)
		return refreshStep(t, u, next, now)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, "", ErrRefreshTokenInvalid
	}
	if err != nil {
		return nil, "", err
	}
	return u, secret, nil
}

// refreshPurgeInterval is how often expired refresh tokens are deleted.
const refreshPurgeInterval = time.Hour

// Run keeps this instance's standings current (polling the users changed
// on any instance every StandingPollInterval) and deletes expired refresh
// tokens, until ctx is done.
func (s *Accounts) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.standings.run(ctx)
	}()
	t := time.NewTicker(refreshPurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, time.Minute)
			if _, err := s.store.PurgeRefreshTokens(pctx, s.clock()); err != nil && ctx.Err() == nil {
				s.log.Warn("purging expired refresh tokens", "err", err)
			}
			cancel()
		}
	}
}
