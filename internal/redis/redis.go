// Package redis implements boxoffice's shared-state adapters on Redis, for
// running several instances side by side: a connection (Client) that other
// adapters build on, and a boxoffice.Cache.
package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// DefaultCacheTimeout bounds each cache operation when no timeout is given:
// a cache that answers slower than this is worth less than a miss.
const DefaultCacheTimeout = 250 * time.Millisecond

// Client is a connection to one Redis server, safe for concurrent use.
type Client struct {
	raw   rueidis.Client
	cache *Cache
}

// Option tunes Open.
type Option func(*options)

type options struct {
	timeout time.Duration
}

// WithTimeout bounds dialing, waiting for each reply on a connection, and
// each cache operation to d, so that a Redis that vanishes costs callers at
// most about d. Without it, dialing and replies use rueidis's defaults
// (seconds) and cache operations DefaultCacheTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// Open connects to the Redis server at url, of the form
// redis://[user:pass@]host:port/N, and pings it. It returns an error when
// url is malformed or the server does not answer.
func Open(ctx context.Context, url string, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	copt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	cacheTimeout := DefaultCacheTimeout
	if o.timeout > 0 {
		copt.Dialer.Timeout = o.timeout
		copt.ConnWriteTimeout = o.timeout
		cacheTimeout = o.timeout
	}
	raw, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("redis: connect to %s: %w", copt.InitAddress, err)
	}
	c := &Client{raw: raw}
	c.cache = &Cache{raw: raw, prefix: cachePrefix, timeout: cacheTimeout}
	if err := c.Ping(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// Ping reports whether the server answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.raw.Do(ctx, c.raw.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close closes the connections. Calls after Close fail.
func (c *Client) Close() { c.raw.Close() }

// Raw returns the underlying rueidis client, for adapters built on this
// connection.
func (c *Client) Raw() rueidis.Client { return c.raw }

// Cache returns the Client's boxoffice.Cache. Every call returns the same
// Cache.
func (c *Client) Cache() *Cache { return c.cache }
