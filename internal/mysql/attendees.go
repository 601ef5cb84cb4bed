package mysql

import (
	"context"
	"database/sql"
	"strings"

	"boxoffice"
)

// attendeeCols are the columns of an attendee, from tickets t, orders o and
// users u (the order's buyer).
const attendeeCols = `t.id, t.attendee_name, t.tier_id, t.status, t.checked_in_at, t.gate, t.order_id,
	IF(o.email <> '', o.email, COALESCE(u.email, '')), COALESCE(u.name, ''), t.issued_at`

// Attendees returns a page of an event's attendee list.
//
// Without a search, it is a range on tickets_event (event_id, id) joined to
// each ticket's order and buyer by primary key: a page costs the same at
// any depth, which is what keeps the export of a million attendees linear.
//
// A search first collects the matching ticket IDs after the cursor, each
// way of matching from its own index and each cut to the page's size, and
// then reads the page of those: an ID from the primary key and
// tickets_order; a prefix from tickets_event_name (attendee names),
// orders_event_email (orders' emails) and users_email_lower (the buyers of
// orders without an email). A rare prefix reads only its matches, not the
// event's tickets.
func (s *Store) Attendees(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	var (
		query string
		args  []any
	)
	status := func(col string) string {
		if f.Status == "" {
			return ""
		}
		args = append(args, string(f.Status))
		return " AND " + col + ".status = ?"
	}
	switch {
	case f.ID == "" && f.Prefix == "":
		args = append(args, f.EventID, f.AfterID)
		query = "SELECT " + attendeeCols + ` FROM tickets t FORCE INDEX (tickets_event)
			JOIN orders o ON o.id = t.order_id LEFT JOIN users u ON u.id = o.user_id
			WHERE t.event_id = ? AND t.id > ?` + status("t")
	case f.ID != "":
		args = append(args, f.ID, f.EventID, f.AfterID)
		byTicket := "SELECT id FROM tickets WHERE id = ? AND event_id = ? AND id > ?" + status("tickets")
		args = append(args, f.ID, f.EventID, f.AfterID)
		byOrder := "SELECT id FROM tickets WHERE order_id = ? AND event_id = ? AND id > ?" + status("tickets")
		query = matchedAttendees(byTicket, byOrder)
	default:
		like := likePrefix(f.Prefix)
		args = append(args, f.EventID, like, f.AfterID)
		byName := `SELECT id FROM tickets FORCE INDEX (tickets_event_name)
			WHERE event_id = ? AND attendee_name LIKE ? ESCAPE '!' AND id > ?` + status("tickets")
		args = append(args, limit)
		args = append(args, f.EventID, like, f.AfterID)
		byOrderEmail := `SELECT t.id FROM orders o FORCE INDEX (orders_event_email) JOIN tickets t ON t.order_id = o.id
			WHERE o.event_id = ? AND o.email LIKE ? ESCAPE '!' AND t.id > ?` + status("t")
		args = append(args, limit)
		args = append(args, like, f.EventID, f.AfterID)
		byUserEmail := `SELECT t.id FROM users u JOIN orders o ON o.user_id = u.id JOIN tickets t ON t.order_id = o.id
			WHERE u.email_lower LIKE ? ESCAPE '!' AND o.event_id = ? AND o.email = '' AND t.id > ?` + status("t")
		args = append(args, limit)
		query = matchedAttendees("("+byName+" ORDER BY id LIMIT ?)", "("+byOrderEmail+" ORDER BY t.id LIMIT ?)",
			"("+byUserEmail+" ORDER BY t.id LIMIT ?)")
	}
	query += " ORDER BY t.id LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate("attendees", err)
	}
	defer rows.Close()
	out := make([]*boxoffice.EventAttendee, 0, min(limit, 1024))
	for rows.Next() {
		var (
			a         boxoffice.EventAttendee
			checkedIn sql.NullTime
			gate      sql.NullString
		)
		if err := rows.Scan(&a.TicketID, &a.AttendeeName, &a.TierID, &a.Status, &checkedIn, &gate, &a.OrderID,
			&a.BuyerEmail, &a.BuyerName, &a.IssuedAt); err != nil {
			return nil, translate("attendees", err)
		}
		if checkedIn.Valid {
			at := checkedIn.Time
			a.CheckedInAt = &at
		}
		a.Gate = gate.String
		out = append(out, &a)
	}
	return out, translate("attendees", rows.Err())
}

// matchedAttendees reads the attendees whose ticket IDs the union of the
// branches selects.
func matchedAttendees(branches ...string) string {
	return "SELECT " + attendeeCols + " FROM (" + strings.Join(branches, " UNION ") +
		") m JOIN tickets t ON t.id = m.id JOIN orders o ON o.id = t.order_id LEFT JOIN users u ON u.id = o.user_id"
}

// likePrefix returns a LIKE pattern (escape character !) matching strings
// that start with p.
func likePrefix(p string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(p) + "%"
}
