package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends/clusters"
	"github.com/fdlstudio/fdlstudio/handlers"
	"github.com/fdlstudio/fdlstudio/web"
)

// clustersCmd is "fdlstudio clusters".
func clustersCmd() *cobra.Command {
	return group("clusters", "Import OSCAR cluster registrations", "", clustersImportCmd())
}

// runClusters runs "fdlstudio clusters ARGS..." and returns the exit
// status.
func runClusters(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"clusters"}, args...), os.Getenv, stdout, stderr)
}

func clustersImportCmd() *cobra.Command {
	var dryRun, user bool
	var dataDir, keyFile string
	cmd := &cobra.Command{
		Use:   "import [--user ISSUER SUBJECT] FILE",
		Short: "Store the clusters of an oscar-cli config as a user's clusters",
		Long: `Read an oscar-cli config (~/.oscar-cli/config.yaml; JSON when the name does
not end in .yaml/.yml), list the clusters found (name, endpoint, auth kind,
TLS verification; passwords and tokens are never printed) and store them as
the clusters of the local user, or of the user given by --user, in the data
directory (the server must be stopped: it holds the store). Passwords are
stored encrypted with the server's key.`,
		RunE: func(cmd *cobra.Command, rest []string) error {
			issuer, subject, rest, err := userAndFile(cmd, user, rest, "FILE")
			if err != nil {
				return err
			}
			return clustersImport(cmd.Context(), rest[0], issuer, subject, dataDir, keyFile, dryRun, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what the file holds")
	cmd.Flags().StringVar(&dataDir, "data-dir", web.Defaults().DataDir, "FDL Studio's data directory")
	cmd.Flags().StringVar(&keyFile, "secret-key-file", "", "the server's secret key (default <data-dir>/secret.key)")
	cmd.Flags().BoolVar(&user, "user", false, "store for the user ISSUER SUBJECT given before FILE")
	return cmd
}

func clustersImport(ctx context.Context, path, issuer, subject, dataDir, keyFile string, dryRun bool, stdout io.Writer) error {
	regs, err := clusters.ReadOSCARCLIConfig(path)
	if err != nil {
		return failure(err)
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
		return failure(err)
	}
	fmt.Fprintf(stdout, "%d cluster(s) found in %s\n", len(regs), path)
	if dryRun {
		return nil
	}
	if err := storeImported(ctx, dataDir, keyFile, issuer, subject, regs, stdout); err != nil {
		return failure(err)
	}
	return nil
}

// userAndFile reads the positional arguments of a command that takes one
// file and, with --user, the ISSUER SUBJECT of the user to act for before
// it ("local"/"local" otherwise: the user of local single-user mode).
func userAndFile(cmd *cobra.Command, user bool, args []string, what string) (issuer, subject string, rest []string, err error) {
	issuer, subject, rest = "local", "local", args
	if user {
		if len(rest) != 3 {
			return "", "", nil, usageError(cmd, fmt.Errorf("--user wants ISSUER SUBJECT %s", what))
		}
		issuer, subject, rest = rest[0], rest[1], rest[2:]
	}
	if len(rest) != 1 || rest[0] == "" {
		return "", "", nil, usageError(cmd, fmt.Errorf("want exactly one %s, got %d arguments", what, len(rest)))
	}
	return issuer, subject, rest, nil
}

// storeImported saves the registrations for the user issuer/subject in
// the store of dataDir, sealing passwords with the server's key.
func storeImported(ctx context.Context, dataDir, keyFile, issuer, subject string, regs []clusters.Registration, stdout io.Writer) error {
	db, sealer, _, err := app.OpenStore(ctx, dataDir, keyFile)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := app.CommandLineUser(ctx, db, issuer, subject)
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
