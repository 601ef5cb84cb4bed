package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestMixedAgainstRealServer(t *testing.T) {
	base, event := startQueueServer(t, 200, 100*time.Millisecond)
	// 20 buyers taking turns at 200 requests a second: each acts every
	// 0.1 s, so dozens of journeys finish in two seconds.
	rep, _, err := runLoadgen(t, "-scenario", "mixed", "-targets", base, "-event", event,
		"-jwt-secret", testSecret, "-users", "200", "-rate", "200", "-duration", "2s", "-mixed-buyers", "20",
		"-admin-email", "admin@example.test", "-admin-password", "admin-password", "-fail-on-unexpected")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.Check.OK || rep.Check.Inconclusive || rep.Unexpected != 0 {
		t.Fatalf("check %v, unexpected %d", rep.Check.Lines, rep.Unexpected)
	}
	b, _ := json.Marshal(rep.Check.Details)
	var d mixedReport
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	// Each arrival is one request: the shares cover every answer.
	sum := 0.0
	for _, op := range mixedOps {
		sum += d.Shares[op]
	}
	if d.Requests != rep.Requests || math.Abs(sum-1) > 0.01 {
		t.Fatalf("shares %v sum to %.3f over %d requests (report: %d)", d.Shares, sum, d.Requests, rep.Requests)
	}
	// A journey reads at least one list page and then one event detail,
	// the hot event, joins once and holds and confirms at most once.
	s := d.Shares
	if s["list"] < s["event"] || s["event"] < s["join"] || s["join"] < s["confirm"] || s["hold"] < s["confirm"] ||
		s["detail"] == 0 || s["confirm"] == 0 || d.Journeys["bought"] == 0 {
		t.Fatalf("implausible mix %v, journeys %v", s, d.Journeys)
	}
	if rep.Ops["confirm"].Count != uint64(d.Journeys["bought"]) {
		t.Fatalf("%d confirms for %d journeys bought", rep.Ops["confirm"].Count, d.Journeys["bought"])
	}
}
