package httpapi

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"boxoffice"
)

// TestClientBodyFaults: a body cut short or sent too slowly is the client's
// fault: 400 incomplete_body or 408 request_timeout, never a 500 logged as
// an error (anyone could trip the error-budget alerts with them).
func TestClientBodyFaults(t *testing.T) {
	h, logs := newUnitHandler(t)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	// send writes a request with a declared length of 100 bytes but only
	// part of its body, then (when cut) closes its side of the connection,
	// and returns the answer.
	send := func(t *testing.T, cut bool) (int, boxoffice.Code) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // only against a hang
		req := "POST /api/v1/users HTTP/1.1\r\nHost: boxoffice.test\r\nContent-Type: application/json\r\n" +
			"Content-Length: 100\r\n\r\n{\"email\": \"a@b.c\""
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if cut {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, p.Code
	}
	if status, code := send(t, true); status != http.StatusBadRequest || code != codeIncompleteBody {
		t.Errorf("truncated body: %d %s, want 400 %s", status, code, codeIncompleteBody)
	}
	if status, code := send(t, false); status != http.StatusRequestTimeout || code != codeRequestTimeout {
		t.Errorf("slow body: %d %s, want 408 %s", status, code, codeRequestTimeout)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("client faults logged as errors:\n%s", logs)
	}
}
