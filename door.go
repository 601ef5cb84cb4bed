package boxoffice

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tickets is the aggregate of issued tickets and the door: the holder's
// tickets with their codes and name changes, signed links to them, scans
// (online, through a group commit per event, and offline batches), check-in
// undo, the offline bundle, gates with their counts, conflicts and the door
// staff. It is safe for concurrent use.
type Tickets struct {
	store     Store
	log       *slog.Logger
	now       func() time.Time
	events    *eventCache
	access    *Access
	keys      *keyCache
	staff     *staffCache
	gates     *gateCache
	engine    *checkinEngine
	publicURL string
	// exportPage is the page size of attendee exports.
	exportPage int
	hooks      *Webhooks
	audit      *Audit
}

// checkinEngine batches scans per event (Store.CheckIn), which decides
// them in place.
type checkinEngine = groupCommit[refCall[Scan]]

func newCheckinEngine(store Store, maxBatch, parallel int, timeout time.Duration) *checkinEngine {
	return newRefEngine(store.CheckIn, func(s *Scan) *error { return &s.Err }, maxBatch, parallel, timeout)
}

func (s *Tickets) clock() time.Time { return normTime(s.now()) }

// IssuedTicket is a ticket with its code (empty for a void ticket: it
// admits nobody).
type IssuedTicket struct {
	*Ticket
	Code string
}

func (s *Tickets) issued(ctx context.Context, ts ...*Ticket) ([]IssuedTicket, error) {
	out := make([]IssuedTicket, len(ts))
	for i, t := range ts {
		out[i].Ticket = t
		if t.Status == TicketVoid {
			continue
		}
		k, err := s.keys.get(ctx, s.store, t.EventID)
		if err != nil {
			return nil, err
		}
		out[i].Code = k.Code(t)
	}
	return out, nil
}

// OrderTickets returns the tickets of an order its buyer or an admin may
// see, with their codes, or ErrNotFound.
func (s *Tickets) OrderTickets(ctx context.Context, c Caller, orderID string) ([]IssuedTicket, error) {
	o, err := s.visibleOrder(ctx, c, orderID)
	if err != nil {
		return nil, err
	}
	ts, err := s.store.OrderTickets(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	return s.issued(ctx, ts...)
}

func (s *Tickets) visibleOrder(ctx context.Context, c Caller, id string) (*Order, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	o, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.UserID != c.UserID && !c.IsAdmin() {
		return nil, ErrNotFound
	}
	return o, nil
}

// Ticket returns a ticket its holder or an admin may see, with its code,
// or ErrNotFound.
func (s *Tickets) Ticket(ctx context.Context, c Caller, id string) (IssuedTicket, error) {
	t, err := s.visibleTicket(ctx, c, id)
	if err != nil {
		return IssuedTicket{}, err
	}
	out, err := s.issued(ctx, t)
	if err != nil {
		return IssuedTicket{}, err
	}
	return out[0], nil
}

func (s *Tickets) visibleTicket(ctx context.Context, c Caller, id string) (*Ticket, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	t, err := s.store.Ticket(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.UserID != c.UserID && !c.IsAdmin() {
		return nil, ErrNotFound
	}
	return t, nil
}

// RenameTicket changes the name on a ticket (RenameStep): its holder until
// the event's deadline, an admin at any time. The ticket's code changes;
// the old one is void. It returns ErrNotFound, ErrNameChangeClosed,
// ErrInvalidState or a *ValidationError.
func (s *Tickets) RenameTicket(ctx context.Context, c Caller, id, name string) (IssuedTicket, error) {
	t, err := s.visibleTicket(ctx, c, id)
	if err != nil {
		return IssuedTicket{}, err
	}
	e, err := s.store.Event(ctx, t.EventID)
	if err != nil {
		return IssuedTicket{}, err
	}
	now := s.clock()
	t, err = s.store.UpdateTicket(ctx, t.ID, func(t *Ticket) (bool, error) {
		return false, RenameStep(t, e, name, c.IsAdmin(), now)
	})
	if err != nil {
		return IssuedTicket{}, err
	}
	out, err := s.issued(ctx, t)
	if err != nil {
		return IssuedTicket{}, err
	}
	return out[0], nil
}

// PrintedTicket is what a printed ticket shows.
type PrintedTicket struct {
	IssuedTicket
	Event *Event
	Tier  *Tier
}

// PrintTickets returns the tickets of an order (all of them when
// ticketID is "", else that one) with their event, for the caller or for
// a signed link (link not nil, checked instead of the caller). Void
// tickets are included: they print as void.
func (s *Tickets) PrintTickets(ctx context.Context, c Caller, link *Link, orderID, ticketID string) ([]PrintedTicket, error) {
	var ts []*Ticket
	switch {
	case link != nil:
		if !s.linkValid(ctx, *link) {
			return nil, ErrNotFound
		}
		var err error
		if ts, err = s.linkedTickets(ctx, *link); err != nil {
			return nil, err
		}
	case ticketID != "":
		t, err := s.visibleTicket(ctx, c, ticketID)
		if err != nil {
			return nil, err
		}
		ts = []*Ticket{t}
	default:
		o, err := s.visibleOrder(ctx, c, orderID)
		if err != nil {
			return nil, err
		}
		if ts, err = s.store.OrderTickets(ctx, o.ID); err != nil {
			return nil, err
		}
	}
	if len(ts) == 0 {
		return nil, nil
	}
	e, err := s.store.Event(ctx, ts[0].EventID)
	if err != nil {
		return nil, err
	}
	issued, err := s.issued(ctx, ts...)
	if err != nil {
		return nil, err
	}
	out := make([]PrintedTicket, len(issued))
	for i, it := range issued {
		out[i] = PrintedTicket{IssuedTicket: it, Event: e, Tier: e.Tier(it.TierID)}
	}
	return out, nil
}

// Link is a signed link to an order's tickets (Kind "order") or one
// ticket's ("ticket"), as mailed to the buyer: anyone who has it may
// download the tickets until it expires, without signing in.
type Link struct {
	Kind    string
	ID      string
	EventID string
	Expires time.Time
	Sig     string
}

// linkLife is how long a mailed link works after the event starts.
const linkLife = 30 * 24 * time.Hour

func linkMessage(l Link) []byte {
	return []byte("boxoffice ticket link\x00" + l.Kind + "\x00" + l.ID + "\x00" + l.EventID + "\x00" +
		strconv.FormatInt(l.Expires.Unix(), 10))
}

// linkMAC returns the link's MAC: HMAC-SHA256 under a key derived from
// the event's private key. Only the server checks links, so they need no
// public-key signature; a MAC costs a microsecond where an Ed25519
// signature costs tens, and links are made inside the transaction that
// settles a payment, once per ticket.
func linkMAC(k *EventKey, l Link) []byte {
	d := sha256.New()
	d.Write([]byte("boxoffice ticket link key\x00"))
	d.Write(k.Private.Seed())
	m := hmac.New(sha256.New, d.Sum(nil))
	m.Write(linkMessage(l))
	return m.Sum(nil)
}

// signLink signs a link to a ticket or order with the event's key.
func signLink(k *EventKey, kind, id string, expires time.Time) Link {
	l := Link{Kind: kind, ID: id, EventID: k.EventID, Expires: expires.Truncate(time.Second)}
	l.Sig = base64.RawURLEncoding.EncodeToString(linkMAC(k, l))
	return l
}

// Query returns the link's query string (without "?").
func (l Link) Query() string {
	return "event=" + l.EventID + "&exp=" + strconv.FormatInt(l.Expires.Unix(), 10) + "&sig=" + l.Sig
}

// ParseLink reads a link's query values; false when they are missing or
// malformed.
func ParseLink(kind, id, event, exp, sig string) (Link, bool) {
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !ValidID(id) || !ValidID(event) || len(sig) != 43 {
		return Link{}, false
	}
	return Link{Kind: kind, ID: id, EventID: event, Expires: time.Unix(n, 0), Sig: sig}, true
}

func (s *Tickets) linkValid(ctx context.Context, l Link) bool {
	if !s.clock().Before(l.Expires) {
		return false
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(l.Sig)
	if err != nil {
		return false
	}
	k, err := s.keys.get(ctx, s.store, l.EventID)
	if err != nil {
		return false
	}
	return hmac.Equal(linkMAC(k, l), sig)
}

func (s *Tickets) linkedTickets(ctx context.Context, l Link) ([]*Ticket, error) {
	if l.Kind == "ticket" {
		t, err := s.store.Ticket(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		return []*Ticket{t}, nil
	}
	return s.store.OrderTickets(ctx, l.ID)
}

// ticketLinks returns the mailed links to an order's tickets: the whole
// order's PDF first, then each ticket's.
func ticketLinks(k *EventKey, publicURL string, e *Event, o *Order, ts []*Ticket) []string {
	base := strings.TrimRight(publicURL, "/") + "/api/v1"
	exp := e.StartsAt.Add(linkLife)
	links := []string{fmt.Sprintf("%s/orders/%s/tickets.pdf?%s", base, o.ID, signLink(k, "order", o.ID, exp).Query())}
	for _, t := range ts {
		links = append(links, fmt.Sprintf("%s/tickets/%s/ticket.pdf?%s", base, t.ID, signLink(k, "ticket", t.ID, exp).Query()))
	}
	return links
}

// ScanInput is one scan as a gate sends it.
type ScanInput struct {
	Code     string
	Gate     string
	DeviceID string
	// ScanID names the scan on its device: a scan sent again with the
	// same device and scan ID is answered as the first time. Required in
	// offline batches.
	ScanID string
	// ScannedAt is when an offline scan was made (online scans happen
	// now); Result what the scanner answered offline ("" = it admitted).
	ScannedAt *time.Time
	Result    CheckinResult
}

// Bounds of scans.
const (
	maxCodeInput   = 512
	maxDeviceID    = 64
	MaxScanBatch   = 1000
	maxScanAge     = 30 * 24 * time.Hour
	maxClockSkew   = 5 * time.Minute
	bundlePageSize = 5000
)

func checkScanInput(v *ValidationError, prefix string, in ScanInput, offline bool, now time.Time) {
	if len(in.Code) > maxCodeInput {
		v.Add(prefix+"code", "is too long to be a ticket code")
	}
	checkText(v, prefix+"gate", in.Gate, 0, maxGateName)
	checkToken(v, prefix+"device_id", in.DeviceID)
	checkToken(v, prefix+"scan_id", in.ScanID)
	if in.ScanID != "" && in.DeviceID == "" {
		v.Add(prefix+"device_id", "is required with scan_id")
	}
	if in.Result != "" && !in.Result.valid() {
		v.Add(prefix+"result", "must be one of ok, already_used, void, wrong_event, wrong_gate, invalid")
	}
	if !offline {
		return
	}
	if in.ScanID == "" {
		v.Add(prefix+"scan_id", "is required for an offline scan, so that uploading it again changes nothing")
	}
	switch {
	case in.ScannedAt == nil:
		v.Add(prefix+"scanned_at", "is required for an offline scan")
	case in.ScannedAt.After(now.Add(maxClockSkew)):
		v.Add(prefix+"scanned_at", "is in the future")
	case in.ScannedAt.Before(now.Add(-maxScanAge)):
		v.Add(prefix+"scanned_at", "is more than 30 days ago")
	}
}

// checkToken checks a scanner's name for itself or a scan: up to
// maxDeviceID printable ASCII characters without spaces (a scanner makes
// them up; they are compared byte for byte).
func checkToken(v *ValidationError, field, s string) {
	if len(s) > maxDeviceID {
		v.Add(field, "must be at most %d characters", maxDeviceID)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			v.Add(field, "must be printable ASCII without spaces")
			return
		}
	}
}

func (r CheckinResult) valid() bool {
	switch r {
	case CheckinOK, CheckinAlreadyUsed, CheckinVoid, CheckinWrongEvent, CheckinWrongGate, CheckinInvalid:
		return true
	}
	return false
}

// ScanOutcome is what a scan answers: the result, why (for the refusals),
// the ticket with its check-in, and for already_used the scan that
// admitted it first.
type ScanOutcome struct {
	Result CheckinResult
	Reason string
	Ticket *Ticket
	First  *CheckinRecord
}

func outcome(sc *Scan) ScanOutcome {
	return ScanOutcome{Result: sc.Result, Reason: sc.Reason, Ticket: sc.Ticket, First: sc.First}
}

// door returns the event when the caller may scan there (DoorScan) or
// supervise its door (DoorSupervise).
func (s *Tickets) door(ctx context.Context, c Caller, eventID string, need DoorAccess) (*Event, error) {
	act := ActionScan
	if need == DoorSupervise {
		act = ActionSuperviseDoor
	}
	return s.access.Event(ctx, c, eventID, act)
}

// Scan checks a code in at an event's gate, now: a scanner, supervisor or
// admin of the event may. A code that is not this event's is answered
// without touching the tickets; a genuine one is decided with the other
// scans of the moment in one transaction (DecideScans), so a ticket scanned
// at two gates at once is admitted once. It returns ErrNotFound (event),
// ErrForbidden or a *ValidationError; every code, however damaged, gets a
// result.
func (s *Tickets) Scan(ctx context.Context, c Caller, eventID string, in ScanInput) (ScanOutcome, error) {
	e, err := s.door(ctx, c, eventID, DoorScan)
	if err != nil {
		return ScanOutcome{}, err
	}
	now := s.clock()
	in.Gate = strings.TrimSpace(in.Gate)
	var v ValidationError
	checkScanInput(&v, "", in, false, now)
	if err := v.Err(); err != nil {
		return ScanOutcome{}, err
	}
	sc, done, err := s.prepare(ctx, e, in, now)
	if err != nil || done {
		return outcome(sc), err
	}
	if err := s.engine.hold(ctx, e.ID, refCall[Scan]{sc}); err != nil {
		return ScanOutcome{}, err
	}
	if sc.Hook != "" && sc.Result.Admits() {
		s.hooks.wake()
	}
	return outcome(sc), nil
}

// prepare checks a code's signature and builds its scan; done is true when
// the code is answered without the tickets (not this event's, or not a
// genuine code).
func (s *Tickets) prepare(ctx context.Context, e *Event, in ScanInput, now time.Time) (*Scan, bool, error) {
	k, err := s.keys.get(ctx, s.store, e.ID)
	if err != nil {
		return nil, false, err
	}
	sc := &Scan{Gate: in.Gate, DeviceID: in.DeviceID, ScanID: in.ScanID, ScannedAt: now, RecordedAt: now}
	claim, res := k.Check(in.Code)
	switch res {
	case CheckinWrongEvent:
		sc.Result, sc.Reason = s.foreign(ctx, claim, in.Code), "this ticket is for another event"
		if sc.Result == CheckinInvalid {
			sc.Reason = "not a ticket code of this system"
		}
		return sc, true, nil
	case CheckinInvalid:
		sc.Result, sc.Reason = CheckinInvalid, "not a ticket code, or one that was changed"
		return sc, true, nil
	}
	sc.Claim = claim
	sc.Hook = s.hooks.hookFor(ctx, e, HookTicketCheckedIn)
	if in.Gate != "" {
		gates, err := s.gates.get(ctx, s.store, e.ID)
		if err != nil {
			return nil, false, err
		}
		for _, g := range gates {
			if g.Name == in.Gate && len(g.Tiers) > 0 {
				sc.Admits = g.Tiers
			}
		}
	}
	if in.ScannedAt != nil {
		sc.ScannedAt, sc.Offline = normTime(*in.ScannedAt), true
		sc.DeviceAdmitted = in.Result == "" || in.Result == CheckinOK
		sc.DeviceResult = in.Result
	}
	return sc, false, nil
}

// foreign tells a genuine code of another event (wrong_event) from a code
// no event signed (invalid).
func (s *Tickets) foreign(ctx context.Context, claim TicketClaim, code string) CheckinResult {
	t, err := s.store.Ticket(ctx, claim.TicketID)
	if err != nil {
		return CheckinInvalid
	}
	k, err := s.keys.get(ctx, s.store, t.EventID)
	if err != nil {
		return CheckinInvalid
	}
	if _, res := k.Check(code); res != CheckinOK {
		return CheckinInvalid
	}
	return CheckinWrongEvent
}

// BatchOutcome is one entry of an offline batch's answer: the scan's
// outcome, or why it was not applied.
type BatchOutcome struct {
	ScanOutcome
	Err error
}

// UploadScans applies scans made offline at an event's gates, in one or a
// few transactions: each valid entry is decided as DecideScans says
// (first scan wins), an entry uploaded before answers as it did then, and
// malformed entries are reported (Err, a *ValidationError) while the
// others apply. It returns ErrNotFound, ErrForbidden, or a
// *ValidationError for a batch that is empty or too large.
func (s *Tickets) UploadScans(ctx context.Context, c Caller, eventID string, in []ScanInput) ([]BatchOutcome, error) {
	e, err := s.door(ctx, c, eventID, DoorScan)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 || len(in) > MaxScanBatch {
		var v ValidationError
		v.Add("scans", "must hold between 1 and %d scans", MaxScanBatch)
		return nil, &v
	}
	now := s.clock()
	out := make([]BatchOutcome, len(in))
	var decide []*Scan
	var at []int
	for i, sin := range in {
		sin.Gate = strings.TrimSpace(sin.Gate)
		var v ValidationError
		checkScanInput(&v, fmt.Sprintf("scans[%d].", i), sin, true, now)
		if err := v.Err(); err != nil {
			out[i].Err = err
			continue
		}
		sc, done, err := s.prepare(ctx, e, sin, now)
		if err != nil {
			return nil, err
		}
		if done {
			out[i].ScanOutcome = outcome(sc)
			continue
		}
		decide = append(decide, sc)
		at = append(at, i)
	}
	for start := 0; start < len(decide); start += 256 {
		end := min(start+256, len(decide))
		if err := s.store.CheckIn(ctx, e.ID, decide[start:end]); err != nil {
			return nil, err
		}
		if decide[start].Hook != "" {
			s.hooks.wake()
		}
	}
	for j, sc := range decide {
		out[at[j]].ScanOutcome = outcome(sc)
	}
	return out, nil
}

// UndoCheckin undoes the check-in of a used ticket of an event
// (UndoCheckinStep): a supervisor or an admin may. It returns ErrNotFound
// (event or ticket), ErrForbidden or ErrInvalidState.
func (s *Tickets) UndoCheckin(ctx context.Context, c Caller, eventID, ticketID string) (*Ticket, error) {
	e, err := s.door(ctx, c, eventID, DoorSupervise)
	if err != nil {
		return nil, err
	}
	if !ValidID(ticketID) {
		return nil, ErrNotFound
	}
	now := s.clock()
	t, err := s.store.UpdateTicket(ctx, ticketID, func(t *Ticket) (bool, error) {
		if t.EventID != eventID {
			return false, ErrNotFound
		}
		return true, UndoCheckinStep(t, now)
	})
	if err != nil {
		return nil, err
	}
	s.audit.record(ctx, c, e.OrganizerOf(), "checkin.undone", "ticket", t.ID, map[string]any{"event_id": eventID})
	return t, nil
}

// CheckinBundle is what a scanner needs to check an event's tickets in
// offline: the public key and its ID, the tickets that may be admitted
// (valid or used, with the version their code must carry) and the void
// ones.
type CheckinBundle struct {
	EventID   string
	PublicKey ed25519.PublicKey
	KeyID     [4]byte
	Gates     []*Gate
	Tickets   []*Ticket
	Void      []string
	At        time.Time
}

// Bundle returns an event's check-in bundle for a scanner, supervisor or
// admin of the event. It returns ErrNotFound or ErrForbidden.
func (s *Tickets) Bundle(ctx context.Context, c Caller, eventID string) (*CheckinBundle, error) {
	e, err := s.door(ctx, c, eventID, DoorScan)
	if err != nil {
		return nil, err
	}
	k, err := s.keys.get(ctx, s.store, e.ID)
	if err != nil {
		return nil, err
	}
	b := &CheckinBundle{EventID: e.ID, PublicKey: k.Public, KeyID: k.KeyID(), At: s.clock()}
	if b.Gates, err = s.store.Gates(ctx, e.ID); err != nil {
		return nil, err
	}
	after := ""
	for {
		page, err := s.store.EventTickets(ctx, e.ID, after, bundlePageSize)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			if t.Status == TicketVoid {
				b.Void = append(b.Void, t.ID)
			} else {
				b.Tickets = append(b.Tickets, t)
			}
		}
		if len(page) < bundlePageSize {
			return b, nil
		}
		after = page[len(page)-1].ID
	}
}

// PutGate adds or changes a gate of an event (a supervisor or an admin).
func (s *Tickets) PutGate(ctx context.Context, c Caller, g *Gate) (*Gate, error) {
	e, err := s.door(ctx, c, g.EventID, DoorSupervise)
	if err != nil {
		return nil, err
	}
	if err := CheckGate(g, e); err != nil {
		return nil, err
	}
	gates, err := s.store.Gates(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	if len(gates) >= maxGates && !hasGate(gates, g.Name) {
		var v ValidationError
		v.Add("name", "an event may have at most %d gates", maxGates)
		return nil, &v
	}
	g.CreatedAt = s.clock()
	if err := s.store.PutGate(ctx, g); err != nil {
		return nil, err
	}
	s.gates.forget(e.ID)
	return g, nil
}

func hasGate(gates []*Gate, name string) bool {
	for _, g := range gates {
		if g.Name == name {
			return true
		}
	}
	return false
}

// DeleteGate removes a gate of an event (a supervisor or an admin).
func (s *Tickets) DeleteGate(ctx context.Context, c Caller, eventID, name string) error {
	if _, err := s.door(ctx, c, eventID, DoorSupervise); err != nil {
		return err
	}
	if err := s.store.DeleteGate(ctx, eventID, name); err != nil {
		return err
	}
	s.gates.forget(eventID)
	return nil
}

// GateCounts returns the live count of each gate of an event and of the
// whole event (last, Gate ""): the door staff and admins may read them.
func (s *Tickets) GateCounts(ctx context.Context, c Caller, eventID string) ([]GateCount, error) {
	e, err := s.door(ctx, c, eventID, DoorScan)
	if err != nil {
		return nil, err
	}
	gates, err := s.store.Gates(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	counts, here, err := s.store.TicketCounts(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	return CountGates(gates, counts, here), nil
}

// Conflicts returns the tickets of an event admitted more than once (by
// scanners that were offline), for a supervisor or an admin.
func (s *Tickets) Conflicts(ctx context.Context, c Caller, eventID string) ([]CheckinConflict, error) {
	if _, err := s.door(ctx, c, eventID, DoorSupervise); err != nil {
		return nil, err
	}
	recs, err := s.store.CheckinAdmissions(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return Conflicts(recs), nil
}

// PutStaff gives a user a door role at an event: those who supervise its
// door may (the organizer's managers and owners, the event's door
// supervisors, platform admins). It returns ErrNotFound (event or user),
// ErrForbidden or a *ValidationError.
func (s *Tickets) PutStaff(ctx context.Context, c Caller, st *Staff) (*Staff, error) {
	if _, err := s.door(ctx, c, st.EventID, DoorSupervise); err != nil {
		return nil, err
	}
	if !st.Role.Valid() {
		var v ValidationError
		v.Add("role", "must be scanner or supervisor")
		return nil, &v
	}
	if !ValidID(st.EventID) || !ValidID(st.UserID) {
		return nil, ErrNotFound
	}
	st.AddedAt = s.clock()
	if err := s.store.PutStaff(ctx, st); err != nil {
		return nil, err
	}
	s.staff.forget(st.EventID, st.UserID)
	return st, nil
}

// DeleteStaff takes a user's door role at an event away; those who
// supervise its door may.
func (s *Tickets) DeleteStaff(ctx context.Context, c Caller, eventID, userID string) error {
	if _, err := s.door(ctx, c, eventID, DoorSupervise); err != nil {
		return err
	}
	if !ValidID(eventID) || !ValidID(userID) {
		return ErrNotFound
	}
	if err := s.store.DeleteStaff(ctx, eventID, userID); err != nil {
		return err
	}
	s.staff.forget(eventID, userID)
	return nil
}

// ListStaff returns an event's door staff, for a supervisor or an admin.
func (s *Tickets) ListStaff(ctx context.Context, c Caller, eventID string) ([]*Staff, error) {
	if _, err := s.door(ctx, c, eventID, DoorSupervise); err != nil {
		return nil, err
	}
	return s.store.ListStaff(ctx, eventID)
}

// keyCache keeps the events' signing keys: a key never changes once
// stored.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*EventKey
}

func (c *keyCache) get(ctx context.Context, store Store, eventID string) (*EventKey, error) {
	c.mu.Lock()
	k, ok := c.keys[eventID]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := store.EventKey(ctx, eventID, NewEventKey(eventID, normTime(time.Now())))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.keys == nil {
		c.keys = make(map[string]*EventKey)
	}
	c.keys[eventID] = k
	c.mu.Unlock()
	return k, nil
}

// doorCacheTTL bounds how stale a door role or gate list may be on an
// instance that did not make the change.
const doorCacheTTL = 2 * time.Second

// ttlCache keeps values for doorCacheTTL.
type ttlCache[V any] struct {
	mu      sync.Mutex
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

func (c *ttlCache[V]) load(key string, fetch func() (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	en, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(en.at) < doorCacheTTL && !now.Before(en.at) {
		return en.v, nil
	}
	v, err := fetch()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = make(map[string]ttlEntry[V])
	}
	if len(c.entries) > 100_000 { // a bound, not a policy: entries are cheap to fetch again
		clear(c.entries)
	}
	c.entries[key] = ttlEntry[V]{v, now}
	c.mu.Unlock()
	return v, nil
}

func (c *ttlCache[V]) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

type staffCache struct{ ttlCache[StaffRole] }

func (c *staffCache) get(ctx context.Context, store Store, eventID, userID string) (StaffRole, error) {
	return c.load(eventID+"/"+userID, func() (StaffRole, error) { return store.StaffRole(ctx, eventID, userID) })
}

func (c *staffCache) forget(eventID, userID string) { c.ttlCache.forget(eventID + "/" + userID) }

type gateCache struct{ ttlCache[[]*Gate] }

func (c *gateCache) get(ctx context.Context, store Store, eventID string) ([]*Gate, error) {
	return c.load(eventID, func() ([]*Gate, error) { return store.Gates(ctx, eventID) })
}
