package deploy_test

import (
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// TestRedactDocumentBlanksUnknownCredentialKeys: a key the schema does not
// know, written by the user under a storage provider or a cluster and
// named like a credential, is blanked like the known ones; the rest of
// the document stays as written.
func TestRedactDocumentBlanksUnknownCredentialKeys(t *testing.T) {
	src := `functions:
  oscar:
  - c1:
      name: s
      image: alpine
      script: echo
storage_providers:
  rucio:
    r:
      host: rucio.example.org
      refresh_token: KNOWN-REFRESH
      password: UNKNOWN-PASSWORD # written by hand
      token: UNKNOWN-TOKEN
      account: me
clusters:
  c2:
    endpoint: https://c2.example.org
    auth_user: u
    auth_password: KNOWN-PASSWORD
    api_key: UNKNOWN-API-KEY
`
	doc, err := fdl.Parse("wf.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	red, err := deploy.RedactDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := string(red.Bytes())
	for _, secret := range []string{"KNOWN-REFRESH", "UNKNOWN-PASSWORD", "UNKNOWN-TOKEN", "KNOWN-PASSWORD", "UNKNOWN-API-KEY"} {
		if strings.Contains(out, secret) {
			t.Errorf("the redacted document still holds %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"host: rucio.example.org", "account: me", "auth_user: u", "# written by hand"} {
		if !strings.Contains(out, kept) {
			t.Errorf("the redacted document lost %q:\n%s", kept, out)
		}
	}
}
