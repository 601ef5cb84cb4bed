package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/testpay"

	"github.com/google/go-cmp/cmp"
)

type attendeeJSON struct {
	TicketID     string     `json:"ticket_id"`
	AttendeeName string     `json:"attendee_name"`
	TierID       string     `json:"tier_id"`
	TierName     string     `json:"tier_name"`
	Status       string     `json:"status"`
	CheckedInAt  *time.Time `json:"checked_in_at"`
	Gate         *string    `json:"gate"`
	OrderID      string     `json:"order_id"`
	BuyerEmail   string     `json:"buyer_email"`
	BuyerName    string     `json:"buyer_name"`
	IssuedAt     time.Time  `json:"issued_at"`
}

// attendeeEvent is an event with five tickets in two orders: the first
// (fan's, mailed to Billing@Example.test) names Ada Lovelace, a formula
// and a name with a comma and quotes; the second (other's, no email) names
// nobody. Ada is checked in at North; the formula's ticket is void.
type attendeeEvent struct {
	event, adult, child string
	fan, other          string
	order1, order2      string
	byName              map[string]ticketJSON
	plain               []ticketJSON // the second order's
}

func (ts *testServer) attendeeEvent() *attendeeEvent {
	ts.t.Helper()
	a := &attendeeEvent{byName: map[string]ticketJSON{}}
	a.event, a.adult, a.child = ts.twoTiers(10, 5)
	a.fan, _ = ts.signUp("fan@example.test")
	a.other, _ = ts.signUp("other@example.test")
	body := lines(a.adult, 3)
	body["email"] = "Billing@Example.test"
	body["lines"].([]map[string]any)[0]["attendees"] = []map[string]string{
		{"name": "Ada Lovelace"}, {"name": "=HYPERLINK(\"http://evil.test\")"}, {"name": `Smith, "Jr"`}}
	var ts1 []ticketJSON
	a.order1, ts1 = ts.paidOrder(a.fan, a.event, body)
	for _, tk := range ts1 {
		a.byName[tk.AttendeeName] = tk
	}
	a.order2, a.plain = ts.paidOrder(a.other, a.event, lines(a.child, 2))
	ts.scan(ts.adminToken, a.event, a.byName["Ada Lovelace"].Code, "North")
	_, err := ts.store.UpdateTicket(ts.t.Context(), a.byName[`=HYPERLINK("http://evil.test")`].ID, func(t *boxoffice.Ticket) (bool, error) {
		t.Status = boxoffice.TicketVoid
		return false, nil
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return a
}

func (ts *testServer) attendees(event, query string) listJSON[attendeeJSON] {
	ts.t.Helper()
	var l listJSON[attendeeJSON]
	ts.call("GET", "/api/v1/events/"+event+"/attendees"+query, ts.adminToken, nil).ok(ts.t, 200, &l)
	return l
}

func names(as []attendeeJSON) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.AttendeeName)
	}
	return out
}

func TestAttendeeList(t *testing.T) {
	ts := newTestServer(t)
	a := ts.attendeeEvent()
	base := "/api/v1/events/" + a.event + "/attendees"

	all := ts.attendees(a.event, "")
	if len(all.Items) != 5 || all.NextCursor != nil {
		t.Fatalf("attendees: %d, next %v", len(all.Items), all.NextCursor)
	}
	for i := 1; i < len(all.Items); i++ {
		if all.Items[i-1].TicketID >= all.Items[i].TicketID {
			t.Fatalf("not in ticket ID order: %v", all.Items)
		}
	}
	by := map[string]attendeeJSON{}
	for _, it := range all.Items {
		by[it.TicketID] = it
	}
	ada := by[a.byName["Ada Lovelace"].ID]
	if ada.Status != "used" || ada.Gate == nil || *ada.Gate != "North" || ada.CheckedInAt == nil || ada.TierName != "Adult" ||
		ada.TierID != a.adult || ada.OrderID != a.order1 || ada.BuyerEmail != "Billing@Example.test" ||
		ada.BuyerName != "Test fan@example.test" || ada.IssuedAt.IsZero() {
		t.Errorf("Ada: %+v", ada)
	}
	if v := by[a.byName[`=HYPERLINK("http://evil.test")`].ID]; v.Status != "void" || v.Gate != nil || v.CheckedInAt != nil {
		t.Errorf("void ticket: %+v", v)
	}
	// The order without an email: the buyer's.
	if p := by[a.plain[0].ID]; p.BuyerEmail != "other@example.test" || p.TierName != "Child" || p.AttendeeName != "" ||
		p.Status != "valid" {
		t.Errorf("plain ticket: %+v", p)
	}

	// Pages of two, to the end.
	var paged []attendeeJSON
	q := "?limit=2"
	for range 5 {
		l := ts.attendees(a.event, q)
		paged = append(paged, l.Items...)
		if l.NextCursor == nil {
			break
		}
		q = "?limit=2&cursor=" + *l.NextCursor
	}
	if diff := cmp.Diff(all.Items, paged); diff != "" {
		t.Errorf("pages of 2 (-one page +pages):\n%s", diff)
	}

	// Search.
	for q, want := range map[string][]string{
		"?q=ada":                            {"Ada Lovelace"},
		"?q=ADA+LOVE":                       {"Ada Lovelace"},
		"?q=lovelace":                       nil, // a prefix, not a substring
		"?q=smith,":                         {`Smith, "Jr"`},
		"?q=billing@":                       names(pick(all.Items, a.order1)),
		"?q=other@EXAMPLE":                  {"", ""},
		"?q=" + strings.ToLower(a.order2):   {"", ""},
		"?q=" + a.byName["Ada Lovelace"].ID: {"Ada Lovelace"},
		"?status=void":                      {`=HYPERLINK("http://evil.test")`},
		"?status=used&q=billing":            {"Ada Lovelace"},
		"?q=nobody":                         nil,
	} {
		l := ts.attendees(a.event, q)
		if diff := cmp.Diff(want, names(l.Items)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", q, diff)
		}
	}

	// Bad input is a problem, never a 500.
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=%21%21", "?cursor=" + strings.Repeat("A", 40),
		"?q=" + strings.Repeat("a", 101), "?status=lost", "?q=a%01b"} {
		ts.call("GET", base+q, ts.adminToken, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	}
	ts.call("GET", "/api/v1/events/"+boxoffice.NewID()+"/attendees", ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", base, a.fan, nil).problem(t, 404, boxoffice.CodeNotFound) // not in the organizer's team
	ts.call("GET", base, "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
}

// pick returns the attendees of an order.
func pick(as []attendeeJSON, orderID string) []attendeeJSON {
	var out []attendeeJSON
	for _, a := range as {
		if a.OrderID == orderID {
			out = append(out, a)
		}
	}
	return out
}

func TestAttendeeExport(t *testing.T) {
	ts := newTestServer(t)
	a := ts.attendeeEvent()
	path := "/api/v1/events/" + a.event + "/attendees.csv"
	r := ts.call("GET", path, ts.adminToken, nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	for h, want := range map[string]string{
		"Content-Type":        "text/csv; charset=utf-8",
		"Content-Disposition": `attachment; filename="attendees-` + a.event + `.csv"`,
		"Cache-Control":       "no-store",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	body, ok := bytes.CutPrefix(r.body, []byte("\xEF\xBB\xBF"))
	if !ok {
		t.Fatalf("no byte order mark: %q", r.body[:min(len(r.body), 10)])
	}
	if !bytes.HasPrefix(body, []byte("ticket_id,attendee_name,tier_id,tier_name,status,checked_in_at,gate,order_id,buyer_email,buyer_name,issued_at\r\n")) {
		t.Errorf("header: %q", body[:min(len(body), 150)])
	}
	// RFC 4180 quoting, as bytes.
	for _, cell := range []string{`,"Smith, ""Jr""",`, `,"'=HYPERLINK(""http://evil.test"")",`} {
		if !bytes.Contains(body, []byte(cell)) {
			t.Errorf("export lacks %s:\n%s", cell, body)
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if len(recs) != 6 {
		t.Fatalf("%d records, want a header and 5", len(recs))
	}
	list := ts.attendees(a.event, "")
	for i, it := range list.Items {
		rec := recs[i+1]
		checked, gate := "", ""
		if it.CheckedInAt != nil {
			checked, gate = it.CheckedInAt.UTC().Format(time.RFC3339Nano), *it.Gate
		}
		want := []string{it.TicketID, boxoffice.SafeCSVCell(it.AttendeeName), it.TierID, it.TierName, it.Status, checked, gate,
			it.OrderID, it.BuyerEmail, it.BuyerName, it.IssuedAt.UTC().Format(time.RFC3339Nano)}
		if diff := cmp.Diff(want, rec); diff != "" {
			t.Errorf("row %d (-want +got):\n%s", i, diff)
		}
	}

	// A name with a line break (the store allows what the API does not
	// take) stays one cell; a buyer email starting with - is protected.
	_, err = ts.store.UpdateTicket(t.Context(), a.plain[0].ID, func(t *boxoffice.Ticket) (bool, error) {
		t.AttendeeName = "Line one\r\nline two"
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r = ts.call("GET", path+"?q="+a.order2, ts.adminToken, nil)
	recs, err = csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\xEF\xBB\xBF")))).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("export of order 2: %v, %d records:\n%s", err, len(recs), r.body)
	}
	if got := recs[1][1] + recs[2][1]; got != "Line one\nline two" { // encoding/csv reads \r\n in a quoted cell as \n
		t.Errorf("multi-line name = %q", got)
	}

	// Filters and refusals.
	r = ts.call("GET", path+"?status=void", ts.adminToken, nil)
	if n := bytes.Count(r.body, []byte("\r\n")); r.status != 200 || n != 2 {
		t.Errorf("void export: %d, %d lines", r.status, n)
	}
	ts.call("GET", path+"?status=lost", ts.adminToken, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("GET", path, a.fan, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", path, "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.call("GET", "/api/v1/events/"+boxoffice.NewID()+"/attendees.csv", ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
}

func TestSafeCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "Ada": "Ada", "=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"a=b": "a=b", "'quoted": "'quoted",
	} {
		if got := boxoffice.SafeCSVCell(in); got != want {
			t.Errorf("SafeCSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// flakyAttendees fails Attendees from its failAt-th call on.
type flakyAttendees struct {
	boxoffice.Store
	calls, failAt atomic.Int32
}

func (s *flakyAttendees) Attendees(ctx context.Context, f boxoffice.AttendeeFilter) ([]*boxoffice.EventAttendee, error) {
	if n := s.calls.Add(1); n >= s.failAt.Load() {
		return nil, errors.New("the database went away")
	}
	return s.Store.Attendees(ctx, f)
}

// TestAttendeeExportPages exports in pages of two: every page arrives; a
// failure of the first read is a problem, a failure after the first byte
// cuts the connection so the download cannot pass for complete.
func TestAttendeeExportPages(t *testing.T) {
	flaky := &flakyAttendees{}
	flaky.failAt.Store(1 << 30)
	ts := newTestServer(t, func(store boxoffice.Store, cfg *Config) {
		flaky.Store = store
		svc := boxoffice.NewService(boxoffice.ServiceConfig{Store: flaky, Hasher: auth.NewHasher(4, 0, 0, 0), Provider: testpay.New(testWebhookSecret),
			Logger: discardLogger(), ExportPageSize: 2, SweepInterval: time.Hour})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = svc.Run(ctx) }()
		t.Cleanup(func() { stop(); <-done })
		waitStandings(t, svc)
		cfg.Service = svc
	})
	a := ts.attendeeEvent()
	path := ts.url + "/api/v1/events/" + a.event + "/attendees.csv"
	get := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+ts.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	flaky.calls.Store(0)
	resp, body, err := get()
	if err != nil || resp.StatusCode != 200 || bytes.Count(body, []byte("\r\n")) != 6 {
		t.Fatalf("export in pages of 2: %v, %d, %q", err, resp.StatusCode, body)
	}
	if n := flaky.calls.Load(); n != 3 { // 2 + 2 + 1
		t.Errorf("%d reads of the store, want 3", n)
	}

	flaky.calls.Store(0)
	flaky.failAt.Store(1)
	resp, body, _ = get()
	if resp.StatusCode != 500 || !bytes.Contains(body, []byte(`"internal"`)) {
		t.Errorf("first read failing: %d %s", resp.StatusCode, body)
	}

	flaky.calls.Store(0)
	flaky.failAt.Store(2)
	resp, body, err = get()
	if resp.StatusCode != 200 || err == nil {
		t.Errorf("second read failing: %d, err %v, body %q; want a cut transfer", resp.StatusCode, err, body)
	}
}
