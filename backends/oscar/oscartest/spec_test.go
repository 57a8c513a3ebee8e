package oscartest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
)

func TestSpecLoadsAllOperations(t *testing.T) {
	spec := oscartest.LoadSpec(t)
	ops := spec.Operations()
	// 33 paths in the v4.1.2 spec; some carry several methods.
	if len(ops) < 40 {
		t.Fatalf("spec has %d operations, want at least 40: %v", len(ops), ops)
	}
}

func TestCheckerCatchesViolations(t *testing.T) {
	c := oscartest.NewChecker(oscartest.LoadSpec(t))
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		auth    string
		wantErr string
	}{
		{name: "unknown path", method: "GET", path: "/system/nope", auth: "Basic eDp5", wantErr: "not an operation"},
		{name: "missing auth", method: "GET", path: "/system/info", wantErr: "security"},
		{name: "service without image", method: "POST", path: "/system/services", body: `{"name":"a","script":"s"}`, auth: "Basic eDp5", wantErr: "image"},
		{name: "name too long", method: "POST", path: "/system/services", body: `{"name":"` + strings.Repeat("a", 40) + `","image":"i","script":"s"}`, auth: "Basic eDp5", wantErr: "name"},
		{name: "scalar api_port", method: "POST", path: "/system/services", body: `{"name":"a","image":"i","script":"s","expose":{"api_port":80}}`, auth: "Basic eDp5", wantErr: "api_port"},
		{name: "presign without key", method: "POST", path: "/system/buckets/b/presign", body: `{"operation":"upload"}`, auth: "Bearer t", wantErr: "object_key"},
		{name: "good service", method: "POST", path: "/system/services", body: `{"name":"a","image":"i","script":"s"}`, auth: "Basic eDp5"},
		{name: "manager logs without slash", method: "GET", path: "/system/logs", auth: "Basic eDp5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			_, err := c.CheckRequest(r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckRequest: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckRequest error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckerResponses(t *testing.T) {
	c := oscartest.NewChecker(oscartest.LoadSpec(t))
	r := httptest.NewRequest("GET", "/system/logs/svc", nil)
	r.Header.Set("Authorization", "Bearer x")
	in, err := c.CheckRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	if err := c.CheckResponse(in, 200, jsonCT, []byte(`{"jobs":{"j":{"status":"Running"}},"next_page":"","remaining_jobs":0}`)); err != nil {
		t.Errorf("valid job list rejected: %v", err)
	}
	if err := c.CheckResponse(in, 200, jsonCT, []byte(`{"jobs":{"j":{"status":1}}}`)); err == nil {
		t.Error("job list with a numeric status accepted")
	}
	if err := c.CheckResponse(in, 418, jsonCT, nil); err == nil {
		t.Error("undeclared status 418 accepted")
	}
	if err := c.CheckResponse(in, 404, http.Header{"Content-Type": {"text/plain"}}, []byte("service not found")); err != nil {
		t.Errorf("plain-text 404 (deviation 1) rejected: %v", err)
	}
}
