package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/fdlstudio/fdlstudio/backends/clusters"
)

const clustersUsage = `usage: fdlstudio clusters import FILE

  import FILE   read an oscar-cli config (~/.oscar-cli/config.yaml; JSON when
                the name does not end in .yaml/.yml) and list the clusters
                found: name, endpoint, auth kind, TLS verification. Passwords
                and tokens are never printed.
`

// runClusters implements "fdlstudio clusters ..." (args exclude "clusters").
// It returns 0 on success, 1 when the file cannot be read or is invalid, 2
// on bad usage.
func runClusters(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_ = ctx // storing registrations (a later step) will need it
	if len(args) == 0 {
		fmt.Fprint(stderr, clustersUsage)
		return 2
	}
	switch args[0] {
	case "import":
		if len(args) != 2 || args[1] == "" {
			fmt.Fprintf(stderr, "fdlstudio clusters import: want exactly one FILE, got %d arguments\n\n%s", len(args)-1, clustersUsage)
			return 2
		}
		return clustersImport(args[1], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, clustersUsage)
		return 0
	}
	fmt.Fprintf(stderr, "fdlstudio clusters: unknown command %q\n\n%s", args[0], clustersUsage)
	return 2
}

func clustersImport(path string, stdout, stderr io.Writer) int {
	regs, err := clusters.ReadOSCARCLIConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio clusters import: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENDPOINT\tAUTH\tTLS VERIFY\tDEFAULT")
	for _, r := range regs {
		auth := string(r.Auth)
		switch r.Auth {
		case clusters.AuthBasic:
			auth += " (user " + r.Username + ")"
		case clusters.AuthOIDCAgent:
			auth += " (account " + r.OIDCAccountName + ")"
		}
		verify, def := "yes", ""
		if r.InsecureSkipVerify {
			verify = "NO"
		}
		if r.Default {
			def = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Endpoint, auth, verify, def)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "fdlstudio clusters import: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d cluster(s) found in %s (not stored yet)\n", len(regs), path)
	return 0
}
