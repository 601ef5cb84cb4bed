package boxoffice

import (
	"context"
	"errors"
	"strings"
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
	ActionView           Action = "organizer.view" // see the organizer and its events, drafts included
	ActionManageEvent    Action = "event.manage"   // create, edit, publish, cancel, delete events; tiers
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
//
// The platform admin may do everything everywhere. Anyone else is asked
// for their role in the team of the thing's organizer (roleActions; an API
// key carries its own role for its own organizer): a caller who is not a
// member gets ErrNotFound, never learning that another organizer's things
// exist; a member whose role does not allow the action gets ErrForbidden.
// At the door, an event's door staff (door.go) pass as well.
type Access struct {
	store   Store
	events  *eventCache
	staff   *staffCache
	members *memberCache
	apiKeys *apiKeyCache
}

func newAccess(store Store, events *eventCache, staff *staffCache) *Access {
	return &Access{store: store, events: events, staff: staff, members: &memberCache{}, apiKeys: &apiKeyCache{}}
}

// Event returns the event when the caller may do act to it. It returns
// ErrNotFound for an unknown event or one of an organizer the caller is
// not a member of, and ErrForbidden when the caller's role does not allow
// act.
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
	role, err := a.role(ctx, c, e.OrganizerOf())
	if err != nil {
		return nil, err
	}
	if role.Can(act) {
		return e, nil
	}
	if (act == ActionScan || act == ActionSuperviseDoor) && c.Key == nil && c.UserID != "" {
		door, err := a.staff.get(ctx, a.store, eventID, c.UserID)
		if err != nil {
			return nil, err
		}
		need := DoorScan
		if act == ActionSuperviseDoor {
			need = DoorSupervise
		}
		if c.Door(door) >= need {
			return e, nil
		}
		if door != "" {
			return nil, ErrForbidden // the door staff know the event
		}
	}
	if role == "" {
		return nil, ErrNotFound
	}
	return nil, ErrForbidden
}

// Sees reports whether the caller may see the event as its organizer does
// (drafts and hidden tiers): platform admins and the organizer's members.
func (a *Access) Sees(ctx context.Context, c Caller, e *Event) (bool, error) {
	if c.IsAdmin() {
		return true, nil
	}
	if c.UserID == "" && c.Key == nil {
		return false, nil
	}
	role, err := a.role(ctx, c, e.OrganizerOf())
	return role.Can(ActionView), err
}

// Organizer reports whether the caller may do act to an organizer's
// settings: nil, ErrNotFound for an unknown organizer or one the caller is
// not a member of, or ErrForbidden.
func (a *Access) Organizer(ctx context.Context, c Caller, organizerID string, act Action) error {
	if !ValidID(organizerID) {
		return ErrNotFound
	}
	if c.IsAdmin() {
		_, err := a.store.Organizer(ctx, organizerID)
		return err
	}
	role, err := a.role(ctx, c, organizerID)
	switch {
	case err != nil:
		return err
	case role == "":
		return ErrNotFound
	case !role.Can(act):
		return ErrForbidden
	}
	return nil
}

// role returns the caller's role in the organizer's team ("" for none).
func (a *Access) role(ctx context.Context, c Caller, organizerID string) (MemberRole, error) {
	if c.Key != nil {
		if c.Key.OrganizerID == organizerID {
			return c.Key.Role, nil
		}
		return "", nil
	}
	if c.UserID == "" {
		return "", nil
	}
	return a.members.get(ctx, a.store, organizerID, c.UserID)
}

func (a *Access) forgetMember(organizerID, userID string) { a.members.forget(organizerID, userID) }

// keyCaller returns the caller an API key's secret stands for.
func (a *Access) keyCaller(ctx context.Context, secret string) (Caller, error) {
	if len(secret) != apiKeySecretLen || !strings.HasPrefix(secret, APIKeyPrefix) {
		return Caller{}, ErrUnauthenticated
	}
	hash := hashAPIKey(secret)
	k, err := a.apiKeys.load(string(hash), func() (*APIKey, error) {
		k, err := a.store.APIKeyByHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return k, err
	})
	if err != nil {
		return Caller{}, err
	}
	if k == nil {
		return Caller{}, ErrUnauthenticated
	}
	return Caller{Key: &KeyGrant{KeyID: k.ID, OrganizerID: k.OrganizerID, Role: k.Role}}, nil
}

// memberCache keeps team roles for doorCacheTTL, like the door staff's.
type memberCache struct{ ttlCache[MemberRole] }

func (c *memberCache) get(ctx context.Context, store Store, organizerID, userID string) (MemberRole, error) {
	return c.load(organizerID+"/"+userID, func() (MemberRole, error) { return store.MemberRole(ctx, organizerID, userID) })
}

func (c *memberCache) forget(organizerID, userID string) {
	c.ttlCache.forget(organizerID + "/" + userID)
}

// apiKeyCache keeps API keys by the hash of their secret (nil: no such
// key) for doorCacheTTL: a revoked key stops working on every instance
// within it.
type apiKeyCache struct{ ttlCache[*APIKey] }

func (c *apiKeyCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
