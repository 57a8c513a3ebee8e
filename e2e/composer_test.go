package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/web"
)

// importWorkflow creates a workflow from pasted FDL text and waits for the
// composer to draw it.
func importWorkflow(tab *Tab, app *App, name, text string) {
	tab.t.Helper()
	tab.Visit(app.URL+"/workflows", "workflows")
	tab.Do(
		chromedp.SetValue(chromedp.ID("wf-name"), name),
		chromedp.Click(chromedp.CSS(`input[name=source][value=paste]`)),
		chromedp.SetValue(chromedp.ID("wf-paste"), text),
		chromedp.Click(chromedp.CSS(`[data-testid="create-workflow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="canvas"]`)),
	)
	waitJS(tab, `window.fdlComposer !== undefined`)
}

func waitJS(tab *Tab, expr string) {
	tab.t.Helper()
	if _, err := chromedp.Run(tab.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		tab.Screenshot("wait-failed")
		tab.t.Fatalf("waiting for %s: %v (message %q, browser problems %v)", expr, err, Eval[string](tab, `document.getElementById("wf-message") ? document.getElementById("wf-message").textContent : ""`), tab.Problems())
	}
}

// TestComposerImportsEveryExample imports each reference example and finds
// on the canvas every node and link its graph has.
func TestComposerImportsEveryExample(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	files, _ := filepath.Glob("../fdl/testdata/examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no reference examples found")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := fdl.Parse(f, data)
		if err != nil {
			t.Fatal(err)
		}
		g := doc.Graph()
		importWorkflow(tab, app, filepath.Base(f), string(data))
		for _, n := range g.Nodes {
			want := n.Name
			if n.Kind == fdl.KindStorage {
				want = n.Path
			}
			expr := fmt.Sprintf(`[...document.querySelectorAll("#wf-canvas .drawflow-node")].some(e => e.textContent.includes(%q))`, want)
			if !Eval[bool](tab, expr) {
				tab.Screenshot("missing-node")
				t.Errorf("%s: node %s (%q) is not on the canvas", filepath.Base(f), n.ID, want)
			}
		}
		drawn := Eval[int](tab, `document.querySelectorAll("#wf-canvas .connection").length`)
		if drawn != len(g.Edges) {
			t.Errorf("%s: %d links drawn, the file defines %d", filepath.Base(f), drawn, len(g.Edges))
		}
	}
	tab.Screenshot("composer-light")
	Eval[any](tab, `document.documentElement.setAttribute("data-theme", "dark")`)
	tab.Screenshot("composer-dark")
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// TestComposerBuildsMaskDetectorByMouse builds the two-stage mask
// detector from an empty canvas with clicks, typing and drags between
// ports, exports it, and compares services and links with the reference.
func TestComposerBuildsMaskDetectorByMouse(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	importWorkflow(tab, app, "masks", "functions:\n  oscar: []\n")

	// Each node is dragged from the palette and dropped on the canvas with
	// real mouse events; the dialog opens at the drop point.
	drops := 0
	var dropped [][2]float64
	drop := func(testid string) {
		waitJS(tab, `fdlComposer.idle().then(() => true)`)
		at := [2]float64{30 + float64(drops%2)*240, 20 + float64(drops/2)*90}
		drops++
		from := Eval[[]float64](tab, fmt.Sprintf(`(() => { const r = document.querySelector('[data-testid=%q]').getBoundingClientRect(); return [r.left + r.width/2, r.top + r.height/2]; })()`, testid))
		c := Eval[[]float64](tab, `(() => { const r = document.getElementById("wf-canvas").getBoundingClientRect(); return [r.left, r.top]; })()`)
		tab.Do(chromedp.DragAndDropXY(from[0], from[1], c[0]+at[0], c[1]+at[1], 8))
		dropped = append(dropped, at)
	}
	// landed checks that the node last added sits where it was dropped.
	landed := func(pred string) {
		at := dropped[len(dropped)-1]
		xy := Eval[[]float64](tab, fmt.Sprintf(`(() => { const n = fdlComposer.state().nodes.find(%s);
			const el = document.querySelector('#wf-canvas .drawflow-node[data-node-id="' + n.id + '"]').getBoundingClientRect();
			const c = document.getElementById("wf-canvas").getBoundingClientRect(); return [el.left - c.left, el.top - c.top]; })()`, pred))
		if d := (xy[0]-at[0])*(xy[0]-at[0]) + (xy[1]-at[1])*(xy[1]-at[1]); d > 25 {
			t.Errorf("%s landed at %v, dropped at %v", pred, xy, at)
		}
	}
	addService := func(name, image, mem string) {
		drop("add-oscar")
		tab.Do(
			chromedp.WaitVisible(chromedp.ID("wf-add-name")),
			chromedp.SendKeys(chromedp.ID("wf-add-name"), name),
			chromedp.SendKeys(chromedp.ID("wf-add-image"), image),
			chromedp.SetValue(chromedp.ID("wf-add-cluster"), "my_oscar"),
			chromedp.SetValue(chromedp.ID("wf-add-memory"), mem),
			chromedp.Click(chromedp.CSS(`[data-testid="dialog-ok"]`)),
		)
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().nodes.some(n => n.name === %q)`, name))
		landed(fmt.Sprintf(`n => n.name === %q`, name))
	}
	addStorage := func(path string) {
		drop("add-minio")
		tab.Do(
			chromedp.WaitVisible(chromedp.ID("wf-add-path")),
			chromedp.SendKeys(chromedp.ID("wf-add-path"), path),
			chromedp.Click(chromedp.CSS(`[data-testid="dialog-ok"]`)),
		)
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().nodes.some(n => n.path === %q)`, path))
		landed(fmt.Sprintf(`n => n.path === %q`, path))
	}
	addService("anon-and-split", "grycap/blurry-faces", "2Gi")
	addService("mask-detector", "grycap/mask-detector-yolo:full", "1Gi")
	for _, p := range []string{"mask-detector/input", "mask-detector/intermediate", "mask-detector/result"} {
		addStorage(p)
	}
	// Shift+drag a band around the two services (the first row): both are
	// selected, nothing else.
	c := Eval[[]float64](tab, `(() => { const r = document.getElementById("wf-canvas").getBoundingClientRect(); return [r.left, r.top]; })()`)
	shift := chromedp.ButtonModifiers(chromedp.ModifierShift)
	tab.Do(chromedp.MouseEvent(chromedp.MouseMoved, c[0]+10, c[1]+8, shift),
		chromedp.MouseEvent(chromedp.MousePressed, c[0]+10, c[1]+8, chromedp.ButtonLeft, shift),
		chromedp.MouseEvent(chromedp.MouseMoved, c[0]+200, c[1]+40, chromedp.ButtonLeft, shift),
		chromedp.MouseEvent(chromedp.MouseMoved, c[0]+470, c[1]+60, chromedp.ButtonLeft, shift),
		chromedp.MouseEvent(chromedp.MouseReleased, c[0]+470, c[1]+60, chromedp.ButtonLeft, shift))
	sel := Eval[[]string](tab, `[...document.querySelectorAll("#wf-canvas .wf-selected")].map(e => fdlComposer.state().nodes.find(n => n.id === e.dataset.nodeId).name || "").sort()`)
	if strings.Join(sel, ",") != "anon-and-split,mask-detector" {
		tab.Screenshot("band")
		t.Errorf("the band selected %v, want the two services", sel)
	}
	// Spread the nodes so ports do not overlap, then drag wires.
	tab.Do(chromedp.Click(chromedp.CSS(`[data-cmd="layout"]`)))
	waitJS(tab, `document.getElementById("wf-message").textContent === "Laid out."`)
	port := func(match, which string) (float64, float64) {
		expr := fmt.Sprintf(`(() => { const s = fdlComposer.state(); const n = s.nodes.find(n => (n.name === %[1]q) || (n.path === %[1]q));
			const el = [...document.querySelectorAll("#wf-canvas .drawflow-node")].find(e => e.dataset.nodeId === n.id);
			const r = el.querySelector(".%[2]s").getBoundingClientRect(); return [r.left + r.width/2, r.top + r.height/2]; })()`, match, which)
		xy := Eval[[]float64](tab, expr)
		return xy[0], xy[1]
	}
	wire := func(from, to string) {
		fx, fy := port(from, "output")
		tx, ty := port(to, "input")
		tab.Do(chromedp.DragAndDropXY(fx, fy, tx, ty, 8))
		waitJS(tab, `fdlComposer.idle().then(() => true)`)
	}
	links := [][2]string{
		{"mask-detector/input", "anon-and-split"},
		{"anon-and-split", "mask-detector/intermediate"},
		{"mask-detector/intermediate", "mask-detector"},
		{"mask-detector", "mask-detector/result"},
	}
	for i, l := range links {
		wire(l[0], l[1])
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().edges.length === %d`, i+1))
	}
	// Fields the dialog does not ask for: set them in the side panel.
	// Connected locations are in the FDL now, not loose on the canvas.
	waitJS(tab, `fdlComposer.state().nodes.length === 5 && !fdlComposer.state().nodes.some(n => n.loose)`)
	setInPanel(tab, "anon-and-split", "script", "blurry-faces.sh")
	setInPanel(tab, "mask-detector", "script", "mask-detector.sh")
	tab.Screenshot("composer-mask-detector")

	got := exportFDL(tab)
	compareWithReference(t, got)
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

func exportFDL(tab *Tab) string {
	tab.t.Helper()
	href := Eval[string](tab, `document.querySelector('[data-testid="export"]').href`)
	return Eval2[string](tab, `fetch(`+jsString(href)+`).then(r => r.text())`)
}

// Eval2 evaluates an expression that returns a promise.
func Eval2[T any](tab *Tab, expr string) T {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func compareWithReference(t *testing.T, got string) {
	t.Helper()
	data, err := os.ReadFile("../fdl/testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := fdl.Parse("ref.yaml", data)
	doc, err := fdl.Parse("export.yaml", []byte(got))
	if err != nil {
		t.Fatalf("the export is not an FDL: %v\n%s", err, got)
	}
	if len(doc.Model().Oscar) != len(ref.Model().Oscar) {
		t.Fatalf("export has %d services, want %d:\n%s", len(doc.Model().Oscar), len(ref.Model().Oscar), got)
	}
	for i, w := range ref.Model().Oscar {
		g := doc.Model().Oscar[i]
		if g.Cluster != w.Cluster || !reflect.DeepEqual(g.Service, w.Service) {
			t.Errorf("service %d:\n got %+v\nwant %+v", i, g.Service, w.Service)
		}
	}
	if g, w := doc.Graph().Edges, ref.Graph().Edges; !reflect.DeepEqual(g, w) {
		t.Errorf("links %v, want %v\n%s", g, w, got)
	}
	if strings.TrimSpace(got) == "" {
		t.Error("empty export")
	}
}

// setInPanel selects the function called name on the canvas and changes
// one field in its side panel.
func setInPanel(tab *Tab, name, field, value string) {
	tab.t.Helper()
	tab.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const n = fdlComposer.state().nodes.find(n => n.name === %q);
		[...document.querySelectorAll("#wf-canvas .drawflow-node")].find(e => e.dataset.nodeId === n.id).querySelector(".wf-name").dispatchEvent(new MouseEvent("mousedown", {bubbles: true})); })()`, name)))
	sel := fmt.Sprintf(`#wf-panel [name=%q]`, field)
	tab.Do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("change", {bubbles: true}))`, sel)))
	waitJS(tab, fmt.Sprintf(`fdlComposer.state().yaml.includes(%q)`, value))
}

// TestComposerUndoRedoTenEdits makes ten edits in the side panel, undoes
// them one by one with Ctrl+Z and redoes them with Shift+Ctrl+Z.
func TestComposerUndoRedoTenEdits(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	data, err := os.ReadFile("../fdl/testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	importWorkflow(tab, app, "undo", string(data))
	texts := []string{Eval[string](tab, `fdlComposer.state().yaml`)}
	for i := 1; i <= 10; i++ {
		setInPanel(tab, "mask-detector", "memory", fmt.Sprintf("%dMi", 100+i))
		texts = append(texts, Eval[string](tab, `fdlComposer.state().yaml`))
	}
	if d := Eval[[]int](tab, `fdlComposer.depth()`); d[0] != 10 {
		t.Fatalf("undo history holds %d edits after ten, want 10", d[0])
	}
	key := func(shift bool) {
		mods := []chromedp.Modifier{chromedp.ModifierCtrl}
		if shift {
			mods = append(mods, chromedp.ModifierShift)
		}
		tab.Do(chromedp.Focus(chromedp.ID("wf-canvas")), chromedp.KeyEvent("z", chromedp.KeyModifiers(mods...)))
	}
	for i := 9; i >= 0; i-- {
		key(false)
		waitJS(tab, `fdlComposer.state().yaml === `+jsLiteral(texts[i]))
		if got := Eval[string](tab, `document.getElementById("wf-yaml").value`); got != texts[i] {
			t.Fatalf("after undo to step %d the YAML pane shows:\n%q\nwant\n%q", i, got, texts[i])
		}
	}
	for i := 1; i <= 10; i++ {
		key(true)
		waitJS(tab, `fdlComposer.state().yaml === `+jsLiteral(texts[i]))
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// TestComposerSaveConflict saves in one tab, then in a second tab that
// opened the same version: the second sees the difference and chooses to
// overwrite; nothing is lost silently.
func TestComposerSaveConflict(t *testing.T) {
	app := startApp(t, nil)
	a := newTab(t)
	data, err := os.ReadFile("../fdl/testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	importWorkflow(a, app, "shared", string(data))
	url := Eval[string](a, `location.href`)
	b := newTab(t)
	b.Visit(url, "composer-b")
	waitJS(b, `window.fdlComposer !== undefined`)

	setInPanel(a, "mask-detector", "memory", "3Gi")
	a.Do(chromedp.Click(chromedp.CSS(`[data-testid="save"]`)))
	waitJS(a, `document.getElementById("wf-version").textContent === "version 2"`)

	setInPanel(b, "mask-detector", "memory", "5Gi")
	b.Do(chromedp.Click(chromedp.CSS(`[data-testid="save"]`)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="conflict-diff"]`)))
	diff := b.Text(`[data-testid="conflict-diff"]`)
	if !strings.Contains(diff, "- ") || !strings.Contains(diff, "memory: 3Gi") || !strings.Contains(diff, "memory: 5Gi") {
		t.Errorf("the conflict shows %q; want both memories", diff)
	}
	b.Screenshot("conflict")
	if v := Eval[string](b, `document.getElementById("wf-version").textContent`); v != "version 1" {
		t.Errorf("the stale tab saved anyway: %s", v)
	}
	b.Do(chromedp.Click(chromedp.CSS(`[data-testid="dialog-ok"]`)))
	waitJS(b, `document.getElementById("wf-version").textContent === "version 3"`)
	if got := exportFDL(b); !strings.Contains(got, "memory: 5Gi") {
		t.Errorf("after overwriting, the export is:\n%s", got)
	}
	if p := b.Problems("status of 409"); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// TestComposerBuildsMaskDetectorByKeyboard builds the same workflow with
// the keyboard only: palette buttons and dialogs, the connect menus, and
// arrow keys plus Enter to reach a node's side panel.
func TestComposerBuildsMaskDetectorByKeyboard(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	importWorkflow(tab, app, "masks-keys", "functions:\n  oscar: []\n")
	selectAll := chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl))
	typeInto := func(text string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{selectAll, chromedp.KeyEvent(text), chromedp.KeyEvent("\t")}
	}
	addService := func(name, image, mem string) {
		steps := []chromedp.Action[chromedp.Void]{chromedp.Focus(chromedp.CSS(`[data-testid="add-oscar"]`)), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("wf-add-name"))}
		for _, v := range []string{name, image, "my_oscar", "1.0", mem} {
			steps = append(steps, typeInto(v)...)
		}
		steps = append(steps, chromedp.KeyEvent("\r")) // on OK
		tab.Do(steps...)
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().nodes.some(n => n.name === %q)`, name))
	}
	addStorage := func(path string) {
		tab.Do(chromedp.Focus(chromedp.CSS(`[data-testid="add-minio"]`)), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("wf-add-path")),
			chromedp.KeyEvent("\t"), chromedp.KeyEvent(path), chromedp.KeyEvent("\r"))
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().nodes.some(n => n.path === %q)`, path))
	}
	addService("anon-and-split", "grycap/blurry-faces", "2Gi")
	addService("mask-detector", "grycap/mask-detector-yolo:full", "1Gi")
	for _, p := range []string{"mask-detector/input", "mask-detector/intermediate", "mask-detector/result"} {
		addStorage(p)
	}
	connect := func(from, to string, n int) {
		pick(tab, "wf-connect-from", from)
		pick(tab, "wf-connect-to", to)
		tab.Do(chromedp.Focus(chromedp.CSS(`[data-testid="connect"]`)), chromedp.KeyEvent("\r"))
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().edges.length === %d`, n))
	}
	connect("mask-detector/input", "anon-and-split", 1)
	connect("anon-and-split", "mask-detector/intermediate", 2)
	connect("mask-detector/intermediate", "mask-detector", 3)
	connect("mask-detector", "mask-detector/result", 4)

	// Arrow keys move between nodes; Enter opens the panel on the name;
	// Tab twice reaches the script.
	setScript := func(name, script string) {
		tab.Do(chromedp.Focus(chromedp.ID("wf-canvas")))
		for i := 0; i < 10 && Eval[string](tab, `document.activeElement.dataset.nodeId ? fdlComposer.state().nodes.find(n => n.id === document.activeElement.dataset.nodeId).name || "" : ""`) != name; i++ {
			tab.Do(chromedp.KeyEvent(kb.ArrowRight))
		}
		tab.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(`#wf-panel [name=script]`)))
		waitJS(tab, `document.activeElement && document.activeElement.name === "name"`)
		tab.Do(chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent(script))
		waitJS(tab, fmt.Sprintf(`fdlComposer.state().yaml.includes(%q)`, "script: "+script))
	}
	setScript("anon-and-split", "blurry-faces.sh")
	setScript("mask-detector", "mask-detector.sh")
	tab.Screenshot("composer-keyboard")
	compareWithReference(t, exportFDL(tab))
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// pick chooses the option labelled text (a function name, or a storage
// path shown after its provider) in a select with the keyboard: Home, then
// the down arrow until it is selected.
func pick(tab *Tab, id, text string) {
	tab.t.Helper()
	tab.Do(chromedp.Focus(chromedp.ID(id)), chromedp.KeyEvent(kb.Home))
	cur := `document.getElementById(` + jsLiteral(id) + `).selectedOptions[0].textContent`
	is := func() bool {
		got := Eval[string](tab, cur)
		return got == text || strings.HasSuffix(got, ":"+text)
	}
	for i := 0; i < 20 && !is(); i++ {
		tab.Do(chromedp.KeyEvent(kb.ArrowDown))
	}
	if got := Eval[string](tab, cur); !is() {
		tab.t.Fatalf("could not pick %q in #%s (at %q)", text, id, got)
	}
}

// TestComposerImportRefusesOtherYAMLAndExportsBundles: Kubernetes
// manifests and the old SCAR list format get fdl's "not an FDL" message;
// the local sample comes from the gallery with its scripts, and its zip
// export carries them.
func TestComposerImportRefusesOtherYAMLAndExportsBundles(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	for name, text := range map[string]string{
		"k8s":  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n",
		"scar": "functions:\n- lambda:\n    name: old\n",
	} {
		tab.Visit(app.URL+"/workflows", "workflows")
		tab.Do(
			chromedp.Click(chromedp.CSS(`input[name=source][value=paste]`)),
			chromedp.SetValue(chromedp.ID("wf-paste"), text),
			chromedp.Click(chromedp.CSS(`[data-testid="create-workflow"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-error"]`)),
		)
		if msg := tab.Text(`[data-testid="import-error"]`); !strings.Contains(msg, "not an FDL") || !strings.Contains(msg, "line ") {
			t.Errorf("%s: the refusal says %q", name, msg)
		}
	}
	tab.Do(
		chromedp.Click(chromedp.CSS(`input[name=source][value=gallery]`)),
		chromedp.SetValue(chromedp.ID("wf-gallery"), "wordcount (local sample)"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-workflow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="canvas"]`)),
	)
	waitJS(tab, `window.fdlComposer !== undefined && fdlComposer.state().nodes.length > 0`)
	href := Eval[string](tab, `document.querySelector('[data-testid="export-zip"]').href`)
	names := Eval2[[]string](tab, `fetch(`+jsString(href)+`).then(r => r.arrayBuffer()).then(b => {
		// List the zip's entry names from its central directory.
		const v = new DataView(b), out = [];
		for (let i = 0; i + 46 < b.byteLength; i++) {
			if (v.getUint32(i, true) === 0x02014b50) {
				const n = v.getUint16(i + 28, true);
				out.push(new TextDecoder().decode(new Uint8Array(b, i + 46, n)));
			}
		}
		return out;
	})`)
	if strings.Join(names, ",") != "wordcount-local-sample.yaml,count.sh,top10.sh" {
		t.Errorf("the bundle holds %v", names)
	}
	if p := tab.Problems("status of 422"); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// TestComposerRoundTripKeepsComments imports a commented file, changes
// one field and adds one link on the canvas, and exports it: only the
// changed and added lines differ, the comments stay.
func TestComposerRoundTripKeepsComments(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	src := "# Mask detection, two stages.\nfunctions:\n  # OSCAR services\n  oscar:\n  - my_oscar:\n      name: anon-and-split   # blurs faces\n      memory: 2Gi\n      cpu: '1.0'\n      image: grycap/blurry-faces\n      script: blurry-faces.sh\n      input:\n      - storage_provider: minio\n        path: mask-detector/input\n      output:\n      - storage_provider: minio\n        path: mask-detector/intermediate\n  # second stage\n  - my_oscar:\n      name: mask-detector\n      memory: 1Gi\n      cpu: '1.0'\n      script: mask-detector.sh\n      image: grycap/mask-detector-yolo:full\n      input:\n      - storage_provider: minio\n        path: mask-detector/intermediate\n# the end\n"
	importWorkflow(tab, app, "commented", src)
	setInPanel(tab, "mask-detector", "memory", "3Gi")
	tab.Do(
		chromedp.Click(chromedp.CSS(`[data-testid="add-minio"]`)),
		chromedp.WaitVisible(chromedp.ID("wf-add-path")),
		chromedp.SendKeys(chromedp.ID("wf-add-path"), "mask-detector/result"),
		chromedp.Click(chromedp.CSS(`[data-testid="dialog-ok"]`)),
	)
	waitJS(tab, `fdlComposer.state().nodes.some(n => n.loose)`)
	pick(tab, "wf-connect-from", "mask-detector")
	pick(tab, "wf-connect-to", "mask-detector/result")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="connect"]`)))
	waitJS(tab, `fdlComposer.state().edges.length === 4`)
	want := strings.Replace(src, "      memory: 1Gi\n", "      memory: 3Gi\n", 1)
	want = strings.Replace(want, "        path: mask-detector/intermediate\n# the end\n",
		"        path: mask-detector/intermediate\n      output:\n      - storage_provider: minio\n        path: mask-detector/result\n# the end\n", 1)
	if got := exportFDL(tab); got != want {
		t.Errorf("export:\n%s\nwant:\n%s", got, want)
	}
}

// BenchmarkComposerImportAndDraw200 is the time from submitting a pasted
// 200-function workflow on the workflows page to the composer having drawn
// every node and link, in headless Chromium.
func BenchmarkComposerImportAndDraw200(b *testing.B) {
	cfg := web.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.LocalCluster = "off"
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	tabCtx, closeTab := chromedp.NewContext(browserCtx)
	defer closeTab()
	if u := srv.OpenURL(); u != "" {
		// Local single-user mode: the browser opens the printed URL first.
		if err := chromedp.Do(tabCtx, chromedp.Navigate(u)); err != nil {
			b.Fatal(err)
		}
	}

	var text strings.Builder
	text.WriteString("functions:\n  oscar:\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&text, "  - c:\n      name: f%d\n      image: busybox\n      script: run.sh\n      input:\n      - storage_provider: minio\n        path: b/s%d\n      output:\n      - storage_provider: minio\n        path: b/s%d\n", i, i, i+1)
	}
	var sums [4]float64
	drawn := `document.querySelectorAll("#wf-canvas .drawflow-node").length === 401 && document.querySelectorAll("#wf-canvas .connection").length === 400`
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := chromedp.Do(tabCtx,
			chromedp.Navigate(srv.URL()+"/workflows"),
			chromedp.WaitVisible(chromedp.ID("wf-paste")),
			chromedp.Click(chromedp.CSS(`input[name=source][value=paste]`)),
			chromedp.SetValue(chromedp.ID("wf-paste"), text.String()),
		); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := chromedp.Do(tabCtx, chromedp.Click(chromedp.CSS(`[data-testid="create-workflow"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="canvas"]`))); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(tabCtx, chromedp.Poll[bool](drawn, chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// The split, from the navigation the click started: the server's
		// share is up to the first byte of the composer page (the import
		// POST, its redirect and the page); the browser's is from there to
		// the island's "composer:drawn" mark, of which "draw" is the
		// island's own work (from its "composer:start" mark).
		split, err := chromedp.Run(tabCtx, chromedp.Evaluate[[]float64](`(() => { const n = performance.getEntriesByType("navigation")[0];
			const m = (k) => performance.getEntriesByName(k)[0].startTime;
			return [n.responseStart, m("composer:drawn") - n.responseStart, m("composer:drawn") - m("composer:start"), n.responseEnd - n.responseStart]; })()`))
		if err != nil {
			b.Fatal(err)
		}
		for j, unit := range []string{"server-ms/op", "browser-ms/op", "draw-ms/op", "download-ms/op"} {
			sums[j] += split[j]
			b.ReportMetric(sums[j]/float64(i+1), unit)
		}
		// Leave the composer without its unsaved-changes question.
		if err := chromedp.Do(tabCtx, chromedp.Evaluate[chromedp.Void](`window.onbeforeunload = null; window.fdlComposer = undefined`)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// TestComposerCopyPasteDeleteAndVersions: copy and paste a function,
// shift-click to select two nodes and delete them, save, and look at the
// saved versions: the difference between them, and restoring the first.
func TestComposerCopyPasteDeleteAndVersions(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	data, err := os.ReadFile("../fdl/testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	importWorkflow(tab, app, "versions", string(data))
	click := func(name string, shift bool) {
		tab.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const n = fdlComposer.state().nodes.find(n => n.name === %q);
			[...document.querySelectorAll("#wf-canvas .drawflow-node")].find(e => e.dataset.nodeId === n.id).querySelector(".wf-name").dispatchEvent(new MouseEvent("mousedown", {bubbles: true, shiftKey: %v})); })()`, name, shift)))
	}
	click("mask-detector", false)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-cmd="copy"]`)), chromedp.Click(chromedp.CSS(`[data-cmd="paste"]`)))
	waitJS(tab, `fdlComposer.state().nodes.some(n => n.name === "mask-detector-copy")`)
	if !Eval[bool](tab, `fdlComposer.state().yaml.includes("name: mask-detector-copy\n      image: grycap/mask-detector-yolo:full")`) {
		t.Errorf("the pasted copy lacks the image:\n%s", Eval[string](tab, `fdlComposer.state().yaml`))
	}
	click("anon-and-split", false)
	click("mask-detector-copy", true)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-cmd="delete"]`)))
	waitJS(tab, `fdlComposer.state().nodes.filter(n => n.kind !== "storage").map(n => n.name).join() === "mask-detector"`)
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="save"]`)))
	waitJS(tab, `document.getElementById("wf-version").textContent === "version 2"`)

	tab.Visit(Eval[string](tab, `location.href`)+"/versions/2", "version-2")
	diff := tab.Text(`[data-testid="diff"]`)
	if !strings.Contains(diff, "-       name: anon-and-split") || strings.Contains(diff, "mask-detector-copy") {
		t.Errorf("the difference from version 1 reads:\n%s", diff)
	}
	tab.Visit(strings.TrimSuffix(Eval[string](tab, `location.href`), "/2")+"/1", "version-1")
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="restore"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="canvas"]`)))
	waitJS(tab, `window.fdlComposer !== undefined && fdlComposer.state().nodes.some(n => n.name === "anon-and-split")`)
	if !Eval[bool](tab, `!document.getElementById("wf-dirty").hidden`) {
		t.Error("a restored version is not marked as unsaved")
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// TestComposerAccessibility runs axe-core on the composer with a workflow
// loaded and a node's side panel open, in the light and the dark theme.
func TestComposerAccessibility(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	data, err := os.ReadFile("../fdl/testdata/examples/mask-detector-workflow_mask-detector-workflow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	importWorkflow(tab, app, "a11y", string(data))
	url := Eval[string](tab, `location.href`)
	for _, theme := range []string{"light", "dark"} {
		setTheme(tab, app.URL, theme)
		tab.Visit(url, "composer-"+theme)
		waitJS(tab, `window.fdlComposer !== undefined`)
		tab.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#wf-canvas .drawflow-node .wf-name").dispatchEvent(new MouseEvent("mousedown", {bubbles: true}))`),
			chromedp.WaitVisible(chromedp.CSS(`#wf-panel fieldset`)))
		if vs := axeSerious(tab); len(vs) > 0 {
			t.Errorf("%s theme: axe-core finds serious or critical violations on the composer:\n%s", theme, formatViolations(vs))
		}
	}
}
