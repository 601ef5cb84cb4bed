package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"boxoffice"
)

// exitError is an error with the exit status it gives the process: 2 for a
// usage error (a bad flag or argument), whose usage is printed after the
// message, and 1 for any other failure.
type exitError struct {
	code  int
	err   error
	usage string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitStatus reports err on stderr as main does (with the usage after a
// usage error) and returns the process's exit status.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "boxoffice:", err)
	var e *exitError
	if errors.As(err, &e) {
		fmt.Fprint(stderr, e.usage)
		return e.code
	}
	return 1
}

// errHelpShown is returned by parseFlags after it printed the help: the
// command does nothing else and run returns nil.
var errHelpShown = errors.New("help shown")

// help describes a command for -h and --help.
type help struct {
	name  string   // the command's words after "boxoffice", e.g. "user create"
	usage string   // the usage line
	about string   // what it does
	env   []string // the environment variables that matter to it
}

// newFlagSet returns a flag set that prints nothing itself: parseFlags
// reports its errors and help.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses a command's arguments, which take no positional
// argument. For -h or --help it prints h to stdout and returns
// errHelpShown; a bad flag or a stray argument is a usage error.
func parseFlags(fs *flag.FlagSet, h help, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		h.write(stdout, fs)
		return errHelpShown
	case err != nil:
		return usageError(h, fs, "%v", err)
	case fs.NArg() > 0:
		return usageError(h, fs, "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// usageError is a usage error of the command h describes (exit status 2),
// followed on stderr by its usage line and flags.
func usageError(h help, fs *flag.FlagSet, format string, args ...any) error {
	var usage strings.Builder
	fmt.Fprintln(&usage, h.usage)
	writeFlags(&usage, fs)
	fmt.Fprintf(&usage, "Run 'boxoffice %s --help' for more.\n", h.name)
	return &exitError{code: 2, err: fmt.Errorf("%s: %s", h.name, fmt.Sprintf(format, args...)), usage: usage.String()}
}

// write prints the whole help: usage line, description, flags and
// environment variables.
func (h help) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\n%s\n", h.usage, strings.TrimSpace(h.about))
	if fs != nil {
		fmt.Fprintln(w)
		writeFlags(w, fs)
	}
	writeEnv(w, h.env)
}

// writeFlags lists fs's flags and -h, --help.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "flags:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	fmt.Fprintf(tw, "  -h, --help\tprint this help and exit\n")
	tw.Flush()
}

// writeEnv lists the environment variables names with their meaning.
func writeEnv(w io.Writer, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, "\nenvironment:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, name := range names {
		doc, ok := envDoc[name]
		if !ok {
			panic("no documentation for " + name)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, doc)
	}
	tw.Flush()
}

// envDoc documents the environment variables (README.md has the full
// table). Defaults are in parentheses.
var envDoc = map[string]string{
	"BOXOFFICE_ADDR":                    "listen address (:8080)",
	"BOXOFFICE_DATABASE_URL":            "sqlite:PATH or mysql://user:pass@host:port/dbname (sqlite:boxoffice.db)",
	"BOXOFFICE_REDIS_URL":               "redis://host:port/N shared by all instances; empty: in-process queue and cache, one instance only",
	"BOXOFFICE_JWT_SECRET":              "token signing key of at least 32 bytes, the same on every instance (random per start)",
	"BOXOFFICE_ADMIN_EMAIL":             "with BOXOFFICE_ADMIN_PASSWORD: an admin created or updated at start (unset)",
	"BOXOFFICE_ADMIN_PASSWORD":          "the password of BOXOFFICE_ADMIN_EMAIL (unset)",
	"BOXOFFICE_LOG_LEVEL":               "debug, info, warn or error; logs go to stderr (info)",
	"BOXOFFICE_LOG_FORMAT":              "text or json (text)",
	"BOXOFFICE_MIGRATE":                 "apply the migrations first (true)",
	"BOXOFFICE_TOKEN_TTL":               "access token lifetime (15m)",
	"BOXOFFICE_REFRESH_TTL":             "refresh token lifetime, renewed by each refresh (720h)",
	"BOXOFFICE_BCRYPT_COST":             "bcrypt cost of new password hashes, 4 to 16 (10)",
	"BOXOFFICE_DEVICE_TOKEN_TTL":        "how long the device token of a sign-in works (2160h)",
	"BOXOFFICE_SIGNIN_RESERVED_WORKERS": "password-hash workers kept for sign-ins with a device token, on top of the pool's (1)",
	"BOXOFFICE_SIGNIN_RESERVED_QUEUE":   "sign-ins with a device token that may wait for those workers (8)",
	"BOXOFFICE_STREAMS_PER_USER":        "waiting-room streams one user may keep open on one instance; 0: no cap (3)",
	"BOXOFFICE_TRUSTED_PROXIES":         "comma-separated CIDRs of the proxies whose X-Forwarded-For gives the client address (none)",
	"BOXOFFICE_CORS_ORIGINS":            "comma-separated origins of other sites' front ends that may call the API from browsers (exact origins send cookies; * any, without); empty: none",
	"BOXOFFICE_SMTP_URL":                "mail server, smtp://user:pass@host:port (STARTTLS when offered) or smtps://; unset: mail is logged, not sent",
	"BOXOFFICE_MAIL_FROM":               "sender of the mail, like Boxoffice <tickets@example.com> (required with BOXOFFICE_SMTP_URL)",
	"BOXOFFICE_PUBLIC_URL":              "public address of the site the mailed links point to (http://localhost:8080; required with BOXOFFICE_SMTP_URL)",
	"BOXOFFICE_MAIL_RETRY":              "delay after a failed mail delivery, doubled per failure up to 1h (30s)",
	"BOXOFFICE_WEBHOOKS_INSECURE":       "true accepts webhook endpoints at http://localhost and private addresses; development only, refused in production (false)",
	"BOXOFFICE_WEBHOOK_LEASE":           "how long an instance holds the webhook deliveries it claimed; those of an instance that died are sent again after it (1m)",
	"BOXOFFICE_ENV":                     "development or production; production refuses the test payment provider and a missing one (development)",
	"BOXOFFICE_PAYMENTS":                "payment provider: stripe, test (moves no money: for trying out and tests) or none (none)",
	"BOXOFFICE_STRIPE_SECRET_KEY":       "Stripe secret key, sk_live_… or sk_test_… (required with BOXOFFICE_PAYMENTS=stripe)",
	"BOXOFFICE_STRIPE_WEBHOOK_SECRET":   "signing secret of the Stripe webhook endpoint, whsec_… (required with BOXOFFICE_PAYMENTS=stripe)",
	"BOXOFFICE_STRIPE_PUBLISHABLE_KEY":  "Stripe publishable key, pk_… of the secret key's mode, given to Stripe.js by the checkout page (required with BOXOFFICE_PAYMENTS=stripe)",
	"BOXOFFICE_TEST_PAYMENTS_SECRET":    "with BOXOFFICE_PAYMENTS=test: the key of the test provider's signed callbacks, for load tests of the webhook path (unset: none taken)",
	"BOXOFFICE_STRIPE_API_BASE":         "Stripe API address, for tests against stripe-mock (Stripe's own)",
	"BOXOFFICE_SHUTDOWN_TIMEOUT":        "how long in-flight requests may take to finish on SIGTERM (20s)",
	"BOXOFFICE_REQUEST_TIMEOUT":         "most time a request may take before a 503; 0s: no bound (5s)",
	"BOXOFFICE_DRAIN_DELAY":             "on SIGTERM, how long /readyz answers 503 before the listener closes (0s)",
	"BOXOFFICE_PPROF_ADDR":              "serve net/http/pprof on this private address (unset)",
	"BOXOFFICE_HOLD_BATCH":              "most hold requests for one tier decided in one transaction (256)",
	"BOXOFFICE_HOLD_PARALLEL":           "hold transactions per tier in flight from this instance (1)",
	"BOXOFFICE_OPEN_ORGANIZERS":         "let every user with a verified email create organizers; false: only admins (false)",
	"BOXOFFICE_METRICS":                 "serve Prometheus metrics at /metrics on BOXOFFICE_METRICS_ADDR (true)",
	"BOXOFFICE_METRICS_ADDR":            "the private address of GET /metrics, never the public one (127.0.0.1:9464)",
	"BOXOFFICE_METRICS_INTERVAL":        "how often the gauges of the events on sale are refreshed (15s)",
	"BOXOFFICE_METRICS_MAX_EVENTS":      "most events on sale those gauges follow (50)",
	"GOGC":                              "unset: the server trades memory for less GC work (GC target 400%, GOMEMLIMIT still applies)",
}

func init() {
	for _, spec := range boxoffice.LimitSpecs() {
		envDoc[limitEnv(spec)] = spec.About + ", as MAX/WINDOW; 0: no limit (" + spec.Default.String() + ")"
	}
}

// limitEnvs are the variables of the rate limits.
func limitEnvs() []string {
	var names []string
	for _, spec := range boxoffice.LimitSpecs() {
		names = append(names, limitEnv(spec))
	}
	return append(names, "BOXOFFICE_STREAMS_PER_USER", "BOXOFFICE_TRUSTED_PROXIES")
}

// storeEnv are the variables that matter to the commands that only use the
// database.
var storeEnv = []string{"BOXOFFICE_DATABASE_URL", "BOXOFFICE_LOG_LEVEL", "BOXOFFICE_LOG_FORMAT"}
