// Package boxoffice is the domain of the boxoffice ticketing backend: users,
// events with ticket tiers, bookmarks and reservations (holds), the rules that
// govern them, and the interfaces (Store, Cache, Payments) that adapters
// implement. It imports no adapter; cmd/boxoffice wires everything together.
package boxoffice

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Role is a user's role.
type Role string

// The roles a user can have.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Money is an amount in the currency's minor unit (cents for USD).
type Money struct {
	Amount   int64
	Currency string
}

// crockford is the Crockford base32 alphabet: sortable, no ambiguous letters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var idGen struct {
	sync.Mutex
	lastMS uint64
	seq    [10]byte
}

// NewID returns a new 26-character, time-ordered, globally unique identifier
// (48 bits of milliseconds followed by 80 random bits, in the style of ULID).
// IDs made in the same millisecond by one process increase monotonically, so
// ordering by ID is ordering by creation.
func NewID() string {
	return newIDAt(time.Now())
}

func newIDAt(t time.Time) string {
	ms := uint64(t.UnixMilli())
	idGen.Lock()
	if ms <= idGen.lastMS {
		ms = idGen.lastMS
		// Increment the random part as a big-endian counter.
		for i := len(idGen.seq) - 1; i >= 0; i-- {
			idGen.seq[i]++
			if idGen.seq[i] != 0 {
				break
			}
		}
	} else {
		idGen.lastMS = ms
		_, _ = rand.Read(idGen.seq[:])
		idGen.seq[0] &= 0x7f // leave room to increment without overflow
	}
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[0:8], ms<<16)
	copy(raw[6:], idGen.seq[:])
	idGen.Unlock()
	return encodeID(raw)
}

// encodeID writes 128 bits as 26 base32 characters (the first carries 3 bits).
func encodeID(raw [16]byte) string {
	hi := binary.BigEndian.Uint64(raw[0:8])
	lo := binary.BigEndian.Uint64(raw[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ValidID reports whether s has the shape of an ID made by NewID. Handlers use
// it to answer 404 for malformed IDs without a database round trip.
func ValidID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return false
		}
	}
	return true
}
