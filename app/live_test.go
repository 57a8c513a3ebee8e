package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/web"
)

// serve runs srv until the test ends.
func serve(t *testing.T, srv *App) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func dialLive(srv *App, path, origin string) (*websocket.Conn, *http.Response, error) {
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	// In local single-user mode, the cookie the start URL gives.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = strings.TrimPrefix(srv.URL(), "http://")
	unlock(srv, req)
	if ck := req.Header.Get("Cookie"); ck != "" {
		hdr.Set("Cookie", ck)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial("ws"+strings.TrimPrefix(srv.URL(), "http")+path, hdr)
}

func openSockets(t *testing.T, srv *App) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/metrics", nil)
	// Plain text: with gzip, both promhttp and the gzip middleware
	// compress (a pre-existing double encoding, outside this test).
	req.Header.Set("Accept-Encoding", "identity")
	unlock(srv, req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "fdlstudio_websocket_connections ") {
			return strings.TrimPrefix(l, "fdlstudio_websocket_connections ")
		}
	}
	t.Fatal("/metrics has no fdlstudio_websocket_connections")
	return ""
}

// Without a session the session middleware answers the handshake with
// the login redirect: nothing is upgraded.
func TestLiveSocketNeedsASession(t *testing.T) {
	srv, _, err := openWith(t, func(c *web.Config) { c.OSCARLogin, c.OSCARLoginHosts = true, []string{"oscar.example.org"} })
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	c, resp, err := dialLive(srv, "/services/egi/svc/jobs/j1/live", srv.URL())
	if err == nil {
		c.Close()
		t.Fatal("an anonymous WebSocket handshake was upgraded")
	}
	if resp == nil || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
		t.Fatalf("anonymous handshake answered %v, want a redirect to the login page", resp)
	}
}

// Through the whole server: a foreign Origin is refused, a page of the
// site is upgraded, sees its first message and is counted in /metrics
// while open.
func TestLiveSocketThroughTheServer(t *testing.T) {
	fake := oscartest.NewServer(t, oscartest.Options{})
	srv, _ := newTestServer(t)
	if _, err := srv.db.Clusters(srv.sealer).Create(t.Context(), store.Cluster{OwnerID: srv.localUser.ID, Name: "fake",
		Endpoint: fake.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass"}); err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	if c, resp, err := dialLive(srv, "/services/fake/svc/live", "http://evil.example"); err == nil {
		c.Close()
		t.Fatal("a handshake from another site was upgraded")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin answered %v, want 403", resp)
	}
	c, _, err := dialLive(srv, "/services/fake/svc/live", srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Cursor string
		Error  string
	}
	if err := json.Unmarshal(data, &msg); err != nil || msg.Cursor == "" || !strings.Contains(msg.Error, "svc") {
		t.Fatalf("first message %s (%v): want a snapshot saying the service is missing", data, err)
	}
	if n := openSockets(t, srv); n != "1" {
		t.Fatalf("open sockets = %s, want 1", n)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for openSockets(t, srv) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("the socket is still counted after closing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
