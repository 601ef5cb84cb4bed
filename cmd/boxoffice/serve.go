package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/httpapi"
	"boxoffice/internal/memory"
	"boxoffice/internal/metrics"
	"boxoffice/internal/mysql"
	"boxoffice/internal/redis"
	"boxoffice/internal/smtp"
	"boxoffice/internal/sqlite"
	"boxoffice/internal/stripe"
	"boxoffice/internal/testpay"
	"boxoffice/internal/web"
	"boxoffice/internal/webhookhttp"
)

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the store BOXOFFICE_DATABASE_URL names.
func openStore(ctx context.Context, cfg config) (boxoffice.Store, error) {
	if path, ok := strings.CutPrefix(cfg.DatabaseURL, "sqlite:"); ok {
		return sqlite.Open(ctx, path)
	}
	return mysql.Open(ctx, cfg.DatabaseURL)
}

func migrate(ctx context.Context, cfg config, log *slog.Logger) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	log.Info("migrations applied")
	return nil
}

// serve runs the HTTP server until ctx ends, then drains: /readyz turns 503,
// in-flight requests finish (up to BOXOFFICE_SHUTDOWN_TIMEOUT), background
// work stops, and the stores close. listening, when not nil, receives the
// bound addresses (tests listen on :0).
func serve(ctx context.Context, cfg config, log *slog.Logger, listening chan<- boundAddrs) error {
	if cfg.TuneGC {
		debug.SetGCPercent(400)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer store.Close()
	if cfg.Migrate {
		if err := store.Migrate(ctx); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}

	// The server owns its metrics registry; BOXOFFICE_METRICS=false turns
	// them off (m stays nil).
	var m *metrics.Metrics
	if cfg.Metrics {
		m = metrics.New()
		m.WatchBuildInfo(version, commit)
		if p, ok := store.(interface{ DBStats() map[string]sql.DBStats }); ok {
			m.WatchDBPools(p.DBStats)
		}
	}

	var cache boxoffice.Cache = memory.NewCache(100_000)
	var queue boxoffice.Queue = memory.NewQueue()
	// Rate limits count in this process, or in Redis when the fleet
	// shares one; the local counter also serves the per-instance limits
	// (holds) and stands in while Redis is away.
	localCounts := memory.NewRateCounter(0)
	var sharedCounts boxoffice.RateCounter
	ready := store.Ping
	if cfg.RedisURL != "" {
		rc, err := redis.Open(ctx, cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("connecting to redis: %w", err)
		}
		defer rc.Close()
		cache = rc.Cache()
		queue = rc.Queue()
		sharedCounts = rc.RateCounter()
		if m != nil {
			m.WatchRedisCacheErrors(rc.Cache().Errors)
		}
		ready = func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				return err
			}
			return rc.Ping(ctx)
		}
	}

	secret := cfg.JWTSecret
	if secret == nil {
		secret = auth.RandomSecret()
		log.Warn("BOXOFFICE_JWT_SECRET is not set: using a random secret; tokens will not survive a restart or work across instances")
	}
	tokens := auth.NewTokens(secret, cfg.TokenTTL)
	hasher := auth.NewHasher(cfg.BcryptCost, 0, 0, 0).Reserve(cfg.ReservedWorkers, cfg.ReservedQueue)
	svcStore := store
	var onAdmit func(eventID string, first int64, userIDs []string)
	if m != nil {
		cache = m.Cache(cache, cfg.RedisURL != "")
		queue = m.Queue(queue, cfg.RedisURL != "")
		svcStore, onAdmit = m.Store(store), m.OnAdmit
		m.WatchHasher(hasher)
	}
	// Admission tokens are signed with a key derived from the JWT secret,
	// so every instance that shares it verifies them without Redis.
	limits := boxoffice.NewLimiter(cfg.RateLimits, sharedCounts, localCounts, log)
	room := boxoffice.NewWaitingRoom(boxoffice.WaitingRoomConfig{
		Queue: queue, Store: store, Tokens: auth.NewAdmissionTokens(auth.AdmissionSecret(secret)), Logger: log,
		OnAdmit: onAdmit, Limits: limits,
	})
	var mailer boxoffice.Mailer = smtp.Log{Logger: log}
	if cfg.SMTPURL != "" {
		sm, err := smtp.New(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return err
		}
		mailer = sm
	} else {
		log.Warn("no SMTP server configured (BOXOFFICE_SMTP_URL): mail is logged, not sent")
	}
	provider, paymentsNote, err := paymentProvider(cfg, log)
	if err != nil {
		return err
	}
	svcCfg := boxoffice.ServiceConfig{
		Store: svcStore, Hasher: hasher, Limits: limits, Provider: provider, Admissions: room, Logger: log,
		MaxBatch: cfg.HoldBatch, ParallelBatches: cfg.HoldParallel, RequestTimeout: cfg.RequestTimeout,
		Mailer: mailer, PublicURL: cfg.PublicURL, Outbox: boxoffice.OutboxConfig{RetryBase: cfg.MailRetry},
		AccessTokenTTL: cfg.TokenTTL, RefreshTokenTTL: cfg.RefreshTTL, OpenOrganizers: cfg.OpenOrganizers,
		// Device tokens too are signed with a key derived from the JWT
		// secret.
		DeviceKey: auth.DeviceSecret(secret), DeviceTokenTTL: cfg.DeviceTokenTTL,
		Webhooks: boxoffice.WebhookConfig{
			Poster: webhookhttp.New(webhookhttp.Options{AllowPrivate: cfg.WebhooksInsecure}), Lease: cfg.WebhookLease,
		},
		AllowInsecureWebhooks: cfg.WebhooksInsecure,
	}
	if m != nil {
		svcCfg.OnSweep = m.OnSweep
	}
	svc := boxoffice.NewService(svcCfg)

	if cfg.AdminEmail != "" {
		u, err := svc.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword, "")
		if err != nil {
			return fmt.Errorf("bootstrapping admin: %w", err)
		}
		log.Info("admin ready", "user_id", u.ID)
	}

	var draining atomic.Bool
	apiCfg := httpapi.Config{
		Service: svc, Cache: cache, Tokens: tokens, Logger: log, Queue: room,
		Ready: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return ready(ctx)
		},
		Draining:       &draining,
		ReadyNote:      paymentsNote,
		RequestTimeout: cfg.RequestTimeout,
		TrustedProxies: cfg.TrustedProxies,
		CORSOrigins:    cfg.CORSOrigins,
	}
	if m != nil {
		m.WatchStreams(room.Streams)
		m.WatchOnSale(metrics.OnSaleConfig{
			Store: store, Queue: queue, Interval: cfg.MetricsInterval, MaxEvents: cfg.MetricsMaxEvents, Logger: log,
		})
		apiCfg.Observer = m
	}
	// The pages (internal/web) answer every path outside /api/, /healthz
	// and /readyz, which go to the API unchanged.
	webCfg := web.Config{API: httpapi.New(apiCfg), RefreshTTL: cfg.RefreshTTL, Logger: log}
	if cfg.Payments == "stripe" {
		webCfg.StripePublishableKey = cfg.StripePublishableKey
	}
	handler := web.New(webCfg)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Status streams never finish on their own: end them when draining.
	srv.RegisterOnShutdown(room.CloseStreams)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	bound := boundAddrs{api: ln.Addr().String()}
	// Metrics get a listener of their own, bound before the API answers:
	// a port taken by another process stops the start rather than leaving
	// the instance unobserved.
	var metricsSrv *http.Server
	if m != nil {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		defer mln.Close()
		bound.metrics = mln.Addr().String()
		metricsSrv = metricsServer(m.Handler(), log)
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("metrics server", "err", err)
			}
		}()
		log.Info("metrics listening", "addr", bound.metrics)
	}
	log.Info("listening", "addr", bound.api, "database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0], "redis", cfg.RedisURL != "")
	if listening != nil {
		listening <- bound
	}

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { _ = svc.Run(bgCtx) })
	bg.Go(func() { _ = room.Run(bgCtx) })
	if m != nil {
		bg.Go(func() { _ = m.Run(bgCtx) })
	}
	if cfg.PprofAddr != "" {
		bg.Go(func() { servePprof(bgCtx, cfg.PprofAddr, log) })
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if metricsSrv != nil {
			_ = metricsSrv.Close()
		}
		stopBackground()
		bg.Wait()
		return err
	case <-ctx.Done():
	}

	log.Info("draining")
	draining.Store(true)
	// Give load balancers time to see /readyz fail before refusing
	// connections (BOXOFFICE_DRAIN_DELAY, for Kubernetes endpoints).
	time.Sleep(cfg.DrainDelay)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if metricsSrv != nil {
		// Last, so that a scrape can still see the drain.
		_ = metricsSrv.Close()
	}
	stopBackground()
	bg.Wait()
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// boundAddrs are the addresses serve listens on: the API's, and the metrics
// listener's ("" when metrics are off).
type boundAddrs struct {
	api, metrics string
}

// metricsServer serves h at GET /metrics and nothing else. Its address is
// private (BOXOFFICE_METRICS_ADDR): the metrics show sales figures that the
// API keeps for admins.
func metricsServer(h http.Handler, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// servePprof serves net/http/pprof on its own address (keep it private).
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("pprof server", "err", err)
	}
}

// paymentProvider returns the configured payment provider (nil for none)
// and what /readyz says about it. The test provider is announced loudly:
// it hands out tickets without taking money.
func paymentProvider(cfg config, log *slog.Logger) (boxoffice.PaymentProvider, string, error) {
	switch cfg.Payments {
	case "test":
		log.Warn("PAYMENTS ARE SIMULATED: BOXOFFICE_PAYMENTS=test takes no money and hands out tickets for free; never use it for a real sale")
		return testpay.New(cfg.TestPaymentsSecret), "test: payments are simulated and take no money", nil
	case "stripe":
		p, err := stripe.New(stripe.Config{
			SecretKey: cfg.StripeSecretKey, WebhookSecret: cfg.StripeWebhookSecret, APIBase: cfg.StripeAPIBase,
		})
		if err != nil {
			return nil, "", fmt.Errorf("payments: %w", err)
		}
		mode := "live"
		if isTestKey(cfg.StripeSecretKey) {
			mode = "test mode"
		}
		return p, "stripe (" + mode + ")", nil
	}
	log.Warn("no payment provider configured (BOXOFFICE_PAYMENTS): orders can be held but not paid for")
	return nil, "none: nothing can be paid for", nil
}
