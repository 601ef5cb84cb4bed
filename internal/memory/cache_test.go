package memory

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCacheGetSetDelete(t *testing.T) {
	c := NewCache(100)
	ctx := t.Context()
	if v, ok := c.Get(ctx, "a"); ok {
		t.Fatalf("Get on empty cache = %q, true", v)
	}
	c.Set(ctx, "a", []byte("one"), time.Minute)
	c.Set(ctx, "b", []byte("two"), time.Minute)
	c.Set(ctx, "empty", nil, time.Minute)
	c.Set(ctx, "a", []byte("uno"), time.Minute)

	for key, want := range map[string]string{"a": "uno", "b": "two", "empty": ""} {
		got, ok := c.Get(ctx, key)
		if !ok || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q, true", key, got, ok, want)
		}
	}
	c.Delete(ctx, "a", "missing", "empty")
	for key, want := range map[string]bool{"a": false, "b": true, "empty": false} {
		if _, ok := c.Get(ctx, key); ok != want {
			t.Errorf("after Delete, Get(%q) found = %v, want %v", key, ok, want)
		}
	}
	c.Set(ctx, "b", []byte("x"), 0)
	if _, ok := c.Get(ctx, "b"); ok {
		t.Error("Set with ttl 0 left the key")
	}
}

func TestCacheCopiesValues(t *testing.T) {
	c := NewCache(10)
	ctx := t.Context()
	in := []byte("hello")
	c.Set(ctx, "k", in, time.Minute)
	in[0] = 'J'
	out, _ := c.Get(ctx, "k")
	out[1] = 'a'
	got, _ := c.Get(ctx, "k")
	if string(got) != "hello" {
		t.Errorf("stored value changed through a caller's slice: %q", got)
	}
}

func TestCacheExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Room for both entries in any shard: with a small bound, two keys
		// that hash to the same one-entry shard would evict each other.
		c := NewCache(1000)
		ctx := t.Context()
		c.Set(ctx, "short", []byte("s"), time.Second)
		c.Set(ctx, "long", []byte("l"), time.Minute)

		time.Sleep(999 * time.Millisecond)
		if _, ok := c.Get(ctx, "short"); !ok {
			t.Error("short entry gone before its ttl")
		}
		time.Sleep(time.Millisecond)
		if _, ok := c.Get(ctx, "short"); ok {
			t.Error("short entry still there at its ttl")
		}
		if _, ok := c.Get(ctx, "long"); !ok {
			t.Error("long entry gone early")
		}
		// Setting again revives it with a new ttl.
		c.Set(ctx, "short", []byte("s2"), time.Second)
		if got, ok := c.Get(ctx, "short"); !ok || string(got) != "s2" {
			t.Errorf("Get after re-Set = %q, %v", got, ok)
		}
		time.Sleep(time.Minute)
		if _, ok := c.Get(ctx, "long"); ok {
			t.Error("long entry still there after its ttl")
		}
	})
}

func TestCacheBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max = 40
		c := NewCache(max)
		ctx := t.Context()
		for i := range 10 * max {
			c.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Hour)
			if n := c.Len(); n > max {
				t.Fatalf("after %d sets the cache holds %d entries, more than %d", i+1, n, max)
			}
		}
		if n := c.Len(); n != max {
			t.Errorf("full cache holds %d entries, want %d", n, max)
		}
		// The latest entry always survives its own Set.
		if _, ok := c.Get(ctx, fmt.Sprint("k", 10*max-1)); !ok {
			t.Error("the entry just set was evicted")
		}
	})
}

// TestCacheEvictionOrder fills one shard and checks which entry makes room
// for a new one: an expired entry first, else the one that expires soonest.
func TestCacheEvictionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCache(2 * numShards) // two entries per shard
		ctx := t.Context()
		keys := sameShardKeys(c, "live", 3)
		expired, new1, new2 := keys[0], keys[1], keys[2]

		c.Set(ctx, "live", []byte("v"), 10*time.Second)
		c.Set(ctx, expired, []byte("v"), time.Second)
		time.Sleep(time.Second)

		c.Set(ctx, new1, []byte("v"), time.Hour)
		if _, ok := c.Get(ctx, "live"); !ok {
			t.Fatal("a live entry was evicted while an expired one was left")
		}
		if n := len(c.shard("live").entries); n != 2 {
			t.Fatalf("shard holds %d entries, want 2", n)
		}

		c.Set(ctx, new2, []byte("v"), time.Hour)
		if _, ok := c.Get(ctx, "live"); ok {
			t.Error("the entry closest to expiry was not the one evicted")
		}
		for _, k := range []string{new1, new2} {
			if _, ok := c.Get(ctx, k); !ok {
				t.Errorf("%s was evicted instead of the entry closest to expiry", k)
			}
		}
	})
}

// sameShardKeys returns n keys other than key that land in key's shard.
func sameShardKeys(c *Cache, key string, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprint("k", i)
		if c.shard(k) == c.shard(key) {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestCacheSmallBound(t *testing.T) {
	c := NewCache(3)
	ctx := t.Context()
	for i := range 20 {
		c.Set(ctx, fmt.Sprint(i), []byte{byte(i)}, time.Hour)
	}
	if n := c.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	if got := NewCache(0); len(got.shards) != numShards || got.shards[0].max*numShards != DefaultMaxEntries {
		t.Errorf("NewCache(0): %d shards of %d", len(got.shards), got.shards[0].max)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(64)
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint(i % 100)
				switch i % 3 {
				case 0:
					c.Set(ctx, key, []byte{byte(g)}, time.Minute)
				case 1:
					if v, ok := c.Get(ctx, key); ok && len(v) != 1 {
						t.Errorf("Get(%q) = %v", key, v)
					}
				case 2:
					c.Delete(ctx, key)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Errorf("Len = %d, more than 64", n)
	}
}

func TestCacheGetReturnsEqualValue(t *testing.T) {
	c := NewCache(4)
	want := []byte(`{"id":"E1","title":"Show"}`)
	c.Set(t.Context(), "event:E1", want, time.Minute)
	got, _ := c.Get(t.Context(), "event:E1")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("value mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := NewCache(10_000)
	ctx := b.Context()
	value := make([]byte, 2048)
	for i := range 1000 {
		c.Set(ctx, fmt.Sprint("event:", i), value, time.Hour)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get(ctx, fmt.Sprint("event:", i%1000))
			i++
		}
	})
}
