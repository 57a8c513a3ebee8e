// Package guardtest builds dial guards for tests that never send a packet
// outside loopback: names resolve through a fixed table, and the dialer
// behind the guard fails the test if it is ever asked to connect to an
// address outside 127.0.0.0/8 and ::1.
package guardtest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends/netguard"
)

// Resolver answers from a fixed table; any other name is not found.
type Resolver map[string][]netip.Addr

// LookupNetIP implements netguard.Resolver.
func (r Resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
}

// Dialer connects to loopback only and records every address it was asked
// for.
type Dialer struct {
	t  testing.TB
	mu sync.Mutex
	// asked are the addresses dialed, in order.
	asked []string
}

// Asked returns the addresses the guard let through to the dialer.
func (d *Dialer) Asked() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// Dial implements netguard.DialFunc.
func (d *Dialer) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, address)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		d.t.Errorf("the dial guard let through %q, which is not a loopback address literal; no test may connect outside loopback", address)
		return nil, errors.New("guardtest: refused to connect outside loopback")
	}
	dl := net.Dialer{Timeout: 2 * time.Second}
	return dl.DialContext(ctx, network, address)
}

// New returns a guard that resolves names through hosts (name -> address
// strings), allows exactly the "ip:port" addresses in allow (the test's
// own servers) and dials through a Dialer that fails t outside loopback.
func New(t testing.TB, hosts map[string][]string, allow ...string) (*netguard.Guard, *Dialer) {
	t.Helper()
	r := Resolver{}
	for name, list := range hosts {
		for _, s := range list {
			r[name] = append(r[name], netip.MustParseAddr(s))
		}
	}
	var aps []netip.AddrPort
	for _, s := range allow {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			t.Fatalf("guardtest: allowed address %q: %v", s, err)
		}
		aps = append(aps, ap)
	}
	d := &Dialer{t: t}
	return netguard.New(netguard.Options{Resolver: r, AllowAddrs: aps, Dial: d.Dial}), d
}

// HostPort returns the "ip:port" of a test server URL's listener, for
// New's allow list.
func HostPort(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := netip.ParseAddrPort(trimScheme(rawURL))
	if err != nil {
		t.Fatalf("guardtest: %q is not http://ip:port: %v", rawURL, err)
	}
	return u.String()
}

func trimScheme(s string) string {
	for _, p := range []string{"http://", "https://"} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}
