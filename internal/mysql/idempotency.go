package mysql

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const idemCols = "user_id, idem_key, fingerprint, status, reservation_id, response, created_at"

// purgeBatch bounds the rows one DELETE of a purge removes, so the purge
// never holds many locks or a long undo log.
const purgeBatch = 5000

// idemArgsOf returns a record's column values. The outcome goes in
// response (boxoffice.Outcome's stored form) beside its reservation_id; the
// status column, which held the HTTP status of the recorded answer before
// outcomes were stored, is written 0.
func idemArgsOf(i *boxoffice.Idempotency) []any {
	resp, _ := i.Outcome.AppendText(make([]byte, 0, 32))
	return []any{i.UserID, i.Key, i.Fingerprint, 0, i.Outcome.ReservationID, resp, i.CreatedAt.UTC()}
}

// insertIdempotency inserts idem when it is not nil. A duplicate key (a
// concurrent request with the same key won) fails the transaction; inTx runs
// it again and then sees the winner's outcome.
func insertIdempotency(ctx context.Context, tx *sql.Tx, idem *boxoffice.Idempotency) error {
	if idem == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO idempotency ("+idemCols+") VALUES ("+placeholders(7)+")", idemArgsOf(idem)...)
	return err
}

// Idempotency returns the record for (userID, key), or ErrNotFound.
func (s *Store) Idempotency(ctx context.Context, userID, key string) (*boxoffice.Idempotency, error) {
	i := &boxoffice.Idempotency{}
	var status int
	var resp []byte
	err := s.db.QueryRowContext(ctx, "SELECT "+idemCols+" FROM idempotency WHERE user_id = ? AND idem_key = ?", userID, key).
		Scan(&i.UserID, &i.Key, &i.Fingerprint, &status, &i.Outcome.ReservationID, &resp, &i.CreatedAt)
	if err != nil {
		return nil, translate("idempotency", err)
	}
	_ = i.Outcome.UnmarshalText(resp) // never fails: unreadable is OutcomeUnknown
	return i, nil
}

// PurgeIdempotency deletes records created before before, in bounded
// batches, and returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	return s.deleteInBatches(ctx, "purge idempotency", "DELETE FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?", before.UTC())
}

// deleteInBatches runs stmt, a DELETE whose last parameter is its LIMIT,
// with args and purgeBatch until it deletes fewer than purgeBatch rows, and
// returns how many it deleted in all.
func (s *Store) deleteInBatches(ctx context.Context, what, stmt string, args ...any) (int, error) {
	total := 0
	args = append(args, purgeBatch)
	for {
		res, err := s.db.ExecContext(ctx, stmt, args...)
		if err != nil {
			return total, translate(what, err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}
