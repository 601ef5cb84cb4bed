package auth

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
)

// libraryVerifier verifies tokens with golang-jwt/jwt/v5's parser, set up
// the way this package did before both kinds shared verifier.verify (HS256
// only, issuer, expiry required), with the kind's claims checked on top.
// The tests hold verify to it (FuzzVerifyAgainstLibrary) and
// BenchmarkTokensAB measures it against verify.
type libraryVerifier struct {
	secret   []byte
	audience string
	parser   *jwt.Parser
}

func newLibraryVerifier(secret []byte, audience string, now func() time.Time) *libraryVerifier {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	return &libraryVerifier{secret: secret, audience: audience, parser: jwt.NewParser(opts...)}
}

// libraryClaims holds the claims of both kinds.
type libraryClaims struct {
	Role  boxoffice.Role `json:"role"`
	Event string         `json:"evt"`
	Ver   float64        `json:"ver"`
	jwt.RegisteredClaims
}

// parse returns the token's claims and nil, ErrTokenExpired when the
// only fault the library finds is the expiry, or ErrUnauthenticated.
func (l *libraryVerifier) parse(token string) (libraryClaims, error) {
	var c libraryClaims
	_, err := l.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return l.secret, nil })
	if l.audience == "" && len(c.Audience) > 0 {
		// Access tokens carry no audience; the library has no option
		// for that.
		return c, boxoffice.ErrUnauthenticated
	}
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenInvalidIssuer) &&
		!errors.Is(err, jwt.ErrTokenInvalidAudience) && !errors.Is(err, jwt.ErrTokenNotValidYet):
		return c, boxoffice.ErrTokenExpired
	default:
		return c, boxoffice.ErrUnauthenticated
	}
}

// access is Tokens.Verify with the library.
func (l *libraryVerifier) access(token string) (boxoffice.Caller, error) {
	c, err := l.parse(token)
	if err != nil {
		return boxoffice.Caller{}, err
	}
	if c.Subject == "" || (c.Role != boxoffice.RoleUser && c.Role != boxoffice.RoleAdmin) ||
		c.Ver < 0 || c.Ver > 1<<53 || c.Ver != math.Trunc(c.Ver) {
		return boxoffice.Caller{}, boxoffice.ErrUnauthenticated
	}
	return boxoffice.Caller{UserID: c.Subject, Role: c.Role, TokenVersion: int64(c.Ver)}, nil
}

// admission is AdmissionTokens.Verify with the library.
func (l *libraryVerifier) admission(token, userID, eventID string) bool {
	if len(token) > maxTokenLen {
		return false
	}
	c, err := l.parse(token)
	return err == nil && c.Subject == userID && c.Event == eventID && userID != "" && eventID != ""
}

// BenchmarkTokensAB measures verifying each kind of token with this
// package's verifier (impl=handwritten) and with the jwt/v5 parser
// (impl=jwtv5), on one goroutine, so that ns/op is the CPU of one
// verification. Compare with benchstat -col /impl; bench/results/tokens-ab.md
// has the figures.
func BenchmarkTokensAB(b *testing.B) {
	secret := RandomSecret()
	tk := NewTokens(secret, time.Hour)
	access, _, err := tk.Issue(&boxoffice.User{ID: boxoffice.NewID(), Role: boxoffice.RoleUser})
	if err != nil {
		b.Fatal(err)
	}
	adm := NewAdmissionTokens(AdmissionSecret(secret))
	user, event := boxoffice.NewID(), boxoffice.NewID()
	admission, err := adm.Issue(user, event, time.Now().Add(10*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	libAccess := newLibraryVerifier(tk.secret, "", time.Now)
	libAdmission := newLibraryVerifier(adm.secret, admissionAudience, time.Now)
	b.Run("kind=access/impl=handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Verify(access); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kind=access/impl=jwtv5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := libAccess.access(access); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kind=admission/impl=handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !adm.Verify(admission, user, event) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("kind=admission/impl=jwtv5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !libAdmission.admission(admission, user, event) {
				b.Fatal("refused")
			}
		}
	})
}
