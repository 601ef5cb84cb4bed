package boxoffice

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math/big"
	"strings"
	"time"
)

// TokenPurpose says what a one-time UserToken proves.
type TokenPurpose string

// The purposes of one-time tokens.
const (
	// PurposeVerifyEmail proves that the user reads mail at their email.
	PurposeVerifyEmail TokenPurpose = "verify_email"
	// PurposeResetPassword lets the user set a new password without the
	// old one.
	PurposeResetPassword TokenPurpose = "reset_password"
)

// UserToken is a one-time secret mailed to a user, stored only hashed. A
// user has at most one token per purpose: a new one replaces the old.
// It proves its purpose once (UsedAt), before ExpiresAt, within
// MaxTokenAttempts wrong guesses.
type UserToken struct {
	UserID  string
	Purpose TokenPurpose
	// CodeHash is the hash of the short code a user types (email
	// verification only; nil otherwise).
	CodeHash []byte
	// SecretHash is the hash of the long secret the mailed link carries.
	SecretHash []byte
	Attempts   int
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

// IssuedToken is a new token and the mail that delivers it, written in one
// transaction.
type IssuedToken struct {
	Token *UserToken
	Mail  *OutboxMessage
}

// Redemption is what one try to redeem a token changes, as redeemStep and
// the purpose decide: the token's attempts and use, and the user's fields.
type Redemption struct {
	// Attempts is the token's count of tries after this one.
	Attempts int
	// Used marks the token used at UsedAt.
	Used   bool
	UsedAt time.Time
	// VerifyEmail marks the user's email verified.
	VerifyEmail bool
	// PasswordHash, when not nil, is the user's new password hash.
	PasswordHash []byte
	// EndSessions ends every token of the user (User.ChangeStanding at
	// UsedAt).
	EndSessions bool
}

// Rules of one-time tokens.
const (
	// MaxTokenAttempts is how many tries a token gets (right or wrong).
	MaxTokenAttempts = 5
	// VerifyEmailTTL is how long an email-verification code is valid.
	VerifyEmailTTL = 24 * time.Hour
	// ResetPasswordTTL is how long a password-reset link is valid.
	ResetPasswordTTL = time.Hour
	// TokenResendInterval is the least time between two mails of one
	// purpose to one user.
	TokenResendInterval = time.Minute
	// codeDigits is the length of an email-verification code.
	codeDigits = 6
)

// newSecret returns a random link secret of 256 bits in base64url.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newCode returns a random code of codeDigits decimal digits.
func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	s := n.String()
	return strings.Repeat("0", codeDigits-len(s)) + s
}

// linkToken is the token a mailed link carries: the user's ID and the
// secret, so that it names its token without a lookup by hash.
func linkToken(userID, secret string) string { return userID + "." + secret }

// parseLinkToken splits a link token; ok is false when it is malformed.
func parseLinkToken(tok string) (userID, secret string, ok bool) {
	userID, secret, ok = strings.Cut(tok, ".")
	if !ok || !ValidID(userID) || len(secret) != 43 {
		return "", "", false
	}
	return userID, secret, true
}

// tokenHash hashes a code or secret for storage, bound to its user and
// purpose so that a hash cannot be moved to another token.
func tokenHash(userID string, p TokenPurpose, value string) []byte {
	h := sha256.Sum256([]byte(string(p) + "\x00" + userID + "\x00" + value))
	return h[:]
}

// tokenMatches reports whether value hashes to want, in constant time. An
// empty want matches nothing.
func tokenMatches(want []byte, userID string, p TokenPurpose, value string) bool {
	return len(want) > 0 && value != "" && subtle.ConstantTimeCompare(want, tokenHash(userID, p, value)) == 1
}

// errTokenInvalid is the one answer for a token that is unknown, wrong,
// used, expired or out of attempts: which of these it was is no business
// of whoever holds it.
func errTokenInvalid(field string) error {
	v := &ValidationError{}
	v.Add(field, "is invalid or has expired; request a new one")
	return v
}

// redeemStep decides one try of a token at now with a code or a link
// secret (whichever is not empty). The try counts (Attempts grows by one)
// unless the token is already dead; a right guess marks it used. It returns
// the redemption to write and nil, or the redemption and
// errTokenInvalid(field) when the try fails.
func redeemStep(t *UserToken, code, secret, field string, now time.Time) (Redemption, error) {
	r := Redemption{Attempts: t.Attempts}
	if t.UsedAt != nil || !now.Before(t.ExpiresAt) || t.Attempts >= MaxTokenAttempts {
		return r, errTokenInvalid(field)
	}
	r.Attempts++
	ok := false
	switch {
	case code != "":
		ok = tokenMatches(t.CodeHash, t.UserID, t.Purpose, code)
	case secret != "":
		ok = tokenMatches(t.SecretHash, t.UserID, t.Purpose, secret)
	}
	if !ok {
		return r, errTokenInvalid(field)
	}
	r.Used, r.UsedAt = true, now
	return r, nil
}
