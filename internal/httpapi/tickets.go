package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"boxoffice"
	"boxoffice/internal/ticketdoc"
)

// ticketBody is the JSON shape of a Ticket. Code is the signed ticket code
// (absent for a void ticket).
type ticketBody struct {
	ID           string                 `json:"id"`
	OrderID      string                 `json:"order_id"`
	EventID      string                 `json:"event_id"`
	TierID       string                 `json:"tier_id"`
	AttendeeName string                 `json:"attendee_name"`
	Status       boxoffice.TicketStatus `json:"status"`
	Version      int                    `json:"version"`
	Code         string                 `json:"code,omitempty"`
	CheckedInAt  *time.Time             `json:"checked_in_at,omitempty"`
	Gate         string                 `json:"gate,omitempty"`
	IssuedAt     time.Time              `json:"issued_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
}

func ticketOf(t *boxoffice.Ticket, code string) ticketBody {
	return ticketBody{
		ID: t.ID, OrderID: t.OrderID, EventID: t.EventID, TierID: t.TierID, AttendeeName: t.AttendeeName,
		Status: t.Status, Version: t.Version, Code: code, CheckedInAt: t.CheckedInAt, Gate: t.Gate,
		IssuedAt: t.IssuedAt, UpdatedAt: t.UpdatedAt,
	}
}

func issuedOf(t boxoffice.IssuedTicket) ticketBody { return ticketOf(t.Ticket, t.Code) }

type itemsBody[T any] struct {
	Items []T `json:"items"`
}

func (s *server) handleOrderTickets(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ts, err := s.tickets.OrderTickets(r.Context(), c, id)
	if err != nil {
		return err
	}
	out := itemsBody[ticketBody]{Items: make([]ticketBody, len(ts))}
	for i, t := range ts {
		out.Items[i] = issuedOf(t)
	}
	return writeJSON(w, r, http.StatusOK, out)
}

func (s *server) handleGetTicket(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.tickets.Ticket(r.Context(), c, id)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, issuedOf(t))
}

// renameRequest is the body of PATCH /api/v1/tickets/{id}.
type renameRequest struct {
	AttendeeName *string `json:"attendee_name"`
}

func (s *server) handleRenameTicket(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req renameRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.AttendeeName == nil {
		var v boxoffice.ValidationError
		v.Add("attendee_name", "is required")
		return &v
	}
	t, err := s.tickets.RenameTicket(r.Context(), c, id, *req.AttendeeName)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, issuedOf(t))
}

// qrSize is the side of a ticket's QR PNG, in pixels, unless ?size= asks
// for another between 128 and 1024.
const qrSize = 512

func (s *server) handleTicketQR(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	png := r.Pattern == "GET /api/v1/tickets/{id}/qr.png"
	size := qrSize
	if v := r.URL.Query().Get("size"); png && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 128 || n > 1024 {
			var ve boxoffice.ValidationError
			ve.Add("size", "must be a whole number of pixels between 128 and 1024")
			return &ve
		}
		size = n
	}
	t, err := s.tickets.Ticket(r.Context(), c, id)
	if err != nil {
		return err
	}
	if t.Code == "" {
		return boxoffice.Errorf(boxoffice.CodeInvalidState, "the ticket is void; it has no code")
	}
	var img []byte
	if png {
		img, err = ticketdoc.QRPNG(t.Code, size)
	} else {
		img, err = ticketdoc.QRSVG(t.Code)
	}
	if err != nil {
		return err
	}
	ctype := "image/svg+xml"
	if png {
		ctype = "image/png"
	}
	return writeFile(w, r, ctype, "", img)
}

// linkOf reads a signed link from the query (event, exp, sig), or nil
// when the request has none: then the caller must be signed in.
func linkOf(r *http.Request, kind, id string) (*boxoffice.Link, error) {
	q := r.URL.Query()
	if !q.Has("sig") {
		return nil, nil
	}
	l, ok := boxoffice.ParseLink(kind, id, q.Get("event"), q.Get("exp"), q.Get("sig"))
	if !ok {
		return nil, boxoffice.ErrNotFound
	}
	return &l, nil
}

func (s *server) handleOrderPDF(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	link, err := linkOf(r, "order", id)
	if err != nil {
		return err
	}
	ts, err := s.tickets.PrintTickets(r.Context(), c, link, id, "")
	if err != nil {
		return err
	}
	return writePDF(w, r, "tickets-"+id+".pdf", ts)
}

func (s *server) handleTicketPDF(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	link, err := linkOf(r, "ticket", id)
	if err != nil {
		return err
	}
	ts, err := s.tickets.PrintTickets(r.Context(), c, link, "", id)
	if err != nil {
		return err
	}
	return writePDF(w, r, "ticket-"+id+".pdf", ts)
}

func writePDF(w http.ResponseWriter, r *http.Request, name string, ts []boxoffice.PrintedTicket) error {
	if len(ts) == 0 {
		return boxoffice.Errorf(boxoffice.CodeInvalidState, "the order has no tickets: it is not paid")
	}
	docs := make([]ticketdoc.Ticket, len(ts))
	for i, t := range ts {
		d := ticketdoc.Ticket{
			Code: t.Code, ID: t.ID, EventTitle: t.Event.Title, Venue: t.Event.Venue, StartsAt: t.Event.StartsAt,
			AttendeeName: t.AttendeeName, OrderID: t.OrderID, Status: string(t.Status),
		}
		if t.Tier != nil {
			d.TierName, d.Price = t.Tier.Name, boxoffice.FormatMoney(t.Tier.Price)
		}
		docs[i] = d
	}
	var buf bytes.Buffer
	if err := ticketdoc.PDF(&buf, docs...); err != nil {
		return err
	}
	return writeFile(w, r, "application/pdf", name, buf.Bytes())
}

// writeFile writes a document. Tickets are private: no cache keeps them.
func writeFile(w http.ResponseWriter, r *http.Request, ctype, name string, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if name != "" {
		h.Set("Content-Disposition", `inline; filename="`+name+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	return nil
}

// scanRequest is one scan: the body of POST /api/v1/events/{id}/checkins
// and an entry of a batch.
type scanRequest struct {
	Code      string  `json:"code"`
	Gate      string  `json:"gate"`
	DeviceID  string  `json:"device_id"`
	ScanID    string  `json:"scan_id"`
	ScannedAt *string `json:"scanned_at"`
	Result    string  `json:"result"`
}

func (req scanRequest) input(ve *boxoffice.ValidationError, prefix string) boxoffice.ScanInput {
	return boxoffice.ScanInput{
		Code: req.Code, Gate: req.Gate, DeviceID: req.DeviceID, ScanID: req.ScanID,
		ScannedAt: optTimeField(ve, prefix+"scanned_at", req.ScannedAt), Result: boxoffice.CheckinResult(req.Result),
	}
}

// scanBody is a scan's answer.
type scanBody struct {
	Result    boxoffice.CheckinResult `json:"result"`
	Reason    string                  `json:"reason,omitempty"`
	Ticket    *ticketBody             `json:"ticket,omitempty"`
	FirstScan *firstScanBody          `json:"first_scan,omitempty"`
}

type firstScanBody struct {
	At       time.Time `json:"at"`
	Gate     string    `json:"gate"`
	DeviceID string    `json:"device_id,omitempty"`
}

func scanOf(o boxoffice.ScanOutcome) scanBody {
	b := scanBody{Result: o.Result, Reason: o.Reason}
	if o.Ticket != nil {
		t := ticketOf(o.Ticket, "")
		b.Ticket = &t
	}
	if o.First != nil {
		b.FirstScan = &firstScanBody{At: o.First.ScannedAt, Gate: o.First.Gate, DeviceID: o.First.DeviceID}
	}
	return b
}

func (s *server) handleCheckin(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req scanRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	var ve boxoffice.ValidationError
	in := req.input(&ve, "")
	if in.ScannedAt != nil {
		ve.Add("scanned_at", "is for offline scans (POST /api/v1/events/{id}/checkins/batch); an online scan happens now")
	}
	if err := ve.Err(); err != nil {
		return err
	}
	o, err := s.tickets.Scan(r.Context(), c, eventID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, scanOf(o))
}

// batchRequest is the body of POST /api/v1/events/{id}/checkins/batch.
// DeviceID applies to every scan that does not name its own.
type batchRequest struct {
	DeviceID string        `json:"device_id"`
	Scans    []scanRequest `json:"scans"`
}

// batchEntryBody is one scan's answer in a batch: its result, or the
// problem that kept it from being applied.
type batchEntryBody struct {
	ScanID string `json:"scan_id,omitempty"`
	scanBody
	Error *problem `json:"error,omitempty"`
}

func (s *server) handleCheckinBatch(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req batchRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Scans) > boxoffice.MaxScanBatch {
		var ve boxoffice.ValidationError
		ve.Add("scans", "must hold between 1 and %d scans", boxoffice.MaxScanBatch)
		return &ve
	}
	in := make([]boxoffice.ScanInput, len(req.Scans))
	bad := make([]error, len(req.Scans))
	for i, sr := range req.Scans {
		if sr.DeviceID == "" {
			sr.DeviceID = req.DeviceID
		}
		var ve boxoffice.ValidationError
		in[i] = sr.input(&ve, "scans["+strconv.Itoa(i)+"].")
		bad[i] = ve.Err()
		if bad[i] != nil {
			in[i].ScannedAt = nil // reported below; the service sees a scan it refuses
		}
	}
	outs, err := s.tickets.UploadScans(r.Context(), c, eventID, in)
	if err != nil {
		return err
	}
	res := itemsBody[batchEntryBody]{Items: make([]batchEntryBody, len(outs))}
	for i, o := range outs {
		e := batchEntryBody{ScanID: req.Scans[i].ScanID}
		if err := cmpErr(bad[i], o.Err); err != nil {
			e.Error = problemFor(r, err)
		} else {
			e.scanBody = scanOf(o.ScanOutcome)
		}
		res.Items[i] = e
	}
	return writeJSON(w, r, http.StatusOK, res)
}

// cmpErr returns the first of the errors that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *server) handleUndoCheckin(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "ticket_id")
	if err != nil {
		return err
	}
	eventID, ticketID := ids[0], ids[1]
	t, err := s.tickets.UndoCheckin(r.Context(), c, eventID, ticketID)
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, ticketOf(t, ""))
}

// bundleBody is an event's check-in bundle: public_key is the Ed25519
// public key (base64url, 32 bytes) and key_id the four bytes (hex) every
// code of the event carries after its format byte.
type bundleBody struct {
	EventID   string           `json:"event_id"`
	PublicKey string           `json:"public_key"`
	KeyID     string           `json:"key_id"`
	Gates     []gateBody       `json:"gates"`
	Tickets   []bundleTicket   `json:"tickets"`
	Void      []string         `json:"revoked"`
	At        time.Time        `json:"generated_at"`
	CodeSpec  bundleCodeFormat `json:"code_format"`
}

type bundleTicket struct {
	ID           string                 `json:"id"`
	TierID       string                 `json:"tier_id"`
	Version      int                    `json:"version"`
	AttendeeName string                 `json:"attendee_name"`
	Status       boxoffice.TicketStatus `json:"status"`
	CheckedInAt  *time.Time             `json:"checked_in_at,omitempty"`
	Gate         string                 `json:"gate,omitempty"`
}

// bundleCodeFormat tells a scanner how to read a code.
type bundleCodeFormat struct {
	Length      int    `json:"length"`
	Description string `json:"description"`
}

const codeDescription = "base64url without padding of: format (1 byte, 1) | key_id (4) | ticket id (16, the " +
	"26-character Crockford base32 id's 128 bits) | version (2, big-endian) | Ed25519 signature (64) of the first 23 bytes"

func (s *server) handleCheckinBundle(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := s.tickets.Bundle(r.Context(), c, eventID)
	if err != nil {
		return err
	}
	out := bundleBody{
		EventID: b.EventID, PublicKey: base64.RawURLEncoding.EncodeToString(b.PublicKey), KeyID: hex.EncodeToString(b.KeyID[:]),
		Gates: make([]gateBody, len(b.Gates)), Tickets: make([]bundleTicket, len(b.Tickets)), Void: b.Void, At: b.At,
		CodeSpec: bundleCodeFormat{Length: boxoffice.TicketCodeLen, Description: codeDescription},
	}
	if out.Void == nil {
		out.Void = []string{}
	}
	for i, g := range b.Gates {
		out.Gates[i] = gateOf(g)
	}
	for i, t := range b.Tickets {
		out.Tickets[i] = bundleTicket{ID: t.ID, TierID: t.TierID, Version: t.Version, AttendeeName: t.AttendeeName,
			Status: t.Status, CheckedInAt: t.CheckedInAt, Gate: t.Gate}
	}
	return writeJSON(w, r, http.StatusOK, out)
}

// gateBody is a gate: the tiers it admits (empty: all).
type gateBody struct {
	Name  string   `json:"name"`
	Tiers []string `json:"tiers"`
}

func gateOf(g *boxoffice.Gate) gateBody {
	tiers := g.Tiers
	if tiers == nil {
		tiers = []string{}
	}
	return gateBody{Name: g.Name, Tiers: tiers}
}

// gateRequest is the body of PUT /api/v1/events/{id}/gates/{name}.
type gateRequest struct {
	Tiers []string `json:"tiers"`
}

func (s *server) handlePutGate(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	body, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var req gateRequest
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	g, err := s.tickets.PutGate(r.Context(), c, &boxoffice.Gate{EventID: eventID, Name: r.PathValue("name"), Tiers: req.Tiers})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, gateOf(g))
}

func (s *server) handleDeleteGate(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.tickets.DeleteGate(r.Context(), c, eventID, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// gateCountBody is a gate's live count; the last entry (gate "") is the
// whole event.
type gateCountBody struct {
	Gate          string   `json:"gate"`
	Tiers         []string `json:"tiers"`
	CheckedIn     int      `json:"checked_in"`
	CheckedInHere int      `json:"checked_in_here"`
	Expected      int      `json:"expected"`
}

func (s *server) handleGates(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	counts, err := s.tickets.GateCounts(r.Context(), c, eventID)
	if err != nil {
		return err
	}
	out := itemsBody[gateCountBody]{Items: make([]gateCountBody, len(counts))}
	for i, g := range counts {
		tiers := g.Tiers
		if tiers == nil {
			tiers = []string{}
		}
		out.Items[i] = gateCountBody{Gate: g.Gate, Tiers: tiers, CheckedIn: g.CheckedIn, CheckedInHere: g.CheckedInHere, Expected: g.Expected}
	}
	return writeJSON(w, r, http.StatusOK, out)
}

// conflictBody is a ticket admitted more than once: the scan that counts
// and the others.
type conflictBody struct {
	TicketID string          `json:"ticket_id"`
	First    admissionBody   `json:"first"`
	Others   []admissionBody `json:"others"`
}

type admissionBody struct {
	At         time.Time `json:"at"`
	Gate       string    `json:"gate"`
	DeviceID   string    `json:"device_id"`
	ScanID     string    `json:"scan_id"`
	RecordedAt time.Time `json:"recorded_at"`
}

func admissionOf(r *boxoffice.CheckinRecord) admissionBody {
	return admissionBody{At: r.ScannedAt, Gate: r.Gate, DeviceID: r.DeviceID, ScanID: r.ScanID, RecordedAt: r.RecordedAt}
}

func (s *server) handleCheckinConflicts(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	cs, err := s.tickets.Conflicts(r.Context(), c, eventID)
	if err != nil {
		return err
	}
	out := itemsBody[conflictBody]{Items: make([]conflictBody, len(cs))}
	for i, cf := range cs {
		b := conflictBody{TicketID: cf.TicketID, First: admissionOf(cf.First)}
		for _, o := range cf.Others {
			b.Others = append(b.Others, admissionOf(o))
		}
		out.Items[i] = b
	}
	return writeJSON(w, r, http.StatusOK, out)
}

// staffBody is a user's door role at an event.
type staffBody struct {
	UserID  string              `json:"user_id"`
	Role    boxoffice.StaffRole `json:"role"`
	AddedAt time.Time           `json:"added_at"`
}

type staffRequest struct {
	Role string `json:"role"`
}

func (s *server) handlePutStaff(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "user_id")
	if err != nil {
		return err
	}
	eventID, userID := ids[0], ids[1]
	var req staffRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	st, err := s.tickets.PutStaff(r.Context(), c, &boxoffice.Staff{EventID: eventID, UserID: userID, Role: boxoffice.StaffRole(req.Role)})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, staffBody{UserID: st.UserID, Role: st.Role, AddedAt: st.AddedAt})
}

func (s *server) handleDeleteStaff(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	ids, err := pathIDs(r, "id", "user_id")
	if err != nil {
		return err
	}
	eventID, userID := ids[0], ids[1]
	if err := s.tickets.DeleteStaff(r.Context(), c, eventID, userID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) handleListStaff(w http.ResponseWriter, r *http.Request, c boxoffice.Caller) error {
	eventID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	st, err := s.tickets.ListStaff(r.Context(), c, eventID)
	if err != nil {
		return err
	}
	out := itemsBody[staffBody]{Items: make([]staffBody, len(st))}
	for i, x := range st {
		out.Items[i] = staffBody{UserID: x.UserID, Role: x.Role, AddedAt: x.AddedAt}
	}
	return writeJSON(w, r, http.StatusOK, out)
}
