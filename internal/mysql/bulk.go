package mysql

import (
	"context"
	"database/sql"
	"errors"
	"math/bits"
	"sync"
)

// bulkRows is the most rows one prepared bulk statement writes; larger
// writes are split into power-of-two chunks (50 rows: 32 + 16 + 2).
const bulkRows = 128

// A bulkWrite is a multi-row statement of one shape, "head (?, …), (?, …)
// tail", that the hold path runs with many rows at once.
type bulkWrite struct {
	head string // up to and including VALUES
	cols int    // placeholders per row
	tail string // after the rows, e.g. ON DUPLICATE KEY UPDATE …
}

// The hold path's bulk writes.
var (
	bulkReservations = bulkWrite{head: "INSERT INTO reservations (" + reservationCols + ") VALUES ", cols: 15}
	bulkIdempotency  = bulkWrite{head: "INSERT INTO idempotency (" + idemCols + ") VALUES ", cols: 7}
	bulkUserTickets  = bulkWrite{head: "INSERT INTO user_event_tickets (user_id, event_id, tickets) VALUES ", cols: 3,
		tail: " ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets)"}
)

// bulkStmts holds server-side prepared statements for the bulk writes, one
// per power-of-two row count up to bulkRows. With client-side
// interpolation the server parses every value of every row as SQL text (a
// reservation's three timestamps, an idempotency record's response as an
// escaped string); prepared, the values travel in the binary protocol and
// a batch insert costs MariaDB about half the CPU.
//
// They are prepared outside any transaction, on first use, so a batch never
// waits for a second pool connection while holding one; database/sql then
// prepares each statement once on every connection that runs it.
type bulkStmts struct {
	mu    sync.Mutex
	stmts map[bulkWrite][]*sql.Stmt // by log2 of the row count
}

// prepare makes sure the statements of the given writes exist.
func (b *bulkStmts) prepare(ctx context.Context, db *sql.DB, writes ...bulkWrite) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stmts == nil {
		b.stmts = make(map[bulkWrite][]*sql.Stmt)
	}
	for _, w := range writes {
		if b.stmts[w] != nil {
			continue
		}
		var stmts []*sql.Stmt
		for n := 1; n <= bulkRows; n *= 2 {
			st, err := db.PrepareContext(ctx, w.head+rowsOf(n, w.cols)+w.tail)
			if err != nil {
				for _, st := range stmts {
					st.Close()
				}
				return err
			}
			stmts = append(stmts, st)
		}
		b.stmts[w] = stmts
	}
	return nil
}

// exec writes the rows (len(args)/w.cols of them, args flattened row after
// row) in tx, in order, with as few prepared statements as their count's
// binary digits.
func (b *bulkStmts) exec(ctx context.Context, tx *sql.Tx, w bulkWrite, args []any) error {
	b.mu.Lock()
	stmts := b.stmts[w]
	b.mu.Unlock()
	if stmts == nil {
		return errors.New("bulk statement used before it was prepared")
	}
	rows := len(args) / w.cols
	for rows > 0 {
		n := min(1<<(bits.Len(uint(rows))-1), bulkRows)
		st := tx.StmtContext(ctx, stmts[bits.TrailingZeros(uint(n))])
		if _, err := st.ExecContext(ctx, args[:n*w.cols]...); err != nil {
			return err
		}
		args = args[n*w.cols:]
		rows -= n
	}
	return nil
}

// close releases the statements.
func (b *bulkStmts) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, stmts := range b.stmts {
		for _, st := range stmts {
			st.Close()
		}
	}
	b.stmts = nil
}
