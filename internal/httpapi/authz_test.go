package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/memory"
)

// callers of the authorization matrix: nobody, the fan who owns the
// resources, another user, the platform admin; the owner, a manager, a
// staff member and a scanner of the organizer of the matrix's events; a
// manager of another organizer (who must learn nothing of this one's
// things: 404); and a manager-role API key of the events' organizer.
const (
	anonymous = iota
	owner
	otherUser
	admin
	orgOwner
	orgManager
	orgStaff
	orgScanner
	otherManager
	orgKey
	callerKinds
)

var callerNames = [callerKinds]string{"anonymous", "owner", "another user", "admin", "organizer's owner",
	"organizer's manager", "organizer's staff", "organizer's scanner", "another organizer's manager", "organizer's API key"}

// authzRoute is one line of the matrix: the status each kind of caller gets
// for the route, and how to build a request for it. prepare runs before
// each call (with the caller's kind) and returns the path and body, so that
// a call that changes something (a cancel, a delete) acts on its own fresh
// resource.
type authzRoute struct {
	want    [callerKinds]int
	prepare func(f *authzFixture, caller int) (path string, body any)
}

// authzFixture holds what the matrix's requests act on.
type authzFixture struct {
	ts                          *testServer
	tokens                      [callerKinds]string
	emails, passwords           [callerKinds]string
	event, tier, queued, userID string
	org                         string
	signups, organizers         int
	// bought counts the tickets the fan took of event, which moves to a
	// fresh one before the fan reaches its limit per user.
	bought int
}

// rotate makes a fresh event of the organizer the matrix's event.
func (f *authzFixture) rotate() {
	body := f.ts.eventBody("Matrix", 1000)
	body["max_tickets_per_user"] = 100
	e := f.orgEvent(body)
	f.event, f.tier, f.bought = e.ID, e.Tiers[0].ID, 0
}

// buy counts a ticket the fan is about to take.
func (f *authzFixture) buy() {
	if f.bought++; f.bought > 80 {
		f.rotate()
		f.bought = 1
	}
}

// orgEvent creates a published event of the fixture's organizer (as the
// admin) and returns it.
func (f *authzFixture) orgEvent(body map[string]any) eventJSON {
	e := f.draft(body)
	f.ts.call("POST", "/api/v1/events/"+e.ID+"/publish", f.ts.adminToken, nil).ok(f.ts.t, 200, &e)
	return e
}

// draft creates a draft event of the fixture's organizer (as the admin).
func (f *authzFixture) draft(body map[string]any) eventJSON {
	body["organizer_id"] = f.org
	var e eventJSON
	f.ts.call("POST", "/api/v1/events", f.ts.adminToken, body).ok(f.ts.t, 201, &e)
	return e
}

// newOrganizer creates an organizer as the admin and returns its id.
func (f *authzFixture) newOrganizer() string {
	f.organizers++
	var o struct {
		ID string `json:"id"`
	}
	f.ts.call("POST", "/api/v1/organizers", f.ts.adminToken, map[string]string{"name": fmt.Sprintf("Org %d", f.organizers)}).
		ok(f.ts.t, 201, &o)
	return o.ID
}

// member signs up a user with email and gives them role in org.
func (f *authzFixture) member(caller int, email, org, role string) {
	var id string
	f.tokens[caller], id = f.ts.signUp(email)
	f.emails[caller], f.passwords[caller] = email, "stage-door-123"
	f.ts.call("PUT", "/api/v1/organizers/"+org+"/members/"+id, f.ts.adminToken, map[string]string{"role": role}).ok(f.ts.t, 200, nil)
}

// signUp signs up a new user and returns its ID.
func (f *authzFixture) signUp() string {
	f.signups++
	var u userJSON
	f.ts.call("POST", "/api/v1/users", "", map[string]string{"email": fmt.Sprintf("new%d@example.test", f.signups),
		"password": "stage-door-123", "name": "New"}).ok(f.ts.t, 201, &u)
	return u.ID
}

// hold makes the owner a fresh reservation and returns its id.
func (f *authzFixture) hold() string {
	f.buy()
	var r reservationJSON
	f.ts.hold(f.tokens[owner], f.event, f.tier, 1).ok(f.ts.t, 201, &r)
	return r.ID
}

// order makes the owner a fresh order of one ticket, paid when paid, and
// returns its id.
func (f *authzFixture) order(paid bool) string {
	f.buy()
	var o struct {
		ID string `json:"id"`
	}
	f.ts.call("POST", "/api/v1/events/"+f.event+"/orders", f.tokens[owner],
		map[string]any{"lines": []map[string]any{{"tier_id": f.tier, "quantity": 1}}}).ok(f.ts.t, 201, &o)
	if paid {
		f.ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", f.tokens[owner],
			map[string]string{"payment_token": "tok_visa"}).ok(f.ts.t, 201, nil)
	}
	return o.ID
}

// ticket makes the owner a fresh paid order of one ticket and returns the
// ticket's id and code.
func (f *authzFixture) ticket() (id, code string) {
	var list listJSON[ticketJSON]
	f.ts.call("GET", "/api/v1/orders/"+f.order(true)+"/tickets", f.tokens[owner], nil).ok(f.ts.t, 200, &list)
	return list.Items[0].ID, list.Items[0].Code
}

// hooks is the webhook endpoints of the matrix's organizer.
func (f *authzFixture) hooks() string { return "/api/v1/organizers/" + f.org + "/webhooks" }

// endpoint makes the admin a fresh webhook endpoint of the matrix's
// organizer for events (event.cancelled when nil) and returns its id. The
// organizer's earlier endpoints go first: an organizer has at most 20.
func (f *authzFixture) endpoint(events []string) string {
	if events == nil {
		events = []string{"event.cancelled"}
	}
	var list listJSON[struct {
		ID string `json:"id"`
	}]
	f.ts.call("GET", f.hooks(), f.ts.adminToken, nil).ok(f.ts.t, 200, &list)
	if len(list.Items) >= 10 {
		for _, ep := range list.Items {
			f.ts.call("DELETE", f.hooks()+"/"+ep.ID, f.ts.adminToken, nil).ok(f.ts.t, 204, nil)
		}
	}
	var ep struct {
		ID string `json:"id"`
	}
	f.ts.call("POST", f.hooks(), f.ts.adminToken, map[string]any{"url": "http://127.0.0.1:9/hooks", "events": events}).
		ok(f.ts.t, 201, &ep)
	return ep.ID
}

// delivery makes a fresh endpoint that subscribes to order.paid, pays an
// order, and returns the endpoint's id and its delivery's once the
// deliverer made it.
func (f *authzFixture) delivery() (wid, did string) {
	wid = f.endpoint([]string{"order.paid"})
	f.order(true)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var page listJSON[struct {
			ID string `json:"id"`
		}]
		f.ts.call("GET", f.hooks()+"/"+wid+"/deliveries", f.ts.adminToken, nil).ok(f.ts.t, 200, &page)
		if len(page.Items) > 0 {
			return wid, page.Items[0].ID
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.ts.t.Fatal("no delivery of order.paid within 10 s")
	return "", ""
}

// TestAuthorizationMatrix calls every route of the route table as every
// kind of caller and checks the status: a route missing from the matrix
// fails the test, so no route can be added without deciding who may call it.
func TestAuthorizationMatrix(t *testing.T) {
	ts := newTestServer(t, func(store boxoffice.Store, cfg *Config) {
		cfg.Queue = boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{Queue: memory.NewQueue(), Store: store, Tokens: fakeAdmissionTokens{}})
	})
	f := &authzFixture{ts: ts}
	f.tokens[owner], f.userID = ts.signUp("owner@example.test")
	f.tokens[otherUser], _ = ts.signUp("other@example.test")
	f.tokens[admin] = ts.adminToken
	f.emails[owner], f.emails[otherUser], f.emails[admin] = "owner@example.test", "other@example.test", "admin@boxoffice.test"
	f.passwords[owner], f.passwords[otherUser], f.passwords[admin] = "stage-door-123", "stage-door-123", "admin-password"
	f.org = f.newOrganizer()
	f.member(orgOwner, "org-owner@example.test", f.org, "owner")
	f.member(orgManager, "org-manager@example.test", f.org, "manager")
	f.member(orgStaff, "org-staff@example.test", f.org, "staff")
	f.member(orgScanner, "org-scanner@example.test", f.org, "scanner")
	f.member(otherManager, "other-manager@example.test", f.newOrganizer(), "manager")
	var key struct {
		Key string `json:"key"`
	}
	ts.call("POST", "/api/v1/organizers/"+f.org+"/api-keys", ts.adminToken, map[string]string{"name": "matrix", "role": "manager"}).
		ok(t, 201, &key)
	f.tokens[orgKey] = key.Key
	f.rotate()
	q := ts.eventBody("Queued", 10)
	q["queue"] = map[string]any{"enabled": true, "admit_per_minute": 60}
	f.queued = f.orgEvent(q).ID

	const (
		A = 401 // unauthenticated
		F = 403 // forbidden
		N = 404 // not found: someone else's
	)
	static := func(path string, body any) func(*authzFixture, int) (string, any) {
		return func(*authzFixture, int) (string, any) { return path, body }
	}
	freshEvent := func(f *authzFixture, _ int) (string, any) {
		return "/api/v1/events/" + f.orgEvent(f.ts.eventBody("Disposable", 5)).ID, nil
	}
	org := func(suffix string, body any) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) { return "/api/v1/organizers/" + f.org + suffix, body }
	}
	// K is what an API key gets on a route that is not the back office's.
	const K = F
	ownHold := func(suffix string, body any) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) { return "/api/v1/reservations/" + f.hold() + suffix, body }
	}
	ownOrder := func(suffix string, body any, paid bool) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) { return "/api/v1/orders/" + f.order(paid) + suffix, body }
	}
	ownTicket := func(suffix string, body any) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) {
			id, _ := f.ticket()
			return "/api/v1/tickets/" + id + suffix, body
		}
	}
	door := func(suffix string, body any) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) { return "/api/v1/events/" + f.event + suffix, body }
	}
	hook := func(suffix string, body any) func(*authzFixture, int) (string, any) {
		return func(f *authzFixture, _ int) (string, any) { return f.hooks() + "/" + f.endpoint(nil) + suffix, body }
	}
	matrix := map[string]authzRoute{
		"POST /api/v1/users": {[callerKinds]int{201, 201, 201, 201, 201, 201, 201, 201, 201, 201}, func(f *authzFixture, _ int) (string, any) {
			f.signups++
			return "/api/v1/users", map[string]string{"email": fmt.Sprintf("new%d@example.test", f.signups), "password": "stage-door-123", "name": "New"}
		}},
		"POST /api/v1/auth/token": {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200},
			static("/api/v1/auth/token", map[string]string{"email": "owner@example.test", "password": "stage-door-123"})},
		"POST /api/v1/auth/refresh": {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, func(f *authzFixture, _ int) (string, any) {
			var tok tokenResponse
			f.ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": "owner@example.test", "password": "stage-door-123"}).ok(f.ts.t, 200, &tok)
			return "/api/v1/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}
		}},
		"POST /api/v1/users/me/sign-out-everywhere": {[callerKinds]int{A, 204, 204, 204, 204, 204, 204, 204, 204, K},
			static("/api/v1/users/me/sign-out-everywhere", nil)},
		"PATCH /api/v1/users/{id}": {[callerKinds]int{A, F, F, 200, F, F, F, F, F, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/users/" + f.signUp(), map[string]bool{"disabled": true}
		}},
		"GET /api/v1/users/me": {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, static("/api/v1/users/me", nil)},
		// A wrong code is refused on its merits (422), not for who sends it;
		// the admin's email is verified already. A resend within a minute of
		// the sign-up's mail is 429; the admin has nothing to verify (409).
		"POST /api/v1/users/me/email/verify": {[callerKinds]int{A, 422, 422, 200, 422, 422, 422, 422, 422, K},
			static("/api/v1/users/me/email/verify", map[string]string{"code": "000000"})},
		"POST /api/v1/users/me/email/verification": {[callerKinds]int{A, 429, 429, 409, 429, 429, 429, 429, 429, K}, static("/api/v1/users/me/email/verification", nil)},
		"POST /api/v1/auth/password-reset": {[callerKinds]int{202, 202, 202, 202, 202, 202, 202, 202, 202, 202},
			static("/api/v1/auth/password-reset", map[string]string{"email": "owner@example.test"})},
		"POST /api/v1/auth/password-reset/confirm": {[callerKinds]int{422, 422, 422, 422, 422, 422, 422, 422, 422, 422},
			static("/api/v1/auth/password-reset/confirm", map[string]string{"token": "not-a-token", "password": "stage-door-999"})},

		"GET /api/v1/events": {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, static("/api/v1/events", nil)},
		"POST /api/v1/events": {[callerKinds]int{A, F, F, 201, 201, 201, F, F, 201, 201}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events", f.ts.eventBody("New", 5)
		}},
		"GET /api/v1/events/{id}": {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event, nil
		}},
		"PATCH /api/v1/events/{id}": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event, map[string]string{"description": "changed"}
		}},
		"DELETE /api/v1/events/{id}": {[callerKinds]int{A, N, N, 204, 204, 204, F, F, N, 204}, freshEvent},
		"GET /api/v1/events/{id}/sales": {[callerKinds]int{A, N, N, 200, 200, 200, 200, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/sales", nil
		}},
		"GET /api/v1/events/{id}/attendees": {[callerKinds]int{A, N, N, 200, 200, 200, 200, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/attendees?q=a", nil
		}},
		"GET /api/v1/events/{id}/attendees.csv": {[callerKinds]int{A, N, N, 200, 200, 200, 200, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/attendees.csv", nil
		}},

		"GET /api/v1/users/me/organizers": {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, static("/api/v1/users/me/organizers", nil)},
		"GET /api/v1/users/me/bookmarks":  {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, static("/api/v1/users/me/bookmarks", nil)},
		"PUT /api/v1/users/me/bookmarks/{event_id}": {[callerKinds]int{A, 204, 204, 204, 204, 204, 204, 204, 204, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/users/me/bookmarks/" + f.event, nil
		}},
		"DELETE /api/v1/users/me/bookmarks/{event_id}": {[callerKinds]int{A, 204, 204, 204, 204, 204, 204, 204, 204, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/users/me/bookmarks/" + f.event, nil
		}},

		"POST /api/v1/events/{id}/queue": {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.queued + "/queue", nil
		}},
		"GET /api/v1/events/{id}/queue": {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.queued + "/queue", nil
		}},
		"DELETE /api/v1/events/{id}/queue": {[callerKinds]int{A, 204, 204, 204, 204, 204, 204, 204, 204, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.queued + "/queue", nil
		}},
		streamPattern: {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, func(f *authzFixture, caller int) (string, any) {
			if caller != anonymous && caller != orgKey { // a stream needs a place in line
				f.ts.call("POST", "/api/v1/events/"+f.queued+"/queue", f.tokens[caller], nil).ok(f.ts.t, 200, nil)
			}
			return "/api/v1/events/" + f.queued + "/queue/stream", nil
		}},

		"POST /api/v1/events/{id}/reservations": {[callerKinds]int{A, 201, 201, 201, 201, 201, 201, 201, 201, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/reservations", map[string]any{"tier_id": f.tier, "quantity": 1}
		}},
		"GET /api/v1/users/me/reservations":      {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, static("/api/v1/users/me/reservations", nil)},
		"GET /api/v1/reservations/{id}":          {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownHold("", nil)},
		"PATCH /api/v1/reservations/{id}":        {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownHold("", map[string]int{"quantity": 2})},
		"POST /api/v1/reservations/{id}/confirm": {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownHold("/confirm", map[string]string{"payment_token": "tok_visa"})},
		"POST /api/v1/reservations/{id}/cancel":  {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownHold("/cancel", nil)},

		"POST /api/v1/events/{id}/orders": {[callerKinds]int{A, 201, 201, 201, 201, 201, 201, 201, 201, K}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/orders", map[string]any{"lines": []map[string]any{{"tier_id": f.tier, "quantity": 1}}}
		}},
		"GET /api/v1/users/me/orders":       {[callerKinds]int{A, 200, 200, 200, 200, 200, 200, 200, 200, K}, static("/api/v1/users/me/orders", nil)},
		"GET /api/v1/orders/{id}":           {[callerKinds]int{A, 200, N, 200, 200, 200, 200, N, N, 200}, ownOrder("", nil, false)},
		"POST /api/v1/orders/{id}/cancel":   {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownOrder("/cancel", nil, false)},
		"POST /api/v1/orders/{id}/payments": {[callerKinds]int{A, 201, N, 201, N, N, N, N, N, K}, ownOrder("/payments", map[string]string{"payment_token": "tok_visa"}, false)},
		"POST /api/v1/orders/{id}/refunds":  {[callerKinds]int{A, 201, N, 201, 201, 201, F, N, N, 201}, ownOrder("/refunds", nil, true)},
		"GET /api/v1/orders/{id}/refunds":   {[callerKinds]int{A, 200, N, 200, 200, 200, 200, N, N, 200}, ownOrder("/refunds", nil, true)},
		// A callback's signature decides, not who sends it (a bad one: 401).
		"POST /api/v1/payments/webhooks/{provider}": {[callerKinds]int{A, A, A, A, A, A, A, A, A, A},
			static("/api/v1/payments/webhooks/test", map[string]string{"id": "evt"})},

		"GET /api/v1/orders/{id}/tickets":            {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownOrder("/tickets", nil, true)},
		"GET /api/v1/orders/{id}/tickets.pdf":        {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownOrder("/tickets.pdf", nil, true)},
		"GET /api/v1/tickets/{id}":                   {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownTicket("", nil)},
		"PATCH /api/v1/tickets/{id}":                 {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownTicket("", map[string]string{"attendee_name": "Cy"})},
		"GET /api/v1/tickets/{id}/qr.png":            {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownTicket("/qr.png", nil)},
		"GET /api/v1/tickets/{id}/qr.svg":            {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownTicket("/qr.svg", nil)},
		"GET /api/v1/tickets/{id}/ticket.pdf":        {[callerKinds]int{A, 200, N, 200, N, N, N, N, N, K}, ownTicket("/ticket.pdf", nil)},
		"POST /api/v1/events/{id}/checkins":          {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, door("/checkins", map[string]string{"code": "not a code"})},
		"GET /api/v1/events/{id}/checkin-bundle":     {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, door("/checkin-bundle", nil)},
		"GET /api/v1/events/{id}/checkins/conflicts": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, door("/checkins/conflicts", nil)},
		"POST /api/v1/events/{id}/checkins/batch": {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/checkins/batch", map[string]any{"device_id": "d", "scans": []map[string]string{
				{"scan_id": "1", "code": "not a code", "scanned_at": f.ts.clock.now().Format(time.RFC3339)}}}
		}},
		// Undo needs a used ticket: the admin scans a fresh one in.
		"DELETE /api/v1/events/{id}/checkins/{ticket_id}": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			id, code := f.ticket()
			f.ts.call("POST", "/api/v1/events/"+f.event+"/checkins", f.ts.adminToken, map[string]string{"code": code}).ok(f.ts.t, 200, nil)
			return "/api/v1/events/" + f.event + "/checkins/" + id, nil
		}},
		"GET /api/v1/events/{id}/gates":        {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, door("/gates", nil)},
		"PUT /api/v1/events/{id}/gates/{name}": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, door("/gates/North", map[string]any{"tiers": []string{}})},
		"DELETE /api/v1/events/{id}/gates/{name}": {[callerKinds]int{A, N, N, 204, 204, 204, F, F, N, 204}, func(f *authzFixture, _ int) (string, any) {
			f.ts.call("PUT", "/api/v1/events/"+f.event+"/gates/South", f.ts.adminToken, nil).ok(f.ts.t, 200, nil)
			return "/api/v1/events/" + f.event + "/gates/South", nil
		}},
		"GET /api/v1/events/{id}/staff": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, door("/staff", nil)},
		"PUT /api/v1/events/{id}/staff/{user_id}": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.event + "/staff/" + f.signUp(), map[string]string{"role": "scanner"}
		}},
		"DELETE /api/v1/events/{id}/staff/{user_id}": {[callerKinds]int{A, N, N, 204, 204, 204, F, F, N, 204}, func(f *authzFixture, _ int) (string, any) {
			path := "/api/v1/events/" + f.event + "/staff/" + f.signUp()
			f.ts.call("PUT", path, f.ts.adminToken, map[string]string{"role": "scanner"}).ok(f.ts.t, 200, nil)
			return path, nil
		}},

		"POST /api/v1/events/{id}/publish": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.draft(f.ts.eventBody("Draft", 5)).ID + "/publish", nil
		}},
		"POST /api/v1/events/{id}/cancel": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/events/" + f.orgEvent(f.ts.eventBody("Called off", 5)).ID + "/cancel", map[string]string{"reason": "rain"}
		}},

		"POST /api/v1/organizers": {[callerKinds]int{A, F, F, 201, F, F, F, F, F, K}, func(f *authzFixture, _ int) (string, any) {
			f.organizers++
			return "/api/v1/organizers", map[string]string{"name": fmt.Sprintf("Org %d", f.organizers)}
		}},
		"GET /api/v1/organizers/{id}":         {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, org("", nil)},
		"GET /api/v1/organizers/{id}/events":  {[callerKinds]int{A, N, N, 200, 200, 200, 200, 200, N, 200}, org("/events?limit=5", nil)},
		"GET /api/v1/organizers/{id}/members": {[callerKinds]int{A, N, N, 200, 200, F, F, F, N, F}, org("/members", nil)},
		"PUT /api/v1/organizers/{id}/members/{user_id}": {[callerKinds]int{A, N, N, 200, 200, F, F, F, N, F}, func(f *authzFixture, _ int) (string, any) {
			return "/api/v1/organizers/" + f.org + "/members/" + f.signUp(), map[string]string{"role": "staff"}
		}},
		"DELETE /api/v1/organizers/{id}/members/{user_id}": {[callerKinds]int{A, N, N, 204, 204, F, F, F, N, F}, func(f *authzFixture, _ int) (string, any) {
			path := "/api/v1/organizers/" + f.org + "/members/" + f.signUp()
			f.ts.call("PUT", path, f.ts.adminToken, map[string]string{"role": "scanner"}).ok(f.ts.t, 200, nil)
			return path, nil
		}},
		"GET /api/v1/organizers/{id}/audit":     {[callerKinds]int{A, N, N, 200, 200, F, F, F, N, F}, org("/audit?limit=5", nil)},
		"GET /api/v1/organizers/{id}/api-keys":  {[callerKinds]int{A, N, N, 200, 200, F, F, F, N, F}, org("/api-keys", nil)},
		"POST /api/v1/organizers/{id}/api-keys": {[callerKinds]int{A, N, N, 201, 201, F, F, F, N, F}, org("/api-keys", map[string]string{"name": "gate", "role": "scanner"})},
		"DELETE /api/v1/organizers/{id}/api-keys/{key_id}": {[callerKinds]int{A, N, N, 204, 204, F, F, F, N, F}, func(f *authzFixture, _ int) (string, any) {
			var k struct {
				ID string `json:"id"`
			}
			f.ts.call("POST", "/api/v1/organizers/"+f.org+"/api-keys", f.ts.adminToken, map[string]string{"name": "doomed", "role": "staff"}).
				ok(f.ts.t, 201, &k)
			return "/api/v1/organizers/" + f.org + "/api-keys/" + k.ID, nil
		}},

		"POST /api/v1/organizers/{id}/webhooks": {[callerKinds]int{A, N, N, 201, 201, 201, F, F, N, 201}, func(f *authzFixture, _ int) (string, any) {
			return f.hooks(), map[string]any{"url": "http://127.0.0.1:9/hooks", "events": []string{"event.cancelled"}}
		}},
		"GET /api/v1/organizers/{id}/webhooks": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, func(f *authzFixture, _ int) (string, any) {
			return f.hooks(), nil
		}},
		"GET /api/v1/organizers/{id}/webhooks/{wid}":            {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, hook("", nil)},
		"PATCH /api/v1/organizers/{id}/webhooks/{wid}":          {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, hook("", map[string]any{"enabled": false})},
		"DELETE /api/v1/organizers/{id}/webhooks/{wid}":         {[callerKinds]int{A, N, N, 204, 204, 204, F, F, N, 204}, hook("", nil)},
		"GET /api/v1/organizers/{id}/webhooks/{wid}/deliveries": {[callerKinds]int{A, N, N, 200, 200, 200, F, F, N, 200}, hook("/deliveries", nil)},
		"POST /api/v1/organizers/{id}/webhooks/{wid}/deliveries/{did}/retry": {[callerKinds]int{A, N, N, 202, 202, 202, F, F, N, 202},
			func(f *authzFixture, _ int) (string, any) {
				wid, did := f.delivery()
				return f.hooks() + "/" + wid + "/deliveries/" + did + "/retry", nil
			}},

		"GET /healthz":             {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, static("/healthz", nil)},
		"GET /readyz":              {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, static("/readyz", nil)},
		"GET /api/v1/openapi.json": {[callerKinds]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, static("/api/v1/openapi.json", nil)},
	}

	// after lists what runs after each call of a route: signing out
	// everywhere ends the caller's tokens, so they sign in again.
	after := map[string]func(f *authzFixture, caller int){
		"POST /api/v1/users/me/sign-out-everywhere": func(f *authzFixture, caller int) {
			if caller != anonymous && caller != orgKey {
				f.tokens[caller] = f.ts.signIn(f.emails[caller], f.passwords[caller])
			}
			if caller == admin {
				f.ts.adminToken = f.tokens[admin]
			}
		},
	}

	for _, rt := range (&server{}).routes() {
		m, ok := matrix[rt.pattern]
		if !ok {
			t.Errorf("route %q is not in the authorization matrix: decide who may call it", rt.pattern)
			continue
		}
		delete(matrix, rt.pattern)
		method, _, _ := strings.Cut(rt.pattern, " ")
		for caller := range callerKinds {
			path, body := m.prepare(f, caller)
			if got := f.status(method, path, f.tokens[caller], body); got != m.want[caller] {
				t.Errorf("%s as %s: %d, want %d", rt.pattern, callerNames[caller], got, m.want[caller])
			}
			if a := after[rt.pattern]; a != nil {
				a(f, caller)
			}
		}
	}
	for pattern := range matrix {
		t.Errorf("the matrix lists %q, which is not a route", pattern)
	}
	wantAudited(t, f)
}

// wantAudited checks that the changes the matrix made to the organizer's
// things are in its audit log, with their actors: users and the API key.
func wantAudited(t *testing.T, f *authzFixture) {
	t.Helper()
	seen := map[string]bool{}
	byKey := false
	path := "/api/v1/organizers/" + f.org + "/audit?limit=100"
	for {
		var page listJSON[auditJSON]
		f.ts.call("GET", path, f.ts.adminToken, nil).ok(t, 200, &page)
		for _, e := range page.Items {
			if e.OrganizerID != f.org || e.Actor == "" || e.SubjectID == "" || e.At.IsZero() || len(e.Detail) == 0 {
				t.Errorf("audit entry %+v", e)
			}
			if strings.Contains(string(e.Detail), "whsec_") || strings.Contains(string(e.Detail), "bo_") {
				t.Errorf("a secret in the audit log: %s", e.Detail)
			}
			seen[e.Action] = true
			byKey = byKey || strings.HasPrefix(e.Actor, "key:")
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/organizers/" + f.org + "/audit?limit=100&cursor=" + *page.NextCursor
	}
	for _, a := range []string{"event.created", "event.updated", "event.published", "event.cancelled", "event.deleted",
		"order.refunded", "member.role_set", "member.removed", "api_key.created", "api_key.revoked", "checkin.undone",
		"webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"} {
		if !seen[a] {
			t.Errorf("no %s in the audit log (it has %v)", a, seen)
		}
	}
	if !byKey {
		t.Error("nothing in the audit log was done by the API key")
	}
}

// status sends one request and returns the answer's status without
// reading a streamed body to its end.
func (f *authzFixture) status(method, path, token string, body any) int {
	t := f.ts.t
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel() // ends a stream once its status is known
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, f.ts.url+path, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, f.ts.url+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fakeAdmissionTokens issues tokens that admit nobody; the matrix only
// needs the waiting room's join, status and stream.
type fakeAdmissionTokens struct{}

func (fakeAdmissionTokens) Issue(userID, eventID string, _ time.Time) (string, error) {
	return "adm-" + userID + "-" + eventID, nil
}
func (fakeAdmissionTokens) Verify(string, string, string) bool { return false }
