package mysql

import (
	"context"
	"database/sql"
	"time"

	"boxoffice"
)

const idemCols = "user_id, idem_key, fingerprint, status, reservation_id, response, created_at"

// purgeBatch bounds the rows one DELETE of PurgeIdempotency removes, so the
// purge never holds many locks or a long undo log.
const purgeBatch = 5000

func idemArgsOf(i *boxoffice.Idempotency) []any {
	resp := i.Response
	if resp == nil {
		resp = []byte{}
	}
	return []any{i.UserID, i.Key, i.Fingerprint, i.Status, i.ReservationID, resp, i.CreatedAt.UTC()}
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
	err := s.db.QueryRowContext(ctx, "SELECT "+idemCols+" FROM idempotency WHERE user_id = ? AND idem_key = ?", userID, key).
		Scan(&i.UserID, &i.Key, &i.Fingerprint, &i.Status, &i.ReservationID, &i.Response, &i.CreatedAt)
	if err != nil {
		return nil, translate("idempotency", err)
	}
	if i.Response == nil {
		i.Response = []byte{}
	}
	return i, nil
}

// PurgeIdempotency deletes records created before before, in bounded
// batches, and returns how many it deleted.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		res, err := s.db.ExecContext(ctx, "DELETE FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?", before.UTC(), purgeBatch)
		if err != nil {
			return total, translate("purge idempotency", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}
