package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/fdlstudio/fdlstudio/web"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fdlstudio.yaml")
	os.WriteFile(file, []byte("# operator defaults\naddr: 127.0.0.1:7000\nlog-level: warn\ndata-dir: /srv/file\nshutdown-timeout: 5s\n"), 0o600)

	cfg, err := parseConfig(
		[]string{"--config", file, "--log-level", "debug"},
		env(map[string]string{"FDLSTUDIO_LOG_LEVEL": "error", "FDLSTUDIO_DATA_DIR": "/srv/env"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" {
		t.Errorf("log-level = %q: the flag must win over env and file", cfg.LogLevel)
	}
	if cfg.DataDir != "/srv/env" {
		t.Errorf("data-dir = %q: env must win over the file", cfg.DataDir)
	}
	if cfg.Addr != "127.0.0.1:7000" {
		t.Errorf("addr = %q: the file must win over the default", cfg.Addr)
	}
	if cfg.ShutdownTimeout != 5*time.Second {
		t.Errorf("shutdown-timeout = %v", cfg.ShutdownTimeout)
	}
	if cfg.LogFormat != "text" {
		t.Errorf("log-format = %q: want the default", cfg.LogFormat)
	}

	// The file can be named by the environment too.
	cfg, err = parseConfig(nil, env(map[string]string{"FDLSTUDIO_CONFIG": file}), io.Discard)
	if err != nil || cfg.Addr != "127.0.0.1:7000" {
		t.Fatalf("FDLSTUDIO_CONFIG: addr = %q, %v", cfg.Addr, err)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("addr: 127.0.0.1:1\nlog-levl: debug\n"), 0o600)
	notMap := filepath.Join(dir, "list.yaml")
	os.WriteFile(notMap, []byte("- addr\n"), 0o600)

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bad flag value", []string{"--log-format", "xml"}, nil, []string{"--log-format", `"xml"`, "text, json"}},
		{"bad env value", nil, map[string]string{"FDLSTUDIO_LOG_LEVEL": "loud"}, []string{"FDLSTUDIO_LOG_LEVEL", "debug, info, warn, error"}},
		{"unknown flag", []string{"--bogus"}, nil, []string{"-bogus"}},
		{"stray argument", []string{"extra"}, nil, []string{`"extra"`}},
		{"unknown file key", []string{"--config", typo}, nil, []string{typo + ":2:1", `"log-levl"`, "log-level"}},
		{"file not a mapping", []string{"--config", notMap}, nil, []string{notMap + ":1:1", "mapping"}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, []string{"nope.yaml"}},
		{"bad duration", []string{"--shutdown-timeout", "soon"}, nil, []string{"--shutdown-timeout", "duration"}},
		{"bad public url", []string{"--public-url", "ftp://x"}, nil, []string{"--public-url", "http"}},
		{"bad body size", []string{"--max-body-size", "-1"}, nil, []string{"--max-body-size", "positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), io.Discard)
			if err == nil {
				t.Fatal("parseConfig accepted it")
			}
			if _, ok := err.(*configError); !ok {
				t.Errorf("error %T is not a *configError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	ctx := context.Background()
	var out strings.Builder
	if code := run(ctx, []string{"--log-format", "xml"}, env(nil), io.Discard, &out); code != 2 {
		t.Errorf("invalid config: exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), "--log-format") {
		t.Errorf("stderr %q does not name the setting", out.String())
	}
	if code := run(ctx, []string{"frobnicate"}, env(nil), io.Discard, io.Discard); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	out.Reset()
	code := run(ctx, []string{"--addr", "0.0.0.0:0", "--data-dir", t.TempDir()}, env(nil), io.Discard, &out)
	if code != 1 || !strings.Contains(out.String(), "without a login method") {
		t.Errorf("public addr: exit %d, stderr %q", code, out.String())
	}
}

// TestReadmeDocumentsEverySetting keeps the README's configuration table
// and the settings table in step.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		row := "| `--" + s.name + "` | `" + envName(s.name) + "` |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks a row starting %q", row)
		}
	}
}

func TestConfigAuthenticationSettings(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "client-secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfg, err := parseConfig(
		[]string{"--oidc-preset", "egi", "--oidc-client-id", "fdlstudio", "--oidc-client-secret-file", secret,
			"--oidc-allowed-vos", "vo.access.egi.eu, biomed", "--session-idle-timeout", "30m"},
		env(map[string]string{"FDLSTUDIO_OSCAR_LOGIN": "true", "FDLSTUDIO_OSCAR_LOGIN_HOSTS": "*.egi.eu,oscar.example.org"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AuthConfigured() {
		t.Error("AuthConfigured() = false with OIDC and OSCAR login set")
	}
	if got, want := strings.Join(cfg.OIDCAllowedVOs, "|"), "vo.access.egi.eu|biomed"; got != want {
		t.Errorf("allowed VOs = %q, want %q", got, want)
	}
	if got, want := strings.Join(cfg.OSCARLoginHosts, "|"), "*.egi.eu|oscar.example.org"; got != want || !cfg.OSCARLogin {
		t.Errorf("oscar login = %v hosts %q, want %q", cfg.OSCARLogin, got, want)
	}
	if cfg.SessionIdleTimeout != 30*time.Minute {
		t.Errorf("idle timeout = %v", cfg.SessionIdleTimeout)
	}
	o, err := cfg.OIDC()
	if err != nil {
		t.Fatal(err)
	}
	if o.Issuer != "https://aai.egi.eu/auth/realms/egi" || o.ClientSecret != "s3cret" || o.ClientID != "fdlstudio" {
		t.Errorf("resolved OIDC = issuer %q id %q secret set %v", o.Issuer, o.ClientID, o.ClientSecret != "")
	}
	if got := strings.Join(o.Scopes, " "); got != "openid profile email offline_access eduperson_entitlement entitlements" {
		t.Errorf("scopes = %q", got)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--oidc-preset", "google"}, "--oidc-preset"},
		{[]string{"--oidc-issuer", "aai.egi.eu"}, "--oidc-issuer"},
		{[]string{"--oscar-login=maybe"}, "true or false"},
		{[]string{"--oscar-login", "false"}, "--oscar-login=false"},
		{[]string{"--session-max-age", "0s"}, "--session-max-age"},
	} {
		if _, err := parseConfig(tt.args, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want it to name %s", tt.args, err, tt.want)
		}
	}
}

// TestBooleanSettingsAreSwitches: every boolean setting given bare is
// true and leaves the next flag alone; =false and =true set it.
func TestBooleanSettingsAreSwitches(t *testing.T) {
	n := 0
	for _, s := range settings {
		if !s.boolean {
			continue
		}
		n++
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--" + s.name, "--data-dir", "d"}, "true"},
			{[]string{"--" + s.name + "=false", "--data-dir", "d"}, "false"},
			{[]string{"--" + s.name + "=true", "--data-dir", "d"}, "true"},
		} {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			addSettingFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("%v: %v", tt.args, err)
			}
			got, _ := fs.GetString(s.name)
			dir, _ := fs.GetString("data-dir")
			if got != tt.want || dir != "d" || fs.NArg() != 0 {
				t.Errorf("%v: --%s = %q, --data-dir = %q, args %v; want %q, \"d\", none", tt.args, s.name, got, dir, fs.Args(), tt.want)
			}
		}
	}
	if n == 0 {
		t.Fatal("no boolean setting in the table")
	}
	// The reported case, through the whole parse.
	cfg, err := parseConfig([]string{"--oscar-login", "--oscar-login-hosts", "oscar.example.org"}, env(nil), io.Discard)
	if err != nil || !cfg.OSCARLogin || strings.Join(cfg.OSCARLoginHosts, ",") != "oscar.example.org" {
		t.Errorf("--oscar-login --oscar-login-hosts oscar.example.org: login %v hosts %v, %v", cfg.OSCARLogin, cfg.OSCARLoginHosts, err)
	}
}

func TestConfigFileSharedClusters(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("addr: 127.0.0.1:9000\nclusters:\n- name: egi-prod\n  endpoint: https://oscar.example.org/\n  username: oscar\n  password-file: "+pw+"\n  insecure-tls: false\n"), 0o600)
	cfg, err := parseConfig([]string{"--config", good}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || cfg.Clusters[0].Name != "egi-prod" || cfg.Clusters[0].Password != "s3cret" || cfg.Clusters[0].Username != "oscar" {
		t.Fatalf("clusters = %+v", cfg.Clusters)
	}

	tests := []struct{ name, yaml, want string }{
		{"not a list", "clusters: egi\n", ":1:11: clusters: want a list"},
		{"unknown key", "clusters:\n- name: a\n  endpont: https://x\n", `unknown key "endpont"`},
		{"bad endpoint", "clusters:\n- name: a\n  endpoint: ftp://x\n  username: u\n  password: p\n", `cluster "a": endpoint "ftp://x": scheme must be http or https`},
		{"no password", "clusters:\n- name: a\n  endpoint: https://x\n  username: u\n", "give both username and password"},
		{"local name", "clusters:\n- name: local\n  endpoint: https://x\n  username: u\n  password: p\n", "embedded local cluster"},
		{"duplicate", "clusters:\n- {name: a, endpoint: 'https://x', username: u, password: p}\n- {name: a, endpoint: 'https://y', username: u, password: p}\n", `two clusters are called "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(f, []byte(tt.yaml), 0o600)
			_, err := parseConfig([]string{"--config", f}, env(nil), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestConfigFileOperatorAWSAccounts: the operator's AWS accounts come
// from the config file, their secret from a file or the environment
// (never the file itself or a flag), and only with the way "operator"
// enabled.
func TestConfigFileOperatorAWSAccounts(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "lab.secret")
	os.WriteFile(secret, []byte("file-secret-value\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`aws-accounts: user,operator
operator-aws-accounts:
- name: lab-aws
  region: eu-west-1
  access-key-id: AKIALAB
  secret-access-key-file: `+secret+`
- name: prod-aws
  region: us-east-1
  access-key-id: AKIAPROD
  secret-access-key-env: PROD_AWS_SECRET
  admins-only: true
`), 0o600)
	cfg, err := parseConfig([]string{"--config", good}, env(map[string]string{"PROD_AWS_SECRET": "env-secret-value"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []web.AWSAccountConfig{
		{Name: "lab-aws", Region: "eu-west-1", AccessKeyID: "AKIALAB", SecretAccessKey: "file-secret-value"},
		{Name: "prod-aws", Region: "us-east-1", AccessKeyID: "AKIAPROD", SecretAccessKey: "env-secret-value", AdminsOnly: true},
	}
	if !slices.Equal(cfg.AWSOperatorAccounts, want) || !slices.Equal(cfg.AWSAccounts, []string{"user", "operator"}) {
		t.Fatalf("accounts = %+v, ways %v", cfg.AWSOperatorAccounts, cfg.AWSAccounts)
	}

	account := "operator-aws-accounts:\n- name: a\n  region: eu-west-1\n  access-key-id: K\n"
	tests := []struct{ name, yaml, want string }{
		{"way not enabled", "aws-accounts: user\n" + account + "  secret-access-key-file: " + secret + "\n", `--aws-accounts does not enable the way "operator"`},
		{"no accounts", "aws-accounts: operator\n", "lists no operator-aws-accounts"},
		{"secret inline", "aws-accounts: operator\n" + account + "  secret-access-key: plain\n", "not in the config file"},
		{"no secret", "aws-accounts: operator\n" + account, "exactly one of secret-access-key-file or secret-access-key-env"},
		{"empty env", "aws-accounts: operator\n" + account + "  secret-access-key-env: UNSET_VAR\n", "UNSET_VAR is empty or not set"},
		{"bad region", "aws-accounts: operator\noperator-aws-accounts:\n- {name: a, region: Europe, access-key-id: K, secret-access-key-file: " + secret + "}\n", `region "Europe" is not an AWS region`},
		{"unknown key", "aws-accounts: operator\n" + account + "  secret-access-key-file: " + secret + "\n  role: x\n", `unknown key "role"`},
		{"clash", "aws-accounts: operator\nclusters:\n- {name: a, endpoint: 'https://x', username: u, password: p}\n" + account + "  secret-access-key-file: " + secret + "\n", "both a shared cluster and an operator AWS account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(f, []byte(tt.yaml), 0o600)
			_, err := parseConfig([]string{"--config", f}, env(nil), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "file-secret-value") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
