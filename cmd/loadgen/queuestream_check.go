package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"
)

// procSample is what /proc says about a process at one moment.
type procSample struct {
	At    time.Time
	RSSKB int64
	CPU   time.Duration // user + system
	FDs   int           // open files; 0 when not counted
}

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux Go supports).
const clockTick = 10 * time.Millisecond

// readProc samples process pid (0: this process) from /proc; countFDs also
// counts its open files, which takes a moment with many.
func readProc(pid int, countFDs bool) (procSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := procSample{At: time.Now()}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	s.RSSKB = procStatusKB(status, "VmRSS")
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	s.CPU = procStatCPU(stat)
	if countFDs {
		if ents, err := os.ReadDir(dir + "/fd"); err == nil {
			s.FDs = len(ents)
		}
	}
	return s, nil
}

// procStatusKB returns the value in kB of a /proc/<pid>/status field.
func procStatusKB(status []byte, field string) int64 {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(name) != field {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		return n
	}
	return 0
}

// procStatCPU returns utime + stime from /proc/<pid>/stat (fields 14 and
// 15; the command name in field 2 may hold spaces, so count after ')').
func procStatCPU(stat []byte) time.Duration {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(string(f[11]), 10, 64)
	s, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return time.Duration(u+s) * clockTick
}

// readFDLimit returns the soft limit on open files of process pid, 0 when
// unknown.
func readFDLimit(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Max open files")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(string(f[0]))
				return n
			}
		}
	}
	return 0
}

// update is one tick's status change as a client received it.
type update struct {
	at   int64 // unix ns
	user int32
}

// fanoutReport is the fan-out latency of the admission ticks.
type fanoutReport struct {
	// Ticks counts the ticks that started after every stream was open.
	Ticks int `json:"ticks"`
	// ClientsPerTick is the smallest, median and largest number of
	// clients updated in one tick.
	ClientsPerTick [3]int `json:"clients_per_tick_min_median_max"`
	// Delay is the delay of each client's update after its tick's first
	// update, over all ticks.
	Delay LatencySummary `json:"delay"`
	// WorstTickP99 is the worst p99 of a single tick, in ms.
	WorstTickP99 float64 `json:"worst_tick_p99_ms"`
	// SpreadP50 and SpreadMax are the time from a tick's first to its
	// last update (median and max over the ticks), in ms.
	SpreadP50 float64 `json:"spread_p50_ms"`
	SpreadMax float64 `json:"spread_max_ms"`
	// Repeats counts clients updated twice in one tick: with gap
	// grouping a new tick starts there; with windows it means a tick
	// spilled into the next window.
	Repeats int `json:"repeats"`
	// QuietGap is, for windows, the longest stretch of the period in
	// which no update ever arrived, in ms; windows start in its middle.
	QuietGap float64 `json:"quiet_gap_ms,omitempty"`
}

// tickStats gathers the delays of the ticks into a fanoutReport.
type tickStats struct {
	rep     fanoutReport
	all     Histogram
	sizes   []int
	spreads []float64
}

// add measures one tick; delays (ns after its first update) are sorted in
// place.
func (s *tickStats) add(delays []int64) {
	if len(delays) == 0 {
		return
	}
	s.rep.Ticks++
	s.sizes = append(s.sizes, len(delays))
	slices.Sort(delays)
	for _, d := range delays {
		s.all.Record(time.Duration(d))
	}
	p99 := delays[max(0, int(math.Ceil(0.99*float64(len(delays))))-1)]
	s.rep.WorstTickP99 = max(s.rep.WorstTickP99, msOf(p99))
	s.spreads = append(s.spreads, msOf(delays[len(delays)-1]))
}

// report returns the summary of every tick added.
func (s *tickStats) report() fanoutReport {
	rep := s.rep
	rep.Delay = s.all.Snapshot().Summary()
	if len(s.sizes) > 0 {
		slices.Sort(s.sizes)
		rep.ClientsPerTick = [3]int{s.sizes[0], s.sizes[len(s.sizes)/2], s.sizes[len(s.sizes)-1]}
		slices.Sort(s.spreads)
		rep.SpreadP50, rep.SpreadMax = s.spreads[len(s.spreads)/2], s.spreads[len(s.spreads)-1]
	}
	return rep
}

// sortUpdates sorts updates by arrival.
func sortUpdates(ups []update) {
	slices.SortFunc(ups, func(a, b update) int { return cmp.Compare(a.at, b.at) })
}

// analyzeFanout groups updates into admission ticks by pauses and measures
// them. Sorted by arrival, a new tick starts after a pause longer than gap,
// or when a client already updated in the current tick gets another update
// (the ticks ran into each other). Only ticks starting at or after from
// (unix ns; when every stream was open) count. A pause inside one tick's
// fan-out splits it, which understates its delays; analyzeWindows does not.
func analyzeFanout(ups []update, from int64, gap time.Duration) fanoutReport {
	sortUpdates(ups)
	var (
		st      tickStats
		delays  []int64
		seen    = map[int32]bool{}
		start   int64
		counted bool
	)
	for i, u := range ups {
		newTick := i == 0 || time.Duration(u.at-ups[i-1].at) > gap
		if !newTick && seen[u.user] {
			newTick = true
			st.rep.Repeats++
		}
		if newTick {
			if counted {
				st.add(delays)
			}
			start, counted, delays = u.at, u.at >= from, delays[:0]
			clear(seen)
		}
		seen[u.user] = true
		if counted {
			delays = append(delays, u.at-start)
		}
	}
	if counted {
		st.add(delays)
	}
	return st.report()
}

// analyzeWindows groups updates into the server's stream rounds, which
// start every period at a fixed phase (the watcher's ticker), and measures
// them. The phase is found from the updates themselves: taken modulo the
// period, their arrival times leave a stretch in which none ever arrives,
// and each window starts in the middle of it. A tick's fan-out thus stays
// in one window even with pauses inside it, as long as it takes less than
// the period. Only windows starting at or after from count.
func analyzeWindows(ups []update, from int64, period time.Duration) fanoutReport {
	p := int64(period)
	var steady []update
	for _, u := range ups {
		if u.at >= from {
			steady = append(steady, u)
		}
	}
	if len(steady) == 0 || p <= 0 {
		return fanoutReport{}
	}
	sortUpdates(steady)
	rs := make([]int64, len(steady))
	for i, u := range steady {
		rs[i] = u.at % p
	}
	slices.Sort(rs)
	gap, end := rs[0]+p-rs[len(rs)-1], rs[0] // the gap across the period's end
	for j := 1; j < len(rs); j++ {
		if d := rs[j] - rs[j-1]; d > gap {
			gap, end = d, rs[j]
		}
	}
	b := ((end-gap/2)%p + p) % p // window k is [b + k·p, b + (k+1)·p)
	var (
		st     tickStats
		delays []int64
		seen   = map[int32]bool{}
		cur    = int64(math.MinInt64)
		first  int64
		valid  bool
	)
	for _, u := range steady {
		k := (u.at - b) / p // arrival times are positive and > b
		if k != cur {
			if valid {
				st.add(delays)
			}
			cur, first, delays = k, u.at, delays[:0]
			valid = b+k*p >= from
			clear(seen)
		}
		if seen[u.user] {
			st.rep.Repeats++
		}
		seen[u.user] = true
		if valid {
			delays = append(delays, u.at-first)
		}
	}
	if valid {
		st.add(delays)
	}
	rep := st.report()
	rep.QuietGap = msOf(gap)
	return rep
}

// msOf converts nanoseconds to milliseconds, rounded to µs.
func msOf(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// streamReport is the queue-stream scenario's result, in the JSON report
// as check.details.
type streamReport struct {
	Streams     int            `json:"streams_wanted"`
	Joined      int            `json:"joined"`
	JoinFailed  int            `json:"join_failed"`
	JoinS       float64        `json:"join_s"`
	JoinLatency LatencySummary `json:"join_latency"`
	Opened      int64          `json:"streams_opened"`
	Attempts    int64          `json:"stream_attempts"`
	Failed      int64          `json:"stream_attempts_failed"`
	EndedEarly  int64          `json:"streams_ended_early"`
	AllOpenS    float64        `json:"all_open_after_s,omitempty"`
	SteadyS     float64        `json:"steady_s,omitempty"`
	Events      int            `json:"status_events"`
	Initial     int            `json:"initial_events"`
	Updates     int            `json:"updates"`
	Final       map[string]int `json:"final_statuses"`
	Fanout      fanoutReport   `json:"fanout"`
	ByPause     fanoutReport   `json:"fanout_grouped_by_pause"`
	Server      *serverReport  `json:"server,omitempty"`
	GenRSSMB    float64        `json:"generator_rss_all_open_mb"`
}

// serverReport is the server's memory and CPU around the streams.
type serverReport struct {
	RSSBeforeMB      float64 `json:"rss_before_joins_mb"`
	RSSAfterJoinsMB  float64 `json:"rss_after_joins_mb"`
	RSSAllOpenMB     float64 `json:"rss_all_open_mb"`
	RSSPeakMB        float64 `json:"rss_peak_mb"`
	KBPerClient      float64 `json:"kb_per_waiting_client"`
	KBPerStream      float64 `json:"kb_per_stream"`
	KBPerQueueEntry  float64 `json:"kb_per_queue_entry"`
	FDsAllOpen       int     `json:"fds_all_open"`
	FDLimit          int     `json:"fd_limit"`
	SteadyCPUPercent float64 `json:"steady_cpu_percent_of_one_core"`
}

// Check measures the fan-out and the memory; it fails when not every
// stream opened, when one ended early, or when the fan-out p99 is above
// -max-fanout-p99.
func (q *queueStream) Check(_ context.Context, _ *Env) (*CheckReport, error) {
	q.sampled.Wait()
	r := streamReport{Streams: q.n, Joined: q.joins.OK, JoinFailed: q.joins.Failed, JoinS: round3(q.joins.Elapsed.Seconds()),
		JoinLatency: q.joins.Latency, Opened: q.opened.Load(), Attempts: q.attempts.Load(), Failed: q.failed.Load(),
		EndedEarly: q.endedEarly.Load(), Final: map[string]int{}}
	var ups []update
	for u, as := range q.arrivals {
		for _, a := range as {
			r.Events++
			if a.initial {
				r.Initial++
				continue
			}
			if a.status != "waiting" {
				r.Final[a.status]++
			}
			ups = append(ups, update{at: a.at, user: int32(u)})
		}
	}
	r.Updates = len(ups)
	start, allOpen := q.startedAt.Load(), q.allOpenAt.Load()
	from := int64(math.MaxInt64)
	if allOpen > 0 {
		from = allOpen
		r.AllOpenS = round3(time.Duration(allOpen - start).Seconds())
	}
	r.ByPause = analyzeFanout(ups, from, q.cfg.Stream.TickGap)
	r.Fanout = analyzeWindows(ups, from, q.cfg.Stream.Period)
	p := &q.probe
	p.mu.Lock()
	r.GenRSSMB = round3(float64(p.genAllOpenKB) / 1024)
	if q.cfg.Stream.ServerPID > 0 && p.allOpen.RSSKB > 0 {
		s := &serverReport{
			RSSBeforeMB: mb(p.before.RSSKB), RSSAfterJoinsMB: mb(p.afterJoins.RSSKB), RSSAllOpenMB: mb(p.allOpen.RSSKB),
			RSSPeakMB: mb(p.peakRSSKB), FDsAllOpen: p.allOpen.FDs, FDLimit: p.fdLimit,
			KBPerClient:     round3(float64(p.allOpen.RSSKB-p.before.RSSKB) / float64(q.n)),
			KBPerStream:     round3(float64(p.allOpen.RSSKB-p.afterJoins.RSSKB) / float64(q.n)),
			KBPerQueueEntry: round3(float64(p.afterJoins.RSSKB-p.before.RSSKB) / float64(q.n)),
		}
		if dt := p.end.At.Sub(p.allOpen.At); dt > 0 && p.end.CPU > 0 {
			s.SteadyCPUPercent = round3(100 * (p.end.CPU - p.allOpen.CPU).Seconds() / dt.Seconds())
			r.SteadyS = round3(dt.Seconds())
		}
		r.Server = s
	}
	p.mu.Unlock()

	rep := &CheckReport{OK: true, Details: r}
	verdict := func(ok bool) string {
		if !ok {
			rep.OK = false
			return "FAILED"
		}
		return "ok"
	}
	f := r.Fanout
	// Windows measure a tick only when ticks are apart: without a quiet
	// stretch between them (or with many clients updated twice in one
	// window) a round's fan-out ran into the next one, delays past the
	// period are cut off, and the criterion is missed, not met.
	separate := f.QuietGap >= msOf(int64(q.cfg.Stream.Period/20)) && f.Repeats*100 <= r.Updates
	cutOff := ""
	if !separate {
		cutOff = "; the ticks ran into each other, so the delays are cut off at the window"
	}
	rep.Lines = append(rep.Lines,
		fmt.Sprintf("joins: %d ok, %d failed in %.1fs (p50 %.1fms p99 %.1fms)", r.Joined, r.JoinFailed, r.JoinS, r.JoinLatency.P50, r.JoinLatency.P99),
		fmt.Sprintf("streams: %d of %d opened (all open %.1fs into the load), %d attempts, %d failed, %d ended early: %s",
			r.Opened, r.Streams, r.AllOpenS, r.Attempts, r.Failed, r.EndedEarly, verdict(r.Opened == int64(r.Streams) && r.EndedEarly == 0)),
		fmt.Sprintf("status events: %d (%d on connect, %d updates; final %v)", r.Events, r.Initial, r.Updates, r.Final),
		fmt.Sprintf("fan-out over %.0fs with every stream open, in %s windows (quiet gap %.0fms): %d ticks, clients per tick min %d median %d max %d, tick spread p50 %.0fms max %.0fms, %d repeats",
			r.SteadyS, q.cfg.Stream.Period, f.QuietGap, f.Ticks, f.ClientsPerTick[0], f.ClientsPerTick[1], f.ClientsPerTick[2], f.SpreadP50, f.SpreadMax, f.Repeats),
		fmt.Sprintf("fan-out delay after the tick's first update: p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms; worst tick p99 %.1fms: %s (criterion p99 < %s%s)",
			f.Delay.P50, f.Delay.P90, f.Delay.P99, f.Delay.Max, f.WorstTickP99,
			verdict(separate && f.Ticks > 0 && f.Delay.P99 < float64(q.cfg.Stream.MaxFanoutP99.Microseconds())/1000), q.cfg.Stream.MaxFanoutP99, cutOff),
		fmt.Sprintf("the same grouped by pauses over %s: %d ticks, clients per tick median %d, p50 %.1fms p99 %.1fms max %.1fms, %d repeats",
			q.cfg.Stream.TickGap, r.ByPause.Ticks, r.ByPause.ClientsPerTick[1], r.ByPause.Delay.P50, r.ByPause.Delay.P99, r.ByPause.Delay.Max, r.ByPause.Repeats))
	if s := r.Server; s != nil {
		rep.Lines = append(rep.Lines,
			fmt.Sprintf("server RSS: %.1f MB before joins, %.1f MB after, %.1f MB with all streams open, peak %.1f MB; %d files open (limit %d)",
				s.RSSBeforeMB, s.RSSAfterJoinsMB, s.RSSAllOpenMB, s.RSSPeakMB, s.FDsAllOpen, s.FDLimit),
			fmt.Sprintf("server memory per waiting client: %.1f KB (queue entry %.2f KB + stream %.1f KB); CPU with all streams open %.0f%% of one core",
				s.KBPerClient, s.KBPerQueueEntry, s.KBPerStream, s.SteadyCPUPercent))
	}
	rep.Lines = append(rep.Lines, fmt.Sprintf("generator RSS with all streams open: %.1f MB", r.GenRSSMB))
	return rep, nil
}

// mb converts kB to MB.
func mb(kb int64) float64 { return round3(float64(kb) / 1024) }
