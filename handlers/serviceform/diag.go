package serviceform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fdlstudio/fdlstudio/fdl"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Diags is diagsForForm for diagnostics of a document that is not the
// form's (the YAML pane as the user wrote it): no field is named.
func Diags(ds fdl.Diagnostics) []templates.ServiceFormDiag { return diagsForForm(ds, "", rowIndex{}) }

// DiagErrors puts the YAML's errors that concern a field next to that
// field. Only a submit does this: while the user is still filling the
// form, the YAML pane lists them without marking fields.
func DiagErrors(p *templates.ServiceFormProps) {
	for _, d := range p.Diags {
		if d.Severity == fdl.Error.String() && d.Field != "" {
			key := fieldKeyForID(p.Form, d.Field)
			if key != "" && p.Errors[key] == "" {
				p.Errors[key] = sentence(d.Message)
			}
		}
	}
}

func HasErrors(ds []templates.ServiceFormDiag) bool {
	for _, d := range ds {
		if d.Severity == fdl.Error.String() {
			return true
		}
	}
	return false
}

func sentence(s string) string {
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

// ---- Diagnostics → fields ----

// diagsForForm turns fdl diagnostics into the pane's list, each with the
// id of the form control it concerns when there is one. base is the YAML
// path of the service mapping.
func diagsForForm(ds fdl.Diagnostics, base string, idx rowIndex) []templates.ServiceFormDiag {
	out := make([]templates.ServiceFormDiag, 0, len(ds))
	for _, d := range ds {
		fd := templates.ServiceFormDiag{Line: d.Line, Col: d.Col, Path: d.Path, Severity: d.Severity.String(), Message: d.Message}
		if base != "" {
			if rest, ok := strings.CutPrefix(d.Path, base+"."); ok {
				if key := fieldKey(rest, idx); key != "" {
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

var listItemRE = regexp.MustCompile(`^(input|output)\[(\d+)\](?:\.(storage_provider|path|prefix|suffix))?`)

// fieldKey maps a YAML path below the service to a form field key.
func fieldKey(rest string, idx rowIndex) string {
	if m := listItemRE.FindStringSubmatch(rest); m != nil {
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

// fieldKeyForID finds the field key of a control id (the reverse of
// templates.ServiceFieldID) among the keys the form has.
func fieldKeyForID(f templates.ServiceForm, id string) string {
	for _, k := range formKeys(f) {
		if templates.ServiceFieldID(k) == id {
			return k
		}
	}
	return ""
}

// formKeys lists every field key of f.
func formKeys(f templates.ServiceForm) []string {
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
