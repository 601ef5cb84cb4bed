package mysql

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const refreshCols = "token_hash, family_id, user_id, token_version, created_at, expires_at, rotated_at, revoked_at"

func scanRefresh(row scanner) (*boxoffice.RefreshToken, error) {
	var t boxoffice.RefreshToken
	var rotated, revoked sql.NullTime
	if err := row.Scan(&t.Hash, &t.FamilyID, &t.UserID, &t.TokenVersion, &t.CreatedAt, &t.ExpiresAt, &rotated, &revoked); err != nil {
		return nil, err
	}
	if rotated.Valid {
		t.RotatedAt = &rotated.Time
	}
	if revoked.Valid {
		t.RevokedAt = &revoked.Time
	}
	return &t, nil
}

// insertRefresh inserts t.
func insertRefresh(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, t *boxoffice.RefreshToken) error {
	_, err := db.ExecContext(ctx, "INSERT INTO refresh_tokens ("+refreshCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		t.Hash, t.FamilyID, t.UserID, t.TokenVersion, t.CreatedAt.UTC(), t.ExpiresAt.UTC(), nullTime(t.RotatedAt), nullTime(t.RevokedAt))
	return err
}

// CreateRefreshToken inserts t.
func (s *Store) CreateRefreshToken(ctx context.Context, t *boxoffice.RefreshToken) error {
	return translate("create refresh token", insertRefresh(ctx, s.db, t))
}

// RotateRefreshToken locks the token and its user, lets decide rule, and
// writes the outcome (the token's rotation, its successor, the end of its
// family) even when decide returns an error. It returns the user, decide's
// error, or boxoffice.ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, hash []byte,
	decide func(*boxoffice.RefreshToken, *boxoffice.User) (boxoffice.RefreshRotation, error)) (*boxoffice.User, error) {
	var u *boxoffice.User
	var verdict error
	err := s.inTx(ctx, "rotate refresh token", nil, func(tx *sql.Tx) error {
		t, err := scanRefresh(tx.QueryRowContext(ctx, "SELECT "+refreshCols+" FROM refresh_tokens WHERE token_hash = ? FOR UPDATE", hash))
		if err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ? LOCK IN SHARE MODE", t.UserID)); err != nil {
			return err
		}
		var r boxoffice.RefreshRotation
		r, verdict = decide(t, u)
		if r.RotatedAt != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?", r.RotatedAt.UTC(), hash); err != nil {
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
				r.RevokeFamilyAt.UTC(), t.FamilyID); err != nil {
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
// bounded batches, and returns how many it deleted.
func (s *Store) PurgeRefreshTokens(ctx context.Context, before time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge refresh tokens", "DELETE FROM refresh_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?", before.UTC())
}
