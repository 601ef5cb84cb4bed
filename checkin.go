package boxoffice

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is the door: what a scan of a ticket code answers, how scans
// made offline are reconciled, the gates and their counts, and who may
// scan.

// CheckinResult is what a scan answers the gate.
type CheckinResult string

// The scan results.
const (
	// CheckinOK: admit; the ticket is used now.
	CheckinOK CheckinResult = "ok"
	// CheckinAlreadyUsed: the ticket was used before (the first scan says
	// when and where).
	CheckinAlreadyUsed CheckinResult = "already_used"
	// CheckinVoid: the ticket was refunded, or its code was replaced by a
	// name change.
	CheckinVoid CheckinResult = "void"
	// CheckinWrongEvent: a genuine code of another event.
	CheckinWrongEvent CheckinResult = "wrong_event"
	// CheckinWrongGate: a ticket of a tier this gate does not admit.
	CheckinWrongGate CheckinResult = "wrong_gate"
	// CheckinInvalid: not a ticket code, or one that was changed.
	CheckinInvalid CheckinResult = "invalid"
)

// Admits reports whether the result lets the person in.
func (r CheckinResult) Admits() bool { return r == CheckinOK }

// Scan is one scan of a ticket code, decided with others of the same
// event in one transaction by Store.CheckIn.
type Scan struct {
	// Claim is the code's content, its signature checked by the service.
	Claim TicketClaim
	// Gate is where it was scanned ("" for none named); Admits the tiers
	// the gate admits (nil: all).
	Gate   string
	Admits []string
	// DeviceID and ScanID name a scan a scanner made offline; the pair
	// makes uploading it again change nothing. Empty for online scans.
	DeviceID string
	ScanID   string
	// ScannedAt is when it was scanned (now for an online scan); RecordedAt
	// when the server learnt of it.
	ScannedAt  time.Time
	RecordedAt time.Time
	// Offline is true for a scan uploaded in a batch: the gate already
	// decided, without the server. DeviceAdmitted says whether it let the
	// person in; DeviceResult is what it answered when it did not.
	Offline        bool
	DeviceAdmitted bool
	DeviceResult   CheckinResult
	// Hook, when not "", is the organizer to tell of the admission
	// (ticket.checked_in): set only when one of its endpoints subscribes.
	Hook string

	// The verdict, set by DecideScans: Result, the ticket as it is after
	// the scan (nil when there is none), and for already_used the scan
	// that admitted it first.
	Result CheckinResult
	Reason string
	Ticket *Ticket
	First  *CheckinRecord
	// Err is set by the group commit when the batch failed as a whole.
	Err error
}

// CheckinRecord is a scan on record: every scan that reached a ticket is
// kept, for the first-scan answers, the conflicts of offline scans and the
// organizer's history.
type CheckinRecord struct {
	ID         string
	EventID    string
	TicketID   string
	Gate       string
	DeviceID   string
	ScanID     string
	ScannedAt  time.Time
	RecordedAt time.Time
	Result     CheckinResult
	// Admitted says the person was let in on this scan: by the server
	// (result ok) or by an offline scanner that decided alone.
	Admitted bool
	// Undone is set when a supervisor undid the check-in this scan made.
	Undone bool
}

// CheckinFacts is what DecideScans reads, under the tickets' locks.
type CheckinFacts struct {
	// Tickets are the batch's tickets by ID (unknown IDs absent).
	Tickets map[string]*Ticket
	// First is the scan on record that admitted each used ticket.
	First map[string]*CheckinRecord
	// Recorded are the offline scans uploaded before, by device and scan
	// ID.
	Recorded map[ScanKey]*CheckinRecord
}

// ScanKey names an offline scan.
type ScanKey struct{ DeviceID, ScanID string }

// CheckinChanges is what DecideScans decided: the tickets to write and the
// scans to put on record.
type CheckinChanges struct {
	Tickets []*Ticket
	Records []*CheckinRecord
	// Webhooks are the ticket.checked_in messages of the admissions of
	// scans with a Hook.
	Webhooks []*WebhookMessage
}

// DecideScans decides a batch of scans of one event in slice order and
// sets each scan's verdict:
//
//   - a scan uploaded before (same device and scan ID) answers what it
//     answered then and changes nothing;
//   - an offline scan whose device turned the person away changes no
//     ticket: it goes on record and answers what the device answered;
//   - a ticket the event does not have is invalid; an old version of a
//     renamed ticket is void (replaced), a version never issued invalid;
//   - a void ticket is void; a tier the gate does not admit is wrong_gate
//     (the ticket stays as it was);
//   - a valid ticket is used by the scan: ok;
//   - a used ticket answers already_used with the first scan, except that
//     an offline scan made before the one that admitted it becomes the
//     first (first scan wins, whatever order the uploads arrive in; ties
//     go to the smaller device ID, then scan ID).
//
// Every scan that reached a ticket goes on record; an offline scan whose
// device let the person in is recorded as an admission whatever the
// answer (a ticket renamed or refunded meanwhile included), so two
// admissions of one ticket show as a conflict. An admission (ok) of a
// scan with a Hook adds a ticket.checked_in message for the organizer.
func DecideScans(eventID string, scans []*Scan, f CheckinFacts) CheckinChanges {
	var ch CheckinChanges
	changed := make(map[string]bool)
	for _, s := range scans {
		key := ScanKey{s.DeviceID, s.ScanID}
		if s.ScanID != "" {
			if r, ok := f.Recorded[key]; ok {
				s.Result, s.Ticket = r.Result, f.Tickets[r.TicketID]
				if s.Result == CheckinAlreadyUsed {
					s.First = f.First[r.TicketID]
				}
				continue
			}
		}
		t := f.Tickets[s.Claim.TicketID]
		if t == nil || t.EventID != eventID {
			s.Result, s.Reason = CheckinInvalid, "no such ticket"
			continue
		}
		rec := &CheckinRecord{
			ID: NewID(), EventID: eventID, TicketID: t.ID, Gate: s.Gate, DeviceID: s.DeviceID, ScanID: s.ScanID,
			ScannedAt: s.ScannedAt, RecordedAt: s.RecordedAt,
		}
		if s.Offline && !s.DeviceAdmitted {
			s.Result, s.Reason = s.DeviceResult, "recorded as the scanner answered offline; the ticket is unchanged"
			if !s.Result.valid() || s.Result.Admits() {
				s.Result = CheckinInvalid
			}
		} else {
			decideScan(s, t, rec, f.First)
		}
		rec.Result = s.Result
		rec.Admitted = s.Result.Admits() || s.Offline && s.DeviceAdmitted
		if s.Result.Admits() {
			if s.Hook != "" {
				ch.Webhooks = append(ch.Webhooks, NewWebhookMessage(s.Hook, HookTicketCheckedIn, ticketCheckedInData(t, s), s.RecordedAt))
			}
			f.First[t.ID] = rec
			if !changed[t.ID] {
				changed[t.ID] = true
				ch.Tickets = append(ch.Tickets, t)
			}
		}
		ch.Records = append(ch.Records, rec)
		if s.ScanID != "" {
			f.Recorded[key] = rec
		}
		cp := *t
		s.Ticket = &cp
	}
	return ch
}

func decideScan(s *Scan, t *Ticket, rec *CheckinRecord, first map[string]*CheckinRecord) {
	switch {
	case s.Claim.Version < t.Version:
		s.Result, s.Reason = CheckinVoid, "this code was replaced when the name on the ticket changed"
	case s.Claim.Version > t.Version:
		s.Result, s.Reason = CheckinInvalid, "no such ticket"
	case t.Status == TicketVoid:
		s.Result, s.Reason = CheckinVoid, "the ticket was refunded"
	case s.Admits != nil && !slices.Contains(s.Admits, t.TierID):
		s.Result, s.Reason = CheckinWrongGate, "this gate does not admit the ticket's tier"
	case t.Status == TicketValid:
		s.Result = CheckinOK
		at := s.ScannedAt
		t.Status, t.CheckedInAt, t.Gate, t.UpdatedAt = TicketUsed, &at, s.Gate, s.RecordedAt
	default: // used
		f := first[t.ID]
		if s.Offline && f != nil && scanBefore(rec, f) {
			// The earlier scan wins: this one admitted the ticket first.
			s.Result = CheckinOK
			at := s.ScannedAt
			t.CheckedInAt, t.Gate, t.UpdatedAt = &at, s.Gate, s.RecordedAt
			return
		}
		s.Result, s.First = CheckinAlreadyUsed, f
	}
}

// scanBefore orders scans for "first scan wins".
func scanBefore(a, b *CheckinRecord) bool {
	return cmp.Or(a.ScannedAt.Compare(b.ScannedAt), cmp.Compare(a.DeviceID, b.DeviceID),
		cmp.Compare(a.ScanID, b.ScanID)) < 0
}

// CheckinConflict is a ticket that let more than one person in: the scan
// that counts (the first) and the others, all admissions.
type CheckinConflict struct {
	TicketID string
	First    *CheckinRecord
	Others   []*CheckinRecord
}

// Conflicts groups admissions on record by ticket and returns the tickets
// admitted more than once, in ticket ID order. Undone admissions do not
// count.
func Conflicts(admissions []*CheckinRecord) []CheckinConflict {
	by := make(map[string][]*CheckinRecord)
	for _, r := range admissions {
		if r.Admitted && !r.Undone {
			by[r.TicketID] = append(by[r.TicketID], r)
		}
	}
	var out []CheckinConflict
	for id, rs := range by {
		if len(rs) < 2 {
			continue
		}
		slices.SortFunc(rs, func(a, b *CheckinRecord) int {
			if scanBefore(a, b) {
				return -1
			}
			return 1
		})
		out = append(out, CheckinConflict{TicketID: id, First: rs[0], Others: rs[1:]})
	}
	slices.SortFunc(out, func(a, b CheckinConflict) int { return cmp.Compare(a.TicketID, b.TicketID) })
	return out
}

// Gate is an entrance of an event with the tiers it admits.
type Gate struct {
	EventID string
	// Name is how scanners name it (unique per event).
	Name string
	// Tiers it admits; empty admits every tier.
	Tiers     []string
	CreatedAt time.Time
}

// maxGateName bounds a gate's name; maxGates the gates of one event.
const (
	maxGateName = 64
	maxGates    = 100
)

// CheckGate validates a gate of e.
func CheckGate(g *Gate, e *Event) error {
	var v ValidationError
	checkText(&v, "name", g.Name, 1, maxGateName)
	if strings.TrimSpace(g.Name) != g.Name {
		// Scanners' gate names are trimmed; a gate named otherwise could
		// never be scanned at (and MariaDB compares without trailing spaces).
		v.Add("name", "must not begin or end with a space")
	}
	for i, id := range g.Tiers {
		if e.Tier(id) == nil {
			v.Add(fmt.Sprintf("tiers[%d]", i), "is not a tier of this event")
		}
	}
	return v.Err()
}

// TicketCount is how many tickets of a tier are in a state.
type TicketCount struct {
	TierID string
	Status TicketStatus
	Count  int
}

// GateCount is a gate's live count: the tickets it admits that were
// checked in (anywhere) and the tickets it expects (valid or used).
type GateCount struct {
	Gate      string
	Tiers     []string
	CheckedIn int
	// CheckedInHere is the tickets whose first scan was at this gate.
	CheckedInHere int
	Expected      int
}

// CountGates returns each gate's count from the event's ticket counts and
// the check-ins per gate; a last entry with Gate "" covers the whole
// event.
func CountGates(gates []*Gate, counts []TicketCount, here map[string]int) []GateCount {
	count := func(tiers []string) (in, expected int) {
		for _, c := range counts {
			if len(tiers) > 0 && !slices.Contains(tiers, c.TierID) {
				continue
			}
			switch c.Status {
			case TicketUsed:
				in += c.Count
				expected += c.Count
			case TicketValid:
				expected += c.Count
			}
		}
		return in, expected
	}
	out := make([]GateCount, 0, len(gates)+1)
	for _, g := range gates {
		in, exp := count(g.Tiers)
		out = append(out, GateCount{Gate: g.Name, Tiers: g.Tiers, CheckedIn: in, CheckedInHere: here[g.Name], Expected: exp})
	}
	in, exp := count(nil)
	total := 0
	for _, n := range here {
		total += n
	}
	return append(out, GateCount{CheckedIn: in, CheckedInHere: total, Expected: exp})
}

// StaffRole is what a member of an event's door staff may do.
type StaffRole string

// The door roles.
const (
	// StaffScanner may scan the event's tickets, download its check-in
	// bundle and upload offline scans, and nothing else.
	StaffScanner StaffRole = "scanner"
	// StaffSupervisor may also undo check-ins, manage gates and read the
	// conflicts.
	StaffSupervisor StaffRole = "supervisor"
)

// Valid reports whether r is a door role.
func (r StaffRole) Valid() bool { return r == StaffScanner || r == StaffSupervisor }

// Staff is a user's door role at an event.
type Staff struct {
	EventID string
	UserID  string
	Role    StaffRole
	AddedAt time.Time
}

// DoorAccess is what a caller may do at an event's door.
type DoorAccess int

// The door access levels, each including the ones before.
const (
	DoorNone DoorAccess = iota
	DoorScan
	DoorSupervise
)

// Door returns the caller's access to an event's door given their staff
// role there ("" for none): admins supervise every door.
func (c Caller) Door(role StaffRole) DoorAccess {
	switch {
	case c.IsAdmin(), role == StaffSupervisor:
		return DoorSupervise
	case role == StaffScanner:
		return DoorScan
	}
	return DoorNone
}
