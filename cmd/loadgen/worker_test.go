package main

import (
	"context"
	"net/url"
	"testing"
)

// TestTargetSpreadsEvenly checks the round-robin over targets: workers that
// each pick one target (an on-sale buyer keeps its target for the whole
// journey) spread evenly, and so do the picks of one worker.
func TestTargetSpreadsEvenly(t *testing.T) {
	for n := 1; n <= 4; n++ {
		cfg := &config{}
		for range n {
			cfg.Targets = append(cfg.Targets, &url.URL{Scheme: "http", Host: "127.0.0.1:1"})
		}
		env := &Env{Cfg: cfg}
		const workers = 120 // a multiple of 1..4
		first := make([]int, n)
		for id := range workers {
			first[newWorker(context.Background(), id, env).Target()]++
		}
		for i, c := range first {
			if c != workers/n {
				t.Errorf("%d targets: %d of %d workers start at target %d, want %d (all: %v)", n, c, workers, i, workers/n, first)
			}
		}
		w := newWorker(context.Background(), 7, env)
		picks := make([]int, n)
		for range workers {
			picks[w.Target()]++
		}
		for i, c := range picks {
			if c != workers/n {
				t.Errorf("%d targets: one worker picked target %d %d times of %d, want %d", n, i, c, workers, workers/n)
			}
		}
	}
}
