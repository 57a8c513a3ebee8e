package web

import (
	"strings"
	"testing"
)

func TestOIDCConfigResolvesPresetAndSecretFile(t *testing.T) {
	cfg := Defaults()
	cfg.OIDCPreset = "egi"
	cfg.OIDCClientID = "fdlstudio"
	o, err := cfg.OIDC()
	if err != nil {
		t.Fatal(err)
	}
	if o.Issuer != "https://aai.egi.eu/auth/realms/egi" || !strings.Contains(strings.Join(o.Scopes, " "), "eduperson_entitlement entitlements") {
		t.Errorf("egi preset = %+v", o)
	}
	cfg.OIDCPreset = "nope"
	if _, err := cfg.OIDC(); err == nil || !strings.Contains(err.Error(), "--oidc-preset") || !strings.Contains(err.Error(), "egi") {
		t.Errorf("unknown preset: %v", err)
	}
	cfg.OIDCPreset, cfg.OIDCIssuer, cfg.OIDCClientID = "", "https://idp.example", ""
	if _, err := cfg.OIDC(); err == nil || !strings.Contains(err.Error(), "--oidc-client-id") {
		t.Errorf("missing client id: %v", err)
	}
	cfg.OIDCClientID = "c"
	cfg.OIDCClientSecretFile = t.TempDir() + "/secret"
	writeFile(t, cfg.OIDCClientSecretFile)
	if o, err := cfg.OIDC(); err != nil || o.ClientSecret != "x" || len(o.Scopes) == 0 {
		t.Errorf("secret file: %+v, %v", o, err)
	}
}

func TestCheckListenAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"localhost:0": "", "[::1]:0": "", "127.0.0.1:8080": "",
		"0.0.0.0:0": "without a login method", ":0": "without a login method", "nonsense": "want host:port",
	} {
		cfg := Defaults()
		cfg.Addr = addr
		err := CheckListenAddr(cfg)
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("CheckListenAddr(%s) = %v, want %q", addr, err, want)
		}
	}
	cfg := Defaults()
	cfg.Addr, cfg.OSCARLogin = "0.0.0.0:0", true
	if err := CheckListenAddr(cfg); err != nil {
		t.Errorf("public address with a login method: %v", err)
	}
}
