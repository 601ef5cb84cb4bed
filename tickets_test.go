package boxoffice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testTicket(eventID, tier string) *Ticket {
	return &Ticket{ID: NewID(), OrderID: NewID(), EventID: eventID, TierID: tier, UserID: "u1", Status: TicketValid,
		Version: 1, IssuedAt: t0, UpdatedAt: t0}
}

func TestTicketCode(t *testing.T) {
	k := NewEventKey(NewID(), t0)
	other := NewEventKey(NewID(), t0)
	tk := testTicket(k.EventID, "A")
	code := k.Code(tk)
	if len(code) != TicketCodeLen || len(code) >= 120 {
		t.Fatalf("code is %d characters, want %d (under 120)", len(code), TicketCodeLen)
	}
	claim, res := k.Verify(code)
	if res != CheckinOK || claim.TicketID != tk.ID || claim.Version != 1 || claim.KeyID != k.KeyID() {
		t.Fatalf("Verify(own code) = %+v, %s", claim, res)
	}
	if k.Code(tk) != code {
		t.Error("a ticket's code changes between calls; Ed25519 signatures are deterministic")
	}
	tk.Version = 2
	if k.Code(tk) == code {
		t.Error("a new version has the old code")
	}
	if c, _ := k.Verify(k.Code(tk)); c.Version != 2 {
		t.Errorf("version %d, want 2", c.Version)
	}
	// Scanners add line ends and spaces around what they read.
	if _, res := k.Verify(" " + code + "\r\n"); res != CheckinOK {
		t.Errorf("code with surrounding space: %s", res)
	}

	foreign := other.Code(testTicket(other.EventID, "A"))
	cases := map[string]struct {
		code string
		want CheckinResult
	}{
		"another event's":  {foreign, CheckinWrongEvent},
		"empty":            {"", CheckinInvalid},
		"truncated":        {code[:len(code)-1], CheckinInvalid},
		"one more char":    {code + "A", CheckinInvalid},
		"not base64url":    {strings.Repeat("*", TicketCodeLen), CheckinInvalid},
		"standard base64":  {strings.ReplaceAll(strings.ReplaceAll(code, "-", "+"), "_", "/") + "+", CheckinInvalid},
		"a URL":            {"https://example.com/" + code[20:], CheckinInvalid},
		"other format":     {"B" + code[1:], CheckinInvalid},
		"signature zeroed": {code[:31] + strings.Repeat("A", TicketCodeLen-31), CheckinInvalid},
	}
	for name, c := range cases {
		if _, res := k.Verify(c.code); res != c.want {
			t.Errorf("%s: %s, want %s", name, res, c.want)
		}
		if _, res := k.Check(c.code); res != c.want {
			t.Errorf("%s: the server's check says %s, want %s", name, res, c.want)
		}
	}
	if _, res := k.Check(code); res != CheckinOK {
		t.Errorf("the server's check of a genuine code: %s", res)
	}
	// Every single changed character is caught: in the key ID it reads
	// as another event's code, anywhere else as a changed one.
	for i := range code {
		for _, r := range []byte{'A', 'z', '0', '-'} {
			if code[i] == r {
				continue
			}
			changed := code[:i] + string(r) + code[i+1:]
			_, res := k.Verify(changed)
			if _, res2 := k.Check(changed); res == CheckinOK || res2 != res {
				t.Fatalf("a code changed at %d: verify %s, check %s", i, res, res2)
			}
		}
	}
}

func FuzzParseTicketCode(f *testing.F) {
	k := NewEventKey(NewID(), t0)
	f.Add(k.Code(testTicket(k.EventID, "A")))
	f.Add("")
	f.Add(strings.Repeat("A", TicketCodeLen))
	f.Add("AQAAAAAB")
	f.Fuzz(func(t *testing.T, code string) {
		claim, res := k.Verify(code)
		if _, checked := k.Check(code); checked != res {
			t.Fatalf("%q: Verify says %s, Check %s", code, res, checked)
		}
		if res != CheckinOK {
			return
		}
		// A code that verifies is the canonical code of its claim.
		tk := &Ticket{ID: claim.TicketID, Version: claim.Version}
		if k.Code(tk) != strings.TrimSpace(code) {
			t.Fatalf("%q verifies but is not the code of %+v", code, claim)
		}
	})
}

// BenchmarkCheckTicketCode is the server's check of a code (a signature
// and a comparison); BenchmarkVerifyTicketCode a scanner's, offline.
func BenchmarkCheckTicketCode(b *testing.B) {
	k := NewEventKey(NewID(), t0)
	code := k.Code(testTicket(k.EventID, "A"))
	b.ReportAllocs()
	for b.Loop() {
		if _, res := k.Check(code); res != CheckinOK {
			b.Fatal(res)
		}
	}
}

func BenchmarkVerifyTicketCode(b *testing.B) {
	k := NewEventKey(NewID(), t0)
	code := k.Code(testTicket(k.EventID, "A"))
	pub, id := k.Public, k.KeyID()
	b.ReportAllocs()
	for b.Loop() {
		if _, res := VerifyTicketCode(pub, id, code); res != CheckinOK {
			b.Fatal(res)
		}
	}
}

// scansOf returns online scans of tickets at gate, at time at.
func scan(tk *Ticket, gate string, at time.Time) *Scan {
	return &Scan{Claim: TicketClaim{TicketID: tk.ID, Version: tk.Version}, Gate: gate, ScannedAt: at, RecordedAt: at}
}

func offline(tk *Ticket, gate, device, id string, at time.Time) *Scan {
	s := scan(tk, gate, at)
	s.DeviceID, s.ScanID, s.Offline, s.DeviceAdmitted = device, id, true, true
	return s
}

func facts(ts ...*Ticket) CheckinFacts {
	f := CheckinFacts{Tickets: map[string]*Ticket{}, First: map[string]*CheckinRecord{}, Recorded: map[ScanKey]*CheckinRecord{}}
	for _, t := range ts {
		f.Tickets[t.ID] = t
	}
	return f
}

func TestDecideScans(t *testing.T) {
	ev := NewID()
	valid, void, renamed, vip := testTicket(ev, "A"), testTicket(ev, "A"), testTicket(ev, "A"), testTicket(ev, "VIP")
	void.Status = TicketVoid
	renamed.Version = 3
	f := facts(valid, void, renamed, vip)

	first := scan(valid, "North", t0)
	second := scan(valid, "South", t0.Add(time.Second))
	oldCode := scan(renamed, "North", t0)
	oldCode.Claim.Version = 2
	newer := scan(renamed, "North", t0)
	newer.Claim.Version = 4
	wrongGate := scan(vip, "North", t0)
	wrongGate.Admits = []string{"A"}
	unknown := scan(testTicket(ev, "A"), "North", t0)
	otherEvent := testTicket(NewID(), "A")
	f.Tickets[otherEvent.ID] = otherEvent
	foreign := scan(otherEvent, "North", t0)
	voided := scan(void, "North", t0)

	ch := DecideScans(ev, []*Scan{first, second, oldCode, newer, wrongGate, unknown, foreign, voided}, f)
	for _, c := range []struct {
		name string
		s    *Scan
		want CheckinResult
	}{
		{"first scan", first, CheckinOK}, {"second scan", second, CheckinAlreadyUsed},
		{"replaced code", oldCode, CheckinVoid}, {"version never issued", newer, CheckinInvalid},
		{"tier not admitted", wrongGate, CheckinWrongGate}, {"unknown ticket", unknown, CheckinInvalid},
		{"ticket of another event", foreign, CheckinInvalid}, {"refunded", voided, CheckinVoid},
	} {
		if c.s.Result != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, c.s.Result, c.s.Reason, c.want)
		}
	}
	if valid.Status != TicketUsed || valid.Gate != "North" || !valid.CheckedInAt.Equal(t0) {
		t.Errorf("ticket after its first scan: %+v", valid)
	}
	if second.First == nil || second.First.Gate != "North" || !second.First.ScannedAt.Equal(t0) {
		t.Errorf("already_used tells the first scan: %+v", second.First)
	}
	if vip.Status != TicketValid {
		t.Error("a scan at the wrong gate used the ticket")
	}
	if len(ch.Tickets) != 1 || ch.Tickets[0] != valid {
		t.Errorf("changed tickets: %v", ch.Tickets)
	}
	// Every scan that reached one of the event's tickets is on record.
	if len(ch.Records) != 6 {
		t.Errorf("%d records, want 6", len(ch.Records))
	}
}

// TestOfflineFirstScanWins uploads the same two offline admissions of one
// ticket in both orders: the earlier scan is the check-in either way, and
// the later is a conflict.
func TestOfflineFirstScanWins(t *testing.T) {
	ev := NewID()
	for _, order := range []string{"early first", "late first"} {
		t.Run(order, func(t *testing.T) {
			tk := testTicket(ev, "A")
			f := facts(tk)
			early := offline(tk, "North", "dev-b", "1", t0)
			late := offline(tk, "South", "dev-a", "1", t0.Add(time.Minute))
			batches := [][]*Scan{{early}, {late}}
			if order == "late first" {
				batches = [][]*Scan{{late}, {early}}
			}
			var recs []*CheckinRecord
			for _, b := range batches {
				recs = append(recs, DecideScans(ev, b, f).Records...)
			}
			if tk.Gate != "North" || !tk.CheckedInAt.Equal(t0) {
				t.Errorf("checked in at %s %v, want North at t0", tk.Gate, tk.CheckedInAt)
			}
			if early.Result != CheckinOK {
				t.Errorf("the earlier scan answers %s", early.Result)
			}
			cs := Conflicts(recs)
			if len(cs) != 1 || cs[0].First.Gate != "North" || len(cs[0].Others) != 1 || cs[0].Others[0].Gate != "South" {
				t.Fatalf("conflicts: %+v", cs)
			}
			// The same upload again answers as before and records nothing.
			again := offline(tk, "South", "dev-a", "1", t0.Add(time.Minute))
			if ch := DecideScans(ev, []*Scan{again}, f); len(ch.Records) != 0 || again.Result != late.Result {
				t.Errorf("re-upload: %s with %d records, first upload %s", again.Result, len(ch.Records), late.Result)
			}
		})
	}
	// Equal times: the smaller device ID wins, whatever the order.
	tk := testTicket(ev, "A")
	f := facts(tk)
	DecideScans(ev, []*Scan{offline(tk, "B", "dev-b", "1", t0), offline(tk, "A", "dev-a", "1", t0)}, f)
	if tk.Gate != "A" {
		t.Errorf("tie went to gate %s, want A (device dev-a)", tk.Gate)
	}
	// A device that refused the person offline made no admission.
	tk = testTicket(ev, "A")
	f = facts(tk)
	refused := offline(tk, "B", "dev-b", "2", t0.Add(time.Minute))
	refused.DeviceAdmitted = false
	recs := DecideScans(ev, []*Scan{offline(tk, "A", "dev-a", "1", t0), refused}, f).Records
	if cs := Conflicts(recs); len(cs) != 0 {
		t.Errorf("a refused offline scan is a conflict: %+v", cs)
	}
}

func TestIssueAndRefundTickets(t *testing.T) {
	o := testOrder("u1", "A", 3, "B", 1)
	o.Lines[0].Attendees = []Attendee{{Name: "Ada"}, {Name: "Grace"}}
	p := testPayment(o)
	s, _ := Settle(SettleFacts{Payment: p, Order: o}, succeeded("pi_1"), t0, t0)
	if len(s.Tickets) != 4 {
		t.Fatalf("%d tickets issued, want 4", len(s.Tickets))
	}
	var names []string
	for _, tk := range s.Tickets {
		names = append(names, tk.AttendeeName)
	}
	if diff := cmp.Diff([]string{"Ada", "Grace", "", ""}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	o.Issued = s.Tickets
	o.Issued[2].Status = TicketUsed // the third A ticket was scanned

	// Two A tickets by count: the unused ones go first.
	r, err := DecideRefund(o, p, RefundRequest{Lines: []RefundLine{{TierID: "A", Quantity: 2}}, ByOrganizer: true}, t0, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{o.Issued[1].ID, o.Issued[0].ID}, r.TicketIDs); diff != "" {
		t.Errorf("voided (-want +got):\n%s", diff)
	}
	if o.Issued[2].Status != TicketUsed {
		t.Error("the used ticket was voided before the unused ones")
	}
	// Named tickets: exactly those; a ticket refunded before is refused
	// and nothing changes.
	before := o.Refunded
	_, err = DecideRefund(o, p, RefundRequest{TicketIDs: []string{o.Issued[3].ID, o.Issued[0].ID}, ByOrganizer: true}, t0, true, t0)
	var v *ValidationError
	if !errors.As(err, &v) || o.Refunded != before || o.Issued[3].Status != TicketValid {
		t.Fatalf("refund naming a void ticket: %v, refunded %v, B ticket %s", err, o.Refunded, o.Issued[3].Status)
	}
	r, err = DecideRefund(o, p, RefundRequest{TicketIDs: []string{o.Issued[3].ID}, ByOrganizer: true}, t0, true, t0)
	if err != nil || len(r.TicketIDs) != 1 || o.Issued[3].Status != TicketVoid || r.Lines[0].TierID != "B" {
		t.Fatalf("refund of the B ticket: %v %+v", err, r)
	}
	if _, err := DecideRefund(o, p, RefundRequest{TicketIDs: []string{NewID()}, ByOrganizer: true}, t0, true, t0); !errors.As(err, &v) {
		t.Errorf("a ticket of another order: %v", err)
	}
}

func TestRenameStep(t *testing.T) {
	e := &Event{StartsAt: t0.Add(24 * time.Hour)}
	tk := testTicket("E", "A")
	if err := RenameStep(tk, e, "Ada Lovelace", false, t0); err != nil || tk.Version != 2 || tk.AttendeeName != "Ada Lovelace" {
		t.Fatalf("rename: %v, %+v", err, tk)
	}
	if err := RenameStep(tk, e, "Ada Lovelace", false, t0); err != nil || tk.Version != 2 {
		t.Errorf("the same name again raised the version: %v %d", err, tk.Version)
	}
	var v *ValidationError
	for _, bad := range []string{"", "Ada\x00", strings.Repeat("x", 101)} {
		if err := RenameStep(tk, e, bad, false, t0); !errors.As(err, &v) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if err := RenameStep(tk, e, "Grace", false, e.StartsAt); !errors.Is(err, ErrNameChangeClosed) {
		t.Errorf("after the deadline: %v", err)
	}
	if err := RenameStep(tk, e, "Grace", true, e.StartsAt); err != nil {
		t.Errorf("an organizer after the deadline: %v", err)
	}
	until := t0.Add(time.Hour)
	e.NameChangesUntil = &until
	if err := RenameStep(tk, e, "Ada", false, until); !errors.Is(err, ErrNameChangeClosed) {
		t.Errorf("after the event's own deadline: %v", err)
	}
	tk.Status = TicketUsed
	if err := RenameStep(tk, e, "Ada", true, t0); !errors.Is(err, ErrInvalidState) {
		t.Errorf("renaming a used ticket: %v", err)
	}
	if err := UndoCheckinStep(tk, t0); err != nil || tk.Status != TicketValid {
		t.Errorf("undo: %v %s", err, tk.Status)
	}
	if err := UndoCheckinStep(tk, t0); !errors.Is(err, ErrInvalidState) {
		t.Errorf("undo of a valid ticket: %v", err)
	}
}

func TestGateAndScannerNames(t *testing.T) {
	e := &Event{Tiers: []Tier{{ID: "A"}}}
	for name, ok := range map[string]bool{"North": true, "North ": false, " North": false, "Nord-Ost Tor 3": true, "": false} {
		if err := CheckGate(&Gate{Name: name}, e); (err == nil) != ok {
			t.Errorf("gate %q: %v", name, err)
		}
	}
	for id, ok := range map[string]bool{"phone-7": true, "scan:0001": true, "a b": false, "Zoë": false, strings.Repeat("x", 65): false} {
		var v ValidationError
		checkToken(&v, "device_id", id)
		if (v.Err() == nil) != ok {
			t.Errorf("device id %q: %v", id, v.Err())
		}
	}
}

func TestCountGates(t *testing.T) {
	gates := []*Gate{{Name: "North", Tiers: []string{"A"}}, {Name: "VIP", Tiers: []string{"V"}}}
	counts := []TicketCount{{"A", TicketValid, 10}, {"A", TicketUsed, 5}, {"A", TicketVoid, 2}, {"V", TicketUsed, 1}}
	got := CountGates(gates, counts, map[string]int{"North": 4, "VIP": 1, "": 1})
	want := []GateCount{
		{Gate: "North", Tiers: []string{"A"}, CheckedIn: 5, CheckedInHere: 4, Expected: 15},
		{Gate: "VIP", Tiers: []string{"V"}, CheckedIn: 1, CheckedInHere: 1, Expected: 1},
		{CheckedIn: 6, CheckedInHere: 6, Expected: 16},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// TestOfflineScanTheDeviceRefused: a scanner that turned someone away
// offline did not use the ticket, and a scanner that let someone in on a
// code renamed or refunded meanwhile made an admission all the same.
func TestOfflineScanTheDeviceRefused(t *testing.T) {
	ev := NewID()
	tk := testTicket(ev, "A")
	f := facts(tk)
	refused := offline(tk, "North", "dev-a", "1", t0)
	refused.DeviceAdmitted, refused.DeviceResult = false, CheckinAlreadyUsed
	ch := DecideScans(ev, []*Scan{refused}, f)
	if tk.Status != TicketValid || refused.Result != CheckinAlreadyUsed || len(ch.Records) != 1 || ch.Records[0].Admitted {
		t.Fatalf("a refused offline scan: ticket %s, result %s, records %+v", tk.Status, refused.Result, ch.Records)
	}
	tk.Version = 2 // renamed after the offline scan of its old code
	admitted := offline(tk, "North", "dev-a", "2", t0)
	admitted.Claim.Version = 1
	ch = DecideScans(ev, []*Scan{admitted}, f)
	if admitted.Result != CheckinVoid || len(ch.Records) != 1 || !ch.Records[0].Admitted {
		t.Fatalf("an offline admission of a replaced code: %s, records %+v", admitted.Result, ch.Records)
	}
}
