package boxoffice

import (
	"context"
	"log/slog"
	"time"
)

// Records that outlive their use (idempotency records, sent mail) are
// purged every purgeEvery, each purge bounded by purgeTimeout; what one
// purge leaves the next one takes.
const (
	purgeEvery   = 10 * time.Minute
	purgeTimeout = time.Minute
)

// purgeLoop deletes the records older than keep now and every purgeEvery
// until ctx is done: purge deletes those from before its argument and
// returns how many it deleted. what names the records in the log. It runs
// beside its owner's other work so that a long purge never delays it.
func purgeLoop(ctx context.Context, log *slog.Logger, now func() time.Time, what string, keep time.Duration,
	purge func(context.Context, time.Time) (int, error)) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, purgeTimeout)
		n, err := purge(pctx, normTime(now()).Add(-keep))
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("purging "+what, "err", err, "purged", n)
		case n > 0:
			log.Info("purged "+what, "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
