package auth

import (
	"bytes"
	"testing"
	"time"

	"boxoffice"
)

func TestAdmissionTokens(t *testing.T) {
	secret := AdmissionSecret([]byte("0123456789abcdef0123456789abcdef"))
	if bytes.Equal(secret, []byte("0123456789abcdef0123456789abcdef")) || !bytes.Equal(secret, AdmissionSecret([]byte("0123456789abcdef0123456789abcdef"))) {
		t.Fatal("AdmissionSecret is not a fixed derivation of the secret")
	}
	a := NewAdmissionTokens(secret)
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	user, event := boxoffice.NewID(), boxoffice.NewID()
	until := now.Add(10 * time.Minute)
	tok, err := a.Issue(user, event, until)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.Issue(user, event, until); again != tok {
		t.Error("Issue is not deterministic")
	}
	if !a.Verify(tok, user, event) {
		t.Fatal("a fresh token does not verify")
	}
	other := NewAdmissionTokens(AdmissionSecret([]byte("another secret, another secret!!")))
	forged, _ := other.Issue(user, event, until)
	access := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	accessTok, _, _ := access.Issue(&boxoffice.User{ID: user, Role: boxoffice.RoleUser})
	sameKeyAccess := NewTokens(secret, time.Hour)
	sameKeyTok, _, _ := sameKeyAccess.Issue(&boxoffice.User{ID: user, Role: boxoffice.RoleUser})
	for name, tc := range map[string]struct{ token, user, event string }{
		"other user":             {tok, boxoffice.NewID(), event},
		"other event":            {tok, user, boxoffice.NewID()},
		"forged":                 {forged, user, event},
		"tampered":               {tok[:len(tok)-3] + "abc", user, event},
		"empty":                  {"", user, event},
		"garbage":                {"a.b.c", user, event},
		"access token":           {accessTok, user, event},
		"access token, same key": {sameKeyTok, user, event},
		"empty user and event":   {tok, "", ""},
		"oversized":              {string(make([]byte, 4096)), user, event},
	} {
		if a.Verify(tc.token, tc.user, tc.event) {
			t.Errorf("%s: verified", name)
		}
	}
	now = until
	if a.Verify(tok, user, event) {
		t.Error("an expired token verified")
	}
}
