package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestUserStandingAdmit(t *testing.T) {
	c := Caller{UserID: "U1", Role: RoleAdmin, TokenVersion: 2, EmailVerified: true}
	tests := []struct {
		name     string
		standing UserStanding
		want     Caller
		err      error
	}{
		{"unchanged", UserStanding{UserID: "U1", Role: RoleAdmin, TokenVersion: 2}, c, nil},
		{"demoted: the current role", UserStanding{UserID: "U1", Role: RoleUser, TokenVersion: 2},
			Caller{UserID: "U1", Role: RoleUser, TokenVersion: 2, EmailVerified: true}, nil},
		{"disabled", UserStanding{UserID: "U1", Role: RoleAdmin, TokenVersion: 2, Disabled: true}, Caller{}, ErrUnauthenticated},
		{"signed out everywhere", UserStanding{UserID: "U1", Role: RoleAdmin, TokenVersion: 3}, Caller{}, ErrUnauthenticated},
		{"a version from the future", UserStanding{UserID: "U1", Role: RoleAdmin, TokenVersion: 1}, Caller{}, ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.standing.Admit(c)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Admit = %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestChangeStanding(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		role        Role
		disabled    bool
		endSessions bool
		changed     bool
		version     int64
	}{
		{"nothing", RoleUser, false, false, false, 5},
		{"promoted: tokens stay, with the new role", RoleAdmin, false, false, true, 5},
		{"disabled: tokens end", RoleUser, true, false, true, 6},
		{"signed out everywhere", RoleUser, false, true, true, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &User{ID: "U1", Role: RoleUser, TokenVersion: 5}
			if got := u.ChangeStanding(tt.role, tt.disabled, tt.endSessions, at); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			if u.Role != tt.role || u.Disabled != tt.disabled || u.TokenVersion != tt.version {
				t.Errorf("user %+v, want role %s disabled %v version %d", u, tt.role, tt.disabled, tt.version)
			}
			if tt.changed != u.ChangedAt.Equal(at) {
				t.Errorf("ChangedAt = %v", u.ChangedAt)
			}
		})
	}
}

func TestRefreshStep(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Minute)
	fresh := func(f func(*RefreshToken, *User)) (*RefreshToken, *User) {
		tok := &RefreshToken{FamilyID: "F1", UserID: "U1", TokenVersion: 3, CreatedAt: earlier, ExpiresAt: now.Add(time.Hour)}
		u := &User{ID: "U1", Role: RoleUser, TokenVersion: 3}
		f(tok, u)
		return tok, u
	}
	next := &RefreshToken{FamilyID: "F1"}
	tests := []struct {
		name          string
		change        func(*RefreshToken, *User)
		rotate, ended bool
	}{
		{"live: rotates", func(*RefreshToken, *User) {}, true, false},
		{"exchanged before: the family ends", func(t *RefreshToken, _ *User) { t.RotatedAt = &earlier }, false, true},
		{"user disabled: the family ends", func(_ *RefreshToken, u *User) { u.Disabled = true }, false, true},
		{"signed out everywhere: the family ends", func(_ *RefreshToken, u *User) { u.TokenVersion = 4 }, false, true},
		{"expired", func(t *RefreshToken, _ *User) { t.ExpiresAt = now }, false, false},
		{"family ended", func(t *RefreshToken, _ *User) { t.RevokedAt = &earlier }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, u := fresh(tt.change)
			r, err := refreshStep(tok, u, next, now)
			if tt.rotate != (err == nil) || tt.rotate != (r.Next == next && r.RotatedAt != nil && r.RotatedAt.Equal(now)) {
				t.Errorf("rotation %+v, %v; want a rotation: %v", r, err, tt.rotate)
			}
			if err != nil && !errors.Is(err, ErrRefreshTokenInvalid) {
				t.Errorf("error %v", err)
			}
			if tt.ended != (r.RevokeFamilyAt != nil) {
				t.Errorf("family ended: %v, want %v", r.RevokeFamilyAt != nil, tt.ended)
			}
		})
	}
}

// standingsStore fails or answers the reads of standings, and counts the
// per-request reads of users.
type standingsStore struct {
	Store
	failPolls atomic.Bool
	failUsers atomic.Bool
	changed   atomic.Pointer[[]UserStanding]
	userReads atomic.Int64
}

func (s *standingsStore) UsersChangedSince(context.Context, time.Time) ([]UserStanding, error) {
	if s.failPolls.Load() {
		return nil, &RetryableError{Err: errors.New("database gone")}
	}
	return *s.changed.Load(), nil
}

func (s *standingsStore) User(_ context.Context, id string) (*User, error) {
	s.userReads.Add(1)
	if s.failUsers.Load() {
		return nil, &RetryableError{Err: errors.New("database gone")}
	}
	return &User{ID: id, Role: RoleUser, TokenVersion: 7}, nil
}

// TestStandingsWhilePollsFail: tokens are checked in memory, without a
// store read, while polls work and for up to the access-token lifetime
// after they start failing; then every check reads the user from the store
// (a store that does not answer fails the request); a poll that works
// again brings the memory check back.
func TestStandingsWhilePollsFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Minute
		store := &standingsStore{}
		store.changed.Store(&[]UserStanding{{UserID: "GONE", Disabled: true, TokenVersion: 1, ChangedAt: time.Now()}})
		s := newStandings(store, slog.New(slog.DiscardHandler), time.Now, ttl, time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.run(ctx)
		synctest.Wait()

		fan := Caller{UserID: "FAN", Role: RoleUser, TokenVersion: 0}
		gone := Caller{UserID: "GONE", Role: RoleUser, TokenVersion: 0}
		check := func(when string, c Caller, wantErr error, wantReads int64) {
			t.Helper()
			_, err := s.check(ctx, c)
			if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
				t.Errorf("%s: check(%s) = %v, want %v", when, c.UserID, err, wantErr)
			}
			if got := store.userReads.Load(); got != wantReads {
				t.Errorf("%s: %d store reads, want %d", when, got, wantReads)
			}
		}
		check("polls work", fan, nil, 0)
		check("polls work", gone, ErrUnauthenticated, 0)

		store.failPolls.Store(true)
		time.Sleep(ttl - 2*time.Second)
		synctest.Wait()
		check("polls failing for less than the lifetime", fan, nil, 0)
		check("polls failing for less than the lifetime", gone, ErrUnauthenticated, 0)

		time.Sleep(3 * time.Second)
		synctest.Wait()
		if !s.stale.Load() {
			t.Fatal("not stale after polls failed for longer than the lifetime")
		}
		// The store's user is at version 7: the fan's token of version 0
		// no longer stands, which only the store could tell.
		check("stale", fan, ErrUnauthenticated, 1)
		store.failUsers.Store(true)
		_, err := s.check(ctx, Caller{UserID: "FAN", TokenVersion: 7})
		var re *RetryableError
		if !errors.As(err, &re) {
			t.Errorf("stale, store down: check = %v, want the store's error (503)", err)
		}

		store.failPolls.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		check("polls work again", fan, nil, 2)
	})
}

// TestStandingsForget: a user changed longer ago than the access-token
// lifetime (and the overlap) leaves the map: every token issued before the
// change has expired by then.
func TestStandingsForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = time.Minute
		store := &standingsStore{}
		store.changed.Store(&[]UserStanding{})
		s := newStandings(store, slog.New(slog.DiscardHandler), time.Now, ttl, time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.run(ctx)
		synctest.Wait()
		s.note(UserStanding{UserID: "U1", Disabled: true, TokenVersion: 1, ChangedAt: time.Now()})
		if _, ok := (*s.recent.Load())["U1"]; !ok {
			t.Fatal("a noted change is not in the map")
		}
		time.Sleep(ttl + standingOverlap + 2*time.Second)
		synctest.Wait()
		if _, ok := (*s.recent.Load())["U1"]; ok {
			t.Error("a change older than the lifetime is still in the map")
		}
	})
}

// TestStandingsMergeKeepsTheMap: a poll that reads again what the map has
// (each poll reaches a few seconds back) does not copy the map, and an
// older standing never replaces a newer one.
func TestStandingsMergeKeepsTheMap(t *testing.T) {
	s := newStandings(nil, slog.New(slog.DiscardHandler), time.Now, time.Minute, time.Second)
	at := time.Now()
	newer := UserStanding{UserID: "U1", Role: RoleUser, TokenVersion: 2, ChangedAt: at}
	s.note(newer)
	before := s.recent.Load()
	s.merge([]UserStanding{newer, {UserID: "U1", Role: RoleAdmin, TokenVersion: 1, ChangedAt: at.Add(-time.Second)}}, at.Add(-time.Minute))
	if s.recent.Load() != before {
		t.Error("the map was copied though nothing changed")
	}
	if got := (*s.recent.Load())["U1"]; got != newer {
		t.Errorf("standing %+v, want %+v", got, newer)
	}
	demoted := UserStanding{UserID: "U1", Role: RoleUser, TokenVersion: 2, ChangedAt: at.Add(time.Second)}
	s.merge([]UserStanding{demoted}, time.Time{})
	if got := (*s.recent.Load())["U1"]; got != demoted {
		t.Errorf("a later change of the same version: standing %+v, want %+v", got, demoted)
	}
}

// BenchmarkCurrentCaller measures the check every authenticated request
// pays, with a thousand users changed lately, for a caller among them and
// one not.
func BenchmarkCurrentCaller(b *testing.B) {
	s := newStandings(nil, slog.New(slog.DiscardHandler), time.Now, time.Minute, time.Second)
	s.stale.Store(false)
	sts := make([]UserStanding, 1000)
	for i := range sts {
		sts[i] = UserStanding{UserID: NewID(), Role: RoleUser, TokenVersion: 1, ChangedAt: time.Now()}
	}
	s.note(sts...)
	a := &Accounts{standings: s}
	for _, bc := range []struct {
		name string
		c    Caller
	}{
		{"unchanged user", Caller{UserID: NewID(), Role: RoleUser}},
		{"changed user", Caller{UserID: sts[500].UserID, Role: RoleUser, TokenVersion: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				if _, err := a.CurrentCaller(ctx, bc.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
