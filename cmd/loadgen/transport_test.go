package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a test server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func leanGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestLeanTransportKeepAliveAndBodies(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Key", r.Header.Get("Idempotency-Key"))
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Length")+" "+string(b))
	})
	c := &http.Client{Transport: newLeanTransport(0, 4), Timeout: 5 * time.Second}
	for i := range 50 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/a/b?x=1", bytes.NewReader([]byte(`{"n":1}`)))
		req.Header["Idempotency-Key"] = []string{"k"}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `POST /a/b?x=1 7 {"n":1}` || resp.Header.Get("X-Key") != "k" {
			t.Fatalf("answer %q, X-Key %q", b, resp.Header.Get("X-Key"))
		}
	}
	if code, body := leanGet(t, c, srv.URL+"/c?chunked=1"); code != 200 || body != "GET /c?chunked=1  " {
		t.Fatalf("chunked answer %d %q", code, body)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for sequential requests, want 1 (keep-alive)", n)
	}
}

// A connection the server closed while idle, or closed after its answer,
// does not fail the next request.
func TestLeanTransportStaleAndClosedConnections(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: newLeanTransport(0, 4), Timeout: 5 * time.Second}
	leanGet(t, c, srv.URL+"/")
	// The idle keep-alive connection dies: CloseClientConnections returns
	// once the server has closed it, and whether the client then sees the
	// close on writing (a reset) or on reading (EOF), it is a stale
	// connection's error, so no pause is needed for the close to land.
	srv.CloseClientConnections()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("body"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("request on a stale connection was not sent again: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	leanGet(t, c, srv.URL+"/close")
	leanGet(t, c, srv.URL+"/")
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (first, after the stale one, after Connection: close)", n)
	}
}

// A request past the client's timeout fails, and its connection is not
// reused for the next one.
func TestLeanTransportTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	c := &http.Client{Transport: newLeanTransport(0, 4), Timeout: 100 * time.Millisecond}
	if _, err := c.Get(srv.URL + "/slow"); err == nil {
		t.Fatal("slow request did not time out")
	}
	leanGet(t, c, srv.URL+"/")
	// An abandoned body closes its connection too.
	resp, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	leanGet(t, c, srv.URL+"/")
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// maxConns bounds the connections (and so the concurrent requests) per host.
func TestLeanTransportMaxConns(t *testing.T) {
	var cur, peak atomic.Int32
	// Requests wait until two are in at once, so the test shows that the
	// bound is reached and not only that it is not passed.
	two := make(chan struct{})
	var once sync.Once
	giveUp := make(chan struct{}) // so that a transport that allows one fails the test below rather than hangs
	stop := time.AfterFunc(10*time.Second, func() { close(giveUp) })
	defer stop.Stop()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n >= 2 {
			once.Do(func() { close(two) })
		}
		select {
		case <-two:
		case <-giveUp:
		}
		// Load shaping, not a wait for an assertion: requests that stay a
		// moment give a transport that let a third one in the chance to
		// show it.
		time.Sleep(5 * time.Millisecond)
		cur.Add(-1)
		io.WriteString(w, "ok")
	})
	c := &http.Client{Transport: newLeanTransport(2, 2), Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { leanGet(t, c, srv.URL+"/") })
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d requests at once with maxConns 2, want 2", p)
	}
}
