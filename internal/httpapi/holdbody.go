package httpapi

import (
	"strconv"

	"boxoffice/internal/plainjson"
)

// decodeHoldFast decodes the common shape of a hold request body without
// reflection: an object with "tier_id" (a plain string, see
// plainjson.String) and "quantity" (an integer of at most nine digits),
// each at most once, in either order, with optional whitespace. For
// anything else (an attendee, escapes, other keys or spellings, duplicates,
// other number forms) it reports false and the caller decodes with
// encoding/json, which is what decides every request; for the bodies it
// accepts, the result is the one encoding/json gives (FuzzHoldFast checks
// this).
func decodeHoldFast(b []byte) (holdRequest, bool) {
	var req holdRequest
	var haveTier, haveQty bool
	i := plainjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = plainjson.SkipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != '}'; n++ {
		if n > 0 {
			if b[i] != ',' {
				return req, false
			}
			i = plainjson.SkipSpace(b, i+1)
		}
		key, j, ok := plainjson.String(b, i)
		if !ok {
			return req, false
		}
		i = plainjson.SkipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return req, false
		}
		i = plainjson.SkipSpace(b, i+1)
		switch {
		case key == "tier_id" && !haveTier:
			if req.TierID, i, ok = plainjson.String(b, i); !ok {
				return req, false
			}
			haveTier = true
		case key == "quantity" && !haveQty:
			if req.Quantity, i, ok = smallInt(b, i); !ok {
				return req, false
			}
			haveQty = true
		default:
			return req, false
		}
		i = plainjson.SkipSpace(b, i)
	}
	if i >= len(b) || b[i] != '}' {
		return req, false
	}
	return req, plainjson.SkipSpace(b, i+1) == len(b)
}

// smallInt reads a JSON integer of at most nine digits (no fraction, no
// exponent) at b[i] and returns it and the index after it.
func smallInt(b []byte, i int) (int, int, bool) {
	j := plainjson.NumberEnd(b, i)
	if j < 0 {
		return 0, i, false
	}
	digits := j - i
	if b[i] == '-' {
		digits--
	}
	n, err := strconv.Atoi(string(b[i:j])) // fails on a fraction or exponent
	if err != nil || digits > 9 {
		return 0, i, false
	}
	return n, j, true
}
