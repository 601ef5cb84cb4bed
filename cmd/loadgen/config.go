package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is a run's configuration, from the command line.
type config struct {
	Targets     []*url.URL
	AllowRemote bool
	Scenario    string
	Duration    time.Duration
	Open        bool    // open model (arrival rate) rather than closed (VUs)
	Rate        float64 // open model: arrivals per second (when Stages is nil)
	VUs         int     // closed model: virtual users
	Workers     int     // open model: the fixed worker pool
	Stages      []stage // rate (open) or active-VU (closed) profile; overrides Rate
	Timeout     time.Duration

	Tokens        string // "minted" or "signin"
	JWTSecret     string
	Password      string
	Users         int
	SigninWorkers int

	EventID       string
	TierID        string
	HeldIDs       string // hold: check these 201s (files, a glob) instead of generating load
	TokensOut     string // write the users' Authorization headers here, one a line
	AdminEmail    string
	AdminPassword string

	CheckWorkers     int
	CheckTimeout     time.Duration
	FailOnUnexpected bool

	BrowsePages int

	HonorRetryAfter bool // signin: wait out Retry-After after a 429 or 503
	SigninXFF       int  // signin: X-Forwarded-For from this many addresses in turn (0: none)
	// SigninDeviceFile keeps the signin scenario's device tokens, one line
	// per user ("": none are sent).
	SigninDeviceFile string

	DetailReaders int    // extra closed-loop clients reading one event
	DetailEvent   string // the event they read

	MySQL   string
	Clients int

	JSONPath   string
	Quiet      bool
	CPUProfile string

	Stream  streamConfig  // the queue-stream scenario's flags
	Ceil    ceilingConfig // the ceilings' flags: -serve-bare, get, baseline-redis
	Onsale  onsaleConfig  // the onsale scenario's flags
	Mixed   mixedConfig   // the mixed scenario's flags
	Orders  orderConfig   // the order, checkout and webhook scenarios' flags
	Checkin checkinConfig // the checkin scenario's flags
}

// parseFlags parses args into a config and checks it.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	targets := fs.String("targets", "http://127.0.0.1:8080", "comma-separated base URLs, used round-robin")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow targets (and -mysql) that are not on loopback")
	fs.StringVar(&c.Scenario, "scenario", "hold", "scenario: "+strings.Join(scenarioNames(), " | "))
	fs.DurationVar(&c.Duration, "duration", 0, "hard bound on the load phase (default: the stages' total, else 30s)")
	fs.Float64Var(&c.Rate, "rate", 0, "open model: arrivals per second (a slow server cannot slow them down)")
	fs.IntVar(&c.VUs, "vus", 0, "closed model: virtual users, each looping without pause")
	fs.IntVar(&c.Workers, "workers", 256, "open model: size of the worker pool; arrivals finding no idle worker are dropped")
	stages := fs.String("stages", "", "profile of the rate (open model) or active VUs (closed model), e.g. 10s:1000,20s:5000,10s:0; ramps linearly from 0")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.Tokens, "tokens", "minted", "how to get user tokens: minted (needs -jwt-secret) or signin (POST /api/v1/auth/token)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "the server's BOXOFFICE_JWT_SECRET, for -tokens minted (default: $BOXOFFICE_JWT_SECRET)")
	fs.StringVar(&c.Password, "password", "password123", "password of the seeded users, for -tokens signin and the signin scenario")
	fs.IntVar(&c.Users, "users", 1000, "use seeded users 0..users-1")
	fs.IntVar(&c.SigninWorkers, "signin-workers", 8, "concurrent sign-ins when fetching tokens with -tokens signin")
	fs.StringVar(&c.EventID, "event", "", "hot event id (hold scenario; boxoffice seed prints it as hot_event_id=)")
	fs.StringVar(&c.TierID, "tier", "", "hot tier id (hold scenario; boxoffice seed prints it as hot_tier_id=)")
	fs.StringVar(&c.HeldIDs, "held-ids", "", "hold scenario: generate no load; check the reservations listed in these files instead (a glob; one id a line, as bench/wrk/hold.lua writes them)")
	fs.StringVar(&c.TokensOut, "tokens-out", "", "also write the seeded users' Authorization headers to this file, one a line (for another load client such as bench/wrk/hold.lua)")
	fs.StringVar(&c.AdminEmail, "admin-email", "", "admin email, for the invariant check's sales view")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "admin password")
	fs.IntVar(&c.CheckWorkers, "check-workers", 16, "concurrency of the invariant check")
	fs.DurationVar(&c.CheckTimeout, "check-timeout", 2*time.Minute, "bound on the invariant check")
	fs.BoolVar(&c.FailOnUnexpected, "fail-on-unexpected", false, "exit non-zero when any unexpected answer occurred")
	fs.IntVar(&c.BrowsePages, "browse-pages", 3, "browse scenario: at most this many list pages per iteration")
	fs.BoolVar(&c.HonorRetryAfter, "honor-retry-after", false, "signin scenario: after a 429 or 503, wait as long as Retry-After says before the next sign-in")
	fs.StringVar(&c.SigninDeviceFile, "signin-device-file", "", "signin scenario: present each user's device token from this file (line i: user i; read at start when it exists) with each sign-in, keep the fresh one each 200 answers, and write them back at the end; empty sends none")
	fs.IntVar(&c.SigninXFF, "signin-xff", 0, "signin scenario: send each sign-in with X-Forwarded-For set to the next of this many distinct addresses (10.0.0.1, 10.0.0.2, …), as a trusted proxy would; 0 sends none")
	fs.IntVar(&c.DetailReaders, "detail-readers", 0, "also run this many closed-loop clients reading GET /api/v1/events/{-detail-event} during the load, reported separately")
	fs.StringVar(&c.DetailEvent, "detail-event", "", "the event the -detail-readers read (boxoffice seed prints it as hot_event_id=)")
	fs.StringVar(&c.MySQL, "mysql", "", "baseline-sql: mysql://user:pass@host:port/dbname")
	fs.IntVar(&c.Clients, "clients", 16, "baseline-sql: database connections (= VUs in the closed model, workers in the open one)")
	fs.StringVar(&c.JSONPath, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the load phase to this file")
	addStreamFlags(fs, &c.Stream)
	addCeilingFlags(fs, &c.Ceil)
	addOnsaleFlags(fs, &c.Onsale)
	addMixedFlags(fs, &c.Mixed)
	addOrderFlags(fs, &c.Orders)
	addCheckinFlags(fs, &c.Checkin)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var errs []error
	if _, ok := scenarios[c.Scenario]; !ok {
		errs = append(errs, fmt.Errorf("-scenario %q: want one of %s", c.Scenario, strings.Join(scenarioNames(), ", ")))
	}
	if *stages != "" {
		st, err := parseStages(*stages)
		if err != nil {
			errs = append(errs, fmt.Errorf("-stages: %w", err))
		}
		c.Stages = st
	}
	if c.Rate < 0 || c.VUs < 0 {
		errs = append(errs, errors.New("-rate and -vus must not be negative"))
	}
	if c.Rate > 0 && c.VUs > 0 {
		errs = append(errs, errors.New("use either -rate (open model) or -vus (closed model), not both"))
	}
	if c.Scenario == "queue-stream" {
		errs = append(errs, checkStreamFlags(c))
	}
	c.Open = c.Rate > 0 || (c.Stages != nil && c.VUs == 0)
	if check := scenarios[c.Scenario].CheckFlags; check != nil {
		errs = append(errs, check(c, set))
	}
	if c.Scenario == "baseline-sql" {
		if c.MySQL == "" {
			errs = append(errs, errors.New("-mysql is required for baseline-sql"))
		} else if err := checkMySQLHost(c.MySQL, c.AllowRemote); err != nil {
			errs = append(errs, err)
		}
		if c.Clients < 1 {
			errs = append(errs, errors.New("-clients must be at least 1"))
		}
		switch {
		case c.Open && !set["workers"]:
			c.Workers = c.Clients
		case !c.Open && c.VUs == 0:
			c.VUs = c.Clients
		}
	} else {
		for s := range strings.SplitSeq(*targets, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			u, err := parseTarget(s, c.AllowRemote)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.Targets = append(c.Targets, u)
		}
		if len(c.Targets) == 0 {
			errs = append(errs, errors.New("-targets: no target"))
		}
	}
	if !c.Open && c.VUs == 0 {
		errs = append(errs, errors.New("give -rate (open model), -vus (closed model) or -stages"))
	}
	if c.Workers < 1 {
		errs = append(errs, errors.New("-workers must be at least 1"))
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
		if c.Stages != nil {
			c.Duration = totalDuration(c.Stages)
		}
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("-duration must be positive"))
	}
	if c.Users < 1 {
		errs = append(errs, errors.New("-users must be at least 1"))
	}
	if c.JWTSecret == "" {
		c.JWTSecret = os.Getenv("BOXOFFICE_JWT_SECRET")
	}
	switch c.Tokens {
	case "minted":
		if c.JWTSecret == "" && scenarioNeedsUsers(c.Scenario) && c.HeldIDs == "" {
			errs = append(errs, errors.New("-tokens minted needs -jwt-secret (or BOXOFFICE_JWT_SECRET)"))
		}
	case "signin":
	default:
		errs = append(errs, fmt.Errorf("-tokens %q: want minted or signin", c.Tokens))
	}
	if c.Scenario == "hold" && (c.EventID == "" || c.TierID == "") {
		errs = append(errs, errors.New("the hold scenario needs -event and -tier"))
	}
	if c.HeldIDs != "" && (c.Scenario != "hold" || c.AdminEmail == "") {
		errs = append(errs, errors.New("-held-ids is for the hold scenario and needs -admin-email (the reservations are read as the admin)"))
	}
	if c.SigninXFF < 0 || c.SigninXFF > maxSigninXFF || (c.SigninXFF > 0 && c.Scenario != "signin") {
		errs = append(errs, fmt.Errorf("-signin-xff is for the signin scenario, 0..%d", maxSigninXFF))
	}
	if c.SigninDeviceFile != "" && c.Scenario != "signin" {
		errs = append(errs, errors.New("-signin-device-file is for the signin scenario"))
	}
	if c.DetailReaders < 0 {
		errs = append(errs, errors.New("-detail-readers must not be negative"))
	}
	if c.DetailReaders > 0 && (c.DetailEvent == "" || c.Scenario == "baseline-sql") {
		errs = append(errs, errors.New("-detail-readers needs -detail-event and an HTTP scenario"))
	}
	if c.CheckWorkers < 1 {
		c.CheckWorkers = 1
	}
	return c, errors.Join(errs...)
}

// stage is one leg of a load profile: over Duration, the target moves
// linearly from the previous stage's Target (0 before the first) to Target.
type stage struct {
	Duration time.Duration
	Target   float64
}

// parseStages parses "10s:1000,20s:5000,10s:0".
func parseStages(s string) ([]stage, error) {
	var out []stage
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		d, t, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want DURATION:TARGET", part)
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("stage %q: bad duration", part)
		}
		target, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || target < 0 || target != target {
			return nil, fmt.Errorf("stage %q: bad target", part)
		}
		out = append(out, stage{Duration: dur, Target: target})
	}
	if totalDuration(out) <= 0 {
		return nil, errors.New("the stages last no time")
	}
	return out, nil
}

// totalDuration is the length of a profile.
func totalDuration(st []stage) time.Duration {
	var d time.Duration
	for _, s := range st {
		d += s.Duration
	}
	return d
}

// profile gives the target (rate or VUs) at each moment of a run, and for a
// rate the number of arrivals due so far (its integral).
type profile struct {
	constant float64 // used when stages is nil
	stages   []stage
}

// at returns the target at elapsed time t.
func (p profile) at(t time.Duration) float64 {
	if p.stages == nil {
		return p.constant
	}
	prev := 0.0
	for _, s := range p.stages {
		if t < s.Duration {
			return prev + (s.Target-prev)*float64(t)/float64(s.Duration)
		}
		t -= s.Duration
		prev = s.Target
	}
	return prev
}

// arrivals returns how many arrivals are due in [0, t): the integral of the
// rate.
func (p profile) arrivals(t time.Duration) float64 {
	if p.stages == nil {
		return p.constant * t.Seconds()
	}
	total, prev := 0.0, 0.0
	for _, s := range p.stages {
		if t <= s.Duration {
			end := prev + (s.Target-prev)*float64(t)/float64(max(s.Duration, 1))
			return total + (prev+end)/2*t.Seconds()
		}
		total += (prev + s.Target) / 2 * s.Duration.Seconds()
		t -= s.Duration
		prev = s.Target
	}
	return total + prev*t.Seconds()
}

// parseTarget parses a base URL and refuses hosts off loopback unless
// allowRemote.
func parseTarget(s string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-targets: %q is not an http(s) base URL", s)
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("-targets: %q is not on loopback; pass -allow-remote to load a remote host", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// checkMySQLHost applies the loopback rule to a mysql:// URL.
func checkMySQLHost(s string, allowRemote bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "mysql" || u.Host == "" {
		return fmt.Errorf("-mysql %q: want mysql://user:pass@host:port/dbname", redactURL(s))
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return fmt.Errorf("-mysql: host %q is not on loopback; pass -allow-remote", u.Hostname())
	}
	return nil
}

// isLoopback reports whether host is a loopback IP literal or localhost.
// Other names are not resolved: a name that resolves to loopback today may
// not tomorrow, so they count as remote.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().IsLoopback()
	}
	return false
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// endpoint returns base with elem appended to its path. Unlike
// url.URL.JoinPath alone, the path always starts with a slash, which the
// request line needs when requests are built without url.Parse.
func endpoint(base *url.URL, elem ...string) *url.URL {
	u := base.JoinPath(elem...)
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
		if u.RawPath != "" {
			u.RawPath = "/" + u.RawPath
		}
	}
	return u
}
