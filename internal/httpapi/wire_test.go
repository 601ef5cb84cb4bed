package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"boxoffice"
)

// appendReservation writes what encoding/json (without HTML escaping)
// writes of reservationBody.
func FuzzReservationJSON(f *testing.F) {
	f.Add("01JX", 2, int64(5000), "USD", true, "Ada \"Lovelace\" <&>", "+44\n\x00\u2028\xff", int64(1_700_000_000_123_456_789), true)
	f.Add("", -1, int64(-7), "", false, "", "", int64(0), false)
	f.Add("\\x\t\b\f\r", 0, int64(1<<62), "€", true, "\u2029ü", "\x7f\x1f", int64(-1), true)
	f.Fuzz(func(t *testing.T, id string, qty int, amount int64, cur string, withAttendee bool, name, phone string, ns int64, done bool) {
		at := time.Unix(0, ns).UTC()
		r := &boxoffice.Reservation{
			ID: id, EventID: id + "e", TierID: "t" + id, UserID: "hidden", Quantity: qty, Status: boxoffice.StatusHeld,
			Amount: boxoffice.Money{Amount: amount, Currency: cur}, HoldExpiresAt: at.Add(time.Minute), CreatedAt: at, UpdatedAt: at.Add(time.Millisecond),
		}
		if withAttendee {
			r.Attendee = &boxoffice.Attendee{Name: name, Phone: phone}
		}
		if done {
			r.ConfirmedAt, r.CancelledAt = &at, &at
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(reservationOf(r)); err != nil {
			t.Skip(err) // times outside what RFC 3339 can hold
		}
		if got := appendReservation(nil, r); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("appendReservation:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	})
}
