// Package handlers holds the HTTP handlers of FDL Studio, one file per
// resource. Handlers are methods on Handler, which carries their
// dependencies; each dependency is a small interface declared here, where
// it is consumed. Handlers return errors; web's error handler turns them
// into pages.
package handlers

import (
	"log/slog"

	"github.com/fdlstudio/fdlstudio/templates"
)

// Deps are what the handlers need from the rest of the program. Adding a
// field here is how a handler gets a new dependency.
type Deps struct {
	Log *slog.Logger
	// Served reports whether a GET route exists for a path; the
	// navigation links only to sections this build serves.
	Served func(path string) bool
}

// Handler serves the pages and fragments of FDL Studio.
type Handler struct {
	log *slog.Logger
	nav []templates.NavItem
}

// Sections are the entries of the main navigation, in order.
var Sections = []templates.NavItem{
	{Label: "Workflows", Href: "/workflows"},
	{Label: "Services", Href: "/services"},
	{Label: "Jobs", Href: "/jobs"},
	{Label: "Files", Href: "/files"},
	{Label: "Clusters", Href: "/clusters"},
}

// New builds a Handler from its dependencies.
func New(d Deps) *Handler {
	nav := make([]templates.NavItem, len(Sections))
	for i, s := range Sections {
		s.Available = d.Served != nil && d.Served(s.Href)
		nav[i] = s
	}
	return &Handler{log: d.Log, nav: nav}
}
