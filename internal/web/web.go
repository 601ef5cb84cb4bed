// Package web serves boxoffice's pages: the storefront (catalogue, event,
// waiting room, checkout, my tickets, sign-in) and the door scanner. They
// are HTML rendered with html/template from files embedded in the binary,
// with a little vanilla JavaScript that calls the JSON API; there is no build
// step and nothing is loaded from another origin, but for Stripe.js on the
// checkout page when the server takes payments with Stripe (see
// stripeCSP). Pages sign in through
// /session, which keeps the tokens in HttpOnly cookies the API accepts (see
// httpapi.AccessCookie).
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"boxoffice/internal/httpapi"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config wires the pages.
type Config struct {
	// API is the JSON API (httpapi.New). Requests for /api/, /healthz and
	// /readyz go to it unchanged; the session endpoints call it for
	// tokens.
	API http.Handler
	// RefreshTTL is how long the refresh token lives
	// (BOXOFFICE_REFRESH_TTL); the refresh cookie lasts as long.
	RefreshTTL time.Duration
	// Logger receives template errors. Nil discards them.
	Logger *slog.Logger
	// StripePublishableKey (pk_…) is set when payments go through Stripe
	// (BOXOFFICE_PAYMENTS=stripe): the checkout page then takes the card
	// with Stripe.js and Stripe's Payment Element, and its
	// Content-Security-Policy allows Stripe's origins. "" = no Stripe.
	StripePublishableKey string
}

// contentSecurityPolicy allows nothing but this origin: no inline script,
// no inline style, images from here or data: URLs.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// stripeCSP is the checkout page's policy when payments go through Stripe:
// contentSecurityPolicy plus what Stripe's CSP guidance asks for Stripe.js
// and the Payment Element (docs.stripe.com/security/guide): the script from
// js.stripe.com (and the *.js.stripe.com it loads its parts from), its
// frames from the same plus hooks.stripe.com (3-D Secure authentication),
// and its calls to api.stripe.com. Only the checkout page gets it, as only
// the checkout page runs Stripe.js: every other page keeps 'self' only, so
// that no script from another origin runs next to the door scanner's
// offline list or the sign-in form. (Stripe suggests loading Stripe.js on
// every page for its fraud signals; boxoffice trades that for the smaller
// surface.) Stripe's maps.googleapis.com entries are left out: they serve
// the Address Element's autocompletion, which boxoffice does not use.
const stripeCSP = "default-src 'self'; script-src 'self' https://js.stripe.com https://*.js.stripe.com; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' https://api.stripe.com; frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; " +
	"media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded static file, ready to serve.
type asset struct {
	body, gzipped []byte
	ctype, etag   string
}

// site serves the pages.
type site struct {
	api        http.Handler
	refreshTTL time.Duration
	stripeKey  string
	log        *slog.Logger
	pages      map[string]*template.Template
	assets     map[string]*asset
	mux        *http.ServeMux
}

// pageDefs are the pages: a template in templates/ and its script in
// static/ (none for "").
var pageDefs = map[string]string{
	"catalogue": "catalogue.js",
	"event":     "event.js",
	"queue":     "queue.js",
	"checkout":  "checkout.js",
	"tickets":   "tickets.js",
	"signin":    "auth.js",
	"signup":    "auth.js",
	"verify":    "auth.js",
	"reset":     "auth.js",
	"door":      "door.js",
	"doorlist":  "catalogue.js",
	"notfound":  "",
	// The organizer's back office.
	"organize":     "organize.js",
	"orgevent":     "orgevent.js",
	"orglive":      "orglive.js",
	"orgattendees": "orgattendees.js",
	"orgteam":      "orgteam.js",
	"orgwebhooks":  "orgwebhooks.js",
}

// New returns the handler of the whole site: the pages, their static files,
// the session endpoints, and the API under /api/ (with /healthz and
// /readyz).
func New(cfg Config) http.Handler {
	s := &site{api: cfg.API, refreshTTL: cfg.RefreshTTL, log: cfg.Logger, assets: map[string]*asset{}, pages: map[string]*template.Template{}}
	s.stripeKey = cfg.StripePublishableKey
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = 30 * 24 * time.Hour
	}
	s.loadAssets()
	funcs := template.FuncMap{"asset": s.assetURL}
	for name := range pageDefs {
		s.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", s.api)
	mux.Handle("/healthz", s.api)
	mux.Handle("/readyz", s.api)
	mux.HandleFunc("GET /static/{file}", s.serveAsset)
	mux.HandleFunc("POST /session", s.signIn)
	mux.HandleFunc("POST /session/refresh", s.refresh)
	mux.HandleFunc("POST /session/sign-out", s.signOut)
	page := func(pattern, name, title string) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.render(w, r, http.StatusOK, name, title) })
	}
	page("GET /{$}", "catalogue", "Events")
	page("GET /events/{id}", "event", "Event")
	page("GET /events/{id}/queue", "queue", "Waiting room")
	page("GET /events/{id}/checkout", "checkout", "Checkout")
	page("GET /events/{id}/door", "door", "Door")
	page("GET /door", "doorlist", "Door")
	page("GET /tickets", "tickets", "My tickets")
	page("GET /signin", "signin", "Sign in")
	page("GET /signup", "signup", "Sign up")
	page("GET /verify-email", "verify", "Verify your email")
	page("GET /reset-password", "reset", "Reset your password")
	page("GET /organize", "organize", "Organize")
	page("GET /organize/{org}/new-event", "orgevent", "New event")
	page("GET /organize/{org}/team", "orgteam", "Team")
	page("GET /organize/{org}/webhooks", "orgwebhooks", "Webhooks")
	page("GET /events/{id}/manage", "orgevent", "Manage event")
	page("GET /events/{id}/live", "orglive", "Live sale")
	page("GET /events/{id}/attendees", "orgattendees", "Attendees")
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "notfound", "Not found")
	})
	s.mux = mux
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The API's requests (the hold path among them) go straight to it,
		// without a second route match.
		if p := r.URL.Path; strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" {
			s.api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// pageData is what a page template sees.
type pageData struct {
	Title   string
	Page    string
	Script  string
	EventID string
	// OrgID is the organizer of the back office's organizer pages.
	OrgID string
	// StripeKey is the Stripe publishable key, on the checkout page when
	// payments go through Stripe ("" otherwise).
	StripeKey string
}

// render writes page name with status, setting the security headers and
// the CSRF cookie when the browser has none yet.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, name, title string) {
	ensureCSRF(w, r)
	var buf bytes.Buffer
	d := pageData{Title: title, Page: name, EventID: r.PathValue("id"), OrgID: r.PathValue("org")}
	if js := pageDefs[name]; js != "" {
		d.Script = s.assetURL(js)
	}
	csp := contentSecurityPolicy
	if name == "checkout" && s.stripeKey != "" {
		d.StripeKey, csp = s.stripeKey, stripeCSP
	}
	if err := s.pages[name].Execute(&buf, d); err != nil {
		s.log.Error("page template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	writeMaybeGzipped(w, r, status, buf.Bytes(), nil)
}

// securityHeaders sets the headers every page and file carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
}

// loadAssets reads and compresses the static files once.
func (s *site) loadAssets() {
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.assets[e.Name()] = &asset{body: b, gzipped: gzipBytes(b), ctype: ct, etag: hex.EncodeToString(sum[:8])}
	}
}

// gzipBytes compresses b as the static files are served.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// assetURL is the URL of a static file, versioned by its content so that
// browsers may keep it for a year.
func (s *site) assetURL(name string) string {
	a, ok := s.assets[name]
	if !ok {
		panic("web: no static file " + name)
	}
	return "/static/" + name + "?v=" + a.etag
}

// serveAsset serves a static file, gzipped when the browser takes it.
func (s *site) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets[r.PathValue("file")]
	if !ok {
		s.render(w, r, http.StatusNotFound, "notfound", "Not found")
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.etag+`"`)
	if r.URL.Query().Get("v") == a.etag {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match == `"`+a.etag+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeMaybeGzipped(w, r, http.StatusOK, a.body, a.gzipped)
}

// writeMaybeGzipped writes body, or its gzipped form (gz, or compressed
// now when nil) to a browser that accepts gzip.
func writeMaybeGzipped(w http.ResponseWriter, r *http.Request, status int, body, gz []byte) {
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		if gz == nil {
			gz = gzipBytes(body)
		}
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip.
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// secureCookies reports whether cookies set in answer to r should be
// Secure: always, but for plain-HTTP requests to localhost or a loopback
// address (development), where a Secure cookie would not be kept.
func secureCookies(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip == nil || !ip.IsLoopback()
}

// ensureCSRF sets the CSRF cookie (readable by the pages' scripts) when the
// request has none.
func ensureCSRF(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(httpapi.CSRFCookie); err == nil && len(ck.Value) >= 32 {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: httpapi.CSRFCookie, Value: randomToken(), Path: "/",
		SameSite: http.SameSiteLaxMode, Secure: secureCookies(r),
		MaxAge: 400 * 24 * 3600,
	})
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
