package netguard_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/netguard/guardtest"
)

func TestPrivate(t *testing.T) {
	private := []string{
		"127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::", "0.1.2.3",
		"169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"fc00::1", "fd12:3456::1", "100.64.0.1", "100.127.255.255",
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff05::2", "255.255.255.255", "240.0.0.1",
		"198.18.0.1", "192.0.0.8", "fec0::1", "::10.0.0.1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:100.64.0.1",
		"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
	}
	for _, s := range private {
		if !netguard.Private(netip.MustParseAddr(s)) {
			t.Errorf("Private(%s) = false, want true", s)
		}
	}
	public := []string{"8.8.8.8", "1.1.1.1", "100.128.0.1", "100.63.255.255", "172.32.0.1", "192.169.0.1",
		"2001:4860:4860::8888", "2a00:1450::1", "::ffff:8.8.8.8"}
	for _, s := range public {
		if netguard.Private(netip.MustParseAddr(s)) {
			t.Errorf("Private(%s) = true, want false", s)
		}
	}
}

// Every refusal happens before the dialer is asked: the test dialer
// fails the test if it ever sees a non-loopback address, and here it
// must see nothing at all.
func TestDialRefusesBeforeDialing(t *testing.T) {
	g, d := guardtest.New(t, map[string][]string{
		"evil.example":      {"127.0.0.1"},
		"meta.example":      {"169.254.169.254", "fe80::1"},
		"intranet.example":  {"10.0.0.1"},
		"mapped.example":    {"::ffff:169.254.169.254"},
		"cgnat.example":     {"100.64.1.1"},
		"six-local.example": {"fd00::5", "::1"},
	})
	for _, addr := range []string{
		"evil.example:80", "meta.example:80", "intranet.example:443", "mapped.example:80", "cgnat.example:80", "six-local.example:80",
		"127.0.0.1:80", "[::1]:80", "169.254.169.254:80", "10.0.0.1:9000", "[fe80::1]:80", "[fc00::1]:80",
		"[::ffff:169.254.169.254]:80", "[::ffff:127.0.0.1]:80", "0.0.0.0:80", "[::]:80", "224.0.0.1:80",
	} {
		_, err := g.DialContext(t.Context(), "tcp", addr)
		if !errors.Is(err, netguard.ErrRefused) {
			t.Errorf("dial %s: %v, want a refusal", addr, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "private address") || !strings.Contains(msg, netguard.AllowSetting) {
			t.Errorf("dial %s: message %q should say why and how an operator allows it", addr, msg)
		}
		for _, internal := range []string{"169.254", "10.0.0.1", "fe80", "fd00", "100.64"} {
			if strings.Contains(msg, internal) && !strings.Contains(addr, internal) {
				t.Errorf("dial %s: message %q reveals the resolved address", addr, msg)
			}
		}
	}
	if asked := d.Asked(); len(asked) != 0 {
		t.Errorf("the dialer was asked for %v; the guard must refuse before dialing", asked)
	}
}

func TestDialAllowsListedAddressOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	g, d := guardtest.New(t, map[string][]string{"fake.example": {"127.0.0.1"}}, addr)

	conn, err := g.DialContext(t.Context(), "tcp", "fake.example:"+port)
	if err != nil {
		t.Fatalf("dial the allowed test server: %v", err)
	}
	conn.Close()
	// Same host, another port: refused.
	if _, err := g.DialContext(t.Context(), "tcp", "fake.example:1"); !errors.Is(err, netguard.ErrRefused) {
		t.Errorf("another port of the allowed host: %v, want a refusal", err)
	}
	if got := d.Asked(); len(got) != 1 || got[0] != addr {
		t.Errorf("dialer asked for %v, want only %s", got, addr)
	}
}

func TestOperatorAllowsNetworks(t *testing.T) {
	allow, err := netguard.ParseAllow([]string{"10.1.0.0/16", "fd00::/8", "192.168.5.5"})
	if err != nil {
		t.Fatal(err)
	}
	g := netguard.New(netguard.Options{Allow: allow})
	for s, want := range map[string]bool{
		"10.1.2.3:80": true, "10.2.0.1:80": false, "[fd00::1]:80": true, "[fc00::1]:80": false,
		"192.168.5.5:9000": true, "192.168.5.6:9000": false, "[::ffff:10.1.2.3]:80": true, "8.8.8.8:443": true,
	} {
		if got := g.Allowed(netip.MustParseAddrPort(s)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", s, got, want)
		}
	}
	if _, err := netguard.ParseAllow([]string{"10.0.0.0/33"}); err == nil || !strings.Contains(err.Error(), netguard.AllowSetting) {
		t.Errorf("a bad CIDR: %v, want an error naming the setting", err)
	}
}

// Control runs in the dialer just before connect(2): it sees the socket
// address and must refuse a private one too (called directly here, so no
// socket is made).
func TestControlRefusesPrivateSocketAddress(t *testing.T) {
	g := netguard.New(netguard.Options{AllowAddrs: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8443")}})
	for _, addr := range []string{"169.254.169.254:80", "10.0.0.1:9000", "[::1]:80", "127.0.0.1:8444", "[::ffff:127.0.0.1]:80"} {
		if err := g.Control(t.Context(), "tcp4", addr, nil); !errors.Is(err, netguard.ErrRefused) {
			t.Errorf("Control(%s) = %v, want a refusal", addr, err)
		}
	}
	if err := g.Control(t.Context(), "tcp4", "127.0.0.1:8443", nil); err != nil {
		t.Errorf("Control(allowed) = %v", err)
	}
	if err := g.Control(t.Context(), "tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("Control(public) = %v", err)
	}
}
