package boxoffice

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// This file is the ticket: one admission, issued when its order is paid,
// shown at the door as a signed code, used once. Its life cycle:
//
//	valid → used   scanned at a gate (DecideScans); a supervisor may undo it (UndoCheckinStep)
//	valid → void   refunded (DecideRefund)
//	used  → void   refunded after the door (the money goes back; the scan stays on record)
//
// A name change (RenameStep) keeps the ticket valid and raises its version:
// the code issued before stops working, which is what makes a name change a
// transfer.

// TicketStatus is the state of a ticket.
type TicketStatus string

// The ticket states.
const (
	TicketValid TicketStatus = "valid"
	TicketUsed  TicketStatus = "used"
	TicketVoid  TicketStatus = "void"
)

// Ticket is one admission to an event.
type Ticket struct {
	ID      string
	OrderID string
	EventID string
	TierID  string
	// UserID is the buyer: the one who may see and rename it.
	UserID       string
	AttendeeName string
	Status       TicketStatus
	// Version is raised by every name change; only a code of the current
	// version admits.
	Version   int
	IssuedAt  time.Time
	UpdatedAt time.Time
	// CheckedInAt and Gate are the first scan that admitted the ticket,
	// when it is used.
	CheckedInAt *time.Time
	Gate        string
}

// IssueTickets returns the tickets of a paid order: one per kept ticket of
// each line, named after the line's attendees in order where the buyer
// gave them.
func IssueTickets(o *Order, now time.Time) []*Ticket {
	var ts []*Ticket
	for i := range o.Lines {
		l := &o.Lines[i]
		for k := range l.Kept() {
			t := &Ticket{
				ID: NewID(), OrderID: o.ID, EventID: o.EventID, TierID: l.TierID, UserID: o.UserID,
				Status: TicketValid, Version: 1, IssuedAt: now, UpdatedAt: now,
			}
			if k < len(l.Attendees) {
				t.AttendeeName = l.Attendees[k].Name
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// maxAttendeeName bounds a ticket's attendee name.
const maxAttendeeName = 100

// maxTicketVersion bounds the name changes of one ticket (the code carries
// the version in two bytes).
const maxTicketVersion = 1000

// NameChangeDeadline returns until when the holders of the event's tickets
// may change the names on them: NameChangesUntil when set, else the start.
func (e *Event) NameChangeDeadline() time.Time {
	if e.NameChangesUntil != nil {
		return *e.NameChangesUntil
	}
	return e.StartsAt
}

// RenameStep changes the attendee name of t at now and raises its version,
// so the code issued before stops admitting. Only a valid ticket can be
// renamed; its holder only before the event's deadline (organizers at any
// time). It returns ErrInvalidState, ErrNameChangeClosed or a
// *ValidationError, changing nothing then.
func RenameStep(t *Ticket, e *Event, name string, byOrganizer bool, now time.Time) error {
	var v ValidationError
	checkText(&v, "attendee_name", name, 1, maxAttendeeName)
	if err := v.Err(); err != nil {
		return err
	}
	if t.Status != TicketValid {
		return Errorf(CodeInvalidState, "the ticket is %s; only a valid ticket can be renamed", t.Status)
	}
	if !byOrganizer && !now.Before(e.NameChangeDeadline()) {
		return ErrNameChangeClosed
	}
	if t.Version >= maxTicketVersion {
		return Errorf(CodeInvalidState, "this ticket was renamed too often; ask the organizer")
	}
	if name == t.AttendeeName {
		return nil
	}
	t.AttendeeName, t.Version, t.UpdatedAt = name, t.Version+1, now
	return nil
}

// ErrNameChangeClosed refuses a holder's name change after the event's
// deadline.
var ErrNameChangeClosed = &Error{CodeNameChangeClosed, "names on this event's tickets can no longer be changed; ask the organizer"}

// UndoCheckinStep undoes the check-in of a used ticket at now: it is valid
// again, and a later scan admits it. It returns ErrInvalidState for a
// ticket that is not used.
func UndoCheckinStep(t *Ticket, now time.Time) error {
	if t.Status != TicketUsed {
		return Errorf(CodeInvalidState, "the ticket is %s; only a used ticket's check-in can be undone", t.Status)
	}
	t.Status, t.CheckedInAt, t.Gate, t.UpdatedAt = TicketValid, nil, "", now
	return nil
}

// voidTickets voids the tickets a refund takes back: those named, or for
// each refund line the line's quantity of the tier's tickets, unused ones
// first and the last issued first. It returns their IDs. Orders issued no
// tickets (paid before tickets existed) void nothing.
func voidTickets(o *Order, lines []RefundLine, now time.Time) []string {
	if len(o.Issued) == 0 {
		return nil
	}
	var ids []string
	for _, rl := range lines {
		want := rl.Quantity
		for _, pass := range []TicketStatus{TicketValid, TicketUsed} {
			for i := len(o.Issued) - 1; i >= 0 && want > 0; i-- {
				t := o.Issued[i]
				if t.TierID == rl.TierID && t.Status == pass {
					t.Status, t.UpdatedAt = TicketVoid, now
					ids = append(ids, t.ID)
					want--
				}
			}
		}
	}
	return ids
}

// refundLinesOf turns a refund of named tickets into refund lines, or
// reports which names are not tickets of o that it still holds.
func refundLinesOf(o *Order, ticketIDs []string, v *ValidationError) []RefundLine {
	seen := make(map[string]bool, len(ticketIDs))
	var lines []RefundLine
	for i, id := range ticketIDs {
		var t *Ticket
		for _, x := range o.Issued {
			if x.ID == id {
				t = x
			}
		}
		switch {
		case t == nil:
			v.Add(fmt.Sprintf("ticket_ids[%d]", i), "is not a ticket of this order")
			continue
		case t.Status == TicketVoid:
			v.Add(fmt.Sprintf("ticket_ids[%d]", i), "was refunded before")
			continue
		case seen[id]:
			v.Add(fmt.Sprintf("ticket_ids[%d]", i), "is named twice")
			continue
		}
		seen[id] = true
		lines = append(lines, RefundLine{TierID: t.TierID, Quantity: 1})
	}
	return lines
}

// voidNamed voids exactly the named tickets at now.
func voidNamed(o *Order, ids []string, now time.Time) []string {
	for _, t := range o.Issued {
		for _, id := range ids {
			if t.ID == id {
				t.Status, t.UpdatedAt = TicketVoid, now
			}
		}
	}
	return append([]string(nil), ids...)
}

// EventKey is an event's Ed25519 key pair: the private key signs the
// codes of its tickets, the public key lets a scanner verify them without
// the server.
type EventKey struct {
	EventID   string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// NewEventKey returns a fresh key pair for an event.
func NewEventKey(eventID string, now time.Time) *EventKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &EventKey{EventID: eventID, Public: pub, Private: priv, CreatedAt: now}
}

// KeyID returns the four bytes that name the key in its codes: the first
// four of the SHA-256 of the public key.
func (k *EventKey) KeyID() [4]byte {
	sum := sha256.Sum256(k.Public)
	return [4]byte(sum[:4])
}

// A ticket code is base64url (no padding) of
//
//	format (1 byte, 1) | key ID (4) | ticket ID (16, the ID's 128 bits) | version (2, big-endian) | Ed25519 signature (64) of the first 23 bytes
//
// 87 bytes, 116 characters: a version 7 QR code at medium error correction,
// which cheap scanners read, and text a keyboard-wedge scanner types.
const (
	codeFormat    = 1
	codeSigned    = 1 + 4 + 16 + 2
	codeBytes     = codeSigned + ed25519.SignatureSize
	TicketCodeLen = (codeBytes*8 + 5) / 6
)

// Code returns t's code, signed with k.
func (k *EventKey) Code(t *Ticket) string {
	var b [codeBytes]byte
	b[0] = codeFormat
	id := k.KeyID()
	copy(b[1:5], id[:])
	raw, _ := decodeID(t.ID)
	copy(b[5:21], raw[:])
	binary.BigEndian.PutUint16(b[21:23], uint16(t.Version))
	copy(b[codeSigned:], ed25519.Sign(k.Private, b[:codeSigned]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TicketClaim is what a code says: which key signed it, and which ticket
// of which version it admits.
type TicketClaim struct {
	KeyID    [4]byte
	TicketID string
	Version  int
}

// ParseTicketCode reads a code without checking its signature. It returns
// false for anything that is not a code's shape: wrong length or alphabet,
// another format, a ticket ID that NewID cannot make.
func ParseTicketCode(code string) (c TicketClaim, signed, sig []byte, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != TicketCodeLen {
		return c, nil, nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(code)
	if err != nil || len(b) != codeBytes || b[0] != codeFormat {
		return c, nil, nil, false
	}
	copy(c.KeyID[:], b[1:5])
	c.TicketID = encodeID([16]byte(b[5:21]))
	if !ValidID(c.TicketID) {
		return c, nil, nil, false
	}
	c.Version = int(binary.BigEndian.Uint16(b[21:23]))
	return c, b[:codeSigned], b[codeSigned:], true
}

// Verify checks a code against the event's public key, as a scanner does
// offline: CheckinOK with the claim when k signed it; CheckinWrongEvent
// when another key did (a ticket of another event, as far as this key can
// tell); CheckinInvalid when it is not a code, or was changed.
func (k *EventKey) Verify(code string) (TicketClaim, CheckinResult) {
	return VerifyTicketCode(k.Public, k.KeyID(), code)
}

// Check is Verify as the server does it, holding the private key: a code
// is genuine when it is exactly the code k issues for its claim (Ed25519
// signatures are deterministic, RFC 8032, so the one k made is the one it
// makes again), compared in constant time. Signing costs about half of a
// verification, and no code that k did not issue passes: one signed with
// another nonce would need the private key too.
func (k *EventKey) Check(code string) (TicketClaim, CheckinResult) {
	code = strings.TrimSpace(code)
	c, _, _, ok := ParseTicketCode(code)
	switch {
	case !ok:
		return c, CheckinInvalid
	case c.KeyID != k.KeyID():
		return c, CheckinWrongEvent
	}
	want := k.Code(&Ticket{ID: c.TicketID, Version: c.Version})
	if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
		return c, CheckinInvalid
	}
	return c, CheckinOK
}

// VerifyTicketCode is EventKey.Verify with only the public key and its ID,
// as a scanner holds them.
func VerifyTicketCode(pub ed25519.PublicKey, keyID [4]byte, code string) (TicketClaim, CheckinResult) {
	c, signed, sig, ok := ParseTicketCode(code)
	switch {
	case !ok:
		return c, CheckinInvalid
	case c.KeyID != keyID:
		return c, CheckinWrongEvent
	case !ed25519.Verify(pub, signed, sig):
		return c, CheckinInvalid
	}
	return c, CheckinOK
}

// decodeID is the inverse of encodeID; false when s is not an ID's shape.
func decodeID(s string) ([16]byte, bool) {
	var raw [16]byte
	if !ValidID(s) {
		return raw, false
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		v := uint64(strings.IndexByte(crockford, s[i]))
		hi = hi<<5 | lo>>59
		lo = lo<<5 | v
	}
	binary.BigEndian.PutUint64(raw[0:8], hi)
	binary.BigEndian.PutUint64(raw[8:16], lo)
	return raw, true
}
