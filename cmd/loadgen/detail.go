package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// detailReaders are the -detail-readers: closed-loop clients that read one
// event's detail page (GET /api/v1/events/{id}) without pause while the load
// runs. They have their own connections and their own recorder, so their
// latency is what an ordinary reader sees under the load, reported apart
// from it. Every method is safe on a nil *detailReaders (no readers).
type detailReaders struct {
	env  *Env       // the run's Env with the readers' own client and recorder
	urls []*url.URL // GET /api/v1/events/{id}, per target

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	start   time.Time
	elapsed time.Duration
}

// newDetailReaders returns the readers -detail-readers asks for, or nil.
func newDetailReaders(env *Env) *detailReaders {
	cfg := env.Cfg
	if cfg.DetailReaders <= 0 {
		return nil
	}
	d := &detailReaders{}
	denv := *env
	denv.Client = newHTTPClient(cfg.DetailReaders, cfg.Timeout)
	denv.Rec = newRecorder(classifyDetail)
	denv.Auth, denv.AdminAuth = nil, nil
	d.env = &denv
	for _, t := range cfg.Targets {
		d.urls = append(d.urls, endpoint(t, "/api/v1/events", cfg.DetailEvent))
	}
	return d
}

// classifyDetail: a read is right only when it answers 200.
func classifyDetail(_ string, status int, _ string) Class {
	if status == http.StatusOK {
		return ClassOK
	}
	return ClassUnexpected
}

// Prepare reads the event once on every target, so a wrong -detail-event
// fails the run before the load rather than filling the report with 404s.
func (d *detailReaders) Prepare(ctx context.Context) error {
	if d == nil {
		return nil
	}
	for _, u := range d.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		status, body, err := doJSON(d.env.Client, req)
		if err != nil {
			return fmt.Errorf("reading event %s: %w", d.env.Cfg.DetailEvent, err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("reading event %s: status %d (%s)", d.env.Cfg.DetailEvent, status, problemCode(body))
		}
	}
	return nil
}

// Start starts the readers; they stop after -duration or at Stop.
func (d *detailReaders) Start(ctx context.Context) {
	if d == nil {
		return
	}
	ctx, d.cancel = context.WithTimeout(ctx, d.env.Cfg.Duration)
	d.start = time.Now()
	for i := range d.env.Cfg.DetailReaders {
		w := newWorker(ctx, i, d.env)
		d.wg.Go(func() {
			for ctx.Err() == nil {
				w.Send("get_event", w.Request(http.MethodGet, d.urls[w.Target()], nil))
			}
		})
	}
}

// Stop cuts the readers off and waits for them.
func (d *detailReaders) Stop() {
	if d == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
	d.elapsed = time.Since(d.start)
}

// DetailReport is what the -detail-readers saw during the load.
type DetailReport struct {
	EventID      string            `json:"event_id"`
	Readers      int               `json:"readers"`
	Requests     uint64            `json:"requests"`
	RequestsPerS float64           `json:"requests_per_s"`
	OK           uint64            `json:"ok"`
	Unexpected   uint64            `json:"unexpected"`
	Aborted      uint64            `json:"aborted"`
	Latency      LatencySummary    `json:"latency"`
	ByStatus     map[string]uint64 `json:"by_status"`
	ByCode       map[string]uint64 `json:"by_code,omitempty"`
}

// Report summarizes the readers' answers; nil when there were no readers.
func (d *detailReaders) Report() *DetailReport {
	if d == nil {
		return nil
	}
	rec := d.env.Rec
	r := &DetailReport{
		EventID: d.env.Cfg.DetailEvent, Readers: d.env.Cfg.DetailReaders,
		OK: rec.Count(ClassOK), Unexpected: rec.Count(ClassUnexpected), Aborted: rec.aborted.Load(),
		Latency:  rec.all.Snapshot().Summary(),
		ByStatus: map[string]uint64{}, ByCode: map[string]uint64{},
	}
	r.Requests = rec.Total()
	if secs := d.elapsed.Seconds(); secs > 0 {
		r.RequestsPerS = round3(float64(r.Requests) / secs)
	}
	rec.outcomes.Range(func(k, v any) bool {
		key, n := k.(outcomeKey), v.(*outcome).n.Load()
		if key.Status != 0 {
			r.ByStatus[strconv.Itoa(key.Status)] += n
		}
		if key.Code != "" {
			r.ByCode[key.Code] += n
		}
		return true
	})
	return r
}

// formatDetail prints the readers' report in the summary's style.
func formatDetail(r *DetailReport) []string {
	lines := []string{
		fmt.Sprintf("detail   GET /api/v1/events/%s by %d readers: %d answers (%.1f/s)   ok %d   unexpected %d   aborted at end %d",
			r.EventID, r.Readers, r.Requests, r.RequestsPerS, r.OK, r.Unexpected, r.Aborted),
		"  latency  " + formatLatency(r.Latency),
		"  status   " + formatCounts(r.ByStatus),
	}
	if len(r.ByCode) > 0 {
		lines = append(lines, "  codes    "+formatCounts(r.ByCode))
	}
	return lines
}
