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
}
