package templates

import (
	"context"
	"net/http"
)

// ThemeCookie holds the colour theme the user picked with the toggle
// ("light" or "dark"; absent means: follow the OS). It is a display
// preference, never anything secret, and the server renders it into
// <html data-theme> so the page paints in its theme without a script.
const ThemeCookie = "fdlstudio-theme"

type themeKey struct{}

// WithTheme returns ctx carrying the theme chosen in r's cookie, if any,
// for Layout to render.
func WithTheme(ctx context.Context, r *http.Request) context.Context {
	c, err := r.Cookie(ThemeCookie)
	if err != nil || (c.Value != "light" && c.Value != "dark") {
		return ctx
	}
	return context.WithValue(ctx, themeKey{}, c.Value)
}

// themeOf is the theme in ctx: "light", "dark" or "" (follow the OS).
func themeOf(ctx context.Context) string {
	t, _ := ctx.Value(themeKey{}).(string)
	return t
}
