package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUsage is the process's CPU time so far.
type cpuUsage struct {
	User, Sys time.Duration
	MaxRSSKB  int64
}

// cpuTime reads the generator's own CPU time (getrusage RUSAGE_SELF).
func cpuTime() cpuUsage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuUsage{}
	}
	return cpuUsage{
		User:     time.Duration(ru.Utime.Nano()),
		Sys:      time.Duration(ru.Stime.Nano()),
		MaxRSSKB: int64(ru.Maxrss),
	}
}

// Sub returns the CPU spent between earlier and u.
func (u cpuUsage) Sub(earlier cpuUsage) cpuUsage {
	return cpuUsage{User: u.User - earlier.User, Sys: u.Sys - earlier.Sys, MaxRSSKB: u.MaxRSSKB}
}

// Report is the result of a run, printed as a summary and written as JSON.
type Report struct {
	Scenario  string    `json:"scenario"`
	Model     string    `json:"model"`
	Targets   []string  `json:"targets,omitempty"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`

	// Requests counts answers (transport errors included); aborted and
	// dropped requests are not answers.
	Requests      uint64  `json:"requests"`
	RequestsPerS  float64 `json:"requests_per_s"`
	OKPerS        float64 `json:"ok_per_s"`
	OK            uint64  `json:"ok"`
	Expected      uint64  `json:"expected"`
	Unexpected    uint64  `json:"unexpected"`
	Aborted       uint64  `json:"aborted"`
	DroppedOrLate uint64  `json:"dropped_or_late"`

	Latency  LatencySummary            `json:"latency"`
	Ops      map[string]LatencySummary `json:"ops"`
	ByStatus map[string]uint64         `json:"by_status"`
	ByCode   map[string]uint64         `json:"by_code"`
	Outcomes []OutcomeReport           `json:"outcomes"`

	Generator GeneratorReport `json:"generator"`
	Check     *CheckReport    `json:"check,omitempty"`
	// DetailReads is what the -detail-readers saw, when there were any.
	DetailReads *DetailReport `json:"detail_reads,omitempty"`
}

// OutcomeReport is one kind of answer and how often it came.
type OutcomeReport struct {
	Op      string   `json:"op"`
	Status  int      `json:"status"`
	Code    string   `json:"code,omitempty"`
	Class   string   `json:"class"`
	Count   uint64   `json:"count"`
	Samples []string `json:"samples,omitempty"`
}

// GeneratorReport is what the load generator itself cost.
type GeneratorReport struct {
	CPUUserS        float64 `json:"cpu_user_s"`
	CPUSysS         float64 `json:"cpu_sys_s"`
	CPUPercent      float64 `json:"cpu_percent_of_one_core"`
	CPUPerRequestUS float64 `json:"cpu_us_per_request"`
	MaxRSSMB        float64 `json:"max_rss_mb"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
	Workers         int     `json:"workers"`
}

// buildReport gathers the recorder's counts into a Report.
func buildReport(cfg *config, env *Env, startedAt time.Time, elapsed time.Duration, cpu cpuUsage, check *CheckReport) *Report {
	rec := env.Rec
	secs := elapsed.Seconds()
	r := &Report{
		Scenario: cfg.Scenario, Model: describeModel(cfg), StartedAt: startedAt.UTC(), DurationS: round3(secs),
		OK: rec.Count(ClassOK), Expected: rec.Count(ClassExpected), Unexpected: rec.Count(ClassUnexpected),
		Aborted: rec.aborted.Load(), DroppedOrLate: rec.dropped.Load(),
		Latency:  rec.all.Snapshot().Summary(),
		Ops:      map[string]LatencySummary{},
		ByStatus: map[string]uint64{}, ByCode: map[string]uint64{},
		Check: check,
	}
	for _, u := range cfg.Targets {
		r.Targets = append(r.Targets, u.String())
	}
	r.Requests = r.OK + r.Expected + r.Unexpected
	r.RequestsPerS = round3(float64(r.Requests) / secs)
	r.OKPerS = round3(float64(r.OK) / secs)
	rec.ops.Range(func(k, v any) bool {
		r.Ops[k.(string)] = v.(*Histogram).Snapshot().Summary()
		return true
	})
	rec.outcomes.Range(func(k, v any) bool {
		key, o := k.(outcomeKey), v.(*outcome)
		n := o.n.Load()
		o.mu.Lock()
		samples := slices.Clone(o.samples)
		o.mu.Unlock()
		r.Outcomes = append(r.Outcomes, OutcomeReport{Op: key.Op, Status: key.Status, Code: key.Code, Class: o.class.String(), Count: n, Samples: samples})
		if key.Status != 0 {
			r.ByStatus[strconv.Itoa(key.Status)] += n
		}
		if key.Code != "" {
			r.ByCode[key.Code] += n
		}
		return true
	})
	slices.SortFunc(r.Outcomes, func(a, b OutcomeReport) int {
		return cmp.Or(cmp.Compare(a.Op, b.Op), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Code, b.Code))
	})
	workers := cfg.Workers
	if !cfg.Open {
		workers = cfg.VUs
	}
	r.Generator = GeneratorReport{
		CPUUserS:   round3(cpu.User.Seconds()),
		CPUSysS:    round3(cpu.Sys.Seconds()),
		CPUPercent: round3(100 * (cpu.User + cpu.Sys).Seconds() / secs),
		MaxRSSMB:   round3(float64(cpu.MaxRSSKB) / 1024),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Workers:    workers,
	}
	if n := r.Requests + r.Aborted; n > 0 {
		r.Generator.CPUPerRequestUS = round3(float64((cpu.User + cpu.Sys).Microseconds()) / float64(n))
	}
	return r
}

// round3 rounds to three decimals, for readable JSON.
func round3(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}

// writeSummary prints the human summary.
func writeSummary(w io.Writer, r *Report) {
	fmt.Fprintf(w, "scenario %s — %s — %.1fs\n", r.Scenario, r.Model, r.DurationS)
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "targets  %s\n", strings.Join(r.Targets, ", "))
	}
	fmt.Fprintf(w, "answers  %d (%.1f/s)   ok %d (%.1f/s)   expected %d   unexpected %d   aborted at end %d   dropped/late %d\n",
		r.Requests, r.RequestsPerS, r.OK, r.OKPerS, r.Expected, r.Unexpected, r.Aborted, r.DroppedOrLate)
	fmt.Fprintf(w, "latency  %s\n", formatLatency(r.Latency))
	if len(r.Ops) > 1 {
		for _, op := range slices.Sorted(maps.Keys(r.Ops)) {
			fmt.Fprintf(w, "  %-14s %s\n", op, formatLatency(r.Ops[op]))
		}
	}
	if len(r.ByStatus) > 0 {
		fmt.Fprintf(w, "status   %s\n", formatCounts(r.ByStatus))
	}
	if len(r.ByCode) > 0 {
		fmt.Fprintf(w, "codes    %s\n", formatCounts(r.ByCode))
	}
	fmt.Fprintln(w, "outcomes")
	for _, o := range r.Outcomes {
		fmt.Fprintf(w, "  %-10s %-10s %3d %-28s %d\n", o.Class, o.Op, o.Status, o.Code, o.Count)
	}
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "UNEXPECTED %d answers:\n", r.Unexpected)
		for _, o := range r.Outcomes {
			if o.Class != ClassUnexpected.String() {
				continue
			}
			fmt.Fprintf(w, "  %s status=%d code=%s count=%d\n", o.Op, o.Status, o.Code, o.Count)
			for _, s := range o.Samples {
				fmt.Fprintf(w, "    sample: %s\n", strings.TrimSpace(s))
			}
		}
	}
	if r.DetailReads != nil {
		for _, l := range formatDetail(r.DetailReads) {
			fmt.Fprintln(w, l)
		}
	}
	g := r.Generator
	fmt.Fprintf(w, "loadgen  cpu %.2fs user + %.2fs sys = %.0f%% of one core, %.1f µs/request, max RSS %.0f MB, %d workers, GOMAXPROCS %d\n",
		g.CPUUserS, g.CPUSysS, g.CPUPercent, g.CPUPerRequestUS, g.MaxRSSMB, g.Workers, g.GOMAXPROCS)
	if c := r.Check; c != nil {
		verdict := "OK"
		switch {
		case c.Inconclusive:
			verdict = "INCONCLUSIVE"
		case !c.OK:
			verdict = "VIOLATED"
		}
		fmt.Fprintf(w, "invariants %s\n", verdict)
		for _, l := range c.Lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// formatLatency prints a latency summary on one line.
func formatLatency(l LatencySummary) string {
	return fmt.Sprintf("n=%d mean=%.2fms p50=%.2fms p90=%.2fms p95=%.2fms p99=%.2fms p99.9=%.2fms max=%.2fms",
		l.Count, l.Mean, l.P50, l.P90, l.P95, l.P99, l.P999, l.Max)
}

// formatCounts prints counts sorted by key.
func formatCounts(m map[string]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// writeJSON writes the report to path.
func writeJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
