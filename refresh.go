package boxoffice

import (
	"crypto/sha256"
	"time"
)

// RefreshToken is a long-lived secret that a client exchanges for a new
// access token and a new refresh token (it rotates), stored only as its
// SHA-256 hash. The tokens that descend from one sign-in form a family; a
// token presented again after it was exchanged means that someone else
// holds a copy, and ends its whole family. A refresh token is bound to the
// user's token version: whatever ends the user's access tokens ends their
// refresh tokens too.
type RefreshToken struct {
	// Hash is the SHA-256 hash of the secret the client holds.
	Hash         []byte
	FamilyID     string
	UserID       string
	TokenVersion int64
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// RotatedAt is when the token was exchanged for its successor.
	RotatedAt *time.Time
	// RevokedAt is when its family was ended.
	RevokedAt *time.Time
}

// RefreshRotation is what one exchange of a refresh token writes, as
// refreshStep decides.
type RefreshRotation struct {
	// RotatedAt, when not nil, marks the presented token exchanged.
	RotatedAt *time.Time
	// Next is the successor to insert, when not nil.
	Next *RefreshToken
	// RevokeFamilyAt, when not nil, ends every token of the presented
	// token's family at that time.
	RevokeFamilyAt *time.Time
}

// DefaultRefreshTTL is how long a refresh token lives when nothing else is
// configured; each exchange starts the time anew.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// ErrRefreshTokenInvalid is the one answer for a refresh token that is
// unknown, expired, exchanged already, ended, or whose user signed out
// everywhere or was disabled: the client must sign in again.
var ErrRefreshTokenInvalid = &Error{CodeUnauthenticated, "the refresh token is invalid, expired or revoked; sign in again"}

// refreshSecretLen is the length of a refresh token's secret (256 bits in
// base64url).
const refreshSecretLen = 43

// refreshHash hashes a refresh token's secret for storage and lookup.
func refreshHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newRefreshToken returns a new refresh token of family for u at now, and
// the secret the client keeps.
func newRefreshToken(u *User, family string, now time.Time, ttl time.Duration) (*RefreshToken, string) {
	secret := newSecret()
	return &RefreshToken{
		Hash: refreshHash(secret), FamilyID: family, UserID: u.ID, TokenVersion: u.TokenVersion,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}, secret
}

// refreshStep decides the exchange of t, presented by a client at now, for
// user u; next is the successor it would issue. A token exchanged before
// ends its family (someone replayed it: the thief or the owner, and the
// server cannot tell which), and so does one whose user no longer stands
// (disabled, or another token version). It returns the rotation to write
// and nil, or the rotation and ErrRefreshTokenInvalid.
func refreshStep(t *RefreshToken, u *User, next *RefreshToken, now time.Time) (RefreshRotation, error) {
	switch {
	case t.RevokedAt != nil || !now.Before(t.ExpiresAt):
		return RefreshRotation{}, ErrRefreshTokenInvalid
	case t.RotatedAt != nil || u.Disabled || u.TokenVersion != t.TokenVersion:
		return RefreshRotation{RevokeFamilyAt: &now}, ErrRefreshTokenInvalid
	}
	return RefreshRotation{RotatedAt: &now, Next: next}, nil
}
