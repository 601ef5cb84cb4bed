package boxoffice

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RateCounter counts events per key in fixed windows: a key's window starts
// with its first event and lasts the window given with it; the count then
// starts again from zero. internal/redis shares the counts between every
// instance; internal/memory keeps them in one process. Implementations may
// return any error when their backend fails; the Limiter then counts in
// process instead.
type RateCounter interface {
	// Add adds hits[i].N (0 only reads) to the count of each hits[i].Key
	// and sets hits[i].Count to the count after it and hits[i].ResetIn to
	// the time left in the key's window (0 for a key with no count). A
	// negative N is a refund: it takes from the count of a window that is
	// open, never below zero, and never starts one.
	Add(ctx context.Context, hits []Hit) error
	// Reset forgets the counts of keys.
	Reset(ctx context.Context, keys ...string) error
}

// Hit is one key's part of a RateCounter.Add: the input Key, Window and N,
// and the output Count and ResetIn.
type Hit struct {
	Key    string
	Window time.Duration
	N      int64

	Count   int64
	ResetIn time.Duration
}

// Limit allows at most Max events per key within Window. A Limit with Max 0
// is off.
type Limit struct {
	Max    int64
	Window time.Duration
}

// String formats l as RateLimits.Set parses it: "20/1h0m0s", or "0" when off.
func (l Limit) String() string {
	if l.Max <= 0 {
		return "0"
	}
	return strconv.FormatInt(l.Max, 10) + "/" + l.Window.String()
}

// ParseLimit parses "MAX/WINDOW" (like 20/1h) or "0" (off).
func ParseLimit(s string) (Limit, bool) {
	if s == "0" {
		return Limit{}, true
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, false
	}
	max, err := strconv.ParseInt(n, 10, 64)
	if err != nil || max < 0 || max > 1e9 {
		return Limit{}, false
	}
	window, err := time.ParseDuration(w)
	if err != nil || window < time.Second || window > 7*24*time.Hour {
		return Limit{}, false
	}
	return Limit{Max: max, Window: window}, true
}

// LimitName names one rate limit of the policy.
type LimitName int

// The rate limits. "Address" is the client's address (an IPv6 address
// counts by its /64, which one subscriber usually holds whole); "user" is
// the signed-in account; "fleet" is one count across every instance.
// "Device" is a device token, which a successful sign-in hands out (see
// Accounts.SignIn). Sign-in limits count failures only (each attempt
// counts from before its password is checked until it succeeds), and a
// success forgets the failures of its (address, email), or of its device:
// the owner of an account signing in from their own address, or with
// their device token from anywhere, is never throttled by someone
// guessing from elsewhere.
const (
	SignUpPerAddress LimitName = iota
	SignUpFleet
	SignInFailuresPerAddressEmail
	SignInFailuresPerAddressEmailLong
	SignInFailuresPerAddress
	SignInFailuresPerDevice
	SignInFailuresPerDeviceLong
	SignInDeviceLanePerUser
	QueueJoinPerAddress
	QueueJoinPerUser
	QueueStatusPerAddress
	QueueStatusPerUser
	StreamOpenPerAddress
	StreamOpenPerUser
	HoldPerAddress
	HoldPerUser
	numLimits
)

// LimitSpec describes one rate limit of the policy.
type LimitSpec struct {
	Name LimitName
	// Key is the configuration name, like "signup_per_address".
	Key string
	// About says what is counted, for the documentation.
	About string
	// Default is the limit unless configured otherwise.
	Default Limit
	// Local limits count in each instance on its own (the hold path cannot
	// afford a round trip to Redis per request); the others are shared by
	// the fleet when Redis is configured.
	Local bool
	// prefix starts the limit's keys.
	prefix string
	// fleet limits have one key for everyone.
	fleet bool
}

// limitSpecs is the whole rate-limit policy: which limits exist, what they
// key on, and their defaults. The defaults leave room for a family or an
// office behind one address and for a venue's Wi-Fi, where honest fans
// share an address by the hundred: they cap what one address can do within
// a window, not what a person does in an on-sale.
var limitSpecs = [numLimits]LimitSpec{
	{SignUpPerAddress, "signup_per_address", "sign-ups per client address", Limit{20, time.Hour}, false, "su:a:", false},
	{SignUpFleet, "signup_fleet", "sign-ups across the fleet", Limit{600, time.Minute}, false, "su:f", true},
	{SignInFailuresPerAddressEmail, "signin_failures_per_address_email", "failed sign-ins per client address and email", Limit{5, time.Minute}, false, "si:ae:", false},
	{SignInFailuresPerAddressEmailLong, "signin_failures_per_address_email_long", "failed sign-ins per client address and email over a longer window, so the waits grow", Limit{20, time.Hour}, false, "si:aeh:", false},
	{SignInFailuresPerAddress, "signin_failures_per_address", "failed sign-ins per client address, whatever the email", Limit{300, time.Hour}, false, "si:a:", false},
	{SignInFailuresPerDevice, "signin_failures_per_device", "failed sign-ins with one device token (good for one account), from any address", Limit{5, time.Minute}, false, "si:d:", false},
	{SignInFailuresPerDeviceLong, "signin_failures_per_device_long", "failed sign-ins with one device token over a longer window, so the waits grow", Limit{20, time.Hour}, false, "si:dh:", false},
	{SignInDeviceLanePerUser, "signin_device_lane_per_user", "sign-ins with a device token checked in the hashers' reserved lane per account, successes too; past it the token counts as none", Limit{20, time.Hour}, false, "si:du:", false},
	{QueueJoinPerAddress, "queue_join_per_address", "waiting-room joins per client address", Limit{60, 10 * time.Minute}, false, "qj:a:", false},
	{QueueJoinPerUser, "queue_join_per_user", "waiting-room joins per user", Limit{20, time.Minute}, false, "qj:u:", false},
	{QueueStatusPerAddress, "queue_status_per_address", "waiting-room status polls per client address", Limit{6000, time.Minute}, false, "qs:a:", false},
	{QueueStatusPerUser, "queue_status_per_user", "waiting-room status polls per user", Limit{120, time.Minute}, false, "qs:u:", false},
	{StreamOpenPerAddress, "stream_open_per_address", "waiting-room streams opened per client address", Limit{600, time.Minute}, false, "so:a:", false},
	{StreamOpenPerUser, "stream_open_per_user", "waiting-room streams opened per user", Limit{30, time.Minute}, false, "so:u:", false},
	{HoldPerAddress, "hold_per_address", "holds asked for per client address, in each instance", Limit{1200, time.Minute}, true, "h:a:", false},
	{HoldPerUser, "hold_per_user", "holds asked for per user, in each instance", Limit{60, time.Minute}, true, "h:u:", false},
}

// LimitSpecs returns the rate-limit policy, one LimitSpec per limit.
func LimitSpecs() []LimitSpec { return append([]LimitSpec(nil), limitSpecs[:]...) }

// DefaultStreamsPerUser is how many waiting-room streams one user may keep
// open on one instance unless configured otherwise: a phone, a laptop and
// a spare tab.
const DefaultStreamsPerUser = 3

// RateLimits are the limits in force. The zero value has every limit off;
// DefaultRateLimits has the policy's defaults.
type RateLimits struct {
	limits [numLimits]Limit
	// StreamsPerUser caps the waiting-room streams one user has open on
	// one instance at once; 0 is no cap.
	StreamsPerUser int
}

// DefaultRateLimits returns the policy's default limits.
func DefaultRateLimits() RateLimits {
	var r RateLimits
	for i, s := range limitSpecs {
		r.limits[i] = s.Default
	}
	r.StreamsPerUser = DefaultStreamsPerUser
	return r
}

// Set sets the limit named n.
func (r *RateLimits) Set(n LimitName, l Limit) { r.limits[n] = l }

// Get returns the limit named n.
func (r *RateLimits) Get(n LimitName) Limit { return r.limits[n] }

// Limiter enforces RateLimits: the Accounts, the WaitingRoom and the
// Reservations ask it before they act. Shared limits count in a shared
// RateCounter (Redis) and fall back to a local one (process memory) while
// it fails, logging the change once each way; local limits always count
// locally. A nil *Limiter limits nothing. It is safe for concurrent use.
type Limiter struct {
	limits   RateLimits
	shared   RateCounter
	local    RateCounter
	log      *slog.Logger
	degraded atomic.Bool
}

// NewLimiter returns a Limiter enforcing limits. shared counts the shared
// limits (nil: local does); local counts the local limits and stands in
// for shared while it fails. log (nil discards) hears of those failures.
func NewLimiter(limits RateLimits, shared, local RateCounter, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if shared == nil {
		shared = local
	}
	return &Limiter{limits: limits, shared: shared, local: local, log: log}
}

// StreamsPerUser returns the cap on one user's open streams (0: none).
func (l *Limiter) StreamsPerUser() int {
	if l == nil {
		return 0
	}
	return l.limits.StreamsPerUser
}

// addrKey appends to b the part of a key naming a client address, in
// binary: nothing when the address is unknown (the command line), 4 bytes
// for IPv4, the first 8 bytes (the /64, which one subscriber usually holds
// whole) of an IPv6 address.
func addrKey(b []byte, a netip.Addr) []byte {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return b
	case a.Is6():
		v := a.As16()
		return append(b, v[:8]...)
	}
	v := a.As4()
	return append(b, v[:]...)
}

// hits are the counters one decision touches, with their limits.
type hits struct {
	buf   [3]Hit
	names [3]LimitName
	n     int
}

func (h *hits) slice() []Hit { return h.buf[:h.n] }

// collect adds the counter of limit name for the key part id (built with
// one allocation), counting n, unless the limit is off or the key part is
// unknown ("", but for the fleet-wide limits, whose key has no id).
func (l *Limiter) collect(h *hits, name LimitName, id []byte, n int64) {
	lim, spec := l.limits.limits[name], &limitSpecs[name]
	if lim.Max <= 0 || (len(id) == 0 && !spec.fleet) {
		return
	}
	var buf [96]byte
	key := append(append(buf[:0], spec.prefix...), id...)
	h.buf[h.n] = Hit{Key: string(key), Window: lim.Window, N: n}
	h.names[h.n] = name
	h.n++
}

// wait returns how long until every counter in h is within its limit:
// over it (count > Max) when the event was counted, at it (count >= Max)
// when the counts were only read.
func (l *Limiter) wait(h *hits, read bool) time.Duration {
	var wait time.Duration
	for i, c := range h.slice() {
		m := l.limits.limits[h.names[i]].Max
		if c.Count > m || read && c.Count >= m {
			wait = max(wait, c.ResetIn, time.Second)
		}
	}
	return wait
}

// counter returns the RateCounter of limit n.
func (l *Limiter) counter(n LimitName) RateCounter {
	if limitSpecs[n].Local {
		return l.local
	}
	return l.shared
}

// add counts hits in c, or in the local counter while c fails.
func (l *Limiter) add(ctx context.Context, c RateCounter, hits []Hit) {
	if c == l.local {
		_ = l.local.Add(ctx, hits) // in memory: never fails
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limiterTimeout)
	err := c.Add(ctx, hits)
	cancel()
	if err != nil {
		if !l.degraded.Swap(true) {
			l.log.Warn("shared rate limits failed; counting in this instance until they answer", "err", err)
		}
		_ = l.local.Add(ctx, hits)
		return
	}
	if l.degraded.Swap(false) {
		l.log.Info("shared rate limits answer again")
	}
}

// hitsPool recycles the hits of checks: handed to a RateCounter, they would
// otherwise be allocated for every request.
var hitsPool = sync.Pool{New: func() any { return new(hits) }}

// check counts one event under limit byAddr for c's address and under
// limit other for the key part id (c's user, or nothing for a fleet-wide
// limit), both in the same counter, and returns a *RetryAfterError
// (ErrRateLimited) when either is over its Max.
func (l *Limiter) check(ctx context.Context, what string, c Caller, byAddr, other LimitName, id string) error {
	h := hitsPool.Get().(*hits)
	defer func() {
		*h = hits{}
		hitsPool.Put(h)
	}()
	var a [16]byte
	l.collect(h, byAddr, addrKey(a[:0], c.Addr), 1)
	var u [64]byte
	l.collect(h, other, append(u[:0], id...), 1)
	if h.n == 0 {
		return nil
	}
	l.add(ctx, l.counter(byAddr), h.slice())
	if wait := l.wait(h, false); wait > 0 {
		return errRateLimited(what, wait)
	}
	return nil
}

// errRateLimited is the failure of an action refused for wait.
func errRateLimited(what string, wait time.Duration) error {
	return &RetryAfterError{
		Err:        Errorf(CodeRateLimited, "too many %s; try again in %d s", what, int64((wait+time.Second-1)/time.Second)),
		RetryAfter: wait,
	}
}

// SignUp counts a sign-up from c's address; it returns a *RetryAfterError
// when the address or the fleet has signed up too many accounts.
func (l *Limiter) SignUp(ctx context.Context, c Caller) error {
	if l == nil {
		return nil
	}
	return l.check(ctx, "sign-ups", c, SignUpPerAddress, SignUpFleet, "")
}

// QueueJoin counts a waiting-room join by c.
func (l *Limiter) QueueJoin(ctx context.Context, c Caller) error {
	if l == nil {
		return nil
	}
	return l.check(ctx, "waiting-room joins", c, QueueJoinPerAddress, QueueJoinPerUser, c.UserID)
}

// QueueStatus counts a waiting-room status poll by c.
func (l *Limiter) QueueStatus(ctx context.Context, c Caller) error {
	if l == nil {
		return nil
	}
	return l.check(ctx, "waiting-room status requests", c, QueueStatusPerAddress, QueueStatusPerUser, c.UserID)
}

// StreamOpen counts a waiting-room stream opened by c.
func (l *Limiter) StreamOpen(ctx context.Context, c Caller) error {
	if l == nil {
		return nil
	}
	return l.check(ctx, "waiting-room streams opened", c, StreamOpenPerAddress, StreamOpenPerUser, c.UserID)
}

// Hold counts a hold asked for by c, in this instance only.
func (l *Limiter) Hold(ctx context.Context, c Caller) error {
	if l == nil {
		return nil
	}
	return l.check(ctx, "hold requests", c, HoldPerAddress, HoldPerUser, c.UserID)
}

// signInHits collects the counters of a sign-in counting n: as email
// from c's address, or, when device is not "", those of the device (a
// device token is good for one account only, so these count per device
// and email).
func (l *Limiter) signInHits(h *hits, c Caller, email, device string, n int64) {
	if device != "" {
		l.collect(h, SignInFailuresPerDevice, []byte(device), n)
		l.collect(h, SignInFailuresPerDeviceLong, []byte(device), n)
		return
	}
	a := addrKey(nil, c.Addr)
	if len(a) == 0 {
		return
	}
	ae := append(append(append([]byte(nil), a...), '|'), strings.ToLower(email)...)
	l.collect(h, SignInFailuresPerAddressEmail, ae, n)
	l.collect(h, SignInFailuresPerAddressEmailLong, ae, n)
	l.collect(h, SignInFailuresPerAddress, a, n)
}

// SignInAttempt counts a sign-in as email from c's address (device "") or
// from a device, before its password is checked: every attempt counts as a
// failure until it ends otherwise, so that attempts already in flight use
// up the limits too. It returns a *RetryAfterError, and counts nothing,
// when the address (as email, or at all) or the device has failed too
// often lately. An attempt that is counted ends with SignInSucceeded, with
// SignInNotChecked when its password was not checked, or not at all (a
// failure).
func (l *Limiter) SignInAttempt(ctx context.Context, c Caller, email, device string) error {
	if l == nil {
		return nil
	}
	var h hits
	l.signInHits(&h, c, email, device, 1)
	if h.n == 0 {
		return nil
	}
	l.add(ctx, l.shared, h.slice())
	if wait := l.wait(&h, false); wait > 0 {
		l.SignInNotChecked(ctx, c, email, device) // refused: no attempt made
		what := "failed sign-ins from this address"
		if device != "" {
			what = "failed sign-ins from this device"
		}
		return errRateLimited(what, wait)
	}
	return nil
}

// SignInLane counts a password check in the hashers' reserved lane for
// the account userID, and returns a *RetryAfterError when the account has
// had too many lately.
func (l *Limiter) SignInLane(ctx context.Context, userID string) error {
	if l == nil {
		return nil
	}
	var h hits
	if l.collect(&h, SignInDeviceLanePerUser, []byte(userID), 1); h.n == 0 {
		return nil
	}
	l.add(ctx, l.shared, h.slice())
	if wait := l.wait(&h, false); wait > 0 {
		return errRateLimited("sign-ins with a device token", wait)
	}
	return nil
}

// SignInNotChecked takes back an attempt that SignInAttempt counted and
// whose password was not checked (the hashers were busy, the client went
// away, the store failed).
func (l *Limiter) SignInNotChecked(ctx context.Context, c Caller, email, device string) {
	if l == nil {
		return
	}
	var h hits
	if l.signInHits(&h, c, email, device, -1); h.n > 0 {
		l.add(ctx, l.shared, h.slice())
	}
}

// SignInSucceeded ends an attempt that succeeded: it forgets the failed
// sign-ins from c's address as email, or from the device, and takes back
// the attempt from the address's count. The address's failures as other
// emails stay counted, so signing in to one's own account buys no more
// guesses at others.
func (l *Limiter) SignInSucceeded(ctx context.Context, c Caller, email, device string) {
	if l == nil {
		return
	}
	var h hits
	l.signInHits(&h, c, email, device, -1)
	keys := make([]string, 0, 2)
	for i, hit := range h.slice() {
		if h.names[i] == SignInFailuresPerAddress {
			l.add(ctx, l.shared, []Hit{hit})
		} else {
			keys = append(keys, hit.Key)
		}
	}
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limiterTimeout)
	defer cancel()
	_ = l.shared.Reset(ctx, keys...)
	if l.shared != l.local {
		// The local counter may have counted while the shared one was away.
		_ = l.local.Reset(ctx, keys...)
	}
}

// RetryAfterError is a rate_limited failure that knows when the client may
// try again; the HTTP layer sends that as Retry-After. errors.Is(err,
// ErrRateLimited) is true for it.
type RetryAfterError struct {
	Err        *Error // code rate_limited
	RetryAfter time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }
