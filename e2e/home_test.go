package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/web"
)

func TestHomeRendersWithoutConsoleErrorsOrCSPViolations(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	tab.Visit(app.URL+"/", "home")

	if got := tab.Text(`[data-testid="home-title"]`); got != "Welcome to FDL Studio" {
		t.Errorf("title = %q", got)
	}
	for _, section := range []string{"Workflows", "Services", "Jobs", "Files", "Clusters"} {
		if !strings.Contains(tab.Text("nav.nav"), section) {
			t.Errorf("navigation lacks %s", section)
		}
	}
	// The scripts ran: the theme toggle is shown and htmx is loaded.
	if !Eval[bool](tab, `!document.querySelector("[data-theme-toggle]").hidden`) {
		t.Error("theme toggle stayed hidden: theme.js did not run")
	}
	if !Eval[bool](tab, `typeof window.htmx === "object" && typeof htmx.version === "string"`) {
		t.Error("htmx did not load")
	}
	// The stylesheet applied (its variables are defined).
	if Eval[string](tab, `getComputedStyle(document.documentElement).getPropertyValue("--accent").trim()`) == "" {
		t.Error("app.css did not apply")
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations on the home page:\n%s", strings.Join(p, "\n"))
	}

	// The toggle switches to dark and the choice survives a reload.
	Eval[any](tab, `document.querySelector("[data-theme-toggle]").click()`)
	first := Eval[string](tab, `document.documentElement.getAttribute("data-theme")`)
	if first != "dark" && first != "light" {
		t.Fatalf("data-theme after toggle = %q", first)
	}
	tab.Visit(app.URL+"/", "home-after-toggle")
	if got := Eval[string](tab, `document.documentElement.getAttribute("data-theme")`); got != first {
		t.Errorf("theme after reload = %q, want %q", got, first)
	}
	// The server rendered it from the cookie: no script needed to paint it.
	if got := Eval[string](tab, `document.cookie`); !strings.Contains(got, "fdlstudio-theme="+first) {
		t.Errorf("cookies = %q, want the theme choice", got)
	}
	Eval[any](tab, `document.cookie = "fdlstudio-theme=; Path=/; Max-Age=0"`)

}

func TestStaticAssetServedWithHashAndImmutableCaching(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	tab.Visit(app.URL+"/", "home")
	href := Eval[string](tab, `document.querySelector('link[rel="stylesheet"]').getAttribute("href")`)
	if !regexp.MustCompile(`^/static/css/app\.[0-9a-f]{12}\.css$`).MatchString(href) {
		t.Fatalf("stylesheet href = %q, want a content-hashed URL", href)
	}
	resp, err := http.Get(app.URL + href)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "--accent") {
		t.Fatalf("GET %s = %d", href, resp.StatusCode)
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestPanicShowsErrorPageWithTheLoggedID(t *testing.T) {
	app := startApp(t, nil, web.WithRoute(http.MethodGet, "/e2e/panic", func(echo.Context) error {
		panic("e2e induced panic")
	}))
	tab := newTab(t)
	tab.Visit(app.URL+"/e2e/panic", "panic-error-page")

	if got := tab.Text("h1"); got != "Something went wrong" {
		t.Errorf("heading = %q", got)
	}
	id := tab.Text(`[data-testid="error-id"]`)
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("error ID = %q", id)
	}
	if strings.Contains(tab.Text("main"), "e2e induced panic") {
		t.Error("the page shows the panic's text")
	}
	var found bool
	for _, line := range strings.Split(app.Logs.String(), "\n") {
		if strings.Contains(line, "error_id="+id) && strings.Contains(line, "e2e induced panic") {
			found = true
		}
	}
	if !found {
		t.Errorf("no log line carries error_id=%s and the panic detail:\n%s", id, app.Logs.String())
	}
	// The browser reports the page's own 500 as a failed load; anything
	// else is a problem.
	if problems := tab.Problems("status of 500"); len(problems) > 0 {
		t.Errorf("console errors or CSP violations on the error page:\n%s", strings.Join(problems, "\n"))
	}
}
