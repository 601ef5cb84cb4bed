package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"boxoffice"
)

// The toxiproxy server the suite runs when BOXOFFICE_TOXIPROXY does not
// name one: built once with go install into the tools cache, as .ci/run
// builds its tools.
const toxiproxyVersion = "v2.5.0"

const (
	jwtSecret     = "fault-suite-secret-0123456789abcdefghij"
	adminEmail    = "admin@faults.test"
	adminPassword = "admin-password-123"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls ok every 50 ms until it holds or d has passed, and reports
// whether it held.
func waitFor(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dials says whether something accepts connections at addr.
func dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// proc is a process the suite started; stop ends it (SIGKILL) and waits.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start starts name with args and env (added to the suite's environment),
// its output going to log. The test's cleanup kills it.
func start(t *testing.T, name, log string, env []string, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL (after a SIGCONT, in case it was
// stopped) and waits for it, at most 10 s.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// suite is what every scenario shares: the binaries, the suite's own
// MariaDB and toxiproxy, and a directory for logs.
type suite struct {
	dir                 string
	boxoffice, loadgen  string
	mariadb             *proc
	mariadbPort         int
	toxi                *toxiproxy.Client
	dbProxy, redisProxy *toxiproxy.Proxy
	dbProxyPort         int
	redisProxyPort      int
}

// repoRoot is the module's root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goBuild builds pkg (relative to the module root) into dir.
func goBuild(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// toxiproxyServer returns the path of the toxiproxy server: BOXOFFICE_TOXIPROXY,
// or the one in the tools cache, built there with go install if missing.
func toxiproxyServer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BOXOFFICE_TOXIPROXY"); p != "" {
		return p
	}
	tools := os.Getenv("BOXOFFICE_TOOLS")
	if tools == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		tools = filepath.Join(cache, "boxoffice-tools")
	}
	dir := filepath.Join(tools, "toxiproxy-"+toxiproxyVersion)
	bin := filepath.Join(dir, "server")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building the toxiproxy server %s into %s (once)", toxiproxyVersion, dir)
	cmd := exec.Command("go", "install", "github.com/Shopify/toxiproxy/v2/cmd/server@"+toxiproxyVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building toxiproxy (set BOXOFFICE_TOXIPROXY to a toxiproxy server binary): %v\n%s", err, b)
	}
	return bin
}

// startMariaDB initialises a data directory under dir and starts a
// MariaDB of the suite's own on a free port, without grant checks (it
// listens on loopback only and lives as long as the test).
func (s *suite) startMariaDB(t *testing.T) {
	t.Helper()
	data := filepath.Join(s.dir, "mariadb")
	args := []string{"--no-defaults", "--auth-root-authentication-method=normal", "--datadir=" + data,
		"--skip-test-db", "--skip-name-resolve"}
	var asUser []string
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		asUser = []string{"--user=root"}
	}
	cmd := exec.Command("mariadb-install-db", append(args, asUser...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, b)
	}
	s.mariadbPort = freePort(t)
	s.mariadb = start(t, "mariadb", filepath.Join(s.dir, "mariadb.log"), nil, "/usr/sbin/mariadbd",
		append([]string{"--no-defaults", "--datadir=" + data, "--port=" + fmt.Sprint(s.mariadbPort),
			"--bind-address=127.0.0.1", "--socket=" + filepath.Join(s.dir, "mariadb.sock"),
			"--skip-grant-tables", "--skip-name-resolve", "--max-connections=1000",
			"--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin"}, asUser...)...)
	addr := fmt.Sprintf("127.0.0.1:%d", s.mariadbPort)
	if !waitFor(60*time.Second, func() bool { return s.mariadb.exited() || dials(addr) }) || s.mariadb.exited() {
		b, _ := os.ReadFile(filepath.Join(s.dir, "mariadb.log"))
		t.Fatalf("the suite's MariaDB did not start:\n%s", b)
	}
}

// setup builds the binaries and starts MariaDB and toxiproxy with one
// proxy for MariaDB and one for Redis (whose upstream each scenario sets).
func setup(t *testing.T) *suite {
	t.Helper()
	s := &suite{dir: t.TempDir()}
	s.boxoffice = goBuild(t, s.dir, "cmd/boxoffice")
	s.loadgen = goBuild(t, s.dir, "cmd/loadgen")
	s.startMariaDB(t)

	apiPort := freePort(t)
	toxi := start(t, "toxiproxy", filepath.Join(s.dir, "toxiproxy.log"), []string{"LOG_LEVEL=warn"},
		toxiproxyServer(t), "-host", "127.0.0.1", "-port", fmt.Sprint(apiPort))
	api := fmt.Sprintf("127.0.0.1:%d", apiPort)
	if !waitFor(20*time.Second, func() bool { return toxi.exited() || dials(api) }) || toxi.exited() {
		t.Fatal("toxiproxy did not start")
	}
	s.toxi = toxiproxy.NewClient(api)
	var err error
	s.dbProxyPort, s.redisProxyPort = freePort(t), freePort(t)
	s.dbProxy, err = s.toxi.CreateProxy("mariadb", fmt.Sprintf("127.0.0.1:%d", s.dbProxyPort), fmt.Sprintf("127.0.0.1:%d", s.mariadbPort))
	if err != nil {
		t.Fatal(err)
	}
	// The Redis upstream is set per scenario; until then it points nowhere.
	s.redisProxy, err = s.toxi.CreateProxy("redis", fmt.Sprintf("127.0.0.1:%d", s.redisProxyPort), fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mysql runs SQL statements against the suite's MariaDB directly (not
// through the proxy).
func (s *suite) mysql(t *testing.T, stmt string) {
	t.Helper()
	cmd := exec.Command("mariadb", "-h127.0.0.1", fmt.Sprintf("-P%d", s.mariadbPort), "-uroot", "-e", stmt)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb %q: %v\n%s", stmt, err, b)
	}
}

// redis is one redis-server process of a scenario, on a fixed port so
// that it can be restarted (empty: no persistence) behind the proxy.
type redis struct {
	t    *testing.T
	s    *suite
	port int
	n    int
	p    *proc
}

// startRedis starts an empty Redis without persistence on r.port.
func (r *redis) start() {
	r.t.Helper()
	r.n++
	r.p = start(r.t, "redis", filepath.Join(r.s.dir, fmt.Sprintf("redis-%d-%d.log", r.port, r.n)), nil, "redis-server",
		"--bind", "127.0.0.1", "--port", fmt.Sprint(r.port), "--save", "", "--appendonly", "no")
	addr := fmt.Sprintf("127.0.0.1:%d", r.port)
	if !waitFor(10*time.Second, func() bool { return r.p.exited() || dials(addr) }) || r.p.exited() {
		r.t.Fatalf("redis-server on %s did not start", addr)
	}
}

// instance is one boxoffice server.
type instance struct {
	url     string
	metrics string // its private metrics listener's /metrics
	p       *proc
}

// startInstances starts n boxoffice instances on free ports, every
// database and Redis connection through the proxies, and waits until each
// answers /readyz.
func (s *suite) startInstances(t *testing.T, db string, n int) []*instance {
	t.Helper()
	var out []*instance
	for i := range n {
		port, metricsPort := freePort(t), freePort(t)
		env := []string{
			"BOXOFFICE_ADDR=" + fmt.Sprintf("127.0.0.1:%d", port),
			"BOXOFFICE_DATABASE_URL=" + fmt.Sprintf("mysql://root@127.0.0.1:%d/%s", s.dbProxyPort, db),
			"BOXOFFICE_REDIS_URL=" + fmt.Sprintf("redis://127.0.0.1:%d/0", s.redisProxyPort),
			"BOXOFFICE_JWT_SECRET=" + jwtSecret, "BOXOFFICE_ADMIN_EMAIL=" + adminEmail, "BOXOFFICE_ADMIN_PASSWORD=" + adminPassword,
			"BOXOFFICE_MIGRATE=false", "BOXOFFICE_LOG_LEVEL=warn", "BOXOFFICE_SHUTDOWN_TIMEOUT=10s",
			"BOXOFFICE_METRICS=true", "BOXOFFICE_METRICS_ADDR=" + fmt.Sprintf("127.0.0.1:%d", metricsPort),
			"BOXOFFICE_PAYMENTS=test",
		}
		env = append(env, noRateLimits()...)
		p := start(t, fmt.Sprintf("boxoffice-%d", i), filepath.Join(s.dir, fmt.Sprintf("%s-bo%d.log", db, i)), env, s.boxoffice, "serve")
		out = append(out, &instance{url: fmt.Sprintf("http://127.0.0.1:%d", port), metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), p: p})
	}
	for i, in := range out {
		if !waitFor(30*time.Second, func() bool { return in.p.exited() || httpOK(in.url+"/readyz") }) || in.p.exited() {
			b, _ := os.ReadFile(filepath.Join(s.dir, fmt.Sprintf("%s-bo%d.log", db, i)))
			t.Fatalf("instance %d did not become ready:\n%s", i, b)
		}
	}
	return out
}

// httpOK says whether GET url answers 200 within a second.
func httpOK(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// api sends a JSON request to base with an optional bearer token and
// decodes a 2xx answer into out.
func api(ctx context.Context, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// errGone is returned by onLive when no instance answers.
var errGone = errors.New("no instance answered")

// onLive calls f with each instance's base URL in turn until one returns
// nil.
func onLive(ins []*instance, f func(base string) error) error {
	err := errGone
	for _, in := range ins {
		if in.p.exited() {
			continue
		}
		if err = f(in.url); err == nil {
			return nil
		}
	}
	return err
}

// noRateLimits turns every rate limit off: the suite's buyers all come from
// 127.0.0.1, where the per-address limits would stop them as one crowd.
func noRateLimits() []string {
	env := []string{"BOXOFFICE_STREAMS_PER_USER=0"}
	for _, spec := range boxoffice.LimitSpecs() {
		env = append(env, "BOXOFFICE_LIMIT_"+strings.ToUpper(spec.Key)+"=0")
	}
	return env
}
