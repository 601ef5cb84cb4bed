package main

import (
	"context"
	"slices"
)

// Scenario is one kind of load. Each lives in its own file and registers
// itself from an init function, so adding one (signin, onsale, mixed) means
// adding one file.
type Scenario interface {
	// Prepare runs once before the load: tokens, lookups, scratch tables.
	Prepare(ctx context.Context, env *Env) error
	// Iterate does one unit of work (one arrival in the open model, one
	// loop turn of a virtual user in the closed one) on worker w,
	// recording every request it makes through w. It must return soon
	// after ctx ends.
	Iterate(ctx context.Context, w *Worker)
	// Classify says how an answer counts. status is the HTTP status (0
	// for a transport error or a non-HTTP scenario) and code the problem
	// code, transport error kind or scenario-defined outcome.
	Classify(op string, status int, code string) Class
	// Check runs after the load and verifies the scenario's invariants.
	// It returns a report (nil when the scenario has nothing to check);
	// report.OK false means an invariant was violated.
	Check(ctx context.Context, env *Env) (*CheckReport, error)
	// Close releases what Prepare acquired.
	Close() error
}

// scenarioInfo describes a registered scenario.
type scenarioInfo struct {
	// New makes the scenario for a configuration.
	New func(cfg *config) Scenario
	// NeedsUsers says whether the scenario acts as seeded users (and so
	// needs tokens).
	NeedsUsers bool
	// CheckFlags, when set, checks the scenario's own flags after parsing
	// and fills in defaults that depend on other flags; set holds the
	// names of the flags given on the command line.
	CheckFlags func(c *config, set map[string]bool) error
}

// finisher is implemented by a scenario whose work can run out before the
// run's duration (onsale: every buyer has had their journey). The load
// phase ends as soon as Finished's channel is closed.
type finisher interface {
	Finished() <-chan struct{}
}

// scenarios holds every registered scenario by name.
var scenarios = map[string]scenarioInfo{}

// register adds a scenario; call it from an init function.
func register(name string, info scenarioInfo) {
	if _, dup := scenarios[name]; dup {
		panic("loadgen: scenario " + name + " registered twice")
	}
	scenarios[name] = info
}

// scenarioNames lists the registered scenarios, sorted.
func scenarioNames() []string {
	var names []string
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// scenarioNeedsUsers reports whether the named scenario needs user tokens.
func scenarioNeedsUsers(name string) bool { return scenarios[name].NeedsUsers }

// CheckReport is the outcome of a scenario's invariant check.
type CheckReport struct {
	OK bool `json:"ok"`
	// Inconclusive is set when the check could not finish (timeouts,
	// transport errors); it also makes the run fail.
	Inconclusive bool     `json:"inconclusive,omitempty"`
	Lines        []string `json:"lines"`
	Details      any      `json:"details,omitempty"`
}
