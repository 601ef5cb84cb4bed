package boxoffice_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/testpay"
)

// wantCode fails the test unless err carries code ("" = no error).
func wantCode(t *testing.T, what string, err error, code boxoffice.Code) {
	t.Helper()
	if code == "" && err != nil || code != "" && boxoffice.CodeOf(err) != code {
		t.Fatalf("%s: %v, want %q", what, err, code)
	}
}

// TestOrganizerTeams: who creates organizers, the team's roles and the
// last-owner rule, on both stores.
func TestOrganizerTeams(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			ctx := t.Context()
			u := h.users(t, 4)
			fan, boss, deputy, clerk := u[0], u[1], u[2], u[3]
			orgs := h.svc.Organizers

			_, err := orgs.CreateOrganizer(ctx, fan, boxoffice.OrganizerInput{Name: "Mine"})
			wantCode(t, "a user, on a closed platform", err, boxoffice.CodeForbidden)
			for _, in := range []boxoffice.OrganizerInput{{Name: ""}, {Name: "Bad", Slug: "Bad Slug"}, {Name: string(make([]rune, 201))}} {
				_, err := orgs.CreateOrganizer(ctx, h.admin, in)
				wantCode(t, fmt.Sprintf("CreateOrganizer(%q, %q)", in.Name, in.Slug), err, boxoffice.CodeValidationFailed)
			}
			org, err := orgs.CreateOrganizer(ctx, h.admin, boxoffice.OrganizerInput{Name: "Jazz Club " + name})
			wantCode(t, "admin creates", err, "")
			if org.Slug != "jazz-club-"+name {
				t.Errorf("slug %q", org.Slug)
			}
			_, err = orgs.CreateOrganizer(ctx, h.admin, boxoffice.OrganizerInput{Name: "Other", Slug: org.Slug})
			wantCode(t, "same slug", err, boxoffice.CodeSlugTaken)

			// The platform open to organizers: a verified email is needed.
			openSvc := boxoffice.NewService(boxoffice.ServiceConfig{Store: h.store, Hasher: auth.NewHasher(4, 0, 0, 0),
				Provider: testpay.New(""), Now: h.clock.Now, OpenOrganizers: true})
			_, err = openSvc.Organizers.CreateOrganizer(ctx, fan, boxoffice.OrganizerInput{Name: "Fan Club"})
			wantCode(t, "unverified user, open platform", err, boxoffice.CodeEmailNotVerified)
			verified := &boxoffice.User{ID: boxoffice.NewID(), Email: boxoffice.NewID() + "@example.com", Name: "V",
				Role: boxoffice.RoleUser, PasswordHash: []byte("x"), EmailVerified: true, CreatedAt: h.clock.Now()}
			if err := h.store.CreateUser(ctx, verified, nil); err != nil {
				t.Fatal(err)
			}
			vc := boxoffice.Caller{UserID: verified.ID, Role: boxoffice.RoleUser}
			own, err := openSvc.Organizers.CreateOrganizer(ctx, vc, boxoffice.OrganizerInput{Name: "Verified " + name})
			wantCode(t, "verified user, open platform", err, "")
			ms, err := openSvc.Organizers.ListMembers(ctx, vc, own.ID)
			if err != nil || len(ms) != 1 || ms[0].UserID != verified.ID || ms[0].Role != boxoffice.RoleOwner {
				t.Fatalf("the creator is not the owner: %v %+v", err, ms)
			}
			_, err = orgs.Organizer(ctx, vc, org.ID)
			wantCode(t, "another organizer's owner sees this one", err, boxoffice.CodeNotFound)

			// The team.
			put := func(who boxoffice.Caller, user boxoffice.Caller, role boxoffice.MemberRole) error {
				_, err := orgs.PutMember(ctx, who, org.ID, user.UserID, role)
				return err
			}
			wantCode(t, "admin adds the owner", put(h.admin, boss, boxoffice.RoleOwner), "")
			// The admin made the organizer and is its first owner; it leaves.
			wantCode(t, "the admin leaves the team", orgs.DeleteMember(ctx, boss, org.ID, h.admin.UserID), "")
			wantCode(t, "bad role", put(boss, deputy, "boss"), boxoffice.CodeValidationFailed)
			wantCode(t, "unknown user", put(boss, boxoffice.Caller{UserID: boxoffice.NewID()}, boxoffice.RoleStaff), boxoffice.CodeNotFound)
			wantCode(t, "owner adds a manager", put(boss, deputy, boxoffice.RoleManager), "")
			wantCode(t, "a manager adds staff", put(deputy, clerk, boxoffice.RoleStaff), boxoffice.CodeForbidden)
			wantCode(t, "a fan adds staff", put(fan, clerk, boxoffice.RoleStaff), boxoffice.CodeNotFound)
			wantCode(t, "owner adds staff", put(boss, clerk, boxoffice.RoleStaff), "")
			_, err = orgs.ListMembers(ctx, clerk, org.ID)
			wantCode(t, "staff lists the team", err, boxoffice.CodeForbidden)
			wantCode(t, "demote the last owner", put(boss, boss, boxoffice.RoleManager), boxoffice.CodeInvalidState)
			wantCode(t, "remove the last owner", orgs.DeleteMember(ctx, boss, org.ID, boss.UserID), boxoffice.CodeInvalidState)
			wantCode(t, "a second owner", put(boss, deputy, boxoffice.RoleOwner), "")
			wantCode(t, "now the first may step down", put(deputy, boss, boxoffice.RoleManager), "")
			wantCode(t, "remove a non-member", orgs.DeleteMember(ctx, deputy, org.ID, fan.UserID), boxoffice.CodeNotFound)
			wantCode(t, "the demoted owner manages no more", put(boss, fan, boxoffice.RoleStaff), boxoffice.CodeForbidden)
			wantCode(t, "remove staff", orgs.DeleteMember(ctx, deputy, org.ID, clerk.UserID), "")
			_, err = orgs.Organizer(ctx, clerk, org.ID)
			wantCode(t, "a removed member", err, boxoffice.CodeNotFound)
		})
	}
}

// TestOrganizerEvents: members create drafts, which nobody else sees or
// buys until they are published; roles decide the back office; hidden and
// closed tiers; API keys act for their organizer only.
func TestOrganizerEvents(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, open(t))
			run(t, h.svc)
			ctx := t.Context()
			u := h.users(t, 5)
			fan, manager, staff, scanner, rival := u[0], u[1], u[2], u[3], u[4]
			orgs := h.svc.Organizers
			org, err := orgs.CreateOrganizer(ctx, h.admin, boxoffice.OrganizerInput{Name: "Hall " + name})
			wantCode(t, "create organizer", err, "")
			other, err := orgs.CreateOrganizer(ctx, h.admin, boxoffice.OrganizerInput{Name: "Rival " + name})
			wantCode(t, "create organizer", err, "")
			for c, role := range map[boxoffice.Caller]boxoffice.MemberRole{manager: boxoffice.RoleManager, staff: boxoffice.RoleStaff, scanner: boxoffice.RoleScanner} {
				_, err := orgs.PutMember(ctx, h.admin, org.ID, c.UserID, role)
				wantCode(t, "put member", err, "")
			}
			_, err = orgs.PutMember(ctx, h.admin, other.ID, rival.UserID, boxoffice.RoleManager)
			wantCode(t, "put member", err, "")

			now := h.clock.Now()
			input := func(title string) boxoffice.EventInput {
				return boxoffice.EventInput{Title: title, Venue: "Hall", StartsAt: now.Add(48 * time.Hour),
					SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(24 * time.Hour), MaxTicketsPerUser: 4, HoldSeconds: 60,
					Refunds: boxoffice.RefundPolicy{None: true},
					Tiers: []boxoffice.TierInput{
						{Name: "GA", Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: 10},
						{Name: "Guests", Price: boxoffice.Money{Amount: 0, Currency: "USD"}, Capacity: 5, Hidden: true},
						{Name: "Late", Price: boxoffice.Money{Amount: 7000, Currency: "USD"}, Capacity: 5, Closed: true},
					}}
			}
			// v1: the admin's event without organizer is the default's, published.
			v1, err := h.svc.CreateEvent(ctx, h.admin, input("v1"))
			wantCode(t, "admin creates", err, "")
			if v1.OrganizerID != boxoffice.DefaultOrganizerID || v1.Status != boxoffice.EventPublished {
				t.Errorf("admin's event: organizer %q, status %q", v1.OrganizerID, v1.Status)
			}
			_, err = h.svc.CreateEvent(ctx, staff, input("x"))
			wantCode(t, "staff creates", err, boxoffice.CodeForbidden)
			_, err = h.svc.CreateEvent(ctx, fan, input("x"))
			wantCode(t, "a fan creates", err, boxoffice.CodeForbidden)
			in := input("x")
			in.OrganizerID = org.ID
			_, err = h.svc.CreateEvent(ctx, rival, in)
			wantCode(t, "another organizer's manager creates here", err, boxoffice.CodeNotFound)
			e, err := h.svc.CreateEvent(ctx, manager, input("Draft"))
			wantCode(t, "the manager of one organizer creates", err, "")
			if e.OrganizerID != org.ID || e.Status != boxoffice.EventDraft {
				t.Fatalf("member's event: organizer %q, status %q", e.OrganizerID, e.Status)
			}

			// A draft is nobody's business but the team's.
			_, err = h.svc.Event(ctx, fan, e.ID)
			wantCode(t, "a fan reads a draft", err, boxoffice.CodeNotFound)
			_, err = h.svc.Event(ctx, rival, e.ID)
			wantCode(t, "a rival reads a draft", err, boxoffice.CodeNotFound)
			seen, err := h.svc.Event(ctx, scanner, e.ID)
			if err != nil || len(seen.Tiers) != 3 {
				t.Fatalf("a scanner of the team reads the draft: %v", err)
			}
			page, err := h.svc.ListEvents(ctx, boxoffice.EventQuery{Query: "Draft"})
			wantCode(t, "list", err, "")
			if len(page.Items) != 0 {
				t.Errorf("the list shows a draft")
			}
			_, err = h.svc.CreateReservation(ctx, fan, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1})
			wantCode(t, "hold on a draft", err, boxoffice.CodeNotFound)
			_, err = h.svc.Orders.CreateOrder(ctx, fan, boxoffice.OrderInput{EventID: e.ID, Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[0].ID, Quantity: 1}}})
			wantCode(t, "order on a draft", err, boxoffice.CodeNotFound)
			wantCode(t, "bookmark a draft", h.svc.PutBookmark(ctx, fan, e.ID), boxoffice.CodeNotFound)

			_, err = h.svc.PublishEvent(ctx, staff, e.ID)
			wantCode(t, "staff publishes", err, boxoffice.CodeForbidden)
			_, err = h.svc.PublishEvent(ctx, rival, e.ID)
			wantCode(t, "a rival publishes", err, boxoffice.CodeNotFound)
			_, err = h.svc.PublishEvent(ctx, manager, e.ID)
			wantCode(t, "the manager publishes", err, "")
			_, err = h.svc.PublishEvent(ctx, manager, e.ID)
			wantCode(t, "publish twice", err, boxoffice.CodeInvalidState)
			ended := input("Ended")
			ended.SalesEndAt = now.Add(-time.Minute)
			ended.SalesStartAt = now.Add(-time.Hour)
			d, err := h.svc.CreateEvent(ctx, manager, ended)
			wantCode(t, "a draft whose sales ended", err, "")
			_, err = h.svc.PublishEvent(ctx, manager, d.ID)
			wantCode(t, "publish a draft whose sales ended", err, boxoffice.CodeValidationFailed)

			// Published: the public sees it without its hidden tier.
			pub, err := h.svc.Event(ctx, fan, e.ID)
			wantCode(t, "a fan reads the published event", err, "")
			if len(pub.Tiers) != 2 || pub.Tier(e.Tiers[1].ID) != nil {
				t.Errorf("the public sees tiers %+v", pub.Tiers)
			}
			_, err = h.svc.CreateReservation(ctx, fan, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[1].ID, Quantity: 1})
			wantCode(t, "hold a hidden tier", err, boxoffice.CodeValidationFailed)
			_, err = h.svc.CreateReservation(ctx, fan, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[2].ID, Quantity: 1})
			wantCode(t, "hold a closed tier", err, boxoffice.CodeSalesClosed)
			_, err = h.svc.Orders.CreateOrder(ctx, fan, boxoffice.OrderInput{EventID: e.ID, Lines: []boxoffice.OrderLineInput{{TierID: e.Tiers[2].ID, Quantity: 1}}})
			wantCode(t, "order a closed tier", err, boxoffice.CodeSalesClosed)
			_, err = h.svc.CreateReservation(ctx, fan, boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1})
			wantCode(t, "hold the open tier", err, "")

			// The back office by role.
			_, err = h.svc.Sales(ctx, staff, e.ID)
			wantCode(t, "staff reads sales", err, "")
			_, err = h.svc.Sales(ctx, scanner, e.ID)
			wantCode(t, "a scanner reads sales", err, boxoffice.CodeForbidden)
			_, err = h.svc.Sales(ctx, rival, e.ID)
			wantCode(t, "a rival reads sales", err, boxoffice.CodeNotFound)
			title := "Renamed"
			_, err = h.svc.UpdateEvent(ctx, staff, e.ID, boxoffice.EventPatch{Title: &title})
			wantCode(t, "staff edits", err, boxoffice.CodeForbidden)
			_, err = h.svc.UpdateEvent(ctx, manager, e.ID, boxoffice.EventPatch{Title: &title})
			wantCode(t, "the manager edits", err, "")

			// Orders: staff see them; refunds are the managers'.
			ts := h.paidTickets(t, h.svc, fan, e, 1)
			orderID := ts[0].OrderID
			_, err = h.svc.Orders.Order(ctx, staff, orderID)
			wantCode(t, "staff read the order", err, "")
			_, err = h.svc.Orders.Order(ctx, scanner, orderID)
			wantCode(t, "a scanner reads the order", err, boxoffice.CodeNotFound)
			_, err = h.svc.Orders.Order(ctx, rival, orderID)
			wantCode(t, "a rival reads the order", err, boxoffice.CodeNotFound)
			_, err = h.svc.Orders.RefundOrder(ctx, fan, orderID, boxoffice.RefundInput{})
			wantCode(t, "the fan refunds (the event allows none)", err, boxoffice.CodeRefundClosed)
			_, err = h.svc.Orders.RefundOrder(ctx, staff, orderID, boxoffice.RefundInput{})
			wantCode(t, "staff refund", err, boxoffice.CodeForbidden)
			_, err = h.svc.Orders.CancelOrder(ctx, staff, orderID, boxoffice.Idempotent{})
			wantCode(t, "staff cancel the fan's order", err, boxoffice.CodeNotFound)
			_, err = h.svc.Orders.RefundOrder(ctx, manager, orderID, boxoffice.RefundInput{})
			wantCode(t, "the manager refunds", err, "")

			// The door: scanners scan, managers supervise.
			code := h.paidTickets(t, h.svc, fan, e, 1)[0].Code
			o, err := h.svc.Tickets.Scan(ctx, scanner, e.ID, boxoffice.ScanInput{Code: code})
			if err != nil || o.Result != boxoffice.CheckinOK {
				t.Fatalf("a scanner scans: %v %s", err, o.Result)
			}
			_, err = h.svc.Tickets.Conflicts(ctx, scanner, e.ID)
			wantCode(t, "a scanner supervises", err, boxoffice.CodeForbidden)
			_, err = h.svc.Tickets.PutStaff(ctx, manager, &boxoffice.Staff{EventID: e.ID, UserID: fan.UserID, Role: boxoffice.StaffScanner})
			wantCode(t, "the manager adds door staff", err, "")
			_, err = h.svc.Tickets.GateCounts(ctx, fan, e.ID)
			wantCode(t, "the fan, now door staff of this event", err, "")

			// API keys.
			_, _, err = orgs.CreateAPIKey(ctx, manager, org.ID, boxoffice.APIKeyInput{Name: "k", Role: boxoffice.RoleStaff})
			wantCode(t, "a manager makes a key", err, boxoffice.CodeForbidden)
			_, _, err = orgs.CreateAPIKey(ctx, h.admin, org.ID, boxoffice.APIKeyInput{Name: "k", Role: boxoffice.RoleOwner})
			wantCode(t, "an owner key", err, boxoffice.CodeValidationFailed)
			_, _, err = orgs.CreateAPIKey(ctx, h.admin, org.ID, boxoffice.APIKeyInput{Name: "", Role: boxoffice.RoleStaff})
			wantCode(t, "a key without name", err, boxoffice.CodeValidationFailed)
			k, secret, err := orgs.CreateAPIKey(ctx, h.admin, org.ID, boxoffice.APIKeyInput{Name: "box office", Role: boxoffice.RoleManager})
			wantCode(t, "the admin makes a key", err, "")
			kc, err := orgs.KeyCaller(ctx, secret)
			if err != nil || kc.Key == nil || kc.Key.OrganizerID != org.ID || kc.IsAdmin() || kc.UserID != "" {
				t.Fatalf("KeyCaller: %+v, %v", kc, err)
			}
			for _, bad := range []string{"", "bo_", secret[:len(secret)-1] + "x", "xx" + secret[2:]} {
				_, err := orgs.KeyCaller(ctx, bad)
				wantCode(t, fmt.Sprintf("KeyCaller(%q)", bad), err, boxoffice.CodeUnauthenticated)
			}
			_, err = h.svc.UpdateEvent(ctx, kc, e.ID, boxoffice.EventPatch{Title: &title})
			wantCode(t, "the key edits its organizer's event", err, "")
			_, err = h.svc.Sales(ctx, kc, v1.ID)
			wantCode(t, "the key reads another organizer's sales", err, boxoffice.CodeNotFound)
			ke, err := h.svc.CreateEvent(ctx, kc, input("By key"))
			if err != nil || ke.OrganizerID != org.ID || ke.Status != boxoffice.EventDraft {
				t.Fatalf("the key creates an event: %v", err)
			}
			_, err = orgs.ListMembers(ctx, kc, org.ID)
			wantCode(t, "a manager key lists the team", err, boxoffice.CodeForbidden)
			_, err = orgs.CreateOrganizer(ctx, kc, boxoffice.OrganizerInput{Name: "By key"})
			wantCode(t, "a key creates an organizer", err, boxoffice.CodeForbidden)
			keys, err := orgs.ListAPIKeys(ctx, h.admin, org.ID)
			if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
				t.Fatalf("ListAPIKeys: %v %+v", err, keys)
			}
			wantCode(t, "revoke", orgs.DeleteAPIKey(ctx, h.admin, org.ID, k.ID), "")
			_, err = orgs.KeyCaller(ctx, secret)
			wantCode(t, "a revoked key", err, boxoffice.CodeUnauthenticated)

			// A member of two organizers names the one.
			_, err = orgs.PutMember(ctx, h.admin, other.ID, manager.UserID, boxoffice.RoleManager)
			wantCode(t, "second organizer", err, "")
			_, err = h.svc.CreateEvent(ctx, manager, input("Which"))
			var ve *boxoffice.ValidationError
			if !errors.As(err, &ve) || ve.Fields[0].Field != "organizer_id" {
				t.Errorf("a member of two organizers without organizer_id: %v", err)
			}
		})
	}
}
