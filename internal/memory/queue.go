package memory

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"boxoffice"
)

// postOpenBase is added to the join sequence of users who join after the
// draw, so that the drawn pool (scores 1..n) always comes first.
const postOpenBase = 1 << 40

// expiredRetention is how long an expired admission is remembered, so the
// user can learn that it expired.
const expiredRetention = 24 * time.Hour

// Queue is a boxoffice.Queue in process memory, for one instance. One mutex
// guards everything, which makes every operation atomic; operations are
// cheap (binary searches and small copies), so it is not contended at the
// rates one instance serves.
type Queue struct {
	mu      sync.Mutex
	events  map[string]*queueEvent
	revoked map[[2]string]time.Time // (event, user) → when the revoked admission would have ended
	lease   struct {
		owner string
		until time.Time
	}
	// now is the lease clock; tests replace it.
	now func() time.Time
}

var _ boxoffice.Queue = (*Queue)(nil)

// queueEvent is one event's waiting room.
type queueEvent struct {
	pre     map[string]int64 // pre-sale pool: user → join time (ns)
	line    []lineItem       // the line after the draw, by score; line[head:] is live
	head    int
	score   map[string]int64 // user → score in line
	adm     map[string]time.Time
	seen    map[string]time.Time // unused admission → until when it counts against the cap
	used    map[string]time.Time
	exp     map[string]time.Time
	seq     int64 // joins after the draw
	total   int64 // admissions so far
	opened  bool
	soldOut bool
	closed  bool
	pace    float64
	nlive   int // live admissions at the last round
	version int64
}

type lineItem struct {
	score int64
	user  string
}

// NewQueue returns an empty Queue.
func NewQueue() *Queue {
	return &Queue{events: make(map[string]*queueEvent), revoked: make(map[[2]string]time.Time), now: time.Now}
}

func (q *Queue) event(id string, create bool) *queueEvent {
	e := q.events[id]
	if e == nil && create {
		e = &queueEvent{
			pre: map[string]int64{}, score: map[string]int64{},
			adm: map[string]time.Time{}, seen: map[string]time.Time{}, used: map[string]time.Time{}, exp: map[string]time.Time{},
		}
		q.events[id] = e
	}
	return e
}

func (e *queueEvent) live() []lineItem { return e.line[e.head:] }

// rank returns the 0-based index of user in the live line, or -1.
func (e *queueEvent) rank(user string) int {
	s, ok := e.score[user]
	if !ok {
		return -1
	}
	l := e.live()
	return sort.Search(len(l), func(i int) bool { return l[i].score >= s })
}

func (e *queueEvent) info() boxoffice.QueueInfo {
	return boxoffice.QueueInfo{
		Opened: e.opened, SoldOut: e.soldOut,
		Presale: len(e.pre), Waiting: len(e.live()),
		InFlight: len(e.adm), Admitted: len(e.adm) + len(e.used), Live: e.nlive,
		Pace: e.pace, Version: e.version,
	}
}

func (e *queueEvent) entry(user string) boxoffice.QueueEntry {
	if t, ok := e.adm[user]; ok {
		return boxoffice.QueueEntry{State: boxoffice.QueueAdmitted, AdmittedUntil: t}
	}
	if t, ok := e.used[user]; ok {
		return boxoffice.QueueEntry{State: boxoffice.QueueAdmitted, AdmittedUntil: t}
	}
	if i := e.rank(user); i >= 0 {
		return boxoffice.QueueEntry{State: boxoffice.QueueWaiting, Position: i + 1}
	}
	if _, ok := e.pre[user]; ok {
		return boxoffice.QueueEntry{State: boxoffice.QueueWaiting, Presale: true}
	}
	if _, ok := e.exp[user]; ok {
		return boxoffice.QueueEntry{State: boxoffice.QueueExpired}
	}
	return boxoffice.QueueEntry{}
}

// append puts user at the back of the line.
func (e *queueEvent) append(user string) {
	e.seq++
	s := postOpenBase + e.seq
	e.line = append(e.line, lineItem{s, user})
	e.score[user] = s
}

// Join implements boxoffice.Queue.
func (q *Queue) Join(_ context.Context, eventID, userID string, presale bool, now time.Time) (boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, true)
	e.closed = false // a join the room allows reopens a closed queue
	if en := e.entry(userID); en.State == boxoffice.QueueWaiting || en.State == boxoffice.QueueAdmitted {
		return en, e.info(), nil
	}
	delete(e.exp, userID)
	if presale && !e.opened {
		e.pre[userID] = now.UnixNano()
	} else {
		e.append(userID)
	}
	return e.entry(userID), e.info(), nil
}

// Entries implements boxoffice.Queue.
func (q *Queue) Entries(_ context.Context, eventID string, userIDs []string) ([]boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]boxoffice.QueueEntry, len(userIDs))
	e := q.event(eventID, false)
	if e == nil {
		return out, boxoffice.QueueInfo{}, nil
	}
	for i, u := range userIDs {
		out[i] = e.entry(u)
	}
	return out, e.info(), nil
}

// Leave implements boxoffice.Queue.
func (q *Queue) Leave(_ context.Context, eventID, userID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, false)
	if e == nil {
		return nil
	}
	changed := false
	until, ok := e.adm[userID]
	if !ok {
		until, ok = e.used[userID]
	}
	if ok && until.After(q.revoked[[2]string{eventID, userID}]) {
		q.revoked[[2]string{eventID, userID}] = until
	}
	if i := e.rank(userID); i >= 0 {
		j := e.head + i
		e.line = slices.Delete(e.line, j, j+1)
		delete(e.score, userID)
		changed = true
	}
	if _, ok := e.adm[userID]; ok {
		delete(e.adm, userID)
		delete(e.seen, userID)
		changed = true
	}
	delete(e.used, userID)
	delete(e.pre, userID)
	delete(e.exp, userID)
	if changed {
		e.version++
	}
	return nil
}

// Revoked implements boxoffice.Queue.
func (q *Queue) Revoked(_ context.Context, now time.Time) ([]boxoffice.Revocation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []boxoffice.Revocation
	for k, until := range q.revoked {
		if !now.Before(until) {
			delete(q.revoked, k)
			continue
		}
		out = append(out, boxoffice.Revocation{EventID: k[0], UserID: k[1], Until: until})
	}
	return out, nil
}

// MarkUsed implements boxoffice.Queue.
func (q *Queue) MarkUsed(_ context.Context, eventID string, userIDs []string, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, false)
	if e == nil {
		return nil
	}
	for _, u := range userIDs {
		if t, ok := e.adm[u]; ok && now.Before(t) {
			delete(e.adm, u)
			delete(e.seen, u)
			e.used[u] = t
		}
	}
	return nil
}

// Seen implements boxoffice.Queue.
func (q *Queue) Seen(_ context.Context, eventID string, userIDs []string, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, false)
	if e == nil {
		return nil
	}
	for _, u := range userIDs {
		if _, ok := e.adm[u]; ok && until.After(e.seen[u]) {
			e.seen[u] = until
		}
	}
	return nil
}

// Events implements boxoffice.Queue.
func (q *Queue) Events(context.Context) ([]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for id, e := range q.events {
		if !e.closed && len(e.pre)+len(e.live())+len(e.adm)+len(e.used) > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Pool implements boxoffice.Queue.
func (q *Queue) Pool(_ context.Context, eventID string) ([]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, false)
	if e == nil {
		return nil, nil
	}
	out := make([]string, 0, len(e.pre))
	for u := range e.pre {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(e.pre[a], e.pre[b]), cmp.Compare(a, b))
	})
	return out, nil
}

// leader reports whether owner holds an unexpired lease. q.mu is held.
func (q *Queue) leader(owner string) bool {
	return q.lease.owner == owner && q.now().Before(q.lease.until)
}

// Release implements boxoffice.Queue.
func (q *Queue) Release(_ context.Context, eventID, owner string, order []string) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.leader(owner) {
		return false, boxoffice.ErrNotLeader
	}
	e := q.event(eventID, true)
	if e.opened {
		return true, nil
	}
	if len(order) != len(e.pre) {
		return false, nil
	}
	for _, u := range order {
		if _, ok := e.pre[u]; !ok {
			return false, nil
		}
	}
	drawn := make([]lineItem, len(order), len(order)+len(e.live()))
	for i, u := range order {
		drawn[i] = lineItem{int64(i + 1), u}
		e.score[u] = int64(i + 1)
	}
	e.line = append(drawn, e.live()...)
	e.head = 0
	clear(e.pre)
	e.opened = true
	e.version++
	return true, nil
}

// Admit implements boxoffice.Queue.
func (q *Queue) Admit(_ context.Context, eventID string, req boxoffice.AdmitRequest) (boxoffice.AdmitResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.leader(req.Owner) {
		return boxoffice.AdmitResult{}, boxoffice.ErrNotLeader
	}
	e := q.event(eventID, true)
	var res boxoffice.AdmitResult
	for u, t := range e.adm {
		if !req.Now.Before(t) {
			delete(e.adm, u)
			delete(e.seen, u)
			e.exp[u] = req.Now
			res.Expired++
		}
	}
	for u, t := range e.used {
		if !req.Now.Before(t) {
			delete(e.used, u)
		}
	}
	for u, t := range e.exp {
		if req.Now.Sub(t) > expiredRetention {
			delete(e.exp, u)
		}
	}
	changed := res.Expired > 0 || e.soldOut != req.SoldOut
	e.soldOut = req.SoldOut
	e.pace = req.Pace
	live := 0
	for _, t := range e.seen {
		if req.Now.Before(t) {
			live++
		}
	}
	liveUntil := req.LiveUntil
	if liveUntil.IsZero() {
		liveUntil = req.Until
	}
	if e.opened && !e.soldOut {
		n := min(req.Max, len(e.live()))
		if req.Limit >= 0 {
			n = min(n, req.Limit-live)
		}
		if n > 0 {
			res.First = e.total + 1
			for _, it := range e.live()[:n] {
				res.Admitted = append(res.Admitted, it.user)
				e.adm[it.user] = req.Until
				delete(q.revoked, [2]string{eventID, it.user})
				e.seen[it.user] = liveUntil
				delete(e.score, it.user)
			}
			if req.Now.Before(liveUntil) {
				live += n
			}
			e.head += n
			e.total += int64(n)
			changed = true
			if e.head > 1024 && e.head > len(e.line)/2 {
				e.line = append([]lineItem(nil), e.live()...)
				e.head = 0
			}
		}
	}
	if changed {
		e.version++
	}
	e.nlive = live
	res.Info = e.info()
	return res, nil
}

// Close implements boxoffice.Queue.
func (q *Queue) Close(_ context.Context, eventID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.event(eventID, false)
	if e == nil || e.closed {
		return nil
	}
	e.closed, e.soldOut = true, true
	e.version++
	return nil
}

// Drop implements boxoffice.Queue.
func (q *Queue) Drop(_ context.Context, eventID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.events, eventID)
	for k := range q.revoked {
		if k[0] == eventID {
			delete(q.revoked, k)
		}
	}
	return nil
}

// Lead implements boxoffice.Queue.
func (q *Queue) Lead(_ context.Context, owner string, ttl time.Duration) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if q.lease.owner == owner || !now.Before(q.lease.until) {
		q.lease.owner, q.lease.until = owner, now.Add(ttl)
		return true, nil
	}
	return false, nil
}

// Resign implements boxoffice.Queue.
func (q *Queue) Resign(_ context.Context, owner string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lease.owner == owner {
		q.lease.owner, q.lease.until = "", time.Time{}
	}
	return nil
}
