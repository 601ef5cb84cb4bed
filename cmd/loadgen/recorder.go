package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// Class is how an answer counts towards the result.
type Class int

// The classes of answers.
const (
	// ClassOK is the answer the scenario hopes for (e.g. 201 held).
	ClassOK Class = iota
	// ClassExpected is a correct refusal under the scenario's conditions
	// (e.g. 409 sold_out once the tier is sold out).
	ClassExpected
	// ClassUnexpected is everything else: 5xx, 401, transport errors,
	// unknown codes.
	ClassUnexpected
)

// String returns the class's name as used in reports.
func (c Class) String() string {
	switch c {
	case ClassOK:
		return "ok"
	case ClassExpected:
		return "expected"
	default:
		return "unexpected"
	}
}

// maxSamples is how many response bodies are kept per unexpected outcome.
const maxSamples = 3

// outcomeKey identifies one kind of answer.
type outcomeKey struct {
	Op     string
	Status int
	Code   string
}

// outcome counts one kind of answer.
type outcome struct {
	class Class
	n     atomic.Uint64

	mu      sync.Mutex
	samples []string
}

// Recorder collects every answer of a run. All its methods are safe for
// concurrent use and cheap: counters are atomics and the outcome table is a
// sync.Map, which is read-mostly once every kind of answer has been seen.
type Recorder struct {
	classify func(op string, status int, code string) Class

	all      Histogram
	ops      sync.Map // op → *Histogram
	outcomes sync.Map // outcomeKey → *outcome

	classes  [3]atomic.Uint64
	aborted  atomic.Uint64 // cut off by the end of the run
	dropped  atomic.Uint64 // arrivals that found no idle worker
	inflight atomic.Int64
}

// newRecorder returns a Recorder that classifies answers with classify.
func newRecorder(classify func(op string, status int, code string) Class) *Recorder {
	return &Recorder{classify: classify}
}

// Record counts one answer and its latency d. d ≤ 0 marks an answer that
// never arrived (a transport error): it is counted but stays out of the
// latency histograms. sample,
// when the answer is unexpected, may be kept (truncated) for the report.
func (r *Recorder) Record(op string, status int, code string, d time.Duration, sample []byte) Class {
	key := outcomeKey{Op: op, Status: status, Code: code}
	v, ok := r.outcomes.Load(key)
	if !ok {
		v, _ = r.outcomes.LoadOrStore(key, &outcome{class: r.classify(op, status, code)})
	}
	o := v.(*outcome)
	o.n.Add(1)
	r.classes[o.class].Add(1)
	if d > 0 {
		r.all.Record(d)
		r.opHistogram(op).Record(d)
	}
	if o.class == ClassUnexpected && len(sample) > 0 {
		o.mu.Lock()
		if len(o.samples) < maxSamples {
			o.samples = append(o.samples, string(sample[:min(len(sample), 300)]))
		}
		o.mu.Unlock()
	}
	return o.class
}

// opHistogram returns the latency histogram of op.
func (r *Recorder) opHistogram(op string) *Histogram {
	if h, ok := r.ops.Load(op); ok {
		return h.(*Histogram)
	}
	h, _ := r.ops.LoadOrStore(op, new(Histogram))
	return h.(*Histogram)
}

// Abort counts a request cut off by the end of the run. It is neither an
// answer nor an error.
func (r *Recorder) Abort() { r.aborted.Add(1) }

// Drop counts an arrival that could not start because every worker was busy.
func (r *Recorder) Drop() { r.dropped.Add(1) }

// Count returns the number of answers in class c so far.
func (r *Recorder) Count(c Class) uint64 { return r.classes[c].Load() }

// Total returns the number of answers so far.
func (r *Recorder) Total() uint64 {
	return r.classes[ClassOK].Load() + r.classes[ClassExpected].Load() + r.classes[ClassUnexpected].Load()
}
