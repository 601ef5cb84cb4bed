package httpapi

import (
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/memory"
)

// TestOrganizersE2E: organizers, teams and API keys over HTTP, and drafts
// that only the team sees.
func TestOrganizersE2E(t *testing.T) {
	ts := newTestServer(t, func(store boxoffice.Store, cfg *Config) {
		cfg.Queue = boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{Queue: memory.NewQueue(), Store: store, Tokens: fakeAdmissionTokens{}})
	})
	fan, _ := ts.signUp("fan@example.test")
	boss, bossID := ts.signUp("boss@example.test")
	_, clerkID := ts.signUp("clerk@example.test")

	// Organizers.
	var org struct{ ID, Name, Slug string }
	ts.call("POST", "/api/v1/organizers", ts.adminToken, map[string]string{"name": "The Jazz Club"}).ok(t, 201, &org)
	if org.Slug != "the-jazz-club" || org.Name != "The Jazz Club" {
		t.Errorf("organizer %+v", org)
	}
	ts.call("POST", "/api/v1/organizers", ts.adminToken, map[string]string{"name": "Another", "slug": "the-jazz-club"}).problem(t, 409, boxoffice.CodeSlugTaken)
	ts.call("POST", "/api/v1/organizers", ts.adminToken, map[string]string{"name": "Bad", "slug": "Bad Slug"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/organizers", ts.adminToken, map[string]string{"name": ""}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/organizers", ts.adminToken, map[string]any{"name": "X", "colour": "red"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/organizers", ts.adminToken, "{").problem(t, 400, codeMalformedJSON)
	ts.call("POST", "/api/v1/organizers", fan, map[string]string{"name": "Mine"}).problem(t, 403, boxoffice.CodeForbidden)
	base := "/api/v1/organizers/" + org.ID

	// The team.
	ts.call("PUT", base+"/members/"+bossID, ts.adminToken, map[string]string{"role": "chief"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("PUT", base+"/members/"+bossID, ts.adminToken, map[string]string{"role": "owner"}).ok(t, 200, nil)
	ts.call("PUT", base+"/members/"+boxoffice.NewID(), boss, map[string]string{"role": "staff"}).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PUT", base+"/members/"+clerkID, boss, map[string]string{"role": "staff"}).ok(t, 200, nil)
	var me userJSON
	ts.call("GET", "/api/v1/users/me", ts.adminToken, nil).ok(t, 200, &me)
	ts.call("DELETE", base+"/members/"+me.ID, boss, nil).ok(t, 204, nil) // the admin, its first owner, leaves
	ts.call("PUT", base+"/members/"+bossID, boss, map[string]string{"role": "manager"}).problem(t, 409, boxoffice.CodeInvalidState)
	ts.call("DELETE", base+"/members/"+bossID, boss, nil).problem(t, 409, boxoffice.CodeInvalidState)
	var team struct {
		Items []struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		} `json:"items"`
	}
	ts.call("GET", base+"/members", boss, nil).ok(t, 200, &team)
	if len(team.Items) != 2 {
		t.Errorf("team %+v", team.Items)
	}
	ts.call("GET", base, fan, nil).problem(t, 404, boxoffice.CodeNotFound)

	// API keys.
	ts.call("POST", base+"/api-keys", boss, map[string]string{"name": "k", "role": "owner"}).problem(t, 422, boxoffice.CodeValidationFailed)
	var key struct {
		ID, Key, Role string
	}
	ts.call("POST", base+"/api-keys", boss, map[string]string{"name": "box office", "role": "manager"}).ok(t, 201, &key)
	if len(key.Key) != 46 || key.Key[:3] != "bo_" || key.Role != "manager" {
		t.Fatalf("key %+v", key)
	}
	var keys struct {
		Items []map[string]any `json:"items"`
	}
	ts.call("GET", base+"/api-keys", boss, nil).ok(t, 200, &keys)
	if len(keys.Items) != 1 || keys.Items[0]["key"] != nil {
		t.Errorf("the list shows %+v", keys.Items)
	}
	ts.call("GET", "/api/v1/users/me", key.Key, nil).problem(t, 403, boxoffice.CodeForbidden)
	ts.call("GET", base, "bo_"+key.Key[4:]+"x", nil).problem(t, 401, boxoffice.CodeUnauthenticated)

	// A draft made with the key: the team sees it, nobody else does.
	body := ts.eventBody("Quiet Night", 10)
	body["tiers"] = []map[string]any{
		{"name": "GA", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": 10},
		{"name": "Guests", "price": map[string]any{"amount": 0, "currency": "USD"}, "capacity": 5, "hidden": true},
	}
	body["queue"] = map[string]any{"enabled": true, "admit_per_minute": 60}
	var e struct {
		ID          string `json:"id"`
		OrganizerID string `json:"organizer_id"`
		Status      string `json:"status"`
		Tiers       []struct {
			ID     string `json:"id"`
			Hidden bool   `json:"hidden"`
		} `json:"tiers"`
	}
	ts.call("POST", "/api/v1/events", key.Key, body).ok(t, 201, &e)
	if e.OrganizerID != org.ID || e.Status != "draft" || len(e.Tiers) != 2 {
		t.Fatalf("event %+v", e)
	}
	body["organizer_id"] = "not-an-id"
	ts.call("POST", "/api/v1/events", ts.adminToken, body).problem(t, 422, boxoffice.CodeValidationFailed)
	ev := "/api/v1/events/" + e.ID
	ts.call("GET", ev, "", nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", ev, fan, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", ev, "not a token", nil).problem(t, 404, boxoffice.CodeNotFound) // a bad token reads as the public
	ts.call("GET", ev, boss, nil).ok(t, 200, &e)
	ts.call("GET", ev, key.Key, nil).ok(t, 200, nil)
	ts.call("POST", ev+"/queue", fan, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PUT", "/api/v1/users/me/bookmarks/"+e.ID, fan, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.hold(fan, e.ID, e.Tiers[0].ID, 1).problem(t, 404, boxoffice.CodeNotFound)
	var list listJSON[eventJSON]
	ts.call("GET", "/api/v1/events?q=Quiet", "", nil).ok(t, 200, &list)
	if len(list.Items) != 0 {
		t.Errorf("the list shows a draft")
	}

	// Published: shown without the hidden tier, which does not sell.
	ts.call("POST", ev+"/publish", key.Key, nil).ok(t, 200, nil)
	ts.call("POST", ev+"/publish", key.Key, nil).problem(t, 409, boxoffice.CodeInvalidState)
	var pub eventJSON
	ts.call("GET", ev, "", nil).ok(t, 200, &pub)
	if len(pub.Tiers) != 1 {
		t.Errorf("the public sees %d tiers", len(pub.Tiers))
	}
	ts.call("GET", "/api/v1/events?q=Night", "", nil).ok(t, 200, &list) // q=Quiet's page is cached for a second
	if len(list.Items) != 1 || len(list.Items[0].Tiers) != 1 {
		t.Errorf("the list: %+v", list.Items)
	}
	ts.call("PUT", "/api/v1/users/me/bookmarks/"+e.ID, fan, nil).ok(t, 204, nil)
	ts.call("GET", "/api/v1/users/me/bookmarks", fan, nil).ok(t, 200, &list)
	if len(list.Items) != 1 || len(list.Items[0].Tiers) != 1 {
		t.Errorf("bookmarks show %+v", list.Items)
	}
	// The waiting room keeps the event's rules for up to a second.
	for deadline := time.Now().Add(3 * time.Second); ts.call("POST", ev+"/queue", fan, nil).status != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the published event's waiting room is still unknown")
		}
	}
	ts.call("PATCH", ev, key.Key, map[string]any{"tiers": []map[string]any{{"id": e.Tiers[1].ID, "hidden": false, "closed": true}}}).ok(t, 200, &e)
	if e.Tiers[1].Hidden {
		t.Errorf("the tier is still hidden")
	}

	// Revoked, the key stops working.
	ts.call("DELETE", base+"/api-keys/"+key.ID, boss, nil).ok(t, 204, nil)
	ts.call("DELETE", base+"/api-keys/"+key.ID, boss, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", ev+"/sales", key.Key, nil).problem(t, 401, boxoffice.CodeUnauthenticated)
}
