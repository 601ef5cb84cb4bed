package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"boxoffice"
)

// FuzzDecode feeds arbitrary bodies to the create-event and
// create-reservation decoders: they must never panic, and must produce
// either a usable input or an error that is answered with a 4xx problem.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"title": "T", "venue": "V", "starts_at": "2026-01-01T00:00:00Z", "sales_start_at": "2025-01-01T00:00:00+01:00", "sales_end_at": "2025-12-31T00:00:00Z", "max_tickets_per_user": 4, "tiers": [{"name": "GA", "price": {"amount": 5000, "currency": "USD"}, "capacity": 10}]}`,
		`{"tier_id": "01HZZZZZZZZZZZZZZZZZZZZZZ1", "quantity": 2, "attendee": {"name": "Ann", "phone": "1"}}`,
		`{"ends_at": null, "queue": {"enabled": true}}`,
		`{"starts_at": "2026-02-30T00:00:00Z"}`,
		`{"quantity": 1e400}`,
		`{"tiers": [{"price": {"amount": -1}}]}`,
		`[]`, `null`, `""`, `{}`, `{} {}`, `{"a":`, "\xff\xfe", ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name string, err error) {
			if err == nil {
				return
			}
			if st := statusOf(err); st < 400 || st > 499 {
				t.Fatalf("%s: status %d (code %s) for %q: %v", name, st, boxoffice.CodeOf(err), body, err)
			}
		}

		r := httptest.NewRequest("POST", "/api/v1/events", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		in, err := decodeEventInput(httptest.NewRecorder(), r)
		check("event", err)
		if err == nil {
			for _, tm := range []time.Time{in.StartsAt, in.SalesStartAt, in.SalesEndAt} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Fatalf("time %v not in UTC", tm)
				}
			}
			if in.EndsAt != nil && in.EndsAt.Location() != time.UTC {
				t.Fatalf("ends_at %v not in UTC", in.EndsAt)
			}
		}

		r = httptest.NewRequest("POST", "/api/v1/events/"+testEventID+"/reservations", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "fuzz")
		r.Pattern = "POST /api/v1/events/{id}/reservations"
		r.SetPathValue("id", testEventID)
		hold, err := decodeHoldInput(httptest.NewRecorder(), r)
		check("reservation", err)
		if err == nil && (hold.EventID != testEventID || hold.IdempotencyKey != "fuzz" || len(hold.Fingerprint) != 64) {
			t.Fatalf("bad hold input %+v", hold)
		}
	})
}
