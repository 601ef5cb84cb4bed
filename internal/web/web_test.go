package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"boxoffice/api"
	"boxoffice/internal/httpapi"
)

// fakeAPI stands in for the JSON API: it signs in "ada@example.com" with
// "right-password", refreshes "refresh-1", and answers every other path
// 404 as a problem.
func fakeAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/auth/token" && in["email"] == "ada@example.com" && in["password"] == "right-password":
			if r.Header.Get("Cookie") != "" {
				http.Error(w, "cookies passed on to the API", 500)
				return
			}
			_, _ = io.WriteString(w, `{"access_token":"acc-1","token_type":"Bearer","expires_in":900,"refresh_token":"refresh-1","device_token":"dev-`+in["device_token"]+`"}`)
		case r.URL.Path == "/api/v1/auth/refresh" && in["refresh_token"] == "refresh-1":
			_, _ = io.WriteString(w, `{"access_token":"acc-2","token_type":"Bearer","expires_in":900,"refresh_token":"refresh-2"}`)
		case r.URL.Path == "/api/v1/auth/token" || r.URL.Path == "/api/v1/auth/refresh":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"code":"invalid_credentials"}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"code":"not_found","path":"`+r.URL.Path+`"}`)
		}
	})
}

func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestProblemMessages: the pages have a message for people for exactly the
// problem codes api/openapi.json lists.
func TestProblemMessages(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatal(err)
	}
	want := doc.Components.Schemas.Problem.Properties.Code.Enum
	if len(want) < 10 {
		t.Fatalf("the Problem code enum has %d codes", len(want))
	}
	js, err := files.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const PROBLEMS = \{(.*?)\n\};`).FindSubmatch(js)
	if block == nil {
		t.Fatal("static/app.js has no PROBLEMS table")
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^\s*([a-z_]+): "([^"]+)",?$`).FindAllSubmatch(block[1], -1) {
		got = append(got, string(m[1]))
		if len(m[2]) < 15 {
			t.Errorf("the message for %s is too short to help: %q", m[1], m[2])
		}
	}
	for _, c := range want {
		if !slices.Contains(got, c) {
			t.Errorf("PROBLEMS has no message for %s", c)
		}
	}
	for _, c := range got {
		if !slices.Contains(want, c) {
			t.Errorf("PROBLEMS has a message for %s, which the API does not answer", c)
		}
	}
}

// TestWaitingRoomWeight: the waiting room with everything it loads stays
// under 50 KB compressed.
func TestWaitingRoomWeight(t *testing.T) {
	h := New(Config{API: fakeAPI()})
	page := get(h, "/events/01HZZZZZZZZZZZZZZZZZZZZZZ3/queue", "Accept-Encoding", "gzip")
	if page.Code != 200 || page.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("queue page: %d %v", page.Code, page.Header())
	}
	total := page.Body.Len()
	html := gunzip(t, page.Body.Bytes())
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) != 3 {
		t.Errorf("the queue page loads %d files, want 3 (app.css, app.js, queue.js)", len(refs))
	}
	report := []string{"page " + itoa(page.Body.Len())}
	for _, ref := range refs {
		w := get(h, strings.ReplaceAll(ref[1], "&amp;", "&"), "Accept-Encoding", "gzip")
		if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d %v", ref[1], w.Code, w.Header())
		}
		total += w.Body.Len()
		report = append(report, ref[1][:strings.Index(ref[1], "?")]+" "+itoa(w.Body.Len()))
	}
	t.Logf("waiting room, gzipped: %s; total %d bytes", strings.Join(report, ", "), total)
	if total > 50<<10 {
		t.Errorf("the waiting room weighs %d bytes compressed, more than 50 KB", total)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestPagesAndRouting: pages carry the CSP and a CSRF cookie; /api/ paths,
// /healthz and /readyz go to the API untouched; other paths are pages.
func TestPagesAndRouting(t *testing.T) {
	h := New(Config{API: fakeAPI()})
	for _, path := range []string{"/", "/events/x", "/events/x/queue", "/events/x/checkout", "/events/x/door", "/door", "/tickets", "/signin", "/signup", "/verify-email", "/reset-password",
		"/organize", "/organize/x/new-event", "/organize/x/team", "/organize/x/webhooks", "/events/x/manage", "/events/x/live", "/events/x/attendees"} {
		w := get(h, path)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
			continue
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "img-src 'self' data:") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		body := w.Body.String()
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]+</script>|<style|style="|\son[a-z]+="`).MatchString(body) {
			t.Errorf("%s: inline script or style", path)
		}
		if !strings.Contains(body, `<main id="main"`) || !strings.Contains(body, `lang="en"`) {
			t.Errorf("%s: no main landmark or language", path)
		}
		var csrf *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == httpapi.CSRFCookie {
				csrf = c
			}
		}
		if csrf == nil || csrf.HttpOnly || csrf.SameSite != http.SameSiteLaxMode || len(csrf.Value) < 32 || !csrf.Secure {
			t.Errorf("%s: CSRF cookie %+v", path, csrf)
		}
	}
	// Loopback: not Secure, or the browser would not keep it.
	if c := get(h, "http://127.0.0.1:8080/").Result().Cookies(); len(c) != 1 || c[0].Secure {
		t.Errorf("loopback cookie: %+v", c)
	}
	if c := get(h, "http://localhost:8080/").Result().Cookies(); len(c) != 1 || c[0].Secure {
		t.Errorf("localhost cookie: %+v", c)
	}
	for _, path := range []string{"/api/v1/nothing", "/api/", "/healthz", "/readyz"} {
		w := get(h, path)
		if w.Code != 404 || !strings.Contains(w.Body.String(), `"path":"`+path+`"`) {
			t.Errorf("%s did not reach the API: %d %s", path, w.Code, w.Body)
		}
	}
	w := get(h, "/no/such/page")
	if w.Code != 404 || !strings.Contains(w.Body.String(), "Page not found") {
		t.Errorf("unknown page: %d", w.Code)
	}
	// Static files: versioned URLs are immutable; others revalidate.
	w = get(h, "/static/app.js")
	etag := w.Header().Get("ETag")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || etag == "" {
		t.Errorf("app.js: %d %v", w.Code, w.Header())
	}
	if w := get(h, "/static/app.js?v="+strings.Trim(etag, `"`)); !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("versioned app.js: %v", w.Header())
	}
	if w := get(h, "/static/app.js", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", w.Code)
	}
}

func post(h http.Handler, target, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func cookiesOf(w *httptest.ResponseRecorder) map[string]*http.Cookie {
	m := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		m[c.Name] = c
	}
	return m
}

// TestSession: signing in through /session needs the CSRF token and sets
// HttpOnly cookies; the body never carries a token; refresh and sign-out
// renew and clear them.
func TestSession(t *testing.T) {
	h := New(Config{API: fakeAPI()})
	csrf := httpapi.CSRFCookie + "=" + strings.Repeat("c", 43)
	good := `{"email":"ada@example.com","password":"right-password"}`
	if w := post(h, "https://tickets.example.com/session", good, "Cookie", csrf); w.Code != 403 || len(w.Result().Cookies()) != 0 {
		t.Errorf("sign-in without the CSRF header: %d", w.Code)
	}
	w := post(h, "https://tickets.example.com/session", `{"email":"ada@example.com","password":"wrong"}`, "Cookie", csrf, httpapi.CSRFHeader, strings.Repeat("c", 43))
	if w.Code != 401 || !strings.Contains(w.Body.String(), "invalid_credentials") || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong password: %d %s", w.Code, w.Body)
	}
	w = post(h, "https://tickets.example.com/session", good, "Cookie", csrf+"; bo_device=d1; "+httpapi.AccessCookie+"=old", httpapi.CSRFHeader, strings.Repeat("c", 43))
	if w.Code != 200 || strings.Contains(w.Body.String(), "acc-1") || strings.Contains(w.Body.String(), "refresh-1") {
		t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	c := cookiesOf(w)
	for _, name := range []string{httpapi.AccessCookie, httpapi.RefreshCookie, deviceCookie} {
		if c[name] == nil || !c[name].HttpOnly || !c[name].Secure || c[name].SameSite != http.SameSiteLaxMode {
			t.Errorf("%s cookie: %+v", name, c[name])
		}
	}
	if c[httpapi.AccessCookie].Value != "acc-1" || c[httpapi.AccessCookie].MaxAge != 900 || c[httpapi.RefreshCookie].Value != "refresh-1" || c[deviceCookie].Value != "dev-d1" {
		t.Errorf("cookies: %+v", c)
	}
	if c[signedInCookie] == nil || c[signedInCookie].HttpOnly {
		t.Errorf("signed-in cookie: %+v", c[signedInCookie])
	}

	// Refresh: the refresh cookie for a new pair.
	w = post(h, "https://tickets.example.com/session/refresh", "", "Cookie", csrf+"; "+httpapi.RefreshCookie+"=refresh-1", httpapi.CSRFHeader, strings.Repeat("c", 43))
	if c := cookiesOf(w); w.Code != 200 || c[httpapi.AccessCookie].Value != "acc-2" || c[httpapi.RefreshCookie].Value != "refresh-2" {
		t.Errorf("refresh: %d %+v", w.Code, c)
	}
	// A refresh token the API refuses ends the session.
	w = post(h, "https://tickets.example.com/session/refresh", "", "Cookie", csrf+"; "+httpapi.RefreshCookie+"=stolen", httpapi.CSRFHeader, strings.Repeat("c", 43))
	if c := cookiesOf(w); w.Code != 401 || c[httpapi.AccessCookie] == nil || c[httpapi.AccessCookie].MaxAge >= 0 {
		t.Errorf("refused refresh: %d %+v", w.Code, c)
	}
	// Sign-out clears the session's cookies.
	w = post(h, "https://tickets.example.com/session/sign-out", "", "Cookie", csrf, httpapi.CSRFHeader, strings.Repeat("c", 43))
	if c := cookiesOf(w); w.Code != 204 || c[httpapi.RefreshCookie] == nil || c[httpapi.RefreshCookie].MaxAge >= 0 || c[deviceCookie] != nil {
		t.Errorf("sign-out: %d %+v", w.Code, c)
	}
}

// TestGzipNegotiation: files are compressed only for browsers that take gzip.
func TestGzipNegotiation(t *testing.T) {
	for _, tc := range []struct {
		ae   string
		gzip bool
	}{{"", false}, {"gzip", true}, {"br, gzip;q=0.8", true}, {"gzip;q=0", false}, {"identity", false}} {
		if got := acceptsGzip(&http.Request{Header: http.Header{"Accept-Encoding": {tc.ae}}}); got != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzip %v", tc.ae, got)
		}
	}
}

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(csp string) map[string][]string {
	m := map[string][]string{}
	for d := range strings.SplitSeq(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

// TestStripeCheckoutPage: with Stripe, the checkout page carries the
// publishable key and a policy that lets Stripe.js and its frames in; every
// other page, and every page without Stripe, keeps 'self' only.
func TestStripeCheckoutPage(t *testing.T) {
	pages := []string{"/", "/events/x", "/events/x/queue", "/events/x/checkout", "/events/x/door", "/door", "/tickets", "/signin", "/no/such/page", "/static/checkout.js"}
	for _, path := range pages {
		w := get(New(Config{API: fakeAPI()}), path)
		if csp := w.Header().Get("Content-Security-Policy"); csp != contentSecurityPolicy {
			t.Errorf("without Stripe, %s: CSP %q", path, csp)
		}
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") && strings.Contains(w.Body.String(), "data-stripe-key") {
			t.Errorf("without Stripe, %s carries a Stripe key", path)
		}
	}

	h := New(Config{API: fakeAPI(), StripePublishableKey: "pk_test_51Example"})
	for _, path := range pages {
		w := get(h, path)
		csp := w.Header().Get("Content-Security-Policy")
		if path != "/events/x/checkout" {
			if csp != contentSecurityPolicy || strings.Contains(w.Body.String(), "pk_test_51Example") {
				t.Errorf("with Stripe, %s: CSP %q, or it carries the key", path, csp)
			}
			continue
		}
		if w.Code != 200 || !strings.Contains(w.Body.String(), `data-stripe-key="pk_test_51Example"`) {
			t.Fatalf("checkout: %d, no publishable key in\n%s", w.Code, w.Body)
		}
		d := cspDirectives(csp)
		want := map[string][]string{
			"default-src":     {"'self'"},
			"script-src":      {"'self'", "https://js.stripe.com", "https://*.js.stripe.com"},
			"frame-src":       {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"},
			"connect-src":     {"'self'", "https://api.stripe.com"},
			"style-src":       {"'self'"},
			"img-src":         {"'self'", "data:"},
			"object-src":      {"'none'"},
			"base-uri":        {"'none'"},
			"form-action":     {"'self'"},
			"frame-ancestors": {"'none'"},
		}
		for name, sources := range want {
			if !slices.Equal(d[name], sources) {
				t.Errorf("checkout with Stripe: %s %q, want %q (CSP %q)", name, d[name], sources, csp)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("checkout with Stripe: CSP %q", csp)
		}
	}
}

// TestOnlyStripeJSFromElsewhere: the pages' scripts load nothing from
// another origin but Stripe.js.
func TestOnlyStripeJSFromElsewhere(t *testing.T) {
	entries, err := files.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	external := regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"' )]*`)
	for _, e := range entries {
		b, _ := files.ReadFile("static/" + e.Name())
		for _, u := range external.FindAllString(string(b), -1) {
			if u != "https://js.stripe.com/v3/" {
				t.Errorf("%s refers to %s", e.Name(), u)
			}
		}
	}
}
