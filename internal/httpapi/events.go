package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"boxoffice"
)

// eventRequest is the body of POST /api/v1/events. Times are strings so
// that a bad one is reported under its field name.
type eventRequest struct {
	OrganizerID       string        `json:"organizer_id"`
	Title             string        `json:"title"`
	Description       string        `json:"description"`
	Venue             string        `json:"venue"`
	StartsAt          string        `json:"starts_at"`
	EndsAt            *string       `json:"ends_at"`
	SalesStartAt      string        `json:"sales_start_at"`
	SalesEndAt        string        `json:"sales_end_at"`
	MaxTicketsPerUser int           `json:"max_tickets_per_user"`
	HoldSeconds       int           `json:"hold_seconds"`
	Queue             *queueConfig  `json:"queue"`
	RequireVerified   bool          `json:"require_verified_email"`
	RefundPolicy      *refundPolicy `json:"refund_policy"`
	NameChangesUntil  *string       `json:"name_changes_until"`
	Tiers             []tierRequest `json:"tiers"`
}

// refundPolicy is the JSON shape of a RefundPolicy in requests: fan_refunds
// false forbids refunds by buyers; until, when set, is their deadline
// instead of the event's start.
type refundPolicy struct {
	FanRefunds *bool   `json:"fan_refunds"`
	Until      *string `json:"until"`
}

// refundPolicyOf decodes a request's refund policy (nil: the default).
func refundPolicyOf(ve *boxoffice.ValidationError, p *refundPolicy) boxoffice.RefundPolicy {
	if p == nil {
		return boxoffice.RefundPolicy{}
	}
	return boxoffice.RefundPolicy{
		None:  p.FanRefunds != nil && !*p.FanRefunds,
		Until: optTimeField(ve, "refund_policy.until", p.Until),
	}
}

// tierRequest is one tier of an eventRequest.
type tierRequest struct {
	Name     string `json:"name"`
	Price    money  `json:"price"`
	Capacity int    `json:"capacity"`
	Hidden   bool   `json:"hidden"`
	Closed   bool   `json:"closed"`
}

// decodeEventInput reads and decodes the body of POST /api/v1/events.
func decodeEventInput(w http.ResponseWriter, r *http.Request) (boxoffice.EventInput, error) {
	var req eventRequest
	if err := readJSON(w, r, &req); err != nil {
		return boxoffice.EventInput{}, err
	}
	ve := &boxoffice.ValidationError{}
	if req.OrganizerID != "" && !boxoffice.ValidID(req.OrganizerID) {
		ve.Add("organizer_id", "is not an organizer's id")
	}
	in := boxoffice.EventInput{
		OrganizerID:          req.OrganizerID,
		Title:                req.Title,
		Description:          req.Description,
		Venue:                req.Venue,
		StartsAt:             timeField(ve, "starts_at", req.StartsAt),
		EndsAt:               optTimeField(ve, "ends_at", req.EndsAt),
		SalesStartAt:         timeField(ve, "sales_start_at", req.SalesStartAt),
		SalesEndAt:           timeField(ve, "sales_end_at", req.SalesEndAt),
		MaxTicketsPerUser:    req.MaxTicketsPerUser,
		HoldSeconds:          req.HoldSeconds,
		Queue:                (*boxoffice.QueueConfig)(req.Queue),
		RequireVerifiedEmail: req.RequireVerified,
		Refunds:              refundPolicyOf(ve, req.RefundPolicy),
		NameChangesUntil:     optTimeField(ve, "name_changes_until", req.NameChangesUntil),
	}
	for _, t := range req.Tiers {
		in.Tiers = append(in.Tiers, boxoffice.TierInput{Name: t.Name, Price: boxoffice.Money(t.Price), Capacity: t.Capacity,
			Hidden: t.Hidden, Closed: t.Closed})
	}
	return in, ve.Err()
}

// eventPatchRequest is the body of PATCH /api/v1/events/{id}; every field is
// optional.
type eventPatchRequest struct {
	Title             *string            `json:"title"`
	Description       *string            `json:"description"`
	Venue             *string            `json:"venue"`
	StartsAt          *string            `json:"starts_at"`
	EndsAt            *string            `json:"ends_at"`
	SalesStartAt      *string            `json:"sales_start_at"`
	SalesEndAt        *string            `json:"sales_end_at"`
	MaxTicketsPerUser *int               `json:"max_tickets_per_user"`
	HoldSeconds       *int               `json:"hold_seconds"`
	Queue             *queueConfig       `json:"queue"`
	RequireVerified   *bool              `json:"require_verified_email"`
	RefundPolicy      *refundPolicy      `json:"refund_policy"`
	NameChangesUntil  *string            `json:"name_changes_until"`
	Tiers             []tierPatchRequest `json:"tiers"`
}

// tierPatchRequest changes the tier with ID, or adds a tier when ID is empty.
type tierPatchRequest struct {
	ID       string  `json:"id"`
	Name     *string `json:"name"`
	Price    *money  `json:"price"`
	Capacity *int    `json:"capacity"`
	Hidden   *bool   `json:"hidden"`
	Closed   *bool   `json:"closed"`
}

// decodeEventPatch reads and decodes the body of PATCH /api/v1/events/{id}.
func decodeEventPatch(w http.ResponseWriter, r *http.Request) (boxoffice.EventPatch, error) {
	var req eventPatchRequest
	if err := readJSON(w, r, &req); err != nil {
		return boxoffice.EventPatch{}, err
	}
	ve := &boxoffice.ValidationError{}
	p := boxoffice.EventPatch{
		Title:                req.Title,
		Description:          req.Description,
		Venue:                req.Venue,
		StartsAt:             optTimeField(ve, "starts_at", req.StartsAt),
		EndsAt:               optTimeField(ve, "ends_at", req.EndsAt),
		SalesStartAt:         optTimeField(ve, "sales_start_at", req.SalesStartAt),
		SalesEndAt:           optTimeField(ve, "sales_end_at", req.SalesEndAt),
		MaxTicketsPerUser:    req.MaxTicketsPerUser,
		HoldSeconds:          req.HoldSeconds,
		Queue:                (*boxoffice.QueueConfig)(req.Queue),
		RequireVerifiedEmail: req.RequireVerified,
		NameChangesUntil:     optTimeField(ve, "name_changes_until", req.NameChangesUntil),
	}
	if req.RefundPolicy != nil {
		rp := refundPolicyOf(ve, req.RefundPolicy)
		p.Refunds = &rp
	}
	for i, t := range req.Tiers {
		if t.ID != "" && !boxoffice.ValidID(t.ID) {
			ve.Add("tiers["+strconv.Itoa(i)+"].id", "is not a tier of this event")
		}
		p.Tiers = append(p.Tiers, boxoffice.TierPatch{ID: t.ID, Name: t.Name, Price: (*boxoffice.Money)(t.Price), Capacity: t.Capacity,
			Hidden: t.Hidden, Closed: t.Closed})
	}
	return p, ve.Err()
}

func (s *server) handleCreateEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	in, err := decodeEventInput(w, r)
	if err != nil {
		return err
	}
	e, err := s.catalogue.CreateEvent(r.Context(), c, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/events/"+e.ID)
	return writeJSON(w, r, http.StatusCreated, eventOf(e))
}

// handleGetEvent answers the public view of an event from the shared
// cache; the event organizer's members and platform admins (an
// authenticated caller that Catalogue.Sees lets through) get the whole
// event, drafts and hidden tiers included, uncached.
func (s *server) handleGetEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if c.UserID != "" || c.Key != nil {
		sees, err := s.catalogue.Sees(r.Context(), c, id)
		if err != nil {
			return err
		}
		if sees {
			e, err := s.catalogue.Event(r.Context(), c, id)
			if err != nil {
				return err
			}
			return writeJSON(w, r, http.StatusOK, eventOf(e))
		}
	}
	body, err := s.cached(r.Context(), eventKey(id), func() (any, error) {
		e, err := s.catalogue.Event(r.Context(), boxoffice.Caller{}, id)
		if err != nil {
			return nil, err
		}
		return eventOf(e), nil
	})
	if err != nil {
		return err
	}
	writeEncoded(w, r, body)
	return nil
}

func (s *server) handleListEvents(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	q := r.URL.Query()
	eq := boxoffice.EventQuery{
		Query:        q.Get("q"),
		StartsAfter:  timeField(ve, "starts_after", q.Get("starts_after")),
		StartsBefore: timeField(ve, "starts_before", q.Get("starts_before")),
		Limit:        limit,
		Cursor:       cursor,
	}
	switch q.Get("on_sale") {
	case "", "false":
	case "true":
		eq.OnSale = true
	default:
		ve.Add("on_sale", "must be true or false")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	body, err := s.cached(r.Context(), eventListKey(eq), func() (any, error) {
		p, err := s.catalogue.ListEvents(r.Context(), eq)
		if err != nil {
			return nil, err
		}
		return pageOf(mapPage(p, eventOf)), nil
	})
	if err != nil {
		return err
	}
	writeEncoded(w, r, body)
	return nil
}

func (s *server) handleUpdateEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := decodeEventPatch(w, r)
	if err != nil {
		return err
	}
	e, err := s.catalogue.UpdateEvent(r.Context(), c, id, p)
	if err != nil {
		return err
	}
	s.forgetEvent(r.Context(), id)
	return writeJSON(w, r, http.StatusOK, eventOf(e))
}

func (s *server) handlePublishEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	e, err := s.catalogue.PublishEvent(r.Context(), c, id)
	if err != nil {
		return err
	}
	s.forgetEvent(r.Context(), id)
	return writeJSON(w, r, http.StatusOK, eventOf(e))
}

func (s *server) handleDeleteEvent(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.catalogue.DeleteEvent(r.Context(), c, id); err != nil {
		return err
	}
	s.forgetEvent(r.Context(), id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// salesResponse is the answer of GET /api/v1/events/{id}/sales.
type salesResponse struct {
	EventID string          `json:"event_id"`
	Tiers   []tierSalesBody `json:"tiers"`
	Queue   queueCounts     `json:"queue"`
	// Revenue is the event's money per currency: what its orders kept
	// (orders), and the payments taken and refunds owed or made; orders ==
	// paid − refunded, always.
	Revenue []revenueBody `json:"revenue"`
}

type revenueBody struct {
	Currency string `json:"currency"`
	Orders   int64  `json:"orders"`
	Paid     int64  `json:"paid"`
	Refunded int64  `json:"refunded"`
}

// revenueOf lists an event's money per currency, sorted by currency.
func revenueOf(sales *boxoffice.Sales, rev *boxoffice.Revenue) []revenueBody {
	seen := map[string]bool{}
	var cur []string
	for _, m := range []map[string]int64{sales.OrderRevenue, rev.Paid, rev.Refunded} {
		for c := range m {
			if !seen[c] {
				seen[c] = true
				cur = append(cur, c)
			}
		}
	}
	slices.Sort(cur)
	out := make([]revenueBody, 0, len(cur))
	for _, c := range cur {
		out = append(out, revenueBody{Currency: c, Orders: sales.OrderRevenue[c], Paid: rev.Paid[c], Refunded: rev.Refunded[c]})
	}
	return out
}

// queueCounts is the waiting room's part of the sales view.
type queueCounts struct {
	Waiting  int `json:"waiting"`
	Admitted int `json:"admitted"`
}

func (s *server) handleSales(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sales, err := s.catalogue.Sales(r.Context(), c, id)
	if err != nil {
		return err
	}
	rev, err := s.catalogue.Revenue(r.Context(), c, id)
	if err != nil {
		return err
	}
	resp := salesResponse{EventID: sales.EventID, Tiers: []tierSalesBody{}, Revenue: revenueOf(sales, rev)}
	for _, t := range sales.Tiers {
		resp.Tiers = append(resp.Tiers, tierSalesBody(t))
	}
	if s.queue != nil {
		// The inventory is the system of record; without Redis the view
		// still shows it, with zero queue counts and a warning in the log.
		if waiting, admitted, err := s.queue.Counts(r.Context(), id); err == nil {
			resp.Queue = queueCounts{Waiting: waiting, Admitted: admitted}
		} else {
			s.log.Warn("sales view: queue counts unavailable", "event_id", id, "err", err)
		}
	}
	return writeJSON(w, r, http.StatusOK, resp)
}

func (s *server) handleListBookmarks(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ve := &boxoffice.ValidationError{}
	limit, cursor := listParams(ve, r)
	if err := ve.Err(); err != nil {
		return err
	}
	p, err := s.catalogue.ListBookmarks(r.Context(), c, limit, cursor)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, pageOf(mapPage(p, eventOf)))
}

func (s *server) handlePutBookmark(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "event_id")
	if err != nil {
		return err
	}
	if err := s.catalogue.PutBookmark(r.Context(), c, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) handleDeleteBookmark(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "event_id")
	if err != nil {
		return err
	}
	if err := s.catalogue.DeleteBookmark(r.Context(), c, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cacheTTL bounds how stale a cached event or list page may be: the
// availability shown to clients lags the truth by at most this.
const cacheTTL = time.Second

// eventKey is the read cache's key of an event's encoding.
func eventKey(id string) string { return "ev:" + id }

// eventListKey is the read cache's key of one page of the catalogue.
func eventListKey(q boxoffice.EventQuery) string {
	var k strings.Builder
	k.WriteString("evl:")
	for _, part := range []string{q.Query, fmtTime(q.StartsAfter), fmtTime(q.StartsBefore), strconv.FormatBool(q.OnSale), strconv.Itoa(q.Limit), q.Cursor} {
		k.WriteString(strconv.Quote(part))
	}
	return k.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// cached returns the JSON encoding of load's result (with a final newline)
// from the read cache, or loads, encodes and caches it. Errors are not
// cached.
func (s *server) cached(ctx context.Context, key string, load func() (any, error)) ([]byte, error) {
	if s.cache != nil {
		if b, ok := s.cache.Get(ctx, key); ok {
			return b, nil
		}
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.Set(ctx, key, b, cacheTTL)
	}
	return b, nil
}

// forgetEvent drops the cached encoding of an event after a write. Cached
// list pages are not tracked by event; they expire within cacheTTL.
func (s *server) forgetEvent(ctx context.Context, id string) {
	if s.cache != nil {
		s.cache.Delete(ctx, eventKey(id))
	}
}
