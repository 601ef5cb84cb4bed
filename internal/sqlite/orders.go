package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"boxoffice"
)

// Orders, their payments and refunds. Every write runs in one IMMEDIATE
// transaction on the writer connection, which holds the database's write
// lock: the facts a decision reads cannot change before its verdict is
// written. Orders share tiers.reserved and user_event_tickets with
// reservations: writeOrder moves both by the change in the tickets an order
// holds.

const orderCols = `id, event_id, user_id, email, status, total_amount, currency, refunded_amount, hold_expires_at,
	created_at, updated_at, paid_at, paid_by`

type rowScanner interface{ Scan(...any) error }

type rowQuerier interface {
	querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanOrder(row rowScanner) (*boxoffice.Order, error) {
	var (
		o                     boxoffice.Order
		expires, created, upd int64
		paidAt                sql.NullInt64
		paidBy                sql.NullString
	)
	if err := row.Scan(&o.ID, &o.EventID, &o.UserID, &o.Email, &o.Status, &o.Total.Amount, &o.Total.Currency,
		&o.Refunded.Amount, &expires, &created, &upd, &paidAt, &paidBy); err != nil {
		return nil, err
	}
	o.Refunded.Currency = o.Total.Currency
	o.HoldExpiresAt, o.CreatedAt, o.UpdatedAt = fromUS(expires), fromUS(created), fromUS(upd)
	o.PaidAt, o.PaidBy = fromNullUS(paidAt), paidBy.String
	return &o, nil
}

// attendeeJSON is an attendee as order_lines.attendees stores it.
type attendeeJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// refundLineJSON is a refund line as refunds.lines stores it.
type refundLineJSON struct {
	TierID   string `json:"tier_id"`
	Quantity int    `json:"quantity"`
}

func encodeAttendees(as []boxoffice.Attendee) (sql.NullString, error) {
	if len(as) == 0 {
		return sql.NullString{}, nil
	}
	out := make([]attendeeJSON, len(as))
	for i, a := range as {
		out[i] = attendeeJSON(a)
	}
	b, err := json.Marshal(out)
	return sql.NullString{String: string(b), Valid: true}, err
}

func decodeAttendees(s sql.NullString) ([]boxoffice.Attendee, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var in []attendeeJSON
	if err := json.Unmarshal([]byte(s.String), &in); err != nil {
		return nil, fmt.Errorf("order line attendees: %w", err)
	}
	var out []boxoffice.Attendee
	for _, a := range in {
		out = append(out, boxoffice.Attendee(a))
	}
	return out, nil
}

// loadLines reads the lines of orders (keyed by ID) in order.
func loadLines(ctx context.Context, q querier, orders map[string]*boxoffice.Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(orders))
	for chunk := range chunks(ids, maxRowsPerInsert) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := queryEach(ctx, q, `SELECT order_id, tier_id, quantity, unit_price, refunded, attendees
			FROM order_lines WHERE order_id IN (`+placeholders(len(chunk))+`) ORDER BY order_id, line_no`, args,
			func(rows *sql.Rows) error {
				var id string
				var l boxoffice.OrderLine
				var att sql.NullString
				if err := rows.Scan(&id, &l.TierID, &l.Quantity, &l.UnitPrice.Amount, &l.Refunded, &att); err != nil {
					return err
				}
				o := orders[id]
				as, err := decodeAttendees(att)
				if err != nil {
					return err
				}
				l.Attendees = as
				l.UnitPrice.Currency = o.Total.Currency
				l.Amount = boxoffice.Money{Amount: l.UnitPrice.Amount * int64(l.Quantity), Currency: o.Total.Currency}
				o.Lines = append(o.Lines, l)
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// loadOrder reads an order with its lines (not its payment), or
// boxoffice.ErrNotFound.
func loadOrder(ctx context.Context, q rowQuerier, id string) (*boxoffice.Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, "SELECT "+orderCols+" FROM orders WHERE id = ?", id))
	if err != nil {
		return nil, err
	}
	return o, loadLines(ctx, q, map[string]*boxoffice.Order{o.ID: o})
}

// copyOrder returns a copy of o whose lines do not alias o's.
func copyOrder(o *boxoffice.Order) *boxoffice.Order {
	c := *o
	c.Lines = slices.Clone(o.Lines)
	return &c
}

// heldTickets returns the tickets per tier that o holds: its kept tickets
// when its status holds them, else none.
func heldTickets(o *boxoffice.Order) map[string]int {
	if !o.Status.Holds() {
		return nil
	}
	return o.PerTier()
}

// writeOrder writes the order as a decision left it (status, refunds, times,
// the payment that paid it, the lines' refunded counts) and moves the tiers'
// Reserved counts and the user's count by the change in the tickets the
// order holds since before.
func writeOrder(ctx context.Context, tx *sql.Tx, before, after *boxoffice.Order) error {
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, refunded_amount = ?, updated_at = ?, paid_at = ?,
		paid_by = ? WHERE id = ?`, string(after.Status), after.Refunded.Amount, us(after.UpdatedAt), nullUS(after.PaidAt),
		sql.NullString{String: after.PaidBy, Valid: after.PaidBy != ""}, after.ID); err != nil {
		return err
	}
	for i := range after.Lines {
		if i < len(before.Lines) && before.Lines[i].Refunded == after.Lines[i].Refunded {
			continue
		}
		if _, err := tx.ExecContext(ctx, "UPDATE order_lines SET refunded = ? WHERE order_id = ? AND line_no = ?",
			after.Lines[i].Refunded, after.ID, i); err != nil {
			return err
		}
	}
	was, now := heldTickets(before), heldTickets(after)
	total := 0
	for _, tier := range slices.Sorted(maps.Keys(mergeKeys(was, now))) {
		d := now[tier] - was[tier]
		if d == 0 {
			continue
		}
		if err := addReserved(ctx, tx, tier, d); err != nil {
			return err
		}
		total += d
	}
	if total != 0 {
		return addTickets(ctx, tx, after.UserID, after.EventID, total)
	}
	return nil
}

func mergeKeys(a, b map[string]int) map[string]int {
	m := make(map[string]int, len(a)+len(b))
	for k := range a {
		m[k] = 0
	}
	for k := range b {
		m[k] = 0
	}
	return m
}

// insertOrder inserts a granted order and its lines.
func insertOrder(ctx context.Context, tx *sql.Tx, o *boxoffice.Order) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO orders ("+orderCols+") VALUES ("+placeholders(13)+")",
		o.ID, o.EventID, o.UserID, o.Email, string(o.Status), o.Total.Amount, o.Total.Currency, o.Refunded.Amount,
		us(o.HoldExpiresAt), us(o.CreatedAt), us(o.UpdatedAt), nullUS(o.PaidAt),
		sql.NullString{String: o.PaidBy, Valid: o.PaidBy != ""}); err != nil {
		return err
	}
	args := make([]any, 0, len(o.Lines)*7)
	for i, l := range o.Lines {
		att, err := encodeAttendees(l.Attendees)
		if err != nil {
			return err
		}
		args = append(args, o.ID, i, l.TierID, l.Quantity, l.UnitPrice.Amount, l.Refunded, att)
	}
	if len(o.Lines) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, tier_id, quantity, unit_price, refunded,
		attendees) VALUES `+rowsOf(len(o.Lines), 7), args...)
	return err
}

// CreateOrders decides a batch of orders for one event in one transaction
// with boxoffice.DecideOrders: it reads the tickets left in every tier the
// batch asks for (a tier not of the event has none), the users' tickets
// for the event and the keys on record, then inserts the granted orders
// with their lines and idempotency records and moves each tier's and each
// user's count once.
func (s *Store) CreateOrders(ctx context.Context, eventID string, reqs []*boxoffice.OrderRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	return s.inTx(ctx, "create orders", func(tx *sql.Tx) error {
		facts := boxoffice.OrderFacts{Left: map[string]int{}, Tickets: map[string]int{},
			Recorded: map[boxoffice.IdempotencyKey]bool{}}
		tiers, users := map[string]bool{}, map[string]bool{}
		for _, req := range reqs {
			users[req.Order.UserID] = true
			for _, l := range req.Order.Lines {
				tiers[l.TierID] = true
			}
			if k := req.Idempotency; k != nil {
				taken, err := idemTaken(ctx, tx, k)
				if err != nil {
					return err
				}
				facts.Recorded[boxoffice.IdempotencyKey{UserID: k.UserID, Key: k.Key}] = taken
			}
		}
		for chunk := range chunks(slices.Sorted(maps.Keys(tiers)), maxRowsPerInsert) {
			args := []any{eventID}
			for _, id := range chunk {
				args = append(args, id)
			}
			err := queryEach(ctx, tx, "SELECT id, capacity - reserved FROM tiers WHERE event_id = ? AND id IN ("+
				placeholders(len(chunk))+")", args, func(rows *sql.Rows) error {
				var id string
				var left int
				if err := rows.Scan(&id, &left); err != nil {
					return err
				}
				facts.Left[id] = left
				return nil
			})
			if err != nil {
				return err
			}
		}
		for chunk := range chunks(slices.Sorted(maps.Keys(users)), maxRowsPerInsert) {
			args := []any{eventID}
			for _, id := range chunk {
				args = append(args, id)
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

		granted := boxoffice.DecideOrders(reqs, facts)

		perUser := map[string]int{}
		for _, req := range reqs {
			if req.Err != nil {
				continue
			}
			o := *req.Order
			o.EventID = eventID
			if err := insertOrder(ctx, tx, &o); err != nil {
				return err
			}
			if err := insertIdem(ctx, tx, req.Idempotency); err != nil {
				return err
			}
			for _, l := range o.Lines {
				perUser[o.UserID] += l.Quantity
			}
		}
		for _, u := range slices.Sorted(maps.Keys(perUser)) {
			if err := addTickets(ctx, tx, u, eventID, perUser[u]); err != nil {
				return err
			}
		}
		for _, tier := range slices.Sorted(maps.Keys(granted)) {
			if n := granted[tier]; n != 0 {
				if err := addReserved(ctx, tx, tier, n); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// latestPayment returns an order's newest payment, or nil.
func latestPayment(ctx context.Context, q rowQuerier, orderID string) (*boxoffice.Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, "SELECT "+paymentCols+
		" FROM payments WHERE order_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", orderID))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return p, err
}

// Order returns the order with its lines and its latest payment, read in
// one snapshot, or boxoffice.ErrNotFound.
func (s *Store) Order(ctx context.Context, id string) (*boxoffice.Order, error) {
	var out *boxoffice.Order
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Payment, err = latestPayment(ctx, tx, id); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, wrap("order", err)
}

// ListOrders returns up to f.Limit orders of a user or of an event, newest
// first (by ID), with their lines.
func (s *Store) ListOrders(ctx context.Context, f boxoffice.OrderFilter) ([]*boxoffice.Order, error) {
	var out []*boxoffice.Order
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		query := "SELECT " + orderCols + " FROM orders INDEXED BY orders_user_id WHERE user_id = ?"
		args := []any{f.UserID}
		if f.UserID == "" {
			query = "SELECT " + orderCols + " FROM orders INDEXED BY orders_event_id WHERE event_id = ?"
			args = []any{f.EventID}
		}
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
		byID := map[string]*boxoffice.Order{}
		err := queryEach(ctx, tx, query, args, func(rows *sql.Rows) error {
			o, err := scanOrder(rows)
			if err == nil {
				out = append(out, o)
				byID[o.ID] = o
			}
			return err
		})
		if err != nil {
			return err
		}
		return loadLines(ctx, tx, byID)
	})
	return out, wrap("list orders", err)
}

// CancelOrder cancels an order as boxoffice.OrderCancelStep decides,
// releasing its tickets and inserting idem in the same transaction. It
// returns boxoffice.ErrNotFound, the step's error, or
// ErrIdempotencyKeyReused.
func (s *Store) CancelOrder(ctx context.Context, id string, now time.Time, idem *boxoffice.Idempotency) (*boxoffice.Order, error) {
	var out *boxoffice.Order
	now = now.UTC()
	err := s.inTx(ctx, "cancel order", func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		before := copyOrder(o)
		status, err := boxoffice.OrderCancelStep(o)
		if err != nil {
			return err
		}
		o.ApplyStatus(status, now)
		if err := writeOrder(ctx, tx, before, o); err != nil {
			return err
		}
		if err := insertIdem(ctx, tx, idem); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

// ExpireOrders marks up to limit pending orders whose hold ran out by now
// as expired (boxoffice.OrderExpireStep) and releases their tickets. The
// write lock makes each order expire once, however many processes call it.
func (s *Store) ExpireOrders(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	now = now.UTC()
	n := 0
	err := s.inTx(ctx, "expire orders", func(tx *sql.Tx) error {
		n = 0
		// The WHERE clause is OrderExpireStep's rule, so that the index
		// finds the rows; each order is still put to the step.
		var ids []string
		err := queryEach(ctx, tx, `SELECT id FROM orders INDEXED BY orders_status_expiry
			WHERE status = 'pending' AND hold_expires_at <= ? ORDER BY hold_expires_at LIMIT ?`,
			[]any{us(now), limit}, func(rows *sql.Rows) error {
				var id string
				err := rows.Scan(&id)
				ids = append(ids, id)
				return err
			})
		if err != nil {
			return err
		}
		for _, id := range ids {
			o, err := loadOrder(ctx, tx, id)
			if err != nil {
				return err
			}
			if !boxoffice.OrderExpireStep(o, now) {
				continue
			}
			before := copyOrder(o)
			o.ApplyStatus(boxoffice.OrderExpired, now)
			if err := writeOrder(ctx, tx, before, o); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const paymentCols = `id, order_id, provider, ref, status, amount, currency, client_secret, failure_reason, status_at,
	created_at, updated_at`

func scanPayment(row rowScanner) (*boxoffice.Payment, error) {
	var (
		p                          boxoffice.Payment
		ref                        sql.NullString
		statusAt, created, updated int64
	)
	if err := row.Scan(&p.ID, &p.OrderID, &p.Provider, &ref, &p.Status, &p.Amount.Amount, &p.Amount.Currency,
		&p.ClientSecret, &p.FailureReason, &statusAt, &created, &updated); err != nil {
		return nil, err
	}
	p.Ref = ref.String
	p.StatusAt, p.CreatedAt, p.UpdatedAt = fromUS(statusAt), fromUS(created), fromUS(updated)
	return &p, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreatePayment loads the payment's order, calls check with it, and inserts
// p, in one transaction. It returns boxoffice.ErrNotFound or check's error.
func (s *Store) CreatePayment(ctx context.Context, p *boxoffice.Payment, check func(*boxoffice.Order) error) error {
	return s.inTx(ctx, "create payment", func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, p.OrderID)
		if err != nil {
			return err
		}
		if o.Payment, err = latestPayment(ctx, tx, p.OrderID); err != nil {
			return err
		}
		if err := check(o); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO payments ("+paymentCols+") VALUES ("+placeholders(12)+")",
			p.ID, p.OrderID, p.Provider, nullString(p.Ref), string(p.Status), p.Amount.Amount, p.Amount.Currency,
			p.ClientSecret, p.FailureReason, us(p.StatusAt), us(p.CreatedAt), us(p.UpdatedAt))
		return err
	})
}

// Payment returns a payment, or boxoffice.ErrNotFound.
func (s *Store) Payment(ctx context.Context, id string) (*boxoffice.Payment, error) {
	p, err := scanPayment(s.r.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE id = ?", id))
	return p, wrap("payment", err)
}

// PaymentByRef returns the payment of a provider with the provider's id
// ref, or boxoffice.ErrNotFound.
func (s *Store) PaymentByRef(ctx context.Context, provider, ref string) (*boxoffice.Payment, error) {
	p, err := scanPayment(s.r.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE provider = ? AND ref = ?",
		provider, ref))
	return p, wrap("payment by ref", err)
}

// OrderPayments returns an order's payments, oldest first.
func (s *Store) OrderPayments(ctx context.Context, orderID string) ([]*boxoffice.Payment, error) {
	return s.payments(ctx, "order payments", "SELECT "+paymentCols+
		" FROM payments WHERE order_id = ? ORDER BY created_at, id", orderID)
}

func (s *Store) payments(ctx context.Context, op, query string, args ...any) ([]*boxoffice.Payment, error) {
	var out []*boxoffice.Payment
	err := queryEach(ctx, s.r, query, args, func(rows *sql.Rows) error {
		p, err := scanPayment(rows)
		if err == nil {
			out = append(out, p)
		}
		return err
	})
	return out, wrap(op, err)
}

// recordEvent records a provider event's key in tx; a key recorded before
// is boxoffice.ErrDuplicateEvent. An empty key records nothing.
func recordEvent(ctx context.Context, tx *sql.Tx, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO provider_events (event_key, created_at) VALUES (?, ?)", key, us(now))
	if isUnique(err) {
		return boxoffice.ErrDuplicateEvent
	}
	return err
}

// SettlePayment is SettlePayments with one report.
func (s *Store) SettlePayment(ctx context.Context, paymentID, eventKey string, decide func(boxoffice.SettleFacts) (boxoffice.Settlement, bool, error)) (*boxoffice.Order, error) {
	r := &boxoffice.SettleRequest{PaymentID: paymentID, EventKey: eventKey, Decide: decide}
	if err := s.SettlePayments(ctx, "", []*boxoffice.SettleRequest{r}); err != nil {
		return nil, err
	}
	return r.Order, r.Err
}

// SettlePayments applies the reports one after the other in one
// transaction, each behind a savepoint that takes back what a refused
// report wrote (its event key).
func (s *Store) SettlePayments(ctx context.Context, _ string, reqs []*boxoffice.SettleRequest) error {
	return s.inTx(ctx, "settle payments", func(tx *sql.Tx) error {
		for _, r := range reqs {
			r.Order, r.Settlement, r.Changed, r.Err = nil, boxoffice.Settlement{}, false, nil
			if _, err := tx.ExecContext(ctx, "SAVEPOINT settle"); err != nil {
				return err
			}
			err := settleOne(ctx, tx, r)
			var refused refusedReport
			switch {
			case errors.As(err, &refused):
				r.Err = refused.err
			case errors.Is(err, sql.ErrNoRows):
				r.Err = boxoffice.ErrNotFound
			case errors.Is(err, boxoffice.ErrDuplicateEvent):
				r.Err = err
			case err != nil:
				return err
			}
			if r.Err != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO settle"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE settle"); err != nil {
				return err
			}
		}
		return nil
	})
}

// refusedReport is a report's Decide refusing it.
type refusedReport struct{ err error }

func (e refusedReport) Error() string { return e.err.Error() }

// settleOne loads the payment, its order with its lines, the tickets left
// in the order's tiers and the user's tickets for the event, records the
// provider event's key, calls the report's Decide and writes the
// settlement.
func settleOne(ctx context.Context, tx *sql.Tx, r *boxoffice.SettleRequest) error {
	p, err := scanPayment(tx.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE id = ?", r.PaymentID))
	if err != nil {
		return err
	}
	o, err := loadOrder(ctx, tx, p.OrderID)
	if err != nil {
		return err
	}
	if err := recordEvent(ctx, tx, r.EventKey, time.Now()); err != nil {
		return err
	}
	facts := boxoffice.SettleFacts{Payment: p, Order: o, Left: map[string]int{}}
	for _, l := range o.Lines {
		if _, ok := facts.Left[l.TierID]; ok {
			continue
		}
		var left int
		if err := tx.QueryRowContext(ctx, "SELECT capacity - reserved FROM tiers WHERE id = ?", l.TierID).Scan(&left); err != nil {
			return err
		}
		facts.Left[l.TierID] = left
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT tickets FROM user_event_tickets
		WHERE user_id = ? AND event_id = ?), 0)`, o.UserID, o.EventID).Scan(&facts.Tickets); err != nil {
		return err
	}
	before := copyOrder(o)
	st, changed, err := r.Decide(facts)
	if err != nil {
		return refusedReport{err}
	}
	if !changed {
		r.Order = before
		r.Order.Payment = p
		return nil
	}
	np := st.Payment
	if _, err := tx.ExecContext(ctx, `UPDATE payments SET ref = ?, status = ?, client_secret = ?, failure_reason = ?,
		status_at = ?, updated_at = ? WHERE id = ?`, nullString(np.Ref), string(np.Status), np.ClientSecret,
		np.FailureReason, us(np.StatusAt), us(np.UpdatedAt), np.ID); err != nil {
		return err
	}
	out := before
	if st.OrderChanged {
		if err := writeOrder(ctx, tx, before, st.Order); err != nil {
			return err
		}
		out = copyOrder(st.Order)
	}
	pc := *np
	out.Payment = &pc
	if err := insertTickets(ctx, tx, st.Tickets); err != nil {
		return err
	}
	if st.Refund != nil {
		if err := insertRefund(ctx, tx, st.Refund); err != nil {
			return err
		}
	}
	if err := insertWebhookMessages(ctx, tx, st.Webhooks); err != nil {
		return err
	}
	if err := insertMail(ctx, tx, st.Mail); err != nil {
		return err
	}
	r.Order, r.Settlement, r.Changed = out, st, true
	return nil
}

// PaymentParties returns the payments' orders, events and mail
// recipients in one read.
func (s *Store) PaymentParties(ctx context.Context, paymentIDs []string) (map[string]boxoffice.PaymentParty, error) {
	out := make(map[string]boxoffice.PaymentParty, len(paymentIDs))
	if len(paymentIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(paymentIDs))
	for i, id := range paymentIDs {
		args[i] = id
	}
	rows, err := s.r.QueryContext(ctx, `SELECT p.id, o.id, o.event_id, COALESCE(NULLIF(o.email, ''), u.email, '')
		FROM payments p JOIN orders o ON o.id = p.order_id LEFT JOIN users u ON u.id = o.user_id
		WHERE p.id IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, wrap("payment parties", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p boxoffice.PaymentParty
		if err := rows.Scan(&id, &p.OrderID, &p.EventID, &p.Email); err != nil {
			return nil, wrap("payment parties", err)
		}
		out[id] = p
	}
	return out, wrap("payment parties", rows.Err())
}

// insertMail puts m into the outbox; nil inserts nothing.
func insertMail(ctx context.Context, tx *sql.Tx, m *boxoffice.OutboxMessage) error {
	if m == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, kind, recipient, subject, body, created_at, attempts, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
		m.ID, m.Kind, m.To, m.Subject, m.Text, us(m.CreatedAt), us(m.NextAttemptAt))
	return err
}

// StuckPayments returns up to limit payments in processing or
// requires_action last updated before before and created after since,
// oldest update first.
func (s *Store) StuckPayments(ctx context.Context, before, since time.Time, limit int) ([]*boxoffice.Payment, error) {
	var out []*boxoffice.Payment
	for _, st := range []boxoffice.PaymentStatus{boxoffice.PaymentProcessing, boxoffice.PaymentRequiresAction} {
		ps, err := s.payments(ctx, "stuck payments", "SELECT "+paymentCols+` FROM payments INDEXED BY payments_status_updated
			WHERE status = ? AND updated_at < ? AND created_at > ? ORDER BY updated_at, id LIMIT ?`,
			string(st), us(before), us(since), limitOf(limit))
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b *boxoffice.Payment) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out[:min(len(out), limitOf(limit))], nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

const refundCols = `id, order_id, payment_id, provider, ref, amount, currency, status, reason, lines, by_organizer,
	automatic, attempts, last_error, next_attempt_at, created_at, updated_at, ticket_ids`

func scanRefund(row rowScanner) (*boxoffice.Refund, error) {
	var (
		r                     boxoffice.Refund
		ref                   sql.NullString
		lines, ticketIDs      string
		next, created, update int64
	)
	if err := row.Scan(&r.ID, &r.OrderID, &r.PaymentID, &r.Provider, &ref, &r.Amount.Amount, &r.Amount.Currency,
		&r.Status, &r.Reason, &lines, &r.ByOrganizer, &r.Automatic, &r.Attempts, &r.LastError, &next, &created,
		&update, &ticketIDs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ticketIDs), &r.TicketIDs); err != nil {
		return nil, fmt.Errorf("refund ticket IDs: %w", err)
	}
	if len(r.TicketIDs) == 0 {
		r.TicketIDs = nil
	}
	var ls []refundLineJSON
	if err := json.Unmarshal([]byte(lines), &ls); err != nil {
		return nil, fmt.Errorf("refund lines: %w", err)
	}
	for _, l := range ls {
		r.Lines = append(r.Lines, boxoffice.RefundLine(l))
	}
	r.Ref = ref.String
	r.NextAttemptAt, r.CreatedAt, r.UpdatedAt = fromUS(next), fromUS(created), fromUS(update)
	return &r, nil
}

func insertRefund(ctx context.Context, tx *sql.Tx, r *boxoffice.Refund) error {
	ls := make([]refundLineJSON, len(r.Lines))
	for i, l := range r.Lines {
		ls[i] = refundLineJSON(l)
	}
	lines, err := json.Marshal(ls)
	if err != nil {
		return err
	}
	ids := r.TicketIDs
	if ids == nil {
		ids = []string{}
	}
	ticketIDs, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO refunds ("+refundCols+") VALUES ("+placeholders(18)+")",
		r.ID, r.OrderID, r.PaymentID, r.Provider, nullString(r.Ref), r.Amount.Amount, r.Amount.Currency,
		string(r.Status), r.Reason, string(lines), r.ByOrganizer, r.Automatic, r.Attempts, r.LastError,
		us(r.NextAttemptAt), us(r.CreatedAt), us(r.UpdatedAt), string(ticketIDs))
	return err
}

// RefundOrder loads the order with its lines, its issued tickets and the
// payment that paid it, calls decide, and writes the order, the refund,
// the tickets given back, the tickets it voided and the mail in one
// transaction. It returns the refund,
// boxoffice.ErrNotFound, or decide's error.
func (s *Store) RefundOrder(ctx context.Context, orderID string, decide func(*boxoffice.Order, *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error)) (*boxoffice.Refund, error) {
	var out *boxoffice.Refund
	err := s.inTx(ctx, "refund order", func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		var p *boxoffice.Payment
		if o.PaidBy != "" {
			if p, err = scanPayment(tx.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE id = ?", o.PaidBy)); err != nil {
				return err
			}
		}
		if o.Issued, err = loadIssued(ctx, tx, orderID); err != nil {
			return err
		}
		before := copyOrder(o)
		r, mail, err := decide(o, p)
		if err != nil {
			return err
		}
		if err := writeOrder(ctx, tx, before, o); err != nil {
			return err
		}
		if err := insertRefund(ctx, tx, r); err != nil {
			return err
		}
		if err := writeVoids(ctx, tx, r, o.Issued); err != nil {
			return err
		}
		out = r
		if r != nil {
			if err := insertWebhookMessages(ctx, tx, r.Webhooks); err != nil {
				return err
			}
		}
		return insertMail(ctx, tx, mail)
	})
	return out, err
}

func (s *Store) refunds(ctx context.Context, q querier, op, query string, args ...any) ([]*boxoffice.Refund, error) {
	var out []*boxoffice.Refund
	err := queryEach(ctx, q, query, args, func(rows *sql.Rows) error {
		r, err := scanRefund(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, wrap(op, err)
}

// OrderRefunds returns an order's refunds, oldest first.
func (s *Store) OrderRefunds(ctx context.Context, orderID string) ([]*boxoffice.Refund, error) {
	return s.refunds(ctx, s.r, "order refunds", "SELECT "+refundCols+
		" FROM refunds INDEXED BY refunds_order_id WHERE order_id = ? ORDER BY created_at, id", orderID)
}

// Refund returns a refund, or boxoffice.ErrNotFound.
func (s *Store) Refund(ctx context.Context, id string) (*boxoffice.Refund, error) {
	r, err := scanRefund(s.r.QueryRowContext(ctx, "SELECT "+refundCols+" FROM refunds WHERE id = ?", id))
	return r, wrap("refund", err)
}

// ClaimRefunds claims up to limit pending or failed refunds due by now,
// oldest due first, by setting their NextAttemptAt to leaseUntil. The write
// lock gives each refund to one claimer.
func (s *Store) ClaimRefunds(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.Refund, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []*boxoffice.Refund
	err := s.inTx(ctx, "claim refunds", func(tx *sql.Tx) error {
		var err error
		out, err = s.refunds(ctx, tx, "claim refunds", "SELECT "+refundCols+` FROM refunds INDEXED BY refunds_due
			WHERE status IN ('pending', 'failed') AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
			us(now), limit)
		if err != nil || len(out) == 0 {
			return err
		}
		args := []any{us(leaseUntil)}
		for _, r := range out {
			args = append(args, r.ID)
			r.NextAttemptAt = leaseUntil.UTC()
		}
		_, err = tx.ExecContext(ctx, "UPDATE refunds SET next_attempt_at = ? WHERE id IN ("+placeholders(len(out))+")", args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRefund writes r's provider state and retry schedule unless the
// stored refund has succeeded, recording eventKey in the same transaction.
// It returns boxoffice.ErrNotFound or ErrDuplicateEvent.
func (s *Store) UpdateRefund(ctx context.Context, r *boxoffice.Refund, eventKey string) error {
	return s.inTx(ctx, "update refund", func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM refunds WHERE id = ?", r.ID).Scan(&status); err != nil {
			return err
		}
		if err := recordEvent(ctx, tx, eventKey, time.Now()); err != nil {
			return err
		}
		if boxoffice.RefundStatus(status) == boxoffice.RefundSucceeded {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE refunds SET ref = COALESCE(?, ref), status = ?, attempts = ?, last_error = ?,
			next_attempt_at = ?, updated_at = ? WHERE id = ?`, nullString(r.Ref), string(r.Status), r.Attempts,
			r.LastError, us(r.NextAttemptAt), us(r.UpdatedAt), r.ID)
		return err
	})
}

// Revenue returns an event's money, read in one snapshot: its orders'
// succeeded payments and their refunds that are not failed, per currency.
func (s *Store) Revenue(ctx context.Context, eventID string) (*boxoffice.Revenue, error) {
	out := &boxoffice.Revenue{EventID: eventID, Paid: map[string]int64{}, Refunded: map[string]int64{}}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ?", eventID).Scan(&one); err != nil {
			return err
		}
		sum := func(m map[string]int64, query string) error {
			return queryEach(ctx, tx, query, []any{eventID}, func(rows *sql.Rows) error {
				var cur string
				var n int64
				if err := rows.Scan(&cur, &n); err != nil {
					return err
				}
				m[cur] = n
				return nil
			})
		}
		if err := sum(out.Paid, `SELECT p.currency, SUM(p.amount) FROM orders o INDEXED BY orders_event_id
			JOIN payments p ON p.order_id = o.id WHERE o.event_id = ? AND p.status = 'succeeded' GROUP BY p.currency`); err != nil {
			return err
		}
		return sum(out.Refunded, `SELECT r.currency, SUM(r.amount) FROM orders o INDEXED BY orders_event_id
			JOIN refunds r ON r.order_id = o.id WHERE o.event_id = ? AND r.status <> 'failed' GROUP BY r.currency`)
	})
	if err != nil {
		return nil, wrap("revenue", err)
	}
	return out, nil
}
