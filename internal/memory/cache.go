// Package memory implements boxoffice's shared-state adapters inside one
// process, for the zero-setup default without Redis. Nothing here is shared
// between instances.
package memory

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"boxoffice"
)

// DefaultMaxEntries is the size of a Cache made with a non-positive bound.
const DefaultMaxEntries = 10_000

// numShards is how many independently locked parts a Cache has.
const numShards = 16

// evictionSample is how many entries a full shard looks at to choose one to
// evict, in the style of Redis's approximated eviction.
const evictionSample = 5

// Cache is a boxoffice.Cache held in process memory: a sharded map of
// entries that expire, bounded in number. Expiry is checked on read and
// cleaned up on write, so the Cache needs no goroutine. Values are copied in
// and out, so callers may reuse or change their slices. It is safe for
// concurrent use.
type Cache struct {
	seed   maphash.Seed
	shards []shard
}

var _ boxoffice.Cache = (*Cache)(nil)

type shard struct {
	mu      sync.RWMutex
	entries map[string]entry
	max     int
	// writes counts Sets since the last sweep of expired entries.
	writes int
}

type entry struct {
	value   []byte
	expires time.Time
}

// NewCache returns a Cache that holds at most maxEntries entries
// (DefaultMaxEntries when maxEntries is not positive). When full, it evicts
// expired entries first, then those closest to expiry.
func NewCache(maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	n := min(numShards, maxEntries)
	c := &Cache{seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range c.shards {
		// Spread the bound so the shards add up to exactly maxEntries.
		max := maxEntries / n
		if i < maxEntries%n {
			max++
		}
		c.shards[i] = shard{entries: make(map[string]entry), max: max}
	}
	return c
}

// Get returns a copy of the value stored under key, if present and not
// expired.
func (c *Cache) Get(_ context.Context, key string) ([]byte, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.entries[key]
	s.mu.RUnlock()
	if !ok || !time.Now().Before(e.expires) {
		return nil, false
	}
	return clone(e.value), true
}

// Set stores a copy of value under key for ttl. A non-positive ttl removes
// key instead.
func (c *Cache) Set(_ context.Context, key string, value []byte, ttl time.Duration) {
	s := c.shard(key)
	if ttl <= 0 {
		s.mu.Lock()
		delete(s.entries, key)
		s.mu.Unlock()
		return
	}
	now := time.Now()
	e := entry{value: clone(value), expires: now.Add(ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writes >= max(s.max, 64) {
		// A full sweep every max writes costs O(1) per write on average
		// and keeps expired values from lingering.
		s.sweep(now)
	}
	if _, ok := s.entries[key]; !ok && len(s.entries) >= s.max {
		s.evict(now)
	}
	s.entries[key] = e
}

// Delete removes keys.
func (c *Cache) Delete(_ context.Context, keys ...string) {
	for _, key := range keys {
		s := c.shard(key)
		s.mu.Lock()
		delete(s.entries, key)
		s.mu.Unlock()
	}
}

// Len returns how many entries the Cache holds, counting expired ones not
// yet cleaned up.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

func (c *Cache) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// sweep deletes every expired entry. The caller holds s.mu.
func (s *shard) sweep(now time.Time) {
	s.writes = 0
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
}

// evict makes room for one entry: it looks at a few entries (map iteration
// starts at a random place), deletes the expired ones among them, and when
// none was expired, the one that expires soonest. The caller holds s.mu.
func (s *shard) evict(now time.Time) {
	var victim string
	var soonest time.Time
	seen, freed := 0, false
	for k, e := range s.entries {
		switch {
		case !now.Before(e.expires):
			delete(s.entries, k)
			freed = true
		case seen == 0 || e.expires.Before(soonest):
			victim, soonest = k, e.expires
		}
		if seen++; seen >= evictionSample {
			break
		}
	}
	if !freed {
		delete(s.entries, victim)
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
