package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"boxoffice"
)

func TestHasherHashCompare(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 2, 0, 0)
	long := strings.Repeat("é", 100) // 200 bytes, past bcrypt's 72
	tests := []struct {
		name     string
		password string
		attempt  string
		want     error
	}{
		{"match", "correct horse", "correct horse", nil},
		{"mismatch", "correct horse", "correct horsf", boxoffice.ErrInvalidCredentials},
		{"empty attempt", "correct horse", "", boxoffice.ErrInvalidCredentials},
		{"long match", long, long, nil},
		// Bcrypt alone would ignore everything past byte 72.
		{"long differs at the end", long, long[:len(long)-2] + "e", boxoffice.ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := h.Hash(t.Context(), tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if string(hash) == tt.password {
				t.Fatal("Hash returned the password")
			}
			if err := h.Compare(t.Context(), hash, tt.attempt); !errors.Is(err, tt.want) {
				t.Errorf("Compare = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHasherDefaults(t *testing.T) {
	h := NewHasher(0, 0, 0, 0)
	if h.cost != DefaultCost || cap(h.slots) < 1 || h.maxWaiting != 8*int64(cap(h.slots)) || h.maxWait != DefaultMaxWait {
		t.Errorf("defaults: cost %d, workers %d, maxWaiting %d, maxWait %v", h.cost, cap(h.slots), h.maxWaiting, h.maxWait)
	}
	if cap(h.reserved) != DefaultReservedWorkers || h.maxReservedWaiting != 8*DefaultReservedWorkers {
		t.Errorf("reserved lane: workers %d, maxWaiting %d", cap(h.reserved), h.maxReservedWaiting)
	}
	hash, err := h.Hash(t.Context(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost(hash); cost != DefaultCost {
		t.Errorf("cost = %d, want %d", cost, DefaultCost)
	}
}

func TestHasherCompareMalformedHash(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 1, 0, 0)
	err := h.Compare(t.Context(), []byte("not a hash"), "password")
	if err == nil || errors.Is(err, boxoffice.ErrInvalidCredentials) || errors.Is(err, boxoffice.ErrRateLimited) {
		t.Errorf("Compare = %v, want a plain error", err)
	}
}

// TestHasherQueueFull occupies the only worker, fills the wait queue, and
// checks that every further caller is turned away at once, while the
// waiting ones are served once the worker frees up. In a synctest bubble,
// synctest.Wait returns once the callers are parked in the queue, and "at
// once" means that no (fake) time passed.
func TestHasherQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxWaiting = 3
		h := NewHasher(bcrypt.MinCost, 1, maxWaiting, time.Hour)
		h.slots <- struct{}{} // the worker is busy
		if h.Saturated() {
			t.Fatal("Saturated with an empty queue")
		}

		var wg sync.WaitGroup
		errs := make(chan error, maxWaiting)
		for range maxWaiting {
			wg.Go(func() {
				_, err := h.Hash(context.Background(), "password")
				errs <- err
			})
		}
		synctest.Wait() // every caller waits for the worker
		if got := h.Waiting(); got != maxWaiting {
			t.Fatalf("Waiting = %d, want %d", got, maxWaiting)
		}

		if !h.Saturated() {
			t.Fatal("not Saturated with a full queue")
		}
		start := time.Now()
		const extra = 5
		for i := range extra {
			if _, err := h.Hash(t.Context(), "password"); !errors.Is(err, boxoffice.ErrRateLimited) {
				t.Fatalf("Hash #%d with a full queue = %v, want ErrRateLimited", i, err)
			}
		}
		if err := h.Compare(t.Context(), []byte("x"), "password"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("Compare with a full queue = %v, want ErrRateLimited", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("turning callers away took %v, want no wait at all", waited)
		}
		if got := h.Rejected(); got != extra+1 {
			t.Errorf("Rejected = %d, want %d", got, extra+1)
		}

		<-h.slots // the worker is free again
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("queued Hash = %v, want success", err)
			}
		}
		if got := h.Waiting(); got != 0 {
			t.Errorf("Waiting = %d after the burst, want 0", got)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("the queued callers were served after %v, want as soon as the worker was free", waited)
		}
	})
}

// TestHasherBurst fires a burst far beyond the queue at one worker with a
// slow cost: some calls succeed, the rest are rate limited, nothing else.
func TestHasherBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("slow bcrypt cost")
	}
	const burst, maxWaiting = 24, 2
	h := NewHasher(DefaultCost, 1, maxWaiting, time.Minute)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		wg.Go(func() {
			<-start
			_, err := h.Hash(context.Background(), "password")
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)

	var ok, limited int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, boxoffice.ErrRateLimited):
			limited++
		default:
			t.Errorf("Hash = %v, want nil or ErrRateLimited", err)
		}
	}
	if ok == 0 || limited == 0 {
		t.Errorf("%d succeeded and %d were rate limited, want some of each", ok, limited)
	}
	if h.Rejected() != uint64(limited) {
		t.Errorf("Rejected = %d, want %d", h.Rejected(), limited)
	}
}

func TestHasherMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(bcrypt.MinCost, 1, 1, time.Second)
		h.slots <- struct{}{}
		start := time.Now()
		_, err := h.Hash(t.Context(), "password")
		if !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("Hash = %v, want ErrRateLimited", err)
		}
		// Fake time: the wait is exactly MaxWait.
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want 1s", waited)
		}
		if h.Rejected() != 1 || h.Waiting() != 0 {
			t.Errorf("Rejected = %d, Waiting = %d, want 1, 0", h.Rejected(), h.Waiting())
		}
	})
}

func TestHasherContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(bcrypt.MinCost, 1, 1, time.Hour)
		h.slots <- struct{}{}
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		if _, err := h.Hash(ctx, "password"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("Hash = %v, want ErrRateLimited", err)
		}
		// A caller whose context already ended never takes a worker.
		<-h.slots
		if err := h.Compare(ctx, []byte("x"), "password"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("Compare with an ended context = %v, want ErrRateLimited", err)
		}
		if h.Rejected() != 2 {
			t.Errorf("Rejected = %d, want 2", h.Rejected())
		}
	})
}

// TestHasherReservedLane: with the pool's worker busy and its queue full,
// Compare is refused at once and CompareReserved is served by the lane's
// own worker; the lane's own queue bounds its callers in turn, and an idle
// pool worker serves CompareReserved too.
func TestHasherReservedLane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(bcrypt.MinCost, 1, 1, time.Hour).Reserve(1, 1)
		hash, err := h.Hash(t.Context(), "password")
		if err != nil {
			t.Fatal(err)
		}
		// An idle pool: CompareReserved may use its worker.
		h.reserved <- struct{}{}
		if err := h.CompareReserved(t.Context(), hash, "password"); err != nil {
			t.Fatalf("CompareReserved with the pool idle and the lane busy = %v", err)
		}
		<-h.reserved

		// The pool is full: its worker busy, one caller waiting.
		h.slots <- struct{}{}
		go func() { _ = h.Compare(context.Background(), hash, "password") }()
		synctest.Wait()
		if !h.Saturated() {
			t.Fatal("the pool is not saturated")
		}
		if err := h.Compare(t.Context(), hash, "password"); !errors.Is(err, boxoffice.ErrRateLimited) {
			t.Fatalf("Compare in a full pool = %v, want ErrRateLimited", err)
		}
		for _, tc := range []struct {
			password string
			want     error
		}{{"password", nil}, {"wrong", boxoffice.ErrInvalidCredentials}} {
			if err := h.CompareReserved(t.Context(), hash, tc.password); !errors.Is(err, tc.want) {
				t.Fatalf("CompareReserved(%q) in a full pool = %v, want %v", tc.password, err, tc.want)
			}
		}

		// The lane full too (its worker busy, one caller waiting): refused
		// at once; the waiting caller is served when the worker frees up.
		h.reserved <- struct{}{}
		done := make(chan error, 1)
		go func() { done <- h.CompareReserved(context.Background(), hash, "password") }()
		synctest.Wait()
		start := time.Now()
		if err := h.CompareReserved(t.Context(), hash, "password"); !errors.Is(err, boxoffice.ErrRateLimited) || time.Since(start) != 0 {
			t.Fatalf("CompareReserved in a full lane = %v after %v, want ErrRateLimited at once", err, time.Since(start))
		}
		<-h.reserved
		if err := <-done; err != nil {
			t.Fatalf("the waiting CompareReserved = %v", err)
		}
		<-h.slots
	})
}
