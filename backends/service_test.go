package backends_test

import (
	"encoding/json"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestServiceJSONKeepsUnknownKeys(t *testing.T) {
	in := `{"name":"cowsay","image":"ghcr.io/grycap/cowsay","script":"echo hi",
		"environment":{"variables":{"A":"1"},"secrets":{"S":"x"}},
		"expose":{"api_port":[8080,9090],"min_scale":1},
		"input":[{"storage_provider":"minio.default","path":"cowsay/in"}],
		"kserve":{"type":"inference","storage_uri":"s3://m"},
		"future_field":{"nested":[1,2]},"Another":"x"}`
	var s backends.Service
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "cowsay" || s.Environment.Variables["A"] != "1" || s.Environment.Secrets["S"] != "x" {
		t.Errorf("known fields not decoded: %+v", s)
	}
	if got := s.Expose.APIPort; len(got) != 2 || got[1] != 9090 {
		t.Errorf("api_port = %v, want [8080 9090]", got)
	}
	if got, want := string(s.Extra["future_field"]), `{"nested":[1,2]}`; got != want {
		t.Errorf("Extra[future_field] = %s, want %s", got, want)
	}
	if len(s.Extra) != 2 {
		t.Errorf("Extra has %d keys (%v), want 2", len(s.Extra), s.Extra)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("marshal produced invalid JSON %s: %v", out, err)
	}
	for _, k := range []string{"future_field", "Another", "kserve", "name", "expose"} {
		if _, ok := back[k]; !ok {
			t.Errorf("round trip lost key %q: %s", k, out)
		}
	}
}

func TestServiceJSONCaseInsensitiveKnownKeys(t *testing.T) {
	// encoding/json (and so the OSCAR server) matches keys ignoring case: a
	// key spelt "Image" is the image, not an unknown key.
	var s backends.Service
	if err := json.Unmarshal([]byte(`{"Name":"a","Image":"i","script":"s"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Image != "i" || len(s.Extra) != 0 {
		t.Errorf("got image %q extra %v, want image \"i\" and no extra", s.Image, s.Extra)
	}
	// The pre-v3.6.0 spelling "Variables" lands in Environment.Variables.
	if err := json.Unmarshal([]byte(`{"name":"a","environment":{"Variables":{"K":"V"}}}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Environment == nil || s.Environment.Variables["K"] != "V" {
		t.Errorf("environment = %+v, want Variables K=V", s.Environment)
	}
}

func TestServiceMarshalRejectsInvalidExtra(t *testing.T) {
	s := backends.Service{Name: "a", Extra: map[string]json.RawMessage{"bad": json.RawMessage("{")}}
	if _, err := json.Marshal(s); err == nil {
		t.Error("Marshal with invalid Extra JSON succeeded, want error")
	}
}
