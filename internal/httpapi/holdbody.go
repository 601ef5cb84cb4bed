package httpapi

// decodeHoldFast decodes the common shape of a hold request body without
// reflection: an object with "tier_id" (a string of printable ASCII
// without escapes) and "quantity" (an integer of at most nine digits), each
// at most once, in either order, with optional whitespace. For anything
// else (an attendee, escapes, other keys or spellings, duplicates, other
// number forms) it reports false and the caller decodes with encoding/json,
// which is what decides every request; for the bodies it accepts, the
// result is the one encoding/json gives (FuzzHoldFast checks this).
func decodeHoldFast(b []byte) (holdRequest, bool) {
	var req holdRequest
	var haveTier, haveQty bool
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = skipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != '}'; n++ {
		if n > 0 {
			if b[i] != ',' {
				return req, false
			}
			i = skipSpace(b, i+1)
		}
		key, j, ok := plainString(b, i)
		if !ok {
			return req, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return req, false
		}
		i = skipSpace(b, i+1)
		switch {
		case key == "tier_id" && !haveTier:
			v, j, ok := plainString(b, i)
			if !ok {
				return req, false
			}
			req.TierID, haveTier, i = v, true, j
		case key == "quantity" && !haveQty:
			v, j, ok := smallInt(b, i)
			if !ok {
				return req, false
			}
			req.Quantity, haveQty, i = v, true, j
		default:
			return req, false
		}
		i = skipSpace(b, i)
	}
	if i >= len(b) || b[i] != '}' {
		return req, false
	}
	return req, skipSpace(b, i+1) == len(b)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] made only of printable ASCII
// other than '"' and '\\', and returns it and the index after it.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

// smallInt reads a JSON integer of one to nine digits (an optional minus,
// no leading zero) at b[i] and returns it and the index after it.
func smallInt(b []byte, i int) (int, int, bool) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start, n := i, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 10 {
		n = n*10 + int(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 9 || (digits > 1 && b[start] == '0') {
		return 0, 0, false
	}
	// A fraction or exponent is another number form: not ours.
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] >= '0' && b[i] <= '9') {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}
