package deploy_test

import (
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// TestFDLIsDeployableAndLeavesOutGenerated: the FDL of a service holds no
// credential and nothing the cluster generates, and reads back as an FDL.
func TestFDLIsDeployableAndLeavesOutGenerated(t *testing.T) {
	svc := &backends.Service{
		Name: "resize", Image: "ghcr.io/x/resize:1", Script: "#!/bin/sh\necho hi\n", Memory: "1Gi", CPU: "1",
		Token: "SECRET-TOKEN", Owner: "alice", BucketList: []string{"b"},
		Input:       []backends.StorageIOConfig{{StorageProvider: "minio.default", Path: "img/in"}},
		Environment: &backends.Environment{Variables: map[string]string{"A": "1"}, Secrets: map[string]string{"KEY": "hunter2"}},
		StorageProviders: &backends.StorageProviders{
			MinIO:   map[string]backends.MinIOProvider{"ext": {Endpoint: "https://minio.example.org", AccessKey: "AKIDMINIO", SecretKey: "MINIOSECRET"}},
			S3:      map[string]backends.S3Provider{"aws": {AccessKey: "AKIDS3", SecretKey: "S3SECRET", Region: "eu-west-1"}},
			WebDav:  map[string]backends.WebDavProvider{"dcache": {Hostname: "dcache.example.org", Login: "u", Password: "DAVPASS"}},
			Onedata: map[string]backends.OnedataProvider{"od": {OneproviderHost: "op", Token: "ODTOKEN", Space: "s"}},
			Rucio:   map[string]backends.RucioProvider{"r": {Host: "rucio", RefreshToken: "RUCIOTOKEN"}},
		},
		Clusters:   map[string]backends.ClusterRef{"edge": {Endpoint: "https://edge.example.org", AuthUser: "oscar", AuthPassword: "CLUSTERPASS"}},
		Federation: &backends.Federation{Members: []backends.Replica{{Type: "endpoint", URL: "https://m.example.org", Headers: map[string]string{"Authorization": "Bearer FEDTOKEN"}}}},
	}
	out, err := deploy.FDL("egi", svc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, bad := range []string{"SECRET-TOKEN", "hunter2", "owner:", "bucket_list", "AKIDMINIO", "MINIOSECRET", "AKIDS3", "S3SECRET", "DAVPASS", "ODTOKEN", "RUCIOTOKEN", "CLUSTERPASS", "FEDTOKEN"} {
		if strings.Contains(text, bad) {
			t.Errorf("FDL contains %q:\n%s", bad, text)
		}
	}
	if !strings.Contains(text, "https://minio.example.org") || !strings.Contains(text, "eu-west-1") {
		t.Errorf("non-secret provider fields are missing:\n%s", text)
	}
	if svc.StorageProviders.MinIO["ext"].SecretKey != "MINIOSECRET" {
		t.Error("FDL changed the service it was given")
	}
	if !strings.Contains(text, "script: |") {
		t.Errorf("the script is not a literal block:\n%s", text)
	}
	// The fdl package reads it back as one service on cluster egi.
	doc, err := fdl.Parse("svc.yaml", out)
	if err != nil {
		t.Fatalf("fdl.Parse: %v\n%s", err, text)
	}
	m := doc.Model()
	if len(m.Oscar) != 1 || m.Oscar[0].Cluster != "egi" || m.Oscar[0].Service.Name != "resize" || m.Oscar[0].Service.Memory != "1Gi" {
		t.Fatalf("model = %+v", m.Oscar)
	}
	// The field order follows the OSCAR JSON (name first).
	if !strings.HasPrefix(strings.TrimSpace(strings.SplitN(text, "- egi:", 2)[1]), "name: resize") {
		t.Errorf("name is not the first field:\n%s", text)
	}
}
