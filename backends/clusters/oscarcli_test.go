package clusters_test

import (
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/clusters"
)

const sampleYAML = `oscar:
  zeta:
    endpoint: https://oscar.zeta.example.org/
    auth_user: oscar
    auth_password: s3cret
    ssl_verify: false
    memory: 256Mi
    log_level: INFO
  alpha:
    endpoint: https://oscar.egi.eu
    oidc_account_name: egi
    ssl_verify: true
  mid:
    endpoint: http://localhost:8080
    oidc_refresh_token: eyJrefresh
  bare:
    endpoint: https://bare.example.org
default: alpha
`

func TestParseOSCARCLIConfigYAML(t *testing.T) {
	regs, err := clusters.ParseOSCARCLIConfig([]byte(sampleYAML), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []clusters.Registration{
		{Name: "zeta", Endpoint: "https://oscar.zeta.example.org", Auth: clusters.AuthBasic, Username: "oscar", Password: "s3cret", InsecureSkipVerify: true, Line: 2},
		{Name: "alpha", Endpoint: "https://oscar.egi.eu", Auth: clusters.AuthOIDCAgent, OIDCAccountName: "egi", Default: true, Line: 9},
		{Name: "mid", Endpoint: "http://localhost:8080", Auth: clusters.AuthRefreshToken, RefreshToken: "eyJrefresh", Line: 13},
		{Name: "bare", Endpoint: "https://bare.example.org", Auth: clusters.AuthNone, Line: 16},
	}
	if len(regs) != len(want) {
		t.Fatalf("got %d registrations, want %d: %+v", len(regs), len(want), regs)
	}
	for i := range want {
		if regs[i] != want[i] {
			t.Errorf("registration %d:\n got %+v\nwant %+v", i, regs[i], want[i])
		}
	}
}

func TestParseOSCARCLIConfigJSON(t *testing.T) {
	js := `{"oscar":{"b":{"endpoint":"https://b.example.org","auth_user":"u","auth_password":"p","ssl_verify":true},"a":{"endpoint":"https://a.example.org"}},"default":"b"}`
	regs, err := clusters.ParseOSCARCLIConfig([]byte(js), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 2 || regs[0].Name != "b" || regs[1].Name != "a" || !regs[0].Default || regs[0].Auth != clusters.AuthBasic {
		t.Errorf("got %+v, want b (default, basic) then a", regs)
	}
}

func TestParseOSCARCLIConfigErrors(t *testing.T) {
	tests := []struct {
		name, file, data, want string
	}{
		{"yaml read as json", "config", sampleYAML, "not valid JSON"},
		{"bad yaml", "c.yaml", "oscar: [\n", "c.yaml"},
		{"empty", "c.yaml", "", "empty"},
		{"no oscar", "c.yaml", "default: x\n", "no `oscar` section"},
		{"oscar list", "c.yaml", "oscar:\n  - a\n", "line 2"},
		{"bad scheme", "c.yaml", "oscar:\n  x:\n    endpoint: ftp://h\n", `line 3: cluster "x": endpoint "ftp://h": scheme`},
		{"userinfo", "c.yaml", "oscar:\n  x:\n    endpoint: https://u:p@h\n", "user name or password"},
		{"missing endpoint", "c.yaml", "oscar:\n  x:\n    auth_user: u\n", `cluster "x": endpoint is empty`},
		{"bad default", "c.yaml", "oscar:\n  x:\n    endpoint: https://h\ndefault: y\n", `"y"`},
		{"duplicate", "c.json", `{"oscar":{"x":{"endpoint":"https://h"},"x":{"endpoint":"https://h"}}}`, "twice"},
		{"wrong type", "c.yaml", "oscar:\n  x:\n    endpoint: https://h\n    ssl_verify: maybe\n", `cluster "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := clusters.ParseOSCARCLIConfig([]byte(tt.data), tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseOSCARCLIConfigAllowList(t *testing.T) {
	_, err := clusters.ParseOSCARCLIConfig([]byte(sampleYAML), "config.yaml", "*.egi.eu")
	if err == nil || !strings.Contains(err.Error(), "not in the list of allowed") {
		t.Errorf("error = %v, want the allow-list to refuse oscar.zeta.example.org", err)
	}
}
