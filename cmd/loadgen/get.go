package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

func init() {
	register("get", scenarioInfo{New: newGet, CheckFlags: checkGetFlags})
}

// checkGetFlags checks -url and -get-auth. It runs before -targets is
// parsed, so a path is joined to the targets (and checked) in Prepare.
func checkGetFlags(c *config, _ map[string]bool) error {
	var errs []error
	if !strings.HasPrefix(c.Ceil.URL, "/") {
		if _, err := getURLs(c.Ceil.URL, c.Targets, c.AllowRemote); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Ceil.GetAuth {
	case "none", "admin", "user":
	default:
		errs = append(errs, fmt.Errorf("-get-auth %q: want none, user or admin", c.Ceil.GetAuth))
	}
	if c.Ceil.GetAuth == "admin" && c.AdminEmail == "" {
		errs = append(errs, errors.New("-get-auth admin needs -admin-email and -admin-password"))
	}
	if c.Ceil.GetAuth == "user" && c.Tokens == "minted" && c.JWTSecret == "" && os.Getenv("BOXOFFICE_JWT_SECRET") == "" {
		errs = append(errs, errors.New("-get-auth user with -tokens minted needs -jwt-secret (or BOXOFFICE_JWT_SECRET)"))
	}
	return errors.Join(errs...)
}

// get reads one URL over and over: boxoffice's cheapest read (GET
// /api/v1/events/{id}) or the bare net/http server of -serve-bare, measured
// the same way so that one is the other's ceiling.
type get struct {
	cfg  *config
	urls []*url.URL // one per target (one in all for an absolute -url)
	auth string     // none, user or admin
}

func newGet(cfg *config) Scenario { return &get{cfg: cfg} }

// getURLs resolves -url: an absolute http(s) URL is used as it is (and must
// be on loopback unless allowRemote); a path, with or without a query, is
// joined to every target.
func getURLs(raw string, targets []*url.URL, allowRemote bool) ([]*url.URL, error) {
	if raw == "" {
		return nil, errors.New("the get scenario needs -url (an http(s) URL, or a path joined to -targets)")
	}
	if strings.HasPrefix(raw, "/") {
		p, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("-url %q: %w", raw, err)
		}
		var out []*url.URL
		for _, t := range targets {
			u := endpoint(t, p.Path)
			u.RawQuery = p.RawQuery
			out = append(out, u)
		}
		return out, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want an http(s) URL or a path starting with /", raw)
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("-url: %q is not on loopback; pass -allow-remote to load a remote host", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return []*url.URL{u}, nil
}

// Prepare resolves the URLs, gets the tokens -get-auth asks for and reads
// every URL once, so a wrong -url fails before the load.
func (g *get) Prepare(ctx context.Context, env *Env) error {
	urls, err := getURLs(g.cfg.Ceil.URL, g.cfg.Targets, g.cfg.AllowRemote)
	if err != nil {
		return err
	}
	g.urls = urls
	g.auth = g.cfg.Ceil.GetAuth
	switch g.auth {
	case "user":
		if err := loadUserTokens(ctx, env); err != nil {
			return err
		}
	case "admin":
		if err := loadAdminToken(ctx, env); err != nil {
			return err
		}
	}
	for _, u := range g.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if a := g.header(env, 0); a != nil {
			req.Header["Authorization"] = a
		}
		status, body, err := doJSON(env.Client, req)
		if err != nil {
			return fmt.Errorf("reading %s: %w", u.Redacted(), err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("reading %s: status %d (%s)", u.Redacted(), status, problemCode(body))
		}
		if !g.cfg.Quiet {
			env.Logf("get %s: %d-byte answer", u.Redacted(), len(body))
		}
	}
	return nil
}

// header returns the Authorization header for the n-th request, or nil.
func (g *get) header(env *Env, n int) []string {
	switch g.auth {
	case "user":
		return env.Auth[n%len(env.Auth)]
	case "admin":
		return env.AdminAuth
	}
	return nil
}

// Iterate sends one GET.
func (g *get) Iterate(_ context.Context, w *Worker) {
	req := w.Request(http.MethodGet, g.urls[w.Target()%len(g.urls)], nil)
	if a := g.header(w.Env, w.Rng.IntN(max(len(w.Env.Auth), 1))); a != nil {
		req.Header["Authorization"] = a
	}
	w.Send("get", req)
}

// Classify: a read is right only when it answers 200.
func (g *get) Classify(_ string, status int, _ string) Class {
	if status == http.StatusOK {
		return ClassOK
	}
	return ClassUnexpected
}

// Check has nothing to verify for reads.
func (g *get) Check(context.Context, *Env) (*CheckReport, error) { return nil, nil }

// Close does nothing.
func (g *get) Close() error { return nil }
