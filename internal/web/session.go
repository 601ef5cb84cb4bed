package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"boxoffice/internal/httpapi"
)

// The cookies the session endpoints set besides httpapi's.
const (
	// deviceCookie keeps the sign-in's device token (HttpOnly), sent with
	// the next sign-in so that its owner gets the reserved password lane.
	deviceCookie = "bo_device"
	// signedInCookie tells the pages' scripts that a session exists (the
	// token cookies are HttpOnly); it holds no secret.
	signedInCookie = "bo_signed_in"
)

// deviceTTL is how long the device cookie is kept (the device token's own
// lifetime is the server's BOXOFFICE_DEVICE_TOKEN_TTL).
const deviceTTL = 90 * 24 * 3600

// maxSessionBody bounds the body of a session request.
const maxSessionBody = 8 << 10

// tokenPair is the API's answer to a sign-in or a refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	DeviceToken  string `json:"device_token"`
}

// signIn is POST /session, {"email", "password"}: it signs in through POST
// /api/v1/auth/token and keeps the tokens in cookies; the answer is
// {"expires_in"} or the API's problem.
func (s *site) signIn(w http.ResponseWriter, r *http.Request) {
	if !httpapi.ValidCSRF(r) {
		writeProblem(w, http.StatusForbidden, "forbidden", "the sign-in form is stale; reload the page and try again")
		return
	}
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxSessionBody)).Decode(&in); err != nil {
		writeProblem(w, http.StatusBadRequest, "malformed_json", "the request body is not JSON")
		return
	}
	body := map[string]string{"email": in.Email, "password": in.Password}
	if ck, err := r.Cookie(deviceCookie); err == nil && ck.Value != "" {
		body["device_token"] = ck.Value
	}
	s.exchange(w, r, "/api/v1/auth/token", body)
}

// refresh is POST /session/refresh: it exchanges the refresh cookie for a
// new pair through POST /api/v1/auth/refresh.
func (s *site) refresh(w http.ResponseWriter, r *http.Request) {
	if !httpapi.ValidCSRF(r) {
		writeProblem(w, http.StatusForbidden, "forbidden", "the page is stale; reload it and try again")
		return
	}
	ck, err := r.Cookie(httpapi.RefreshCookie)
	if err != nil || ck.Value == "" {
		s.clearSession(w, r)
		writeProblem(w, http.StatusUnauthorized, "unauthenticated", "you are not signed in")
		return
	}
	s.exchange(w, r, "/api/v1/auth/refresh", map[string]string{"refresh_token": ck.Value})
}

// signOut is POST /session/sign-out: it forgets the session's cookies.
func (s *site) signOut(w http.ResponseWriter, r *http.Request) {
	if !httpapi.ValidCSRF(r) {
		writeProblem(w, http.StatusForbidden, "forbidden", "the page is stale; reload it and try again")
		return
	}
	s.clearSession(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// exchange calls the API at path with body as the browser's request would
// (same client address and headers) and, on success, sets the session
// cookies from the token pair it answers. A failure is passed on as the
// API's problem; a refresh that fails ends the session.
func (s *site) exchange(w http.ResponseWriter, r *http.Request, path string, body any) {
	b, _ := json.Marshal(body)
	req := r.Clone(r.Context())
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", ""
	req.RequestURI = path
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Del("Cookie")
	req.Header.Del("Authorization")
	rec := newRecorder()
	s.api.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		if path == "/api/v1/auth/refresh" && rec.status == http.StatusUnauthorized {
			s.clearSession(w, r)
		}
		for _, k := range []string{"Content-Type", "Retry-After", "X-Request-Id"} {
			if v := rec.h.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.buf.Bytes())
		return
	}
	var t tokenPair
	if err := json.Unmarshal(rec.buf.Bytes(), &t); err != nil || t.AccessToken == "" {
		writeProblem(w, http.StatusInternalServerError, "internal", "the sign-in answer could not be read")
		return
	}
	secure := secureCookies(r)
	set := func(name, value string, maxAge int, httpOnly bool) {
		http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
			HttpOnly: httpOnly, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
	refreshAge := int(s.refreshTTL.Seconds())
	set(httpapi.AccessCookie, t.AccessToken, t.ExpiresIn, true)
	set(httpapi.RefreshCookie, t.RefreshToken, refreshAge, true)
	set(signedInCookie, "1", refreshAge, false)
	if t.DeviceToken != "" {
		set(deviceCookie, t.DeviceToken, deviceTTL, true)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"expires_in":` + strconv.Itoa(t.ExpiresIn) + "}\n"))
}

// clearSession deletes the session's cookies (the device cookie stays: it
// belongs to the device, not the session).
func (s *site) clearSession(w http.ResponseWriter, r *http.Request) {
	secure := secureCookies(r)
	for _, name := range []string{httpapi.AccessCookie, httpapi.RefreshCookie, signedInCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: name != signedInCookie, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
}

// writeProblem writes a problem document of the API's shape.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	b, _ := json.Marshal(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail,
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// recorder keeps an API answer in memory.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}, status: http.StatusOK} }

// Header returns the answer's header.
func (rec *recorder) Header() http.Header { return rec.h }

// WriteHeader records the status.
func (rec *recorder) WriteHeader(status int) { rec.status = status }

// Write records the body.
func (rec *recorder) Write(b []byte) (int, error) { return rec.buf.Write(b) }
