package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ceilingConfig holds the flags of the machine's ceilings: the bare net/http
// server (-serve-bare), the get scenario that reads one URL, and the
// baseline-redis scenario. They are what boxoffice's numbers are compared
// with, measured by the same generator in the same run.
type ceilingConfig struct {
	ServeBare  string // listen address of the bare server mode
	BareBytes  int    // size of the bare server's JSON body
	URL        string // get: absolute URL, or a path joined to every -targets
	GetAuth    string // get: none, user or admin
	Redis      string // baseline-redis: redis://host:port/N
	RedisStock int64  // baseline-redis: the counter's starting value
}

// addCeilingFlags declares the ceiling flags on fs.
func addCeilingFlags(fs *flag.FlagSet, c *ceilingConfig) {
	fs.StringVar(&c.ServeBare, "serve-bare", "", "instead of generating load, serve a fixed JSON body (-bare-bytes) with bare net/http on this address until killed: the HTTP ceiling for -scenario get")
	fs.IntVar(&c.BareBytes, "bare-bytes", 1024, "-serve-bare: size in bytes of the JSON body (e.g. that of boxoffice's event detail)")
	fs.StringVar(&c.URL, "url", "", "get: the URL to GET; a path (/api/v1/events/E) is joined to each of -targets, round-robin")
	fs.StringVar(&c.GetAuth, "get-auth", "none", "get: send an Authorization header: none, user (seeded users' tokens, round-robin) or admin (-admin-email)")
	fs.StringVar(&c.Redis, "redis", "", "baseline-redis: redis://host:port/N")
	fs.Int64Var(&c.RedisStock, "redis-stock", 1_000_000_000_000, "baseline-redis: starting value of the stock counter (large enough never to run out)")
}

// isServeBare reports whether args ask for the bare server mode, which
// takes its own flags and generates no load.
func isServeBare(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "serve-bare" {
			return true
		}
		if a == "--" {
			return false
		}
	}
	return false
}

// serveBare implements -serve-bare: a plain net/http server that answers
// every request with the same JSON body, until ctx ends. It is the ceiling
// of an HTTP read on this machine: boxoffice's GET /api/v1/events/{id}
// does this plus routing, a cache lookup and JSON encoding.
func serveBare(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen -serve-bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c ceilingConfig
	fs.StringVar(&c.ServeBare, "serve-bare", "", "listen address, e.g. 127.0.0.1:19300")
	fs.IntVar(&c.BareBytes, "bare-bytes", 1024, "size in bytes of the JSON body")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("-serve-bare takes only -bare-bytes; unexpected arguments: %q", fs.Args())
	}
	if c.BareBytes < 2 || c.BareBytes > maxBody {
		return fmt.Errorf("-bare-bytes must be between 2 and %d", maxBody)
	}
	ln, err := net.Listen("tcp", c.ServeBare)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bareHandler(c.BareBytes), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "bare net/http server on %s, %d-byte JSON body\n", ln.Addr(), c.BareBytes)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// bareHandler answers every request with 200 and the same n-byte JSON body.
func bareHandler(n int) http.Handler {
	body := bareBody(n)
	length := []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = contentTypeJSON
		h["Content-Length"] = length
		_, _ = w.Write(body)
	})
}

// bareBody returns a valid JSON document of exactly n bytes (at least 2).
func bareBody(n int) []byte {
	const head, tail = `{"pad":"`, `"}`
	if n < len(head)+len(tail) {
		return []byte("{}" + strings.Repeat(" ", max(n-2, 0)))
	}
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}
