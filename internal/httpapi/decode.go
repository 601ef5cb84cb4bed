package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"boxoffice"
)

// maxBody caps request bodies.
const maxBody = 1 << 20

// readBody returns the request body, at most maxBody bytes. It returns
// unsupported_media_type when a body is not declared as JSON and
// payload_too_large when it is too big. With optional set, an empty body
// without a Content-Type is accepted and returned as nil.
func readBody(w http.ResponseWriter, r *http.Request, optional bool) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if optional && ct == "" && (r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody) {
		return nil, nil
	}
	if ct != "application/json" && !isJSONMediaType(ct) {
		return nil, boxoffice.Errorf(codeUnsupportedMediaType, "the request body must be sent with Content-Type: application/json")
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := readAtMost(w, r, maxBody)
	if err != nil {
		return nil, bodyError(err)
	}
	return body, nil
}

// readNoBody reads the optional body of an operation that takes none: no
// body at all, or an empty JSON object.
func readNoBody(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, true)
	if err != nil || len(body) == 0 {
		return err
	}
	return decodeJSON(body, &struct{}{})
}

// bodyError turns a failure to read a request body into the client's fault
// it is: too large, too slow (the server's read timeout), or cut short (a
// truncated body, a connection that broke). None of them is the server's;
// they answer 4xx and are not logged as errors.
func bodyError(err error) error {
	if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return boxoffice.Errorf(codePayloadTooLarge, "the request body is larger than %d bytes", mb.Limit)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return boxoffice.Errorf(codeRequestTimeout, "the request body did not arrive in time")
	}
	return boxoffice.Errorf(codeIncompleteBody, "the request body could not be read in full")
}

// readAtMost reads the whole body, failing with *http.MaxBytesError past
// limit bytes. A declared length within the limit is read into a buffer of
// that size at once.
func readAtMost(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

// isJSONMediaType reports whether a Content-Type header names
// application/json, with or without parameters.
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// readJSON reads the required JSON body (readBody) and decodes it into dst
// (decodeJSON).
func readJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	return decodeJSON(body, dst)
}

// decodeJSON decodes body, one JSON value and nothing else, into dst,
// rejecting unknown fields. Syntax errors, an empty body and trailing data
// are malformed_json; unknown fields and values of the wrong type are
// validation_failed naming the field.
func decodeJSON(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return boxoffice.Errorf(codeMalformedJSON, "the request body has data after the JSON value")
	}
	return nil
}

// decodeError translates an encoding/json error.
func decodeError(err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return boxoffice.Errorf(codeMalformedJSON, "the request body is not valid JSON (at byte %d)", se.Offset)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "body"
		}
		ve := &boxoffice.ValidationError{}
		ve.Add(field, "must be %s", jsonKind(te.Type.Kind().String()))
		return ve
	}
	switch {
	case errors.Is(err, io.EOF):
		return boxoffice.Errorf(codeMalformedJSON, "the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return boxoffice.Errorf(codeMalformedJSON, "the request body ends in the middle of a JSON value")
	}
	// encoding/json has no type for an unknown field, only this message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, err := strconv.Unquote(name); err == nil {
			name = unq
		}
		ve := &boxoffice.ValidationError{}
		ve.Add(name, "is not a known field")
		return ve
	}
	return boxoffice.Errorf(codeMalformedJSON, "the request body cannot be decoded")
}

// jsonKind names the JSON type that a Go kind is decoded from.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// timeField parses an RFC 3339 time with any offset and returns it in UTC.
// Unparsable values are added to ve under field; "" is the zero time (a
// missing required time is the service's to report).
func timeField(ve *boxoffice.ValidationError, field, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		ve.Add(field, "must be an RFC 3339 time such as 2026-05-01T19:30:00Z")
		return time.Time{}
	}
	return t.UTC()
}

// optTimeField is timeField for optional times: nil stays nil.
func optTimeField(ve *boxoffice.ValidationError, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	if *s == "" {
		ve.Add(field, "must be an RFC 3339 time such as 2026-05-01T19:30:00Z")
		return nil
	}
	t := timeField(ve, field, *s)
	if t.IsZero() {
		return nil
	}
	return &t
}

// idempotencyKey returns the request's Idempotency-Key ("" when absent). It
// returns a *ValidationError when the header is empty, repeated, longer than
// boxoffice.MaxIdempotencyKey or not printable ASCII.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", nil
	}
	ve := &boxoffice.ValidationError{}
	key := vals[0]
	switch {
	case len(vals) > 1:
		ve.Add("Idempotency-Key", "must be sent once")
	case len(key) == 0 || len(key) > boxoffice.MaxIdempotencyKey:
		ve.Add("Idempotency-Key", "must have 1 to %d characters", boxoffice.MaxIdempotencyKey)
	default:
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				ve.Add("Idempotency-Key", "must be printable ASCII")
				break
			}
		}
	}
	return key, ve.Err()
}

// fingerprint identifies a request for idempotency: the hex SHA-256 over its
// method, route pattern, path values and raw body, each length-prefixed so
// that no two different requests share an encoding.
func fingerprint(r *http.Request, body []byte) string {
	var buf [1024]byte
	b := buf[:0]
	put := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	put(r.Method)
	put(r.Pattern)
	for rest := r.Pattern; ; {
		name, after, ok := nextWildcard(rest)
		if !ok {
			break
		}
		put(name)
		put(r.PathValue(name))
		rest = after
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// nextWildcard returns the name of the first {wildcard} in pattern and the
// pattern after it.
func nextWildcard(pattern string) (name, rest string, ok bool) {
	i := strings.IndexByte(pattern, '{')
	if i < 0 {
		return "", "", false
	}
	j := strings.IndexByte(pattern[i:], '}')
	if j < 0 {
		return "", "", false
	}
	return strings.TrimSuffix(pattern[i+1:i+j], "..."), pattern[i+j+1:], true
}

// pathID returns the path value name when it has the shape of a boxoffice
// ID, else ErrNotFound: a malformed ID names nothing, and the database need
// not be asked.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !boxoffice.ValidID(id) {
		return "", boxoffice.ErrNotFound
	}
	return id, nil
}

// pathIDs returns the path's IDs named names, in their order (pathID).
func pathIDs(r *http.Request, names ...string) ([]string, error) {
	ids := make([]string, len(names))
	for i, n := range names {
		id, err := pathID(r, n)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// listParams parses limit (1..boxoffice.MaxLimit; absent = 0, the service's
// default) and cursor, adding problems to ve.
func listParams(ve *boxoffice.ValidationError, r *http.Request) (limit int, cursor string) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > boxoffice.MaxLimit {
			ve.Add("limit", "must be an integer from 1 to %d", boxoffice.MaxLimit)
		} else {
			limit = n
		}
	}
	return limit, q.Get("cursor")
}
