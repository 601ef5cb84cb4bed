package boxoffice

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// eventJSON is the contract's shape of an Event.
type eventJSON struct {
	ID                string      `json:"id"`
	Title             string      `json:"title"`
	Description       string      `json:"description"`
	Venue             string      `json:"venue"`
	StartsAt          time.Time   `json:"starts_at"`
	EndsAt            *time.Time  `json:"ends_at"`
	SalesStartAt      time.Time   `json:"sales_start_at"`
	SalesEndAt        time.Time   `json:"sales_end_at"`
	MaxTicketsPerUser int         `json:"max_tickets_per_user"`
	HoldSeconds       int         `json:"hold_seconds"`
	Queue             QueueConfig `json:"queue"`
	Tiers             []tierJSON  `json:"tiers"`
	Available         int         `json:"available"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

type tierJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
}

// MarshalJSON encodes e in the contract's shape, with per-tier and total
// availability.
func (e *Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		ID: e.ID, Title: e.Title, Description: e.Description, Venue: e.Venue,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt, SalesStartAt: e.SalesStartAt, SalesEndAt: e.SalesEndAt,
		MaxTicketsPerUser: e.MaxTicketsPerUser, HoldSeconds: e.HoldSeconds, Queue: e.Queue,
		Tiers:     make([]tierJSON, len(e.Tiers)),
		Available: e.Available(),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	for i := range e.Tiers {
		t := &e.Tiers[i]
		j.Tiers[i] = tierJSON{ID: t.ID, Name: t.Name, Price: t.Price, Capacity: t.Capacity, Available: t.Available()}
	}
	return json.Marshal(j)
}

// MarshalJSON encodes u without its password hash.
func (u *User) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string    `json:"id"`
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		Role      Role      `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}{u.ID, u.Email, u.Name, u.Role, u.CreatedAt})
}

// AppendJSON appends r's JSON encoding (the contract's Reservation, the
// same as encoding/json makes of it without HTML escaping) to b. Holds are
// the hot path, and each is encoded twice (the answer and its idempotency
// record); this does it without reflection.
func (r *Reservation) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"event_id":`...)
	b = appendString(b, r.EventID)
	b = append(b, `,"tier_id":`...)
	b = appendString(b, r.TierID)
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, int64(r.Quantity), 10)
	b = append(b, `,"status":`...)
	b = appendString(b, string(r.Status))
	b = append(b, `,"amount":{"amount":`...)
	b = strconv.AppendInt(b, r.Amount.Amount, 10)
	b = append(b, `,"currency":`...)
	b = appendString(b, r.Amount.Currency)
	b = append(b, `},"attendee":`...)
	if a := r.Attendee; a != nil {
		b = append(b, `{"name":`...)
		b = appendString(b, a.Name)
		b = append(b, `,"phone":`...)
		b = appendString(b, a.Phone)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"hold_expires_at":`...)
	b = appendTime(b, r.HoldExpiresAt)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, r.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, r.UpdatedAt)
	b = append(b, `,"confirmed_at":`...)
	b = appendTimePtr(b, r.ConfirmedAt)
	b = append(b, `,"cancelled_at":`...)
	b = appendTimePtr(b, r.CancelledAt)
	return append(b, '}')
}

// appendTime appends t as a JSON string the way time.Time's MarshalJSON
// does (RFC 3339 with nanoseconds as needed).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendString appends s as a JSON string, escaped as encoding/json does
// without HTML escaping: quotes, backslashes, control characters, U+2028
// and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
