// Package webhookhttp sends boxoffice's webhook messages over HTTP: a
// boxoffice.WebhookPoster with a keep-alive client that follows no
// redirect and, unless told otherwise, connects to public addresses only.
package webhookhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"boxoffice"
)

// Options configure a Poster.
type Options struct {
	// AllowPrivate lets the poster connect to loopback, private and
	// link-local addresses (tests and local development). Otherwise a
	// connection to such an address is refused whatever name resolved to
	// it, so an endpoint cannot reach the platform's own network.
	AllowPrivate bool
	// Conns is how many connections per host are kept alive (default 64).
	Conns int
}

// Poster POSTs webhook messages. It is safe for concurrent use.
type Poster struct {
	client *http.Client
}

var _ boxoffice.WebhookPoster = (*Poster)(nil)

// errPrivate is the refusal of a connection to a private address.
var errPrivate = errors.New("the endpoint's address is private, loopback or link-local")

// New returns a Poster.
func New(opt Options) *Poster {
	if opt.Conns <= 0 {
		opt.Conns = 64
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !opt.AllowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !boxoffice.PublicIP(ip) {
				return errPrivate
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4 * opt.Conns,
		MaxIdleConnsPerHost: opt.Conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Poster{client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post sends body to url with the headers and returns the answer's status.
// The answer's body is read (up to 64 KiB) and dropped, so the connection
// is kept for the next message.
func (p *Poster) Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("the endpoint's URL cannot be requested: %v", err)
	}
	for k, v := range headers {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, errPrivate) {
			return 0, errPrivate
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, context.DeadlineExceeded
		}
		return 0, fmt.Errorf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// CloseIdle closes the connections kept alive.
func (p *Poster) CloseIdle() { p.client.CloseIdleConnections() }
