// Command loadgen is boxoffice's on-sale load generator. It drives one
// scenario against one or more boxoffice instances (or, for baseline-sql,
// straight against MariaDB) in an open model (a fixed arrival rate that a
// slow server cannot slow down; arrivals that find every worker busy are
// counted as dropped) or a closed one (N virtual users in a loop), then
// prints throughput, latency percentiles from a log-linear histogram,
// answers by status, problem code and class, its own CPU cost, and the
// result of the scenario's invariant check.
//
//	loadgen -scenario hold -event E -tier T -jwt-secret S -users 20000 -rate 2000 -duration 20s
//	loadgen -scenario order -event E -order-lines A:1,B:1 -jwt-secret S -users 20000 -vus 256 -duration 10s
//	loadgen -scenario checkout -event E -order-lines A:2,B:1 -payments-secret P -admin-email … -vus 32 -duration 15s
//	loadgen -scenario webhook -event E -order-lines A:1,B:1 -payments-secret P -admin-email … -webhook-orders 20000 -vus 64
//	loadgen -scenario checkin -event E -order-lines A:100 -admin-email … -checkin-tickets 40000 -vus 128 -duration 10s
//	loadgen -scenario browse -vus 32 -duration 20s
//	loadgen -scenario signin -users 2000 -vus 500 -duration 20s -detail-readers 4 -detail-event E
//	loadgen -scenario baseline-sql -mysql mysql://root@127.0.0.1:3306/bo_load -clients 16 -duration 20s
//	loadgen -scenario baseline-redis -redis redis://127.0.0.1:6379/0 -vus 16 -duration 20s
//	loadgen -serve-bare 127.0.0.1:9090 -bare-bytes 900   # a bare net/http server, until killed
//	loadgen -scenario get -url http://127.0.0.1:9090/ -vus 64 -duration 20s
//
// The exit status is 0 on success, 1 on a usage or setup error, 2 when an
// invariant was violated or could not be verified, and 3 when
// -fail-on-unexpected is set and an unexpected answer occurred.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode prints err (if any) and maps it to the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "loadgen:", err)
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	return 1
}

// run parses args, prepares the scenario, drives the load, checks the
// invariants and reports. It returns an *exitError for a violated
// invariant or (with -fail-on-unexpected) unexpected answers.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if isServeBare(args) {
		return serveBare(ctx, args, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	sc := scenarios[cfg.Scenario].New(cfg)
	defer func() {
		if err := sc.Close(); err != nil {
			fmt.Fprintf(stderr, "closing the %s scenario: %v\n", cfg.Scenario, err)
		}
	}()

	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	var id [6]byte
	_, _ = rand.Read(id[:])
	conns := cfg.Workers
	if !cfg.Open {
		conns = cfg.VUs
		for _, s := range cfg.Stages {
			conns = max(conns, int(s.Target+0.5))
		}
	}
	env := &Env{
		Cfg:    cfg,
		Client: newHTTPClient(max(conns, cfg.CheckWorkers, cfg.SigninWorkers), cfg.Timeout),
		Rec:    newRecorder(sc.Classify),
		RunID:  hex.EncodeToString(id[:]),
		Logf:   logf,
	}

	prepStart := time.Now()
	if err := sc.Prepare(ctx, env); err != nil {
		return fmt.Errorf("preparing %s: %w", cfg.Scenario, err)
	}
	readers := newDetailReaders(env)
	if err := readers.Prepare(ctx); err != nil {
		return fmt.Errorf("preparing the detail readers: %w", err)
	}
	if !cfg.Quiet {
		logf("prepared in %s; %s for %s", time.Since(prepStart).Round(time.Millisecond), describeModel(cfg), cfg.Duration)
	}

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	startedAt := time.Now()
	cpu0 := cpuTime()
	readers.Start(ctx)
	elapsed := runLoad(ctx, env, sc)
	readers.Stop()
	cpu1 := cpuTime()
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}

	var check *CheckReport
	if ctx.Err() == nil {
		checkCtx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
		check, err = sc.Check(checkCtx, env)
		cancel()
		if err != nil {
			check = &CheckReport{Inconclusive: true, Lines: []string{"check failed: " + err.Error()}}
		}
	}

	rep := buildReport(cfg, env, startedAt, elapsed, cpu1.Sub(cpu0), check)
	rep.DetailReads = readers.Report()
	writeSummary(stdout, rep)
	if cfg.JSONPath != "" {
		if err := writeJSON(cfg.JSONPath, rep); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil:
		return &exitError{code: 1, msg: "interrupted"}
	case check != nil && (!check.OK || check.Inconclusive):
		return &exitError{code: 2, msg: "invariant check failed"}
	case cfg.FailOnUnexpected && rep.Unexpected > 0:
		return &exitError{code: 3, msg: fmt.Sprintf("%d unexpected answers", rep.Unexpected)}
	case cfg.FailOnUnexpected && rep.DetailReads != nil && rep.DetailReads.Unexpected > 0:
		return &exitError{code: 3, msg: fmt.Sprintf("%d unexpected detail reads", rep.DetailReads.Unexpected)}
	}
	return nil
}
