// Package mailtest starts a real SMTP server for tests: mailpit, the binary
// named by BOXOFFICE_TEST_MAILPIT (tests skip, with a message, when it is
// unset; CI builds mailpit, sets it, and fails if such tests skip). Each
// server listens on free loopback ports and its messages are read back
// through mailpit's HTTP API.
package mailtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one mailpit process.
type Server struct {
	t       testing.TB
	bin     string
	args    []string
	SMTP    string // host:port of the SMTP server
	API     string // base URL of the HTTP API
	mu      sync.Mutex
	cmd     *exec.Cmd
	stopped chan struct{}
}

// Options configure a Server.
type Options struct {
	// TLSCert and TLSKey, when set, are PEM files for STARTTLS, which the
	// server then requires.
	TLSCert, TLSKey string
	// Auth makes the server accept any credentials (over plain text too,
	// unless STARTTLS is required).
	Auth bool
}

// Start starts mailpit for the test and stops it when the test ends. It
// skips the test when BOXOFFICE_TEST_MAILPIT is unset.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := os.Getenv("BOXOFFICE_TEST_MAILPIT")
	if bin == "" {
		t.Skip("mailpit-backed test skipped: set BOXOFFICE_TEST_MAILPIT to a mailpit binary (go install github.com/axllent/mailpit@v1.33.1)")
	}
	s := &Server{t: t, bin: bin, SMTP: freeAddr(t)}
	httpAddr := freeAddr(t)
	s.API = "http://" + httpAddr
	s.args = []string{"--smtp", s.SMTP, "--listen", httpAddr, "--quiet", "--disable-version-check",
		"--database", filepath.Join(t.TempDir(), "mailpit.db")}
	if opts.TLSCert != "" {
		s.args = append(s.args, "--smtp-tls-cert", opts.TLSCert, "--smtp-tls-key", opts.TLSKey, "--smtp-require-starttls")
	}
	if opts.Auth {
		s.args = append(s.args, "--smtp-auth-accept-any")
		if opts.TLSCert == "" {
			s.args = append(s.args, "--smtp-auth-allow-insecure")
		}
	}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Restart starts the server (again, on the same ports, keeping its
// messages) and waits until both its SMTP server and its API answer.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("mailtest: Restart of a running server")
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("mailtest: start mailpit: %v", err)
	}
	s.cmd, s.stopped = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.stopped)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.SMTP, time.Second)
		if err == nil {
			c.Close()
			if resp, err := http.Get(s.API + "/api/v1/messages"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case <-s.stopped:
			s.t.Fatalf("mailtest: mailpit exited at start (ports taken?)")
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("mailtest: mailpit did not come up on %s within 30 s", s.SMTP)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server and waits until it has exited; its ports then
// refuse connections.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.stopped
	s.cmd = nil
}

// Message is a message as mailpit's API shows it.
type Message struct {
	ID      string
	From    Address
	To      []Address
	Subject string
	Text    string // the plain-text body, decoded
}

// Address is one mailbox.
type Address struct {
	Name    string
	Address string
}

// Messages returns every message received, newest first, with their text.
func (s *Server) Messages(ctx context.Context) ([]Message, error) {
	var list struct {
		Messages []Message `json:"messages"`
	}
	if err := s.get(ctx, "/api/v1/messages?limit=500", &list); err != nil {
		return nil, err
	}
	for i := range list.Messages {
		var full struct{ Text string }
		if err := s.get(ctx, "/api/v1/message/"+url.PathEscape(list.Messages[i].ID), &full); err != nil {
			return nil, err
		}
		list.Messages[i].Text = full.Text
	}
	return list.Messages, nil
}

func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.API+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// WaitFor polls until a message to addr whose subject contains subject
// has arrived and returns it. It fails the test after timeout: delivery
// through a real SMTP server takes real time.
func (s *Server) WaitFor(addr, subject string, timeout time.Duration) Message {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		msgs, err := s.Messages(ctx)
		cancel()
		if err == nil {
			for _, m := range msgs {
				for _, to := range m.To {
					if strings.EqualFold(to.Address, addr) && strings.Contains(m.Subject, subject) {
						return m
					}
				}
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("mailtest: no message to %s with subject %q within %s (last error: %v, %d messages)", addr, subject, timeout, err, len(msgs))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Count returns how many messages the server holds.
func (s *Server) Count(ctx context.Context) (int, error) {
	var list struct {
		Total int `json:"total"`
	}
	err := s.get(ctx, "/api/v1/messages?limit=1", &list)
	return list.Total, err
}
