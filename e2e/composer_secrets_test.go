package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/store/sqlite"
)

// secretsWorkflow has a credential in every field kind the composer
// blanks: storage provider keys, a cluster password, a service secret.
const secretsWorkflow = `# keys below
functions:
  oscar:
  - my_oscar:
      name: vault
      image: alpine
      script: run.sh
      environment:
        secrets:
          OLD_TOKEN: e2e-secret-svc-1
      input:
      - storage_provider: minio.store
        path: vault/in
storage_providers:
  minio:
    store:
      endpoint: https://minio.example.org
      access_key: e2e-secret-access-2
      secret_key: e2e-secret-key-3
clusters:
  my_oscar:
    endpoint: https://oscar.example.org
    auth_user: me
    auth_password: e2e-secret-pass-4
`

// TestComposerKeepsSecretsOffThePage imports a workflow with a credential
// in every field kind, adds a secret, a variable and a provider key in the
// side panel, saves, and then looks for every value in the page HTML, the
// panel fragments and every response the composer fetched, the export and
// the version page: none may be there, while the store keeps each one.
func TestComposerKeepsSecretsOffThePage(t *testing.T) {
	app := startApp(t, nil)
	tab := newTab(t)
	importWorkflow(tab, app, "vault", secretsWorkflow)
	// Record the text of every response the composer fetches from now on.
	Eval[any](tab, `window.__bodies = []; (() => { const f = window.fetch; window.fetch = (...a) => f(...a).then(r => { r.clone().text().then(t => __bodies.push(t)); return r; }); })()`)

	selectNode(tab, `n => n.name === "vault"`)
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`#wf-panel [data-sf]`)))
	if ph := Eval[string](tab, `document.querySelector('#wf-panel [name="environment.secrets[0].value"]').placeholder`); !strings.Contains(ph, "stored") {
		t.Errorf("the stored secret's field says %q, want that it is stored", ph)
	}
	// A new secret row: the button redraws the panel with a blank row.
	tab.Do(chromedp.Click(chromedp.CSS(`#wf-panel [data-testid="sf-add-environment.secrets"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#wf-panel [name="environment.secrets[1].key"]`)),
		chromedp.SendKeys(chromedp.CSS(`#wf-panel [name="environment.secrets[1].key"]`), "NEW_TOKEN"),
		chromedp.SendKeys(chromedp.CSS(`#wf-panel [name="environment.secrets[1].value"]`), "e2e-secret-new-5"),
		chromedp.Click(chromedp.CSS(`#wf-panel [data-testid="sf-add-environment.variables"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#wf-panel [name="environment.variables[0].key"]`)),
		chromedp.SendKeys(chromedp.CSS(`#wf-panel [name="environment.variables[0].key"]`), "MODE"),
		chromedp.SendKeys(chromedp.CSS(`#wf-panel [name="environment.variables[0].value"]`), "fast\t"),
	)
	waitJS(tab, `fdlComposer.state().yaml.includes("MODE: fast") && fdlComposer.state().yaml.includes("NEW_TOKEN:")`)
	tab.Screenshot("composer-panel-secrets")
	if y := Eval[string](tab, `fdlComposer.state().yaml`); !strings.Contains(y, "OLD_TOKEN:") || !strings.Contains(y, "# keys below") || !strings.Contains(y, "script: run.sh\n") {
		t.Errorf("after the panel edits the YAML lost the stored secret's name or the comment, or changed the script:\n%s", y)
	}
	// A storage provider's key, from the storage node's panel.
	selectNode(tab, `n => n.kind === "storage" && n.path === "vault/in"`)
	tab.Do(chromedp.WaitVisible(chromedp.CSS(`#wf-panel [name=secret_key]`)),
		chromedp.SendKeys(chromedp.CSS(`#wf-panel [name=secret_key]`), "e2e-secret-key-6\t"))
	waitJS(tab, `document.getElementById("wf-message").textContent === "secret_key stored."`)
	// An edit in the YAML pane keeps what it does not show.
	tab.Do(chromedp.Click(chromedp.CSS(`[data-testid="save"]`)))
	waitJS(tab, `document.getElementById("wf-version").textContent === "version 2"`)

	secrets := []string{"e2e-secret-svc-1", "e2e-secret-access-2", "e2e-secret-pass-4", "e2e-secret-new-5", "e2e-secret-key-6"}
	places := map[string]string{
		"page HTML":       Eval[string](tab, `document.documentElement.outerHTML`),
		"fetch responses": Eval[string](tab, `__bodies.join("\n----\n")`),
		"export":          exportFDL(tab),
	}
	if n := Eval[int](tab, `__bodies.length`); n < 5 {
		t.Errorf("only %d responses recorded", n)
	}
	tab.Visit(Eval[string](tab, `location.href`), "composer-reloaded")
	waitJS(tab, `window.fdlComposer !== undefined`)
	places["reloaded page"] = Eval[string](tab, `document.documentElement.outerHTML`)
	tab.Visit(Eval[string](tab, `location.href`)+"/versions/2?against=1", "version-page")
	places["version page"] = Eval[string](tab, `document.documentElement.outerHTML`)
	for where, text := range places {
		for _, s := range append(secrets, "e2e-secret-key-3") {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", where, s)
			}
		}
	}
	// The store keeps every value, sealed: the replaced key 3 is gone, 6
	// is there.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(app.DataDir, "fdlstudio.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed string
	var owner, id int64
	if err := db.QueryRow(`SELECT w.owner_id, w.id, v.yaml FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id
		WHERE v.version = 2`).Scan(&owner, &id, &sealed); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(secrets, "e2e-secret-key-3") {
		if strings.Contains(sealed, s) {
			t.Errorf("the store holds %q in plain", s)
		}
	}
	key, err := store.LoadOrCreateKey(filepath.Join(app.DataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := store.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sealer.Open(sealed, sqlite.WorkflowVersionPurpose(owner, id, 2))
	if err != nil {
		t.Fatalf("opening the saved version: %v", err)
	}
	stored := string(plain)
	for _, s := range secrets {
		if !strings.Contains(stored, s) {
			t.Errorf("the saved version lost %q:\n%s", s, stored)
		}
	}
	if p := tab.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}

// selectNode clicks the first node matching the JS predicate on the canvas.
func selectNode(tab *Tab, pred string) {
	tab.t.Helper()
	tab.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const n = fdlComposer.state().nodes.find(%s);
		[...document.querySelectorAll("#wf-canvas .drawflow-node")].find(e => e.dataset.nodeId === n.id).dispatchEvent(new MouseEvent("mousedown", {bubbles: true})); })()`, pred)))
}
