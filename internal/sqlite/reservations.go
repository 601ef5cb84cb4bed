package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"boxoffice"
)

const reservationCols = `id, event_id, tier_id, user_id, quantity, status, amount, currency, attendee_name, attendee_phone,
	hold_expires_at, created_at, updated_at, confirmed_at, cancelled_at`

const reservationInsertCols = 15

func scanReservation(row interface{ Scan(...any) error }) (*boxoffice.Reservation, error) {
	var (
		r                     boxoffice.Reservation
		name, phone           sql.NullString
		expires, created, upd int64
		confirmed, cancelled  sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.EventID, &r.TierID, &r.UserID, &r.Quantity, &r.Status, &r.Amount.Amount,
		&r.Amount.Currency, &name, &phone, &expires, &created, &upd, &confirmed, &cancelled); err != nil {
		return nil, err
	}
	if name.Valid || phone.Valid {
		r.Attendee = &boxoffice.Attendee{Name: name.String, Phone: phone.String}
	}
	r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt = fromUS(expires), fromUS(created), fromUS(upd)
	r.ConfirmedAt, r.CancelledAt = fromNullUS(confirmed), fromNullUS(cancelled)
	return &r, nil
}

func appendReservationArgs(args []any, r *boxoffice.Reservation) []any {
	var name, phone sql.NullString
	if r.Attendee != nil {
		name = sql.NullString{String: r.Attendee.Name, Valid: true}
		phone = sql.NullString{String: r.Attendee.Phone, Valid: true}
	}
	return append(args, r.ID, r.EventID, r.TierID, r.UserID, r.Quantity, string(r.Status), r.Amount.Amount,
		r.Amount.Currency, name, phone, us(r.HoldExpiresAt), us(r.CreatedAt), us(r.UpdatedAt),
		nullUS(r.ConfirmedAt), nullUS(r.CancelledAt))
}

// maxRowsPerInsert bounds a multi-row INSERT (and an IN list) so that the
// number of bound parameters stays far below SQLite's limit.
const maxRowsPerInsert = 500

// CreateHolds decides a batch of hold requests for one tier in one
// transaction with boxoffice.DecideHolds, and inserts the granted
// reservations and their idempotency records. The statements per batch are
// constant (per 500 requests): read the tier, the users' counters and the
// keys already recorded, decide, then write the reservations, the records,
// the counters and the tier once each. The writer connection holds the
// database's write lock throughout, so the decisions cannot race.
func (s *Store) CreateHolds(ctx context.Context, tierID string, reqs []*boxoffice.HoldRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	return s.inTx(ctx, "create holds", func(tx *sql.Tx) error {
		var eventID string
		var capacity, reserved int
		if err := tx.QueryRowContext(ctx, "SELECT event_id, capacity, reserved FROM tiers WHERE id = ?", tierID).
			Scan(&eventID, &capacity, &reserved); err != nil {
			return err
		}

		// The facts of boxoffice.DecideHolds: the users' current tickets
		// for the event and the keys on record.
		facts := boxoffice.HoldFacts{Left: capacity - reserved, Tickets: map[string]int{}, Recorded: map[boxoffice.IdempotencyKey]bool{}}
		users := map[string]bool{}
		var userList []string
		var keyArgs []any
		for _, req := range reqs {
			r := req.Reservation
			if !users[r.UserID] {
				users[r.UserID] = true
				userList = append(userList, r.UserID)
			}
			if req.Idempotency != nil {
				keyArgs = append(keyArgs, req.Idempotency.UserID, req.Idempotency.Key)
			}
		}
		for chunk := range chunks(userList, maxRowsPerInsert) {
			args := []any{eventID}
			for _, u := range chunk {
				args = append(args, u)
			}
			err := queryEach(ctx, tx, "SELECT user_id, tickets FROM user_event_tickets WHERE event_id = ? AND user_id IN ("+
				placeholders(len(chunk))+")", args, func(rows *sql.Rows) error {
				var u string
				var n int
				if err := rows.Scan(&u, &n); err != nil {
					return err
				}
				facts.Tickets[u] = n
				return nil
			})
			if err != nil {
				return err
			}
		}
		for chunk := range chunks(keyArgs, 2*maxRowsPerInsert) {
			err := queryEach(ctx, tx, "SELECT user_id, idem_key FROM idempotency WHERE (user_id, idem_key) IN (VALUES "+
				rowsOf(len(chunk)/2, 2)+")", chunk, func(rows *sql.Rows) error {
				var k boxoffice.IdempotencyKey
				if err := rows.Scan(&k.UserID, &k.Key); err != nil {
					return err
				}
				facts.Recorded[k] = true
				return nil
			})
			if err != nil {
				return err
			}
		}

		if boxoffice.DecideHolds(reqs, facts) == 0 {
			return nil
		}
		deltas := map[string]int{} // user → tickets granted in this batch
		var granted []*boxoffice.HoldRequest
		for _, req := range reqs {
			if req.Err == nil {
				deltas[req.Reservation.UserID] += req.Reservation.Quantity
				granted = append(granted, req)
			}
		}

		// Write the outcome.
		total := 0
		for chunk := range chunks(granted, maxRowsPerInsert) {
			args := make([]any, 0, len(chunk)*reservationInsertCols)
			var idemArgs []any
			for _, req := range chunk {
				r := req.Reservation
				total += r.Quantity
				rr := *r
				rr.TierID, rr.EventID = tierID, eventID
				args = appendReservationArgs(args, &rr)
				if req.Idempotency != nil {
					idemArgs = appendIdemArgs(idemArgs, req.Idempotency)
				}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO reservations ("+reservationCols+") VALUES "+
				rowsOf(len(chunk), reservationInsertCols), args...); err != nil {
				return err
			}
			if len(idemArgs) > 0 {
				if _, err := tx.ExecContext(ctx, insertIdemSQL(len(idemArgs)/idemInsertCols), idemArgs...); err != nil {
					return err
				}
			}
		}
		var counterArgs []any
		for _, u := range userList {
			if d := deltas[u]; d > 0 {
				counterArgs = append(counterArgs, u, eventID, d)
			}
		}
		for chunk := range chunks(counterArgs, 3*maxRowsPerInsert) {
			if _, err := tx.ExecContext(ctx, "INSERT INTO user_event_tickets (user_id, event_id, tickets) VALUES "+
				rowsOf(len(chunk)/3, 3)+" ON CONFLICT (user_id, event_id) DO UPDATE SET tickets = tickets + excluded.tickets",
				chunk...); err != nil {
				return err
			}
		}
		return addReserved(ctx, tx, tierID, total)
	})
}

// addReserved moves a tier's Reserved count by delta, refusing to leave
// 0..capacity (which the decisions above never ask for).
func addReserved(ctx context.Context, tx *sql.Tx, tierID string, delta int) error {
	res, err := tx.ExecContext(ctx, `UPDATE tiers SET reserved = reserved + ?1
		WHERE id = ?2 AND reserved + ?1 BETWEEN 0 AND capacity`, delta, tierID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("tier %s: reserved count cannot move by %d", tierID, delta)
	}
	return nil
}

// addTickets moves a user's ticket count for an event by delta.
func addTickets(ctx context.Context, tx *sql.Tx, userID, eventID string, delta int) error {
	if delta < 0 {
		// An upsert would check the negative VALUES against the CHECK
		// before finding the conflict.
		_, err := tx.ExecContext(ctx, "UPDATE user_event_tickets SET tickets = tickets + ? WHERE user_id = ? AND event_id = ?",
			delta, userID, eventID)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_event_tickets (user_id, event_id, tickets) VALUES (?, ?, ?)
		ON CONFLICT (user_id, event_id) DO UPDATE SET tickets = tickets + excluded.tickets`, userID, eventID, delta)
	return err
}

// release returns a reservation's tickets to its tier and its user.
func release(ctx context.Context, tx *sql.Tx, r *boxoffice.Reservation) error {
	if err := addReserved(ctx, tx, r.TierID, -r.Quantity); err != nil {
		return err
	}
	return addTickets(ctx, tx, r.UserID, r.EventID, -r.Quantity)
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// queryEach runs query and calls fn for each row.
func queryEach(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

const idemInsertCols = 7

func insertIdemSQL(n int) string {
	return `INSERT INTO idempotency (user_id, idem_key, fingerprint, status, reservation_id, response, created_at)
		VALUES ` + rowsOf(n, idemInsertCols)
}

// appendIdemArgs appends a record's column values. The outcome goes in
// response (boxoffice.Outcome's stored form) beside its reservation_id; the
// status column, which held the HTTP status of the recorded answer before
// outcomes were stored, is written 0.
func appendIdemArgs(args []any, i *boxoffice.Idempotency) []any {
	resp, _ := i.Outcome.AppendText(make([]byte, 0, 32))
	return append(args, i.UserID, i.Key, i.Fingerprint, 0, i.Outcome.ReservationID, resp, us(i.CreatedAt))
}

// insertIdem inserts idem when not nil; a record for its key already on file
// is boxoffice.ErrIdempotencyKeyReused.
func insertIdem(ctx context.Context, tx *sql.Tx, idem *boxoffice.Idempotency) error {
	if idem == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, insertIdemSQL(1), appendIdemArgs(nil, idem)...)
	if isUnique(err) {
		return boxoffice.ErrIdempotencyKeyReused
	}
	return err
}

// idemTaken reports whether a record for idem's key exists.
func idemTaken(ctx context.Context, tx *sql.Tx, idem *boxoffice.Idempotency) (bool, error) {
	if idem == nil {
		return false, nil
	}
	var n int
	err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM idempotency WHERE user_id = ? AND idem_key = ?",
		idem.UserID, idem.Key).Scan(&n)
	return n > 0, err
}

func loadReservation(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*boxoffice.Reservation, error) {
	return scanReservation(q.QueryRowContext(ctx, "SELECT "+reservationCols+" FROM reservations WHERE id = ?", id))
}

// Reservation returns the reservation with the given id, or
// boxoffice.ErrNotFound.
func (s *Store) Reservation(ctx context.Context, id string) (*boxoffice.Reservation, error) {
	r, err := loadReservation(ctx, s.r, id)
	return r, wrap("reservation", err)
}

// ListReservations returns up to f.Limit of a user's reservations, newest
// first (by ID), optionally of one status and before a cursor ID.
func (s *Store) ListReservations(ctx context.Context, f boxoffice.ReservationFilter) ([]*boxoffice.Reservation, error) {
	query := "SELECT " + reservationCols + " FROM reservations INDEXED BY reservations_user_id WHERE user_id = ?"
	args := []any{f.UserID}
	if f.Status != "" {
		query += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.BeforeID != "" {
		query += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limitOf(f.Limit))
	var out []*boxoffice.Reservation
	err := queryEach(ctx, s.r, query, args, func(rows *sql.Rows) error {
		r, err := scanReservation(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, wrap("list reservations", err)
}

// ChangeQuantity sets a held reservation's quantity and amount (the tier's
// price times quantity), moving the tier's and the user's counters by the
// difference, as boxoffice.DecideQuantityChange decides. It returns
// boxoffice.ErrNotFound, ErrInvalidState, ErrHoldExpired, ErrSoldOut or
// ErrLimitExceeded.
func (s *Store) ChangeQuantity(ctx context.Context, id string, quantity, maxPerUser int, now time.Time) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	err := s.inTx(ctx, "change quantity", func(tx *sql.Tx) error {
		r, err := loadReservation(ctx, tx, id)
		if err != nil {
			return err
		}
		if quantity <= 0 {
			var ve boxoffice.ValidationError
			ve.Add("quantity", "must be at least 1")
			return &ve
		}
		var price int64
		var currency string
		var capacity, reserved, tickets int
		if err := tx.QueryRowContext(ctx, `SELECT t.price_amount, t.price_currency, t.capacity, t.reserved,
			COALESCE((SELECT tickets FROM user_event_tickets WHERE user_id = ? AND event_id = ?), 0)
			FROM tiers t WHERE t.id = ?`, r.UserID, r.EventID, r.TierID).
			Scan(&price, &currency, &capacity, &reserved, &tickets); err != nil {
			return err
		}
		delta, err := boxoffice.DecideQuantityChange(r, quantity, now, capacity-reserved, tickets, maxPerUser)
		if err != nil {
			return err
		}
		if delta != 0 {
			if err := addReserved(ctx, tx, r.TierID, delta); err != nil {
				return err
			}
			if err := addTickets(ctx, tx, r.UserID, r.EventID, delta); err != nil {
				return err
			}
		}
		r.Quantity = quantity
		r.Amount = boxoffice.Money{Amount: price * int64(quantity), Currency: currency}
		r.UpdatedAt = now.UTC()
		if _, err := tx.ExecContext(ctx, "UPDATE reservations SET quantity = ?, amount = ?, currency = ?, updated_at = ? WHERE id = ?",
			r.Quantity, r.Amount.Amount, r.Amount.Currency, us(r.UpdatedAt), id); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Confirm confirms a held reservation as boxoffice.ConfirmStep decides. In
// one write transaction, which holds the database's write lock, it checks
// the step, calls charge, marks the reservation confirmed and inserts idem.
// A hold that ran out by now is marked expired and its tickets released
// instead (boxoffice.ErrHoldExpired). It returns the reservation unchanged
// when it is already confirmed, boxoffice.ErrNotFound, ErrHoldExpired,
// ErrInvalidState, ErrIdempotencyKeyReused (checked before charging), or
// charge's error, in which case nothing changes.
func (s *Store) Confirm(ctx context.Context, id string, now time.Time, charge func(context.Context, *boxoffice.Reservation) error, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	var chargeErr, stepErr error
	now = now.UTC()
	err := s.inTx(ctx, "confirm", func(tx *sql.Tx) error {
		r, err := loadReservation(ctx, tx, id)
		if err != nil {
			return err
		}
		step := boxoffice.ConfirmStep(r, now)
		stepErr = step.Err
		switch step.To {
		case "":
			out = r
			return step.Err
		case boxoffice.StatusConfirmed:
			if taken, err := idemTaken(ctx, tx, idem); err != nil {
				return err
			} else if taken {
				return boxoffice.ErrIdempotencyKeyReused
			}
			if err := charge(ctx, r); err != nil {
				chargeErr = err
				return err
			}
		}
		r.Apply(step, now)
		if err := persistStep(ctx, tx, r, step); err != nil {
			return err
		}
		if step.Err == nil {
			if err := insertIdem(ctx, tx, idem); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	switch {
	case chargeErr != nil:
		return nil, chargeErr
	case err != nil:
		return nil, err
	case stepErr != nil: // committed, then told: the hold ran out
		return nil, stepErr
	}
	return out, nil
}

// persistStep writes a step of the reservation's life cycle that r.Apply
// made, releasing its tickets when the step says so.
func persistStep(ctx context.Context, tx *sql.Tx, r *boxoffice.Reservation, step boxoffice.Step) error {
	if step.Releases() {
		if err := release(ctx, tx, r); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, "UPDATE reservations SET status = ?, updated_at = ?, confirmed_at = ?, cancelled_at = ? WHERE id = ?",
		string(r.Status), us(r.UpdatedAt), nullUS(r.ConfirmedAt), nullUS(r.CancelledAt), r.ID)
	return err
}

// Cancel cancels a reservation as boxoffice.CancelStep decides (a confirmed
// one only before refundableUntil), releasing its tickets at once and
// inserting idem in the same transaction. It returns boxoffice.ErrNotFound,
// ErrInvalidState, or ErrIdempotencyKeyReused.
func (s *Store) Cancel(ctx context.Context, id string, now, refundableUntil time.Time, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	now = now.UTC()
	err := s.inTx(ctx, "cancel", func(tx *sql.Tx) error {
		r, err := loadReservation(ctx, tx, id)
		if err != nil {
			return err
		}
		step := boxoffice.CancelStep(r, now, refundableUntil)
		if step.Err != nil {
			return step.Err
		}
		r.Apply(step, now)
		if err := persistStep(ctx, tx, r, step); err != nil {
			return err
		}
		if err := insertIdem(ctx, tx, idem); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// ExpireHolds marks up to limit held reservations whose hold ran out by now
// (HoldExpiresAt ≤ now) as expired, releases their tickets, and returns how
// many it expired. The write lock makes each hold expire once, however many
// processes call it.
func (s *Store) ExpireHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.inTx(ctx, "expire holds", func(tx *sql.Tx) error {
		n = 0
		type key struct{ a, b string }
		tiers := map[string]int{}
		users := map[key]int{}
		// The WHERE clause is boxoffice.ExpireStep's rule, so that the
		// index finds the rows; each row is still put to ExpireStep.
		var ids []any
		err := queryEach(ctx, tx, `SELECT id, tier_id, user_id, event_id, quantity, status, hold_expires_at
			FROM reservations INDEXED BY reservations_status_expiry
			WHERE status = 'held' AND hold_expires_at <= ? ORDER BY hold_expires_at LIMIT ?`,
			[]any{us(now), limit}, func(rows *sql.Rows) error {
				var r boxoffice.Reservation
				var expires int64
				if err := rows.Scan(&r.ID, &r.TierID, &r.UserID, &r.EventID, &r.Quantity, &r.Status, &expires); err != nil {
					return err
				}
				r.HoldExpiresAt = fromUS(expires)
				if !boxoffice.ExpireStep(&r, now).Releases() {
					return nil
				}
				ids = append(ids, r.ID)
				tiers[r.TierID] += r.Quantity
				users[key{r.UserID, r.EventID}] += r.Quantity
				return nil
			})
		if err != nil {
			return err
		}
		n = len(ids)
		for chunk := range chunks(ids, maxRowsPerInsert) {
			if _, err := tx.ExecContext(ctx, "UPDATE reservations SET status = 'expired', updated_at = ? WHERE id IN ("+
				placeholders(len(chunk))+")", append([]any{us(now)}, chunk...)...); err != nil {
				return err
			}
		}
		for tier, q := range tiers {
			if err := addReserved(ctx, tx, tier, -q); err != nil {
				return err
			}
		}
		for k, q := range users {
			if err := addTickets(ctx, tx, k.a, k.b, -q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Sales returns the inventory of an event's tiers and its orders' revenue,
// read in one read transaction (one snapshot), or boxoffice.ErrNotFound.
// Held counts held reservations and pending orders' tickets; Confirmed
// counts confirmed reservations and the kept tickets of paid and partially
// refunded orders.
func (s *Store) Sales(ctx context.Context, eventID string) (*boxoffice.Sales, error) {
	out := &boxoffice.Sales{EventID: eventID}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		found := false
		err := queryEach(ctx, tx, `SELECT t.id, t.capacity,
			COALESCE((SELECT SUM(quantity) FROM reservations WHERE tier_id = t.id AND status = 'held'), 0),
			COALESCE((SELECT SUM(quantity) FROM reservations WHERE tier_id = t.id AND status = 'confirmed'), 0)
		FROM events e LEFT JOIN tiers t ON t.event_id = e.id WHERE e.id = ? ORDER BY t.id`,
			[]any{eventID}, func(rows *sql.Rows) error {
				found = true
				var id sql.NullString
				var ts boxoffice.TierSales
				var capacity sql.NullInt64
				if err := rows.Scan(&id, &capacity, &ts.Held, &ts.Confirmed); err != nil {
					return err
				}
				if id.Valid {
					ts.TierID, ts.Capacity = id.String, int(capacity.Int64)
					out.Tiers = append(out.Tiers, ts)
				}
				return nil
			})
		if err != nil {
			return err
		}
		if !found {
			return boxoffice.ErrNotFound
		}
		// The orders' tickets, by the statuses whose orders hold them
		// (boxoffice.OrderStatus.Holds).
		byTier := map[string]*boxoffice.TierSales{}
		for i := range out.Tiers {
			byTier[out.Tiers[i].TierID] = &out.Tiers[i]
		}
		err = queryEach(ctx, tx, `SELECT l.tier_id, o.status, SUM(l.quantity - l.refunded)
			FROM orders o INDEXED BY orders_event_id JOIN order_lines l ON l.order_id = o.id
			WHERE o.event_id = ? AND o.status IN ('pending', 'paid', 'partially_refunded')
			GROUP BY l.tier_id, o.status`, []any{eventID}, func(rows *sql.Rows) error {
			var tier string
			var status boxoffice.OrderStatus
			var n int
			if err := rows.Scan(&tier, &status, &n); err != nil {
				return err
			}
			if ts := byTier[tier]; ts != nil {
				if status == boxoffice.OrderPending {
					ts.Held += n
				} else {
					ts.Confirmed += n
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range out.Tiers {
			ts := &out.Tiers[i]
			ts.Available = ts.Capacity - ts.Held - ts.Confirmed
		}
		// What the sold orders (boxoffice.OrderStatus.Sold) kept.
		return queryEach(ctx, tx, `SELECT currency, SUM(total_amount - refunded_amount)
			FROM orders INDEXED BY orders_event_id
			WHERE event_id = ? AND status IN ('paid', 'partially_refunded', 'refunded') GROUP BY currency`,
			[]any{eventID}, func(rows *sql.Rows) error {
				var cur string
				var n int64
				if err := rows.Scan(&cur, &n); err != nil {
					return err
				}
				if out.OrderRevenue == nil {
					out.OrderRevenue = map[string]int64{}
				}
				out.OrderRevenue[cur] = n
				return nil
			})
	})
	if err != nil {
		return nil, wrap("sales", err)
	}
	return out, nil
}

// Idempotency returns the record for (userID, key), or
// boxoffice.ErrNotFound.
func (s *Store) Idempotency(ctx context.Context, userID, key string) (*boxoffice.Idempotency, error) {
	var i boxoffice.Idempotency
	var created int64
	var resp []byte
	err := s.r.QueryRowContext(ctx, `SELECT user_id, idem_key, fingerprint, reservation_id, response, created_at
		FROM idempotency WHERE user_id = ? AND idem_key = ?`, userID, key).
		Scan(&i.UserID, &i.Key, &i.Fingerprint, &i.Outcome.ReservationID, &resp, &created)
	if err != nil {
		return nil, wrap("idempotency", err)
	}
	_ = i.Outcome.UnmarshalText(resp) // never fails: unreadable is OutcomeUnknown
	i.CreatedAt = fromUS(created)
	return &i, nil
}

// purgeBatch is how many records one purge transaction deletes, so that a
// large purge does not hold the write lock for long.
const purgeBatch = 5000

// PurgeIdempotency deletes records created before before, in batches, and
// returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge idempotency", `DELETE FROM idempotency WHERE rowid IN
		(SELECT rowid FROM idempotency WHERE created_at < ? LIMIT ?)`, us(before))
}

// deleteInBatches runs stmt, a DELETE whose last parameter is the size of
// its batch, with args and purgeBatch, one transaction per batch, until it
// deletes fewer than purgeBatch rows, and returns how many it deleted in
// all.
func (s *Store) deleteInBatches(ctx context.Context, what, stmt string, args ...any) (int, error) {
	total := 0
	args = append(args, purgeBatch)
	for {
		var n int64
		err := s.inTx(ctx, what, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, stmt, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}
