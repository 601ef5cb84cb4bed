package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/plainjson"
)

// The A/B benchmarks compare the two ways of verifying a token: the
// hand-written HS256 path (verifyFast for access tokens; for admission
// tokens, abAdmissionFast below, a prototype written the same way) and the
// golang-jwt/jwt/v5 parser. They run on one goroutine so that ns/op is CPU
// per verification. bench/results/tokens-ab.md records the figures.

// abAccessLibrary verifies an access token the way Verify's fallback does:
// the jwt/v5 parser, then the subject and role checks.
func abAccessLibrary(t *Tokens, token string) (boxoffice.Caller, error) {
	var c claims
	if _, err := t.parser.ParseWithClaims(token, &c, t.keyFunc); err != nil {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	if c.Subject == "" || (c.Role != boxoffice.RoleUser && c.Role != boxoffice.RoleAdmin) {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	return boxoffice.Caller{UserID: c.Subject, Role: c.Role}, nil
}

// abAdmissionFast is a hand-written admission verifier built like
// verifyFast: exact header, pooled HMAC, constant-time comparison, plain
// claims scan (with the one-element aud array jwt/v5 writes). It exists
// only to be measured.
type abAdmissionFast struct {
	secret []byte
	now    func() time.Time
	macs   sync.Pool
}

func newABAdmissionFast(secret []byte) *abAdmissionFast {
	a := &abAdmissionFast{secret: secret, now: time.Now}
	a.macs.New = func() any { return hmac.New(sha256.New, a.secret) }
	return a
}

func (a *abAdmissionFast) Verify(token, userID, eventID string) bool {
	if token == "" || len(token) > 2048 {
		return false
	}
	header, rest, found := strings.Cut(token, ".")
	if !found || header != hs256Header {
		return false
	}
	payload, sig, found := strings.Cut(rest, ".")
	var want [sha256.Size]byte
	if !found || base64.RawURLEncoding.DecodedLen(len(sig)) != len(want) {
		return false
	}
	if n, err := base64.RawURLEncoding.Decode(want[:], []byte(sig)); err != nil || n != len(want) {
		return false
	}
	mac := a.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:len(header)+1+len(payload)]))
	var got [sha256.Size]byte
	mac.Sum(got[:0])
	a.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return false
	}
	var iss, sub, evt, aud string
	var exp float64
	haveExp := false
	b := raw
	i := plainjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = plainjson.SkipSpace(b, i+1)
	for {
		key, j, ok := plainjson.String(b, i)
		if !ok {
			return false
		}
		i = plainjson.SkipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = plainjson.SkipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		switch {
		case b[i] == '"':
			var s string
			if s, i, ok = plainjson.String(b, i); !ok {
				return false
			}
			switch key {
			case "iss":
				iss = s
			case "sub":
				sub = s
			case "evt":
				evt = s
			case "aud":
				aud = s
			}
		case b[i] == '[' && key == "aud":
			if aud, i, ok = plainjson.String(b, plainjson.SkipSpace(b, i+1)); !ok {
				return false
			}
			if i = plainjson.SkipSpace(b, i); i >= len(b) || b[i] != ']' {
				return false
			}
			i++
		case b[i] == '-' || b[i] >= '0' && b[i] <= '9':
			j := plainjson.NumberEnd(b, i)
			if j < 0 {
				return false
			}
			n, err := strconv.ParseFloat(string(b[i:j]), 64)
			if err != nil {
				return false
			}
			if key == "exp" {
				exp, haveExp = n, true
			}
			i = j
		default:
			return false
		}
		i = plainjson.SkipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return false
		}
		i = plainjson.SkipSpace(b, i+1)
	}
	if iss != Issuer || aud != admissionAudience || !haveExp || float64(a.now().Unix()) >= exp {
		return false
	}
	return sub == userID && evt == eventID && userID != "" && eventID != ""
}

func BenchmarkTokensAB(b *testing.B) {
	secret := RandomSecret()
	tk := NewTokens(secret, time.Hour)
	access, _, err := tk.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
	if err != nil {
		b.Fatal(err)
	}
	adm := NewAdmissionTokens(AdmissionSecret(secret))
	admFast := newABAdmissionFast(AdmissionSecret(secret))
	user, event := boxoffice.NewID(), boxoffice.NewID()
	admission, err := adm.Issue(user, event, time.Now().Add(10*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("kind=access/impl=handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, ok, err := tk.verifyFast(access); !ok || err != nil || c.UserID == "" {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("kind=access/impl=jwtv5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := abAccessLibrary(tk, access); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kind=admission/impl=handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !admFast.Verify(admission, user, event) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("kind=admission/impl=jwtv5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !adm.Verify(admission, user, event) {
				b.Fatal("refused")
			}
		}
	})
}

// The prototype accepts what the library accepts on the tokens measured,
// and refuses the obvious forgeries, so it is measured doing the same work.
func TestABAdmissionFastAgrees(t *testing.T) {
	secret := AdmissionSecret(RandomSecret())
	lib, fast := NewAdmissionTokens(secret), newABAdmissionFast(secret)
	user, event := boxoffice.NewID(), boxoffice.NewID()
	tok, err := lib.Issue(user, event, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := lib.Issue(user, event, time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		token, user, event string
	}{
		{tok, user, event}, {tok, "x", event}, {tok, user, "x"}, {tamperSignature(tok), user, event}, {expired, user, event},
	} {
		if got, want := fast.Verify(tc.token, tc.user, tc.event), lib.Verify(tc.token, tc.user, tc.event); got != want {
			t.Errorf("%+v: prototype %v, library %v", tc, got, want)
		}
	}
}
