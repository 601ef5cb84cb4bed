package boxoffice

import (
	"testing"
	"time"
)

// TestTextFieldsRefuseControlCharacters: titles, names and phone numbers
// refuse control characters (a NUL in a title reached a metrics label);
// a description may hold tabs and line breaks, nothing else.
func TestTextFieldsRefuseControlCharacters(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	event := func(mod func(*Event)) *Event {
		e := &Event{
			Title: "Show", Venue: "Hall", Description: "Line one\n\tLine two\r\n",
			StartsAt: now.Add(48 * time.Hour), SalesStartAt: now, SalesEndAt: now.Add(24 * time.Hour),
			Tiers: []Tier{{Name: "GA", Price: Money{Amount: 100, Currency: "EUR"}, Capacity: 10}},
		}
		mod(e)
		return e
	}
	if err := normaliseEvent(event(func(*Event) {})); err != nil {
		t.Fatalf("a clean event: %v", err)
	}
	for name, c := range map[string]struct {
		mod   func(*Event)
		field string
	}{
		"NUL in the title":          {func(e *Event) { e.Title = "Show\x00" }, "title"},
		"escape in the venue":       {func(e *Event) { e.Venue = "Hall \x1b[31mred" }, "venue"},
		"line break in the title":   {func(e *Event) { e.Title = "Show\nFake log line" }, "title"},
		"C1 control in a tier name": {func(e *Event) { e.Tiers[0].Name = "G\u0090A" }, "tiers[0].name"},
		"DEL in the description":    {func(e *Event) { e.Description = "text\x7f" }, "description"},
		"NUL in the description":    {func(e *Event) { e.Description = "text\x00" }, "description"},
	} {
		t.Run(name, func(t *testing.T) {
			wantField(t, normaliseEvent(event(c.mod)), c.field)
		})
	}
	in := SignUp{Email: "a@example.test", Password: "correct horse battery", Name: "Ann\x00"}
	wantField(t, validateSignUp(&in), "name")
}

// TestSalesEndByTheStart: an event may not be on sale once it has started
// (a confirmed reservation for an event under way could never be
// cancelled).
func TestSalesEndByTheStart(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	e := &Event{
		Title: "Show", Venue: "Hall", StartsAt: now, SalesStartAt: now.Add(-time.Hour), SalesEndAt: now.Add(time.Hour),
		Tiers: []Tier{{Name: "GA", Price: Money{Amount: 100, Currency: "EUR"}, Capacity: 10}},
	}
	wantField(t, normaliseEvent(e), "sales_end_at")
	e.SalesEndAt = now // up to the start is fine
	if err := normaliseEvent(e); err != nil {
		t.Fatalf("sales ending at the start: %v", err)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("got %v, want a validation error on %s", err, field)
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("validation error %v does not name %s", ve, field)
}
