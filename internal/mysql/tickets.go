package mysql

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"boxoffice"
)

// This file is the TicketStore: tickets, the events' signing keys, scans,
// gates and door staff (tables of migration 0007). Tickets are inserted by
// SettlePayment and voided by RefundOrder (orders.go); every rule is the
// domain's (IssueTickets, RenameStep, UndoCheckinStep, DecideScans). Lock
// order: ticket rows after their order, sorted by ID.

const (
	ticketCols = "id, order_id, event_id, tier_id, user_id, attendee_name, status, version, issued_at, updated_at, " +
		"checked_in_at, gate"
	checkinCols = "id, event_id, ticket_id, gate, device_id, scan_id, scanned_at, recorded_at, result, admitted, undone"
)

// bulkCheckins is CheckIn's insert of the scans it puts on record,
// prepared: in the binary protocol MariaDB spends about 40 % less CPU per
// record than on the same rows as SQL text (10–14 µs against 18–23). The
// tickets' upsert stays SQL text, which costs less than prepared (24 µs a
// row against 36).
var bulkCheckins = bulkWrite{head: "INSERT INTO checkins (" + checkinCols + ") VALUES ", cols: 11}

// writeRows is the most rows one multi-row statement of the ticket path
// writes (well below the 65,535 placeholders of a statement).
const writeRows = 1000

func scanTicket(row scanner) (*boxoffice.Ticket, error) {
	t := &boxoffice.Ticket{}
	var status string
	var checkedIn sql.NullTime
	var gate sql.NullString
	if err := row.Scan(&t.ID, &t.OrderID, &t.EventID, &t.TierID, &t.UserID, &t.AttendeeName, &status, &t.Version,
		&t.IssuedAt, &t.UpdatedAt, &checkedIn, &gate); err != nil {
		return nil, err
	}
	t.Status, t.Gate = boxoffice.TicketStatus(status), gate.String
	if checkedIn.Valid {
		at := checkedIn.Time
		t.CheckedInAt = &at
	}
	return t, nil
}

// ticketArgs returns the values of ticketCols for t. A ticket that is not
// checked in has no gate (NULL).
func ticketArgs(t *boxoffice.Ticket) []any {
	var gate any
	if t.CheckedInAt != nil {
		gate = t.Gate
	}
	return []any{t.ID, t.OrderID, t.EventID, t.TierID, t.UserID, t.AttendeeName, string(t.Status), t.Version,
		t.IssuedAt.UTC(), t.UpdatedAt.UTC(), nullTime(t.CheckedInAt), gate}
}

func queryTickets(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.Ticket, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*boxoffice.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// execRows runs head + rows + tail for the rows (cols values each, args
// flattened row after row), writeRows rows per statement: one statement
// for any batch the ticket path writes.
func execRows(ctx context.Context, tx *sql.Tx, head string, cols int, tail string, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/cols, writeRows)
		if _, err := tx.ExecContext(ctx, head+rowsOf(n, cols)+tail, args[:n*cols]...); err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

// insertTickets inserts newly issued tickets in one statement.
func insertTickets(ctx context.Context, tx *sql.Tx, ts []*boxoffice.Ticket) error {
	args := make([]any, 0, 12*len(ts))
	for _, t := range ts {
		args = append(args, ticketArgs(t)...)
	}
	return execRows(ctx, tx, "INSERT INTO tickets ("+ticketCols+") VALUES ", 12, "", args)
}

// writeTickets writes back the attendee name, version, status, check-in
// and UpdatedAt of tickets locked before, all in one statement: an upsert
// whose rows all exist updates each in place.
func writeTickets(ctx context.Context, tx *sql.Tx, ts []*boxoffice.Ticket) error {
	args := make([]any, 0, 12*len(ts))
	for _, t := range ts {
		args = append(args, ticketArgs(t)...)
	}
	return execRows(ctx, tx, "INSERT INTO tickets ("+ticketCols+") VALUES ", 12,
		" ON DUPLICATE KEY UPDATE attendee_name = VALUES(attendee_name), version = VALUES(version), "+
			"status = VALUES(status), updated_at = VALUES(updated_at), checked_in_at = VALUES(checked_in_at), "+
			"gate = VALUES(gate)", args)
}

// ticketsOf returns the tickets of ts whose IDs are in ids.
func ticketsOf(ts []*boxoffice.Ticket, ids []string) []*boxoffice.Ticket {
	var out []*boxoffice.Ticket
	for _, t := range ts {
		if slices.Contains(ids, t.ID) {
			out = append(out, t)
		}
	}
	return out
}

// EventKey returns the event's signing key, storing fresh when it has none.
// The usual case, a key on record, is one read; else the event's row is
// share-locked (DeleteEvent waits), fresh is inserted unless a key was
// stored meanwhile, and the key on record is read back with a locking
// read, which sees the one stored first whoever stored it.
func (s *Store) EventKey(ctx context.Context, eventID string, fresh *boxoffice.EventKey) (*boxoffice.EventKey, error) {
	const query = "SELECT event_id, public_key, private_key, created_at FROM event_keys WHERE event_id = ?"
	k, err := scanEventKey(s.db.QueryRowContext(ctx, query, eventID))
	switch {
	case err == nil:
		return k, nil
	case err != sql.ErrNoRows:
		return nil, translate("event key", err)
	case fresh == nil:
		return nil, boxoffice.ErrNotFound
	}
	err = s.inTx(ctx, "event key", nil, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ? LOCK IN SHARE MODE", eventID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO event_keys (event_id, public_key, private_key, created_at) "+
			"VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE event_id = event_id",
			eventID, []byte(fresh.Public), []byte(fresh.Private), fresh.CreatedAt.UTC()); err != nil {
			return err
		}
		var err error
		k, err = scanEventKey(tx.QueryRowContext(ctx, query+" LOCK IN SHARE MODE", eventID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func scanEventKey(row scanner) (*boxoffice.EventKey, error) {
	k := &boxoffice.EventKey{}
	var pub, priv []byte
	if err := row.Scan(&k.EventID, &pub, &priv, &k.CreatedAt); err != nil {
		return nil, err
	}
	k.Public, k.Private = ed25519.PublicKey(pub), ed25519.PrivateKey(priv)
	return k, nil
}

// Ticket returns a ticket, or ErrNotFound.
func (s *Store) Ticket(ctx context.Context, id string) (*boxoffice.Ticket, error) {
	t, err := scanTicket(s.db.QueryRowContext(ctx, "SELECT "+ticketCols+" FROM tickets WHERE id = ?", id))
	if err != nil {
		return nil, translate("ticket", err)
	}
	return t, nil
}

// OrderTickets returns an order's tickets ordered by ID, from
// INDEX(order_id, id).
func (s *Store) OrderTickets(ctx context.Context, orderID string) ([]*boxoffice.Ticket, error) {
	out, err := queryTickets(ctx, s.db, "SELECT "+ticketCols+" FROM tickets WHERE order_id = ? ORDER BY id", orderID)
	if err != nil {
		return nil, translate("order tickets", err)
	}
	return out, nil
}

// EventTickets returns up to limit (DefaultLimit when not positive) of an
// event's tickets after afterID, ordered by ID: a range on
// INDEX(event_id, id) whatever the depth of the page.
func (s *Store) EventTickets(ctx context.Context, eventID, afterID string, limit int) ([]*boxoffice.Ticket, error) {
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	out, err := queryTickets(ctx, s.db, "SELECT "+ticketCols+
		" FROM tickets WHERE event_id = ? AND id > ? ORDER BY id LIMIT ?", eventID, afterID, limit)
	if err != nil {
		return nil, translate("event tickets", err)
	}
	return out, nil
}

// UpdateTicket locks the ticket, lets apply change it, and writes it back;
// when apply undid a check-in, the ticket's admitting scans on record are
// marked undone in the same transaction.
func (s *Store) UpdateTicket(ctx context.Context, id string, apply func(*boxoffice.Ticket) (bool, error)) (*boxoffice.Ticket, error) {
	var out *boxoffice.Ticket
	err := s.inTx(ctx, "update ticket", nil, func(tx *sql.Tx) error {
		t, err := scanTicket(tx.QueryRowContext(ctx, "SELECT "+ticketCols+" FROM tickets WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		undone, err := apply(t)
		if err != nil {
			return callerError{err}
		}
		t.ID = id
		var gate any
		if t.CheckedInAt != nil {
			gate = t.Gate
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET attendee_name = ?, version = ?, status = ?, checked_in_at = ?, "+
			"gate = ?, updated_at = ? WHERE id = ?", t.AttendeeName, t.Version, string(t.Status), nullTime(t.CheckedInAt),
			gate, t.UpdatedAt.UTC(), id); err != nil {
			return err
		}
		if undone {
			if _, err := tx.ExecContext(ctx, "UPDATE checkins SET undone = TRUE WHERE ticket_id = ? AND admitted AND NOT undone", id); err != nil {
				return err
			}
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func scanCheckin(row scanner) (*boxoffice.CheckinRecord, error) {
	r := &boxoffice.CheckinRecord{}
	var scanID sql.NullString
	var result string
	if err := row.Scan(&r.ID, &r.EventID, &r.TicketID, &r.Gate, &r.DeviceID, &scanID, &r.ScannedAt, &r.RecordedAt,
		&result, &r.Admitted, &r.Undone); err != nil {
		return nil, err
	}
	r.ScanID, r.Result = scanID.String, boxoffice.CheckinResult(result)
	return r, nil
}

func queryCheckins(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.CheckinRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*boxoffice.CheckinRecord{}
	for rows.Next() {
		r, err := scanCheckin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CheckIn decides a batch of scans of one event in one transaction, with
// a handful of statements whatever the batch size:
//
//  1. the batch's tickets of the event, locked in ID order (lookups on
//     the primary key);
//  2. when some are used, the scans on record that admitted them (not
//     undone), from INDEX(ticket_id), the first of each kept;
//  3. when some scans were made offline, the scans recorded before under
//     their (device, scan) keys, from the UNIQUE key checkins_scan;
//  4. the tickets DecideScans changed, in one upsert;
//  5. the scans it put on record, in multi-row inserts (one per binary
//     digit of their count, up to bulkRows rows each).
//
// The reads of 2 and 3 come after the tickets' locks, so they see every
// scan of those tickets committed before. Two uploads of one offline scan
// meet on its ticket's lock; should they meet on the UNIQUE key instead
// (one scan ID sent for two tickets), the duplicate runs the batch again,
// which then answers it from the record.
func (s *Store) CheckIn(ctx context.Context, eventID string, scans []*boxoffice.Scan) error {
	if len(scans) == 0 {
		return nil
	}
	if err := s.bulk.prepare(ctx, s.db, bulkCheckins); err != nil {
		return translate("check in", err)
	}
	ids := make([]string, 0, len(scans))
	var keys []boxoffice.ScanKey
	seenKey := map[boxoffice.ScanKey]bool{}
	for _, sc := range scans {
		ids = append(ids, sc.Claim.TicketID)
		if k := (boxoffice.ScanKey{DeviceID: sc.DeviceID, ScanID: sc.ScanID}); sc.ScanID != "" && !seenKey[k] {
			seenKey[k] = true
			keys = append(keys, k)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	idArgs := make([]any, 0, len(ids)+1)
	idArgs = append(idArgs, eventID)
	for _, id := range ids {
		idArgs = append(idArgs, id)
	}
	lockQuery := lockTicketsQuery(len(ids))
	var recQuery string
	recArgs := make([]any, 0, 1+2*len(keys))
	if len(keys) > 0 {
		recQuery = recordedScansQuery(len(keys))
		recArgs = append(recArgs, eventID)
		for _, k := range keys {
			recArgs = append(recArgs, k.DeviceID, k.ScanID)
		}
	}

	return s.inTx(ctx, "check in", nil, func(tx *sql.Tx) error {
		tickets, err := queryTickets(ctx, tx, lockQuery, idArgs...)
		if err != nil {
			return err
		}
		facts := boxoffice.CheckinFacts{
			Tickets:  make(map[string]*boxoffice.Ticket, len(tickets)),
			First:    map[string]*boxoffice.CheckinRecord{},
			Recorded: map[boxoffice.ScanKey]*boxoffice.CheckinRecord{},
		}
		var used []any
		for _, t := range tickets {
			facts.Tickets[t.ID] = t
			if t.Status == boxoffice.TicketUsed {
				used = append(used, t.ID)
			}
		}
		if len(used) > 0 {
			recs, err := queryCheckins(ctx, tx, firstScansQuery(len(used)), used...)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if facts.First[r.TicketID] == nil {
					facts.First[r.TicketID] = r
				}
			}
		}
		if recQuery != "" {
			recs, err := queryCheckins(ctx, tx, recQuery, recArgs...)
			if err != nil {
				return err
			}
			for _, r := range recs {
				facts.Recorded[boxoffice.ScanKey{DeviceID: r.DeviceID, ScanID: r.ScanID}] = r
			}
		}
		// A run after a failed attempt decides afresh.
		for _, sc := range scans {
			sc.Result, sc.Reason, sc.Ticket, sc.First = "", "", nil, nil
		}
		ch := boxoffice.DecideScans(eventID, scans, facts)
		if err := writeTickets(ctx, tx, ch.Tickets); err != nil {
			return err
		}
		args := make([]any, 0, 11*len(ch.Records))
		for _, r := range ch.Records {
			args = append(args, r.ID, r.EventID, r.TicketID, r.Gate, r.DeviceID, nullString(r.ScanID),
				r.ScannedAt.UTC(), r.RecordedAt.UTC(), string(r.Result), r.Admitted, r.Undone)
		}
		if err := s.bulk.exec(ctx, tx, bulkCheckins, args); err != nil {
			return err
		}
		// One statement for the batch's messages, none when nobody
		// subscribes.
		return insertWebhookMessages(ctx, tx, ch.Webhooks)
	})
}

// lockTicketsQuery selects and locks the tickets of an event among n IDs
// (sorted). By primary key, equality on a unique index, it takes record
// locks only; by tickets_event (the optimizer's pick for small batches) it
// would also lock gaps of that index, where new tickets of the event go.
func lockTicketsQuery(n int) string {
	return "SELECT " + ticketCols + " FROM tickets FORCE INDEX (PRIMARY) WHERE event_id = ? AND id IN (" +
		placeholders(n) + ") ORDER BY id FOR UPDATE"
}

// firstScansQuery selects the admitting scans on record (not undone) of n
// tickets, each ticket's in "first scan wins" order.
func firstScansQuery(n int) string {
	return "SELECT " + checkinCols + " FROM checkins WHERE ticket_id IN (" + placeholders(n) +
		") AND admitted AND NOT undone ORDER BY ticket_id, scanned_at, device_id, scan_id"
}

// recordedScansQuery selects an event's scans on record under n (device,
// scan) keys.
func recordedScansQuery(n int) string {
	var b strings.Builder
	b.WriteString("SELECT " + checkinCols + " FROM checkins WHERE event_id = ? AND (")
	for i := range n {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(device_id = ? AND scan_id = ?)")
	}
	b.WriteString(")")
	return b.String()
}

// CheckinAdmissions returns the admitting scans on record (not undone) of
// the event's tickets admitted more than once, by ticket and then in
// "first scan wins" order.
func (s *Store) CheckinAdmissions(ctx context.Context, eventID string) ([]*boxoffice.CheckinRecord, error) {
	out, err := queryCheckins(ctx, s.db, "SELECT "+checkinCols+` FROM checkins
		WHERE event_id = ? AND admitted AND NOT undone AND ticket_id IN (
			SELECT ticket_id FROM checkins WHERE event_id = ? AND admitted AND NOT undone
			GROUP BY ticket_id HAVING COUNT(*) > 1)
		ORDER BY ticket_id, scanned_at, device_id, scan_id`, eventID, eventID)
	if err != nil {
		return nil, translate("checkin admissions", err)
	}
	return out, nil
}

// TicketCounts returns the event's tickets by tier and status and its used
// tickets by gate, read in one snapshot from the covering
// INDEX(event_id, tier_id, status, gate).
func (s *Store) TicketCounts(ctx context.Context, eventID string) ([]boxoffice.TicketCount, map[string]int, error) {
	counts := []boxoffice.TicketCount{}
	here := map[string]int{}
	err := s.inTx(ctx, "ticket counts", &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		counts, here = counts[:0], map[string]int{}
		rows, err := tx.QueryContext(ctx, "SELECT tier_id, status, COUNT(*) FROM tickets WHERE event_id = ? "+
			"GROUP BY tier_id, status ORDER BY tier_id, status", eventID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c boxoffice.TicketCount
			var status string
			if err := rows.Scan(&c.TierID, &status, &c.Count); err != nil {
				rows.Close()
				return err
			}
			c.Status = boxoffice.TicketStatus(status)
			counts = append(counts, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, "SELECT COALESCE(gate, ''), COUNT(*) FROM tickets WHERE event_id = ? AND status = ? "+
			"GROUP BY gate", eventID, string(boxoffice.TicketUsed))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var gate string
			var n int
			if err := rows.Scan(&gate, &n); err != nil {
				return err
			}
			here[gate] += n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	return counts, here, nil
}

// lockEvent share-locks the event's row, so that DeleteEvent waits for
// what refers to it; sql.ErrNoRows when there is none.
func lockEvent(ctx context.Context, tx *sql.Tx, eventID string) error {
	var one int
	return tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ? LOCK IN SHARE MODE", eventID).Scan(&one)
}

// PutGate inserts or replaces the event's gate of g.Name. It returns
// ErrNotFound for an unknown event.
func (s *Store) PutGate(ctx context.Context, g *boxoffice.Gate) error {
	tiers, err := json.Marshal(append([]string{}, g.Tiers...))
	if err != nil {
		return translate("put gate", err)
	}
	return s.inTx(ctx, "put gate", nil, func(tx *sql.Tx) error {
		if err := lockEvent(ctx, tx, g.EventID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO gates (event_id, name, tiers, created_at) VALUES (?, ?, ?, ?) "+
			"ON DUPLICATE KEY UPDATE tiers = VALUES(tiers), created_at = VALUES(created_at)",
			g.EventID, g.Name, string(tiers), g.CreatedAt.UTC())
		return err
	})
}

// DeleteGate removes a gate; ErrNotFound when there is none.
func (s *Store) DeleteGate(ctx context.Context, eventID, name string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM gates WHERE event_id = ? AND name = ?", eventID, name)
	if err != nil {
		return translate("delete gate", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return boxoffice.ErrNotFound
	}
	return nil
}

// Gates returns an event's gates ordered by name.
func (s *Store) Gates(ctx context.Context, eventID string) ([]*boxoffice.Gate, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT event_id, name, tiers, created_at FROM gates WHERE event_id = ? ORDER BY name", eventID)
	if err != nil {
		return nil, translate("gates", err)
	}
	defer rows.Close()
	out := []*boxoffice.Gate{}
	for rows.Next() {
		g := &boxoffice.Gate{}
		var tiers string
		if err := rows.Scan(&g.EventID, &g.Name, &tiers, &g.CreatedAt); err != nil {
			return nil, translate("gates", err)
		}
		if err := json.Unmarshal([]byte(tiers), &g.Tiers); err != nil {
			return nil, translate("gates", err)
		}
		if len(g.Tiers) == 0 {
			g.Tiers = nil
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("gates", err)
	}
	return out, nil
}

// PutStaff gives a user a door role at an event, replacing any. It returns
// ErrNotFound for an unknown event or user.
func (s *Store) PutStaff(ctx context.Context, st *boxoffice.Staff) error {
	return s.inTx(ctx, "put staff", nil, func(tx *sql.Tx) error {
		if err := lockEvent(ctx, tx, st.EventID); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", st.UserID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO event_staff (event_id, user_id, role, added_at) VALUES (?, ?, ?, ?) "+
			"ON DUPLICATE KEY UPDATE role = VALUES(role), added_at = VALUES(added_at)",
			st.EventID, st.UserID, string(st.Role), st.AddedAt.UTC())
		return err
	})
}

// DeleteStaff removes a user's door role; ErrNotFound when none.
func (s *Store) DeleteStaff(ctx context.Context, eventID, userID string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM event_staff WHERE event_id = ? AND user_id = ?", eventID, userID)
	if err != nil {
		return translate("delete staff", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return boxoffice.ErrNotFound
	}
	return nil
}

// StaffRole returns a user's door role at an event, "" when none.
func (s *Store) StaffRole(ctx context.Context, eventID, userID string) (boxoffice.StaffRole, error) {
	var role string
	err := s.db.QueryRowContext(ctx, "SELECT role FROM event_staff WHERE event_id = ? AND user_id = ?", eventID, userID).Scan(&role)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", translate("staff role", err)
	}
	return boxoffice.StaffRole(role), nil
}

// ListStaff returns an event's door staff ordered by user ID.
func (s *Store) ListStaff(ctx context.Context, eventID string) ([]*boxoffice.Staff, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT event_id, user_id, role, added_at FROM event_staff WHERE event_id = ? ORDER BY user_id", eventID)
	if err != nil {
		return nil, translate("list staff", err)
	}
	defer rows.Close()
	out := []*boxoffice.Staff{}
	for rows.Next() {
		st := &boxoffice.Staff{}
		var role string
		if err := rows.Scan(&st.EventID, &st.UserID, &role, &st.AddedAt); err != nil {
			return nil, translate("list staff", err)
		}
		st.Role = boxoffice.StaffRole(role)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list staff", err)
	}
	return out, nil
}
