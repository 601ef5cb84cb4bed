package main

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"boxoffice/internal/mailtest"
	"boxoffice/internal/testdb"
)

func TestConfigMail(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  []string // variables the error must name; none = valid
	}{
		{"no mail server", nil, nil},
		{"complete", map[string]string{"BOXOFFICE_SMTP_URL": "smtp://u:p@mail.example.com:587", "BOXOFFICE_MAIL_FROM": "Box <t@example.com>",
			"BOXOFFICE_PUBLIC_URL": "https://tickets.example.com"}, nil},
		{"server without sender and site", map[string]string{"BOXOFFICE_SMTP_URL": "smtp://mail.example.com"},
			[]string{"BOXOFFICE_MAIL_FROM", "BOXOFFICE_PUBLIC_URL"}},
		{"bad server URL", map[string]string{"BOXOFFICE_SMTP_URL": "http://mail.example.com", "BOXOFFICE_MAIL_FROM": "t@example.com",
			"BOXOFFICE_PUBLIC_URL": "https://tickets.example.com"}, []string{"BOXOFFICE_SMTP_URL"}},
		{"bad sender", map[string]string{"BOXOFFICE_SMTP_URL": "smtp://mail.example.com", "BOXOFFICE_MAIL_FROM": "nobody",
			"BOXOFFICE_PUBLIC_URL": "https://tickets.example.com"}, []string{"BOXOFFICE_SMTP_URL"}},
		{"bad site", map[string]string{"BOXOFFICE_PUBLIC_URL": "tickets.example.com"}, []string{"BOXOFFICE_PUBLIC_URL"}},
		{"site with query", map[string]string{"BOXOFFICE_PUBLIC_URL": "https://t.example.com/?a=b"}, []string{"BOXOFFICE_PUBLIC_URL"}},
		{"bad retry", map[string]string{"BOXOFFICE_MAIL_RETRY": "1ms"}, []string{"BOXOFFICE_MAIL_RETRY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(envOf(tc.env))
			if len(tc.bad) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.PublicURL == "" || c.MailRetry != 30*time.Second {
					t.Errorf("defaults: public URL %q, retry %s", c.PublicURL, c.MailRetry)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, name := range tc.bad {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s: %v", name, err)
				}
			}
		})
	}
}

var (
	codeRE  = regexp.MustCompile(`code is (\d{6})`)
	verifRE = regexp.MustCompile(`https://tickets\.example\.com/verify-email\?token=(\S+)`)
	resetRE = regexp.MustCompile(`https://tickets\.example\.com/reset-password\?token=(\S+)`)
)

// TestMailEndToEnd runs the server against a real SMTP server (mailpit):
// sign-up mails a code that verifies the account, an event that requires
// a verified email sells only to verified buyers, and a password reset
// goes through by mail, once.
func TestMailEndToEnd(t *testing.T) {
	for name, dbURL := range map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "b.db") },
		"mysql":  func(t *testing.T) string { return testdb.MySQLURL(t) },
	} {
		t.Run(name, func(t *testing.T) { testMailEndToEnd(t, dbURL(t)) })
	}
}

func testMailEndToEnd(t *testing.T, dbURL string) {
	mp := mailtest.Start(t, mailtest.Options{})
	in := startInstance(t, map[string]string{
		"BOXOFFICE_DATABASE_URL":   dbURL,
		"BOXOFFICE_ADMIN_EMAIL":    "admin@example.com",
		"BOXOFFICE_ADMIN_PASSWORD": "admin-secret-pw",
		"BOXOFFICE_BCRYPT_COST":    "4",
		"BOXOFFICE_SMTP_URL":       "smtp://" + mp.SMTP,
		"BOXOFFICE_MAIL_FROM":      "Boxoffice <tickets@example.com>",
		"BOXOFFICE_PUBLIC_URL":     "https://tickets.example.com/",
	})
	t.Cleanup(func() { _ = in.stop() })
	anon := client{t: t, base: in.url}

	// Sign-up mails a code and a link.
	type user struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	var u user
	if code := anon.do("POST", "/api/v1/users", map[string]string{"email": "ana@example.com", "password": "first-password", "name": "Ana"}, &u); code != 201 || u.EmailVerified {
		t.Fatalf("sign-up: %d %+v", code, u)
	}
	m := mp.WaitFor("ana@example.com", "Verify", 30*time.Second)
	codeM, linkM := codeRE.FindStringSubmatch(m.Text), verifRE.FindStringSubmatch(m.Text)
	if codeM == nil || linkM == nil {
		t.Fatalf("verification mail without code or link:\n%s", m.Text)
	}
	ana := client{t: t, base: in.url, token: signIn(t, in.url, "ana@example.com", "first-password")}
	admin := client{t: t, base: in.url, token: signIn(t, in.url, "admin@example.com", "admin-secret-pw")}

	// An event for verified buyers only.
	now := time.Now().UTC()
	var ev struct {
		ID                   string `json:"id"`
		RequireVerifiedEmail bool   `json:"require_verified_email"`
		Tiers                []struct{ ID string }
	}
	if code := admin.do("POST", "/api/v1/events", map[string]any{
		"title": "Verified only", "venue": "Hall", "starts_at": now.Add(time.Hour), "sales_start_at": now.Add(-time.Minute),
		"sales_end_at": now.Add(time.Hour), "require_verified_email": true,
		"tiers": []any{map[string]any{"name": "GA", "price": map[string]any{"amount": 100, "currency": "USD"}, "capacity": 10}},
	}, &ev); code != 201 || !ev.RequireVerifiedEmail {
		t.Fatalf("create event: %d %+v", code, ev)
	}
	hold := map[string]any{"tier_id": ev.Tiers[0].ID, "quantity": 1}
	var prob struct{ Code string }
	if code := ana.do("POST", "/api/v1/events/"+ev.ID+"/reservations", hold, &prob); code != 403 || prob.Code != "email_not_verified" {
		t.Fatalf("unverified hold: %d %+v", code, prob)
	}

	// A wrong code fails; the mailed one verifies.
	wrong := "000000"
	if codeM[1] == wrong {
		wrong = "111111"
	}
	if code := ana.do("POST", "/api/v1/users/me/email/verify", map[string]string{"code": wrong}, &prob); code != 422 {
		t.Fatalf("wrong code: %d", code)
	}
	if code := ana.do("POST", "/api/v1/users/me/email/verify", map[string]string{"code": codeM[1]}, &u); code != 200 || !u.EmailVerified {
		t.Fatalf("verify: %d %+v", code, u)
	}
	// The link's token, used after the code, finds the email verified.
	tok, _ := url.QueryUnescape(linkM[1])
	if code := ana.do("POST", "/api/v1/users/me/email/verify", map[string]string{"token": tok}, &u); code != 200 || !u.EmailVerified {
		t.Fatalf("verify again: %d %+v", code, u)
	}
	// The access token from before the verification now buys.
	if code := ana.do("POST", "/api/v1/events/"+ev.ID+"/reservations", hold, nil); code != 201 {
		t.Fatalf("verified hold: %d", code)
	}
	if code := ana.do("POST", "/api/v1/users/me/email/verification", nil, &prob); code != 409 {
		t.Fatalf("resend when verified: %d", code)
	}

	// Password reset: the same answer for an unknown email; one mail.
	for _, email := range []string{"nobody@example.com", "ana@example.com"} {
		if code := anon.do("POST", "/api/v1/auth/password-reset", map[string]string{"email": email}, nil); code != 202 {
			t.Fatalf("reset request for %s: %d", email, code)
		}
	}
	m = mp.WaitFor("ana@example.com", "Reset", 30*time.Second)
	linkM = resetRE.FindStringSubmatch(m.Text)
	if linkM == nil {
		t.Fatalf("reset mail without link:\n%s", m.Text)
	}
	tok, _ = url.QueryUnescape(linkM[1])
	confirm := map[string]string{"token": tok, "password": "second-password"}
	if code := anon.do("POST", "/api/v1/auth/password-reset/confirm", confirm, nil); code != 204 {
		t.Fatalf("reset: %d", code)
	}
	if code := anon.do("POST", "/api/v1/auth/password-reset/confirm", map[string]string{"token": tok, "password": "third-password"}, &prob); code != 422 {
		t.Fatalf("reset with a used token: %d", code)
	}
	if code := anon.do("POST", "/api/v1/auth/token", map[string]string{"email": "ana@example.com", "password": "first-password"}, nil); code != 401 {
		t.Fatalf("old password: %d", code)
	}
	if signIn(t, in.url, "ana@example.com", "second-password") == "" {
		t.Fatal("new password does not sign in")
	}
	if n, err := mp.Count(t.Context()); err != nil || n != 2 {
		t.Errorf("mailpit holds %d messages (%v), want 2 (verification, reset)", n, err)
	}
}
