package boxoffice

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store    Store
	Cache    Cache // nil = no read cache
	Hasher   PasswordHasher
	Logins   LoginLimiter // failed sign-ins per email; nil = no limit
	Payments Payments
	Logger   *slog.Logger
	// Now is the clock (time.Now when nil). Tests set it to control time.
	Now func() time.Time
	// MaxBatch caps how many hold requests for one tier are decided in one
	// transaction (default 256).
	MaxBatch int
	// ParallelBatches is how many batches per tier may be in flight at
	// once in this process (default 1).
	ParallelBatches int
	// SweepInterval is how often expired holds are released (default 1 s).
	SweepInterval time.Duration
}

// Service enforces boxoffice's rules on top of a Store. It is safe for
// concurrent use. Run must be running for holds to expire.
type Service struct {
	store    Store
	cache    Cache
	hasher   PasswordHasher
	logins   LoginLimiter
	payments Payments
	log      *slog.Logger
	now      func() time.Time
	sweep    time.Duration

	holds  *holdEngine
	events eventCache

	dummyOnce sync.Once
	dummyHash []byte

	inflight inflightKeys
}

// cacheTTL bounds how stale a cached event or list page may be.
const cacheTTL = time.Second

// NewService returns a Service.
func NewService(cfg ServiceConfig) *Service {
	s := &Service{
		store: cfg.Store, cache: cfg.Cache, hasher: cfg.Hasher, logins: cfg.Logins, payments: cfg.Payments,
		log: cfg.Logger, now: cfg.Now, sweep: cfg.SweepInterval,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sweep <= 0 {
		s.sweep = time.Second
	}
	if s.payments == nil {
		s.payments = TestPayments{}
	}
	s.holds = newHoldEngine(s.store, cfg.MaxBatch, cfg.ParallelBatches)
	s.events.entries = make(map[string]eventEntry)
	return s
}

func (s *Service) clock() time.Time { return normTime(s.now()) }

// Run does the service's background work until ctx is done: it releases
// expired holds every SweepInterval (so tickets return within seconds, also
// for holds that ran out while no server was running) and purges idempotency
// records older than IdempotencyTTL.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	lastPurge := time.Time{}
	for {
		s.expireHolds(ctx)
		if now := s.clock(); now.Sub(lastPurge) > 10*time.Minute {
			if n, err := s.store.PurgeIdempotency(ctx, now.Add(-IdempotencyTTL)); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("purging idempotency records", "err", err)
				}
			} else {
				lastPurge = now
				if n > 0 {
					s.log.Info("purged idempotency records", "count", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) expireHolds(ctx context.Context) {
	const batch = 1000
	for ctx.Err() == nil {
		n, err := s.store.ExpireHolds(ctx, s.clock(), batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("expiring holds", "err", err)
			}
			return
		}
		if n > 0 {
			s.log.Debug("expired holds", "count", n)
		}
		if n < batch {
			return
		}
	}
}

// Ready returns nil when the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// SignUp creates a user with role user. It returns a *ValidationError for bad
// input, ErrEmailTaken, or ErrRateLimited when the password hashers are busy.
func (s *Service) SignUp(ctx context.Context, in SignUp) (*User, error) {
	if err := validateSignUp(&in); err != nil {
		return nil, err
	}
	if s.hasher.Saturated() {
		return nil, ErrRateLimited
	}
	if _, err := s.store.UserByEmail(ctx, in.Email); err == nil {
		return nil, ErrEmailTaken // answer before spending a hash on it
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := &User{ID: NewID(), Email: in.Email, Name: in.Name, Role: RoleUser, PasswordHash: hash, CreatedAt: s.clock()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Authenticate returns the user with the email and password, or
// ErrInvalidCredentials (the same for an unknown email and a wrong password),
// or ErrRateLimited when the password hashers are busy. With a LoginLimiter,
// an email (in any case) with too many recent failures gets a
// *RetryAfterError (ErrRateLimited) before any lookup or hashing, failures
// are counted and a success resets the count. When the limiter fails (Redis
// is away) sign-ins go on without a limit, with a warning: losing the
// limiter must not lock every user out.
func (s *Service) Authenticate(ctx context.Context, email, password string) (*User, error) {
	email = strings.TrimSpace(email)
	if email == "" || password == "" || len(email) > 254 || len(password) > 128 {
		return nil, ErrInvalidCredentials
	}
	if s.logins == nil {
		return s.authenticate(ctx, email, password)
	}
	key := loginKey(email)
	wait, err := s.logins.Blocked(ctx, key)
	switch {
	case err != nil:
		s.log.Warn("sign-in rate limiter failed; allowing the sign-in", "err", err)
	case wait > 0:
		return nil, errTooManySignIns(wait)
	}
	u, err := s.authenticate(ctx, email, password)
	// Record even when the client has gone away, so that hanging up after
	// a wrong guess does not make it free.
	lctx := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		if err := s.logins.Reset(lctx, key); err != nil {
			s.log.Warn("sign-in rate limiter failed to reset", "err", err)
		}
	case errors.Is(err, ErrInvalidCredentials):
		if err := s.logins.Failed(lctx, key); err != nil {
			s.log.Warn("sign-in rate limiter failed to count a failure", "err", err)
		}
	}
	return u, err
}

func (s *Service) authenticate(ctx context.Context, email, password string) (*User, error) {
	if s.hasher.Saturated() {
		return nil, ErrRateLimited // shed before spending a database lookup
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		// Spend the same time as for a wrong password, so response times
		// do not reveal which emails have accounts.
		if err := s.hasher.Compare(ctx, s.dummy(ctx), password); errors.Is(err, ErrRateLimited) {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := s.hasher.Compare(ctx, u.PasswordHash, password); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Service) dummy(ctx context.Context) []byte {
	s.dummyOnce.Do(func() {
		h, err := s.hasher.Hash(context.WithoutCancel(ctx), "boxoffice-dummy-password")
		if err == nil {
			s.dummyHash = h
		}
	})
	return s.dummyHash
}

// User returns the user with the given id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	return s.store.User(ctx, id)
}

// EnsureAdmin creates the admin with this email and password, or makes the
// existing user with this email an admin with this password. It returns a
// *ValidationError for an invalid email or password.
func (s *Service) EnsureAdmin(ctx context.Context, email, password, name string) (*User, error) {
	if name == "" {
		name = "Administrator"
	}
	in := SignUp{Email: email, Password: password, Name: name}
	if err := validateSignUp(&in); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	return s.store.UpsertAdmin(ctx, &User{ID: NewID(), Email: in.Email, Name: in.Name, Role: RoleAdmin, PasswordHash: hash, CreatedAt: s.clock()})
}

// CreateEvent creates an event (admin only). It returns ErrForbidden or a
// *ValidationError.
func (s *Service) CreateEvent(ctx context.Context, c Caller, in EventInput) (*Event, error) {
	if !c.IsAdmin() {
		return nil, ErrForbidden
	}
	now := s.clock()
	e := &Event{
		ID: NewID(), Title: in.Title, Description: in.Description, Venue: in.Venue,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, SalesStartAt: in.SalesStartAt, SalesEndAt: in.SalesEndAt,
		MaxTicketsPerUser: in.MaxTicketsPerUser, HoldSeconds: in.HoldSeconds,
		CreatedAt: now, UpdatedAt: now,
	}
	if in.Queue != nil {
		e.Queue = *in.Queue
	}
	for _, t := range in.Tiers {
		e.Tiers = append(e.Tiers, Tier{ID: NewID(), EventID: e.ID, Name: t.Name, Price: t.Price, Capacity: t.Capacity})
	}
	if err := normaliseEvent(e); err != nil {
		return nil, err
	}
	if err := s.store.CreateEvent(ctx, e); err != nil {
		return nil, err
	}
	s.eventsChanged(ctx, e.ID)
	return e, nil
}

// Event returns an event with current availability, or ErrNotFound.
func (s *Service) Event(ctx context.Context, id string) (*Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	return s.store.Event(ctx, id)
}

// EventJSON returns the JSON encoding of an event, from the read cache when
// fresh (availability at most one second old), or ErrNotFound.
func (s *Service) EventJSON(ctx context.Context, id string) ([]byte, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	return s.cached(ctx, "ev:"+id, func() (any, error) { return s.store.Event(ctx, id) })
}

// cached returns the encoding of load's result from the cache, or loads,
// encodes and caches it.
func (s *Service) cached(ctx context.Context, key string, load func() (any, error)) ([]byte, error) {
	if s.cache != nil {
		if b, ok := s.cache.Get(ctx, key); ok {
			return b, nil
		}
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.Set(ctx, key, b, cacheTTL)
	}
	return b, nil
}

// eventsChanged drops what the caches hold about an event after a write.
// Cached list pages are not tracked by event; they expire within cacheTTL.
func (s *Service) eventsChanged(ctx context.Context, id string) {
	s.events.forget(id)
	if s.cache != nil {
		s.cache.Delete(ctx, "ev:"+id)
	}
}

// ListEvents returns one page of events. It returns a *ValidationError for a
// bad limit or cursor.
func (s *Service) ListEvents(ctx context.Context, q EventQuery) (Page[*Event], error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*Event]{}, err
	}
	f := EventFilter{Query: strings.TrimSpace(q.Query), StartsAfter: q.StartsAfter, StartsBefore: q.StartsBefore, Limit: limit + 1}
	if len(f.Query) > 200 {
		var v ValidationError
		v.Add("q", "must be at most 200 characters")
		return Page[*Event]{}, &v
	}
	if q.OnSale {
		f.OnSaleAt = s.clock()
	}
	if q.Cursor != "" {
		t, id, ok := decodeTimeCursor(q.Cursor)
		if !ok {
			return Page[*Event]{}, badCursor()
		}
		f.AfterStartsAt, f.AfterID = t, id
	}
	items, err := s.store.ListEvents(ctx, f)
	if err != nil {
		return Page[*Event]{}, err
	}
	p := Page[*Event]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		last := p.Items[limit-1]
		p.NextCursor = encodeTimeCursor(last.StartsAt, last.ID)
	}
	return p, nil
}

// ListEventsJSON returns the JSON encoding of one page of events
// ({"items": [...], "next_cursor": ...}), from the read cache when fresh.
func (s *Service) ListEventsJSON(ctx context.Context, q EventQuery) ([]byte, error) {
	if _, err := pageLimit(q.Limit); err != nil {
		return nil, err
	}
	var k strings.Builder
	k.WriteString("evl:")
	for _, part := range []string{q.Query, fmtTime(q.StartsAfter), fmtTime(q.StartsBefore), strconv.FormatBool(q.OnSale), strconv.Itoa(q.Limit), q.Cursor} {
		k.WriteString(strconv.Quote(part))
	}
	return s.cached(ctx, k.String(), func() (any, error) {
		p, err := s.ListEvents(ctx, q)
		if err != nil {
			return nil, err
		}
		return p.wire(), nil
	})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// pageJSON is the contract's list shape.
type pageJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (p Page[T]) wire() pageJSON[T] {
	w := pageJSON[T]{Items: p.Items}
	if w.Items == nil {
		w.Items = []T{}
	}
	if p.NextCursor != "" {
		w.NextCursor = &p.NextCursor
	}
	return w
}

// MarshalJSON encodes p in the contract's list shape.
func (p Page[T]) MarshalJSON() ([]byte, error) { return json.Marshal(p.wire()) }

// UpdateEvent applies a partial update (admin only). It returns ErrForbidden,
// ErrNotFound, a *ValidationError, or ErrCapacityConflict.
func (s *Service) UpdateEvent(ctx context.Context, c Caller, id string, p EventPatch) (*Event, error) {
	if !c.IsAdmin() {
		return nil, ErrForbidden
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	now := s.clock()
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event) error {
		if err := applyPatch(e, &p); err != nil {
			return err
		}
		e.UpdatedAt = now
		return normaliseEvent(e)
	})
	if err != nil {
		return nil, err
	}
	s.eventsChanged(ctx, id)
	return e, nil
}

func applyPatch(e *Event, p *EventPatch) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setT := func(dst *time.Time, v *time.Time) {
		if v != nil {
			*dst = *v
		}
	}
	set(&e.Title, p.Title)
	set(&e.Description, p.Description)
	set(&e.Venue, p.Venue)
	setT(&e.StartsAt, p.StartsAt)
	setT(&e.SalesStartAt, p.SalesStartAt)
	setT(&e.SalesEndAt, p.SalesEndAt)
	if p.EndsAt != nil {
		t := *p.EndsAt
		e.EndsAt = &t
	}
	if p.MaxTicketsPerUser != nil {
		e.MaxTicketsPerUser = *p.MaxTicketsPerUser
		if e.MaxTicketsPerUser == 0 {
			e.MaxTicketsPerUser = -1 // explicit 0 is invalid, not "default"
		}
	}
	if p.HoldSeconds != nil {
		e.HoldSeconds = *p.HoldSeconds
		if e.HoldSeconds == 0 {
			e.HoldSeconds = -1
		}
	}
	if p.Queue != nil {
		e.Queue = *p.Queue
	}
	var v ValidationError
	for i, tp := range p.Tiers {
		if tp.ID == "" {
			t := Tier{ID: NewID(), EventID: e.ID}
			if tp.Name != nil {
				t.Name = *tp.Name
			}
			if tp.Price != nil {
				t.Price = *tp.Price
			}
			if tp.Capacity != nil {
				t.Capacity = *tp.Capacity
			}
			e.Tiers = append(e.Tiers, t)
			continue
		}
		t := e.Tier(tp.ID)
		if t == nil {
			v.Add("tiers["+itoa(i)+"].id", "is not a tier of this event")
			continue
		}
		set(&t.Name, tp.Name)
		if tp.Price != nil {
			t.Price = *tp.Price
		}
		if tp.Capacity != nil {
			t.Capacity = *tp.Capacity
		}
	}
	return v.Err()
}

// DeleteEvent deletes an event (admin only). It returns ErrForbidden,
// ErrNotFound or ErrHasReservations.
func (s *Service) DeleteEvent(ctx context.Context, c Caller, id string) error {
	if !c.IsAdmin() {
		return ErrForbidden
	}
	if !ValidID(id) {
		return ErrNotFound
	}
	if err := s.store.DeleteEvent(ctx, id); err != nil {
		return err
	}
	s.eventsChanged(ctx, id)
	return nil
}

// PutBookmark bookmarks an event for the caller; it returns ErrNotFound for an
// unknown event.
func (s *Service) PutBookmark(ctx context.Context, c Caller, eventID string) error {
	if !ValidID(eventID) {
		return ErrNotFound
	}
	return s.store.PutBookmark(ctx, c.UserID, eventID, s.clock())
}

// DeleteBookmark removes the caller's bookmark, if any.
func (s *Service) DeleteBookmark(ctx context.Context, c Caller, eventID string) error {
	if !ValidID(eventID) {
		return nil
	}
	return s.store.DeleteBookmark(ctx, c.UserID, eventID)
}

// ListBookmarks returns the caller's bookmarked events, newest bookmark first.
// It returns a *ValidationError for a bad limit or cursor.
func (s *Service) ListBookmarks(ctx context.Context, c Caller, limit int, cursor string) (Page[*Event], error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return Page[*Event]{}, err
	}
	f := BookmarkFilter{UserID: c.UserID, Limit: limit + 1}
	if cursor != "" {
		t, id, ok := decodeTimeCursor(cursor)
		if !ok {
			return Page[*Event]{}, badCursor()
		}
		f.BeforeCreatedAt, f.BeforeEventID = t, id
	}
	bs, err := s.store.ListBookmarks(ctx, f)
	if err != nil {
		return Page[*Event]{}, err
	}
	var p Page[*Event]
	for i, b := range bs {
		if i == limit {
			last := bs[limit-1]
			p.NextCursor = encodeTimeCursor(last.CreatedAt, last.Event.ID)
			break
		}
		p.Items = append(p.Items, b.Event)
	}
	return p, nil
}

// Sales returns the admin sales view of an event. It returns ErrForbidden or
// ErrNotFound.
func (s *Service) Sales(ctx context.Context, c Caller, eventID string) (*Sales, error) {
	if !c.IsAdmin() {
		return nil, ErrForbidden
	}
	if !ValidID(eventID) {
		return nil, ErrNotFound
	}
	return s.store.Sales(ctx, eventID)
}

// eventCache keeps the rules of recently used events (sales window, limits,
// tiers and prices) in process for the hold path, for at most cacheTTL.
// Inventory is never taken from it: the store decides that. When an entry
// runs out, one caller reloads it and the others arriving meanwhile wait
// for that load instead of each asking the store (a hot event is read by
// every request of an on-sale).
type eventCache struct {
	mu      sync.Mutex
	entries map[string]eventEntry
	loading map[string]*eventLoad
}

type eventEntry struct {
	e       *Event
	fetched time.Time
}

// eventLoad is one store read in flight; done closes when e and err are set.
type eventLoad struct {
	done chan struct{}
	e    *Event
	err  error
}

// load returns the event from the cache when fresh, else from store,
// caching it.
func (c *eventCache) load(ctx context.Context, store Store, id string) (*Event, error) {
	now := time.Now()
	c.mu.Lock()
	if en, ok := c.entries[id]; ok && now.Sub(en.fetched) <= cacheTTL && !now.Before(en.fetched) {
		c.mu.Unlock()
		return en.e, nil
	}
	if l, ok := c.loading[id]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.e, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &eventLoad{done: make(chan struct{})}
	if c.loading == nil {
		c.loading = make(map[string]*eventLoad)
	}
	c.loading[id] = l
	c.mu.Unlock()

	// The read is not tied to one caller: others wait for it.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	l.e, l.err = store.Event(rctx, id)
	cancel()

	c.mu.Lock()
	delete(c.loading, id)
	if l.err == nil {
		if len(c.entries) > 10_000 {
			clear(c.entries)
		}
		c.entries[id] = eventEntry{l.e, now}
	}
	c.mu.Unlock()
	close(l.done)
	return l.e, l.err
}

// forget drops the cached event, so the next read loads it again.
func (c *eventCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// eventRules returns the event for rule checks, from the in-process cache
// when fresh.
func (s *Service) eventRules(ctx context.Context, id string) (*Event, error) {
	return s.events.load(ctx, s.store, id)
}
