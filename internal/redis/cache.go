package redis

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"boxoffice"
)

// cachePrefix starts every cache key in Redis.
const cachePrefix = "bo:cache:"

// Cache is a boxoffice.Cache in Redis, shared by every instance: GET, SET PX
// and DEL on keys under "bo:cache:". It never fails a request: a Redis error
// or timeout is a miss (or a lost write), counted by Errors.
type Cache struct {
	raw     rueidis.Client
	prefix  string
	timeout time.Duration
	errors  atomic.Uint64
}

var _ boxoffice.Cache = (*Cache)(nil)

// Get returns the value stored under key, if present and fresh.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	opCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.raw.Do(opCtx, c.raw.B().Get().Key(c.prefix+key).Build()).AsBytes()
	if err != nil {
		if !rueidis.IsRedisNil(err) {
			c.count(ctx, err)
		}
		return nil, false
	}
	return v, true
}

// Set stores value under key for ttl, rounded up to a whole millisecond. A
// non-positive ttl removes key instead.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if ttl <= 0 {
		c.Delete(ctx, key)
		return
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	opCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := c.raw.B().Set().Key(c.prefix + key).Value(rueidis.BinaryString(value)).PxMilliseconds(ms).Build()
	c.count(ctx, c.raw.Do(opCtx, cmd).Error())
}

// Delete removes keys.
func (c *Cache) Delete(ctx context.Context, keys ...string) {
	if len(keys) == 0 {
		return
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	opCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.count(ctx, c.raw.Do(opCtx, c.raw.B().Del().Key(full...).Build()).Error())
}

// Errors returns how many cache operations failed so far. Misses because a
// key is absent do not count, nor do operations whose caller gave up.
func (c *Cache) Errors() uint64 { return c.errors.Load() }

// count counts err unless it is nil or the caller's ctx ended, which says
// nothing about Redis.
func (c *Cache) count(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil {
		c.errors.Add(1)
	}
}
