package mysql

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"boxoffice"
)

const userCols = "id, email, name, role, password_hash, email_verified, created_at, token_version, disabled, changed_at"

func scanUser(row interface{ Scan(...any) error }) (*boxoffice.User, error) {
	u := &boxoffice.User{}
	var role string
	var changed sql.NullTime
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &role, &u.PasswordHash, &u.EmailVerified, &u.CreatedAt,
		&u.TokenVersion, &u.Disabled, &changed); err != nil {
		return nil, err
	}
	u.Role = boxoffice.Role(role)
	if u.PasswordHash == nil {
		u.PasswordHash = []byte{}
	}
	if changed.Valid {
		u.ChangedAt = changed.Time
	}
	return u, nil
}

// insertUser is the statement that inserts a user, and userArgs its
// arguments.
const insertUser = `INSERT INTO users (id, email, email_lower, name, role, password_hash, email_verified, created_at,
	token_version, disabled, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func userArgs(u *boxoffice.User) []any {
	return []any{u.ID, u.Email, emailKey(u.Email), u.Name, string(u.Role), u.PasswordHash, u.EmailVerified, u.CreatedAt.UTC(),
		u.TokenVersion, u.Disabled, changedAt(u)}
}

// changedAt is u.ChangedAt as stored: NULL for never.
func changedAt(u *boxoffice.User) any {
	if u.ChangedAt.IsZero() {
		return nil
	}
	return u.ChangedAt.UTC()
}

// writeStanding writes u's role, token version, disabled state and
// ChangedAt.
func writeStanding(ctx context.Context, tx *sql.Tx, u *boxoffice.User) error {
	_, err := tx.ExecContext(ctx, "UPDATE users SET role = ?, token_version = ?, disabled = ?, changed_at = ? WHERE id = ?",
		string(u.Role), u.TokenVersion, u.Disabled, changedAt(u), u.ID)
	return err
}

// emailKey is the case-insensitive form of an email that the unique index
// compares.
func emailKey(email string) string { return strings.ToLower(email) }

// CreateUser inserts u and, when verify is not nil, its token and mail in
// the same transaction. It returns ErrEmailTaken when a user with the same
// email, compared case-insensitively, exists.
func (s *Store) CreateUser(ctx context.Context, u *boxoffice.User, verify *boxoffice.IssuedToken) error {
	args := userArgs(u)
	if verify == nil {
		_, err := s.db.ExecContext(ctx, insertUser, args...)
		if isDup(err) {
			return boxoffice.ErrEmailTaken
		}
		return translate("create user", err)
	}
	// A duplicate email is final, not a race to retry: inTx must not see
	// the driver's error.
	return s.inTx(ctx, "create user", nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertUser, args...); err != nil {
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
			if _, err := tx.ExecContext(ctx, insertUser, userArgs(&nu)...); err != nil {
				return err
			}
			out = &nu
			return nil
		case err != nil:
			return err
		}
		if existing.ChangeStanding(boxoffice.RoleAdmin, false, false, u.CreatedAt.UTC()) {
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
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateUser loads the user under lock, lets apply change it, and writes
// back its standing (role, token version, disabled, ChangedAt). It returns
// the user as written, boxoffice.ErrNotFound, or apply's error.
func (s *Store) UpdateUser(ctx context.Context, id string, apply func(*boxoffice.User) error) (*boxoffice.User, error) {
	var out *boxoffice.User
	err := s.inTx(ctx, "update user", nil, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE id = ? FOR UPDATE", id))
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
	rows, err := s.db.QueryContext(ctx,
		"SELECT id, role, token_version, disabled, changed_at FROM users WHERE changed_at > ?", since.UTC())
	if err != nil {
		return nil, translate("users changed since", err)
	}
	defer rows.Close()
	var out []boxoffice.UserStanding
	for rows.Next() {
		var st boxoffice.UserStanding
		var role string
		if err := rows.Scan(&st.UserID, &role, &st.TokenVersion, &st.Disabled, &st.ChangedAt); err != nil {
			return nil, translate("users changed since", err)
		}
		st.Role = boxoffice.Role(role)
		out = append(out, st)
	}
	return out, translate("users changed since", rows.Err())
}
