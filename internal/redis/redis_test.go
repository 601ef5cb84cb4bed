package redis

import (
	"context"
	"crypto/rand"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// testURL returns the Redis of BOXOFFICE_TEST_REDIS_URL or skips the test.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if u == "" {
		t.Skip("BOXOFFICE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0); skipping Redis tests")
	}
	return u
}

// openTest opens a Client on url with opts and closes it when t ends.
func openTest(t testing.TB, rawURL string, opts ...Option) *Client {
	t.Helper()
	c, err := Open(t.Context(), rawURL, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually polls cond until it holds. Its timeout only keeps a broken
// test from hanging; it is no timing assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deadlineClient is a rueidis.Client that records, for each command, how
// long its context had left when it was sent (noDeadline without one).
// It gives every command at most 10 s, so that a command sent without a
// deadline to a dead server fails the test instead of hanging it.
type deadlineClient struct {
	rueidis.Client
	mu   sync.Mutex
	left []time.Duration
}

const noDeadline time.Duration = math.MaxInt64

func (d *deadlineClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	left := noDeadline
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.mu.Lock()
	d.left = append(d.left, left)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.Client.Do(ctx, cmd)
}

// testCache returns a Cache on c under a prefix of its own, so tests that
// share a Redis do not see each other's keys. When t ends it deletes the
// keys through cleanup, a client whose server stays up.
func testCache(t *testing.T, c, cleanup *Client) *Cache {
	t.Helper()
	cache := &Cache{raw: c.raw, prefix: cachePrefix + "test:" + rand.Text() + ":", timeout: c.cache.timeout}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		raw := cleanup.raw
		keys, err := raw.Do(ctx, raw.B().Keys().Pattern(cache.prefix+"*").Build()).AsStrSlice()
		if err == nil && len(keys) > 0 {
			raw.Do(ctx, raw.B().Del().Key(keys...).Build())
		}
	})
	return cache
}

func TestOpenAndPing(t *testing.T) {
	c := openTest(t, testURL(t))
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if c.Raw() == nil {
		t.Fatal("Raw returned nil")
	}
	if first, second := c.Cache(), c.Cache(); first != second {
		t.Error("Cache returns a different Cache each call")
	}
}

func TestOpenFails(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	tests := []struct {
		name string
		url  string
	}{
		{"closed port", "redis://" + addr + "/0"},
		{"bad scheme", "http://" + addr + "/0"},
		{"bad db", "redis://" + addr + "/notanumber"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(t.Context(), tt.url, WithTimeout(time.Second))
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestOpenUnresponsiveServer(t *testing.T) {
	// A server that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			// The client gives up and closes the connection, which ends
			// the copy.
			wg.Go(func() {
				_, _ = io.Copy(io.Discard, conn)
				conn.Close()
			})
		}
	})
	c, err := Open(t.Context(), "redis://"+l.Addr().String()+"/0", WithTimeout(200*time.Millisecond))
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded on a server that never answers")
	}
}

func TestCacheGetSetDelete(t *testing.T) {
	c := openTest(t, testURL(t))
	cache := testCache(t, c, c)
	ctx := t.Context()

	if v, ok := cache.Get(ctx, "a"); ok {
		t.Fatalf("Get of a missing key = %q, true", v)
	}
	binary := []byte{0, 1, 2, 0xff, '\r', '\n'}
	cache.Set(ctx, "a", []byte("one"), time.Minute)
	cache.Set(ctx, "bin", binary, time.Minute)
	cache.Set(ctx, "empty", nil, time.Minute)
	cache.Set(ctx, "a", []byte("uno"), time.Minute)

	for key, want := range map[string]string{"a": "uno", "bin": string(binary), "empty": ""} {
		got, ok := cache.Get(ctx, key)
		if !ok || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q, true", key, got, ok, want)
		}
	}
	cache.Delete(ctx, "a", "missing", "empty")
	cache.Delete(ctx)
	for key, want := range map[string]bool{"a": false, "bin": true, "empty": false} {
		if _, ok := cache.Get(ctx, key); ok != want {
			t.Errorf("after Delete, Get(%q) found = %v, want %v", key, ok, want)
		}
	}
	cache.Set(ctx, "bin", []byte("x"), 0)
	if _, ok := cache.Get(ctx, "bin"); ok {
		t.Error("Set with ttl 0 left the key")
	}
	if n := cache.Errors(); n != 0 {
		t.Errorf("Errors = %d, want 0", n)
	}
}

func TestCacheKeysAndTTL(t *testing.T) {
	c := openTest(t, testURL(t))
	ctx := t.Context()
	key := "ttl-test:" + rand.Text()
	cache := c.Cache()
	cache.Set(ctx, key, []byte("v"), 1500*time.Microsecond)
	t.Cleanup(func() { cache.Delete(context.Background(), key) })

	// The key lives under the documented prefix, with the ttl rounded up
	// to whole milliseconds.
	pttl, err := c.raw.Do(ctx, c.raw.B().Pttl().Key("bo:cache:"+key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	if pttl == -1 || pttl > 2 {
		t.Errorf("PTTL = %d ms, want at most 2 (or gone)", pttl)
	}

	cache.Set(ctx, key, []byte("v"), 50*time.Millisecond)
	eventually(t, "the key to expire", func() bool {
		_, ok := cache.Get(ctx, key)
		return !ok
	})
}

// TestCacheServerVanishes puts a proxy between the client and Redis, then
// cuts it off in the two ways a server can vanish: it stops answering, or
// it refuses connections. Either way the cache answers misses, counts
// errors, and returns within its timeout rather than rueidis's defaults:
// every command it sends carries a deadline at most its timeout away. That
// is checked on the deadlines rather than by timing the calls, which a
// loaded machine stretches.
func TestCacheServerVanishes(t *testing.T) {
	for _, mode := range []string{"unresponsive", "refusing"} {
		t.Run(mode, func(t *testing.T) {
			direct := openTest(t, testURL(t))
			p := startProxy(t, testURL(t))
			const timeout = 200 * time.Millisecond
			c := openTest(t, p.url, WithTimeout(timeout))
			cache := testCache(t, c, direct)
			rec := &deadlineClient{Client: cache.raw}
			cache.raw = rec
			ctx := t.Context()
			cache.Set(ctx, "k", []byte("v"), time.Minute)
			if _, ok := cache.Get(ctx, "k"); !ok {
				t.Fatal("Get through the proxy missed")
			}

			if mode == "unresponsive" {
				p.freeze()
			} else {
				p.close()
			}
			for i := range 3 {
				if v, ok := cache.Get(ctx, "k"); ok {
					t.Fatalf("Get #%d after the server vanished = %q, true", i, v)
				}
				cache.Set(ctx, "k2", []byte("v"), time.Minute)
				cache.Delete(ctx, "k")
			}
			if n := cache.Errors(); n < 3 {
				t.Errorf("Errors = %d, want at least 3", n)
			}
			rec.mu.Lock()
			if len(rec.left) != 2+3*3 {
				t.Errorf("%d commands sent, want %d", len(rec.left), 2+3*3)
			}
			for i, left := range rec.left {
				switch {
				case left == noDeadline:
					t.Errorf("command %d sent without a deadline, want one at most %v away", i, timeout)
				case left > timeout:
					t.Errorf("command %d sent with %v left before its deadline, want at most %v", i, left, timeout)
				}
			}
			rec.mu.Unlock()
			if err := c.Ping(ctx); err == nil {
				t.Error("Ping succeeded after the server vanished")
			}
		})
	}
}

func TestCacheCallerGaveUp(t *testing.T) {
	c := openTest(t, testURL(t))
	cache := testCache(t, c, c)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok := cache.Get(ctx, "k"); ok {
		t.Error("Get with an ended context hit")
	}
	cache.Set(ctx, "k", []byte("v"), time.Minute)
	if n := cache.Errors(); n != 0 {
		t.Errorf("Errors = %d after calls whose context ended, want 0", n)
	}
}

func BenchmarkCacheGet(b *testing.B) {
	u := os.Getenv("BOXOFFICE_TEST_REDIS_URL")
	if u == "" {
		b.Skip("BOXOFFICE_TEST_REDIS_URL is not set")
	}
	c, err := Open(b.Context(), u)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cache := c.Cache()
	key := "bench:" + rand.Text()
	cache.Set(b.Context(), key, make([]byte, 2048), time.Minute)
	defer cache.Delete(context.Background(), key)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := cache.Get(context.Background(), key); !ok {
				b.Fatal("miss")
			}
		}
	})
	if n := cache.Errors(); n != 0 {
		b.Fatalf("Errors = %d", n)
	}
}

// proxy forwards TCP connections to a Redis server until cut off.
type proxy struct {
	url      string
	listener net.Listener
	upstream string

	mu     sync.Mutex
	frozen bool
	closed bool
	conns  []net.Conn // both sides of every connection
}

// startProxy starts a proxy to the Redis at redisURL. Its url is redisURL
// with the proxy's address.
func startProxy(t *testing.T, redisURL string) *proxy {
	t.Helper()
	opt, err := rueidis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = l.Addr().String()
	p := &proxy{url: u.String(), listener: l, upstream: opt.InitAddress[0]}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		frozen, closed := p.frozen, p.closed
		p.conns = append(p.conns, client)
		p.mu.Unlock()
		if closed {
			client.Close()
			return
		}
		if frozen {
			go func() { _, _ = io.Copy(io.Discard, client) }()
			continue
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, server)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(client, server) }()
		go func() {
			_, _ = io.Copy(server, client)
			// Frozen (or closed): swallow whatever the client still sends.
			_, _ = io.Copy(io.Discard, client)
		}()
	}
}

// freeze makes the server unresponsive: connections stay open, but nothing
// reaches Redis and nothing comes back.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
	for _, c := range p.conns {
		if c.RemoteAddr().String() == p.upstream {
			c.Close()
		}
	}
}

// close makes the server vanish: every connection is closed and new ones
// are refused.
func (p *proxy) close() {
	p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
}
