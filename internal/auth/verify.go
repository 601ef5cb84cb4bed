package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"boxoffice"
	"boxoffice/internal/plainjson"
)

// Both kinds of token, access and admission, are HS256 JWTs checked by
// verifier.verify, the one verification path of this package; each kind
// checks its own claims on top (Tokens.Verify, AdmissionTokens.Verify).
// It is hand-written rather than golang-jwt/jwt/v5's parser because every
// hold request verifies an access token, and an admission token on
// queue-enabled events: the library costs several microseconds more a
// token (bench/results/tokens-ab.md). The library still signs tokens, and
// the tests check this path against its parser.

// maxTokenLen bounds the tokens verify looks at (ours are about 200
// bytes).
const maxTokenLen = 2048

// hs256Header is the encoded header of every token this package issues
// (the one golang-jwt/jwt/v5 writes for HS256). verify accepts no other:
// this pins the algorithm (no "none", no other HMAC, no public-key
// algorithm to confuse with the secret).
var hs256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// strictBase64 decodes signatures: the unused low bits of the last
// character must be zero, so each signature has one spelling.
var strictBase64 = base64.RawURLEncoding.Strict()

// verifier checks the tokens of one kind: those signed with its key and
// carrying its audience.
type verifier struct {
	secret []byte
	// audience is the aud a token of this kind carries, the only one; ""
	// for a kind whose tokens carry none (access tokens).
	audience string
	macs     sync.Pool // of HMAC-SHA256 hashes keyed with secret
}

// init sets v up to verify tokens signed with secret (which v keeps: the
// caller must not change it) carrying audience.
func (v *verifier) init(secret []byte, audience string) {
	v.secret = secret
	v.audience = audience
	v.macs.New = func() any { return hmac.New(sha256.New, v.secret) }
}

// tokenClaims are the claims verify reads, of both kinds.
type tokenClaims struct {
	Sub string   `json:"sub"`
	Iss string   `json:"iss"`
	Aud audience `json:"aud"`
	Exp *float64 `json:"exp"`
	Nbf *float64 `json:"nbf"`
	// Role is an access token's.
	Role string `json:"role"`
	// Evt is an admission token's event.
	Evt string `json:"evt"`
	// EmailVerified is an access token's: the user's email was verified
	// when it was issued.
	EmailVerified bool `json:"email_verified"`
	// Ver is an access token's: the user's token version (0 when absent).
	Ver float64 `json:"ver"`
}

// verify checks what every token must satisfy and returns its claims: no
// longer than maxTokenLen, exactly the HS256 header, a signature by v's
// key (compared in constant time), then, from a payload that is one JSON
// object, issuer Issuer, exactly v's audience (none if v has none), an
// expiry, and now within nbf (when present) and exp. It returns
// boxoffice.ErrTokenExpired for a genuine token of this kind past its
// expiry and boxoffice.ErrUnauthenticated for anything else. The caller
// checks the claims of its kind.
func (v *verifier) verify(token string, now time.Time) (tokenClaims, error) {
	var c tokenClaims
	if len(token) > maxTokenLen {
		return c, boxoffice.ErrUnauthenticated
	}
	header, rest, found := strings.Cut(token, ".")
	if !found || header != hs256Header {
		return c, boxoffice.ErrUnauthenticated
	}
	payload, sig, found := strings.Cut(rest, ".")
	var want [sha256.Size]byte
	if !found || base64.RawURLEncoding.DecodedLen(len(sig)) != len(want) {
		return c, boxoffice.ErrUnauthenticated
	}
	if n, err := strictBase64.Decode(want[:], []byte(sig)); err != nil || n != len(want) {
		return c, boxoffice.ErrUnauthenticated
	}
	mac := v.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:len(header)+1+len(payload)]))
	var got [sha256.Size]byte
	mac.Sum(got[:0])
	v.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return c, boxoffice.ErrUnauthenticated
	}

	// The token is ours from here on; the payload is what we signed.
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, boxoffice.ErrUnauthenticated
	}
	c, plain := parsePlainClaims(raw)
	if !plain {
		// Escapes, nesting or unusual keys: let encoding/json decide.
		// (Into d, so that c stays off the heap on the plain path.)
		var d tokenClaims
		if err := json.Unmarshal(raw, &d); err != nil {
			return tokenClaims{}, boxoffice.ErrUnauthenticated
		}
		c = d
	}
	if c.Iss != Issuer || !c.Aud.is(v.audience) || c.Exp == nil {
		return tokenClaims{}, boxoffice.ErrUnauthenticated
	}
	t := float64(now.Unix())
	if c.Nbf != nil && t < *c.Nbf {
		return tokenClaims{}, boxoffice.ErrUnauthenticated
	}
	if t >= *c.Exp {
		return tokenClaims{}, boxoffice.ErrTokenExpired
	}
	return c, nil
}

// audience is the aud claim: one string or an array of them (jwt/v5
// writes a one-element array).
type audience []string

// is reports whether a is exactly want, or empty when want is "".
func (a audience) is(want string) bool {
	if want == "" {
		return len(a) == 0
	}
	return len(a) == 1 && a[0] == want
}

// UnmarshalJSON reads a string or an array of strings; null leaves a as
// it is, the way encoding/json treats null.
func (a *audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

// claimKeys are the keys parsePlainClaims reads.
var claimKeys = [...]string{"sub", "iss", "aud", "exp", "nbf", "role", "evt", "email_verified", "ver"}

// parsePlainClaims reads a payload the way this package's tokens are
// written: one flat JSON object whose values are strings without escapes,
// numbers, booleans, null, or (for aud only) an array of such strings. It
// reports false for anything else (and for keys that differ from a claim
// only in case, which encoding/json would match), so that such payloads
// take encoding/json, which decides them; for those it accepts, the result
// is encoding/json's (FuzzPlainClaims checks this). Every token carries
// one, so this saves the reflection of encoding/json on each request.
func parsePlainClaims(b []byte) (c tokenClaims, ok bool) {
	i := plainjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return c, false
	}
	i = plainjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return c, plainjson.SkipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainjson.String(b, i)
		if !ok {
			return c, false
		}
		i = plainjson.SkipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return c, false
		}
		i = plainjson.SkipSpace(b, i+1)
		if i >= len(b) {
			return c, false
		}
		var str string
		var num float64
		var arr audience
		var boolean bool
		isStr, isNum, isArr, isBool := false, false, false, false
		switch ch := b[i]; {
		case ch == '"':
			if str, i, ok = plainjson.String(b, i); !ok {
				return c, false
			}
			isStr = true
		case ch == '-' || ch >= '0' && ch <= '9':
			j := plainjson.NumberEnd(b, i)
			if j < 0 {
				return c, false
			}
			n, err := strconv.ParseFloat(string(b[i:j]), 64)
			if err != nil {
				return c, false
			}
			num, isNum, i = n, true, j
		case ch == '[' && key == "aud":
			if arr, i, ok = plainStrings(b, i); !ok {
				return c, false
			}
			isArr = true
		case bytes.HasPrefix(b[i:], []byte("true")):
			boolean, isBool, i = true, true, i+4
		case bytes.HasPrefix(b[i:], []byte("null")):
			i += 4
		case bytes.HasPrefix(b[i:], []byte("false")):
			isBool, i = true, i+5
		default:
			return c, false // an object, or an array but for aud
		}
		switch key {
		case "sub", "iss", "role", "evt":
			if !isStr {
				return c, false
			}
			switch key {
			case "sub":
				c.Sub = str
			case "iss":
				c.Iss = str
			case "role":
				c.Role = str
			default:
				c.Evt = str
			}
		case "aud":
			switch {
			case isStr:
				c.Aud = audience{str}
			case isArr:
				c.Aud = arr
			default:
				return c, false
			}
		case "email_verified":
			switch {
			case isBool:
				c.EmailVerified = boolean
			case isStr, isNum:
				return c, false // encoding/json refuses it
			}
		case "ver":
			switch {
			case isNum:
				c.Ver = num
			case isStr, isArr, isBool:
				return c, false // encoding/json refuses it
			}
		case "exp", "nbf":
			if !isNum {
				return c, false
			}
			n := num
			if key == "exp" {
				c.Exp = &n
			} else {
				c.Nbf = &n
			}
		default:
			for _, k := range claimKeys {
				if strings.EqualFold(key, k) {
					return c, false
				}
			}
		}
		i = plainjson.SkipSpace(b, i)
		if i >= len(b) {
			return c, false
		}
		switch b[i] {
		case ',':
			i = plainjson.SkipSpace(b, i+1)
		case '}':
			return c, plainjson.SkipSpace(b, i+1) == len(b)
		default:
			return c, false
		}
	}
}

// plainStrings reads an array of plain strings (see plainjson.String)
// starting at b[i] == '[' and returns it and the index after it.
func plainStrings(b []byte, i int) (audience, int, bool) {
	i = plainjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return audience{}, i + 1, true // not nil, as encoding/json has it
	}
	var a audience
	for {
		s, j, ok := plainjson.String(b, i)
		if !ok {
			return nil, i, false
		}
		a = append(a, s)
		i = plainjson.SkipSpace(b, j)
		if i >= len(b) {
			return nil, i, false
		}
		switch b[i] {
		case ',':
			i = plainjson.SkipSpace(b, i+1)
		case ']':
			return a, i + 1, true
		default:
			return nil, i, false
		}
	}
}
