package oscar_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/netguard/guardtest"
	"github.com/fdlstudio/fdlstudio/backends/oscar"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
)

// canary is a loopback listener that counts connections: a guard that
// lets anything through to it is broken, and the test stops before it
// tries addresses outside loopback.
func canary(t *testing.T) (addr string, hits *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	hits = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), hits
}

// A user-registered cluster reports its MinIO at an internal address in
// /system/config: the file routes must not reach it. The fake cluster
// itself is the one address the guard allows.
func TestGuardRefusesInternalMinIOEndpoint(t *testing.T) {
	canaryAddr, hits := canary(t)
	for i, minioEndpoint := range []string{
		"http://" + canaryAddr, // 127.0.0.1, a port other than the cluster's; first, as a canary
		"http://169.254.169.254",
		"http://10.0.0.1:9000",
		"http://[::ffff:169.254.169.254]",
	} {
		fake := oscartest.NewServer(t, oscartest.Options{ReportedS3Endpoint: minioEndpoint, S3AccessKey: "ak", S3SecretKey: "sk"})
		g, d := guardtest.New(t, nil, guardtest.HostPort(t, fake.URL))
		c, err := oscar.New(oscar.Config{Name: "mine", Endpoint: fake.URL, Username: "oscar", Password: "oscar-pass", Guard: g})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.GetObject(t.Context(), "bucket", "latest/meta-data/iam/security-credentials/")
		msg := backends.MessageOf(err)
		if !errors.Is(err, netguard.ErrRefused) || !strings.Contains(msg, "MinIO") || !strings.Contains(msg, "private address") ||
			!strings.Contains(msg, netguard.AllowSetting) {
			t.Errorf("MinIO at %s: %v (message %q), want a refusal that says why", minioEndpoint, err, msg)
		}
		for _, a := range d.Asked() {
			if a != guardtest.HostPort(t, fake.URL) {
				t.Errorf("MinIO at %s: the dialer was asked for %s", minioEndpoint, a)
			}
		}
		if i == 0 && (hits.Load() != 0 || t.Failed()) {
			t.Fatalf("the loopback canary was reached (%d connections); not trying addresses outside loopback", hits.Load())
		}
	}
}

// A cluster endpoint whose name resolves to loopback is refused before
// the connection, though a server listens there.
func TestGuardRefusesEndpointResolvingToLoopback(t *testing.T) {
	fake := oscartest.NewServer(t, oscartest.Options{})
	_, port, _ := net.SplitHostPort(guardtest.HostPort(t, fake.URL))
	g, d := guardtest.New(t, map[string][]string{"localhost": {"127.0.0.1"}})
	c, err := oscar.New(oscar.Config{Name: "mine", Endpoint: "http://localhost:" + port, Username: "oscar", Password: "oscar-pass", Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(t.Context())
	if !errors.Is(err, netguard.ErrRefused) || !strings.Contains(backends.MessageOf(err), `"localhost" resolves to a private address`) {
		t.Errorf("endpoint resolving to loopback: %v, want a refusal", err)
	}
	if asked := d.Asked(); len(asked) != 0 {
		t.Errorf("the dialer was asked for %v", asked)
	}
	if n := len(fake.Checker.Covered()); n != 0 {
		t.Errorf("the fake cluster saw requests on %d routes", n)
	}
}

// An allowed cluster that redirects to an internal address is not
// followed.
func TestGuardedClientDoesNotFollowRedirects(t *testing.T) {
	canaryAddr, hits := canary(t)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+canaryAddr+"/latest/meta-data/", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	g, d := guardtest.New(t, nil, guardtest.HostPort(t, redirector.URL))
	c, err := oscar.New(oscar.Config{Name: "mine", Endpoint: redirector.URL, Guard: g})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(t.Context())
	if msg := backends.MessageOf(err); !strings.Contains(msg, "redirect, which this server does not follow") {
		t.Errorf("redirect: %v, want a refusal to follow it", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect target was reached")
	}
	for _, a := range d.Asked() {
		if a != guardtest.HostPort(t, redirector.URL) {
			t.Errorf("the dialer was asked for %s", a)
		}
	}
}

// Whatever the network failure, users read one sentence: the cluster
// pages cannot tell a closed port from an open one that speaks something
// else, or from one that never answers.
func TestConnectFailuresReadAlike(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	listen := func(serve func(net.Conn)) string {
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
				go serve(c)
			}
		}()
		return ln.Addr().String()
	}
	reset := listen(func(c net.Conn) { c.Close() })
	ssh := listen(func(c net.Conn) {
		io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		time.Sleep(50 * time.Millisecond)
		c.Close()
	})
	hang := listen(func(c net.Conn) { time.Sleep(2 * time.Second); c.Close() })

	addrs := []string{closedAddr, reset, ssh, hang}
	g, _ := guardtest.New(t, nil, addrs...)
	var first string
	for _, a := range addrs {
		c, err := oscar.New(oscar.Config{Name: "probe", Endpoint: "http://" + a, Guard: g, RequestTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Info(t.Context())
		msg := backends.MessageOf(err)
		if !errors.Is(err, backends.ErrUnavailable) || msg == "" {
			t.Fatalf("%s: %v, want unavailable with a message", a, err)
		}
		if first == "" {
			first = msg
		} else if msg != first {
			t.Errorf("%s reads %q, but a closed port reads %q", a, msg, first)
		}
		for _, leak := range []string{"refused", "reset", "EOF", "malformed", "SSH", "127.0.0.1"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: message %q tells %q", a, msg, leak)
			}
		}
	}
}
