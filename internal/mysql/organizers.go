package mysql

import (
	"context"
	"database/sql"
	"errors"

	"boxoffice"
)

// CreateOrganizer inserts o and its owner in one transaction;
// boxoffice.ErrSlugTaken when another organizer has o.Slug.
func (s *Store) CreateOrganizer(ctx context.Context, o *boxoffice.Organizer, owner *boxoffice.Member) error {
	return s.inTx(ctx, "create organizer", nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO organizers (id, name, slug, created_at) VALUES (?, ?, ?, ?)",
			o.ID, o.Name, o.Slug, o.CreatedAt.UTC()); err != nil {
			if isDup(err) {
				return callerError{boxoffice.ErrSlugTaken}
			}
			return err
		}
		return putMember(ctx, tx, owner)
	})
}

func putMember(ctx context.Context, q querier, m *boxoffice.Member) error {
	_, err := q.ExecContext(ctx, "INSERT INTO organizer_members (organizer_id, user_id, role, added_at) VALUES (?, ?, ?, ?) "+
		"ON DUPLICATE KEY UPDATE role = VALUES(role), added_at = VALUES(added_at)",
		m.OrganizerID, m.UserID, string(m.Role), m.AddedAt.UTC())
	return err
}

// Organizer returns the organizer with the given id, or
// boxoffice.ErrNotFound.
func (s *Store) Organizer(ctx context.Context, id string) (*boxoffice.Organizer, error) {
	var o boxoffice.Organizer
	err := s.db.QueryRowContext(ctx, "SELECT id, name, slug, created_at FROM organizers WHERE id = ?", id).
		Scan(&o.ID, &o.Name, &o.Slug, &o.CreatedAt)
	if err != nil {
		return nil, translate("organizer", err)
	}
	return &o, nil
}

// MemberRole returns a user's role in an organizer's team, "" when none.
func (s *Store) MemberRole(ctx context.Context, organizerID, userID string) (boxoffice.MemberRole, error) {
	var role string
	err := s.db.QueryRowContext(ctx, "SELECT role FROM organizer_members WHERE organizer_id = ? AND user_id = ?",
		organizerID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", translate("member role", err)
	}
	return boxoffice.MemberRole(role), nil
}

const memberCols = "organizer_id, user_id, role, added_at"

func scanMember(row scanner) (*boxoffice.Member, error) {
	var (
		m    boxoffice.Member
		role string
	)
	if err := row.Scan(&m.OrganizerID, &m.UserID, &role, &m.AddedAt); err != nil {
		return nil, err
	}
	m.Role = boxoffice.MemberRole(role)
	return &m, nil
}

func (s *Store) members(ctx context.Context, op, query, arg string) ([]*boxoffice.Member, error) {
	rows, err := s.db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, translate(op, err)
	}
	defer rows.Close()
	out := []*boxoffice.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, translate(op, err)
		}
		out = append(out, m)
	}
	return out, translate(op, rows.Err())
}

// UserOrganizers returns a user's memberships ordered by organizer ID.
func (s *Store) UserOrganizers(ctx context.Context, userID string) ([]*boxoffice.Member, error) {
	return s.members(ctx, "user organizers",
		"SELECT "+memberCols+" FROM organizer_members WHERE user_id = ? ORDER BY organizer_id", userID)
}

// ListMembers returns an organizer's team ordered by user ID.
func (s *Store) ListMembers(ctx context.Context, organizerID string) ([]*boxoffice.Member, error) {
	return s.members(ctx, "list members",
		"SELECT "+memberCols+" FROM organizer_members WHERE organizer_id = ? ORDER BY user_id", organizerID)
}

// UpdateMember locks the organizer's row (the team's lock: every change
// of its team takes it first), loads the membership and the owner count,
// calls decide, and writes what it returns, in one transaction.
func (s *Store) UpdateMember(ctx context.Context, organizerID, userID string,
	decide func(cur *boxoffice.Member, owners int) (*boxoffice.Member, error)) (*boxoffice.Member, error) {
	var out *boxoffice.Member
	err := s.inTx(ctx, "update member", nil, func(tx *sql.Tx) error {
		out = nil
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM organizers WHERE id = ? FOR UPDATE", organizerID).Scan(&one); err != nil {
			return err
		}
		cur, err := scanMember(tx.QueryRowContext(ctx, "SELECT "+memberCols+
			" FROM organizer_members WHERE organizer_id = ? AND user_id = ?", organizerID, userID))
		if errors.Is(err, sql.ErrNoRows) {
			cur, err = nil, nil
		}
		if err != nil {
			return err
		}
		var owners int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM organizer_members WHERE organizer_id = ? AND role = ?",
			organizerID, string(boxoffice.RoleOwner)).Scan(&owners); err != nil {
			return err
		}
		next, err := decide(cur, owners)
		if err != nil {
			return callerError{err}
		}
		if next == nil {
			_, err = tx.ExecContext(ctx, "DELETE FROM organizer_members WHERE organizer_id = ? AND user_id = ?", organizerID, userID)
			return err
		}
		next.OrganizerID, next.UserID = organizerID, userID
		out = next
		return putMember(ctx, tx, next)
	})
	if err != nil {
		return nil, err // translated by inTx; decide's error as it is
	}
	return out, nil
}

const apiKeyCols = "id, organizer_id, name, role, hash, created_by, created_at"

func scanAPIKey(row scanner) (*boxoffice.APIKey, error) {
	var (
		k    boxoffice.APIKey
		role string
	)
	if err := row.Scan(&k.ID, &k.OrganizerID, &k.Name, &role, &k.Hash, &k.CreatedBy, &k.CreatedAt); err != nil {
		return nil, err
	}
	k.Role = boxoffice.MemberRole(role)
	return &k, nil
}

// CreateAPIKey inserts k.
func (s *Store) CreateAPIKey(ctx context.Context, k *boxoffice.APIKey) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO api_keys ("+apiKeyCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.OrganizerID, k.Name, string(k.Role), k.Hash, k.CreatedBy, k.CreatedAt.UTC())
	return translate("create api key", err)
}

// APIKeyByHash returns the API key whose hash is hash, or
// boxoffice.ErrNotFound.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*boxoffice.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE hash = ?", hash))
	if err != nil {
		return nil, translate("api key", err)
	}
	return k, nil
}

// ListAPIKeys returns an organizer's API keys ordered by ID.
func (s *Store) ListAPIKeys(ctx context.Context, organizerID string) ([]*boxoffice.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE organizer_id = ? ORDER BY id", organizerID)
	if err != nil {
		return nil, translate("list api keys", err)
	}
	defer rows.Close()
	out := []*boxoffice.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, translate("list api keys", err)
		}
		out = append(out, k)
	}
	return out, translate("list api keys", rows.Err())
}

// DeleteAPIKey removes an organizer's API key; boxoffice.ErrNotFound when
// it has none with that id.
func (s *Store) DeleteAPIKey(ctx context.Context, organizerID, id string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM api_keys WHERE organizer_id = ? AND id = ?", organizerID, id)
	if err != nil {
		return translate("delete api key", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return boxoffice.ErrNotFound
	}
	return nil
}
