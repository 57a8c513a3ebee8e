package oscar

import (
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestParseVersionAndAtLeast(t *testing.T) {
	tests := []struct {
		in    string
		min   Version
		want  bool
		known bool
	}{
		{"v4.1.2", v4_1_0, true, true},
		{"4.0.9", v4_1_0, false, true},
		{"v3.6.4-4-g7ade09ee", v3_6_4, true, true},
		{"v3.6.3", v3_6_4, false, true},
		{"v3.6", v3_6_0, true, true},
		{"v10.0.0", v4_1_0, true, true},
		{"devel", v4_1_0, true, false},
		{"", v4_1_0, true, false},
		{"v4.x.1", v4_1_0, true, false},
	}
	for _, tt := range tests {
		v := ParseVersion(tt.in)
		if got := v.AtLeast(tt.min); got != tt.want {
			t.Errorf("ParseVersion(%q).AtLeast(%s) = %v, want %v", tt.in, tt.min, got, tt.want)
		}
		if v.Known() != tt.known {
			t.Errorf("ParseVersion(%q).Known() = %v, want %v", tt.in, v.Known(), tt.known)
		}
	}
}

func TestEncodeServiceForOldServers(t *testing.T) {
	svc := &backends.Service{Name: "s", Image: "i", Script: "x",
		Expose:      &backends.Expose{APIPort: []int{8080}, NodePort: []int{30000}},
		Environment: &backends.Environment{Variables: map[string]string{"A": "1"}},
	}
	tests := []struct {
		version string
		want    []string // substrings of the encoded JSON
	}{
		{"v4.1.2", []string{`"api_port":[8080]`, `"nodePort":[30000]`, `"variables":{"A":"1"}`}},
		{"v4.0.0", []string{`"api_port":8080`, `"nodePort":30000`, `"variables":{"A":"1"}`}},
		{"v3.5.0", []string{`"api_port":8080`, `"Variables":{"A":"1"}`}},
	}
	for _, tt := range tests {
		b, err := encodeService(svc, ParseVersion(tt.version))
		if err != nil {
			t.Fatalf("%s: %v", tt.version, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: encoded %s, want it to contain %s", tt.version, b, w)
			}
		}
	}
	multi := *svc
	multi.Expose = &backends.Expose{APIPort: []int{1, 2}}
	if _, err := encodeService(&multi, ParseVersion("v4.0.0")); err == nil || !strings.Contains(err.Error(), "several ports") {
		t.Errorf("two ports on v4.0.0: err = %v, want 'several ports'", err)
	}
	sec := *svc
	sec.Environment = &backends.Environment{Secrets: map[string]string{"S": "x"}}
	if _, err := encodeService(&sec, ParseVersion("v3.5.9")); err == nil || !strings.Contains(err.Error(), "secrets") {
		t.Errorf("secrets on v3.5.9: err = %v, want secrets error", err)
	}
	fed := *svc
	fed.Federation = &backends.Federation{Topology: "star"}
	if _, err := encodeService(&fed, ParseVersion("v4.0.0")); err == nil {
		t.Error("federation on v4.0.0 encoded, want error")
	}
}

func TestDecodeServiceScalarPorts(t *testing.T) {
	svc, err := decodeService([]byte(`{"name":"s","expose":{"api_port":8080,"nodePort":30001},"Extra":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Expose.APIPort; len(got) != 1 || got[0] != 8080 {
		t.Errorf("api_port = %v, want [8080]", got)
	}
	if got := svc.Expose.NodePort; len(got) != 1 || got[0] != 30001 {
		t.Errorf("nodePort = %v, want [30001]", got)
	}
	if _, err := decodeService([]byte(`[1]`)); err == nil {
		t.Error("decoding an array as a service succeeded")
	}
}

func TestDecodeJobListBothShapes(t *testing.T) {
	wrapped := `{"jobs":{"a-1":{"status":"Succeeded","creation_time":"2026-01-01T10:00:00Z"},"a-2":{"status":"Running","creation_time":"2026-01-01T11:00:00Z"}},"next_page":"tok","remaining_jobs":3}`
	l, err := decodeJobList([]byte(wrapped), ParseVersion("v4.1.2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Jobs) != 2 || l.Jobs[0].Name != "a-2" || l.NextPage != "tok" || l.Remaining != 3 {
		t.Errorf("wrapped list = %+v, want a-2 first, next tok, remaining 3", l)
	}
	bare := `{"a-1":{"status":"Failed","creation_time":"2026-01-01T10:00:00Z"}}`
	l, err = decodeJobList([]byte(bare), ParseVersion("v3.6.3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Jobs) != 1 || l.Jobs[0].Status != backends.JobFailed || l.NextPage != "" {
		t.Errorf("bare list = %+v, want one Failed job", l)
	}
	if _, err := decodeJobList([]byte(`{"jobs":[1]}`), ParseVersion("v4.1.2")); err == nil {
		t.Error("malformed wrapped list decoded")
	}
}

func TestKindForStatus(t *testing.T) {
	tests := map[int]backends.Kind{400: backends.KindInvalid, 401: backends.KindUnauthorized, 403: backends.KindForbidden,
		404: backends.KindNotFound, 409: backends.KindConflict, 413: backends.KindInvalid, 405: backends.KindUnsupported,
		500: backends.KindUnavailable, 502: backends.KindUnavailable, 503: backends.KindUnavailable}
	for status, want := range tests {
		if got := KindForStatus(status); got != want {
			t.Errorf("KindForStatus(%d) = %q, want %q", status, got, want)
		}
	}
}
