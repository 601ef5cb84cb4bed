package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"boxoffice"
)

// This file is the OrderStore: orders, their payments and refunds (tables of
// migration 0005). Orders share tiers.reserved and user_event_tickets with
// v1 reservations: an order whose status Holds() counts its lines' kept
// tickets (quantity − refunded) in both. Every rule is the domain's
// (DecideOrders, OrderCancelStep, OrderExpireStep, and the decide callbacks
// of SettlePayment and RefundOrder); this reads their facts and writes what
// they decided. Lock order everywhere: payment → order → reservation → user
// counters → tiers (sorted by ID).

const (
	orderCols = "id, event_id, user_id, email, status, total_amount, currency, refunded_amount, " +
		"hold_expires_at, created_at, updated_at, paid_at, paid_by"
	lineCols    = "order_id, line_no, tier_id, quantity, unit_price, refunded, attendees"
	paymentCols = "id, order_id, provider, ref, status, amount, currency, client_secret, failure_reason, " +
		"status_at, created_at, updated_at"
	refundCols = "id, order_id, payment_id, provider, ref, amount, currency, status, reason, `lines`, " +
		"by_organizer, automatic, attempts, last_error, next_attempt_at, created_at, updated_at, ticket_ids"
)

// The order path's bulk writes.
var (
	bulkOrders     = bulkWrite{head: "INSERT INTO orders (" + orderCols + ") VALUES ", cols: 13}
	bulkOrderLines = bulkWrite{head: "INSERT INTO order_lines (" + lineCols + ") VALUES ", cols: 7}
)

func scanOrder(row scanner) (*boxoffice.Order, error) {
	o := &boxoffice.Order{}
	var status string
	var paidAt sql.NullTime
	var paidBy sql.NullString
	if err := row.Scan(&o.ID, &o.EventID, &o.UserID, &o.Email, &status, &o.Total.Amount, &o.Total.Currency,
		&o.Refunded.Amount, &o.HoldExpiresAt, &o.CreatedAt, &o.UpdatedAt, &paidAt, &paidBy); err != nil {
		return nil, err
	}
	o.Status = boxoffice.OrderStatus(status)
	o.Refunded.Currency = o.Total.Currency
	if paidAt.Valid {
		t := paidAt.Time
		o.PaidAt = &t
	}
	o.PaidBy = paidBy.String
	return o, nil
}

func orderArgs(o *boxoffice.Order) []any {
	return []any{o.ID, o.EventID, o.UserID, o.Email, string(o.Status), o.Total.Amount, o.Total.Currency,
		o.Refunded.Amount, o.HoldExpiresAt.UTC(), o.CreatedAt.UTC(), o.UpdatedAt.UTC(), nullTime(o.PaidAt),
		nullString(o.PaidBy)}
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// attendeeJSON is an attendee as order_lines.attendees stores it.
type attendeeJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
}

// attendeesText returns the attendees column for as: NULL when none.
func attendeesText(as []boxoffice.Attendee) (any, error) {
	if len(as) == 0 {
		return nil, nil
	}
	js := make([]attendeeJSON, len(as))
	for i, a := range as {
		js[i] = attendeeJSON(a)
	}
	b, err := json.Marshal(js)
	return string(b), err
}

func lineArgs(orderID string, no int, l *boxoffice.OrderLine) ([]any, error) {
	att, err := attendeesText(l.Attendees)
	return []any{orderID, no, l.TierID, l.Quantity, l.UnitPrice.Amount, l.Refunded, att}, err
}

// refundLineJSON is a refund line as refunds.lines stores it.
type refundLineJSON struct {
	TierID   string `json:"tier_id"`
	Quantity int    `json:"quantity"`
}

// attachLines loads the lines of orders (in line order) in one query.
func attachLines(ctx context.Context, q querier, orders []*boxoffice.Order) error {
	if len(orders) == 0 {
		return nil
	}
	byID := make(map[string]*boxoffice.Order, len(orders))
	args := make([]any, 0, len(orders))
	for _, o := range orders {
		o.Lines = []boxoffice.OrderLine{}
		byID[o.ID] = o
		args = append(args, o.ID)
	}
	rows, err := q.QueryContext(ctx, "SELECT "+lineCols+" FROM order_lines WHERE order_id IN ("+
		placeholders(len(args))+") ORDER BY order_id, line_no", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var orderID string
		var no int
		var l boxoffice.OrderLine
		var att sql.NullString
		if err := rows.Scan(&orderID, &no, &l.TierID, &l.Quantity, &l.UnitPrice.Amount, &l.Refunded, &att); err != nil {
			return err
		}
		o := byID[orderID]
		l.UnitPrice.Currency = o.Total.Currency
		l.Amount = boxoffice.Money{Amount: l.UnitPrice.Amount * int64(l.Quantity), Currency: o.Total.Currency}
		if att.Valid {
			var js []attendeeJSON
			if err := json.Unmarshal([]byte(att.String), &js); err != nil {
				return err
			}
			for _, a := range js {
				l.Attendees = append(l.Attendees, boxoffice.Attendee(a))
			}
		}
		o.Lines = append(o.Lines, l)
	}
	return rows.Err()
}

// loadOrder reads an order with its lines, under the order's row lock when
// lock is set, and its latest payment when withPayment is set.
func loadOrder(ctx context.Context, q querier, id string, lock, withPayment bool) (*boxoffice.Order, error) {
	query := "SELECT " + orderCols + " FROM orders WHERE id = ?"
	if lock {
		query += " FOR UPDATE"
	}
	o, err := scanOrder(q.QueryRowContext(ctx, query, id))
	if err != nil {
		return nil, err
	}
	if err := attachLines(ctx, q, []*boxoffice.Order{o}); err != nil {
		return nil, err
	}
	if withPayment {
		if o.Payment, err = latestPayment(ctx, q, id); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// latestPayment returns an order's newest payment, or nil.
func latestPayment(ctx context.Context, q querier, orderID string) (*boxoffice.Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, "SELECT "+paymentCols+
		" FROM payments WHERE order_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", orderID))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	return p, err
}

// updateOrder writes the order's row (its lines' refunded counts are
// written by RefundOrder).
func updateOrder(ctx context.Context, tx *sql.Tx, o *boxoffice.Order) error {
	_, err := tx.ExecContext(ctx, "UPDATE orders SET status = ?, refunded_amount = ?, updated_at = ?, paid_at = ?, paid_by = ? WHERE id = ?",
		string(o.Status), o.Refunded.Amount, o.UpdatedAt.UTC(), nullTime(o.PaidAt), nullString(o.PaidBy), o.ID)
	return err
}

// shiftTickets moves an order's kept tickets in or out of its tiers'
// Reserved counts and its user's counter: sign −1 releases them, +1 takes
// them again. Counters are locked before tiers, tiers in ID order.
func shiftTickets(ctx context.Context, tx *sql.Tx, o *boxoffice.Order, sign int) error {
	n := o.Tickets()
	if n == 0 {
		return nil
	}
	tiers := map[string]int{}
	for t, k := range o.PerTier() {
		if k != 0 {
			tiers[t] = -sign * k
		}
	}
	return releaseGrouped(ctx, tx, tiers, map[userCount]int{{o.UserID, o.EventID}: -sign * n})
}

// CreateOrders decides a batch of orders for one event in one transaction
// with a constant number of statements, whatever the batch size. The
// decision is boxoffice.DecideOrders; this reads its facts and writes its
// verdicts.
//
// First a plain read of the tiers the batch asks for: when none has a
// ticket left, the batch is decided on that read and writes nothing. Else
// every order's tickets are added to its user's counter (one upsert, sorted,
// that creates missing rows and locks them all), and the counters read back
// tell each user's tickets before the batch; then the tiers are locked
// (sorted by ID) and read, DecideOrders runs, and the granted orders, their
// lines and idempotency records are inserted, what was added for refused
// orders is taken off the counters, and each tier's count is moved once.
//
// Recorded idempotency keys are read only when needed: on a retry (a
// granted order's key turned out to be recorded, so the insert failed with a
// duplicate and inTx runs everything again), and when a keyed order was
// refused (so that a repeated request is answered from its record, not with
// sold_out).
func (s *Store) CreateOrders(ctx context.Context, eventID string, reqs []*boxoffice.OrderRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	if err := s.bulk.prepare(ctx, s.db, bulkOrders, bulkOrderLines, bulkIdempotency, bulkUserTickets); err != nil {
		return translate("create orders", err)
	}
	var tierIDs, users []string
	seen := map[string]bool{}
	asked := map[string]int{}
	var idems []*boxoffice.Idempotency
	for _, r := range reqs {
		o := r.Order
		o.EventID = eventID
		if _, ok := asked[o.UserID]; !ok {
			users = append(users, o.UserID)
		}
		for _, l := range o.Lines {
			asked[o.UserID] += l.Quantity
			if !seen[l.TierID] {
				seen[l.TierID] = true
				tierIDs = append(tierIDs, l.TierID)
			}
		}
		if r.Idempotency != nil {
			idems = append(idems, r.Idempotency)
		}
	}
	sort.Strings(tierIDs)

	attempt := 0
	return s.inTx(ctx, "create orders", nil, func(tx *sql.Tx) error {
		attempt++
		var recorded map[boxoffice.IdempotencyKey]bool
		var err error
		if attempt > 1 {
			if recorded, err = recordedKeysOf(ctx, tx, idems); err != nil {
				return err
			}
		}
		left, err := tiersLeft(ctx, tx, eventID, tierIDs, false)
		if err != nil {
			return err
		}
		if soldOut(left) {
			if recorded == nil {
				if recorded, err = recordedKeysOf(ctx, tx, idems); err != nil {
					return err
				}
			}
			boxoffice.DecideOrders(reqs, boxoffice.OrderFacts{Left: left, Recorded: recorded})
			return nil
		}

		// Add every order's tickets to its user's counter, read the
		// counters back, and lock the tiers: the facts of the decision.
		if err := s.addUserCounts(ctx, tx, eventID, users, asked, 1); err != nil {
			return err
		}
		tickets := make(map[string]int, len(users))
		if err := readUserCounters(ctx, tx, eventID, users, tickets); err != nil {
			return err
		}
		for u, n := range asked {
			tickets[u] -= n
		}
		if left, err = tiersLeft(ctx, tx, eventID, tierIDs, true); err != nil {
			return err
		}
		facts := boxoffice.OrderFacts{Left: left, Tickets: tickets, Recorded: recorded}
		granted := boxoffice.DecideOrders(reqs, facts)
		if recorded == nil && keyedRefused(reqs) {
			if facts.Recorded, err = recordedKeysOf(ctx, tx, idems); err != nil {
				return err
			}
			granted = boxoffice.DecideOrders(reqs, facts)
		}

		if err := s.insertOrders(ctx, tx, reqs); err != nil {
			return err
		}
		// Take off the counters what refused orders added.
		over := map[string]int{}
		for _, r := range reqs {
			if r.Err != nil {
				for _, l := range r.Order.Lines {
					over[r.Order.UserID] += l.Quantity
				}
			}
		}
		var overUsers []string
		for u, n := range over {
			if n != 0 {
				overUsers = append(overUsers, u)
			}
		}
		if len(overUsers) > 0 {
			if err := s.addUserCounts(ctx, tx, eventID, overUsers, over, -1); err != nil {
				return err
			}
		}
		return addReserved(ctx, tx, granted)
	})
}

// soldOut reports whether no tier of left has a ticket left.
func soldOut(left map[string]int) bool {
	for _, n := range left {
		if n > 0 {
			return false
		}
	}
	return true
}

// keyedRefused reports whether a request with an idempotency key was
// refused.
func keyedRefused(reqs []*boxoffice.OrderRequest) bool {
	for _, r := range reqs {
		if r.Idempotency != nil && r.Err != nil {
			return true
		}
	}
	return false
}

// tiersLeft reads the tickets left in the event's tiers among tierIDs
// (sorted), locking them in ID order when lock is set. A tier that is not
// the event's is missing from the map: it has nothing left.
func tiersLeft(ctx context.Context, tx *sql.Tx, eventID string, tierIDs []string, lock bool) (map[string]int, error) {
	left := make(map[string]int, len(tierIDs))
	if len(tierIDs) == 0 {
		return left, nil
	}
	args := make([]any, 0, len(tierIDs)+1)
	for _, id := range tierIDs {
		args = append(args, id)
	}
	query := "SELECT id, event_id, capacity - reserved FROM tiers WHERE id IN (" + placeholders(len(tierIDs)) + ") ORDER BY id"
	if lock {
		query += " FOR UPDATE"
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, ev string
		var n int
		if err := rows.Scan(&id, &ev, &n); err != nil {
			return nil, err
		}
		if ev == eventID {
			left[id] = n
		}
	}
	return left, rows.Err()
}

// insertOrders writes the granted orders, their lines and idempotency
// records.
func (s *Store) insertOrders(ctx context.Context, tx *sql.Tx, reqs []*boxoffice.OrderRequest) error {
	var orderArgsAll, lineArgsAll, idemArgs []any
	for _, r := range reqs {
		if r.Err != nil {
			continue
		}
		o := r.Order
		orderArgsAll = append(orderArgsAll, orderArgs(o)...)
		for i := range o.Lines {
			la, err := lineArgs(o.ID, i, &o.Lines[i])
			if err != nil {
				return err
			}
			lineArgsAll = append(lineArgsAll, la...)
		}
		if idem := r.Idempotency; idem != nil {
			idemArgs = append(idemArgs, idemArgsOf(idem)...)
		}
	}
	if err := s.bulk.exec(ctx, tx, bulkOrders, orderArgsAll); err != nil {
		return err
	}
	if err := s.bulk.exec(ctx, tx, bulkOrderLines, lineArgsAll); err != nil {
		return err
	}
	return s.bulk.exec(ctx, tx, bulkIdempotency, idemArgs)
}

// addReserved adds the tickets granted per tier to the tiers' Reserved
// counts in one statement (the rows are locked already).
func addReserved(ctx context.Context, tx *sql.Tx, granted map[string]int) error {
	ids := make([]string, 0, len(granted))
	for id, n := range granted {
		if n != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sort.Strings(ids)
	var cases strings.Builder
	args := make([]any, 0, 3*len(ids))
	for _, id := range ids {
		cases.WriteString(" WHEN ? THEN ?")
		args = append(args, id, granted[id])
	}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := tx.ExecContext(ctx, "UPDATE tiers SET reserved = reserved + CASE id"+cases.String()+
		" END WHERE id IN ("+placeholders(len(ids))+") ORDER BY id", args...)
	return err
}

// Order returns the order with its lines and latest payment, read in one
// snapshot, or ErrNotFound.
func (s *Store) Order(ctx context.Context, id string) (*boxoffice.Order, error) {
	var out *boxoffice.Order
	err := s.inTx(ctx, "order", &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		var err error
		out, err = loadOrder(ctx, tx, id, false, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListOrders returns up to f.Limit orders of a user or of an event, newest
// first, walking INDEX(user_id, id) or INDEX(event_id, id) backwards from
// the cursor, with their lines.
func (s *Store) ListOrders(ctx context.Context, f boxoffice.OrderFilter) ([]*boxoffice.Order, error) {
	query := "SELECT " + orderCols + " FROM orders WHERE "
	var args []any
	if f.UserID != "" {
		query += "user_id = ?"
		args = append(args, f.UserID)
	} else {
		query += "event_id = ?"
		args = append(args, f.EventID)
	}
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
	var out []*boxoffice.Order
	err := s.inTx(ctx, "list orders", &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		out = []*boxoffice.Order{}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return attachLines(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelOrder cancels an order as boxoffice.OrderCancelStep decides under
// its lock, releasing its tickets at once; idem (when not nil) is inserted
// in the same transaction. It returns ErrNotFound, the step's error, or
// ErrIdempotencyKeyReused (nothing changes) when idem's key is on record.
func (s *Store) CancelOrder(ctx context.Context, id string, now time.Time, idem *boxoffice.Idempotency) (*boxoffice.Order, error) {
	var out *boxoffice.Order
	now = now.UTC()
	err := s.inTx(ctx, "cancel order", nil, func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, id, true, true)
		if err != nil {
			return err
		}
		status, err := boxoffice.OrderCancelStep(o)
		if err != nil {
			return err
		}
		held := o.Status.Holds()
		o.ApplyStatus(status, now)
		if held && !o.Status.Holds() {
			if err := shiftTickets(ctx, tx, o, -1); err != nil {
				return err
			}
		}
		if err := updateOrder(ctx, tx, o); err != nil {
			return err
		}
		if err := insertIdempotency(ctx, tx, idem); err != nil {
			if isDup(err) {
				// The key is on record: the cancellation is not made.
				return boxoffice.ErrIdempotencyKeyReused
			}
			return err
		}
		out = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExpireOrders marks up to limit pending orders whose hold ran out by now
// (boxoffice.OrderExpireStep) as expired and releases their tickets,
// grouped by tier and by user. Orders locked by another transaction (being
// paid, cancelled or expired elsewhere) are skipped (SKIP LOCKED), so
// concurrent callers never wait for each other and each order expires once.
// It runs at READ COMMITTED so the scan takes no gap locks.
func (s *Store) ExpireOrders(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	now = now.UTC()
	n := 0
	err := s.inTx(ctx, "expire orders", &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
		n = 0
		// The WHERE clause is OrderExpireStep's rule, so that the index
		// finds the rows; each order is still put to OrderExpireStep.
		rows, err := tx.QueryContext(ctx, "SELECT "+orderCols+` FROM orders
			WHERE status = ? AND hold_expires_at <= ? ORDER BY hold_expires_at LIMIT ? FOR UPDATE SKIP LOCKED`,
			string(boxoffice.OrderPending), now, limit)
		if err != nil {
			return err
		}
		var orders []*boxoffice.Order
		for rows.Next() {
			o, err := scanOrder(rows)
			if err != nil {
				rows.Close()
				return err
			}
			orders = append(orders, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := attachLines(ctx, tx, orders); err != nil {
			return err
		}
		var ids []any
		tiers := map[string]int{}
		users := map[userCount]int{}
		for _, o := range orders {
			if !boxoffice.OrderExpireStep(o, now) {
				continue
			}
			held := o.Status.Holds()
			o.ApplyStatus(boxoffice.OrderExpired, now)
			ids = append(ids, o.ID)
			if held && !o.Status.Holds() && o.Tickets() > 0 {
				for t, k := range o.PerTier() {
					tiers[t] += k
				}
				users[userCount{o.UserID, o.EventID}] += o.Tickets()
			}
		}
		n = len(ids)
		return markExpired(ctx, tx, "orders", string(boxoffice.OrderExpired), now, ids, tiers, users)
	})
	return n, err
}

func scanPayment(row scanner) (*boxoffice.Payment, error) {
	p := &boxoffice.Payment{}
	var ref sql.NullString
	var status string
	if err := row.Scan(&p.ID, &p.OrderID, &p.Provider, &ref, &status, &p.Amount.Amount, &p.Amount.Currency,
		&p.ClientSecret, &p.FailureReason, &p.StatusAt, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.Ref, p.Status = ref.String, boxoffice.PaymentStatus(status)
	return p, nil
}

// queryPayments runs a query selecting paymentCols.
func queryPayments(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.Payment, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*boxoffice.Payment{}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CreatePayment locks the payment's order, lets check refuse it, and
// inserts the payment, in one transaction. It returns ErrNotFound or
// check's error.
func (s *Store) CreatePayment(ctx context.Context, p *boxoffice.Payment, check func(*boxoffice.Order) error) error {
	return s.inTx(ctx, "create payment", nil, func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, p.OrderID, true, true)
		if err != nil {
			return err
		}
		if err := check(o); err != nil {
			return callerError{err}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO payments ("+paymentCols+") VALUES ("+placeholders(12)+")", paymentArgs(p)...)
		return err
	})
}

func paymentArgs(p *boxoffice.Payment) []any {
	return []any{p.ID, p.OrderID, p.Provider, nullString(p.Ref), string(p.Status), p.Amount.Amount, p.Amount.Currency,
		p.ClientSecret, p.FailureReason, p.StatusAt.UTC(), p.CreatedAt.UTC(), p.UpdatedAt.UTC()}
}

// Payment returns a payment, or ErrNotFound.
func (s *Store) Payment(ctx context.Context, id string) (*boxoffice.Payment, error) {
	p, err := scanPayment(s.db.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE id = ?", id))
	return p, translate("payment", err)
}

// PaymentByRef returns the payment of a provider with the provider's id
// ref, or ErrNotFound.
func (s *Store) PaymentByRef(ctx context.Context, provider, ref string) (*boxoffice.Payment, error) {
	if ref == "" {
		return nil, boxoffice.ErrNotFound
	}
	p, err := scanPayment(s.db.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE provider = ? AND ref = ?", provider, ref))
	return p, translate("payment by ref", err)
}

// OrderPayments returns an order's payments, oldest first.
func (s *Store) OrderPayments(ctx context.Context, orderID string) ([]*boxoffice.Payment, error) {
	out, err := queryPayments(ctx, s.db, "SELECT "+paymentCols+" FROM payments WHERE order_id = ? ORDER BY created_at, id", orderID)
	if err != nil {
		return nil, translate("order payments", err)
	}
	return out, nil
}

// recordEvent records a provider event's key; it returns ErrDuplicateEvent
// when the key was recorded before. "" records nothing.
func recordEvent(ctx context.Context, tx *sql.Tx, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	// With a duplicate the update changes nothing, so no row is affected.
	res, err := tx.ExecContext(ctx, "INSERT INTO provider_events (event_key, created_at) VALUES (?, ?) "+
		"ON DUPLICATE KEY UPDATE event_key = event_key", key, now.UTC())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return boxoffice.ErrDuplicateEvent
	}
	return nil
}

// SettlePayment is SettlePayments with one report.
func (s *Store) SettlePayment(ctx context.Context, paymentID, eventKey string,
	decide func(boxoffice.SettleFacts) (boxoffice.Settlement, bool, error)) (*boxoffice.Order, error) {
	r := &boxoffice.SettleRequest{PaymentID: paymentID, EventKey: eventKey, Decide: decide}
	if err := s.SettlePayments(ctx, "", []*boxoffice.SettleRequest{r}); err != nil {
		return nil, err
	}
	return r.Order, r.Err
}

// SettlePayments applies a batch of reports on payments in one transaction
// with a constant number of statements, whatever the batch size:
//
//   - a plain read of which provider events are on record already (one
//     recorded meanwhile by another transaction makes the insert of the keys
//     below fail as a duplicate, and inTx runs the batch again);
//   - the payments, locked in ID order, then their orders, locked in ID
//     order, with their lines;
//   - the orders' users' counters and tiers: locked (counters, then tiers
//     in ID order) when an order of the batch holds no tickets, which a
//     late payment may take again; else read without their locks, so the
//     hot tiers are not locked by the payments of an on-sale;
//   - each report decided in order on those facts, kept up to date in
//     memory as the reports before it change them;
//   - what was decided written in one statement per kind: the event keys,
//     the payments and orders (upserts of rows that exist), the tickets,
//     webhook messages and mail; the rare refunds and re-reservations one
//     statement each.
func (s *Store) SettlePayments(ctx context.Context, _ string, reqs []*boxoffice.SettleRequest) error {
	return s.inTx(ctx, "settle payments", nil, func(tx *sql.Tx) error { return settleBatch(ctx, tx, reqs) })
}

// settleWrites is what a batch of reports writes.
type settleWrites struct {
	keys             []any
	payments, orders []any // rows of paymentCols and orderCols
	wrotePayment     map[string]int
	wroteOrder       map[string]int
	tickets          []*boxoffice.Ticket
	reserve          []*boxoffice.Order
	refunds          []*boxoffice.Refund
	webhooks         []*boxoffice.WebhookMessage
	mail             []*boxoffice.OutboxMessage
}

func settleBatch(ctx context.Context, tx *sql.Tx, reqs []*boxoffice.SettleRequest) error {
	keys, paymentIDs := []string{}, []string{}
	for _, r := range reqs {
		r.Order, r.Settlement, r.Changed, r.Err = nil, boxoffice.Settlement{}, false, nil
		if r.EventKey != "" {
			keys = append(keys, r.EventKey)
		}
		paymentIDs = append(paymentIDs, r.PaymentID)
	}
	recorded, err := recordedEvents(ctx, tx, keys)
	if err != nil {
		return err
	}
	payments, err := queryPayments(ctx, tx, "SELECT "+paymentCols+" FROM payments WHERE id IN ("+
		placeholders(len(uniq(paymentIDs)))+") ORDER BY id FOR UPDATE", anys(uniq(paymentIDs))...)
	if err != nil {
		return err
	}
	byPayment := make(map[string]*boxoffice.Payment, len(payments))
	orderIDs := make([]string, 0, len(payments))
	for _, p := range payments {
		byPayment[p.ID] = p
		orderIDs = append(orderIDs, p.OrderID)
	}
	orders, err := lockOrders(ctx, tx, uniq(orderIDs))
	if err != nil {
		return err
	}
	counters, left, err := settleCounts(ctx, tx, orders)
	if err != nil {
		return err
	}

	w := settleWrites{wrotePayment: map[string]int{}, wroteOrder: map[string]int{}}
	done := map[string]bool{} // event keys applied by this batch
	for _, r := range reqs {
		if r.EventKey != "" && (recorded[r.EventKey] || done[r.EventKey]) {
			r.Err = boxoffice.ErrDuplicateEvent
			continue
		}
		p := byPayment[r.PaymentID]
		var o *boxoffice.Order
		if p != nil {
			o = orders[p.OrderID]
		}
		if o == nil {
			r.Err = boxoffice.ErrNotFound
			continue
		}
		uc := userCount{o.UserID, o.EventID}
		facts := boxoffice.SettleFacts{Payment: p, Order: o, Left: map[string]int{}, Tickets: counters[uc]}
		for t := range o.PerTier() {
			if n, ok := left[t]; ok && n.event == o.EventID {
				facts.Left[t] = n.left
			}
		}
		pBefore, oBefore := *p, *o
		oBefore.Lines = append([]boxoffice.OrderLine(nil), o.Lines...)
		st, changed, err := r.Decide(facts)
		if err != nil {
			*p, *o = pBefore, oBefore // decide may have moved them: this report writes nothing
			r.Err = err
			continue
		}
		if r.EventKey != "" {
			done[r.EventKey] = true
			w.keys = append(w.keys, r.EventKey, time.Now().UTC())
		}
		if !changed {
			r.Order = snapshot(o, p)
			continue
		}
		// What the reports after this one see.
		byPayment[st.Payment.ID], orders[st.Order.ID] = st.Payment, st.Order
		w.set(&w.payments, w.wrotePayment, st.Payment.ID, paymentArgs(st.Payment))
		if st.OrderChanged {
			w.set(&w.orders, w.wroteOrder, st.Order.ID, orderArgs(st.Order))
		}
		w.tickets = append(w.tickets, st.Tickets...)
		if st.Reserve {
			w.reserve = append(w.reserve, snapshot(st.Order, nil))
			counters[uc] += st.Order.Tickets()
			for t, k := range st.Order.PerTier() {
				n := left[t]
				n.left -= k
				left[t] = n
			}
		}
		if st.Refund != nil {
			w.refunds = append(w.refunds, st.Refund)
		}
		w.webhooks = append(w.webhooks, st.Webhooks...)
		if st.Mail != nil {
			w.mail = append(w.mail, st.Mail)
		}
		r.Order, r.Settlement, r.Changed = snapshot(st.Order, st.Payment), st, true
	}
	return w.write(ctx, tx)
}

// set puts a row of args in rows, replacing the row written for id before
// (one payment reported twice is written once, as it is last).
func (w *settleWrites) set(rows *[]any, at map[string]int, id string, args []any) {
	if i, ok := at[id]; ok {
		copy((*rows)[i:], args)
		return
	}
	at[id] = len(*rows)
	*rows = append(*rows, args...)
}

func (w *settleWrites) write(ctx context.Context, tx *sql.Tx) error {
	if err := execRows(ctx, tx, "INSERT INTO provider_events (event_key, created_at) VALUES ", 2, "", w.keys); err != nil {
		return err
	}
	if err := execRows(ctx, tx, "INSERT INTO payments ("+paymentCols+") VALUES ", 12,
		" ON DUPLICATE KEY UPDATE ref = VALUES(ref), status = VALUES(status), client_secret = VALUES(client_secret), "+
			"failure_reason = VALUES(failure_reason), status_at = VALUES(status_at), updated_at = VALUES(updated_at)", w.payments); err != nil {
		return err
	}
	if err := execRows(ctx, tx, "INSERT INTO orders ("+orderCols+") VALUES ", 13,
		" ON DUPLICATE KEY UPDATE status = VALUES(status), refunded_amount = VALUES(refunded_amount), "+
			"updated_at = VALUES(updated_at), paid_at = VALUES(paid_at), paid_by = VALUES(paid_by)", w.orders); err != nil {
		return err
	}
	if err := insertTickets(ctx, tx, w.tickets); err != nil {
		return err
	}
	for _, o := range w.reserve {
		if err := shiftTickets(ctx, tx, o, +1); err != nil {
			return err
		}
	}
	for _, r := range w.refunds {
		if err := insertRefund(ctx, tx, r); err != nil {
			return err
		}
	}
	if err := insertWebhookMessages(ctx, tx, w.webhooks); err != nil {
		return err
	}
	return insertMail(ctx, tx, w.mail...)
}

// snapshot returns a copy of o with Payment a copy of p (nil for none): what
// one report answers, whatever the reports after it do to the same rows.
func snapshot(o *boxoffice.Order, p *boxoffice.Payment) *boxoffice.Order {
	c := *o
	c.Lines = append([]boxoffice.OrderLine(nil), o.Lines...)
	c.Payment = nil
	if p != nil {
		pc := *p
		c.Payment = &pc
	}
	return &c
}

// recordedEvents returns which of keys are on record.
func recordedEvents(ctx context.Context, tx *sql.Tx, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	keys = uniq(keys)
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT event_key FROM provider_events WHERE event_key IN ("+placeholders(len(keys))+")", anys(keys)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// lockOrders reads orders (IDs sorted) with their lines, locking them in ID
// order.
func lockOrders(ctx context.Context, tx *sql.Tx, ids []string) (map[string]*boxoffice.Order, error) {
	out := make(map[string]*boxoffice.Order, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+orderCols+" FROM orders WHERE id IN ("+placeholders(len(ids))+") ORDER BY id FOR UPDATE", anys(ids)...)
	if err != nil {
		return nil, err
	}
	list := make([]*boxoffice.Order, 0, len(ids))
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, o)
		out[o.ID] = o
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, attachLines(ctx, tx, list)
}

// tierLeft is a tier's tickets left, with its event.
type tierLeft struct {
	event string
	left  int
}

// settleCounts reads the counters of the orders' users and the tickets
// left in their tiers, locked (counters, then tiers, each sorted) when one
// of the orders holds no tickets.
func settleCounts(ctx context.Context, tx *sql.Tx, orders map[string]*boxoffice.Order) (map[userCount]int, map[string]tierLeft, error) {
	counters, left := map[userCount]int{}, map[string]tierLeft{}
	var users, events, tiers []string
	lock := false
	for _, o := range orders {
		lock = lock || !o.Status.Holds()
		users, events = append(users, o.UserID), append(events, o.EventID)
		for t := range o.PerTier() {
			tiers = append(tiers, t)
		}
	}
	if len(orders) == 0 {
		return counters, left, nil
	}
	users, events, tiers = uniq(users), uniq(events), uniq(tiers)
	rows, err := tx.QueryContext(ctx, "SELECT user_id, event_id, tickets FROM user_event_tickets WHERE user_id IN ("+
		placeholders(len(users))+") AND event_id IN ("+placeholders(len(events))+") ORDER BY user_id, event_id"+forUpdate(lock),
		append(anys(users), anys(events)...)...)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var uc userCount
		var n int
		if err := rows.Scan(&uc.userID, &uc.eventID, &n); err != nil {
			rows.Close()
			return nil, nil, err
		}
		counters[uc] = n
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	if len(tiers) == 0 {
		return counters, left, rows.Err()
	}
	rows, err = tx.QueryContext(ctx, "SELECT id, event_id, capacity - reserved FROM tiers WHERE id IN ("+
		placeholders(len(tiers))+") ORDER BY id"+forUpdate(lock), anys(tiers)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n tierLeft
		if err := rows.Scan(&id, &n.event, &n.left); err != nil {
			return nil, nil, err
		}
		left[id] = n
	}
	return counters, left, rows.Err()
}

// uniq returns the distinct strings of ss, sorted.
func uniq(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// anys returns ss as query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
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
	rows, err := s.db.QueryContext(ctx, `SELECT p.id, o.id, o.event_id, COALESCE(NULLIF(o.email, ''), u.email, '')
		FROM payments p JOIN orders o ON o.id = p.order_id LEFT JOIN users u ON u.id = o.user_id
		WHERE p.id IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, translate("payment parties", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p boxoffice.PaymentParty
		if err := rows.Scan(&id, &p.OrderID, &p.EventID, &p.Email); err != nil {
			return nil, translate("payment parties", err)
		}
		out[id] = p
	}
	return out, translate("payment parties", rows.Err())
}

func forUpdate(lock bool) string {
	if lock {
		return " FOR UPDATE"
	}
	return ""
}

// insertMail puts ms into the outbox in one statement; nil messages are
// skipped.
func insertMail(ctx context.Context, tx *sql.Tx, ms ...*boxoffice.OutboxMessage) error {
	args := make([]any, 0, 7*len(ms))
	for _, m := range ms {
		if m != nil {
			args = append(args, m.ID, m.Kind, m.To, m.Subject, m.Text, m.CreatedAt.UTC(), m.NextAttemptAt.UTC())
		}
	}
	return execRows(ctx, tx, "INSERT INTO outbox (id, kind, recipient, subject, body, created_at, next_attempt_at) VALUES ", 7, "", args)
}

// StuckPayments returns up to limit payments in processing or
// requires_action last updated before before and created after since,
// oldest update first.
func (s *Store) StuckPayments(ctx context.Context, before, since time.Time, limit int) ([]*boxoffice.Payment, error) {
	out, err := queryPayments(ctx, s.db, "SELECT "+paymentCols+` FROM payments
		WHERE status IN (?, ?) AND updated_at < ? AND created_at > ? ORDER BY updated_at, id LIMIT ?`,
		string(boxoffice.PaymentProcessing), string(boxoffice.PaymentRequiresAction), before.UTC(), since.UTC(), limit)
	if err != nil {
		return nil, translate("stuck payments", err)
	}
	return out, nil
}

func refundArgs(r *boxoffice.Refund) ([]any, error) {
	lines := make([]refundLineJSON, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = refundLineJSON(l)
	}
	b, err := json.Marshal(lines)
	if err != nil {
		return nil, err
	}
	ids, err := json.Marshal(append([]string{}, r.TicketIDs...))
	return []any{r.ID, r.OrderID, r.PaymentID, r.Provider, nullString(r.Ref), r.Amount.Amount, r.Amount.Currency,
		string(r.Status), r.Reason, string(b), r.ByOrganizer, r.Automatic, r.Attempts, r.LastError,
		r.NextAttemptAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC(), string(ids)}, err
}

func insertRefund(ctx context.Context, tx *sql.Tx, r *boxoffice.Refund) error {
	args, err := refundArgs(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO refunds ("+refundCols+") VALUES ("+placeholders(18)+")", args...)
	return err
}

func scanRefund(row scanner) (*boxoffice.Refund, error) {
	r := &boxoffice.Refund{}
	var ref sql.NullString
	var status, lines, ticketIDs string
	if err := row.Scan(&r.ID, &r.OrderID, &r.PaymentID, &r.Provider, &ref, &r.Amount.Amount, &r.Amount.Currency,
		&status, &r.Reason, &lines, &r.ByOrganizer, &r.Automatic, &r.Attempts, &r.LastError, &r.NextAttemptAt,
		&r.CreatedAt, &r.UpdatedAt, &ticketIDs); err != nil {
		return nil, err
	}
	r.Ref, r.Status = ref.String, boxoffice.RefundStatus(status)
	var js []refundLineJSON
	if err := json.Unmarshal([]byte(lines), &js); err != nil {
		return nil, err
	}
	for _, l := range js {
		r.Lines = append(r.Lines, boxoffice.RefundLine(l))
	}
	if err := json.Unmarshal([]byte(ticketIDs), &r.TicketIDs); err != nil {
		return nil, err
	}
	if len(r.TicketIDs) == 0 {
		r.TicketIDs = nil
	}
	return r, nil
}

func queryRefunds(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.Refund, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*boxoffice.Refund{}
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RefundOrder locks the order and then its issued tickets (in ID order),
// reads the payment that paid it, lets decide change the order and return
// the refund, and writes the order, its lines' refunded counts, the refund,
// the tickets it voided, the refund's tickets given back (to the user's
// counter, then the tiers) and the mail, in one transaction. The
// payment is read without its lock (the lock order puts it before the
// order's): a payment that paid an order has succeeded, which is final.
func (s *Store) RefundOrder(ctx context.Context, orderID string,
	decide func(*boxoffice.Order, *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error)) (*boxoffice.Refund, error) {
	var out *boxoffice.Refund
	err := s.inTx(ctx, "refund order", nil, func(tx *sql.Tx) error {
		o, err := loadOrder(ctx, tx, orderID, true, false)
		if err != nil {
			return err
		}
		if o.Issued, err = queryTickets(ctx, tx, "SELECT "+ticketCols+
			" FROM tickets WHERE order_id = ? ORDER BY id FOR UPDATE", orderID); err != nil {
			return err
		}
		var p *boxoffice.Payment
		if o.PaidBy != "" {
			p, err = scanPayment(tx.QueryRowContext(ctx, "SELECT "+paymentCols+" FROM payments WHERE id = ?", o.PaidBy))
			if err == sql.ErrNoRows {
				p, err = nil, nil
			}
			if err != nil {
				return err
			}
		}
		held := o.Status.Holds()
		r, mail, err := decide(o, p)
		if err != nil {
			return callerError{err}
		}
		if err := updateOrder(ctx, tx, o); err != nil {
			return err
		}
		if err := updateLinesRefunded(ctx, tx, o); err != nil {
			return err
		}
		if r != nil {
			if err := insertRefund(ctx, tx, r); err != nil {
				return err
			}
			if err := writeTickets(ctx, tx, ticketsOf(o.Issued, r.TicketIDs)); err != nil {
				return err
			}
			if held {
				tiers := map[string]int{}
				n := 0
				for _, l := range r.Lines {
					tiers[l.TierID] += l.Quantity
					n += l.Quantity
				}
				if n > 0 {
					if err := releaseGrouped(ctx, tx, tiers, map[userCount]int{{o.UserID, o.EventID}: n}); err != nil {
						return err
					}
				}
			}
		}
		if r != nil {
			if err := insertWebhookMessages(ctx, tx, r.Webhooks); err != nil {
				return err
			}
		}
		if err := insertMail(ctx, tx, mail); err != nil {
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

// updateLinesRefunded writes the refunded count of every line of o in one
// statement.
func updateLinesRefunded(ctx context.Context, tx *sql.Tx, o *boxoffice.Order) error {
	if len(o.Lines) == 0 {
		return nil
	}
	var cases strings.Builder
	args := make([]any, 0, 2*len(o.Lines)+1)
	for i, l := range o.Lines {
		cases.WriteString(" WHEN ? THEN ?")
		args = append(args, i, l.Refunded)
	}
	args = append(args, o.ID)
	_, err := tx.ExecContext(ctx, "UPDATE order_lines SET refunded = CASE line_no"+cases.String()+
		" ELSE refunded END WHERE order_id = ?", args...)
	return err
}

// OrderRefunds returns an order's refunds, oldest first.
func (s *Store) OrderRefunds(ctx context.Context, orderID string) ([]*boxoffice.Refund, error) {
	out, err := queryRefunds(ctx, s.db, "SELECT "+refundCols+" FROM refunds WHERE order_id = ? ORDER BY created_at, id", orderID)
	if err != nil {
		return nil, translate("order refunds", err)
	}
	return out, nil
}

// Refund returns a refund, or ErrNotFound.
func (s *Store) Refund(ctx context.Context, id string) (*boxoffice.Refund, error) {
	r, err := scanRefund(s.db.QueryRowContext(ctx, "SELECT "+refundCols+" FROM refunds WHERE id = ?", id))
	return r, translate("refund", err)
}

// ClaimRefunds claims up to limit pending or failed refunds due by now: it
// locks them with SKIP LOCKED, so that concurrent senders take different
// refunds without waiting for each other, and moves their next attempt to
// leaseUntil.
func (s *Store) ClaimRefunds(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.Refund, error) {
	if limit <= 0 {
		return []*boxoffice.Refund{}, nil
	}
	var out []*boxoffice.Refund
	err := s.inTx(ctx, "claim refunds", nil, func(tx *sql.Tx) error {
		var err error
		out, err = queryRefunds(ctx, tx, "SELECT "+refundCols+` FROM refunds
			WHERE status IN (?, ?) AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
			string(boxoffice.RefundPending), string(boxoffice.RefundFailed), now.UTC(), limit)
		if err != nil || len(out) == 0 {
			return err
		}
		args := []any{leaseUntil.UTC()}
		for _, r := range out {
			r.NextAttemptAt = leaseUntil.UTC()
			args = append(args, r.ID)
		}
		_, err = tx.ExecContext(ctx, "UPDATE refunds SET next_attempt_at = ? WHERE id IN ("+placeholders(len(out))+")", args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRefund writes r's Ref, Status, Attempts, LastError, NextAttemptAt
// and UpdatedAt under the refund's lock, unless the stored refund has
// succeeded (final). eventKey, when not "", is recorded in the same
// transaction; when it was recorded before nothing changes and it returns
// ErrDuplicateEvent. It returns ErrNotFound for an unknown refund.
func (s *Store) UpdateRefund(ctx context.Context, r *boxoffice.Refund, eventKey string) error {
	return s.inTx(ctx, "update refund", nil, func(tx *sql.Tx) error {
		if err := recordEvent(ctx, tx, eventKey, time.Now()); err != nil {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM refunds WHERE id = ? FOR UPDATE", r.ID).Scan(&status); err != nil {
			return err
		}
		if boxoffice.RefundStatus(status) == boxoffice.RefundSucceeded {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE refunds SET ref = ?, status = ?, attempts = ?, last_error = ?,
			next_attempt_at = ?, updated_at = ? WHERE id = ?`,
			nullString(r.Ref), string(r.Status), r.Attempts, r.LastError, r.NextAttemptAt.UTC(), r.UpdatedAt.UTC(), r.ID)
		return err
	})
}

// Revenue returns an event's money, read in one snapshot: its orders'
// succeeded payments and their refunds that are not failed, per currency.
func (s *Store) Revenue(ctx context.Context, eventID string) (*boxoffice.Revenue, error) {
	var out *boxoffice.Revenue
	err := s.inTx(ctx, "revenue", &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM events WHERE id = ?", eventID).Scan(&one); err != nil {
			return err
		}
		out = &boxoffice.Revenue{EventID: eventID, Paid: map[string]int64{}, Refunded: map[string]int64{}}
		if err := sumByCurrency(ctx, tx, out.Paid, `SELECT p.currency, SUM(p.amount) FROM orders o
			JOIN payments p ON p.order_id = o.id WHERE o.event_id = ? AND p.status = ? GROUP BY p.currency`,
			eventID, string(boxoffice.PaymentSucceeded)); err != nil {
			return err
		}
		return sumByCurrency(ctx, tx, out.Refunded, `SELECT r.currency, SUM(r.amount) FROM orders o
			JOIN refunds r ON r.order_id = o.id WHERE o.event_id = ? AND r.status <> ? GROUP BY r.currency`,
			eventID, string(boxoffice.RefundFailed))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sumByCurrency adds the (currency, sum) rows of query to m.
func sumByCurrency(ctx context.Context, tx *sql.Tx, m map[string]int64, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var cur string
		var n int64
		if err := rows.Scan(&cur, &n); err != nil {
			return err
		}
		m[cur] += n
	}
	return rows.Err()
}
