package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAPITokensPage makes, sees once, lists and revokes an API token in
// the browser, in the light and the dark theme, with no serious
// accessibility violation; and shows the single-user refusal page, which
// says to open the start link instead of offering a login.
func TestAPITokensPage(t *testing.T) {
	app := startApp(t, nil)
	for _, theme := range []string{"light", "dark"} {
		tab := newTab(t)
		setTheme(tab, app.URL, theme)
		tab.Visit(app.URL+"/", "home-"+theme)
		tab.Do(
			chromedp.Click(chromedp.CSS(`[data-testid="user-menu"] summary`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="tokens-link"]`)),
		)
		tab.Screenshot("user-menu-" + theme)
		tab.Do(
			chromedp.Click(chromedp.CSS(`[data-testid="tokens-link"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-form"]`)),
		)
		tab.Screenshot("tokens-" + theme)

		name := "laptop " + theme
		tab.Do(
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.Click(chromedp.CSS(`[data-testid="token-create"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-new"]`)),
		)
		tab.Screenshot("token-made-" + theme)
		token := Eval[string](tab, `document.querySelector('[data-testid="token-value"]').value`)
		if !strings.HasPrefix(token, "fdls_") {
			t.Fatalf("the new token is %q", token)
		}
		if vs := axeSerious(tab); len(vs) > 0 {
			t.Errorf("tokens page (%s theme): axe-core finds serious or critical violations:\n%s", theme, formatViolations(vs))
		}
		// Shown once: the list names it, and holds no token.
		tab.Visit(app.URL+"/tokens", "tokens-list-"+theme)
		page := Eval[string](tab, `document.documentElement.outerHTML`)
		if strings.Contains(page, token) || !strings.Contains(tab.Text(`[data-testid="tokens-table"]`), name) {
			t.Errorf("%s: after the token was made, the list shows it or does not name it", theme)
		}
		if vs := axeSerious(tab); len(vs) > 0 {
			t.Errorf("tokens list (%s theme): axe-core finds serious or critical violations:\n%s", theme, formatViolations(vs))
		}
		tab.Do(
			chromedp.Click(chromedp.CSS(`tr[data-token="`+name+`"] [data-testid="token-revoke"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="tokens-notice"]`)),
		)
		tab.Screenshot("token-revoked-" + theme)
		if strings.Contains(Eval[string](tab, `document.body.innerText`), name) {
			t.Errorf("%s: the revoked token is still listed", theme)
		}
		if p := tab.Problems(); len(p) > 0 {
			t.Errorf("console errors or CSP violations (%s theme):\n%s", theme, strings.Join(p, "\n"))
		}

		// The same server by another of its names has no start cookie:
		// the refusal says what to do, with no login button.
		other := strings.Replace(app.URL, "127.0.0.1", "localhost", 1)
		setTheme(tab, other, theme)
		tab.Visit(other+"/clusters", "local-locked-"+theme)
		body := Eval[string](tab, `document.body.innerText`)
		if !strings.Contains(body, "Open the start link") || Eval[bool](tab, `!!document.querySelector('[data-testid="login-link"]')`) {
			t.Errorf("%s: the single-user refusal page offers a login or does not say what to do:\n%s", theme, body)
		}
		setTheme(tab, app.URL, "")
		setTheme(tab, other, "")
	}
}
