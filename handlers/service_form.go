package handlers

// The service form: create and edit an OSCAR service with a form that has
// a field for every part of the service, beside the same service as an FDL
// document. The form is the source of truth while fields change (the YAML
// follows); "Apply YAML" makes the YAML the source (the form follows).
//
// Field keys are the service's JSON path below the service mapping:
// "memory", "expose.api_port", "input[0].path",
// "environment.variables[2].key". The same keys name the form controls,
// index the per-field errors, and are what fdl diagnostics are mapped to.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/store"
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

var sfServiceNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ShowNewService handles "GET /services/new": an empty form, on the
// cluster named by ?cluster= when given.
func (h *Handler) ShowNewService(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	list, err := h.userClusters(c.Request().Context(), u)
	if err != nil {
		return err
	}
	names := sfClusterNames(list)
	f := templates.ServiceForm{Cluster: c.QueryParam("cluster"), Visibility: "private"}
	if !slices.Contains(names, f.Cluster) && len(names) > 0 {
		f.Cluster = names[0]
	}
	p := h.serviceFormProps(c, names, false, f)
	p.Pristine = true
	return Render(c, http.StatusOK, templates.ServiceFormPage(p))
}

// ShowEditService handles "GET /services/:cluster/:name/edit": the form
// filled from the service as the cluster returns it, secret values left
// out.
func (h *Handler) ShowEditService(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	svc, err := b.GetService(c.Request().Context(), c.Param("name"))
	if err != nil {
		return userError(sfBackendStatus(err), Describe(err), err)
	}
	// Neither the secrets nor the credentials of the storage providers
	// and clusters reach the page; saving merges them back (keepStored).
	f := serviceToForm(cl.Name, sfWithoutCredentials(svc))
	for i := range f.Secrets {
		// A secret can be left empty to keep it only if the cluster gave
		// its value back (see keepStored); OSCAR does not.
		f.Secrets[i].Stored = f.Secrets[i].Value != ""
		f.Secrets[i].Value = ""
	}
	p := h.serviceFormProps(c, []string{cl.Name}, true, f)
	return Render(c, http.StatusOK, templates.ServiceFormPage(p))
}

// CreateService handles "POST /services": checks the form, creates the
// service on the chosen cluster and goes to its page. Mistakes and the
// cluster's refusal re-render the form (422) with the message beside it.
func (h *Handler) CreateService(c echo.Context) error {
	return h.saveService(c, false)
}

// UpdateService handles "POST /services/:cluster/:name". A secret or
// credential left empty keeps its stored value where the cluster gives it
// back; otherwise the save is refused (see keepStored).
func (h *Handler) UpdateService(c echo.Context) error {
	return h.saveService(c, true)
}

func (h *Handler) saveService(c echo.Context, editing bool) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, errs := readServiceForm(c)
	var names []string
	if editing {
		if f.Cluster != c.Param("cluster") || f.Name != c.Param("name") {
			return userError(http.StatusBadRequest, "The form is for another service than this address; reload the edit page.", nil)
		}
		names = []string{f.Cluster}
	} else {
		list, err := h.userClusters(ctx, u)
		if err != nil {
			return err
		}
		names = sfClusterNames(list)
	}
	svc, ferrs := formToService(f, editing)
	maps.Copy(errs, ferrs)
	if !slices.Contains(names, f.Cluster) {
		errs["cluster"] = "Choose one of your clusters."
	}
	p := h.serviceFormProps(c, names, editing, f)
	for k, v := range errs {
		p.Errors[k] = v // the form's own message wins over the YAML's
	}
	diagErrors(&p)
	if len(p.Errors) > 0 || sfHasErrors(p.Diags) {
		if len(p.Errors) == 0 {
			p.FormError = "The service has errors; they are listed under the YAML."
		}
		return Render(c, http.StatusUnprocessableEntity, templates.ServiceFormPage(p))
	}
	cl, err := h.findCluster(ctx, u, f.Cluster)
	if err != nil {
		return err
	}
	b, err := h.backendFor(ctx, cl)
	if err == nil {
		if editing {
			var msg string
			if msg, err = keepStored(ctx, b, svc, f, p.Errors); err == nil && (msg != "" || len(p.Errors) > 0) {
				p.FormError = msg
				return Render(c, http.StatusUnprocessableEntity, templates.ServiceFormPage(p))
			}
		}
		if err == nil && editing {
			err = b.UpdateService(ctx, svc)
		} else if err == nil {
			err = b.CreateService(ctx, svc)
		}
	}
	if err != nil {
		p.BackendError = Describe(err)
		return Render(c, http.StatusUnprocessableEntity, templates.ServiceFormPage(p))
	}
	return c.Redirect(http.StatusSeeOther, "/services/"+url.PathEscape(cl.Name)+"/"+url.PathEscape(svc.Name))
}

// sfServiceGetter is what keepStored needs of a cluster.
type sfServiceGetter interface {
	GetService(ctx context.Context, name string) (*backends.Service, error)
}

// sfRetypeSecret asks for a stored secret's value again.
const sfRetypeSecret = "Give the value, a stored one too: the cluster does not give stored secrets back, and saving the service replaces every secret."

// keepStored puts back into svc, an edit about to be saved, what the page
// never showed: each credential of a storage provider or cluster, and
// each stored secret, left blank is taken from the service as the cluster
// holds it. What cannot be put back is refused rather than wiped: msg
// says why for the whole form, and errs gets a message per field.
//
// Why secrets cannot simply be sent blank: OSCAR's PUT /system/services
// (pkg/handlers/update.go, v3.6 to v4.x) writes environment.secrets, when
// it is not empty, over the service's Kubernetes Secret with a full
// Update whose StringData is the map as sent. A blank value is stored as
// an empty secret, and a key left out is deleted. Its GET returns the
// ConfigMap copy of the service, where every secret value is blanked, so
// the stored value cannot be read back either (newer servers have
// GET /system/services/{name}/secrets?key=, which this client does not
// use). Leaving environment.secrets out entirely would keep the Secret
// but drop the names from the service definition. So a blank stored
// secret is sent back only when the cluster returned its value (as the
// local cluster and older servers may); otherwise the user must type it.
func keepStored(ctx context.Context, b sfServiceGetter, svc *backends.Service, f templates.ServiceForm, errs map[string]string) (msg string, err error) {
	stored, err := b.GetService(ctx, svc.Name)
	if err != nil {
		return "", err
	}
	sfKeepCredentials(svc, stored)
	if svc.Environment != nil {
		var have map[string]string
		if stored.Environment != nil {
			have = stored.Environment.Secrets
		}
		for i, r := range f.Secrets {
			if r.Key == "" || r.Value != "" || svc.Environment.Secrets[r.Key] != "" {
				continue
			}
			if v := have[r.Key]; v != "" {
				svc.Environment.Secrets[r.Key] = v
			} else if _, ok := svc.Environment.Secrets[r.Key]; ok {
				errs[fmt.Sprintf("environment.secrets[%d].value", i)] = sfRetypeSecret
			}
		}
	}
	if len(errs) > 0 {
		msg = "Some stored secrets cannot be kept as they are; they are marked below."
	}
	if lost := sfLostCredentials(svc, stored); len(lost) > 0 {
		return fmt.Sprintf("The stored %s cannot be kept: the endpoint, host or user it is for changed. "+
			"Write the new value in the YAML pane and press Apply YAML, or undo that change.", strings.Join(lost, ", ")), nil
	}
	return msg, nil
}

// PreviewService handles "POST /services/preview", the form's helper:
//
//   - no op (htmx, on every change): the YAML pane for the form as it is;
//   - op add:<list> / remove:<list>:<i>: the form with a row more or less;
//   - op apply-yaml: the form read from the YAML pane;
//   - op script-file: the form with the uploaded script in place.
//
// htmx gets the fragment it swaps; a browser without JavaScript gets the
// whole page (the buttons are plain submits with this formaction).
func (h *Handler) PreviewService(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	f, errs := readServiceForm(c)
	editing := c.FormValue("editing") == "1"
	var names []string
	if editing {
		names = []string{f.Cluster}
	} else {
		list, err := h.userClusters(c.Request().Context(), u)
		if err != nil {
			return err
		}
		names = sfClusterNames(list)
	}
	op := c.FormValue("op")
	var focus, yamlErr string
	var yamlDiags fdl.Diagnostics
	switch {
	case op == "":
		p := h.serviceFormProps(c, names, editing, f)
		if sfIsHTMX(c) {
			return Render(c, http.StatusOK, templates.ServiceYAMLPane(p))
		}
		p.Errors = errs
		return Render(c, http.StatusOK, templates.ServiceFormPage(p))
	case op == "apply-yaml":
		nf, diags, err := applyServiceYAML(f, []byte(c.FormValue("yaml")), editing)
		if err != nil {
			yamlErr, yamlDiags = err.Error(), diags
			break
		}
		if !editing && !slices.Contains(names, nf.Cluster) {
			yamlErr = fmt.Sprintf("Cluster %q in the YAML is not one of your clusters (%s); the form was not changed.", nf.Cluster, strings.Join(names, ", "))
			break
		}
		f, errs = nf, map[string]string{}
	case op == "script-file":
		// readServiceForm already put the file in the script.
	default:
		var ok bool
		if f, focus, ok = sfRowOp(f, op); !ok {
			return userError(http.StatusBadRequest, fmt.Sprintf("Unknown form action %q.", op), nil)
		}
	}
	p := h.serviceFormProps(c, names, editing, f)
	p.Focus = focus
	if yamlErr != "" {
		// Keep the user's YAML on screen with what is wrong with it.
		p.YAML, p.YAMLError, p.Diags = c.FormValue("yaml"), yamlErr, diagsForForm(yamlDiags, "", sfRowIndex{})
	}
	for k, v := range errs {
		p.Errors[k] = v
	}
	if sfIsHTMX(c) {
		// 200 even when the YAML was refused: htmx only swaps 2xx
		// answers, and the refusal must replace the form body to be seen.
		return Render(c, http.StatusOK, templates.ServiceFormBody(p))
	}
	status := http.StatusOK
	if yamlErr != "" {
		status = http.StatusUnprocessableEntity
	}
	return Render(c, status, templates.ServiceFormPage(p))
}

func sfIsHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// serviceFormProps builds the page for form f: the YAML of the service
// the form describes, its diagnostics, and the field errors they map to.
func (h *Handler) serviceFormProps(c echo.Context, clusters []string, editing bool, f templates.ServiceForm) templates.ServiceFormProps {
	title := "New service"
	if editing {
		title = "Edit " + f.Name
	}
	p := templates.ServiceFormProps{
		Chrome: h.Chrome(c, title, "/services"), Clusters: clusters, Editing: editing, Form: f,
		Errors: map[string]string{}, Providers: sfProviders(f),
	}
	svc, _ := formToService(f, editing)
	y, err := serviceYAML(f.Cluster, svc)
	if err != nil {
		p.YAMLError = "The form could not be written as YAML: " + err.Error()
		return p
	}
	p.YAML = string(y)
	doc, err := fdl.Parse(serviceYAMLName, y)
	var diags fdl.Diagnostics
	base := ""
	if err != nil {
		errors.As(err, &diags)
	} else {
		diags = doc.Validate(fdl.ValidateOptions{})
		if len(doc.Model().Oscar) == 1 {
			base = doc.Model().Oscar[0].Path
		}
	}
	p.Diags = diagsForForm(diags, base, sfFormRowIndex(f))
	return p
}

// diagErrors puts the YAML's errors that concern a field next to that
// field. Only a submit does this: while the user is still filling the
// form, the YAML pane lists them without marking fields.
func diagErrors(p *templates.ServiceFormProps) {
	for _, d := range p.Diags {
		if d.Severity == fdl.Error.String() && d.Field != "" {
			key := sfFieldKeyForID(p.Form, d.Field)
			if key != "" && p.Errors[key] == "" {
				p.Errors[key] = sfSentence(d.Message)
			}
		}
	}
}

func sfHasErrors(ds []templates.ServiceFormDiag) bool {
	for _, d := range ds {
		if d.Severity == fdl.Error.String() {
			return true
		}
	}
	return false
}

func sfSentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = strings.ToUpper(string(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func sfClusterNames(list []store.Cluster) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Name
	}
	return out
}

// sfBackendStatus is the page status for a backend failure: its own 404,
// a bad gateway otherwise.
func sfBackendStatus(err error) int {
	if errors.Is(err, backends.ErrNotFound) {
		return http.StatusNotFound
	}
	if errors.Is(err, backends.ErrForbidden) {
		return http.StatusForbidden
	}
	return http.StatusBadGateway
}

// sfProviders lists the storage providers a row may use: the cluster's
// own MinIO, then those the service declares (kept in the carry).
func sfProviders(f templates.ServiceForm) []string {
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
		add("minio", sfMapKeys(sp.MinIO))
		add("s3", sfMapKeys(sp.S3))
		add("onedata", sfMapKeys(sp.Onedata))
		add("webdav", sfMapKeys(sp.WebDav))
		add("rucio", sfMapKeys(sp.Rucio))
	}
	return out
}

func sfMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ---- Reading the form ----

// formLists are the row lists of the form and how each row is read.
var sfKVLists = []string{"environment.variables", "annotations", "labels"}

// readServiceForm reads the posted form as typed, including an uploaded
// script file; errs holds what could not be read at all (the file).
func readServiceForm(c echo.Context) (templates.ServiceForm, map[string]string) {
	errs := map[string]string{}
	values, err := c.FormParams()
	if err != nil {
		values = url.Values{}
	}
	f := formFromValues(values)
	if fh, err := c.FormFile("script_file"); err == nil && fh.Size > 0 {
		script, msg := readScriptFile(fh.Size, func() (io.ReadCloser, error) { return fh.Open() })
		if msg != "" {
			errs["script_file"] = msg
		} else {
			f.Script = script
		}
	}
	return f, errs
}

// readScriptFile reads an uploaded script: text, at most maxScriptBytes.
func readScriptFile(size int64, open func() (io.ReadCloser, error)) (string, string) {
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

// formFromValues reads the form fields (no validation).
func formFromValues(v url.Values) templates.ServiceForm {
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
	for _, list := range sfKVLists {
		var out []templates.ServiceFormKV
		for i := range rows(list) {
			out = append(out, templates.ServiceFormKV{Key: get(key(list, i, "key")), Value: v.Get(key(list, i, "value"))})
		}
		*sfKVList(&f, list) = out
	}
	for i := range rows("environment.secrets") {
		f.Secrets = append(f.Secrets, templates.ServiceFormSecret{
			Key: get(key("environment.secrets", i, "key")), Value: v.Get(key("environment.secrets", i, "value")),
			Stored: v.Get(key("environment.secrets", i, "stored")) == "1",
		})
	}
	return f
}

func sfKVList(f *templates.ServiceForm, list string) *[]templates.ServiceFormKV {
	switch list {
	case "annotations":
		return &f.Annotations
	case "labels":
		return &f.Labels
	}
	return &f.Variables
}

// sfRowOp applies "add:<list>" or "remove:<list>:<i>" to the form; focus is
// the id of the control to focus afterwards.
func sfRowOp(f templates.ServiceForm, op string) (templates.ServiceForm, string, bool) {
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
		rows := sfKVList(&f, list)
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

// sfRowIndex maps the position of an item in the service's lists to the
// form row it came from (blank rows are skipped), so diagnostics about
// input[1] land on the right row.
type sfRowIndex map[string][]int

func sfFormRowIndex(f templates.ServiceForm) sfRowIndex {
	idx := sfRowIndex{}
	for list, rows := range map[string][]templates.ServiceFormRow{"input": f.Inputs, "output": f.Outputs} {
		for i, r := range rows {
			if !r.Blank() {
				idx[list] = append(idx[list], i)
			}
		}
	}
	return idx
}

// formToService builds the service a form describes. errs holds a message
// per field that cannot be read (a number that is not one, a duplicate
// key); the service is still built from the rest, for the YAML pane.
func formToService(f templates.ServiceForm, editing bool) (*backends.Service, map[string]string) {
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
	case !sfServiceNameRE.MatchString(f.Name):
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
				errs[fmt.Sprintf("%s[%d].path", l.name, i)] = "Give a bucket and optional folder, e.g. " + sfOr(f.Name, "my-service") + "/" + l.name + "."
			}
			*l.dst = append(*l.dst, backends.StorageIOConfig{
				StorageProvider: r.Provider, Path: r.Path, Prefix: sfSplitList(r.Prefix), Suffix: sfSplitList(r.Suffix),
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
			errs[k+".value"] = sfRetypeSecret
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
	s.AllowedUsers = sfSplitLines(f.AllowedUsers)

	ports := func(key, v string) []int {
		var out []int
		for _, p := range sfSplitList(v) {
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
	s.ImagePullSecrets = sfSplitList(f.ImagePullSecrets)
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

func sfOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sfSplitList reads "a, b c" (commas, spaces or new lines) as a list.
func sfSplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func sfSplitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// serviceToForm fills the form from a service. What OSCAR generates
// (token, owner, buckets, status) is left out; the parts without fields
// go to the carry. Secret values are copied: callers showing a stored
// service blank them.
func serviceToForm(cluster string, s *backends.Service) templates.ServiceForm {
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
			Provider: sfCanonicalProvider(io.StorageProvider), Path: io.Path,
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
		for _, k := range sfSortedKeys(m) {
			out = append(out, templates.ServiceFormKV{Key: k, Value: m[k]})
		}
		return out
	}
	if s.Environment != nil {
		f.Variables = kvs(s.Environment.Variables)
		for _, k := range sfSortedKeys(s.Environment.Secrets) {
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
		StorageProviders: withoutDefaultMinIO(s.StorageProviders), Clusters: s.Clusters,
		Federation: s.Federation, Kserve: s.Kserve, Extra: s.Extra,
	}
	if carry.StorageProviders != nil || carry.Clusters != nil || carry.Federation != nil || len(carry.Kserve) > 0 || len(carry.Extra) > 0 {
		b, _ := json.Marshal(carry)
		f.Carry = string(b)
	}
	return f
}

// sfCanonicalProvider writes a bare provider type as type.default.
func sfCanonicalProvider(ref string) string {
	if ref == "" {
		return ""
	}
	typ, id := fdl.ParseProvider(ref)
	return typ + "." + id
}

// withoutDefaultMinIO drops minio.default, which OSCAR injects into every
// service (its own MinIO); it is not part of what the user writes.
func withoutDefaultMinIO(sp *backends.StorageProviders) *backends.StorageProviders {
	if sp == nil {
		return nil
	}
	c := *sp
	if _, ok := c.MinIO["default"]; ok {
		c.MinIO = maps.Clone(c.MinIO)
		delete(c.MinIO, "default")
		if len(c.MinIO) == 0 {
			c.MinIO = nil
		}
	}
	if c.MinIO == nil && c.S3 == nil && c.Onedata == nil && c.WebDav == nil && c.Rucio == nil {
		return nil
	}
	return &c
}

func sfSortedKeys(m map[string]string) []string {
	keys := sfMapKeys(m)
	sort.Strings(keys)
	return keys
}

// ---- Service ⇄ YAML ----

// serviceYAML writes s as an FDL document with this one service under
// functions.oscar, keyed by cluster. Generated fields are left out and
// secret values are blanked (the YAML is shown in the page).
func serviceYAML(cluster string, s *backends.Service) ([]byte, error) {
	clean := *s
	clean.Token, clean.Owner, clean.BucketList, clean.Namespace, clean.ClusterID = "", "", nil, "", ""
	clean.Deployment, clean.VolumeStatus = nil, nil
	clean.StorageProviders = withoutDefaultMinIO(s.StorageProviders)
	clean = *sfWithoutCredentials(&clean)
	if s.Environment != nil && len(s.Environment.Secrets) > 0 {
		env := *s.Environment
		env.Secrets = make(map[string]string, len(s.Environment.Secrets))
		for k := range s.Environment.Secrets {
			env.Secrets[k] = ""
		}
		clean.Environment = &env
	}
	js, err := json.Marshal(&clean)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	// JSON is YAML: decoding it into a node keeps the field order.
	var svc yaml.Node
	if err := yaml.Unmarshal(js, &svc); err != nil {
		return nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	body := svc.Content[0]
	sfYAMLStyle(body)
	if key, _ := sfLookup(body, "environment", "secrets"); key != nil {
		key.LineComment = "values are set in the form and never shown"
	}
	sfShowBlankCredentials(body)
	if cluster == "" {
		cluster = "cluster"
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("functions"), {Kind: yaml.MappingNode, Content: []*yaml.Node{
			str("oscar"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{
				{Kind: yaml.MappingNode, Content: []*yaml.Node{str(cluster), body}},
			}},
		}},
	}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("service %q: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}

// sfYAMLStyle turns the JSON flow style into block style: literal blocks
// for multi-line strings (scripts), short lists of scalars in flow style.
func sfYAMLStyle(n *yaml.Node) {
	n.Style = 0
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "\n") {
			n.Style = yaml.LiteralStyle
		}
	case yaml.SequenceNode:
		flat := len(n.Content) <= 8
		for _, c := range n.Content {
			flat = flat && c.Kind == yaml.ScalarNode && !strings.Contains(c.Value, "\n")
		}
		if flat && len(n.Content) > 0 {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		sfYAMLStyle(c)
	}
}

// sfResolve follows alias nodes (`*a`) to the node they name, so a
// document using anchors reads as the fdl model reads it. A document
// node is not followed: callers pass what is below it.
func sfResolve(n *yaml.Node) *yaml.Node {
	// yaml.v3 refuses alias cycles while parsing; the bound is for nodes
	// built by hand.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// sfLookup follows keys through nested mappings, through aliases. val is
// the resolved value; key is the key node as written (for comments).
func sfLookup(n *yaml.Node, keys ...string) (key, val *yaml.Node) {
	val = sfResolve(n)
	for _, k := range keys {
		if val == nil || val.Kind != yaml.MappingNode {
			return nil, nil
		}
		var found bool
		for i := 0; i+1 < len(val.Content); i += 2 {
			if kn := sfResolve(val.Content[i]); kn != nil && kn.Kind == yaml.ScalarNode && kn.Value == k {
				key, val, found = val.Content[i], sfResolve(val.Content[i+1]), true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	return key, val
}

// sfOnlyService is the service mapping of a document whose
// functions.oscar is a list of one `cluster: service` item, through
// aliases; an error says what shape was found instead.
func sfOnlyService(root *yaml.Node) (*yaml.Node, error) {
	_, list := sfLookup(root, "functions", "oscar")
	switch {
	case list == nil:
		return nil, errors.New("`functions.oscar` could not be read as written (merge keys `<<` are not followed here); write it out as a list")
	case list.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("`functions.oscar` must be a list of `cluster: service` items, and is a %s", sfKindName(list))
	case len(list.Content) != 1:
		return nil, fmt.Errorf("`functions.oscar` must hold exactly one item, and holds %d", len(list.Content))
	}
	item := sfResolve(list.Content[0])
	if item == nil || item.Kind != yaml.MappingNode || len(item.Content) != 2 {
		return nil, errors.New("the item of `functions.oscar` must be a mapping with one key, the cluster, holding the service")
	}
	svc := sfResolve(item.Content[1])
	if svc == nil || svc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the service under `functions.oscar` must be a mapping, and is a %s", sfKindName(svc))
	}
	return svc, nil
}

func sfKindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar"
	}
	return "node of another kind"
}

// parseServiceYAML reads an FDL document holding exactly one OSCAR
// service. Legacy spellings are migrated to v4.1 first; top-level
// storage_providers and clusters are merged into the service, as
// oscar-cli does. A document with errors is refused: err says why and
// diags (when not nil) says where.
func parseServiceYAML(data []byte) (cluster string, svc *backends.Service, diags fdl.Diagnostics, err error) {
	doc, err := fdl.Parse(serviceYAMLName, data)
	if err != nil {
		errors.As(err, &diags)
		return "", nil, diags, yamlRefused("The YAML was not applied: it is not a readable FDL file (see below).")
	}
	if doc, _, err = doc.Migrate("v4.1"); err != nil {
		return "", nil, nil, yamlRefusedf("The YAML was not applied: %v", err)
	}
	diags = doc.Validate(fdl.ValidateOptions{})
	m := doc.Model()
	if len(m.AWS) > 0 {
		return "", nil, diags, yamlRefused("The YAML was not applied: this editor holds one OSCAR service; `functions.aws` belongs in a workflow.")
	}
	if len(m.Oscar) != 1 {
		return "", nil, diags, yamlRefusedf("The YAML was not applied: it must hold exactly one service under `functions.oscar`, and holds %d.", len(m.Oscar))
	}
	if diags.HasErrors() {
		return "", nil, diags, yamlRefused("The YAML was not applied: fix the errors below first.")
	}
	e := m.Oscar[0]
	node, err := sfOnlyService(doc.Root())
	if err != nil {
		return "", nil, diags, yamlRefusedf("The YAML was not applied: %v.", err)
	}
	svc, err = nodeService(node)
	if err != nil {
		return "", nil, diags, yamlRefusedf("The YAML was not applied: %v", err)
	}
	// Top-level blocks apply to every service of the file.
	top := &backends.Service{}
	if _, n := sfLookup(doc.Root(), "storage_providers"); n != nil {
		if err := sfDecodeVia(n, &top.StorageProviders); err != nil {
			return "", nil, diags, yamlRefusedf("The YAML was not applied: storage_providers: %v", err)
		}
	}
	if _, n := sfLookup(doc.Root(), "clusters"); n != nil {
		if err := sfDecodeVia(n, &top.Clusters); err != nil {
			return "", nil, diags, yamlRefusedf("The YAML was not applied: clusters: %v", err)
		}
	}
	mergeProviders(svc, top)
	return e.Cluster, svc, diags, nil
}

// nodeService decodes a service mapping through JSON, so backends.Service
// (and its unknown-key keeping) reads it exactly as it reads a cluster's
// answer. Scalars are re-typed for the fields that are strings in the
// service but may be written as numbers in YAML (cpu: 1).
func nodeService(n *yaml.Node) (*backends.Service, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := sfJSONable(v).(map[string]any)
	if !ok {
		return nil, errors.New("the service is not a mapping")
	}
	for _, k := range []string{"cpu", "memory", "total_cpu", "total_memory", "ephemeral_storage_request", "name", "image", "script", "vo", "log_level", "interlink_node_name"} {
		if x, ok := m[k]; ok && x != nil {
			if _, isStr := x.(string); !isStr {
				if _, isMap := x.(map[string]any); !isMap {
					m[k] = fmt.Sprint(x)
				}
			}
		}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var s backends.Service
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, sfJSONError(err)
	}
	return &s, nil
}

func sfJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("`%s` holds a %s where a %s is expected", te.Field, te.Value, te.Type)
	}
	return err
}

// sfDecodeVia decodes a YAML node into v through JSON (v has JSON tags).
func sfDecodeVia(n *yaml.Node, v any) error {
	var x any
	if err := n.Decode(&x); err != nil {
		return err
	}
	js, err := json.Marshal(sfJSONable(x))
	if err != nil {
		return err
	}
	return sfJSONError(json.Unmarshal(js, v))
}

// sfJSONable turns what yaml.v3 decodes into values encoding/json accepts
// (maps with non-string keys get their keys printed).
func sfJSONable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = sfJSONable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = sfJSONable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = sfJSONable(e)
		}
		return x
	}
	return v
}

// mergeProviders adds the top-level providers and clusters the service
// does not declare itself.
func mergeProviders(s, top *backends.Service) {
	if top.StorageProviders != nil {
		if s.StorageProviders == nil {
			s.StorageProviders = &backends.StorageProviders{}
		}
		sp, tp := s.StorageProviders, top.StorageProviders
		sfMergeMap(&sp.MinIO, tp.MinIO)
		sfMergeMap(&sp.S3, tp.S3)
		sfMergeMap(&sp.Onedata, tp.Onedata)
		sfMergeMap(&sp.WebDav, tp.WebDav)
		sfMergeMap(&sp.Rucio, tp.Rucio)
	}
	sfMergeMap(&s.Clusters, top.Clusters)
}

func sfMergeMap[V any](dst *map[string]V, src map[string]V) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]V{}
		}
		if _, ok := (*dst)[k]; !ok {
			(*dst)[k] = v
		}
	}
}

// applyServiceYAML reads the YAML pane into a form. Secrets written with
// an empty value (as the pane shows them) keep the value the form holds
// for the same name.
func applyServiceYAML(cur templates.ServiceForm, data []byte, editing bool) (templates.ServiceForm, fdl.Diagnostics, error) {
	cluster, svc, diags, err := parseServiceYAML(data)
	if err != nil {
		return cur, diags, err
	}
	if editing {
		if cluster != cur.Cluster {
			return cur, diags, yamlRefusedf("The YAML was not applied: a service stays on its cluster; the YAML must keep the key %q.", cur.Cluster)
		}
		if svc.Name != cur.Name {
			return cur, diags, yamlRefusedf("The YAML was not applied: the name of a service cannot change (%q); create a new service instead.", cur.Name)
		}
	}
	// Credentials written blank (as the pane shows them) keep the ones
	// the form holds for the same provider or cluster.
	var held backends.Service
	if cur.Carry != "" && json.Unmarshal([]byte(cur.Carry), &held) == nil {
		sfKeepCredentials(svc, &held)
	}
	f := serviceToForm(cluster, svc)
	for i, s := range f.Secrets {
		if s.Value != "" {
			continue
		}
		for _, old := range cur.Secrets {
			if old.Key == s.Key {
				f.Secrets[i].Value, f.Secrets[i].Stored = old.Value, old.Stored
			}
		}
	}
	return f, diags, nil
}

// ---- Diagnostics → fields ----

// diagsForForm turns fdl diagnostics into the pane's list, each with the
// id of the form control it concerns when there is one. base is the YAML
// path of the service mapping.
func diagsForForm(ds fdl.Diagnostics, base string, idx sfRowIndex) []templates.ServiceFormDiag {
	out := make([]templates.ServiceFormDiag, 0, len(ds))
	for _, d := range ds {
		fd := templates.ServiceFormDiag{Line: d.Line, Col: d.Col, Path: d.Path, Severity: d.Severity.String(), Message: d.Message}
		if base != "" {
			if rest, ok := strings.CutPrefix(d.Path, base+"."); ok {
				if key := sfFieldKey(rest, idx); key != "" {
					fd.Field = templates.ServiceFieldID(key)
				}
			} else if d.Path == base {
				// "service has no image": say which field from the message.
				for _, k := range []string{"name", "image", "script"} {
					if strings.Contains(d.Message, "`"+k+"`") {
						fd.Field = templates.ServiceFieldID(k)
					}
				}
			}
		}
		out = append(out, fd)
	}
	return out
}

var sfListItemRE = regexp.MustCompile(`^(input|output)\[(\d+)\](?:\.(storage_provider|path|prefix|suffix))?`)

// fieldKey maps a YAML path below the service to a form field key.
func sfFieldKey(rest string, idx sfRowIndex) string {
	if m := sfListItemRE.FindStringSubmatch(rest); m != nil {
		i, _ := strconv.Atoi(m[2])
		if rows := idx[m[1]]; i < len(rows) {
			i = rows[i]
		}
		field := m[3]
		if field == "" {
			field = "path"
		}
		return fmt.Sprintf("%s[%d].%s", m[1], i, field)
	}
	// expose.api_port[0] → expose.api_port
	if i := strings.IndexByte(rest, '['); i > 0 {
		rest = rest[:i]
	}
	switch rest {
	case "name", "image", "script", "log_level", "cpu", "memory", "total_cpu", "total_memory", "ephemeral_storage_request",
		"synchronous.min_scale", "synchronous.max_scale", "visibility", "allowed_users", "vo", "isolation_level",
		"expose.api_port", "expose.nodePort", "expose.min_scale", "expose.max_scale", "expose.cpu_threshold",
		"expose.health_path", "expose.auth_type", "expose.probe_mode", "image_pull_secrets",
		"mount.storage_provider", "mount.path", "mount.options",
		"volume.name", "volume.size", "volume.mount_path", "volume.lifecycle_policy", "interlink_node_name":
		return rest
	case "mount":
		return "mount.path"
	case "volume":
		return "volume.mount_path"
	}
	return ""
}

// sfFieldKeyForID finds the field key of a control id (the reverse of
// templates.ServiceFieldID) among the keys the form has.
func sfFieldKeyForID(f templates.ServiceForm, id string) string {
	for _, k := range sfFormKeys(f) {
		if templates.ServiceFieldID(k) == id {
			return k
		}
	}
	return ""
}

// sfFormKeys lists every field key of f.
func sfFormKeys(f templates.ServiceForm) []string {
	keys := []string{"name", "image", "script", "log_level", "cpu", "memory", "total_cpu", "total_memory", "ephemeral_storage_request",
		"synchronous.min_scale", "synchronous.max_scale", "visibility", "allowed_users", "vo", "isolation_level",
		"expose.api_port", "expose.nodePort", "expose.min_scale", "expose.max_scale", "expose.cpu_threshold",
		"expose.health_path", "expose.auth_type", "expose.probe_mode", "image_pull_secrets",
		"mount.storage_provider", "mount.path", "mount.options",
		"volume.name", "volume.size", "volume.mount_path", "volume.lifecycle_policy", "interlink_node_name"}
	for list, n := range map[string]int{"input": len(f.Inputs), "output": len(f.Outputs)} {
		for i := range n {
			for _, fld := range []string{"storage_provider", "path", "prefix", "suffix"} {
				keys = append(keys, fmt.Sprintf("%s[%d].%s", list, i, fld))
			}
		}
	}
	return keys
}

// yamlRefused is why the YAML pane's content was not applied: a sentence
// for the user, shown as it is.
func yamlRefused(msg string) error {
	return userError(http.StatusUnprocessableEntity, msg, nil)
}

func yamlRefusedf(format string, args ...any) error {
	return yamlRefused(fmt.Sprintf(format, args...))
}

// ---- Credentials ----
//
// The storage providers and the other clusters a service names carry
// credentials (keys, passwords, tokens). As for environment secrets, they
// never reach the page: the YAML pane and the carry hold them blank, and
// saving an edit takes each blank one back from the service as stored
// (sfKeepCredentials), so an unchanged form keeps them.

// sfCredentialKeys are the credential fields, by JSON key, of each block
// below storage_providers (and of clusters).
var sfCredentialKeys = map[string][]string{
	"minio": {"access_key", "secret_key"}, "s3": {"access_key", "secret_key"},
	"onedata": {"token"}, "webdav": {"password"}, "rucio": {"refresh_token"},
	"clusters": {"auth_password"},
}

// sfWithoutCredentials is s with every credential of its storage
// providers and clusters blanked; s itself is not changed.
func sfWithoutCredentials(s *backends.Service) *backends.Service {
	c := *s
	if sp := s.StorageProviders; sp != nil {
		c.StorageProviders = &backends.StorageProviders{
			MinIO:   sfMapEach(sp.MinIO, func(p *backends.MinIOProvider) { p.AccessKey, p.SecretKey = "", "" }),
			S3:      sfMapEach(sp.S3, func(p *backends.S3Provider) { p.AccessKey, p.SecretKey = "", "" }),
			Onedata: sfMapEach(sp.Onedata, func(p *backends.OnedataProvider) { p.Token = "" }),
			WebDav:  sfMapEach(sp.WebDav, func(p *backends.WebDavProvider) { p.Password = "" }),
			Rucio:   sfMapEach(sp.Rucio, func(p *backends.RucioProvider) { p.RefreshToken = "" }),
		}
	}
	c.Clusters = sfMapEach(s.Clusters, func(r *backends.ClusterRef) { r.AuthPassword = "" })
	return &c
}

// sfKeepCredentials fills each blank credential of dst from the provider
// or cluster of the same type and id in from, only where the place the
// credential is for (endpoint, host) is the same: a key is never sent on
// to another server than the one it was given for.
func sfKeepCredentials(dst, from *backends.Service) {
	if d, o := dst.StorageProviders, from.StorageProviders; d != nil && o != nil {
		sfFillEach(d.MinIO, o.MinIO, func(p *backends.MinIOProvider, o backends.MinIOProvider) {
			if p.Endpoint == o.Endpoint {
				sfFill(&p.AccessKey, o.AccessKey)
				sfFill(&p.SecretKey, o.SecretKey)
			}
		})
		sfFillEach(d.S3, o.S3, func(p *backends.S3Provider, o backends.S3Provider) {
			sfFill(&p.AccessKey, o.AccessKey)
			sfFill(&p.SecretKey, o.SecretKey)
		})
		sfFillEach(d.Onedata, o.Onedata, func(p *backends.OnedataProvider, o backends.OnedataProvider) {
			if p.OneproviderHost == o.OneproviderHost {
				sfFill(&p.Token, o.Token)
			}
		})
		sfFillEach(d.WebDav, o.WebDav, func(p *backends.WebDavProvider, o backends.WebDavProvider) {
			if p.Hostname == o.Hostname && p.Login == o.Login {
				sfFill(&p.Password, o.Password)
			}
		})
		sfFillEach(d.Rucio, o.Rucio, func(p *backends.RucioProvider, o backends.RucioProvider) {
			if p.Host == o.Host && p.AuthHost == o.AuthHost && p.TokenEndpoint == o.TokenEndpoint && p.Account == o.Account {
				sfFill(&p.RefreshToken, o.RefreshToken)
			}
		})
	}
	sfFillEach(dst.Clusters, from.Clusters, func(r *backends.ClusterRef, o backends.ClusterRef) {
		if r.Endpoint == o.Endpoint && r.AuthUser == o.AuthUser {
			sfFill(&r.AuthPassword, o.AuthPassword)
		}
	})
}

// sfLostCredentials names the credentials from has that dst leaves blank
// for the same provider or cluster (after sfKeepCredentials: those whose
// endpoint or host changed), as "storage_providers.minio.x.secret_key".
// A provider dst no longer has is not listed: removing it is meant.
func sfLostCredentials(dst, from *backends.Service) []string {
	have := map[string]string{}
	for _, c := range sfCredentialValues(dst) {
		have[c.path] = c.value
	}
	var lost []string
	for _, c := range sfCredentialValues(from) {
		if v, ok := have[c.path]; ok && v == "" && c.value != "" {
			lost = append(lost, c.path)
		}
	}
	sort.Strings(lost)
	return lost
}

type sfCredential struct{ path, value string }

// sfCredentialValues lists every credential field of s's storage
// providers and clusters with its value.
func sfCredentialValues(s *backends.Service) []sfCredential {
	var out []sfCredential
	add := func(prefix, id string, kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, sfCredential{prefix + "." + id + "." + kv[i], kv[i+1]})
		}
	}
	if sp := s.StorageProviders; sp != nil {
		for id, p := range sp.MinIO {
			add("storage_providers.minio", id, "access_key", p.AccessKey, "secret_key", p.SecretKey)
		}
		for id, p := range sp.S3 {
			add("storage_providers.s3", id, "access_key", p.AccessKey, "secret_key", p.SecretKey)
		}
		for id, p := range sp.Onedata {
			add("storage_providers.onedata", id, "token", p.Token)
		}
		for id, p := range sp.WebDav {
			add("storage_providers.webdav", id, "password", p.Password)
		}
		for id, p := range sp.Rucio {
			add("storage_providers.rucio", id, "refresh_token", p.RefreshToken)
		}
	}
	for id, r := range s.Clusters {
		add("clusters", id, "auth_password", r.AuthPassword)
	}
	return out
}

// sfShowBlankCredentials writes every credential field of the service
// mapping body as "" with a comment, so the pane says where they go
// without showing them.
func sfShowBlankCredentials(body *yaml.Node) {
	blocks := func(yield func(block *yaml.Node, typ string) bool) {
		if _, sp := sfLookup(body, "storage_providers"); sp != nil && sp.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(sp.Content); i += 2 {
				if !yield(sp.Content[i+1], sp.Content[i].Value) {
					return
				}
			}
		}
		if _, cl := sfLookup(body, "clusters"); cl != nil {
			yield(cl, "clusters")
		}
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	for block, typ := range blocks {
		if block.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(block.Content); i += 2 {
			entry := block.Content[i+1]
			if entry.Kind != yaml.MappingNode {
				continue
			}
			for _, k := range sfCredentialKeys[typ] {
				if key, _ := sfLookup(entry, k); key != nil {
					continue
				}
				v := str("")
				v.Style = yaml.DoubleQuotedStyle
				kn := str(k)
				kn.LineComment = "never shown; left empty, the value already set is kept"
				entry.Content = append(entry.Content, kn, v)
			}
		}
	}
}

// sfMapEach is a copy of m with f applied to each value.
func sfMapEach[V any](m map[string]V, f func(*V)) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		f(&v)
		out[k] = v
	}
	return out
}

// sfFillEach applies fill to each value of dst that from also has.
func sfFillEach[V any](dst, from map[string]V, fill func(*V, V)) {
	for k, v := range dst {
		if o, ok := from[k]; ok {
			fill(&v, o)
			dst[k] = v
		}
	}
}

func sfFill(dst *string, from string) {
	if *dst == "" {
		*dst = from
	}
}
