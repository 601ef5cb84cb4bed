package auth

import (
	"crypto/rand"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
)

// Issuer is the iss claim of every token, access and admission.
const Issuer = "boxoffice"

// Tokens issues and verifies HS256 JWT access tokens carrying a user's id
// (sub), role, token version (ver, when not 0) and, when true,
// email_verified, and no audience. It is safe for concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	// now is the clock; tests replace it.
	now func() time.Time
	v   verifier // audience none
}

// claims is the payload of an access token.
type claims struct {
	Role boxoffice.Role `json:"role"`
	// EmailVerified is set when the user's email is verified.
	EmailVerified bool `json:"email_verified,omitempty"`
	// Version is the user's token version (left out when 0).
	Version int64 `json:"ver,omitempty"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens that sign with secret (which should hold at least
// 32 random bytes) and issue tokens valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	t := &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, now: time.Now}
	t.v.init(t.secret, "")
	return t
}

// Issue returns a signed access token for u and how long it stays valid.
func (t *Tokens) Issue(u *boxoffice.User) (token string, expiresIn time.Duration, err error) {
	now := t.now()
	c := claims{
		Role:          u.Role,
		EmailVerified: u.EmailVerified,
		Version:       u.TokenVersion,
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
// signed with another key or algorithm, issued by someone else, an
// admission token, or without a subject, a known role or a whole,
// non-negative version. Whether the token still stands for its user is
// the service's to say (boxoffice.Accounts.CurrentCaller).
func (t *Tokens) Verify(token string) (boxoffice.Caller, error) {
	c, err := t.v.verify(token, t.now())
	if err != nil {
		return boxoffice.Caller{}, err
	}
	role := boxoffice.Role(c.Role)
	if c.Sub == "" || (role != boxoffice.RoleUser && role != boxoffice.RoleAdmin) ||
		c.Ver < 0 || c.Ver > 1<<53 || c.Ver != math.Trunc(c.Ver) {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	return boxoffice.Caller{UserID: c.Sub, Role: role, EmailVerified: c.EmailVerified, TokenVersion: int64(c.Ver)}, nil
}

// RandomSecret returns 32 random bytes, a signing key for when none is
// configured. Tokens signed with it die with the process.
func RandomSecret() []byte {
	b := make([]byte, 32)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return b
}
