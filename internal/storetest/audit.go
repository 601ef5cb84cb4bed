package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"boxoffice"
)

func runAudit(t *testing.T, open func(t *testing.T) boxoffice.Store) {
	t.Run("AuditLog", func(t *testing.T) { testAuditLog(t, open(t)) })
	t.Run("CancelledEventOrders", func(t *testing.T) { testCancelledEventOrders(t, open(t)) })
}

func testAuditLog(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	org, other := boxoffice.NewID(), boxoffice.NewID()
	at := now()
	var want []*boxoffice.AuditEntry
	for i := range 5 {
		e := boxoffice.NewAuditEntry(org, "key:"+boxoffice.NewID(), "2001:db8::1", "event.published", "event", boxoffice.NewID(),
			map[string]any{"n": i, "secret": "whsec_x"}, at.Add(time.Duration(i)*time.Second))
		must(t, "InsertAudit", s.InsertAudit(ctx, e))
		want = append(want, e)
	}
	must(t, "InsertAudit(other)", s.InsertAudit(ctx, boxoffice.NewAuditEntry(other, "u", "", "member.removed", "user", "x", nil, at)))
	slices.Reverse(want)
	got, err := s.AuditLog(ctx, boxoffice.AuditFilter{OrganizerID: org, Limit: 3})
	must(t, "AuditLog", err)
	diff(t, "first page", want[:3], got)
	var d map[string]any
	must(t, "detail", json.Unmarshal(got[0].Detail, &d))
	if _, ok := d["secret"]; ok || d["n"] != float64(4) {
		t.Fatalf("detail %s", got[0].Detail)
	}
	got, err = s.AuditLog(ctx, boxoffice.AuditFilter{OrganizerID: org, BeforeID: got[2].ID, Limit: 3})
	must(t, "AuditLog(page 2)", err)
	diff(t, "second page", want[3:], got)
	got, err = s.AuditLog(ctx, boxoffice.AuditFilter{OrganizerID: boxoffice.NewID()})
	must(t, "AuditLog(unknown)", err)
	if len(got) != 0 {
		t.Fatalf("an unknown organizer's log: %v", got)
	}
}

func testCancelledEventOrders(t *testing.T, s boxoffice.Store) {
	ctx := t.Context()
	live := createEvent(t, s, 10)
	gone := createEvent(t, s, 10)
	u, v := createUser(t, s), createUser(t, s)
	at := now()
	paidOrder(t, s, live, u.ID, at, ol{0, 1})
	paid, _ := paidOrder(t, s, gone, u.ID, at, ol{0, 2})
	pending := mustOrder(t, s, gone, v.ID, at, ol{0, 1})
	cancelled := mustOrder(t, s, gone, v.ID, at, ol{0, 1})
	_, err := s.CancelOrder(ctx, cancelled.ID, at, nil)
	must(t, "CancelOrder", err)

	ids, err := s.CancelledEventOrders(ctx, 10)
	must(t, "CancelledEventOrders", err)
	if len(ids) != 0 {
		t.Fatalf("no event is cancelled, yet: %v", ids)
	}
	_, err = s.UpdateEvent(ctx, gone.ID, func(e *boxoffice.Event) error { e.Status = boxoffice.EventCancelled; return nil })
	must(t, "UpdateEvent(cancel)", err)
	ids, err = s.CancelledEventOrders(ctx, 10)
	must(t, "CancelledEventOrders", err)
	want := []string{paid.ID, pending.ID}
	slices.Sort(want)
	diff(t, "open orders of cancelled events", want, ids)
	ids, err = s.CancelledEventOrders(ctx, 1)
	must(t, "CancelledEventOrders(1)", err)
	diff(t, "first open order", want[:1], ids)

	_, err = s.CancelOrder(ctx, pending.ID, at, nil)
	must(t, "CancelOrder", err)
	_, err = s.RefundOrder(ctx, paid.ID, refundWith(gone, boxoffice.RefundRequest{ByOrganizer: true}, at, nil))
	must(t, "RefundOrder", err)
	ids, err = s.CancelledEventOrders(ctx, 10)
	must(t, "CancelledEventOrders", err)
	if len(ids) != 0 {
		t.Fatalf("after settling: %v", ids)
	}
}
