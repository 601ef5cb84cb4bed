package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"boxoffice/internal/redis"
)

func init() {
	register("baseline-redis", scenarioInfo{New: newBaselineRedis, CheckFlags: checkBaselineRedisFlags})
}

// checkBaselineRedisFlags checks -redis and, like baseline-sql, makes
// -clients the number of concurrent callers: the VUs in the closed model,
// the workers in the open one.
func checkBaselineRedisFlags(c *config, set map[string]bool) error {
	errs := []error{checkRedisURL(c.Ceil.Redis, c.AllowRemote)}
	if c.Clients < 1 {
		errs = append(errs, errors.New("-clients must be at least 1"))
	}
	if c.Ceil.RedisStock < 1 {
		errs = append(errs, errors.New("-redis-stock must be at least 1"))
	}
	switch {
	case c.Open && !set["workers"]:
		c.Workers = c.Clients
	case !c.Open && c.VUs == 0:
		c.VUs = c.Clients
	}
	return errors.Join(errs...)
}

// stockScript decrements the stock counter KEYS[1] if it is positive and
// returns what is left, or -1 when nothing was: the usual Redis stock
// counter of a flash sale, one hot key.
var stockScript = rueidis.NewLuaScript(`local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n and n > 0 then
	return redis.call('DECR', KEYS[1])
end
return -1`)

// baselineRedis is the Redis ceiling: -clients callers (virtual users or
// workers), each running one EVALSHA of stockScript on one hot key per
// iteration, through the same client library and set-up as boxoffice's
// server (one rueidis client, auto-pipelined, shared by all callers). Its rate is what this Redis can do per second for the
// smallest piece of atomic work a request might ask of it.
type baselineRedis struct {
	cfg    *config
	client *redis.Client
	raw    rueidis.Client
	key    string
	keys   []string
}

func newBaselineRedis(cfg *config) Scenario { return &baselineRedis{cfg: cfg} }

// checkRedisURL checks -redis and applies the loopback rule.
func checkRedisURL(raw string, allowRemote bool) error {
	if raw == "" {
		return errors.New("-redis is required for baseline-redis (redis://host:port/N)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("-redis %q: want redis://host:port/N", redactURL(raw))
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return fmt.Errorf("-redis: host %q is not on loopback; pass -allow-remote", u.Hostname())
	}
	return nil
}

// Prepare connects, sets this run's counter and runs the script once, so
// the load starts with the script cached on the server (EVALSHA hits).
func (b *baselineRedis) Prepare(ctx context.Context, env *Env) error {
	c, err := redis.Open(ctx, b.cfg.Ceil.Redis)
	if err != nil {
		return err
	}
	b.client, b.raw = c, c.Raw()
	b.key = "loadgen:baseline-redis:" + env.RunID + ":stock"
	b.keys = []string{b.key}
	// The first run loads the script (EVAL after NOSCRIPT); the counter is
	// set again after it, so Check starts from the full stock.
	for _, prime := range []bool{true, false} {
		if err := b.raw.Do(ctx, b.raw.B().Set().Key(b.key).Value(strconv.FormatInt(b.cfg.Ceil.RedisStock, 10)).Ex(time.Hour).Build()).Error(); err != nil {
			return fmt.Errorf("setting the stock counter: %w", err)
		}
		if !prime {
			break
		}
		if _, err := stockScript.Exec(ctx, b.raw, b.keys, nil).AsInt64(); err != nil {
			return fmt.Errorf("running the stock script: %w", err)
		}
	}
	if !b.cfg.Quiet {
		env.Logf("baseline-redis: EVALSHA decrement-if-positive on %s (stock %d)", b.key, b.cfg.Ceil.RedisStock)
	}
	return nil
}

// Iterate runs the script once.
func (b *baselineRedis) Iterate(ctx context.Context, w *Worker) {
	rec := w.Env.Rec
	rec.inflight.Add(1)
	defer rec.inflight.Add(-1)
	start := time.Now()
	left, err := stockScript.Exec(ctx, b.raw, b.keys, nil).AsInt64()
	d := time.Since(start)
	switch {
	case err != nil && ctx.Err() != nil:
		rec.Abort()
	case err != nil:
		rec.Record("evalsha", 0, redisErrorCode(err), 0, []byte(err.Error()))
	case left < 0:
		rec.Record("evalsha", 0, "sold_out", d, nil)
	default:
		rec.Record("evalsha", 0, "decremented", d, nil)
	}
}

// redisErrorCode names a Redis error: redis_<PREFIX> for server errors
// (redis_ERR, redis_NOSCRIPT, …), else the transport error's kind.
func redisErrorCode(err error) string {
	if re, ok := rueidis.IsRedisErr(err); ok {
		prefix, _, _ := strings.Cut(re.Error(), " ")
		return "redis_" + prefix
	}
	return "redis:" + errorKind(err)
}

// Classify: a decrement is ok, sold_out expected (the default stock cannot
// run out), any error unexpected.
func (b *baselineRedis) Classify(_ string, _ int, code string) Class {
	switch code {
	case "decremented":
		return ClassOK
	case "sold_out":
		return ClassExpected
	}
	return ClassUnexpected
}

// Check verifies that the counter moved by every acknowledged decrement
// (and at most by the calls cut off at the end, which may or may not have
// run or failed), and never below zero.
func (b *baselineRedis) Check(ctx context.Context, env *Env) (*CheckReport, error) {
	left, err := b.raw.Do(ctx, b.raw.B().Get().Key(b.key).Build()).AsInt64()
	if err != nil {
		return nil, err
	}
	taken := b.cfg.Ceil.RedisStock - left
	acked := int64(env.Rec.Count(ClassOK))
	// Calls cut off at the end or failed in transit may have run or not.
	unknown := int64(env.Rec.aborted.Load() + env.Rec.Count(ClassUnexpected))
	rep := &CheckReport{OK: left >= 0 && taken >= acked && taken <= acked+unknown}
	rep.Lines = append(rep.Lines, fmt.Sprintf("counter %s: stock %d, left %d, taken %d, acknowledged decrements %d, cut off or failed %d",
		b.key, b.cfg.Ceil.RedisStock, left, taken, acked, unknown))
	return rep, nil
}

// Close deletes the counter and closes the connection.
func (b *baselineRedis) Close() error {
	if b.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := b.raw.Do(ctx, b.raw.B().Del().Key(b.key).Build()).Error()
	b.client.Close()
	return err
}
