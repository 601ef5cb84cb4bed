package boxoffice

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeviceTokens(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := newDeviceSigner([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	u := &User{ID: NewID(), TokenVersion: 3}
	tok := s.issue("", u, now)
	d, ok := s.parse(tok, now)
	if !ok {
		t.Fatalf("a fresh token %q does not parse", tok)
	}
	want := device{ID: d.ID, UserID: u.ID, TokenVersion: 3, Expires: now.Add(time.Hour)}
	if diff := cmp.Diff(want, d); diff != "" || len(d.ID) != deviceIDLen {
		t.Fatalf("parsed (-want +got):\n%s", diff)
	}
	// A token issued again for the device keeps its ID.
	if d2, ok := s.parse(s.issue(d.ID, u, now.Add(time.Minute)), now); !ok || d2.ID != d.ID || !d2.Expires.Equal(now.Add(61*time.Minute)) {
		t.Fatalf("reissued: %+v, %v", d2, ok)
	}
	if tok2 := s.issue("", u, now); tok2 == tok {
		t.Fatal("two new devices got the same token")
	}

	payload := tok[:strings.LastIndexByte(tok, '.')]
	other := newDeviceSigner([]byte("another key, another key, another"), time.Hour)
	for _, tc := range []struct {
		name string
		tok  string
		at   time.Time
	}{
		{"empty", "", now},
		{"expired", tok, now.Add(time.Hour)},
		{"another key", other.issue("", u, now), now},
		{"another user", strings.Replace(tok, u.ID, NewID(), 1), now},
		{"another version", strings.Replace(tok, ".3.", ".4.", 1), now},
		{"signature cut", tok[:len(tok)-1], now},
		{"signature flipped", tok[:len(tok)-1] + string(tok[len(tok)-1]^1), now},
		{"no signature", payload, now},
		{"long", tok + strings.Repeat("A", maxDeviceToken), now},
		{"an access token", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0", now},
	} {
		if d, ok := s.parse(tc.tok, tc.at); ok {
			t.Errorf("%s: parsed as %+v", tc.name, d)
		}
	}
	// Signed tokens of the wrong shape are refused too.
	for _, payload := range []string{
		"d2." + u.ID + ".3.9999999999." + d.ID,
		"d1.not-an-id.3.9999999999." + d.ID,
		"d1." + u.ID + ".x.9999999999." + d.ID,
		"d1." + u.ID + ".3.9999999999.short",
		"d1." + u.ID + ".3.9999999999." + d.ID + ".extra",
	} {
		signed := payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
		if d, ok := s.parse(signed, now); ok {
			t.Errorf("%q: parsed as %+v", payload, d)
		}
	}
}

func TestDeviceValidFor(t *testing.T) {
	id := NewID()
	d := device{ID: newDeviceID(), UserID: id, TokenVersion: 2}
	for _, tc := range []struct {
		name string
		u    *User
		want bool
	}{
		{"its user", &User{ID: id, TokenVersion: 2}, true},
		{"no user", nil, false},
		{"another user", &User{ID: NewID(), TokenVersion: 2}, false},
		{"signed out everywhere since", &User{ID: id, TokenVersion: 3}, false},
		{"disabled", &User{ID: id, TokenVersion: 2, Disabled: true}, false},
	} {
		if got := d.validFor(tc.u); got != tc.want {
			t.Errorf("%s: validFor = %v, want %v", tc.name, got, tc.want)
		}
	}
}
