package boxoffice

import "time"

// This file is the event life cycle, the one place that says which state
// an event may move to and when:
//
//	draft     → published  PublishEvent, once the event can sell (CheckPublish)
//	draft     → cancelled  dropped before it was ever shown
//	published → cancelled  called off: CancelEvent refunds its buyers (cancel.go)
//	published → archived   after the event ended
//	cancelled → archived   after the event ended
//
// A published event never goes back to draft; archived is final. Only
// published events are shown to the public and sell: a draft is unknown
// (404) to everyone but its organizer's members, a cancelled or archived
// event is shown but sells nothing.

// EventStatus is where an event is in its life cycle.
type EventStatus string

// The event states.
const (
	EventDraft     EventStatus = "draft"
	EventPublished EventStatus = "published"
	EventCancelled EventStatus = "cancelled"
	EventArchived  EventStatus = "archived"
)

// Valid reports whether s is one of the four states.
func (s EventStatus) Valid() bool {
	switch s {
	case EventDraft, EventPublished, EventCancelled, EventArchived:
		return true
	}
	return false
}

// StatusOf returns the event's status ("" reads as EventPublished: events
// from before the life cycle).
func (e *Event) StatusOf() EventStatus {
	if e.Status == "" {
		return EventPublished
	}
	return e.Status
}

// Public reports whether the public may see the event: every state but
// draft.
func (e *Event) Public() bool { return e.StatusOf() != EventDraft }

// Selling reports whether the event sells tickets at all (published); its
// sales window and tiers decide the rest.
func (e *Event) Selling() bool { return e.StatusOf() == EventPublished }

// Ended reports whether the event is over at now: after EndsAt, or after
// StartsAt when it has no end.
func (e *Event) Ended(now time.Time) bool {
	if e.EndsAt != nil {
		return now.After(*e.EndsAt)
	}
	return now.After(e.StartsAt)
}

// Transition checks that e may move to status to at now. It returns nil,
// a *ValidationError when a draft cannot be published yet (CheckPublish),
// or an *Error with CodeInvalidState.
func (e *Event) Transition(to EventStatus, now time.Time) error {
	from := e.StatusOf()
	switch {
	case from == EventDraft && to == EventPublished:
		return CheckPublish(e, now)
	case from == EventDraft && to == EventCancelled,
		from == EventPublished && to == EventCancelled:
		return nil
	case (from == EventPublished || from == EventCancelled) && to == EventArchived:
		if !e.Ended(now) {
			return Errorf(CodeInvalidState, "an event is archived only after it ended")
		}
		return nil
	}
	return Errorf(CodeInvalidState, "a %s event cannot become %s", from, to)
}

// CheckPublish reports what keeps a draft from selling: it needs at least
// one tier the public may buy (neither hidden nor closed), and a sales
// window that ends in the future.
func CheckPublish(e *Event, now time.Time) error {
	var v ValidationError
	open := false
	for i := range e.Tiers {
		if e.Tiers[i].Sellable() {
			open = true
		}
	}
	if !open {
		v.Add("tiers", "at least one tier must be neither hidden nor closed")
	}
	if !e.SalesEndAt.After(now) {
		v.Add("sales_end_at", "must be in the future to publish")
	}
	return v.Err()
}

// publicView returns the event as the public sees it: without its hidden
// tiers. e is not changed (it may be shared by a cache).
func publicView(e *Event) *Event {
	hidden := false
	for i := range e.Tiers {
		if e.Tiers[i].Hidden {
			hidden = true
			break
		}
	}
	if !hidden {
		return e
	}
	c := *e
	c.Tiers = make([]Tier, 0, len(e.Tiers))
	for _, t := range e.Tiers {
		if !t.Hidden {
			c.Tiers = append(c.Tiers, t)
		}
	}
	return &c
}
