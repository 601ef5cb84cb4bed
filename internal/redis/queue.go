package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"boxoffice"
)

// QueuePrefix starts every waiting-room key in Redis.
const QueuePrefix = "bo:q:"

// expiredRetention is how long expired admissions, and a closed event's
// queue, are kept so users can still learn their status.
const expiredRetention = 24 * time.Hour

var (
	//go:embed lua/queue_common.lua
	luaCommon string
	//go:embed lua/queue_join.lua
	luaJoin string
	//go:embed lua/queue_entries.lua
	luaEntries string
	//go:embed lua/queue_leave.lua
	luaLeave string
	//go:embed lua/queue_used.lua
	luaUsed string
	//go:embed lua/queue_seen.lua
	luaSeen string
	//go:embed lua/queue_release.lua
	luaRelease string
	//go:embed lua/queue_admit.lua
	luaAdmit string
	//go:embed lua/queue_close.lua
	luaClose string
	//go:embed lua/queue_lead.lua
	luaLead string
	//go:embed lua/queue_resign.lua
	luaResign string
)

// The scripts. Each event script gets the shared prelude.
var (
	scriptJoin    = rueidis.NewLuaScript(luaCommon + luaJoin)
	scriptEntries = rueidis.NewLuaScriptReadOnly(luaCommon + luaEntries)
	scriptLeave   = rueidis.NewLuaScript(luaCommon + luaLeave)
	scriptUsed    = rueidis.NewLuaScript(luaCommon + luaUsed)
	scriptSeen    = rueidis.NewLuaScript(luaCommon + luaSeen)
	scriptRelease = rueidis.NewLuaScript(luaCommon + luaRelease)
	scriptAdmit   = rueidis.NewLuaScript(luaCommon + luaAdmit)
	scriptClose   = rueidis.NewLuaScript(luaCommon + luaClose)
	scriptLead    = rueidis.NewLuaScript(luaLead)
	scriptResign  = rueidis.NewLuaScript(luaResign)
)

// Queue is a boxoffice.Queue in Redis, shared by every instance. Per event
// it keeps sorted sets for the pre-sale pool (scored by join time), the line
// (scored by order: the drawn pool 1..n, then 2^40 + a join sequence, so
// ZRANK is the exact position), the admitted, used and expired admissions
// (scored by time), the live admissions (scored by when they stop counting
// against the in-flight cap), and a hash of counters and flags; a set lists the events
// with queues and one key is the coordinator lease. Every change that
// touches several keys is one Lua script, so it is atomic; the scripts that
// admit or draw check the lease inside the same script, so a coordinator
// that lost its lease cannot admit anyone. Errors talking to Redis are
// *boxoffice.RetryableError.
type Queue struct {
	raw    rueidis.Client
	prefix string
}

var _ boxoffice.Queue = (*Queue)(nil)

// Queue returns a boxoffice.Queue on this connection, with keys under
// QueuePrefix.
func (c *Client) Queue() *Queue { return NewQueue(c, QueuePrefix) }

// NewQueue returns a Queue on c whose keys start with prefix (tests use
// their own prefixes to stay apart).
func NewQueue(c *Client, prefix string) *Queue { return &Queue{raw: c.raw, prefix: prefix} }

// keys returns the keys of an event's scripts (see lua/queue_common.lua).
// The event ID is a hash tag, so one event's keys share a cluster slot.
func (q *Queue) keys(eventID string) []string {
	p := q.prefix + "{" + eventID + "}:"
	return []string{p + "pre", p + "wait", p + "adm", p + "used", p + "exp", p + "meta", p + "live", q.prefix + "events", q.prefix + "lease", q.prefix + "revoked"}
}

func (q *Queue) leaseKey() []string { return []string{q.prefix + "lease"} }

// fail turns a client error into a domain error: the caller's own
// cancellation passes through, everything else means Redis is unavailable.
func fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err
	}
	return &boxoffice.RetryableError{Err: fmt.Errorf("redis: queue %s: %w", op, err)}
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// infoLen is the number of leading reply elements that describe the queue.
const infoLen = 9

// num reads a number sent as an integer or as a string.
func num(m rueidis.RedisMessage) (float64, error) {
	if m.IsInt64() {
		n, err := m.AsInt64()
		return float64(n), err
	}
	return m.AsFloat64()
}

// parseInfo reads the info part of a script's reply.
func parseInfo(a []rueidis.RedisMessage) (boxoffice.QueueInfo, error) {
	if len(a) < infoLen {
		return boxoffice.QueueInfo{}, fmt.Errorf("short reply (%d elements)", len(a))
	}
	var n [infoLen]int64
	var pace float64
	for i := range infoLen {
		var err error
		if i == 2 {
			pace, err = num(a[i])
		} else {
			n[i], err = a[i].AsInt64()
		}
		if err != nil {
			return boxoffice.QueueInfo{}, err
		}
	}
	return boxoffice.QueueInfo{
		Opened: n[0] == 1, SoldOut: n[1] == 1, Pace: pace, Version: n[3],
		Presale: int(n[4]), Waiting: int(n[5]), InFlight: int(n[6]), Admitted: int(n[6] + n[7]), Live: int(n[8]),
	}, nil
}

// parseEntries reads count (state, n) pairs.
func parseEntries(a []rueidis.RedisMessage, count int) ([]boxoffice.QueueEntry, error) {
	if len(a) != 2*count {
		return nil, fmt.Errorf("reply has %d entry elements, want %d", len(a), 2*count)
	}
	out := make([]boxoffice.QueueEntry, count)
	for i := range out {
		state, err := a[2*i].AsInt64()
		if err != nil {
			return nil, err
		}
		n, err := num(a[2*i+1])
		if err != nil {
			return nil, err
		}
		switch state {
		case 1:
			out[i] = boxoffice.QueueEntry{State: boxoffice.QueueWaiting, Presale: true}
		case 2:
			out[i] = boxoffice.QueueEntry{State: boxoffice.QueueWaiting, Position: int(n)}
		case 3:
			out[i] = boxoffice.QueueEntry{State: boxoffice.QueueAdmitted, AdmittedUntil: time.UnixMilli(int64(n)).UTC()}
		case 4:
			out[i] = boxoffice.QueueEntry{State: boxoffice.QueueExpired}
		}
	}
	return out, nil
}

// Join implements boxoffice.Queue.
func (q *Queue) Join(ctx context.Context, eventID, userID string, presale bool, now time.Time) (boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	pre := "0"
	if presale {
		pre = "1"
	}
	a, err := scriptJoin.Exec(ctx, q.raw, q.keys(eventID), []string{userID, pre, ms(now), eventID}).ToArray()
	if err != nil {
		return boxoffice.QueueEntry{}, boxoffice.QueueInfo{}, fail(ctx, "join", err)
	}
	info, err := parseInfo(a)
	if err != nil {
		return boxoffice.QueueEntry{}, boxoffice.QueueInfo{}, fail(ctx, "join", err)
	}
	ens, err := parseEntries(a[infoLen:], 1)
	if err != nil {
		return boxoffice.QueueEntry{}, boxoffice.QueueInfo{}, fail(ctx, "join", err)
	}
	return ens[0], info, nil
}

// entriesBatch bounds the users asked about in one script call, so that one
// call never blocks Redis for long; larger requests are pipelined.
const entriesBatch = 500

// Entries implements boxoffice.Queue.
func (q *Queue) Entries(ctx context.Context, eventID string, userIDs []string) ([]boxoffice.QueueEntry, boxoffice.QueueInfo, error) {
	keys := q.keys(eventID)
	var execs []rueidis.LuaExec
	for i := 0; i < len(userIDs) || i == 0; i += entriesBatch {
		execs = append(execs, rueidis.LuaExec{Keys: keys, Args: userIDs[i:min(i+entriesBatch, len(userIDs))]})
	}
	out := make([]boxoffice.QueueEntry, 0, len(userIDs))
	var info boxoffice.QueueInfo
	for i, r := range scriptEntries.ExecMulti(ctx, q.raw, execs...) {
		a, err := r.ToArray()
		if err != nil {
			return nil, boxoffice.QueueInfo{}, fail(ctx, "entries", err)
		}
		part, err := parseInfo(a)
		if err != nil {
			return nil, boxoffice.QueueInfo{}, fail(ctx, "entries", err)
		}
		if i == 0 {
			info = part
		}
		ens, err := parseEntries(a[infoLen:], len(execs[i].Args))
		if err != nil {
			return nil, boxoffice.QueueInfo{}, fail(ctx, "entries", err)
		}
		out = append(out, ens...)
	}
	return out, info, nil
}

// Leave implements boxoffice.Queue.
func (q *Queue) Leave(ctx context.Context, eventID, userID string) error {
	return fail(ctx, "leave", scriptLeave.Exec(ctx, q.raw, q.keys(eventID), []string{userID, eventID}).Error())
}

// Revoked implements boxoffice.Queue.
func (q *Queue) Revoked(ctx context.Context, now time.Time) ([]boxoffice.Revocation, error) {
	cmd := q.raw.B().Zrange().Key(q.prefix + "revoked").Min("(" + ms(now)).Max("+inf").Byscore().Withscores().Build()
	zs, err := q.raw.Do(ctx, cmd).AsZScores()
	if err != nil {
		return nil, fail(ctx, "revoked", err)
	}
	out := make([]boxoffice.Revocation, 0, len(zs))
	for _, z := range zs {
		ev, u, ok := strings.Cut(z.Member, " ")
		if !ok {
			continue
		}
		out = append(out, boxoffice.Revocation{EventID: ev, UserID: u, Until: time.UnixMilli(int64(z.Score)).UTC()})
	}
	return out, nil
}

// MarkUsed implements boxoffice.Queue.
func (q *Queue) MarkUsed(ctx context.Context, eventID string, userIDs []string, now time.Time) error {
	if len(userIDs) == 0 {
		return nil
	}
	args := append([]string{ms(now)}, userIDs...)
	return fail(ctx, "mark used", scriptUsed.Exec(ctx, q.raw, q.keys(eventID), args).Error())
}

// Seen implements boxoffice.Queue.
func (q *Queue) Seen(ctx context.Context, eventID string, userIDs []string, until time.Time) error {
	if len(userIDs) == 0 {
		return nil
	}
	args := append([]string{ms(until)}, userIDs...)
	return fail(ctx, "seen", scriptSeen.Exec(ctx, q.raw, q.keys(eventID), args).Error())
}

// Events implements boxoffice.Queue.
func (q *Queue) Events(ctx context.Context) ([]string, error) {
	ids, err := q.raw.Do(ctx, q.raw.B().Smembers().Key(q.prefix+"events").Build()).AsStrSlice()
	return ids, fail(ctx, "events", err)
}

// Pool implements boxoffice.Queue.
func (q *Queue) Pool(ctx context.Context, eventID string) ([]string, error) {
	ids, err := q.raw.Do(ctx, q.raw.B().Zrange().Key(q.keys(eventID)[0]).Min("0").Max("-1").Build()).AsStrSlice()
	return ids, fail(ctx, "pool", err)
}

// Release implements boxoffice.Queue.
func (q *Queue) Release(ctx context.Context, eventID, owner string, order []string) (bool, error) {
	args := append([]string{owner}, order...)
	n, err := scriptRelease.Exec(ctx, q.raw, q.keys(eventID), args).AsInt64()
	switch {
	case err != nil:
		return false, fail(ctx, "release", err)
	case n < 0:
		return false, boxoffice.ErrNotLeader
	}
	return n == 1, nil
}

// Admit implements boxoffice.Queue.
func (q *Queue) Admit(ctx context.Context, eventID string, req boxoffice.AdmitRequest) (boxoffice.AdmitResult, error) {
	soldOut := "0"
	if req.SoldOut {
		soldOut = "1"
	}
	args := []string{
		req.Owner, ms(req.Now), strconv.Itoa(max(req.Max, 0)), strconv.Itoa(req.Limit), ms(req.Until), soldOut,
		strconv.FormatFloat(req.Pace, 'f', 3, 64), eventID, strconv.FormatInt(expiredRetention.Milliseconds(), 10), "0",
	}
	if !req.LiveUntil.IsZero() {
		args[9] = ms(req.LiveUntil)
	}
	a, err := scriptAdmit.Exec(ctx, q.raw, q.keys(eventID), args).ToArray()
	if err != nil {
		return boxoffice.AdmitResult{}, fail(ctx, "admit", err)
	}
	if len(a) == 1 {
		return boxoffice.AdmitResult{}, boxoffice.ErrNotLeader
	}
	info, err := parseInfo(a)
	if err != nil || len(a) < infoLen+2 {
		return boxoffice.AdmitResult{}, fail(ctx, "admit", fmt.Errorf("bad reply: %v", err))
	}
	res := boxoffice.AdmitResult{Info: info}
	first, err1 := a[infoLen].AsInt64()
	expired, err2 := a[infoLen+1].AsInt64()
	if err := errors.Join(err1, err2); err != nil {
		return boxoffice.AdmitResult{}, fail(ctx, "admit", err)
	}
	res.First, res.Expired = first, int(expired)
	for _, m := range a[infoLen+2:] {
		u, err := m.ToString()
		if err != nil {
			return boxoffice.AdmitResult{}, fail(ctx, "admit", err)
		}
		res.Admitted = append(res.Admitted, u)
	}
	return res, nil
}

// Close implements boxoffice.Queue.
func (q *Queue) Close(ctx context.Context, eventID string) error {
	args := []string{eventID, strconv.FormatInt(expiredRetention.Milliseconds(), 10)}
	return fail(ctx, "close", scriptClose.Exec(ctx, q.raw, q.keys(eventID), args).Error())
}

// Drop implements boxoffice.Queue.
func (q *Queue) Drop(ctx context.Context, eventID string) error {
	k := q.keys(eventID)
	cmds := rueidis.Commands{
		q.raw.B().Del().Key(k[:7]...).Build(),
		q.raw.B().Srem().Key(k[7]).Member(eventID).Build(),
	}
	for _, r := range q.raw.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fail(ctx, "drop", err)
		}
	}
	return nil
}

// Lead implements boxoffice.Queue.
func (q *Queue) Lead(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	n, err := scriptLead.Exec(ctx, q.raw, q.leaseKey(), []string{owner, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)}).AsInt64()
	if err != nil {
		return false, fail(ctx, "lead", err)
	}
	return n == 1, nil
}

// Resign implements boxoffice.Queue.
func (q *Queue) Resign(ctx context.Context, owner string) error {
	return fail(ctx, "resign", scriptResign.Exec(ctx, q.raw, q.leaseKey(), []string{owner}).Error())
}
