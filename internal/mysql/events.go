package mysql

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"boxoffice"
)

const eventCols = "id, title, description, venue, starts_at, ends_at, sales_start_at, sales_end_at, " +
	"max_tickets_per_user, hold_seconds, queue_enabled, admit_per_minute, created_at, updated_at, require_verified_email, " +
	"refunds_none, refunds_until, name_changes_until, organizer_id, status"

// eventColsOf is eventCols with every column qualified by alias.
func eventColsOf(alias string) string {
	cols := strings.Split(eventCols, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

const tierCols = "id, event_id, name, price_amount, price_currency, capacity, reserved, hidden, closed"

type scanner interface{ Scan(...any) error }

// eventDest returns the scan destinations of eventCols for e.
func eventDest(e *boxoffice.Event, ends, refundsUntil, namesUntil *sql.NullTime) []any {
	return []any{&e.ID, &e.Title, &e.Description, &e.Venue, &e.StartsAt, ends, &e.SalesStartAt, &e.SalesEndAt,
		&e.MaxTicketsPerUser, &e.HoldSeconds, &e.Queue.Enabled, &e.Queue.AdmitPerMinute, &e.CreatedAt, &e.UpdatedAt,
		&e.RequireVerifiedEmail, &e.Refunds.None, refundsUntil, namesUntil, &e.OrganizerID, &e.Status}
}

func scanEvent(row scanner, extra ...any) (*boxoffice.Event, error) {
	e := &boxoffice.Event{}
	var ends, refundsUntil, namesUntil sql.NullTime
	if err := row.Scan(append(extra, eventDest(e, &ends, &refundsUntil, &namesUntil)...)...); err != nil {
		return nil, err
	}
	if ends.Valid {
		t := ends.Time
		e.EndsAt = &t
	}
	if refundsUntil.Valid {
		t := refundsUntil.Time
		e.Refunds.Until = &t
	}
	if namesUntil.Valid {
		t := namesUntil.Time
		e.NameChangesUntil = &t
	}
	return e, nil
}

func scanTier(row scanner) (boxoffice.Tier, error) {
	var t boxoffice.Tier
	err := row.Scan(&t.ID, &t.EventID, &t.Name, &t.Price.Amount, &t.Price.Currency, &t.Capacity, &t.Reserved, &t.Hidden, &t.Closed)
	return t, err
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// attachTiers loads the tiers of events in one query and attaches them,
// ordered by tier ID.
func attachTiers(ctx context.Context, q querier, events []*boxoffice.Event, lock bool) error {
	if len(events) == 0 {
		return nil
	}
	byID := make(map[string]*boxoffice.Event, len(events))
	args := make([]any, 0, len(events))
	for _, e := range events {
		e.Tiers = []boxoffice.Tier{}
		if _, dup := byID[e.ID]; !dup {
			byID[e.ID] = e
			args = append(args, e.ID)
		}
	}
	query := "SELECT " + tierCols + " FROM tiers WHERE event_id IN (" + placeholders(len(args)) + ") ORDER BY event_id, id"
	if lock {
		query += " FOR UPDATE"
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTier(rows)
		if err != nil {
			return err
		}
		if e := byID[t.EventID]; e != nil {
			e.Tiers = append(e.Tiers, t)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// An event listed twice (bookmarks never do, but be safe) shares tiers.
	for _, e := range events {
		if first := byID[e.ID]; first != e {
			e.Tiers = first.Tiers
		}
	}
	return nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// nullTime turns an optional time into a driver value.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func insertTiers(ctx context.Context, q querier, tiers []boxoffice.Tier, eventID string) error {
	if len(tiers) == 0 {
		return nil
	}
	args := make([]any, 0, len(tiers)*9)
	for _, t := range tiers {
		args = append(args, t.ID, eventID, t.Name, t.Price.Amount, t.Price.Currency, t.Capacity, t.Reserved, t.Hidden, t.Closed)
	}
	_, err := q.ExecContext(ctx, "INSERT INTO tiers ("+tierCols+") VALUES "+rowsOf(len(tiers), 9), args...)
	return err
}

// rowsOf returns n groups of m placeholders for a multi-row INSERT.
func rowsOf(n, m int) string {
	row := "(" + placeholders(m) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

func eventArgs(e *boxoffice.Event) []any {
	return []any{e.ID, e.Title, e.Description, e.Venue, e.StartsAt.UTC(), nullTime(e.EndsAt),
		e.SalesStartAt.UTC(), e.SalesEndAt.UTC(), e.MaxTicketsPerUser, e.HoldSeconds, e.Queue.Enabled,
		e.Queue.AdmitPerMinute, e.CreatedAt.UTC(), e.UpdatedAt.UTC(), e.RequireVerifiedEmail, e.Refunds.None,
		nullTime(e.Refunds.Until), nullTime(e.NameChangesUntil), e.OrganizerOf(), string(e.StatusOf())}
}

// CreateEvent inserts e and its tiers (IDs already assigned) in one
// transaction.
func (s *Store) CreateEvent(ctx context.Context, e *boxoffice.Event) error {
	return s.inTx(ctx, "create event", nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO events ("+eventCols+") VALUES ("+placeholders(20)+")", eventArgs(e)...); err != nil {
			return err
		}
		return insertTiers(ctx, tx, e.Tiers, e.ID)
	})
}

// Event returns the event with its tiers (ordered by tier ID) and their
// current Reserved counts, or ErrNotFound.
func (s *Store) Event(ctx context.Context, id string) (*boxoffice.Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, "SELECT "+eventCols+" FROM events WHERE id = ?", id))
	if err == nil {
		err = attachTiers(ctx, s.db, []*boxoffice.Event{e}, false)
	}
	if err != nil {
		return nil, translate("event", err)
	}
	return e, nil
}

// salesBounds are the largest lead (starts_at - sales_start_at) and lag
// (sales_end_at - starts_at) of any event, in microseconds. An event on
// sale at now has starts_at in (now - lag, now + lead], which turns the
// on-sale filter into a range on the starts_at index.
type salesBounds struct {
	lead, lag int64
}

func (s *Store) salesBounds(ctx context.Context) (salesBounds, error) {
	var lead, lag sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(sales_lead_us), MAX(sales_lag_us) FROM events").Scan(&lead, &lag)
	return salesBounds{lead.Int64, lag.Int64}, err
}

// textScanRows bounds the ordered-scan attempt of a text search. A word in
// at least about limit/textScanRows of the events (2% for a page of 20) is
// found faster by walking INDEX(starts_at, id) than by FULLTEXT, which
// materialises and sorts every match (seconds for a word in 3% of ten
// million events). Each examined row costs a primary-key lookup (about
// 7 µs), so the bound is also what a rare word pays for the attempt.
const textScanRows = 1000

// ListEvents returns up to f.Limit events with their tiers matching f,
// ordered by (StartsAt, ID), with two or three queries whatever the depth of
// the cursor: the keyset condition is a range on INDEX(starts_at, id).
// A text search on MariaDB first walks that index for at most textScanRows
// rows (LIMIT … ROWS EXAMINED), which finds a page of a common word at once;
// when that does not fill the page it asks the FULLTEXT index, which is fast
// for rare words.
func (s *Store) ListEvents(ctx context.Context, f boxoffice.EventFilter) ([]*boxoffice.Event, error) {
	var b salesBounds
	if !f.OnSaleAt.IsZero() {
		var err error
		if b, err = s.salesBounds(ctx); err != nil {
			return nil, translate("list events", err)
		}
	}
	if strings.TrimSpace(f.Query) != "" && s.mariadb {
		query, args := listEventsQuery(f, b, textScanRows)
		events, err := s.queryEvents(ctx, query, args...)
		if err != nil {
			return nil, translate("list events", err)
		}
		if len(events) == listLimit(f) {
			return events, nil
		}
	}
	query, args := listEventsQuery(f, b, 0)
	events, err := s.queryEvents(ctx, query, args...)
	if err != nil {
		return nil, translate("list events", err)
	}
	return events, nil
}

// OrganizerEvents returns up to f.Limit of an organizer's events of every
// status with their tiers, ordered by (StartsAt, ID) descending: a
// backward walk of INDEX(organizer_id, starts_at, id) from the cursor.
func (s *Store) OrganizerEvents(ctx context.Context, f boxoffice.OrganizerEventFilter) ([]*boxoffice.Event, error) {
	where := "organizer_id = ?"
	args := []any{f.OrganizerID}
	if f.BeforeID != "" {
		// One range on the index, then the rows of the cursor's own start
		// time down to its ID (as in listEventsQuery).
		at := f.BeforeStartsAt.UTC()
		where += " AND starts_at <= ? AND (starts_at < ? OR id < ?)"
		args = append(args, at, at, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	args = append(args, limit)
	events, err := s.queryEvents(ctx, "SELECT "+eventCols+" FROM events FORCE INDEX (events_organizer) WHERE "+where+
		" ORDER BY starts_at DESC, id DESC LIMIT ?", args...)
	if err != nil {
		return nil, translate("organizer events", err)
	}
	return events, nil
}

func listLimit(f boxoffice.EventFilter) int {
	if f.Limit <= 0 {
		return boxoffice.DefaultLimit
	}
	return f.Limit
}

// queryEvents runs a query selecting eventCols and attaches the tiers.
func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]*boxoffice.Event, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	events := []*boxoffice.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := attachTiers(ctx, s.db, events, false); err != nil {
		return nil, err
	}
	return events, nil
}

// listEventsQuery builds the SQL of ListEvents. It is separate so tests can
// EXPLAIN exactly what ListEvents runs. With scanRows > 0 a text search is
// an ordered walk of INDEX(starts_at, id) that examines at most scanRows
// rows (MariaDB's LIMIT … ROWS EXAMINED) instead of a FULLTEXT lookup.
func listEventsQuery(f boxoffice.EventFilter, b salesBounds, scanRows int) (string, []any) {
	// The status is the first column of INDEX(status, starts_at, id): one
	// equality, then the ranges below on the rest, in index order.
	status := f.Status
	if status == "" {
		status = boxoffice.EventPublished
	}
	where := []string{"status = ?"}
	args := []any{string(status)}
	if f.AfterID != "" {
		// The first conjunct is one range on INDEX(starts_at, id), which the
		// optimizer never trades for a full index scan; the second drops the
		// rows of the cursor's own start time up to its ID.
		where = append(where, "starts_at >= ? AND (starts_at > ? OR id > ?)")
		at := f.AfterStartsAt.UTC()
		args = append(args, at, at, f.AfterID)
	}
	if !f.StartsAfter.IsZero() {
		where = append(where, "starts_at > ?")
		args = append(args, f.StartsAfter.UTC())
	}
	if !f.StartsBefore.IsZero() {
		where = append(where, "starts_at < ?")
		args = append(args, f.StartsBefore.UTC())
	}
	if !f.OnSaleAt.IsZero() {
		now := f.OnSaleAt.UTC()
		where = append(where, "sales_start_at <= ? AND sales_end_at > ? AND starts_at > ? AND starts_at <= ?")
		args = append(args, now, now,
			now.Add(-time.Duration(b.lag)*time.Microsecond), now.Add(time.Duration(b.lead)*time.Microsecond))
	}
	text := false
	if q := strings.TrimSpace(f.Query); q != "" {
		text = scanRows == 0
		cond, qargs := textCondition(q, scanRows > 0)
		where = append(where, cond)
		args = append(args, qargs...)
	}
	query := "SELECT " + eventCols + " FROM events"
	if !text {
		// Without it the optimizer may pick a full scan of the same index
		// from its start (type "index") when it guesses that LIMIT rows
		// come early; at depth that guess reads millions of entries.
		query += " FORCE INDEX (events_starts_at)"
	}
	query += " WHERE " + strings.Join(where, " AND ")
	query += " ORDER BY starts_at, id LIMIT ?"
	args = append(args, listLimit(f))
	if scanRows > 0 {
		query += " ROWS EXAMINED ?"
		args = append(args, scanRows)
	}
	return query, args
}

// minTokenLen is InnoDB's innodb_ft_min_token_size default: shorter words
// are not in the FULLTEXT index.
const minTokenLen = 3

// textCondition turns a search string into a condition on title and venue.
// Words of minTokenLen or more characters must all appear as word prefixes
// (FULLTEXT, boolean mode, "+word*"; with scan, the same as a regular
// expression evaluated row by row); shorter words must appear as substrings
// (LIKE). Operator characters are stripped.
func textCondition(q string, scan bool) (string, []any) {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var conds []string
	var args []any
	var ft []string
	for _, w := range words {
		if utf8.RuneCountInString(w) >= minTokenLen {
			if scan {
				// LIKE is cheap and rejects most rows before the costly
				// REGEXP; words hold only letters and digits, so neither
				// needs quoting.
				like, re := "%"+w+"%", `\b`+w
				conds = append(conds, "((title LIKE ? AND title REGEXP ?) OR (venue LIKE ? AND venue REGEXP ?))")
				args = append(args, like, re, like, re)
				continue
			}
			ft = append(ft, "+"+w+"*")
			continue
		}
		conds = append(conds, "(title LIKE ? OR venue LIKE ?)")
		args = append(args, "%"+w+"%", "%"+w+"%")
	}
	if len(ft) > 0 {
		conds = append([]string{"MATCH(title, venue) AGAINST(? IN BOOLEAN MODE)"}, conds...)
		args = append([]any{strings.Join(ft, " ")}, args...)
	}
	if len(conds) == 0 {
		// Only punctuation: match it literally.
		like := "%" + escapeLike(q) + "%"
		return "(title LIKE ? OR venue LIKE ?)", []any{like, like}
	}
	return strings.Join(conds, " AND "), args
}

// escapeLike escapes LIKE's wildcards and its escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateEvent loads the event and its tiers under lock, lets apply change
// it, and writes it back in the same transaction. It returns ErrNotFound,
// apply's error, or ErrCapacityConflict when a tier's capacity would fall
// below its Reserved count.
func (s *Store) UpdateEvent(ctx context.Context, id string, apply func(*boxoffice.Event) error) (*boxoffice.Event, error) {
	var out *boxoffice.Event
	err := s.inTx(ctx, "update event", nil, func(tx *sql.Tx) error {
		e, err := scanEvent(tx.QueryRowContext(ctx, "SELECT "+eventCols+" FROM events WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		if err := attachTiers(ctx, tx, []*boxoffice.Event{e}, true); err != nil {
			return err
		}
		before := make(map[string]boxoffice.Tier, len(e.Tiers))
		for _, t := range e.Tiers {
			before[t.ID] = t
		}
		organizer := e.OrganizerID
		if err := apply(e); err != nil {
			return callerError{err}
		}
		e.ID, e.OrganizerID = id, organizer
		var added []boxoffice.Tier
		for i := range e.Tiers {
			t := &e.Tiers[i]
			t.EventID = id
			old, ok := before[t.ID]
			if !ok {
				t.Reserved = 0
				added = append(added, *t)
				continue
			}
			// The locked row's count is the truth, whatever apply did.
			t.Reserved = old.Reserved
			if t.Capacity < t.Reserved {
				return boxoffice.ErrCapacityConflict
			}
			if t.Name != old.Name || t.Price != old.Price || t.Capacity != old.Capacity || t.Hidden != old.Hidden || t.Closed != old.Closed {
				if _, err := tx.ExecContext(ctx,
					"UPDATE tiers SET name = ?, price_amount = ?, price_currency = ?, capacity = ?, hidden = ?, closed = ? WHERE id = ?",
					t.Name, t.Price.Amount, t.Price.Currency, t.Capacity, t.Hidden, t.Closed, t.ID); err != nil {
					return err
				}
			}
		}
		if err := insertTiers(ctx, tx, added, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE events SET title = ?, description = ?, venue = ?, starts_at = ?,
			ends_at = ?, sales_start_at = ?, sales_end_at = ?, max_tickets_per_user = ?, hold_seconds = ?,
			queue_enabled = ?, admit_per_minute = ?, require_verified_email = ?, refunds_none = ?, refunds_until = ?,
			name_changes_until = ?, status = ?, updated_at = ? WHERE id = ?`,
			e.Title, e.Description, e.Venue, e.StartsAt.UTC(), nullTime(e.EndsAt), e.SalesStartAt.UTC(),
			e.SalesEndAt.UTC(), e.MaxTicketsPerUser, e.HoldSeconds, e.Queue.Enabled, e.Queue.AdmitPerMinute,
			e.RequireVerifiedEmail, e.Refunds.None, nullTime(e.Refunds.Until), nullTime(e.NameChangesUntil),
			string(e.StatusOf()), e.UpdatedAt.UTC(), id); err != nil {
			return err
		}
		sort.Slice(e.Tiers, func(i, j int) bool { return e.Tiers[i].ID < e.Tiers[j].ID })
		out = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteEvent deletes the event with its tiers, bookmarks, signing key,
// gates, door staff, and cancelled or expired reservations that were never
// paid. It returns ErrNotFound, ErrHasOrders when the event has any order
// (so it has no tickets), or ErrHasReservations when any tier has held or
// confirmed tickets or a reservation was ever confirmed: money history is
// never erased.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	return s.inTx(ctx, "delete event", nil, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ? FOR UPDATE", id).Scan(&one); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT id, reserved FROM tiers WHERE event_id = ? ORDER BY id FOR UPDATE", id)
		if err != nil {
			return err
		}
		var tierIDs []any
		total := 0
		for rows.Next() {
			var tid string
			var n int
			if err := rows.Scan(&tid, &n); err != nil {
				rows.Close()
				return err
			}
			tierIDs = append(tierIDs, tid)
			total += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// A locking read: it sees every committed order and keeps new ones
		// out until the delete commits.
		switch err := tx.QueryRowContext(ctx, "SELECT 1 FROM orders WHERE event_id = ? LIMIT 1 FOR UPDATE", id).Scan(&one); {
		case err == nil:
			return boxoffice.ErrHasOrders
		case err != sql.ErrNoRows:
			return err
		}
		if total > 0 {
			return boxoffice.ErrHasReservations
		}
		if len(tierIDs) > 0 {
			// A reservation confirmed once (and cancelled since) was paid
			// for: its money history stays.
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM reservations WHERE tier_id IN ("+placeholders(len(tierIDs))+
				") AND confirmed_at IS NOT NULL LIMIT 1", tierIDs...).Scan(&one)
			switch {
			case err == nil:
				return boxoffice.ErrHasReservations
			case err != sql.ErrNoRows:
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM reservations WHERE tier_id IN ("+placeholders(len(tierIDs))+")", tierIDs...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM tiers WHERE event_id = ?", id); err != nil {
				return err
			}
		}
		for _, stmt := range []string{
			"DELETE FROM bookmarks WHERE event_id = ?",
			"DELETE FROM event_keys WHERE event_id = ?",
			"DELETE FROM gates WHERE event_id = ?",
			"DELETE FROM event_staff WHERE event_id = ?",
			"DELETE FROM events WHERE id = ?",
		} {
			if _, err := tx.ExecContext(ctx, stmt, id); err != nil {
				return err
			}
		}
		return nil
	})
}
