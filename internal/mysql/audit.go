package mysql

import (
	"context"
	"database/sql"

	"boxoffice"
)

const auditCols = "id, organizer_id, actor, action, subject_type, subject_id, detail, addr, at"

// InsertAudit appends an entry to its organizer's audit log.
func (s *Store) InsertAudit(ctx context.Context, e *boxoffice.AuditEntry) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO audit_log ("+auditCols+") VALUES ("+placeholders(9)+")",
		e.ID, e.OrganizerID, e.Actor, e.Action, e.SubjectType, e.SubjectID, string(e.Detail), e.Addr, e.At.UTC())
	return translate("insert audit entry", err)
}

// AuditLog returns a page of an organizer's audit log, newest first.
func (s *Store) AuditLog(ctx context.Context, f boxoffice.AuditFilter) ([]*boxoffice.AuditEntry, error) {
	q := "SELECT " + auditCols + " FROM audit_log WHERE organizer_id = ?"
	args := []any{f.OrganizerID}
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
	var out []*boxoffice.AuditEntry
	err := queryAll(ctx, s.db, q, args, func(rows *sql.Rows) error {
		var e boxoffice.AuditEntry
		var detail string
		if err := rows.Scan(&e.ID, &e.OrganizerID, &e.Actor, &e.Action, &e.SubjectType, &e.SubjectID, &detail, &e.Addr, &e.At); err != nil {
			return err
		}
		e.Detail, e.At = []byte(detail), e.At.UTC()
		out = append(out, &e)
		return nil
	})
	return out, translate("audit log", err)
}

// CancelledEventOrders returns the IDs of the open orders of cancelled
// events.
func (s *Store) CancelledEventOrders(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := queryAll(ctx, s.db, `SELECT o.id FROM events e JOIN orders o ON o.event_id = e.id
		WHERE e.status = 'cancelled' AND o.status IN ('paid', 'partially_refunded', 'pending')
		ORDER BY o.id LIMIT ?`, []any{limit}, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, translate("cancelled event orders", err)
}
