package backends

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// ValidateEndpoint checks a user-supplied cluster endpoint before the server
// ever calls it, and returns it parsed and normalised (lower-case scheme and
// host, no trailing slash).
//
// It refuses anything but http and https, user info ("https://user:pw@host"),
// queries and fragments, and a missing host. When allowedHosts is not empty
// the host must match one entry: an exact host name ("oscar.egi.eu"), a
// wildcard for sub-domains ("*.egi.eu", which does not match "egi.eu"
// itself), or an exact "host:port". Matching ignores case and a trailing dot.
//
// The allow-list is how an operator stops the dashboard from being used to
// reach internal addresses; without one, any http(s) host is accepted.
// Errors are KindInvalid with a message meant for the user.
func ValidateEndpoint(raw string, allowedHosts []string) (*url.URL, error) {
	fail := func(format string, args ...any) (*url.URL, error) {
		return nil, &Error{Kind: KindInvalid, Op: "check cluster endpoint", Message: fmt.Sprintf(format, args...)}
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return fail("endpoint is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail("endpoint %q is not a URL: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return fail("endpoint %q: scheme must be http or https, not %q", raw, u.Scheme)
	}
	if u.User != nil {
		return fail("endpoint %q must not contain a user name or password; set credentials separately", raw)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return fail("endpoint %q has no host", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fail("endpoint %q must not have a query or fragment", raw)
	}
	if p := u.Port(); p != "" {
		if strings.TrimLeft(p, "0123456789") != "" || len(p) > 5 {
			return fail("endpoint %q has an invalid port %q", raw, p)
		}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if len(allowedHosts) > 0 && !hostAllowed(host, u.Port(), allowedHosts) {
		return fail("host %q is not in the list of allowed cluster hosts set by the operator", host)
	}
	if u.Port() != "" {
		u.Host = net.JoinHostPort(host, u.Port())
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	} else {
		u.Host = host
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// hostAllowed reports whether host (lower-case, no trailing dot) with port
// matches one of the allow-list patterns.
func hostAllowed(host, port string, allowed []string) bool {
	for _, pattern := range allowed {
		pattern = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(pattern)), ".")
		if pattern == "" {
			continue
		}
		patHost, patPort := pattern, ""
		if h, p, err := net.SplitHostPort(pattern); err == nil {
			patHost, patPort = strings.TrimSuffix(h, "."), p
		}
		if patPort != "" && patPort != port {
			continue
		}
		if suffix, ok := strings.CutPrefix(patHost, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if strings.Trim(patHost, "[]") == host {
			return true
		}
	}
	return false
}

// awsRegionRE matches AWS region names (us-east-1, eu-west-3, us-gov-west-1).
var awsRegionRE = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)

// ValidAWSRegion reports whether s is written like an AWS region: an AWS
// account's "endpoint" is its region.
func ValidAWSRegion(s string) bool { return awsRegionRE.MatchString(s) }
