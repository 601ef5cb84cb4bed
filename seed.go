package boxoffice

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// SeedSpec describes the load-test data set: many users sharing one password
// hash, many filler events, and one hot event for the on-sale.
type SeedSpec struct {
	// Users is the number of users to create. User i (0-based) has ID
	// SeedUserID(i), email SeedUserEmail(i), name "Seed User i", role user
	// and PasswordHash.
	Users        int
	PasswordHash []byte
	// Events is the number of filler events, each with one tier. Their IDs
	// are made by NewID; their starts_at values spread over several years
	// around Now so lists, cursors and time filters have realistic work.
	Events int
	// HotEvent, when not nil, is inserted as is (IDs already assigned).
	HotEvent *Event
	Now      time.Time
}

// Seeder bulk-loads a SeedSpec far faster than one insert per row (multi-row
// inserts, secondary indexes built after the load where that helps). Stores
// that support it implement it; progress, when not nil, is called now and
// then with the stage ("users", "events", "indexes") and counts.
type Seeder interface {
	Seed(ctx context.Context, spec SeedSpec, progress func(stage string, done, total int)) error
	// HasData reports whether the store holds any event and any user, so
	// that a seed can refuse to add its data set to a database in use. It
	// stays cheap on tens of millions of rows.
	HasData(ctx context.Context) (events, users bool, err error)
}

// SeedUserID returns the deterministic ID of seeded user i, so load
// generators can mint tokens for seeded users without asking the server.
func SeedUserID(i int) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], 1<<16) // millisecond 1: before any real ID
	binary.BigEndian.PutUint64(raw[8:16], uint64(i))
	return encodeID(raw)
}

// SeedUserEmail returns the email of seeded user i.
func SeedUserEmail(i int) string { return fmt.Sprintf("user%d@seed.boxoffice.test", i) }
