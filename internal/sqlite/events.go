package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"boxoffice"
)

// eventTierCols are the columns of an event (alias e) joined with its tiers
// (alias t, LEFT JOIN), as read by scanEvents.
const eventTierCols = `e.id, e.title, e.description, e.venue, e.starts_at, e.ends_at, e.sales_start_at, e.sales_end_at,
	e.max_tickets_per_user, e.hold_seconds, e.queue_enabled, e.admit_per_minute, e.created_at, e.updated_at,
	e.require_verified_email, e.refunds_none, e.refunds_until, e.name_changes_until, e.organizer_id, e.status,
	t.id, t.name, t.price_amount, t.price_currency, t.capacity, t.reserved, t.hidden, t.closed`

// scanEvents reads rows of eventTierCols, ordered so that the rows of one
// event are adjacent and its tiers in ID order, preceded by len(pre)
// columns scanned into pre for each row. onEvent is called with each new
// event (its pointer stays valid while further tiers are appended).
func scanEvents(rows *sql.Rows, pre []any, onEvent func(*boxoffice.Event)) error {
	defer rows.Close()
	var last *boxoffice.Event
	for rows.Next() {
		var (
			e                                      boxoffice.Event
			endsAt, refundsUntil, nameChanges      sql.NullInt64
			starts, salesStart, salesEnd, cAt, uAt int64
			tierID, tierName, currency             sql.NullString
			price, capacity, reserved              sql.NullInt64
			hidden, closed                         sql.NullBool
			status                                 string
		)
		dest := append(pre[:len(pre):len(pre)],
			&e.ID, &e.Title, &e.Description, &e.Venue, &starts, &endsAt, &salesStart, &salesEnd,
			&e.MaxTicketsPerUser, &e.HoldSeconds, &e.Queue.Enabled, &e.Queue.AdmitPerMinute, &cAt, &uAt,
			&e.RequireVerifiedEmail, &e.Refunds.None, &refundsUntil, &nameChanges, &e.OrganizerID, &status,
			&tierID, &tierName, &price, &currency, &capacity, &reserved, &hidden, &closed)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if last == nil || last.ID != e.ID {
			e.StartsAt, e.EndsAt = fromUS(starts), fromNullUS(endsAt)
			e.SalesStartAt, e.SalesEndAt = fromUS(salesStart), fromUS(salesEnd)
			e.CreatedAt, e.UpdatedAt = fromUS(cAt), fromUS(uAt)
			e.Refunds.Until = fromNullUS(refundsUntil)
			e.NameChangesUntil = fromNullUS(nameChanges)
			e.Status = boxoffice.EventStatus(status)
			last = &e
			onEvent(last)
		}
		if tierID.Valid {
			last.Tiers = append(last.Tiers, boxoffice.Tier{
				ID: tierID.String, EventID: last.ID, Name: tierName.String,
				Price:    boxoffice.Money{Amount: price.Int64, Currency: currency.String},
				Capacity: int(capacity.Int64), Reserved: int(reserved.Int64),
				Hidden: hidden.Bool, Closed: closed.Bool,
			})
		}
	}
	return rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadEvent reads one event with its tiers through q.
func loadEvent(ctx context.Context, q querier, id string) (*boxoffice.Event, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+eventTierCols+` FROM events e LEFT JOIN tiers t ON t.event_id = e.id
		WHERE e.id = ? ORDER BY t.id`, id)
	if err != nil {
		return nil, err
	}
	var out *boxoffice.Event
	if err := scanEvents(rows, nil, func(e *boxoffice.Event) { out = e }); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, boxoffice.ErrNotFound
	}
	return out, nil
}

// CreateEvent inserts e and its tiers.
func (s *Store) CreateEvent(ctx context.Context, e *boxoffice.Event) error {
	return s.inTx(ctx, "create event", func(tx *sql.Tx) error {
		return insertEvents(ctx, tx, []*boxoffice.Event{e})
	})
}

const (
	eventInsertCols = 20
	tierInsertCols  = 9
)

// insertEvents inserts events and their tiers with one multi-row statement
// for each table.
func insertEvents(ctx context.Context, tx *sql.Tx, events []*boxoffice.Event) error {
	if len(events) == 0 {
		return nil
	}
	eargs := make([]any, 0, len(events)*eventInsertCols)
	var targs []any
	for _, e := range events {
		eargs = appendEventArgs(eargs, e)
		for i := range e.Tiers {
			targs = appendTierArgs(targs, e.ID, &e.Tiers[i])
		}
	}
	if _, err := tx.ExecContext(ctx, insertEventsSQL(len(events)), eargs...); err != nil {
		return err
	}
	if len(targs) > 0 {
		if _, err := tx.ExecContext(ctx, insertTiersSQL(len(targs)/tierInsertCols), targs...); err != nil {
			return err
		}
	}
	return nil
}

func insertEventsSQL(n int) string {
	return `INSERT INTO events (id, title, description, venue, starts_at, ends_at, sales_start_at, sales_end_at,
		max_tickets_per_user, hold_seconds, queue_enabled, admit_per_minute, created_at, updated_at,
		require_verified_email, refunds_none, refunds_until, name_changes_until, organizer_id, status) VALUES ` + rowsOf(n, eventInsertCols)
}

func insertTiersSQL(n int) string {
	return `INSERT INTO tiers (id, event_id, name, price_amount, price_currency, capacity, reserved, hidden, closed) VALUES ` +
		rowsOf(n, tierInsertCols)
}

func appendEventArgs(args []any, e *boxoffice.Event) []any {
	return append(args, e.ID, e.Title, e.Description, e.Venue, us(e.StartsAt), nullUS(e.EndsAt),
		us(e.SalesStartAt), us(e.SalesEndAt), e.MaxTicketsPerUser, e.HoldSeconds, e.Queue.Enabled,
		e.Queue.AdmitPerMinute, us(e.CreatedAt), us(e.UpdatedAt), e.RequireVerifiedEmail, e.Refunds.None,
		nullUS(e.Refunds.Until), nullUS(e.NameChangesUntil), e.OrganizerOf(), string(e.StatusOf()))
}

func appendTierArgs(args []any, eventID string, t *boxoffice.Tier) []any {
	return append(args, t.ID, eventID, t.Name, t.Price.Amount, t.Price.Currency, t.Capacity, 0, t.Hidden, t.Closed)
}

// Event returns the event with its tiers (ordered by tier ID) and their
// current Reserved counts, or boxoffice.ErrNotFound.
func (s *Store) Event(ctx context.Context, id string) (*boxoffice.Event, error) {
	e, err := loadEvent(ctx, s.r, id)
	return e, wrap("event", err)
}

// ListEvents returns up to f.Limit events with their tiers matching f,
// ordered by (StartsAt, ID). The page walks the (starts_at, id) index from
// the cursor, so its cost does not grow with the cursor's depth; a Query is
// a case-insensitive LIKE on title and venue, filtered along that walk.
func (s *Store) ListEvents(ctx context.Context, f boxoffice.EventFilter) ([]*boxoffice.Event, error) {
	status := f.Status
	if status == "" {
		status = boxoffice.EventPublished
	}
	where := []string{"status = ?"}
	args := []any{string(status)}
	if f.AfterID != "" {
		where = append(where, "(starts_at, id) > (?, ?)")
		args = append(args, us(f.AfterStartsAt), f.AfterID)
	}
	if !f.StartsAfter.IsZero() {
		where = append(where, "starts_at > ?")
		args = append(args, us(f.StartsAfter))
	}
	if !f.StartsBefore.IsZero() {
		where = append(where, "starts_at < ?")
		args = append(args, us(f.StartsBefore))
	}
	if !f.OnSaleAt.IsZero() {
		where = append(where, "sales_start_at <= ? AND sales_end_at > ?")
		args = append(args, us(f.OnSaleAt), us(f.OnSaleAt))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		pattern := "%" + escapeLike(q) + "%"
		where = append(where, `(title LIKE ? ESCAPE '\' OR venue LIKE ? ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	query := "SELECT id, starts_at FROM events INDEXED BY events_starts_at WHERE " + strings.Join(where, " AND ")
	query += " ORDER BY starts_at, id LIMIT ?"
	args = append(args, limitOf(f.Limit))

	rows, err := s.r.QueryContext(ctx, "WITH page AS ("+query+") SELECT "+eventTierCols+
		` FROM page JOIN events e ON e.id = page.id LEFT JOIN tiers t ON t.event_id = e.id
		ORDER BY page.starts_at, page.id, t.id`, args...)
	if err != nil {
		return nil, wrap("list events", err)
	}
	var out []*boxoffice.Event
	err = scanEvents(rows, nil, func(e *boxoffice.Event) { out = append(out, e) })
	return out, wrap("list events", err)
}

// OrganizerEvents returns up to f.Limit of an organizer's events of every
// status with their tiers, ordered by (StartsAt, ID) descending. The page
// walks the (organizer_id, starts_at, id) index backwards from the cursor.
func (s *Store) OrganizerEvents(ctx context.Context, f boxoffice.OrganizerEventFilter) ([]*boxoffice.Event, error) {
	where := "organizer_id = ?"
	args := []any{f.OrganizerID}
	if f.BeforeID != "" {
		where += " AND (starts_at, id) < (?, ?)"
		args = append(args, us(f.BeforeStartsAt), f.BeforeID)
	}
	args = append(args, limitOf(f.Limit))
	rows, err := s.r.QueryContext(ctx, `WITH page AS (SELECT id, starts_at FROM events INDEXED BY events_organizer
		WHERE `+where+` ORDER BY starts_at DESC, id DESC LIMIT ?) SELECT `+eventTierCols+`
		FROM page JOIN events e ON e.id = page.id LEFT JOIN tiers t ON t.event_id = e.id
		ORDER BY page.starts_at DESC, page.id DESC, t.id`, args...)
	if err != nil {
		return nil, wrap("organizer events", err)
	}
	out := []*boxoffice.Event{}
	err = scanEvents(rows, nil, func(e *boxoffice.Event) { out = append(out, e) })
	return out, wrap("organizer events", err)
}

// escapeLike escapes LIKE's wildcards (with \ as the escape character).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateEvent loads the event with its tiers in a write transaction (the
// database's write lock is the event's lock), calls apply, and writes the
// result back. It returns boxoffice.ErrNotFound, apply's error, or
// boxoffice.ErrCapacityConflict when a tier's capacity would fall below its
// Reserved count. Tiers that apply removes from the slice are kept.
func (s *Store) UpdateEvent(ctx context.Context, id string, apply func(*boxoffice.Event) error) (*boxoffice.Event, error) {
	var out *boxoffice.Event
	err := s.inTx(ctx, "update event", func(tx *sql.Tx) error {
		e, err := loadEvent(ctx, tx, id)
		if err != nil {
			return err
		}
		stored := make(map[string]int, len(e.Tiers)) // tier ID → Reserved
		for _, t := range e.Tiers {
			stored[t.ID] = t.Reserved
		}
		if err := apply(e); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET title = ?, description = ?, venue = ?, starts_at = ?,
			ends_at = ?, sales_start_at = ?, sales_end_at = ?, max_tickets_per_user = ?, hold_seconds = ?,
			queue_enabled = ?, admit_per_minute = ?, require_verified_email = ?, refunds_none = ?, refunds_until = ?,
			name_changes_until = ?, status = ?, updated_at = ? WHERE id = ?`,
			e.Title, e.Description, e.Venue, us(e.StartsAt), nullUS(e.EndsAt), us(e.SalesStartAt), us(e.SalesEndAt),
			e.MaxTicketsPerUser, e.HoldSeconds, e.Queue.Enabled, e.Queue.AdmitPerMinute, e.RequireVerifiedEmail,
			e.Refunds.None, nullUS(e.Refunds.Until), nullUS(e.NameChangesUntil), string(e.StatusOf()), us(e.UpdatedAt), id); err != nil {
			return err
		}
		for i := range e.Tiers {
			t := &e.Tiers[i]
			reserved, ok := stored[t.ID]
			if !ok {
				if _, err := tx.ExecContext(ctx, insertTiersSQL(1), appendTierArgs(nil, id, t)...); err != nil {
					return err
				}
				continue
			}
			if t.Capacity < reserved {
				return boxoffice.ErrCapacityConflict
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tiers SET name = ?, price_amount = ?, price_currency = ?, capacity = ?,
				hidden = ?, closed = ? WHERE id = ? AND event_id = ? AND reserved <= ?`,
				t.Name, t.Price.Amount, t.Price.Currency, t.Capacity, t.Hidden, t.Closed, t.ID, id, t.Capacity); err != nil {
				return err
			}
		}
		out, err = loadEvent(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteEvent deletes the event with its tiers, bookmarks, signing key,
// gates, door staff, and cancelled or expired reservations that were never
// paid (an event without orders has no tickets). It returns
// boxoffice.ErrNotFound, boxoffice.ErrHasReservations when any tier has held
// or confirmed tickets or a reservation was ever confirmed, or
// boxoffice.ErrHasOrders when the event has any order.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	return s.inTx(ctx, "delete event", func(tx *sql.Tx) error {
		var busy, orders int
		err := tx.QueryRowContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM tiers WHERE event_id = ?1 AND reserved > 0)
			OR EXISTS (SELECT 1 FROM tiers t JOIN reservations r ON r.tier_id = t.id
				WHERE t.event_id = ?1 AND (r.status IN ('held', 'confirmed') OR r.confirmed_at IS NOT NULL)),
			EXISTS (SELECT 1 FROM orders WHERE event_id = ?1)
			FROM events WHERE id = ?1`, id).Scan(&busy, &orders)
		switch {
		case err != nil:
			return err
		case orders != 0:
			return boxoffice.ErrHasOrders
		case busy != 0:
			return boxoffice.ErrHasReservations
		}
		for _, q := range []string{
			`DELETE FROM user_event_tickets WHERE event_id = ?1 AND user_id IN
				(SELECT r.user_id FROM tiers t JOIN reservations r ON r.tier_id = t.id WHERE t.event_id = ?1)`,
			"DELETE FROM reservations WHERE tier_id IN (SELECT id FROM tiers WHERE event_id = ?1)",
			"DELETE FROM bookmarks WHERE event_id = ?1",
			"DELETE FROM event_keys WHERE event_id = ?1",
			"DELETE FROM gates WHERE event_id = ?1",
			"DELETE FROM event_staff WHERE event_id = ?1",
			"DELETE FROM tiers WHERE event_id = ?1",
			"DELETE FROM events WHERE id = ?1",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutBookmark saves eventID for userID at time at; saving it again changes
// nothing. It returns boxoffice.ErrNotFound for an unknown event.
func (s *Store) PutBookmark(ctx context.Context, userID, eventID string, at time.Time) error {
	return s.inTx(ctx, "put bookmark", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ?", eventID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO bookmarks (user_id, event_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id, event_id) DO NOTHING`, userID, eventID, us(at))
		return err
	})
}

// DeleteBookmark removes the bookmark if it exists.
func (s *Store) DeleteBookmark(ctx context.Context, userID, eventID string) error {
	return s.inTx(ctx, "delete bookmark", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM bookmarks WHERE user_id = ? AND event_id = ?", userID, eventID)
		return err
	})
}

// ListBookmarks returns up to f.Limit bookmarks with their events, newest
// first by (CreatedAt, event ID).
func (s *Store) ListBookmarks(ctx context.Context, f boxoffice.BookmarkFilter) ([]*boxoffice.Bookmark, error) {
	query := "SELECT event_id, created_at FROM bookmarks INDEXED BY bookmarks_user_created WHERE user_id = ?"
	args := []any{f.UserID}
	if f.BeforeEventID != "" {
		query += " AND (created_at, event_id) < (?, ?)"
		args = append(args, us(f.BeforeCreatedAt), f.BeforeEventID)
	}
	query += " ORDER BY created_at DESC, event_id DESC LIMIT ?"
	args = append(args, limitOf(f.Limit))
	rows, err := s.r.QueryContext(ctx, "WITH page AS ("+query+") SELECT page.created_at, "+eventTierCols+
		` FROM page JOIN events e ON e.id = page.event_id LEFT JOIN tiers t ON t.event_id = e.id
		ORDER BY page.created_at DESC, page.event_id DESC, t.id`, args...)
	if err != nil {
		return nil, wrap("list bookmarks", err)
	}
	var out []*boxoffice.Bookmark
	var created int64
	err = scanEvents(rows, []any{&created}, func(e *boxoffice.Event) {
		out = append(out, &boxoffice.Bookmark{UserID: f.UserID, Event: e, CreatedAt: fromUS(created)})
	})
	return out, wrap("list bookmarks", err)
}
