package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// commentedFDL is a service as a person writes it: comments everywhere,
// keys in their own order, a top-level storage provider.
const commentedFDL = `# Thumbnails for the photo archive.
# Owner: the imaging team.
functions:
  oscar:
  # The local cluster runs it while we test.
  - local:
      image: ghcr.io/example/thumbs:1.2 # pinned on purpose
      name: thumbs
      # Half a gigabyte is enough for 4k images.
      memory: 512Mi
      cpu: '0.5' # quoted: OSCAR wants a string
      script: |
        #!/bin/sh
        # make a thumbnail
        convert "$INPUT_FILE_PATH" -resize 200x "$TMP_OUTPUT_DIR/thumb.jpg"
      input:
      - storage_provider: minio.default
        path: thumbs/in # uploads land here
      output:
      - storage_provider: minio.archive
        path: archive/thumbs
      environment:
        variables:
          QUALITY: "85" # percent

# Where the thumbnails are kept.
storage_providers:
  minio:
    archive:
      endpoint: https://archive.example.org # the long-term store
      verify: true
`

// TestServiceFormKeepsComments: an FDL with comments, applied to the
// service form and then edited through the form (memory changed), keeps
// every comment and the order of its keys: exactly one line changes.
func TestServiceFormKeepsComments(t *testing.T) {
	env := newFormEnv(t)
	form := env.fullForm()
	form.Set("op", "apply-yaml")
	form.Set("yaml", commentedFDL)
	rec := env.do(http.MethodPost, "/services/preview", form, false)
	if rec.Code != http.StatusOK {
		t.Fatalf("apply: %d\n%s", rec.Code, textOf(elementByID(t, rec.Body.String(), "sf-diags")))
	}
	page := rec.Body.String()
	if got := textOf(elementByID(t, page, "sf-yaml-text")); got != commentedFDL {
		t.Errorf("after Apply YAML the pane changed:\n%s", got)
	}
	next := formValues(t, page)
	if next.Get("memory") != "512Mi" || next.Get("name") != "thumbs" {
		t.Fatalf("the form did not take the YAML: memory %q name %q", next.Get("memory"), next.Get("name"))
	}
	next.Set("memory", "1Gi")
	rec = env.do(http.MethodPost, "/services/preview", next, true)
	if rec.Code != http.StatusOK {
		t.Fatalf("preview: %d\n%s", rec.Code, rec.Body)
	}
	got := textOf(elementByID(t, rec.Body.String(), "sf-yaml-text"))
	before, after := strings.Split(commentedFDL, "\n"), strings.Split(got, "\n")
	if len(after) != len(before) {
		t.Fatalf("the pane has %d lines, want %d:\n%s", len(after), len(before), got)
	}
	var changed []string
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, before[i]+" → "+after[i])
		}
	}
	if len(changed) != 1 || changed[0] != "      memory: 512Mi →       memory: 1Gi" {
		t.Errorf("changed lines = %q, want only memory 512Mi → 1Gi:\n%s", changed, got)
	}
	for _, l := range before {
		if c := strings.TrimSpace(l); strings.HasPrefix(c, "#") && !strings.Contains(got, l) {
			t.Errorf("comment line %q lost", l)
		}
	}
}
