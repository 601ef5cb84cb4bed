// Package smtp delivers boxoffice's mail: Mailer sends it to an SMTP server
// (STARTTLS when the server offers it, authentication when the URL carries
// credentials), and Log stands in when no server is configured, logging
// what would have been sent.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"boxoffice"
)

// Mailer is a boxoffice.Mailer on one SMTP server. Each Send opens its own
// connection, so a Mailer is safe for concurrent use and survives server
// restarts.
type Mailer struct {
	addr     string // host:port
	host     string
	implicit bool // smtps: TLS from the first byte
	user     string
	pass     string
	from     mail.Address
	// TLS, when not nil, is used for STARTTLS and smtps instead of the
	// default configuration (tests set it).
	TLS *tls.Config
}

var _ boxoffice.Mailer = (*Mailer)(nil)

// New returns a Mailer for rawURL, smtp://[user:pass@]host[:port] (port 587
// by default; STARTTLS when offered) or smtps://… (implicit TLS, port 465),
// sending as from (an address, optionally with a name).
func New(rawURL, from string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("smtp: the URL must look like smtp://user:pass@host:port or smtps://…")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, errors.New("smtp: the URL takes no path or query")
	}
	f, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("smtp: bad sender address %q: %v", from, err)
	}
	m := &Mailer{host: u.Hostname(), implicit: u.Scheme == "smtps", from: *f}
	port := u.Port()
	if port == "" {
		port = "587"
		if m.implicit {
			port = "465"
		}
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	return m, nil
}

func (m *Mailer) tlsConfig() *tls.Config {
	if m.TLS != nil {
		return m.TLS
	}
	return &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
}

// Send delivers msg within ctx's deadline. The connection is upgraded with
// STARTTLS whenever the server offers it; credentials are sent only over
// TLS (or to a server on loopback).
func (m *Mailer) Send(ctx context.Context, msg boxoffice.Message) error {
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return fmt.Errorf("smtp: bad recipient: %v", err)
	}
	body, err := m.compose(to, msg)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection unblocks the exchange when ctx ends early.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if m.implicit {
		conn = tls.Client(conn, m.tlsConfig())
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !m.implicit {
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("smtp quit: %w", err)
	}
	return nil
}

// compose writes msg as an RFC 5322 message in UTF-8 plain text.
func (m *Mailer) compose(to *mail.Address, msg boxoffice.Message) ([]byte, error) {
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return nil, errors.New("smtp: the subject must be one line")
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", m.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domainOf(m.from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	if msg.Kind != "" {
		header("X-Boxoffice-Kind", msg.Kind)
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// Log is the boxoffice.Mailer for when no SMTP server is configured: it
// logs each message's kind, recipient and subject at info level and its
// text, which carries codes and links, only at debug level.
type Log struct {
	Logger *slog.Logger
}

// Send logs msg and reports it delivered.
func (l Log) Send(ctx context.Context, msg boxoffice.Message) error {
	l.Logger.InfoContext(ctx, "mail not sent: no SMTP server is configured (BOXOFFICE_SMTP_URL)",
		"kind", msg.Kind, "to", msg.To, "subject", msg.Subject)
	l.Logger.DebugContext(ctx, "mail text", "kind", msg.Kind, "to", msg.To, "text", msg.Text)
	return nil
}
