package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestComposerMarksYAMLErrorsInTheText breaks the YAML pane's text 20
// lines into a commented file and applies it: the text stays as typed, the
// error is marked in the editor's text and gutter at the line the list
// names, and the canvas is not changed.
func TestComposerMarksYAMLErrorsInTheText(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	importWorkflow(tab, app, "marks", commentedMaskDetector)
	before := Eval[string](tab, `fdlComposer.state().yaml`)
	lines := strings.Split(before, "\n")
	broken := -1
	for i, l := range lines {
		if strings.Contains(l, "image: grycap/mask-detector-yolo:full") {
			lines[i] = "     " + strings.TrimSpace(l) + "  # indented differently"
			broken = i + 1
		}
	}
	if broken < 0 {
		t.Fatal("the test file has no second image line")
	}
	text := strings.Join(lines, "\n")
	tab.Do(chromedp.SetValue(chromedp.ID("wf-yaml"), text),
		chromedp.Click(chromedp.CSS(`[data-cmd="apply-yaml"]`)))
	waitJS(tab, `document.querySelector("#wf-yaml-pane .code-editor") !== null &&
		document.querySelector("#wf-yaml-pane .code-editor").shadowRoot.querySelector(".cm-lintRange-error") !== null`)
	if got := Eval[string](tab, `document.getElementById("wf-yaml").value`); got != text {
		t.Errorf("after the refusal the pane holds:\n%s\nwant the text as typed", got)
	}
	if got := Eval[string](tab, `fdlComposer.state().yaml`); got != before {
		t.Error("a text that does not parse was applied")
	}
	listed := Eval[string](tab, `document.querySelector("#wf-diags .wf-diag button").textContent`)
	// The marked range and the gutter marker are on the line the list names.
	marked := Eval[[]string](tab, `(() => { const r = document.querySelector("#wf-yaml-pane .code-editor").shadowRoot;
		const range = r.querySelector(".cm-lintRange-error"); const line = range.closest(".cm-line");
		const n = [...r.querySelectorAll(".cm-content .cm-line")].indexOf(line) + 1;
		const gut = [...r.querySelectorAll(".cm-gutter-lint .cm-gutterElement")].filter(e => e.querySelector(".cm-lint-marker-error")).length;
		return [String(n), range.textContent, String(gut)]; })()`)
	if want := "line " + itoa(broken) + ":"; !strings.HasPrefix(listed, want) {
		t.Errorf("the list names %q, want %s (the token where the structure broke)", listed, want)
	}
	if marked[0] != itoa(broken) || marked[1] == "" || marked[2] != "1" {
		t.Errorf("marked line %s (text %q, %s gutter markers), want line %d with one marker", marked[0], marked[1], marked[2], broken)
	}
	tab.Screenshot("yaml-error-marked")
	if p := tab.Problems("status of 422"); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// commentedMaskDetector is the two-stage mask detector with comments.
const commentedMaskDetector = `# Mask detection, two stages.
# The first blurs faces, the second finds masks.
functions:
  # OSCAR services
  oscar:
  - my_oscar:
      name: anon-and-split   # blurs faces
      memory: 2Gi
      cpu: '1.0'
      image: grycap/blurry-faces
      script: blurry-faces.sh
      input:
      - storage_provider: minio
        path: mask-detector/input
      output:
      - storage_provider: minio
        path: mask-detector/intermediate
  # second stage
  - my_oscar:
      name: mask-detector
      memory: 1Gi
      cpu: '1.0'
      script: mask-detector.sh
      image: grycap/mask-detector-yolo:full
      input:
      - storage_provider: minio
        path: mask-detector/intermediate
# the end
`

// TestComposerFitShowsSmallGraphsAtFullSize: "Fit" never zooms beyond
// 100%; a one-service workflow shows at 100%, centred, and the reference
// mask detector fits whole inside the canvas.
func TestComposerFitShowsSmallGraphsAtFullSize(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	// geometry: [zoom, node centre offset from canvas centre x, y, nodes outside].
	geometry := `(() => { const c = document.getElementById("wf-canvas").getBoundingClientRect();
		const nodes = [...document.querySelectorAll("#wf-canvas .drawflow-node")];
		let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, out = 0;
		for (const e of nodes) { const r = e.getBoundingClientRect();
			minX = Math.min(minX, r.left); minY = Math.min(minY, r.top); maxX = Math.max(maxX, r.right); maxY = Math.max(maxY, r.bottom);
			if (r.left < c.left || r.right > c.right || r.top < c.top || r.bottom > c.bottom) out++; }
		return [nodes[0].getBoundingClientRect().width / nodes[0].offsetWidth, (minX + maxX) / 2 - (c.left + c.width / 2), (minY + maxY) / 2 - (c.top + c.height / 2), out]; })()`
	importWorkflow(tab, app, "one", "functions:\n  oscar:\n  - c:\n      name: lonely\n      image: alpine\n      script: run.sh\n")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-cmd="fit"]`)))
	g := Eval[[]float64](tab, geometry)
	if g[0] < 0.99 || g[0] > 1.01 || g[1]*g[1] > 4 || g[2]*g[2] > 4 {
		t.Errorf("one node after Fit: zoom %.2f, centre off by (%.1f, %.1f) px; want 100%%, centred", g[0], g[1], g[2])
	}
	importWorkflow(tab, app, "masks", commentedMaskDetector)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-cmd="fit"]`)))
	g = Eval[[]float64](tab, geometry)
	if g[0] > 1.01 || g[3] != 0 || g[1]*g[1] > 4 || g[2]*g[2] > 4 {
		t.Errorf("mask detector after Fit: zoom %.2f, centre off by (%.1f, %.1f) px, %v nodes outside the canvas", g[0], g[1], g[2], g[3])
	}
	tab.Screenshot("fit")
}
