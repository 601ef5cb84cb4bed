package main

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStages(t *testing.T) {
	got, err := parseStages("10s:1000, 20s:5000,10s:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []stage{{10 * time.Second, 1000}, {20 * time.Second, 5000}, {10 * time.Second, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("stages (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "10s", "x:10", "10s:-1", "10s:abc", "0s:10", "10s:10,,"} {
		if _, err := parseStages(bad); err == nil {
			t.Errorf("parseStages(%q) accepted", bad)
		}
	}
}

func TestProfile(t *testing.T) {
	st, _ := parseStages("10s:1000,20s:5000,10s:0")
	p := profile{stages: st}
	for _, tc := range []struct {
		at          time.Duration
		rate, sofar float64
	}{
		{0, 0, 0},
		{5 * time.Second, 500, 1250},
		{10 * time.Second, 1000, 5000},
		{20 * time.Second, 3000, 5000 + 20000},
		{30 * time.Second, 5000, 5000 + 60000},
		{40 * time.Second, 0, 5000 + 60000 + 25000},
		{50 * time.Second, 0, 90000},
	} {
		if got := p.at(tc.at); math.Abs(got-tc.rate) > 1e-6 {
			t.Errorf("rate at %s = %v, want %v", tc.at, got, tc.rate)
		}
		if got := p.arrivals(tc.at); math.Abs(got-tc.sofar) > 1e-6 {
			t.Errorf("arrivals by %s = %v, want %v", tc.at, got, tc.sofar)
		}
	}
	c := profile{constant: 200}
	if got := c.arrivals(1500 * time.Millisecond); got != 300 {
		t.Errorf("constant arrivals = %v, want 300", got)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "localhost": true, "LOCALHOST.": true,
		"api.localhost": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "0.0.0.0": false, "example.com": false, "localhost.example.com": false,
		"": false, "::": false, "192.168.1.5": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseFlagsTargets(t *testing.T) {
	base := []string{"-scenario", "browse", "-vus", "1"}
	for _, tc := range []struct {
		targets string
		remote  bool
		ok      bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://127.0.0.1:8080/,http://[::1]:8081", false, true},
		{"http://localhost:8080", false, true},
		{"http://10.1.2.3:8080", false, false},
		{"https://tickets.example.com", false, false},
		{"https://tickets.example.com", true, true},
		{"ftp://127.0.0.1", false, false},
	} {
		args := append(append([]string{}, base...), "-targets", tc.targets)
		if tc.remote {
			args = append(args, "-allow-remote")
		}
		_, err := parseFlags(args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("targets %q remote=%v: err = %v, want ok=%v", tc.targets, tc.remote, err, tc.ok)
		}
	}
	_, err := parseFlags([]string{"-scenario", "baseline-sql", "-mysql", "mysql://root@db.example.com:3306/x"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("remote -mysql: err = %v, want a loopback refusal", err)
	}
}

func TestParseFlagsModels(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		open    bool
		vus     int
		workers int
		dur     time.Duration
		wantErr string
	}{
		{args: []string{"-scenario", "browse", "-rate", "100"}, open: true, workers: 256, dur: 30 * time.Second},
		{args: []string{"-scenario", "browse", "-vus", "8", "-duration", "5s"}, vus: 8, workers: 256, dur: 5 * time.Second},
		{args: []string{"-scenario", "browse", "-stages", "2s:10,3s:0"}, open: true, workers: 256, dur: 5 * time.Second},
		{args: []string{"-scenario", "browse", "-stages", "2s:10", "-duration", "1s"}, open: true, workers: 256, dur: time.Second},
		{args: []string{"-scenario", "baseline-sql", "-mysql", "mysql://root@127.0.0.1/x", "-clients", "4"}, vus: 4, workers: 256, dur: 30 * time.Second},
		{args: []string{"-scenario", "baseline-sql", "-mysql", "mysql://root@127.0.0.1/x", "-clients", "4", "-rate", "50"}, open: true, workers: 4, dur: 30 * time.Second},
		{args: []string{"-scenario", "browse"}, wantErr: "give -rate"},
		{args: []string{"-scenario", "browse", "-rate", "1", "-vus", "1"}, wantErr: "not both"},
		{args: []string{"-scenario", "hold", "-rate", "1", "-jwt-secret", "s"}, wantErr: "-event and -tier"},
		{args: []string{"-scenario", "nope", "-rate", "1"}, wantErr: "-scenario"},
	} {
		t.Setenv("BOXOFFICE_JWT_SECRET", "")
		cfg, err := parseFlags(tc.args, io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want it to mention %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if cfg.Open != tc.open || cfg.VUs != tc.vus || cfg.Workers != tc.workers || cfg.Duration != tc.dur {
			t.Errorf("%q: open=%v vus=%d workers=%d duration=%s, want %v %d %d %s",
				tc.args, cfg.Open, cfg.VUs, cfg.Workers, cfg.Duration, tc.open, tc.vus, tc.workers, tc.dur)
		}
	}
}
