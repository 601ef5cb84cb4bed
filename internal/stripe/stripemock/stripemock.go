// Package stripemock starts stripe-mock for tests: Stripe's own mock of its
// API, which checks every request against Stripe's OpenAPI specification
// and answers with fixed example objects. It is the binary named by
// BOXOFFICE_TEST_STRIPE_MOCK (tests skip, with a message, when it is unset;
// CI builds stripe-mock, sets it, and fails if such tests skip). Each
// server listens on a free loopback port.
//
// stripe-mock keeps no state: a created object is not found later, every
// PaymentIntent is in the fixture's status, idempotency keys are accepted
// but not honoured, and no payment is ever declined. Its specification
// (v0.203.0: API version 2026-08-26.dahlia) is newer than the version
// stripe-go v82 sends (2025-08-27.basil), so it runs without
// -strict-version-check.
package stripemock

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// EnvVar names the stripe-mock binary.
const EnvVar = "BOXOFFICE_TEST_STRIPE_MOCK"

// APIKey is a key stripe-mock accepts (any sk_test_… key).
const APIKey = "sk_test_boxoffice"

// Server is one stripe-mock process.
type Server struct {
	// URL is the API's base URL (http://127.0.0.1:port).
	URL string
}

// Start starts stripe-mock for the test and stops it when the test ends.
// It skips the test when BOXOFFICE_TEST_STRIPE_MOCK is unset.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv(EnvVar)
	if bin == "" {
		t.Skip("stripe-mock-backed test skipped: set BOXOFFICE_TEST_STRIPE_MOCK to a stripe-mock binary (go install github.com/stripe/stripe-mock@v0.203.0)")
	}
	addr := freeAddr(t)
	// It serves HTTPS too, on a fixed port unless told another: a free one,
	// so that servers of tests in parallel packages do not collide.
	cmd := exec.Command(bin, "-http-addr", addr, "-https-addr", freeAddr(t))
	// It logs every request; its output is shown only when it fails to start.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("stripemock: start %s: %v", bin, err)
	}
	stopped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(stopped) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-stopped
	})
	s := &Server{URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.ready() {
			return s
		}
		select {
		case <-stopped:
			t.Fatalf("stripemock: stripe-mock exited at start (port %s taken?):\n%s", addr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripemock: stripe-mock did not come up on %s within 30 s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether the server answers an authenticated request.
func (s *Server) ready() bool {
	req, err := http.NewRequest(http.MethodGet, s.URL+"/v1/balance", nil)
	if err != nil {
		return false
	}
	req.SetBasicAuth(APIKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
