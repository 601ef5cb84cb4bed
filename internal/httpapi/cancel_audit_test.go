package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/testpay"
)

type cancellationJSON struct {
	Event struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"event"`
	OrdersRefunded  int  `json:"orders_refunded"`
	OrdersCancelled int  `json:"orders_cancelled"`
	Complete        bool `json:"complete"`
}

type auditJSON struct {
	ID          string          `json:"id"`
	OrganizerID string          `json:"organizer_id"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"`
	SubjectType string          `json:"subject_type"`
	SubjectID   string          `json:"subject_id"`
	Detail      json.RawMessage `json:"detail"`
	Addr        string          `json:"addr"`
	At          time.Time       `json:"at"`
}

// TestCancelEventHTTP: an admin cancels an event with a paid and a
// pending order; the paid one is refunded in full through the provider,
// the pending one cancelled, the tickets void, the event still readable,
// and the audit log says so.
func TestCancelEventHTTP(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	late, _ := ts.signUp("late@example.test")
	event, a, c := ts.twoTiers(10, 3)

	var paid, pending orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, lines(a, 2, c, 1)).ok(t, 201, &paid)
	var pay paymentJSON
	ts.call("POST", "/api/v1/orders/"+paid.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(t, 201, &pay)
	ts.call("POST", "/api/v1/events/"+event+"/orders", late, lines(a, 1)).ok(t, 201, &pending)

	ts.call("POST", "/api/v1/events/"+event+"/cancel", fan, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("POST", "/api/v1/events/"+event+"/cancel", ts.adminToken, map[string]any{"reason": strings.Repeat("x", 501)}).
		problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/events/"+event+"/cancel", ts.adminToken, map[string]any{"reason": 5}).
		problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/events/"+event+"/cancel", ts.adminToken, map[string]any{"why": "x"}).
		problem(t, 422, boxoffice.CodeValidationFailed)

	var out cancellationJSON
	ts.call("POST", "/api/v1/events/"+event+"/cancel", ts.adminToken, map[string]any{"reason": "The hall flooded."}).ok(t, 200, &out)
	if out.Event.ID != event || out.Event.Status != "cancelled" || out.OrdersRefunded != 1 || out.OrdersCancelled != 1 || !out.Complete {
		t.Fatalf("cancellation = %+v", out)
	}
	ts.call("POST", "/api/v1/events/"+event+"/cancel", ts.adminToken, nil).problem(t, 409, boxoffice.CodeInvalidState)

	var e struct {
		Status string `json:"status"`
	}
	ts.call("GET", "/api/v1/events/"+event, "", nil).ok(t, 200, &e)
	if e.Status != "cancelled" {
		t.Fatalf("the public sees the event %s", e.Status)
	}
	ts.call("POST", "/api/v1/events/"+event+"/orders", late, lines(a, 1)).problem(t, 409, boxoffice.CodeSalesClosed)

	ts.call("GET", "/api/v1/orders/"+pending.ID, late, nil).ok(t, 200, &pending)
	if pending.Status != "cancelled" {
		t.Fatalf("the pending order is %s", pending.Status)
	}
	ts.call("GET", "/api/v1/orders/"+paid.ID, fan, nil).ok(t, 200, &paid)
	if paid.Status != "refunded" {
		t.Fatalf("the paid order is %s", paid.Status)
	}
	var tickets listJSON[ticketJSON]
	ts.call("GET", "/api/v1/orders/"+paid.ID+"/tickets", fan, nil).ok(t, 200, &tickets)
	if len(tickets.Items) != 3 {
		t.Fatalf("tickets: %+v", tickets.Items)
	}
	for _, tk := range tickets.Items {
		if tk.Status != "void" {
			t.Errorf("ticket %s is %s", tk.ID, tk.Status)
		}
	}
	waitUntil(t, func() bool {
		var list struct{ Items []refundJSONT }
		ts.call("GET", "/api/v1/orders/"+paid.ID+"/refunds", ts.adminToken, nil).ok(t, 200, &list)
		return len(list.Items) == 1 && list.Items[0].Status == "succeeded"
	})
	if got := ts.pay.Refunded(testpay.PaymentRef(pay.ID)); got != 12000 {
		t.Fatalf("the provider refunded %d, want 12000", got)
	}

	// The audit log, newest first, a page at a time.
	org := boxoffice.DefaultOrganizerID
	var page listJSON[auditJSON]
	ts.call("GET", "/api/v1/organizers/"+org+"/audit?limit=1", ts.adminToken, nil).ok(t, 200, &page)
	if len(page.Items) != 1 || page.NextCursor == nil {
		t.Fatalf("first page: %+v", page)
	}
	var all []auditJSON
	all = append(all, page.Items...)
	for page.NextCursor != nil {
		cur := *page.NextCursor
		page = listJSON[auditJSON]{}
		ts.call("GET", "/api/v1/organizers/"+org+"/audit?limit=1&cursor="+cur, ts.adminToken, nil).ok(t, 200, &page)
		all = append(all, page.Items...)
	}
	var actions []string
	for _, a := range all {
		actions = append(actions, a.Action)
		if a.OrganizerID != org {
			t.Errorf("entry of another organizer: %+v", a)
		}
	}
	// Newest first: the refund came after the cancellation, the event's
	// creation first of all.
	want := []string{"order.refunded", "event.cancelled", "event.created"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
	if all[1].SubjectID != event || all[1].Actor == "" || all[1].Actor == "system" || all[1].Addr == "" ||
		!strings.Contains(string(all[1].Detail), "The hall flooded.") {
		t.Fatalf("the cancellation's entry: %+v", all[1])
	}
	if all[0].Actor != "system" || all[0].SubjectID != paid.ID {
		t.Fatalf("the refund's entry: %+v", all[0])
	}
	ts.call("GET", "/api/v1/organizers/"+org+"/audit?cursor=nope", ts.adminToken, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("GET", "/api/v1/organizers/"+org+"/audit?limit=0", ts.adminToken, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("GET", "/api/v1/organizers/"+org+"/audit", fan, nil).problem(t, 404, boxoffice.CodeNotFound)
}
