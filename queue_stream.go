package boxoffice

import (
	"context"
	"sync"
	"time"
)

// Status streams are served by one watcher per event per instance: every
// tick it asks the Queue for the event's version (one cheap call) and, only
// when it changed since a subscriber's status was computed, for the entries
// of those subscribers in one batch; it then hands each subscriber its new
// status over a channel. Idle clients cost a channel and a few hundred
// bytes, and no round trips of their own.

// Subscription delivers a user's status whenever it changes, at most once a
// tick. C is closed when the waiting room stops streaming (shutdown).
type Subscription struct {
	// C receives the latest status not yet taken (older ones are dropped).
	C <-chan QueueStatus

	ch      chan QueueStatus
	userID  string
	w       *watcher
	last    QueueStatus
	version int64 // the queue version last computed for this subscriber
	skip    bool  // skip the next tick: the first status was just sent
	once    sync.Once
}

// Close stops the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.once.Do(func() { s.w.hub.unsubscribe(s) })
}

// hub holds the watchers of one instance.
type hub struct {
	room     *WaitingRoom
	mu       sync.Mutex
	watchers map[string]*watcher
	closed   bool
	// perUser counts each user's subscriptions.
	perUser map[string]int
}

// watcher serves the subscribers of one event.
type watcher struct {
	hub   *hub
	id    string
	event *Event // touched only by the watcher's goroutine
	subs  map[*Subscription]struct{}
	stop  chan struct{}
}

// Subscribe returns the caller's current status and, unless that status is
// final (admitted, sold out or expired), a Subscription for the changes
// after it. It returns ErrNotFound (no such event, or the caller is not in
// its queue), ErrQueueDisabled, ErrUnavailable when the room no longer
// streams (shutdown), a *RetryAfterError (ErrRateLimited) when c's address
// or user opens streams too often or the user has as many open on this
// instance as the Limiter allows, or a *RetryableError.
func (w *WaitingRoom) Subscribe(ctx context.Context, c Caller, eventID string) (*QueueStatus, *Subscription, error) {
	if err := w.limits.StreamOpen(ctx, c); err != nil {
		return nil, nil, err
	}
	e, err := w.event(ctx, eventID)
	if err != nil {
		return nil, nil, err
	}
	st, version, err := w.lookup(ctx, e, c.UserID)
	if err != nil || st.Status.Terminal() {
		return st, nil, err
	}
	ch := make(chan QueueStatus, 1)
	s := &Subscription{C: ch, ch: ch, userID: c.UserID, last: *st, version: version, skip: true}
	h := &w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, ErrUnavailable
	}
	if n := w.limits.StreamsPerUser(); n > 0 && h.perUser[c.UserID] >= n {
		return nil, nil, errTooManyStreams(n)
	}
	wt := h.watchers[e.ID]
	if wt == nil {
		wt = &watcher{hub: h, id: e.ID, event: e, subs: make(map[*Subscription]struct{}), stop: make(chan struct{})}
		h.watchers[e.ID] = wt
		go wt.run()
	}
	s.w = wt
	wt.subs[s] = struct{}{}
	if h.perUser == nil {
		h.perUser = make(map[string]int)
	}
	h.perUser[c.UserID]++
	return st, s, nil
}

// errTooManyStreams is the failure of a stream beyond a user's n open ones.
// Closing one makes room at once; the client need not wait long.
func errTooManyStreams(n int) error {
	return &RetryAfterError{
		Err:        Errorf(CodeRateLimited, "at most %d waiting-room streams may be open at once; close one first", n),
		RetryAfter: time.Second,
	}
}

// forget uncounts s from its user's subscriptions. h.mu is held.
func (h *hub) forget(s *Subscription) {
	if n := h.perUser[s.userID]; n > 1 {
		h.perUser[s.userID] = n - 1
	} else {
		delete(h.perUser, s.userID)
	}
}

// CloseStreams ends every status stream of this instance (their channels
// close) and refuses new ones; servers call it when they start to drain.
func (w *WaitingRoom) CloseStreams() {
	h := &w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, wt := range h.watchers {
		for s := range wt.subs {
			close(s.ch)
			h.forget(s)
		}
		close(wt.stop)
		delete(h.watchers, id)
	}
}

// Streams returns how many status streams this instance serves.
func (w *WaitingRoom) Streams() int {
	h := &w.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, wt := range h.watchers {
		n += len(wt.subs)
	}
	return n
}

func (h *hub) unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := s.w.subs[s]; ok {
		delete(s.w.subs, s)
		h.forget(s)
		s.w.stopIfIdle()
	}
}

// drop ends s's stream (its channel closes). h.mu is held.
func (wt *watcher) drop(s *Subscription) {
	delete(wt.subs, s)
	wt.hub.forget(s)
	close(s.ch)
	wt.stopIfIdle()
}

// stopIfIdle stops the watcher when nobody is subscribed. h.mu is held.
func (wt *watcher) stopIfIdle() {
	if len(wt.subs) == 0 && wt.hub.watchers[wt.id] == wt {
		close(wt.stop)
		delete(wt.hub.watchers, wt.id)
	}
}

// run ticks until the last subscriber leaves.
func (wt *watcher) run() {
	t := time.NewTicker(wt.hub.room.tick)
	defer t.Stop()
	for {
		select {
		case <-wt.stop:
			return
		case <-t.C:
			wt.round()
		}
	}
}

// watchBatch bounds how many users one Queue.Entries call asks about.
const watchBatch = 1000

// round computes and delivers the statuses that changed.
func (wt *watcher) round() {
	w := wt.hub.room
	ctx, cancel := context.WithTimeout(context.Background(), queueOpTimeout)
	defer cancel()
	// The event's rules (pace fallback, sales start) may change; refresh
	// them from the room's cache.
	if e, err := w.event(ctx, wt.event.ID); err == nil {
		wt.event = e
	}
	_, info, err := w.queue.Entries(ctx, wt.event.ID, nil)
	if err != nil {
		return // streams stay open; the next round tries again
	}
	var stale []*Subscription
	wt.hub.mu.Lock()
	for s := range wt.subs {
		switch {
		case s.skip:
			s.skip = false
		case s.version != info.Version:
			stale = append(stale, s)
		}
	}
	wt.hub.mu.Unlock()
	now := w.clock()
	for len(stale) > 0 {
		batch := stale[:min(len(stale), watchBatch)]
		stale = stale[len(batch):]
		users := make([]string, len(batch))
		for i, s := range batch {
			users[i] = s.userID
		}
		ens, info, err := w.queue.Entries(ctx, wt.event.ID, users)
		if err != nil {
			return
		}
		out := make([]*QueueStatus, len(batch))
		for i, s := range batch {
			// An error means the user is no longer in the queue (they
			// left, perhaps from another device): out[i] stays nil and
			// the stream ends.
			out[i], _ = w.status(wt.event, s.userID, ens[i], info, now)
		}
		wt.hub.mu.Lock()
		for i, s := range batch {
			if _, ok := wt.subs[s]; !ok {
				continue
			}
			if out[i] == nil {
				wt.drop(s)
				continue
			}
			s.version = info.Version
			if out[i].sameAs(&s.last) {
				continue
			}
			s.last = *out[i]
			select {
			case <-s.ch: // drop the status the client has not taken yet
			default:
			}
			s.ch <- *out[i]
		}
		wt.hub.mu.Unlock()
	}
}
