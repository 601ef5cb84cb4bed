package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"boxoffice"
)

func init() {
	register("signin", scenarioInfo{New: newSignin})
}

// signin is a sign-in spike: every request is POST /api/v1/auth/token as
// the next seeded user in turn (round-robin over -users) with -password.
// The server's bounded bcrypt pool may shed the excess with 429
// rate_limited or 503 unavailable, each with Retry-After; a 200 must carry
// a token, and anything else is unexpected. With -honor-retry-after a
// virtual user waits out Retry-After before its next sign-in, as a polite
// client would; without it, it comes straight back. With -signin-xff N
// each sign-in carries X-Forwarded-For with the next of N addresses, so
// that a server trusting 127.0.0.1 as its proxy sees N clients (an
// attacker spreading guesses over many addresses, or one that is not the
// owner's); with -password wrong, the 401s are the guesses' answers. With
// -signin-device-file each user presents its device token, as an owner
// signing in again on their own device does, so that the server checks its
// password in the lane kept for device tokens.
type signin struct {
	cfg      *config
	urls     []*url.URL // POST /api/v1/auth/token, per target
	password []byte     // -password as a JSON string
	next     atomic.Uint64
	nextAddr atomic.Uint64
	// devices holds each user's newest device token (with
	// -signin-device-file; nil otherwise).
	devices []atomic.Pointer[string]
}

// maxSigninXFF is the most addresses -signin-xff may name: 10.0.0.1 up to
// 10.255.255.254.
const maxSigninXFF = 1<<24 - 2

// xffAddress is the i-th (from 0) of -signin-xff's addresses: 10.0.0.1,
// 10.0.0.2, … (i < maxSigninXFF).
func xffAddress(i int) string {
	n := i + 1
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

func newSignin(cfg *config) Scenario { return &signin{cfg: cfg} }

// Prepare builds the URLs; signing in needs no tokens.
func (s *signin) Prepare(context.Context, *Env) error {
	pw, err := json.Marshal(s.cfg.Password)
	if err != nil {
		return err
	}
	s.password = pw
	for _, t := range s.cfg.Targets {
		s.urls = append(s.urls, endpoint(t, "/api/v1/auth/token"))
	}
	if s.cfg.SigninDeviceFile == "" {
		return nil
	}
	s.devices = make([]atomic.Pointer[string], s.cfg.Users)
	b, err := os.ReadFile(s.cfg.SigninDeviceFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if i < len(s.devices) && line != "" {
			s.devices[i].Store(&line)
		}
	}
	return nil
}

// nextUser returns the next seeded user, round-robin over 0..Users-1.
func (s *signin) nextUser() int {
	return int((s.next.Add(1) - 1) % uint64(s.cfg.Users))
}

// body returns the sign-in request of seeded user i.
func (s *signin) body(i int) []byte {
	email, _ := json.Marshal(boxoffice.SeedUserEmail(i))
	b := make([]byte, 0, 32+len(email)+len(s.password))
	b = append(b, `{"email":`...)
	b = append(b, email...)
	b = append(b, `,"password":`...)
	b = append(b, s.password...)
	if s.devices != nil {
		if tok := s.devices[i].Load(); tok != nil {
			dt, _ := json.Marshal(*tok)
			b = append(append(b, `,"device_token":`...), dt...)
		}
	}
	return append(b, '}')
}

// Iterate signs the next user in. A 200 without a token and a shed answer
// without a usable Retry-After are recorded once more, as unexpected
// outcomes of their own (with no latency, so the sign-in is timed once).
func (s *signin) Iterate(ctx context.Context, w *Worker) {
	user := s.nextUser()
	req := w.Request(http.MethodPost, s.urls[w.Target()], s.body(user))
	if n := s.cfg.SigninXFF; n > 0 {
		req.Header["X-Forwarded-For"] = []string{xffAddress(int((s.nextAddr.Add(1) - 1) % uint64(n)))}
	}
	status, body := w.Send("signin", req)
	switch status {
	case http.StatusOK:
		if jsonStringField(body, "access_token") == "" {
			w.Env.Rec.Record("signin_token", status, "no_access_token", 0, body)
		}
		if s.devices != nil {
			if tok := jsonStringField(body, "device_token"); tok != "" {
				s.devices[user].Store(&tok)
			}
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		wait, ok := retryAfter(w.Header, time.Now())
		if !ok {
			w.Env.Rec.Record("signin_retry_after", status, "missing", 0, nil)
			return
		}
		if s.cfg.HonorRetryAfter {
			sleepCtx(ctx, wait)
		}
	}
}

// Classify: 200 is ok; 429 rate_limited and 503 unavailable are the
// server's deliberate shedding; everything else (401, other 5xx, transport
// errors, a 200 without a token, shedding without Retry-After) is
// unexpected.
func (s *signin) Classify(op string, status int, code string) Class {
	switch {
	case op == "signin" && status == http.StatusOK && code == "":
		return ClassOK
	case op == "signin" && status == http.StatusTooManyRequests && code == "rate_limited":
		return ClassExpected
	case op == "signin" && status == http.StatusServiceUnavailable && code == "unavailable":
		return ClassExpected
	}
	return ClassUnexpected
}

// signinTally sorts a run's sign-in answers.
type signinTally struct {
	OK           uint64 `json:"ok"`
	RateLimited  uint64 `json:"rate_limited_429"`
	Unavailable  uint64 `json:"unavailable_503"`
	Unauthorized uint64 `json:"unauthorized_401"`
	// Failed counts 5xx answers other than 503 unavailable, and
	// transport errors: sign-ins that ended badly rather than being shed.
	Failed       uint64 `json:"failed"`
	Other        uint64 `json:"other"`
	NoToken      uint64 `json:"ok_without_token"`
	NoRetryAfter uint64 `json:"shed_without_retry_after"`
}

// tallySignins sorts the recorded outcomes.
func tallySignins(rec *Recorder) signinTally {
	var t signinTally
	rec.outcomes.Range(func(k, v any) bool {
		key, n := k.(outcomeKey), v.(*outcome).n.Load()
		switch {
		case key.Op == "signin_token":
			t.NoToken += n
		case key.Op == "signin_retry_after":
			t.NoRetryAfter += n
		case key.Op != "signin":
		case key.Status == http.StatusOK:
			t.OK += n
		case key.Status == http.StatusTooManyRequests && key.Code == "rate_limited":
			t.RateLimited += n
		case key.Status == http.StatusServiceUnavailable && key.Code == "unavailable":
			t.Unavailable += n
		case key.Status == http.StatusUnauthorized:
			t.Unauthorized += n
		case key.Status == 0 || key.Status >= 500:
			t.Failed += n
		default:
			t.Other += n
		}
		return true
	})
	return t
}

// Check verifies the spike's contract: no sign-in ended in a 5xx other than
// a deliberate 503 (nor in a transport error), every shed answer said when
// to come back, and every 200 carried a token. 401s and other statuses are
// unexpected answers but not violations: they point at the seed or the
// password rather than at the server's behaviour under load.
func (s *signin) Check(_ context.Context, env *Env) (*CheckReport, error) {
	t := tallySignins(env.Rec)
	rep := &CheckReport{OK: true, Details: t}
	verdict := func(bad uint64) string {
		if bad > 0 {
			rep.OK = false
			return "VIOLATED"
		}
		return "ok"
	}
	rep.Lines = append(rep.Lines,
		fmt.Sprintf("sign-ins: %d ok, %d shed (429 rate_limited %d, 503 unavailable %d), %d unauthorized, %d other",
			t.OK, t.RateLimited+t.Unavailable, t.RateLimited, t.Unavailable, t.Unauthorized, t.Other),
		fmt.Sprintf("ended in a 5xx other than 503, or a transport error: %d: %s", t.Failed, verdict(t.Failed)),
		fmt.Sprintf("shed without a Retry-After: %d: %s", t.NoRetryAfter, verdict(t.NoRetryAfter)),
		fmt.Sprintf("200 without an access token: %d: %s", t.NoToken, verdict(t.NoToken)))
	return rep, nil
}

// Close writes the users' newest device tokens to -signin-device-file
// (when given).
func (s *signin) Close() error {
	if s.devices == nil {
		return nil
	}
	var b strings.Builder
	for i := range s.devices {
		if tok := s.devices[i].Load(); tok != nil {
			b.WriteString(*tok)
		}
		b.WriteByte('\n')
	}
	return os.WriteFile(s.cfg.SigninDeviceFile, []byte(b.String()), 0o600)
}

// retryAfter reads a Retry-After header (delay-seconds or an HTTP date,
// relative to now). ok is false when it is missing or unparsable.
func retryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
