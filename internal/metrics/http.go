package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the request metrics; Metrics implements the httpapi
// Observer with them.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight *atomic.Int64
	problems *prometheus.CounterVec

	// observers caches the histogram child of each (method, route
	// pattern, status class): a lock-free lookup instead of hashing and
	// validating three label values under the vector's lock on every
	// request. It holds as many entries as the histogram has series.
	observers sync.Map // routeKey → prometheus.Observer
}

type routeKey struct{ method, route, status string }

// httpBuckets spans a cached read (about a millisecond) to a request that
// waited out a database timeout.
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHTTPMetrics(m *Metrics) *httpMetrics {
	h := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method, route pattern (\"unmatched\" for none) and status class (2xx, 4xx, …). Its _count is the request count.",
			Buckets: httpBuckets,
		}, []string{"method", "route", "status"}),
		inFlight: new(atomic.Int64),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "problems_total",
			Help: "Problem responses (RFC 9457) by their contract code, e.g. sold_out, rate_limited, internal.",
		}, []string{"code"}),
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being served now (status streams included).",
	}, func() float64 { return float64(h.inFlight.Load()) })
	m.register(h.duration, inFlight, h.problems)
	return h
}

// observer returns the duration histogram of one kind of request.
func (h *httpMetrics) observer(method, route, status string) prometheus.Observer {
	k := routeKey{method, route, status}
	if o, ok := h.observers.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := h.duration.WithLabelValues(method, routePath(route), status)
	h.observers.Store(k, o)
	return o
}

// RequestBegin counts a request in flight; every call is followed by one
// RequestEnd.
func (m *Metrics) RequestBegin() { m.http.inFlight.Add(1) }

// RequestEnd records an answered request: its method, the route pattern it
// matched ("METHOD /path/{wildcard}", or "unmatched"), its status, its
// problem code ("" for a success) and how long it took.
func (m *Metrics) RequestEnd(method, route string, status int, problem string, d time.Duration) {
	m.http.inFlight.Add(-1)
	m.http.observer(knownMethod(method), route, statusClass(status)).Observe(d.Seconds())
	if problem != "" {
		m.http.problems.WithLabelValues(problem).Inc()
	}
}
