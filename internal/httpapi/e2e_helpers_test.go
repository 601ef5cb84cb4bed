package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/testpay"
	"boxoffice/internal/webhookhttp"
)

// testClock is the service's clock: real time plus an offset tests move.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// advance moves the clock forward by d.
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// testAdmissions admits exactly the (token, user, event) triples granted,
// and remembers the admissions noted as used.
type testAdmissions struct {
	mu      sync.Mutex
	granted map[[3]string]bool
	used    []string // "eventID/userID"
}

func (a *testAdmissions) grant(token, userID, eventID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.granted[[3]string{token, userID, eventID}] = true
}

func (a *testAdmissions) Admits(token, userID, eventID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.granted[[3]string{token, userID, eventID}]
}

func (a *testAdmissions) AdmissionUsed(eventID, userID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used = append(a.used, eventID+"/"+userID)
}

// usedCount returns how many times admissions were noted as used.
func (a *testAdmissions) usedCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

// testServer is the whole stack (SQLite store, bcrypt hasher, JWT tokens,
// in-process cache, service, HTTP API) behind an httptest.Server.
type testServer struct {
	t          *testing.T
	url        string
	client     *http.Client // nil: http.DefaultClient
	svc        *boxoffice.Service
	clock      *testClock
	secret     []byte
	admissions *testAdmissions
	adminToken string
	// pay is the test payment provider, store the system of record.
	pay   *testpay.Provider
	store boxoffice.Store
}

// testWebhookSecret signs the test provider's callbacks.
const testWebhookSecret = "whsec_test_provider_secret"

// newTestServer starts the real stack on a fresh database and returns it
// with an admin signed in. Everything stops at the end of the test. opts
// may change the HTTP API's configuration (with the store at hand).
func newTestServer(t *testing.T, opts ...func(boxoffice.Store, *Config)) *testServer {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	admissions := &testAdmissions{granted: map[[3]string]bool{}}
	pay := testpay.New(testWebhookSecret)
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store:      store,
		Hasher:     auth.NewHasher(4, 0, 0, 0),
		Provider:   pay,
		Admissions: admissions,
		Logger:     discardLogger(),
		Now:        clock.now,
		// Holds expire only when a test asks the clock to move past them
		// and confirms; no sweep races the assertions.
		SweepInterval: time.Hour,
		// Webhooks go to receivers on this machine.
		Webhooks: boxoffice.WebhookConfig{
			Poster: webhookhttp.New(webhookhttp.Options{AllowPrivate: true}), Poll: 20 * time.Millisecond, Timeout: 2 * time.Second,
		},
		AllowInsecureWebhooks: true,
	})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	waitStandings(t, svc)

	secret := []byte("0123456789abcdef0123456789abcdef")
	logs := &syncBuffer{}
	cfg := Config{
		Service: svc,
		Cache:   memory.NewCache(10000),
		Tokens:  auth.NewTokens(secret, time.Hour),
		Logger:  newJSONLogger(logs),
		Ready:   svc.Ready,
	}
	for _, o := range opts {
		o(store, &cfg)
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})

	ts := &testServer{t: t, url: srv.URL, svc: svc, clock: clock, secret: secret, admissions: admissions, pay: pay, store: store}
	if _, err := svc.EnsureAdmin(ctx, "admin@boxoffice.test", "admin-password", "Admin"); err != nil {
		t.Fatal(err)
	}
	ts.adminToken = ts.signIn("admin@boxoffice.test", "admin-password")
	return ts
}

// response is a recorded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request; body, when not nil, is sent as JSON (a string or
// []byte is sent as is). hdr lists extra header names and values.
func (ts *testServer) call(method, path, token string, body any, hdr ...string) *response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ts.t.Context(), method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.httpClient().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		ts.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

// httpClient returns the client that reaches the server.
func (ts *testServer) httpClient() *http.Client {
	if ts.client != nil {
		return ts.client
	}
	return http.DefaultClient
}

// ok checks the status and decodes the JSON body into v (when not nil).
func (r *response) ok(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if v == nil {
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem checks that r is a problem with status and code and returns it.
func (r *response) problem(t *testing.T, status int, code boxoffice.Code) problem {
	t.Helper()
	w := httptest.NewRecorder()
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Code = status
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	w.Body = bytes.NewBuffer(r.body)
	return decodeProblem(t, w, status, code)
}

// signUp creates a user and returns its token and ID.
func (ts *testServer) signUp(email string) (token, id string) {
	ts.t.Helper()
	var u userJSON
	ts.call("POST", "/api/v1/users", "", map[string]string{"email": email, "password": "stage-door-123", "name": "Test " + email}).ok(ts.t, 201, &u)
	return ts.signIn(email, "stage-door-123"), u.ID
}

// signIn returns an access token.
func (ts *testServer) signIn(email, password string) string {
	ts.t.Helper()
	var tok tokenResponse
	ts.call("POST", "/api/v1/auth/token", "", map[string]string{"email": email, "password": password}).ok(ts.t, 200, &tok)
	return tok.AccessToken
}

// userJSON, eventJSON and reservationJSON are the contract's shapes as a
// client decodes them.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

type tierJSON struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Price     boxoffice.Money `json:"price"`
	Capacity  int             `json:"capacity"`
	Available int             `json:"available"`
}

type eventJSON struct {
	ID                string                `json:"id"`
	Title             string                `json:"title"`
	Description       string                `json:"description"`
	Venue             string                `json:"venue"`
	StartsAt          time.Time             `json:"starts_at"`
	EndsAt            *time.Time            `json:"ends_at"`
	SalesStartAt      time.Time             `json:"sales_start_at"`
	SalesEndAt        time.Time             `json:"sales_end_at"`
	MaxTicketsPerUser int                   `json:"max_tickets_per_user"`
	HoldSeconds       int                   `json:"hold_seconds"`
	Queue             boxoffice.QueueConfig `json:"queue"`
	Tiers             []tierJSON            `json:"tiers"`
	Available         int                   `json:"available"`
	CreatedAt         time.Time             `json:"created_at"`
	UpdatedAt         time.Time             `json:"updated_at"`
}

type reservationJSON struct {
	ID            string              `json:"id"`
	EventID       string              `json:"event_id"`
	TierID        string              `json:"tier_id"`
	Quantity      int                 `json:"quantity"`
	Status        string              `json:"status"`
	Amount        boxoffice.Money     `json:"amount"`
	Attendee      *boxoffice.Attendee `json:"attendee"`
	HoldExpiresAt time.Time           `json:"hold_expires_at"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
	ConfirmedAt   *time.Time          `json:"confirmed_at"`
	CancelledAt   *time.Time          `json:"cancelled_at"`
}

// listJSON is a page as a client decodes it.
type listJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// eventBody returns a valid create-event body, on sale now (per the test
// clock), that tests then adjust.
func (ts *testServer) eventBody(title string, capacity int) map[string]any {
	now := ts.clock.now()
	return map[string]any{
		"title": title, "description": "desc", "venue": "Hall",
		"starts_at":            now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
		"sales_start_at":       now.Add(-time.Hour).Format(time.RFC3339),
		"sales_end_at":         now.Add(7 * 24 * time.Hour).Format(time.RFC3339),
		"max_tickets_per_user": 4, "hold_seconds": 60,
		"tiers": []map[string]any{{"name": "GA", "price": map[string]any{"amount": 5000, "currency": "USD"}, "capacity": capacity}},
	}
}

// createEvent creates an event from body as the admin.
func (ts *testServer) createEvent(body map[string]any) eventJSON {
	ts.t.Helper()
	var e eventJSON
	ts.call("POST", "/api/v1/events", ts.adminToken, body).ok(ts.t, 201, &e)
	return e
}

// hold places a hold and returns the response.
func (ts *testServer) hold(token, eventID, tierID string, quantity int, hdr ...string) *response {
	ts.t.Helper()
	return ts.call("POST", "/api/v1/events/"+eventID+"/reservations", token,
		map[string]any{"tier_id": tierID, "quantity": quantity}, hdr...)
}

// waitStandings waits until svc checks tokens in memory (its first read of
// the changed users is done).
func waitStandings(t *testing.T, svc *boxoffice.Service) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !svc.StandingsFresh(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the service never read the changed users")
		}
	}
}
