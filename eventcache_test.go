package boxoffice

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// slowEvents is a Store whose Event reads block until release closes.
type slowEvents struct {
	Store
	reads   atomic.Int32
	release chan struct{}
}

func (s *slowEvents) Event(ctx context.Context, id string) (*Event, error) {
	s.reads.Add(1)
	<-s.release
	return &Event{ID: id}, nil
}

// A stampede on an expired entry reads the store once; the entry then
// serves until eventRulesTTL has passed.
func TestEventCacheLoadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &slowEvents{release: make(chan struct{})}
		var c eventCache
		c.entries = map[string]eventEntry{}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				e, err := c.load(context.Background(), store, "E1")
				if err != nil || e.ID != "E1" {
					t.Errorf("load = %v, %v", e, err)
				}
			})
		}
		synctest.Wait()
		if n := store.reads.Load(); n != 1 {
			t.Fatalf("%d store reads while loading, want 1", n)
		}
		close(store.release)
		wg.Wait()

		if _, err := c.load(context.Background(), store, "E1"); err != nil || store.reads.Load() != 1 {
			t.Fatalf("fresh entry not served from the cache (reads %d, err %v)", store.reads.Load(), err)
		}
		// On the bubble's fake clock the entry's age is exact: it serves
		// for all of eventRulesTTL and not a nanosecond longer.
		time.Sleep(eventRulesTTL)
		if _, err := c.load(context.Background(), store, "E1"); err != nil || store.reads.Load() != 1 {
			t.Fatalf("entry not served for all of eventRulesTTL (reads %d, err %v)", store.reads.Load(), err)
		}
		time.Sleep(time.Nanosecond)
		if _, err := c.load(context.Background(), store, "E1"); err != nil || store.reads.Load() != 2 {
			t.Fatalf("expired entry not reloaded (reads %d, err %v)", store.reads.Load(), err)
		}
	})
}

// A caller that gives up while another loads gets its context's error; the
// load still completes for the others.
func TestEventCacheWaiterCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &slowEvents{release: make(chan struct{})}
		var c eventCache
		c.entries = map[string]eventEntry{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := c.load(context.Background(), store, "E1"); err != nil {
				t.Errorf("first load: %v", err)
			}
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.load(ctx, store, "E1"); err != context.Canceled {
			t.Fatalf("cancelled waiter: err %v", err)
		}
		close(store.release)
		<-done
		if store.reads.Load() != 1 {
			t.Fatalf("reads %d", store.reads.Load())
		}
	})
}
