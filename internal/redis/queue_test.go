package redis

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/queuetest"
)

// testQueue returns a Queue on c under a prefix of its own; its keys are
// deleted when t ends.
func testQueue(t *testing.T, c *Client) *Queue {
	t.Helper()
	q := NewQueue(c, "bo:qtest:"+rand.Text()+":")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		raw := c.raw
		var cursor uint64
		for {
			e, err := raw.Do(ctx, raw.B().Scan().Cursor(cursor).Match(q.prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				return
			}
			if len(e.Elements) > 0 {
				raw.Do(ctx, raw.B().Del().Key(e.Elements...).Build())
			}
			if cursor = e.Cursor; cursor == 0 {
				return
			}
		}
	})
	return q
}

func TestQueueConformance(t *testing.T) {
	c := openTest(t, testURL(t))
	queuetest.Run(t, func(t *testing.T) boxoffice.Queue { return testQueue(t, c) })
}
