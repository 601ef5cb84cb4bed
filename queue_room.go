package boxoffice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// WaitingRoomConfig wires a WaitingRoom.
type WaitingRoomConfig struct {
	// Queue stores the waiting rooms (internal/redis or internal/memory).
	Queue Queue
	// Store is read for events (queue settings, sales window) and their
	// inventory.
	Store Store
	// Tokens signs and verifies admission tokens.
	Tokens AdmissionTokens
	// Logger receives the coordinator's log, including each pre-sale draw's
	// seed. Nil discards it.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AdmissionTTL is how long an admission stays valid (default 10 min).
	AdmissionTTL time.Duration
	// AdmissionIdle is how long an unused admission counts against the
	// in-flight cap after it was granted or its holder last asked for
	// their status (default 10 s). After that it is idle: still valid
	// until it ends, but no longer holding anyone back, so admissions
	// whose holders went away stop blocking the line within seconds.
	AdmissionIdle time.Duration
	// Tick is how often the coordinator admits and stream watchers look
	// for changes (default 1 s).
	Tick time.Duration
	// LeaseTTL is how long the coordinator lease lasts without renewal
	// (default 5 s, at least 2 ticks): after its holder dies, another
	// instance takes over within about this long.
	LeaseTTL time.Duration
	// InFlightPerTicket caps the live admissions in flight (admitted, not
	// yet used, not expired, not idle) at this multiple of the tickets left
	// (default 2).
	InFlightPerTicket int
	// Owner names this instance in the coordinator lease (default random).
	Owner string
	// OnAdmit, when set, is called after each admission round that
	// admitted someone, with the sequence number of the first (for
	// metrics and audits).
	OnAdmit func(eventID string, first int64, userIDs []string)
	// Limits enforces the rate limits of joins, status requests and
	// streams, and the cap on each user's open streams; nil limits
	// nothing.
	Limits *Limiter
}

// Defaults of WaitingRoomConfig.
const (
	DefaultAdmissionTTL  = 10 * time.Minute
	DefaultAdmissionIdle = 10 * time.Second
	DefaultQueueTick     = time.Second
	DefaultLeaseTTL      = 5 * time.Second
)

// queueOpTimeout bounds each call to the Queue, so a vanished Redis costs a
// request at most this long.
const queueOpTimeout = 2 * time.Second

// WaitingRoom enforces the waiting-room rules of the contract over a Queue:
// joining (authenticated; the place is kept), status, leaving, admission at
// each event's admit_per_minute by one coordinator at a time, the pre-sale
// draw, inventory awareness (pause while tickets are held, sold out when
// nothing can come back) and status streams. It is safe for concurrent use.
// Run must be running for anyone to be admitted.
type WaitingRoom struct {
	queue     Queue
	store     Store
	tokens    AdmissionTokens
	log       *slog.Logger
	now       func() time.Time
	ttl       time.Duration
	idle      time.Duration
	tick      time.Duration
	leaseTTL  time.Duration
	perTicket int
	owner     string
	onAdmit   func(string, int64, []string)
	limits    *Limiter

	events eventCache
	used   chan usedNote
	hub    hub

	// revoked holds the admissions given up by leaving (Queue.Revoked),
	// as of this instance's last round, plus those left here since. It is
	// replaced, never changed, so Admits reads it without a lock.
	revoked   atomic.Pointer[map[admissionKey]struct{}]
	revokedMu sync.Mutex // serializes the writers of revoked

	// Coordinator state, touched only by Tick (one at a time).
	tickMu  sync.Mutex
	leading bool
	coord   map[string]*coordState
	failing bool
}

// coordState is the leader's memory of one event between rounds.
type coordState struct {
	opened bool
	credit float64
	pace   float64
	last   time.Time
}

// admissionKey names one user's admission to one event.
type admissionKey struct{ eventID, userID string }

// usedNote says a user presented a valid admission token to buy.
type usedNote struct{ eventID, userID string }

// NewWaitingRoom returns a WaitingRoom.
func NewWaitingRoom(cfg WaitingRoomConfig) *WaitingRoom {
	w := &WaitingRoom{
		queue: cfg.Queue, store: cfg.Store, tokens: cfg.Tokens, log: cfg.Logger, now: cfg.Now,
		ttl: cfg.AdmissionTTL, idle: cfg.AdmissionIdle, tick: cfg.Tick, leaseTTL: cfg.LeaseTTL, perTicket: cfg.InFlightPerTicket,
		owner: cfg.Owner, onAdmit: cfg.OnAdmit, limits: cfg.Limits,
		used:  make(chan usedNote, 8192),
		coord: make(map[string]*coordState),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.ttl <= 0 {
		w.ttl = DefaultAdmissionTTL
	}
	if w.idle <= 0 {
		w.idle = DefaultAdmissionIdle
	}
	if w.tick <= 0 {
		w.tick = DefaultQueueTick
	}
	if w.leaseTTL <= 0 {
		w.leaseTTL = max(DefaultLeaseTTL, 2*w.tick)
	}
	if w.perTicket <= 0 {
		w.perTicket = 2
	}
	if w.owner == "" {
		w.owner = "wr-" + rand.Text()
	}
	w.events.entries = make(map[string]eventEntry)
	w.revoked.Store(&map[admissionKey]struct{}{})
	w.hub.room = w
	w.hub.watchers = make(map[string]*watcher)
	return w
}

func (w *WaitingRoom) clock() time.Time { return normTime(w.now()) }

// opCtx bounds one Queue call.
func opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, queueOpTimeout)
}

// event returns a queue-enabled event from a cache at most a second old. It
// returns ErrNotFound or ErrQueueDisabled.
func (w *WaitingRoom) event(ctx context.Context, id string) (*Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	e, err := w.events.load(ctx, w.store, id)
	if err != nil {
		return nil, err
	}
	if !e.Public() {
		return nil, ErrNotFound // a draft has no waiting room the public may see
	}
	if !e.Queue.Enabled {
		return nil, ErrQueueDisabled
	}
	return e, nil
}

// Join puts the caller in the event's waiting room, or keeps their place
// when they are in it already, and returns their status. Before sales open
// the caller joins the pre-sale pool, which is drawn at random when they do.
// It returns ErrNotFound (event), ErrQueueDisabled, ErrSalesClosed (sales
// ended), ErrEmailNotVerified, a *RetryAfterError (ErrRateLimited) when c's
// address or user has joined too often lately, or a *RetryableError when the
// queue cannot be reached.
func (w *WaitingRoom) Join(ctx context.Context, c Caller, eventID string) (*QueueStatus, error) {
	if err := w.limits.QueueJoin(ctx, c); err != nil {
		return nil, err
	}
	e, err := w.event(ctx, eventID)
	if err != nil {
		return nil, err
	}
	now := w.clock()
	if !now.Before(e.SalesEndAt) || e.StatusOf() == EventCancelled {
		return nil, ErrSalesClosed
	}
	if err := checkBuyer(ctx, w.store, c, e); err != nil {
		return nil, err
	}
	qctx, cancel := opCtx(ctx)
	defer cancel()
	en, info, err := w.queue.Join(qctx, e.ID, c.UserID, now.Before(e.SalesStartAt), now)
	if err != nil {
		return nil, err
	}
	st, err := w.status(e, c.UserID, en, info, now)
	if err == nil {
		w.seen(qctx, e.ID, c.UserID, st, now)
	}
	return st, err
}

// Status returns the caller's status in the event's waiting room. It returns
// ErrNotFound when the event does not exist or the caller is not in its
// queue, ErrQueueDisabled, a *RetryAfterError (ErrRateLimited) when c's
// address or user asks too often, or a *RetryableError.
func (w *WaitingRoom) Status(ctx context.Context, c Caller, eventID string) (*QueueStatus, error) {
	if err := w.limits.QueueStatus(ctx, c); err != nil {
		return nil, err
	}
	e, err := w.event(ctx, eventID)
	if err != nil {
		return nil, err
	}
	st, _, err := w.lookup(ctx, e, c.UserID)
	return st, err
}

// lookup returns a user's status and the queue's version.
func (w *WaitingRoom) lookup(ctx context.Context, e *Event, userID string) (*QueueStatus, int64, error) {
	qctx, cancel := opCtx(ctx)
	defer cancel()
	ens, info, err := w.queue.Entries(qctx, e.ID, []string{userID})
	if err != nil {
		return nil, 0, err
	}
	now := w.clock()
	st, err := w.status(e, userID, ens[0], info, now)
	if err == nil {
		w.seen(qctx, e.ID, userID, st, now)
	}
	return st, info.Version, err
}

// seen keeps an admitted user's admission live: its holder is still there
// (it asked for its status), so it keeps counting against the in-flight
// cap. A failure only lets the admission go idle sooner.
func (w *WaitingRoom) seen(ctx context.Context, eventID, userID string, st *QueueStatus, now time.Time) {
	if st.Status != QueueAdmitted {
		return
	}
	if err := w.queue.Seen(ctx, eventID, []string{userID}, now.Add(w.idle)); err != nil && ctx.Err() == nil {
		w.log.Debug("waiting room: recording a live admission", "err", err)
	}
}

// Leave takes the caller out of the event's waiting room (their place, or
// their admission, is gone). Leaving a queue one is not in succeeds. It
// returns ErrNotFound (event), ErrQueueDisabled or a *RetryableError.
func (w *WaitingRoom) Leave(ctx context.Context, c Caller, eventID string) error {
	e, err := w.event(ctx, eventID)
	if err != nil {
		return err
	}
	qctx, cancel := opCtx(ctx)
	defer cancel()
	if err := w.queue.Leave(qctx, e.ID, c.UserID); err != nil {
		return err
	}
	// The admission ends here at once; other instances learn it from the
	// queue at their next round.
	w.revokedMu.Lock()
	defer w.revokedMu.Unlock()
	old := w.revoked.Load()
	next := make(map[admissionKey]struct{}, len(*old)+1)
	for k := range *old {
		next[k] = struct{}{}
	}
	next[admissionKey{e.ID, c.UserID}] = struct{}{}
	w.revoked.Store(&next)
	return nil
}

// syncRevoked replaces the revoked admissions with the queue's list.
func (w *WaitingRoom) syncRevoked(ctx context.Context) error {
	qctx, cancel := opCtx(ctx)
	defer cancel()
	rs, err := w.queue.Revoked(qctx, w.clock())
	if err != nil {
		return err
	}
	next := make(map[admissionKey]struct{}, len(rs))
	for _, r := range rs {
		next[admissionKey{r.EventID, r.UserID}] = struct{}{}
	}
	w.revokedMu.Lock()
	w.revoked.Store(&next)
	w.revokedMu.Unlock()
	return nil
}

// Counts returns how many users wait in the event's queue (pre-sale pool
// included) and how many hold a valid admission, for the sales view. An
// event without a queue has zero of both.
func (w *WaitingRoom) Counts(ctx context.Context, eventID string) (waiting, admitted int, err error) {
	qctx, cancel := opCtx(ctx)
	defer cancel()
	_, info, err := w.queue.Entries(qctx, eventID, nil)
	if err != nil {
		return 0, 0, err
	}
	return info.Presale + info.Waiting, info.Admitted, nil
}

// Admits reports whether token admits userID to buy for eventID: it is
// genuine and unexpired, and the user has not left the queue since (as of
// this instance's last round, or at once when they left through this
// instance). It needs no round trip and changes nothing.
func (w *WaitingRoom) Admits(token, userID, eventID string) bool {
	if !w.tokens.Verify(token, userID, eventID) {
		return false
	}
	_, gone := (*w.revoked.Load())[admissionKey{eventID, userID}]
	return !gone
}

// AdmissionUsed notes, in the background, that userID's admission to eventID
// was used (a hold was granted with it), so it stops counting against the
// admissions in flight.
func (w *WaitingRoom) AdmissionUsed(eventID, userID string) {
	select {
	case w.used <- usedNote{eventID, userID}:
	default: // the noter is behind; the admission just counts a while longer
	}
}

// status builds what a client sees from a stored entry.
func (w *WaitingRoom) status(e *Event, userID string, en QueueEntry, info QueueInfo, now time.Time) (*QueueStatus, error) {
	st := &QueueStatus{EventID: e.ID}
	pace := info.Pace
	if pace <= 0.001 {
		pace = float64(e.Queue.AdmitPerMinute) / 60
	}
	eta := func(ahead float64) int {
		if pace <= 0 {
			return 0
		}
		return int(math.Ceil(ahead / pace))
	}
	switch {
	case en.State == "":
		return nil, ErrNotFound
	case e.StatusOf() == EventCancelled:
		// The room of a cancelled event is closed: whoever was in it is
		// told, and nobody is admitted any more.
		st.Status = QueueCancelled
		return st, nil
	}
	switch en.State {
	case QueueExpired:
		st.Status = QueueExpired
	case QueueAdmitted:
		if !now.Before(en.AdmittedUntil) {
			st.Status = QueueExpired // the coordinator will record it
			break
		}
		token, err := w.tokens.Issue(userID, e.ID, en.AdmittedUntil)
		if err != nil {
			return nil, err
		}
		until := en.AdmittedUntil.UTC()
		st.Status, st.AdmissionToken, st.AdmissionExpiresAt = QueueAdmitted, token, &until
	case QueueWaiting:
		switch {
		case info.SoldOut:
			st.Status = QueueSoldOut
		case en.Presale:
			// Not drawn yet: no position; expect the middle of the pool.
			st.Status = QueueWaiting
			st.ETASeconds = max(0, int(math.Ceil(e.SalesStartAt.Sub(now).Seconds()))) + eta(float64(info.Presale+1)/2)
		default:
			st.Status, st.Position = QueueWaiting, en.Position
			st.ETASeconds = eta(float64(en.Position))
		}
	}
	return st, nil
}

// Run coordinates the waiting rooms until ctx ends: every Tick it takes or
// renews the coordinator lease and, while it holds it, draws pre-sale pools
// and admits users (Tick). It also records used admissions. Every instance
// runs it; one coordinates at a time. It gives up the lease when it returns.
func (w *WaitingRoom) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Go(func() { w.noteUsed(ctx) })
	defer bg.Wait()
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		err := w.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !w.failing:
			w.failing = true
			w.log.Warn("waiting room: coordinator round failed; nobody is admitted until it works again", "err", err)
		case err == nil && w.failing:
			w.failing = false
			w.log.Info("waiting room: coordinator works again")
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = w.queue.Resign(rctx, w.owner)
			cancel()
			return nil
		case <-t.C:
		}
	}
}

// Tick runs one round: every instance learns the admissions revoked by
// leaving; then, unless another instance holds the lease, for every event
// with a queue it closes the queue when sales have ended, draws the
// pre-sale pool once sales open, and admits users at the event's pace
// within its inventory. Run calls it every tick; tests call it to step
// time.
func (w *WaitingRoom) Tick(ctx context.Context) error {
	w.tickMu.Lock()
	defer w.tickMu.Unlock()
	// A failure keeps the last list (and the leaves served here).
	revErr := w.syncRevoked(ctx)
	qctx, cancel := opCtx(ctx)
	ok, err := w.queue.Lead(qctx, w.owner, w.leaseTTL)
	cancel()
	if err != nil || !ok {
		if w.leading {
			w.log.Info("waiting room: no longer the coordinator", "owner", w.owner)
		}
		w.leading = false
		clear(w.coord)
		return errors.Join(err, revErr)
	}
	if !w.leading {
		w.log.Info("waiting room: coordinating", "owner", w.owner)
		w.leading = true
	}
	qctx, cancel = opCtx(ctx)
	events, err := w.queue.Events(qctx)
	cancel()
	if err != nil {
		return errors.Join(err, revErr)
	}
	errs := []error{revErr}
	for _, id := range events {
		err := w.coordinate(ctx, id)
		if errors.Is(err, ErrNotLeader) {
			w.leading = false
			clear(w.coord)
			return revErr
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// coordinate runs one round for one event.
func (w *WaitingRoom) coordinate(ctx context.Context, eventID string) error {
	ctx, cancel := opCtx(ctx)
	defer cancel()
	e, err := w.store.Event(ctx, eventID)
	switch {
	case errors.Is(err, ErrNotFound):
		delete(w.coord, eventID)
		return w.queue.Drop(ctx, eventID)
	case err != nil:
		return err
	}
	now := w.clock()
	if !e.Queue.Enabled || !now.Before(e.SalesEndAt) {
		// Sales are over (or the admin removed the waiting room, and
		// anyone may buy): waiting users learn it, nobody is admitted.
		delete(w.coord, eventID)
		return w.queue.Close(ctx, eventID)
	}
	if now.Before(e.SalesStartAt) {
		return nil // the pre-sale pool fills; nobody is admitted yet
	}
	st := w.coord[eventID]
	if st == nil {
		st = &coordState{last: now}
		w.coord[eventID] = st
	}
	if !st.opened {
		if err := w.draw(ctx, e); err != nil {
			return err
		}
		st.opened = true
	}

	// The event's tiers carry the counters; the costlier sales view (it
	// sums the reservations) is read only when nothing is left, to tell a
	// pause (holds may still expire) from a sell-out.
	available, held := e.Available(), 0
	if available <= 0 {
		sales, err := w.store.Sales(ctx, eventID)
		if err != nil {
			return err
		}
		for _, t := range sales.Tiers {
			held += t.Held
		}
	}
	req := AdmitRequest{Owner: w.owner, Now: now, Until: now.Add(w.ttl), LiveUntil: now.Add(w.idle), Limit: 0, Pace: st.pace}
	// Nothing left and nothing held that could come back: sold out. With
	// holds outstanding, pause: users keep waiting for expiries and
	// cancellations.
	req.SoldOut = available <= 0 && held == 0
	if available > 0 {
		req.Limit = w.perTicket * available
	}

	rate := float64(e.Queue.AdmitPerMinute) / 60
	dt := now.Sub(st.last).Seconds()
	st.last = now
	if dt < 0 || dt > 10*w.tick.Seconds() {
		dt = w.tick.Seconds()
	}
	// Credit is earned by the time that passed, however unevenly rounds
	// come, and fractions carry over (1/min admits one every 60 rounds),
	// so the pace over a minute is the configured one. What a round could
	// not use (the room paused or the line was short) is not saved up
	// beyond one admission: no burst after a pause.
	st.credit = min(st.credit, 1) + rate*dt
	req.Max = int(st.credit)

	res, err := w.queue.Admit(ctx, eventID, req)
	if err != nil {
		return err
	}
	if !res.Info.Opened {
		// The room was drawn (st.opened), yet the queue no longer knows it
		// is open: its storage lost the event's state (a Redis restart
		// without persistence, a failover to an empty replica). Nothing in
		// memory here can be trusted; open it again, or nobody would ever
		// be admitted.
		w.log.Warn("waiting room: the queue's state was lost (did Redis restart empty?); opening the room again",
			"event_id", eventID, "waiting", res.Info.Waiting, "presale", res.Info.Presale)
		st.opened = false
		if err := w.draw(ctx, e); err != nil {
			return err
		}
		st.opened = true
		if res, err = w.queue.Admit(ctx, eventID, req); err != nil {
			return err
		}
	}
	n := len(res.Admitted)
	st.credit -= float64(n)
	// Pace: an exponentially weighted mean over about 30 s.
	if dt > 0 {
		inst := float64(n) / dt
		if st.pace == 0 {
			st.pace = inst
		} else {
			st.pace += (inst - st.pace) * min(1, dt/30)
		}
	}
	if n > 0 && w.onAdmit != nil {
		w.onAdmit(eventID, res.First, res.Admitted)
	}
	return nil
}

// draw releases the event's pre-sale pool in a uniformly random order ahead
// of everyone who joined after sales opened, logging the seed so the order
// can be audited with PresaleOrder.
func (w *WaitingRoom) draw(ctx context.Context, e *Event) error {
	for range 5 {
		_, info, err := w.queue.Entries(ctx, e.ID, nil)
		if err != nil {
			return err
		}
		if info.Opened {
			return nil
		}
		pool, err := w.queue.Pool(ctx, e.ID)
		if err != nil {
			return err
		}
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		order := PresaleOrder(pool, seed)
		ok, err := w.queue.Release(ctx, e.ID, w.owner, order)
		if err != nil {
			return err
		}
		if ok {
			w.log.Info("waiting room: pre-sale pool drawn", "event_id", e.ID, "pool", len(pool), "seed", hex.EncodeToString(seed[:]))
			return nil
		}
		// Someone joined the pool meanwhile: draw again.
	}
	return errors.New("waiting room: the pre-sale pool kept changing during the draw")
}

// PresaleOrder returns pool (in join order, as Queue.Pool lists it) shuffled
// by a Fisher–Yates shuffle driven by ChaCha8 seeded with seed. Every order
// is equally likely for a random seed, and the same pool and seed give the
// same order, so a logged seed lets anyone audit a draw.
func PresaleOrder(pool []string, seed [32]byte) []string {
	out := append([]string(nil), pool...)
	r := mrand.New(mrand.NewChaCha8(seed))
	for i := len(out) - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// noteUsed records used admissions in batches until ctx ends.
func (w *WaitingRoom) noteUsed(ctx context.Context) {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	batch := make(map[string]map[string]struct{})
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-w.used:
			if batch[n.eventID] == nil {
				batch[n.eventID] = make(map[string]struct{})
			}
			batch[n.eventID][n.userID] = struct{}{}
		case <-t.C:
			now := w.clock()
			for ev, users := range batch {
				ids := make([]string, 0, len(users))
				for u := range users {
					ids = append(ids, u)
				}
				qctx, cancel := opCtx(ctx)
				if err := w.queue.MarkUsed(qctx, ev, ids, now); err != nil && ctx.Err() == nil {
					w.log.Debug("waiting room: recording used admissions", "err", err)
				}
				cancel()
			}
			clear(batch)
		}
	}
}
