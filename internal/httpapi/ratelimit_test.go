package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// TestDeviceTokenSignsInWhileGuessesFillThePool: guessers at the owner's
// email, each guess from a new address (so no address limit trips), keep
// the password hashers' pool (one worker, one waiting) full. A sign-in
// without a device token is then answered 429, the owner's too; the owner
// presenting the device token of an earlier sign-in is checked in the
// reserved lane and signs in.
func TestDeviceTokenSignsInWhileGuessesFillThePool(t *testing.T) {
	ctx := t.Context()
	hasher := auth.NewHasher(9, 1, 1, 30*time.Second).Reserve(1, 1)
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: hasher,
		Limits: boxoffice.NewLimiter(boxoffice.DefaultRateLimits(), nil, memory.NewRateCounter(0), nil),
	})
	if _, err := svc.SignUp(ctx, boxoffice.Caller{}, boxoffice.SignUp{Email: "ann@example.com", Password: "stage-door-123", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Service: svc, Tokens: auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour), Logger: discardLogger()})
	signIn := func(from, password, device string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"email":"ann@example.com","password":%q,"device_token":%q}`, password, device)
		if device == "" {
			body = fmt.Sprintf(`{"email":"ann@example.com","password":%q}`, password)
		}
		r := httptest.NewRequest("POST", "/api/v1/auth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	const ownerAddr = "198.51.100.7:5000"
	deviceToken := func(w *httptest.ResponseRecorder) string {
		t.Helper()
		var tok tokenResponse
		if w.Code != http.StatusOK {
			t.Fatalf("owner's sign-in: %d %s", w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" || tok.DeviceToken == "" {
			t.Fatalf("sign-in answer %s: %v", w.Body, err)
		}
		return tok.DeviceToken
	}
	device := deviceToken(signIn(ownerAddr, "stage-door-123", ""))

	// The guessers: closed loops, each guess from the next address.
	stop := make(chan struct{})
	var next, refused atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := next.Add(1)
				w := signIn(fmt.Sprintf("10.%d.%d.%d:4000", n>>16&255, n>>8&255, n&255), "wrong-guess-000", "")
				switch w.Code {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("guess: %d %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); !hasher.Saturated(); {
		if time.Now().After(deadline) {
			t.Fatal("the guessers did not fill the pool")
		}
		time.Sleep(time.Millisecond)
	}

	// Without its device token the owner is shed like the guessers.
	decodeProblem(t, signIn(ownerAddr, "stage-door-123", ""), http.StatusTooManyRequests, boxoffice.CodeRateLimited)
	// With it, the owner signs in, twice over: each answer carries a
	// device token that works in turn.
	before := refused.Load()
	for range 2 {
		device = deviceToken(signIn(ownerAddr, "stage-door-123", device))
	}
	if refused.Load() == before {
		t.Fatal("no guess was refused while the owner signed in: the pool was not full")
	}
	// A device token is no password: a wrong one is refused as ever.
	decodeProblem(t, signIn(ownerAddr, "wrong-password", device), http.StatusUnauthorized, boxoffice.CodeInvalidCredentials)
}
