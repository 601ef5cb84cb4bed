package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"boxoffice"
)

// issued returns a token of purpose p for userID created at and a mail for
// it, due at.
func issued(userID string, p boxoffice.TokenPurpose, at time.Time) *boxoffice.IssuedToken {
	return &boxoffice.IssuedToken{
		Token: &boxoffice.UserToken{
			UserID: userID, Purpose: p, CodeHash: []byte("code-hash"), SecretHash: []byte("secret-hash"),
			CreatedAt: at, ExpiresAt: at.Add(time.Hour),
		},
		Mail: &boxoffice.OutboxMessage{
			ID:        boxoffice.NewID(),
			Message:   boxoffice.Message{Kind: string(p), To: "someone@example.test", Subject: "Subject", Text: "Text\nwith a code"},
			CreatedAt: at, NextAttemptAt: at,
		},
	}
}

// claimAll claims every message due at now, leased for a minute.
func claimAll(t *testing.T, s boxoffice.Store, now time.Time) map[string]*boxoffice.OutboxMessage {
	t.Helper()
	msgs, err := s.ClaimMail(t.Context(), now, now.Add(time.Minute), 1000)
	must(t, "ClaimMail", err)
	out := map[string]*boxoffice.OutboxMessage{}
	for _, m := range msgs {
		out[m.ID] = m
	}
	return out
}

func testMail(t *testing.T, s boxoffice.Store) {
	// Each subtest works at its own time, later than every earlier one's
	// messages, so it sees only what it wrote due.
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(day int) time.Time { return base.AddDate(0, 0, day) }

	t.Run("CreateUserWithTokenAndMail", func(t *testing.T) {
		ctx := t.Context()
		now := at(1)
		u := newUser()
		it := issued(u.ID, boxoffice.PurposeVerifyEmail, now)
		must(t, "CreateUser", s.CreateUser(ctx, u, it))
		got, err := s.Token(ctx, u.ID, boxoffice.PurposeVerifyEmail)
		must(t, "Token", err)
		diff(t, "Token", it.Token, got)
		_, err = s.Token(ctx, u.ID, boxoffice.PurposeResetPassword)
		wantErr(t, "Token of another purpose", err, boxoffice.ErrNotFound)
		claimed := claimAll(t, s, now)
		m := claimed[it.Mail.ID]
		if m == nil {
			t.Fatal("the mail written with the user is not in the outbox")
		}
		want := *it.Mail
		want.NextAttemptAt = now.Add(time.Minute) // the lease
		diff(t, "claimed message", &want, m)
		must(t, "MailSent", s.MailSent(ctx, []string{m.ID}, now))
	})

	t.Run("RolledBackCauseSendsNothing", func(t *testing.T) {
		ctx := t.Context()
		now := at(2)
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, nil))
		dup := newUser()
		dup.Email = u.Email
		it := issued(dup.ID, boxoffice.PurposeVerifyEmail, now)
		wantErr(t, "CreateUser with a taken email", s.CreateUser(ctx, dup, it), boxoffice.ErrEmailTaken)
		_, err := s.Token(ctx, dup.ID, boxoffice.PurposeVerifyEmail)
		wantErr(t, "Token of the refused user", err, boxoffice.ErrNotFound)

		first := issued(u.ID, boxoffice.PurposeResetPassword, now)
		must(t, "PutToken", s.PutToken(ctx, first, now.Add(-time.Minute)))
		second := issued(u.ID, boxoffice.PurposeResetPassword, now.Add(time.Second))
		// The first token was created after issuedBefore: refused whole.
		wantErr(t, "PutToken too soon", s.PutToken(ctx, second, now.Add(-time.Second)), boxoffice.ErrRateLimited)
		got, err := s.Token(ctx, u.ID, boxoffice.PurposeResetPassword)
		must(t, "Token", err)
		diff(t, "Token after a refused PutToken", first.Token, got)

		claimed := claimAll(t, s, now.Add(time.Hour))
		if claimed[it.Mail.ID] != nil || claimed[second.Mail.ID] != nil {
			t.Error("a refused cause left its mail in the outbox")
		}
		if claimed[first.Mail.ID] == nil {
			t.Error("PutToken's mail is not in the outbox")
		}
		for id := range claimed {
			must(t, "MailSent", s.MailSent(ctx, []string{id}, now))
		}

		// Once issuedBefore has passed the old token, it is replaced.
		third := issued(u.ID, boxoffice.PurposeResetPassword, now.Add(2*time.Minute))
		must(t, "PutToken later", s.PutToken(ctx, third, now.Add(time.Minute)))
		got, err = s.Token(ctx, u.ID, boxoffice.PurposeResetPassword)
		must(t, "Token", err)
		diff(t, "replaced Token", third.Token, got)
		for id := range claimAll(t, s, now.Add(time.Hour)) {
			must(t, "MailSent", s.MailSent(ctx, []string{id}, now))
		}
	})

	t.Run("RedeemToken", func(t *testing.T) {
		ctx := t.Context()
		now := at(3)
		u := newUser()
		must(t, "CreateUser", s.CreateUser(ctx, u, issued(u.ID, boxoffice.PurposeVerifyEmail, now)))
		_, err := s.RedeemToken(ctx, u.ID, boxoffice.PurposeResetPassword, func(*boxoffice.UserToken, *boxoffice.User) (boxoffice.Redemption, error) {
			t.Error("decide called without a token")
			return boxoffice.Redemption{}, nil
		})
		wantErr(t, "RedeemToken without a token", err, boxoffice.ErrNotFound)

		// A failed try still counts; nothing else changes.
		refused := errors.New("wrong code")
		_, err = s.RedeemToken(ctx, u.ID, boxoffice.PurposeVerifyEmail, func(tk *boxoffice.UserToken, got *boxoffice.User) (boxoffice.Redemption, error) {
			if tk.Attempts != 0 || got.ID != u.ID {
				t.Errorf("decide got %+v, %+v", tk, got)
			}
			return boxoffice.Redemption{Attempts: 1, VerifyEmail: true}, refused
		})
		if err != refused {
			t.Fatalf("RedeemToken = %v, want decide's error", err)
		}
		tk, err := s.Token(ctx, u.ID, boxoffice.PurposeVerifyEmail)
		must(t, "Token", err)
		if tk.Attempts != 1 || tk.UsedAt != nil {
			t.Errorf("after a failed try: attempts %d, used %v", tk.Attempts, tk.UsedAt)
		}
		if got, _ := s.User(ctx, u.ID); got.EmailVerified {
			t.Error("a failed try verified the email")
		}

		hash := []byte("new-password-hash")
		got, err := s.RedeemToken(ctx, u.ID, boxoffice.PurposeVerifyEmail, func(*boxoffice.UserToken, *boxoffice.User) (boxoffice.Redemption, error) {
			return boxoffice.Redemption{Attempts: 2, Used: true, UsedAt: now, VerifyEmail: true, PasswordHash: hash}, nil
		})
		must(t, "RedeemToken", err)
		if !got.EmailVerified || string(got.PasswordHash) != string(hash) {
			t.Errorf("RedeemToken returned %+v", got)
		}
		stored, err := s.User(ctx, u.ID)
		must(t, "User", err)
		diff(t, "stored user", got, stored)
		tk, err = s.Token(ctx, u.ID, boxoffice.PurposeVerifyEmail)
		must(t, "Token", err)
		if tk.Attempts != 2 || tk.UsedAt == nil || !tk.UsedAt.Equal(now) {
			t.Errorf("after use: attempts %d, used %v", tk.Attempts, tk.UsedAt)
		}
		for id := range claimAll(t, s, now.Add(time.Hour)) {
			must(t, "MailSent", s.MailSent(ctx, []string{id}, now))
		}
	})

	t.Run("LeaseRetryAndSent", func(t *testing.T) {
		ctx := t.Context()
		now := at(4)
		u := newUser()
		it := issued(u.ID, boxoffice.PurposeVerifyEmail, now)
		must(t, "CreateUser", s.CreateUser(ctx, u, it))
		id := it.Mail.ID
		if claimAll(t, s, now.Add(-time.Second))[id] != nil {
			t.Fatal("claimed before it was due")
		}
		if claimAll(t, s, now)[id] == nil {
			t.Fatal("not claimed when due")
		}
		if claimAll(t, s, now.Add(30*time.Second))[id] != nil {
			t.Fatal("claimed again within the lease")
		}
		m := claimAll(t, s, now.Add(time.Minute))[id]
		if m == nil {
			t.Fatal("not claimed again after the lease")
		}
		next := now.Add(10 * time.Minute)
		must(t, "MailFailed", s.MailFailed(ctx, id, 1, "connection refused", &next))
		if claimAll(t, s, next.Add(-time.Second))[id] != nil {
			t.Fatal("claimed before its retry")
		}
		m = claimAll(t, s, next)[id]
		if m == nil || m.Attempts != 1 || m.LastError != "connection refused" || m.Text != it.Mail.Text {
			t.Fatalf("retry claimed as %+v", m)
		}
		must(t, "MailSent", s.MailSent(ctx, []string{id}, next))
		if claimAll(t, s, at(100))[id] != nil {
			t.Fatal("a sent message was claimed")
		}

		// A message given up is never claimed again.
		v := newUser()
		gone := issued(v.ID, boxoffice.PurposeVerifyEmail, now)
		must(t, "CreateUser", s.CreateUser(ctx, v, gone))
		if claimAll(t, s, now)[gone.Mail.ID] == nil {
			t.Fatal("not claimed")
		}
		must(t, "MailFailed", s.MailFailed(ctx, gone.Mail.ID, boxoffice.MaxMailAttempts, "550 no such user", nil))
		if claimAll(t, s, at(100))[gone.Mail.ID] != nil {
			t.Fatal("a given-up message was claimed")
		}
	})

	t.Run("ConcurrentClaimsAreExclusive", func(t *testing.T) {
		ctx := t.Context()
		now := at(200)
		const n = 30
		want := map[string]bool{}
		for range n {
			u := newUser()
			it := issued(u.ID, boxoffice.PurposeVerifyEmail, now)
			must(t, "CreateUser", s.CreateUser(ctx, u, it))
			want[it.Mail.ID] = true
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					msgs, err := s.ClaimMail(ctx, now, now.Add(time.Hour), 3)
					if err != nil {
						t.Errorf("ClaimMail: %v", err)
						return
					}
					if len(msgs) == 0 {
						return
					}
					mu.Lock()
					for _, m := range msgs {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("message %s claimed %d times, want once", id, seen[id])
			}
		}
	})

	t.Run("PurgeSent", func(t *testing.T) {
		ctx := t.Context()
		t0 := at(300)
		// What the earlier subtests sent, all before t0, goes first, so
		// that the counts below are this subtest's alone.
		_, err := s.PurgeMail(ctx, t0)
		must(t, "PurgeMail of the earlier subtests' mail", err)

		mail := func() string {
			u := newUser()
			it := issued(u.ID, boxoffice.PurposeVerifyEmail, t0)
			must(t, "CreateUser", s.CreateUser(ctx, u, it))
			return it.Mail.ID
		}
		old, recent, givenUp, due, leased := mail(), mail(), mail(), mail(), mail()
		claimed := claimAll(t, s, t0)
		for _, id := range []string{old, recent, givenUp, leased} {
			if claimed[id] == nil {
				t.Fatalf("message %s not claimed", id)
			}
		}
		must(t, "MailSent", s.MailSent(ctx, []string{old}, t0))
		must(t, "MailSent", s.MailSent(ctx, []string{recent}, t0.Add(8*24*time.Hour)))
		must(t, "MailFailed", s.MailFailed(ctx, givenUp, boxoffice.MaxMailAttempts, "550 no such user", nil))
		next := t0
		must(t, "MailFailed", s.MailFailed(ctx, due, 1, "connection refused", &next))

		purge := func(before time.Time, want int) {
			t.Helper()
			n, err := s.PurgeMail(ctx, before)
			must(t, "PurgeMail", err)
			if n != want {
				t.Errorf("PurgeMail(%s) deleted %d, want %d", before.Format(time.DateTime), n, want)
			}
		}
		purge(t0, 0) // sent at t0 is not sent before t0
		purge(t0.Add(time.Microsecond), 1)
		purge(t0.Add(time.Microsecond), 0)
		purge(t0.Add(30*24*time.Hour), 1)
		// The unsent ones stay: the due one and the leased one are claimed
		// again once due; the given-up one never is, and was not deleted
		// (the counts above).
		again := claimAll(t, s, t0.Add(31*24*time.Hour))
		if again[due] == nil || again[leased] == nil {
			t.Errorf("an unsent message was purged: due %v, leased %v", again[due] != nil, again[leased] != nil)
		}
		if again[old] != nil || again[recent] != nil || again[givenUp] != nil {
			t.Error("a sent or given-up message was claimed after the purge")
		}
	})
}
