package boxoffice

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store  Store
	Hasher PasswordHasher
	// Limits enforces the rate limits of sign-up, sign-in and holds; nil
	// limits nothing. Give the WaitingRoom the same one.
	Limits *Limiter
	// Provider is the payment provider of orders. When nil, every payment
	// answers ErrUnavailable: there is no built-in provider. A simulated
	// provider (one whose Simulated method says so: the test provider)
	// also pays v1 reservations; under a real one they are refused
	// (ErrInvalidState) and tickets are paid for through orders.
	Provider PaymentProvider
	// Payments charges v1 reservations; nil = through Provider. Tests set
	// it to watch the charges.
	Payments Payments
	// Admissions checks waiting-room admissions for holds on events with a
	// waiting room (a *WaitingRoom). When nil, nobody is admitted.
	Admissions Admissions
	// Mailer delivers the outbox's mail (verification codes, password
	// resets). When nil, mail is written to the outbox and dropped.
	Mailer Mailer
	// Outbox tunes the mail sender.
	Outbox OutboxConfig
	// Webhooks sends the organizers' webhooks (WebhookConfig.Poster) and
	// tunes the deliverer.
	Webhooks WebhookConfig
	// AllowInsecureWebhooks accepts webhook endpoints at http://localhost
	// (and loopback addresses) and at private addresses: tests and local
	// development only. Otherwise endpoints must be https URLs of public
	// hosts.
	AllowInsecureWebhooks bool
	// PublicURL is the address of the site the mailed links point to
	// (https://tickets.example.com).
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil). Tests set it to control time.
	Now func() time.Time
	// MaxBatch caps how many hold requests for one tier are decided in one
	// transaction (default 256).
	MaxBatch int
	// ParallelBatches is how many batches per tier may be in flight at
	// once in this process (default 1).
	ParallelBatches int
	// SweepInterval is how often expired holds are released (default 1 s).
	SweepInterval time.Duration
	// RequestTimeout is the time budget of a request (0 = none). A hold
	// answers within it, and a batch of holds that cannot commit within it
	// is abandoned: it would only grant holds nobody waits for.
	RequestTimeout time.Duration
	// SweepTimeout bounds each database call of the hold sweeper (default
	// DefaultSweepTimeout): a call the database does not answer in time
	// fails that pass, and the next pass starts on schedule.
	SweepTimeout time.Duration
	// AccessTokenTTL is how long an access token lives (default
	// DefaultAccessTokenTTL): how long a change of a user's standing must
	// be remembered, and how long polls of it may fail before every token
	// is checked against the store.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token lives (default
	// DefaultRefreshTTL).
	RefreshTokenTTL time.Duration
	// DeviceKey signs the device tokens of sign-ins (see Accounts.SignIn);
	// every instance must share it. When empty, a random key is used:
	// device tokens then work on this instance until it stops.
	DeviceKey []byte
	// DeviceTokenTTL is how long a device token works (default
	// DefaultDeviceTokenTTL).
	DeviceTokenTTL time.Duration
	// StandingPollInterval is how often the users changed on any instance
	// are read (default StandingPollInterval).
	StandingPollInterval time.Duration
	// OpenOrganizers lets every user with a verified email create
	// organizers (BOXOFFICE_OPEN_ORGANIZERS); when false only platform
	// admins may.
	OpenOrganizers bool
	// OnSweep, when set, is called after each pass of the hold sweeper
	// (for metrics: a sweeper that stops finishing passes leaves tickets
	// off sale).
	OnSweep func(SweepPass)
	// ExportPageSize is how many attendees an export reads from the store
	// at a time (default ExportPageSize).
	ExportPageSize int
}

// DefaultSweepTimeout is ServiceConfig.SweepTimeout's default. A batch of
// expiries takes milliseconds; this leaves room for lock waits under an
// on-sale's load while keeping a stuck call from holding tickets for long.
const DefaultSweepTimeout = 5 * time.Second

// DefaultAccessTokenTTL is ServiceConfig.AccessTokenTTL's default.
const DefaultAccessTokenTTL = 15 * time.Minute

// SweepPass reports one pass of the hold sweeper to ServiceConfig.OnSweep.
type SweepPass struct {
	// Interval is the time between the starts of passes.
	Interval time.Duration
	// Err is why the pass stopped short (some expired holds may not have
	// been released); nil when it finished.
	Err error
}

// Service is boxoffice's rules on top of a Store, one aggregate each:
// Accounts, Catalogue and Reservations (the waiting room is WaitingRoom).
// Each HTTP handler depends on the aggregate it uses; Service wires them
// together and is safe for concurrent use. Run must be running for holds to
// expire.
type Service struct {
	*Accounts
	*Catalogue
	*Reservations
	Orders  *Orders
	Tickets *Tickets
	// Webhooks is the organizers' outgoing webhooks.
	Webhooks *Webhooks
	// Access decides what callers may do to an organizer's things.
	Access *Access
	// Organizers is organizers, their teams and API keys.
	Organizers *Organizers
	// Audit is the organizers' audit logs.
	Audit  *Audit
	store  Store
	outbox *Outbox
}

// eventRulesTTL bounds how stale the hold path's copy of an event's rules
// (sales window, limits, tiers and prices) may be.
const eventRulesTTL = time.Second

// NewService returns a Service.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.SweepTimeout <= 0 {
		cfg.SweepTimeout = DefaultSweepTimeout
	}
	if sim, ok := cfg.Provider.(interface{ Simulated() bool }); cfg.Payments == nil && ok && sim.Simulated() {
		cfg.Payments = providerCharges{cfg.Provider}
	}
	if cfg.Payments == nil && cfg.Provider != nil {
		cfg.Payments = ordersOnly{}
	}
	if cfg.Payments == nil {
		cfg.Payments = noPayments{}
	}
	if cfg.Mailer == nil {
		cfg.Mailer = discardMailer{}
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL <= 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTTL
	}
	if cfg.StandingPollInterval <= 0 {
		cfg.StandingPollInterval = StandingPollInterval
	}
	events := &eventCache{entries: make(map[string]eventEntry)}
	outbox := newOutbox(cfg.Store, cfg.Mailer, cfg.Logger, cfg.Now, cfg.Outbox)
	inflight := &inflightKeys{}
	keys := &keyCache{}
	staff := &staffCache{}
	access := newAccess(cfg.Store, events, staff)
	hooks := newWebhooks(cfg.Store, access, events, cfg.Logger, cfg.Now, cfg.Webhooks, cfg.AllowInsecureWebhooks)
	audit := &Audit{store: cfg.Store, access: access, log: cfg.Logger, now: cfg.Now}
	hooks.audit = audit
	return &Service{
		Audit:      audit,
		Access:     access,
		Webhooks:   hooks,
		Organizers: &Organizers{store: cfg.Store, now: cfg.Now, access: access, open: cfg.OpenOrganizers, audit: audit},
		Tickets: &Tickets{
			store: cfg.Store, log: cfg.Logger, now: cfg.Now, events: events, keys: keys, access: access,
			staff: staff, gates: &gateCache{}, publicURL: cfg.PublicURL, hooks: hooks, audit: audit,
			exportPage: cmp.Or(cfg.ExportPageSize, ExportPageSize),
			engine:     newCheckinEngine(cfg.Store, cfg.MaxBatch, cfg.ParallelBatches, cfg.RequestTimeout),
		},
		Orders: &Orders{
			store: cfg.Store, provider: cfg.Provider, admissions: cfg.Admissions, log: cfg.Logger, now: cfg.Now,
			events: events, access: access, keys: keys, limits: cfg.Limits, inflight: inflight, outbox: outbox, publicURL: cfg.PublicURL,
			hooks: hooks, audit: audit,
			engine:  newOrderEngine(cfg.Store, cfg.MaxBatch, cfg.ParallelBatches, cfg.RequestTimeout),
			settler: newSettleEngine(cfg.Store, cfg.MaxBatch, cfg.ParallelBatches, cfg.RequestTimeout),
			parties: newPartyReader(cfg.Store, cfg.MaxBatch, cfg.ParallelBatches, cfg.RequestTimeout),
			sweep:   cfg.SweepInterval, timeout: cfg.SweepTimeout, refundsDue: make(chan struct{}, 1),
			cancelsDue: make(chan struct{}, 1),
		},
		store:  cfg.Store,
		outbox: outbox,
		Accounts: &Accounts{store: cfg.Store, hasher: cfg.Hasher, limits: cfg.Limits, log: cfg.Logger, now: cfg.Now,
			outbox: outbox, publicURL: cfg.PublicURL, refreshTTL: cfg.RefreshTokenTTL,
			devices:   newDeviceSigner(cfg.DeviceKey, cfg.DeviceTokenTTL),
			standings: newStandings(cfg.Store, cfg.Logger, cfg.Now, cfg.AccessTokenTTL, cfg.StandingPollInterval)},
		Catalogue: &Catalogue{store: cfg.Store, log: cfg.Logger, now: cfg.Now, events: events, access: access, audit: audit},
		Reservations: &Reservations{
			store: cfg.Store, payments: cfg.Payments, admissions: cfg.Admissions, log: cfg.Logger,
			now: cfg.Now, sweep: cfg.SweepInterval, sweepTimeout: cfg.SweepTimeout, onSweep: cfg.OnSweep, events: events,
			holds: newHoldEngine(cfg.Store, cfg.MaxBatch, cfg.ParallelBatches, cfg.RequestTimeout), limits: cfg.Limits,
			inflight: inflight,
		},
	}
}

// Run does the background work of the aggregates until ctx is done: hold
// expiry and idempotency purges, each store call under a deadline (see
// Reservations.Run), mail delivery and the purge of sent mail
// (Outbox.Run), webhook delivery (Webhooks.Run), the checkout's order expiry, refunds, cancelled events' orders and payment
// reconciliation (Orders.Run), and the users' standings and refresh-token
// purges (Accounts.Run).
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.outbox.Run(ctx) })
	wg.Go(func() { _ = s.Webhooks.Run(ctx) })
	wg.Go(func() { _ = s.Orders.Run(ctx) })
	wg.Go(func() { s.Accounts.Run(ctx) })
	err := s.Reservations.Run(ctx)
	wg.Wait()
	return err
}

// Ready returns nil when the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// ordersOnly answers v1 confirmations under a real payment provider: a
// reservation keeps no record of a provider's payment, so its money could
// not be refunded later; real money goes through orders, whose payments are
// recorded, reconciled and refundable.
type ordersOnly struct{}

func (ordersOnly) Charge(context.Context, *Reservation, string) error {
	return Errorf(CodeInvalidState, "with this payment provider, tickets are paid for through orders: "+
		"POST /api/v1/events/{id}/orders, then POST /api/v1/orders/{id}/payments")
}

func (ordersOnly) Refund(context.Context, *Reservation) error {
	return Errorf(CodeInvalidState, "reservations are not paid through this payment provider")
}

// noPayments stands in when no payment provider is configured: nothing can
// be paid for.
type noPayments struct{}

func (noPayments) Charge(context.Context, *Reservation, string) error {
	return Errorf(CodeUnavailable, "no payment provider is configured")
}

func (noPayments) Refund(context.Context, *Reservation) error {
	return Errorf(CodeUnavailable, "no payment provider is configured")
}
