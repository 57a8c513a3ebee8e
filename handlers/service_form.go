package handlers

// The service form's pages: create and edit an OSCAR service with a form
// beside the same service as an FDL document. The form's model (reading,
// checking, converting, the YAML pane and its diagnostics) is package
// serviceform; this file is the HTTP side.

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/handlers/serviceform"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

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
	p := h.serviceFormProps(c, names, false, f, "")
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
		return userError(statusOf(err), Describe(err), err)
	}
	// No credential reaches the page (backends.Redact); saving merges
	// them back (serviceform.KeepStored).
	f := serviceform.FromService(cl.Name, backends.Redact(svc))
	for i, s := range f.Secrets {
		// A secret can be left empty to keep it only if the cluster gave
		// its value back (see KeepStored); OSCAR does not.
		f.Secrets[i].Stored = svc.Environment != nil && svc.Environment.Secrets[s.Key] != ""
	}
	p := h.serviceFormProps(c, []string{cl.Name}, true, f, "")
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
// back; otherwise the save is refused (see serviceform.KeepStored).
func (h *Handler) UpdateService(c echo.Context) error {
	return h.saveService(c, true)
}

func (h *Handler) saveService(c echo.Context, editing bool) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, errs := h.readServiceForm(c)
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
	svc, ferrs := serviceform.ToService(f, editing)
	maps.Copy(errs, ferrs)
	if !slices.Contains(names, f.Cluster) {
		errs["cluster"] = "Choose one of your clusters."
	}
	p := h.serviceFormProps(c, names, editing, f, c.FormValue("yaml"))
	for k, v := range errs {
		p.Errors[k] = v // the form's own message wins over the YAML's
	}
	serviceform.DiagErrors(&p)
	formLevelErrors(&p)
	if len(p.Errors) > 0 || p.FormError != "" || serviceform.HasErrors(p.Diags) {
		if len(p.Errors) == 0 && p.FormError == "" {
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
			if msg, err = serviceform.KeepStored(ctx, b, svc, f, p.Errors); err == nil && (msg != "" || len(p.Errors) > 0) {
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
	f, errs := h.readServiceForm(c)
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
	pane := c.FormValue("yaml")
	var yamlDiags fdl.Diagnostics
	switch {
	case op == "":
		p := h.serviceFormProps(c, names, editing, f, c.FormValue("yaml"))
		if sfIsHTMX(c) {
			return Render(c, http.StatusOK, templates.ServiceYAMLPane(p))
		}
		p.Errors = errs
		return Render(c, http.StatusOK, templates.ServiceFormPage(p))
	case op == "apply-yaml":
		nf, shown, diags, err := serviceform.ApplyYAML(f, []byte(c.FormValue("yaml")), editing)
		if err != nil {
			yamlErr, yamlDiags = err.Error(), diags
			break
		}
		if !editing && !slices.Contains(names, nf.Cluster) {
			yamlErr = fmt.Sprintf("Cluster %q in the YAML is not one of your clusters (%s); the form was not changed.", nf.Cluster, strings.Join(names, ", "))
			break
		}
		f, errs, pane = nf, map[string]string{}, shown
	case op == "script-file":
		// readServiceForm already put the file in the script.
	default:
		var ok bool
		if f, focus, ok = serviceform.RowOp(f, op); !ok {
			return userError(http.StatusBadRequest, fmt.Sprintf("Unknown form action %q.", op), nil)
		}
	}
	p := h.serviceFormProps(c, names, editing, f, pane)
	p.Focus = focus
	if yamlErr != "" {
		// Keep the user's YAML on screen with what is wrong with it.
		p.YAML, p.YAMLError, p.Diags = c.FormValue("yaml"), yamlErr, serviceform.Diags(yamlDiags)
	}
	for k, v := range errs {
		p.Errors[k] = v
	}
	formLevelErrors(&p)
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

// serviceFormProps builds the page for form f: the YAML pane (prev, the
// pane as posted, edited to follow the form; see serviceform.Pane), its
// diagnostics, and the field errors they map to.
func (h *Handler) serviceFormProps(c echo.Context, clusters []string, editing bool, f templates.ServiceForm, prev string) templates.ServiceFormProps {
	title := "New service"
	if editing {
		title = "Edit " + f.Name
	}
	p := templates.ServiceFormProps{
		Chrome: h.Chrome(c, title, "/services"), Clusters: clusters, Editing: editing, Form: f,
		Errors: map[string]string{}, Providers: serviceform.Providers(f),
	}
	p.Form.Carry = h.sealCarry(c, f.Carry)
	y, diags, err := serviceform.Pane(f, editing, prev)
	if err != nil {
		p.YAMLError = "The form could not be written as YAML: " + err.Error()
		return p
	}
	p.YAML, p.Diags = y, diags
	return p
}

func sfClusterNames(list []store.Cluster) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Name
	}
	return out
}

// readServiceForm reads the posted form as typed, including an uploaded
// script file; errs holds what could not be read at all (the file).
func (h *Handler) readServiceForm(c echo.Context) (templates.ServiceForm, map[string]string) {
	errs := map[string]string{}
	values, err := c.FormParams()
	if err != nil {
		values = url.Values{}
	}
	f := serviceform.FromValues(values)
	f.Carry = h.openCarry(c, f.Carry)
	if fh, err := c.FormFile("script_file"); err == nil && fh.Size > 0 {
		script, msg := serviceform.ReadScriptFile(fh.Size, func() (io.ReadCloser, error) { return fh.Open() })
		if msg != "" {
			errs["script_file"] = msg
		} else {
			f.Script = script
		}
	}
	return f, errs
}

// formLevelErrors moves the errors that belong to no field (the hidden
// state) to the notice at the top of the form, where they are seen.
func formLevelErrors(p *templates.ServiceFormProps) {
	if msg, ok := p.Errors["carry"]; ok {
		delete(p.Errors, "carry")
		p.FormError = msg
	}
}

// The form's hidden state (the carry) holds the parts of a service the form
// has no fields for, credentials among them, so the browser only ever holds
// it sealed with the server's key, bound to the user.
func carryAD(c echo.Context) string {
	id := int64(0)
	if u, err := currentUser(c); err == nil {
		id = u.ID
	}
	return "service-form-carry:" + strconv.FormatInt(id, 10)
}

func (h *Handler) sealCarry(c echo.Context, carry string) string {
	if carry == "" {
		return ""
	}
	sealed, err := h.sealer.Seal([]byte(carry), carryAD(c))
	if err != nil {
		return "" // no randomness: drop the state rather than show it
	}
	return sealed
}

// openCarry returns the carry in clear; one that does not open (tampered,
// another user's, or sealed before a restart with a process key) becomes
// text that serviceform.ToService reports as damaged state.
func (h *Handler) openCarry(c echo.Context, sealed string) string {
	if sealed == "" {
		return ""
	}
	plain, err := h.sealer.Open(sealed, carryAD(c))
	if err != nil {
		return "\x00"
	}
	return string(plain)
}
