package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// fakeTokens is a Tokens whose tokens are the keys of a map.
type fakeTokens struct {
	callers map[string]boxoffice.Caller
	expired map[string]bool
}

func (f fakeTokens) Issue(u *boxoffice.User) (string, time.Duration, error) {
	return "tok-" + u.ID, time.Hour, nil
}

func (f fakeTokens) Verify(token string) (boxoffice.Caller, error) {
	if f.expired[token] {
		return boxoffice.Caller{}, boxoffice.ErrTokenExpired
	}
	if c, ok := f.callers[token]; ok {
		return c, nil
	}
	return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
}

// testUserID and testAdminID are the callers of the fake tokens "user" and
// "admin".
const (
	testUserID  = "01HZZZZZZZZZZZZZZZZZZZZZZ1"
	testAdminID = "01HZZZZZZZZZZZZZZZZZZZZZZ2"
	testEventID = "01HZZZZZZZZZZZZZZZZZZZZZZ3"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newUnitHandler returns the API without a service, for tests of everything
// that answers before the service is called. Its log goes to the returned
// buffer as JSON lines.
func newUnitHandler(t *testing.T, mod ...func(*Config)) (http.Handler, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Tokens: fakeTokens{
			callers: map[string]boxoffice.Caller{
				"user":  {UserID: testUserID, Role: boxoffice.RoleUser},
				"admin": {UserID: testAdminID, Role: boxoffice.RoleAdmin},
			},
			expired: map[string]bool{"expired": true},
		},
		Logger: newJSONLogger(logs),
	}
	for _, m := range mod {
		m(&cfg)
	}
	return New(cfg), logs
}

// do sends a request to h and returns the recorded response.
func do(h http.Handler, method, target string, body string, header ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeProblem checks that w is a problem with status and code and
// returns it.
func decodeProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code boxoffice.Code) problem {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Code != code || p.Status != status {
		t.Errorf("problem code/status = %s/%d, want %s/%d (detail %q)", p.Code, p.Status, code, status, p.Detail)
	}
	if p.Type != problemTypePrefix+string(code) || p.Title == "" || p.Detail == "" {
		t.Errorf("problem type/title/detail = %q/%q/%q", p.Type, p.Title, p.Detail)
	}
	if rid := w.Header().Get("X-Request-Id"); p.RequestID == "" || p.RequestID != rid {
		t.Errorf("request_id = %q, X-Request-Id = %q", p.RequestID, rid)
	}
	return p
}

// fieldNames lists the fields of a problem's errors.
func fieldNames(p problem) []string {
	var names []string
	for _, f := range p.Errors {
		names = append(names, f.Field)
	}
	return names
}

// newJSONLogger logs everything as JSON lines to w.
func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// discardLogger drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
