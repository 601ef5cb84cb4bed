package boxoffice

import (
	"errors"
	"strings"
	"testing"
)

func TestAttendeeFilter(t *testing.T) {
	id := NewID()
	for _, c := range []struct {
		name   string
		q      AttendeeQuery
		id     string
		prefix string
		bad    string // the field a *ValidationError names
	}{
		{name: "none"},
		{name: "an ID", q: AttendeeQuery{Query: id}, id: id},
		{name: "an ID in lower case, spaced", q: AttendeeQuery{Query: "  " + strings.ToLower(id) + " "}, id: id},
		{name: "text, lower-cased and trimmed", q: AttendeeQuery{Query: " Ada LOVE "}, prefix: "ada love"},
		{name: "26 characters that are no ID", q: AttendeeQuery{Query: strings.Repeat("Z", 25) + "!"}, prefix: strings.Repeat("z", 25) + "!"},
		{name: "100 characters", q: AttendeeQuery{Query: strings.Repeat("é", 100)}, prefix: strings.Repeat("é", 100)},
		{name: "101 characters", q: AttendeeQuery{Query: strings.Repeat("é", 101)}, bad: "q"},
		{name: "control characters", q: AttendeeQuery{Query: "a\x00b"}, bad: "q"},
		{name: "not UTF-8", q: AttendeeQuery{Query: "a\xffb"}, bad: "q"},
		{name: "a status", q: AttendeeQuery{Status: TicketVoid}},
		{name: "a bad status", q: AttendeeQuery{Status: "lost"}, bad: "status"},
		{name: "a bad cursor", q: AttendeeQuery{Cursor: "!!"}, bad: "cursor"},
	} {
		f, err := attendeeFilter("E", c.q)
		if c.bad != "" {
			var v *ValidationError
			if !errors.As(err, &v) || !strings.Contains(v.Error(), c.bad) {
				t.Errorf("%s: %v, want a validation error on %s", c.name, err, c.bad)
			}
			continue
		}
		if err != nil || f.ID != c.id || f.Prefix != c.prefix || f.Status != c.q.Status || f.EventID != "E" {
			t.Errorf("%s: %+v, %v", c.name, f, err)
		}
	}
	f, err := attendeeFilter("E", AttendeeQuery{Cursor: encodeIDCursor(id)})
	if err != nil || f.AfterID != id {
		t.Errorf("cursor: %+v %v", f, err)
	}
}

func TestAttendeeCSVRecord(t *testing.T) {
	a := &EventAttendee{TicketID: "T", AttendeeName: "-1 + 2", TierID: "R", TierName: "@tier", Status: TicketValid,
		OrderID: "O", BuyerEmail: "=cmd@example.test", BuyerName: "Ada, \"Countess\""}
	got := a.CSVRecord(nil)
	want := []string{"T", "'-1 + 2", "R", "'@tier", "valid", "", "", "O", "'=cmd@example.test", "Ada, \"Countess\"",
		"0001-01-01T00:00:00Z"}
	if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(AttendeeCSVHeader) {
		t.Errorf("CSVRecord = %q, want %q", got, want)
	}
}
