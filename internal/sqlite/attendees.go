package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"boxoffice"
)

// Attendees returns a page of an event's attendee list: a range on
// tickets_event_id (event_id, id) joined to each ticket's order and buyer.
// A prefix search filters the event's tickets in ID order as it reads
// them (SQLite's LIKE ignores the case of ASCII letters only); an ID
// search reads the ticket and the order's tickets by their keys.
func (s *Store) Attendees(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	query := `SELECT t.id, t.attendee_name, t.tier_id, t.status, t.checked_in_at, t.gate, t.order_id,
		CASE WHEN o.email <> '' THEN o.email ELSE COALESCE(u.email, '') END, COALESCE(u.name, ''), t.issued_at
		FROM tickets t INDEXED BY tickets_event_id
		JOIN orders o ON o.id = t.order_id
		LEFT JOIN users u ON u.id = o.user_id
		WHERE t.event_id = ? AND t.id > ?`
	args := []any{f.EventID, f.AfterID}
	if f.Status != "" {
		query += " AND t.status = ?"
		args = append(args, string(f.Status))
	}
	switch {
	case f.ID != "":
		query += " AND (t.id = ? OR t.order_id = ?)"
		args = append(args, f.ID, f.ID)
	case f.Prefix != "":
		like := likePrefix(f.Prefix)
		query += ` AND (t.attendee_name LIKE ? ESCAPE '!'
			OR (CASE WHEN o.email <> '' THEN o.email ELSE COALESCE(u.email, '') END) LIKE ? ESCAPE '!')`
		args = append(args, like, like)
	}
	query += " ORDER BY t.id LIMIT ?"
	args = append(args, limitOf(f.Limit))
	var out []*boxoffice.EventAttendee
	err := queryEach(ctx, s.r, query, args, func(rows *sql.Rows) error {
		var (
			a         boxoffice.EventAttendee
			checkedIn sql.NullInt64
			gate      sql.NullString
			issued    int64
		)
		if err := rows.Scan(&a.TicketID, &a.AttendeeName, &a.TierID, &a.Status, &checkedIn, &gate, &a.OrderID,
			&a.BuyerEmail, &a.BuyerName, &issued); err != nil {
			return err
		}
		a.CheckedInAt, a.Gate, a.IssuedAt = fromNullUS(checkedIn), gate.String, fromUS(issued)
		out = append(out, &a)
		return nil
	})
	return out, wrap("attendees", err)
}

// likePrefix returns a LIKE pattern (escape character !) matching strings
// that start with p.
func likePrefix(p string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(p) + "%"
}
