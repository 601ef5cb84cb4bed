package mysql

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"time"

	"boxoffice"
)

const reservationCols = "id, event_id, tier_id, user_id, quantity, status, amount, currency, attendee_name, " +
	"attendee_phone, hold_expires_at, created_at, updated_at, confirmed_at, cancelled_at"

func scanReservation(row scanner) (*boxoffice.Reservation, error) {
	r := &boxoffice.Reservation{}
	var status string
	var name, phone sql.NullString
	var confirmed, cancelled sql.NullTime
	if err := row.Scan(&r.ID, &r.EventID, &r.TierID, &r.UserID, &r.Quantity, &status, &r.Amount.Amount,
		&r.Amount.Currency, &name, &phone, &r.HoldExpiresAt, &r.CreatedAt, &r.UpdatedAt, &confirmed, &cancelled); err != nil {
		return nil, err
	}
	r.Status = boxoffice.ReservationStatus(status)
	if name.Valid || phone.Valid {
		r.Attendee = &boxoffice.Attendee{Name: name.String, Phone: phone.String}
	}
	if confirmed.Valid {
		t := confirmed.Time
		r.ConfirmedAt = &t
	}
	if cancelled.Valid {
		t := cancelled.Time
		r.CancelledAt = &t
	}
	return r, nil
}

func reservationArgs(r *boxoffice.Reservation) []any {
	var name, phone any
	if r.Attendee != nil {
		name, phone = r.Attendee.Name, r.Attendee.Phone
	}
	return []any{r.ID, r.EventID, r.TierID, r.UserID, r.Quantity, string(r.Status), r.Amount.Amount,
		r.Amount.Currency, name, phone, r.HoldExpiresAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC(),
		nullTime(r.ConfirmedAt), nullTime(r.CancelledAt)}
}

// userCount keys a user's ticket counter for one event.
type userCount struct {
	userID, eventID string
}

// CreateHolds decides a batch of hold requests for one tier in one
// transaction with a constant number of statements, whatever the batch size.
// The decision is boxoffice.DecideHolds; this reads its facts and writes its
// verdicts.
//
// The tier's counter row is the one lock every batch for the tier needs, so
// it is taken last and held briefly: first every request's quantity is added
// to its user's counter (one upsert, sorted, that creates missing rows and
// locks them all) and the counters read back tell each user's tickets before
// the batch; then the reservations and idempotency records of every request
// that could be granted (boxoffice.HoldCandidates) are written; only then is
// the tier row locked, DecideHolds run with the tickets left, the candidates
// it refused (near a sell-out) taken back, the counters corrected once and
// the tier's count moved once before commit. The expensive inserts of
// concurrent batches therefore overlap; only the short tail (lock, update,
// commit) is serial. A batch that finds the tier sold out in a plain read
// first writes nothing. Lock order everywhere is reservation → user counters
// → tier.
func (s *Store) CreateHolds(ctx context.Context, tierID string, reqs []*boxoffice.HoldRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	if err := s.bulk.prepare(ctx, s.db, bulkReservations, bulkIdempotency, bulkUserTickets); err != nil {
		return translate("create holds", err)
	}
	attempt := 0
	return s.inTx(ctx, "create holds", nil, func(tx *sql.Tx) error {
		attempt++
		var eventID string
		var available int
		if err := tx.QueryRowContext(ctx, "SELECT event_id, capacity - reserved FROM tiers WHERE id = ?", tierID).
			Scan(&eventID, &available); err != nil {
			return err
		}

		// Keys recorded before refuse their requests. New keys are the
		// common case, so the first attempt does not look: a recorded key
		// makes an INSERT below fail with a duplicate, and inTx runs
		// everything again, this time reading every key first. A sold-out
		// batch reads them at once: a repeated request must be answered
		// from its record, not with sold_out.
		var recorded map[boxoffice.IdempotencyKey]bool
		if attempt > 1 || available <= 0 {
			var err error
			if recorded, err = recordedKeys(ctx, tx, reqs); err != nil {
				return err
			}
		}
		if available <= 0 {
			boxoffice.DecideHolds(reqs, boxoffice.HoldFacts{Left: available, Recorded: recorded})
			return nil
		}

		// Add every request's quantity to its user's counter: the upsert
		// creates missing rows and locks them all (sorted), and the counters
		// read back, less what was added, are the users' tickets before
		// this batch. What was not granted is taken off again below.
		asked := make(map[string]int, len(reqs))
		var users []string
		for _, r := range reqs {
			u := r.Reservation.UserID
			if _, ok := asked[u]; !ok {
				users = append(users, u)
			}
			asked[u] += r.Reservation.Quantity
		}
		tickets := make(map[string]int, len(users))
		if err := s.addUserCounts(ctx, tx, eventID, users, asked, 1); err != nil {
			return err
		}
		if err := readUserCounters(ctx, tx, eventID, users, tickets); err != nil {
			return err
		}
		for u, n := range asked {
			tickets[u] -= n
		}
		// Without candidates the plain read's count tells sold_out from
		// limit_exceeded; with them, the count read under the tier's lock.
		facts := boxoffice.HoldFacts{Left: available, Tickets: tickets, Recorded: recorded}

		cand := boxoffice.HoldCandidates(reqs, facts)
		if recorded == nil && keyedOutsider(reqs, cand) {
			// A request with a key that is refused before any insert could
			// reveal its key on record: read the keys, so that a repeated
			// request is answered from its record, not with limit_exceeded.
			var err error
			if facts.Recorded, err = recordedKeys(ctx, tx, reqs); err != nil {
				return err
			}
			cand = boxoffice.HoldCandidates(reqs, facts)
		}
		var cands []*boxoffice.HoldRequest
		for i, r := range reqs {
			if cand[i] {
				r.Reservation.TierID, r.Reservation.EventID = tierID, eventID
				cands = append(cands, r)
			}
		}
		if len(cands) > 0 {
			if err := s.insertHolds(ctx, tx, cands); err != nil {
				return err
			}
			var capacity, reserved int
			if err := tx.QueryRowContext(ctx, "SELECT capacity, reserved FROM tiers WHERE id = ? FOR UPDATE", tierID).
				Scan(&capacity, &reserved); err != nil {
				return err
			}
			facts.Left = capacity - reserved
		}
		granted := boxoffice.DecideHolds(reqs, facts)

		// Take back the candidates refused, and what was added to the
		// counters for every request not granted.
		var refused []*boxoffice.HoldRequest
		for _, r := range cands {
			if r.Err != nil {
				refused = append(refused, r)
			}
		}
		if err := s.takeBack(ctx, tx, refused); err != nil {
			return err
		}
		for _, r := range reqs {
			if r.Err == nil {
				asked[r.Reservation.UserID] -= r.Reservation.Quantity
			}
		}
		var over []string
		for _, u := range users {
			if asked[u] != 0 {
				over = append(over, u)
			}
		}
		if len(over) > 0 {
			if err := s.addUserCounts(ctx, tx, eventID, over, asked, -1); err != nil {
				return err
			}
		}
		if granted > 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE tiers SET reserved = reserved + ? WHERE id = ?", granted, tierID); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyedOutsider reports whether a request with an idempotency key is not a
// candidate.
func keyedOutsider(reqs []*boxoffice.HoldRequest, cand []bool) bool {
	for i, r := range reqs {
		if r.Idempotency != nil && !cand[i] {
			return true
		}
	}
	return false
}

// recordedKeys returns which of the batch's idempotency keys are on record.
func recordedKeys(ctx context.Context, tx *sql.Tx, reqs []*boxoffice.HoldRequest) (map[boxoffice.IdempotencyKey]bool, error) {
	var idems []*boxoffice.Idempotency
	for _, r := range reqs {
		if r.Idempotency != nil {
			idems = append(idems, r.Idempotency)
		}
	}
	return recordedKeysOf(ctx, tx, idems)
}

// recordedKeysOf returns which of the records' keys are on record.
func recordedKeysOf(ctx context.Context, tx *sql.Tx, idems []*boxoffice.Idempotency) (map[boxoffice.IdempotencyKey]bool, error) {
	var keyArgs []any
	for _, i := range idems {
		keyArgs = append(keyArgs, i.UserID, i.Key)
	}
	if len(keyArgs) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT user_id, idem_key FROM idempotency WHERE (user_id, idem_key) IN ("+
		rowsOf(len(keyArgs)/2, 2)+")", keyArgs...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recorded := map[boxoffice.IdempotencyKey]bool{}
	for rows.Next() {
		var k boxoffice.IdempotencyKey
		if err := rows.Scan(&k.UserID, &k.Key); err != nil {
			return nil, err
		}
		recorded[k] = true
	}
	return recorded, rows.Err()
}

// readUserCounters reads the users' counters (rows this transaction has
// already locked) into counts.
func readUserCounters(ctx context.Context, tx *sql.Tx, eventID string, users []string, counts map[string]int) error {
	q := make([]any, 0, len(users)+1)
	q = append(q, eventID)
	for _, u := range users {
		q = append(q, u)
	}
	rows, err := tx.QueryContext(ctx, "SELECT user_id, tickets FROM user_event_tickets WHERE event_id = ? AND user_id IN ("+
		placeholders(len(users))+") FOR UPDATE", q...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var n int
		if err := rows.Scan(&u, &n); err != nil {
			return err
		}
		counts[u] = n
	}
	return rows.Err()
}

// insertHolds writes the candidates' reservations and idempotency records.
func (s *Store) insertHolds(ctx context.Context, tx *sql.Tx, cands []*boxoffice.HoldRequest) error {
	resArgs := make([]any, 0, bulkReservations.cols*len(cands))
	var idemArgs []any
	for _, r := range cands {
		resArgs = append(resArgs, reservationArgs(r.Reservation)...)
		if idem := r.Idempotency; idem != nil {
			idemArgs = append(idemArgs, idemArgsOf(idem)...)
		}
	}
	if err := s.bulk.exec(ctx, tx, bulkReservations, resArgs); err != nil {
		return err
	}
	return s.bulk.exec(ctx, tx, bulkIdempotency, idemArgs)
}

// addUserCounts adds sign × deltas[u] to each user's counter, creating
// missing counters; it locks them in user order.
func (s *Store) addUserCounts(ctx context.Context, tx *sql.Tx, eventID string, users []string, deltas map[string]int, sign int) error {
	sort.Strings(users)
	args := make([]any, 0, bulkUserTickets.cols*len(users))
	for _, u := range users {
		args = append(args, u, eventID, sign*deltas[u])
	}
	return s.bulk.exec(ctx, tx, bulkUserTickets, args)
}

// takeBack removes what insertHolds wrote for candidates that were refused.
func (s *Store) takeBack(ctx context.Context, tx *sql.Tx, refused []*boxoffice.HoldRequest) error {
	if len(refused) == 0 {
		return nil
	}
	ids := make([]any, 0, len(refused))
	var keys []any
	for _, r := range refused {
		ids = append(ids, r.Reservation.ID)
		if idem := r.Idempotency; idem != nil {
			keys = append(keys, idem.UserID, idem.Key)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM reservations WHERE id IN ("+placeholders(len(ids))+")", ids...); err != nil {
		return err
	}
	if len(keys) > 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency WHERE (user_id, idem_key) IN ("+rowsOf(len(keys)/2, 2)+")", keys...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) Reservation(ctx context.Context, id string) (*boxoffice.Reservation, error) {
	r, err := scanReservation(s.db.QueryRowContext(ctx, "SELECT "+reservationCols+" FROM reservations WHERE id = ?", id))
	return r, translate("reservation", err)
}

// ListReservations returns up to f.Limit of a user's reservations, newest
// first, walking INDEX(user_id, id) backwards from the cursor.
func (s *Store) ListReservations(ctx context.Context, f boxoffice.ReservationFilter) ([]*boxoffice.Reservation, error) {
	query := "SELECT " + reservationCols + " FROM reservations WHERE user_id = ?"
	args := []any{f.UserID}
	if f.Status != "" {
		query += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.BeforeID != "" {
		query += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	out, err := func() ([]*boxoffice.Reservation, error) {
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []*boxoffice.Reservation{}
		for rows.Next() {
			r, err := scanReservation(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}()
	if err != nil {
		return nil, translate("list reservations", err)
	}
	return out, nil
}

// lockReservation reads a reservation under an exclusive row lock: the
// first lock of every transaction that changes one.
func lockReservation(ctx context.Context, tx *sql.Tx, id string) (*boxoffice.Reservation, error) {
	return scanReservation(tx.QueryRowContext(ctx, "SELECT "+reservationCols+" FROM reservations WHERE id = ? FOR UPDATE", id))
}

// release returns a reservation's tickets to its tier and its user's
// counter, locking them in the usual order (tier → counter).
func release(ctx context.Context, tx *sql.Tx, r *boxoffice.Reservation) error {
	if _, err := tx.ExecContext(ctx, "UPDATE user_event_tickets SET tickets = tickets - ? WHERE user_id = ? AND event_id = ?",
		r.Quantity, r.UserID, r.EventID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "UPDATE tiers SET reserved = reserved - ? WHERE id = ?", r.Quantity, r.TierID)
	return err
}

// ChangeQuantity sets a held reservation's quantity, and its amount to the
// tier's price times the quantity, together with the tier's Reserved count
// and the user's counter, as boxoffice.DecideQuantityChange decides. It
// returns ErrNotFound, ErrInvalidState, ErrHoldExpired, ErrLimitExceeded or
// ErrSoldOut.
func (s *Store) ChangeQuantity(ctx context.Context, id string, quantity, maxPerUser int, now time.Time) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	err := s.inTx(ctx, "change quantity", nil, func(tx *sql.Tx) error {
		r, err := lockReservation(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := boxoffice.DecideQuantityChange(r, r.Quantity, now, 0, 0, 0); err != nil {
			return err // not held, or ran out: nothing else to lock
		}
		var capacity, reserved int
		var price int64
		var currency string
		if err := tx.QueryRowContext(ctx, "SELECT capacity, reserved, price_amount, price_currency FROM tiers WHERE id = ? FOR UPDATE", r.TierID).
			Scan(&capacity, &reserved, &price, &currency); err != nil {
			return err
		}
		var tickets int
		err = tx.QueryRowContext(ctx, "SELECT tickets FROM user_event_tickets WHERE user_id = ? AND event_id = ? FOR UPDATE",
			r.UserID, r.EventID).Scan(&tickets)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		delta, err := boxoffice.DecideQuantityChange(r, quantity, now, capacity-reserved, tickets, maxPerUser)
		if err != nil {
			return err
		}
		if delta != 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE tiers SET reserved = reserved + ? WHERE id = ?", delta, r.TierID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_event_tickets (user_id, event_id, tickets) VALUES (?, ?, ?)
				ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets)`, r.UserID, r.EventID, delta); err != nil {
				return err
			}
		}
		r.Quantity = quantity
		r.Amount = boxoffice.Money{Amount: price * int64(quantity), Currency: currency}
		r.UpdatedAt = now.UTC()
		if _, err := tx.ExecContext(ctx, "UPDATE reservations SET quantity = ?, amount = ?, currency = ?, updated_at = ? WHERE id = ?",
			r.Quantity, r.Amount.Amount, r.Amount.Currency, r.UpdatedAt, id); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Confirm confirms a held reservation as boxoffice.ConfirmStep decides:
// under its row lock it calls charge and marks it confirmed, inserting idem
// (when not nil) in the same transaction. A hold that ran out by now is
// marked expired and its tickets released instead, and ErrHoldExpired
// returned. An already confirmed reservation is returned unchanged. It
// returns ErrNotFound, ErrHoldExpired, ErrInvalidState or charge's error
// (nothing changes then).
func (s *Store) Confirm(ctx context.Context, id string, now time.Time, charge func(context.Context, *boxoffice.Reservation) error, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	var stepErr error
	now = now.UTC()
	err := s.inTx(ctx, "confirm", nil, func(tx *sql.Tx) error {
		r, err := lockReservation(ctx, tx, id)
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
			if err := charge(ctx, r); err != nil {
				return callerError{err}
			}
		}
		r.Apply(step, now)
		if err := persistStep(ctx, tx, r, step); err != nil {
			return err
		}
		if step.Err == nil {
			if err := insertIdempotency(ctx, tx, idem); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	switch {
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
		string(r.Status), r.UpdatedAt, nullTime(r.ConfirmedAt), nullTime(r.CancelledAt), r.ID)
	return err
}

// Cancel cancels a reservation as boxoffice.CancelStep decides (a confirmed
// one only before refundableUntil) and releases its tickets at once; idem
// (when not nil) is inserted in the same transaction. It returns ErrNotFound
// or ErrInvalidState.
func (s *Store) Cancel(ctx context.Context, id string, now, refundableUntil time.Time, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	var out *boxoffice.Reservation
	now = now.UTC()
	err := s.inTx(ctx, "cancel", nil, func(tx *sql.Tx) error {
		r, err := lockReservation(ctx, tx, id)
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
		if err := insertIdempotency(ctx, tx, idem); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExpireHolds marks up to limit held reservations whose hold ran out by now
// as expired and releases their tickets, grouped by tier and by user.
// Reservations locked by another transaction (being confirmed, cancelled or
// expired elsewhere) are skipped (SKIP LOCKED), so concurrent callers never
// wait for each other and each hold expires once. It runs at READ
// COMMITTED so the scan takes no gap locks that would block new holds.
func (s *Store) ExpireHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.inTx(ctx, "expire holds", &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
		n = 0
		// The WHERE clause is boxoffice.ExpireStep's rule, so that the
		// index finds the rows; each row is still put to ExpireStep.
		rows, err := tx.QueryContext(ctx, `SELECT id, event_id, tier_id, user_id, quantity, status, hold_expires_at FROM reservations
			WHERE status = ? AND hold_expires_at <= ? ORDER BY hold_expires_at LIMIT ? FOR UPDATE SKIP LOCKED`,
			string(boxoffice.StatusHeld), now.UTC(), limit)
		if err != nil {
			return err
		}
		var ids []any
		tiers := map[string]int{}
		users := map[userCount]int{}
		for rows.Next() {
			var r boxoffice.Reservation
			var status string
			if err := rows.Scan(&r.ID, &r.EventID, &r.TierID, &r.UserID, &r.Quantity, &status, &r.HoldExpiresAt); err != nil {
				rows.Close()
				return err
			}
			r.Status = boxoffice.ReservationStatus(status)
			if !boxoffice.ExpireStep(&r, now).Releases() {
				continue
			}
			ids = append(ids, r.ID)
			tiers[r.TierID] += r.Quantity
			users[userCount{r.UserID, r.EventID}] += r.Quantity
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(ids)
		return markExpired(ctx, tx, "reservations", string(boxoffice.StatusExpired), now.UTC(), ids, tiers, users)
	})
	return n, err
}

// markExpired gives back the tickets of the expired rows ids of table
// (tiers and users, grouped) and sets their status at now. The sweepers of
// holds and orders share it.
func markExpired(ctx context.Context, tx *sql.Tx, table, status string, now time.Time, ids []any,
	tiers map[string]int, users map[userCount]int,
) error {
	if len(ids) == 0 {
		return nil
	}
	if len(users) > 0 {
		if err := releaseGrouped(ctx, tx, tiers, users); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, "UPDATE "+table+" SET status = ?, updated_at = ? WHERE id IN ("+
		placeholders(len(ids))+")", append([]any{status, now}, ids...)...)
	return err
}

// releaseGrouped subtracts ticket counts from tiers and user counters with
// one statement each, locking rows in sorted order.
func releaseGrouped(ctx context.Context, tx *sql.Tx, tiers map[string]int, users map[userCount]int) error {
	// Users before tiers: the lock order of CreateHolds.
	keys := make([]userCount, 0, len(users))
	for k := range users {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].userID != keys[j].userID {
			return keys[i].userID < keys[j].userID
		}
		return keys[i].eventID < keys[j].eventID
	})
	var cases strings.Builder
	var args, in []any
	for _, k := range keys {
		cases.WriteString(" WHEN user_id = ? AND event_id = ? THEN ?")
		args = append(args, k.userID, k.eventID, users[k])
		in = append(in, k.userID, k.eventID)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE user_event_tickets SET tickets = tickets - CASE"+cases.String()+
		" ELSE 0 END WHERE (user_id, event_id) IN ("+rowsOf(len(keys), 2)+")", append(args, in...)...); err != nil {
		return err
	}

	tierIDs := make([]string, 0, len(tiers))
	for id := range tiers {
		tierIDs = append(tierIDs, id)
	}
	sort.Strings(tierIDs)
	cases.Reset()
	args, in = args[:0], in[:0]
	for _, id := range tierIDs {
		cases.WriteString(" WHEN ? THEN ?")
		args = append(args, id, tiers[id])
		in = append(in, id)
	}
	_, err := tx.ExecContext(ctx, "UPDATE tiers SET reserved = reserved - CASE id"+cases.String()+
		" END WHERE id IN ("+placeholders(len(in))+") ORDER BY id", append(args, in...)...)
	return err
}

// Sales returns the inventory of an event's tiers and its orders' revenue,
// read in one read-only transaction (one consistent snapshot), or
// ErrNotFound. Which order states count as held, confirmed or sold is the
// domain's (OrderStatus.Holds, Sold); the queries group by state.
func (s *Store) Sales(ctx context.Context, eventID string) (*boxoffice.Sales, error) {
	var out *boxoffice.Sales
	err := s.inTx(ctx, "sales", &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		out = &boxoffice.Sales{EventID: eventID, Tiers: []boxoffice.TierSales{}}
		rows, err := tx.QueryContext(ctx, `SELECT t.id, t.capacity,
				COALESCE(SUM(CASE WHEN r.status = 'held' THEN r.quantity END), 0),
				COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN r.quantity END), 0)
			FROM events e
			JOIN tiers t ON t.event_id = e.id
			LEFT JOIN reservations r ON r.tier_id = t.id AND r.status IN ('held', 'confirmed')
			WHERE e.id = ?
			GROUP BY t.id, t.capacity
			ORDER BY t.id`, eventID)
		if err != nil {
			return err
		}
		byTier := map[string]int{}
		for rows.Next() {
			var ts boxoffice.TierSales
			if err := rows.Scan(&ts.TierID, &ts.Capacity, &ts.Held, &ts.Confirmed); err != nil {
				rows.Close()
				return err
			}
			byTier[ts.TierID] = len(out.Tiers)
			out.Tiers = append(out.Tiers, ts)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out.Tiers) == 0 {
			return sql.ErrNoRows
		}

		rows, err = tx.QueryContext(ctx, `SELECT l.tier_id, o.status, SUM(l.quantity - l.refunded)
			FROM orders o JOIN order_lines l ON l.order_id = o.id
			WHERE o.event_id = ? GROUP BY l.tier_id, o.status`, eventID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var tierID, status string
			var n int
			if err := rows.Scan(&tierID, &status, &n); err != nil {
				rows.Close()
				return err
			}
			i, ok := byTier[tierID]
			st := boxoffice.OrderStatus(status)
			switch {
			case !ok || !st.Holds():
			case st == boxoffice.OrderPending:
				out.Tiers[i].Held += n
			default:
				out.Tiers[i].Confirmed += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `SELECT status, currency, SUM(total_amount - refunded_amount)
			FROM orders WHERE event_id = ? GROUP BY status, currency`, eventID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var status, currency string
			var n int64
			if err := rows.Scan(&status, &currency, &n); err != nil {
				return err
			}
			if boxoffice.OrderStatus(status).Sold() {
				if out.OrderRevenue == nil {
					out.OrderRevenue = map[string]int64{}
				}
				out.OrderRevenue[currency] += n
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for i := range out.Tiers {
		ts := &out.Tiers[i]
		ts.Available = max(ts.Capacity-ts.Held-ts.Confirmed, 0)
	}
	return out, nil
}
