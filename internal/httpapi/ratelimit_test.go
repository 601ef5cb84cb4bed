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

func TestSignInRateLimitHTTP(t *testing.T) {
	ctx := t.Context()
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0),
		Logins: memory.NewLoginLimiter(2, 15*time.Minute, 0),
	})
	if _, err := svc.SignUp(ctx, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Service: svc, Tokens: auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour), Logger: discardLogger()})
	signIn := func(password string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"email":"Ann@Example.com","password":%q}`, password)
		return do(h, "POST", "/api/v1/auth/token", body, "Content-Type", "application/json")
	}
	for range 2 {
		decodeProblem(t, signIn("wrong-password"), http.StatusUnauthorized, boxoffice.CodeInvalidCredentials)
	}
	w := signIn("stage-door-123")
	p := decodeProblem(t, w, http.StatusTooManyRequests, boxoffice.CodeRateLimited)
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || secs < 899 || secs > 900 {
		t.Fatalf("Retry-After = %q, want about 900 seconds", w.Header().Get("Retry-After"))
	}
	if !strings.Contains(p.Detail, "sign-in") {
		t.Errorf("detail = %q, want it to say why", p.Detail)
	}
}
