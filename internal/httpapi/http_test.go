package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"boxoffice"
	"boxoffice/api"
)

func TestTestIDsAreValid(t *testing.T) {
	for _, id := range []string{testUserID, testAdminID, testEventID} {
		if !boxoffice.ValidID(id) {
			t.Fatalf("%s is not a valid ID", id)
		}
	}
}

func TestDecodingFailures(t *testing.T) {
	h, _ := newUnitHandler(t)
	auth := []string{"Authorization", "Bearer admin", "Content-Type", "application/json"}
	big := `{"title": "` + strings.Repeat("x", maxBody) + `"}`
	tests := []struct {
		name   string
		method string
		target string
		body   string
		header []string
		status int
		code   boxoffice.Code
		fields []string
	}{
		{"no content type", "POST", "/api/v1/users", `{}`, nil, 415, codeUnsupportedMediaType, nil},
		{"text content type", "POST", "/api/v1/users", `{}`, []string{"Content-Type", "text/plain"}, 415, codeUnsupportedMediaType, nil},
		{"form content type", "POST", "/api/v1/auth/token", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, codeUnsupportedMediaType, nil},
		{"too large", "POST", "/api/v1/events", big, auth, 413, codePayloadTooLarge, nil},
		{"syntax error", "POST", "/api/v1/events", `{"title": }`, auth, 400, codeMalformedJSON, nil},
		{"empty body", "POST", "/api/v1/users", ``, []string{"Content-Type", "application/json"}, 400, codeMalformedJSON, nil},
		{"truncated", "POST", "/api/v1/users", `{"email": "a@b.c"`, []string{"Content-Type", "application/json"}, 400, codeMalformedJSON, nil},
		{"trailing data", "POST", "/api/v1/users", `{"email": "a@b.c"} {}`, []string{"Content-Type", "application/json"}, 400, codeMalformedJSON, nil},
		{"trailing garbage", "POST", "/api/v1/users", `{} x`, []string{"Content-Type", "application/json; charset=utf-8"}, 400, codeMalformedJSON, nil},
		{"unknown field", "POST", "/api/v1/users", `{"email": "a@b.c", "admin": true}`, []string{"Content-Type", "application/json"}, 422, boxoffice.CodeValidationFailed, []string{"admin"}},
		{"nested unknown field", "POST", "/api/v1/events", `{"tiers": [{"name": "GA", "seats": 3}]}`, auth, 422, boxoffice.CodeValidationFailed, []string{"seats"}},
		{"wrong type", "POST", "/api/v1/events", `{"max_tickets_per_user": "four"}`, auth, 422, boxoffice.CodeValidationFailed, []string{"max_tickets_per_user"}},
		{"nested wrong type", "POST", "/api/v1/events", `{"tiers": [{"price": {"amount": 1.5}}]}`, auth, 422, boxoffice.CodeValidationFailed, []string{"tiers.price.amount"}},
		{"not an object", "POST", "/api/v1/events", `[1, 2]`, auth, 422, boxoffice.CodeValidationFailed, []string{"body"}},
		{"bad times", "POST", "/api/v1/events", `{"starts_at": "tomorrow", "sales_start_at": "2026-13-01T00:00:00Z", "sales_end_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01 10:00"}`, auth, 422, boxoffice.CodeValidationFailed, []string{"starts_at", "ends_at", "sales_start_at"}},
		{"bad patch time", "PATCH", "/api/v1/events/" + testEventID, `{"sales_end_at": "soon"}`, auth, 422, boxoffice.CodeValidationFailed, []string{"sales_end_at"}},
		{"reservation wrong type", "POST", "/api/v1/events/" + testEventID + "/reservations", `{"tier_id": 7, "quantity": 1}`, []string{"Authorization", "Bearer user", "Content-Type", "application/json"}, 422, boxoffice.CodeValidationFailed, []string{"tier_id"}},
		{"quantity missing", "PATCH", "/api/v1/reservations/" + testEventID, `{}`, []string{"Authorization", "Bearer user", "Content-Type", "application/json"}, 422, boxoffice.CodeValidationFailed, []string{"quantity"}},
		{"payment token missing", "POST", "/api/v1/reservations/" + testEventID + "/confirm", `{}`, []string{"Authorization", "Bearer user", "Content-Type", "application/json"}, 422, boxoffice.CodeValidationFailed, []string{"payment_token"}},
		{"cancel with fields", "POST", "/api/v1/reservations/" + testEventID + "/cancel", `{"reason": "x"}`, []string{"Authorization", "Bearer user", "Content-Type", "application/json"}, 422, boxoffice.CodeValidationFailed, []string{"reason"}},
		{"idempotency key too long", "POST", "/api/v1/events/" + testEventID + "/reservations", `{}`, []string{"Authorization", "Bearer user", "Content-Type", "application/json", "Idempotency-Key", strings.Repeat("k", 256)}, 422, boxoffice.CodeValidationFailed, []string{"Idempotency-Key"}},
		{"idempotency key empty", "POST", "/api/v1/reservations/" + testEventID + "/cancel", ``, []string{"Authorization", "Bearer user", "Idempotency-Key", ""}, 422, boxoffice.CodeValidationFailed, []string{"Idempotency-Key"}},
		{"bad list params", "GET", "/api/v1/events?limit=101&starts_after=yesterday&on_sale=yes", ``, nil, 422, boxoffice.CodeValidationFailed, []string{"limit", "starts_after", "on_sale"}},
		{"limit zero", "GET", "/api/v1/users/me/bookmarks?limit=0", ``, []string{"Authorization", "Bearer user"}, 422, boxoffice.CodeValidationFailed, []string{"limit"}},
		{"bad status", "GET", "/api/v1/users/me/reservations?status=paid&limit=x", ``, []string{"Authorization", "Bearer user"}, 422, boxoffice.CodeValidationFailed, []string{"limit", "status"}},
		{"malformed event id", "GET", "/api/v1/events/nope", ``, nil, 404, boxoffice.CodeNotFound, nil},
		{"malformed id lowercase", "GET", "/api/v1/reservations/" + strings.ToLower(testEventID), ``, []string{"Authorization", "Bearer user"}, 404, boxoffice.CodeNotFound, nil},
		{"malformed bookmark id", "PUT", "/api/v1/users/me/bookmarks/1", ``, []string{"Authorization", "Bearer user"}, 404, boxoffice.CodeNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.target, tt.body, tt.header...)
			p := decodeProblem(t, w, tt.status, tt.code)
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, fieldNames(p)); diff != "" {
					t.Errorf("fields (-want +got):\n%s\n%v", diff, p.Errors)
				}
			}
		})
	}
}

func TestDecodeEventInputNormalisesTimes(t *testing.T) {
	body := `{"title": "Nuit", "venue": "Salle", "starts_at": "2026-06-01T20:00:00+02:00",
		"ends_at": "2026-06-01T23:30:00.5-04:00", "sales_start_at": "2026-05-01T10:00:00Z",
		"sales_end_at": "2026-06-01T18:00:00+00:00", "max_tickets_per_user": 4, "hold_seconds": 60,
		"queue": {"enabled": true, "admit_per_minute": 600},
		"tiers": [{"name": "GA", "price": {"amount": 5000, "currency": "USD"}, "capacity": 100}]}`
	r := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body))
	r.Header.Set("Content-Type", "Application/JSON; charset=UTF-8")
	in, err := decodeEventInput(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	ends := time.Date(2026, 6, 2, 3, 30, 0, 5e8, time.UTC)
	want := boxoffice.EventInput{
		Title: "Nuit", Venue: "Salle",
		StartsAt:          time.Date(2026, 6, 1, 18, 0, 0, 0, time.UTC),
		EndsAt:            &ends,
		SalesStartAt:      time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		SalesEndAt:        time.Date(2026, 6, 1, 18, 0, 0, 0, time.UTC),
		MaxTicketsPerUser: 4, HoldSeconds: 60,
		Queue: &boxoffice.QueueConfig{Enabled: true, AdmitPerMinute: 600},
		Tiers: []boxoffice.TierInput{{Name: "GA", Price: boxoffice.Money{Amount: 5000, Currency: "USD"}, Capacity: 100}},
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
	for _, tm := range []time.Time{in.StartsAt, *in.EndsAt, in.SalesStartAt, in.SalesEndAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%v is not in UTC", tm)
		}
	}
}

func TestDecodeEventPatch(t *testing.T) {
	body := `{"title": "New", "starts_at": "2026-06-01T20:00:00+02:00",
		"tiers": [{"id": "` + testEventID + `", "capacity": 50}, {"name": "VIP", "price": {"amount": 9000, "currency": "EUR"}, "capacity": 5}]}`
	r := httptest.NewRequest("PATCH", "/api/v1/events/"+testEventID, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	p, err := decodeEventPatch(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	title, starts, capacity, name, vipCap := "New", time.Date(2026, 6, 1, 18, 0, 0, 0, time.UTC), 50, "VIP", 5
	want := boxoffice.EventPatch{
		Title: &title, StartsAt: &starts,
		Tiers: []boxoffice.TierPatch{
			{ID: testEventID, Capacity: &capacity},
			{Name: &name, Price: &boxoffice.Money{Amount: 9000, Currency: "EUR"}, Capacity: &vipCap},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
}

func TestDecodeHoldInputFingerprint(t *testing.T) {
	mux := http.NewServeMux()
	var got []boxoffice.HoldInput
	mux.HandleFunc("POST /api/v1/events/{id}/reservations", func(w http.ResponseWriter, r *http.Request) {
		in, err := decodeHoldInput(w, r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in)
	})
	send := func(event, key, body string) {
		r := httptest.NewRequest("POST", "/api/v1/events/"+event+"/reservations", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", key)
		mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	body := `{"tier_id": "T", "quantity": 2, "attendee": {"name": "Zoë", "phone": "+33 1"}}`
	send(testEventID, "k1", body)
	send(testEventID, "k2", body)
	send(testUserID, "k1", body)
	send(testEventID, "k1", strings.Replace(body, "2", "3", 1))
	if len(got) != 4 {
		t.Fatalf("decoded %d requests", len(got))
	}
	want := boxoffice.HoldInput{EventID: testEventID, TierID: "T", Quantity: 2, Attendee: &boxoffice.Attendee{Name: "Zoë", Phone: "+33 1"}, IdempotencyKey: "k1"}
	if diff := cmp.Diff(want, got[0], cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Fingerprint" }, cmp.Ignore())); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
	if len(got[0].Fingerprint) != 64 {
		t.Errorf("fingerprint %q is not hex SHA-256", got[0].Fingerprint)
	}
	if got[0].Fingerprint != got[1].Fingerprint {
		t.Error("the key changed the fingerprint; it should identify the request only")
	}
	if got[0].Fingerprint == got[2].Fingerprint || got[0].Fingerprint == got[3].Fingerprint {
		t.Error("different requests share a fingerprint")
	}
}

func TestRequestID(t *testing.T) {
	h, _ := newUnitHandler(t)
	tests := []struct {
		name, in string
		keep     bool
	}{
		{"kept", "abc-123_x.y:z", true},
		{"kept at 128", strings.Repeat("a", 128), true},
		{"absent", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"bad characters", "abc def", false},
		{"injection", "a\"b", false},
		{"unicode", "réq", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.in != "" {
				hdr = []string{"X-Request-Id", tt.in}
			}
			w := do(h, "GET", "/healthz", "", hdr...)
			got := w.Header().Get("X-Request-Id")
			switch {
			case tt.keep && got != tt.in:
				t.Errorf("X-Request-Id = %q, want %q kept", got, tt.in)
			case !tt.keep && (got == tt.in || !validRequestID(got) || seen[got]):
				t.Errorf("X-Request-Id = %q, want a fresh one", got)
			}
			seen[got] = true
		})
	}
	// Problems carry it too.
	w := do(h, "GET", "/nowhere", "", "X-Request-Id", "rid-1")
	if p := decodeProblem(t, w, 404, boxoffice.CodeNotFound); p.RequestID != "rid-1" {
		t.Errorf("request_id = %q", p.RequestID)
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	h, _ := newUnitHandler(t)
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/events/" + testEventID + "/nothing", 404, ""},
		{"POST", "/healthz/x", 404, ""},
		{"DELETE", "/api/v1/users", 405, "POST"},
		{"GET", "/api/v1/auth/token", 405, "POST"},
		{"POST", "/api/v1/events/" + testEventID, 405, "DELETE, GET, HEAD, PATCH"},
		{"PUT", "/api/v1/events", 405, "GET, HEAD, POST"},
		{"GET", "/api/v1/reservations/" + testEventID + "/confirm", 405, "POST"},
		{"POST", "/api/v1/users/me/bookmarks/" + testEventID, 405, "DELETE, PUT"},
		{"OPTIONS", "/healthz", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := do(h, tt.method, tt.target, "")
			code := boxoffice.CodeNotFound
			if tt.status == 405 {
				code = codeMethodNotAllowed
			}
			decodeProblem(t, w, tt.status, code)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	h, logs := newUnitHandler(t)
	tests := []struct {
		name   string
		header []string
		code   boxoffice.Code
	}{
		{"missing", nil, boxoffice.CodeUnauthenticated},
		{"empty", []string{"Authorization", ""}, boxoffice.CodeUnauthenticated},
		{"basic scheme", []string{"Authorization", "Basic dXNlcjpwYXNz"}, boxoffice.CodeUnauthenticated},
		{"no token", []string{"Authorization", "Bearer "}, boxoffice.CodeUnauthenticated},
		{"bare token", []string{"Authorization", "user"}, boxoffice.CodeUnauthenticated},
		{"two tokens", []string{"Authorization", "Bearer user admin"}, boxoffice.CodeUnauthenticated},
		{"tampered", []string{"Authorization", "Bearer userX"}, boxoffice.CodeUnauthenticated},
		{"expired", []string{"Authorization", "Bearer expired"}, boxoffice.CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"GET /api/v1/users/me", "POST /api/v1/events", "GET /api/v1/users/me/reservations", "DELETE /api/v1/users/me/bookmarks/" + testEventID} {
				method, path, _ := strings.Cut(target, " ")
				w := do(h, method, path, "", tt.header...)
				decodeProblem(t, w, 401, tt.code)
				if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate = %q", target, w.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
	if strings.Contains(logs.String(), "userX") || strings.Contains(logs.String(), "Bearer") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
}

func TestPanicRecovery(t *testing.T) {
	logs := &syncBuffer{}
	s := &server{log: newJSONLogger(logs)}
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("kaboom at secret place")
	}))
	w := do(h, "GET", "/x", "")
	decodeProblem(t, w, 500, boxoffice.CodeInternal)
	if strings.Contains(w.Body.String(), "kaboom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("panic details reached the client: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("panic and stack not logged:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("access log lacks the 500:\n%s", logs)
	}
}

func TestAccessLog(t *testing.T) {
	h, logs := newUnitHandler(t)
	do(h, "GET", "/api/v1/users/me/reservations?status=nope&cursor=SECRETCURSOR", "", "Authorization", "Bearer user", "X-Request-Id", "log-1")
	do(h, "POST", "/api/v1/users", `{"email": "a@b.c", "password": "hunter2hunter2", "bogus": 1}`, "Content-Type", "application/json", "X-Request-Id", "log-2")
	var lines []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("got %d request lines:\n%s", len(lines), logs)
	}
	first := lines[0]
	for k, v := range map[string]any{"method": "GET", "route": "GET /api/v1/users/me/reservations", "status": float64(422), "request_id": "log-1", "user_id": testUserID} {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	if _, ok := first["duration"]; !ok {
		t.Error("no duration")
	}
	if _, ok := first["bytes"]; !ok {
		t.Error("no bytes")
	}
	if lines[1]["route"] != "POST /api/v1/users" {
		t.Errorf("route = %v", lines[1]["route"])
	}
	for _, secret := range []string{"hunter2", "SECRETCURSOR", "a@b.c", "Bearer"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	var draining atomic.Bool
	var readyErr atomic.Value
	readyErr.Store(errors.New(""))
	h, _ := newUnitHandler(t, func(c *Config) {
		c.Draining = &draining
		c.Ready = func(ctx context.Context) error {
			if err := readyErr.Load().(error); err.Error() != "" {
				return err
			}
			return nil
		}
	})
	w := do(h, "GET", "/healthz", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/readyz", ""); w.Code != 200 {
		t.Errorf("readyz = %d %s", w.Code, w.Body)
	}
	readyErr.Store(errors.New("database is down"))
	w = do(h, "GET", "/readyz", "")
	decodeProblem(t, w, 503, boxoffice.CodeUnavailable)
	if w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "database is down") {
		t.Errorf("readyz failure: %v %s", w.Header(), w.Body)
	}
	readyErr.Store(errors.New(""))
	draining.Store(true)
	w = do(h, "GET", "/readyz", "")
	decodeProblem(t, w, 503, boxoffice.CodeUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After while draining")
	}
	if w := do(h, "GET", "/healthz", ""); w.Code != 200 {
		t.Errorf("healthz while draining = %d", w.Code)
	}
}

func TestMetricsAndOpenAPI(t *testing.T) {
	// Metrics are served on their own listener (cmd/boxoffice), never on
	// the public port: GET /metrics is no route of the API.
	h, _ := newUnitHandler(t)
	decodeProblem(t, do(h, "GET", "/metrics", ""), 404, boxoffice.CodeNotFound)
	w := do(h, "GET", "/api/v1/openapi.json", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(api.Spec) {
		t.Errorf("openapi = %d %s", w.Code, w.Header())
	}
	if w := do(h, "HEAD", "/api/v1/openapi.json", ""); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD openapi = %d, %d bytes", w.Code, w.Body.Len())
	}
}

// specDoc is the part of the OpenAPI document the spec test reads.
type specDoc struct {
	OpenAPI string                    `json:"openapi"`
	Paths   map[string]map[string]any `json:"paths"`
}

func TestSpecMatchesRoutes(t *testing.T) {
	var doc specDoc
	if err := json.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var inSpec []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				inSpec = append(inSpec, strings.ToUpper(method)+" "+path)
			}
		}
	}
	var inTable []string
	for _, rt := range (&server{}).routes() {
		inTable = append(inTable, rt.pattern)
	}
	slices.Sort(inSpec)
	slices.Sort(inTable)
	if diff := cmp.Diff(inTable, inSpec); diff != "" {
		t.Errorf("route table (-) and spec (+) differ:\n%s", diff)
	}
}

func TestSpecProblemCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []boxoffice.Code `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Components.Schemas.Problem.Properties.Code.Enum
	want := domainCodes(t)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Problem.code enum (-errors.go +spec):\n%s", diff)
	}
}

func TestRefsResolve(t *testing.T) {
	var doc any
	if err := json.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				cur := doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
