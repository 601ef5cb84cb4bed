package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"boxoffice/internal/testdb"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{
		"BOXOFFICE_DATABASE_URL":     "postgres://x",
		"BOXOFFICE_REDIS_URL":        "http://x",
		"BOXOFFICE_JWT_SECRET":       "short",
		"BOXOFFICE_ADMIN_EMAIL":      "a@b.c",
		"BOXOFFICE_LOG_LEVEL":        "loud",
		"BOXOFFICE_LOG_FORMAT":       "xml",
		"BOXOFFICE_MIGRATE":          "maybe",
		"BOXOFFICE_BCRYPT_COST":      "99",
		"BOXOFFICE_TOKEN_TTL":        "1s",
		"BOXOFFICE_SHUTDOWN_TIMEOUT": "soon",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ADMIN_EMAIL", "LOG_LEVEL", "LOG_FORMAT", "MIGRATE", "BCRYPT_COST", "TOKEN_TTL", "SHUTDOWN_TIMEOUT"} {
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

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"BOXOFFICE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "b.db"), "BOXOFFICE_BCRYPT_COST": "4", "BOXOFFICE_LOG_LEVEL": "error"})
	var out bytes.Buffer
	for _, args := range [][]string{{"version"}, {"help"}, {"migrate"}} {
		if err := run(t.Context(), args, env, nil, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if !strings.Contains(out.String(), "boxoffice dev") {
		t.Errorf("version output: %q", out.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"user", "create", "--admin", "--email", "root@example.com"}, env, strings.NewReader("a-long-password\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "role admin") {
		t.Errorf("user create output: %q", out.String())
	}
	if err := run(t.Context(), []string{"user", "create", "--email", "fan@example.com"}, env, strings.NewReader("short\n"), &out, io.Discard); err == nil {
		t.Error("short password accepted")
	}
	if err := run(t.Context(), []string{"user", "delete"}, env, nil, &out, io.Discard); err == nil {
		t.Error("unknown user subcommand accepted")
	}
	if err := run(t.Context(), []string{"frobnicate"}, env, nil, &out, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
	out.Reset()
	if err := run(t.Context(), []string{"seed", "-users", "50", "-events", "200"}, env, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "hot_tier_id=") {
		t.Errorf("seed output: %q", out.String())
	}
}

// instance is a boxoffice server started by serve on a free port.
type instance struct {
	url  string
	stop func() error
}

func startInstance(t *testing.T, env map[string]string) *instance {
	t.Helper()
	env["BOXOFFICE_ADDR"] = "127.0.0.1:0"
	if env["BOXOFFICE_LOG_LEVEL"] == "" {
		env["BOXOFFICE_LOG_LEVEL"] = "warn"
	}
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(cfg, io.Discard), listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	in := &instance{url: "http://" + addr, stop: sync.OnceValue(func() error { cancel(); return <-done })}
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

// TestThreeInstancesOneMariaDB: 2,000 buyers over three servers sharing one
// MariaDB and one JWT secret; exactly the capacity is sold.
func TestThreeInstancesOneMariaDB(t *testing.T) {
	url := testdb.MySQLURL(t)
	env := func() map[string]string {
		return map[string]string{
			"BOXOFFICE_DATABASE_URL":   url,
			"BOXOFFICE_JWT_SECRET":     "a-shared-secret-of-at-least-32-bytes!",
			"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
			"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
			"BOXOFFICE_BCRYPT_COST":    "4",
		}
	}
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
			if code := (client{t: t, base: base}).doShed("POST", "/api/v1/users", map[string]string{"email": email, "password": "password-123", "name": "B"}, nil); code != 201 {
				t.Errorf("sign-up %d", code)
			}
			tokens[i] = signIn(t, ins[(i+1)%3].url, email, "password-123")
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
			c := client{t: t, base: ins[(i+2)%3].url, token: tokens[i]}
			var r struct{ ID string }
			switch code := c.do("POST", "/api/v1/events/"+ev.ID+"/reservations", map[string]any{"tier_id": ev.Tiers[0].ID, "quantity": 1}, &r); code {
			case 201:
				created.Add(1)
				ids.Store(r.ID, i)
			case 409:
				soldOut.Add(1)
			default:
				t.Errorf("hold: status %d", code)
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
