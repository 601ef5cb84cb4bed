package boxoffice

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Idempotency is the durable record of a request made with an Idempotency-Key.
// It is written in the same transaction as the change it records, so a
// retried request finds either nothing (and runs again) or the outcome.
type Idempotency struct {
	UserID      string
	Key         string
	Fingerprint string // hash of operation + target + body; a different request under the same key is refused
	Outcome     Outcome
	CreatedAt   time.Time
}

// OutcomeKind is what a recorded request did.
type OutcomeKind string

// The recorded outcomes. OutcomeUnknown is a record this version cannot read
// (written by a newer one): it is answered with the reservation as it is now.
const (
	OutcomeHeld      OutcomeKind = "held"
	OutcomeConfirmed OutcomeKind = "confirmed"
	OutcomeCancelled OutcomeKind = "cancelled"
	// OutcomeOrder records a request on an order (ReservationID holds the
	// order's ID); it is answered with the order as it is now.
	OutcomeOrder   OutcomeKind = "order"
	OutcomeUnknown OutcomeKind = "unknown"
)

// Outcome is what was decided for a recorded request, in domain terms (never
// the bytes that were sent): the reservation it acted on, what it did, and
// for a new hold the quantity and amount it was held with (the rest of the
// hold never changes, so a replay rebuilds it from the reservation).
type Outcome struct {
	Kind          OutcomeKind
	ReservationID string
	Quantity      int   // OutcomeHeld only
	Amount        Money // OutcomeHeld only
}

// outcomeVersion prefixes every encoded outcome. A reader that meets another
// version decodes it as OutcomeUnknown instead of failing, so a rollback past
// a format change never makes a replay fail.
const outcomeVersion = "o2:"

// AppendText appends o's stored form to b: "o2:held:<quantity>:<amount>:<currency>",
// "o2:confirmed" or "o2:cancelled" (about 20 bytes: this is written with every
// hold). It implements encoding.TextAppender.
func (o Outcome) AppendText(b []byte) ([]byte, error) {
	b = append(b, outcomeVersion...)
	b = append(b, o.Kind...)
	if o.Kind == OutcomeHeld {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(o.Quantity), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, o.Amount.Amount, 10)
		b = append(b, ':')
		b = append(b, o.Amount.Currency...)
	}
	return b, nil
}

// MarshalText returns o's stored form.
func (o Outcome) MarshalText() ([]byte, error) { return o.AppendText(nil) }

// UnmarshalText reads a stored outcome (ReservationID is stored beside it).
// It never fails: what it cannot read becomes OutcomeUnknown. Besides the
// current form it reads the two earlier ones, which records up to
// IdempotencyTTL old may still have: "hold:<quantity>:<amount>:<currency>"
// and the JSON answer that was sent.
func (o *Outcome) UnmarshalText(b []byte) error {
	id := o.ReservationID
	*o = Outcome{Kind: OutcomeUnknown, ReservationID: id}
	s := string(b)
	switch {
	case strings.HasPrefix(s, outcomeVersion):
		s = s[len(outcomeVersion):]
		switch OutcomeKind(s) {
		case OutcomeConfirmed, OutcomeCancelled, OutcomeOrder:
			o.Kind = OutcomeKind(s)
			return nil
		}
		if rest, ok := strings.CutPrefix(s, string(OutcomeHeld)+":"); ok {
			o.parseHeld(rest)
		}
	case strings.HasPrefix(s, "hold:"):
		o.parseHeld(s[len("hold:"):])
	case bytes.HasPrefix(b, []byte("{")):
		o.parseLegacyJSON(b)
	}
	return nil
}

func (o *Outcome) parseHeld(s string) {
	q, rest, _ := strings.Cut(s, ":")
	a, cur, found := strings.Cut(rest, ":")
	qn, err1 := strconv.Atoi(q)
	an, err2 := strconv.ParseInt(a, 10, 64)
	if found && err1 == nil && err2 == nil {
		o.Kind, o.Quantity, o.Amount = OutcomeHeld, qn, Money{Amount: an, Currency: cur}
	}
}

// parseLegacyJSON reads a record written before outcomes were stored: the
// reservation's JSON as it was answered.
func (o *Outcome) parseLegacyJSON(b []byte) {
	var r struct {
		Status   ReservationStatus `json:"status"`
		Quantity int               `json:"quantity"`
		Amount   Money             `json:"amount"`
	}
	if json.Unmarshal(b, &r) != nil {
		return
	}
	switch r.Status {
	case StatusHeld:
		o.Kind, o.Quantity, o.Amount = OutcomeHeld, r.Quantity, r.Amount
	case StatusConfirmed:
		o.Kind = OutcomeConfirmed
	case StatusCancelled:
		o.Kind = OutcomeCancelled
	}
}

// Replay rebuilds the answer o recorded from r, the reservation it acted on
// as it is now: a hold as it was when granted, a confirmation as it was when
// confirmed, a cancellation (final) as it is. An unknown outcome is answered
// with r as it is.
func (o Outcome) Replay(r *Reservation) *Reservation {
	out := *r
	switch o.Kind {
	case OutcomeHeld:
		out.Status, out.Quantity, out.Amount = StatusHeld, o.Quantity, o.Amount
		out.UpdatedAt, out.ConfirmedAt, out.CancelledAt = out.CreatedAt, nil, nil
	case OutcomeConfirmed:
		if out.ConfirmedAt != nil {
			out.Status, out.UpdatedAt, out.CancelledAt = StatusConfirmed, *out.ConfirmedAt, nil
		}
	}
	return &out
}
