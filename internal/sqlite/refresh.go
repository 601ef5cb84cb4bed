package sqlite

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const refreshCols = "token_hash, family_id, user_id, token_version, created_at, expires_at, rotated_at, revoked_at"

func scanRefresh(row interface{ Scan(...any) error }) (*boxoffice.RefreshToken, error) {
	var t boxoffice.RefreshToken
	var created, expires int64
	var rotated, revoked sql.NullInt64
	if err := row.Scan(&t.Hash, &t.FamilyID, &t.UserID, &t.TokenVersion, &created, &expires, &rotated, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromUS(created), fromUS(expires)
	t.RotatedAt, t.RevokedAt = fromNullUS(rotated), fromNullUS(revoked)
	return &t, nil
}

func insertRefresh(ctx context.Context, tx *sql.Tx, t *boxoffice.RefreshToken) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO refresh_tokens ("+refreshCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		t.Hash, t.FamilyID, t.UserID, t.TokenVersion, us(t.CreatedAt), us(t.ExpiresAt), nullUS(t.RotatedAt), nullUS(t.RevokedAt))
	return err
}

// CreateRefreshToken inserts t.
func (s *Store) CreateRefreshToken(ctx context.Context, t *boxoffice.RefreshToken) error {
	return s.inTx(ctx, "create refresh token", func(tx *sql.Tx) error { return insertRefresh(ctx, tx, t) })
}

// RotateRefreshToken reads the token and its user in a write transaction,
// lets decide rule, and writes the outcome (the token's rotation, its
// successor, the end of its family) even when decide returns an error. It
// returns the user, decide's error, or boxoffice.ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, hash []byte,
	decide func(*boxoffice.RefreshToken, *boxoffice.User) (boxoffice.RefreshRotation, error)) (*boxoffice.User, error) {
	var u *boxoffice.User
	var verdict error
	err := s.inTx(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		t, err := scanRefresh(tx.QueryRowContext(ctx, "SELECT "+refreshCols+" FROM refresh_tokens WHERE token_hash = ?", hash))
		if err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", t.UserID)); err != nil {
			return err
		}
		var r boxoffice.RefreshRotation
		r, verdict = decide(t, u)
		if r.RotatedAt != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?", us(*r.RotatedAt), hash); err != nil {
				return err
			}
		}
		if r.Next != nil {
			if err := insertRefresh(ctx, tx, r.Next); err != nil {
				return err
			}
		}
		if r.RevokeFamilyAt != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
				us(*r.RevokeFamilyAt), t.FamilyID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, verdict
}

// PurgeRefreshTokens deletes refresh tokens that expired before before, in
// batches, and returns how many it deleted.
func (s *Store) PurgeRefreshTokens(ctx context.Context, before time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge refresh tokens", `DELETE FROM refresh_tokens WHERE token_hash IN
		(SELECT token_hash FROM refresh_tokens WHERE expires_at < ? LIMIT ?)`, us(before))
}
