// Command boxoffice runs the boxoffice ticketing backend.
//
//	boxoffice [serve]                                  serve the HTTP API (the default)
//	boxoffice migrate                                  apply database migrations and exit
//	boxoffice seed [--users N] [--events N] [--force]  load a data set into an empty database
//	boxoffice user create [--admin] --email E          create a user, or make one an admin
//	boxoffice version                                  print the build's version
//
// Every command prints its help for -h or --help. The exit status is 0 on
// success, 2 for a usage error and 1 for any other failure. Configuration
// comes from BOXOFFICE_* environment variables (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	os.Exit(exitStatus(err, os.Stderr))
}

// cli is what one invocation gets from its process: the environment,
// stdin for passwords, stdout for command output, stderr for logs.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run executes one command. Its error carries the exit status (see
// exitStatus).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if err := c.dispatch(ctx, args); !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return c.serve(ctx, nil)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "migrate":
		return c.migrate(ctx, rest)
	case "seed":
		return c.seed(ctx, rest)
	case "user":
		return c.user(ctx, rest)
	case "version", "--version", "-version":
		return c.version(rest)
	case "help":
		if len(rest) == 0 {
			writeUsage(c.stdout)
			return nil
		}
		// boxoffice help seed = boxoffice seed --help
		return c.dispatch(ctx, append(rest[:len(rest):len(rest)], "--help"))
	case "-h", "-help", "--help":
		writeUsage(c.stdout)
		return nil
	}
	if strings.HasPrefix(cmd, "-") {
		return &exitError{code: 2, err: fmt.Errorf("unknown flag %s", cmd), usage: shortUsage}
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd), usage: shortUsage}
}

const shortUsage = `usage: boxoffice [command] [flags]
commands: serve (the default), migrate, seed, user create, version, help
Run 'boxoffice --help' for more.
`

const usage = `usage: boxoffice [command] [flags]

The boxoffice ticketing backend: the HTTP API server and its admin commands.
Configuration comes from BOXOFFICE_* environment variables: each command's
help lists those that matter to it, and README.md has them all.

commands:
  serve           serve the HTTP API (the default)
  migrate         apply the database migrations and exit
  seed            load a small data set (or a load test's) into an empty database
  user create     create a user, or make an existing one an admin
  version         print the version
  help [command]  print this help, or a command's

Run 'boxoffice COMMAND --help' for a command's flags and environment.
The exit status is 0 on success, 2 for a usage error and 1 for other failures.
`

// writeUsage prints boxoffice's own help.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	writeEnv(w, []string{"BOXOFFICE_DATABASE_URL"})
}
