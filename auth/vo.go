package auth

import (
	"slices"
	"sort"
	"strings"
)

// egiGroupPrefix starts every EGI Check-in group entitlement:
// urn:mace:egi.eu:group:<vo>[:<subgroup>...]:role=<role>#<authority>.
const egiGroupPrefix = "urn:mace:egi.eu:group:"

// DefaultVORoles are the entitlement roles that make a user a member of a
// VO when the operator lists none.
var DefaultVORoles = []string{"member"}

// VOsFromEntitlements returns the VOs in which EGI-style entitlement URNs
// make the user a member, sorted and without duplicates. An entitlement
// counts only when its role (the ":role=" part) is one of roles (empty:
// DefaultVORoles); one without a role, or with another role such as
// vm_operator, does not. A subgroup's entitlement
// (<vo>:<subgroup>:role=member) counts for its VO. Matching ignores case,
// as OSCAR does (pkg/utils/auth/oidc.go lower-cases the URNs); anything
// else in the list is ignored.
func VOsFromEntitlements(entitlements, roles []string) []string {
	if len(roles) == 0 {
		roles = DefaultVORoles
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entitlements {
		e = strings.ToLower(strings.TrimSpace(e))
		rest, ok := strings.CutPrefix(e, egiGroupPrefix)
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, "#") // the authority
		parts := strings.Split(rest, ":")
		vo, last := parts[0], parts[len(parts)-1]
		role, ok := strings.CutPrefix(last, "role=")
		if vo == "" || len(parts) < 2 || !ok || seen[vo] ||
			!slices.ContainsFunc(roles, func(r string) bool { return strings.EqualFold(r, role) }) {
			continue
		}
		seen[vo] = true
		out = append(out, vo)
	}
	sort.Strings(out)
	return out
}

// allowedByVO reports whether a user with VOs have may log in when the
// operator accepts only accepted (an empty list accepts everyone).
func allowedByVO(have, accepted []string) bool {
	if len(accepted) == 0 {
		return true
	}
	for _, vo := range have {
		if slices.ContainsFunc(accepted, func(a string) bool { return strings.EqualFold(a, vo) }) {
			return true
		}
	}
	return false
}

// entitlementsClaim reads the entitlement list from a claims map. EGI
// Check-in sends "eduperson_entitlement" and, newer, "entitlements"; each
// may be a list or a single string.
func entitlementsClaim(claims map[string]any) []string {
	var out []string
	for _, k := range []string{"eduperson_entitlement", "entitlements"} {
		switch v := claims[k].(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
