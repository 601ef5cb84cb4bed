// Package metrics is boxoffice's Prometheus instrumentation. A Metrics owns
// its registry (there is no global state) and exports what an on-sale war
// room asks: HTTP traffic and latency by route, the hold path (decisions,
// group-commit batch size and time, the reservation lifecycle), the waiting
// room (joins, admissions, status streams), the read cache, the database
// pools, Redis, the password-hash pool, the inventory and queues of the
// events on sale, and the Go runtime and process.
//
// The domain package knows nothing of Prometheus: Metrics observes it
// through decorators of its interfaces (Store, Cache, Queue) and hooks
// (OnAdmit, OnSweep, the httpapi Observer). Series are bounded: HTTP labels are
// route patterns, never paths, and per-event series exist only for events
// inside their sales window, at most OnSaleConfig.MaxEvents of them.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace starts the name of every metric boxoffice defines.
const namespace = "boxoffice"

// Metrics is the instrumentation of one server. Its methods are safe for
// concurrent use. Create it with New, wire its decorators and hooks, and
// serve Handler at GET /metrics.
type Metrics struct {
	reg *prometheus.Registry

	mu         sync.Mutex
	collectors []prometheus.Collector

	http   *httpMetrics
	holds  holdMetrics
	cache  cacheMetrics
	queue  queueMetrics
	sweep  *sweepMetrics
	onsale *onSale

	redisOnce sync.Once
	redis     redisMetrics
}

// New returns a Metrics whose registry holds every boxoffice metric family
// that needs no outside source, and the Go runtime and process collectors.
// Sources that only exist in some setups (database pools, Redis, the hash
// pool, status streams, the events on sale) are added by the Watch methods.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.register(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.http = newHTTPMetrics(m)
	m.holds = newHoldMetrics(m)
	m.cache = newCacheMetrics(m)
	m.queue = newQueueMetrics(m)
	m.sweep = newSweepMetrics(m)
	return m
}

// register adds collectors to the registry and remembers them, so that
// MetricNames can list what the server exports. It panics on a conflict,
// which is a programming error.
func (m *Metrics) register(cs ...prometheus.Collector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		m.reg.MustRegister(c)
		m.collectors = append(m.collectors, c)
	}
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the http.Handler that serves the registry in the
// Prometheus text (or OpenMetrics) format, counting its own scrapes.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	}))
}

// Run does the background work of the Watch sources (refreshing the
// gauges of the events on sale) until ctx ends. Without such sources it
// just waits for ctx.
func (m *Metrics) Run(ctx context.Context) error {
	m.mu.Lock()
	o := m.onsale
	m.mu.Unlock()
	if o == nil {
		<-ctx.Done()
		return nil
	}
	return o.run(ctx)
}

// descRE takes a Desc's String() apart.
var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)".*constLabels: \{(.*?)\}, variableLabels: \{(.*?)\}\}$`)

// families returns the name of every metric family the registry may
// export, with its label names (job and instance, which Prometheus adds,
// are not listed). Histograms are listed once, by their base name (their
// series add _bucket, _sum and _count). Families of vectors without
// series yet are included.
func (m *Metrics) families() map[string][]string {
	m.mu.Lock()
	cs := append([]prometheus.Collector(nil), m.collectors...)
	m.mu.Unlock()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	out := make(map[string][]string)
	for d := range ch {
		mm := descRE.FindStringSubmatch(d.String())
		if mm == nil {
			continue
		}
		var labels []string
		for _, lp := range strings.Split(mm[2], ",") {
			if name, _, ok := strings.Cut(lp, "="); ok {
				labels = append(labels, name)
			}
		}
		for _, l := range strings.Split(mm[3], ",") {
			if l != "" {
				labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
			}
		}
		sort.Strings(labels)
		out[mm[1]] = labels
	}
	// Handler's own scrape metrics.
	out["promhttp_metric_handler_requests_total"] = []string{"code"}
	out["promhttp_metric_handler_requests_in_flight"] = nil
	return out
}

// Hasher is what WatchHasher reads from internal/auth.Hasher.
type Hasher interface {
	// Waiting returns how many callers wait for a hashing worker now.
	Waiting() int
	// Rejected returns how many calls were refused so far.
	Rejected() uint64
}

// WatchHasher exports the password-hash pool's queue length and
// rejections.
func (m *Metrics) WatchHasher(h Hasher) {
	m.register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "password_hash_waiting",
			Help: "Callers waiting for a password-hashing worker.",
		}, func() float64 { return float64(h.Waiting()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "password_hash_rejected_total",
			Help: "Password hashes and checks refused because the pool was full (answered rate_limited).",
		}, func() float64 { return float64(h.Rejected()) }),
	)
}

// WatchStreams exports the number of waiting-room status streams (SSE
// clients) this instance serves, as streams reports it
// (boxoffice.WaitingRoom.Streams).
func (m *Metrics) WatchStreams(streams func() int) {
	m.register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "queue_streams",
		Help: "Waiting-room status streams (server-sent events clients) connected to this instance.",
	}, func() float64 { return float64(streams()) }))
}

// WatchBuildInfo exports boxoffice_build_info with the build's version and
// commit.
func (m *Metrics) WatchBuildInfo(version, commit string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit},
	})
	g.Set(1)
	m.register(g)
}

// WatchDBPools exports the connection-pool statistics of the database
// pools stats returns, by pool name (the stores' DBStats methods).
func (m *Metrics) WatchDBPools(stats func() map[string]sql.DBStats) {
	m.register(newDBCollector(stats))
}

// dbCollector turns sql.DBStats into metrics at scrape time.
type dbCollector struct {
	stats                                              func() map[string]sql.DBStats
	maxOpen, open, inUse, idle, waits, waitSec, closed *prometheus.Desc
}

func newDBCollector(stats func() map[string]sql.DBStats) *dbCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_db_pool_"+name, help, append([]string{"pool"}, labels...), nil)
	}
	return &dbCollector{
		stats:   stats,
		maxOpen: d("max_open_connections", "Maximum number of open connections the pool allows (0 = unlimited)."),
		open:    d("open_connections", "Open connections, in use or idle."),
		inUse:   d("in_use_connections", "Connections in use."),
		idle:    d("idle_connections", "Idle connections."),
		waits:   d("waits_total", "Times a query waited for a free connection."),
		waitSec: d("wait_duration_seconds_total", "Total time queries waited for a free connection."),
		closed:  d("closed_total", "Connections closed by the pool, by reason.", "reason"),
	}
}

// Describe implements prometheus.Collector.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waits, c.waitSec, c.closed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	for pool, s := range c.stats() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, pool)
		}
		cnt := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{pool}, labels...)...)
		}
		g(c.maxOpen, float64(s.MaxOpenConnections))
		g(c.open, float64(s.OpenConnections))
		g(c.inUse, float64(s.InUse))
		g(c.idle, float64(s.Idle))
		cnt(c.waits, float64(s.WaitCount))
		cnt(c.waitSec, s.WaitDuration.Seconds())
		cnt(c.closed, float64(s.MaxIdleClosed), "max_idle")
		cnt(c.closed, float64(s.MaxIdleTimeClosed), "max_idle_time")
		cnt(c.closed, float64(s.MaxLifetimeClosed), "max_lifetime")
	}
}

// statusClass returns "2xx" for 200..299 and so on.
func statusClass(status int) string {
	switch {
	case status >= 100 && status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// knownMethod returns method when it is a standard one, else "OTHER", so
// that a client cannot create series with made-up methods.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// routePath returns the path part of a ServeMux pattern ("GET /a/{id}" →
// "/a/{id}"); the method is its own label.
func routePath(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		return p
	}
	return pattern
}
