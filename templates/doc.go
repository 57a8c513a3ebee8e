// Package templates holds the templ components of FDL Studio's pages and
// fragments (*.templ, with the generated *_templ.go committed). Handlers
// build the values they render.
package templates
