package httpapi

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
	"boxoffice/internal/auth"
)

func TestE2EUsers(t *testing.T) {
	ts := newTestServer(t)

	var u userJSON
	ts.call("POST", "/api/v1/users", "", map[string]string{"email": "Ann@Example.com", "password": "stage-door-123", "name": "Ann ☃ O'Brien; DROP TABLE users;--"}).ok(t, 201, &u)
	if u.ID == "" || u.Email != "Ann@Example.com" || u.Name != "Ann ☃ O'Brien; DROP TABLE users;--" || u.Role != "user" || u.CreatedAt.IsZero() {
		t.Errorf("user = %+v", u)
	}
	r := ts.call("POST", "/api/v1/users", "", map[string]string{"email": "x@example.com", "password": "stage-door-123", "name": "X"})
	if bytes.Contains(r.body, []byte("password")) {
		t.Errorf("user body mentions the password: %s", r.body)
	}

	t.Run("email taken in other case", func(t *testing.T) {
		ts.call("POST", "/api/v1/users", "", map[string]string{"email": "ann@EXAMPLE.com", "password": "stage-door-456", "name": "Other"}).
			problem(t, 409, boxoffice.CodeEmailTaken)
	})
	t.Run("validation", func(t *testing.T) {
		p := ts.call("POST", "/api/v1/users", "", map[string]string{"email": "not-an-email", "password": "short", "name": ""}).
			problem(t, 422, boxoffice.CodeValidationFailed)
		if diff := cmp.Diff([]string{"email", "password", "name"}, fieldNames(p)); diff != "" {
			t.Errorf("fields (-want +got):\n%s", diff)
		}
	})

	var tok tokenResponse
	ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": "ann@example.COM", "password": "stage-door-123"}).ok(t, 200, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Errorf("token = %+v", tok)
	}

	t.Run("invalid credentials", func(t *testing.T) {
		unknown := ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": "nobody@example.com", "password": "stage-door-123"})
		wrong := ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": "ann@example.com", "password": "stage-door-124"})
		p1 := unknown.problem(t, 401, boxoffice.CodeInvalidCredentials)
		p2 := wrong.problem(t, 401, boxoffice.CodeInvalidCredentials)
		p1.RequestID, p2.RequestID = "", ""
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Errorf("unknown email and wrong password answer differently:\n%s", diff)
		}
	})

	var me userJSON
	ts.call("GET", "/api/v1/users/me", tok.AccessToken, nil).ok(t, 200, &me)
	if diff := cmp.Diff(u, me); diff != "" {
		t.Errorf("me (-signup +me):\n%s", diff)
	}

	t.Run("token failures", func(t *testing.T) {
		ts.call("GET", "/api/v1/users/me", "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
		ts.call("GET", "/api/v1/users/me", tok.AccessToken+"x", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
		other, _, _ := auth.NewTokens([]byte("another-secret-another-secret-!!"), time.Hour).Issue(&boxoffice.User{ID: u.ID, Role: boxoffice.RoleAdmin})
		ts.call("GET", "/api/v1/users/me", other, nil).problem(t, 401, boxoffice.CodeUnauthenticated)
		expired, _, _ := auth.NewTokens(ts.secret, -time.Minute).Issue(&boxoffice.User{ID: u.ID, Role: boxoffice.RoleUser})
		r := ts.call("GET", "/api/v1/users/me", expired, nil)
		r.problem(t, 401, boxoffice.CodeTokenExpired)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
		}
	})
}

func TestE2EEvents(t *testing.T) {
	ts := newTestServer(t)
	userToken, _ := ts.signUp("user@example.com")

	body := ts.eventBody(`Ünïcødé 🎫 "quoted" ' OR 1=1; --`, 10)
	body["description"] = "<script>alert(1)</script> & 100% \\ back\nslash"
	body["venue"] = "Salle Pleyel, Paris"
	body["starts_at"] = "2031-03-01T21:00:00+01:00"
	body["ends_at"] = "2031-03-01T23:00:00+01:00"
	e := ts.createEvent(body)
	if e.Title != body["title"] || e.Description != body["description"] || e.Venue != "Salle Pleyel, Paris" {
		t.Errorf("strings did not round-trip: %+v", e)
	}
	if want := time.Date(2031, 3, 1, 20, 0, 0, 0, time.UTC); !e.StartsAt.Equal(want) || e.EndsAt == nil || e.EndsAt.Sub(e.StartsAt) != 2*time.Hour {
		t.Errorf("times = %v %v", e.StartsAt, e.EndsAt)
	}
	if len(e.Tiers) != 1 || e.Tiers[0].ID == "" || e.Tiers[0].Available != 10 || e.Available != 10 || e.Queue.Enabled {
		t.Errorf("event = %+v", e)
	}
	r := ts.call("GET", "/api/v1/events/"+e.ID, "", nil)
	if !strings.Contains(string(r.body), `"starts_at":"2031-03-01T20:00:00Z"`) {
		t.Errorf("times are not UTC with Z: %s", r.body)
	}
	var got eventJSON
	r.ok(t, 200, &got)
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("detail (-created +got):\n%s", diff)
	}

	t.Run("create permissions and validation", func(t *testing.T) {
		ts.call("POST", "/api/v1/events", userToken, ts.eventBody("x", 1)).problem(t, 403, boxoffice.CodeForbidden)
		ts.call("POST", "/api/v1/events", "", ts.eventBody("x", 1)).problem(t, 401, boxoffice.CodeUnauthenticated)
		bad := ts.eventBody("", 0)
		bad["sales_end_at"] = bad["sales_start_at"]
		bad["venue"] = ""
		p := ts.call("POST", "/api/v1/events", ts.adminToken, bad).problem(t, 422, boxoffice.CodeValidationFailed)
		for _, f := range []string{"title", "venue", "sales_end_at", "tiers[0].capacity"} {
			if !slices.Contains(fieldNames(p), f) {
				t.Errorf("fields %v lack %s", fieldNames(p), f)
			}
		}
		noTiers := ts.eventBody("x", 1)
		delete(noTiers, "tiers")
		p = ts.call("POST", "/api/v1/events", ts.adminToken, noTiers).problem(t, 422, boxoffice.CodeValidationFailed)
		if !slices.Contains(fieldNames(p), "tiers") {
			t.Errorf("fields %v lack tiers", fieldNames(p))
		}
	})

	t.Run("list", func(t *testing.T) {
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var ids []string
		for i := range 5 {
			b := ts.eventBody(fmt.Sprintf("Concert %d", i), 5)
			b["starts_at"] = base.Add(time.Duration(i) * 24 * time.Hour).Format(time.RFC3339)
			b["venue"] = []string{"Arena", "Club"}[i%2]
			if i == 4 {
				// Not on sale: its window opens next year.
				b["sales_start_at"] = ts.clock.now().Add(365 * 24 * time.Hour).Format(time.RFC3339)
				b["sales_end_at"] = ts.clock.now().Add(366 * 24 * time.Hour).Format(time.RFC3339)
			}
			ids = append(ids, ts.createEvent(b).ID)
		}
		ids = append(ids, e.ID) // starts in 2031: last

		var walked []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("cursor walk does not end")
			}
			var page listJSON[eventJSON]
			ts.call("GET", "/api/v1/events?limit=2&cursor="+url.QueryEscape(cursor), "", nil).ok(t, 200, &page)
			if len(page.Items) > 2 {
				t.Fatalf("page has %d items", len(page.Items))
			}
			for _, it := range page.Items {
				walked = append(walked, it.ID)
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if diff := cmp.Diff(ids, walked); diff != "" {
			t.Errorf("walk (-want +got):\n%s", diff)
		}

		list := func(query string) []string {
			t.Helper()
			var page listJSON[eventJSON]
			ts.call("GET", "/api/v1/events?"+query, "", nil).ok(t, 200, &page)
			var out []string
			for _, it := range page.Items {
				out = append(out, it.ID)
			}
			return out
		}
		if diff := cmp.Diff([]string{ids[1], ids[3]}, list("q=cLuB")); diff != "" {
			t.Errorf("q=club (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{ids[0]}, list("q="+url.QueryEscape("concert 0"))); diff != "" {
			t.Errorf("q=concert 0 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{e.ID}, list("q="+url.QueryEscape("Ünïcødé 🎫"))); diff != "" {
			t.Errorf("q=unicode (-want +got):\n%s", diff)
		}
		if got := list("q=" + url.QueryEscape("' OR 1=1")); !slices.Equal(got, []string{e.ID}) {
			t.Errorf("q with SQL = %v", got)
		}
		if got := list("q=%25"); got != nil && !slices.Equal(got, []string{e.ID}) {
			t.Errorf("q=%% matched %v; LIKE wildcards must be literal", got)
		}
		after := url.QueryEscape(base.Add(36 * time.Hour).Format(time.RFC3339))
		before := url.QueryEscape(base.Add(84 * time.Hour).In(time.FixedZone("X", 5*3600)).Format(time.RFC3339))
		if diff := cmp.Diff([]string{ids[2], ids[3]}, list("starts_after="+after+"&starts_before="+before)); diff != "" {
			t.Errorf("time filter (-want +got):\n%s", diff)
		}
		if got := list("on_sale=true&limit=100"); slices.Contains(got, ids[4]) || !slices.Contains(got, ids[0]) {
			t.Errorf("on_sale=true = %v", got)
		}
		ts.call("GET", "/api/v1/events?cursor=garbage", "", nil).problem(t, 422, boxoffice.CodeValidationFailed)
		ts.call("GET", "/api/v1/events?limit=0", "", nil).problem(t, 422, boxoffice.CodeValidationFailed)
	})

	t.Run("patch", func(t *testing.T) {
		patch := map[string]any{
			"title":     "Renamed ☃",
			"starts_at": "2031-03-02T21:00:00-05:00",
			"ends_at":   "2031-03-03T04:00:00Z",
			"tiers": []map[string]any{
				{"id": e.Tiers[0].ID, "capacity": 20},
				{"name": "VIP", "price": map[string]any{"amount": 15000, "currency": "USD"}, "capacity": 2},
			},
		}
		var pe eventJSON
		ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, patch).ok(t, 200, &pe)
		if pe.Title != "Renamed ☃" || pe.Venue != e.Venue || len(pe.Tiers) != 2 || pe.Available != 22 ||
			!pe.StartsAt.Equal(time.Date(2031, 3, 3, 2, 0, 0, 0, time.UTC)) {
			t.Errorf("patched = %+v", pe)
		}
		ts.call("PATCH", "/api/v1/events/"+e.ID, userToken, map[string]any{"title": "x"}).problem(t, 404, boxoffice.CodeNotFound) // not a member of its organizer
		ts.call("PATCH", "/api/v1/events/"+boxoffice.NewID(), ts.adminToken, map[string]any{"title": "x"}).problem(t, 404, boxoffice.CodeNotFound)
		ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, map[string]any{"title": ""}).problem(t, 422, boxoffice.CodeValidationFailed)
		ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, map[string]any{"colour": "red"}).problem(t, 422, boxoffice.CodeValidationFailed)

		// Capacity may not fall below what is held.
		ts.hold(userToken, e.ID, e.Tiers[0].ID, 3).ok(t, 201, nil)
		ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, map[string]any{"tiers": []map[string]any{{"id": e.Tiers[0].ID, "capacity": 2}}}).
			problem(t, 409, boxoffice.CodeCapacityConflict)
		ts.call("PATCH", "/api/v1/events/"+e.ID, ts.adminToken, map[string]any{"tiers": []map[string]any{{"id": e.Tiers[0].ID, "capacity": 3}}}).ok(t, 200, nil)

		var sales struct {
			EventID string          `json:"event_id"`
			Tiers   []tierSalesBody `json:"tiers"`
			Queue   queueCounts     `json:"queue"`
		}
		ts.call("GET", "/api/v1/events/"+e.ID+"/sales", ts.adminToken, nil).ok(t, 200, &sales)
		if sales.EventID != e.ID || len(sales.Tiers) != 2 {
			t.Fatalf("sales = %+v", sales)
		}
		for _, ti := range sales.Tiers {
			if ti.Held+ti.Confirmed+ti.Available != ti.Capacity {
				t.Errorf("tier %+v does not add up", ti)
			}
		}
		if i := slices.IndexFunc(sales.Tiers, func(s tierSalesBody) bool { return s.TierID == e.Tiers[0].ID }); i < 0 || sales.Tiers[i].Held != 3 || sales.Tiers[i].Available != 0 {
			t.Errorf("GA sales = %+v", sales.Tiers)
		}
		ts.call("GET", "/api/v1/events/"+e.ID+"/sales", userToken, nil).problem(t, 404, boxoffice.CodeNotFound) // not a member of its organizer
		ts.call("GET", "/api/v1/events/"+boxoffice.NewID()+"/sales", ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)

		// An event with held tickets cannot be deleted.
		ts.call("DELETE", "/api/v1/events/"+e.ID, ts.adminToken, nil).problem(t, 409, boxoffice.CodeHasReservations)
	})

	t.Run("delete", func(t *testing.T) {
		d := ts.createEvent(ts.eventBody("Doomed", 5))
		ts.call("DELETE", "/api/v1/events/"+d.ID, userToken, nil).problem(t, 404, boxoffice.CodeNotFound) // not a member of its organizer
		ts.call("DELETE", "/api/v1/events/"+d.ID, ts.adminToken, nil).ok(t, 204, nil)
		ts.call("GET", "/api/v1/events/"+d.ID, "", nil).problem(t, 404, boxoffice.CodeNotFound)
		ts.call("DELETE", "/api/v1/events/"+d.ID, ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
		ts.call("GET", "/api/v1/events/not-an-id", "", nil).problem(t, 404, boxoffice.CodeNotFound)
	})
}

func TestE2EBookmarks(t *testing.T) {
	ts := newTestServer(t)
	token, _ := ts.signUp("fan@example.com")
	otherToken, _ := ts.signUp("other@example.com")
	var events []eventJSON
	for i := range 3 {
		events = append(events, ts.createEvent(ts.eventBody(fmt.Sprintf("Show %d", i), 5)))
	}
	for _, e := range events {
		ts.call("PUT", "/api/v1/users/me/bookmarks/"+e.ID, token, nil).ok(t, 204, nil)
		ts.clock.advance(time.Millisecond)
	}
	ts.call("PUT", "/api/v1/users/me/bookmarks/"+events[0].ID, token, nil).ok(t, 204, nil) // idempotent
	ts.call("PUT", "/api/v1/users/me/bookmarks/"+boxoffice.NewID(), token, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PUT", "/api/v1/users/me/bookmarks/"+events[0].ID, "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)

	walk := func(token string) []string {
		var ids []string
		cursor := ""
		for range 10 {
			var page listJSON[eventJSON]
			ts.call("GET", "/api/v1/users/me/bookmarks?limit=2&cursor="+url.QueryEscape(cursor), token, nil).ok(t, 200, &page)
			for _, e := range page.Items {
				ids = append(ids, e.ID)
			}
			if page.NextCursor == nil {
				return ids
			}
			cursor = *page.NextCursor
		}
		t.Fatal("bookmark walk does not end")
		return nil
	}
	if diff := cmp.Diff([]string{events[2].ID, events[1].ID, events[0].ID}, walk(token)); diff != "" {
		t.Errorf("bookmarks newest first (-want +got):\n%s", diff)
	}
	var empty listJSON[eventJSON]
	r := ts.call("GET", "/api/v1/users/me/bookmarks", otherToken, nil)
	r.ok(t, 200, &empty)
	if !strings.Contains(string(r.body), `"items":[]`) || !strings.Contains(string(r.body), `"next_cursor":null`) {
		t.Errorf("empty page = %s", r.body)
	}

	ts.call("DELETE", "/api/v1/users/me/bookmarks/"+events[1].ID, token, nil).ok(t, 204, nil)
	ts.call("DELETE", "/api/v1/users/me/bookmarks/"+events[1].ID, token, nil).ok(t, 204, nil)
	ts.call("DELETE", "/api/v1/users/me/bookmarks/"+boxoffice.NewID(), token, nil).ok(t, 204, nil)
	if diff := cmp.Diff([]string{events[2].ID, events[0].ID}, walk(token)); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}

func TestE2EReservations(t *testing.T) {
	ts := newTestServer(t)
	ann, annID := ts.signUp("ann@example.com")
	bob, _ := ts.signUp("bob@example.com")
	e := ts.createEvent(ts.eventBody("Big show", 5))
	tier := e.Tiers[0].ID
	path := "/api/v1/events/" + e.ID + "/reservations"

	// Happy path: hold, read, list, change, confirm, confirm again.
	var held reservationJSON
	r := ts.call("POST", path, ann, map[string]any{"tier_id": tier, "quantity": 2, "attendee": map[string]string{"name": "Ann ☃ 'x'--", "phone": "+1 555"}})
	r.ok(t, 201, &held)
	if held.Status != "held" || held.Quantity != 2 || held.Amount != (boxoffice.Money{Amount: 10000, Currency: "USD"}) ||
		held.EventID != e.ID || held.TierID != tier || held.Attendee == nil || held.Attendee.Name != "Ann ☃ 'x'--" ||
		held.HoldExpiresAt.Sub(held.CreatedAt) != 60*time.Second || held.ConfirmedAt != nil || held.CancelledAt != nil {
		t.Errorf("held = %+v", held)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/reservations/"+held.ID {
		t.Errorf("Location = %q", loc)
	}
	var got reservationJSON
	ts.call("GET", "/api/v1/reservations/"+held.ID, ann, nil).ok(t, 200, &got)
	if diff := cmp.Diff(held, got); diff != "" {
		t.Errorf("get (-created +got):\n%s", diff)
	}
	ts.call("GET", "/api/v1/reservations/"+held.ID, ts.adminToken, nil).ok(t, 200, nil)
	ts.call("GET", "/api/v1/reservations/"+held.ID, bob, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PATCH", "/api/v1/reservations/"+held.ID, bob, map[string]int{"quantity": 1}).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("POST", "/api/v1/reservations/"+held.ID+"/confirm", bob, map[string]string{"payment_token": "tok_ok"}).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("POST", "/api/v1/reservations/"+held.ID+"/cancel", bob, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", "/api/v1/reservations/"+boxoffice.NewID(), ann, nil).problem(t, 404, boxoffice.CodeNotFound)

	var changed reservationJSON
	ts.call("PATCH", "/api/v1/reservations/"+held.ID, ann, map[string]int{"quantity": 3}).ok(t, 200, &changed)
	if changed.Quantity != 3 || changed.Amount.Amount != 15000 {
		t.Errorf("changed = %+v", changed)
	}
	ts.call("PATCH", "/api/v1/reservations/"+held.ID, ann, map[string]int{"quantity": 0}).problem(t, 422, boxoffice.CodeValidationFailed)

	t.Run("sold out and limits", func(t *testing.T) {
		ts.hold(bob, e.ID, tier, 3).problem(t, 409, boxoffice.CodeSoldOut)
		ts.hold(ann, e.ID, tier, 5).problem(t, 409, boxoffice.CodeLimitExceeded)
		ts.hold(ann, e.ID, tier, 2).problem(t, 409, boxoffice.CodeLimitExceeded) // 3 held + 2 > 4
		ts.call("PATCH", "/api/v1/reservations/"+held.ID, ann, map[string]int{"quantity": 5}).problem(t, 409, boxoffice.CodeLimitExceeded)
		ts.hold(bob, e.ID, tier, 0).problem(t, 422, boxoffice.CodeValidationFailed)
		ts.hold(bob, e.ID, boxoffice.NewID(), 1).problem(t, 422, boxoffice.CodeValidationFailed)
		ts.hold(bob, boxoffice.NewID(), tier, 1).problem(t, 404, boxoffice.CodeNotFound)
	})

	t.Run("payment declined", func(t *testing.T) {
		ts.call("POST", "/api/v1/reservations/"+held.ID+"/confirm", ann, map[string]string{"payment_token": "tok_declined"}).
			problem(t, 402, boxoffice.CodePaymentDeclined)
		var still reservationJSON
		ts.call("GET", "/api/v1/reservations/"+held.ID, ann, nil).ok(t, 200, &still)
		if still.Status != "held" {
			t.Errorf("after a declined payment status = %s, want held", still.Status)
		}
	})

	var confirmed reservationJSON
	ts.call("POST", "/api/v1/reservations/"+held.ID+"/confirm", ann, map[string]string{"payment_token": "tok_visa"}).ok(t, 200, &confirmed)
	if confirmed.Status != "confirmed" || confirmed.ConfirmedAt == nil {
		t.Errorf("confirmed = %+v", confirmed)
	}
	var again reservationJSON
	ts.call("POST", "/api/v1/reservations/"+held.ID+"/confirm", ann, map[string]string{"payment_token": "tok_visa"}).ok(t, 200, &again)
	if again.Status != "confirmed" || !again.ConfirmedAt.Equal(*confirmed.ConfirmedAt) {
		t.Errorf("confirm twice = %+v", again)
	}
	ts.call("PATCH", "/api/v1/reservations/"+held.ID, ann, map[string]int{"quantity": 1}).problem(t, 409, boxoffice.CodeInvalidState)

	t.Run("cancel returns tickets", func(t *testing.T) {
		var h2 reservationJSON
		ts.hold(bob, e.ID, tier, 2).ok(t, 201, &h2)
		ts.hold(bob, e.ID, tier, 1).problem(t, 409, boxoffice.CodeSoldOut)
		var c reservationJSON
		ts.call("POST", "/api/v1/reservations/"+h2.ID+"/cancel", bob, nil).ok(t, 200, &c)
		if c.Status != "cancelled" || c.CancelledAt == nil {
			t.Errorf("cancelled = %+v", c)
		}
		ts.call("POST", "/api/v1/reservations/"+h2.ID+"/confirm", bob, map[string]string{"payment_token": "tok_visa"}).
			problem(t, 409, boxoffice.CodeInvalidState)
		var h3 reservationJSON
		ts.hold(bob, e.ID, tier, 2).ok(t, 201, &h3)
		ts.call("POST", "/api/v1/reservations/"+h3.ID+"/cancel", bob, "{}").ok(t, 200, nil)
	})

	t.Run("idempotency", func(t *testing.T) {
		key := []string{"Idempotency-Key", "order-42 / retry:safe"}
		var first, second reservationJSON
		ts.hold(bob, e.ID, tier, 1, key...).ok(t, 201, &first)
		ts.hold(bob, e.ID, tier, 1, key...).ok(t, 201, &second)
		if first.ID != second.ID {
			t.Errorf("replay made a second hold: %s vs %s", first.ID, second.ID)
		}
		ts.hold(bob, e.ID, tier, 2, key...).problem(t, 409, boxoffice.CodeIdempotencyKeyReused)
		// The key is per user: Ann may use Bob's key for her own request.
		var annHold reservationJSON
		ts.hold(ann, e.ID, tier, 1, key...).ok(t, 201, &annHold)
		if annHold.ID == first.ID {
			t.Error("Ann got Bob's reservation for the same key")
		}
		ts.call("POST", "/api/v1/reservations/"+annHold.ID+"/cancel", ann, nil).ok(t, 200, nil)
		ts.call("POST", "/api/v1/reservations/"+first.ID+"/cancel", bob, nil, "Idempotency-Key", "cancel-1").ok(t, 200, nil)
		ts.call("POST", "/api/v1/reservations/"+first.ID+"/cancel", bob, nil, "Idempotency-Key", "cancel-1").ok(t, 200, nil)
		ts.hold(bob, e.ID, tier, 1, "Idempotency-Key", strings.Repeat("k", 256)).problem(t, 422, boxoffice.CodeValidationFailed)
		ts.hold(bob, e.ID, tier, 1, "Idempotency-Key", "ключ").problem(t, 422, boxoffice.CodeValidationFailed)
	})

	t.Run("list own", func(t *testing.T) {
		var page listJSON[reservationJSON]
		ts.call("GET", "/api/v1/users/me/reservations?limit=100", bob, nil).ok(t, 200, &page)
		if len(page.Items) != 3 || page.NextCursor != nil {
			t.Fatalf("bob's reservations = %d items", len(page.Items))
		}
		if !slices.IsSortedFunc(page.Items, func(a, b reservationJSON) int { return strings.Compare(b.ID, a.ID) }) {
			t.Error("not newest first")
		}
		var walked []string
		cursor := ""
		for range 10 {
			var p listJSON[reservationJSON]
			ts.call("GET", "/api/v1/users/me/reservations?limit=1&cursor="+url.QueryEscape(cursor), bob, nil).ok(t, 200, &p)
			for _, it := range p.Items {
				walked = append(walked, it.ID)
			}
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		var want []string
		for _, it := range page.Items {
			want = append(want, it.ID)
		}
		if diff := cmp.Diff(want, walked); diff != "" {
			t.Errorf("walk (-want +got):\n%s", diff)
		}
		var confirmedOnly listJSON[reservationJSON]
		ts.call("GET", "/api/v1/users/me/reservations?status=confirmed", ann, nil).ok(t, 200, &confirmedOnly)
		if len(confirmedOnly.Items) != 1 || confirmedOnly.Items[0].ID != held.ID {
			t.Errorf("ann's confirmed = %+v", confirmedOnly.Items)
		}
		ts.call("GET", "/api/v1/users/me/reservations?status=paid", ann, nil).problem(t, 422, boxoffice.CodeValidationFailed)
		_ = annID
	})

	t.Run("hold expired", func(t *testing.T) {
		other := ts.createEvent(ts.eventBody("Short holds", 5))
		var h1, h2 reservationJSON
		ts.hold(ann, other.ID, other.Tiers[0].ID, 1).ok(t, 201, &h1)
		ts.hold(ann, other.ID, other.Tiers[0].ID, 1).ok(t, 201, &h2)
		ts.clock.advance(2 * time.Minute)
		ts.call("POST", "/api/v1/reservations/"+h1.ID+"/confirm", ann, map[string]string{"payment_token": "tok_visa"}).
			problem(t, 409, boxoffice.CodeHoldExpired)
		ts.call("PATCH", "/api/v1/reservations/"+h2.ID, ann, map[string]int{"quantity": 2}).problem(t, 409, boxoffice.CodeHoldExpired)
	})

	t.Run("sales closed", func(t *testing.T) {
		b := ts.eventBody("Later", 5)
		b["sales_start_at"] = ts.clock.now().Add(24 * time.Hour).Format(time.RFC3339)
		later := ts.createEvent(b)
		ts.hold(ann, later.ID, later.Tiers[0].ID, 1).problem(t, 409, boxoffice.CodeSalesClosed)
	})

	t.Run("waiting room admission", func(t *testing.T) {
		b := ts.eventBody("Queued", 3)
		b["queue"] = map[string]any{"enabled": true, "admit_per_minute": 60}
		q := ts.createEvent(b)
		ts.hold(ann, q.ID, q.Tiers[0].ID, 1).problem(t, 403, boxoffice.CodeNotAdmitted)
		ts.hold(ann, q.ID, q.Tiers[0].ID, 1, "Admission-Token", "adm-1").problem(t, 403, boxoffice.CodeNotAdmitted)
		ts.admissions.grant("adm-1", annID, q.ID)
		ts.hold(bob, q.ID, q.Tiers[0].ID, 1, "Admission-Token", "adm-1").problem(t, 403, boxoffice.CodeNotAdmitted)
		// A refused hold does not use the admission up: the buyer may try
		// a smaller one.
		ts.hold(ann, q.ID, q.Tiers[0].ID, 9, "Admission-Token", "adm-1").problem(t, 409, boxoffice.CodeLimitExceeded)
		ts.hold(ann, q.ID, q.Tiers[0].ID, 4, "Admission-Token", "adm-1").problem(t, 409, boxoffice.CodeSoldOut)
		if n := ts.admissions.usedCount(); n != 0 {
			t.Fatalf("admission noted used %d times before any hold was granted", n)
		}
		ts.hold(ann, q.ID, q.Tiers[0].ID, 1, "Admission-Token", "adm-1").ok(t, 201, nil)
		if n := ts.admissions.usedCount(); n != 1 {
			t.Fatalf("admission noted used %d times after one granted hold, want 1", n)
		}
	})
}

func TestE2EOperations(t *testing.T) {
	ts := newTestServer(t)
	ts.call("GET", "/healthz", "", nil).ok(t, 200, nil)
	ts.call("GET", "/readyz", "", nil).ok(t, 200, nil)
	var spec map[string]any
	ts.call("GET", "/api/v1/openapi.json", "", nil).ok(t, 200, &spec)
	ts.call("GET", "/metrics", "", nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("DELETE", "/api/v1/events", ts.adminToken, nil).problem(t, 405, codeMethodNotAllowed)
	ts.call("GET", "/api/v2/events", "", nil).problem(t, 404, boxoffice.CodeNotFound)
	big := `{"tier_id": "` + strings.Repeat("a", 2<<20) + `"}`
	ts.call("POST", "/api/v1/users", "", big).problem(t, 413, codePayloadTooLarge)
	ts.call("POST", "/api/v1/users", "", "{").problem(t, 400, codeMalformedJSON)
}

// TestE2EPrivateResponsesNotCached: every answer to an authenticated caller
// (their account, reservations with attendee details, bookmarks, the sales
// view, a new hold, a problem) says Cache-Control: no-store; the public
// catalogue does not.
func TestE2EPrivateResponsesNotCached(t *testing.T) {
	ts := newTestServer(t)
	e := ts.createEvent(ts.eventBody("Private", 5))
	user, _ := ts.signUp("private@example.test")
	var res reservationJSON
	hold := ts.hold(user, e.ID, e.Tiers[0].ID, 1)
	hold.ok(t, 201, &res)
	for name, r := range map[string]*response{
		"new hold":          hold,
		"me":                ts.call("GET", "/api/v1/users/me", user, nil),
		"reservation":       ts.call("GET", "/api/v1/reservations/"+res.ID, user, nil),
		"my reservations":   ts.call("GET", "/api/v1/users/me/reservations", user, nil),
		"my bookmarks":      ts.call("GET", "/api/v1/users/me/bookmarks", user, nil),
		"sales view":        ts.call("GET", "/api/v1/events/"+e.ID+"/sales", ts.adminToken, nil),
		"someone else's":    ts.call("GET", "/api/v1/reservations/"+res.ID, ts.adminToken, nil),
		"a refused request": ts.call("GET", "/api/v1/events/"+e.ID+"/sales", user, nil),
	} {
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", name, r.status, cc)
		}
	}
	if cc := ts.call("GET", "/api/v1/events/"+e.ID, "", nil).header.Get("Cache-Control"); cc == "no-store" {
		t.Errorf("the public event page says no-store")
	}
}
