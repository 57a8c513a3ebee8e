package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends/clusters"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/web"
)

const clustersUsage = `usage: fdlstudio clusters import [--dry-run] [--data-dir DIR] [--user ISSUER SUBJECT] FILE

  import FILE   read an oscar-cli config (~/.oscar-cli/config.yaml; JSON when
                the name does not end in .yaml/.yml), list the clusters found
                (name, endpoint, auth kind, TLS verification; passwords and
                tokens are never printed) and store them as the clusters of
                the local user, or of the user given by --user, in the data
                directory (the server must be stopped: it holds the store).
                Passwords are stored encrypted with the server's key.
  --dry-run     only list what the file holds
`

// runClusters implements "fdlstudio clusters ..." (args exclude "clusters").
// It returns 0 on success, 1 when the file cannot be read or is invalid, 2
// on bad usage.
func runClusters(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, clustersUsage)
		return 2
	}
	switch args[0] {
	case "import":
		return clustersImport(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, clustersUsage)
		return 0
	}
	fmt.Fprintf(stderr, "fdlstudio clusters: unknown command %q\n\n%s", args[0], clustersUsage)
	return 2
}

func clustersImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fdlstudio clusters import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "only list what the file holds")
	dataDir := fs.String("data-dir", web.Defaults().DataDir, "FDL Studio's data directory")
	keyFile := fs.String("secret-key-file", "", "the server's secret key (default <data-dir>/secret.key)")
	user := fs.Bool("user", false, "store for the user ISSUER SUBJECT given before FILE")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	issuer, subject := "local", "local"
	if *user {
		if len(rest) != 3 {
			fmt.Fprintf(stderr, "fdlstudio clusters import: --user wants ISSUER SUBJECT FILE\n\n%s", clustersUsage)
			return 2
		}
		issuer, subject, rest = rest[0], rest[1], rest[2:]
	}
	if len(rest) != 1 || rest[0] == "" {
		fmt.Fprintf(stderr, "fdlstudio clusters import: want exactly one FILE, got %d arguments\n\n%s", len(rest), clustersUsage)
		return 2
	}
	path := rest[0]
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
	fmt.Fprintf(stdout, "%d cluster(s) found in %s\n", len(regs), path)
	if *dryRun {
		return 0
	}
	if err := storeImported(ctx, *dataDir, *keyFile, issuer, subject, regs, stdout); err != nil {
		fmt.Fprintf(stderr, "fdlstudio clusters import: %v\n", err)
		return 1
	}
	return 0
}

// storeImported saves the registrations for the user issuer/subject in
// the store of dataDir, sealing passwords with the server's key.
func storeImported(ctx context.Context, dataDir, keyFile, issuer, subject string, regs []clusters.Registration, stdout io.Writer) error {
	db, sealer, _, err := app.OpenStore(ctx, dataDir, keyFile)
	if err != nil {
		return err
	}
	defer db.Close()
	name := "Local user"
	if issuer != "local" {
		name = subject
	}
	u, err := db.UpsertUser(ctx, issuer, subject, name, "")
	if err != nil {
		return err
	}
	rows, err := handlers.ImportClusters(ctx, db.Clusters(sealer), u.ID, regs, nil, issuer != "local")
	if err != nil {
		return err
	}
	stored := 0
	for _, r := range rows {
		if r.Skipped != "" {
			fmt.Fprintf(stdout, "skipped %s: %s\n", r.Name, r.Skipped)
		} else {
			stored++
		}
	}
	fmt.Fprintf(stdout, "%d cluster(s) stored for %s in %s\n", stored, subject, dataDir)
	return nil
}
