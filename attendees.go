package boxoffice

import (
	"cmp"
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is an event's attendee list: every ticket the event issued,
// with who holds it and who bought it, for the organizer's back office, as
// pages of JSON and as a CSV export.
//
// The list shows every ticket of the event, void ones included with their
// status (a refunded ticket is part of the event's history; the status
// filter leaves them out). It is ordered by ticket ID, so a page's cost
// does not grow with its depth.
//
// Search (q) matches:
//
//   - a ticket ID or an order ID exactly (q is a well-formed ID, in any
//     letter case);
//   - otherwise the start of the attendee name or of the buyer's email
//     (the order's email, else the buyer's account email), ignoring letter
//     case (MariaDB also ignores accents; SQLite folds ASCII letters only):
//     "ali" finds "Alice Smith" and "ALINA@example.com", not "Natalia".
//     Prefixes, not substrings, so that a store need not read every
//     ticket of a large event to answer a page.

// EventAttendee is one ticket of an event as the attendee list shows it.
type EventAttendee struct {
	TicketID     string
	AttendeeName string
	TierID       string
	// TierName is the tier's name when the list was read ("" for a tier
	// the event no longer has).
	TierName string
	Status   TicketStatus
	// CheckedInAt and Gate are the check-in of a used ticket.
	CheckedInAt *time.Time
	Gate        string
	OrderID     string
	// BuyerEmail is the order's email, else the buyer's account email;
	// BuyerName the buyer's account name.
	BuyerEmail string
	BuyerName  string
	IssuedAt   time.Time
}

// AttendeeFilter selects an event's attendees for Store.Attendees, in
// ticket ID order.
type AttendeeFilter struct {
	EventID string
	// Status, when set, keeps only tickets in that state.
	Status TicketStatus
	// ID, when set, keeps only the ticket with that ID and the tickets of
	// the order with that ID.
	ID string
	// Prefix, when set, keeps only tickets whose attendee name or buyer's
	// email starts with it, ignoring letter case. It is lower case.
	Prefix string
	// AfterID is the keyset cursor: only ticket IDs > AfterID ("" = from
	// the first).
	AfterID string
	Limit   int
}

// AttendeeQuery is the input of Tickets.Attendees and ExportAttendees as
// clients send it.
type AttendeeQuery struct {
	Query  string
	Status TicketStatus // "" = all
	Limit  int          // 0 = DefaultLimit; ignored by the export
	Cursor string
}

// MaxAttendeeQuery bounds the length of q, in characters.
const MaxAttendeeQuery = 100

// ExportPageSize is how many attendees the export reads from the store at a
// time by default (ServiceConfig.ExportPageSize): its memory is bounded by
// one page, however large the event.
const ExportPageSize = 5000

// attendeeFilter checks q and turns it into a filter (without Limit).
func attendeeFilter(eventID string, q AttendeeQuery) (AttendeeFilter, error) {
	var v ValidationError
	f := AttendeeFilter{EventID: eventID, Status: q.Status}
	switch q.Status {
	case "", TicketValid, TicketUsed, TicketVoid:
	default:
		v.Add("status", "must be valid, used or void")
	}
	text := strings.TrimSpace(q.Query)
	switch {
	case utf8.RuneCountInString(text) > MaxAttendeeQuery || !utf8.ValidString(text):
		v.Add("q", "must be valid text of at most %d characters", MaxAttendeeQuery)
	case hasControl(text, false):
		v.Add("q", "must not contain control characters")
	case ValidID(strings.ToUpper(text)):
		f.ID = strings.ToUpper(text)
	default:
		f.Prefix = strings.ToLower(text)
	}
	if q.Cursor != "" {
		id, ok := decodeIDCursor(q.Cursor)
		if !ok {
			return f, badCursor()
		}
		f.AfterID = id
	}
	return f, v.Err()
}

// Attendees returns a page of an event's attendee list (see the top of
// this file for what it shows and what q matches) to those who may view
// it (ActionViewAttendees). It returns ErrNotFound, ErrForbidden or a
// *ValidationError.
func (s *Tickets) Attendees(ctx context.Context, c Caller, eventID string, q AttendeeQuery) (Page[*EventAttendee], error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page[*EventAttendee]{}, err
	}
	f, err := attendeeFilter(eventID, q)
	if err != nil {
		return Page[*EventAttendee]{}, err
	}
	e, err := s.access.Event(ctx, c, eventID, ActionViewAttendees)
	if err != nil {
		return Page[*EventAttendee]{}, err
	}
	f.Limit = limit + 1
	items, err := s.store.Attendees(ctx, f)
	if err != nil {
		return Page[*EventAttendee]{}, err
	}
	nameTiers(e, items)
	p := Page[*EventAttendee]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeIDCursor(p.Items[limit-1].TicketID)
	}
	return p, nil
}

// nameTiers fills in the tier names from the event.
func nameTiers(e *Event, as []*EventAttendee) {
	for _, a := range as {
		for i := range e.Tiers {
			if e.Tiers[i].ID == a.TierID {
				a.TierName = e.Tiers[i].Name
				break
			}
		}
	}
}

// AttendeeExport is the attendee list of one event read page by page for
// an export: its memory is one page (ExportPageSize) however large the
// event. It reads the list as it is when each page is read, not as one
// snapshot: a ticket that changes during the export shows as it was when
// its page was read.
type AttendeeExport struct {
	store Store
	event *Event
	f     AttendeeFilter
	first []*EventAttendee
	done  bool
}

// ExportAttendees starts an export of an event's attendee list (all of it,
// or those matching q's search and status; q's Limit and Cursor are
// ignored) for those who may view it. It checks access and reads the first
// page, so that every failure it can foresee comes before the first byte
// of the export: ErrNotFound, ErrForbidden or a *ValidationError.
func (s *Tickets) ExportAttendees(ctx context.Context, c Caller, eventID string, q AttendeeQuery) (*AttendeeExport, error) {
	q.Cursor = ""
	f, err := attendeeFilter(eventID, q)
	if err != nil {
		return nil, err
	}
	e, err := s.access.Event(ctx, c, eventID, ActionViewAttendees)
	if err != nil {
		return nil, err
	}
	f.Limit = cmp.Or(s.exportPage, ExportPageSize)
	x := &AttendeeExport{store: s.store, event: e, f: f}
	if x.first, err = x.read(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// EventID returns the exported event's ID.
func (x *AttendeeExport) EventID() string { return x.event.ID }

// Next returns the next page of the export, or nil when there is no more.
func (x *AttendeeExport) Next(ctx context.Context) ([]*EventAttendee, error) {
	if x.first != nil {
		p := x.first
		x.first = nil
		return p, nil
	}
	if x.done {
		return nil, nil
	}
	return x.read(ctx)
}

func (x *AttendeeExport) read(ctx context.Context) ([]*EventAttendee, error) {
	page, err := x.store.Attendees(ctx, x.f)
	if err != nil {
		return nil, err
	}
	if len(page) < x.f.Limit {
		x.done = true
	}
	if len(page) > 0 {
		x.f.AfterID = page[len(page)-1].TicketID
	}
	nameTiers(x.event, page)
	if len(page) == 0 {
		return nil, nil
	}
	return page, nil
}

// AttendeeCSVHeader is the header row of the attendee export.
var AttendeeCSVHeader = []string{
	"ticket_id", "attendee_name", "tier_id", "tier_name", "status", "checked_in_at", "gate",
	"order_id", "buyer_email", "buyer_name", "issued_at",
}

// CSVRecord appends the attendee's row of the export (the columns of
// AttendeeCSVHeader) to rec[:0] and returns it. Times are RFC 3339 in UTC;
// every cell is safe for spreadsheets (SafeCSVCell).
func (a *EventAttendee) CSVRecord(rec []string) []string {
	checkedIn := ""
	if a.CheckedInAt != nil {
		checkedIn = a.CheckedInAt.UTC().Format(time.RFC3339Nano)
	}
	rec = append(rec[:0], a.TicketID, a.AttendeeName, a.TierID, a.TierName, string(a.Status), checkedIn, a.Gate,
		a.OrderID, a.BuyerEmail, a.BuyerName, a.IssuedAt.UTC().Format(time.RFC3339Nano))
	for i, cell := range rec {
		rec[i] = SafeCSVCell(cell)
	}
	return rec
}

// SafeCSVCell protects a cell of an export from formula injection: a
// spreadsheet runs a cell that starts with =, +, -, @, a tab or a carriage
// return as a formula, so such a cell gets a leading apostrophe, which
// spreadsheets show as text.
func SafeCSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
