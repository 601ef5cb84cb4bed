package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/smtp"
)

// config is boxoffice's configuration, read from the environment (see the
// table in README.md). Every problem is reported at once.
type config struct {
	Addr          string
	DatabaseURL   string
	RedisURL      string
	JWTSecret     []byte // nil = random per start
	AdminEmail    string
	AdminPassword string
	LogLevel      slog.Level
	LogFormat     string
	Migrate       bool
	TokenTTL      time.Duration
	RefreshTTL    time.Duration
	BcryptCost    int
	// DeviceTokenTTL is how long a sign-in's device token works;
	// ReservedWorkers and ReservedQueue size the password hashers' lane
	// for sign-ins that present one.
	DeviceTokenTTL  time.Duration
	ReservedWorkers int
	ReservedQueue   int
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	RequestTimeout  time.Duration
	PprofAddr       string
	// TuneGC is true when GOGC is unset: the server then trades memory for
	// less garbage-collection CPU (GOMEMLIMIT still bounds the heap).
	TuneGC bool
	// HoldBatch and HoldParallel tune the group-commit hold engine: the
	// most requests decided in one transaction, and how many such
	// transactions per tier may be in flight from this instance.
	HoldBatch    int
	HoldParallel int
	// Metrics turns the Prometheus metrics on, served at GET /metrics on
	// MetricsAddr, a listener of their own (never the public Addr);
	// MetricsInterval is how often the gauges of the events on sale are
	// refreshed and MetricsMaxEvents how many of those events they follow.
	Metrics bool
	// OpenOrganizers lets every user with a verified email create
	// organizers (BOXOFFICE_OPEN_ORGANIZERS).
	OpenOrganizers   bool
	MetricsAddr      string
	MetricsInterval  time.Duration
	MetricsMaxEvents int
	// RateLimits are the rate limits in force (BOXOFFICE_LIMIT_*,
	// BOXOFFICE_STREAMS_PER_USER).
	RateLimits boxoffice.RateLimits
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the other sites' front ends allowed to call the API
	// from browsers (BOXOFFICE_CORS_ORIGINS): exact origins, or "*".
	CORSOrigins []string
	// SMTPURL is the mail server ("" = mail is logged, not sent), MailFrom
	// the sender, PublicURL the site the mailed links point to, and
	// MailRetry the delay after a first failed delivery (doubled per
	// failure up to an hour).
	SMTPURL   string
	MailFrom  string
	PublicURL string
	MailRetry time.Duration
	// WebhooksInsecure accepts webhook endpoints at http://localhost and
	// private addresses (BOXOFFICE_WEBHOOKS_INSECURE=true; refused in
	// production). WebhookLease is how long a deliverer holds claimed
	// deliveries (BOXOFFICE_WEBHOOK_LEASE, default 1m): how long the
	// deliveries of an instance that died wait for another.
	WebhooksInsecure bool
	WebhookLease     time.Duration
	// Production refuses settings that are only fit for trying boxoffice
	// out (BOXOFFICE_ENV=production).
	Production bool
	// Payments names the payment provider: "test" (moves no money),
	// "stripe", or "" (none: nothing can be paid for).
	Payments string
	// StripeSecretKey, StripeWebhookSecret and StripeAPIBase configure the
	// Stripe provider (StripeAPIBase "" = Stripe's own API).
	StripeSecretKey     string
	StripeWebhookSecret string
	StripeAPIBase       string
	// StripePublishableKey (pk_…) is the key the checkout page gives
	// Stripe.js; it is public by design.
	StripePublishableKey string
	// TestPaymentsSecret signs the test provider's callbacks ("" = it
	// takes none).
	TestPaymentsSecret string
}

// isTestKey reports whether a Stripe secret or restricted key is a
// test-mode one.
func isTestKey(key string) bool {
	return strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")
}

// limitEnv returns the variable that sets a rate limit.
func limitEnv(s boxoffice.LimitSpec) string { return "BOXOFFICE_LIMIT_" + strings.ToUpper(s.Key) }

// retiredSettings are variables earlier releases read, with what replaces
// them: loadConfig refuses them rather than let a server silently run
// without what its operator meant.
var retiredSettings = map[string]string{
	"BOXOFFICE_LOGIN_MAX_FAILURES": "the BOXOFFICE_LIMIT_SIGNIN_* limits",
	"BOXOFFICE_LOGIN_WINDOW":       "the BOXOFFICE_LIMIT_SIGNIN_* limits",
}

// defaultMetricsAddr is where metrics are served unless
// BOXOFFICE_METRICS_ADDR says otherwise: loopback, so that a server started
// without configuration shows its sales figures to no one but the machine
// it runs on. Port 9464 is not 9090, which a local Prometheus itself
// usually holds. A deployment whose Prometheus scrapes over the network sets
// an address on the pod's or host's private network (the Helm chart sets
// :9464 and keeps the port off the public Service).
const defaultMetricsAddr = "127.0.0.1:9464"

func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	get := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	for name, instead := range retiredSettings {
		if getenv(name) != "" {
			bad(name, "is no longer read; set %s instead (README, Rate limits)", instead)
		}
	}
	dur := func(name string, def time.Duration, minimum time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < minimum {
			bad(name, "must be a duration of at least %s, like 30s", minimum)
			return def
		}
		return d
	}
	c := config{
		Addr:            get("BOXOFFICE_ADDR", ":8080"),
		DatabaseURL:     get("BOXOFFICE_DATABASE_URL", "sqlite:boxoffice.db"),
		RedisURL:        getenv("BOXOFFICE_REDIS_URL"),
		AdminEmail:      getenv("BOXOFFICE_ADMIN_EMAIL"),
		AdminPassword:   getenv("BOXOFFICE_ADMIN_PASSWORD"),
		LogFormat:       get("BOXOFFICE_LOG_FORMAT", "text"),
		TokenTTL:        dur("BOXOFFICE_TOKEN_TTL", boxoffice.DefaultAccessTokenTTL, time.Minute),
		RefreshTTL:      dur("BOXOFFICE_REFRESH_TTL", boxoffice.DefaultRefreshTTL, time.Minute),
		DeviceTokenTTL:  dur("BOXOFFICE_DEVICE_TOKEN_TTL", boxoffice.DefaultDeviceTokenTTL, time.Minute),
		ReservedWorkers: auth.DefaultReservedWorkers,
		ReservedQueue:   8 * auth.DefaultReservedWorkers,
		ShutdownTimeout: dur("BOXOFFICE_SHUTDOWN_TIMEOUT", 20*time.Second, 0),
		RequestTimeout:  dur("BOXOFFICE_REQUEST_TIMEOUT", 5*time.Second, 0),
		DrainDelay:      dur("BOXOFFICE_DRAIN_DELAY", 0, 0),
		PprofAddr:       getenv("BOXOFFICE_PPROF_ADDR"),
		TuneGC:          getenv("GOGC") == "",
		Migrate:         true,
		BcryptCost:      10,
		Metrics:         true,
		MetricsAddr:     get("BOXOFFICE_METRICS_ADDR", defaultMetricsAddr),
		MetricsInterval: dur("BOXOFFICE_METRICS_INTERVAL", 15*time.Second, 10*time.Millisecond),
		SMTPURL:         getenv("BOXOFFICE_SMTP_URL"),
		MailFrom:        getenv("BOXOFFICE_MAIL_FROM"),
		PublicURL:       getenv("BOXOFFICE_PUBLIC_URL"),
		MailRetry:       dur("BOXOFFICE_MAIL_RETRY", 30*time.Second, 10*time.Millisecond),
		WebhookLease:    dur("BOXOFFICE_WEBHOOK_LEASE", time.Minute, time.Second),
	}
	switch v := getenv("BOXOFFICE_WEBHOOKS_INSECURE"); v {
	case "", "false", "0":
	case "true", "1":
		c.WebhooksInsecure = true
	default:
		bad("BOXOFFICE_WEBHOOKS_INSECURE", "must be true or false")
	}
	if c.SMTPURL != "" {
		if c.MailFrom == "" {
			bad("BOXOFFICE_MAIL_FROM", "must be set with BOXOFFICE_SMTP_URL")
		} else if _, err := smtp.New(c.SMTPURL, c.MailFrom); err != nil {
			bad("BOXOFFICE_SMTP_URL", "%v", err)
		}
		if c.PublicURL == "" {
			bad("BOXOFFICE_PUBLIC_URL", "must be set with BOXOFFICE_SMTP_URL: the mailed links point to it")
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://localhost:8080"
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		bad("BOXOFFICE_PUBLIC_URL", "must be an http:// or https:// URL without query, like https://tickets.example.com")
	}
	switch env := getenv("BOXOFFICE_ENV"); env {
	case "", "development":
	case "production":
		c.Production = true
	default:
		bad("BOXOFFICE_ENV", "must be development or production")
	}
	if c.Production && c.WebhooksInsecure {
		bad("BOXOFFICE_WEBHOOKS_INSECURE", "must not be set in production: it lets webhooks reach the platform's own network")
	}
	c.Payments = getenv("BOXOFFICE_PAYMENTS")
	c.StripeSecretKey = getenv("BOXOFFICE_STRIPE_SECRET_KEY")
	c.StripeWebhookSecret = getenv("BOXOFFICE_STRIPE_WEBHOOK_SECRET")
	c.StripeAPIBase = getenv("BOXOFFICE_STRIPE_API_BASE")
	c.StripePublishableKey = getenv("BOXOFFICE_STRIPE_PUBLISHABLE_KEY")
	c.TestPaymentsSecret = getenv("BOXOFFICE_TEST_PAYMENTS_SECRET")
	switch c.Payments {
	case "", "none":
		c.Payments = ""
		if c.Production {
			bad("BOXOFFICE_PAYMENTS", "must be stripe in production: without a payment provider nothing can be sold")
		}
	case "test":
		if c.Production {
			bad("BOXOFFICE_PAYMENTS", "must not be test in production: the test provider hands out tickets without taking money")
		}
	case "stripe":
		if !strings.HasPrefix(c.StripeSecretKey, "sk_") && !strings.HasPrefix(c.StripeSecretKey, "rk_") {
			bad("BOXOFFICE_STRIPE_SECRET_KEY", "must be set to a Stripe secret key (sk_…) with BOXOFFICE_PAYMENTS=stripe")
		}
		if !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
			bad("BOXOFFICE_STRIPE_WEBHOOK_SECRET", "must be set to the webhook endpoint's signing secret (whsec_…) with BOXOFFICE_PAYMENTS=stripe")
		}
		if c.Production && strings.HasPrefix(c.StripeSecretKey, "sk_test_") {
			bad("BOXOFFICE_STRIPE_SECRET_KEY", "is a test-mode key; production needs a live key (sk_live_…)")
		}
		switch pk := c.StripePublishableKey; {
		case !strings.HasPrefix(pk, "pk_") || strings.ContainsAny(pk, " \t\r\n\"'<>"):
			bad("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "must be set to the Stripe publishable key (pk_…) with BOXOFFICE_PAYMENTS=stripe: the checkout page gives it to Stripe.js")
		case c.Production && strings.HasPrefix(pk, "pk_test_"):
			bad("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "is a test-mode key; production needs a live key (pk_live_…)")
		case strings.HasPrefix(pk, "pk_test_") != isTestKey(c.StripeSecretKey) && c.StripeSecretKey != "":
			bad("BOXOFFICE_STRIPE_PUBLISHABLE_KEY", "and BOXOFFICE_STRIPE_SECRET_KEY must be of the same mode (both test or both live)")
		}
	default:
		bad("BOXOFFICE_PAYMENTS", "must be test, stripe or none")
	}
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("BOXOFFICE_STRIPE_API_BASE", "must be an http:// or https:// URL, like http://127.0.0.1:12111")
		} else if c.Production {
			bad("BOXOFFICE_STRIPE_API_BASE", "is for tests against stripe-mock; production talks to Stripe itself")
		}
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "mysql://") {
		bad("BOXOFFICE_DATABASE_URL", "must start with sqlite: or mysql://")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("BOXOFFICE_REDIS_URL", "must start with redis:// or rediss://")
	}
	if s := getenv("BOXOFFICE_JWT_SECRET"); s != "" {
		if len(s) < 32 {
			bad("BOXOFFICE_JWT_SECRET", "must be at least 32 bytes")
		}
		c.JWTSecret = []byte(s)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		bad("BOXOFFICE_ADMIN_EMAIL", "and BOXOFFICE_ADMIN_PASSWORD must be set together")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("BOXOFFICE_LOG_LEVEL", "info"))); err != nil {
		bad("BOXOFFICE_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("BOXOFFICE_LOG_FORMAT", "must be text or json")
	}
	if v := getenv("BOXOFFICE_MIGRATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("BOXOFFICE_MIGRATE", "must be true or false")
		}
		c.Migrate = b
	}
	intVar := func(name string, dst *int, lo, hi int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				bad(name, "must be an integer from %d to %d", lo, hi)
			}
			*dst = n
		}
	}
	intVar("BOXOFFICE_HOLD_BATCH", &c.HoldBatch, 1, 5000)
	intVar("BOXOFFICE_HOLD_PARALLEL", &c.HoldParallel, 1, 64)
	intVar("BOXOFFICE_METRICS_MAX_EVENTS", &c.MetricsMaxEvents, 1, 1000)
	intVar("BOXOFFICE_SIGNIN_RESERVED_WORKERS", &c.ReservedWorkers, 1, 64)
	intVar("BOXOFFICE_SIGNIN_RESERVED_QUEUE", &c.ReservedQueue, 1, 10000)
	c.RateLimits = boxoffice.DefaultRateLimits()
	for _, spec := range boxoffice.LimitSpecs() {
		name := limitEnv(spec)
		if v := getenv(name); v != "" {
			l, ok := boxoffice.ParseLimit(v)
			if !ok {
				bad(name, "must be MAX/WINDOW with a window from 1s to 168h, like %s, or 0 for no limit", spec.Default)
			}
			c.RateLimits.Set(spec.Name, l)
		}
	}
	intVar("BOXOFFICE_STREAMS_PER_USER", &c.RateLimits.StreamsPerUser, 0, 1000)
	if v := getenv("BOXOFFICE_TRUSTED_PROXIES"); v != "" {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f)
				if aerr != nil {
					bad("BOXOFFICE_TRUSTED_PROXIES", "%q is neither a CIDR like 10.0.0.0/8 nor an address", f)
					continue
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
	}
	if v := getenv("BOXOFFICE_CORS_ORIGINS"); v != "" {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if f != "*" {
				u, err := url.Parse(f)
				if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" || f != u.Scheme+"://"+u.Host {
					bad("BOXOFFICE_CORS_ORIGINS", "%q is not an origin like https://shop.example.com (scheme and host, no path or trailing slash) nor *", f)
					continue
				}
			}
			c.CORSOrigins = append(c.CORSOrigins, f)
		}
	}
	if v := getenv("BOXOFFICE_OPEN_ORGANIZERS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("BOXOFFICE_OPEN_ORGANIZERS", "must be true or false")
		}
		c.OpenOrganizers = b
	}
	if v := getenv("BOXOFFICE_METRICS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("BOXOFFICE_METRICS", "must be true or false")
		}
		c.Metrics = b
	}
	if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
		bad("BOXOFFICE_METRICS_ADDR", "must be host:port or :port, like 127.0.0.1:9464")
	} else if _, apiPort, _ := net.SplitHostPort(c.Addr); c.Metrics && port == apiPort && port != "0" {
		bad("BOXOFFICE_METRICS_ADDR", "must differ from BOXOFFICE_ADDR: metrics are not for the public")
	}
	if v := getenv("BOXOFFICE_BCRYPT_COST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 16 {
			bad("BOXOFFICE_BCRYPT_COST", "must be an integer from 4 to 16")
		}
		c.BcryptCost = n
	}
	return c, errors.Join(errs...)
}
