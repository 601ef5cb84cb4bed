package boxoffice_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"boxoffice"
	"boxoffice/internal/auth"
	"boxoffice/internal/mailtest"
	"boxoffice/internal/memory"
	"boxoffice/internal/smtp"
	"boxoffice/internal/testdb"
)

func TestMailRetryDelay(t *testing.T) {
	base, maxDelay := 30*time.Second, time.Hour
	for _, tc := range []struct {
		attempts int
		want     time.Duration
		ok       bool
	}{
		{1, 30 * time.Second, true},
		{2, time.Minute, true},
		{3, 2 * time.Minute, true},
		{7, 32 * time.Minute, true},
		{8, time.Hour, true},
		{boxoffice.MaxMailAttempts - 1, time.Hour, true},
		{boxoffice.MaxMailAttempts, 0, false},
	} {
		got, ok := boxoffice.MailRetryDelay(tc.attempts, base, maxDelay)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MailRetryDelay(%d) = %s, %v; want %s, %v", tc.attempts, got, ok, tc.want, tc.ok)
		}
	}
}

var (
	mailCodeRE  = regexp.MustCompile(`code is (\d{6})`)
	mailTokenRE = regexp.MustCompile(`\?token=(\S+)`)
)

// outbox takes every due message from the store's outbox, as a sender
// would (none runs in these tests), and returns those to addr.
func outbox(t *testing.T, h *harness, addr string) []*boxoffice.OutboxMessage {
	t.Helper()
	now := h.clock.Now()
	msgs, err := h.store.ClaimMail(t.Context(), now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []*boxoffice.OutboxMessage
	for _, m := range msgs {
		if err := h.store.MailSent(t.Context(), []string{m.ID}, now); err != nil {
			t.Fatal(err)
		}
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

func mailed(t *testing.T, re *regexp.Regexp, m *boxoffice.OutboxMessage) string {
	t.Helper()
	sm := re.FindStringSubmatch(m.Text)
	if sm == nil {
		t.Fatalf("no %s in mail:\n%s", re, m.Text)
	}
	v, _ := url.QueryUnescape(sm[1])
	return v
}

func signUp(t *testing.T, h *harness, email string) (boxoffice.Caller, *boxoffice.OutboxMessage) {
	t.Helper()
	u, err := h.svc.SignUp(t.Context(), boxoffice.Caller{}, boxoffice.SignUp{Email: email, Password: "stage-door-1", Name: "Ana"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := outbox(t, h, email)
	if len(msgs) != 1 || msgs[0].Kind != boxoffice.MailVerifyEmail {
		t.Fatalf("after sign-up: %d mails", len(msgs))
	}
	return boxoffice.Caller{UserID: u.ID, Role: u.Role}, msgs[0]
}

func isInvalid(err error, field string) bool {
	var ve *boxoffice.ValidationError
	return errors.As(err, &ve) && len(ve.Fields) == 1 && ve.Fields[0].Field == field
}

func TestVerifyEmailRules(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, testdb.SQLite(t))

	t.Run("CodeAndAttempts", func(t *testing.T) {
		c, m := signUp(t, h, "ana@example.com")
		code := mailed(t, mailCodeRE, m)
		if strings.Contains(m.Subject, code) {
			t.Error("the subject, which logs show, carries the code")
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for range boxoffice.MaxTokenAttempts {
			if _, err := h.svc.VerifyEmail(ctx, c, wrong, ""); !isInvalid(err, "code") {
				t.Fatalf("wrong code: %v", err)
			}
		}
		// Out of attempts: the right code no longer works.
		if _, err := h.svc.VerifyEmail(ctx, c, code, ""); !isInvalid(err, "code") {
			t.Fatalf("right code after too many tries: %v", err)
		}
		// A new code, but not twice within a minute.
		err := h.svc.ResendVerification(ctx, c)
		var ra *boxoffice.RetryAfterError
		if !errors.As(err, &ra) || ra.RetryAfter <= 0 || ra.RetryAfter > boxoffice.TokenResendInterval {
			t.Fatalf("resend at once: %v", err)
		}
		h.clock.Advance(boxoffice.TokenResendInterval)
		if err := h.svc.ResendVerification(ctx, c); err != nil {
			t.Fatal(err)
		}
		msgs := outbox(t, h, "ana@example.com")
		if len(msgs) != 1 {
			t.Fatalf("resend wrote %d mails", len(msgs))
		}
		newCode := mailed(t, mailCodeRE, msgs[0])
		if newCode != code {
			if _, err := h.svc.VerifyEmail(ctx, c, code, ""); !isInvalid(err, "code") {
				t.Fatalf("the replaced code: %v", err)
			}
		}
		u, err := h.svc.VerifyEmail(ctx, c, newCode, "")
		if err != nil || !u.EmailVerified {
			t.Fatalf("new code: %+v, %v", u, err)
		}
		if err := h.svc.ResendVerification(ctx, c); boxoffice.CodeOf(err) != boxoffice.CodeInvalidState {
			t.Fatalf("resend when verified: %v", err)
		}
	})

	t.Run("LinkToken", func(t *testing.T) {
		c, m := signUp(t, h, "ben@example.com")
		tok := mailed(t, mailTokenRE, m)
		other := boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleUser}
		if _, err := h.svc.VerifyEmail(ctx, other, "", tok); !isInvalid(err, "token") {
			t.Fatalf("someone else's link: %v", err)
		}
		if _, err := h.svc.VerifyEmail(ctx, c, "", tampered(tok)); !isInvalid(err, "token") {
			t.Fatalf("tampered link: %v", err)
		}
		if _, err := h.svc.VerifyEmail(ctx, c, "123456", tok); !isInvalid(err, "code") {
			t.Fatalf("code and token: %v", err)
		}
		if u, err := h.svc.VerifyEmail(ctx, c, "", tok); err != nil || !u.EmailVerified {
			t.Fatalf("link: %+v, %v", u, err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		c, m := signUp(t, h, "cy@example.com")
		h.clock.Advance(boxoffice.VerifyEmailTTL)
		if _, err := h.svc.VerifyEmail(ctx, c, mailed(t, mailCodeRE, m), ""); !isInvalid(err, "code") {
			t.Fatalf("expired code: %v", err)
		}
	})

	t.Run("EventForVerifiedBuyers", func(t *testing.T) {
		c, m := signUp(t, h, "di@example.com")
		e := h.event(t, 10, 2, func(in *boxoffice.EventInput) { in.RequireVerifiedEmail = true })
		hold := boxoffice.HoldInput{EventID: e.ID, TierID: e.Tiers[0].ID, Quantity: 1}
		if _, err := h.svc.CreateReservation(ctx, c, hold); !errors.Is(err, boxoffice.ErrEmailNotVerified) {
			t.Fatalf("unverified hold: %v", err)
		}
		// A token that says verified is believed without a lookup.
		claimed := c
		claimed.EmailVerified = true
		if _, err := h.svc.CreateReservation(ctx, claimed, hold); err != nil {
			t.Fatalf("hold with a verified claim: %v", err)
		}
		// One that says unverified is checked against the user.
		if _, err := h.svc.VerifyEmail(ctx, c, mailed(t, mailCodeRE, m), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.CreateReservation(ctx, c, hold); err != nil {
			t.Fatalf("hold after verifying: %v", err)
		}
	})
}

func TestPasswordResetRules(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t, testdb.SQLite(t))
	c, _ := signUp(t, h, "ana@example.com")

	for _, email := range []string{"nobody@example.com", "ANA@example.com"} {
		if err := h.svc.RequestPasswordReset(ctx, email); err != nil {
			t.Fatalf("reset for %s: %v", email, err)
		}
	}
	if err := h.svc.RequestPasswordReset(ctx, "not an email"); !isInvalid(err, "email") {
		t.Fatalf("reset for a non-address: %v", err)
	}
	// A second request within a minute is answered the same, sending nothing.
	if err := h.svc.RequestPasswordReset(ctx, "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	msgs := outbox(t, h, "ana@example.com")
	if len(msgs) != 1 || msgs[0].Kind != boxoffice.MailPasswordReset {
		t.Fatalf("reset mails: %d", len(msgs))
	}
	tok := mailed(t, mailTokenRE, msgs[0])
	before, err := h.svc.User(ctx, c.UserID)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := h.svc.NewRefreshToken(ctx, before)
	if err != nil {
		t.Fatal(err)
	}

	if err := h.svc.ResetPassword(ctx, tok, "short"); !isInvalid(err, "password") {
		t.Fatalf("short password: %v", err)
	}
	if err := h.svc.ResetPassword(ctx, "garbage", "stage-door-2"); !isInvalid(err, "token") {
		t.Fatalf("malformed token: %v", err)
	}
	if err := h.svc.ResetPassword(ctx, tampered(tok), "stage-door-2"); !isInvalid(err, "token") {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := h.svc.ResetPassword(ctx, tok, "stage-door-2"); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.ResetPassword(ctx, tok, "stage-door-3"); !isInvalid(err, "token") {
		t.Fatalf("used token: %v", err)
	}
	// The reset ended the tokens issued before it.
	if _, err := h.svc.CurrentCaller(ctx, c); !errors.Is(err, boxoffice.ErrUnauthenticated) {
		t.Errorf("an access token from before the reset: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := h.svc.Refresh(ctx, refresh); !errors.Is(err, boxoffice.ErrRefreshTokenInvalid) {
		t.Errorf("a refresh token from before the reset: %v, want ErrRefreshTokenInvalid", err)
	}
	if _, err := h.svc.Authenticate(ctx, boxoffice.Caller{}, "ana@example.com", "stage-door-1"); !errors.Is(err, boxoffice.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	u, err := h.svc.Authenticate(ctx, boxoffice.Caller{}, "ana@example.com", "stage-door-2")
	if err != nil || !u.EmailVerified || u.ID != c.UserID {
		t.Fatalf("new password: %+v, %v", u, err)
	}

	// A link runs out after an hour.
	h.clock.Advance(boxoffice.TokenResendInterval)
	if err := h.svc.RequestPasswordReset(ctx, "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	tok = mailed(t, mailTokenRE, outbox(t, h, "ana@example.com")[0])
	h.clock.Advance(boxoffice.ResetPasswordTTL)
	if err := h.svc.ResetPassword(ctx, tok, "stage-door-4"); !isInvalid(err, "token") {
		t.Fatalf("expired token: %v", err)
	}
}

// recordingMailer passes messages to a real Mailer and notes when each
// try happened and how it ended.
type recordingMailer struct {
	boxoffice.Mailer
	mu    sync.Mutex
	tries []try
}

type try struct {
	at  time.Time
	err error
}

func (r *recordingMailer) Send(ctx context.Context, m boxoffice.Message) error {
	err := r.Mailer.Send(ctx, m)
	r.mu.Lock()
	r.tries = append(r.tries, try{time.Now(), err})
	r.mu.Unlock()
	return err
}

func (r *recordingMailer) snapshot() []try {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]try(nil), r.tries...)
}

// TestOutboxRetriesUntilSMTPReturns: with the SMTP server down, the sign-up
// mail fails and is retried with growing delays; once the server is back it
// is delivered, once.
func TestOutboxRetriesUntilSMTPReturns(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	m, err := smtp.New("smtp://"+mp.SMTP, "tickets@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingMailer{Mailer: m}
	mp.Stop()

	const base = 40 * time.Millisecond
	svc := boxoffice.NewService(boxoffice.ServiceConfig{
		Store: testdb.SQLite(t), Hasher: auth.NewHasher(4, 0, 0, 0), Mailer: rec,
		Outbox: boxoffice.OutboxConfig{Poll: 10 * time.Millisecond, RetryBase: base, RetryMax: time.Second},
	})
	run(t, svc)
	if _, err := svc.SignUp(t.Context(), boxoffice.Caller{}, boxoffice.SignUp{Email: "ana@example.com", Password: "stage-door-1", Name: "Ana"}); err != nil {
		t.Fatal(err)
	}
	// Real time: poll, with a deadline only as a guard against a hang.
	deadline := time.Now().Add(60 * time.Second)
	for len(rec.snapshot()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d delivery attempts", len(rec.snapshot()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	tries := rec.snapshot()
	for i, tr := range tries[:4] {
		if tr.err == nil {
			t.Fatalf("try %d succeeded with the server down", i+1)
		}
		if i == 0 {
			continue
		}
		// The i-th failure waits base·2^(i-1) at least (lower bounds only:
		// a busy machine may be slower, never faster).
		if gap, want := tr.at.Sub(tries[i-1].at), base<<(i-1); gap < want {
			t.Errorf("retry %d came %s after the previous try, want at least %s", i, gap, want)
		}
	}
	mp.Restart()
	msg := mp.WaitFor("ana@example.com", "Verify", 60*time.Second)
	if !mailCodeRE.MatchString(msg.Text) {
		t.Errorf("delivered mail without a code:\n%s", msg.Text)
	}
	if n, err := mp.Count(t.Context()); err != nil || n != 1 {
		t.Errorf("mailpit holds %d messages (%v), want 1", n, err)
	}
	if last := rec.snapshot(); last[len(last)-1].err != nil {
		t.Errorf("last try failed: %v", last[len(last)-1].err)
	}
}

func TestWaitingRoomForVerifiedBuyers(t *testing.T) {
	ctx := t.Context()
	h := newRoomHarness(t)
	r := h.room(memory.NewQueue())
	e := h.queued(t, 10, 60, func(in *boxoffice.EventInput) { in.RequireVerifiedEmail = true })
	c, m := signUp(t, h.harness, "ana@example.com")
	if _, err := r.Join(ctx, c, e.ID); !errors.Is(err, boxoffice.ErrEmailNotVerified) {
		t.Fatalf("unverified join: %v", err)
	}
	if _, err := h.svc.VerifyEmail(ctx, c, mailed(t, mailCodeRE, m), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Join(ctx, c, e.ID); err != nil {
		t.Fatalf("join after verifying: %v", err)
	}
	// A caller whose token says verified is not looked up (this one does
	// not even exist in the store).
	ghost := boxoffice.Caller{UserID: boxoffice.NewID(), Role: boxoffice.RoleUser, EmailVerified: true}
	if _, err := r.Join(ctx, ghost, e.ID); err != nil {
		t.Fatalf("join with a verified claim: %v", err)
	}
}

// tampered returns tok with its last character changed (to another one:
// replacing it with a fixed letter would leave one token in 64 as it was).
func tampered(tok string) string {
	last := tok[len(tok)-1]
	repl := byte('A')
	if last == repl {
		repl = 'B'
	}
	return tok[:len(tok)-1] + string(repl)
}

// purges records each PurgeMail call: the cut-off it was given and how many
// messages the store deleted.
type purges struct {
	boxoffice.Store
	calls chan purgeCall
}

type purgeCall struct {
	before time.Time
	n      int
}

func (p *purges) PurgeMail(ctx context.Context, before time.Time) (int, error) {
	n, err := p.Store.PurgeMail(ctx, before)
	select {
	case p.calls <- purgeCall{before, n}:
	default:
	}
	return n, err
}

// TestOutboxPurgesSentMail: the outbox's background work deletes the mail
// sent more than MailRetention ago as soon as it starts, and keeps the rest.
func TestOutboxPurgesSentMail(t *testing.T) {
	store := &purges{Store: testdb.SQLite(t), calls: make(chan purgeCall, 1)}
	h := newHarness(t, store)
	signUp(t, h, "old@example.com") // sent now
	h.clock.Advance(boxoffice.MailRetention)
	signUp(t, h, "recent@example.com") // sent MailRetention later
	h.clock.Advance(time.Hour)

	run(t, h.svc)
	select {
	case c := <-store.calls:
		if want := h.clock.Now().Add(-boxoffice.MailRetention); !c.before.Equal(want) {
			t.Errorf("purged the mail sent before %s, want before %s", c.before, want)
		}
		if c.n != 1 {
			t.Errorf("the purge deleted %d messages, want 1 (the one sent more than MailRetention ago)", c.n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no purge of sent mail within 30 s of the start")
	}
}
