package serviceform

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/templates"
)

// ServiceGetter is what KeepStored needs of a cluster.
type ServiceGetter interface {
	GetService(ctx context.Context, name string) (*backends.Service, error)
}

// retypeSecret asks for a stored secret's value again.
const retypeSecret = "Give the value, a stored one too: the cluster does not give stored secrets back, and saving the service replaces every secret."

// KeepStored puts back into svc, an edit about to be saved, what the page
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
func KeepStored(ctx context.Context, b ServiceGetter, svc *backends.Service, f templates.ServiceForm, errs map[string]string) (msg string, err error) {
	stored, err := b.GetService(ctx, svc.Name)
	if err != nil {
		return "", err
	}
	keepCredentials(svc, stored)
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
				errs[fmt.Sprintf("environment.secrets[%d].value", i)] = retypeSecret
			}
		}
	}
	if len(errs) > 0 {
		msg = "Some stored secrets cannot be kept as they are; they are marked below."
	}
	if lost := lostCredentials(svc, stored); len(lost) > 0 {
		return fmt.Sprintf("The stored %s cannot be kept: the endpoint, host or user it is for changed. "+
			"Write the new value in the YAML pane and press Apply YAML, or undo that change.", strings.Join(lost, ", ")), nil
	}
	return msg, nil
}

// keepCredentials fills each blank credential of dst (backends.EachCredential)
// from the same field of from, only where what the credential is for
// (endpoint, host, user) is the same: a key is never sent on to another
// server than the one it was given for.
func keepCredentials(dst, from *backends.Service) {
	have := map[string]backends.Credential{}
	backends.EachCredential(from, func(c backends.Credential) {
		v := *c.Value
		c.Value = &v
		have[c.Path] = c
	})
	backends.EachCredential(dst, func(c backends.Credential) {
		if o, ok := have[c.Path]; ok && *c.Value == "" && o.For == c.For {
			*c.Value = *o.Value
		}
	})
}

// lostCredentials names the credentials from has that dst leaves blank
// for the same provider, cluster or member (after keepCredentials: those
// whose endpoint or host changed), as "storage_providers.minio.x.secret_key".
// An entry dst no longer has is not listed: removing it is meant.
func lostCredentials(dst, from *backends.Service) []string {
	blank := map[string]bool{}
	backends.EachCredential(dst, func(c backends.Credential) { blank[c.Path] = *c.Value == "" })
	var lost []string
	backends.EachCredential(from, func(c backends.Credential) {
		if blank[c.Path] && *c.Value != "" {
			lost = append(lost, c.Path)
		}
	})
	sort.Strings(lost)
	return lost
}
