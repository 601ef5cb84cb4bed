package boxoffice_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

func TestSlugify(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Jazz Club", "jazz-club"},
		{"  Rock & Roll -- Nights!  ", "rock-roll-nights"},
		{"Café Müller 2026", "caf-m-ller-2026"},
		{"!!!", "organizer"},
		{"", "organizer"},
		{"a very long name that goes on and on and on and on beyond sixty characters", "a-very-long-name-that-goes-on-and-on-and-on-and-on-beyond-si"},
	} {
		got := boxoffice.Slugify(tc.name)
		if got != tc.want {
			t.Errorf("Slugify(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if !boxoffice.ValidSlug(got) {
			t.Errorf("Slugify(%q) = %q, which is no valid slug", tc.name, got)
		}
	}
}

func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		slug string
		want bool
	}{
		{"jazz", true}, {"jazz-club-2", true}, {"a", true},
		{"", false}, {"-jazz", false}, {"jazz-", false}, {"jazz--club", false}, {"Jazz", false}, {"jazz_club", false},
		{"ü", false}, {strings.Repeat("a", 61), false}, {strings.Repeat("a", 60), true},
	} {
		if got := boxoffice.ValidSlug(tc.slug); got != tc.want {
			t.Errorf("ValidSlug(%q) = %v, want %v", tc.slug, got, tc.want)
		}
	}
}

// TestRoleActions is the roles table as the issue states it.
func TestRoleActions(t *testing.T) {
	all := []boxoffice.Action{boxoffice.ActionView, boxoffice.ActionManageEvent, boxoffice.ActionViewSales,
		boxoffice.ActionViewAttendees, boxoffice.ActionRefund, boxoffice.ActionScan, boxoffice.ActionSuperviseDoor,
		boxoffice.ActionManageMembers, boxoffice.ActionManageWebhooks, boxoffice.ActionManageAPIKeys, boxoffice.ActionViewAudit}
	allows := map[boxoffice.MemberRole][]boxoffice.Action{
		boxoffice.RoleOwner: all,
		boxoffice.RoleManager: {boxoffice.ActionView, boxoffice.ActionManageEvent, boxoffice.ActionViewSales,
			boxoffice.ActionViewAttendees, boxoffice.ActionRefund, boxoffice.ActionScan, boxoffice.ActionSuperviseDoor,
			boxoffice.ActionManageWebhooks},
		boxoffice.RoleStaff:   {boxoffice.ActionView, boxoffice.ActionViewSales, boxoffice.ActionViewAttendees, boxoffice.ActionScan},
		boxoffice.RoleScanner: {boxoffice.ActionView, boxoffice.ActionScan},
		"":                    nil,
		"admin":               nil,
	}
	for role, want := range allows {
		for _, act := range all {
			allowed := false
			for _, w := range want {
				allowed = allowed || w == act
			}
			if got := role.Can(act); got != allowed {
				t.Errorf("%q.Can(%s) = %v, want %v", role, act, got, allowed)
			}
		}
	}
}

func TestChangeMemberStep(t *testing.T) {
	owner := &boxoffice.Member{Role: boxoffice.RoleOwner}
	staff := &boxoffice.Member{Role: boxoffice.RoleStaff}
	manager := &boxoffice.Member{Role: boxoffice.RoleManager}
	for _, tc := range []struct {
		name      string
		cur       *boxoffice.Member
		owners    int
		next      *boxoffice.Member
		wantError error
	}{
		{"add", nil, 1, staff, nil},
		{"promote to owner", staff, 1, owner, nil},
		{"demote one of two owners", owner, 2, manager, nil},
		{"remove one of two owners", owner, 2, nil, nil},
		{"demote the last owner", owner, 1, manager, boxoffice.ErrLastOwner},
		{"remove the last owner", owner, 1, nil, boxoffice.ErrLastOwner},
		{"keep the last owner an owner", owner, 1, owner, nil},
		{"remove a non-member", nil, 1, nil, boxoffice.ErrNotFound},
		{"remove staff", staff, 1, nil, nil},
	} {
		err := boxoffice.ChangeMemberStep(tc.cur, tc.owners, tc.next)
		if !errors.Is(err, tc.wantError) || (err == nil) != (tc.wantError == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantError)
		}
	}
	if boxoffice.CodeOf(boxoffice.ErrLastOwner) != boxoffice.CodeInvalidState {
		t.Errorf("ErrLastOwner's code: %s, want invalid_state", boxoffice.CodeOf(boxoffice.ErrLastOwner))
	}
}

func TestEventTransitions(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	event := func(status boxoffice.EventStatus, startsIn time.Duration, tiers ...boxoffice.Tier) *boxoffice.Event {
		if tiers == nil {
			tiers = []boxoffice.Tier{{Name: "GA", Capacity: 10}}
		}
		return &boxoffice.Event{Status: status, StartsAt: now.Add(startsIn), SalesEndAt: now.Add(startsIn - time.Hour), Tiers: tiers}
	}
	const (
		ok        = ""
		invalid   = boxoffice.CodeInvalidState
		needsMore = boxoffice.CodeValidationFailed
	)
	for _, tc := range []struct {
		name string
		e    *boxoffice.Event
		to   boxoffice.EventStatus
		want boxoffice.Code
	}{
		{"publish a draft", event(boxoffice.EventDraft, 48*time.Hour), boxoffice.EventPublished, ok},
		{"publish a draft whose sales ended", event(boxoffice.EventDraft, 30*time.Minute), boxoffice.EventPublished, needsMore},
		{"publish a draft without tiers", event(boxoffice.EventDraft, 48*time.Hour, []boxoffice.Tier{}...), boxoffice.EventPublished, needsMore},
		{"publish a draft of hidden and closed tiers", event(boxoffice.EventDraft, 48*time.Hour,
			boxoffice.Tier{Hidden: true}, boxoffice.Tier{Closed: true}), boxoffice.EventPublished, needsMore},
		{"publish twice", event(boxoffice.EventPublished, 48*time.Hour), boxoffice.EventPublished, invalid},
		{"back to draft", event(boxoffice.EventPublished, 48*time.Hour), boxoffice.EventDraft, invalid},
		{"an event before statuses is published", event("", 48*time.Hour), boxoffice.EventDraft, invalid},
		{"cancel a draft", event(boxoffice.EventDraft, 48*time.Hour), boxoffice.EventCancelled, ok},
		{"cancel a published event", event(boxoffice.EventPublished, 48*time.Hour), boxoffice.EventCancelled, ok},
		{"cancel twice", event(boxoffice.EventCancelled, 48*time.Hour), boxoffice.EventCancelled, invalid},
		{"archive before the end", event(boxoffice.EventPublished, 48*time.Hour), boxoffice.EventArchived, invalid},
		{"archive after the end", event(boxoffice.EventPublished, -48*time.Hour), boxoffice.EventArchived, ok},
		{"archive a cancelled event after the end", event(boxoffice.EventCancelled, -48*time.Hour), boxoffice.EventArchived, ok},
		{"archive a draft", event(boxoffice.EventDraft, -48*time.Hour), boxoffice.EventArchived, invalid},
		{"revive an archived event", event(boxoffice.EventArchived, -48*time.Hour), boxoffice.EventPublished, invalid},
	} {
		err := tc.e.Transition(tc.to, now)
		if got := boxoffice.CodeOf(err); err == nil && tc.want != ok || err != nil && got != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
