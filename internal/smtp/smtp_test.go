package smtp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/mailtest"
	"boxoffice/internal/smtp"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url, from string
		ok        bool
	}{
		{"smtp://mail.example.com", "tickets@example.com", true},
		{"smtp://user:pa%20ss@mail.example.com:2525", "Boxoffice <tickets@example.com>", true},
		{"smtps://mail.example.com", "tickets@example.com", true},
		{"http://mail.example.com", "tickets@example.com", false},
		{"smtp://", "tickets@example.com", false},
		{"smtp://mail.example.com/path", "tickets@example.com", false},
		{"smtp://mail.example.com", "not an address", false},
	} {
		_, err := smtp.New(tc.url, tc.from)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q, %q) = %v, want ok %v", tc.url, tc.from, err, tc.ok)
		}
	}
}

func TestSendToMailpit(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	m, err := smtp.New("smtp://"+mp.SMTP, "Boxoffice <tickets@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	text := "Grüße,\nyour code is 123456.\n\nA long line " + strings.Repeat("x", 200) + "\n"
	msg := boxoffice.Message{Kind: "test", To: "Ana <ana@example.com>", Subject: "Prüfung: verify", Text: text}
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	got := mp.WaitFor("ana@example.com", "Prüfung", 30*time.Second)
	if got.From.Address != "tickets@example.com" || got.From.Name != "Boxoffice" {
		t.Errorf("From = %+v", got.From)
	}
	if strings.ReplaceAll(got.Text, "\r\n", "\n") != text {
		t.Errorf("Text = %q, want %q", got.Text, text)
	}
}

func TestSendRefusesHeaderInjection(t *testing.T) {
	m, err := smtp.New("smtp://127.0.0.1:1", "tickets@example.com")
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(t.Context(), boxoffice.Message{To: "a@example.com", Subject: "hi\r\nBcc: x@example.com"})
	if err == nil || !strings.Contains(err.Error(), "one line") {
		t.Errorf("Send = %v, want a refusal", err)
	}
}

// TestSendSTARTTLSWithAuth sends to a server that requires STARTTLS,
// with credentials, which are sent only once the connection is encrypted.
func TestSendSTARTTLSWithAuth(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	mp := mailtest.Start(t, mailtest.Options{TLSCert: certFile, TLSKey: keyFile, Auth: true})
	_, port, _ := net.SplitHostPort(mp.SMTP)
	m, err := smtp.New("smtp://user:secret@localhost:"+port, "tickets@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m.TLS = &tls.Config{ServerName: "localhost", RootCAs: pool, MinVersion: tls.VersionTLS12}
	if err := m.Send(t.Context(), boxoffice.Message{To: "tls@example.com", Subject: "over TLS", Text: "hello\n"}); err != nil {
		t.Fatal(err)
	}
	mp.WaitFor("tls@example.com", "over TLS", 30*time.Second)

	// Without trusting the certificate, the upgrade fails and nothing is
	// sent in the clear.
	m.TLS = &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if err := m.Send(t.Context(), boxoffice.Message{To: "tls@example.com", Subject: "untrusted"}); err == nil {
		t.Error("Send with an untrusted certificate succeeded")
	}
}

func TestSendFailsWhenServerIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	m, _ := smtp.New("smtp://"+addr, "tickets@example.com")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, boxoffice.Message{To: "a@example.com", Subject: "x"}); err == nil {
		t.Error("Send to a closed port succeeded")
	}
}

func TestLogKeepsTextOutOfInfo(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var buf bytes.Buffer
		l := smtp.Log{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))}
		msg := boxoffice.Message{Kind: boxoffice.MailVerifyEmail, To: "a@example.com", Subject: "Verify", Text: "code 654321"}
		if err := l.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, "verify_email") || !strings.Contains(out, "a@example.com") {
			t.Errorf("level %v: metadata missing: %s", level, out)
		}
		if got := strings.Contains(out, "654321"); got != (level == slog.LevelDebug) {
			t.Errorf("level %v: text logged = %v: %s", level, got, out)
		}
	}
}

// selfSigned writes a certificate for localhost and its key to files and
// returns them with a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
