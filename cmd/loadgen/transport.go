package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// leanTransport is the generator's HTTP/1.1 client transport, built to cost
// the generator as little CPU per request as it can: a connection carries
// one request at a time, the request goes out in one write, and no
// goroutine runs per connection (net/http's Transport keeps a reader and a
// writer goroutine on every connection and hands each request and response
// between them, which on this workload doubled the generator's cost). It
// speaks plain HTTP/1.1 with keep-alive, to the loopback targets of a run;
// responses are parsed by net/http (http.ReadResponse), so chunked bodies
// and streams (server-sent events) work as usual.
type leanTransport struct {
	maxConns int // per host; 0 = no limit
	maxIdle  int // idle connections kept per host
	dialer   net.Dialer

	mu    sync.Mutex
	hosts map[string]*leanHost
}

// newLeanTransport returns a transport keeping at most maxConns connections
// per host (0: no limit; requests beyond wait for a free one), of which at
// most maxIdle wait idle.
func newLeanTransport(maxConns, maxIdle int) *leanTransport {
	if maxConns > 0 {
		maxIdle = maxConns
	}
	return &leanTransport{
		maxConns: maxConns,
		maxIdle:  max(maxIdle, 1),
		dialer:   net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		hosts:    make(map[string]*leanHost),
	}
}

// leanHost is the connection pool of one host.
type leanHost struct {
	addr  string
	idle  chan *leanConn
	slots chan struct{} // one token per open connection; nil = no limit
}

type leanConn struct {
	net.Conn
	br   *bufio.Reader
	wbuf []byte // the request as written
	body []byte // its body, read from the request first
	host *leanHost
}

// aLongTimeAgo is a deadline in the past: it wakes any blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

func (t *leanTransport) host(addr string) *leanHost {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[addr]
	if h == nil {
		h = &leanHost{addr: addr, idle: make(chan *leanConn, t.maxIdle)}
		if t.maxConns > 0 {
			h.slots = make(chan struct{}, t.maxConns)
		}
		t.hosts[addr] = h
	}
	return h
}

// RoundTrip sends req and returns the response; its body must be read to
// the end or closed. A request that fails on a reused connection before
// any answer arrived (the server had closed it while idle) is sent once
// more on a new one.
func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("loadgen: %s: only http:// targets are supported", req.URL.Scheme)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	h := t.host(addr)
	ctx := req.Context()
	c, reused, err := t.get(ctx, h)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	b, body, err := appendRequest(c.wbuf[:0], c.body, req)
	c.wbuf, c.body = b, body
	if err != nil {
		c.put()
		return nil, err
	}
	resp, err := c.exchange(req, b)
	if err == nil || !reused || ctx.Err() != nil || !staleConnErr(err) {
		if err != nil {
			c.discard()
		}
		return resp, err
	}
	// The server had closed the idle connection: nothing was answered, so
	// the same bytes go once more on a new connection.
	c.discard()
	if c, _, err = t.get(ctx, h); err != nil {
		return nil, err
	}
	c.wbuf = append(c.wbuf[:0], b...)
	resp, err = c.exchange(req, c.wbuf)
	if err != nil {
		c.discard()
	}
	return resp, err
}

// staleConnErr reports whether err is what a connection the server closed
// while it was idle gives.
func staleConnErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// get returns an idle connection to h, or a new one when h has room, else
// waits for one to come back.
func (t *leanTransport) get(ctx context.Context, h *leanHost) (c *leanConn, reused bool, err error) {
	select {
	case c := <-h.idle:
		return c, true, nil
	default:
	}
	if h.slots == nil {
		c, err := t.dial(ctx, h)
		return c, false, err
	}
	select {
	case c := <-h.idle:
		return c, true, nil
	case h.slots <- struct{}{}:
		c, err := t.dial(ctx, h)
		if err != nil {
			<-h.slots
		}
		return c, false, err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (t *leanTransport) dial(ctx context.Context, h *leanHost) (*leanConn, error) {
	// As in exchange: cancelled when ctx reports its end, not by its
	// deadline directly.
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	nc, err := t.dialer.DialContext(dctx, "tcp", h.addr)
	stop()
	cancel()
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return &leanConn{Conn: nc, br: bufio.NewReaderSize(nc, 8<<10), wbuf: make([]byte, 0, 1024), body: make([]byte, 0, 256), host: h}, nil
}

// put returns a connection whose last answer was read to the end.
func (c *leanConn) put() {
	select {
	case c.host.idle <- c:
	default:
		c.discard()
	}
}

// discard closes the connection and frees its slot.
func (c *leanConn) discard() {
	c.Conn.Close()
	if c.host.slots != nil {
		<-c.host.slots
	}
}

// exchange writes the request wire (req in wire form) and reads the
// response head.
func (c *leanConn) exchange(req *http.Request, wire []byte) (*http.Response, error) {
	ctx := req.Context()
	// The context's end (the client's timeout, the run's end) wakes any
	// blocked read or write on the connection.
	// Not the context's deadline itself: the poller would fire it a
	// moment before the context reports its end, and the error would
	// look like a failure rather than the end of the run.
	c.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo) })
	if _, err := c.Write(wire); err != nil {
		stop()
		return nil, ctxErr(ctx, err)
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		stop()
		return nil, ctxErr(ctx, err)
	}
	resp.Body = &leanBody{ReadCloser: resp.Body, c: c, stop: stop, reuse: !resp.Close}
	return resp, nil
}

// ctxErr returns ctx's error when ctx has ended (the I/O error is then only
// its consequence), else err.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// appendRequest appends req in HTTP/1.1 wire form, body included (read
// into scratch first, which it returns for reuse).
func appendRequest(b, scratch []byte, req *http.Request) ([]byte, []byte, error) {
	body := scratch[:0]
	if req.Body != nil {
		defer req.Body.Close()
		for {
			if len(body) == cap(body) {
				body = append(body, 0)[:len(body)]
			}
			n, err := req.Body.Read(body[len(body):cap(body)])
			body = body[:len(body)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return b, body, err
			}
		}
		if req.ContentLength > 0 && int64(len(body)) != req.ContentLength {
			return b, body, fmt.Errorf("loadgen: request body has %d bytes, ContentLength says %d", len(body), req.ContentLength)
		}
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: boxoffice-loadgen\r\n"...)
	for k, vs := range req.Header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if len(body) > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...), body, nil
}

// leanBody hands the connection back once the body has been read to its
// end, or closes it when the body is abandoned.
type leanBody struct {
	io.ReadCloser
	c     *leanConn
	stop  func() bool
	reuse bool
	done  bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *leanBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish releases the connection: back to the pool when the answer was read
// completely, the context did not end meanwhile and the server keeps it
// alive; closed otherwise.
func (b *leanBody) finish(complete bool) {
	b.done = true
	if b.stop() && complete && b.reuse {
		b.c.put()
		return
	}
	b.c.discard()
}

// CloseIdleConnections closes the connections waiting in the pools.
func (t *leanTransport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range t.hosts {
		for drained := false; !drained; {
			select {
			case c := <-h.idle:
				c.discard()
			default:
				drained = true
			}
		}
	}
}
