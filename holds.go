package boxoffice

import (
	"context"
	"sync"
	"time"
)

// groupCommit is the group-commit engine of the hold and order paths.
// Requests for the same key (a tier for holds, an event for orders) queue up
// while a transaction for that key is in flight; when it finishes,
// everything that queued meanwhile (up to maxBatch) is decided in the next
// single transaction, which locks the key's counter rows once, grants or
// refuses each request in arrival order and inserts everything granted. A
// request is answered only after its transaction has committed, so a 201 is
// always durable. Under light load a batch holds one request and adds no
// delay; under a flash crowd batches grow with the load, and the counter
// row's lock is taken once per batch instead of once per request. Several
// processes each run their own engine on the same database: the row lock
// orders their batches, and the store's conditional checks keep them exact.
// Within one process up to parallel batches per key may be in flight (1 by
// default: on a small machine one at a time gives the best latency); a store
// that takes the lock late (MySQL) overlaps the work of concurrent batches,
// also those of other instances.
//
// R is the request type; commit decides a batch and sets each request's
// verdict, which verdict reads back.
type groupCommit[R any] struct {
	commit   func(ctx context.Context, key string, reqs []*R) error
	verdict  func(*R) *error
	maxBatch int
	parallel int
	timeout  time.Duration // of one batch transaction

	mu     sync.Mutex
	queues map[string]*commitQueue[R]
}

type commitQueue[R any] struct {
	pending []*commitCall[R]
	running int // drains in flight
}

type commitCall[R any] struct {
	ctx  context.Context
	req  R
	done chan struct{}
}

// holdEngine batches hold requests per tier (Store.CreateHolds).
type holdEngine = groupCommit[HoldRequest]

// orderEngine batches orders per event (Store.CreateOrders).
type orderEngine = groupCommit[OrderRequest]

// refCall is the request of an engine whose batches decide their requests
// in place: the store is handed the requests themselves.
type refCall[T any] struct{ req *T }

// newRefEngine returns a group commit of requests decided in place by
// commit, with errOf the place of a request's verdict.
func newRefEngine[T any](commit func(context.Context, string, []*T) error, errOf func(*T) *error,
	maxBatch, parallel int, timeout time.Duration,
) *groupCommit[refCall[T]] {
	batch := func(ctx context.Context, key string, calls []*refCall[T]) error {
		reqs := make([]*T, len(calls))
		for i, c := range calls {
			reqs[i] = c.req
		}
		return commit(ctx, key, reqs)
	}
	return newGroupCommit(batch, func(c *refCall[T]) *error { return errOf(c.req) }, maxBatch, parallel, timeout)
}

// settleEngine batches reports on payments per event
// (Store.SettlePayments): an on-sale's callbacks share transactions.
type settleEngine = groupCommit[refCall[SettleRequest]]

func newSettleEngine(store Store, maxBatch, parallel int, timeout time.Duration) *settleEngine {
	return newRefEngine(settleApart(store), func(r *SettleRequest) *error { return &r.Err }, maxBatch, parallel, timeout)
}

// settleApart settles a batch in one transaction and, when that fails,
// each report of it in its own: a report the store cannot write (a
// provider's reference that collides with another payment's, say) fails
// alone instead of holding back every report batched with it, each time
// the provider sends them again.
func settleApart(store Store) func(context.Context, string, []*SettleRequest) error {
	return func(ctx context.Context, eventID string, reqs []*SettleRequest) error {
		err := store.SettlePayments(ctx, eventID, reqs)
		if err == nil || len(reqs) == 1 || ctx.Err() != nil {
			return err
		}
		for _, r := range reqs {
			if err := store.SettlePayments(ctx, eventID, []*SettleRequest{r}); err != nil {
				r.Err = err
			}
		}
		return nil
	}
}

// partyRead is one payment's party to read (Store.PaymentParties).
type partyRead struct {
	PaymentID string
	Party     PaymentParty
	Err       error
}

// partyReader batches the reads of payments' parties: the payment
// callbacks of an on-sale, each of which first needs its payment's event,
// share reads of up to maxBatch payments instead of one query each.
type partyReader = groupCommit[refCall[partyRead]]

func newPartyReader(store Store, maxBatch, parallel int, timeout time.Duration) *partyReader {
	read := func(ctx context.Context, _ string, reads []*partyRead) error {
		ids := make([]string, len(reads))
		for i, r := range reads {
			ids[i] = r.PaymentID
		}
		parties, err := store.PaymentParties(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range reads {
			p, ok := parties[r.PaymentID]
			if !ok {
				r.Err = ErrNotFound
			}
			r.Party = p
		}
		return nil
	}
	return newRefEngine(read, func(r *partyRead) *error { return &r.Err }, maxBatch, parallel, timeout)
}

// defaultBatchTimeout bounds one batch transaction when the service is not
// told the requests' time budget. A batch is independent of the clients
// waiting for it, but one that outlives their budget only grants requests
// nobody is waiting for.
const defaultBatchTimeout = 10 * time.Second

func newHoldEngine(store Store, maxBatch, parallel int, timeout time.Duration) *holdEngine {
	return newGroupCommit(store.CreateHolds, func(r *HoldRequest) *error { return &r.Err }, maxBatch, parallel, timeout)
}

func newOrderEngine(store Store, maxBatch, parallel int, timeout time.Duration) *orderEngine {
	return newGroupCommit(store.CreateOrders, func(r *OrderRequest) *error { return &r.Err }, maxBatch, parallel, timeout)
}

func newGroupCommit[R any](commit func(context.Context, string, []*R) error, verdict func(*R) *error,
	maxBatch, parallel int, timeout time.Duration,
) *groupCommit[R] {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	if parallel <= 0 {
		parallel = 1
	}
	if timeout <= 0 {
		timeout = defaultBatchTimeout
	}
	return &groupCommit[R]{commit: commit, verdict: verdict, maxBatch: maxBatch, parallel: parallel, timeout: timeout,
		queues: make(map[string]*commitQueue[R])}
}

// hold submits req for key and waits for its verdict, at most until ctx
// ends. It returns the store's verdict for the request, the batch's error
// when the transaction failed, or ctx's error when ctx ended first. A
// request whose batch has not started by then is dropped; one whose batch
// is running may still be granted after hold returned: with an idempotency
// key, a retry is answered with that outcome (the record commits with the
// grant); without one, the hold (or order) is never paid and expires at
// its HoldExpiresAt.
func (h *groupCommit[R]) hold(ctx context.Context, key string, req R) error {
	c := &commitCall[R]{ctx: ctx, req: req, done: make(chan struct{})}
	h.mu.Lock()
	q, ok := h.queues[key]
	if !ok {
		q = &commitQueue[R]{}
		h.queues[key] = q
	}
	q.pending = append(q.pending, c)
	start := q.running < h.parallel
	if start {
		q.running++
	}
	h.mu.Unlock()
	if start {
		go h.drain(key, q)
	}
	select {
	case <-c.done:
		return *h.verdict(&c.req)
	case <-ctx.Done():
		select {
		case <-c.done: // decided meanwhile: tell the verdict
			return *h.verdict(&c.req)
		default:
			return ctx.Err()
		}
	}
}

// drain runs batches for one key until its queue is empty. At most
// h.parallel drains run per key; the key's entry in h.queues exists exactly
// while one runs.
func (h *groupCommit[R]) drain(key string, q *commitQueue[R]) {
	for {
		h.mu.Lock()
		if len(q.pending) == 0 {
			q.running--
			if q.running == 0 {
				delete(h.queues, key)
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
		h.run(key, batch)
	}
}

func (h *groupCommit[R]) run(key string, batch []*commitCall[R]) {
	live := make([]*commitCall[R], 0, len(batch))
	reqs := make([]*R, 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			*h.verdict(&c.req) = err // the client left before its turn: nothing granted
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
	err := h.commit(ctx, key, reqs)
	cancel()
	for _, c := range live {
		if err != nil {
			*h.verdict(&c.req) = err
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
