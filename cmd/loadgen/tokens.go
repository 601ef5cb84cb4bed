package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
)

// loadUserTokens fills env.Auth with an Authorization header for seeded
// users 0..cfg.Users-1: minted locally with the server's secret (cheap, and
// no load on the server) or obtained by real sign-ins (one bcrypt check on
// the server each, so this takes a while for many users).
func loadUserTokens(ctx context.Context, env *Env) error {
	if err := fetchUserTokens(ctx, env); err != nil {
		return err
	}
	if env.Cfg.TokensOut != "" {
		return writeTokens(env.Cfg.TokensOut, env.Auth)
	}
	return nil
}

// writeTokens writes one Authorization header value a line.
func writeTokens(path string, auth [][]string) error {
	var b bytes.Buffer
	for _, a := range auth {
		b.WriteString(a[0])
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

func fetchUserTokens(ctx context.Context, env *Env) error {
	cfg := env.Cfg
	env.Auth = make([][]string, cfg.Users)
	if cfg.Tokens == "minted" {
		ttl := cfg.Duration + cfg.CheckTimeout + time.Hour
		tokens := auth.NewTokens([]byte(cfg.JWTSecret), ttl)
		for i := range cfg.Users {
			tok, _, err := tokens.Issue(&boxoffice.User{ID: boxoffice.SeedUserID(i), Role: boxoffice.RoleUser})
			if err != nil {
				return err
			}
			env.Auth[i] = []string{"Bearer " + tok}
		}
		return nil
	}

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, cfg.SigninWorkers)
	for w := range cfg.SigninWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Users || ctx.Err() != nil {
					return
				}
				tok, err := signIn(ctx, env.Client, cfg.Targets[i%len(cfg.Targets)], boxoffice.SeedUserEmail(i), cfg.Password)
				if err != nil {
					errs[w] = fmt.Errorf("signing in %s: %w", boxoffice.SeedUserEmail(i), err)
					next.Store(int64(cfg.Users)) // stop everyone
					return
				}
				env.Auth[i] = []string{"Bearer " + tok}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !cfg.Quiet {
		env.Logf("signed in %d users in %s", cfg.Users, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// loadAdminToken signs the admin in, when -admin-email is given.
func loadAdminToken(ctx context.Context, env *Env) error {
	cfg := env.Cfg
	if cfg.AdminEmail == "" {
		return nil
	}
	tok, err := signIn(ctx, env.Client, cfg.Targets[0], cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("signing in the admin: %w", err)
	}
	env.AdminAuth = []string{"Bearer " + tok}
	return nil
}

// signIn exchanges an email and password for an access token via
// POST /api/v1/auth/token.
func signIn(ctx context.Context, client *http.Client, target *url.URL, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(target, "/api/v1/auth/token").String(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	status, resp, err := doJSON(client, req)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("status %d (%s)", status, problemCode(resp))
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("no access_token in the answer")
	}
	return out.AccessToken, nil
}

// doJSON performs an ordinary (not hot-path) request and returns the
// status and the whole body.
func doJSON(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// requestJSON performs an ordinary request with auth (nil for none), a JSON
// body (nil for none) and an Idempotency-Key ("" for none), and returns the
// status and the whole body.
func requestJSON(ctx context.Context, env *Env, method string, u *url.URL, auth []string, body []byte, key string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, err
	}
	if auth != nil {
		req.Header["Authorization"] = auth
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return doJSON(env.Client, req)
}
