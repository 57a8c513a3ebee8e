// Package serviceform is the model of the service form, without HTTP:
// the form as typed (templates.ServiceForm), reading it from posted
// values, turning it into a backends.Service and back, the YAML pane
// beside it (kept as the user wrote it, edited field by field), and the
// mapping of FDL diagnostics to the form's fields.
//
// The form is the source of truth while fields change (the YAML
// follows); "Apply YAML" makes the YAML the source (the form follows).
//
// Field keys are the service's JSON path below the service mapping:
// "memory", "expose.api_port", "input[0].path",
// "environment.variables[2].key". The same keys name the form controls,
// index the per-field errors, and are what fdl diagnostics are mapped to.
package serviceform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/templates"
)

const (
	// maxFormRows bounds each list of the form (inputs, variables, ...),
	// whatever count the request claims.
	maxFormRows = 100
	// maxScriptBytes bounds an uploaded script file.
	maxScriptBytes = 1 << 20
	// serviceYAMLName names the YAML pane in diagnostics.
	serviceYAMLName = "service.yaml"
	// defaultProvider is the cluster's own MinIO, always available.
	defaultProvider = "minio.default"
)

var serviceNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Providers lists the storage providers a row may use: the cluster's
// own MinIO, then those the service declares (kept in the carry).
func Providers(f templates.ServiceForm) []string {
	out := []string{defaultProvider}
	var carry backends.Service
	if f.Carry != "" && json.Unmarshal([]byte(f.Carry), &carry) == nil && carry.StorageProviders != nil {
		sp := carry.StorageProviders
		add := func(typ string, ids []string) {
			sort.Strings(ids)
			for _, id := range ids {
				if ref := typ + "." + id; !slices.Contains(out, ref) {
					out = append(out, ref)
				}
			}
		}
		add("minio", mapKeys(sp.MinIO))
		add("s3", mapKeys(sp.S3))
		add("onedata", mapKeys(sp.Onedata))
		add("webdav", mapKeys(sp.WebDav))
		add("rucio", mapKeys(sp.Rucio))
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ---- Reading the form ----

// formLists are the row lists of the form and how each row is read.
var kvLists = []string{"environment.variables", "annotations", "labels"}

// ReadScriptFile reads an uploaded script: text, at most maxScriptBytes.
func ReadScriptFile(size int64, open func() (io.ReadCloser, error)) (string, string) {
	if size > maxScriptBytes {
		return "", fmt.Sprintf("The script file is %d bytes; at most %d are accepted.", size, maxScriptBytes)
	}
	r, err := open()
	if err != nil {
		return "", "The script file could not be read."
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxScriptBytes+1))
	if err != nil || len(b) > maxScriptBytes {
		return "", "The script file could not be read."
	}
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return "", "The script file is not UTF-8 text."
	}
	return normalizeScript(string(b)), ""
}

// normalizeScript uses LF line ends and ends the script with one, so the
// FDL writes it as a block (a one-line value would read as a file path).
func normalizeScript(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.TrimSpace(s) == "" {
		return ""
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// FromValues reads the form fields (no validation).
func FromValues(v url.Values) templates.ServiceForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	on := func(k string) bool { return v.Get(k) == "on" }
	f := templates.ServiceForm{
		Cluster: get("cluster"), Name: get("name"), Image: get("image"),
		Script: normalizeScript(v.Get("script")), LogLevel: get("log_level"), Alpine: on("alpine"),
		CPU: get("cpu"), Memory: get("memory"), TotalCPU: get("total_cpu"), TotalMemory: get("total_memory"),
		EphemeralStorage: get("ephemeral_storage_request"),
		EnableGPU:        on("enable_gpu"), EnableSGX: on("enable_sgx"), ImagePrefetch: on("image_prefetch"),
		SyncMinScale: get("synchronous.min_scale"), SyncMaxScale: get("synchronous.max_scale"),
		Visibility: get("visibility"), AllowedUsers: strings.ReplaceAll(strings.TrimSpace(v.Get("allowed_users")), "\r\n", "\n"),
		VO: get("vo"), IsolationLevel: get("isolation_level"),
		Expose: templates.ServiceFormExpose{
			APIPorts: get("expose.api_port"), NodePorts: get("expose.nodePort"),
			MinScale: get("expose.min_scale"), MaxScale: get("expose.max_scale"), CPUThreshold: get("expose.cpu_threshold"),
			RewriteTarget: on("expose.rewrite_target"), DefaultCommand: on("expose.default_command"), SetAuth: on("expose.set_auth"),
			AuthType: get("expose.auth_type"), HealthPath: get("expose.health_path"), ProbeMode: get("expose.probe_mode"),
		},
		ImagePullSecrets: get("image_pull_secrets"),
		Mount:            templates.ServiceFormRow{Provider: get("mount.storage_provider"), Path: get("mount.path"), Options: get("mount.options")},
		Volume: templates.ServiceFormVolume{
			Name: get("volume.name"), Size: get("volume.size"), MountPath: get("volume.mount_path"), LifecyclePolicy: get("volume.lifecycle_policy"),
		},
		FileStageIn: on("file_stage_in"), InterlinkNodeName: get("interlink_node_name"),
		Carry: v.Get("carry"),
	}
	rows := func(list string) int {
		n, _ := strconv.Atoi(v.Get(list + ".n"))
		return min(max(n, 0), maxFormRows)
	}
	key := func(list string, i int, field string) string { return fmt.Sprintf("%s[%d].%s", list, i, field) }
	for _, list := range []string{"input", "output"} {
		var out []templates.ServiceFormRow
		for i := range rows(list) {
			out = append(out, templates.ServiceFormRow{
				Provider: get(key(list, i, "storage_provider")), Path: get(key(list, i, "path")),
				Prefix: get(key(list, i, "prefix")), Suffix: get(key(list, i, "suffix")),
			})
		}
		if list == "input" {
			f.Inputs = out
		} else {
			f.Outputs = out
		}
	}
	for _, list := range kvLists {
		var out []templates.ServiceFormKV
		for i := range rows(list) {
			out = append(out, templates.ServiceFormKV{Key: get(key(list, i, "key")), Value: v.Get(key(list, i, "value"))})
		}
		*kvList(&f, list) = out
	}
	for i := range rows("environment.secrets") {
		f.Secrets = append(f.Secrets, templates.ServiceFormSecret{
			Key: get(key("environment.secrets", i, "key")), Value: v.Get(key("environment.secrets", i, "value")),
			Stored: v.Get(key("environment.secrets", i, "stored")) == "1",
		})
	}
	return f
}

func kvList(f *templates.ServiceForm, list string) *[]templates.ServiceFormKV {
	switch list {
	case "annotations":
		return &f.Annotations
	case "labels":
		return &f.Labels
	}
	return &f.Variables
}

// RowOp applies "add:<list>" or "remove:<list>:<i>" to the form; focus is
// the id of the control to focus afterwards.
func RowOp(f templates.ServiceForm, op string) (templates.ServiceForm, string, bool) {
	parts := strings.Split(op, ":")
	if len(parts) < 2 {
		return f, "", false
	}
	verb, list := parts[0], parts[1]
	idx := -1
	if verb == "remove" {
		if len(parts) != 3 {
			return f, "", false
		}
		i, err := strconv.Atoi(parts[2])
		if err != nil || i < 0 {
			return f, "", false
		}
		idx = i
	} else if verb != "add" || len(parts) != 2 {
		return f, "", false
	}
	edit := func(n int, add func(), del func(i int)) (string, bool) {
		switch {
		case verb == "add" && n < maxFormRows:
			add()
			return "", true
		case verb == "add":
			return "", true // at the limit: nothing more
		case idx < n:
			del(idx)
		}
		return "", true
	}
	var focus string
	var ok bool
	switch list {
	case "input", "output":
		rows := &f.Inputs
		if list == "output" {
			rows = &f.Outputs
		}
		_, ok = edit(len(*rows), func() { *rows = append(*rows, templates.ServiceFormRow{Provider: defaultProvider}) },
			func(i int) { *rows = slices.Delete(*rows, i, i+1) })
		if verb == "add" {
			focus = templates.ServiceFieldID(fmt.Sprintf("%s[%d].storage_provider", list, len(*rows)-1))
		}
	case "environment.variables", "annotations", "labels":
		rows := kvList(&f, list)
		_, ok = edit(len(*rows), func() { *rows = append(*rows, templates.ServiceFormKV{}) },
			func(i int) { *rows = slices.Delete(*rows, i, i+1) })
		if verb == "add" {
			focus = templates.ServiceFieldID(fmt.Sprintf("%s[%d].key", list, len(*rows)-1))
		}
	case "environment.secrets":
		_, ok = edit(len(f.Secrets), func() { f.Secrets = append(f.Secrets, templates.ServiceFormSecret{}) },
			func(i int) { f.Secrets = slices.Delete(f.Secrets, i, i+1) })
		if verb == "add" {
			focus = templates.ServiceFieldID(fmt.Sprintf("environment.secrets[%d].key", len(f.Secrets)-1))
		}
	}
	return f, focus, ok
}

// ---- Form ⇄ Service ----

// rowIndex maps the position of an item in the service's lists to the
// form row it came from (blank rows are skipped), so diagnostics about
// input[1] land on the right row.
type rowIndex map[string][]int

func formRowIndex(f templates.ServiceForm) rowIndex {
	idx := rowIndex{}
	for list, rows := range map[string][]templates.ServiceFormRow{"input": f.Inputs, "output": f.Outputs} {
		for i, r := range rows {
			if !r.Blank() {
				idx[list] = append(idx[list], i)
			}
		}
	}
	return idx
}

// ToService builds the service a form describes. errs holds a message
// per field that cannot be read (a number that is not one, a duplicate
// key); the service is still built from the rest, for the YAML pane.
func ToService(f templates.ServiceForm, editing bool) (*backends.Service, map[string]string) {
	errs := map[string]string{}
	s := &backends.Service{}
	if f.Carry != "" {
		if err := json.Unmarshal([]byte(f.Carry), s); err != nil {
			errs["carry"] = "The form's hidden state is damaged; reload the page."
			s = &backends.Service{}
		}
		// Only the parts the form has no fields for come from the carry.
		*s = backends.Service{
			StorageProviders: s.StorageProviders, Clusters: s.Clusters, Federation: s.Federation,
			Kserve: s.Kserve, Extra: s.Extra,
		}
	}
	s.Name, s.Image, s.Script = f.Name, f.Image, f.Script
	switch {
	case f.Name == "":
		errs["name"] = "Give the service a name."
	case len(f.Name) > 39:
		errs["name"] = fmt.Sprintf("The name is %d characters; OSCAR allows at most 39.", len(f.Name))
	case !serviceNameRE.MatchString(f.Name):
		errs["name"] = "Use lowercase letters, digits and dashes, starting and ending with a letter or digit."
	}
	if f.Image == "" {
		errs["image"] = "Give the container image to run."
	}
	if f.Script == "" {
		errs["script"] = "Give the script each job runs."
	}
	s.LogLevel, s.Alpine = strings.ToUpper(f.LogLevel), f.Alpine
	s.CPU, s.Memory, s.TotalCPU, s.TotalMemory = f.CPU, f.Memory, f.TotalCPU, f.TotalMemory
	s.EphemeralStorageRequest = f.EphemeralStorage
	s.EnableGPU, s.EnableSGX, s.ImagePrefetch = f.EnableGPU, f.EnableSGX, f.ImagePrefetch

	num := func(key, v string) int {
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs[key] = fmt.Sprintf("%q is not a whole number of 0 or more.", v)
			return 0
		}
		return n
	}
	if mn, mx := num("synchronous.min_scale", f.SyncMinScale), num("synchronous.max_scale", f.SyncMaxScale); mn != 0 || mx != 0 {
		s.Synchronous = &backends.Synchronous{MinScale: mn, MaxScale: mx}
	}
	for _, l := range []struct {
		name string
		rows []templates.ServiceFormRow
		dst  *[]backends.StorageIOConfig
	}{{"input", f.Inputs, &s.Input}, {"output", f.Outputs, &s.Output}} {
		for i, r := range l.rows {
			if r.Blank() {
				continue
			}
			if r.Path == "" {
				errs[fmt.Sprintf("%s[%d].path", l.name, i)] = "Give a bucket and optional folder, e.g. " + orDefault(f.Name, "my-service") + "/" + l.name + "."
			}
			*l.dst = append(*l.dst, backends.StorageIOConfig{
				StorageProvider: r.Provider, Path: r.Path, Prefix: splitList(r.Prefix), Suffix: splitList(r.Suffix),
			})
		}
	}
	env := &backends.Environment{}
	kv := func(list string, rows []templates.ServiceFormKV) map[string]string {
		var m map[string]string
		for i, r := range rows {
			if r.Key == "" && r.Value == "" {
				continue
			}
			k := fmt.Sprintf("%s[%d].key", list, i)
			if r.Key == "" {
				errs[k] = "Give the name."
				continue
			}
			if _, dup := m[r.Key]; dup {
				errs[k] = fmt.Sprintf("%q is already set above.", r.Key)
				continue
			}
			if m == nil {
				m = map[string]string{}
			}
			m[r.Key] = r.Value
		}
		return m
	}
	env.Variables = kv("environment.variables", f.Variables)
	for i, r := range f.Secrets {
		if r.Key == "" && r.Value == "" && !r.Stored {
			continue
		}
		k := fmt.Sprintf("environment.secrets[%d]", i)
		switch {
		case r.Key == "":
			errs[k+".key"] = "Give the name."
			continue
		case env.Secrets[r.Key] != "" || slices.ContainsFunc(f.Secrets[:i], func(o templates.ServiceFormSecret) bool { return o.Key == r.Key }):
			errs[k+".key"] = fmt.Sprintf("%q is already set above.", r.Key)
			continue
		case r.Value == "" && editing && !r.Stored:
			errs[k+".value"] = retypeSecret
		case r.Value == "" && !editing:
			errs[k+".value"] = "Give the secret's value."
		}
		if env.Secrets == nil {
			env.Secrets = map[string]string{}
		}
		env.Secrets[r.Key] = r.Value
	}
	if env.Variables != nil || env.Secrets != nil {
		s.Environment = env
	}
	s.Visibility, s.VO, s.IsolationLevel = f.Visibility, f.VO, f.IsolationLevel
	s.AllowedUsers = splitLines(f.AllowedUsers)

	ports := func(key, v string) []int {
		var out []int
		for _, p := range splitList(v) {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				errs[key] = fmt.Sprintf("%q is not a port (1-65535).", p)
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	e := f.Expose
	x := backends.Expose{
		APIPort: ports("expose.api_port", e.APIPorts), NodePort: ports("expose.nodePort", e.NodePorts),
		MinScale: num("expose.min_scale", e.MinScale), MaxScale: num("expose.max_scale", e.MaxScale),
		CPUThreshold:  num("expose.cpu_threshold", e.CPUThreshold),
		RewriteTarget: e.RewriteTarget, DefaultCommand: e.DefaultCommand, SetAuth: e.SetAuth,
		AuthType: e.AuthType, HealthPath: e.HealthPath, ProbeMode: e.ProbeMode,
	}
	if !exposeIsZero(x) {
		s.Expose = &x
	}
	s.Annotations = kv("annotations", f.Annotations)
	s.Labels = kv("labels", f.Labels)
	s.ImagePullSecrets = splitList(f.ImagePullSecrets)
	if !f.Mount.Blank() {
		if f.Mount.Provider == "" {
			errs["mount.storage_provider"] = "Choose the provider of the mounted path."
		}
		if f.Mount.Path == "" {
			errs["mount.path"] = "Give the bucket and folder to mount."
		}
		s.Mount = &backends.StorageIOConfig{StorageProvider: f.Mount.Provider, Path: f.Mount.Path, Options: f.Mount.Options}
	}
	if f.Volume != (templates.ServiceFormVolume{}) {
		v := backends.VolumeConfig(f.Volume)
		s.Volume = &v
	}
	s.FileStageIn, s.InterlinkNodeName = f.FileStageIn, f.InterlinkNodeName
	return s, errs
}

func exposeIsZero(x backends.Expose) bool {
	return x.MinScale == 0 && x.MaxScale == 0 && len(x.APIPort) == 0 && x.CPUThreshold == 0 && !x.RewriteTarget &&
		len(x.NodePort) == 0 && !x.DefaultCommand && !x.SetAuth && x.AuthType == "" && x.HealthPath == "" && x.ProbeMode == ""
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// splitList reads "a, b c" (commas, spaces or new lines) as a list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// FromService fills the form from a service. What OSCAR generates
// (token, owner, buckets, status) is left out; the parts without fields
// go to the carry. Secret values are copied: callers showing a stored
// service blank them.
func FromService(cluster string, s *backends.Service) templates.ServiceForm {
	itoa := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	ports := func(ps []int) string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = strconv.Itoa(p)
		}
		return strings.Join(out, ", ")
	}
	f := templates.ServiceForm{
		Cluster: cluster, Name: s.Name, Image: s.Image, Script: normalizeScript(s.Script),
		LogLevel: strings.ToUpper(s.LogLevel), Alpine: s.Alpine,
		CPU: s.CPU, Memory: s.Memory, TotalCPU: s.TotalCPU, TotalMemory: s.TotalMemory,
		EphemeralStorage: s.EphemeralStorageRequest,
		EnableGPU:        s.EnableGPU, EnableSGX: s.EnableSGX, ImagePrefetch: s.ImagePrefetch,
		Visibility: s.Visibility, AllowedUsers: strings.Join(s.AllowedUsers, "\n"), VO: s.VO, IsolationLevel: s.IsolationLevel,
		ImagePullSecrets: strings.Join(s.ImagePullSecrets, ", "),
		FileStageIn:      s.FileStageIn, InterlinkNodeName: s.InterlinkNodeName,
	}
	if s.Synchronous != nil {
		f.SyncMinScale, f.SyncMaxScale = itoa(s.Synchronous.MinScale), itoa(s.Synchronous.MaxScale)
	}
	row := func(io backends.StorageIOConfig) templates.ServiceFormRow {
		return templates.ServiceFormRow{
			Provider: canonicalProvider(io.StorageProvider), Path: io.Path,
			Prefix: strings.Join(io.Prefix, ", "), Suffix: strings.Join(io.Suffix, ", "), Options: io.Options,
		}
	}
	for _, io := range s.Input {
		f.Inputs = append(f.Inputs, row(io))
	}
	for _, io := range s.Output {
		f.Outputs = append(f.Outputs, row(io))
	}
	if s.Mount != nil {
		f.Mount = row(*s.Mount)
	}
	kvs := func(m map[string]string) []templates.ServiceFormKV {
		var out []templates.ServiceFormKV
		for _, k := range sortedKeys(m) {
			out = append(out, templates.ServiceFormKV{Key: k, Value: m[k]})
		}
		return out
	}
	if s.Environment != nil {
		f.Variables = kvs(s.Environment.Variables)
		for _, k := range sortedKeys(s.Environment.Secrets) {
			f.Secrets = append(f.Secrets, templates.ServiceFormSecret{Key: k, Value: s.Environment.Secrets[k]})
		}
	}
	f.Annotations, f.Labels = kvs(s.Annotations), kvs(s.Labels)
	if x := s.Expose; x != nil {
		f.Expose = templates.ServiceFormExpose{
			APIPorts: ports(x.APIPort), NodePorts: ports(x.NodePort),
			MinScale: itoa(x.MinScale), MaxScale: itoa(x.MaxScale), CPUThreshold: itoa(x.CPUThreshold),
			RewriteTarget: x.RewriteTarget, DefaultCommand: x.DefaultCommand, SetAuth: x.SetAuth,
			AuthType: x.AuthType, HealthPath: x.HealthPath, ProbeMode: x.ProbeMode,
		}
	}
	if s.Volume != nil {
		f.Volume = templates.ServiceFormVolume(*s.Volume)
	}
	carry := backends.Service{
		StorageProviders: deploy.WithoutDefaultMinIO(s.StorageProviders), Clusters: s.Clusters,
		Federation: s.Federation, Kserve: s.Kserve, Extra: s.Extra,
	}
	if carry.StorageProviders != nil || carry.Clusters != nil || carry.Federation != nil || len(carry.Kserve) > 0 || len(carry.Extra) > 0 {
		b, _ := json.Marshal(carry)
		f.Carry = string(b)
	}
	return f
}

// canonicalProvider writes a bare provider type as type.default.
func canonicalProvider(ref string) string {
	if ref == "" {
		return ""
	}
	typ, id := fdl.ParseProvider(ref)
	return typ + "." + id
}

func sortedKeys(m map[string]string) []string {
	keys := mapKeys(m)
	sort.Strings(keys)
	return keys
}

// Overlay is base with the groups posted in v read from v: a form showing
// only some groups of the service form (the composer's side panel) posts
// those, and the rest of the service stays as base has it. A group is
// posted when its first control is: the row counts of the lists,
// "expose.api_port", "image_pull_secrets", "mount.path", "volume.name",
// "interlink_node_name".
func Overlay(base templates.ServiceForm, v url.Values) templates.ServiceForm {
	f := FromValues(v)
	has := func(k string) bool { _, ok := v[k]; return ok }
	if has("environment.variables.n") {
		base.Variables = f.Variables
	}
	if has("environment.secrets.n") {
		base.Secrets = f.Secrets
	}
	if has("annotations.n") {
		base.Annotations = f.Annotations
	}
	if has("labels.n") {
		base.Labels = f.Labels
	}
	if has("expose.api_port") {
		base.Expose = f.Expose
	}
	if has("image_pull_secrets") {
		base.ImagePullSecrets = f.ImagePullSecrets
	}
	if has("mount.path") {
		base.Mount = f.Mount
	}
	if has("volume.name") {
		base.Volume = f.Volume
	}
	if has("interlink_node_name") {
		base.InterlinkNodeName, base.FileStageIn = f.InterlinkNodeName, f.FileStageIn
	}
	return base
}
