package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the address of the client that sent r: the
// connection's peer, unless that is one of the trusted proxies, in which
// case X-Forwarded-For is read from the right (the entry the proxy nearest
// to us appended) past every trusted proxy to the first address that is
// not one. Entries further left were written by the client and could be
// anything, so they are never believed. When every entry is trusted the
// left-most is the client; an unreadable entry ends the walk at the last
// address known.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if len(trusted) == 0 || !isTrusted(addr, trusted) {
		return addr
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(entry))
			if err != nil {
				return addr
			}
			addr = a.Unmap()
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
