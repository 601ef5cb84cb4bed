package mysql

import (
	"context"
	"database/sql"
	"strings"

	"boxoffice"
)

const userCols = "id, email, name, role, password_hash, email_verified, created_at"

func scanUser(row interface{ Scan(...any) error }) (*boxoffice.User, error) {
	u := &boxoffice.User{}
	var role string
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &role, &u.PasswordHash, &u.EmailVerified, &u.CreatedAt); err != nil {
		return nil, err
	}
	u.Role = boxoffice.Role(role)
	if u.PasswordHash == nil {
		u.PasswordHash = []byte{}
	}
	return u, nil
}

// emailKey is the case-insensitive form of an email that the unique index
// compares.
func emailKey(email string) string { return strings.ToLower(email) }

// CreateUser inserts u and, when verify is not nil, its token and mail in
// the same transaction. It returns ErrEmailTaken when a user with the same
// email, compared case-insensitively, exists.
func (s *Store) CreateUser(ctx context.Context, u *boxoffice.User, verify *boxoffice.IssuedToken) error {
	const insert = "INSERT INTO users (id, email, email_lower, name, role, password_hash, email_verified, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	args := []any{u.ID, u.Email, emailKey(u.Email), u.Name, string(u.Role), u.PasswordHash, u.EmailVerified, u.CreatedAt.UTC()}
	if verify == nil {
		_, err := s.db.ExecContext(ctx, insert, args...)
		if isDup(err) {
			return boxoffice.ErrEmailTaken
		}
		return translate("create user", err)
	}
	// A duplicate email is final, not a race to retry: inTx must not see
	// the driver's error.
	return s.inTx(ctx, "create user", nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
			if isDup(err) {
				return boxoffice.ErrEmailTaken
			}
			return err
		}
		return putToken(ctx, tx, verify)
	})
}

// User returns the user with the given id, or ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (*boxoffice.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
	return u, translate("user", err)
}

// UserByEmail returns the user whose email equals email case-insensitively,
// or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*boxoffice.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE email_lower = ?", emailKey(email)))
	return u, translate("user by email", err)
}

// UpsertAdmin inserts u with role admin or, when a user with the same email
// (case-insensitively) exists, makes that user an admin with u's password
// hash. It returns the stored user.
func (s *Store) UpsertAdmin(ctx context.Context, u *boxoffice.User) (*boxoffice.User, error) {
	var out *boxoffice.User
	err := s.inTx(ctx, "upsert admin", nil, func(tx *sql.Tx) error {
		existing, err := scanUser(tx.QueryRowContext(ctx,
			"SELECT "+userCols+" FROM users WHERE email_lower = ? FOR UPDATE", emailKey(u.Email)))
		switch {
		case err == sql.ErrNoRows:
			nu := *u
			nu.Role = boxoffice.RoleAdmin
			nu.CreatedAt = u.CreatedAt.UTC()
			// A concurrent insert of the same email fails this with a
			// duplicate key; inTx runs again and takes the update path.
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO users (id, email, email_lower, name, role, password_hash, email_verified, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				nu.ID, nu.Email, emailKey(nu.Email), nu.Name, string(nu.Role), nu.PasswordHash, nu.EmailVerified, nu.CreatedAt); err != nil {
				return err
			}
			out = &nu
			return nil
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET role = ?, password_hash = ? WHERE id = ?",
			string(boxoffice.RoleAdmin), u.PasswordHash, existing.ID); err != nil {
			return err
		}
		existing.Role = boxoffice.RoleAdmin
		existing.PasswordHash = append([]byte{}, u.PasswordHash...)
		out = existing
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
