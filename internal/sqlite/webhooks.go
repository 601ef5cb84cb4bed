package sqlite

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

func scanEndpoint(row interface{ Scan(...any) error }) (*boxoffice.WebhookEndpoint, error) {
	var ep boxoffice.WebhookEndpoint
	var events string
	var failing sql.NullInt64
	var created, updated int64
	if err := row.Scan(&ep.ID, &ep.OrganizerID, &ep.URL, &events, &ep.Secret, &ep.Enabled, &ep.Failures, &failing,
		&ep.DisabledReason, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &ep.Events); err != nil {
		return nil, err
	}
	ep.FailingSince, ep.CreatedAt, ep.UpdatedAt = fromNullUS(failing), fromUS(created), fromUS(updated)
	return &ep, nil
}

func eventsJSON(ts []boxoffice.HookType) string {
	if ts == nil {
		ts = []boxoffice.HookType{}
	}
	b, _ := json.Marshal(ts)
	return string(b)
}

// CreateWebhookEndpoint inserts ep.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, ep *boxoffice.WebhookEndpoint) error {
	return s.inTx(ctx, "create webhook endpoint", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO webhook_endpoints ("+endpointCols+") VALUES ("+placeholders(11)+")",
			ep.ID, ep.OrganizerID, ep.URL, eventsJSON(ep.Events), ep.Secret, ep.Enabled, ep.Failures,
			nullUS(ep.FailingSince), ep.DisabledReason, us(ep.CreatedAt), us(ep.UpdatedAt))
		return err
	})
}

// WebhookEndpoint returns an endpoint, or boxoffice.ErrNotFound.
func (s *Store) WebhookEndpoint(ctx context.Context, id string) (*boxoffice.WebhookEndpoint, error) {
	ep, err := scanEndpoint(s.r.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ?", id))
	return ep, wrap("webhook endpoint", err)
}

// WebhookEndpoints returns an organizer's endpoints ordered by ID.
func (s *Store) WebhookEndpoints(ctx context.Context, organizerID string) ([]*boxoffice.WebhookEndpoint, error) {
	var out []*boxoffice.WebhookEndpoint
	err := queryEach(ctx, s.r, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE organizer_id = ? ORDER BY id",
		[]any{organizerID}, func(rows *sql.Rows) error {
			ep, err := scanEndpoint(rows)
			if err == nil {
				out = append(out, ep)
			}
			return err
		})
	return out, wrap("webhook endpoints", err)
}

// writeEndpoint writes ep's changeable fields and pauses or resumes its
// deliveries when its enabled state changed from was.
func writeEndpoint(ctx context.Context, tx *sql.Tx, ep *boxoffice.WebhookEndpoint, was bool) error {
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, enabled = ?, failures = ?,
		failing_since = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
		ep.URL, eventsJSON(ep.Events), ep.Enabled, ep.Failures, nullUS(ep.FailingSince), ep.DisabledReason,
		us(ep.UpdatedAt), ep.ID); err != nil {
		return err
	}
	switch {
	case was && !ep.Enabled:
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = NULL
			WHERE endpoint_id = ? AND status IN ('pending', 'failed')`, ep.ID)
		return err
	case !was && ep.Enabled:
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ?
			WHERE endpoint_id = ? AND status IN ('pending', 'failed') AND next_attempt_at IS NULL`, us(ep.UpdatedAt), ep.ID)
		return err
	}
	return nil
}

// UpdateWebhookEndpoint changes an endpoint under the write lock.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, apply func(*boxoffice.WebhookEndpoint) error) (*boxoffice.WebhookEndpoint, error) {
	var out *boxoffice.WebhookEndpoint
	err := s.inTx(ctx, "update webhook endpoint", func(tx *sql.Tx) error {
		ep, err := scanEndpoint(tx.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ?", id))
		if err != nil {
			return err
		}
		was := ep.Enabled
		if err := apply(ep); err != nil {
			return err
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
	return s.inTx(ctx, "delete webhook endpoint", func(tx *sql.Tx) error {
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

// insertWebhookMessages writes msgs to the webhook outbox, keeping a
// message whose ID is on record.
func insertWebhookMessages(ctx context.Context, tx *sql.Tx, msgs []*boxoffice.WebhookMessage) error {
	const cols = 5
	for chunk := range chunks(msgs, maxRowsPerInsert) {
		args := make([]any, 0, len(chunk)*cols)
		for _, m := range chunk {
			args = append(args, m.ID, m.OrganizerID, string(m.Type), string(m.Body), us(m.CreatedAt))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_messages (id, organizer_id, type, body, created_at) VALUES "+
			rowsOf(len(chunk), cols)+" ON CONFLICT (id) DO NOTHING", args...); err != nil {
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
	return s.inTx(ctx, "insert webhook messages", func(tx *sql.Tx) error { return insertWebhookMessages(ctx, tx, msgs) })
}

const deliveryCols = `id, endpoint_id, message_id, organizer_id, type, status, attempts, response_status, error,
	duration_us, last_attempt_at, next_attempt_at, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (*boxoffice.WebhookDelivery, error) {
	var d boxoffice.WebhookDelivery
	var dur, created, updated int64
	var last, next sql.NullInt64
	if err := row.Scan(&d.ID, &d.EndpointID, &d.MessageID, &d.OrganizerID, &d.Type, &d.Status, &d.Attempts,
		&d.ResponseStatus, &d.Error, &dur, &last, &next, &created, &updated); err != nil {
		return nil, err
	}
	d.Duration = time.Duration(dur) * time.Microsecond
	d.LastAttemptAt, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromNullUS(last), fromNullUS(next), fromUS(created), fromUS(updated)
	return &d, nil
}

// FanOutWebhooks makes the deliveries of up to limit messages.
func (s *Store) FanOutWebhooks(ctx context.Context, limit int,
	plan func([]*boxoffice.WebhookMessage, []*boxoffice.WebhookEndpoint) []*boxoffice.WebhookDelivery) (int, error) {
	n := 0
	err := s.inTx(ctx, "fan out webhooks", func(tx *sql.Tx) error {
		var msgs []*boxoffice.WebhookMessage
		orgs := map[string]bool{}
		err := queryEach(ctx, tx, `SELECT id, organizer_id, type, body, created_at FROM webhook_messages
			WHERE fanned_out = 0 ORDER BY created_at LIMIT ?`, []any{limitOf(limit)}, func(rows *sql.Rows) error {
			var m boxoffice.WebhookMessage
			var body string
			var created int64
			if err := rows.Scan(&m.ID, &m.OrganizerID, &m.Type, &body, &created); err != nil {
				return err
			}
			m.Body, m.CreatedAt = []byte(body), fromUS(created)
			msgs = append(msgs, &m)
			orgs[m.OrganizerID] = true
			return nil
		})
		if err != nil || len(msgs) == 0 {
			return err
		}
		var eps []*boxoffice.WebhookEndpoint
		for org := range orgs {
			err := queryEach(ctx, tx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE organizer_id = ? AND enabled = 1",
				[]any{org}, func(rows *sql.Rows) error {
					ep, err := scanEndpoint(rows)
					if err == nil {
						eps = append(eps, ep)
					}
					return err
				})
			if err != nil {
				return err
			}
		}
		ds := plan(msgs, eps)
		const cols = 14
		for chunk := range chunks(ds, maxRowsPerInsert/2) {
			args := make([]any, 0, len(chunk)*cols)
			for _, d := range chunk {
				args = appendDeliveryArgs(args, d)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_deliveries ("+deliveryCols+") VALUES "+
				rowsOf(len(chunk), cols), args...); err != nil {
				return err
			}
		}
		for chunk := range chunks(msgs, maxRowsPerInsert) {
			args := make([]any, len(chunk))
			for i, m := range chunk {
				args[i] = m.ID
			}
			if _, err := tx.ExecContext(ctx, "UPDATE webhook_messages SET fanned_out = 1 WHERE id IN ("+
				placeholders(len(chunk))+")", args...); err != nil {
				return err
			}
		}
		n = len(msgs)
		return nil
	})
	return n, err
}

func appendDeliveryArgs(args []any, d *boxoffice.WebhookDelivery) []any {
	return append(args, d.ID, d.EndpointID, d.MessageID, d.OrganizerID, string(d.Type), string(d.Status), d.Attempts,
		d.ResponseStatus, d.Error, d.Duration.Microseconds(), nullUS(d.LastAttemptAt), nullUS(d.NextAttemptAt),
		us(d.CreatedAt), us(d.UpdatedAt))
}

// ClaimWebhookDeliveries claims up to limit due deliveries under the write
// lock, so that concurrent deliverers take different ones.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*boxoffice.WebhookJob, error) {
	var out []*boxoffice.WebhookJob
	err := s.inTx(ctx, "claim webhook deliveries", func(tx *sql.Tx) error {
		out = out[:0]
		var ids []any
		err := queryEach(ctx, tx, "SELECT "+deliveryCols+` FROM webhook_deliveries INDEXED BY webhook_deliveries_due
			WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`, []any{us(now), limitOf(limit)},
			func(rows *sql.Rows) error {
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
			placeholders(len(ids))+")", append([]any{us(leaseUntil)}, ids...)...); err != nil {
			return err
		}
		eps := map[string]*boxoffice.WebhookEndpoint{}
		msgs := map[string]*boxoffice.WebhookMessage{}
		for _, j := range out {
			lease := leaseUntil.UTC()
			j.Delivery.NextAttemptAt = &lease
			if eps[j.Delivery.EndpointID] == nil {
				ep, err := scanEndpoint(tx.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ?",
					j.Delivery.EndpointID))
				if err != nil {
					return err
				}
				eps[ep.ID] = ep
			}
			if msgs[j.Delivery.MessageID] == nil {
				var m boxoffice.WebhookMessage
				var body string
				var created int64
				if err := tx.QueryRowContext(ctx, "SELECT id, organizer_id, type, body, created_at FROM webhook_messages WHERE id = ?",
					j.Delivery.MessageID).Scan(&m.ID, &m.OrganizerID, &m.Type, &body, &created); err != nil {
					return err
				}
				m.Body, m.CreatedAt = []byte(body), fromUS(created)
				msgs[m.ID] = &m
			}
			j.Endpoint, j.Message = eps[j.Delivery.EndpointID], msgs[j.Delivery.MessageID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordWebhookAttempts writes the attempts of ds and their endpoints'
// failure counts in one transaction.
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
	return s.inTx(ctx, "record webhook attempts", func(tx *sql.Tx) error {
		upd, err := tx.PrepareContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, response_status = ?,
			error = ?, duration_us = ?, last_attempt_at = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for _, id := range ids {
			mine := byEndpoint[id]
			ep, err := scanEndpoint(tx.QueryRowContext(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ?", id))
			if err == sql.ErrNoRows {
				continue // deleted, with its deliveries
			}
			if err != nil {
				return err
			}
			was := ep.Enabled
			apply(ep, mine)
			for _, d := range mine {
				if _, err := upd.ExecContext(ctx, string(d.Status), d.Attempts, d.ResponseStatus, d.Error,
					d.Duration.Microseconds(), nullUS(d.LastAttemptAt), nullUS(d.NextAttemptAt), us(d.UpdatedAt), d.ID); err != nil {
					return err
				}
			}
			if err := writeEndpoint(ctx, tx, ep, was); err != nil {
				return err
			}
		}
		return nil
	})
}

// WebhookDelivery returns a delivery, or boxoffice.ErrNotFound.
func (s *Store) WebhookDelivery(ctx context.Context, id string) (*boxoffice.WebhookDelivery, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = ?", id))
	return d, wrap("webhook delivery", err)
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
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limitOf(f.Limit))
	var out []*boxoffice.WebhookDelivery
	err := queryEach(ctx, s.r, q, args, func(rows *sql.Rows) error {
		d, err := scanDelivery(rows)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	return out, wrap("webhook deliveries", err)
}

// UpdateWebhookDelivery changes a delivery under the write lock.
func (s *Store) UpdateWebhookDelivery(ctx context.Context, id string, apply func(*boxoffice.WebhookDelivery) error) (*boxoffice.WebhookDelivery, error) {
	var out *boxoffice.WebhookDelivery
	err := s.inTx(ctx, "update webhook delivery", func(tx *sql.Tx) error {
		d, err := scanDelivery(tx.QueryRowContext(ctx, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = ?", id))
		if err != nil {
			return err
		}
		if err := apply(d); err != nil {
			return err
		}
		out = d
		_, err = tx.ExecContext(ctx, "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
			string(d.Status), d.Attempts, nullUS(d.NextAttemptAt), us(d.UpdatedAt), d.ID)
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
	n, err := s.deleteInBatches(ctx, "purge webhook deliveries", `DELETE FROM webhook_deliveries WHERE id IN
		(SELECT id FROM webhook_deliveries WHERE next_attempt_at IS NULL AND status IN ('succeeded', 'given_up')
		AND updated_at < ? LIMIT ?)`, us(before))
	if err != nil {
		return n, err
	}
	m, err := s.deleteInBatches(ctx, "purge webhook messages", `DELETE FROM webhook_messages WHERE id IN
		(SELECT m.id FROM webhook_messages m WHERE m.fanned_out = 1 AND m.created_at < ? AND NOT EXISTS
		(SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id) LIMIT ?)`, us(before))
	return n + m, err
}
