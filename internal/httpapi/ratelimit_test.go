package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/memory"
	"boxoffice/internal/testdb"
)

func TestRetryAfterHeader(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{boxoffice.ErrRateLimited, strconv.Itoa(retryAfterRateLimited)},
		{&boxoffice.RetryAfterError{Err: boxoffice.ErrRateLimited, RetryAfter: 90*time.Second + time.Millisecond}, "91"},
		{fmt.Errorf("wrapped: %w", &boxoffice.RetryAfterError{Err: boxoffice.ErrRateLimited, RetryAfter: 10 * time.Millisecond}), "1"},
	} {
		w := serveError(tc.err)
		decodeProblem(t, w, http.StatusTooManyRequests, boxoffice.CodeRateLimited)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%v: Retry-After = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestSignInThrottleHTTP: the attacker's address is throttled with a
// Retry-After, while the owner's address signs in.
func TestSignInThrottleHTTP(t *testing.T) {
	ctx := t.Context()
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
		Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), nil, memory.NewRateCounter(0), nil),
	})
	if _, err := svc.SignUp(ctx, boxoffice.Caller{}, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Service: svc, Tokens: auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour), Logger: discardLogger()})
	signIn := func(from, password string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"email":"Ann@Example.com","password":%q}`, password)
		r := httptest.NewRequest("POST", "/api/v1/auth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for range 5 {
		decodeProblem(t, signIn("203.0.113.9:4000", "wrong-password"), http.StatusUnauthorized, boxoffice.CodeInvalidCredentials)
	}
	w := signIn("203.0.113.9:4001", "stage-door-123")
	p := decodeProblem(t, w, http.StatusTooManyRequests, boxoffice.CodeRateLimited)
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || secs < 59 || secs > 60 {
		t.Fatalf("Retry-After = %q, want about 60 seconds", w.Header().Get("Retry-After"))
	}
	if !strings.Contains(p.Detail, "sign-in") {
		t.Errorf("detail = %q, want it to say why", p.Detail)
	}
	if w := signIn("198.51.100.7:5000", "stage-door-123"); w.Code != http.StatusOK {
		t.Fatalf("owner from another address: %d %s", w.Code, w.Body)
	}
}
