package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// holdMetrics describe the hold path and the reservation lifecycle.
type holdMetrics struct {
	requests      *prometheus.CounterVec
	granted       prometheus.Counter
	soldOut       prometheus.Counter
	limitExceeded prometheus.Counter
	keyReused     prometheus.Counter
	failed        prometheus.Counter

	lifecycle                              *prometheus.CounterVec
	created, confirmed, cancelled, expired prometheus.Counter

	batchSize     prometheus.Histogram
	batchDuration prometheus.Histogram
}

func newHoldMetrics(m *Metrics) holdMetrics {
	h := holdMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "hold_requests_total",
			Help: "Hold requests decided by the group-commit engine, by result: granted, sold_out, limit_exceeded, key_reused, or failed (the batch's transaction failed).",
		}, []string{"result"}),
		lifecycle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "holds_total",
			Help: "Reservation lifecycle steps committed by this instance: created (a hold), confirmed, cancelled, expired (released by the expiry sweep).",
		}, []string{"step"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "hold_batch_size",
			Help:    "Hold requests decided in one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
		}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "hold_batch_duration_seconds",
			Help:    "Time of one group-commit hold transaction (Store.CreateHolds).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}),
	}
	h.granted = h.requests.WithLabelValues("granted")
	h.soldOut = h.requests.WithLabelValues("sold_out")
	h.limitExceeded = h.requests.WithLabelValues("limit_exceeded")
	h.keyReused = h.requests.WithLabelValues("key_reused")
	h.failed = h.requests.WithLabelValues("failed")
	h.created = h.lifecycle.WithLabelValues("created")
	h.confirmed = h.lifecycle.WithLabelValues("confirmed")
	h.cancelled = h.lifecycle.WithLabelValues("cancelled")
	h.expired = h.lifecycle.WithLabelValues("expired")
	m.register(h.requests, h.lifecycle, h.batchSize, h.batchDuration)
	return h
}

// Store returns s decorated to count the hold path: each group-commit batch
// (its size, its time and each request's verdict), confirmations,
// cancellations and expiries. Every other method goes straight to s.
func (m *Metrics) Store(s boxoffice.Store) boxoffice.Store {
	return &store{Store: s, h: &m.holds}
}

// store is the counting decorator of a boxoffice.Store.
type store struct {
	boxoffice.Store
	h *holdMetrics
}

// CreateHolds decides the batch and counts it.
func (s *store) CreateHolds(ctx context.Context, tierID string, reqs []*boxoffice.HoldRequest) error {
	start := time.Now()
	err := s.Store.CreateHolds(ctx, tierID, reqs)
	s.h.batchDuration.Observe(time.Since(start).Seconds())
	s.h.batchSize.Observe(float64(len(reqs)))
	if err != nil {
		s.h.failed.Add(float64(len(reqs)))
		return err
	}
	var granted, soldOut, limit, reused int
	for _, r := range reqs {
		switch {
		case r.Err == nil:
			granted++
		case errors.Is(r.Err, boxoffice.ErrSoldOut):
			soldOut++
		case errors.Is(r.Err, boxoffice.ErrLimitExceeded):
			limit++
		case errors.Is(r.Err, boxoffice.ErrIdempotencyKeyReused):
			reused++
		}
	}
	add := func(c prometheus.Counter, n int) {
		if n > 0 {
			c.Add(float64(n))
		}
	}
	add(s.h.granted, granted)
	add(s.h.created, granted)
	add(s.h.soldOut, soldOut)
	add(s.h.limitExceeded, limit)
	add(s.h.keyReused, reused)
	return nil
}

// Confirm confirms and counts a confirmation that happened now (not the
// replay of an earlier one).
func (s *store) Confirm(ctx context.Context, id string, now time.Time, charge func(context.Context, *boxoffice.Reservation) error, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	r, err := s.Store.Confirm(ctx, id, now, charge, idem)
	if err == nil && r.ConfirmedAt != nil && r.ConfirmedAt.Equal(now) {
		s.h.confirmed.Inc()
	}
	return r, err
}

// Cancel cancels and counts.
func (s *store) Cancel(ctx context.Context, id string, now, refundableUntil time.Time, idem *boxoffice.Idempotency) (*boxoffice.Reservation, error) {
	r, err := s.Store.Cancel(ctx, id, now, refundableUntil, idem)
	if err == nil {
		s.h.cancelled.Inc()
	}
	return r, err
}

// ExpireHolds expires and counts.
func (s *store) ExpireHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := s.Store.ExpireHolds(ctx, now, limit)
	if n > 0 {
		s.h.expired.Add(float64(n))
	}
	return n, err
}
