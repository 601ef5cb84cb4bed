package storetest

import (
	"cmp"
	"errors"
	"slices"
	"testing"
	"time"

	"boxoffice"
)

// runOrganizers tests organizers, their teams and API keys, and the event
// life cycle's columns.
func runOrganizers(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("Organizers", func(t *testing.T) { testOrganizers(t, open(t)) })
	t.Run("Members", func(t *testing.T) { testMembers(t, open(t)) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open(t)) })
	t.Run("EventStatusAndTierFlags", func(t *testing.T) { testEventStatus(t, open(t)) })
	t.Run("ListEventsByStatus", func(t *testing.T) { testListEventsByStatus(t, open(t)) })
	t.Run("OrganizerEvents", func(t *testing.T) { testOrganizerEvents(t, open(t)) })
}

func newOrganizer(t *testing.T, s boxoffice.Store, slug string) (*boxoffice.Organizer, *boxoffice.Member) {
	t.Helper()
	u := createUser(t, s)
	at := now()
	o := &boxoffice.Organizer{ID: boxoffice.NewID(), Name: "Org " + slug, Slug: slug, CreatedAt: at}
	m := &boxoffice.Member{OrganizerID: o.ID, UserID: u.ID, Role: boxoffice.RoleOwner, AddedAt: at}
	must(t, "CreateOrganizer", s.CreateOrganizer(t.Context(), o, m))
	return o, m
}

func testOrganizers(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	def, err := s.Organizer(ctx, boxoffice.DefaultOrganizerID)
	must(t, "Organizer(default)", err)
	if def.Name != boxoffice.DefaultOrganizerName {
		t.Errorf("default organizer's name: %q, want %q", def.Name, boxoffice.DefaultOrganizerName)
	}
	o, m := newOrganizer(t, s, "jazz-club")
	got, err := s.Organizer(ctx, o.ID)
	must(t, "Organizer", err)
	diff(t, "Organizer", o, got)
	role, err := s.MemberRole(ctx, o.ID, m.UserID)
	must(t, "MemberRole(owner)", err)
	if role != boxoffice.RoleOwner {
		t.Errorf("the creator's role: %q, want owner", role)
	}
	wantErr(t, "Organizer(unknown)", func() error { _, err := s.Organizer(ctx, boxoffice.NewID()); return err }(), boxoffice.ErrNotFound)

	dup := &boxoffice.Organizer{ID: boxoffice.NewID(), Name: "Other", Slug: "jazz-club", CreatedAt: now()}
	owner := &boxoffice.Member{OrganizerID: dup.ID, UserID: createUser(t, s).ID, Role: boxoffice.RoleOwner, AddedAt: now()}
	wantErr(t, "CreateOrganizer(same slug)", s.CreateOrganizer(ctx, dup, owner), boxoffice.ErrSlugTaken)
	role, err = s.MemberRole(ctx, dup.ID, owner.UserID)
	must(t, "MemberRole(refused organizer)", err)
	if role != "" {
		t.Errorf("the owner of a refused organizer was kept: %q", role)
	}
}

func testMembers(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	o, owner := newOrganizer(t, s, "members")
	other, _ := newOrganizer(t, s, "other")
	u := createUser(t, s)
	at := now().Add(time.Second)

	put := func(userID string, role boxoffice.MemberRole) (*boxoffice.Member, error) {
		return s.UpdateMember(ctx, o.ID, userID, func(cur *boxoffice.Member, owners int) (*boxoffice.Member, error) {
			return &boxoffice.Member{Role: role, AddedAt: at}, nil
		})
	}
	m, err := put(u.ID, boxoffice.RoleStaff)
	must(t, "UpdateMember(add)", err)
	diff(t, "UpdateMember(add)", &boxoffice.Member{OrganizerID: o.ID, UserID: u.ID, Role: boxoffice.RoleStaff, AddedAt: at}, m)
	var seen *boxoffice.Member
	var owners int
	_, err = s.UpdateMember(ctx, o.ID, u.ID, func(cur *boxoffice.Member, n int) (*boxoffice.Member, error) {
		seen, owners = cur, n
		return &boxoffice.Member{Role: boxoffice.RoleManager, AddedAt: at}, nil
	})
	must(t, "UpdateMember(change)", err)
	diff(t, "UpdateMember's current member", m, seen)
	if owners != 1 {
		t.Errorf("owners: %d, want 1", owners)
	}
	_, err = s.UpdateMember(ctx, other.ID, u.ID, func(*boxoffice.Member, int) (*boxoffice.Member, error) {
		return &boxoffice.Member{Role: boxoffice.RoleScanner, AddedAt: at}, nil
	})
	must(t, "UpdateMember(second organizer)", err)

	list, err := s.ListMembers(ctx, o.ID)
	must(t, "ListMembers", err)
	want := []*boxoffice.Member{owner, {OrganizerID: o.ID, UserID: u.ID, Role: boxoffice.RoleManager, AddedAt: at}}
	slices.SortFunc(want, func(a, b *boxoffice.Member) int { return cmp.Compare(a.UserID, b.UserID) })
	diff(t, "ListMembers", want, list)
	mine, err := s.UserOrganizers(ctx, u.ID)
	must(t, "UserOrganizers", err)
	ids := []string{}
	for _, m := range mine {
		ids = append(ids, m.OrganizerID)
	}
	wantIDs := []string{o.ID, other.ID}
	slices.Sort(wantIDs)
	diff(t, "UserOrganizers", wantIDs, ids)

	refused := errors.New("refused")
	_, err = s.UpdateMember(ctx, o.ID, u.ID, func(*boxoffice.Member, int) (*boxoffice.Member, error) { return nil, refused })
	wantErr(t, "UpdateMember(decide fails)", err, refused)
	role, err := s.MemberRole(ctx, o.ID, u.ID)
	must(t, "MemberRole", err)
	if role != boxoffice.RoleManager {
		t.Errorf("a refused change was written: %q", role)
	}

	gone, err := s.UpdateMember(ctx, o.ID, u.ID, func(*boxoffice.Member, int) (*boxoffice.Member, error) { return nil, nil })
	must(t, "UpdateMember(remove)", err)
	if gone != nil {
		t.Errorf("UpdateMember(remove) returned %+v", gone)
	}
	role, err = s.MemberRole(ctx, o.ID, u.ID)
	must(t, "MemberRole(removed)", err)
	if role != "" {
		t.Errorf("removed member's role: %q", role)
	}
	_, err = s.UpdateMember(ctx, boxoffice.NewID(), u.ID, func(*boxoffice.Member, int) (*boxoffice.Member, error) {
		t.Error("decide called for an unknown organizer")
		return nil, nil
	})
	wantErr(t, "UpdateMember(unknown organizer)", err, boxoffice.ErrNotFound)
}

func testAPIKeys(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	o, owner := newOrganizer(t, s, "keys")
	at := now()
	a := &boxoffice.APIKey{ID: boxoffice.NewID(), OrganizerID: o.ID, Name: "box office", Role: boxoffice.RoleStaff,
		Hash: make([]byte, 32), CreatedBy: owner.UserID, CreatedAt: at}
	a.Hash[0] = 1
	b := &boxoffice.APIKey{ID: boxoffice.NewID(), OrganizerID: o.ID, Name: "gates", Role: boxoffice.RoleScanner,
		Hash: make([]byte, 32), CreatedAt: at}
	b.Hash[0] = 2
	must(t, "CreateAPIKey(a)", s.CreateAPIKey(ctx, a))
	must(t, "CreateAPIKey(b)", s.CreateAPIKey(ctx, b))
	got, err := s.APIKeyByHash(ctx, b.Hash)
	must(t, "APIKeyByHash", err)
	diff(t, "APIKeyByHash", b, got)
	list, err := s.ListAPIKeys(ctx, o.ID)
	must(t, "ListAPIKeys", err)
	diff(t, "ListAPIKeys", []*boxoffice.APIKey{a, b}, list)

	other, _ := newOrganizer(t, s, "keys-other")
	wantErr(t, "DeleteAPIKey(other organizer's)", s.DeleteAPIKey(ctx, other.ID, a.ID), boxoffice.ErrNotFound)
	must(t, "DeleteAPIKey", s.DeleteAPIKey(ctx, o.ID, a.ID))
	wantErr(t, "DeleteAPIKey(again)", s.DeleteAPIKey(ctx, o.ID, a.ID), boxoffice.ErrNotFound)
	_, err = s.APIKeyByHash(ctx, a.Hash)
	wantErr(t, "APIKeyByHash(revoked)", err, boxoffice.ErrNotFound)
	none, err := s.ListAPIKeys(ctx, other.ID)
	must(t, "ListAPIKeys(none)", err)
	if len(none) != 0 {
		t.Errorf("ListAPIKeys of an organizer without keys: %d", len(none))
	}
}

func testEventStatus(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	o, _ := newOrganizer(t, s, "status")
	e := newEvent(10, 20)
	e.OrganizerID, e.Status = o.ID, boxoffice.EventDraft
	e.Tiers[0].Hidden, e.Tiers[1].Closed = true, true
	must(t, "CreateEvent", s.CreateEvent(ctx, e))
	got, err := s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "Event(draft, flags)", e, got)

	up, err := s.UpdateEvent(ctx, e.ID, func(e *boxoffice.Event) error {
		e.Status = boxoffice.EventPublished
		e.Tiers[0].Hidden, e.Tiers[1].Closed = false, false
		e.OrganizerID = boxoffice.NewID() // the organizer never changes
		return nil
	})
	must(t, "UpdateEvent", err)
	got, err = s.Event(ctx, e.ID)
	must(t, "Event", err)
	diff(t, "UpdateEvent's result", got, up)
	if got.Status != boxoffice.EventPublished || got.OrganizerID != o.ID || got.Tiers[0].Hidden || got.Tiers[1].Closed {
		t.Errorf("after UpdateEvent: status %q, organizer %q, tiers %+v", got.Status, got.OrganizerID, got.Tiers)
	}

	old := newEvent(5)
	old.OrganizerID, old.Status = "", ""
	must(t, "CreateEvent(no organizer, no status)", s.CreateEvent(ctx, old))
	got, err = s.Event(ctx, old.ID)
	must(t, "Event", err)
	if got.OrganizerID != boxoffice.DefaultOrganizerID || got.Status != boxoffice.EventPublished {
		t.Errorf("an event without organizer and status is stored as %q, %q", got.OrganizerID, got.Status)
	}
}

func testListEventsByStatus(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	base := now().Add(time.Hour)
	var published, drafts []string
	for i := range 12 {
		e := newEvent(5)
		e.StartsAt = base.Add(time.Duration(i%4) * time.Minute) // ties on StartsAt
		e.Title = "Status walk"
		if i%3 == 0 {
			e.Status = boxoffice.EventDraft
			drafts = append(drafts, e.ID)
		} else {
			published = append(published, e.ID)
		}
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
	}
	walk := func(status boxoffice.EventStatus, q string) []string {
		var ids []string
		f := boxoffice.EventFilter{Status: status, Query: q, StartsAfter: base.Add(-time.Second), Limit: 3}
		for range 20 {
			page, err := s.ListEvents(ctx, f)
			must(t, "ListEvents", err)
			for _, e := range page {
				if e.StatusOf() != cmp.Or(status, boxoffice.EventPublished) {
					t.Errorf("ListEvents(%q) listed an event of status %q", status, e.Status)
				}
				ids = append(ids, e.ID)
			}
			if len(page) < f.Limit {
				break
			}
			last := page[len(page)-1]
			f.AfterStartsAt, f.AfterID = last.StartsAt, last.ID
		}
		slices.Sort(ids)
		return ids
	}
	slices.Sort(published)
	slices.Sort(drafts)
	diff(t, "ListEvents(published)", published, walk(boxoffice.EventPublished, ""))
	diff(t, "ListEvents(\"\")", published, walk("", ""))
	diff(t, "ListEvents(draft)", drafts, walk(boxoffice.EventDraft, ""))
	diff(t, "ListEvents(published, query)", published, walk(boxoffice.EventPublished, "status walk"))
}

func testOrganizerEvents(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	o, _ := newOrganizer(t, s, "events-walk")
	other, _ := newOrganizer(t, s, "events-other")
	base := now().Add(time.Hour)
	statuses := []boxoffice.EventStatus{boxoffice.EventDraft, boxoffice.EventPublished, boxoffice.EventCancelled}
	var want []*boxoffice.Event
	for i := range 11 {
		e := newEvent(5, 7)
		e.OrganizerID = o.ID
		e.StartsAt = base.Add(time.Duration(i%4) * time.Minute) // ties on StartsAt
		e.Status = statuses[i%3]
		must(t, "CreateEvent", s.CreateEvent(ctx, e))
		want = append(want, e)
		x := newEvent(5)
		x.OrganizerID = other.ID
		x.StartsAt = e.StartsAt
		must(t, "CreateEvent(other organizer)", s.CreateEvent(ctx, x))
	}
	slices.SortFunc(want, func(a, b *boxoffice.Event) int {
		return cmp.Or(b.StartsAt.Compare(a.StartsAt), cmp.Compare(b.ID, a.ID))
	})
	var got []*boxoffice.Event
	f := boxoffice.OrganizerEventFilter{OrganizerID: o.ID, Limit: 4}
	for range 10 {
		page, err := s.OrganizerEvents(ctx, f)
		must(t, "OrganizerEvents", err)
		got = append(got, page...)
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.BeforeStartsAt, f.BeforeID = last.StartsAt, last.ID
	}
	ids := func(es []*boxoffice.Event) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	diff(t, "OrganizerEvents (IDs, latest first)", ids(want), ids(got))
	for i, e := range got {
		if i < len(want) && (e.Status != want[i].Status || len(e.Tiers) != 2 || e.OrganizerID != o.ID) {
			t.Errorf("OrganizerEvents[%d]: status %q, %d tiers, organizer %s; want %q, 2, %s",
				i, e.Status, len(e.Tiers), e.OrganizerID, want[i].Status, o.ID)
		}
	}
	none, err := s.OrganizerEvents(ctx, boxoffice.OrganizerEventFilter{OrganizerID: boxoffice.NewID(), Limit: 5})
	must(t, "OrganizerEvents(unknown organizer)", err)
	if len(none) != 0 {
		t.Errorf("OrganizerEvents(unknown organizer): %d events", len(none))
	}
}
