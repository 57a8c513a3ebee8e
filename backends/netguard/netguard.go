// Package netguard keeps the server from connecting, on a user's behalf,
// to addresses inside its own network (server-side request forgery).
//
// A Guard dials: it resolves the host itself, checks every address it
// would connect to and dials only the checked address literal, so a name
// that resolves to a public address when registered and to 127.0.0.1 at
// connect time (DNS rebinding) is still refused. The check happens before
// any packet is sent. The default dialer checks the socket address once
// more in its Control function, just before connect(2).
//
// Refused unless an operator allows them: loopback, link-local (including
// 169.254.169.254 and fe80::/10), RFC 1918, unique local fc00::/7, CGNAT
// 100.64.0.0/10, multicast, unspecified, "this network" 0.0.0.0/8,
// reserved 240.0.0.0/4, benchmarking 198.18.0.0/15, IETF 192.0.0.0/24,
// deprecated site-local fec0::/10, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// IPv4-compatible ::/96, and the IPv4-mapped form (::ffff:a.b.c.d) of any
// refused IPv4 address.
//
// The clients built on a Guard must not use a proxy (the guard would check
// the proxy, not the target) nor follow redirects (see CheckRedirect).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// AllowSetting is the operator setting that lets the server reach private
// networks; refusals name it.
const AllowSetting = "--allow-private-endpoints"

// ErrRefused matches (errors.Is) every refusal of the guard.
var ErrRefused = errors.New("endpoint resolves to a private address")

// RefusedError is a refused connection. Its message names the host as it
// was given to the dialer, never the address it resolved to.
type RefusedError struct {
	Host string
}

func (e *RefusedError) Error() string {
	what := "the endpoint"
	if e.Host != "" {
		what = strconv.Quote(e.Host)
	}
	return what + " resolves to a private address, which this server does not connect to; an operator can allow it with " + AllowSetting
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ErrRedirect is what a guarded client returns instead of following a
// redirect.
var ErrRedirect = errors.New("the endpoint answered with a redirect, which this server does not follow")

// CheckRedirect is the http.Client.CheckRedirect of guarded clients: it
// refuses every redirect, so an allowed host cannot send the server on to
// an internal one and credentials never travel to a second host.
func CheckRedirect(*http.Request, []*http.Request) error { return ErrRedirect }

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to an address literal ("ip:port").
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Options configures a Guard.
type Options struct {
	// Allow lists networks that may be reached although they are private
	// (the operator's --allow-private-endpoints).
	Allow []netip.Prefix
	// AllowAddrs lists single addresses that may be reached; tests allow
	// their own loopback server this way and nothing else.
	AllowAddrs []netip.AddrPort
	// Resolver looks up host names (default net.DefaultResolver).
	Resolver Resolver
	// Dial connects to an already checked address literal (default a
	// net.Dialer with DialTimeout and Control).
	Dial DialFunc
	// DialTimeout bounds one connection attempt (default 5 s).
	DialTimeout time.Duration
}

// Guard dials only addresses outside the refused ranges. It is safe for
// concurrent use.
type Guard struct {
	opts Options
}

// New returns a Guard.
func New(o Options) *Guard {
	g := &Guard{opts: o}
	if g.opts.Resolver == nil {
		g.opts.Resolver = net.DefaultResolver
	}
	if g.opts.DialTimeout <= 0 {
		g.opts.DialTimeout = 5 * time.Second
	}
	if g.opts.Dial == nil {
		d := &net.Dialer{Timeout: g.opts.DialTimeout, KeepAlive: 30 * time.Second, ControlContext: g.Control}
		g.opts.Dial = d.DialContext
	}
	return g
}

// ParseAllow parses the operator's list of allowed networks: CIDRs
// ("10.1.0.0/16", "fd00::/8") or single addresses ("10.1.2.3").
func ParseAllow(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is neither a network (10.1.0.0/16) nor an address (10.1.2.3)", AllowSetting, s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// refused are the ranges beyond the netip.Addr predicates.
var refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"), // includes 255.255.255.255
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("fec0::/10"),
}

// Private reports whether a is in one of the refused ranges.
func Private(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range refused {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Allowed reports whether the guard lets the server connect to ap.
func (g *Guard) Allowed(ap netip.AddrPort) bool {
	a := ap.Addr().WithZone("").Unmap()
	if !Private(a) {
		return true
	}
	for _, p := range g.opts.Allow {
		if p.Contains(a) {
			return true
		}
	}
	for _, x := range g.opts.AllowAddrs {
		if x.Addr().Unmap() == a && x.Port() == ap.Port() {
			return true
		}
	}
	return false
}

// DialContext is an http.Transport's DialContext: it resolves address's
// host, skips every address the guard refuses and connects to the first
// allowed one that answers. When every address is refused it returns a
// *RefusedError without sending a packet.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q of %q: %w", portStr, address, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lookup := "ip"
		switch network {
		case "tcp4":
			lookup = "ip4"
		case "tcp6":
			lookup = "ip6"
		}
		if addrs, err = g.opts.Resolver.LookupNetIP(ctx, lookup, host); err != nil {
			return nil, err
		}
	}
	var dialErr error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.WithZone("").Unmap(), uint16(port))
		if !g.Allowed(ap) {
			continue
		}
		conn, err := g.opts.Dial(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		dialErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if dialErr != nil {
		return nil, dialErr
	}
	return nil, &RefusedError{Host: host}
}

// Control is a net.Dialer ControlContext: it runs before connect(2) with
// the socket address and refuses a private one. Any dialer may use it.
func (g *Guard) Control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial guard: cannot read the address %q: %w", address, err)
	}
	if !g.Allowed(ap) {
		return &RefusedError{}
	}
	return nil
}
