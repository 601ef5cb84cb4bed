package metrics

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"boxoffice"
)

// OnSaleConfig configures WatchOnSale.
type OnSaleConfig struct {
	// Store lists the events on sale and reads their inventory.
	Store boxoffice.Store
	// Queue, when not nil, is read for the waiting rooms of those events.
	Queue boxoffice.Queue
	// Interval is how often the gauges are refreshed (default 15 s).
	Interval time.Duration
	// MaxEvents caps how many events on sale are followed (default 50):
	// the first ones by start time. boxoffice_onsale_events_capped says
	// when there were more.
	MaxEvents int
	// AuditEvery makes every AuditEvery-th refresh (default 20, so every
	// five minutes by default) also count the held and confirmed tickets of
	// each tier from its reservations and compare them with the tier's
	// counter. That query reads every live reservation of a tier (on
	// MariaDB about 0.7 s for a tier with 375,000 live holds), so it runs
	// far less often than the cheap ones. The drift is only reported when
	// the counter did not move during the audit, so a tier that sells
	// without pause is checked in its quiet moments.
	AuditEvery int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives refresh failures. Nil discards them.
	Logger *slog.Logger
}

// Defaults of OnSaleConfig.
const (
	DefaultOnSaleInterval  = 15 * time.Second
	DefaultOnSaleMaxEvents = 50
	DefaultAuditEvery      = 20
)

// WatchOnSale exports gauges for the events inside their sales window, at
// most cfg.MaxEvents of them: tickets per tier (capacity and available,
// and, from the periodic audit, held, confirmed and the drift between the
// tier's counter and its reservations) and the waiting room (waiting,
// admitted, in flight, live in flight, configured and measured pace, sold
// out). Series of events that leave the
// window disappear at the next refresh, so the number of series does not
// grow with the number of events. Run refreshes them; call WatchOnSale
// once, before Run.
func (m *Metrics) WatchOnSale(cfg OnSaleConfig) {
	o := newOnSale(cfg, m.queue.admissions)
	m.register(o, o.errors)
	m.mu.Lock()
	m.onsale = o
	m.mu.Unlock()
}

// onSale is the collector of the per-event gauges. A refresh builds a
// complete snapshot and swaps it in, so a scrape never sees half of one.
type onSale struct {
	store      boxoffice.Store
	queue      boxoffice.Queue
	interval   time.Duration
	max        int
	auditEvery int
	now        func() time.Time
	log        *slog.Logger

	eventInfo, capacity, available, held, confirmed, drift *prometheus.Desc
	waiting, admitted, inFlight, pace, soldOut             *prometheus.Desc
	live, perMinute                                        *prometheus.Desc
	events, capped, refreshed, took                        *prometheus.Desc
	errors                                                 prometheus.Counter
	admissions                                             *prometheus.CounterVec

	round   int                 // refreshes so far; touched by refresh only
	failing bool                // the last refresh failed; touched by run only
	audits  map[string]auditRow // by tier ID, from the last audit; refresh only

	mu         sync.Mutex
	snap       []prometheus.Metric
	tracked    map[string]bool // event IDs followed now
	lastAt     time.Time
	lastTook   time.Duration
	numEvents  int
	wasCapped  bool
	admittedID map[string]bool // event IDs with an admissions series
}

// auditRow is one tier's audited inventory.
type auditRow struct {
	held, confirmed int
	drift           int
	stable          bool // drift is meaningful: the counter did not move during the audit
}

func newOnSale(cfg OnSaleConfig, admissions *prometheus.CounterVec) *onSale {
	o := &onSale{
		store: cfg.Store, queue: cfg.Queue, interval: cfg.Interval, max: cfg.MaxEvents,
		auditEvery: cfg.AuditEvery, now: cfg.Now, log: cfg.Logger, admissions: admissions,
		tracked: map[string]bool{}, admittedID: map[string]bool{}, audits: map[string]auditRow{},
	}
	if o.interval <= 0 {
		o.interval = DefaultOnSaleInterval
	}
	if o.max <= 0 {
		o.max = DefaultOnSaleMaxEvents
	}
	if o.auditEvery <= 0 {
		o.auditEvery = DefaultAuditEvery
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	tier := []string{"event_id", "tier_id", "tier"}
	ev := []string{"event_id"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	o.eventInfo = d("onsale_event_info", "Always 1 for each event inside its sales window that the gauges follow; event is its title.", []string{"event_id", "event"})
	o.capacity = d("tier_capacity_tickets", "Tickets a tier of an event on sale has in all.", tier)
	o.available = d("tier_available_tickets", "Tickets left in a tier of an event on sale: capacity minus the tier's reserved counter (negative only if oversold).", tier)
	o.held = d("tier_held_tickets", "Tickets held (not yet paid) in a tier of an event on sale, counted from its reservations and orders at the last audit.", tier)
	o.confirmed = d("tier_confirmed_tickets", "Tickets sold in a tier of an event on sale, counted from its reservations and orders at the last audit.", tier)
	o.drift = d("tier_inventory_drift_tickets", "The tier's reserved counter minus the held and confirmed tickets of its reservations and orders, at the last audit during which the counter did not move; anything but 0 means the inventory invariant is broken.", tier)
	o.waiting = d("queue_waiting", "Users waiting in the waiting room of an event on sale (pre-sale pool included).", ev)
	o.admitted = d("queue_admitted", "Users holding a valid admission for an event on sale (used or not).", ev)
	o.inFlight = d("queue_in_flight", "Admissions not yet used to buy and not expired, for an event on sale.", ev)
	o.live = d("queue_in_flight_live", "Admissions in flight that count against the in-flight cap: granted or whose holder asked for their status within the admission window (as of the coordinator's last round). The rest are idle.", ev)
	o.perMinute = d("queue_admit_per_minute", "The admission pace an event on sale is configured with (admit_per_minute).", ev)
	o.pace = d("queue_admission_pace", "Measured admission rate of an event's waiting room, in users per second.", ev)
	o.soldOut = d("queue_sold_out", "1 while the waiting room of an event on sale tells everyone it is sold out.", ev)
	o.events = d("onsale_events", "Events inside their sales window that the gauges follow (at most the cap).", nil)
	o.capped = d("onsale_events_capped", "1 when more events were on sale than the gauges follow.", nil)
	o.refreshed = d("onsale_refresh_timestamp_seconds", "When the gauges of the events on sale were last refreshed (Unix time).", nil)
	o.took = d("onsale_refresh_duration_seconds", "How long the last refresh of the gauges of the events on sale took.", nil)
	o.errors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "onsale_refresh_errors_total",
		Help: "Failed reads while refreshing the gauges of the events on sale.",
	})
	return o
}

// Describe implements prometheus.Collector.
func (o *onSale) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		o.eventInfo, o.capacity, o.available, o.held, o.confirmed, o.drift,
		o.waiting, o.admitted, o.inFlight, o.pace, o.soldOut, o.live, o.perMinute,
		o.events, o.capped, o.refreshed, o.took,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (o *onSale) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	snap, at, took, n, capped := o.snap, o.lastAt, o.lastTook, o.numEvents, o.wasCapped
	o.mu.Unlock()
	for _, m := range snap {
		ch <- m
	}
	ch <- prometheus.MustNewConstMetric(o.events, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(o.capped, prometheus.GaugeValue, b2f(capped))
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(o.refreshed, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
		ch <- prometheus.MustNewConstMetric(o.took, prometheus.GaugeValue, took.Seconds())
	}
}

// admit counts admissions for eventID, under the lock that refresh takes to
// drop the series of events it stops following.
func (o *onSale) admit(eventID string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := otherEvent
	if o.tracked[eventID] {
		id = eventID
		o.admittedID[id] = true
	}
	o.admissions.WithLabelValues(id).Add(float64(n))
}

// run refreshes every interval until ctx ends. The first refresh is
// immediate.
func (o *onSale) run(ctx context.Context) error {
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, o.interval)
		err := o.refresh(rctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !o.failing:
			o.failing = true
			o.log.Warn("metrics: refreshing the gauges of the events on sale failed; they may be stale", "err", err)
		case err == nil && o.failing:
			o.failing = false
			o.log.Info("metrics: the gauges of the events on sale are fresh again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// refresh rebuilds the snapshot from the store and the queue. When the
// events cannot be listed the old snapshot stays (its timestamp shows its
// age); an event whose inventory or queue cannot be read lacks those series
// until the next refresh.
func (o *onSale) refresh(ctx context.Context) error {
	start := time.Now()
	now := o.now()
	events, err := o.store.ListEvents(ctx, boxoffice.EventFilter{OnSaleAt: now, Limit: o.max + 1})
	if err != nil {
		o.errors.Inc()
		return err
	}
	capped := len(events) > o.max
	if capped {
		events = events[:o.max]
	}
	// A full audit every auditEvery refreshes; in between, only events
	// that were not followed before are audited (they start with few
	// reservations), so their series appear at once.
	full := o.round%o.auditEvery == 0
	o.round++
	audits := o.audits
	if full {
		audits = make(map[string]auditRow)
	}

	var ms []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ms = append(ms, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	tracked := make(map[string]bool, len(events))
	var queued []string
	var errs []error
	for _, e := range events {
		tracked[e.ID] = true
		gauge(o.eventInfo, 1, e.ID, labelText(e.Title))
		if full || !o.tracked[e.ID] {
			if err := o.audit(ctx, e, audits); err != nil {
				errs = append(errs, err)
			}
		}
		for _, t := range e.Tiers {
			l := []string{e.ID, t.ID, labelText(t.Name)}
			gauge(o.capacity, float64(t.Capacity), l...)
			gauge(o.available, float64(t.Capacity-t.Reserved), l...)
			if a, ok := audits[t.ID]; ok {
				gauge(o.held, float64(a.held), l...)
				gauge(o.confirmed, float64(a.confirmed), l...)
				if a.stable {
					gauge(o.drift, float64(a.drift), l...)
				}
			}
		}
		if !e.Queue.Enabled || o.queue == nil {
			continue
		}
		queued = append(queued, e.ID)
		_, info, err := o.queue.Entries(ctx, e.ID, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		gauge(o.waiting, float64(info.Presale+info.Waiting), e.ID)
		gauge(o.admitted, float64(info.Admitted), e.ID)
		gauge(o.inFlight, float64(info.InFlight), e.ID)
		gauge(o.live, float64(info.Live), e.ID)
		gauge(o.perMinute, float64(e.Queue.AdmitPerMinute), e.ID)
		gauge(o.pace, info.Pace, e.ID)
		gauge(o.soldOut, b2f(info.SoldOut), e.ID)
	}
	o.audits = audits
	for range errs {
		o.errors.Inc()
	}

	o.mu.Lock()
	o.snap, o.tracked = ms, tracked
	o.numEvents, o.wasCapped = len(events), capped
	o.lastAt, o.lastTook = now, time.Since(start)
	for id := range o.admittedID {
		if !tracked[id] {
			o.admissions.DeleteLabelValues(id)
			delete(o.admittedID, id)
		}
	}
	// A series at 0 for every followed waiting room, so "no admissions for
	// two minutes" is visible even when no instance admitted anyone.
	for _, id := range queued {
		o.admissions.WithLabelValues(id)
		o.admittedID[id] = true
	}
	o.mu.Unlock()
	return errors.Join(errs...)
}

// audit counts e's held and confirmed tickets from its reservations into
// audits. The drift is trusted only when the tiers' counters, read before
// (with e) and after the count, did not move: a hold committed in between
// would otherwise look like a broken invariant.
func (o *onSale) audit(ctx context.Context, e *boxoffice.Event, audits map[string]auditRow) error {
	sales, err := o.store.Sales(ctx, e.ID)
	if err != nil {
		return err
	}
	after, err := o.store.Event(ctx, e.ID)
	if err != nil {
		return err
	}
	before := make(map[string]int, len(e.Tiers))
	for _, t := range e.Tiers {
		before[t.ID] = t.Reserved
	}
	stable := len(after.Tiers) == len(e.Tiers)
	for _, t := range after.Tiers {
		if r, ok := before[t.ID]; !ok || r != t.Reserved {
			stable = false
		}
	}
	for _, ts := range sales.Tiers {
		reserved, ok := before[ts.TierID]
		audits[ts.TierID] = auditRow{
			held: ts.Held, confirmed: ts.Confirmed,
			drift: reserved - ts.Held - ts.Confirmed, stable: stable && ok,
		}
	}
	return nil
}

// labelText makes user text (titles, tier names) a tidy label value: valid
// UTF-8, at most 64 characters.
func labelText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= 64 {
		return s
	}
	return string([]rune(s)[:63]) + "…"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
