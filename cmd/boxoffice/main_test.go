package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/testdb"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{
		"BOXOFFICE_DATABASE_URL":            "postgres://x",
		"BOXOFFICE_REDIS_URL":               "http://x",
		"BOXOFFICE_JWT_SECRET":              "short",
		"BOXOFFICE_ADMIN_EMAIL":             "a@b.c",
		"BOXOFFICE_LOG_LEVEL":               "loud",
		"BOXOFFICE_LOG_FORMAT":              "xml",
		"BOXOFFICE_MIGRATE":                 "maybe",
		"BOXOFFICE_BCRYPT_COST":             "99",
		"BOXOFFICE_TOKEN_TTL":               "1s",
		"BOXOFFICE_SHUTDOWN_TIMEOUT":        "soon",
		"BOXOFFICE_LOGIN_WINDOW":            "15m", // no longer read
		"BOXOFFICE_DEVICE_TOKEN_TTL":        "1s",
		"BOXOFFICE_SIGNIN_RESERVED_WORKERS": "0",
		"BOXOFFICE_SIGNIN_RESERVED_QUEUE":   "many",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ADMIN_EMAIL", "LOG_LEVEL", "LOG_FORMAT", "MIGRATE", "BCRYPT_COST", "TOKEN_TTL", "SHUTDOWN_TIMEOUT", "LOGIN_WINDOW",
		"DEVICE_TOKEN_TTL", "SIGNIN_RESERVED_WORKERS", "SIGNIN_RESERVED_QUEUE"} {
		if !strings.Contains(err.Error(), "BOXOFFICE_"+name) {
			t.Errorf("error does not mention BOXOFFICE_%s:\n%v", name, err)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"serve"}, envOf(map[string]string{"BOXOFFICE_LOG_FORMAT": "xml"}), nil, &out, &out); err == nil || !strings.Contains(err.Error(), "configuration") {
		t.Fatalf("run with bad config: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "sqlite:boxoffice.db" || c.RedisURL != "" || !c.Migrate || c.JWTSecret != nil || c.LogLevel != slog.LevelInfo {
		t.Fatalf("defaults: %+v", c)
	}
}

// execute runs boxoffice with args as main does, in env (with a cheap
// bcrypt cost and quiet logs unless env sets them), and returns the exit
// status and what it wrote.
func execute(t *testing.T, env map[string]string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	full := map[string]string{"BOXOFFICE_BCRYPT_COST": "4", "BOXOFFICE_LOG_LEVEL": "warn"}
	maps.Copy(full, env)
	// A command that wrongly starts the server stops when ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = exitStatus(run(ctx, args, envOf(full), stdin, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// sqliteEnv returns an environment with a database file, not created yet,
// in a new directory, and that directory.
func sqliteEnv(t *testing.T) (map[string]string, string) {
	dir := t.TempDir()
	return map[string]string{
		"BOXOFFICE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "b.db"),
		"BOXOFFICE_ADDR":         "127.0.0.1:0",
	}, dir
}

// assertEmptyDir fails the test when a command left a file in dir.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the command created %s", e.Name())
	}
}

// TestHelp: every command prints its help for -h and --help on stdout and
// exits 0 without doing anything else (no database file appears), even when
// the configuration is invalid.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // in stdout, besides "usage: boxoffice"
	}{
		{[]string{"-h"}, []string{"commands:", "seed", "user create", "BOXOFFICE_DATABASE_URL"}},
		{[]string{"--help"}, []string{"commands:"}},
		{[]string{"help"}, []string{"commands:"}},
		{[]string{"serve", "-h"}, []string{"boxoffice [serve]", "--help", "BOXOFFICE_ADDR", "BOXOFFICE_REDIS_URL"}},
		{[]string{"serve", "--help"}, []string{"boxoffice [serve]"}},
		{[]string{"migrate", "-h"}, []string{"boxoffice migrate", "--help", "BOXOFFICE_DATABASE_URL"}},
		{[]string{"migrate", "--help"}, []string{"boxoffice migrate"}},
		{[]string{"seed", "-h"}, []string{"boxoffice seed", "--users N", "--force", "-hot-admit-per-minute", "BOXOFFICE_BCRYPT_COST"}},
		{[]string{"seed", "--help"}, []string{"boxoffice seed"}},
		{[]string{"seed", "--users", "5", "--help"}, []string{"boxoffice seed"}},
		{[]string{"user", "-h"}, []string{"boxoffice user", "create"}},
		{[]string{"user", "--help"}, []string{"boxoffice user"}},
		{[]string{"user", "create", "-h"}, []string{"boxoffice user create", "--admin", "--email EMAIL", "terminal", "BOXOFFICE_MIGRATE"}},
		{[]string{"user", "create", "--help"}, []string{"boxoffice user create"}},
		{[]string{"user", "create", "--admin", "--email", "a@example.com", "-h"}, []string{"boxoffice user create"}},
		{[]string{"version", "-h"}, []string{"boxoffice version"}},
		{[]string{"version", "--help"}, []string{"boxoffice version"}},
		{[]string{"help", "seed"}, []string{"boxoffice seed", "--force"}},
		{[]string{"help", "user", "create"}, []string{"boxoffice user create"}},
	} {
		for _, config := range []string{"valid", "invalid"} {
			t.Run(strings.Join(tc.args, " ")+"/"+config, func(t *testing.T) {
				env, dir := sqliteEnv(t)
				if config == "invalid" {
					env["BOXOFFICE_LOG_FORMAT"] = "xml"
				}
				// Stdin would give user create a password.
				code, stdout, stderr := execute(t, env, strings.NewReader("a-long-password\n"), tc.args...)
				if code != 0 || stderr != "" {
					t.Errorf("exit status %d, stderr %q; want 0 and nothing", code, stderr)
				}
				for _, want := range append([]string{"usage: boxoffice"}, tc.want...) {
					if !strings.Contains(stdout, want) {
						t.Errorf("stdout lacks %q:\n%s", want, stdout)
					}
				}
				assertEmptyDir(t, dir)
			})
		}
	}
}

// TestServeHelpListsEveryVariable: serve's help documents every variable
// the configuration reads.
func TestServeHelpListsEveryVariable(t *testing.T) {
	var names []string
	if _, err := loadConfig(func(name string) string { names = append(names, name); return "" }); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ := execute(t, nil, nil, "serve", "--help")
	for _, name := range names {
		if _, retired := retiredSettings[name]; !retired && !strings.Contains(stdout, name) {
			t.Errorf("serve --help does not mention %s", name)
		}
	}
}

// TestUsageErrors: unknown commands and flags, stray and missing arguments
// exit 2 with the usage on stderr, and do nothing.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr, besides the usage
	}{
		{[]string{"-x"}, "unknown flag -x"},
		{[]string{"--verbose"}, "unknown flag --verbose"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve", "--port", "80"}, "flag provided but not defined"},
		{[]string{"serve", "now"}, `unexpected argument "now"`},
		{[]string{"migrate", "-x"}, "flag provided but not defined: -x"},
		{[]string{"migrate", "up"}, `unexpected argument "up"`},
		{[]string{"seed", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"seed", "--users", "many"}, `invalid value "many"`},
		{[]string{"seed", "--users", "-1"}, "must not be negative"},
		{[]string{"seed", "--hot-queue", "--hot-admit-per-minute", "0"}, "must be at least 1"},
		{[]string{"user"}, "missing command: create"},
		{[]string{"user", "delete"}, `unknown command "delete"`},
		{[]string{"user", "--x"}, "flag provided but not defined"},
		{[]string{"user", "create"}, "--email is required"},
		{[]string{"user", "create", "--email"}, "flag needs an argument"},
		{[]string{"user", "create", "--email", "a@example.com", "--role", "admin"}, "flag provided but not defined: -role"},
		{[]string{"user", "create", "--email", "a@example.com", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "--short"}, "flag provided but not defined"},
		{[]string{"version", "1"}, `unexpected argument "1"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			env, dir := sqliteEnv(t)
			code, stdout, stderr := execute(t, env, strings.NewReader("a-long-password\n"), tc.args...)
			if code != 2 || stdout != "" {
				t.Errorf("exit status %d, stdout %q; want 2 and nothing", code, stdout)
			}
			for _, want := range []string{tc.want, "usage: boxoffice", "--help"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			assertEmptyDir(t, dir)
		})
	}
}

func TestCommands(t *testing.T) {
	env, dir := sqliteEnv(t)
	for _, tc := range []struct {
		args   []string
		env    map[string]string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"version"}, stdout: "boxoffice dev (commit unknown"},
		{args: []string{"--version"}, stdout: "boxoffice dev"},
		{args: []string{"migrate"}},
		{args: []string{"migrate"}}, // again: nothing to do
		{args: []string{"migrate"}, env: map[string]string{"BOXOFFICE_LOG_FORMAT": "xml"}, code: 1, stderr: "BOXOFFICE_LOG_FORMAT: must be text or json"},
		{args: []string{"serve"}, env: map[string]string{"BOXOFFICE_JWT_SECRET": "short"}, code: 1, stderr: "configuration:"},
		{args: []string{}, env: map[string]string{"BOXOFFICE_JWT_SECRET": "short"}, code: 1, stderr: "BOXOFFICE_JWT_SECRET"},
	} {
		e := maps.Clone(env)
		maps.Copy(e, tc.env)
		code, stdout, stderr := execute(t, e, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) || (tc.stderr == "") != (stderr == "") {
			t.Errorf("%v: exit status %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err != nil {
		t.Errorf("migrate made no database: %v", err)
	}
}

// TestSeed: the default data set is small; a database with events or users
// is refused, with a message that says how to go on, unless --force.
func TestSeed(t *testing.T) {
	type store interface {
		boxoffice.Store
		boxoffice.Seeder
	}
	open := func(t *testing.T, env map[string]string) store {
		cfg, err := loadConfig(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		s, err := openStore(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.(store)
	}
	for _, name := range []string{"sqlite", "mysql"} {
		t.Run(name, func(t *testing.T) {
			env, _ := sqliteEnv(t)
			if name == "mysql" {
				env["BOXOFFICE_DATABASE_URL"] = testdb.MySQLURL(t) // skips without BOXOFFICE_TEST_MYSQL_URL
			}
			code, stdout, stderr := execute(t, env, nil, "seed")
			if code != 0 || !strings.Contains(stdout, "hot_event_id=") || !strings.Contains(stdout, "hot_tier_id=") {
				t.Fatalf("seed: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			s := open(t, env)
			if _, err := s.UserByEmail(t.Context(), boxoffice.SeedUserEmail(9)); err != nil {
				t.Errorf("seeded user 9: %v", err)
			}
			if _, err := s.UserByEmail(t.Context(), boxoffice.SeedUserEmail(10)); !errors.Is(err, boxoffice.ErrNotFound) {
				t.Errorf("seeded user 10: %v; the default is 10 users", err)
			}
			if n := countEvents(t, s); n != 11 {
				t.Errorf("%d events; want 10 filler events and the hot one", n)
			}

			for _, tc := range []struct {
				args   []string
				code   int
				stdout string
				stderr string
			}{
				{[]string{"seed"}, 1, "", "already has events and users"},
				{[]string{"seed", "--users", "0", "--events", "0"}, 1, "", "boxoffice seed --force"},
				{[]string{"seed", "--force", "--users", "12", "--events", "3"}, 0, "hot_event_id=", ""},
			} {
				code, stdout, stderr := execute(t, env, nil, tc.args...)
				if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) || (tc.stdout == "") != (stdout == "") {
					t.Errorf("%v: exit status %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
				}
			}
			if n := countEvents(t, s); n != 11+4 {
				t.Errorf("%d events after the forced seed; want 15", n)
			}
			if _, err := s.UserByEmail(t.Context(), boxoffice.SeedUserEmail(11)); err != nil {
				t.Errorf("user 11 of the forced seed: %v", err)
			}
		})
	}

	// One user is enough to refuse.
	env, _ := sqliteEnv(t)
	if code, _, stderr := execute(t, env, strings.NewReader("a-long-password\n"), "user", "create", "--admin", "--email", "root@example.com"); code != 0 {
		t.Fatalf("user create: %d %s", code, stderr)
	}
	if code, stdout, stderr := execute(t, env, nil, "seed"); code != 1 || stdout != "" || !strings.Contains(stderr, "already has users. ") || !strings.Contains(stderr, "--force") {
		t.Errorf("seed of a database with an admin: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// countEvents counts the events of s.
func countEvents(t *testing.T, s boxoffice.Store) int {
	t.Helper()
	n := 0
	f := boxoffice.EventFilter{Limit: 100}
	for {
		page, err := s.ListEvents(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if len(page) < f.Limit {
			return n
		}
		f.AfterStartsAt, f.AfterID = page[len(page)-1].StartsAt, page[len(page)-1].ID
	}
}

// TestUserCreate: user create says whether it created or updated a user,
// and refuses an existing email without --admin.
func TestUserCreate(t *testing.T) {
	env, _ := sqliteEnv(t)
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(email string) *boxoffice.User {
		t.Helper()
		s, err := openStore(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		u, err := s.UserByEmail(t.Context(), email)
		if errors.Is(err, boxoffice.ErrNotFound) {
			return nil
		} else if err != nil {
			t.Fatal(err)
		}
		return u
	}
	var hash []byte // the password hash of fan@example.com after each step
	for _, tc := range []struct {
		args     []string
		stdin    string
		code     int
		stdout   string
		stderr   string
		role     boxoffice.Role // of fan@example.com afterwards ("": none)
		rehashed bool           // fan@example.com's password changed
	}{
		{[]string{"--email", "fan@example.com"}, "short\n", 1, "", "password", "", false},
		{[]string{"--email", "fan@example.com"}, "", 1, "", "no password on stdin", "", false},
		{[]string{"--email", "fan@example.com"}, "a-long-password\n", 0, "created user fan@example.com with role user (id ", "", boxoffice.RoleUser, true},
		{[]string{"--email", "Fan@Example.com"}, "another-password\n", 1, "", "user fan@example.com already exists (role user); nothing changed", boxoffice.RoleUser, false},
		{[]string{"--admin", "--email", "FAN@example.com", "--name", "Fan"}, "another-password\n", 0, "updated existing user fan@example.com: now admin, password changed", "", boxoffice.RoleAdmin, true},
		{[]string{"--admin", "--email", "fan@example.com"}, "a-third-password\r\nignored\n", 0, "updated existing user fan@example.com: still admin, password changed", "", boxoffice.RoleAdmin, true},
		{[]string{"--email", "fan@example.com"}, "a-long-password\n", 1, "", "already exists (role admin)", boxoffice.RoleAdmin, false},
		{[]string{"--admin", "--email", "root@example.com"}, "a-long-password", 0, "created user root@example.com with role admin (id ", "", boxoffice.RoleAdmin, false},
	} {
		args := append([]string{"user", "create"}, tc.args...)
		code, stdout, stderr := execute(t, env, strings.NewReader(tc.stdin), args...)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) || (tc.stdout == "") != (stdout == "") {
			t.Errorf("%v: exit status %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
		u := lookup("fan@example.com")
		switch {
		case u == nil && tc.role != "":
			t.Errorf("%v: no user fan@example.com", tc.args)
		case u != nil && u.Role != tc.role:
			t.Errorf("%v: role %q, want %q", tc.args, u.Role, tc.role)
		case u != nil:
			if rehashed := !bytes.Equal(u.PasswordHash, hash); rehashed != tc.rehashed {
				t.Errorf("%v: password changed: %v, want %v", tc.args, rehashed, tc.rehashed)
			}
			if u.Name != "fan" {
				t.Errorf("%v: name %q, want it kept", tc.args, u.Name)
			}
			hash = u.PasswordHash
		}
	}
}

// fakeTerminal answers password prompts with its lines.
type fakeTerminal struct{ lines []string }

func (f *fakeTerminal) IsTerminal(fd int) bool { return fd == 42 }

func (f *fakeTerminal) ReadPassword(ctx context.Context, fd int) ([]byte, error) {
	if len(f.lines) == 0 {
		return nil, io.EOF
	}
	line := f.lines[0]
	f.lines = f.lines[1:]
	return []byte(line), nil
}

// tty is a stdin that is the fake terminal.
type tty struct{ io.Reader }

func (tty) Fd() uintptr { return 42 }

// TestUserCreateTerminal: on a terminal, the password is asked for twice
// (the prompts on stderr) and both must match.
func TestUserCreateTerminal(t *testing.T) {
	env, _ := sqliteEnv(t)
	saved := terminal
	t.Cleanup(func() { terminal = saved })
	for _, tc := range []struct {
		email  string
		lines  []string
		code   int
		stdout string
		stderr string
	}{
		{"one@example.com", []string{"a-long-password", "a-long-passwort"}, 1, "", "the passwords do not match; nothing changed"},
		{"one@example.com", []string{"a-long-password"}, 1, "", "reading the password: EOF"},
		{"one@example.com", []string{"a-long-password", "a-long-password"}, 0, "created user one@example.com", ""},
	} {
		terminal = &fakeTerminal{lines: tc.lines}
		// What stdin would give is not read from a terminal.
		code, stdout, stderr := execute(t, env, tty{strings.NewReader("other-password\n")}, "user", "create", "--email", tc.email)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) || (tc.stdout == "") != (stdout == "") {
			t.Errorf("%v: exit status %d, stdout %q, stderr %q; want %d, %q, %q", tc.lines, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
		if !strings.Contains(stderr, "Password: ") {
			t.Errorf("%v: no prompt on stderr: %q", tc.lines, stderr)
		}
	}
	// The password is the one typed.
	in := startInstance(t, maps.Clone(env))
	if tok := signIn(t, in.url, "one@example.com", "a-long-password"); tok == "" {
		t.Error("cannot sign in with the password typed")
	}
}

// instance is a boxoffice server started by serve on a free port.
type instance struct {
	url string
	// metricsURL is the base URL of the metrics listener ("" with
	// metrics off).
	metricsURL string
	stop       func() error
}

// startInstance starts a server with env. Every client of these tests
// comes from one loopback address, so the rate limits that env does not
// set are off.
func startInstance(t *testing.T, env map[string]string) *instance {
	t.Helper()
	for _, name := range limitEnvs() {
		if _, ok := env[name]; !ok && strings.HasPrefix(name, "BOXOFFICE_LIMIT_") || name == "BOXOFFICE_STREAMS_PER_USER" && env[name] == "" {
			env[name] = "0"
		}
	}
	env["BOXOFFICE_ADDR"] = "127.0.0.1:0"
	if env["BOXOFFICE_METRICS_ADDR"] == "" {
		env["BOXOFFICE_METRICS_ADDR"] = "127.0.0.1:0"
	}
	if env["BOXOFFICE_LOG_LEVEL"] == "" {
		env["BOXOFFICE_LOG_LEVEL"] = "warn"
	}
	if env["BOXOFFICE_PAYMENTS"] == "" {
		env["BOXOFFICE_PAYMENTS"] = "test"
	}
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan boundAddrs, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(cfg, io.Discard), listening) }()
	var addrs boundAddrs
	select {
	case addrs = <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	in := &instance{url: "http://" + addrs.api, stop: sync.OnceValue(func() error { cancel(); return <-done })}
	if addrs.metrics != "" {
		in.metricsURL = "http://" + addrs.metrics
	}
	t.Cleanup(func() { _ = in.stop() })
	return in
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// doShed is do for calls that the bcrypt pool may shed: like a well-behaved
// client it retries a 429 after a pause (a loaded test machine can make
// hashes wait past the pool's limit).
func (c client) doShed(method, path string, body any, out any) int {
	c.t.Helper()
	for range 100 {
		if code := c.do(method, path, body, out); code != http.StatusTooManyRequests {
			return code
		}
		time.Sleep(100 * time.Millisecond)
	}
	return http.StatusTooManyRequests
}

// signIn returns an access token, or "" after reporting the failure (it
// may run in a goroutine, where t.Fatal must not be called).
func signIn(t *testing.T, base, email, password string) string {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := (client{t: t, base: base}).doShed("POST", "/api/v1/auth/token", map[string]string{"email": email, "password": password}, &tok); code != 200 {
		t.Errorf("sign-in: %d", code)
	}
	return tok.AccessToken
}

func TestServeAndDrain(t *testing.T) {
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL":   "sqlite:" + filepath.Join(t.TempDir(), "b.db"),
		"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":    "4",
	})
	c := client{t: t, base: in.url}
	if code := c.do("GET", "/readyz", nil, nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	c.token = signIn(t, in.url, "admin@example.com", "admin-secret-pw")
	var me struct{ Role string }
	if code := c.do("GET", "/api/v1/users/me", nil, &me); code != 200 || me.Role != "admin" {
		t.Fatalf("me: %d %+v", code, me)
	}
	if err := in.stop(); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// sharedEnv is the environment of one of several instances sharing the
// database at url and the JWT secret, with the admin admin@example.com
// (password admin-secret-pw).
func sharedEnv(url string) map[string]string {
	return map[string]string{
		"BOXOFFICE_DATABASE_URL":   url,
		"BOXOFFICE_JWT_SECRET":     "a-shared-secret-of-at-least-32-bytes!",
		"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":    "4",
	}
}

// TestThreeInstancesOneMariaDB: 2,000 buyers over three servers sharing one
// MariaDB and one JWT secret; exactly the capacity is sold.
func TestThreeInstancesOneMariaDB(t *testing.T) {
	url := testdb.MySQLURL(t)
	env := func() map[string]string { return sharedEnv(url) }
	var ins []*instance
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 3 { // start at once: migrations must be safe
		wg.Go(func() {
			in := startInstance(t, env())
			mu.Lock()
			ins = append(ins, in)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ins) != 3 {
		t.FailNow()
	}
	admin := client{t: t, base: ins[0].url, token: signIn(t, ins[0].url, "admin@example.com", "admin-secret-pw")}
	now := time.Now().UTC()
	var ev struct {
		ID    string
		Tiers []struct{ ID string }
	}
	code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Hot", "venue": "Arena", "starts_at": now.Add(time.Hour), "sales_start_at": now.Add(-time.Minute), "sales_end_at": now.Add(time.Hour),
		"max_tickets_per_user": 2, "tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 100, "currency": "USD"}, "capacity": 500}},
	}, &ev)
	if code != 201 {
		t.Fatalf("create event: %d", code)
	}
	// Buyers sign up through one instance and buy through another.
	const buyers = 2000
	tokens := make([]string, buyers)
	sem := make(chan struct{}, 16)
	for i := range tokens {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			base := ins[i%3].url
			email := fmt.Sprintf("b%d@example.com", i)
			if code := (client{t: t, base: base}).doShed("POST", "/api/v1/users", map[string]string{"email": email, "password": "stage-door-123", "name": "B"}, nil); code != 201 {
				t.Errorf("sign-up %d", code)
			}
			tokens[i] = signIn(t, ins[(i+1)%3].url, email, "stage-door-123")
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var created, soldOut atomic.Int64
	var ids sync.Map
	start := make(chan struct{})
	for i := range buyers {
		wg.Go(func() {
			<-start
			// A buyer whose hold answers 503 (the request's deadline passed
			// on a loaded host) or request_in_progress retries with the
			// same Idempotency-Key, as clients are told to: the retry is
			// answered with the first request's outcome.
			key := map[string]string{"Idempotency-Key": fmt.Sprintf("hold-%d", i)}
			for try := 0; ; try++ {
				var r struct{ ID, Code string }
				code := call(t, "POST", ins[(i+2+try)%3].url, "/api/v1/events/"+ev.ID+"/reservations", tokens[i], key,
					map[string]any{"tier_id": ev.Tiers[0].ID, "quantity": 1}, &r)
				if (code == 503 || r.Code == string(boxoffice.CodeRequestInProgress)) && try < 20 {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				switch code {
				case 201:
					created.Add(1)
					ids.Store(r.ID, i)
				case 409:
					soldOut.Add(1)
				default:
					t.Errorf("hold: status %d", code)
				}
				break
			}
		})
	}
	close(start)
	wg.Wait()
	if created.Load() != 500 || soldOut.Load() != buyers-500 {
		t.Fatalf("201: %d, 409: %d", created.Load(), soldOut.Load())
	}
	ids.Range(func(k, v any) bool {
		c := client{t: t, base: ins[v.(int)%3].url, token: tokens[v.(int)]}
		if code := c.do("GET", "/api/v1/reservations/"+k.(string), nil, nil); code != 200 {
			t.Errorf("acknowledged reservation %s: %d", k, code)
		}
		return true
	})
	var sales struct {
		Tiers []struct{ Capacity, Held, Confirmed, Available int }
	}
	if code := admin.do("GET", "/api/v1/events/"+ev.ID+"/sales", nil, &sales); code != 200 {
		t.Fatalf("sales %d", code)
	}
	if s := sales.Tiers[0]; s.Held != 500 || s.Available != 0 || s.Held+s.Confirmed+s.Available != s.Capacity {
		t.Fatalf("sales: %+v", s)
	}
}
