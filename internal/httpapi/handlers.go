package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"boxoffice"
	"boxoffice/api"
)

// writeJSON encodes v into a buffer and, only when that worked, writes it
// with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return err
	}
	writeBody(w, r, status, "application/json", b)
	return nil
}

// encodeJSON encodes v without HTML escaping, ending with a newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeEncoded writes an already-encoded JSON body with status 200.
func writeEncoded(w http.ResponseWriter, r *http.Request, body []byte) {
	writeBody(w, r, http.StatusOK, "application/json", body)
}

// page is the JSON shape of one page of a list.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// pageOf converts a service page to its JSON shape: items never null,
// next_cursor null on the last page.
func pageOf[T any](p boxoffice.Page[T]) page[T] {
	out := page[T]{Items: p.Items}
	if out.Items == nil {
		out.Items = []T{}
	}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	return out
}

// authenticate returns the caller named by a request's bearer token (ok
// false: the request had none). It returns ErrUnauthenticated for a
// missing, malformed or tampered token and ErrTokenExpired for an expired
// one.
func (s *server) authenticate(token string, ok bool) (boxoffice.Caller, error) {
	if !ok || s.tokens == nil {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	c, err := s.tokens.Verify(token)
	switch {
	case err == nil && c.UserID != "":
		return c, nil
	case boxoffice.CodeOf(err) == boxoffice.CodeTokenExpired:
		return boxoffice.Caller{}, boxoffice.ErrTokenExpired
	default:
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
}

// signUpRequest is the body of POST /api/v1/users.
type signUpRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (s *server) handleSignUp(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var in signUpRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.accounts.SignUp(r.Context(), c, boxoffice.SignUp(in))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/me")
	return writeJSON(w, r, http.StatusCreated, userOf(u))
}

// tokenRequest is the body of POST /api/v1/auth/token.
type tokenRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DeviceToken string `json:"device_token"`
}

// tokenResponse is the answer of POST /api/v1/auth/token and POST
// /api/v1/auth/refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	// DeviceToken is sign-in's only (boxoffice.SignedIn).
	DeviceToken string `json:"device_token,omitempty"`
}

func (s *server) handleCreateToken(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	var in tokenRequest
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	signedIn, err := s.accounts.SignIn(r.Context(), c, boxoffice.Credentials(in))
	if err != nil {
		return err
	}
	refresh, err := s.accounts.NewRefreshToken(r.Context(), signedIn.User)
	if err != nil {
		return err
	}
	return s.writeTokens(w, r, signedIn.User, refresh, signedIn.DeviceToken)
}

// writeTokens answers with a new access token for u, the refresh token
// and, after a sign-in, the device token.
func (s *server) writeTokens(w http.ResponseWriter, r *http.Request, u *boxoffice.User, refresh, device string) error {
	token, ttl, err := s.tokens.Issue(u)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, r, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(ttl.Seconds()),
		RefreshToken: refresh, DeviceToken: device})
}

func (s *server) handleMe(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	u, err := s.accounts.User(r.Context(), c.UserID)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, userOf(u))
}

// health is the body of GET /healthz and a successful GET /readyz.
type health struct {
	Status string `json:"status"`
	// Payments says which payment provider runs (/readyz only), so that a
	// deployment on the test provider cannot go unnoticed.
	Payments string `json:"payments,omitempty"`
}

func (s *server) handleHealth(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, r, http.StatusOK, health{Status: "ok"})
}

func (s *server) handleReady(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	if s.draining != nil && s.draining.Load() {
		return boxoffice.Errorf(boxoffice.CodeUnavailable, "the server is draining")
	}
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			return &boxoffice.RetryableError{Err: err}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, r, http.StatusOK, health{Status: "ok", Payments: s.readyNote})
}

func (s *server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ boxoffice.Caller) error {
	writeBody(w, r, http.StatusOK, "application/json", api.Spec)
	return nil
}
