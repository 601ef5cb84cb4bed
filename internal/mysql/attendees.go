package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"boxoffice"
)

// attendeeCols are the columns of an attendee, from tickets t, orders o and
// users u (the order's buyer).
const attendeeCols = `t.id, t.attendee_name, t.tier_id, t.status, t.checked_in_at, t.gate, t.order_id,
	IF(o.email <> '', o.email, COALESCE(u.email, '')), COALESCE(u.name, ''), t.issued_at`

// attendeeJoins joins each ticket t to its order o and buyer u.
const attendeeJoins = " JOIN orders o ON o.id = t.order_id LEFT JOIN users u ON u.id = o.user_id"

// searchWindow is how many of an event's tickets after the cursor a prefix
// search reads in ID order before it turns to the indexes (a variable for
// the tests).
var searchWindow = 5000

// Attendees returns a page of an event's attendee list.
//
// Without a search, it is a range on tickets_event (event_id, id) joined to
// each ticket's order and buyer by primary key: a page costs the same at
// any depth, which is what keeps the export of a million attendees linear.
//
// An ID search reads the ticket by its key and the order's tickets from
// tickets_order.
//
// A prefix search has two plans, because what is cheap depends on how
// common the prefix is. First it reads the next searchWindow tickets in ID
// order and filters them: a common prefix ("a", a shared email domain)
// fills the page there, at the cost of one window. When the window is
// full but holds fewer matches than the page, the matches are rare, and
// the second plan collects them from the indexes, each way of matching cut
// to the page's size: tickets_event_name (event_id, attendee_name, status)
// for attendee names, orders_event_email (event_id, email) for orders'
// emails and users_email_lower for the buyers of orders without an email.
// Its cost is that of the matches after the cursor (under 1 in
// searchWindow/limit of the tickets read in the window), not of the event.
func (s *Store) Attendees(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	if f.Limit <= 0 {
		f.Limit = boxoffice.DefaultLimit
	}
	var (
		out []*boxoffice.EventAttendee
		err error
	)
	switch {
	case f.ID != "":
		out, err = s.attendeesByID(ctx, f)
	case f.Prefix != "":
		out, err = s.attendeesByPrefix(ctx, f)
	default:
		q := queryArgs{}
		q.add("SELECT "+attendeeCols+" FROM tickets t FORCE INDEX (tickets_event)"+attendeeJoins+
			" WHERE t.event_id = ? AND t.id > ?", f.EventID, f.AfterID)
		q.status(f, "t")
		q.add(" ORDER BY t.id LIMIT ?", f.Limit)
		out, err = s.queryAttendees(ctx, q, f.Limit)
	}
	return out, translate("attendees", err)
}

// queryArgs builds a statement and its arguments together.
type queryArgs struct {
	b    strings.Builder
	args []any
}

func (q *queryArgs) add(sql string, args ...any) {
	q.b.WriteString(sql)
	q.args = append(q.args, args...)
}

// status adds the filter's status condition on alias, if any.
func (q *queryArgs) status(f boxoffice.AttendeeFilter, alias string) {
	if f.Status != "" {
		q.add(" AND "+alias+".status = ?", string(f.Status))
	}
}

func (s *Store) attendeesByID(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	q := queryArgs{}
	q.add("SELECT "+attendeeCols+" FROM (SELECT id FROM tickets WHERE id = ? AND event_id = ? AND id > ?", f.ID, f.EventID, f.AfterID)
	q.status(f, "tickets")
	q.add(" UNION SELECT id FROM tickets WHERE order_id = ? AND event_id = ? AND id > ?", f.ID, f.EventID, f.AfterID)
	q.status(f, "tickets")
	q.add(") m JOIN tickets t ON t.id = m.id"+attendeeJoins+" ORDER BY t.id LIMIT ?", f.Limit)
	return s.queryAttendees(ctx, q, f.Limit)
}

func (s *Store) attendeesByPrefix(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	like := likePrefix(f.Prefix)
	// The window: the next searchWindow tickets, filtered.
	q := queryArgs{}
	q.add("SELECT "+attendeeCols+" FROM (SELECT id FROM tickets FORCE INDEX (tickets_event) WHERE event_id = ? AND id > ?"+
		" ORDER BY id LIMIT ?) w JOIN tickets t ON t.id = w.id"+attendeeJoins+" WHERE TRUE", f.EventID, f.AfterID, searchWindow)
	q.status(f, "t")
	q.add(" AND (t.attendee_name LIKE ? ESCAPE '!' OR IF(o.email <> '', o.email LIKE ? ESCAPE '!', u.email_lower LIKE ? ESCAPE '!'))"+
		" ORDER BY t.id LIMIT ?", like, like, like, f.Limit)
	page, err := s.queryAttendees(ctx, q, f.Limit)
	if err != nil || len(page) == f.Limit {
		return page, err
	}
	// Fewer matches than the page: complete unless the window was full.
	var last string
	err = s.db.QueryRowContext(ctx, "SELECT id FROM tickets FORCE INDEX (tickets_event) WHERE event_id = ? AND id > ?"+
		" ORDER BY id LIMIT 1 OFFSET ?", f.EventID, f.AfterID, searchWindow-1).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return page, nil
	}
	if err != nil {
		return nil, err
	}
	// Rare matches: from the indexes.
	q = queryArgs{}
	q.add("SELECT "+attendeeCols+" FROM ((SELECT id FROM tickets FORCE INDEX (tickets_event_name)"+
		" WHERE event_id = ? AND attendee_name LIKE ? ESCAPE '!' AND id > ?", f.EventID, like, f.AfterID)
	q.status(f, "tickets")
	q.add(" ORDER BY id LIMIT ?) UNION (SELECT t.id FROM orders o FORCE INDEX (orders_event_email)"+
		" JOIN tickets t ON t.order_id = o.id WHERE o.event_id = ? AND o.email LIKE ? ESCAPE '!' AND t.id > ?",
		f.Limit, f.EventID, like, f.AfterID)
	q.status(f, "t")
	q.add(" ORDER BY t.id LIMIT ?) UNION (SELECT t.id FROM users u JOIN orders o ON o.user_id = u.id"+
		" JOIN tickets t ON t.order_id = o.id WHERE u.email_lower LIKE ? ESCAPE '!' AND o.event_id = ? AND o.email = ''"+
		" AND t.id > ?", f.Limit, like, f.EventID, f.AfterID)
	q.status(f, "t")
	q.add(" ORDER BY t.id LIMIT ?)) m JOIN tickets t ON t.id = m.id"+attendeeJoins+" ORDER BY t.id LIMIT ?", f.Limit, f.Limit)
	return s.queryAttendees(ctx, q, f.Limit)
}

// queryAttendees runs a query of attendeeCols.
func (s *Store) queryAttendees(ctx context.Context, q queryArgs, limit int) ([]*boxoffice.EventAttendee, error) {
	rows, err := s.db.QueryContext(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, err
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
			return nil, err
		}
		if checkedIn.Valid {
			at := checkedIn.Time
			a.CheckedInAt = &at
		}
		a.Gate = gate.String
		out = append(out, &a)
	}
	return out, rows.Err()
}

// likePrefix returns a LIKE pattern (escape character !) matching strings
// that start with p.
func likePrefix(p string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(p) + "%"
}
