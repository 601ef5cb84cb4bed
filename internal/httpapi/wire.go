package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"

	"boxoffice"
)

// The JSON shapes of the API (api/openapi.json). The domain types carry no
// encoding; these convert them.

// money is the JSON shape of boxoffice.Money.
type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func moneyOf(m boxoffice.Money) money { return money(m) }

// queueConfig is the JSON shape of boxoffice.QueueConfig.
type queueConfig struct {
	Enabled        bool `json:"enabled"`
	AdmitPerMinute int  `json:"admit_per_minute"`
}

// attendee is the JSON shape of boxoffice.Attendee.
type attendee struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// eventBody is the JSON shape of an Event.
type eventBody struct {
	ID                string      `json:"id"`
	OrganizerID       string      `json:"organizer_id"`
	Status            string      `json:"status"`
	Title             string      `json:"title"`
	Description       string      `json:"description"`
	Venue             string      `json:"venue"`
	StartsAt          time.Time   `json:"starts_at"`
	EndsAt            *time.Time  `json:"ends_at"`
	SalesStartAt      time.Time   `json:"sales_start_at"`
	SalesEndAt        time.Time   `json:"sales_end_at"`
	MaxTicketsPerUser int         `json:"max_tickets_per_user"`
	HoldSeconds       int         `json:"hold_seconds"`
	Queue             queueConfig `json:"queue"`
	RequireVerified   bool        `json:"require_verified_email"`
	RefundPolicy      refundBody  `json:"refund_policy"`
	NameChangesUntil  time.Time   `json:"name_changes_until"`
	Tiers             []tierBody  `json:"tiers"`
	Available         int         `json:"available"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

// refundBody is the JSON shape of an event's RefundPolicy.
type refundBody struct {
	FanRefunds bool       `json:"fan_refunds"`
	Until      *time.Time `json:"until"`
}

// tierBody is the JSON shape of a Tier.
type tierBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Price     money  `json:"price"`
	Capacity  int    `json:"capacity"`
	Available int    `json:"available"`
	Hidden    bool   `json:"hidden"`
	Closed    bool   `json:"closed"`
}

// eventOf returns e's JSON shape, with per-tier and total availability.
func eventOf(e *boxoffice.Event) eventBody {
	j := eventBody{
		ID: e.ID, OrganizerID: e.OrganizerOf(), Status: string(e.StatusOf()), Title: e.Title, Description: e.Description, Venue: e.Venue,
		StartsAt: e.StartsAt, EndsAt: e.EndsAt, SalesStartAt: e.SalesStartAt, SalesEndAt: e.SalesEndAt,
		MaxTicketsPerUser: e.MaxTicketsPerUser, HoldSeconds: e.HoldSeconds, Queue: queueConfig(e.Queue),
		RequireVerified:  e.RequireVerifiedEmail,
		RefundPolicy:     refundBody{FanRefunds: !e.Refunds.None, Until: e.Refunds.Until},
		NameChangesUntil: e.NameChangeDeadline(),
		Tiers:            make([]tierBody, len(e.Tiers)),
		Available:        e.Available(),
		CreatedAt:        e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	for i := range e.Tiers {
		t := &e.Tiers[i]
		j.Tiers[i] = tierBody{ID: t.ID, Name: t.Name, Price: moneyOf(t.Price), Capacity: t.Capacity, Available: t.Available(),
			Hidden: t.Hidden, Closed: t.Closed}
	}
	return j
}

// userBody is the JSON shape of a User: never its password hash.
type userBody struct {
	ID            string         `json:"id"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name"`
	Role          boxoffice.Role `json:"role"`
	Disabled      bool           `json:"disabled"`
	CreatedAt     time.Time      `json:"created_at"`
}

func userOf(u *boxoffice.User) userBody {
	return userBody{u.ID, u.Email, u.EmailVerified, u.Name, u.Role, u.Disabled, u.CreatedAt}
}

// reservationBody is the JSON shape of a Reservation. appendReservation
// writes the same bytes without reflection.
type reservationBody struct {
	ID            string                      `json:"id"`
	EventID       string                      `json:"event_id"`
	TierID        string                      `json:"tier_id"`
	Quantity      int                         `json:"quantity"`
	Status        boxoffice.ReservationStatus `json:"status"`
	Amount        money                       `json:"amount"`
	Attendee      *attendee                   `json:"attendee"`
	HoldExpiresAt time.Time                   `json:"hold_expires_at"`
	CreatedAt     time.Time                   `json:"created_at"`
	UpdatedAt     time.Time                   `json:"updated_at"`
	ConfirmedAt   *time.Time                  `json:"confirmed_at"`
	CancelledAt   *time.Time                  `json:"cancelled_at"`
}

func reservationOf(r *boxoffice.Reservation) reservationBody {
	out := reservationBody{
		ID: r.ID, EventID: r.EventID, TierID: r.TierID, Quantity: r.Quantity, Status: r.Status,
		Amount: moneyOf(r.Amount), HoldExpiresAt: r.HoldExpiresAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		ConfirmedAt: r.ConfirmedAt, CancelledAt: r.CancelledAt,
	}
	if r.Attendee != nil {
		out.Attendee = &attendee{Name: r.Attendee.Name, Phone: r.Attendee.Phone}
	}
	return out
}

// queueStatusBody is the JSON shape of a QueueStatus.
type queueStatusBody struct {
	EventID            string               `json:"event_id"`
	Status             boxoffice.QueueState `json:"status"`
	Position           int                  `json:"position"`
	ETASeconds         int                  `json:"eta_seconds"`
	AdmissionToken     string               `json:"admission_token,omitempty"`
	AdmissionExpiresAt *time.Time           `json:"admission_expires_at"`
}

func queueStatusOf(st *boxoffice.QueueStatus) queueStatusBody {
	return queueStatusBody{st.EventID, st.Status, st.Position, st.ETASeconds, st.AdmissionToken, st.AdmissionExpiresAt}
}

// tierSalesBody is one tier's line of the sales view.
type tierSalesBody struct {
	TierID    string `json:"tier_id"`
	Capacity  int    `json:"capacity"`
	Held      int    `json:"held"`
	Confirmed int    `json:"confirmed"`
	Available int    `json:"available"`
}

// mapPage converts a page's items to their JSON shape.
func mapPage[T, U any](p boxoffice.Page[T], f func(T) U) boxoffice.Page[U] {
	out := boxoffice.Page[U]{Items: make([]U, len(p.Items)), NextCursor: p.NextCursor}
	for i, it := range p.Items {
		out.Items[i] = f(it)
	}
	return out
}

// appendReservation appends r's JSON encoding (reservationBody, the same
// as encoding/json makes of it without HTML escaping) to b. Holds are the
// hot path; this encodes their answer without reflection.
func appendReservation(b []byte, r *boxoffice.Reservation) []byte {
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
