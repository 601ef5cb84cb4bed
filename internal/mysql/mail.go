package mysql

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const tokenCols = "user_id, purpose, code_hash, secret_hash, attempts, created_at, expires_at, used_at"

func scanToken(row scanner) (*boxoffice.UserToken, error) {
	var t boxoffice.UserToken
	var used sql.NullTime
	if err := row.Scan(&t.UserID, &t.Purpose, &t.CodeHash, &t.SecretHash, &t.Attempts, &t.CreatedAt, &t.ExpiresAt, &used); err != nil {
		return nil, err
	}
	if used.Valid {
		u := used.Time
		t.UsedAt = &u
	}
	return &t, nil
}

// Token returns the user's token of purpose p, or boxoffice.ErrNotFound.
func (s *Store) Token(ctx context.Context, userID string, p boxoffice.TokenPurpose) (*boxoffice.UserToken, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx,
		"SELECT "+tokenCols+" FROM user_tokens WHERE user_id = ? AND purpose = ?", userID, string(p)))
	return t, translate("token", err)
}

// PutToken replaces the user's token of the purpose and inserts the mail in
// one transaction. It returns boxoffice.ErrRateLimited, writing nothing,
// when the token it would replace was created after issuedBefore.
func (s *Store) PutToken(ctx context.Context, it *boxoffice.IssuedToken, issuedBefore time.Time) error {
	return s.inTx(ctx, "put token", nil, func(tx *sql.Tx) error {
		var created time.Time
		err := tx.QueryRowContext(ctx, "SELECT created_at FROM user_tokens WHERE user_id = ? AND purpose = ? FOR UPDATE",
			it.Token.UserID, string(it.Token.Purpose)).Scan(&created)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		case created.After(issuedBefore):
			return boxoffice.ErrRateLimited
		}
		return putToken(ctx, tx, it)
	})
}

func putToken(ctx context.Context, tx *sql.Tx, it *boxoffice.IssuedToken) error {
	t := it.Token
	if _, err := tx.ExecContext(ctx, `REPLACE INTO user_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UserID, string(t.Purpose), t.CodeHash, t.SecretHash, t.Attempts, t.CreatedAt.UTC(), t.ExpiresAt.UTC(), nullTime(t.UsedAt)); err != nil {
		return err
	}
	m := it.Mail
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, kind, recipient, subject, body, created_at, attempts, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
		m.ID, m.Kind, m.To, m.Subject, m.Text, m.CreatedAt.UTC(), m.NextAttemptAt.UTC())
	return err
}

// RedeemToken locks the token and its user, lets decide rule, and writes
// the outcome: the token's attempts and use always, the user's fields when
// decide returns nil. It returns the user as written, decide's error, or
// boxoffice.ErrNotFound.
func (s *Store) RedeemToken(ctx context.Context, userID string, p boxoffice.TokenPurpose,
	decide func(*boxoffice.UserToken, *boxoffice.User) (boxoffice.Redemption, error)) (*boxoffice.User, error) {
	var u *boxoffice.User
	var verdict error
	err := s.inTx(ctx, "redeem token", nil, func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx,
			"SELECT "+tokenCols+" FROM user_tokens WHERE user_id = ? AND purpose = ? FOR UPDATE", userID, string(p)))
		if err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ? FOR UPDATE", userID)); err != nil {
			return err
		}
		var r boxoffice.Redemption
		r, verdict = decide(t, u)
		var used *time.Time
		if r.Used {
			used = &r.UsedAt
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE user_tokens SET attempts = ?, used_at = COALESCE(used_at, ?) WHERE user_id = ? AND purpose = ?",
			r.Attempts, nullTime(used), userID, string(p)); err != nil {
			return err
		}
		if verdict != nil {
			return nil
		}
		if r.VerifyEmail {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET email_verified = TRUE WHERE id = ?", userID); err != nil {
				return err
			}
			u.EmailVerified = true
		}
		if r.PasswordHash != nil {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", r.PasswordHash, userID); err != nil {
				return err
			}
			u.PasswordHash = r.PasswordHash
		}
		if r.EndSessions && u.ChangeStanding(u.Role, u.Disabled, true, r.UsedAt.UTC()) {
			return writeStanding(ctx, tx, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, verdict
}

// ClaimMail claims up to limit due messages: it locks them with SKIP
// LOCKED, so that concurrent senders take different messages without
// waiting for each other, and moves their next attempt to leaseUntil.
func (s *Store) ClaimMail(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.OutboxMessage, error) {
	var out []*boxoffice.OutboxMessage
	err := s.inTx(ctx, "claim mail", nil, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, recipient, subject, body, created_at, attempts, last_error, next_attempt_at
			FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED`, now.UTC(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		var ids []any
		for rows.Next() {
			var m boxoffice.OutboxMessage
			if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.CreatedAt, &m.Attempts, &m.LastError, &m.NextAttemptAt); err != nil {
				return err
			}
			out = append(out, &m)
			ids = append(ids, m.ID)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, "UPDATE outbox SET next_attempt_at = ? WHERE id IN ("+placeholders(len(ids))+")",
			append([]any{leaseUntil.UTC()}, ids...)...)
		for _, m := range out {
			m.NextAttemptAt = leaseUntil.UTC()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MailSent marks messages sent and drops their text.
func (s *Store) MailSent(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{at.UTC()}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET sent_at = ?, next_attempt_at = NULL, body = '' WHERE id IN ("+placeholders(len(ids))+")", args...)
	return translate("mail sent", err)
}

// MailFailed records a failed delivery and when to try again (nil: never).
func (s *Store) MailFailed(ctx context.Context, id string, attempts int, lastErr string, next *time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
		attempts, lastErr, nullTime(next), id)
	return translate("mail failed", err)
}

// PurgeMail deletes messages sent before sentBefore, in bounded batches,
// and returns how many it deleted.
func (s *Store) PurgeMail(ctx context.Context, sentBefore time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge mail", "DELETE FROM outbox WHERE sent_at < ? ORDER BY sent_at LIMIT ?", sentBefore.UTC())
}
