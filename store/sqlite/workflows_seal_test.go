package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
)

var testSealer, _ = store.NewSealer(bytes.Repeat([]byte{9}, store.KeySize))

// secretFDL writes a distinct secret in every credential field FDL has:
// each storage provider kind, clusters (top level and in a service), a
// service's token, environment secrets and federation member headers.
const secretFDL = `functions:
  oscar:
  - lab:
      name: masks
      image: alpine
      script: echo
      token: SECRET-SERVICE-TOKEN
      environment:
        secrets:
          DB_PASSWORD: SECRET-ENV-VALUE
      storage_providers:
        minio:
          inner:
            endpoint: https://minio.inner.example
            access_key: SECRET-INNER-ACCESS
            secret_key: SECRET-INNER-SECRET
      clusters:
        peer:
          endpoint: https://peer.example
          auth_user: p
          auth_password: SECRET-PEER-PASSWORD
      federation:
        members:
        - url: https://member.example
          headers:
            Authorization: SECRET-MEMBER-HEADER
storage_providers:
  minio:
    m:
      endpoint: https://minio.example
      access_key: SECRET-MINIO-ACCESS
      secret_key: SECRET-MINIO-SECRET
  s3:
    s:
      access_key: SECRET-S3-ACCESS
      secret_key: SECRET-S3-SECRET
      region: us-east-1
  onedata:
    o:
      oneprovider_host: op.example
      token: SECRET-ONEDATA-TOKEN
      space: sp
  webdav:
    w:
      hostname: dav.example
      login: me
      password: SECRET-WEBDAV-PASSWORD
  rucio:
    r:
      host: rucio.example
      refresh_token: SECRET-RUCIO-REFRESH
      account: me
clusters:
  lab:
    endpoint: https://lab.example
    auth_user: oscar
    auth_password: SECRET-CLUSTER-PASSWORD
`

// fdlSecrets lists the secret values written in text (every one starts
// with SECRET-, each distinct). The whole text is sealed, so every
// credential field is covered however the FDL names it; the store may not
// depend on the backends that know those names (TestArchitecture).
func fdlSecrets(t *testing.T, text string) []string {
	t.Helper()
	if _, err := fdl.Parse("wf.yaml", []byte(text)); err != nil {
		t.Fatal(err)
	}
	out := regexp.MustCompile(`SECRET-[A-Z0-9-]+`).FindAllString(text, -1)
	seen := map[string]bool{}
	for _, v := range out {
		if seen[v] {
			t.Fatalf("%q is written twice, want distinct secrets", v)
		}
		seen[v] = true
	}
	if len(out) < 14 {
		t.Fatalf("%d secrets written, want one in each of the 14 credential fields", len(out))
	}
	return out
}

// assertNotOnDisk reads the database file and its write-ahead log as
// bytes and fails on any secret found, after checking that the files do
// hold the rows (seen, a plain name stored beside the texts).
func assertNotOnDisk(t *testing.T, path, seen string, secrets []string) {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q in plain", filepath.Base(p), s)
			}
		}
		all = append(all, data...)
	}
	if !bytes.Contains(all, []byte(seen)) {
		t.Fatalf("%q not found in the database files: the scan reads nothing", seen)
	}
}

// TestWorkflowTextsSealedAtRest: saved versions and the draft of a
// workflow whose FDL has a secret in every credential field leave none
// of them in the database file or its log, and still read back whole.
func TestWorkflowTextsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	secrets := fdlSecrets(t, secretFDL)
	db, err := Open(ctx, path, WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	repo := db.Workflows()
	w, err := repo.Create(ctx, alice.ID, "plain-workflow-name", secretFDL, `{"lab/masks":{"x":1}}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	v2text := secretFDL + "# second\n"
	if _, err := repo.Save(ctx, alice.ID, w.ID, 1, "plain-workflow-name", v2text, "", "plain-save-message"); err != nil {
		t.Fatal(err)
	}
	draft := secretFDL + "# draft\n"
	if err := repo.SaveDraft(ctx, alice.ID, w.ID, 2, draft, ""); err != nil {
		t.Fatal(err)
	}
	assertNotOnDisk(t, path, "plain-save-message", secrets)

	got, err := repo.Get(ctx, alice.ID, w.ID)
	if err != nil || got.YAML != v2text || got.Draft != draft || got.DraftBase != 2 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if v, err := repo.Version(ctx, alice.ID, w.ID, 1); err != nil || v.YAML != secretFDL || v.Positions != `{"lab/masks":{"x":1}}` {
		t.Fatalf("Version 1 = %+v, %v", v, err)
	}
	vs, err := repo.VersionList(ctx, alice.ID, w.ID)
	if err != nil || len(vs) != 2 || vs[0].Size != len(v2text) || vs[1].Size != len(secretFDL) {
		t.Fatalf("VersionList = %+v, %v", vs, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed, the log is checkpointed into the file: still nothing.
	assertNotOnDisk(t, path, "plain-save-message", secrets)

	// Without the key texts are neither written nor read.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Workflows().Get(ctx, alice.ID, w.ID); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Fatalf("Get without sealer = %v, want a secret key error", err)
	}
	if _, err := db.Workflows().Create(ctx, alice.ID, "x", "functions: {}\n", "", nil); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Fatalf("Create without sealer = %v, want a secret key error", err)
	}
	if ws, err := db.Workflows().List(ctx, alice.ID); err == nil || len(ws) != 0 {
		t.Fatalf("List without sealer = %+v, %v; want an error", ws, err)
	}
}

// TestWorkflowTextMovedDoesNotOpen: a sealed text copied to another
// version, another workflow or the draft fails to open, saying which.
func TestWorkflowTextMovedDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "fdlstudio.db"), WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alice, _ := db.UpsertUser(ctx, "iss", "alice", "Alice", "")
	bob, _ := db.UpsertUser(ctx, "iss", "bob", "Bob", "")
	repo := db.Workflows()
	a, err := repo.Create(ctx, alice.ID, "a", secretFDL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Save(ctx, alice.ID, a.ID, 1, "a", "functions: {}\n", "", ""); err != nil {
		t.Fatal(err)
	}
	b, err := repo.Create(ctx, bob.ID, "b", "functions: {}\n", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	var v1 string
	if err := db.SQL().QueryRowContext(ctx, `SELECT yaml FROM workflow_versions WHERE workflow_id = ? AND version = 1`, a.ID).Scan(&v1); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v1, "v1:") {
		t.Fatalf("stored text %.20q is not sealed", v1)
	}

	// Alice's version 1 written over her version 2.
	exec(`UPDATE workflow_versions SET yaml = ? WHERE workflow_id = ? AND version = 2`, v1, a.ID)
	_, err = repo.Get(ctx, alice.ID, a.ID)
	if !errors.Is(err, store.ErrUnseal) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("Get of a version holding another version's text = %v, want ErrUnseal naming version 2", err)
	}
	// ... over Bob's workflow.
	exec(`UPDATE workflow_versions SET yaml = ? WHERE workflow_id = ?`, v1, b.ID)
	if _, err := repo.Version(ctx, bob.ID, b.ID, 1); !errors.Is(err, store.ErrUnseal) {
		t.Fatalf("Bob's version holding Alice's text = %v, want ErrUnseal", err)
	}
	// ... as Alice's draft.
	exec(`UPDATE workflow_versions SET yaml = ? WHERE workflow_id = ? AND version = 2`, v1, a.ID)
	if err := repo.SaveDraft(ctx, alice.ID, a.ID, 1, "functions: {}\n", ""); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE workflows SET version = 1, draft_yaml = ? WHERE id = ?`, v1, a.ID)
	_, err = repo.Get(ctx, alice.ID, a.ID)
	if !errors.Is(err, store.ErrUnseal) || !strings.Contains(err.Error(), "draft") {
		t.Fatalf("a version's text as the draft = %v, want ErrUnseal naming the draft", err)
	}
	// Put back where it was sealed, it opens.
	exec(`UPDATE workflows SET draft_yaml = NULL WHERE id = ?`, a.ID)
	if got, err := repo.Get(ctx, alice.ID, a.ID); err != nil || got.YAML != secretFDL {
		t.Fatalf("Get back in place = %+v, %v", got, err)
	}
}

// TestMigrationSealsPlainWorkflowTexts opens a database of schema 12
// holding workflow texts in plain: without the key it refuses and changes
// nothing; with it every version and draft is sealed once, in place,
// leaving no plain copy in the files, and reads back as it was.
func TestMigrationSealsPlainWorkflowTexts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fdlstudio.db")
	secrets := fdlSecrets(t, secretFDL)

	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	list, err := listMigrations()
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	for _, m := range list {
		if m.version > 12 {
			break
		}
		mustExec(m.sql)
		mustExec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name)
	}
	draft := secretFDL + "# draft\n"
	v2 := strings.Repeat("# long enough to overflow a page\n", 200) + secretFDL
	mustExec(`INSERT INTO users (id, issuer, subject, name, email, created_at) VALUES (5, 'iss', 'alice', 'Alice', '', 0)`)
	mustExec(`INSERT INTO workflows (id, owner_id, name, version, draft_yaml, draft_positions, draft_base, created_at, updated_at)
		VALUES (7, 5, 'plain-workflow-name', 2, ?, '{}', 2, 0, 0), (8, 5, 'no-draft', 1, NULL, NULL, 0, 0, 0)`, draft)
	mustExec(`INSERT INTO workflow_versions (workflow_id, version, yaml, positions, created_at, message)
		VALUES (7, 1, ?, '{}', 0, 'plain-save-message'), (7, 2, ?, '{}', 0, ''), (8, 1, 'functions: {}', '{}', 0, '')`, secretFDL, v2)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte(secrets[0])) {
		t.Fatal("the schema-12 database does not hold the secrets in plain: the test proves nothing")
	}

	// Without the key: refused, and nothing changed.
	if db, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "needs the secret key") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open without sealer = %v, want a 'needs the secret key' error", err)
	}
	check, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var plain string
	if err := check.QueryRowContext(ctx, `SELECT yaml FROM workflow_versions WHERE workflow_id = 7 AND version = 1`).Scan(&plain); err != nil || plain != secretFDL {
		t.Fatalf("after a refused migration version 1 = %.30q, %v; want the plain text untouched", plain, err)
	}
	check.Close()

	db, err := Open(ctx, path, WithSealer(testSealer))
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	assertNotOnDisk(t, path, "plain-save-message", secrets)
	repo := db.Workflows()
	got, err := repo.Get(ctx, 5, 7)
	if err != nil || got.YAML != v2 || got.Draft != draft || got.Name != "plain-workflow-name" {
		t.Fatalf("Get after migration = %.80q / %.80q, %v", got.YAML, got.Draft, err)
	}
	if v, err := repo.Version(ctx, 5, 7, 1); err != nil || v.YAML != secretFDL {
		t.Fatalf("Version 1 after migration = %+v, %v", v, err)
	}
	if other, err := repo.Get(ctx, 5, 8); err != nil || other.YAML != "functions: {}" || other.Draft != "" {
		t.Fatalf("workflow without a draft = %+v, %v", other, err)
	}
	vs, err := repo.VersionList(ctx, 5, 7)
	if err != nil || len(vs) != 2 || vs[0].Size != len(v2) || vs[1].Size != len(secretFDL) {
		t.Fatalf("VersionList after migration = %+v, %v", vs, err)
	}

	// The step run again changes nothing.
	snapshot := func() string {
		var s string
		if err := db.SQL().QueryRowContext(ctx, `SELECT group_concat(yaml, '|') || (SELECT group_concat(COALESCE(draft_yaml, '-'), '|') FROM workflows)
			FROM workflow_versions`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sealWorkflowTexts(ctx, tx, testSealer); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); after != before {
		t.Fatal("sealing again changed the stored texts")
	}
	db.Close()
	db, err = Open(ctx, path, WithSealer(testSealer))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Workflows().Get(ctx, 5, 7); err != nil || got.YAML != v2 || got.Draft != draft {
		t.Fatalf("after reopening: %v", err)
	}
}
