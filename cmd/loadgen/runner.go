package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// schedulerTick bounds how late the open model's scheduler may dispatch an
// arrival: it wakes at least this often and hands out every arrival due.
const schedulerTick = time.Millisecond

// runLoad drives sc for cfg.Duration (a hard bound: in-flight requests are
// cancelled then) in the open or the closed model, printing a progress
// line every second unless quiet. It returns how long the load ran.
func runLoad(ctx context.Context, env *Env, sc Scenario) time.Duration {
	cfg := env.Cfg
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	if f, ok := sc.(finisher); ok {
		go func() {
			select {
			case <-f.Finished():
				cancel()
			case <-loadCtx.Done():
			}
		}()
	}
	prof := profile{constant: cfg.Rate, stages: cfg.Stages}
	if !cfg.Open && cfg.Stages == nil {
		prof.constant = float64(cfg.VUs)
	}

	start := time.Now()
	var wg sync.WaitGroup
	progressDone := make(chan struct{})
	if !cfg.Quiet {
		go func() {
			defer close(progressDone)
			progress(loadCtx, env, prof, start)
		}()
	} else {
		close(progressDone)
	}

	if cfg.Open {
		// An arrival starts only if a worker is free right now, else it
		// is dropped: arrivals never queue, so a slow server cannot
		// slow them down.
		//
		// busy counts workers given an arrival and not yet done with it;
		// the scheduler raises it on a successful hand-off, so when it is
		// below the pool size a worker is free and at most a moment away
		// from taking the next arrival (it may not be parked on the
		// channel yet): then the scheduler waits for it rather than
		// drop an arrival a free worker could have taken.
		arrivals := make(chan struct{})
		var busy atomic.Int64
		for i := range cfg.Workers {
			w := newWorker(loadCtx, i, env)
			wg.Go(func() {
				for {
					select {
					case <-loadCtx.Done():
						return
					case <-arrivals:
						sc.Iterate(loadCtx, w)
						busy.Add(-1)
					}
				}
			})
		}
		var issued int64
		timer := time.NewTimer(schedulerTick)
		defer timer.Stop()
	schedule:
		for {
			due := int64(prof.arrivals(time.Since(start)))
			for ; issued < due; issued++ {
				if busy.Load() >= int64(cfg.Workers) {
					env.Rec.Drop()
					continue
				}
				select {
				case arrivals <- struct{}{}:
					busy.Add(1)
				case <-loadCtx.Done():
					break schedule
				}
			}
			timer.Reset(schedulerTick)
			select {
			case <-loadCtx.Done():
				break schedule
			case <-timer.C:
			}
		}
	} else {
		vus := cfg.VUs
		if cfg.Stages != nil {
			for _, s := range cfg.Stages {
				vus = max(vus, int(s.Target+0.5))
			}
		}
		for i := range vus {
			w := newWorker(loadCtx, i, env)
			wg.Go(func() {
				for loadCtx.Err() == nil {
					// With stages, VU i runs only while the profile
					// asks for more than i users.
					if cfg.Stages != nil && float64(i) >= prof.at(time.Since(start)) {
						select {
						case <-loadCtx.Done():
						case <-time.After(10 * time.Millisecond):
						}
						continue
					}
					sc.Iterate(loadCtx, w)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	<-progressDone
	return elapsed
}

// progress prints one line a second: the second's answers per second,
// their latency percentiles, cumulative classes and drops.
func progress(ctx context.Context, env *Env, prof profile, start time.Time) {
	rec := env.Rec
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev := rec.all.Snapshot()
	var prevDropped uint64
	prevT := start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			cur := rec.all.Snapshot()
			d := cur.Sub(prev)
			dt := now.Sub(prevT).Seconds()
			dropped := rec.dropped.Load()
			target := prof.at(now.Sub(start))
			unit := "rate"
			if !env.Cfg.Open {
				unit = "vus"
			}
			env.Logf("%5.0fs %s=%-7.0f done=%7.0f/s p50=%7.2fms p99=%8.2fms inflight=%-4d ok=%d expected=%d unexpected=%d aborted=%d dropped=%d (+%d)",
				now.Sub(start).Seconds(), unit, target, float64(d.Total)/dt, d.Quantile(0.5)/1000, d.Quantile(0.99)/1000,
				rec.inflight.Load(), rec.Count(ClassOK), rec.Count(ClassExpected), rec.Count(ClassUnexpected),
				rec.aborted.Load(), dropped, dropped-prevDropped)
			prev, prevT, prevDropped = cur, now, dropped
		}
	}
}

// describeModel says in words how the load was shaped.
func describeModel(cfg *config) string {
	switch {
	case cfg.Open && cfg.Stages != nil:
		return fmt.Sprintf("open model, stages %s, %d workers", formatStages(cfg.Stages), cfg.Workers)
	case cfg.Open:
		return fmt.Sprintf("open model, %.0f arrivals/s, %d workers", cfg.Rate, cfg.Workers)
	case cfg.Stages != nil:
		return fmt.Sprintf("closed model, VU stages %s", formatStages(cfg.Stages))
	default:
		return fmt.Sprintf("closed model, %d VUs", cfg.VUs)
	}
}

// formatStages prints stages the way -stages takes them.
func formatStages(st []stage) string {
	s := ""
	for i, x := range st {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s:%g", x.Duration, x.Target)
	}
	return s
}
