package handlers

import (
	"encoding/json"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends/deploy"
)

// Credentials in the composer.
//
// The store keeps a workflow's text whole; the browser never sees a
// credential of it (a storage provider's keys, a cluster's password, a
// service's secret values). Every text the composer is given has them
// blanked in place (deploy.DocumentCredentials), and beside it the held
// credentials: the values blanked, sealed with the server's key and bound
// to the user and the workflow, as the service form does with its carry.
// Every text the composer sends back is filled again from what it holds
// before the server reads it: a blank credential takes the held value for
// the same place, when what it is for (endpoint, host, user) is the same.
// So a stored secret left blank is kept, never written back blank, and a
// key is never sent on to another endpoint than the one it was given for.

// maxHeldCredentials bounds what a composer session holds.
const maxHeldCredentials = 1000

type heldCredential struct {
	Value string `json:"v"`
	For   string `json:"f"`
	Quote string `json:"q,omitempty"`
}

type heldCredentials map[string]heldCredential

func heldAD(owner, workflow int64) string {
	return "workflow-credentials:" + strconv.FormatInt(owner, 10) + ":" + strconv.FormatInt(workflow, 10)
}

// openHeld reads the sealed credentials a composer sent; what does not
// open (tampered, another workflow's, sealed before a restart with a
// process key) holds nothing, so blanks stay blank.
func (h *Handler) openHeld(sealed string, owner, workflow int64) heldCredentials {
	held := heldCredentials{}
	if sealed == "" {
		return held
	}
	plain, err := h.sealer.Open(sealed, heldAD(owner, workflow))
	if err != nil {
		return held
	}
	_ = json.Unmarshal(plain, &held) // sealed by us: well formed
	return held
}

func (h *Handler) sealHeld(held heldCredentials, owner, workflow int64) string {
	if len(held) == 0 {
		return ""
	}
	b, _ := json.Marshal(held)
	sealed, err := h.sealer.Seal(b, heldAD(owner, workflow))
	if err != nil {
		return "" // no randomness: drop what is held rather than show it
	}
	return sealed
}

// withCredentials fills text, as a composer sent it, with the held
// credentials; a text that does not parse is returned as it is (its
// diagnostics are what the caller shows).
func withCredentials(name, text string, held heldCredentials) string {
	if len(held) == 0 || text == "" {
		return text
	}
	doc, err := parseCached(name, text)
	if err != nil {
		return text
	}
	changed := false
	for _, c := range deploy.DocumentCredentials(doc) {
		hc, ok := held[c.Key()]
		if !ok || c.Value != "" || hc.For != c.For || hc.Value == "" {
			continue
		}
		nd, err := doc.SetPath(c.Base, c.Segs, yamlString(hc.Value, hc.Quote))
		if err != nil {
			continue
		}
		doc, changed = nd, true
	}
	if !changed {
		return text
	}
	remember(doc)
	return string(doc.Bytes())
}

// withoutCredentials blanks every credential of text and adds their
// values to held (what the text writes wins over what was held).
func withoutCredentials(name, text string, held heldCredentials) string {
	doc, err := parseCached(name, text)
	if err != nil {
		return blankUnparsed(text)
	}
	creds := deploy.DocumentCredentials(doc)
	if len(creds) == 0 {
		return text
	}
	for _, c := range creds {
		if c.Value != "" && (len(held) < maxHeldCredentials || held[c.Key()] != (heldCredential{})) {
			held[c.Key()] = heldCredential{Value: c.Value, For: c.For, Quote: c.Quote}
		}
	}
	red, err := deploy.BlankCredentials(doc)
	if err != nil {
		return blankUnparsed(text)
	}
	return string(red.Bytes())
}

// blankUnparsed stands for a text that cannot be read, so cannot be
// redacted: it is not shown.
func blankUnparsed(string) string {
	return "# This text could not be read, so it is not shown: it may hold credentials.\n"
}

// redactState blanks the credentials of the state's text, adds them to
// held, and puts the sealed result in the state.
func (h *Handler) redactState(st *state, held heldCredentials, owner, workflow int64) {
	st.YAML = withoutCredentials(st.Name, st.YAML, held)
	st.Held = h.sealHeld(held, owner, workflow)
}

// redactText blanks every credential of a stored text for a page or a
// download.
func redactText(name, text string) string {
	return withoutCredentials(name, text, heldCredentials{})
}

// yamlString writes v as a YAML string scalar, in the quoting it was
// written in when that still reads back as v, else double-quoted.
func yamlString(v, quote string) string {
	switch quote {
	case "":
		var back any
		if yaml.Unmarshal([]byte(v), &back) == nil {
			if s, ok := back.(string); ok && s == v && !strings.ContainsAny(v, "\n#") {
				return v
			}
		}
	case "'":
		if !strings.ContainsAny(v, "\n") {
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
	}
	q, _ := json.Marshal(v) // a JSON string is a YAML double-quoted scalar
	return string(q)
}
