package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the peer", "203.0.113.9:4000", []string{"1.2.3.4"}, nil, "203.0.113.9"},
		{"untrusted peer: its header is ignored", "203.0.113.9:4000", []string{"1.2.3.4"}, proxies, "203.0.113.9"},
		{"trusted peer: the entry it appended", "10.1.2.3:4000", []string{"198.51.100.7"}, proxies, "198.51.100.7"},
		{"spoofed entries left of the real one are ignored", "10.1.2.3:4000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.7"}, proxies, "198.51.100.7"},
		{"a chain of trusted proxies is walked", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.7, 10.9.9.9", "10.8.8.8"}, proxies, "198.51.100.7"},
		{"all trusted: the left-most", "10.1.2.3:4000", []string{"10.5.5.5, 10.6.6.6"}, proxies, "10.5.5.5"},
		{"garbage stops the walk at the last known", "10.1.2.3:4000", []string{"198.51.100.7, not-an-ip"}, proxies, "10.1.2.3"},
		{"no header: the proxy", "10.1.2.3:4000", nil, proxies, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::1]:4000", nil, proxies, "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.7"}, proxies, "198.51.100.7"},
		{"trusted IPv6 proxy", "[fd00::1]:4000", []string{"2001:db8::7"}, proxies, "2001:db8::7"},
		{"unparseable peer", "pipe", nil, proxies, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tc.trusted).String(); got != tc.want {
				t.Fatalf("clientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}
