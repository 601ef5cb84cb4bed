package storetest

import (
	"strings"
	"testing"
	"time"

	"boxoffice"
)

func testUsers(t *testing.T, s boxoffice.Store) {
	t.Run("CreateAndRead", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		u.Email = "Alice.Example@Example.TEST"
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))

		got, err := s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "User", u, got)
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
		}

		for _, email := range []string{u.Email, strings.ToLower(u.Email), strings.ToUpper(u.Email)} {
			got, err := s.UserByEmail(ctx, email)
			must(t, "UserByEmail "+email, err)
			diff(t, "UserByEmail "+email, u, got)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		ctx := t.Context()
		_, err := s.User(ctx, boxoffice.NewID())
		wantErr(t, "User(unknown)", err, boxoffice.ErrNotFound)
		_, err = s.UserByEmail(ctx, "nobody@example.test")
		wantErr(t, "UserByEmail(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("EmailTakenCaseInsensitive", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		u.Email = "bob@example.test"
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		for _, email := range []string{"bob@example.test", "Bob@Example.Test", "BOB@EXAMPLE.TEST"} {
			dup := newUser()
			dup.Email = email
			wantErr(t, "CreateUser "+email, s.CreateUser(ctx, dup, nil), boxoffice.ErrEmailTaken)
			_, err := s.User(ctx, dup.ID)
			wantErr(t, "User(refused)", err, boxoffice.ErrNotFound)
		}
	})

	t.Run("UpsertAdminCreates", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		u.Email = "Root@Example.test"
		u.Role = boxoffice.RoleAdmin
		got, err := s.UpsertAdmin(ctx, u)
		must(t, "UpsertAdmin", err)
		diff(t, "UpsertAdmin result", u, got)
		stored, err := s.UserByEmail(ctx, "root@example.test")
		must(t, "UserByEmail", err)
		diff(t, "stored admin", u, stored)
	})

	t.Run("UpsertAdminPromotes", func(t *testing.T) {
		ctx := t.Context()
		existing := newUser()
		existing.Email = "Carol@Example.test"
		must(t, "CreateUser", s.CreateUser(ctx, existing, nil))

		u := newUser()
		u.Email = "carol@EXAMPLE.test"
		u.Role = boxoffice.RoleAdmin
		u.PasswordHash = []byte("new-hash")
		got, err := s.UpsertAdmin(ctx, u)
		must(t, "UpsertAdmin", err)

		want := *existing
		want.Role = boxoffice.RoleAdmin
		want.PasswordHash = []byte("new-hash")
		// A new role is a change of standing (User.ChangeStanding).
		want.ChangedAt = u.CreatedAt
		want.Name = got.Name // the name is not part of the contract
		diff(t, "promoted user", &want, got)
		stored, err := s.User(ctx, existing.ID)
		must(t, "User", err)
		diff(t, "stored promoted user", &want, stored)
		_, err = s.User(ctx, u.ID)
		wantErr(t, "User(upsert ID)", err, boxoffice.ErrNotFound)

		// Promoting again changes only the hash.
		u.PasswordHash = []byte("newer-hash")
		got, err = s.UpsertAdmin(ctx, u)
		must(t, "second UpsertAdmin", err)
		want.PasswordHash = []byte("newer-hash")
		diff(t, "promoted again", &want, got)
	})

	t.Run("UpdateUser", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		at := now().Add(time.Second)
		got, err := s.UpdateUser(ctx, u.ID, func(got *boxoffice.User) error {
			got.ChangeStanding(boxoffice.RoleAdmin, true, false, at)
			return nil
		})
		must(t, "UpdateUser", err)
		want := *u
		want.Role, want.Disabled, want.TokenVersion, want.ChangedAt = boxoffice.RoleAdmin, true, 1, at
		diff(t, "UpdateUser result", &want, got)
		stored, err := s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "updated user", &want, stored)

		_, err = s.UpdateUser(ctx, u.ID, func(*boxoffice.User) error { return boxoffice.ErrForbidden })
		wantErr(t, "UpdateUser(apply fails)", err, boxoffice.ErrForbidden)
		stored, err = s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "user after a failed update", &want, stored)

		_, err = s.UpdateUser(ctx, boxoffice.NewID(), func(*boxoffice.User) error { return nil })
		wantErr(t, "UpdateUser(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("UsersChangedSince", func(t *testing.T) {
		ctx := t.Context()
		base := now().Add(time.Hour) // after every change of the other subtests
		never, early, late := newUser(), newUser(), newUser()
		for _, u := range []*boxoffice.User{never, early, late} {
			must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		}
		for u, at := range map[*boxoffice.User]time.Time{early: base.Add(time.Second), late: base.Add(3 * time.Second)} {
			_, err := s.UpdateUser(ctx, u.ID, func(u *boxoffice.User) error {
				u.ChangeStanding(u.Role, u.Disabled, true, at)
				return nil
			})
			must(t, "UpdateUser", err)
		}
		got, err := s.UsersChangedSince(ctx, base.Add(2*time.Second))
		must(t, "UsersChangedSince", err)
		want := []boxoffice.UserStanding{{UserID: late.ID, Role: boxoffice.RoleUser, TokenVersion: 1, ChangedAt: base.Add(3 * time.Second)}}
		diff(t, "changed since", want, got)
		got, err = s.UsersChangedSince(ctx, base)
		must(t, "UsersChangedSince", err)
		if len(got) != 2 {
			t.Errorf("changed since base: %d users, want 2 (%+v)", len(got), got)
		}
	})

	t.Run("PasswordResetEndsSessions", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		at := now()
		must(t, "PutToken", s.PutToken(ctx, issued(u.ID, boxoffice.PurposeResetPassword, at), at))
		got, err := s.RedeemToken(ctx, u.ID, boxoffice.PurposeResetPassword, func(t *boxoffice.UserToken, _ *boxoffice.User) (boxoffice.Redemption, error) {
			return boxoffice.Redemption{Attempts: 1, Used: true, UsedAt: at, PasswordHash: []byte("new-hash"), EndSessions: true}, nil
		})
		must(t, "RedeemToken", err)
		stored, err := s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "redeemed user", got, stored)
		if stored.TokenVersion != 1 || !stored.ChangedAt.Equal(at) {
			t.Errorf("after a password reset: token version %d, changed at %v; want 1, %v", stored.TokenVersion, stored.ChangedAt, at)
		}
	})
}
