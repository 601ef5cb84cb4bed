// Command boxoffice runs the boxoffice ticketing backend.
//
//	boxoffice [serve]              serve the HTTP API (the default)
//	boxoffice migrate              apply database migrations and exit
//	boxoffice user create --admin  create or promote a user (password on stdin)
//	boxoffice seed                 load the load-test data set
//	boxoffice version              print the build's version
//
// Configuration comes from BOXOFFICE_* environment variables (see README.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "boxoffice:", err)
		os.Exit(1)
	}
}

// run executes one subcommand. Logs go to stderr; command output to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "boxoffice %s (commit %s, built %s)\n", version, commit, date)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, nil)
	case "migrate":
		return migrate(ctx, cfg, log)
	case "user":
		return userCommand(ctx, cfg, log, args, stdin, stdout)
	case "seed":
		return seedCommand(ctx, cfg, log, args, stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage: boxoffice [command]

commands:
  serve                      serve the HTTP API (default)
  migrate                    apply database migrations and exit
  user create [--admin] --email E [--name N]
                             create a user (or promote one with --admin); the password is read from stdin
  seed [flags]               load the load-test data set (see boxoffice seed -h)
  version                    print version information
`
