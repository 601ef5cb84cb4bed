package boxoffice

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on event input. They keep absurd values out of the system of record.
const (
	maxTitle          = 200
	maxVenue          = 200
	maxDescription    = 5000
	maxTiers          = 20
	maxTierName       = 100
	maxTierCapacity   = 10_000_000
	maxPriceAmount    = 100_000_000_00
	maxPerUserLimit   = 100
	defaultPerUser    = 10
	minHoldSeconds    = 5
	maxHoldSeconds    = 3600
	maxAdmitPerMinute = 1_000_000
	defaultAdmitRate  = 600
)

// checkText checks a line of text people read (a title, a name, a phone
// number): its length, valid UTF-8, and no control characters (NUL, escape
// sequences, line breaks), which have no place in a title and break the
// logs, metrics labels and pages that show it.
func checkText(v *ValidationError, field, s string, minLen, maxLen int) {
	checkLen(v, field, s, minLen, maxLen)
	if hasControl(s, false) {
		v.Add(field, "must not contain control characters")
	}
}

// checkMultiline is checkText for text that may run over lines (a
// description): tabs and line breaks are allowed.
func checkMultiline(v *ValidationError, field, s string, minLen, maxLen int) {
	checkLen(v, field, s, minLen, maxLen)
	if hasControl(s, true) {
		v.Add(field, "must not contain control characters other than tabs and line breaks")
	}
}

// hasControl reports whether s holds a control character (C0, DEL, C1), not
// counting tabs and line breaks when multiline.
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
			return true
		}
	}
	return false
}

// checkLen checks the length (in characters) and the encoding of s.
func checkLen(v *ValidationError, field, s string, minLen, maxLen int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n < minLen && minLen == 1:
		v.Add(field, "is required")
	case n < minLen:
		v.Add(field, "must be at least %d characters", minLen)
	case n > maxLen:
		v.Add(field, "must be at most %d characters", maxLen)
	}
}

// validateSignUp normalises and checks a sign-up.
func validateSignUp(in *SignUp) error {
	var v ValidationError
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		v.Add("email", "must be a valid email address")
	}
	checkPassword(&v, in.Password, in.Email, in.Name)
	checkText(&v, "name", in.Name, 1, 100)
	return v.Err()
}

// normaliseEvent fills defaults and checks every rule on an event, reporting
// all problems at once. It is used for creation and after a patch.
func normaliseEvent(e *Event) error {
	var v ValidationError
	e.Title = strings.TrimSpace(e.Title)
	e.Venue = strings.TrimSpace(e.Venue)
	checkText(&v, "title", e.Title, 1, maxTitle)
	checkText(&v, "venue", e.Venue, 1, maxVenue)
	checkMultiline(&v, "description", e.Description, 0, maxDescription)
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"starts_at", &e.StartsAt}, {"sales_start_at", &e.SalesStartAt}, {"sales_end_at", &e.SalesEndAt}} {
		switch {
		case f.t.IsZero():
			v.Add(f.name, "is required")
		case !storableTime(*f.t):
			v.Add(f.name, "must be in the years 1 to 9999")
		}
		*f.t = normTime(*f.t)
	}
	if e.EndsAt != nil {
		t := normTime(*e.EndsAt)
		e.EndsAt = &t
		if !storableTime(t) {
			v.Add("ends_at", "must be in the years 1 to 9999")
		}
		if !e.StartsAt.IsZero() && !t.After(e.StartsAt) {
			v.Add("ends_at", "must be after starts_at")
		}
	}
	if e.Refunds.Until != nil {
		t := normTime(*e.Refunds.Until)
		e.Refunds.Until = &t
		if !storableTime(t) {
			v.Add("refund_policy.until", "must be in the years 1 to 9999")
		}
	}
	if !e.SalesStartAt.IsZero() && !e.SalesEndAt.IsZero() && !e.SalesStartAt.Before(e.SalesEndAt) {
		v.Add("sales_end_at", "must be after sales_start_at")
	}
	// Sales end by the start: a ticket sold for an event under way could
	// no longer be cancelled and refunded (CancelStep), and the waiting
	// room would admit buyers to something that has begun.
	if !e.SalesEndAt.IsZero() && !e.StartsAt.IsZero() && e.SalesEndAt.After(e.StartsAt) {
		v.Add("sales_end_at", "must not be after starts_at")
	}
	switch {
	case e.MaxTicketsPerUser == 0:
		e.MaxTicketsPerUser = defaultPerUser
	case e.MaxTicketsPerUser < 0 || e.MaxTicketsPerUser > maxPerUserLimit:
		v.Add("max_tickets_per_user", "must be between 1 and %d", maxPerUserLimit)
	}
	switch {
	case e.HoldSeconds == 0:
		e.HoldSeconds = DefaultHoldSeconds
	case e.HoldSeconds < minHoldSeconds || e.HoldSeconds > maxHoldSeconds:
		v.Add("hold_seconds", "must be between %d and %d", minHoldSeconds, maxHoldSeconds)
	}
	if e.Queue.Enabled {
		switch {
		case e.Queue.AdmitPerMinute == 0:
			e.Queue.AdmitPerMinute = defaultAdmitRate
		case e.Queue.AdmitPerMinute < 0 || e.Queue.AdmitPerMinute > maxAdmitPerMinute:
			v.Add("queue.admit_per_minute", "must be between 1 and %d", maxAdmitPerMinute)
		}
	} else if e.Queue.AdmitPerMinute < 0 || e.Queue.AdmitPerMinute > maxAdmitPerMinute {
		v.Add("queue.admit_per_minute", "must be between 1 and %d", maxAdmitPerMinute)
	}
	switch {
	case len(e.Tiers) == 0:
		v.Add("tiers", "at least one tier is required")
	case len(e.Tiers) > maxTiers:
		v.Add("tiers", "at most %d tiers", maxTiers)
	}
	for i := range e.Tiers {
		t := &e.Tiers[i]
		p := "tiers[" + itoa(i) + "]."
		t.Name = strings.TrimSpace(t.Name)
		checkText(&v, p+"name", t.Name, 1, maxTierName)
		if t.Price.Amount < 0 || t.Price.Amount > maxPriceAmount {
			v.Add(p+"price.amount", "must be between 0 and %d", int64(maxPriceAmount))
		}
		if !validCurrency(t.Price.Currency) {
			v.Add(p+"price.currency", "must be a three-letter ISO 4217 code in capitals")
		}
		if t.Capacity < 1 || t.Capacity > maxTierCapacity {
			v.Add(p+"capacity", "must be between 1 and %d", maxTierCapacity)
		}
	}
	return v.Err()
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// normTime returns t in UTC at microsecond precision, the precision every
// store keeps.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
