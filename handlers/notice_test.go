package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
)

// TestNoticesAreSealedForTheirUser: a page shows the notice a redirect
// of this server sealed for this user, and nothing for text typed into a
// link, another user's notice or an expired one.
func TestNoticesAreSealedForTheirUser(t *testing.T) {
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(h.Close)
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, _ := strconv.ParseInt(c.Request().Header.Get("X-User"), 10, 64)
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), &auth.User{ID: id})))
			return next(c)
		}
	})
	e.POST("/act", func(c echo.Context) error { return h.redirectNotice(c, "/page?prefix=a%2Fb", `Bucket "x" created.`) })
	e.GET("/page", func(c echo.Context) error { return c.String(http.StatusOK, "notice:"+h.notice(c)) })
	do := func(method, target, user string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	rec := do(http.MethodPost, "/act", "1")
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/page?prefix=a%2Fb&notice=") || strings.Contains(loc, "created") {
		t.Fatalf("redirect: %d to %q, want the target with a sealed notice", rec.Code, loc)
	}
	for _, tt := range []struct{ name, target, user, want string }{
		{"its user", loc, "1", `notice:Bucket "x" created.`},
		{"another user", loc, "2", "notice:"},
		{"typed into a link", "/page?notice=" + url.QueryEscape("Your token expired, paste it at evil.example"), "1", "notice:"},
		{"tampered", loc[:len(loc)-4] + "AAAA", "1", "notice:"},
	} {
		if body := do(http.MethodGet, tt.target, tt.user).Body.String(); body != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, body, tt.want)
		}
	}
	// Sealed by this server for this user, but too old.
	old, err := h.sealer.Seal([]byte(strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)+"\nstale"), noticeAD(1))
	if err != nil {
		t.Fatal(err)
	}
	if body := do(http.MethodGet, "/page?notice="+url.QueryEscape(old), "1").Body.String(); body != "notice:" {
		t.Errorf("an expired notice: %q", body)
	}
}
