package metrics

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// redisMetrics time Redis commands and count their failures. They are
// registered on first use (only servers with Redis export them).
type redisMetrics struct {
	duration *prometheus.HistogramVec
	errors   *redisErrors
}

// redisMetrics returns the Redis metrics, registering them the first time.
func (m *Metrics) redisMetrics() *redisMetrics {
	m.redisOnce.Do(func() {
		m.redis = redisMetrics{
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: namespace, Subsystem: "redis", Name: "command_duration_seconds",
				Help:    "Time of Redis operations by the queue and the cache, by operation (queue_join, queue_admit, cache_get, …).",
				Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
			}, []string{"op"}),
			errors: &redisErrors{
				desc: prometheus.NewDesc(namespace+"_redis_errors_total",
					"Failed Redis operations by operation; op=\"cache\" counts every failed cache operation (answered as a miss).",
					[]string{"op"}, nil),
				counts: make(map[string]*atomic.Uint64),
			},
		}
		m.register(m.redis.duration, m.redis.errors)
	})
	return &m.redis
}

// op returns the duration observer of one operation.
func (r *redisMetrics) op(name string) prometheus.Observer {
	return r.duration.WithLabelValues(name)
}

// WatchRedisCacheErrors exports the Redis cache's own error count
// (internal/redis.Cache.Errors) as boxoffice_redis_errors_total{op="cache"}:
// the cache answers failures as misses, so only it knows them.
func (m *Metrics) WatchRedisCacheErrors(errs func() uint64) {
	e := m.redisMetrics().errors
	e.mu.Lock()
	e.cache = errs
	e.mu.Unlock()
}

// redisErrors is the collector of boxoffice_redis_errors_total: counters
// for the queue's operations and the cache's own count.
type redisErrors struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	counts map[string]*atomic.Uint64
	cache  func() uint64
}

// counter returns the error counter of op, creating it at 0.
func (e *redisErrors) counter(op string) *atomic.Uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.counts[op]
	if c == nil {
		c = new(atomic.Uint64)
		e.counts[op] = c
	}
	return c
}

// Describe implements prometheus.Collector.
func (e *redisErrors) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

// Collect implements prometheus.Collector.
func (e *redisErrors) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for op, c := range e.counts {
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.CounterValue, float64(c.Load()), op)
	}
	if e.cache != nil {
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.CounterValue, float64(e.cache()), "cache")
	}
}

// redisFailure reports whether err from a Redis-backed call says something
// about Redis: not a refusal by design (not the coordinator) and not a
// caller who went away.
func redisFailure(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && !errors.Is(err, boxoffice.ErrNotLeader)
}
