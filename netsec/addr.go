package netsec

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePrefix parses an IP address ("203.0.113.7", a one-address prefix)
// or a CIDR prefix ("203.0.113.0/28"). IPv4-mapped IPv6 addresses are
// unmapped, so that they match the IPv4 addresses connections report.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParsePrefixes parses a list of ParsePrefix values; key names the list
// in errors ("gateway.proxy_protocol.trusted").
func ParsePrefixes(key string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d] %q: want an IP address or a CIDR prefix", ErrConfig, key, i, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// AddrIP returns the IP address of a connection's address (a *net.TCPAddr
// or anything whose String is host:port), unmapped.
func AddrIP(addr net.Addr) (netip.Addr, bool) {
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(ta.IP)
		return ip.Unmap(), ok
	}
	if addr == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// Contains reports whether addr's IP lies in one of prefixes.
func Contains(prefixes []netip.Prefix, addr net.Addr) bool {
	ip, ok := AddrIP(addr)
	if !ok {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// SplitHostPort splits a configured address, host:port, whose port must
// be a number from 0 to 65535: net.SplitHostPort alone takes any port
// text, and a port out of range fails only when a listener or dialer
// uses it, after check-config passed.
func SplitHostPort(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if port, err = strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want a number from 0 to 65535", p)
	}
	return host, port, nil
}
