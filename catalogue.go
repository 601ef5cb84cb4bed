package boxoffice

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Catalogue is the event aggregate: events and their tiers, the public
// catalogue, bookmarks and the sales view. It is safe for concurrent use.
type Catalogue struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	events *eventCache
	access *Access
	audit  *Audit
}

func (s *Catalogue) clock() time.Time { return normTime(s.now()) }

// eventsChanged drops what the hold path keeps about an event after a write.
func (s *Catalogue) eventsChanged(_ context.Context, id string) { s.events.forget(id) }

// CreateEvent creates an event for an organizer: its members whose role
// may manage events, and platform admins. Without in.OrganizerID, a
// platform admin's event is the default organizer's and is published at
// once (as before organizers); a member of exactly one organizer creates
// it for that one. Every other event starts as a draft (PublishEvent). It
// returns ErrForbidden, ErrNotFound (organizer) or a *ValidationError.
func (s *Catalogue) CreateEvent(ctx context.Context, c Caller, in EventInput) (*Event, error) {
	orgID, status, err := s.eventOrganizer(ctx, c, in.OrganizerID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	e := &Event{
		ID: NewID(), OrganizerID: orgID, Status: status,
		Title: in.Title, Description: in.Description, Venue: in.Venue,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, SalesStartAt: in.SalesStartAt, SalesEndAt: in.SalesEndAt,
		MaxTicketsPerUser: in.MaxTicketsPerUser, HoldSeconds: in.HoldSeconds,
		RequireVerifiedEmail: in.RequireVerifiedEmail, Refunds: in.Refunds,
		NameChangesUntil: in.NameChangesUntil,
		CreatedAt:        now, UpdatedAt: now,
	}
	if in.Queue != nil {
		e.Queue = *in.Queue
	}
	for _, t := range in.Tiers {
		e.Tiers = append(e.Tiers, Tier{ID: NewID(), EventID: e.ID, Name: t.Name, Price: t.Price, Capacity: t.Capacity,
			Hidden: t.Hidden, Closed: t.Closed})
	}
	if err := normaliseEvent(e); err != nil {
		return nil, err
	}
	if err := s.store.CreateEvent(ctx, e); err != nil {
		return nil, err
	}
	s.eventsChanged(ctx, e.ID)
	s.audit.record(ctx, c, e.OrganizerOf(), "event.created", "event", e.ID, map[string]any{"title": e.Title, "status": e.StatusOf()})
	return e, nil
}

// eventOrganizer decides which organizer a new event is for and the state
// it starts in, and checks that the caller may create it there.
func (s *Catalogue) eventOrganizer(ctx context.Context, c Caller, orgID string) (string, EventStatus, error) {
	if orgID == "" {
		switch {
		case c.IsAdmin():
			return DefaultOrganizerID, EventPublished, nil
		case c.Key != nil:
			orgID = c.Key.OrganizerID
		case c.UserID == "":
			return "", "", ErrForbidden
		default:
			ms, err := s.store.UserOrganizers(ctx, c.UserID)
			if err != nil {
				return "", "", err
			}
			switch len(ms) {
			case 0:
				return "", "", ErrForbidden
			case 1:
				orgID = ms[0].OrganizerID
			default:
				var v ValidationError
				v.Add("organizer_id", "is required: you belong to several organizers")
				return "", "", &v
			}
		}
	}
	if err := s.access.Organizer(ctx, c, orgID, ActionManageEvent); err != nil {
		return "", "", err
	}
	return orgID, EventDraft, nil
}

// Event returns an event with current availability, or ErrNotFound. A
// draft is shown only to its organizer's members and platform admins
// (everyone else gets ErrNotFound), hidden tiers only to them too.
func (s *Catalogue) Event(ctx context.Context, c Caller, id string) (*Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	e, err := s.store.Event(ctx, id)
	if err != nil {
		return nil, err
	}
	sees, err := s.access.Sees(ctx, c, e)
	switch {
	case err != nil:
		return nil, err
	case sees:
		return e, nil
	case !e.Public():
		return nil, ErrNotFound
	}
	return publicView(e), nil
}

// Sees reports whether the caller sees the event as its organizer does
// (drafts, hidden tiers): its members and platform admins. It reads the
// event from the hold path's cache and the caller's role from the team
// cache. It returns ErrNotFound for an unknown event.
func (s *Catalogue) Sees(ctx context.Context, c Caller, id string) (bool, error) {
	if !ValidID(id) {
		return false, ErrNotFound
	}
	e, err := s.events.load(ctx, s.store, id)
	if err != nil {
		return false, err
	}
	return s.access.Sees(ctx, c, e)
}

// PublishEvent puts a draft on show and on sale (its organizer's managers
// and owners, platform admins). It returns ErrNotFound, ErrForbidden,
// ErrInvalidState (not a draft) or a *ValidationError (CheckPublish: no
// tier the public may buy, or a sales window that is over).
func (s *Catalogue) PublishEvent(ctx context.Context, c Caller, id string) (*Event, error) {
	if _, err := s.access.Event(ctx, c, id, ActionManageEvent); err != nil {
		return nil, err
	}
	now := s.clock()
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event) error {
		if err := e.Transition(EventPublished, now); err != nil {
			return err
		}
		e.Status = EventPublished
		e.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.eventsChanged(ctx, id)
	s.audit.record(ctx, c, e.OrganizerOf(), "event.published", "event", e.ID, nil)
	return e, nil
}

// ListEvents returns one page of events. It returns a *ValidationError for a
// bad limit or cursor.
func (s *Catalogue) ListEvents(ctx context.Context, q EventQuery) (Page[*Event], error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*Event]{}, err
	}
	f := EventFilter{Query: strings.TrimSpace(q.Query), StartsAfter: q.StartsAfter, StartsBefore: q.StartsBefore,
		Status: EventPublished, Limit: limit + 1}
	var v ValidationError
	if len(f.Query) > 200 {
		v.Add("q", "must be at most 200 characters")
	}
	if !f.StartsAfter.IsZero() && !storableTime(f.StartsAfter) {
		v.Add("starts_after", "must be in the years 1 to 9999")
	}
	if !f.StartsBefore.IsZero() && !storableTime(f.StartsBefore) {
		v.Add("starts_before", "must be in the years 1 to 9999")
	}
	if err := v.Err(); err != nil {
		return Page[*Event]{}, err
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
	for i, e := range items {
		items[i] = publicView(e)
	}
	return eventPage(items, limit), nil
}

// eventPage returns the first limit of items (read one more than limit,
// sorted by start time and ID) as a page, with the cursor of the next page
// when there is one.
func eventPage(items []*Event, limit int) Page[*Event] {
	p := Page[*Event]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		last := p.Items[limit-1]
		p.NextCursor = encodeTimeCursor(last.StartsAt, last.ID)
	}
	return p
}

// OrganizerEvents returns one page of an organizer's events, drafts,
// cancelled and archived ones included, the latest first, to its members
// and platform admins (ActionView). It returns ErrNotFound (unknown
// organizer, or the caller is not a member) or a *ValidationError for a
// bad limit or cursor.
func (s *Catalogue) OrganizerEvents(ctx context.Context, c Caller, orgID string, limit int, cursor string) (Page[*Event], error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return Page[*Event]{}, err
	}
	f := OrganizerEventFilter{OrganizerID: orgID, Limit: limit + 1}
	if cursor != "" {
		t, id, ok := decodeTimeCursor(cursor)
		if !ok {
			return Page[*Event]{}, badCursor()
		}
		f.BeforeStartsAt, f.BeforeID = t, id
	}
	if err := s.access.Organizer(ctx, c, orgID, ActionView); err != nil {
		return Page[*Event]{}, err
	}
	items, err := s.store.OrganizerEvents(ctx, f)
	if err != nil {
		return Page[*Event]{}, err
	}
	return eventPage(items, limit), nil
}

// UpdateEvent applies a partial update (the event organizer's managers
// and owners, platform admins). It returns ErrForbidden, ErrNotFound, a
// *ValidationError, or ErrCapacityConflict.
func (s *Catalogue) UpdateEvent(ctx context.Context, c Caller, id string, p EventPatch) (*Event, error) {
	if _, err := s.access.Event(ctx, c, id, ActionManageEvent); err != nil {
		return nil, err
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
	s.audit.record(ctx, c, e.OrganizerOf(), "event.updated", "event", e.ID, map[string]any{"changes": changedFields(p)})
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
	if p.RequireVerifiedEmail != nil {
		e.RequireVerifiedEmail = *p.RequireVerifiedEmail
	}
	if p.NameChangesUntil != nil {
		e.NameChangesUntil = p.NameChangesUntil
	}
	if p.Refunds != nil {
		e.Refunds = *p.Refunds
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
			setFlags(&t, tp)
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
		setFlags(t, tp)
	}
	return v.Err()
}

func setFlags(t *Tier, tp TierPatch) {
	if tp.Hidden != nil {
		t.Hidden = *tp.Hidden
	}
	if tp.Closed != nil {
		t.Closed = *tp.Closed
	}
}

// DeleteEvent deletes an event (the event organizer's managers and
// owners, platform admins). It returns ErrForbidden, ErrNotFound or
// ErrHasReservations.
func (s *Catalogue) DeleteEvent(ctx context.Context, c Caller, id string) error {
	e, err := s.access.Event(ctx, c, id, ActionManageEvent)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEvent(ctx, id); err != nil {
		return err
	}
	s.eventsChanged(ctx, id)
	s.audit.record(ctx, c, e.OrganizerOf(), "event.deleted", "event", id, map[string]any{"title": e.Title})
	return nil
}

// PutBookmark bookmarks an event for the caller; it returns ErrNotFound for an
// unknown event or a draft (which cannot go back to draft once shown, so a
// bookmark never shows one).
func (s *Catalogue) PutBookmark(ctx context.Context, c Caller, eventID string) error {
	if !ValidID(eventID) || c.UserID == "" {
		return ErrNotFound
	}
	e, err := s.events.load(ctx, s.store, eventID)
	if err != nil {
		return err
	}
	if !e.Public() {
		return ErrNotFound
	}
	return s.store.PutBookmark(ctx, c.UserID, eventID, s.clock())
}

// DeleteBookmark removes the caller's bookmark, if any.
func (s *Catalogue) DeleteBookmark(ctx context.Context, c Caller, eventID string) error {
	if !ValidID(eventID) {
		return nil
	}
	return s.store.DeleteBookmark(ctx, c.UserID, eventID)
}

// ListBookmarks returns the caller's bookmarked events, newest bookmark
// first, as the public sees them (without hidden tiers).
// It returns a *ValidationError for a bad limit or cursor.
func (s *Catalogue) ListBookmarks(ctx context.Context, c Caller, limit int, cursor string) (Page[*Event], error) {
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
		p.Items = append(p.Items, publicView(b.Event))
	}
	return p, nil
}

// Sales returns the sales view of an event (members of its organizer who
// may view sales, platform admins). It returns ErrForbidden or ErrNotFound.
func (s *Catalogue) Sales(ctx context.Context, c Caller, eventID string) (*Sales, error) {
	if _, err := s.access.Event(ctx, c, eventID, ActionViewSales); err != nil {
		return nil, err
	}
	return s.store.Sales(ctx, eventID)
}

// Revenue returns an event's payments and refunds (members of its
// organizer who may view sales, platform admins). It returns ErrForbidden
// or ErrNotFound.
func (s *Catalogue) Revenue(ctx context.Context, c Caller, eventID string) (*Revenue, error) {
	if _, err := s.access.Event(ctx, c, eventID, ActionViewSales); err != nil {
		return nil, err
	}
	return s.store.Revenue(ctx, eventID)
}

// eventLoadTimeout bounds a read of an event's rules, which is not tied to
// one caller (others wait for it).
const eventLoadTimeout = 5 * time.Second

// eventCache keeps the rules of recently used events (sales window, limits,
// tiers and prices) in process for the hold path, for at most eventRulesTTL.
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
	if en, ok := c.entries[id]; ok && now.Sub(en.fetched) <= eventRulesTTL && !now.Before(en.fetched) {
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
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventLoadTimeout)
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
