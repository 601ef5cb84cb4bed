package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"
)

// terminal reads passwords from a terminal; tests replace it.
var terminal interface {
	IsTerminal(fd int) bool
	// ReadPassword reads a line without echo. When ctx ends first (Ctrl-C)
	// it gives the terminal its echo back and returns ctx's error.
	ReadPassword(ctx context.Context, fd int) ([]byte, error)
} = realTerminal{}

type realTerminal struct{}

func (realTerminal) IsTerminal(fd int) bool { return term.IsTerminal(fd) }

func (realTerminal) ReadPassword(ctx context.Context, fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		p   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := term.ReadPassword(fd)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return nil, ctx.Err()
	}
}

// readPassword returns a new password: asked for twice without echo, with
// prompts on prompt, when stdin is a terminal, or else the first line of
// stdin (without its line ending).
func readPassword(ctx context.Context, stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(interface{ Fd() uintptr }); ok && terminal.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		ask := func(p string) ([]byte, error) {
			fmt.Fprint(prompt, p)
			b, err := terminal.ReadPassword(ctx, fd)
			fmt.Fprintln(prompt)
			switch {
			case ctx.Err() != nil:
				return nil, errors.New("interrupted; nothing changed")
			case err != nil:
				return nil, fmt.Errorf("reading the password: %w", err)
			}
			return b, nil
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", err
		}
		again, err := ask("Password again: ")
		if err != nil {
			return "", err
		}
		if !bytes.Equal(first, again) {
			return "", errors.New("the passwords do not match; nothing changed")
		}
		return string(first), nil
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in as the first line, or run the command in a terminal to be asked for it")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
