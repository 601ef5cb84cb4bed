package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

type ticketJSON struct {
	ID           string     `json:"id"`
	OrderID      string     `json:"order_id"`
	EventID      string     `json:"event_id"`
	TierID       string     `json:"tier_id"`
	AttendeeName string     `json:"attendee_name"`
	Status       string     `json:"status"`
	Version      int        `json:"version"`
	Code         string     `json:"code"`
	CheckedInAt  *time.Time `json:"checked_in_at"`
	Gate         string     `json:"gate"`
}

type scanJSON struct {
	Result    string      `json:"result"`
	Reason    string      `json:"reason"`
	Ticket    *ticketJSON `json:"ticket"`
	FirstScan *struct {
		At   time.Time `json:"at"`
		Gate string    `json:"gate"`
	} `json:"first_scan"`
}

// paidOrder places and pays an order of fan's for the lines, with the
// attendees of its first line, and returns its tickets.
func (ts *testServer) paidOrder(fan, event string, body map[string]any) (string, []ticketJSON) {
	ts.t.Helper()
	var o orderJSON
	ts.call("POST", "/api/v1/events/"+event+"/orders", fan, body).ok(ts.t, 201, &o)
	ts.call("POST", "/api/v1/orders/"+o.ID+"/payments", fan, map[string]string{"payment_token": "tok_visa"}).ok(ts.t, 201, nil)
	var list listJSON[ticketJSON]
	ts.call("GET", "/api/v1/orders/"+o.ID+"/tickets", fan, nil).ok(ts.t, 200, &list)
	return o.ID, list.Items
}

func (ts *testServer) scan(token, event, code, gate string) scanJSON {
	ts.t.Helper()
	var s scanJSON
	ts.call("POST", "/api/v1/events/"+event+"/checkins", token, map[string]any{"code": code, "gate": gate}).ok(ts.t, 200, &s)
	return s
}

// staff gives a new user a door role at an event and returns their token.
func (ts *testServer) staff(event, email, role string) string {
	ts.t.Helper()
	tok, id := ts.signUp(email)
	ts.call("PUT", "/api/v1/events/"+event+"/staff/"+id, ts.adminToken, map[string]string{"role": role}).ok(ts.t, 200, nil)
	return tok
}

func TestTicketsAndTheDoor(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, c := ts.twoTiers(10, 3)
	body := lines(a, 2, c, 1)
	body["lines"].([]map[string]any)[0]["attendees"] = []map[string]string{{"name": "Ada"}, {"name": "Grace"}}
	orderID, tickets := ts.paidOrder(fan, event, body)

	// One ticket per admission, named from the order, each with a code.
	if len(tickets) != 3 {
		t.Fatalf("%d tickets, want 3: %+v", len(tickets), tickets)
	}
	names := map[string]bool{}
	for _, tk := range tickets {
		names[tk.AttendeeName] = true
		if tk.Status != "valid" || len(tk.Code) != boxoffice.TicketCodeLen || tk.OrderID != orderID || tk.EventID != event {
			t.Errorf("ticket %+v", tk)
		}
	}
	if !names["Ada"] || !names["Grace"] {
		t.Errorf("names %v", names)
	}
	adult, adult2, child := tickets[0], tickets[1], tickets[2]
	if child.TierID != c {
		adult, adult2, child = tickets[1], tickets[2], tickets[0]
	}

	// Nobody else sees them.
	other, _ := ts.signUp("other@example.test")
	ts.call("GET", "/api/v1/orders/"+orderID+"/tickets", other, nil).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("GET", "/api/v1/tickets/"+adult.ID+"/qr.png", other, nil).problem(t, 404, boxoffice.CodeNotFound)

	// The documents.
	for path, prefix := range map[string]string{
		"/api/v1/tickets/" + adult.ID + "/qr.png":     "\x89PNG",
		"/api/v1/tickets/" + adult.ID + "/qr.svg":     "<svg",
		"/api/v1/tickets/" + adult.ID + "/ticket.pdf": "%PDF",
		"/api/v1/orders/" + orderID + "/tickets.pdf":  "%PDF",
	} {
		r := ts.call("GET", path, fan, nil)
		if r.status != 200 || !bytes.HasPrefix(bytes.TrimSpace(r.body), []byte(prefix)) {
			t.Errorf("%s: %d %q", path, r.status, r.body[:min(len(r.body), 40)])
		}
		if r.header.Get("Cache-Control") != "no-store" && !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: Cache-Control %q", path, r.header.Get("Cache-Control"))
		}
	}
	ts.call("GET", "/api/v1/tickets/"+adult.ID+"/qr.png?size=5000", fan, nil).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("GET", "/api/v1/orders/"+orderID+"/tickets.pdf", "", nil).problem(t, 401, boxoffice.CodeUnauthenticated)
	ts.call("GET", "/api/v1/orders/"+orderID+"/tickets.pdf?event="+event+"&exp=9999999999&sig="+strings.Repeat("A", 43), "", nil).
		problem(t, 404, boxoffice.CodeNotFound)

	// The door: only its staff scans.
	scanner := ts.staff(event, "scanner@example.test", "scanner")
	ts.call("POST", "/api/v1/events/"+event+"/checkins", fan, map[string]any{"code": adult.Code}).problem(t, 404, boxoffice.CodeNotFound) // not of the organizer's team
	if s := ts.scan(scanner, event, adult.Code, "North"); s.Result != "ok" || s.Ticket == nil || s.Ticket.Status != "used" || s.Ticket.AttendeeName == "" {
		t.Fatalf("first scan: %+v", s)
	}
	s := ts.scan(scanner, event, adult.Code, "South")
	if s.Result != "already_used" || s.FirstScan == nil || s.FirstScan.Gate != "North" {
		t.Fatalf("second scan: %+v", s)
	}

	// Damaged, truncated and foreign codes.
	flip := []byte(adult2.Code)
	flip[60] ^= 1
	other2Event, otherTier, _ := ts.twoTiers(5, 5)
	_, foreign := ts.paidOrder(fan, other2Event, lines(otherTier, 1))
	for name, c := range map[string]struct{ code, want string }{
		"changed":         {string(flip), "invalid"},
		"truncated":       {adult2.Code[:50], "invalid"},
		"garbage":         {"hello, door", "invalid"},
		"empty":           {"", "invalid"},
		"another event's": {foreign[0].Code, "wrong_event"},
	} {
		if s := ts.scan(scanner, event, c.code, "North"); s.Result != c.want {
			t.Errorf("%s code: %+v, want %s", name, s, c.want)
		}
	}
	ts.call("POST", "/api/v1/events/"+event+"/checkins", scanner, map[string]any{"code": strings.Repeat("x", 10000)}).
		problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/events/"+event+"/checkins", scanner, `{"code": 5}`).problem(t, 422, boxoffice.CodeValidationFailed)

	// A name change replaces the code.
	var renamed ticketJSON
	ts.call("PATCH", "/api/v1/tickets/"+adult2.ID, fan, map[string]string{"attendee_name": "Hedy"}).ok(t, 200, &renamed)
	if renamed.Code == adult2.Code || renamed.Version != 2 || renamed.AttendeeName != "Hedy" {
		t.Fatalf("renamed: %+v", renamed)
	}
	if s := ts.scan(scanner, event, adult2.Code, "North"); s.Result != "void" {
		t.Errorf("the code before the name change: %+v", s)
	}
	ts.call("PATCH", "/api/v1/tickets/"+adult.ID, fan, map[string]string{"attendee_name": "Ada L"}).problem(t, 409, boxoffice.CodeInvalidState)
	ts.call("PATCH", "/api/v1/tickets/"+adult2.ID, other, map[string]string{"attendee_name": "Mallory"}).problem(t, 404, boxoffice.CodeNotFound)
	ts.call("PATCH", "/api/v1/tickets/"+adult2.ID, fan, map[string]string{"attendee_name": "A\x00"}).problem(t, 422, boxoffice.CodeValidationFailed)

	// Gates: a supervisor opens a VIP gate for the child tier only.
	super := ts.staff(event, "super@example.test", "supervisor")
	ts.call("PUT", "/api/v1/events/"+event+"/gates/VIP", scanner, map[string]any{"tiers": []string{c}}).problem(t, 403, boxoffice.CodeForbidden)
	ts.call("PUT", "/api/v1/events/"+event+"/gates/VIP", super, map[string]any{"tiers": []string{c}}).ok(t, 200, nil)
	ts.call("PUT", "/api/v1/events/"+event+"/gates/Bad", super, map[string]any{"tiers": []string{a + "X"}}).problem(t, 422, boxoffice.CodeValidationFailed)
	if s := ts.scan(scanner, event, renamed.Code, "VIP"); s.Result != "wrong_gate" {
		t.Errorf("adult at the VIP gate: %+v", s)
	}
	if s := ts.scan(scanner, event, renamed.Code, "North"); s.Result != "ok" {
		t.Errorf("the renamed ticket's new code: %+v", s)
	}

	// A refund of the child's ticket voids it.
	var rf struct {
		TicketIDs []string `json:"ticket_ids"`
	}
	ts.call("POST", "/api/v1/orders/"+orderID+"/refunds", fan, map[string]any{"ticket_ids": []string{child.ID}}).ok(t, 201, &rf)
	if len(rf.TicketIDs) != 1 || rf.TicketIDs[0] != child.ID {
		t.Fatalf("refund: %+v", rf)
	}
	if s := ts.scan(scanner, event, child.Code, "VIP"); s.Result != "void" {
		t.Errorf("refunded ticket: %+v", s)
	}
	ts.call("POST", "/api/v1/orders/"+orderID+"/refunds", fan, map[string]any{"ticket_ids": []string{child.ID}}).
		problem(t, 422, boxoffice.CodeValidationFailed)

	// Undo: a supervisor's, not a scanner's.
	ts.call("DELETE", "/api/v1/events/"+event+"/checkins/"+adult.ID, scanner, nil).problem(t, 403, boxoffice.CodeForbidden)
	var undone ticketJSON
	ts.call("DELETE", "/api/v1/events/"+event+"/checkins/"+adult.ID, super, nil).ok(t, 200, &undone)
	if undone.Status != "valid" || undone.CheckedInAt != nil {
		t.Fatalf("undone: %+v", undone)
	}
	ts.call("DELETE", "/api/v1/events/"+event+"/checkins/"+adult.ID, super, nil).problem(t, 409, boxoffice.CodeInvalidState)
	ts.call("DELETE", "/api/v1/events/"+other2Event+"/checkins/"+adult.ID, ts.adminToken, nil).problem(t, 404, boxoffice.CodeNotFound)
	if s := ts.scan(scanner, event, adult.Code, "South"); s.Result != "ok" {
		t.Errorf("scan after the undo: %+v", s)
	}

	// Counts: two adults in (one at North, one at South), the child void.
	var counts listJSON[struct {
		Gate          string `json:"gate"`
		CheckedIn     int    `json:"checked_in"`
		CheckedInHere int    `json:"checked_in_here"`
		Expected      int    `json:"expected"`
	}]
	ts.call("GET", "/api/v1/events/"+event+"/gates", scanner, nil).ok(t, 200, &counts)
	last := counts.Items[len(counts.Items)-1]
	if len(counts.Items) != 2 || counts.Items[0].Gate != "VIP" || counts.Items[0].Expected != 0 || last.CheckedIn != 2 || last.Expected != 2 {
		t.Errorf("counts: %+v", counts.Items)
	}
}

// TestOfflineScanning downloads the bundle, verifies codes with it as a
// scanner does without the server, and uploads scans of two offline gates
// that admitted the same ticket.
func TestOfflineScanning(t *testing.T) {
	ts := newTestServer(t)
	fan, _ := ts.signUp("fan@example.test")
	event, a, _ := ts.twoTiers(10, 3)
	orderID, tickets := ts.paidOrder(fan, event, lines(a, 3))
	ts.call("POST", "/api/v1/orders/"+orderID+"/refunds", fan, map[string]any{"ticket_ids": []string{tickets[2].ID}}).ok(t, 201, nil)
	scanner := ts.staff(event, "scanner@example.test", "scanner")

	var b struct {
		PublicKey string `json:"public_key"`
		KeyID     string `json:"key_id"`
		Tickets   []struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
			Status  string `json:"status"`
		} `json:"tickets"`
		Revoked []string `json:"revoked"`
	}
	ts.call("GET", "/api/v1/events/"+event+"/checkin-bundle", fan, nil).problem(t, 404, boxoffice.CodeNotFound) // not of the organizer's team
	ts.call("GET", "/api/v1/events/"+event+"/checkin-bundle", scanner, nil).ok(t, 200, &b)
	pub, err := base64.RawURLEncoding.DecodeString(b.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %v", b.PublicKey, err)
	}
	kid, _ := hex.DecodeString(b.KeyID)
	for _, tk := range tickets[:2] {
		claim, res := boxoffice.VerifyTicketCode(pub, [4]byte(kid), tk.Code)
		if res != boxoffice.CheckinOK || claim.TicketID != tk.ID {
			t.Errorf("offline verification of %s: %s", tk.ID, res)
		}
	}
	if len(b.Tickets) != 2 || len(b.Revoked) != 1 || b.Revoked[0] != tickets[2].ID {
		t.Fatalf("bundle: %d tickets, revoked %v", len(b.Tickets), b.Revoked)
	}

	// Two gates admitted ticket 0 while offline (South earlier), North
	// also ticket 1; one entry is garbage, one has no scan_id.
	t0 := ts.clock.now().Add(-time.Hour)
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	north := map[string]any{"device_id": "north-1", "scans": []map[string]any{
		{"scan_id": "n1", "code": tickets[0].Code, "gate": "North", "scanned_at": at(2 * time.Minute)},
		{"scan_id": "n2", "code": tickets[1].Code, "gate": "North", "scanned_at": at(3 * time.Minute)},
		{"scan_id": "n3", "code": "garbage", "gate": "North", "scanned_at": at(4 * time.Minute)},
		{"code": tickets[1].Code, "gate": "North", "scanned_at": at(5 * time.Minute)},
		{"scan_id": "n5", "code": tickets[1].Code, "gate": "North", "scanned_at": "yesterday"},
	}}
	south := map[string]any{"device_id": "south-1", "scans": []map[string]any{
		{"scan_id": "s1", "code": tickets[0].Code, "gate": "South", "scanned_at": at(time.Minute)},
		{"scan_id": "s2", "code": tickets[2].Code, "gate": "South", "scanned_at": at(time.Minute), "result": "void"},
	}}
	type entry struct {
		ScanID string `json:"scan_id"`
		scanJSON
		Error *problem `json:"error"`
	}
	var n1, s1, n2 listJSON[entry]
	ts.call("POST", "/api/v1/events/"+event+"/checkins/batch", scanner, north).ok(t, 200, &n1)
	ts.call("POST", "/api/v1/events/"+event+"/checkins/batch", scanner, south).ok(t, 200, &s1)
	ts.call("POST", "/api/v1/events/"+event+"/checkins/batch", scanner, north).ok(t, 200, &n2) // again: idempotent
	got := func(l listJSON[entry]) string {
		var out []string
		for _, e := range l.Items {
			if e.Error != nil {
				out = append(out, "error:"+e.Error.Errors[0].Field)
			} else {
				out = append(out, e.Result)
			}
		}
		return strings.Join(out, " ")
	}
	if g := got(n1); g != "ok ok invalid error:scans[3].scan_id error:scans[4].scanned_at" {
		t.Errorf("north: %s", g)
	}
	if g := got(s1); g != "ok void" {
		t.Errorf("south (earlier, uploaded later): %s", g)
	}
	if g := got(n2); g != got(n1) {
		t.Errorf("north again: %s, first time %s", g, got(n1))
	}
	// First scan wins: South's, though it arrived later.
	var tk ticketJSON
	ts.call("GET", "/api/v1/tickets/"+tickets[0].ID, fan, nil).ok(t, 200, &tk)
	if tk.Status != "used" || tk.Gate != "South" {
		t.Errorf("ticket 0: %+v", tk)
	}
	var conflicts listJSON[struct {
		TicketID string `json:"ticket_id"`
		First    struct {
			Gate string `json:"gate"`
		} `json:"first"`
		Others []struct {
			Gate string `json:"gate"`
		} `json:"others"`
	}]
	ts.call("GET", "/api/v1/events/"+event+"/checkins/conflicts", scanner, nil).problem(t, 403, boxoffice.CodeForbidden)
	ts.call("GET", "/api/v1/events/"+event+"/checkins/conflicts", ts.adminToken, nil).ok(t, 200, &conflicts)
	if len(conflicts.Items) != 1 || conflicts.Items[0].TicketID != tickets[0].ID || conflicts.Items[0].First.Gate != "South" ||
		len(conflicts.Items[0].Others) != 1 || conflicts.Items[0].Others[0].Gate != "North" {
		t.Errorf("conflicts: %+v", conflicts.Items)
	}
	// Bad batches change nothing.
	ts.call("POST", "/api/v1/events/"+event+"/checkins/batch", scanner, map[string]any{"scans": []any{}}).problem(t, 422, boxoffice.CodeValidationFailed)
	ts.call("POST", "/api/v1/events/"+event+"/checkins/batch", scanner, `{"scans": [`).problem(t, 400, codeMalformedJSON)
}

// TestDoubleScanRace scans each ticket at many gates at the same moment:
// every ticket is admitted exactly once.
func TestDoubleScanRace(t *testing.T) {
	ts := newTestServer(t)
	event, a, c := ts.twoTiers(40, 40)
	var codes []string
	for i := range 10 {
		fan, _ := ts.signUp(fmt.Sprintf("fan%d@example.test", i))
		_, tks := ts.paidOrder(fan, event, lines(a, 2, c, 2))
		for _, tk := range tks {
			codes = append(codes, tk.Code)
		}
	}
	scanner := ts.staff(event, "scanner@example.test", "scanner")
	const gates = 8
	var mu sync.Mutex
	oks := map[string]int{}
	var wg sync.WaitGroup
	for g := range gates {
		wg.Go(func() {
			for i := range codes {
				code := codes[(i+g*5)%len(codes)]
				s := ts.scan(scanner, event, code, fmt.Sprintf("gate-%d", g))
				mu.Lock()
				switch s.Result {
				case "ok":
					oks[code]++
				case "already_used":
				default:
					t.Errorf("scan answered %+v", s)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, code := range codes {
		if oks[code] != 1 {
			t.Errorf("ticket admitted %d times", oks[code])
		}
	}
}
