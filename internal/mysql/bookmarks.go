package mysql

import (
	"context"
	"time"

	"boxoffice"
)

// PutBookmark saves eventID for userID at time at; saving it again changes
// nothing. It returns ErrNotFound for an unknown event.
func (s *Store) PutBookmark(ctx context.Context, userID, eventID string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO bookmarks (user_id, event_id, created_at)
		SELECT ?, id, ? FROM events WHERE id = ?
		ON DUPLICATE KEY UPDATE user_id = user_id`, userID, at.UTC(), eventID)
	if err != nil {
		return translate("put bookmark", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	// Nothing inserted: either the bookmark exists or the event does not.
	var one int
	err = s.db.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ?", eventID).Scan(&one)
	return translate("put bookmark", err)
}

// DeleteBookmark removes the bookmark if it exists.
func (s *Store) DeleteBookmark(ctx context.Context, userID, eventID string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM bookmarks WHERE user_id = ? AND event_id = ?", userID, eventID)
	return translate("delete bookmark", err)
}

// ListBookmarks returns up to f.Limit bookmarks with their events, newest
// first by (CreatedAt, event ID), walking INDEX(user_id, created_at,
// event_id) backwards from the cursor.
func (s *Store) ListBookmarks(ctx context.Context, f boxoffice.BookmarkFilter) ([]*boxoffice.Bookmark, error) {
	query := "SELECT b.created_at, " + eventColsOf("e") + " FROM bookmarks b JOIN events e ON e.id = b.event_id WHERE b.user_id = ?"
	args := []any{f.UserID}
	if f.BeforeEventID != "" {
		at := f.BeforeCreatedAt.UTC()
		query += " AND (b.created_at < ? OR (b.created_at = ? AND b.event_id < ?))"
		args = append(args, at, at, f.BeforeEventID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	query += " ORDER BY b.created_at DESC, b.event_id DESC LIMIT ?"
	args = append(args, limit)

	out, err := func() ([]*boxoffice.Bookmark, error) {
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []*boxoffice.Bookmark{}
		for rows.Next() {
			var at time.Time
			e, err := scanEvent(rows, &at)
			if err != nil {
				return nil, err
			}
			out = append(out, &boxoffice.Bookmark{UserID: f.UserID, Event: e, CreatedAt: at})
		}
		return out, rows.Err()
	}()
	if err == nil {
		events := make([]*boxoffice.Event, len(out))
		for i, b := range out {
			events[i] = b.Event
		}
		err = attachTiers(ctx, s.db, events, false)
	}
	if err != nil {
		return nil, translate("list bookmarks", err)
	}
	return out, nil
}
