package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// UserStanding is what decides whether a user's access tokens still stand:
// the user's role, token version and whether the account is disabled, and
// when one of these last changed.
type UserStanding struct {
	UserID       string
	Role         Role
	TokenVersion int64
	Disabled     bool
	ChangedAt    time.Time
}

// StandingOf returns u's standing.
func StandingOf(u *User) UserStanding {
	return UserStanding{UserID: u.ID, Role: u.Role, TokenVersion: u.TokenVersion, Disabled: u.Disabled, ChangedAt: u.ChangedAt}
}

// Admit returns c as the user now stands, with the user's current role (a
// demoted admin is a user at once). It returns ErrUnauthenticated when the
// user is disabled or c's token was issued for another token version (the
// user signed out everywhere, reset their password, or an admin changed
// their role or disabled them).
func (s UserStanding) Admit(c Caller) (Caller, error) {
	if s.Disabled || c.TokenVersion != s.TokenVersion {
		return Caller{}, ErrUnauthenticated
	}
	c.Role = s.Role
	return c, nil
}

// ChangeStanding gives u the role and disabled state at now. A new role
// applies to u's tokens as they are (the role a token carries is not
// believed: UserStanding.Admit takes the current one), so a demoted admin
// keeps their session as a user. Disabling or enabling u, or endSessions,
// ends all of u's tokens: TokenVersion grows by one. Any change sets
// ChangedAt to now. It reports whether u changed. Every change of a user's
// role, disabled state or token version goes through it.
func (u *User) ChangeStanding(role Role, disabled, endSessions bool, now time.Time) bool {
	if u.Role == role && u.Disabled == disabled && !endSessions {
		return false
	}
	if u.Disabled != disabled || endSessions {
		u.TokenVersion++
	}
	u.Role, u.Disabled = role, disabled
	u.ChangedAt = now
	return true
}

// newer reports whether s is a later standing of its user than old.
func (s UserStanding) newer(old UserStanding) bool {
	return s.TokenVersion > old.TokenVersion || s.TokenVersion == old.TokenVersion && !s.ChangedAt.Before(old.ChangedAt)
}

// Timing of the standings every instance keeps.
const (
	// StandingPollInterval is how often an instance reads the users
	// changed since its last read. A revocation takes effect on every
	// instance within about this, plus the read's own time.
	StandingPollInterval = time.Second
	// standingOverlap is how far back each read reaches before the start
	// of the last good one, so that a change stamped by a clock this much
	// behind, or committed this much after it was stamped, is not missed.
	standingOverlap = 5 * time.Second
	// standingPollTimeout bounds each read.
	standingPollTimeout = 2 * time.Second
)

// standings is this instance's view of the users whose standing changed
// within the access-token lifetime, so that checking a token costs a map
// lookup, not a database read: a user in it must match it, a user not in
// it has not changed since any unexpired token was issued. A background
// poll (run) reads the changes of all instances every
// StandingPollInterval; changes made here are noted at once.
//
// While polls fail it keeps what it has. Once no poll has worked for
// longer than the access-token lifetime (or before the first poll), it is
// stale: every check then reads the user from the store, and a store that
// does not answer fails the request rather than trusting the token.
type standings struct {
	store    Store
	log      *slog.Logger
	now      func() time.Time
	tokenTTL time.Duration
	interval time.Duration

	recent atomic.Pointer[map[string]UserStanding]
	stale  atomic.Bool
	mu     sync.Mutex // serializes writers of recent
}

func newStandings(store Store, log *slog.Logger, now func() time.Time, tokenTTL, interval time.Duration) *standings {
	s := &standings{store: store, log: log, now: now, tokenTTL: tokenTTL, interval: interval}
	s.recent.Store(&map[string]UserStanding{})
	s.stale.Store(true)
	return s
}

// check returns c as its user now stands (UserStanding.Admit): from the
// map of recent changes, or from the store while the map is stale.
func (s *standings) check(ctx context.Context, c Caller) (Caller, error) {
	if !s.stale.Load() {
		if st, ok := (*s.recent.Load())[c.UserID]; ok {
			return st.Admit(c)
		}
		return c, nil
	}
	u, err := s.store.User(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Caller{}, ErrUnauthenticated
	}
	if err != nil {
		return Caller{}, err
	}
	return StandingOf(u).Admit(c)
}

// note records standings changed by this instance, so that they apply
// here at once, before the next poll.
func (s *standings) note(sts ...UserStanding) {
	s.merge(sts, time.Time{})
}

// merge adds sts to the map, each unless the map has a later standing of
// the user, and, when pruneBefore is not zero, drops the users changed
// before it. The map is copied only when that changes it: each poll reads
// the last few seconds' changes again.
func (s *standings) merge(sts []UserStanding, pruneBefore time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.recent.Load()
	stale := func(st UserStanding) bool { return !pruneBefore.IsZero() && st.ChangedAt.Before(pruneBefore) }
	changes := false
	for _, st := range sts {
		if cur, ok := old[st.UserID]; !ok || st != cur && st.newer(cur) {
			changes = true
			break
		}
	}
	for _, st := range old {
		if changes {
			break
		}
		changes = stale(st)
	}
	if !changes {
		return
	}
	m := make(map[string]UserStanding, len(old)+len(sts))
	for id, st := range old {
		if !stale(st) {
			m[id] = st
		}
	}
	for _, st := range sts {
		if cur, ok := m[st.UserID]; !ok || st.newer(cur) {
			m[st.UserID] = st
		}
	}
	s.recent.Store(&m)
}

// run polls the store for changed users until ctx is done. The first poll
// reads the changes of the last access-token lifetime; each later one
// those since the start of the last good poll, less standingOverlap.
func (s *standings) run(ctx context.Context) {
	since := s.now().Add(-s.tokenTTL - standingOverlap)
	var lastOK time.Time
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		start := s.now()
		pctx, cancel := context.WithTimeout(ctx, standingPollTimeout)
		sts, err := s.store.UsersChangedSince(pctx, since)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("reading changed users failed; keeping the last known", "err", err)
			if !s.stale.Load() && start.Sub(lastOK) > s.tokenTTL {
				s.stale.Store(true)
				s.log.Error("changed users unread for longer than the access-token lifetime: checking every token against the database")
			}
		default:
			// Users changed before this were changed before every
			// unexpired token was issued: their tokens carry it.
			s.merge(sts, start.Add(-s.tokenTTL-standingOverlap))
			if s.stale.Swap(false) && !lastOK.IsZero() {
				s.log.Info("changed users read again; tokens are checked in memory")
			}
			since, lastOK = start.Add(-standingOverlap), start
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
