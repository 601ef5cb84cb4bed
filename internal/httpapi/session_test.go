package httpapi

import (
	"net/http"
	"testing"

	"boxoffice"
)

func TestCookieAuthentication(t *testing.T) {
	h, _ := newUnitHandler(t)
	ck := func(name, v string) string { return name + "=" + v }
	// A safe request with the access cookie is authenticated (the
	// service is absent, so reaching it panics into a 500 rather than
	// answering 401).
	w := do(h, "GET", "/api/v1/users/me", "", "Cookie", ck(AccessCookie, "user"))
	if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
		t.Fatalf("GET with the access cookie: %d %s", w.Code, w.Body)
	}
	// An unknown cookie token is unauthenticated, an expired one expired.
	decodeProblem(t, do(h, "GET", "/api/v1/users/me", "", "Cookie", ck(AccessCookie, "nobody")), 401, boxoffice.CodeUnauthenticated)
	decodeProblem(t, do(h, "GET", "/api/v1/users/me", "", "Cookie", ck(AccessCookie, "expired")), 401, boxoffice.CodeTokenExpired)

	// An unsafe request by cookie needs the CSRF header matching the cookie.
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no csrf", []string{"Cookie", ck(AccessCookie, "user")}},
		{"header without cookie", []string{"Cookie", ck(AccessCookie, "user"), CSRFHeader, "abc"}},
		{"cookie without header", []string{"Cookie", ck(AccessCookie, "user") + "; " + ck(CSRFCookie, "abc")}},
		{"mismatch", []string{"Cookie", ck(AccessCookie, "user") + "; " + ck(CSRFCookie, "abc"), CSRFHeader, "abd"}},
	} {
		w := do(h, "POST", "/api/v1/events/"+testEventID+"/queue", "", tc.header...)
		p := decodeProblem(t, w, 403, boxoffice.CodeForbidden)
		if p.Detail == "" {
			t.Errorf("%s: no detail", tc.name)
		}
	}
	w = do(h, "POST", "/api/v1/users/me/sign-out-everywhere", "",
		"Cookie", ck(AccessCookie, "user")+"; "+ck(CSRFCookie, "abc"), CSRFHeader, "abc")
	if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
		t.Fatalf("POST with cookie and CSRF token: %d %s", w.Code, w.Body)
	}
	// The Authorization header needs no CSRF token and wins over a cookie.
	w = do(h, "POST", "/api/v1/users/me/sign-out-everywhere", "", "Authorization", "Bearer user", "Cookie", ck(AccessCookie, "nobody"))
	if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
		t.Fatalf("POST with a bearer token: %d %s", w.Code, w.Body)
	}
	decodeProblem(t, do(h, "GET", "/api/v1/users/me", "", "Authorization", "Bearer nobody", "Cookie", ck(AccessCookie, "user")), 401, boxoffice.CodeUnauthenticated)
}

func TestCORS(t *testing.T) {
	h, _ := newUnitHandler(t, func(c *Config) { c.CORSOrigins = []string{"https://shop.example.com"} })
	pre := do(h, "OPTIONS", "/api/v1/events", "", "Origin", "https://shop.example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type")
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		pre.Header().Get("Access-Control-Allow-Credentials") != "true" || pre.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	w := do(h, "GET", "/api/v1/nothing", "", "Origin", "https://shop.example.com")
	if w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example.com" || w.Header().Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("simple request: %v", w.Header())
	}
	decodeProblem(t, w, 404, boxoffice.CodeNotFound)
	// Another origin gets no CORS headers; its preflight is what it was
	// without CORS (405).
	w = do(h, "OPTIONS", "/api/v1/events", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if w.Header().Get("Access-Control-Allow-Origin") != "" || w.Code != http.StatusMethodNotAllowed {
		t.Errorf("other origin's preflight: %d %v", w.Code, w.Header())
	}

	// "*": any origin, never with credentials.
	h, _ = newUnitHandler(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
	w = do(h, "OPTIONS", "/api/v1/events", "", "Origin", "https://any.example", "Access-Control-Request-Method", "GET")
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard: %v", w.Header())
	}
	// No origins configured: no CORS headers at all.
	h, _ = newUnitHandler(t)
	w = do(h, "GET", "/api/v1/events/x", "", "Origin", "https://shop.example.com")
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unconfigured: %v", w.Header())
	}
}
