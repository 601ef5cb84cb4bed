package sqlite

import (
	"context"
	"database/sql"

	"boxoffice"
)

// CreateOrganizer inserts o and its owner in one transaction;
// boxoffice.ErrSlugTaken when another organizer has o.Slug.
func (s *Store) CreateOrganizer(ctx context.Context, o *boxoffice.Organizer, owner *boxoffice.Member) error {
	return s.inTx(ctx, "create organizer", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO organizers (id, name, slug, created_at) VALUES (?, ?, ?, ?)",
			o.ID, o.Name, o.Slug, us(o.CreatedAt)); err != nil {
			if isUnique(err) {
				return boxoffice.ErrSlugTaken
			}
			return err
		}
		return putMember(ctx, tx, owner)
	})
}

func putMember(ctx context.Context, tx *sql.Tx, m *boxoffice.Member) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO organizer_members (organizer_id, user_id, role, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (organizer_id, user_id) DO UPDATE SET role = excluded.role, added_at = excluded.added_at`,
		m.OrganizerID, m.UserID, string(m.Role), us(m.AddedAt))
	return err
}

// Organizer returns the organizer with the given id, or
// boxoffice.ErrNotFound.
func (s *Store) Organizer(ctx context.Context, id string) (*boxoffice.Organizer, error) {
	var (
		o  boxoffice.Organizer
		at int64
	)
	err := s.r.QueryRowContext(ctx, "SELECT id, name, slug, created_at FROM organizers WHERE id = ?", id).
		Scan(&o.ID, &o.Name, &o.Slug, &at)
	if err != nil {
		return nil, wrap("organizer", err)
	}
	o.CreatedAt = fromUS(at)
	return &o, nil
}

// MemberRole returns a user's role in an organizer's team, "" when none.
func (s *Store) MemberRole(ctx context.Context, organizerID, userID string) (boxoffice.MemberRole, error) {
	var role string
	err := s.r.QueryRowContext(ctx, "SELECT role FROM organizer_members WHERE organizer_id = ? AND user_id = ?",
		organizerID, userID).Scan(&role)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return boxoffice.MemberRole(role), wrap("member role", err)
}

const memberCols = "organizer_id, user_id, role, added_at"

func scanMember(row rowScanner) (*boxoffice.Member, error) {
	var (
		m    boxoffice.Member
		role string
		at   int64
	)
	if err := row.Scan(&m.OrganizerID, &m.UserID, &role, &at); err != nil {
		return nil, err
	}
	m.Role, m.AddedAt = boxoffice.MemberRole(role), fromUS(at)
	return &m, nil
}

func (s *Store) members(ctx context.Context, op, query string, arg string) ([]*boxoffice.Member, error) {
	var out []*boxoffice.Member
	err := queryEach(ctx, s.r, query, []any{arg}, func(rows *sql.Rows) error {
		m, err := scanMember(rows)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	return out, wrap(op, err)
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

// UpdateMember loads the membership and the owner count in a write
// transaction (the database's write lock is the team's lock), calls
// decide, and writes what it returns.
func (s *Store) UpdateMember(ctx context.Context, organizerID, userID string,
	decide func(cur *boxoffice.Member, owners int) (*boxoffice.Member, error)) (*boxoffice.Member, error) {
	var out *boxoffice.Member
	err := s.inTx(ctx, "update member", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM organizers WHERE id = ?", organizerID).Scan(&one); err != nil {
			return err
		}
		cur, err := scanMember(tx.QueryRowContext(ctx, "SELECT "+memberCols+
			" FROM organizer_members WHERE organizer_id = ? AND user_id = ?", organizerID, userID))
		if err == sql.ErrNoRows {
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
			return err
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
		return nil, err
	}
	return out, nil
}

const apiKeyCols = "id, organizer_id, name, role, hash, created_by, created_at"

func scanAPIKey(row rowScanner) (*boxoffice.APIKey, error) {
	var (
		k    boxoffice.APIKey
		role string
		at   int64
	)
	if err := row.Scan(&k.ID, &k.OrganizerID, &k.Name, &role, &k.Hash, &k.CreatedBy, &at); err != nil {
		return nil, err
	}
	k.Role, k.CreatedAt = boxoffice.MemberRole(role), fromUS(at)
	return &k, nil
}

// CreateAPIKey inserts k.
func (s *Store) CreateAPIKey(ctx context.Context, k *boxoffice.APIKey) error {
	return s.inTx(ctx, "create api key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO api_keys ("+apiKeyCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			k.ID, k.OrganizerID, k.Name, string(k.Role), k.Hash, k.CreatedBy, us(k.CreatedAt))
		return err
	})
}

// APIKeyByHash returns the API key whose hash is hash, or
// boxoffice.ErrNotFound.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*boxoffice.APIKey, error) {
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE hash = ?", hash))
	return k, wrap("api key", err)
}

// ListAPIKeys returns an organizer's API keys ordered by ID.
func (s *Store) ListAPIKeys(ctx context.Context, organizerID string) ([]*boxoffice.APIKey, error) {
	var out []*boxoffice.APIKey
	err := queryEach(ctx, s.r, "SELECT "+apiKeyCols+" FROM api_keys WHERE organizer_id = ? ORDER BY id",
		[]any{organizerID}, func(rows *sql.Rows) error {
			k, err := scanAPIKey(rows)
			if err == nil {
				out = append(out, k)
			}
			return err
		})
	return out, wrap("list api keys", err)
}

// DeleteAPIKey removes an organizer's API key; boxoffice.ErrNotFound when
// it has none with that id.
func (s *Store) DeleteAPIKey(ctx context.Context, organizerID, id string) error {
	return s.inTx(ctx, "delete api key", func(tx *sql.Tx) error {
		return deleteOne(ctx, tx, "DELETE FROM api_keys WHERE organizer_id = ? AND id = ?", organizerID, id)
	})
}
