package backends_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
)

// credentialFields is every field of the OSCAR service schema that holds
// a credential, as a path through the schema: "*" is any key of a map,
// "[]" any item of a list. Redact must blank each of them.
var credentialFields = []string{
	"token",
	"environment.secrets.*",
	"storage_providers.minio.*.access_key",
	"storage_providers.minio.*.secret_key",
	"storage_providers.s3.*.access_key",
	"storage_providers.s3.*.secret_key",
	"storage_providers.onedata.*.token",
	"storage_providers.webdav.*.password",
	"storage_providers.rucio.*.refresh_token",
	"clusters.*.auth_password",
	"federation.members[].headers.*",
}

// notCredentials are fields whose names look like a credential's but
// hold none, and why.
var notCredentials = map[string]string{
	"image_pull_secrets":                       "names of Kubernetes secrets, not their content",
	"storage_providers.rucio.*.token_endpoint": "the URL tokens are fetched from",
}

// credentialName is what the name of a credential-bearing field looks like.
var credentialName = regexp.MustCompile(`(?i)password|passwd|secret|key|token|headers|credential`)

// TestRedactCoversTheSchema walks the service schema of the OSCAR API
// spec: every field named like a credential must be in credentialFields
// or notCredentials, and each of credentialFields, set in a service, is
// blank after Redact.
func TestRedactCoversTheSchema(t *testing.T) {
	data, err := os.ReadFile("oscar/testdata/oscar-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Definitions map[string]*schema `yaml:"definitions"`
	}
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	var fields []string
	var walk func(s *schema, path string, depth int)
	walk = func(s *schema, path string, depth int) {
		if s == nil || depth > 12 {
			return
		}
		if s.Ref != "" {
			walk(spec.Definitions[strings.TrimPrefix(s.Ref, "#/definitions/")], path, depth+1)
		}
		for _, a := range s.AllOf {
			walk(a, path, depth+1)
		}
		if s.Items != nil {
			walk(s.Items, path+"[]", depth+1)
		}
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties, path+".*", depth+1)
		}
		for name, p := range s.Properties {
			fp := strings.TrimPrefix(path+"."+name, ".")
			fields = append(fields, fp)
			walk(p, fp, depth+1)
		}
	}
	svc := spec.Definitions["types.Service"]
	if svc == nil {
		t.Fatal("the spec has no types.Service")
	}
	walk(svc, "", 0)
	if len(fields) < 50 {
		t.Fatalf("walked only %d fields of types.Service: %v", len(fields), fields)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f] = true
		last := f[strings.LastIndex(f, ".")+1:]
		if !credentialName.MatchString(last) {
			continue
		}
		covered := slices.ContainsFunc(credentialFields, func(c string) bool { return c == f || c == f+".*" })
		if !covered && notCredentials[f] == "" {
			t.Errorf("schema field %s looks like a credential and neither Redact's table nor notCredentials covers it", f)
		}
	}
	for _, c := range credentialFields {
		if !seen[c] && !seen[strings.TrimSuffix(c, ".*")] {
			t.Errorf("credentialFields has %s, which the schema does not", c)
		}
	}
	for f := range notCredentials {
		if !seen[f] {
			t.Errorf("notCredentials has %s, which the schema does not", f)
		}
	}

	for _, c := range credentialFields {
		t.Run(c, func(t *testing.T) {
			const secret = "S3NT1NEL-credential"
			js, _ := json.Marshal(atPath(strings.FieldsFunc(c, func(r rune) bool { return r == '.' }), secret))
			var s backends.Service
			if err := json.Unmarshal(js, &s); err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			before, _ := json.Marshal(&s)
			if !strings.Contains(string(before), secret) {
				t.Fatalf("the service does not hold the value it was given at %s (%s): the test is wrong", c, js)
			}
			after, _ := json.Marshal(backends.Redact(&s))
			if strings.Contains(string(after), secret) {
				t.Errorf("Redact left %s: %s", c, after)
			}
			if again, _ := json.Marshal(&s); string(again) != string(before) {
				t.Errorf("Redact changed the service it was given:\n%s\n%s", before, again)
			}
		})
	}
}

// atPath builds the JSON value holding v at a schema path.
func atPath(segs []string, v any) any {
	if len(segs) == 0 {
		return v
	}
	seg, rest := segs[0], segs[1:]
	if name, ok := strings.CutSuffix(seg, "[]"); ok {
		return map[string]any{name: []any{atPath(rest, v)}}
	}
	if seg == "*" {
		seg = "x-id"
	}
	return map[string]any{seg: atPath(rest, v)}
}

type schema struct {
	Ref                  string             `yaml:"$ref"`
	AllOf                []*schema          `yaml:"allOf"`
	Items                *schema            `yaml:"items"`
	AdditionalProperties *schema            `yaml:"additionalProperties"`
	Properties           map[string]*schema `yaml:"properties"`
}

// TestRedactKeepsNames: names of secrets, headers, providers and
// clusters stay; only values go.
func TestRedactKeepsNames(t *testing.T) {
	s := &backends.Service{
		Name:        "svc",
		Token:       "tok",
		Environment: &backends.Environment{Variables: map[string]string{"A": "1"}, Secrets: map[string]string{"API": "v"}},
		Clusters:    map[string]backends.ClusterRef{"other": {Endpoint: "https://o", AuthUser: "u", AuthPassword: "p"}},
		Federation:  &backends.Federation{Members: []backends.Replica{{URL: "https://m", Headers: map[string]string{"Authorization": "Bearer x"}}}},
	}
	r := backends.Redact(s)
	if r.Environment.Variables["A"] != "1" {
		t.Error("Redact blanked a variable")
	}
	if v, ok := r.Environment.Secrets["API"]; !ok || v != "" {
		t.Errorf("secret API = %q, %v; want present and blank", v, ok)
	}
	if c := r.Clusters["other"]; c.Endpoint != "https://o" || c.AuthUser != "u" || c.AuthPassword != "" {
		t.Errorf("cluster = %+v", c)
	}
	if h, ok := r.Federation.Members[0].Headers["Authorization"]; !ok || h != "" {
		t.Errorf("header = %q, %v", h, ok)
	}
	if r.Token != "" || s.Token != "tok" || s.Clusters["other"].AuthPassword != "p" || s.Federation.Members[0].Headers["Authorization"] != "Bearer x" {
		t.Error("Redact changed its argument or kept the token")
	}
	if backends.Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
}

// TestRedactUnknownKeysAndKserve: keys Service does not know (from a
// newer server, or legacy ones) and the kserve block are redacted by
// name; what is not named like a credential stays.
func TestRedactUnknownKeysAndKserve(t *testing.T) {
	in := `{"name":"s","image":"i","script":"x",
		"api_key":"U-1","future":{"auth":{"password":"U-2","user":"me"},"plain":"stays"},
		"replicas":[{"url":"https://r","headers":{"Authorization":"U-3"}}],
		"kserve":{"type":"inference","env":{"HF_TOKEN":"U-4","MODEL":"llama"},"storage_uri":"s3://m"}}`
	var s backends.Service
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(backends.Redact(&s))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"U-1", "U-2", "U-3", "U-4"} {
		if strings.Contains(string(out), v) {
			t.Errorf("Redact left %s: %s", v, out)
		}
	}
	for _, v := range []string{`"user":"me"`, `"plain":"stays"`, `"MODEL":"llama"`, `"url":"https://r"`, `"HF_TOKEN":""`} {
		if !strings.Contains(string(out), v) {
			t.Errorf("Redact lost %s: %s", v, out)
		}
	}
	if again, _ := json.Marshal(&s); !strings.Contains(string(again), "U-4") || !strings.Contains(string(again), "U-1") {
		t.Errorf("Redact changed its argument: %s", again)
	}
	// A stored value is put back where the page left it blank.
	blank := backends.Redact(&s)
	have := map[string]string{}
	backends.EachCredential(&s, func(c backends.Credential) { have[c.Path] = *c.Value })
	backends.EachCredential(blank, func(c backends.Credential) { *c.Value = have[c.Path] })
	if back, _ := json.Marshal(blank); !strings.Contains(string(back), "U-2") || !strings.Contains(string(back), "U-4") {
		t.Errorf("EachCredential could not write the values back: %s", back)
	}
}
