package sqlite

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const tokenCols = "user_id, purpose, code_hash, secret_hash, attempts, created_at, expires_at, used_at"

func scanToken(row interface{ Scan(...any) error }) (*boxoffice.UserToken, error) {
	var t boxoffice.UserToken
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&t.UserID, &t.Purpose, &t.CodeHash, &t.SecretHash, &t.Attempts, &created, &expires, &used); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromUS(created), fromUS(expires), fromNullUS(used)
	return &t, nil
}

// Token returns the user's token of purpose p, or boxoffice.ErrNotFound.
func (s *Store) Token(ctx context.Context, userID string, p boxoffice.TokenPurpose) (*boxoffice.UserToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx,
		"SELECT "+tokenCols+" FROM user_tokens WHERE user_id = ? AND purpose = ?", userID, string(p)))
	return t, wrap("token", err)
}

// PutToken replaces the user's token of the purpose and inserts the mail in
// one transaction. It returns boxoffice.ErrRateLimited, writing nothing,
// when the token it would replace was created after issuedBefore.
func (s *Store) PutToken(ctx context.Context, it *boxoffice.IssuedToken, issuedBefore time.Time) error {
	return s.inTx(ctx, "put token", func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, "SELECT created_at FROM user_tokens WHERE user_id = ? AND purpose = ?",
			it.Token.UserID, string(it.Token.Purpose)).Scan(&created)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		case created > us(issuedBefore):
			return boxoffice.ErrRateLimited
		}
		return putToken(ctx, tx, it)
	})
}

func putToken(ctx context.Context, tx *sql.Tx, it *boxoffice.IssuedToken) error {
	t := it.Token
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO user_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UserID, string(t.Purpose), t.CodeHash, t.SecretHash, t.Attempts, us(t.CreatedAt), us(t.ExpiresAt), nullUS(t.UsedAt)); err != nil {
		return err
	}
	m := it.Mail
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, kind, recipient, subject, body, created_at, attempts, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
		m.ID, m.Kind, m.To, m.Subject, m.Text, us(m.CreatedAt), us(m.NextAttemptAt))
	return err
}

// RedeemToken loads the token and its user in the write transaction, lets
// decide rule, and writes the outcome: the token's attempts and use always,
// the user's fields when decide returns nil. It returns the user as
// written, decide's error, or boxoffice.ErrNotFound.
func (s *Store) RedeemToken(ctx context.Context, userID string, p boxoffice.TokenPurpose,
	decide func(*boxoffice.UserToken, *boxoffice.User) (boxoffice.Redemption, error)) (*boxoffice.User, error) {
	var u *boxoffice.User
	var verdict error
	err := s.inTx(ctx, "redeem token", func(tx *sql.Tx) error {
		t, err := scanToken(tx.QueryRowContext(ctx,
			"SELECT "+tokenCols+" FROM user_tokens WHERE user_id = ? AND purpose = ?", userID, string(p)))
		if err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", userID)); err != nil {
			return err
		}
		var r boxoffice.Redemption
		r, verdict = decide(t, u)
		used := sql.NullInt64{}
		if r.Used {
			used = sql.NullInt64{Int64: us(r.UsedAt), Valid: true}
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE user_tokens SET attempts = ?, used_at = COALESCE(used_at, ?) WHERE user_id = ? AND purpose = ?",
			r.Attempts, used, userID, string(p)); err != nil {
			return err
		}
		if verdict != nil {
			return nil
		}
		if r.VerifyEmail {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET email_verified = 1 WHERE id = ?", userID); err != nil {
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
		if r.EndSessions && u.ChangeStanding(u.Role, u.Disabled, true, r.UsedAt) {
			return writeStanding(ctx, tx, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, verdict
}

// ClaimMail claims up to limit due messages in one write transaction by
// moving their next attempt to leaseUntil; the write lock makes the claim
// exclusive.
func (s *Store) ClaimMail(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.OutboxMessage, error) {
	var out []*boxoffice.OutboxMessage
	err := s.inTx(ctx, "claim mail", func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET next_attempt_at = ?
			WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?
				ORDER BY next_attempt_at LIMIT ?)
			RETURNING id, kind, recipient, subject, body, created_at, attempts, last_error, next_attempt_at`,
			us(leaseUntil), us(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m boxoffice.OutboxMessage
			var created, next int64
			if err := rows.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &created, &m.Attempts, &m.LastError, &next); err != nil {
				return err
			}
			m.CreatedAt, m.NextAttemptAt = fromUS(created), fromUS(next)
			out = append(out, &m)
		}
		return rows.Err()
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
	args := []any{us(at)}
	for _, id := range ids {
		args = append(args, id)
	}
	return s.inTx(ctx, "mail sent", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE outbox SET sent_at = ?, next_attempt_at = NULL, body = '' WHERE id IN ("+placeholders(len(ids))+")", args...)
		return err
	})
}

// MailFailed records a failed delivery and when to try again (nil: never).
func (s *Store) MailFailed(ctx context.Context, id string, attempts int, lastErr string, next *time.Time) error {
	return s.inTx(ctx, "mail failed", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
			attempts, lastErr, nullUS(next), id)
		return err
	})
}

// PurgeMail deletes messages sent before sentBefore, in batches, and
// returns how many it deleted.
func (s *Store) PurgeMail(ctx context.Context, sentBefore time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge mail", `DELETE FROM outbox WHERE id IN
		(SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT ?)`, us(sentBefore))
}
