package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
	"boxoffice/internal/plainjson"
)

// Issuer is the iss claim of every access token.
const Issuer = "boxoffice"

// Tokens issues and verifies HS256 JWT access tokens carrying a user's id
// (sub) and role. It is safe for concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	// now is the clock; tests replace it.
	now     func() time.Time
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	macs    sync.Pool // of HMAC-SHA256 hashes keyed with secret
}

// claims is the payload of an access token.
type claims struct {
	Role boxoffice.Role `json:"role"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens that sign with secret (which should hold at least
// 32 random bytes) and issue tokens valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	t := &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, now: time.Now}
	t.macs.New = func() any { return hmac.New(sha256.New, t.secret) }
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	t.keyFunc = func(*jwt.Token) (any, error) { return t.secret, nil }
	return t
}

// Issue returns a signed access token for u and how long it stays valid.
func (t *Tokens) Issue(u *boxoffice.User) (token string, expiresIn time.Duration, err error) {
	now := t.now()
	c := claims{
		Role: u.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, t.ttl, nil
}

// Verify checks token and returns the caller it authenticates. It returns
// boxoffice.ErrTokenExpired for a genuine token past its expiry, and
// boxoffice.ErrUnauthenticated for anything else: malformed, tampered,
// signed with another key or algorithm, issued by someone else, or without
// a subject or a known role.
func (t *Tokens) Verify(token string) (boxoffice.Caller, error) {
	if c, ok, err := t.verifyFast(token); ok {
		return c, err
	}
	var c claims
	// The parser checks the signature before any claim, so an expired
	// token is reported as such only when it is genuine.
	if _, err := t.parser.ParseWithClaims(token, &c, t.keyFunc); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return boxoffice.Caller{}, boxoffice.ErrTokenExpired
		}
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	if c.Subject == "" || (c.Role != boxoffice.RoleUser && c.Role != boxoffice.RoleAdmin) {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	return boxoffice.Caller{UserID: c.Subject, Role: c.Role}, nil
}

// hs256Header is the encoded header of every token Issue makes.
var hs256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// fastClaims is what verifyFast reads from a payload.
type fastClaims struct {
	Sub  string         `json:"sub"`
	Role boxoffice.Role `json:"role"`
	Iss  string         `json:"iss"`
	Exp  *float64       `json:"exp"`
	Nbf  *float64       `json:"nbf"`
}

// verifyFast checks a token with exactly the header Issue writes without
// the general JWT parser (every request carries a token, so this is on the
// hot path). It reports ok = false for any other header, leaving the
// decision to the full parser; it applies the same rules otherwise.
func (t *Tokens) verifyFast(token string) (c boxoffice.Caller, ok bool, err error) {
	header, rest, found := strings.Cut(token, ".")
	if !found || header != hs256Header {
		return c, false, nil
	}
	payload, sig, found := strings.Cut(rest, ".")
	var want [sha256.Size]byte
	if !found || base64.RawURLEncoding.DecodedLen(len(sig)) != len(want) {
		return c, true, boxoffice.ErrUnauthenticated
	}
	if n, err := base64.RawURLEncoding.Decode(want[:], []byte(sig)); err != nil || n != len(want) {
		return c, true, boxoffice.ErrUnauthenticated
	}
	mac := t.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:len(header)+1+len(payload)]))
	var got [sha256.Size]byte
	mac.Sum(got[:0])
	t.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return c, true, boxoffice.ErrUnauthenticated
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, true, boxoffice.ErrUnauthenticated
	}
	fc, plain := parsePlainClaims(raw)
	if !plain {
		// Escapes, nesting or unusual keys: let encoding/json decide.
		fc = fastClaims{}
		if err := json.Unmarshal(raw, &fc); err != nil {
			return c, true, boxoffice.ErrUnauthenticated
		}
	}
	if fc.Iss != Issuer || fc.Exp == nil {
		return c, true, boxoffice.ErrUnauthenticated
	}
	now := float64(t.now().Unix())
	if fc.Nbf != nil && now < *fc.Nbf {
		return c, true, boxoffice.ErrUnauthenticated
	}
	if now >= *fc.Exp {
		return c, true, boxoffice.ErrTokenExpired
	}
	if fc.Sub == "" || (fc.Role != boxoffice.RoleUser && fc.Role != boxoffice.RoleAdmin) {
		return c, true, boxoffice.ErrUnauthenticated
	}
	return boxoffice.Caller{UserID: fc.Sub, Role: fc.Role}, true, nil
}

// RandomSecret returns 32 random bytes, a signing key for when none is
// configured. Tokens signed with it die with the process.
func RandomSecret() []byte {
	b := make([]byte, 32)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return b
}

// parsePlainClaims reads a payload the way Issue writes it: one flat JSON
// object whose values are strings without escapes, numbers, booleans or
// null. It reports false for anything else (and for keys that differ from
// a claim only in case, which encoding/json would match), so that such
// payloads take the general decoder. Every token carries one, so this
// saves the reflection of encoding/json on each request.
func parsePlainClaims(b []byte) (fc fastClaims, ok bool) {
	i := plainjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fc, false
	}
	i = plainjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return fc, plainjson.SkipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainjson.String(b, i)
		if !ok {
			return fc, false
		}
		i = plainjson.SkipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return fc, false
		}
		i = plainjson.SkipSpace(b, i+1)
		if i >= len(b) {
			return fc, false
		}
		var str string
		var num float64
		isStr, isNum := false, false
		switch c := b[i]; {
		case c == '"':
			if str, i, ok = plainjson.String(b, i); !ok {
				return fc, false
			}
			isStr = true
		case c == '-' || c >= '0' && c <= '9':
			j := plainjson.NumberEnd(b, i)
			if j < 0 {
				return fc, false
			}
			n, err := strconv.ParseFloat(string(b[i:j]), 64)
			if err != nil {
				return fc, false
			}
			num, isNum, i = n, true, j
		case bytes.HasPrefix(b[i:], []byte("true")), bytes.HasPrefix(b[i:], []byte("null")):
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			i += 5
		default:
			return fc, false // an object or array
		}
		switch key {
		case "sub", "role", "iss":
			if !isStr {
				return fc, false
			}
			switch key {
			case "sub":
				fc.Sub = str
			case "role":
				fc.Role = boxoffice.Role(str)
			default:
				fc.Iss = str
			}
		case "exp", "nbf":
			if !isNum {
				return fc, false
			}
			n := num
			if key == "exp" {
				fc.Exp = &n
			} else {
				fc.Nbf = &n
			}
		default:
			for _, k := range [...]string{"sub", "role", "iss", "exp", "nbf"} {
				if strings.EqualFold(key, k) {
					return fc, false
				}
			}
		}
		i = plainjson.SkipSpace(b, i)
		if i >= len(b) {
			return fc, false
		}
		switch b[i] {
		case ',':
			i = plainjson.SkipSpace(b, i+1)
		case '}':
			return fc, plainjson.SkipSpace(b, i+1) == len(b)
		default:
			return fc, false
		}
	}
}
