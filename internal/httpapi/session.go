package httpapi

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"boxoffice"
)

// The cookies of a browser session. The pages (internal/web) set them when a
// user signs in through them; the API accepts AccessCookie in place of the
// Authorization header.
const (
	// AccessCookie holds the access token (HttpOnly).
	AccessCookie = "bo_access"
	// RefreshCookie holds the refresh token (HttpOnly), exchanged by the
	// pages for a new pair when the access token has expired.
	RefreshCookie = "bo_refresh"
	// CSRFCookie holds the session's CSRF token. It is readable by the
	// pages' scripts, which echo it in CSRFHeader on every unsafe request
	// (double submit).
	CSRFCookie = "bo_csrf"
	// CSRFHeader carries CSRFCookie's value on unsafe requests
	// authenticated by AccessCookie.
	CSRFHeader = "X-CSRF-Token"
)

// errCSRF answers an unsafe request authenticated by cookie whose CSRF token
// is missing or does not match.
var errCSRF = boxoffice.Errorf(boxoffice.CodeForbidden, "the request was authenticated by a session cookie but its %s header is missing or does not match the %s cookie; reload the page and try again", CSRFHeader, CSRFCookie)

// bearerToken returns the request's access token: the Authorization header's
// bearer token or, when the request has no Authorization header, the
// session cookie's, provided an unsafe request carries the CSRF token.
// Browsers attach cookies to requests other sites make them send; only a
// page of this origin can read CSRFCookie to echo it.
func bearerToken(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
			return "", boxoffice.ErrUnauthenticated
		}
		return token, nil
	}
	ck, err := r.Cookie(AccessCookie)
	if err != nil || ck.Value == "" {
		return "", boxoffice.ErrUnauthenticated
	}
	if !safeMethod(r.Method) && !ValidCSRF(r) {
		return "", errCSRF
	}
	return ck.Value, nil
}

// safeMethod reports whether a request with method changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// ValidCSRF reports whether r's CSRFHeader equals its CSRFCookie, compared
// in constant time; both must be present.
func ValidCSRF(r *http.Request) bool {
	ck, err := r.Cookie(CSRFCookie)
	h := r.Header.Get(CSRFHeader)
	if err != nil || ck.Value == "" || h == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(h)) == 1
}

// corsAllowHeaders are the request headers a cross-origin front end may send.
const corsAllowHeaders = "Authorization, Content-Type, Idempotency-Key, Admission-Token, X-Request-Id, " + CSRFHeader

// corsExposeHeaders are the response headers a cross-origin front end may read.
const corsExposeHeaders = "Location, Retry-After, X-Request-Id, WWW-Authenticate, Idempotent-Replayed"

// corsMaxAge is how long browsers may cache a preflight's answer, in seconds.
const corsMaxAge = 600

// cors answers cross-origin requests from the configured origins: an exact
// origin may send credentials (cookies); "*" lets any origin call the API
// without them. Requests from other origins, or without Origin, are served
// as they would be without CORS (a browser then keeps the answer from the
// calling page).
func cors(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	any := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		exact := origin != "" && slices.Contains(origins, origin)
		if origin == "" || !exact && !any {
			next.ServeHTTP(w, r)
			return
		}
		if exact {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		} else {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}
