package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

// TestServicePageAndFDLShowNoCredentials: a service whose clusters
// entries hold an auth_password, whose federation members carry headers,
// and whose providers and secrets hold keys shows none of them on its
// page or in its FDL download; the names around them stay.
func TestServicePageAndFDLShowNoCredentials(t *testing.T) {
	env := newFormEnv(t)
	svc := credentialService()
	svc.Name = "fed"
	svc.Clusters = map[string]backends.ClusterRef{
		"edge":  {Endpoint: "https://edge.example.org", AuthUser: "oscar", AuthPassword: "EDGE-PASSWORD-1"},
		"cloud": {Endpoint: "https://cloud.example.org", AuthUser: "oscar", AuthPassword: "CLOUD-PASSWORD-2"},
	}
	svc.Federation = &backends.Federation{GroupID: "g1", Topology: "star", Delegation: "static", Members: []backends.Replica{
		{Type: "oscar", ClusterID: "edge", ServiceName: "fed", Priority: 1, Headers: map[string]string{"Authorization": "Bearer FED-HEADER-TOKEN"}},
		{Type: "endpoint", URL: "https://replica.example.org", Priority: 2, Headers: map[string]string{"X-Api-Key": "FED-API-KEY-3"}},
	}}
	svc.Environment.Secrets = map[string]string{"API_TOKEN": "SECRET-VALUE-4"}
	if err := env.client.CreateService(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	stored, err := env.client.GetService(context.Background(), "fed")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Clusters["edge"].AuthPassword != "EDGE-PASSWORD-1" || stored.Federation == nil || stored.Federation.Members[1].Headers["X-Api-Key"] != "FED-API-KEY-3" {
		t.Fatalf("the test cluster does not give the credentials back, so this test proves nothing: %+v", stored)
	}
	secrets := append([]string{"EDGE-PASSWORD-1", "CLOUD-PASSWORD-2", "FED-HEADER-TOKEN", "FED-API-KEY-3", "SECRET-VALUE-4"}, credentialValues...)
	for _, target := range []string{"/services/local/fed", "/services/local/fed/fdl", "/services/local/fed/edit"} {
		rec := env.do(http.MethodGet, target, nil, false)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", target, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows %q", target, s)
			}
		}
		for _, name := range []string{"edge.example.org", "Authorization", "X-Api-Key", "API_TOKEN", "replica.example.org"} {
			if !strings.Contains(body, name) {
				t.Errorf("GET %s lost %q, which is no credential", target, name)
			}
		}
	}
}
