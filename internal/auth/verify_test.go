package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
)

// signMap signs claims with method and key (jwt.UnsafeAllowNoneSignatureType
// for none).
func signMap(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signWithHeader returns a token of the header (JSON) and the encoded
// payload, signed with HMAC-SHA256 of key.
func signWithHeader(header, payload string, key []byte) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + payload
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// An access token is never an admission token nor the other way round,
// even when both kinds share a key: the audience tells them apart (and in
// service they do not share one, see AdmissionSecret).
func TestTokenKindSeparation(t *testing.T) {
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	for name, admissionKey := range map[string][]byte{"derived key": AdmissionSecret(testSecret), "same key": testSecret} {
		t.Run(name, func(t *testing.T) {
			tk := newTestTokens(&now)
			adm := NewAdmissionTokens(admissionKey)
			adm.now = func() time.Time { return now }
			user, event := boxoffice.NewID(), boxoffice.NewID()

			access, _, err := tk.Issue(&boxoffice.User{ID: user, Role: boxoffice.RoleUser})
			if err != nil {
				t.Fatal(err)
			}
			admission, err := adm.Issue(user, event, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tk.Verify(access); err != nil {
				t.Fatalf("access token as access token: %v", err)
			}
			if !adm.Verify(admission, user, event) {
				t.Fatal("admission token as admission token: refused")
			}
			if adm.Verify(access, user, event) {
				t.Error("access token accepted as an admission token")
			}
			if c, err := tk.Verify(admission); !errors.Is(err, boxoffice.ErrUnauthenticated) {
				t.Errorf("admission token as access token = %v, %v; want ErrUnauthenticated", c, err)
			}
			// An expired admission token is not an expired access token.
			old, _ := adm.Issue(user, event, now.Add(-time.Minute))
			if _, err := tk.Verify(old); !errors.Is(err, boxoffice.ErrUnauthenticated) {
				t.Errorf("expired admission token as access token = %v, want ErrUnauthenticated", err)
			}

			// Signed with the right key but carrying the other kind's
			// audience, or lacking its own.
			claims := func(aud any) jwt.MapClaims {
				c := jwt.MapClaims{"iss": Issuer, "sub": user, "role": "user", "evt": event, "exp": now.Add(time.Minute).Unix()}
				if aud != nil {
					c["aud"] = aud
				}
				return c
			}
			for _, aud := range []any{admissionAudience, []string{admissionAudience}, "boxoffice", []string{}} {
				tok := signMap(t, jwt.SigningMethodHS256, testSecret, claims(aud))
				_, err := tk.Verify(tok)
				if s, ok := aud.([]string); ok && len(s) == 0 {
					if err != nil { // an empty audience is no audience
						t.Errorf("access token with aud []: %v", err)
					}
					continue
				}
				if !errors.Is(err, boxoffice.ErrUnauthenticated) {
					t.Errorf("access token with aud %v = %v, want ErrUnauthenticated", aud, err)
				}
			}
			for _, aud := range []any{nil, "boxoffice", []string{}, []string{admissionAudience, "boxoffice"}} {
				if adm.Verify(signMap(t, jwt.SigningMethodHS256, admissionKey, claims(aud)), user, event) {
					t.Errorf("admission token with aud %v accepted", aud)
				}
			}
			if !adm.Verify(signMap(t, jwt.SigningMethodHS256, admissionKey, claims(admissionAudience)), user, event) {
				t.Error("admission token with aud as a string refused")
			}
		})
	}
}

func TestAdmissionTokensReject(t *testing.T) {
	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	key := AdmissionSecret(testSecret)
	adm := NewAdmissionTokens(key)
	adm.now = func() time.Time { return now }
	user, event := "U1", "E1"
	with := func(f func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": Issuer, "sub": user, "evt": event, "aud": []string{admissionAudience}, "exp": now.Add(time.Minute).Unix()}
		f(c)
		return c
	}
	valid := signMap(t, jwt.SigningMethodHS256, key, with(func(jwt.MapClaims) {}))
	if !adm.Verify(valid, user, event) {
		t.Fatal("the valid token is refused")
	}
	parts := strings.Split(valid, ".")
	if !adm.Verify(signWithHeader(`{"alg":"HS256","typ":"JWT"}`, parts[1], key), user, event) {
		t.Fatal("signWithHeader with the usual header makes a token that is refused")
	}
	for name, token := range map[string]string{
		"alg none":           signMap(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, with(func(jwt.MapClaims) {})),
		"alg none, no sig":   strings.TrimSuffix(signMap(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, with(func(jwt.MapClaims) {})), "."),
		"HS384, right key":   signMap(t, jwt.SigningMethodHS384, key, with(func(jwt.MapClaims) {})),
		"HS512, right key":   signMap(t, jwt.SigningMethodHS512, key, with(func(jwt.MapClaims) {})),
		"other header order": signWithHeader(`{"typ":"JWT","alg":"HS256"}`, parts[1], key),
		"header with a kid":  signWithHeader(`{"alg":"HS256","kid":"1","typ":"JWT"}`, parts[1], key),
		"tampered signature": tamperSignature(valid),
		"signature padded":   valid + "=",
		"wrong issuer":       signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["iss"] = "someone" })),
		"no issuer":          signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "iss") })),
		"no expiry":          signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"expiry a string":    signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["exp"] = "9999999999" })),
		"expired":            signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["exp"] = now.Unix() })),
		"not yet valid":      signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Second).Unix() })),
		"no event":           signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "evt") })),
		"no subject":         signMap(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "sub") })),
		"payload not JSON":   parts[0] + ".bm90IGpzb24." + parts[2],
	} {
		if adm.Verify(token, user, event) {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzVerifyAgainstLibrary holds verify to golang-jwt/jwt/v5's parser
// (libraryVerifier): for tokens the library signs, of either kind, with any
// algorithm, key and claims, both accept the same ones with the same
// result, and tell expired from otherwise invalid alike.
func FuzzVerifyAgainstLibrary(f *testing.F) {
	// kind: 0 access, 1 admission. alg: 0 HS256, 1 HS384, 2 HS512, 3 none.
	// key: 0 the kind's, 1 the other kind's, 2 unrelated. audMode: 0 none,
	// 1 string, 2 one-element array. exp and nbf are seconds from now,
	// absent when has* is false.
	f.Add(uint8(0), uint8(0), uint8(0), "U1", "user", "", Issuer, uint8(0), "", true, int32(60), false, int32(0), "U1", "")
	f.Add(uint8(0), uint8(0), uint8(0), "U1", "admin", "", Issuer, uint8(0), "", true, int32(0), false, int32(0), "U1", "")
	f.Add(uint8(0), uint8(0), uint8(0), "U1", "root", "", Issuer, uint8(0), "", true, int32(60), true, int32(1), "U1", "")
	f.Add(uint8(0), uint8(0), uint8(0), "", "user", "", "other", uint8(0), "", true, int32(-5), true, int32(-9), "", "")
	f.Add(uint8(0), uint8(0), uint8(1), "U1", "user", "E1", Issuer, uint8(2), admissionAudience, true, int32(60), false, int32(0), "U1", "E1")
	f.Add(uint8(0), uint8(0), uint8(0), "U1", "user", "E1", Issuer, uint8(1), admissionAudience, true, int32(-1), false, int32(0), "U1", "E1")
	f.Add(uint8(0), uint8(3), uint8(0), "U1", "user", "", Issuer, uint8(0), "", true, int32(60), false, int32(0), "U1", "")
	f.Add(uint8(0), uint8(2), uint8(0), "U1", "user", "", Issuer, uint8(0), "", false, int32(60), false, int32(0), "U1", "")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "", "E1", Issuer, uint8(2), admissionAudience, true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "", "E1", Issuer, uint8(1), admissionAudience, true, int32(600), true, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "", "E1", Issuer, uint8(2), admissionAudience, true, int32(600), false, int32(0), "U1", "E2")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "", "E1", Issuer, uint8(2), "boxoffice", true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "user", "E1", Issuer, uint8(0), "", true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(1), "U1", "user", "E1", Issuer, uint8(2), admissionAudience, true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(1), uint8(0), "U1", "", "E1", Issuer, uint8(2), admissionAudience, true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(2), "U1", "", "E1", Issuer, uint8(2), admissionAudience, true, int32(600), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(0), "U1", "", "E1", Issuer, uint8(2), admissionAudience, true, int32(0), false, int32(0), "U1", "E1")
	f.Add(uint8(1), uint8(0), uint8(0), "U\"1", "", "E\u00e91", Issuer, uint8(2), admissionAudience, true, int32(9), false, int32(0), "U\"1", "E\u00e91")

	now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	accessKey, admissionKey := testSecret, AdmissionSecret(testSecret)
	tk := NewTokens(accessKey, time.Hour)
	tk.now = clock
	adm := NewAdmissionTokens(admissionKey)
	adm.now = clock
	libAccess := newLibraryVerifier(accessKey, "", clock)
	libAdmission := newLibraryVerifier(admissionKey, admissionAudience, clock)

	f.Fuzz(func(t *testing.T, kind, alg, key uint8, sub, role, evt, iss string, audMode uint8, aud string,
		hasExp bool, exp int32, hasNbf bool, nbf int32, user, event string) {
		c := jwt.MapClaims{}
		for k, v := range map[string]string{"sub": sub, "role": role, "evt": evt, "iss": iss} {
			if v != "" {
				c[k] = v
			}
		}
		switch audMode % 3 {
		case 1:
			c["aud"] = aud
		case 2:
			c["aud"] = []string{aud}
		}
		if hasExp {
			c["exp"] = now.Unix() + int64(exp)
		}
		if hasNbf {
			c["nbf"] = now.Unix() + int64(nbf)
		}
		own, other := accessKey, admissionKey
		if kind%2 == 1 {
			own, other = other, own
		}
		signKey := [][]byte{own, other, []byte("unrelated unrelated unrelated !!")}[key%3]
		var token string
		var err error
		switch alg % 4 {
		case 0:
			token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(signKey)
		case 1:
			token, err = jwt.NewWithClaims(jwt.SigningMethodHS384, c).SignedString(signKey)
		case 2:
			token, err = jwt.NewWithClaims(jwt.SigningMethodHS512, c).SignedString(signKey)
		default:
			token, err = jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		}
		if err != nil {
			t.Skip(err)
		}
		if kind%2 == 0 {
			got, gotErr := tk.Verify(token)
			want, wantErr := libAccess.access(token)
			if got != want || errors.Is(gotErr, boxoffice.ErrTokenExpired) != errors.Is(wantErr, boxoffice.ErrTokenExpired) ||
				(gotErr == nil) != (wantErr == nil) {
				t.Fatalf("access token %s %v:\nverify  %+v, %v\nlibrary %+v, %v", token, c, got, gotErr, want, wantErr)
			}
			return
		}
		if got, want := adm.Verify(token, user, event), libAdmission.admission(token, user, event); got != want {
			t.Fatalf("admission token %s %v for %q, %q: verify %v, library %v", token, c, user, event, got, want)
		}
	})
}
