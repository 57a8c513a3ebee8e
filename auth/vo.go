package auth

import (
	"slices"
	"sort"
	"strings"
)

// egiGroupPrefix starts every EGI Check-in group entitlement:
// urn:mace:egi.eu:group:<vo>[:<subgroup>...][:role=<role>]#<authority>.
const egiGroupPrefix = "urn:mace:egi.eu:group:"

// VOsFromEntitlements returns the VOs named by EGI-style entitlement URNs,
// sorted and without duplicates. Matching ignores case, as OSCAR does
// (pkg/utils/auth/oidc.go lower-cases the URNs); anything else in the list
// is ignored.
func VOsFromEntitlements(entitlements []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range entitlements {
		e = strings.ToLower(strings.TrimSpace(e))
		rest, ok := strings.CutPrefix(e, egiGroupPrefix)
		if !ok {
			continue
		}
		// The VO ends at the next ':' (subgroup or role) or '#'
		// (authority).
		vo := rest
		if i := strings.IndexAny(vo, ":#"); i >= 0 {
			vo = vo[:i]
		}
		if vo == "" || seen[vo] {
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
