// Package httpapi is boxoffice's HTTP interface: the route table, the
// middleware (request IDs, panic recovery, access logs), request decoding,
// authentication, and the one mapping from domain errors to RFC 9457 problem
// details. Handlers decode a request, call the boxoffice.Service and encode
// its answer; they hold no business rules.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"boxoffice"
)

// Config wires the HTTP interface.
type Config struct {
	// Service does the work behind every endpoint; each handler uses the
	// aggregate it needs (accounts, catalogue, reservations).
	Service *boxoffice.Service
	// Cache keeps encoded event pages (GET /events, GET /events/{id}) for
	// up to a second, shared by every instance when it is Redis. Nil
	// caches nothing.
	Cache boxoffice.Cache
	// Tokens issues and verifies access tokens.
	Tokens Tokens
	// Queue serves the waiting-room endpoints and the sales view's queue
	// counts. When nil, the waiting-room endpoints answer 503.
	Queue *boxoffice.WaitingRoom
	// Logger receives one line per request and every internal error. Nil
	// discards them.
	Logger *slog.Logger
	// Ready reports whether the dependencies answer; nil means always
	// ready. GET /readyz answers 503 when it returns an error.
	Ready func(ctx context.Context) error
	// Draining, when set to true, makes GET /readyz answer 503 at once so
	// load balancers stop sending traffic before shutdown.
	Draining *atomic.Bool
	// ReadyNote is what GET /readyz says about the payment provider.
	ReadyNote string
	// Observer, when not nil, is told about every request (for metrics).
	Observer Observer
	// RequestTimeout, when positive, bounds the work of every request but
	// the waiting-room stream: a request that cannot be served in time
	// (the database saturated, say) is answered 503 unavailable with
	// Retry-After rather than left to hang past the client's patience.
	RequestTimeout time.Duration
	// TrustedProxies are the proxies (load balancers) whose
	// X-Forwarded-For is believed when they connect: the client's address,
	// which rate limits count by, is then the right-most entry that is not
	// one of them. Empty: the connection's peer is the client.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the origins of other sites' front ends allowed to
	// call the API from a browser (exact origins like
	// https://shop.example.com, which may send cookies; "*" for any origin,
	// without cookies). Empty: none.
	CORSOrigins []string
}

// Observer receives a measurement of every request. internal/metrics
// implements it.
type Observer interface {
	// RequestBegin is called when a request arrives; RequestEnd follows
	// once it is answered.
	RequestBegin()
	// RequestEnd is called with the request's method, the route pattern it
	// matched ("METHOD /path/{wildcard}", or "unmatched"; never the raw
	// path), the status, the problem code ("" for a success) and how long
	// the answer took.
	RequestEnd(method, route string, status int, problem string, d time.Duration)
}

// Tokens issues and verifies access tokens. internal/auth.Tokens satisfies it.
type Tokens interface {
	// Issue returns a signed access token for u and how long it is valid.
	Issue(u *boxoffice.User) (token string, expiresIn time.Duration, err error)
	// Verify returns the caller a token was issued to. It returns
	// boxoffice.ErrUnauthenticated for a malformed or tampered token and
	// boxoffice.ErrTokenExpired for an expired one.
	Verify(token string) (boxoffice.Caller, error)
}

// readyTimeout bounds how long GET /readyz waits for Config.Ready.
const readyTimeout = 2 * time.Second

// server holds the dependencies of the handlers.
type server struct {
	accounts     *boxoffice.Accounts
	catalogue    *boxoffice.Catalogue
	reservations *boxoffice.Reservations
	orders       *boxoffice.Orders
	tickets      *boxoffice.Tickets
	webhooks     *boxoffice.Webhooks
	organizers   *boxoffice.Organizers
	audit        *boxoffice.Audit
	cache        boxoffice.Cache
	tokens       Tokens
	queue        *boxoffice.WaitingRoom
	log          *slog.Logger
	ready        func(ctx context.Context) error
	draining     *atomic.Bool
	readyNote    string
	obs          Observer
	timeout      time.Duration
	proxies      []netip.Prefix
	mux          *http.ServeMux
}

// New returns the HTTP handler of the whole API described by api/openapi.json
// (explained in docs/api.md).
func New(cfg Config) http.Handler {
	s := &server{
		tokens:   cfg.Tokens,
		cache:    cfg.Cache,
		queue:    cfg.Queue,
		log:      cfg.Logger,
		ready:    cfg.Ready,
		draining: cfg.Draining, readyNote: cfg.ReadyNote,
		obs:     cfg.Observer,
		timeout: cfg.RequestTimeout,
		proxies: cfg.TrustedProxies,
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Service != nil {
		s.accounts, s.catalogue, s.reservations = cfg.Service.Accounts, cfg.Service.Catalogue, cfg.Service.Reservations
		s.orders, s.tickets = cfg.Service.Orders, cfg.Service.Tickets
		s.webhooks, s.organizers, s.audit = cfg.Service.Webhooks, cfg.Service.Organizers, cfg.Service.Audit
	}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	// The catch-all turns what would be the ServeMux's plain-text 404 and
	// 405 answers into problem details.
	s.mux.HandleFunc(catchAllPattern, s.handleUnmatched)
	return s.middleware(cors(cfg.CORSOrigins, s.mux))
}
