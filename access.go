package boxoffice

import (
	"context"
)

// This file is who may do what to an organizer's things: one place that
// every aggregate asks before it touches an event's back office (sales,
// attendees, refunds, the door) or an organizer's settings (members,
// webhooks, API keys, the audit log).

// DefaultOrganizerID is the organizer of events created without one (the
// platform admin's events, and every event made before organizers).
const DefaultOrganizerID = "00000000000000000000000000"

// OrganizerOf returns the event's organizer.
func (e *Event) OrganizerOf() string {
	if e.OrganizerID == "" {
		return DefaultOrganizerID
	}
	return e.OrganizerID
}

// Action is something done to an organizer's things.
type Action string

// The actions access is decided for.
const (
	ActionManageEvent    Action = "event.manage"   // edit, publish, cancel, delete events; tiers
	ActionViewSales      Action = "sales.view"     // sales, revenue, orders of the event
	ActionViewAttendees  Action = "attendees.view" // the attendee list and its export
	ActionRefund         Action = "orders.refund"  // refund any order of the event
	ActionScan           Action = "door.scan"      // scan, download the check-in bundle, read gate counts
	ActionSuperviseDoor  Action = "door.supervise" // undo check-ins, gates, conflicts, door staff
	ActionManageMembers  Action = "members.manage"
	ActionManageWebhooks Action = "webhooks.manage"
	ActionManageAPIKeys  Action = "apikeys.manage"
	ActionViewAudit      Action = "audit.view"
)

// Access decides what callers may do. It is safe for concurrent use.
type Access struct {
	store  Store
	events *eventCache
	staff  *staffCache
}

// Event returns the event when the caller may do act to it. It returns
// ErrNotFound for an unknown event, and ErrForbidden when the caller may
// not.
func (a *Access) Event(ctx context.Context, c Caller, eventID string, act Action) (*Event, error) {
	if !ValidID(eventID) {
		return nil, ErrNotFound
	}
	e, err := a.events.load(ctx, a.store, eventID)
	if err != nil {
		return nil, err
	}
	if c.IsAdmin() {
		return e, nil
	}
	switch act {
	case ActionScan, ActionSuperviseDoor:
		role, err := a.staff.get(ctx, a.store, eventID, c.UserID)
		if err != nil {
			return nil, err
		}
		need := DoorScan
		if act == ActionSuperviseDoor {
			need = DoorSupervise
		}
		if c.Door(role) >= need {
			return e, nil
		}
	}
	return nil, ErrForbidden
}

// Organizer reports whether the caller may do act to an organizer's
// settings: nil, ErrNotFound for an unknown organizer, or ErrForbidden.
func (a *Access) Organizer(ctx context.Context, c Caller, organizerID string, act Action) error {
	if !ValidID(organizerID) {
		return ErrNotFound
	}
	if c.IsAdmin() {
		return nil
	}
	return ErrForbidden
}
