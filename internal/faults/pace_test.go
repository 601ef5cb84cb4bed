package faults

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
)

// The pace check. The on-sale's own waiting room stops admitting once every
// ticket is held, which in most scenarios is within a second or two of the
// fault's end (the buyers admitted during the fault take what is left), so
// its admissions after the fault say little about the pace. The check runs
// instead on a second waiting room of the same sale, the probe: an event
// with the hot event's admit_per_minute and tickets that never run out,
// whose fans join before the load starts and never buy. The same
// coordinator admits to both rooms in the same rounds; the probe's line
// outlasts the scenario, so its admissions are limited only by the pace.
// They are counted by boxoffice_queue_admissions_total on each instance's
// private metrics listener.

// paceWindow is how long after admission resumes its rate is measured: a
// few coordinator rounds (one a second), short enough to fit the scenario.
const paceWindow = 4 * time.Second

// The measured rate must lie within these multiples of the configured pace.
// The rate is taken between the rounds seen at the window's ends, each seen
// within a sample period (200 ms) of when it happened, so a correct pace
// reads within about ±10 %; admission stuck below its pace by a quarter
// reads outside.
const paceLow, paceHigh = 0.8, 1.25

// paceSample is one reading of the admission counters of every live
// instance: the probe room's and the hot room's admissions, summed.
type paceSample struct {
	at         time.Time
	probe, hot int
}

// startPace starts reading the admission counters.
func (r *run) startPace() { r.pace = startSampler(r.t, r.admissions) }

// admissions sums the admission counters of the live instances; it reports
// false unless every live instance answered, so that no sample is short of
// an instance's count. A killed instance's count leaves the sums for good,
// before the window the check measures starts.
func (r *run) admissions(ctx context.Context) (paceSample, bool) {
	sm := paceSample{at: time.Now()}
	for _, in := range r.ins {
		if in.p.exited() {
			continue
		}
		probe, hot, err := scrapeAdmissions(ctx, in.metrics, r.event)
		if err != nil {
			return paceSample{}, false
		}
		sm.probe += probe
		sm.hot += hot
	}
	return sm, true
}

// scrapeAdmissions reads boxoffice_queue_admissions_total from a metrics
// listener: the hot event's series, and the sum of the others (the probe's,
// under its ID or "_other" before the instance follows it).
func scrapeAdmissions(ctx context.Context, url, hotEvent string) (probe, hot int, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "boxoffice_queue_admissions_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("metrics line %q: %v", line, err)
		}
		if strings.Contains(line, `event_id="`+hotEvent+`"`) {
			hot += int(v)
		} else {
			probe += int(v)
		}
	}
	return probe, hot, sc.Err()
}

// createProbe creates the probe event: on sale, with a waiting room at the
// hot event's pace and more tickets than anyone will ask for.
func (r *run) createProbe(ctx context.Context) {
	now := time.Now().UTC()
	in := map[string]any{
		"title": "Pace probe", "venue": "Fault suite",
		"starts_at": now.Add(48 * time.Hour), "sales_start_at": now.Add(-time.Minute), "sales_end_at": now.Add(24 * time.Hour),
		"max_tickets_per_user": 1,
		"tiers":                []map[string]any{{"name": "GA", "price": map[string]any{"amount": 100, "currency": "USD"}, "capacity": 1_000_000}},
		"queue":                map[string]any{"enabled": true, "admit_per_minute": r.sz.admit},
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := api(ctx, "POST", r.ins[0].url+"/api/v1/events", r.admin, in, &out); err != nil {
		r.t.Fatalf("creating the probe event: %v", err)
	}
	r.probe = out.ID
}

// fillProbe puts the first n probe fans in the probe's line (a fan in it
// already keeps their place) and returns when all have joined: every fan
// before the load, and half of them again after a fault that lost the line
// (as the buyers rejoin after a 404; half is enough for the window and
// loads the recovering fleet less). It returns the time the line was full.
func (r *run) fillProbe(ctx context.Context, n int) time.Time {
	tokens := auth.NewTokens([]byte(jwtSecret), time.Hour)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				tok, _, err := tokens.Issue(&boxoffice.User{ID: boxoffice.SeedUserID(i), Role: boxoffice.RoleUser})
				if err == nil {
					err = errGone
					for try := 0; try < 10 && err != nil; try++ {
						if try > 0 {
							time.Sleep(200 * time.Millisecond) // Redis may be coming back
						}
						err = onLive(r.ins, func(base string) error {
							return api(ctx, "POST", base+"/api/v1/events/"+r.probe+"/queue", tok, nil, nil)
						})
					}
				}
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		r.t.Fatalf("probe fans joining: %v", err)
	}
	return time.Now()
}

// paceResult is what the pace check found.
type paceResult struct {
	resumed time.Duration // from the fault's end to the first admission after it
	rate    float64       // admissions per minute over the window
	ok      bool          // resumed and measured
	end     time.Time     // when the window ends (the first round's sighting + paceWindow)
	reason  string        // why not, when !ok
}

// measurePace finds the first admission round of the probe after from (the
// fault's end, or the probe's line filled again after it) and the rate of
// the rounds within paceWindow of it: the admissions of the rounds after the
// first, over the time from the first to the last. The first round is left
// out because it may make up for the time the coordinator could not admit.
// The line held fans when it was last filled: a window that may have
// found it empty is reported, not measured.
func measurePace(samples []paceSample, faultEnd, from, filled time.Time, fans, perMinute int) paceResult {
	var base, first, last, atFill *paceSample
	for i := range samples {
		sm := &samples[i]
		if !sm.at.After(filled) {
			atFill = sm
		}
		if !sm.at.After(from) {
			base = sm
			continue
		}
		if base == nil {
			continue
		}
		prev := base
		if first != nil {
			prev = &samples[i-1]
		}
		if sm.probe <= prev.probe {
			continue // no round since the previous sample
		}
		switch {
		case first == nil:
			first = sm
		case sm.at.Sub(first.at) <= paceWindow:
			last = sm
		}
	}
	switch {
	case base == nil:
		return paceResult{reason: "no reading of the admission counters before the window"}
	case first == nil:
		return paceResult{reason: "no admission after the fault"}
	case last == nil || last.at.Sub(first.at) < paceWindow/2:
		return paceResult{resumed: first.at.Sub(faultEnd), reason: fmt.Sprintf("admission resumed %.1f s after the fault but too few rounds followed to measure a rate", first.at.Sub(faultEnd).Seconds())}
	case atFill == nil || last.probe-atFill.probe > fans-perMinute/30:
		// Two rounds' worth short of everyone admitted: the last rounds may
		// have found the line short.
		return paceResult{resumed: first.at.Sub(faultEnd), reason: "the probe's line may have run dry (more probe fans needed)"}
	}
	return paceResult{
		end:     first.at.Add(paceWindow),
		resumed: max(0, first.at.Sub(faultEnd)),
		rate:    float64(last.probe-first.probe) / last.at.Sub(first.at).Minutes(),
		ok:      true,
	}
}

// TestMeasurePace drives the pace check with counter readings five times a
// second of a coordinator admitting perRound users once a second.
func TestMeasurePace(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// readings from 0 to 10 s; round k (from 1 s) happens at k s + 50 ms
	// and admits admitted(k) users.
	readings := func(admitted func(k int) int) []paceSample {
		var out []paceSample
		total := 0
		for i := 0; i <= 50; i++ {
			at := t0.Add(time.Duration(i) * 200 * time.Millisecond)
			if i > 0 && i%5 == 1 {
				total += admitted(i / 5)
			}
			out = append(out, paceSample{at: at, probe: total})
		}
		return out
	}
	atPace := func(int) int { return 30 }
	faultEnd := t0.Add(2500 * time.Millisecond)
	for _, c := range []struct {
		name     string
		samples  []paceSample
		fans     int
		ok       bool
		min, max float64
		reason   string
	}{
		{name: "at pace", samples: readings(atPace), fans: 600, ok: true, min: 1800 * 0.95, max: 1800 * 1.05},
		{name: "a burst first is left out", samples: readings(func(k int) int { return map[bool]int{true: 120, false: 30}[k == 3] }), fans: 600, ok: true, min: 1800 * 0.95, max: 1800 * 1.05},
		{name: "a quarter below", samples: readings(func(int) int { return 22 }), fans: 600, ok: true, max: 1800 * paceLow},
		{name: "stalled", samples: readings(func(k int) int { return map[bool]int{true: 30, false: 0}[k < 3] }), fans: 600, reason: "no admission after the fault"},
		{name: "line may run dry", samples: readings(atPace), fans: 200, reason: "run dry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := measurePace(c.samples, faultEnd, faultEnd, t0, c.fans, 1800)
			if r.ok != c.ok || !strings.Contains(r.reason, c.reason) {
				t.Fatalf("measurePace = %+v, want ok %v, reason containing %q", r, c.ok, c.reason)
			}
			if c.ok && (r.rate < c.min || r.rate > c.max) {
				t.Errorf("rate %.0f/min, want %.0f to %.0f", r.rate, c.min, c.max)
			}
		})
	}
}
