package backends_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestValidateEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		allowed []string
		want    string // normalised URL; "" means an error is expected
		wantErr string // substring of the error
	}{
		{name: "https", raw: "https://oscar.egi.eu", want: "https://oscar.egi.eu"},
		{name: "trailing slash and case", raw: " HTTPS://OSCAR.Example.org/ ", want: "https://oscar.example.org"},
		{name: "path kept", raw: "http://h:8080/oscar/", want: "http://h:8080/oscar"},
		{name: "ipv6", raw: "http://[::1]:8080", want: "http://[::1]:8080"},
		{name: "empty", raw: "", wantErr: "empty"},
		{name: "file scheme", raw: "file:///etc/passwd", wantErr: "scheme must be http or https"},
		{name: "gopher", raw: "gopher://h", wantErr: "scheme must be http or https"},
		{name: "no scheme", raw: "oscar.egi.eu", wantErr: "scheme"},
		{name: "userinfo", raw: "https://u:p@oscar.egi.eu", wantErr: "user name or password"},
		{name: "no host", raw: "https:///x", wantErr: "no host"},
		{name: "query", raw: "https://h/?a=b", wantErr: "query"},
		{name: "fragment", raw: "https://h/#x", wantErr: "fragment"},
		{name: "bad port", raw: "https://h:99999999", wantErr: "port"},
		{name: "allowed exact", raw: "https://oscar.egi.eu", allowed: []string{"oscar.egi.eu"}, want: "https://oscar.egi.eu"},
		{name: "allowed trailing dot", raw: "https://oscar.egi.eu.", allowed: []string{"OSCAR.egi.eu"}, want: "https://oscar.egi.eu"},
		{name: "allowed wildcard", raw: "https://a.b.egi.eu", allowed: []string{"*.egi.eu"}, want: "https://a.b.egi.eu"},
		{name: "wildcard excludes apex", raw: "https://egi.eu", allowed: []string{"*.egi.eu"}, wantErr: "not in the list"},
		{name: "wildcard suffix trick", raw: "https://evilegi.eu", allowed: []string{"*.egi.eu"}, wantErr: "not in the list"},
		{name: "internal refused", raw: "http://169.254.169.254/latest", allowed: []string{"oscar.egi.eu"}, wantErr: "not in the list"},
		{name: "host:port pattern match", raw: "http://h:8080", allowed: []string{"h:8080"}, want: "http://h:8080"},
		{name: "host:port pattern other port", raw: "http://h:9090", allowed: []string{"h:8080"}, wantErr: "not in the list"},
		{name: "ipv6 allowed", raw: "http://[::1]:8080", allowed: []string{"[::1]:8080"}, want: "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := backends.ValidateEndpoint(tt.raw, tt.allowed)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ValidateEndpoint(%q) = %v, want error containing %q", tt.raw, got, tt.wantErr)
				}
				if !errors.Is(err, backends.ErrInvalid) {
					t.Errorf("error kind = %q, want invalid", backends.KindOf(err))
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateEndpoint(%q): %v", tt.raw, err)
			}
			if got.String() != tt.want {
				t.Errorf("ValidateEndpoint(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
