package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
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

	// verified remembers tokens that passed full verification, so the
	// same client's next requests cost a map lookup instead of a parse
	// and an HMAC. Bounded: it is emptied when it reaches maxVerified.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	caller  boxoffice.Caller
	expires time.Time
}

// maxVerified bounds the verified-token cache (about 200 bytes an entry).
const maxVerified = 100_000

// claims is the payload of an access token.
type claims struct {
	Role boxoffice.Role `json:"role"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens that sign with secret (which should hold at least
// 32 random bytes) and issue tokens valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	t := &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, now: time.Now, verified: make(map[string]verifiedToken)}
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
	t.mu.Lock()
	v, ok := t.verified[token]
	t.mu.Unlock()
	if ok {
		if !t.now().Before(v.expires) {
			return boxoffice.Caller{}, boxoffice.ErrTokenExpired
		}
		return v.caller, nil
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
	caller := boxoffice.Caller{UserID: c.Subject, Role: c.Role}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	t.verified[token] = verifiedToken{caller, c.ExpiresAt.Time}
	t.mu.Unlock()
	return caller, nil
}

// RandomSecret returns 32 random bytes, a signing key for when none is
// configured. Tokens signed with it die with the process.
func RandomSecret() []byte {
	b := make([]byte, 32)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return b
}
