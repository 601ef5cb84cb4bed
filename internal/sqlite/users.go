package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"boxoffice"
)

const userCols = "id, email, name, role, password_hash, email_verified, created_at"

func scanUser(row interface{ Scan(...any) error }) (*boxoffice.User, error) {
	var u boxoffice.User
	var created int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.EmailVerified, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromUS(created)
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
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, email_lower, name, role, password_hash, email_verified, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, strings.ToLower(u.Email), u.Name, string(role), u.PasswordHash, u.EmailVerified, us(u.CreatedAt))
	if isUnique(err) {
		return boxoffice.ErrEmailTaken
	}
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
// (case-insensitively) exists, makes that user an admin with u's password
// hash. It returns the stored user.
func (s *Store) UpsertAdmin(ctx context.Context, u *boxoffice.User) (*boxoffice.User, error) {
	var out *boxoffice.User
	err := s.inTx(ctx, "upsert admin", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET role = ?, password_hash = ? WHERE email_lower = ?",
			string(boxoffice.RoleAdmin), u.PasswordHash, strings.ToLower(u.Email))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if err := insertUser(ctx, tx, u, boxoffice.RoleAdmin); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email_lower = ?", strings.ToLower(u.Email)))
		return err
	})
	return out, err
}
