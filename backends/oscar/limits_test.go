package oscar

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

// endless writes n bytes of filler, then stops.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	e.n -= int64(len(p))
	return len(p), nil
}

// TestHugeResponsesAreBounded: a cluster that answers with more than the
// bounds cannot make the client read it all into memory.
func TestHugeResponsesAreBounded(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/system/info":
			w.Write([]byte(`{"version":"v4.1.2"}`))
		case r.URL.Path == "/system/services":
			// A JSON string that never ends within the bound.
			w.Write([]byte(`["`))
			io.Copy(w, &endless{n: MaxJSONResponse + 1<<20})
		case strings.HasPrefix(r.URL.Path, "/system/logs/"):
			io.Copy(w, &endless{n: MaxLogResponse + 1<<20})
		}
	}))
	defer ts.Close()
	c, err := New(Config{Name: "huge", Endpoint: ts.URL, Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListServices(ctx); !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), "at most 32 MiB") {
		t.Errorf("ListServices on a 33 MiB answer: %v", err)
	}
	log, err := c.JobLog(ctx, "svc", "job-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > MaxLogResponse+200 || !strings.HasSuffix(log, "the rest was not read]\n") {
		t.Errorf("log of %d bytes ends %q", len(log), log[len(log)-60:])
	}
}
