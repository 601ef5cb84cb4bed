package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// sweepMetrics describe the passes of the hold sweeper (the background
// work that releases expired holds).
type sweepMetrics struct {
	passes      *prometheus.CounterVec
	ok, failed  prometheus.Counter
	lastSuccess prometheus.Gauge
	interval    prometheus.Gauge
	now         func() time.Time
}

func newSweepMetrics(m *Metrics) *sweepMetrics {
	s := &sweepMetrics{
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "hold_sweeps_total",
			Help: "Passes of this instance's hold sweeper, by result: ok (every expired hold it found was released) or failed (a database call failed or ran out of time).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "hold_sweep_last_success_timestamp_seconds",
			Help: "When this instance's hold sweeper last finished a pass (Unix time; until the first, when the instance started).",
		}),
		interval: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "hold_sweep_interval_seconds",
			Help: "Time between the starts of the hold sweeper's passes.",
		}),
		now: time.Now,
	}
	s.ok = s.passes.WithLabelValues("ok")
	s.failed = s.passes.WithLabelValues("failed")
	s.lastSuccess.Set(float64(s.now().UnixNano()) / 1e9)
	m.register(s.passes, s.lastSuccess, s.interval)
	return s
}

// OnSweep records a pass of the hold sweeper; it has the signature of
// boxoffice.ServiceConfig.OnSweep.
func (m *Metrics) OnSweep(p boxoffice.SweepPass) {
	s := m.sweep
	s.interval.Set(p.Interval.Seconds())
	if p.Err != nil {
		s.failed.Inc()
		return
	}
	s.ok.Inc()
	s.lastSuccess.Set(float64(s.now().UnixNano()) / 1e9)
}
