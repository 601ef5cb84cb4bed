package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// cacheMetrics count read-cache lookups.
type cacheMetrics struct {
	hits, misses prometheus.Counter
}

func newCacheMetrics(m *Metrics) cacheMetrics {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_requests_total",
		Help: "Read-cache lookups (events and event lists), by result: hit or miss. A Redis error counts as a miss.",
	}, []string{"result"})
	m.register(v)
	return cacheMetrics{hits: v.WithLabelValues("hit"), misses: v.WithLabelValues("miss")}
}

// Cache returns c decorated to count hits and misses. With redis set (c is
// the Redis cache) it also times each operation as a Redis command.
func (m *Metrics) Cache(c boxoffice.Cache, redis bool) boxoffice.Cache {
	out := &cache{next: c, m: &m.cache}
	if redis {
		r := m.redisMetrics()
		out.get, out.set, out.del = r.op("cache_get"), r.op("cache_set"), r.op("cache_delete")
	}
	return out
}

// cache is the counting decorator of a boxoffice.Cache.
type cache struct {
	next          boxoffice.Cache
	m             *cacheMetrics
	get, set, del prometheus.Observer // nil unless the cache is Redis
}

// Get looks key up and counts a hit or a miss.
func (c *cache) Get(ctx context.Context, key string) ([]byte, bool) {
	var start time.Time
	if c.get != nil {
		start = time.Now()
	}
	v, ok := c.next.Get(ctx, key)
	if c.get != nil {
		c.get.Observe(time.Since(start).Seconds())
	}
	if ok {
		c.m.hits.Inc()
	} else {
		c.m.misses.Inc()
	}
	return v, ok
}

// Set stores value under key.
func (c *cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if c.set == nil {
		c.next.Set(ctx, key, value, ttl)
		return
	}
	start := time.Now()
	c.next.Set(ctx, key, value, ttl)
	c.set.Observe(time.Since(start).Seconds())
}

// Delete removes keys.
func (c *cache) Delete(ctx context.Context, keys ...string) {
	if c.del == nil {
		c.next.Delete(ctx, keys...)
		return
	}
	start := time.Now()
	c.next.Delete(ctx, keys...)
	c.del.Observe(time.Since(start).Seconds())
}
