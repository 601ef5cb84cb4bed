package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"boxoffice"
)

const endpointCols = "id, organizer_id, url, events, secret, enabled, failures, failing_since, disabled_reason, created_at, updated_at"

func scanEndpoint(row scanner) (*boxoffice.WebhookEndpoint, error) {
	var ep boxoffice.WebhookEndpoint
	var events string
	var failing sql.NullTime
	if err := row.Scan(&ep.ID, &ep.OrganizerID, &ep.URL, &events, &ep.Secret, &ep.Enabled, &ep.Failures, &failing,
		&ep.DisabledReason, &ep.CreatedAt, &ep.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &ep.Events); err != nil {
		return nil, err
	}
	ep.FailingSince = fromNullTime(failing)
	return &ep, nil
}

func fromNullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.UTC()
	return &v
}

func eventsJSON(ts []boxoffice.HookType) string {
	if ts == nil {
		ts = []boxoffice.HookType{}
	}
	b, _ := json.Marshal(ts)
	return string(b)
}

// queryAll runs query and calls fn for each row.
func queryAll(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
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

func endpoints(ctx context.Context, q querier, query string, args ...any) ([]*boxoffice.WebhookEndpoint, error) {
	var out []*boxoffice.WebhookEndpoint
	err := queryAll(ctx, q, query, args, func(rows *sql.Rows) error {
		ep, err := scanEndpoint(rows)
		if err == nil {
			out = append(out, ep)
		}
		return err
	})
	return out, err
}

// CreateWebhookEndpoint inserts ep.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, ep *boxoffice.WebhookEndpoint) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO webhook_endpoints ("+endpointCols+") VALUES ("+placeholders(11)+")",
		ep.ID, ep.OrganizerID, ep.URL, eventsJSON(ep.Events), ep.Secret, ep.Enabled, ep.Failures,
		nullTime(ep.FailingSince), ep.DisabledReason, ep.CreatedAt.UTC(), ep.UpdatedAt.UTC())
	return translate("create webhook endpoint", err)
}

// WebhookEndpoint returns an endpoint, or boxoffice.ErrNotFound.
func (s *Store) WebhookEndpoint(ctx context.Context, id string) (*boxoffice.WebhookEndpoint, error) {
	ep, err := scanEndpoint(s.db.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ?", id))
	return ep, translate("webhook endpoint", err)
}

// WebhookEndpoints returns an organizer's endpoints ordered by ID.
func (s *Store) WebhookEndpoints(ctx context.Context, organizerID string) ([]*boxoffice.WebhookEndpoint, error) {
	out, err := endpoints(ctx, s.db, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE organizer_id = ? ORDER BY id", organizerID)
	return out, translate("webhook endpoints", err)
}

// writeEndpoint writes ep's changeable fields and pauses or resumes its
// deliveries when its enabled state changed from was.
func writeEndpoint(ctx context.Context, tx *sql.Tx, ep *boxoffice.WebhookEndpoint, was bool) error {
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, enabled = ?, failures = ?,
		failing_since = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
		ep.URL, eventsJSON(ep.Events), ep.Enabled, ep.Failures, nullTime(ep.FailingSince), ep.DisabledReason,
		ep.UpdatedAt.UTC(), ep.ID); err != nil {
		return err
	}
	switch {
	case was && !ep.Enabled:
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = NULL
			WHERE endpoint_id = ? AND status IN ('pending', 'failed')`, ep.ID)
		return err
	case !was && ep.Enabled:
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?
			WHERE endpoint_id = ? AND status IN ('pending', 'failed') AND next_attempt_at IS NULL`, ep.UpdatedAt.UTC(), ep.ID)
		return err
	}
	return nil
}

// UpdateWebhookEndpoint changes an endpoint under its row lock.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, apply func(*boxoffice.WebhookEndpoint) error) (*boxoffice.WebhookEndpoint, error) {
	var out *boxoffice.WebhookEndpoint
	err := s.inTx(ctx, "update webhook endpoint", nil, func(tx *sql.Tx) error {
		ep, err := scanEndpoint(tx.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		was := ep.Enabled
		if err := apply(ep); err != nil {
			return callerError{err}
		}
		out = ep
		return writeEndpoint(ctx, tx, ep, was)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebhookEndpoint deletes an endpoint with its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return s.inTx(ctx, "delete webhook endpoint", nil, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_endpoints WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return boxoffice.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE endpoint_id = ?", id)
		return err
	})
}

// maxMessagesPerInsert bounds the rows of one INSERT of messages.
const maxMessagesPerInsert = 500

// insertWebhookMessages writes msgs to the webhook outbox in one statement
// per 500, keeping a message whose ID is on record.
func insertWebhookMessages(ctx context.Context, tx *sql.Tx, msgs []*boxoffice.WebhookMessage) error {
	const cols = 5
	for len(msgs) > 0 {
		chunk := msgs[:min(len(msgs), maxMessagesPerInsert)]
		msgs = msgs[len(chunk):]
		args := make([]any, 0, len(chunk)*cols)
		for _, m := range chunk {
			args = append(args, m.ID, m.OrganizerID, string(m.Type), m.Body, m.CreatedAt.UTC())
		}
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO webhook_messages (id, organizer_id, type, body, created_at) VALUES "+
			rowsOf(len(chunk), cols), args...); err != nil {
			return err
		}
	}
	return nil
}

// InsertWebhookMessages writes msgs to the webhook outbox.
func (s *Store) InsertWebhookMessages(ctx context.Context, msgs []*boxoffice.WebhookMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.inTx(ctx, "insert webhook messages", nil, func(tx *sql.Tx) error { return insertWebhookMessages(ctx, tx, msgs) })
}

const deliveryCols = `id, endpoint_id, message_id, organizer_id, type, status, attempts, response_status, error,
	duration_us, last_attempt_at, next_attempt_at, created_at, updated_at`

func scanDelivery(row scanner) (*boxoffice.WebhookDelivery, error) {
	var d boxoffice.WebhookDelivery
	var dur int64
	var last, next sql.NullTime
	if err := row.Scan(&d.ID, &d.EndpointID, &d.MessageID, &d.OrganizerID, &d.Type, &d.Status, &d.Attempts,
		&d.ResponseStatus, &d.Error, &dur, &last, &next, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	d.Duration = time.Duration(dur) * time.Microsecond
	d.LastAttemptAt, d.NextAttemptAt = fromNullTime(last), fromNullTime(next)
	return &d, nil
}

func appendDeliveryArgs(args []any, d *boxoffice.WebhookDelivery) []any {
	return append(args, d.ID, d.EndpointID, d.MessageID, d.OrganizerID, string(d.Type), string(d.Status), d.Attempts,
		d.ResponseStatus, d.Error, d.Duration.Microseconds(), nullTime(d.LastAttemptAt), nullTime(d.NextAttemptAt),
		d.CreatedAt.UTC(), d.UpdatedAt.UTC())
}

func scanMessage(row scanner) (*boxoffice.WebhookMessage, error) {
	var m boxoffice.WebhookMessage
	if err := row.Scan(&m.ID, &m.OrganizerID, &m.Type, &m.Body, &m.CreatedAt); err != nil {
		return nil, err
	}
	return &m, nil
}

// FanOutWebhooks makes the deliveries of up to limit messages: the
// messages are locked with SKIP LOCKED, so concurrent deliverers fan out
// different ones.
func (s *Store) FanOutWebhooks(ctx context.Context, limit int,
	plan func([]*boxoffice.WebhookMessage, []*boxoffice.WebhookEndpoint) []*boxoffice.WebhookDelivery) (int, error) {
	n := 0
	err := s.inTx(ctx, "fan out webhooks", nil, func(tx *sql.Tx) error {
		n = 0
		var msgs []*boxoffice.WebhookMessage
		var ids []any
		orgs := map[string]bool{}
		err := queryAll(ctx, tx, `SELECT id, organizer_id, type, body, created_at FROM webhook_messages
			WHERE fanned_out = FALSE ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED`, []any{max(limit, 1)},
			func(rows *sql.Rows) error {
				m, err := scanMessage(rows)
				if err != nil {
					return err
				}
				msgs, ids = append(msgs, m), append(ids, m.ID)
				orgs[m.OrganizerID] = true
				return nil
			})
		if err != nil || len(msgs) == 0 {
			return err
		}
		orgArgs := make([]any, 0, len(orgs))
		for _, o := range slices.Sorted(maps.Keys(orgs)) {
			orgArgs = append(orgArgs, o)
		}
		eps, err := endpoints(ctx, tx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE organizer_id IN ("+
			placeholders(len(orgArgs))+") AND enabled", orgArgs...)
		if err != nil {
			return err
		}
		ds := plan(msgs, eps)
		const cols = 14
		for len(ds) > 0 {
			chunk := ds[:min(len(ds), 500)]
			ds = ds[len(chunk):]
			args := make([]any, 0, len(chunk)*cols)
			for _, d := range chunk {
				args = appendDeliveryArgs(args, d)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+deliveryCols+") VALUES "+
				rowsOf(len(chunk), cols), args...); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_messages SET fanned_out = TRUE WHERE id IN ("+
			placeholders(len(ids))+")", ids...); err != nil {
			return err
		}
		n = len(msgs)
		return nil
	})
	return n, err
}

// ClaimWebhookDeliveries claims up to limit due deliveries: it locks them
// with SKIP LOCKED, so that concurrent deliverers take different ones
// without waiting for each other, and moves their next attempt to
// leaseUntil. Their endpoints and messages are read without locks.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.WebhookJob, error) {
	var out []*boxoffice.WebhookJob
	err := s.inTx(ctx, "claim webhook deliveries", nil, func(tx *sql.Tx) error {
		out = out[:0]
		var ids []any
		err := queryAll(ctx, tx, "SELECT "+deliveryCols+` FROM webhook_deliveries FORCE INDEX (webhook_deliveries_due)
			WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED`,
			[]any{now.UTC(), max(limit, 1)}, func(rows *sql.Rows) error {
				d, err := scanDelivery(rows)
				if err != nil {
					return err
				}
				out = append(out, &boxoffice.WebhookJob{Delivery: d})
				ids = append(ids, d.ID)
				return nil
			})
		if err != nil || len(out) == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id IN ("+
			placeholders(len(ids))+")", append([]any{leaseUntil.UTC()}, ids...)...); err != nil {
			return err
		}
		epIDs, msgIDs := map[string]bool{}, map[string]bool{}
		for _, j := range out {
			lease := leaseUntil.UTC()
			j.Delivery.NextAttemptAt = &lease
			epIDs[j.Delivery.EndpointID], msgIDs[j.Delivery.MessageID] = true, true
		}
		eps := map[string]*boxoffice.WebhookEndpoint{}
		args := keyArgs(epIDs)
		list, err := endpoints(ctx, tx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id IN ("+placeholders(len(args))+")", args...)
		if err != nil {
			return err
		}
		for _, ep := range list {
			eps[ep.ID] = ep
		}
		msgs := map[string]*boxoffice.WebhookMessage{}
		args = keyArgs(msgIDs)
		err = queryAll(ctx, tx, "SELECT id, organizer_id, type, body, created_at FROM webhook_messages WHERE id IN ("+
			placeholders(len(args))+")", args, func(rows *sql.Rows) error {
			m, err := scanMessage(rows)
			if err == nil {
				msgs[m.ID] = m
			}
			return err
		})
		if err != nil {
			return err
		}
		kept := out[:0]
		for _, j := range out {
			j.Endpoint, j.Message = eps[j.Delivery.EndpointID], msgs[j.Delivery.MessageID]
			if j.Endpoint != nil && j.Message != nil {
				kept = append(kept, j)
			}
		}
		out = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func keyArgs(m map[string]bool) []any {
	out := make([]any, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k)
	}
	return out
}

// RecordWebhookAttempts writes the attempts of ds and their endpoints'
// failure counts in one transaction: the endpoints are locked in ID order,
// the deliveries written in one statement.
func (s *Store) RecordWebhookAttempts(ctx context.Context, ds []*boxoffice.WebhookDelivery,
	apply func(*boxoffice.WebhookEndpoint, []*boxoffice.WebhookDelivery)) error {
	if len(ds) == 0 {
		return nil
	}
	byEndpoint := map[string][]*boxoffice.WebhookDelivery{}
	for _, d := range ds {
		byEndpoint[d.EndpointID] = append(byEndpoint[d.EndpointID], d)
	}
	ids := slices.Sorted(maps.Keys(byEndpoint))
	return s.inTx(ctx, "record webhook attempts", nil, func(tx *sql.Tx) error {
		args := make([]any, 0, len(ids))
		for _, id := range ids {
			args = append(args, id)
		}
		eps, err := endpoints(ctx, tx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id IN ("+
			placeholders(len(args))+") ORDER BY id FOR UPDATE", args...)
		if err != nil {
			return err
		}
		var write []*boxoffice.WebhookDelivery
		for _, ep := range eps {
			mine := byEndpoint[ep.ID]
			was := ep.Enabled
			apply(ep, mine)
			write = append(write, mine...)
			if err := writeEndpoint(ctx, tx, ep, was); err != nil {
				return err
			}
		}
		// One upsert for the batch; a delivery deleted meanwhile (its
		// endpoint was deleted, and is not among eps) is not written.
		const cols = 14
		for len(write) > 0 {
			chunk := write[:min(len(write), 500)]
			write = write[len(chunk):]
			args := make([]any, 0, len(chunk)*cols)
			for _, d := range chunk {
				args = appendDeliveryArgs(args, d)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+deliveryCols+") VALUES "+rowsOf(len(chunk), cols)+
				` ON DUPLICATE KEY UPDATE status = VALUES(status), attempts = VALUES(attempts),
				response_status = VALUES(response_status), error = VALUES(error), duration_us = VALUES(duration_us),
				last_attempt_at = VALUES(last_attempt_at), next_attempt_at = VALUES(next_attempt_at),
				updated_at = VALUES(updated_at)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// WebhookDelivery returns a delivery, or boxoffice.ErrNotFound.
func (s *Store) WebhookDelivery(ctx context.Context, id string) (*boxoffice.WebhookDelivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = ?", id))
	return d, translate("webhook delivery", err)
}

// WebhookDeliveries returns a page of an endpoint's deliveries, newest
// first.
func (s *Store) WebhookDeliveries(ctx context.Context, f boxoffice.DeliveryFilter) ([]*boxoffice.WebhookDelivery, error) {
	q := "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE endpoint_id = ?"
	args := []any{f.EndpointID}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.BeforeID != "" {
		q += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = boxoffice.DefaultLimit
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	var out []*boxoffice.WebhookDelivery
	err := queryAll(ctx, s.db, q, args, func(rows *sql.Rows) error {
		d, err := scanDelivery(rows)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	return out, translate("webhook deliveries", err)
}

// UpdateWebhookDelivery changes a delivery under its row lock.
func (s *Store) UpdateWebhookDelivery(ctx context.Context, id string, apply func(*boxoffice.WebhookDelivery) error) (*boxoffice.WebhookDelivery, error) {
	var out *boxoffice.WebhookDelivery
	err := s.inTx(ctx, "update webhook delivery", nil, func(tx *sql.Tx) error {
		d, err := scanDelivery(tx.QueryRowContext(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		if err := apply(d); err != nil {
			return callerError{err}
		}
		out = d
		_, err = tx.ExecContext(ctx, "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
			string(d.Status), d.Attempts, nullTime(d.NextAttemptAt), d.UpdatedAt.UTC(), d.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurgeWebhooks deletes finished deliveries, then the messages no
// delivery refers to, changed or created before before.
func (s *Store) PurgeWebhooks(ctx context.Context, before time.Time) (int, error) {
	n, err := s.deleteInBatches(ctx, "purge webhook deliveries", `DELETE FROM webhook_deliveries
		WHERE next_attempt_at IS NULL AND status IN ('succeeded', 'given_up') AND updated_at < ? LIMIT ?`, before.UTC())
	if err != nil {
		return n, err
	}
	m, err := s.deleteInBatches(ctx, "purge webhook messages", `DELETE FROM webhook_messages
		WHERE fanned_out AND created_at < ? AND NOT EXISTS
		(SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id) LIMIT ?`, before.UTC())
	return n + m, err
}
