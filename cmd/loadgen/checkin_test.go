package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// checkinDetails decodes the checkin check's details.
func checkinDetails(t *testing.T, rep *Report) checkinCheckReport {
	t.Helper()
	if rep.Check == nil {
		t.Fatal("no check")
	}
	b, _ := json.Marshal(rep.Check.Details)
	var d checkinCheckReport
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckinFlags(t *testing.T) {
	base := []string{"-scenario", "checkin", "-jwt-secret", testSecret, "-vus", "1", "-event", "E", "-order-lines", "A:100"}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "-admin-email"},
		{append([]string{"-checkin-scans-per-ticket", "9"}, adminArgs...), "1 to 8"},
		{append([]string{"-checkin-tickets", "0"}, adminArgs...), "-checkin-tickets"},
		{append([]string{"-rate", "10"}, adminArgs...), "closed model"},
		{adminArgs, ""},
	} {
		_, err := parseFlags(append(append([]string{}, base...), tc.args...), io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestCheckinLayOut: every ticket is scanned as often as asked, each time
// at another gate, and the shuffle stays within its windows.
func TestCheckinLayOut(t *testing.T) {
	s := &checkin{orders: orders{cfg: &config{VUs: 3}}, c: &checkinConfig{ScansPerTicket: 3}}
	for i := range 100 {
		s.tickets = append(s.tickets, checkinTicket{ID: string(rune('a' + i%26)), Code: "C"})
	}
	s.layOut(rand.New(rand.NewPCG(1, 2)))
	if len(s.slots) != 300 {
		t.Fatalf("%d scans, want 300", len(s.slots))
	}
	gates := map[int32]map[int8]bool{}
	for k, sl := range s.slots {
		if gates[sl.ticket] == nil {
			gates[sl.ticket] = map[int8]bool{}
		}
		gates[sl.ticket][sl.gate] = true
		if lo := int(sl.ticket) * 3 / 12 * 12; k < lo || k >= lo+12 {
			t.Errorf("scan %d of ticket %d is outside its window [%d, %d)", k, sl.ticket, lo, lo+12)
		}
		var body struct{ Code, Gate string }
		if err := json.Unmarshal(sl.body, &body); err != nil || body.Code != "C" || body.Gate != gateName(int(sl.gate)) {
			t.Errorf("scan %d: body %s", k, sl.body)
		}
	}
	for tk, g := range gates {
		if len(g) != 3 {
			t.Errorf("ticket %d was scanned at %d gates, want 3", tk, len(g))
		}
	}
}

func TestCheckinAgainstRealServer(t *testing.T) {
	base, event, tiers := startServer(t, serverSpec{users: 30, capacities: []int{10000}, maxPerUser: 10})
	args := append([]string{"-scenario", "checkin", "-targets", base, "-event", event, "-order-lines", tiers[0] + ":10",
		"-jwt-secret", testSecret, "-users", "30", "-vus", "8", "-duration", "30s", "-checkin-tickets", "150",
		"-setup-workers", "4", "-fail-on-unexpected"}, adminArgs...)
	// The second run starts from the first's counts, and only the 15
	// users the first left may still buy.
	for run := range 2 {
		rep, stdout, err := runLoadgen(t, args...)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		d := checkinDetails(t, rep)
		if !rep.Check.OK || rep.Check.Inconclusive || d.Tickets != 150 || d.Scanned != 150 || d.AdmittedOnce != 150 ||
			d.CheckedIn != 150 || d.ReadBack == 0 {
			t.Fatalf("run %d: details %+v check %v", run, d, rep.Check.Lines)
		}
		if rep.Ops["scan"].Count != 300 || rep.OK != 300 || rep.ByCode["ok"] != 150 || rep.ByCode["already_used"] != 150 ||
			rep.DurationS >= 30 {
			t.Fatalf("run %d: ops %v codes %v ok %d in %.1fs", run, rep.Ops, rep.ByCode, rep.OK, rep.DurationS)
		}
		if !strings.Contains(stdout, "checked_in grew by 150, expected by 0") || !strings.Contains(stdout, "checked_in_here grew by") {
			t.Fatalf("run %d: summary:\n%s", run, stdout)
		}
	}
	// Every user is at the limit now.
	if _, _, err := runLoadgen(t, args...); err == nil || !strings.Contains(err.Error(), "per-user limit") {
		t.Fatalf("a third run: err %v, want the users at their limit", err)
	}
}

// TestCheckinCheckFailsOnUndoneCheckin: a check-in undone behind the run's
// back leaves the counts short of the scans answered ok.
func TestCheckinCheckFailsOnUndoneCheckin(t *testing.T) {
	base, event, tiers := startServer(t, serverSpec{users: 10, capacities: []int{1000}, maxPerUser: 10})
	cfg, err := parseFlags(append([]string{"-scenario", "checkin", "-targets", base, "-event", event,
		"-order-lines", tiers[0] + ":10", "-jwt-secret", testSecret, "-users", "10", "-vus", "4", "-duration", "30s",
		"-checkin-tickets", "20", "-quiet"}, adminArgs...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sc := newCheckin(cfg).(*checkin)
	env := &Env{Cfg: cfg, Client: newHTTPClient(4, cfg.Timeout), Rec: newRecorder(sc.Classify), RunID: "r", Logf: t.Logf}
	if err := sc.Prepare(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	runLoad(t.Context(), env, sc)
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/v1/events/"+event+"/checkins/"+sc.tickets[3].ID, nil)
	req.Header["Authorization"] = env.AdminAuth
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("undo: %d", resp.StatusCode)
	}
	rep, err := sc.Check(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Lines, "\n")
	if rep.OK || !strings.Contains(all, "checked_in grew by 19") || !strings.Contains(all, "reads back valid") {
		t.Fatalf("the check passed an undone check-in:\n%s", all)
	}
}
