package boxoffice

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
)

// verificationFor returns a new email-verification token for u and the mail
// that carries its code and link.
func (s *Accounts) verificationFor(u *User) *IssuedToken {
	now := s.clock()
	code, secret := newCode(), newSecret()
	t := &UserToken{
		UserID: u.ID, Purpose: PurposeVerifyEmail,
		CodeHash:   tokenHash(u.ID, PurposeVerifyEmail, code),
		SecretHash: tokenHash(u.ID, PurposeVerifyEmail, secret),
		CreatedAt:  now, ExpiresAt: now.Add(VerifyEmailTTL),
	}
	text := "Hello " + u.Name + ",\n\n" +
		"your boxoffice verification code is " + code + ".\n\n" +
		"Enter it where you signed up, or open this link while signed in:\n" +
		s.link("/verify-email", linkToken(u.ID, secret)) + "\n\n" +
		"The code is valid for 24 hours. If you did not sign up, ignore this mail.\n"
	m := Message{Kind: MailVerifyEmail, To: u.Email, Subject: "Verify your boxoffice email", Text: text}
	return &IssuedToken{Token: t, Mail: newOutboxMessage(m, now)}
}

// resetFor returns a new password-reset token for u and the mail that
// carries its link.
func (s *Accounts) resetFor(u *User) *IssuedToken {
	now := s.clock()
	secret := newSecret()
	t := &UserToken{
		UserID: u.ID, Purpose: PurposeResetPassword,
		SecretHash: tokenHash(u.ID, PurposeResetPassword, secret),
		CreatedAt:  now, ExpiresAt: now.Add(ResetPasswordTTL),
	}
	text := "Hello " + u.Name + ",\n\n" +
		"someone asked to reset the password of your boxoffice account. To choose a new one, open:\n" +
		s.link("/reset-password", linkToken(u.ID, secret)) + "\n\n" +
		"The link is valid for one hour and works once. If it was not you, ignore this mail: your password stays as it is.\n"
	m := Message{Kind: MailPasswordReset, To: u.Email, Subject: "Reset your boxoffice password", Text: text}
	return &IssuedToken{Token: t, Mail: newOutboxMessage(m, now)}
}

// link returns the public URL of path with the token as its query.
func (s *Accounts) link(path, token string) string {
	return strings.TrimRight(s.publicURL, "/") + path + "?token=" + url.QueryEscape(token)
}

// reissue writes a new token of t's purpose with its mail, unless the last
// one went out less than TokenResendInterval ago (a *RetryAfterError).
func (s *Accounts) reissue(ctx context.Context, it *IssuedToken) error {
	now := it.Token.CreatedAt
	old, err := s.store.Token(ctx, it.Token.UserID, it.Token.Purpose)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		if wait := old.CreatedAt.Add(TokenResendInterval).Sub(now); wait > 0 {
			return errTooManyMails(wait)
		}
	}
	if err := s.store.PutToken(ctx, it, now.Add(-TokenResendInterval)); err != nil {
		if errors.Is(err, ErrRateLimited) {
			return errTooManyMails(TokenResendInterval)
		}
		return err
	}
	s.outbox.wake()
	return nil
}

func errTooManyMails(retryAfter time.Duration) error {
	return &RetryAfterError{
		Err:        Errorf(CodeRateLimited, "a mail was sent moments ago; try again in %d s", int64((retryAfter+time.Second-1)/time.Second)),
		RetryAfter: retryAfter,
	}
}

// ResendVerification mails the caller a new verification code, which
// replaces the previous one. It returns ErrInvalidState when the email is
// verified already, ErrNotFound, or a *RetryAfterError (ErrRateLimited)
// when the last code went out less than TokenResendInterval ago.
func (s *Accounts) ResendVerification(ctx context.Context, c Caller) error {
	u, err := s.store.User(ctx, c.UserID)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return Errorf(CodeInvalidState, "the email is verified already")
	}
	return s.reissue(ctx, s.verificationFor(u))
}

// VerifyEmail verifies the caller's email with the mailed code or the
// link's token (one of them, the other ""). It returns the user, unchanged
// when verified already. A wrong, used or expired code, or one tried
// MaxTokenAttempts times, is a *ValidationError on field "code" (or
// "token"); the caller can ask for a new one (ResendVerification).
func (s *Accounts) VerifyEmail(ctx context.Context, c Caller, code, token string) (*User, error) {
	field := "code"
	var secret string
	switch {
	case code != "" && token != "":
		v := &ValidationError{}
		v.Add("code", "send either code or token, not both")
		return nil, v
	case token != "":
		field = "token"
		userID, sec, ok := parseLinkToken(token)
		if !ok || userID != c.UserID {
			return nil, errTokenInvalid(field)
		}
		secret = sec
	case len(code) != codeDigits:
		return nil, errTokenInvalid(field)
	}
	u, err := s.store.User(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if u.EmailVerified {
		return u, nil
	}
	now := s.clock()
	u, err = s.store.RedeemToken(ctx, c.UserID, PurposeVerifyEmail, func(t *UserToken, u *User) (Redemption, error) {
		if u.EmailVerified {
			return Redemption{Attempts: t.Attempts}, nil
		}
		r, err := redeemStep(t, code, secret, field, now)
		r.VerifyEmail = err == nil
		return r, err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, errTokenInvalid(field)
	}
	return u, err
}

// RequestPasswordReset mails a password-reset link to the account with
// this email. It answers nil whether or not such an account exists, and
// also when a link went out less than TokenResendInterval ago (nothing is
// sent then), so that the answer tells nothing about the email. It returns
// a *ValidationError only for something that is not an email address.
func (s *Accounts) RequestPasswordReset(ctx context.Context, email string) error {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 254 || !strings.Contains(email, "@") {
		v := &ValidationError{}
		v.Add("email", "must be a valid email address")
		return v
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.reissue(ctx, s.resetFor(u)); err != nil && !errors.Is(err, ErrRateLimited) {
		return err
	}
	return nil
}

// ResetPassword sets a new password with a mailed reset token, marks the
// email verified (the mail proved it) and ends the user's tokens. The token works once. It returns a
// *ValidationError for a bad password (checkPassword's rules), or on field "token" for a token that
// is malformed, unknown, used, expired or out of attempts, and
// ErrRateLimited when the password hashers are busy.
func (s *Accounts) ResetPassword(ctx context.Context, token, password string) error {
	var v ValidationError
	checkPassword(&v, password, "", "")
	if err := v.Err(); err != nil {
		return err
	}
	userID, secret, ok := parseLinkToken(token)
	if !ok {
		return errTokenInvalid("token")
	}
	now := s.clock()
	try := func(hash []byte) error {
		u, err := s.store.RedeemToken(ctx, userID, PurposeResetPassword, func(t *UserToken, _ *User) (Redemption, error) {
			r, err := redeemStep(t, "", secret, "token", now)
			if err == nil {
				if hash == nil {
					// Cannot happen (the secret matched before), but a
					// used token must not leave the password as it was.
					return Redemption{Attempts: t.Attempts}, errTokenInvalid("token")
				}
				// A new password ends every session: whoever knew the
				// old one is signed out.
				r.PasswordHash, r.VerifyEmail, r.EndSessions = hash, true, true
			}
			return r, err
		})
		if errors.Is(err, ErrNotFound) {
			return errTokenInvalid("token")
		}
		if err == nil {
			s.standings.note(StandingOf(u))
		}
		return err
	}
	// Hash only for a token that would work: a wrong guess costs a lookup,
	// not a hash, and still counts as a try.
	t, err := s.store.Token(ctx, userID, PurposeResetPassword)
	if errors.Is(err, ErrNotFound) {
		return errTokenInvalid("token")
	}
	if err != nil {
		return err
	}
	if _, err := redeemStep(t, "", secret, "token", now); err != nil {
		return try(nil)
	}
	// The new password may not be the account's own email or name either.
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return err
	}
	checkPassword(&v, password, u.Email, u.Name)
	if err := v.Err(); err != nil {
		return err
	}
	if s.hasher.Saturated() {
		return ErrRateLimited
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return try(hash)
}
