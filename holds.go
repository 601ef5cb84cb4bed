package boxoffice

import (
	"context"
	"sync"
	"time"
)

// holdEngine is the group-commit engine of the hold path. Requests for the
// same tier queue up while a transaction for that tier is in flight; when it
// finishes, everything that queued meanwhile (up to maxBatch) is decided in
// the next single transaction, which locks the tier's counter row once,
// grants or refuses each request in arrival order and inserts every granted
// hold. A request is answered only after its transaction has committed, so a
// 201 is always durable. Under light load a batch holds one request and adds
// no delay; under a flash crowd batches grow with the load, and the counter
// row's lock is taken once per batch instead of once per ticket. Several
// processes each run their own engine on the same database: the row lock
// orders their batches, and the store's conditional checks keep them exact.
// Within one process up to parallel batches per tier may be in flight (1 by
// default: on a small machine one at a time gives the best latency); a store
// that takes the tier's lock late (MySQL) overlaps the work of concurrent
// batches, also those of other instances.
type holdEngine struct {
	store    Store
	maxBatch int
	parallel int
	timeout  time.Duration // of one batch transaction

	mu    sync.Mutex
	tiers map[string]*tierQueue
}

type tierQueue struct {
	pending []*holdCall
	running int // drains in flight
}

type holdCall struct {
	ctx  context.Context
	req  HoldRequest
	done chan struct{}
}

// defaultBatchTimeout bounds one batch transaction when the service is not
// told the requests' time budget. A batch is independent of the clients
// waiting for it, but one that outlives their budget only grants holds
// nobody is waiting for.
const defaultBatchTimeout = 10 * time.Second

func newHoldEngine(store Store, maxBatch, parallel int, timeout time.Duration) *holdEngine {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	if parallel <= 0 {
		parallel = 1
	}
	if timeout <= 0 {
		timeout = defaultBatchTimeout
	}
	return &holdEngine{store: store, maxBatch: maxBatch, parallel: parallel, timeout: timeout, tiers: make(map[string]*tierQueue)}
}

// hold submits req and waits for its verdict, at most until ctx ends. It
// returns the store's verdict for the request, the batch's error when the
// transaction failed, or ctx's error when ctx ended first. A request whose
// batch has not started by then is dropped; one whose batch is running may
// still be granted after hold returned: with an idempotency key, a retry is
// answered with that outcome (the record commits with the hold); without
// one, the hold is never confirmed and expires at its HoldExpiresAt.
func (h *holdEngine) hold(ctx context.Context, tierID string, req HoldRequest) error {
	c := &holdCall{ctx: ctx, req: req, done: make(chan struct{})}
	h.mu.Lock()
	q, ok := h.tiers[tierID]
	if !ok {
		q = &tierQueue{}
		h.tiers[tierID] = q
	}
	q.pending = append(q.pending, c)
	start := q.running < h.parallel
	if start {
		q.running++
	}
	h.mu.Unlock()
	if start {
		go h.drain(tierID, q)
	}
	select {
	case <-c.done:
		return c.req.Err
	case <-ctx.Done():
		select {
		case <-c.done: // decided meanwhile: tell the verdict
			return c.req.Err
		default:
			return ctx.Err()
		}
	}
}

// drain runs batches for one tier until its queue is empty. At most
// h.parallel drains run per tier; the tier's entry in h.tiers exists exactly
// while one runs.
func (h *holdEngine) drain(tierID string, q *tierQueue) {
	for {
		h.mu.Lock()
		if len(q.pending) == 0 {
			q.running--
			if q.running == 0 {
				delete(h.tiers, tierID)
			}
			h.mu.Unlock()
			return
		}
		n := min(len(q.pending), h.maxBatch)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil
		}
		h.mu.Unlock()
		h.run(tierID, batch)
	}
}

func (h *holdEngine) run(tierID string, batch []*holdCall) {
	live := make([]*holdCall, 0, len(batch))
	reqs := make([]*HoldRequest, 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.req.Err = err // the client left before its turn: no hold
			close(c.done)
			continue
		}
		live = append(live, c)
		reqs = append(reqs, &c.req)
	}
	if len(reqs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	err := h.store.CreateHolds(ctx, tierID, reqs)
	cancel()
	for _, c := range live {
		if err != nil {
			c.req.Err = err
		}
		close(c.done)
	}
}

// inflightKeys tracks the idempotency keys whose first request is still
// running in this process, so a concurrent duplicate gets
// ErrRequestInProgress instead of racing it.
type inflightKeys struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (k *inflightKeys) begin(userID, key string) bool {
	id := userID + "\x00" + key
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = make(map[string]struct{})
	}
	if _, ok := k.keys[id]; ok {
		return false
	}
	k.keys[id] = struct{}{}
	return true
}

func (k *inflightKeys) end(userID, key string) {
	k.mu.Lock()
	delete(k.keys, userID+"\x00"+key)
	k.mu.Unlock()
}
