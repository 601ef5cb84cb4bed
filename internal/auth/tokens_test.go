package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"boxoffice"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newTestTokens returns Tokens whose clock reads *now.
func newTestTokens(now *time.Time) *Tokens {
	tk := NewTokens(testSecret, 15*time.Minute)
	tk.now = func() time.Time { return *now }
	return tk
}

func TestTokensRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tk := newTestTokens(&now)
	for _, role := range []boxoffice.Role{boxoffice.RoleUser, boxoffice.RoleAdmin} {
		t.Run(string(role), func(t *testing.T) {
			u := &boxoffice.User{ID: boxoffice.NewID(), Role: role}
			token, expiresIn, err := tk.Issue(u)
			if err != nil {
				t.Fatal(err)
			}
			if expiresIn != 15*time.Minute {
				t.Errorf("expiresIn = %v, want 15m", expiresIn)
			}
			got, err := tk.Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if want := (boxoffice.Caller{UserID: u.ID, Role: role}); got != want {
				t.Errorf("Verify = %+v, want %+v", got, want)
			}
		})
	}
}

func TestTokensClaims(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tk := newTestTokens(&now)
	token, _, err := tk.Issue(&boxoffice.User{ID: "U1", Role: boxoffice.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	got := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, got); err != nil {
		t.Fatal(err)
	}
	want := jwt.MapClaims{
		"sub":  "U1",
		"role": "admin",
		"iss":  "boxoffice",
		"iat":  float64(now.Unix()),
		"exp":  float64(now.Add(15 * time.Minute).Unix()),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}
}

func TestTokensExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tk := newTestTokens(&now)
	token, _, err := tk.Issue(&boxoffice.User{ID: "U1", Role: boxoffice.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(15*time.Minute - time.Second)
	if _, err := tk.Verify(token); err != nil {
		t.Fatalf("Verify just before expiry: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := tk.Verify(token); !errors.Is(err, boxoffice.ErrTokenExpired) {
		t.Fatalf("Verify after expiry = %v, want ErrTokenExpired", err)
	}
	// An expired token that was tampered with is not genuine, so it is
	// not reported as expired.
	if _, err := tk.Verify(tamperSignature(token)); !errors.Is(err, boxoffice.ErrUnauthenticated) {
		t.Fatalf("Verify tampered expired token = %v, want ErrUnauthenticated", err)
	}
}

func TestTokensReject(t *testing.T) {
	now := time.Now()
	tk := newTestTokens(&now)
	good, _, err := tk.Issue(&boxoffice.User{ID: "U1", Role: boxoffice.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	valid := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   "U1",
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}
	sign := func(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(f func(*claims)) claims {
		c := claims{Role: boxoffice.RoleUser, RegisteredClaims: valid}
		f(&c)
		return c
	}
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token func(t *testing.T) string
	}{
		{"empty", func(*testing.T) string { return "" }},
		{"garbage", func(*testing.T) string { return "not.a.token" }},
		{"two segments", func(*testing.T) string { return parts[0] + "." + parts[1] }},
		{"tampered signature", func(*testing.T) string { return tamperSignature(good) }},
		{"tampered payload", func(*testing.T) string {
			payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"U2","role":"admin","iss":"boxoffice","exp":9999999999}`))
			return parts[0] + "." + payload + "." + parts[2]
		}},
		{"wrong secret", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long!!!"), with(func(*claims) {}))
		}},
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, with(func(*claims) {}))
		}},
		{"alg none, empty signature", func(*testing.T) string {
			header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return header + "." + parts[1] + "."
		}},
		{"HS512 with the right secret", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS512, testSecret, with(func(*claims) {}))
		}},
		{"HS384 with the right secret", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS384, testSecret, with(func(*claims) {}))
		}},
		{"missing sub", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) { c.Subject = "" }))
		}},
		{"missing role", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) { c.Role = "" }))
		}},
		{"unknown role", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) { c.Role = "root" }))
		}},
		{"wrong issuer", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) { c.Issuer = "someone" }))
		}},
		{"missing exp", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) { c.ExpiresAt = nil }))
		}},
		{"not yet valid", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, with(func(c *claims) {
				c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))
			}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tk.Verify(tt.token(t))
			if !errors.Is(err, boxoffice.ErrUnauthenticated) {
				t.Errorf("Verify = %v, %v; want ErrUnauthenticated", got, err)
			}
			if got != (boxoffice.Caller{}) {
				t.Errorf("Verify returned caller %v with an error", got)
			}
		})
	}
}

func TestRandomSecret(t *testing.T) {
	a, b := RandomSecret(), RandomSecret()
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("lengths %d, %d, want 32", len(a), len(b))
	}
	if string(a) == string(b) {
		t.Error("two random secrets are equal")
	}
}

func BenchmarkVerify(b *testing.B) {
	tk := NewTokens(RandomSecret(), time.Hour)
	token, _, err := tk.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tk.Verify(token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// tamperSignature changes the first character of a token's signature (not
// the last, whose low bits base64 may ignore).
func tamperSignature(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	repl := byte('A')
	if token[i] == 'A' {
		repl = 'B'
	}
	return token[:i] + string(repl) + token[i+1:]
}

// Whatever parsePlainClaims accepts, encoding/json decodes the same way;
// what it refuses goes to encoding/json anyway.
func FuzzPlainClaims(f *testing.F) {
	for _, s := range []string{
		`{"role":"user","iss":"boxoffice","sub":"01ABC","exp":1893456000,"iat":1700000000}`,
		`{"role":"admin","iss":"boxoffice","sub":"x","exp":1.5e9,"nbf":-0.5}`,
		`{"evt":"E1","iss":"boxoffice","sub":"U1","aud":["boxoffice-admission"],"exp":1893456000}`,
		`{"aud":"boxoffice-admission"}`, `{"aud":[]}`, `{"aud":[ "a" , "b" ]}`, `{"aud":["a",]}`, `{"aud":[1]}`,
		`{"aud":null}`, `{"aud":"a","aud":null}`, `{"aud":["a"],"aud":"b"}`, `{"x":["a"]}`, `{"AUD":"a"}`, `{"Evt":"a"}`,
		` { "sub" : "a" , "exp" : 0 , "extra" : true , "n" : null , "f" : false } `,
		`{}`, `{"SUB":"a"}`, `{"sub":"a\"b"}`, `{"exp":01}`, `{"exp":1.}`, `{"exp":"1"}`,
		`{"a":{"b":1}}`, `{"a":[1]}`, `{"sub":"ü"}`, `{"sub":"a",}`, `{"sub":"a"}x`, `{"exp":1e999}`,
		`{"ver":3}`, `{"ver":"3"}`, `{"ver":[3]}`, `{"ver":null}`, `{"ver":true}`, `{"VER":1}`, `{"ver":1.5e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parsePlainClaims(b)
		if !ok {
			return
		}
		var want tokenClaims
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("plain parse accepted %q, encoding/json refuses it: %v", b, err)
		}
		same := func(x, y *float64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
		if got.Sub != want.Sub || got.Role != want.Role || got.Iss != want.Iss || got.Evt != want.Evt ||
			!slices.Equal(got.Aud, want.Aud) || (got.Aud == nil) != (want.Aud == nil) ||
			!same(got.Exp, want.Exp) || !same(got.Nbf, want.Nbf) || got.Ver != want.Ver {
			t.Fatalf("%q: plain %+v, encoding/json %+v", b, got, want)
		}
	})
}

// The tokens both kinds issue have the header verify requires, and their
// payloads take the plain path.
func TestIssuedClaimsArePlain(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	access, _, err := NewTokens(secret, time.Hour).Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	admission, err := NewAdmissionTokens(AdmissionSecret(secret)).Issue("U1", "E1", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		ok          func(tokenClaims) bool
	}{
		{"access", access, func(c tokenClaims) bool { return c.Role == "user" && c.Aud == nil }},
		{"admission", admission, func(c tokenClaims) bool { return c.Evt == "E1" && c.Aud.is(admissionAudience) }},
	} {
		parts := strings.Split(tc.token, ".")
		if parts[0] != hs256Header {
			t.Errorf("%s: header %s, verify requires %s", tc.name, parts[0], hs256Header)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := parsePlainClaims(payload); !ok || c.Exp == nil || c.Iss != Issuer || !tc.ok(c) {
			t.Errorf("%s: issued payload %s: plain %v %+v", tc.name, payload, ok, c)
		}
	}
}

// TestTokensEmailVerified: the claim travels from the user to the caller,
// and a payload that spells it in another JSON type is refused like
// encoding/json refuses it.
func TestTokensEmailVerified(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tk := newTestTokens(&now)
	for _, verified := range []bool{false, true} {
		u := &boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser, EmailVerified: verified}
		token, _, err := tk.Issue(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tk.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		if got.EmailVerified != verified {
			t.Errorf("EmailVerified = %v, want %v", got.EmailVerified, verified)
		}
	}
	for _, payload := range []string{
		`{"sub":"x","iss":"boxoffice","exp":9999999999,"role":"user","email_verified":true}`,
		`{"sub":"x","iss":"boxoffice","exp":9999999999,"role":"user","email_verified":null}`,
		`{"sub":"x","iss":"boxoffice","exp":9999999999,"role":"user","email_verified":"true"}`,
		`{"sub":"x","iss":"boxoffice","exp":9999999999,"role":"user","email_verified":1}`,
		`{"sub":"x","iss":"boxoffice","exp":9999999999,"role":"user","Email_Verified":true}`,
	} {
		c, plain := parsePlainClaims([]byte(payload))
		var want tokenClaims
		jsonErr := json.Unmarshal([]byte(payload), &want)
		if plain && (jsonErr != nil || c.EmailVerified != want.EmailVerified) {
			t.Errorf("%s: plain parse %+v, encoding/json %+v (%v)", payload, c, want, jsonErr)
		}
	}
}

// TestTokensVersion: the user's token version travels to the caller, a
// token of version 0 carries no ver claim (so tokens minted before there
// were versions, and by the load tools, stay as they were), and a version
// that is not a whole, non-negative number is refused.
func TestTokensVersion(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tk := newTestTokens(&now)
	for _, ver := range []int64{0, 1, 42} {
		token, _, err := tk.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser, TokenVersion: ver})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(payload), `"ver"`); has != (ver != 0) {
			t.Errorf("version %d: payload %s", ver, payload)
		}
		got, err := tk.Verify(token)
		if err != nil || got.TokenVersion != ver {
			t.Errorf("version %d: Verify = %+v, %v", ver, got, err)
		}
	}
	for _, ver := range []string{"1.5", "-1", `"1"`, "1e30"} {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"role":"user","iss":"boxoffice","sub":"U1","exp":1893456000,"ver":` + ver + `}`))
		unsigned := hs256Header + "." + payload
		mac := hmac.New(sha256.New, testSecret)
		mac.Write([]byte(unsigned))
		token := unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		if got, err := tk.Verify(token); !errors.Is(err, boxoffice.ErrUnauthenticated) {
			t.Errorf("ver %s: Verify = %+v, %v; want ErrUnauthenticated", ver, got, err)
		}
	}
}
