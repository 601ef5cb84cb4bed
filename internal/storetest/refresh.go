package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"boxoffice"
)

// refreshToken returns a refresh token of family for u, created at.
func refreshToken(u *boxoffice.User, family, secret string, at time.Time) *boxoffice.RefreshToken {
	h := sha256.Sum256([]byte(secret))
	return &boxoffice.RefreshToken{Hash: h[:], FamilyID: family, UserID: u.ID, TokenVersion: u.TokenVersion,
		CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
}

func testRefreshTokens(t *testing.T, s boxoffice.Store) {
	t.Run("RotateWritesTheOutcome", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		at := now()
		family := boxoffice.NewID()
		first := refreshToken(u, family, "first", at)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, first))

		// An exchange: the token is marked rotated, its successor inserted.
		second := refreshToken(u, family, "second", at.Add(time.Second))
		rotated := at.Add(time.Second)
		got, err := s.RotateRefreshToken(ctx, first.Hash, func(tok *boxoffice.RefreshToken, user *boxoffice.User) (boxoffice.RefreshRotation, error) {
			diff(t, "token given to decide", first, tok)
			diff(t, "user given to decide", u, user)
			return boxoffice.RefreshRotation{RotatedAt: &rotated, Next: second}, nil
		})
		must(t, "RotateRefreshToken", err)
		diff(t, "RotateRefreshToken's user", u, got)

		// The rotated token is presented again: decide sees it rotated and
		// ends the family, and its error comes back with the writes kept.
		revoked := at.Add(2 * time.Second)
		_, err = s.RotateRefreshToken(ctx, first.Hash, func(tok *boxoffice.RefreshToken, _ *boxoffice.User) (boxoffice.RefreshRotation, error) {
			if tok.RotatedAt == nil || !tok.RotatedAt.Equal(rotated) {
				t.Errorf("replayed token's RotatedAt = %v, want %v", tok.RotatedAt, rotated)
			}
			return boxoffice.RefreshRotation{RevokeFamilyAt: &revoked}, boxoffice.ErrRefreshTokenInvalid
		})
		wantErr(t, "RotateRefreshToken(replay)", err, boxoffice.ErrRefreshTokenInvalid)
		_, err = s.RotateRefreshToken(ctx, second.Hash, func(tok *boxoffice.RefreshToken, _ *boxoffice.User) (boxoffice.RefreshRotation, error) {
			want := *second
			want.RevokedAt = &revoked
			diff(t, "successor after its family ended", &want, tok)
			return boxoffice.RefreshRotation{}, boxoffice.ErrRefreshTokenInvalid
		})
		wantErr(t, "RotateRefreshToken(ended family)", err, boxoffice.ErrRefreshTokenInvalid)

		_, err = s.RotateRefreshToken(ctx, make([]byte, 32), func(*boxoffice.RefreshToken, *boxoffice.User) (boxoffice.RefreshRotation, error) {
			t.Error("decide called for an unknown token")
			return boxoffice.RefreshRotation{}, nil
		})
		wantErr(t, "RotateRefreshToken(unknown)", err, boxoffice.ErrNotFound)
	})

	t.Run("Purge", func(t *testing.T) {
		ctx := t.Context()
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		at := now()
		old := refreshToken(u, boxoffice.NewID(), "old", at.Add(-2*time.Hour))
		live := refreshToken(u, boxoffice.NewID(), "live", at)
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, live))
		n, err := s.PurgeRefreshTokens(ctx, at)
		must(t, "PurgeRefreshTokens", err)
		if n != 1 {
			t.Errorf("purged %d, want 1", n)
		}
		_, err = s.RotateRefreshToken(ctx, old.Hash, func(*boxoffice.RefreshToken, *boxoffice.User) (boxoffice.RefreshRotation, error) {
			return boxoffice.RefreshRotation{}, nil
		})
		wantErr(t, "RotateRefreshToken(purged)", err, boxoffice.ErrNotFound)
		_, err = s.RotateRefreshToken(ctx, live.Hash, func(*boxoffice.RefreshToken, *boxoffice.User) (boxoffice.RefreshRotation, error) {
			return boxoffice.RefreshRotation{}, nil
		})
		must(t, "RotateRefreshToken(live)", err)
	})
}
