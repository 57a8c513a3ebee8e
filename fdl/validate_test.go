package fdl

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// svc wraps service fields (indented by 6) into an FDL with one OSCAR entry.
func svc(fields string) string {
	return "functions:\n  oscar:\n  - c1:\n" + fields
}

const okSvc = "      name: svc\n      image: img\n      script: s.sh\n"

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantSev Severity
		wantAt  string // "line:col"
		wantMsg string
	}{
		{"missing name", svc("      image: img\n      script: s.sh\n"), Error, "4:7", "has no `name`"},
		{"name too long", svc("      name: " + strings.Repeat("a", 40) + "\n      image: i\n      script: s\n"), Error, "4:13", "at most 39"},
		{"name not DNS", svc("      name: My_Svc\n      image: i\n      script: s\n"), Error, "4:13", "lowercase"},
		{"missing image", svc("      name: a\n      script: s\n"), Error, "4:7", "has no `image`"},
		{"missing script", svc("      name: a\n      image: i\n"), Error, "4:7", "has no `script`"},
		{"bad memory", svc(okSvc + "      memory: 2GB\n"), Error, "7:15", "not a Kubernetes quantity"},
		{"bad cpu", svc(okSvc + "      cpu: one\n"), Error, "7:12", "not a Kubernetes quantity"},
		{"duplicate name", svc(okSvc) + "  - c1:\n" + okSvc, Error, "8:13", "defined twice"},
		{"undeclared provider", svc(okSvc + "      output:\n      - storage_provider: s3.nope\n        path: b/out\n"), Error, "8:27", "s3.nope is not declared"},
		{"input cannot trigger", svc(okSvc + "      input:\n      - storage_provider: s3.x\n        path: b/in\nstorage_providers:\n  s3:\n    x: {region: us-east-1}\n"), Error, "8:27", "cannot"},
		{"empty path", svc(okSvc + "      input:\n      - storage_provider: minio\n        path: ' / '\n"), Error, "8:9", "`path` is empty"},
		{"unknown key", svc(okSvc + "      memroy: 1Gi\n"), Warning, "7:7", `did you mean "memory"`},
		{"plain secret", svc(okSvc + "      environment:\n        secrets:\n          K: v\n"), Warning, "9:14", "plain text"},
		{"legacy Variables", svc(okSvc + "      environment:\n        Variables:\n          K: v\n"), Warning, "8:9", "v3.5 spelling"},
		{"legacy replicas", svc(okSvc + "      replicas:\n      - type: oscar\n        cluster_id: c2\n"), Warning, "7:7", "federation.members"},
		{"scalar api_port", svc(okSvc + "      expose:\n        api_port: 80\n"), Warning, "8:19", "expects a list"},
		{"lambda memory", "functions:\n  aws:\n  - lambda:\n      name: f\n      memory: 64\n      container: {image: i}\n", Error, "5:15", "128 to 10240"},
		{"lambda timeout", "functions:\n  aws:\n  - lambda:\n      name: f\n      timeout: 901\n      container: {image: i}\n", Error, "5:16", "1 to 900"},
		{"lambda without lambda block", "functions:\n  aws:\n  - iam: {role: r}\n", Error, "3:5", "no `lambda:` block"},
		{"wrong type", svc(okSvc + "      enable_gpu: maybe\n"), Error, "7:19", "true or false"},
		{"self loop", svc(okSvc + "      input:\n      - storage_provider: minio\n        path: b/in\n      output:\n      - storage_provider: minio\n        path: b/in/out\n"), Warning, "11:9", "endless loop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, "t.yaml", []byte(tt.src))
			diags := d.Validate(ValidateOptions{})
			for _, x := range diags {
				at := itoa(x.Line) + ":" + itoa(x.Col)
				if x.Severity == tt.wantSev && at == tt.wantAt && strings.Contains(x.Message, tt.wantMsg) {
					if x.Path == "" {
						t.Errorf("diagnostic has no YAML path: %s", x)
					}
					return
				}
			}
			t.Errorf("want %s at %s containing %q; got:\n%s", tt.wantSev, tt.wantAt, tt.wantMsg, diags.Error())
		})
	}
}

func TestValidateCleanService(t *testing.T) {
	src := svc("      name: svc\n      image: img\n      script: s.sh\n      memory: 512Mi\n      cpu: '0.5'\n      input:\n      - storage_provider: minio\n        path: in\n      output:\n      - storage_provider: minio.default\n        path: /svc/out/\n      expose:\n        api_port: [8080]\n      federation:\n        topology: star\n        members:\n        - type: oscar\n          cluster_id: c2\n")
	d := mustParse(t, "t.yaml", []byte(src))
	if diags := d.Validate(ValidateOptions{}); len(diags) != 0 {
		t.Errorf("want no diagnostics, got:\n%s", diags.Error())
	}
}

func TestValidateScripts(t *testing.T) {
	d := mustParse(t, "t.yaml", []byte(svc(okSvc)))
	dir := fstest.MapFS{}
	for _, tt := range []struct {
		require bool
		want    Severity
	}{{false, Warning}, {true, Error}} {
		diags := d.Validate(ValidateOptions{Scripts: dir, RequireScripts: tt.require})
		if len(diags) != 1 || diags[0].Severity != tt.want || !strings.Contains(diags[0].Message, "not next to the FDL") {
			t.Errorf("require=%v: got %v, want one %s about the missing script", tt.require, diags, tt.want)
		}
	}
	dir["s.sh"] = &fstest.MapFile{Data: []byte("echo hi")}
	if diags := d.Validate(ValidateOptions{Scripts: dir, RequireScripts: true}); len(diags) != 0 {
		t.Errorf("script present: got %v", diags)
	}
	inline := mustParse(t, "t.yaml", []byte(svc("      name: svc\n      image: img\n      script: |\n        #!/bin/sh\n        echo hi\n")))
	if diags := inline.Validate(ValidateOptions{Scripts: fstest.MapFS{}, RequireScripts: true}); len(diags) != 0 {
		t.Errorf("inline script: got %v", diags)
	}
	if s := inline.Scripts(); len(s) != 1 || !s[0].Inline {
		t.Errorf("Scripts() = %+v, want one inline script", s)
	}
}

func TestParseRefuses(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nfunctions: {oscar: *g}\n"
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "empty"},
		{"not yaml", "functions: [\n", "not YAML"},
		{"kubernetes", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "Kubernetes manifest"},
		{"old scar list", "functions:\n- lambda: {name: x}\n", "old SCAR format"},
		{"no functions", "services: []\n", "no top-level `functions:`"},
		{"scalar", "hello\n", "top level is a scalar"},
		{"alias bomb", bomb, "alias expansion bomb"},
		{"deep nesting", "functions: " + strings.Repeat("[", 500) + strings.Repeat("]", 500) + "\n", "nesting deeper"},
		{"too large", "functions: {}\n#" + strings.Repeat("x", 5<<20) + "\n", "larger than"},
		{"two documents", "functions: {}\n---\nfunctions: {}\n", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("t.yaml", []byte(tt.src))
			var diags Diagnostics
			if !errors.As(err, &diags) || len(diags) == 0 {
				t.Fatalf("want refusal diagnostics, got %v", err)
			}
			if !strings.Contains(diags[0].Message, tt.want) || diags[0].File != "t.yaml" || diags[0].Line < 1 {
				t.Errorf("got %s, want message containing %q", diags[0], tt.want)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("refusing took %v", el)
			}
		})
	}
}
