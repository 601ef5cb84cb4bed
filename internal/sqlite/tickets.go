package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"boxoffice"
)

// Tickets, the events' signing keys, the scans on record, gates and door
// staff. Tickets are inserted by SettlePayment and voided by RefundOrder
// (orders.go); every write here runs in one IMMEDIATE transaction on the
// writer connection, whose write lock is the lock of every ticket row: a
// check-in batch decides on facts nobody else can change before its
// verdicts are written.

const ticketCols = `id, order_id, event_id, tier_id, user_id, attendee_name, status, version, issued_at, updated_at,
	checked_in_at, gate`

func scanTicket(row rowScanner) (*boxoffice.Ticket, error) {
	var (
		t               boxoffice.Ticket
		issued, updated int64
		checkedIn       sql.NullInt64
		gate            sql.NullString
	)
	if err := row.Scan(&t.ID, &t.OrderID, &t.EventID, &t.TierID, &t.UserID, &t.AttendeeName, &t.Status, &t.Version,
		&issued, &updated, &checkedIn, &gate); err != nil {
		return nil, err
	}
	t.IssuedAt, t.UpdatedAt = fromUS(issued), fromUS(updated)
	t.CheckedInAt, t.Gate = fromNullUS(checkedIn), gate.String
	return &t, nil
}

// queryTickets runs a query of ticketCols and returns its tickets.
func queryTickets(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.Ticket, error) {
	var out []*boxoffice.Ticket
	err := queryEach(ctx, q, query, args, func(rows *sql.Rows) error {
		t, err := scanTicket(rows)
		if err == nil {
			out = append(out, t)
		}
		return err
	})
	return out, err
}

// insertTickets inserts issued tickets.
func insertTickets(ctx context.Context, tx *sql.Tx, ts []*boxoffice.Ticket) error {
	const cols = 12
	for chunk := range chunks(ts, maxRowsPerInsert) {
		args := make([]any, 0, len(chunk)*cols)
		for _, t := range chunk {
			args = append(args, t.ID, t.OrderID, t.EventID, t.TierID, t.UserID, t.AttendeeName, string(t.Status),
				t.Version, us(t.IssuedAt), us(t.UpdatedAt), nullUS(t.CheckedInAt), nullString(t.Gate))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO tickets ("+ticketCols+") VALUES "+rowsOf(len(chunk), cols), args...); err != nil {
			return err
		}
	}
	return nil
}

// writeTicket writes what a decision may change of a ticket: its name,
// version, status, check-in and UpdatedAt.
func writeTicket(ctx context.Context, tx *sql.Tx, t *boxoffice.Ticket) error {
	_, err := tx.ExecContext(ctx, `UPDATE tickets SET attendee_name = ?, version = ?, status = ?, checked_in_at = ?,
		gate = ?, updated_at = ? WHERE id = ?`, t.AttendeeName, t.Version, string(t.Status), nullUS(t.CheckedInAt),
		nullString(t.Gate), us(t.UpdatedAt), t.ID)
	return err
}

// loadIssued reads an order's tickets ordered by ID.
func loadIssued(ctx context.Context, q querier, orderID string) ([]*boxoffice.Ticket, error) {
	return queryTickets(ctx, q, "SELECT "+ticketCols+" FROM tickets INDEXED BY tickets_order_id WHERE order_id = ? ORDER BY id",
		orderID)
}

// writeVoids writes the voids of refund r: each ticket of r.TicketIDs
// becomes void, at the time the decision left in issued (r's UpdatedAt for
// a ticket not there). Only the refunded order's tickets are touched.
func writeVoids(ctx context.Context, tx *sql.Tx, r *boxoffice.Refund, issued []*boxoffice.Ticket) error {
	byID := make(map[string]*boxoffice.Ticket, len(issued))
	for _, t := range issued {
		byID[t.ID] = t
	}
	for _, id := range slices.Sorted(slices.Values(r.TicketIDs)) {
		at := r.UpdatedAt
		if t := byID[id]; t != nil {
			at = t.UpdatedAt
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET status = ?, updated_at = ? WHERE id = ? AND order_id = ?",
			string(boxoffice.TicketVoid), us(at), id, r.OrderID); err != nil {
			return err
		}
	}
	return nil
}

// eventExists returns sql.ErrNoRows (boxoffice.ErrNotFound once wrapped)
// unless the event exists.
func eventExists(ctx context.Context, q rowQuerier, eventID string) error {
	var one int
	return q.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ?", eventID).Scan(&one)
}

func scanEventKey(row rowScanner) (*boxoffice.EventKey, error) {
	var (
		k         boxoffice.EventKey
		pub, priv []byte
		created   int64
	)
	if err := row.Scan(&k.EventID, &pub, &priv, &created); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("event key of %s: %d and %d bytes", k.EventID, len(pub), len(priv))
	}
	k.Public, k.Private, k.CreatedAt = ed25519.PublicKey(pub), ed25519.PrivateKey(priv), fromUS(created)
	return &k, nil
}

const eventKeyQuery = "SELECT event_id, public_key, private_key, created_at FROM event_keys WHERE event_id = ?"

// EventKey returns the event's signing key, storing fresh first when the
// event has none: the write lock makes every racing caller read the key
// stored first. It returns boxoffice.ErrNotFound for an unknown event.
func (s *Store) EventKey(ctx context.Context, eventID string, fresh *boxoffice.EventKey) (*boxoffice.EventKey, error) {
	k, err := scanEventKey(s.r.QueryRowContext(ctx, eventKeyQuery, eventID))
	if err != sql.ErrNoRows {
		return k, wrap("event key", err)
	}
	err = s.inTx(ctx, "event key", func(tx *sql.Tx) error {
		if err := eventExists(ctx, tx, eventID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_keys (event_id, public_key, private_key, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
			eventID, []byte(fresh.Public), []byte(fresh.Private), us(fresh.CreatedAt)); err != nil {
			return err
		}
		k, err = scanEventKey(tx.QueryRowContext(ctx, eventKeyQuery, eventID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Ticket returns a ticket, or boxoffice.ErrNotFound.
func (s *Store) Ticket(ctx context.Context, id string) (*boxoffice.Ticket, error) {
	t, err := scanTicket(s.r.QueryRowContext(ctx, "SELECT "+ticketCols+" FROM tickets WHERE id = ?", id))
	return t, wrap("ticket", err)
}

// OrderTickets returns an order's tickets ordered by ID.
func (s *Store) OrderTickets(ctx context.Context, orderID string) ([]*boxoffice.Ticket, error) {
	ts, err := loadIssued(ctx, s.r, orderID)
	return ts, wrap("order tickets", err)
}

// EventTickets returns up to limit of an event's tickets with IDs after
// afterID ("" = from the first), ordered by ID.
func (s *Store) EventTickets(ctx context.Context, eventID, afterID string, limit int) ([]*boxoffice.Ticket, error) {
	ts, err := queryTickets(ctx, s.r, "SELECT "+ticketCols+` FROM tickets INDEXED BY tickets_event_id
		WHERE event_id = ? AND id > ? ORDER BY id LIMIT ?`, eventID, afterID, limitOf(limit))
	return ts, wrap("event tickets", err)
}

// UpdateTicket loads the ticket in a write transaction, calls apply, and
// writes the ticket back; when apply reports a check-in undone, the
// ticket's admitting scans on record are marked undone in the same
// transaction. It returns the ticket as written, boxoffice.ErrNotFound, or
// apply's error (writing nothing).
func (s *Store) UpdateTicket(ctx context.Context, id string, apply func(*boxoffice.Ticket) (bool, error)) (*boxoffice.Ticket, error) {
	var out *boxoffice.Ticket
	err := s.inTx(ctx, "update ticket", func(tx *sql.Tx) error {
		t, err := scanTicket(tx.QueryRowContext(ctx, "SELECT "+ticketCols+" FROM tickets WHERE id = ?", id))
		if err != nil {
			return err
		}
		undone, err := apply(t)
		if err != nil {
			return err
		}
		t.ID = id
		if err := writeTicket(ctx, tx, t); err != nil {
			return err
		}
		if undone {
			if _, err := tx.ExecContext(ctx, "UPDATE checkins SET undone = 1 WHERE ticket_id = ? AND admitted = 1 AND undone = 0",
				id); err != nil {
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

const checkinCols = "id, event_id, ticket_id, gate, device_id, scan_id, scanned_at, recorded_at, result, admitted, undone"

func scanCheckin(row rowScanner) (*boxoffice.CheckinRecord, error) {
	var (
		r                 boxoffice.CheckinRecord
		scanned, recorded int64
	)
	if err := row.Scan(&r.ID, &r.EventID, &r.TicketID, &r.Gate, &r.DeviceID, &r.ScanID, &scanned, &recorded, &r.Result,
		&r.Admitted, &r.Undone); err != nil {
		return nil, err
	}
	r.ScannedAt, r.RecordedAt = fromUS(scanned), fromUS(recorded)
	return &r, nil
}

// CheckIn decides a batch of scans of one event in one transaction: it
// reads the scans' tickets of the event, the first admitting scan on
// record (not undone) of each used one, and the offline scans recorded
// before under the batch's (device, scan) keys, calls
// boxoffice.DecideScans, and writes the tickets it changed and the scans
// it put on record.
func (s *Store) CheckIn(ctx context.Context, eventID string, scans []*boxoffice.Scan) error {
	if len(scans) == 0 {
		return nil
	}
	return s.inTx(ctx, "check in", func(tx *sql.Tx) error {
		facts := boxoffice.CheckinFacts{Tickets: map[string]*boxoffice.Ticket{}, First: map[string]*boxoffice.CheckinRecord{},
			Recorded: map[boxoffice.ScanKey]*boxoffice.CheckinRecord{}}
		ids := map[string]bool{}
		for _, sc := range scans {
			ids[sc.Claim.TicketID] = true
		}
		var used []string
		for chunk := range chunks(slices.Sorted(maps.Keys(ids)), maxRowsPerInsert) {
			args := []any{eventID}
			for _, id := range chunk {
				args = append(args, id)
			}
			ts, err := queryTickets(ctx, tx, "SELECT "+ticketCols+" FROM tickets WHERE event_id = ? AND id IN ("+
				placeholders(len(chunk))+")", args...)
			if err != nil {
				return err
			}
			for _, t := range ts {
				facts.Tickets[t.ID] = t
				if t.Status == boxoffice.TicketUsed {
					used = append(used, t.ID)
				}
			}
		}
		for chunk := range chunks(used, maxRowsPerInsert) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			err := queryEach(ctx, tx, "SELECT "+checkinCols+" FROM checkins WHERE ticket_id IN ("+placeholders(len(chunk))+
				") AND admitted = 1 AND undone = 0 ORDER BY ticket_id, scanned_at, device_id, scan_id", args,
				func(rows *sql.Rows) error {
					r, err := scanCheckin(rows)
					if err != nil {
						return err
					}
					if facts.First[r.TicketID] == nil {
						facts.First[r.TicketID] = r
					}
					return nil
				})
			if err != nil {
				return err
			}
		}
		var lookup *sql.Stmt
		for _, sc := range scans {
			key := boxoffice.ScanKey{DeviceID: sc.DeviceID, ScanID: sc.ScanID}
			if sc.ScanID == "" {
				continue
			}
			if _, ok := facts.Recorded[key]; ok {
				continue
			}
			if lookup == nil {
				var err error
				if lookup, err = tx.PrepareContext(ctx, "SELECT "+checkinCols+
					" FROM checkins INDEXED BY checkins_scan WHERE event_id = ? AND device_id = ? AND scan_id = ? AND scan_id <> ''"); err != nil {
					return err
				}
				defer lookup.Close()
			}
			r, err := scanCheckin(lookup.QueryRowContext(ctx, eventID, sc.DeviceID, sc.ScanID))
			switch {
			case err == sql.ErrNoRows:
				continue
			case err != nil:
				return err
			}
			facts.Recorded[key] = r
		}

		ch := boxoffice.DecideScans(eventID, scans, facts)

		for _, t := range ch.Tickets {
			if err := writeTicket(ctx, tx, t); err != nil {
				return err
			}
		}
		const cols = 11
		for chunk := range chunks(ch.Records, maxRowsPerInsert) {
			args := make([]any, 0, len(chunk)*cols)
			for _, r := range chunk {
				args = append(args, r.ID, r.EventID, r.TicketID, r.Gate, r.DeviceID, r.ScanID, us(r.ScannedAt),
					us(r.RecordedAt), string(r.Result), r.Admitted, r.Undone)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO checkins ("+checkinCols+") VALUES "+rowsOf(len(chunk), cols),
				args...); err != nil {
				return err
			}
		}
		return insertWebhookMessages(ctx, tx, ch.Webhooks)
	})
}

// CheckinAdmissions returns the admitting scans on record (not undone) of
// the event's tickets admitted more than once, ordered by ticket and scan
// time.
func (s *Store) CheckinAdmissions(ctx context.Context, eventID string) ([]*boxoffice.CheckinRecord, error) {
	var out []*boxoffice.CheckinRecord
	err := queryEach(ctx, s.r, "SELECT "+checkinCols+` FROM checkins WHERE admitted = 1 AND undone = 0 AND ticket_id IN (
			SELECT c.ticket_id FROM tickets t INDEXED BY tickets_event_id JOIN checkins c ON c.ticket_id = t.id
			WHERE t.event_id = ? AND c.admitted = 1 AND c.undone = 0 GROUP BY c.ticket_id HAVING COUNT(*) > 1)
		ORDER BY ticket_id, scanned_at, device_id, scan_id`, []any{eventID}, func(rows *sql.Rows) error {
		r, err := scanCheckin(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, wrap("checkin admissions", err)
}

// TicketCounts returns the event's tickets counted by tier and status, and
// the used tickets counted by the gate of their check-in, read in one
// snapshot.
func (s *Store) TicketCounts(ctx context.Context, eventID string) ([]boxoffice.TicketCount, map[string]int, error) {
	var counts []boxoffice.TicketCount
	gates := map[string]int{}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		err := queryEach(ctx, tx, `SELECT tier_id, status, COUNT(*) FROM tickets INDEXED BY tickets_event_tier_status
			WHERE event_id = ? GROUP BY tier_id, status ORDER BY tier_id, status`, []any{eventID}, func(rows *sql.Rows) error {
			var c boxoffice.TicketCount
			err := rows.Scan(&c.TierID, &c.Status, &c.Count)
			counts = append(counts, c)
			return err
		})
		if err != nil {
			return err
		}
		return queryEach(ctx, tx, `SELECT COALESCE(gate, ''), COUNT(*) FROM tickets INDEXED BY tickets_event_tier_status
			WHERE event_id = ? AND status = 'used' GROUP BY COALESCE(gate, '')`, []any{eventID}, func(rows *sql.Rows) error {
			var g string
			var n int
			if err := rows.Scan(&g, &n); err != nil {
				return err
			}
			gates[g] = n
			return nil
		})
	})
	if err != nil {
		return nil, nil, wrap("ticket counts", err)
	}
	return counts, gates, nil
}

// PutGate inserts or replaces the event's gate of g.Name. It returns
// boxoffice.ErrNotFound for an unknown event.
func (s *Store) PutGate(ctx context.Context, g *boxoffice.Gate) error {
	ids := g.Tiers
	if ids == nil {
		ids = []string{}
	}
	tiers, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("sqlite put gate: %v", err)
	}
	return s.inTx(ctx, "put gate", func(tx *sql.Tx) error {
		if err := eventExists(ctx, tx, g.EventID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gates (event_id, name, tiers, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (event_id, name) DO UPDATE SET tiers = excluded.tiers, created_at = excluded.created_at`,
			g.EventID, g.Name, string(tiers), us(g.CreatedAt))
		return err
	})
}

// DeleteGate removes a gate; boxoffice.ErrNotFound when there is none.
func (s *Store) DeleteGate(ctx context.Context, eventID, name string) error {
	return s.inTx(ctx, "delete gate", func(tx *sql.Tx) error {
		return deleteOne(ctx, tx, "DELETE FROM gates WHERE event_id = ? AND name = ?", eventID, name)
	})
}

// deleteOne runs a DELETE and returns boxoffice.ErrNotFound when it
// deleted nothing.
func deleteOne(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return boxoffice.ErrNotFound
	}
	return nil
}

// Gates returns an event's gates ordered by name.
func (s *Store) Gates(ctx context.Context, eventID string) ([]*boxoffice.Gate, error) {
	var out []*boxoffice.Gate
	err := queryEach(ctx, s.r, "SELECT event_id, name, tiers, created_at FROM gates WHERE event_id = ? ORDER BY name",
		[]any{eventID}, func(rows *sql.Rows) error {
			var (
				g       boxoffice.Gate
				tiers   string
				created int64
			)
			if err := rows.Scan(&g.EventID, &g.Name, &tiers, &created); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(tiers), &g.Tiers); err != nil {
				return fmt.Errorf("gate tiers: %w", err)
			}
			if len(g.Tiers) == 0 {
				g.Tiers = nil
			}
			g.CreatedAt = fromUS(created)
			out = append(out, &g)
			return nil
		})
	return out, wrap("gates", err)
}

// PutStaff gives a user a door role at an event, replacing any. It returns
// boxoffice.ErrNotFound for an unknown event or user.
func (s *Store) PutStaff(ctx context.Context, st *boxoffice.Staff) error {
	return s.inTx(ctx, "put staff", func(tx *sql.Tx) error {
		if err := eventExists(ctx, tx, st.EventID); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", st.UserID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO event_staff (event_id, user_id, role, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (event_id, user_id) DO UPDATE SET role = excluded.role, added_at = excluded.added_at`,
			st.EventID, st.UserID, string(st.Role), us(st.AddedAt))
		return err
	})
}

// DeleteStaff removes a user's door role at an event;
// boxoffice.ErrNotFound when there is none.
func (s *Store) DeleteStaff(ctx context.Context, eventID, userID string) error {
	return s.inTx(ctx, "delete staff", func(tx *sql.Tx) error {
		return deleteOne(ctx, tx, "DELETE FROM event_staff WHERE event_id = ? AND user_id = ?", eventID, userID)
	})
}

// StaffRole returns a user's door role at an event, "" when none.
func (s *Store) StaffRole(ctx context.Context, eventID, userID string) (boxoffice.StaffRole, error) {
	var role string
	err := s.r.QueryRowContext(ctx, "SELECT role FROM event_staff WHERE event_id = ? AND user_id = ?", eventID, userID).Scan(&role)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return boxoffice.StaffRole(role), wrap("staff role", err)
}

// ListStaff returns an event's door staff ordered by user ID.
func (s *Store) ListStaff(ctx context.Context, eventID string) ([]*boxoffice.Staff, error) {
	var out []*boxoffice.Staff
	err := queryEach(ctx, s.r, "SELECT event_id, user_id, role, added_at FROM event_staff WHERE event_id = ? ORDER BY user_id",
		[]any{eventID}, func(rows *sql.Rows) error {
			var (
				st    boxoffice.Staff
				added int64
			)
			if err := rows.Scan(&st.EventID, &st.UserID, &st.Role, &added); err != nil {
				return err
			}
			st.AddedAt = fromUS(added)
			out = append(out, &st)
			return nil
		})
	return out, wrap("list staff", err)
}
