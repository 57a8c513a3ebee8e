package deploy_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/examples"
	"github.com/fdlstudio/fdlstudio/fdl"
)

const twoStages = `functions:
  oscar:
  - edge:
      name: first
      image: alpine
      cpu: 1
      script: first.sh
      environment:
        Variables: {A: "1"}
      output:
      - storage_provider: minio.cloud
        path: shared/mid
      storage_providers:
        minio:
          cloud: {endpoint: https://own.example.org}
  - cloud:
      name: second
      image: alpine
      script: |
        #!/bin/sh
        echo inline
      input:
      - storage_provider: minio.cloud
        path: shared/mid
      future_key: {kept: true}
storage_providers:
  minio:
    cloud: {endpoint: https://cloud.example.org, access_key: AK, secret_key: SK}
  s3:
    aws: {access_key: AKS3, secret_key: SKS3, region: eu-west-1}
clusters:
  cloud: {endpoint: https://cloud.example.org, auth_user: oscar, auth_password: PW}
`

func parse(t *testing.T, name, y string) *fdl.Document {
	t.Helper()
	doc, err := fdl.Parse(name, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestServicesMergeTopLevelAndReadScripts: every service gets the
// top-level providers and clusters (its own entry wins), its own script
// from the folder, legacy keys migrated and unknown keys kept.
func TestServicesMergeTopLevelAndReadScripts(t *testing.T) {
	dir := fstest.MapFS{"first.sh": {Data: []byte("#!/bin/sh\necho first\n")}}
	fns, err := deploy.Services(parse(t, "w.yaml", twoStages), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 || fns[0].Cluster != "edge" || fns[1].Cluster != "cloud" || fns[0].Service.Name != "first" {
		t.Fatalf("functions = %+v", fns)
	}
	a, b := fns[0].Service, fns[1].Service
	if a.Script != "#!/bin/sh\necho first\n" || b.Script != "#!/bin/sh\necho inline\n" {
		t.Errorf("scripts = %q, %q", a.Script, b.Script)
	}
	if a.CPU != "1" || a.Environment == nil || a.Environment.Variables["A"] != "1" {
		t.Errorf("first = cpu %q env %+v", a.CPU, a.Environment)
	}
	if got := a.StorageProviders.MinIO["cloud"].Endpoint; got != "https://own.example.org" {
		t.Errorf("the service's own minio.cloud was replaced by the top-level one: %q", got)
	}
	for _, s := range []*backends.Service{a, b} {
		if s.StorageProviders.S3["aws"].SecretKey != "SKS3" || s.Clusters["cloud"].AuthPassword != "PW" {
			t.Errorf("%s did not get the top-level providers and clusters: %+v %+v", s.Name, s.StorageProviders, s.Clusters)
		}
	}
	if b.StorageProviders.MinIO["cloud"].SecretKey != "SK" {
		t.Errorf("second: minio.cloud = %+v", b.StorageProviders.MinIO["cloud"])
	}
	if string(b.Extra["future_key"]) != `{"kept":true}` {
		t.Errorf("unknown key lost: %s", b.Extra["future_key"])
	}

	if _, err := deploy.Services(parse(t, "w.yaml", twoStages), fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "first.sh") {
		t.Errorf("a missing script: %v, want an error naming it", err)
	}
	fns, err = deploy.Services(parse(t, "w.yaml", twoStages), nil)
	if err != nil || fns[0].Service.Script != "first.sh" {
		t.Errorf("without a folder the script stays as written: %v %q", err, fns[0].Service.Script)
	}
}

// TestServicesBadTypes: a field of the wrong type is an error naming it.
func TestServicesBadTypes(t *testing.T) {
	y := "functions:\n  oscar:\n  - c:\n      name: s\n      image: i\n      script: x\n      input: {path: p}\n"
	if _, err := deploy.Services(parse(t, "w.yaml", y), nil); err == nil || !strings.Contains(err.Error(), "input") {
		t.Errorf("err = %v, want one naming input", err)
	}
	y = "functions:\n  oscar: []\nclusters: [1, 2]\n"
	if _, err := deploy.Services(parse(t, "w.yaml", y), nil); err == nil || !strings.Contains(err.Error(), "clusters") {
		t.Errorf("err = %v, want one naming clusters", err)
	}
}

// TestSampleThroughTheMapping: the sample workflow maps to its two
// services with their own scripts.
func TestSampleThroughTheMapping(t *testing.T) {
	data, err := examples.FS.ReadFile("wordcount/wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fns, err := deploy.Services(parse(t, "wordcount.yaml", string(data)), fstest.MapFS{
		"count.sh": {Data: []byte("count\n")}, "top10.sh": {Data: []byte("top\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 || fns[0].Service.Script != "count\n" || fns[1].Service.Script != "top\n" {
		t.Errorf("functions = %+v", fns)
	}
}

// TestFDLRoundTrip: a service written as FDL maps back to itself, less
// what FDL never writes.
func TestFDLRoundTrip(t *testing.T) {
	fns, err := deploy.Services(parse(t, "w.yaml", twoStages), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		out, err := deploy.FDL(f.Cluster, f.Service)
		if err != nil {
			t.Fatal(err)
		}
		back, err := deploy.Services(parse(t, "back.yaml", string(out)), nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want, _ := deploy.FDL(f.Cluster, f.Service)
		got, _ := deploy.FDL(back[0].Cluster, back[0].Service)
		if string(got) != string(want) || back[0].Cluster != f.Cluster {
			t.Errorf("round trip changed %s:\n%s\nvs\n%s", f.Service.Name, got, want)
		}
	}
}

// TestEditChangesOnlyWhatDiffers: Edit writes only the fields that
// differ, whole lists where their length changes, and removes what the
// service no longer has.
func TestEditChangesOnlyWhatDiffers(t *testing.T) {
	doc := parse(t, "w.yaml", twoStages)
	fns, _ := deploy.Services(doc, nil)
	s := fns[1].Service
	s.Memory = "1Gi"
	s.Input[0].Path = "shared/other"
	s.Extra = nil
	out, err := deploy.Edit(doc, 1, s)
	if err != nil {
		t.Fatal(err)
	}
	// Edit migrates the document first: Variables is spelled variables.
	want := strings.NewReplacer("        path: shared/mid\n      future_key: {kept: true}\n", "        path: shared/other\n      memory: 1Gi\n",
		"Variables:", "variables:").Replace(twoStages)
	if got := string(out.Bytes()); got != want {
		t.Errorf("edited =\n%s\nwant\n%s", got, want)
	}
	same, err := deploy.Edit(doc, 0, fns[0].Service)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(same.Bytes()), "variables: {A: \"1\"}") || strings.Contains(string(same.Bytes()), "Variables") {
		t.Errorf("an unchanged service is migrated and otherwise left alone:\n%s", same.Bytes())
	}
}

// TestEditLeavesTopLevelBlocksAlone: the clusters and storage providers
// a service takes from the top of the file are not the service's own, so
// adopting a cluster's version (which carries them merged in, credentials
// blanked) edits only the service's own fields.
func TestEditLeavesTopLevelBlocksAlone(t *testing.T) {
	const text = `functions:
  oscar:
  - c1:
      name: s1
      image: img
      memory: 128Mi
      script: echo hi
      input:
      - storage_provider: minio.other
        path: b/in
clusters:
  c2:
    endpoint: https://c2.example
    auth_user: u
    auth_password: secret-pw
    ssl_verify: true
storage_providers:
  minio:
    other:
      endpoint: https://minio.example
      access_key: ak
      secret_key: sk
`
	doc := parse(t, "top.yaml", text)
	fns, err := deploy.Services(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := deploy.Restorable(fns[0].Service)
	s.Memory = "256Mi"
	backends.EachCredential(s, func(c backends.Credential) { *c.Value = "" })
	// A cluster may also keep only what its own services reference, or
	// none of the other clusters.
	dropped := *s
	dropped.Clusters = nil
	for _, to := range []*backends.Service{s, &dropped} {
		out, err := deploy.Edit(doc, 0, to)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(text, "memory: 128Mi", "memory: 256Mi", 1); string(out.Bytes()) != want {
			t.Errorf("edited =\n%s\nwant only the memory line changed", out.Bytes())
		}
	}
}
