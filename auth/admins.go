package auth

import (
	"fmt"
	"net/url"
	"strings"
)

// AdminFormat is how --admins entries are written, for messages and help.
const AdminFormat = "ISSUER#SUBJECT (e.g. https://aai.egi.eu/auth/realms/egi#1234abcd@egi.eu) " +
	"or an e-mail address the provider marks as verified (name@example.org)"

// admin is one --admins entry: an identity (issuer and subject) or a
// verified e-mail address.
type admin struct {
	issuer, subject string
	email           string
}

// parseAdmins reads the --admins entries. An entry with '#' is
// ISSUER#SUBJECT: issuers are URLs, which never carry a fragment, so the
// first '#' ends the issuer and everything after it is the subject (EGI
// subjects contain '@'). An entry without '#' must be an e-mail address.
// Anything else is refused, so a bare subject cannot silently match a
// user of another issuer.
func parseAdmins(entries []string) ([]admin, error) {
	var out []admin
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if iss, sub, ok := strings.Cut(e, "#"); ok {
			u, err := url.Parse(iss)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || sub == "" {
				return nil, fmt.Errorf("--admins entry %q: the part before '#' must be the issuer URL and the part after it the subject; want %s", e, AdminFormat)
			}
			out = append(out, admin{issuer: strings.TrimRight(iss, "/"), subject: sub})
			continue
		}
		if local, domain, ok := strings.Cut(e, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t/") {
			return nil, fmt.Errorf("--admins entry %q: want %s", e, AdminFormat)
		}
		out = append(out, admin{email: e})
	}
	return out, nil
}

// IsAdmin reports whether u is an administrator: in local single-user
// mode the one user is; otherwise a user who logged in with OpenID
// Connect and whose issuer and subject are named in --admins, or whose
// e-mail is, when the provider said at this login that it is verified.
// An OSCAR basic login never makes an admin: its user name is whatever
// the endpoint it was checked against accepts.
func (m *Manager) IsAdmin(u *User) bool {
	if u == nil {
		return false
	}
	if u.Mode == ModeLocal {
		return m.cfg.LocalUser != nil
	}
	if u.Mode != ModeOIDC {
		return false
	}
	for _, a := range m.admins {
		switch {
		case a.email != "":
			// User.Email holds only an address the provider verified.
			if u.Email != "" && strings.EqualFold(a.email, u.Email) {
				return true
			}
		case a.subject == u.Subject && a.issuer == strings.TrimRight(u.Issuer, "/"):
			return true
		}
	}
	return false
}
