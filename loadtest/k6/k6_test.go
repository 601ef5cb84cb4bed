// Package k6test checks the k6 load-test scripts in this directory against
// the Go code they re-implement: lib.js's seeded-user IDs must equal
// boxoffice.SeedUserID and its locally minted access tokens must be exactly
// what internal/auth issues (and accepts). The checks run the JavaScript with
// a real k6 binary ($K6, k6 on PATH, or the one the README builds) and skip,
// saying so, when there is none.
package k6test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
)

// findK6 returns the k6 binary to run, or skips the test.
func findK6(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("K6"); p != "" {
		return p
	}
	if p, err := exec.LookPath("k6"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "boxoffice-tools", "k6-v1.8.1", "k6")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("k6 not found, so the k6 scripts were not checked: set K6 or build k6 (see loadtest/k6/README.md)")
	return ""
}

// probeJS imports lib.js and prints, as the end-of-test summary, the seed IDs
// and tokens it computes for the cases in __ENV.CASES.
const probeJS = `
import { seedUserID, mintToken } from '%LIB%';
const cases = JSON.parse(__ENV.CASES);
const secret = __ENV.SECRET;
const out = cases.map((c) => ({
  id: seedUserID(c.i),
  token: mintToken(secret, seedUserID(c.i), c.role, c.iat, c.ttl),
}));
const fresh = mintToken(secret, seedUserID(7), 'user', Math.floor(Date.now() / 1000), 600);
export const options = { vus: 1, iterations: 1 };
export default function () {}
export function handleSummary() {
  return { stdout: JSON.stringify({ out, fresh }) };
}
`

func TestLibMatchesGo(t *testing.T) {
	k6 := findK6(t)
	lib, err := filepath.Abs("lib.js")
	if err != nil {
		t.Fatal(err)
	}
	secret := "k6test-secret-0123456789abcdef-0123456789"
	const ttl = time.Hour
	tokens := auth.NewTokens([]byte(secret), ttl)

	type probeCase struct {
		I    int            `json:"i"`
		Role boxoffice.Role `json:"role"`
		IAT  int64          `json:"iat"`
		TTL  int64          `json:"ttl"`
	}
	var cases []probeCase
	var want []string
	for _, tc := range []struct {
		i    int
		role boxoffice.Role
	}{
		{0, boxoffice.RoleUser}, {1, boxoffice.RoleUser}, {31, boxoffice.RoleUser}, {32, boxoffice.RoleUser},
		{1999, boxoffice.RoleUser}, {999_999, boxoffice.RoleUser}, {123_456_789_012, boxoffice.RoleAdmin},
		{1<<53 - 1, boxoffice.RoleUser},
	} {
		tok, _, err := tokens.Issue(&boxoffice.User{ID: boxoffice.SeedUserID(tc.i), Role: tc.role})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, probeCase{tc.i, tc.role, issuedAt(t, tok), int64(ttl / time.Second)})
		want = append(want, tok)
	}
	casesJSON, _ := json.Marshal(cases)

	dir := t.TempDir()
	script := filepath.Join(dir, "probe.js")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(probeJS, "%LIB%", filepath.ToSlash(lib))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), k6, "run", "--quiet", "--no-usage-report",
		"-e", "CASES="+string(casesJSON), "-e", "SECRET="+secret, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "K6_NO_USAGE_REPORT=true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("k6 run: %v\n%s", err, stderr.String())
	}
	var got struct {
		Out []struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		} `json:"out"`
		Fresh string `json:"fresh"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("k6 output is not the probe's JSON: %v\n%s\n%s", err, stdout, stderr.String())
	}
	if len(got.Out) != len(cases) {
		t.Fatalf("k6 answered %d cases, want %d", len(got.Out), len(cases))
	}
	for n, c := range cases {
		if g, w := got.Out[n].ID, boxoffice.SeedUserID(c.I); g != w {
			t.Errorf("seedUserID(%d) = %s, SeedUserID = %s", c.I, g, w)
		}
		if got.Out[n].Token != want[n] {
			t.Errorf("mintToken for user %d (%s):\n js %s\n go %s", c.I, c.Role, got.Out[n].Token, want[n])
		}
	}
	// A token minted now is accepted as the seeded user by the server's
	// verifier.
	caller, err := tokens.Verify(got.Fresh)
	if err != nil {
		t.Fatalf("Verify(a fresh JS token) = %v", err)
	}
	if caller.UserID != boxoffice.SeedUserID(7) || caller.Role != boxoffice.RoleUser {
		t.Errorf("Verify(a fresh JS token) = %+v, want seeded user 7", caller)
	}
}

// issuedAt returns a token's iat claim.
func issuedAt(t *testing.T, token string) int64 {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		IAT int64 `json:"iat"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.IAT
}

// TestScriptsInspect has k6 evaluate every script's init code and options
// (the same as smoke.sh --check).
func TestScriptsInspect(t *testing.T) {
	k6 := findK6(t)
	scripts, err := filepath.Glob("*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		if s == "lib.js" {
			continue
		}
		t.Run(s, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), k6, "inspect", s).CombinedOutput()
			if err != nil {
				t.Fatalf("k6 inspect %s: %v\n%s", s, err, out)
			}
			var opts struct {
				Scenarios  map[string]json.RawMessage `json:"scenarios"`
				Thresholds map[string]json.RawMessage `json:"thresholds"`
			}
			if err := json.Unmarshal(out, &opts); err != nil {
				t.Fatalf("k6 inspect %s: %v\n%s", s, err, out)
			}
			if len(opts.Scenarios) == 0 || opts.Thresholds["unexpected"] == nil || opts.Thresholds["http_req_duration"] == nil {
				t.Errorf("%s: want scenarios and the unexpected and http_req_duration thresholds; inspect says %s", s, out)
			}
		})
	}
}
