package fdl

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// ValidateOptions tune Validate for its caller.
type ValidateOptions struct {
	// Scripts is the directory (or bundle) holding the FDL file; script
	// paths are resolved in it. Nil skips the script file check.
	Scripts fs.FS
	// RequireScripts makes a missing script file an error (deploy) instead
	// of a warning (validate: the reference examples come without scripts).
	RequireScripts bool
}

var (
	dns1123      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	lambdaName   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	quantity     = regexp.MustCompile(`^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$`)
	secretEnvKey = regexp.MustCompile(`(?i)(secret|passw|token|_key$|apikey|api_key|credential|private)`)
)

// validator accumulates diagnostics for one document.
type validator struct {
	d     *Document
	m     *Model
	opts  ValidateOptions
	diags []Diagnostic
}

func (v *validator) at(path string, sev Severity, format string, args ...any) {
	line, col := v.m.pos(path)
	v.diags = append(v.diags, Diagnostic{File: v.d.name, Line: line, Col: col, Path: path, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) atKey(path string, sev Severity, format string, args ...any) {
	line, col := v.m.keyPos(path)
	v.diags = append(v.diags, Diagnostic{File: v.d.name, Line: line, Col: col, Path: path, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// Validate checks the document and returns every error and warning, sorted
// by position. It never fails: problems are diagnostics. With the zero
// options (no script files to check) the result is computed once per
// document; each call returns its own copy.
func (d *Document) Validate(opts ValidateOptions) Diagnostics {
	if opts.Scripts == nil && !opts.RequireScripts {
		d.validOnce.Do(func() { d.valid = d.validate(opts) })
		return slices.Clone(d.valid)
	}
	return d.validate(opts)
}

func (d *Document) validate(opts ValidateOptions) Diagnostics {
	v := &validator{d: d, m: d.model, opts: opts}
	v.diags = append(v.diags, d.diags...)
	if len(v.m.Oscar) == 0 && len(v.m.AWS) == 0 {
		v.at("functions", Warning, "the workflow has no functions yet: add `oscar:` or `aws:` entries under `functions:`")
	}
	v.oscar()
	v.aws()
	v.providers()
	v.diags = append(v.diags, d.sharedGraph().Warnings...)
	sort.SliceStable(v.diags, func(i, j int) bool {
		a, b := v.diags[i], v.diags[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return v.diags
}

func (v *validator) oscar() {
	seen := map[string]string{} // cluster/name → path of first
	clusters := v.m.clusterIDs()
	for _, e := range v.m.Oscar {
		s, p := &e.Service, e.Path
		if !v.m.Has(p) || v.m.nodes[p].Kind != yaml.MappingNode {
			continue // already reported by the decoder
		}
		switch {
		case s.Name == "":
			v.at(p, Error, "service under cluster %q has no `name` (required, 1-39 lowercase letters, digits and '-')", e.Cluster)
		case len(s.Name) > 39:
			v.at(p+".name", Error, "service name %q is %d characters; OSCAR allows at most 39", s.Name, len(s.Name))
		case !dns1123.MatchString(s.Name):
			v.at(p+".name", Error, "service name %q must be lowercase letters, digits and '-', starting and ending with a letter or digit (it names Kubernetes objects and the default bucket)", s.Name)
		default:
			k := e.Cluster + "/" + s.Name
			if first, dup := seen[k]; dup {
				line, _ := v.m.pos(first + ".name")
				v.at(p+".name", Error, "service %q is defined twice for cluster %q (first at line %d); the second would overwrite the first", s.Name, e.Cluster, line)
			} else {
				seen[k] = p
			}
		}
		if strings.TrimSpace(s.Image) == "" {
			v.at(p, Error, "service %q has no `image` (required: the container image to run)", s.Name)
		}
		if strings.TrimSpace(s.Script) == "" {
			v.at(p, Error, "service %q has no `script` (required: a path to the script, relative to the FDL file, or the script itself)", s.Name)
		} else {
			v.script(p+".script", s.Script)
		}
		v.quantity(p+".memory", s.Memory)
		v.quantity(p+".cpu", s.CPU)
		v.quantity(p+".total_memory", s.TotalMemory)
		v.quantity(p+".total_cpu", s.TotalCPU)
		v.quantity(p+".ephemeral_storage_request", s.EphemeralStorageRequest)
		v.oneOf(p+".log_level", strings.ToUpper(s.LogLevel), Warning, "NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
		v.oneOf(p+".visibility", s.Visibility, Error, "private", "restricted", "public")
		v.oneOf(p+".isolation_level", s.IsolationLevel, Error, "SERVICE", "USER")
		if s.Visibility == "restricted" && len(s.AllowedUsers) == 0 {
			v.at(p+".visibility", Warning, "visibility is restricted but `allowed_users` is empty: only the owner can use the service")
		}
		v.expose(p+".expose", s.Expose)
		v.environment(p+".environment", s.Environment)
		v.legacyFederation(p, s)
		v.federation(p+".federation", s.Federation)
		if k := s.KServe; k != nil {
			kp := p + ".kserve"
			v.oneOf(kp+".type", k.Type, Error, "inference", "llm_inference")
			v.oneOf(kp+".api_version", k.APIVersion, Error, "v1", "v2")
			v.quantity(kp+".cpu", k.CPU)
			v.quantity(kp+".memory", k.Memory)
			if k.StorageURI == "" && k.Type != "llm_inference" {
				v.at(kp, Warning, "kserve has no `storage_uri`: the inference service has no model to load")
			}
		}
		if vol := s.Volume; vol != nil {
			v.quantity(p+".volume.size", vol.Size)
			v.oneOf(p+".volume.lifecycle_policy", vol.LifecyclePolicy, Error, "delete", "retain")
			if vol.MountPath == "" {
				v.at(p+".volume", Error, "volume has no `mount_path` (where to mount it in the container)")
			}
		}
		for i, io := range s.Input {
			ip := fmt.Sprintf("%s.input[%d]", p, i)
			typ := v.storageRef(ip, io, s, e.Cluster, clusters)
			if typ != "" && !InputTriggers("oscar", typ) {
				v.at(ip+".storage_provider", Error, "an OSCAR input must be a minio, webdav or rucio provider (these can trigger the service); %q cannot", io.StorageProvider)
			}
			if _, id := ParseProvider(io.StorageProvider); typ == "minio" && id != "default" && !clusters[id] {
				v.at(ip+".storage_provider", Warning, "OSCAR accepts a MinIO input only on the cluster's own MinIO: %q must have the same endpoint as cluster %q's MinIO, or use minio.default", io.StorageProvider, e.Cluster)
			}
		}
		for i, io := range s.Output {
			v.storageRef(fmt.Sprintf("%s.output[%d]", p, i), io, s, e.Cluster, clusters)
		}
		if s.Mount != nil {
			v.storageRef(p+".mount", *s.Mount, s, e.Cluster, clusters)
		}
		if s.Token != "" {
			v.at(p+".token", Warning, "`token` is generated by OSCAR; a token in the file is a secret in plain text and is ignored on create")
		}
	}
}

// storageRef checks one input/output/mount entry and returns its provider
// type ("" when unusable).
func (v *validator) storageRef(p string, io StorageIO, s *Service, cluster string, clusters map[string]bool) string {
	if strings.TrimSpace(io.StorageProvider) == "" {
		v.at(p, Error, "`storage_provider` is missing (e.g. minio, minio.<id>, s3.<id>)")
		return ""
	}
	typ, id := ParseProvider(io.StorageProvider)
	if strings.Trim(io.Path, " /") == "" {
		v.at(p, Error, "`path` is empty: give a bucket and optional folder, e.g. my-bucket/input")
	}
	if !v.declared(typ, id, s, clusters) {
		known := "minio, s3, onedata, webdav, rucio"
		switch typ {
		case "minio", "s3", "onedata", "webdav", "rucio":
			v.at(p+".storage_provider", Error, "storage provider %s.%s is not declared in `storage_providers.%s`", typ, id, typ)
		default:
			v.at(p+".storage_provider", Error, "unknown storage provider type %q (known: %s)", typ, known)
			return ""
		}
	}
	return typ
}

// declared reports whether type.id can be resolved for an OSCAR service (s
// != nil) or a Lambda function (s == nil).
func (v *validator) declared(typ, id string, s *Service, clusters map[string]bool) bool {
	sps := []*StorageProviders{&v.m.StorageProviders}
	if s != nil && s.StorageProviders != nil {
		sps = append(sps, s.StorageProviders)
	}
	if typ == "minio" && (id == "default" && s != nil || clusters[id]) {
		return true // the cluster's own MinIO
	}
	if typ == "s3" && id == "default" && s == nil {
		return true // SCAR: the function's own AWS credentials
	}
	for _, sp := range sps {
		var ok bool
		switch typ {
		case "minio":
			_, ok = sp.MinIO[id]
		case "s3":
			_, ok = sp.S3[id]
		case "onedata":
			_, ok = sp.Onedata[id]
		case "webdav":
			_, ok = sp.WebDAV[id]
		case "rucio":
			_, ok = sp.Rucio[id]
		}
		if ok {
			return true
		}
	}
	return false
}

func (v *validator) quantity(path, q string) {
	if q == "" || !v.m.Has(path) {
		return
	}
	if !quantity.MatchString(strings.TrimSpace(q)) {
		v.at(path, Error, "%q is not a Kubernetes quantity (e.g. 512Mi, 2Gi for memory; 0.5, 500m, '1.0' for cpu)", q)
	}
}

func (v *validator) oneOf(path, val string, sev Severity, allowed ...string) {
	if val == "" {
		return
	}
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.at(path, sev, "%q is not one of %s", val, strings.Join(allowed, ", "))
}

func (v *validator) script(path, s string) {
	if IsInlineScript(s) {
		return
	}
	if strings.HasPrefix(s, "/") {
		v.at(path, Warning, "script path %q is absolute; oscar-cli and SCAR read it relative to the FDL file", s)
		return
	}
	if v.opts.Scripts == nil {
		return
	}
	name, ok := scriptPath(s)
	sev := Warning
	if v.opts.RequireScripts {
		sev = Error
	}
	if !ok {
		v.at(path, sev, "script path %q leaves the folder of the FDL file; keep scripts next to it so the workflow bundle is complete", s)
		return
	}
	if st, err := fs.Stat(v.opts.Scripts, name); err != nil || st.IsDir() {
		v.at(path, sev, "script file %q is not next to the FDL file; it is needed to deploy", s)
	}
}

func (v *validator) expose(p string, x *Expose) {
	if x == nil {
		return
	}
	if n := v.m.nodes[p+".api_port"]; n != nil && n.Kind == yaml.ScalarNode {
		v.at(p+".api_port", Warning, "`api_port` is a single number (OSCAR v3/v4.0 form); OSCAR v4.1 expects a list such as [%s]: run `fdlstudio fdl migrate --to v4.1`", n.Value)
	}
	if n := v.m.nodes[p+".nodePort"]; n != nil && n.Kind == yaml.ScalarNode {
		v.at(p+".nodePort", Warning, "`nodePort` is a single number (OSCAR v3/v4.0 form); OSCAR v4.1 expects a list such as [%s]: run `fdlstudio fdl migrate --to v4.1`", n.Value)
	}
	if v.m.Has(p + ".port") {
		v.atKey(p+".port", Warning, "`expose.port` is the spelling of the OSCAR docs; the server reads `api_port` and ignores `port`: run `fdlstudio fdl migrate --to v4.1`")
	}
	v.oneOf(p+".auth_type", x.AuthType, Error, "basic", "forward")
	v.oneOf(p+".probe_mode", x.ProbeMode, Error, "legacy", "direct")
	for i, port := range x.APIPort {
		if port < 1 || port > 65535 {
			v.at(fmt.Sprintf("%s.api_port[%d]", p, i), Error, "port %d is outside 1-65535", port)
		}
	}
}

func (v *validator) environment(p string, env *Environment) {
	if env == nil {
		return
	}
	if v.m.Has(p + ".Variables") {
		msg := "`environment.Variables` (capital V) is the OSCAR v3.5 spelling; since v3.6 it is `variables`"
		if v.m.Has(p + ".variables") {
			msg += ", and both are present: their merge depends on the server"
		}
		v.atKey(p+".Variables", Warning, "%s: run `fdlstudio fdl migrate --to v4.1`", msg)
	}
	for _, vars := range []struct {
		key string
		m   map[string]string
	}{{"variables", env.Variables}, {"Variables", env.LegacyVariables}} {
		for _, k := range sortedKeys(vars.m) {
			if vars.m[k] != "" && secretEnvKey.MatchString(k) {
				v.at(p+"."+vars.key+"."+k, Warning, "variable %s looks like a secret written in plain text; move it to `environment.secrets` and supply it at deploy time", k)
			}
		}
	}
	for _, k := range sortedKeys(env.Secrets) {
		if env.Secrets[k] != "" {
			v.at(p+".secrets."+k, Warning, "secret %s is written in plain text in the file; anyone with the file can read it (supply it at deploy time instead)", k)
		}
	}
}

func (v *validator) legacyFederation(p string, s *Service) {
	for _, k := range []string{"replicas", "delegation", "rescheduler_threshold"} {
		if v.m.Has(p + "." + k) {
			v.atKey(p+"."+k, Warning, "`%s` is the OSCAR v3 form; v4 ignores it silently and v4.1 reads `federation.%s`: run `fdlstudio fdl migrate --to v4.1`", k, map[string]string{"replicas": "members", "delegation": "delegation", "rescheduler_threshold": "rescheduler_threshold"}[k])
		}
	}
	for i, r := range s.Replicas {
		v.replica(fmt.Sprintf("%s.replicas[%d]", p, i), r)
	}
}

func (v *validator) federation(p string, f *Federation) {
	if f == nil {
		return
	}
	v.oneOf(p+".topology", f.Topology, Error, "none", "star", "mesh")
	v.oneOf(p+".delegation", f.Delegation, Error, "static", "random", "load-based", "topsis")
	for i, r := range f.Members {
		v.replica(fmt.Sprintf("%s.members[%d]", p, i), r)
	}
}

func (v *validator) replica(p string, r Replica) {
	v.oneOf(p+".type", r.Type, Error, "oscar", "endpoint")
	if r.Type == "oscar" && r.ClusterID == "" {
		v.at(p, Error, "an oscar replica needs `cluster_id`")
	}
	if r.Type == "endpoint" && r.URL == "" {
		v.at(p, Error, "an endpoint replica needs `url`")
	}
}

func (v *validator) aws() {
	seen := map[string]string{}
	clusters := v.m.clusterIDs()
	for _, e := range v.m.AWS {
		p := e.Path
		if !v.m.Has(p) || v.m.nodes[p].Kind != yaml.MappingNode {
			continue
		}
		l := e.Lambda
		if l == nil {
			v.at(p, Error, "functions.aws entry has no `lambda:` block (required: it names the function)")
			continue
		}
		lp := p + ".lambda"
		switch {
		case l.Name == "":
			v.at(lp, Error, "lambda has no `name` (required)")
		case !lambdaName.MatchString(l.Name):
			v.at(lp+".name", Error, "lambda name %q must be 1-64 letters, digits, '-' or '_'", l.Name)
		default:
			if first, dup := seen[l.Name]; dup {
				line, _ := v.m.pos(first + ".name")
				v.at(lp+".name", Error, "lambda function %q is defined twice (first at line %d)", l.Name, line)
			} else {
				seen[l.Name] = lp
			}
		}
		if v.m.Has(lp+".memory") && (l.Memory < 128 || l.Memory > 10240) {
			v.at(lp+".memory", Error, "Lambda memory is %d MB; AWS allows 128 to 10240 MB", l.Memory)
		}
		if v.m.Has(lp+".timeout") && (l.Timeout < 1 || l.Timeout > 900) {
			v.at(lp+".timeout", Error, "Lambda timeout is %d s; AWS allows 1 to 900 s", l.Timeout)
		}
		v.oneOf(lp+".execution_mode", l.ExecutionMode, Error, "lambda", "lambda-batch", "batch")
		v.oneOf(lp+".log_level", strings.ToUpper(l.LogLevel), Warning, "NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
		for i, a := range l.Architectures {
			v.oneOf(fmt.Sprintf("%s.architectures[%d]", lp, i), a, Error, "x86_64", "arm64")
		}
		if (l.Container == nil || l.Container.Image == "") && l.Runtime != "image" {
			v.at(lp, Error, "lambda %q has no `container.image` (required: the image the function runs)", l.Name)
		}
		if l.InitScript != "" {
			v.script(lp+".init_script", l.InitScript)
		}
		if l.ExecutionMode == "batch" || l.ExecutionMode == "lambda-batch" {
			if b := e.Batch; b != nil && v.m.Has(p+".batch.memory") && b.Memory < 4 {
				v.at(p+".batch.memory", Error, "Batch memory is %d MiB; it must be at least 4", b.Memory)
			}
		}
		if e.IAM != nil && v.m.Has(p+".iam.role") && e.IAM.Role == "" {
			v.at(p+".iam.role", Warning, "`iam.role` is empty: SCAR then takes the execution role from ~/.scar/scar.cfg")
		}
		for i, io := range l.Input {
			ip := fmt.Sprintf("%s.input[%d]", lp, i)
			if typ := v.storageRef(ip, io, nil, "", clusters); typ != "" && !InputTriggers("aws", typ) {
				v.at(ip+".storage_provider", Warning, "SCAR only creates triggers for s3 inputs; files in %q will not start the function", io.StorageProvider)
			}
		}
		for i, io := range l.Output {
			v.storageRef(fmt.Sprintf("%s.output[%d]", lp, i), io, nil, "", clusters)
		}
		if l.Environment != nil {
			for _, k := range sortedKeys(l.Environment.Variables) {
				if l.Environment.Variables[k] != "" && secretEnvKey.MatchString(k) {
					v.at(lp+".environment.Variables."+k, Warning, "variable %s looks like a secret written in plain text", k)
				}
			}
		}
	}
}

func (v *validator) providers() {
	sp := v.m.StorageProviders
	plain := func(path, what, val string) {
		if val != "" {
			v.at(path, Warning, "%s is written in plain text in the file; supply it at deploy time (the cluster registration) instead", what)
		}
	}
	for _, id := range sortedKeys(sp.MinIO) {
		p := "storage_providers.minio." + id
		if sp.MinIO[id].Endpoint == "" {
			v.at(p, Warning, "MinIO provider %q has no `endpoint`", id)
		}
		plain(p+".secret_key", "the MinIO secret key", sp.MinIO[id].SecretKey)
	}
	for _, id := range sortedKeys(sp.S3) {
		plain("storage_providers.s3."+id+".secret_key", "the S3 secret key", sp.S3[id].SecretKey)
	}
	for _, id := range sortedKeys(sp.Onedata) {
		plain("storage_providers.onedata."+id+".token", "the Onedata token", sp.Onedata[id].Token)
	}
	for _, id := range sortedKeys(sp.WebDAV) {
		plain("storage_providers.webdav."+id+".password", "the WebDAV password", sp.WebDAV[id].Password)
	}
	for _, id := range sortedKeys(sp.Rucio) {
		plain("storage_providers.rucio."+id+".refresh_token", "the Rucio refresh token", sp.Rucio[id].RefreshToken)
	}
	for _, id := range sortedKeys(v.m.Clusters) {
		c := v.m.Clusters[id]
		p := "clusters." + id
		if c.Endpoint == "" {
			v.at(p, Error, "cluster %q has no `endpoint`", id)
		}
		plain(p+".auth_password", "the cluster password", c.AuthPassword)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
