package handlers

import (
	"strings"
	"testing"
)

// TestHeldCredentialsFollowTheirEndpoint: the composer's text has every
// credential blanked; filled again, a blank one takes the held value only
// where the provider's endpoint is still the one it was given for.
func TestHeldCredentialsFollowTheirEndpoint(t *testing.T) {
	full := `storage_providers:
  minio:
    store:
      endpoint: https://a.example.org
      secret_key: held-key-1 # comment stays
functions:
  oscar:
  - c:
      name: s
      image: alpine
      script: run.sh
      environment:
        secrets:
          TOKEN: held-secret-2
`
	held := heldCredentials{}
	red := withoutCredentials("w.yaml", full, held)
	if strings.Contains(red, "held-") || !strings.Contains(red, `secret_key: "" # comment stays`) {
		t.Fatalf("redacted text:\n%s", red)
	}
	if len(held) != 2 {
		t.Fatalf("held %d credentials, want 2", len(held))
	}
	if got := withCredentials("w.yaml", red, held); got != full {
		t.Errorf("filled again:\n%s\nwant\n%s", got, full)
	}
	moved := strings.Replace(red, "a.example.org", "b.example.org", 1)
	got := withCredentials("w.yaml", moved, held)
	if strings.Contains(got, "held-key-1") || !strings.Contains(got, "held-secret-2") {
		t.Errorf("after the endpoint changed, filled:\n%s", got)
	}
}
