package httpapi

import (
	"testing"

	"boxoffice"
)

// signInPair signs in and returns the access and refresh tokens.
func (ts *testServer) signInPair(email, password string) tokenResponse {
	ts.t.Helper()
	var tok tokenResponse
	ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": email, "password": password}).ok(ts.t, 200, &tok)
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		ts.t.Fatalf("token answer %+v", tok)
	}
	return tok
}

// refresh exchanges a refresh token and returns the answer.
func (ts *testServer) refresh(token string) *response {
	ts.t.Helper()
	return ts.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": token})
}

// TestDisabledUserIsSignedOut: once an admin disables a user, the user's
// access token answers 401 (also for a hold), their refresh token is
// refused and they cannot sign in; enabling them again lets them sign in,
// but the old tokens stay dead.
func TestDisabledUserIsSignedOut(t *testing.T) {
	ts := newTestServer(t)
	e := ts.createEvent(ts.eventBody("Disable", 10))
	_, fanID := ts.signUp("fan@example.test")
	pair := ts.signInPair("fan@example.test", "stage-door-123")
	ts.hold(pair.AccessToken, e.ID, e.Tiers[0].ID, 1).ok(t, 201, nil)

	var u userJSON
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]bool{"disabled": true}).ok(t, 200, &u)
	ts.call("GET", "/api/v1/users/me", pair.AccessToken, nil).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.hold(pair.AccessToken, e.ID, e.Tiers[0].ID, 1).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.refresh(pair.RefreshToken).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": "fan@example.test", "password": "stage-door-123"}).
		problem(t, 401, boxoffice.CodeInvalidCredentials)

	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]bool{"disabled": false}).ok(t, 200, nil)
	ts.call("GET", "/api/v1/users/me", pair.AccessToken, nil).problem(t, 401, boxoffice.CodeUnauthenticated)
	again := ts.signInPair("fan@example.test", "stage-door-123")
	ts.hold(again.AccessToken, e.ID, e.Tiers[0].ID, 1).ok(t, 201, nil)
}

// TestDemotedAdminLosesAdminAtOnce: a demoted admin's token is refused
// admin routes (403) on the next request, and keeps working as a user's.
func TestDemotedAdminLosesAdminAtOnce(t *testing.T) {
	ts := newTestServer(t)
	if _, err := ts.svc.EnsureAdmin(t.Context(), "deputy@example.test", "stage-door-123", "Deputy"); err != nil {
		t.Fatal(err)
	}
	deputy := ts.signIn("deputy@example.test", "stage-door-123")
	var me userJSON
	ts.call("GET", "/api/v1/users/me", deputy, nil).ok(t, 200, &me)
	e := ts.createEvent(ts.eventBody("Demote", 10))
	ts.call("GET", "/api/v1/events/"+e.ID+"/sales", deputy, nil).ok(t, 200, nil)

	var changed userJSON
	ts.call("PATCH", "/api/v1/users/"+me.ID, ts.adminToken, map[string]string{"role": "user"}).ok(t, 200, &changed)
	if changed.Role != "user" {
		t.Errorf("PATCH answered role %q", changed.Role)
	}
	// No longer an admin, and no member of the event's organizer: the
	// event's back office is unknown to them.
	ts.call("GET", "/api/v1/events/"+e.ID+"/sales", deputy, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("POST", "/api/v1/events", deputy, ts.eventBody("Not allowed", 5)).problem(t, 403, boxoffice.CodeForbidden)
	ts.call("GET", "/api/v1/users/me", deputy, nil).ok(t, 200, &me)
	if me.Role != "user" {
		t.Errorf("demoted admin's role %q, want user", me.Role)
	}
}

// TestUserChangeRules: only admins change users; admins cannot demote or
// disable themselves; bad input is a problem, never a 500.
func TestUserChangeRules(t *testing.T) {
	ts := newTestServer(t)
	fan, fanID := ts.signUp("fan@example.test")
	var admin userJSON
	ts.call("GET", "/api/v1/users/me", ts.adminToken, nil).ok(t, 200, &admin)

	ts.call("PATCH", "/api/v1/users/"+fanID, fan, map[string]string{"role": "admin"}).problem(t, 403, boxoffice.CodeForbidden)
	ts.call("PATCH", "/api/v1/users/"+admin.ID, ts.adminToken, map[string]string{"role": "user"}).problem(t, 409, boxoffice.CodeInvalidState)
	ts.call("PATCH", "/api/v1/users/"+admin.ID, ts.adminToken, map[string]bool{"disabled": true}).problem(t, 409, boxoffice.CodeInvalidState)
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]string{"role": "root"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]any{"disabled": "yes"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]any{"email": "x@example.test"}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("PATCH", "/api/v1/users/not-an-id", ts.adminToken, map[string]bool{"disabled": true}).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PATCH", "/api/v1/users/"+boxoffice.NewID(), ts.adminToken, map[string]bool{"disabled": true}).problem(t, 404, boxoffice.CodeNotFound)

	// A change that changes nothing ends nothing.
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]any{}).ok(t, 200, nil)
	ts.call("PATCH", "/api/v1/users/"+fanID, ts.adminToken, map[string]bool{"disabled": false}).ok(t, 200, nil)
	ts.call("GET", "/api/v1/users/me", fan, nil).ok(t, 200, nil)
}

// TestSignOutEverywhere ends every access and refresh token of the caller,
// of every sign-in, and of nobody else.
func TestSignOutEverywhere(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("fan@example.test")
	other, _ := ts.signUp("other@example.test")
	phone := ts.signInPair("fan@example.test", "stage-door-123")
	laptop := ts.signInPair("fan@example.test", "stage-door-123")

	ts.call("POST", "/api/v1/users/me/sign-out-everywhere", phone.AccessToken, nil).ok(t, 204, nil)
	for _, p := range []tokenResponse{phone, laptop} {
		ts.call("GET", "/api/v1/users/me", p.AccessToken, nil).problem(t, 401, boxoffice.CodeUnauthenticated)
		ts.refresh(p.RefreshToken).problem(t, 401, boxoffice.CodeUnauthenticated)
	}
	ts.call("GET", "/api/v1/users/me", other, nil).ok(t, 200, nil)
	fresh := ts.signInPair("fan@example.test", "stage-door-123")
	ts.call("GET", "/api/v1/users/me", fresh.AccessToken, nil).ok(t, 200, nil)
}

// TestRefreshRotates: a refresh token works once and answers a new pair;
// presenting it again ends its whole family, so that a thief who replays
// a stolen token, or the owner after the thief, is signed out.
func TestRefreshRotates(t *testing.T) {
	ts := newTestServer(t)
	ts.signUp("fan@example.test")
	first := ts.signInPair("fan@example.test", "stage-door-123")
	other := ts.signInPair("fan@example.test", "stage-door-123") // another device, another family

	var second tokenResponse
	ts.refresh(first.RefreshToken).ok(t, 200, &second)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.ExpiresIn <= 0 {
		t.Fatalf("refresh answered %+v", second)
	}
	ts.call("GET", "/api/v1/users/me", second.AccessToken, nil).ok(t, 200, nil)
	var third tokenResponse
	ts.refresh(second.RefreshToken).ok(t, 200, &third)

	// The first token again: refused, and its family ends with it.
	ts.refresh(first.RefreshToken).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.refresh(third.RefreshToken).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.refresh(other.RefreshToken).ok(t, 200, nil)

	for _, bad := range []any{
		map[string]string{"refresh_token": ""},
		map[string]string{"refresh_token": "not-a-token"},
		map[string]string{"refresh_token": first.AccessToken},
	} {
		ts.call("POST", "/api/v1/auth/refresh", "", bad).problem(t, 401, boxoffice.CodeUnauthenticated)
	}
	ts.call("POST", "/api/v1/auth/refresh", "", map[string]int{"refresh_token": 1}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/auth/refresh", "", "{").problem(t, 400, codeMalformedJSON)
}
