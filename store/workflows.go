package store

import "time"

// Workflow is a user's FDL workflow: its latest saved version and, when
// the user has unsaved edits, the autosaved draft.
type Workflow struct {
	ID      int64
	OwnerID int64
	Name    string
	// Version is the number of the latest saved version (1 for a new
	// workflow); a save names the version it was based on and fails with
	// ErrConflict when that is no longer the latest.
	Version int
	// YAML and Positions are the latest saved version's FDL text and
	// canvas positions (JSON, kept outside the FDL).
	YAML      string
	Positions string
	// Draft is the autosaved unsaved FDL text ("" when there is none),
	// with its positions and the version it started from.
	Draft          string
	DraftPositions string
	DraftBase      int
	// Scripts are the script files imported with a bundle (path relative
	// to the FDL → content), exported again in the bundle zip.
	Scripts   map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WorkflowVersion is one saved version of a workflow.
type WorkflowVersion struct {
	Version   int
	YAML      string
	Positions string
	CreatedAt time.Time
}

// WorkflowVersionInfo is a saved version without its text: what a list of
// versions shows.
type WorkflowVersionInfo struct {
	Version   int
	CreatedAt time.Time
	// Author is the display name of the user who saved the version.
	Author string
	// Message is what the author said about the version ("" when nothing).
	Message string
	// Size is the length of the version's FDL text in bytes.
	Size int
}
