package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"boxoffice"
)

const userCols = "id, email, name, role, password_hash, email_verified, created_at, token_version, disabled, changed_at"

func scanUser(row interface{ Scan(...any) error }) (*boxoffice.User, error) {
	var u boxoffice.User
	var created int64
	var changed sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.EmailVerified, &created,
		&u.TokenVersion, &u.Disabled, &changed); err != nil {
		return nil, err
	}
	u.CreatedAt = fromUS(created)
	if changed.Valid {
		u.ChangedAt = fromUS(changed.Int64)
	}
	return &u, nil
}

// CreateUser inserts u and, when verify is not nil, its token and mail. It
// returns boxoffice.ErrEmailTaken when a user with the same email, compared
// case-insensitively, exists.
func (s *Store) CreateUser(ctx context.Context, u *boxoffice.User, verify *boxoffice.IssuedToken) error {
	return s.inTx(ctx, "create user", func(tx *sql.Tx) error {
		if err := insertUser(ctx, tx, u, u.Role); err != nil {
			return err
		}
		if verify == nil {
			return nil
		}
		return putToken(ctx, tx, verify)
	})
}

func insertUser(ctx context.Context, tx *sql.Tx, u *boxoffice.User, role boxoffice.Role) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, email_lower, name, role, password_hash, email_verified, created_at,
		token_version, disabled, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, strings.ToLower(u.Email), u.Name, string(role), u.PasswordHash, u.EmailVerified, us(u.CreatedAt),
		u.TokenVersion, u.Disabled, changedAt(u))
	if isUnique(err) {
		return boxoffice.ErrEmailTaken
	}
	return err
}

// changedAt is u.ChangedAt as stored: NULL for never.
func changedAt(u *boxoffice.User) sql.NullInt64 {
	if u.ChangedAt.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: us(u.ChangedAt), Valid: true}
}

// writeStanding writes u's role, token version, disabled state and
// ChangedAt.
func writeStanding(ctx context.Context, tx *sql.Tx, u *boxoffice.User) error {
	_, err := tx.ExecContext(ctx, "UPDATE users SET role = ?, token_version = ?, disabled = ?, changed_at = ? WHERE id = ?",
		string(u.Role), u.TokenVersion, u.Disabled, changedAt(u), u.ID)
	return err
}

// User returns the user with the given id, or boxoffice.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (*boxoffice.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
	return u, wrap("user", err)
}

// UserByEmail returns the user whose email equals email case-insensitively,
// or boxoffice.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*boxoffice.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email_lower = ?", strings.ToLower(email)))
	return u, wrap("user by email", err)
}

// UpsertAdmin inserts u with role admin or, when a user with the same email
// (case-insensitively) exists, makes that user an enabled admin with u's
// password hash. It returns the stored user.
func (s *Store) UpsertAdmin(ctx context.Context, u *boxoffice.User) (*boxoffice.User, error) {
	var out *boxoffice.User
	err := s.inTx(ctx, "upsert admin", func(tx *sql.Tx) error {
		existing, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email_lower = ?", strings.ToLower(u.Email)))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			nu := *u
			nu.Role = boxoffice.RoleAdmin
			if err := insertUser(ctx, tx, &nu, nu.Role); err != nil {
				return err
			}
			out = &nu
			return nil
		case err != nil:
			return err
		}
		if existing.ChangeStanding(boxoffice.RoleAdmin, false, false, u.CreatedAt) {
			if err := writeStanding(ctx, tx, existing); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE id = ?", u.PasswordHash, existing.ID); err != nil {
			return err
		}
		existing.PasswordHash = append([]byte{}, u.PasswordHash...)
		out = existing
		return nil
	})
	return out, err
}

// UpdateUser loads the user, lets apply change it, and writes back its
// standing (role, token version, disabled, ChangedAt), in one write
// transaction. It returns the user as written, boxoffice.ErrNotFound, or
// apply's error.
func (s *Store) UpdateUser(ctx context.Context, id string, apply func(*boxoffice.User) error) (*boxoffice.User, error) {
	var out *boxoffice.User
	err := s.inTx(ctx, "update user", func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
		if err != nil {
			return err
		}
		if err := apply(u); err != nil {
			return err
		}
		out = u
		return writeStanding(ctx, tx, u)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UsersChangedSince returns the standing of the users changed after since,
// read through the changed_at index.
func (s *Store) UsersChangedSince(ctx context.Context, since time.Time) ([]boxoffice.UserStanding, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, role, token_version, disabled, changed_at FROM users WHERE changed_at > ?", us(since))
	if err != nil {
		return nil, wrap("users changed since", err)
	}
	defer rows.Close()
	var out []boxoffice.UserStanding
	for rows.Next() {
		var st boxoffice.UserStanding
		var changed int64
		if err := rows.Scan(&st.UserID, &st.Role, &st.TokenVersion, &st.Disabled, &changed); err != nil {
			return nil, wrap("users changed since", err)
		}
		st.ChangedAt = fromUS(changed)
		out = append(out, st)
	}
	return out, wrap("users changed since", rows.Err())
}
