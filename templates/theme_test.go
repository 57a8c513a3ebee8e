package templates

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func renderLayout(t *testing.T, cookie string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: ThemeCookie, Value: cookie})
	}
	var b strings.Builder
	if err := Layout(Chrome{Title: "T"}).Render(WithTheme(context.Background(), r), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The theme the user picked is on <html> in the HTML itself, so the first
// paint has it without running a script; a bogus cookie is ignored.
func TestLayoutRendersThemeFromCookie(t *testing.T) {
	for cookie, want := range map[string]string{
		"dark":                `<html lang="en" data-theme="dark">`,
		"light":               `<html lang="en" data-theme="light">`,
		"":                    `<html lang="en">`,
		`x" onload="alert(1)`: `<html lang="en">`,
		"purple":              `<html lang="en">`,
	} {
		if got := renderLayout(t, cookie); !strings.Contains(got, want) {
			t.Errorf("cookie %q: page lacks %s", cookie, want)
		}
	}
}

var scriptTag = regexp.MustCompile(`<script[^>]*>`)

// No script in the frame of every page blocks rendering.
func TestLayoutScriptsDoNotBlockRendering(t *testing.T) {
	tags := scriptTag.FindAllString(renderLayout(t, ""), -1)
	if len(tags) == 0 {
		t.Fatal("no script tags found")
	}
	for _, tag := range tags {
		if !strings.Contains(tag, " defer") && !strings.Contains(tag, `type="module"`) && !strings.Contains(tag, " async") {
			t.Errorf("render-blocking script: %s", tag)
		}
	}
	if strings.ContainsAny(renderLayout(t, ""), "☽☀") {
		t.Error("the layout still uses emoji for icons")
	}
}
