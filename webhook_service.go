package boxoffice

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// WebhookPoster sends a signed webhook message: internal/webhookhttp is
// it.
type WebhookPoster interface {
	// Post POSTs body with the headers to url and returns the answer's
	// HTTP status, or an error when no answer came (ctx bounds the
	// attempt). It follows no redirect.
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error)
}

// WebhookConfig tunes the webhook deliverer.
type WebhookConfig struct {
	// Poster sends the messages. When nil, messages are written to the
	// webhook outbox but this instance delivers none (another instance,
	// or this one restarted with a poster, will).
	Poster WebhookPoster
	// Workers is how many deliveries are under way at once (default 64).
	Workers int
	// Poll is how often the deliverer looks for due deliveries (default
	// 1 s); messages written by this instance are delivered at once.
	Poll time.Duration
	// Lease is how long a deliverer holds claimed deliveries before
	// another may take them (default 1 min): longer than an attempt
	// (WebhookTimeout) and its recording.
	Lease time.Duration
	// Timeout bounds one attempt (default WebhookTimeout).
	Timeout time.Duration
	// SubscriptionTTL bounds how stale this instance's view of which
	// organizers subscribe to what may be (default 2 s): a message whose
	// organizer subscribed on another instance within it may not be
	// written.
	SubscriptionTTL time.Duration
}

// Webhooks is the aggregate of outgoing webhooks: an organizer's
// endpoints and their delivery log, the messages the other aggregates
// emit, and the deliverer (Run). It is safe for concurrent use.
type Webhooks struct {
	store  Store
	access *Access
	events *eventCache
	log    *slog.Logger
	now    func() time.Time
	cfg    WebhookConfig
	// insecure is ServiceConfig.AllowInsecureWebhooks.
	insecure bool
	subs     subscriptionCache
	kick     chan struct{}
	audit    *Audit

	soldOutMu sync.Mutex
	soldOut   map[string]*soldOutCheck
}

func newWebhooks(store Store, access *Access, events *eventCache, log *slog.Logger, now func() time.Time, cfg WebhookConfig, insecure bool) *Webhooks {
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = WebhookTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.SubscriptionTTL <= 0 {
		cfg.SubscriptionTTL = 2 * time.Second
	}
	return &Webhooks{store: store, access: access, events: events, log: log, now: now, cfg: cfg, insecure: insecure,
		subs: subscriptionCache{entries: map[string]subscriptionEntry{}}, kick: make(chan struct{}, 1),
		soldOut: map[string]*soldOutCheck{}}
}

func (w *Webhooks) clock() time.Time { return normTime(w.now()) }

// wake asks the deliverer to look at the outbox now.
func (w *Webhooks) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// subscriptionCache remembers, per organizer, the message types its
// enabled endpoints subscribe to.
type subscriptionCache struct {
	mu      sync.Mutex
	entries map[string]subscriptionEntry
}

type subscriptionEntry struct {
	types map[HookType]bool
	at    time.Time
	// refreshing is set while one caller reads a stale entry afresh.
	refreshing bool
}

// subscribed reports whether an enabled endpoint of the organizer
// subscribes to t, from a view at most SubscriptionTTL old. One caller
// refreshes a stale view while the others answer from it: the door's
// scans never queue behind the store. When the store cannot say, it
// answers true: a message nobody receives costs a row, a message not
// written is lost.
func (w *Webhooks) subscribed(ctx context.Context, organizerID string, t HookType) bool {
	now := time.Now()
	w.subs.mu.Lock()
	e, ok := w.subs.entries[organizerID]
	fresh := ok && now.Sub(e.at) < w.cfg.SubscriptionTTL
	if ok && !fresh && e.refreshing {
		w.subs.mu.Unlock()
		return e.types[t]
	}
	if ok && !fresh {
		e.refreshing = true
		w.subs.entries[organizerID] = e
	}
	w.subs.mu.Unlock()
	if fresh {
		return e.types[t]
	}
	eps, err := w.store.WebhookEndpoints(ctx, organizerID)
	if err != nil {
		w.subs.mu.Lock()
		if cur, ok := w.subs.entries[organizerID]; ok {
			cur.refreshing = false
			w.subs.entries[organizerID] = cur
		}
		w.subs.mu.Unlock()
		return true
	}
	e = subscriptionEntry{types: map[HookType]bool{}, at: now}
	for _, ep := range eps {
		for _, typ := range ep.Events {
			if ep.Enabled {
				e.types[typ] = true
			}
		}
	}
	w.subs.mu.Lock()
	w.subs.entries[organizerID] = e
	w.subs.mu.Unlock()
	return e.types[t]
}

// forget drops the cached view of an organizer after a change here.
func (w *Webhooks) forget(organizerID string) {
	w.subs.mu.Lock()
	delete(w.subs.entries, organizerID)
	w.subs.mu.Unlock()
}

// hookFor returns the organizer of e when one of its endpoints subscribes
// to t, else "".
func (w *Webhooks) hookFor(ctx context.Context, e *Event, t HookType) string {
	if w == nil {
		return ""
	}
	org := e.OrganizerOf()
	if !w.subscribed(ctx, org, t) {
		return ""
	}
	return org
}

// CreateEndpoint adds an endpoint to an organizer: it returns the endpoint
// with its secret (shown this once), ErrNotFound, ErrForbidden, a
// *ValidationError, or ErrLimitExceeded when the organizer has
// MaxWebhookEndpoints.
func (w *Webhooks) CreateEndpoint(ctx context.Context, c Caller, organizerID string, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	if err := w.access.Organizer(ctx, c, organizerID, ActionManageWebhooks); err != nil {
		return nil, err
	}
	ep, err := NewWebhookEndpoint(organizerID, in, w.insecure, w.clock())
	if err != nil {
		return nil, err
	}
	have, err := w.store.WebhookEndpoints(ctx, organizerID)
	if err != nil {
		return nil, err
	}
	if len(have) >= MaxWebhookEndpoints {
		return nil, Errorf(CodeLimitExceeded, "an organizer has at most %d webhook endpoints", MaxWebhookEndpoints)
	}
	if err := w.store.CreateWebhookEndpoint(ctx, ep); err != nil {
		return nil, err
	}
	w.forget(organizerID)
	w.audit.record(ctx, c, organizerID, "webhook_endpoint.created", "webhook_endpoint", ep.ID,
		map[string]any{"url": ep.URL, "events": ep.Events, "enabled": ep.Enabled})
	return ep, nil
}

// Endpoints returns an organizer's endpoints.
func (w *Webhooks) Endpoints(ctx context.Context, c Caller, organizerID string) ([]*WebhookEndpoint, error) {
	if err := w.access.Organizer(ctx, c, organizerID, ActionManageWebhooks); err != nil {
		return nil, err
	}
	return w.store.WebhookEndpoints(ctx, organizerID)
}

// Endpoint returns an endpoint of an organizer, or ErrNotFound.
func (w *Webhooks) Endpoint(ctx context.Context, c Caller, organizerID, id string) (*WebhookEndpoint, error) {
	if err := w.access.Organizer(ctx, c, organizerID, ActionManageWebhooks); err != nil {
		return nil, err
	}
	return w.endpoint(ctx, organizerID, id)
}

func (w *Webhooks) endpoint(ctx context.Context, organizerID, id string) (*WebhookEndpoint, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	ep, err := w.store.WebhookEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if ep.OrganizerID != organizerID {
		return nil, ErrNotFound
	}
	return ep, nil
}

// UpdateEndpoint changes an endpoint's URL, events or enabled state
// (WebhookEndpoint.Change). Enabling it resumes its paused deliveries.
func (w *Webhooks) UpdateEndpoint(ctx context.Context, c Caller, organizerID, id string, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	if _, err := w.Endpoint(ctx, c, organizerID, id); err != nil {
		return nil, err
	}
	now := w.clock()
	ep, err := w.store.UpdateWebhookEndpoint(ctx, id, func(ep *WebhookEndpoint) error {
		return ep.Change(in, w.insecure, now)
	})
	if err != nil {
		return nil, err
	}
	w.forget(organizerID)
	w.wake()
	w.audit.record(ctx, c, organizerID, "webhook_endpoint.updated", "webhook_endpoint", ep.ID,
		map[string]any{"url": ep.URL, "events": ep.Events, "enabled": ep.Enabled})
	return ep, nil
}

// DeleteEndpoint deletes an endpoint with its delivery log.
func (w *Webhooks) DeleteEndpoint(ctx context.Context, c Caller, organizerID, id string) error {
	if _, err := w.Endpoint(ctx, c, organizerID, id); err != nil {
		return err
	}
	if err := w.store.DeleteWebhookEndpoint(ctx, id); err != nil {
		return err
	}
	w.forget(organizerID)
	w.audit.record(ctx, c, organizerID, "webhook_endpoint.deleted", "webhook_endpoint", id, nil)
	return nil
}

// DeliveryQuery selects a page of an endpoint's delivery log.
type DeliveryQuery struct {
	Status DeliveryStatus // "" = all
	Limit  int            // 0 = DefaultLimit
	Cursor string
}

// Deliveries returns a page of an endpoint's delivery log, newest first.
func (w *Webhooks) Deliveries(ctx context.Context, c Caller, organizerID, endpointID string, q DeliveryQuery) (Page[*WebhookDelivery], error) {
	if _, err := w.Endpoint(ctx, c, organizerID, endpointID); err != nil {
		return Page[*WebhookDelivery]{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*WebhookDelivery]{}, err
	}
	switch q.Status {
	case "", DeliveryPending, DeliverySucceeded, DeliveryFailed, DeliveryGivenUp:
	default:
		var v ValidationError
		v.Add("status", "must be pending, succeeded, failed or given_up")
		return Page[*WebhookDelivery]{}, &v
	}
	f := DeliveryFilter{EndpointID: endpointID, Status: q.Status, Limit: limit + 1}
	if q.Cursor != "" {
		id, ok := decodeIDCursor(q.Cursor)
		if !ok {
			return Page[*WebhookDelivery]{}, badCursor()
		}
		f.BeforeID = id
	}
	items, err := w.store.WebhookDeliveries(ctx, f)
	if err != nil {
		return Page[*WebhookDelivery]{}, err
	}
	p := Page[*WebhookDelivery]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeIDCursor(p.Items[limit-1].ID)
	}
	return p, nil
}

// RetryDelivery puts a delivery back in the queue now (Requeue). It
// returns ErrNotFound, or ErrInvalidState when the endpoint is disabled.
func (w *Webhooks) RetryDelivery(ctx context.Context, c Caller, organizerID, endpointID, deliveryID string) (*WebhookDelivery, error) {
	ep, err := w.Endpoint(ctx, c, organizerID, endpointID)
	if err != nil {
		return nil, err
	}
	if !ValidID(deliveryID) {
		return nil, ErrNotFound
	}
	if !ep.Enabled {
		return nil, Errorf(CodeInvalidState, "the endpoint is disabled; enable it first")
	}
	now := w.clock()
	d, err := w.store.UpdateWebhookDelivery(ctx, deliveryID, func(d *WebhookDelivery) error {
		if d.EndpointID != endpointID {
			return ErrNotFound
		}
		d.Requeue(now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.wake()
	return d, nil
}

// EventCancelled writes the event.cancelled message of e, cancelled at
// now for reason, when one of its organizer's endpoints subscribes. The
// cancellation calls it after its change committed; a store transaction
// of its own may instead carry EventCancelledMessage.
func (w *Webhooks) EventCancelled(ctx context.Context, e *Event, reason string, now time.Time) error {
	if w.hookFor(ctx, e, HookEventCancelled) == "" {
		return nil
	}
	if err := w.store.InsertWebhookMessages(ctx, []*WebhookMessage{EventCancelledMessage(e, reason, now)}); err != nil {
		return err
	}
	w.wake()
	return nil
}

// soldOutCheck coalesces the sold-out checks of one event: one runs at a
// time, and the payments during it ask for one more after it.
type soldOutCheck struct{ again bool }

// checkSoldOut looks, in the background, whether e is sold out after an
// order of it was paid, and writes its event.sold_out message (once per
// event) when it is. Checks of one event never overlap, and run at most
// once a second: an on-sale's payments cost the database one Sales read a
// second, off their transactions.
func (w *Webhooks) checkSoldOut(e *Event) {
	if w.hookFor(context.Background(), e, HookEventSoldOut) == "" {
		return
	}
	w.soldOutMu.Lock()
	if c, ok := w.soldOut[e.ID]; ok {
		c.again = true
		w.soldOutMu.Unlock()
		return
	}
	w.soldOut[e.ID] = &soldOutCheck{}
	w.soldOutMu.Unlock()
	go func() {
		for {
			done := w.soldOutOnce(e)
			time.Sleep(time.Second)
			w.soldOutMu.Lock()
			c := w.soldOut[e.ID]
			if done || !c.again {
				delete(w.soldOut, e.ID)
				w.soldOutMu.Unlock()
				return
			}
			c.again = false
			w.soldOutMu.Unlock()
		}
	}()
}

// soldOutOnce checks e once and reports whether it wrote the message.
func (w *Webhooks) soldOutOnce(e *Event) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := w.store.Sales(ctx, e.ID)
	if err != nil {
		w.log.Warn("webhooks: reading sales for event.sold_out failed", "event", e.ID, "err", err)
		return false
	}
	if !s.SoldOut() {
		return false
	}
	if err := w.store.InsertWebhookMessages(ctx, []*WebhookMessage{eventSoldOutMessage(e, s, w.clock())}); err != nil {
		w.log.Warn("webhooks: writing event.sold_out failed", "event", e.ID, "err", err)
		return false
	}
	w.wake()
	return true
}

// Deliverer parameters.
const (
	// webhookFanOutBatch is how many messages one fan-out takes.
	webhookFanOutBatch = 500
	// webhookClaimBatch caps the deliveries one claim takes.
	webhookClaimBatch = 200
	// webhookRecordBatch caps the attempts one record writes, and
	// webhookRecordEvery how long a finished attempt waits for others.
	webhookRecordBatch = 200
	webhookRecordEvery = 20 * time.Millisecond
)

// Run delivers the webhook outbox until ctx is done: it fans messages out
// to deliveries, claims the due ones under a lease, sends them with
// Workers at once, and records each attempt (in batches). Beside that it
// purges what is older than WebhookRetention every ten minutes. Without a
// Poster it only purges. Attempts under way when ctx ends are not
// recorded: their deliveries are sent again after their lease.
func (w *Webhooks) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Go(func() { purgeLoop(ctx, w.log, w.now, "webhook deliveries", WebhookRetention, w.store.PurgeWebhooks) })
	defer bg.Wait()
	if w.cfg.Poster == nil {
		<-ctx.Done()
		return nil
	}
	jobs := make(chan *WebhookJob)
	results := make(chan *WebhookDelivery, w.cfg.Workers)
	slots := make(chan struct{}, w.cfg.Workers*4) // claimed, not yet recorded
	var workers sync.WaitGroup
	for range w.cfg.Workers {
		workers.Go(func() {
			for j := range jobs {
				if d := w.attempt(ctx, j); d != nil {
					results <- d
				} else {
					<-slots
				}
			}
		})
	}
	var recorder sync.WaitGroup
	recorder.Go(func() { w.recordLoop(results, slots) })

	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		busy := w.pass(ctx, jobs, slots)
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-w.kick:
		}
	}
	close(jobs)
	workers.Wait()
	close(results)
	recorder.Wait()
	return nil
}

// pass fans out and claims once; it reports whether there may be more
// work right away.
func (w *Webhooks) pass(ctx context.Context, jobs chan<- *WebhookJob, slots chan struct{}) bool {
	now := w.clock()
	n, err := w.store.FanOutWebhooks(ctx, webhookFanOutBatch, func(msgs []*WebhookMessage, eps []*WebhookEndpoint) []*WebhookDelivery {
		return FanOut(msgs, eps, now)
	})
	if err != nil && ctx.Err() == nil {
		w.log.Warn("webhooks: fan-out failed", "err", err)
	}
	free := cap(slots) - len(slots)
	if free == 0 {
		// Every slot is taken: wait for one to be recorded.
		select {
		case slots <- struct{}{}:
			<-slots
		case <-ctx.Done():
		}
		return true
	}
	claimed, err := w.store.ClaimWebhookDeliveries(ctx, now, now.Add(w.cfg.Lease), min(free, webhookClaimBatch))
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhooks: claiming deliveries failed", "err", err)
		}
		return false
	}
	for _, j := range claimed {
		slots <- struct{}{}
		select {
		case jobs <- j:
		case <-ctx.Done():
			<-slots
		}
	}
	return n == webhookFanOutBatch || len(claimed) == min(free, webhookClaimBatch)
}

// attempt sends one delivery and returns it with the attempt recorded,
// or nil when ctx ended during it.
func (w *Webhooks) attempt(ctx context.Context, j *WebhookJob) *WebhookDelivery {
	if ctx.Err() != nil {
		return nil
	}
	start := time.Now()
	at := w.clock()
	o := AttemptOutcome{At: at}
	sig, err := SignWebhook(j.Endpoint.Secret, j.Message.ID, at, j.Message.Body)
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		o.Status, o.Err = w.cfg.Poster.Post(actx, j.Endpoint.URL, map[string]string{
			"Content-Type":      "application/json",
			"User-Agent":        "boxoffice-webhooks/1",
			"webhook-id":        j.Message.ID,
			"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
			"webhook-signature": sig,
		}, j.Message.Body)
		cancel()
	} else {
		o.Err = errors.New("the endpoint's secret is not valid base64")
	}
	if ctx.Err() != nil {
		return nil
	}
	if o.Err != nil && errors.Is(o.Err, context.DeadlineExceeded) {
		o.Err = errors.New("no answer within " + w.cfg.Timeout.String())
	}
	o.Duration = time.Since(start)
	d := j.Delivery
	d.Attempted(o, jitter())
	if !o.Succeeded() {
		w.log.Info("webhook delivery failed", "delivery", d.ID, "endpoint", d.EndpointID, "message", d.MessageID,
			"attempts", d.Attempts, "status", d.Status, "err", d.Error)
	}
	return d
}

// recordLoop writes finished attempts in batches and frees their slots.
func (w *Webhooks) recordLoop(results <-chan *WebhookDelivery, slots chan struct{}) {
	var batch []*WebhookDelivery
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		now := w.clock()
		err := w.store.RecordWebhookAttempts(ctx, batch, func(ep *WebhookEndpoint, ds []*WebhookDelivery) {
			if ep.RecordAttempts(ds, now) {
				w.log.Warn("webhook endpoint disabled after failing", "endpoint", ep.ID, "organizer", ep.OrganizerID,
					"reason", ep.DisabledReason)
				w.forget(ep.OrganizerID)
			}
		})
		cancel()
		if err != nil {
			w.log.Warn("webhooks: recording attempts failed; they are made again after their lease",
				"count", len(batch), "err", err)
		}
		for range batch {
			<-slots
		}
		batch = batch[:0]
	}
	t := time.NewTicker(webhookRecordEvery)
	defer t.Stop()
	for {
		select {
		case d, ok := <-results:
			if !ok {
				flush()
				return
			}
			batch = append(batch, d)
			if len(batch) >= webhookRecordBatch {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}
