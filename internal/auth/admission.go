package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"boxoffice"
)

// admissionAudience is the aud claim of admission tokens: an access token
// is never accepted as one, nor the other way round (they also use
// different keys).
const admissionAudience = "boxoffice-admission"

// admissionLabel derives the admission key from the access-token secret.
const admissionLabel = "boxoffice admission tokens v1"

// deviceLabel derives the device-token key from the access-token secret.
const deviceLabel = "boxoffice device tokens v1"

// DeviceSecret derives the key of sign-ins' device tokens
// (boxoffice.ServiceConfig.DeviceKey) from the access-token secret, as
// AdmissionSecret does for admission tokens: every instance that shares
// BOXOFFICE_JWT_SECRET agrees on it, and it reveals nothing about the
// other keys.
func DeviceSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(deviceLabel))
	return m.Sum(nil)
}

// AdmissionSecret derives the admission-token key from the access-token
// secret (HMAC-SHA256 of a fixed label), so every instance that shares
// BOXOFFICE_JWT_SECRET agrees on it without another setting, and a leaked
// admission key reveals nothing about the access-token key.
func AdmissionSecret(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(admissionLabel))
	return m.Sum(nil)
}

// AdmissionTokens issues and verifies waiting-room admission tokens: compact
// HS256 JWTs with the user (sub), the event (evt), the expiry (exp) and the
// audience admissionAudience, checked by the same verifier as access tokens
// (verifier.verify). They are verified with the key alone, without a round
// trip to Redis, so holders can buy while Redis is down. It implements
// boxoffice.AdmissionTokens and httpapi.Admissions, and is safe for
// concurrent use.
type AdmissionTokens struct {
	secret []byte
	// now is the clock; tests replace it.
	now func() time.Time
	v   verifier // audience admissionAudience
}

var _ boxoffice.AdmissionTokens = (*AdmissionTokens)(nil)

// admissionClaims is the payload of an admission token.
type admissionClaims struct {
	Event string `json:"evt"`
	jwt.RegisteredClaims
}

// NewAdmissionTokens returns AdmissionTokens signing with secret (use
// AdmissionSecret to derive it).
func NewAdmissionTokens(secret []byte) *AdmissionTokens {
	a := &AdmissionTokens{secret: append([]byte(nil), secret...), now: time.Now}
	a.v.init(a.secret, admissionAudience)
	return a
}

// Issue returns a token admitting userID to buy for eventID until expires
// (whole seconds, rounded down). The same arguments give the same token, so
// a status can be answered again without storing the token.
func (a *AdmissionTokens) Issue(userID, eventID string, expires time.Time) (string, error) {
	c := admissionClaims{
		Event: eventID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{admissionAudience},
			ExpiresAt: jwt.NewNumericDate(expires),
		},
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign admission token: %w", err)
	}
	return token, nil
}

// Verify reports whether token is a genuine, unexpired admission token for
// userID and eventID. Forged, tampered, expired, other users' and other
// events' tokens, and access tokens, are all refused.
func (a *AdmissionTokens) Verify(token, userID, eventID string) bool {
	c, err := a.v.verify(token, a.now())
	return err == nil && c.Sub == userID && c.Evt == eventID && userID != "" && eventID != ""
}
