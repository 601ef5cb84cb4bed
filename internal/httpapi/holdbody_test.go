package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzHoldFast checks that whenever decodeHoldFast accepts a body,
// encoding/json (as decodeJSON uses it) accepts it too and decodes the same
// request.
func FuzzHoldFast(f *testing.F) {
	for _, seed := range []string{
		`{"tier_id":"01HZZZZZZZZZZZZZZZZZZZZZZ1","quantity":1}`,
		` { "quantity" : 12 , "tier_id" : "x" } `,
		`{"tier_id":"a","quantity":-0}`, `{"quantity":007}`, `{"quantity":1.0}`, `{"quantity":1e2}`,
		`{"tier_id":"a","tier_id":"b"}`, `{"Tier_ID":"a"}`, `{"tier_id":"a\u0041"}`, `{}`, `{,}`,
		`{"quantity":1}x`, `{"tier_id":"é"}`, `{"quantity":1234567890}`, `{"attendee":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeHoldFast(body)
		if !ok {
			return
		}
		var slow holdRequest
		if err := decodeJSON(body, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused: %v", body, err)
		}
		if slow.TierID != fast.TierID || slow.Quantity != fast.Quantity || slow.Attendee != nil {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, slow)
		}
	})
}

func TestDecodeHoldFast(t *testing.T) {
	for body, want := range map[string]bool{
		`{"tier_id":"01HZZZZZZZZZZZZZZZZZZZZZZ1","quantity":1}`: true,
		"{\n\"quantity\": -3,\t\"tier_id\": \"t\"}\n":           true,
		`{}`: true, `{"quantity":0}`: true,
		`{"quantity":1.5}`: false, `{"quantity":01}`: false, `{"quantity":1234567890}`: false,
		`{"tier_id":"a","tier_id":"a"}`: false, `{"TIER_ID":"a"}`: false, `{"tier_id":"\u0061"}`: false,
		`{"tier_id":"a","attendee":{"name":"A"}}`: false, `{"quantity":1,}`: false, `{"quantity":1} {}`: false,
		`[]`: false, ``: false, `{"quantity":"1"}`: false,
	} {
		got, ok := decodeHoldFast([]byte(body))
		if ok != want {
			t.Errorf("%q: accepted %v, want %v", body, ok, want)
			continue
		}
		if ok {
			var slow holdRequest
			if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&slow); err != nil || slow.TierID != got.TierID || slow.Quantity != got.Quantity {
				t.Errorf("%q: fast %+v, encoding/json %+v (%v)", body, got, slow, err)
			}
		}
	}
}

// TestFingerprintStable pins the fingerprint of a hold request: keys
// recorded by an earlier release must still match their requests.
func TestFingerprintStable(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/v1/events/01HZZZZZZZZZZZZZZZZZZZZZZ0/reservations", nil)
	r.Pattern = "POST /api/v1/events/{id}/reservations"
	r.SetPathValue("id", "01HZZZZZZZZZZZZZZZZZZZZZZ0")
	body := []byte(`{"tier_id":"01HZZZZZZZZZZZZZZZZZZZZZZ1","quantity":1}`)
	// The SHA-256 of each part length-prefixed (8 bytes, big-endian):
	// method, pattern, each wildcard's name and value, body.
	h := sha256.New()
	for _, part := range []string{r.Method, r.Pattern, "id", r.PathValue("id"), string(body)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	if got, want := fingerprint(r, body), hex.EncodeToString(h.Sum(nil)); got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}

// TestLogLevels: with only warnings logged, a 5xx and a slow request are
// still logged, a quick success is not.
func TestLogLevels(t *testing.T) {
	var buf bytes.Buffer
	s := &server{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	r := httptest.NewRequest("GET", "/api/v1/events", nil)
	for _, c := range []struct {
		status int
		d      time.Duration
		logged bool
	}{{200, time.Millisecond, false}, {503, time.Millisecond, true}, {201, 2 * slowRequest, true}} {
		buf.Reset()
		s.logRequest(r, &responseWriter{status: c.status}, &requestInfo{requestID: "x"}, c.d)
		if got := strings.Contains(buf.String(), "level=WARN"); got != c.logged {
			t.Errorf("status %d after %s: logged %v, want %v (%q)", c.status, c.d, got, c.logged, buf.String())
		}
	}
}
