package boxoffice_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy forwards TCP connections to target. While cut it refuses new
// connections and has closed every open one, as a database that went away
// would. While blackholed it answers nothing: it accepts connections and
// swallows what they send, never forwarding or closing anything, as a
// silent network partition does; the connections it swallowed stay silent
// after it heals (the server gave up on them and its resets were lost),
// and new connections are forwarded again. Both can be undone.
type cutProxy struct {
	ln        net.Listener
	target    string
	mu        sync.Mutex
	cut       bool
	blackhole bool
	links     []*link
}

// link is one client connection and, unless it was blackholed from the
// start, its upstream connection.
type link struct {
	c, up net.Conn
	dead  atomic.Bool // swallow everything in both directions
}

func (l *link) close() {
	l.c.Close()
	if l.up != nil {
		l.up.Close()
	}
}

// pipe copies from src to dst until either fails, dropping the data once
// the link is dead.
func (l *link) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.dead.Load() && dst != nil {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if !l.dead.Load() {
		l.close()
	}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.links {
			l.close()
		}
		p.links = nil
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			switch {
			case p.cut:
				c.Close()
			case p.blackhole:
				l := &link{c: c}
				l.dead.Store(true)
				p.links = append(p.links, l)
				go l.pipe(nil, c)
			default:
				up, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					break
				}
				l := &link{c: c, up: up}
				p.links = append(p.links, l)
				go l.pipe(up, c)
				go l.pipe(c, up)
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, l := range p.links {
			l.close()
		}
		p.links = nil
	}
}

// setBlackhole starts (true) or ends a silent partition.
func (p *cutProxy) setBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = on
	if on {
		for _, l := range p.links {
			l.dead.Store(true)
		}
	}
}

// addr returns the proxy's host:port.
func (p *cutProxy) addr() string { return p.ln.Addr().String() }
