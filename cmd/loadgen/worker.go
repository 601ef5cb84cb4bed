package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"
)

// maxBody is how much of a response body is kept; the rest is discarded.
const maxBody = 1 << 20

// Env is what a run shares with its scenario: configuration, the HTTP
// client, tokens and the recorder.
type Env struct {
	Cfg    *config
	Client *http.Client
	Rec    *Recorder
	// Auth holds the Authorization header value of seeded user i at index
	// i, as a ready-made header slice (shared read-only by all requests).
	Auth [][]string
	// AdminAuth is the admin's Authorization header, or nil.
	AdminAuth []string
	// RunID makes this run's Idempotency-Keys unique across runs.
	RunID string
	// Logf prints a line to stderr.
	Logf func(format string, args ...any)
}

// newHTTPClient returns the client all workers share: the lean HTTP/1.1
// transport (keep-alive, one write per request, no goroutines per
// connection) with an idle pool big enough that no worker has to dial anew.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{Transport: newLeanTransport(0, conns+16), Timeout: timeout}
}

// Worker is one goroutine of the pool with its own random source and
// buffers, so the hot path shares nothing but atomic counters.
type Worker struct {
	ID  int
	Env *Env
	Rng *rand.Rand
	// Header is the header of the answer the last Send got (nil when it
	// got none); valid until the next Send.
	Header http.Header
	// Err is the transport error of the last Send (nil when it got an
	// answer or the run ended); valid until the next Send.
	Err error

	base   *http.Request // carries the run's context; copied for each request
	body   bytes.Reader
	bodyRC io.ReadCloser // io.NopCloser(&body), made once
	buf    bytes.Buffer
	keyBuf []byte
	seq    uint64
	next   int // the next target's index, round-robin (mod the number of targets)
}

// newWorker returns worker id bound to ctx.
func newWorker(ctx context.Context, id int, env *Env) *Worker {
	base, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost/", nil)
	return &Worker{
		ID: id, Env: env, base: base, next: id,
		Rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id)<<32|uint64(os.Getpid()))),
	}
}

// Target returns the index of the next target, round-robin. Worker id
// starts at target id mod n, so that workers which pick a target once
// (an on-sale buyer keeps one for its journey) spread evenly too.
func (w *Worker) Target() int {
	n := len(w.Env.Cfg.Targets)
	t := w.next % n
	w.next = t + 1
	return t
}

// Request builds a request without parsing a URL or allocating a body:
// u is shared read-only, body is served from the worker's reusable reader.
// Headers are set by the caller with canonical keys.
func (w *Worker) Request(method string, u *url.URL, body []byte) *http.Request {
	r := new(http.Request)
	*r = *w.base
	r.Method = method
	r.URL = u
	r.Host = u.Host
	r.Header = make(http.Header, 4)
	if body != nil {
		w.body.Reset(body)
		if w.bodyRC == nil {
			// io.NopCloser around a *bytes.Reader is a body net/http
			// knows to be in memory: it writes the headers and the body
			// with one write, where any other reader costs a flush of
			// the headers first (a second syscall per request).
			w.bodyRC = io.NopCloser(&w.body)
		}
		r.Body = w.bodyRC
		r.ContentLength = int64(len(body))
		r.Header["Content-Type"] = contentTypeJSON
	}
	return r
}

// contentTypeJSON is the shared Content-Type header value.
var contentTypeJSON = []string{"application/json"}

// IdempotencyKey returns a key unique to this run, worker and request.
func (w *Worker) IdempotencyKey() []string {
	w.seq++
	b := append(w.keyBuf[:0], w.Env.RunID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(w.ID), 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, w.seq, 36)
	w.keyBuf = b
	return []string{string(b)}
}

// Send performs req, records the answer under op and returns its status
// and body. The body is valid until the worker's next Send. status 0 means
// no answer: a transport error (recorded as unexpected) or the end of the
// run (recorded as aborted).
func (w *Worker) Send(op string, req *http.Request) (status int, body []byte) {
	return w.SendAs(op, req, nil)
}

// SendAs is Send with the answer's outcome code chosen by outcome (called
// with every answer's status and body) instead of the problem code of a
// 4xx or 5xx: for a scenario whose 200s differ in what they say (a scan's
// result). A nil outcome is Send.
func (w *Worker) SendAs(op string, req *http.Request, outcome func(status int, body []byte) string) (status int, body []byte) {
	rec := w.Env.Rec
	rec.inflight.Add(1)
	defer rec.inflight.Add(-1)
	start := time.Now()
	w.Header, w.Err = nil, nil
	resp, err := w.Env.Client.Do(req)
	if err == nil {
		w.Header = resp.Header
		w.buf.Reset()
		_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
		if err == nil && w.buf.Len() >= maxBody {
			_, _ = io.Copy(io.Discard, resp.Body) // so the connection can be reused
		}
		resp.Body.Close()
	}
	d := time.Since(start)
	if err != nil {
		if req.Context().Err() != nil {
			rec.Abort()
			return 0, nil
		}
		w.Err = err
		rec.Record(op, 0, errorKind(err), 0, []byte(err.Error()))
		return 0, nil
	}
	body = w.buf.Bytes()
	code := ""
	switch {
	case outcome != nil:
		code = outcome(resp.StatusCode, body)
	case resp.StatusCode >= 400:
		code = problemCode(body)
	}
	rec.Record(op, resp.StatusCode, code, d, body)
	return resp.StatusCode, body
}

// errorKind names a transport error for the outcome table.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "transport:connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "transport:connection_reset"
	case errors.Is(err, syscall.EPIPE):
		return "transport:broken_pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "transport:no_local_ports"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "transport:eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "transport:timeout"
	default:
		return "transport:other"
	}
}

// problemCode returns the code of a problem-details body, "-" when there
// is none.
func problemCode(body []byte) string {
	if c := jsonStringField(body, "code"); c != "" {
		return c
	}
	return "-"
}

// jsonStringField finds the first "key": "value" pair in a JSON document
// by scanning, without decoding it, and returns value; "" when the key is
// missing, its value is not a string, or the string has escapes (none of
// the values looked up this way — ids, codes, tokens, cursors — do). It
// takes the first occurrence at any depth, so use it only for keys that
// appear once.
func jsonStringField(body []byte, key string) string {
	pat := make([]byte, 0, len(key)+2)
	pat = append(append(append(pat, '"'), key...), '"')
	for from := 0; ; {
		i := bytes.Index(body[from:], pat)
		if i < 0 {
			return ""
		}
		j := from + i + len(pat)
		from = j
		j = skipSpace(body, j)
		if j >= len(body) || body[j] != ':' {
			continue // the key's text appeared as a value
		}
		j = skipSpace(body, j+1)
		if j >= len(body) || body[j] != '"' {
			return ""
		}
		j++
		end := bytes.IndexByte(body[j:], '"')
		if end < 0 {
			return ""
		}
		v := body[j : j+end]
		if bytes.IndexByte(v, '\\') >= 0 {
			return ""
		}
		return string(v)
	}
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}
