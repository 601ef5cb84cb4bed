package sqlite

import (
	"context"
	"database/sql"

	"boxoffice"
)

const auditCols = "id, organizer_id, actor, action, subject_type, subject_id, detail, addr, at"

// InsertAudit appends an entry to its organizer's audit log.
func (s *Store) InsertAudit(ctx context.Context, e *boxoffice.AuditEntry) error {
	return s.inTx(ctx, "insert audit entry", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO audit_log ("+auditCols+") VALUES ("+placeholders(9)+")",
			e.ID, e.OrganizerID, e.Actor, e.Action, e.SubjectType, e.SubjectID, string(e.Detail), e.Addr, us(e.At))
		return err
	})
}

// AuditLog returns a page of an organizer's audit log, newest first.
func (s *Store) AuditLog(ctx context.Context, f boxoffice.AuditFilter) ([]*boxoffice.AuditEntry, error) {
	q := "SELECT " + auditCols + " FROM audit_log WHERE organizer_id = ?"
	args := []any{f.OrganizerID}
	if f.BeforeID != "" {
		q += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limitOf(f.Limit))
	var out []*boxoffice.AuditEntry
	err := queryEach(ctx, s.r, q, args, func(rows *sql.Rows) error {
		var e boxoffice.AuditEntry
		var detail string
		var at int64
		if err := rows.Scan(&e.ID, &e.OrganizerID, &e.Actor, &e.Action, &e.SubjectType, &e.SubjectID, &detail, &e.Addr, &at); err != nil {
			return err
		}
		e.Detail, e.At = []byte(detail), fromUS(at)
		out = append(out, &e)
		return nil
	})
	return out, wrap("audit log", err)
}

// CancelledEventOrders returns the IDs of the open orders of cancelled
// events.
func (s *Store) CancelledEventOrders(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := queryEach(ctx, s.r, `SELECT o.id FROM events e JOIN orders o ON o.event_id = e.id
		WHERE e.status = 'cancelled' AND o.status IN ('paid', 'partially_refunded', 'pending')
		ORDER BY o.id LIMIT ?`, []any{limitOf(limit)}, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, wrap("cancelled event orders", err)
}
