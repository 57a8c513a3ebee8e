package backends

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"strconv"
)

// Every credential-bearing field of a service is listed here, once:
// EachCredential walks them, Redact blanks them. Pages, downloads and the
// service form show a service only after Redact.

// credentialKeys are the credential fields, by JSON key, of the entries
// of each storage_providers type and of clusters. What an entry is for
// (endpoint, host, user) is not a credential.
var credentialKeys = map[string][]string{
	"minio":    {"access_key", "secret_key"},
	"s3":       {"access_key", "secret_key"},
	"onedata":  {"token"},
	"webdav":   {"password"},
	"rucio":    {"refresh_token"},
	"clusters": {"auth_password"},
}

// CredentialKeys returns the JSON keys of the credential fields of an
// entry of block: a storage provider type ("minio", "s3", ...) or
// "clusters". It is nil for any other block.
func CredentialKeys(block string) []string { return credentialKeys[block] }

// Credential is one credential field of a service.
type Credential struct {
	// Path is where the field is, as "storage_providers.minio.ext.secret_key",
	// "clusters.other.auth_password", "environment.secrets.API_KEY" or
	// "federation.members[0].headers.Authorization".
	Path string
	// Value points at the field's value; what the callback of
	// EachCredential writes there is stored in the service.
	Value *string
	// For is what the credential is valid for (endpoint, host, user): a
	// stored credential may only be sent on for the same For.
	For string
}

// EachCredential calls f for every credential field of s: those of each
// entry s has, blank ones too. f may change the value through c.Value.
func EachCredential(s *Service, f func(c Credential)) {
	field := func(path, forWhat string, v *string) { f(Credential{Path: path, Value: v, For: forWhat}) }
	if sp := s.StorageProviders; sp != nil {
		eachEntry(sp.MinIO, func(id string, p *MinIOProvider) {
			field("storage_providers.minio."+id+".access_key", p.Endpoint, &p.AccessKey)
			field("storage_providers.minio."+id+".secret_key", p.Endpoint, &p.SecretKey)
		})
		eachEntry(sp.S3, func(id string, p *S3Provider) {
			field("storage_providers.s3."+id+".access_key", "", &p.AccessKey)
			field("storage_providers.s3."+id+".secret_key", "", &p.SecretKey)
		})
		eachEntry(sp.Onedata, func(id string, p *OnedataProvider) {
			field("storage_providers.onedata."+id+".token", p.OneproviderHost, &p.Token)
		})
		eachEntry(sp.WebDav, func(id string, p *WebDavProvider) {
			field("storage_providers.webdav."+id+".password", p.Hostname+"\x00"+p.Login, &p.Password)
		})
		eachEntry(sp.Rucio, func(id string, p *RucioProvider) {
			field("storage_providers.rucio."+id+".refresh_token", p.Host+"\x00"+p.AuthHost+"\x00"+p.TokenEndpoint+"\x00"+p.Account, &p.RefreshToken)
		})
	}
	eachEntry(s.Clusters, func(id string, c *ClusterRef) {
		field("clusters."+id+".auth_password", c.Endpoint+"\x00"+c.AuthUser, &c.AuthPassword)
	})
	if s.Environment != nil {
		eachEntry(s.Environment.Secrets, func(k string, v *string) { field("environment.secrets."+k, "", v) })
	}
	// Keys the type does not know (from a newer server) and the kserve
	// block: what is named like a credential, and everything below it.
	for k, raw := range s.Extra {
		if rawCredentials(&raw, k, credentialNamed(k), field) {
			s.Extra[k] = raw
		}
	}
	rawCredentials(&s.Kserve, "kserve", false, field)
	if s.Federation != nil {
		for i := range s.Federation.Members {
			m := &s.Federation.Members[i]
			eachEntry(m.Headers, func(k string, v *string) {
				field("federation.members["+strconv.Itoa(i)+"].headers."+k, m.URL+"\x00"+m.ClusterID+"\x00"+m.ServiceName, v)
			})
		}
	}
}

// Redact returns a copy of s with every credential blanked: storage
// provider keys, passwords and tokens, clusters' auth_password, secret
// values, federation member header values, the service's invocation
// token, and in kserve and keys Service does not know, whatever is named
// like a credential. Names (of secrets, headers, providers) stay, so the shape of
// the service can still be shown. s is not changed; nil stays nil.
func Redact(s *Service) *Service {
	if s == nil {
		return nil
	}
	c := *s
	c.Token = ""
	if sp := s.StorageProviders; sp != nil {
		c.StorageProviders = &StorageProviders{
			MinIO: maps.Clone(sp.MinIO), S3: maps.Clone(sp.S3), Onedata: maps.Clone(sp.Onedata),
			WebDav: maps.Clone(sp.WebDav), Rucio: maps.Clone(sp.Rucio),
		}
	}
	c.Clusters = maps.Clone(s.Clusters)
	c.Extra = maps.Clone(s.Extra)
	if s.Environment != nil {
		env := *s.Environment
		env.Secrets = maps.Clone(env.Secrets)
		c.Environment = &env
	}
	if s.Federation != nil {
		f := *s.Federation
		f.Members = append([]Replica(nil), f.Members...)
		for i := range f.Members {
			f.Members[i].Headers = maps.Clone(f.Members[i].Headers)
		}
		c.Federation = &f
	}
	EachCredential(&c, func(cr Credential) { *cr.Value = "" })
	return &c
}

// eachEntry calls f with a pointer to each value of m, writing it back.
func eachEntry[V any](m map[string]V, f func(id string, v *V)) {
	for k, v := range m {
		f(k, &v)
		m[k] = v
	}
}

// credentialName is what the name of a credential-bearing key looks like.
var credentialName = regexp.MustCompile(`(?i)password|passwd|secret|token|credential|apikey|authorization|headers|(^|[_-])key$`)

// notCredentialNames are named like credentials but hold none.
var notCredentialNames = map[string]bool{"token_endpoint": true, "image_pull_secrets": true}

func credentialNamed(k string) bool { return credentialName.MatchString(k) && !notCredentialNames[k] }

// CredentialNamed reports whether a key no schema knows is named like one
// that holds a credential (password, secret, token, ..._key, headers), so
// that redaction blanks it too.
func CredentialNamed(k string) bool { return credentialNamed(k) }

// rawCredentials calls field for every string in the JSON value raw that
// is below a key named like a credential (or is one, when under), and
// writes raw anew if a value changed; it reports whether it did.
func rawCredentials(raw *json.RawMessage, path string, under bool, field func(path, forWhat string, v *string)) bool {
	if len(*raw) == 0 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(*raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return false
	}
	changed := false
	var walk func(x any, path string, under bool) any
	walk = func(x any, path string, under bool) any {
		switch t := x.(type) {
		case string:
			if under {
				old := t
				field(path, "", &t)
				changed = changed || t != old
			}
			return t
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e, path+"."+k, under || credentialNamed(k))
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e, path+"["+strconv.Itoa(i)+"]", under)
			}
		}
		return x
	}
	v = walk(v, path, under)
	if !changed {
		return false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	*raw = b
	return true
}
