package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"boxoffice"
)

// This file is the conformance suite of boxoffice.WebhookStore: the
// organizers' endpoints, the webhook outbox written with the changes it
// reports (SettlePayment, RefundOrder, CheckIn), fan-out, claims under a
// lease, attempts recorded with the endpoints' failure counts, pauses of a
// disabled endpoint's deliveries, and the delivery log.

// runWebhooks runs the webhook groups of the suite; Run calls it.
func runWebhooks(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("WebhookEndpoints", func(t *testing.T) { testWebhookEndpoints(t, open(t)) })
	t.Run("WebhookOutbox", func(t *testing.T) { testWebhookOutbox(t, open(t)) })
	t.Run("WebhookDeliveries", func(t *testing.T) { testWebhookDeliveries(t, open(t)) })
	t.Run("WebhooksWithTheirChange", func(t *testing.T) { testWebhooksWithTheirChange(t, open(t)) })
	t.Run("PurgeWebhooks", func(t *testing.T) { testPurgeWebhooks(t, open(t)) })
}

// newEndpoint returns an enabled endpoint of org for events, created at at.
func newEndpoint(org string, at time.Time, events ...boxoffice.HookType) *boxoffice.WebhookEndpoint {
	return &boxoffice.WebhookEndpoint{ID: boxoffice.NewID(), OrganizerID: org, URL: "https://hooks.example.com/" + org,
		Events: events, Secret: boxoffice.NewWebhookSecret(), Enabled: true, CreatedAt: at, UpdatedAt: at}
}

// fanOut fans out every pending message at now and returns the messages
// it took.
func fanOut(t *testing.T, s boxoffice.Store, now time.Time) []*boxoffice.WebhookMessage {
	t.Helper()
	var took []*boxoffice.WebhookMessage
	for {
		var batch []*boxoffice.WebhookMessage
		n, err := s.FanOutWebhooks(t.Context(), 100, func(msgs []*boxoffice.WebhookMessage, eps []*boxoffice.WebhookEndpoint) []*boxoffice.WebhookDelivery {
			batch = msgs
			return boxoffice.FanOut(msgs, eps, now)
		})
		must(t, "FanOutWebhooks", err)
		took = append(took, batch...)
		if n == 0 {
			return took
		}
	}
}

func testWebhookEndpoints(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	at := now()
	org, other := boxoffice.NewID(), boxoffice.NewID()
	a := newEndpoint(org, at, boxoffice.HookOrderPaid, boxoffice.HookTicketCheckedIn)
	b := newEndpoint(org, at, boxoffice.HookEventCancelled)
	c := newEndpoint(other, at, boxoffice.HookOrderPaid)
	for _, ep := range []*boxoffice.WebhookEndpoint{a, b, c} {
		must(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, ep))
	}
	got, err := s.WebhookEndpoint(ctx, a.ID)
	must(t, "WebhookEndpoint", err)
	diff(t, "endpoint", a, got)
	if _, err := s.WebhookEndpoint(ctx, boxoffice.NewID()); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("unknown endpoint: %v", err)
	}
	list, err := s.WebhookEndpoints(ctx, org)
	must(t, "WebhookEndpoints", err)
	want := []*boxoffice.WebhookEndpoint{a, b}
	slices.SortFunc(want, func(x, y *boxoffice.WebhookEndpoint) int { return compareStrings(x.ID, y.ID) })
	diff(t, "an organizer's endpoints", want, list)

	refused := errors.New("refused")
	if _, err := s.UpdateWebhookEndpoint(ctx, a.ID, func(ep *boxoffice.WebhookEndpoint) error {
		ep.URL = "https://elsewhere.example.com/"
		return refused
	}); !errors.Is(err, refused) {
		t.Errorf("apply's error: %v", err)
	}
	t1 := at.Add(time.Minute)
	since := at.Add(-time.Hour)
	upd, err := s.UpdateWebhookEndpoint(ctx, a.ID, func(ep *boxoffice.WebhookEndpoint) error {
		ep.URL, ep.Events, ep.Failures, ep.FailingSince, ep.UpdatedAt = "https://elsewhere.example.com/",
			[]boxoffice.HookType{boxoffice.HookOrderRefunded}, 3, &since, t1
		return nil
	})
	must(t, "UpdateWebhookEndpoint", err)
	got, err = s.WebhookEndpoint(ctx, a.ID)
	must(t, "WebhookEndpoint", err)
	diff(t, "endpoint as written", upd, got)
	if got.URL != "https://elsewhere.example.com/" || got.Failures != 3 || !got.FailingSince.Equal(since) {
		t.Errorf("updated endpoint: %+v", got)
	}
	if _, err := s.UpdateWebhookEndpoint(ctx, boxoffice.NewID(), func(*boxoffice.WebhookEndpoint) error { return nil }); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("update of an unknown endpoint: %v", err)
	}
	must(t, "DeleteWebhookEndpoint", s.DeleteWebhookEndpoint(ctx, b.ID))
	if err := s.DeleteWebhookEndpoint(ctx, b.ID); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	list, err = s.WebhookEndpoints(ctx, org)
	must(t, "WebhookEndpoints", err)
	if len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("after a delete: %+v", list)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testWebhookOutbox(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	at := now()
	org := boxoffice.NewID()
	paid := newEndpoint(org, at.Add(-time.Hour), boxoffice.HookOrderPaid)
	all := newEndpoint(org, at.Add(-time.Hour), boxoffice.HookTypes...)
	off := newEndpoint(org, at.Add(-time.Hour), boxoffice.HookOrderPaid)
	off.Enabled = false
	for _, ep := range []*boxoffice.WebhookEndpoint{paid, all, off} {
		must(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, ep))
	}
	m1 := boxoffice.NewWebhookMessage(org, boxoffice.HookOrderPaid, map[string]any{"n": 1}, at)
	m2 := boxoffice.NewWebhookMessage(org, boxoffice.HookEventSoldOut, map[string]any{"n": 2}, at.Add(time.Millisecond))
	nobody := boxoffice.NewWebhookMessage(boxoffice.NewID(), boxoffice.HookOrderPaid, map[string]any{}, at)
	must(t, "InsertWebhookMessages", s.InsertWebhookMessages(ctx, []*boxoffice.WebhookMessage{m1, m2, nobody}))
	// A message whose ID is on record is kept as it was.
	again := *m1
	again.Body = []byte(`{"changed":true}`)
	must(t, "InsertWebhookMessages(again)", s.InsertWebhookMessages(ctx, []*boxoffice.WebhookMessage{&again}))

	took := fanOut(t, s, at)
	if len(took) != 3 {
		t.Fatalf("fan-out took %d messages, want 3", len(took))
	}
	for _, m := range took {
		if m.ID == m1.ID {
			diff(t, "message as stored", m1, m)
		}
	}
	if again := fanOut(t, s, at); len(again) != 0 {
		t.Errorf("a second fan-out took %d messages", len(again))
	}
	// m1 to paid and all; m2 to all.
	jobs, err := s.ClaimWebhookDeliveries(ctx, at, at.Add(time.Minute), 100)
	must(t, "ClaimWebhookDeliveries", err)
	got := map[[2]string]bool{}
	for _, j := range jobs {
		got[[2]string{j.Endpoint.ID, j.Message.ID}] = true
		if j.Delivery.EndpointID != j.Endpoint.ID || j.Delivery.MessageID != j.Message.ID || j.Endpoint.Secret == "" ||
			len(j.Message.Body) == 0 || !j.Delivery.NextAttemptAt.Equal(at.Add(time.Minute)) {
			t.Errorf("job %+v", j)
		}
	}
	diff(t, "deliveries made", map[[2]string]bool{{paid.ID, m1.ID}: true, {all.ID, m1.ID}: true, {all.ID, m2.ID}: true}, got)
}

func testWebhookDeliveries(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	at := now()
	org := boxoffice.NewID()
	ep := newEndpoint(org, at.Add(-time.Hour), boxoffice.HookOrderPaid)
	must(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, ep))
	var msgs []*boxoffice.WebhookMessage
	for i := range 5 {
		msgs = append(msgs, boxoffice.NewWebhookMessage(org, boxoffice.HookOrderPaid, map[string]any{"i": i}, at.Add(time.Duration(i)*time.Millisecond)))
	}
	must(t, "InsertWebhookMessages", s.InsertWebhookMessages(ctx, msgs))
	fanOut(t, s, at)

	// Claims: a claimed delivery is not claimed again during its lease.
	lease := at.Add(time.Minute)
	first, err := s.ClaimWebhookDeliveries(ctx, at, lease, 3)
	must(t, "ClaimWebhookDeliveries", err)
	rest, err := s.ClaimWebhookDeliveries(ctx, at, lease, 10)
	must(t, "ClaimWebhookDeliveries(rest)", err)
	if len(first) != 3 || len(rest) != 2 {
		t.Fatalf("claims: %d then %d, want 3 then 2", len(first), len(rest))
	}
	if none, err := s.ClaimWebhookDeliveries(ctx, at.Add(30*time.Second), lease, 10); err != nil || len(none) != 0 {
		t.Fatalf("claimed during the lease: %d, %v", len(none), err)
	}
	if after, err := s.ClaimWebhookDeliveries(ctx, lease, lease.Add(time.Minute), 10); err != nil || len(after) != 5 {
		t.Fatalf("after the lease: %d, %v", len(after), err)
	}

	// Attempts: two succeed, three fail; apply sees the endpoint.
	t1 := lease.Add(time.Second)
	var ds []*boxoffice.WebhookDelivery
	for i, j := range append(first, rest...) {
		d := j.Delivery
		if i < 2 {
			d.Attempted(boxoffice.AttemptOutcome{Status: 200, At: t1, Duration: 3 * time.Millisecond}, 0.5)
		} else {
			d.Attempted(boxoffice.AttemptOutcome{Status: 500, At: t1}, 0.5)
		}
		ds = append(ds, d)
	}
	var seen []string
	err = s.RecordWebhookAttempts(ctx, ds, func(e *boxoffice.WebhookEndpoint, mine []*boxoffice.WebhookDelivery) {
		seen = append(seen, e.ID)
		e.RecordAttempts(mine, t1)
	})
	must(t, "RecordWebhookAttempts", err)
	diff(t, "endpoints given to apply", []string{ep.ID}, seen)
	for _, d := range ds {
		got, err := s.WebhookDelivery(ctx, d.ID)
		must(t, "WebhookDelivery", err)
		d.Type = boxoffice.HookOrderPaid
		diff(t, "delivery as recorded", d, got)
	}
	got, err := s.WebhookEndpoint(ctx, ep.ID)
	must(t, "WebhookEndpoint", err)
	if got.Failures == 0 || got.FailingSince == nil || !got.Enabled {
		t.Errorf("endpoint after attempts: %+v", got)
	}

	// The log: newest first, by status, in pages.
	log, err := s.WebhookDeliveries(ctx, boxoffice.DeliveryFilter{EndpointID: ep.ID, Limit: 10})
	must(t, "WebhookDeliveries", err)
	if len(log) != 5 || !slices.IsSortedFunc(log, func(a, b *boxoffice.WebhookDelivery) int { return compareStrings(b.ID, a.ID) }) {
		t.Fatalf("log: %d deliveries, sorted newest first %v", len(log), log)
	}
	page, err := s.WebhookDeliveries(ctx, boxoffice.DeliveryFilter{EndpointID: ep.ID, BeforeID: log[1].ID, Limit: 2})
	must(t, "WebhookDeliveries(page)", err)
	if len(page) != 2 || page[0].ID != log[2].ID {
		t.Errorf("second page: %+v", page)
	}
	failed, err := s.WebhookDeliveries(ctx, boxoffice.DeliveryFilter{EndpointID: ep.ID, Status: boxoffice.DeliveryFailed, Limit: 10})
	must(t, "WebhookDeliveries(failed)", err)
	if len(failed) != 3 {
		t.Errorf("failed deliveries: %d, want 3", len(failed))
	}

	// Disabling pauses the waiting deliveries; enabling resumes them.
	t2 := t1.Add(time.Minute)
	_, err = s.UpdateWebhookEndpoint(ctx, ep.ID, func(e *boxoffice.WebhookEndpoint) error {
		e.Enabled, e.UpdatedAt = false, t2
		return nil
	})
	must(t, "UpdateWebhookEndpoint(disable)", err)
	for _, d := range failed {
		got, err := s.WebhookDelivery(ctx, d.ID)
		must(t, "WebhookDelivery", err)
		if got.NextAttemptAt != nil || got.Status != boxoffice.DeliveryFailed {
			t.Errorf("a delivery of a disabled endpoint: %+v", got)
		}
	}
	if jobs, err := s.ClaimWebhookDeliveries(ctx, t2.Add(24*time.Hour), t2.Add(25*time.Hour), 10); err != nil || len(jobs) != 0 {
		t.Errorf("claimed %d deliveries of a disabled endpoint (%v)", len(jobs), err)
	}
	t3 := t2.Add(time.Hour)
	_, err = s.UpdateWebhookEndpoint(ctx, ep.ID, func(e *boxoffice.WebhookEndpoint) error {
		e.Enabled, e.UpdatedAt = true, t3
		return nil
	})
	must(t, "UpdateWebhookEndpoint(enable)", err)
	jobs, err := s.ClaimWebhookDeliveries(ctx, t3, t3.Add(time.Minute), 10)
	must(t, "ClaimWebhookDeliveries(resumed)", err)
	if len(jobs) != 3 {
		t.Errorf("resumed %d deliveries, want the 3 failed ones", len(jobs))
	}

	// A manual retry.
	d, err := s.UpdateWebhookDelivery(ctx, log[0].ID, func(d *boxoffice.WebhookDelivery) error {
		d.Requeue(t3)
		return nil
	})
	must(t, "UpdateWebhookDelivery", err)
	got2, err := s.WebhookDelivery(ctx, d.ID)
	must(t, "WebhookDelivery", err)
	if got2.Status != boxoffice.DeliveryPending || !got2.NextAttemptAt.Equal(t3) {
		t.Errorf("requeued: %+v", got2)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateWebhookDelivery(ctx, d.ID, func(*boxoffice.WebhookDelivery) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("apply's error: %v", err)
	}
	if _, err := s.UpdateWebhookDelivery(ctx, boxoffice.NewID(), func(*boxoffice.WebhookDelivery) error { return nil }); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("unknown delivery: %v", err)
	}

	// Deleting the endpoint deletes its log; attempts recorded after
	// that are dropped.
	must(t, "DeleteWebhookEndpoint", s.DeleteWebhookEndpoint(ctx, ep.ID))
	if _, err := s.WebhookDelivery(ctx, d.ID); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("a delivery of a deleted endpoint: %v", err)
	}
	must(t, "RecordWebhookAttempts(deleted)", s.RecordWebhookAttempts(ctx, ds, func(*boxoffice.WebhookEndpoint, []*boxoffice.WebhookDelivery) {
		t.Errorf("apply called for a deleted endpoint")
	}))
	if _, err := s.WebhookDelivery(ctx, ds[0].ID); !errors.Is(err, boxoffice.ErrNotFound) {
		t.Errorf("a recorded attempt brought a deleted delivery back: %v", err)
	}
}

// testWebhooksWithTheirChange: SettlePayment, RefundOrder and CheckIn
// write the messages they are given in their transaction, and nothing when
// they change nothing.
func testWebhooksWithTheirChange(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	at := now()
	e := createEvent(t, s, 10)
	u := createUser(t, s)
	org := e.OrganizerOf()
	o := mustOrder(t, s, e, u.ID, at, ol{0, 2})
	p := mustPayment(t, s, o, at)
	var paidMsg *boxoffice.WebhookMessage
	settle := settleWith(succeeded("pi_"+p.ID), at, at, e.MaxTicketsPerUser, nil)
	_, err := s.SettlePayment(ctx, p.ID, "", func(f boxoffice.SettleFacts) (boxoffice.Settlement, bool, error) {
		st, changed, err := settle(f)
		paidMsg = boxoffice.NewWebhookMessage(org, boxoffice.HookOrderPaid, map[string]any{"order_id": o.ID}, at)
		st.Webhooks = []*boxoffice.WebhookMessage{paidMsg}
		return st, changed, err
	})
	must(t, "SettlePayment", err)
	// A refused refund writes nothing.
	refused := boxoffice.NewWebhookMessage(org, boxoffice.HookOrderRefunded, map[string]any{}, at)
	if _, err := s.RefundOrder(ctx, o.ID, func(*boxoffice.Order, *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
		return &boxoffice.Refund{Webhooks: []*boxoffice.WebhookMessage{refused}}, nil, boxoffice.ErrInvalidState
	}); !errors.Is(err, boxoffice.ErrInvalidState) {
		t.Fatalf("refused refund: %v", err)
	}
	tickets := orderTickets(t, s, o.ID)
	refund := refundWith(e, boxoffice.RefundRequest{TicketIDs: []string{tickets[1].ID}}, at, nil)
	var refundMsg *boxoffice.WebhookMessage
	_, err = s.RefundOrder(ctx, o.ID, func(o *boxoffice.Order, p *boxoffice.Payment) (*boxoffice.Refund, *boxoffice.OutboxMessage, error) {
		r, m, err := refund(o, p)
		if err == nil {
			refundMsg = boxoffice.NewWebhookMessage(org, boxoffice.HookOrderRefunded, map[string]any{"refund_id": r.ID}, at)
			r.Webhooks = []*boxoffice.WebhookMessage{refundMsg}
		}
		return r, m, err
	})
	must(t, "RefundOrder", err)
	// Two scans of the kept ticket with a hook (one admits), one without:
	// one message.
	sc1, sc2 := onlineScan(tickets[0], "North", at), onlineScan(tickets[0], "North", at)
	sc1.Hook, sc2.Hook = org, org
	must(t, "CheckIn", s.CheckIn(ctx, e.ID, []*boxoffice.Scan{sc1, sc2}))
	other := mustOrder(t, s, e, u.ID, at, ol{0, 1})
	op := mustPayment(t, s, other, at)
	_, err = s.SettlePayment(ctx, op.ID, "", settleWith(succeeded("pi_"+op.ID), at, at, e.MaxTicketsPerUser, nil))
	must(t, "SettlePayment(no hook)", err)
	must(t, "CheckIn(no hook)", s.CheckIn(ctx, e.ID, []*boxoffice.Scan{onlineScan(orderTickets(t, s, other.ID)[0], "", at)}))

	took := fanOut(t, s, at)
	types := map[boxoffice.HookType]int{}
	for _, m := range took {
		types[m.Type]++
		if m.OrganizerID != org {
			t.Errorf("message of organizer %s", m.OrganizerID)
		}
		if m.ID == paidMsg.ID {
			diff(t, "order.paid as written", paidMsg, m)
		}
		if m.ID == refundMsg.ID {
			diff(t, "order.refunded as written", refundMsg, m)
		}
	}
	diff(t, "messages written", map[boxoffice.HookType]int{boxoffice.HookOrderPaid: 1, boxoffice.HookOrderRefunded: 1,
		boxoffice.HookTicketCheckedIn: 1}, types)
}

func testPurgeWebhooks(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	old := now().Add(-48 * time.Hour)
	org := boxoffice.NewID()
	ep := newEndpoint(org, old.Add(-time.Hour), boxoffice.HookOrderPaid)
	must(t, "CreateWebhookEndpoint", s.CreateWebhookEndpoint(ctx, ep))
	done := boxoffice.NewWebhookMessage(org, boxoffice.HookOrderPaid, map[string]any{}, old)
	waiting := boxoffice.NewWebhookMessage(org, boxoffice.HookOrderPaid, map[string]any{}, old.Add(time.Millisecond))
	nobody := boxoffice.NewWebhookMessage(org, boxoffice.HookEventSoldOut, map[string]any{}, old)
	must(t, "InsertWebhookMessages", s.InsertWebhookMessages(ctx, []*boxoffice.WebhookMessage{done, waiting, nobody}))
	fanOut(t, s, old)
	recent := boxoffice.NewWebhookMessage(org, boxoffice.HookEventSoldOut, map[string]any{}, now())
	must(t, "InsertWebhookMessages", s.InsertWebhookMessages(ctx, []*boxoffice.WebhookMessage{recent}))
	fanOut(t, s, now())

	jobs, err := s.ClaimWebhookDeliveries(ctx, old, old.Add(time.Minute), 10)
	must(t, "ClaimWebhookDeliveries", err)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(jobs))
	}
	var ds []*boxoffice.WebhookDelivery
	var waitingID string
	for _, j := range jobs {
		if j.Message.ID == done.ID {
			j.Delivery.Attempted(boxoffice.AttemptOutcome{Status: 200, At: old}, 0.5)
		} else {
			j.Delivery.Attempted(boxoffice.AttemptOutcome{Status: 500, At: old}, 0.5)
			waitingID = j.Delivery.ID
		}
		ds = append(ds, j.Delivery)
	}
	must(t, "RecordWebhookAttempts", s.RecordWebhookAttempts(ctx, ds, func(*boxoffice.WebhookEndpoint, []*boxoffice.WebhookDelivery) {}))

	// The succeeded delivery, its message and the message nobody received
	// go; the failed delivery and its message, and the recent message,
	// stay.
	n, err := s.PurgeWebhooks(ctx, now().Add(-24*time.Hour))
	must(t, "PurgeWebhooks", err)
	if n != 3 {
		t.Errorf("purged %d rows, want 3", n)
	}
	if n, err := s.PurgeWebhooks(ctx, now().Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("a second purge: %d, %v", n, err)
	}
	log, err := s.WebhookDeliveries(ctx, boxoffice.DeliveryFilter{EndpointID: ep.ID, Limit: 10})
	must(t, "WebhookDeliveries", err)
	if len(log) != 1 || log[0].ID != waitingID {
		t.Fatalf("deliveries left: %+v", log)
	}
	jobs, err = s.ClaimWebhookDeliveries(ctx, now().Add(time.Hour), now().Add(2*time.Hour), 10)
	must(t, "ClaimWebhookDeliveries(after the purge)", err)
	if len(jobs) != 1 || jobs[0].Message == nil || jobs[0].Message.ID != waiting.ID {
		t.Errorf("the waiting delivery after a purge: %+v", jobs)
	}
}
