package oscar

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Version is an OSCAR release, e.g. v4.1.2. The zero Version means "unknown"
// and compares as newer than every release: a development build reporting
// "devel" is assumed to have every feature.
type Version struct {
	Major, Minor, Patch int
	known               bool
}

// Releases that changed the API (notes §1.7).
var (
	v3_1_0 = Version{3, 1, 0, true} // /system/status
	v3_6_0 = Version{3, 6, 0, true} // /system/buckets, environment.variables+secrets
	v3_6_4 = Version{3, 6, 4, true} // wrapped job list, /presign
	v3_7_0 = Version{3, 7, 0, true} // /system/quotas/user
	v4_0_0 = Version{4, 0, 0, true} // volumes, deployment status/logs
	v4_1_0 = Version{4, 1, 0, true} // federation, api_port/nodePort arrays
)

// ParseVersion reads "v4.1.2", "4.1.2", "v4.1.2-4-g7ade09ee" or "v3.6".
// Anything else gives the unknown (newest) Version.
func ParseVersion(s string) Version {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	s, _, _ = strings.Cut(s, "-")
	s, _, _ = strings.Cut(s, "+")
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2], true}
}

// Known reports whether the version was parsed from a release number.
func (v Version) Known() bool { return v.known }

// AtLeast reports whether v is w or newer (always true for unknown v).
func (v Version) AtLeast(w Version) bool {
	if !v.known {
		return true
	}
	if v.Major != w.Major {
		return v.Major > w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor > w.Minor
	}
	return v.Patch >= w.Patch
}

func (v Version) String() string {
	if !v.known {
		return "unknown"
	}
	return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// capabilities derives what a server offers from its info.
func capabilities(info *Info) backends.Capabilities {
	v := ParseVersion(info.Version)
	return backends.Capabilities{
		SyncInvocation:     info.ServerlessBackend.Name != "",
		Status:             v.AtLeast(v3_1_0),
		BucketAPI:          v.AtLeast(v3_6_0),
		EnvironmentSecrets: v.AtLeast(v3_6_0),
		JobPaging:          v.AtLeast(v3_6_4),
		Presign:            v.AtLeast(v3_6_4),
		Quotas:             v.AtLeast(v3_7_0),
		Deployments:        v.AtLeast(v4_0_0),
		Volumes:            v.AtLeast(v4_0_0),
		Federation:         v.AtLeast(v4_1_0),
		MultiplePorts:      v.AtLeast(v4_1_0),
	}
}

// serverVersion returns the cluster's version, reading /system/info once.
func (c *Client) serverVersion(ctx context.Context) (Version, error) {
	info, err := c.SystemInfo(ctx)
	if err != nil {
		return Version{}, err
	}
	return ParseVersion(info.Version), nil
}

// require fails with KindUnsupported when the server is older than min.
func (c *Client) require(ctx context.Context, op, feature string, min Version) error {
	v, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	if !v.AtLeast(min) {
		return c.err(op, backends.KindUnsupported,
			fmt.Sprintf("%s needs OSCAR %s or newer; this cluster runs %s", feature, min, v), nil)
	}
	return nil
}
