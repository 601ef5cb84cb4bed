package boxoffice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Device tokens let the owner of an account sign in while others guess at
// it. A successful sign-in hands one out (SignedIn.DeviceToken); a later
// sign-in that presents it, for the account it was issued to, has its
// password checked in a lane of the password hashers that nobody without
// one can fill (PasswordHasher.CompareReserved), and its failures are
// counted per device, not per address. A device token is not a
// credential: the password is checked all the same.
//
// A token is self-contained and signed, so nothing is stored: "d1", the
// user's ID, the user's token version, the expiry (Unix seconds) and the
// device's random ID, separated by dots, then a dot and the base64url
// HMAC-SHA256 of all that under the service's device key. It stops working
// when it expires or when the user's token version changes (signing out
// everywhere, a password reset, being disabled), and it is good for its own
// account only: one presented with another email is treated as none.

// DefaultDeviceTokenTTL is how long a device token works unless configured
// otherwise (ServiceConfig.DeviceTokenTTL). Each sign-in with it hands out
// a fresh one for the same device.
const DefaultDeviceTokenTTL = 90 * 24 * time.Hour

// Shape of device tokens.
const (
	deviceTokenVersion = "d1"
	// deviceIDLen is the length of a device ID: 16 random bytes in
	// base64url.
	deviceIDLen = 22
	// deviceMACLen is the length of the signature: 32 bytes in base64url.
	deviceMACLen = 43
	// maxDeviceToken bounds the tokens looked at (ours are about 120
	// bytes).
	maxDeviceToken = 256
)

// device is what a device token says.
type device struct {
	ID           string
	UserID       string
	TokenVersion int64
	Expires      time.Time
}

// deviceSigner issues and reads device tokens with one key.
type deviceSigner struct {
	key []byte
	ttl time.Duration
}

// newDeviceSigner returns a signer with key (a random one when empty) and
// tokens living ttl (DefaultDeviceTokenTTL when not positive).
func newDeviceSigner(key []byte, ttl time.Duration) *deviceSigner {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	if ttl <= 0 {
		ttl = DefaultDeviceTokenTTL
	}
	return &deviceSigner{key: append([]byte(nil), key...), ttl: ttl}
}

// newDeviceID returns a random device ID.
func newDeviceID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// issue returns a token for device id ("" for a new device) of u, valid
// from now for the signer's lifetime.
func (s *deviceSigner) issue(id string, u *User, now time.Time) string {
	if id == "" {
		id = newDeviceID()
	}
	payload := deviceTokenVersion + "." + u.ID + "." + strconv.FormatInt(u.TokenVersion, 10) + "." +
		strconv.FormatInt(now.Add(s.ttl).Unix(), 10) + "." + id
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

func (s *deviceSigner) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// parse returns the device a genuine, unexpired token names; ok is false
// for anything else (empty, malformed, forged, tampered, expired).
func (s *deviceSigner) parse(tok string, now time.Time) (d device, ok bool) {
	if tok == "" || len(tok) > maxDeviceToken {
		return device{}, false
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || len(tok)-i-1 != deviceMACLen {
		return device{}, false
	}
	payload := tok[:i]
	got, err := base64.RawURLEncoding.Strict().DecodeString(tok[i+1:])
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return device{}, false
	}
	// Ours from here on: the payload is what issue wrote.
	f := strings.Split(payload, ".")
	if len(f) != 5 || f[0] != deviceTokenVersion || !ValidID(f[1]) || len(f[4]) != deviceIDLen {
		return device{}, false
	}
	ver, err1 := strconv.ParseInt(f[2], 10, 64)
	exp, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || now.Unix() >= exp {
		return device{}, false
	}
	return device{ID: f[4], UserID: f[1], TokenVersion: ver, Expires: time.Unix(exp, 0)}, true
}

// validFor reports whether d may sign in as u: it was issued to u at u's
// current token version, and u is not disabled.
func (d device) validFor(u *User) bool {
	return u != nil && d.UserID == u.ID && d.TokenVersion == u.TokenVersion && !u.Disabled
}
