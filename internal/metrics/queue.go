package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// queueMetrics count waiting-room traffic.
type queueMetrics struct {
	joins      prometheus.Counter
	admissions *prometheus.CounterVec
}

// otherEvent is the event_id of admissions to events that are not tracked
// as on sale (beyond OnSaleConfig.MaxEvents, or before the first refresh),
// so the admissions series stay bounded.
const otherEvent = "_other"

func newQueueMetrics(m *Metrics) queueMetrics {
	q := queueMetrics{
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "queue_joins_total",
			Help: "Successful waiting-room joins (a user already in line keeps their place and counts again).",
		}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "queue_admissions_total",
			Help: "Users admitted from a waiting room by this instance while it coordinates, by event (events on sale only; \"_other\" for the rest).",
		}, []string{"event_id"}),
	}
	m.register(q.joins, q.admissions)
	return q
}

// OnAdmit counts an admission round; it has the signature of
// boxoffice.WaitingRoomConfig.OnAdmit.
func (m *Metrics) OnAdmit(eventID string, _ int64, userIDs []string) {
	m.mu.Lock()
	o := m.onsale
	m.mu.Unlock()
	if o == nil {
		m.queue.admissions.WithLabelValues(otherEvent).Add(float64(len(userIDs)))
		return
	}
	o.admit(eventID, len(userIDs))
}

// Queue returns q decorated to count joins. With redis set (q is the
// Redis queue) it also times every operation and counts failures as Redis
// errors.
func (m *Metrics) Queue(q boxoffice.Queue, redis bool) boxoffice.Queue {
	out := &queue{next: q, joins: m.queue.joins}
	if redis {
		r := m.redisMetrics()
		for i, name := range queueOps {
			out.ops[i] = opMetrics{r.op("queue_" + name), r.errors.counter("queue_" + name)}
		}
		out.timed = true
	}
	return out
}

// The operations of a boxoffice.Queue, indexing queue.ops.
const (
	opJoin = iota
	opEntries
	opLeave
	opRevoked
	opMarkUsed
	opSeen
	opEvents
	opPool
	opRelease
	opAdmit
	opClose
	opDrop
	opLead
	opResign
	numOps
)

var queueOps = [numOps]string{"join", "entries", "leave", "revoked", "mark_used", "seen", "events", "pool", "release", "admit", "close", "drop", "lead", "resign"}

type opMetrics struct {
	duration prometheus.Observer
	errors   *atomic.Uint64
}

// queue is the counting (and, on Redis, timing) decorator of a
// boxoffice.Queue.
type queue struct {
	next  boxoffice.Queue
	joins prometheus.Counter
	timed bool
	ops   [numOps]opMetrics
}

// begin returns the start time of a timed operation.
func (q *queue) begin() time.Time {
	if q.timed {
		return time.Now()
	}
	return time.Time{}
}

// end records a timed operation.
func (q *queue) end(ctx context.Context, op int, start time.Time, err error) {
	if !q.timed {
		return
	}
	q.ops[op].duration.Observe(time.Since(start).Seconds())
	if redisFailure(ctx, err) {
		q.ops[op].errors.Add(1)
	}
}

// Join joins and counts.
func (q *queue) Join(ctx context.Context, eventID, userID string, presale bool, now time.Time) (boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	t := q.begin()
	en, info, err := q.next.Join(ctx, eventID, userID, presale, now)
	q.end(ctx, opJoin, t, err)
	if err == nil {
		q.joins.Inc()
	}
	return en, info, err
}

// Entries passes through.
func (q *queue) Entries(ctx context.Context, eventID string, userIDs []string) ([]boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	t := q.begin()
	ens, info, err := q.next.Entries(ctx, eventID, userIDs)
	q.end(ctx, opEntries, t, err)
	return ens, info, err
}

// Leave passes through.
func (q *queue) Leave(ctx context.Context, eventID, userID string) error {
	t := q.begin()
	err := q.next.Leave(ctx, eventID, userID)
	q.end(ctx, opLeave, t, err)
	return err
}

// Revoked passes through.
func (q *queue) Revoked(ctx context.Context, now time.Time) ([]boxoffice.Revocation, error) {
	t := q.begin()
	rs, err := q.next.Revoked(ctx, now)
	q.end(ctx, opRevoked, t, err)
	return rs, err
}

// MarkUsed passes through.
func (q *queue) MarkUsed(ctx context.Context, eventID string, userIDs []string, now time.Time) error {
	t := q.begin()
	err := q.next.MarkUsed(ctx, eventID, userIDs, now)
	q.end(ctx, opMarkUsed, t, err)
	return err
}

// Seen passes through.
func (q *queue) Seen(ctx context.Context, eventID string, userIDs []string, until time.Time) error {
	t := q.begin()
	err := q.next.Seen(ctx, eventID, userIDs, until)
	q.end(ctx, opSeen, t, err)
	return err
}

// Events passes through.
func (q *queue) Events(ctx context.Context) ([]string, error) {
	t := q.begin()
	ids, err := q.next.Events(ctx)
	q.end(ctx, opEvents, t, err)
	return ids, err
}

// Pool passes through.
func (q *queue) Pool(ctx context.Context, eventID string) ([]string, error) {
	t := q.begin()
	ids, err := q.next.Pool(ctx, eventID)
	q.end(ctx, opPool, t, err)
	return ids, err
}

// Release passes through.
func (q *queue) Release(ctx context.Context, eventID, owner string, order []string) (bool, error) {
	t := q.begin()
	ok, err := q.next.Release(ctx, eventID, owner, order)
	q.end(ctx, opRelease, t, err)
	return ok, err
}

// Admit passes through.
func (q *queue) Admit(ctx context.Context, eventID string, req boxoffice.AdmitRequest) (boxoffice.AdmitResult, error) {
	t := q.begin()
	res, err := q.next.Admit(ctx, eventID, req)
	q.end(ctx, opAdmit, t, err)
	return res, err
}

// Close passes through.
func (q *queue) Close(ctx context.Context, eventID string) error {
	t := q.begin()
	err := q.next.Close(ctx, eventID)
	q.end(ctx, opClose, t, err)
	return err
}

// Drop passes through.
func (q *queue) Drop(ctx context.Context, eventID string) error {
	t := q.begin()
	err := q.next.Drop(ctx, eventID)
	q.end(ctx, opDrop, t, err)
	return err
}

// Lead passes through.
func (q *queue) Lead(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	t := q.begin()
	ok, err := q.next.Lead(ctx, owner, ttl)
	q.end(ctx, opLead, t, err)
	return ok, err
}

// Resign passes through.
func (q *queue) Resign(ctx context.Context, owner string) error {
	t := q.begin()
	err := q.next.Resign(ctx, owner)
	q.end(ctx, opResign, t, err)
	return err
}
