package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/backends/deploy"
	"github.com/fdlstudio/fdlstudio/web"
)

// deployCmd is "fdlstudio deploy FILE|BUNDLE": plan a workflow against the
// user's clusters and apply it (backends/deploy does the work).
func deployCmd(getenv func(string) string) *cobra.Command {
	var (
		clusters             []string
		plan, yes, del, user bool
		dataDir, keyFile, wf string
		server, tokenFile    string
		tokenFlag            string
	)
	cmd := &cobra.Command{
		Use:   "deploy FILE|BUNDLE [--cluster FDL-ID=REGISTERED ...] [--plan] [--yes] [--delete] [--server URL [--token-file FILE]]",
		Short: "Plan and apply a workflow on your clusters",
		Long: `Plan a workflow (an FDL file whose scripts sit beside it, or a bundle .zip)
against your registered clusters and apply it: each function is created,
updated (the plan shows the fields that change), left alone, or deleted
when an earlier deployment of this workflow created it and the workflow no
longer has it. The plan lists what will happen first: buckets created,
buckets a deletion wipes, visibility changes, loops.

Each FDL cluster id is mapped to one of your registered clusters with
--cluster ID=NAME; the mapping is remembered per workflow, and an id that
matches a registered name needs none. "local" is the embedded local
cluster, started by this command for the time it runs. The server must be
stopped: it holds the data directory. With --user ISSUER SUBJECT the
clusters are those of that user (default: the local user).

With --server URL a running FDL Studio does the same for the user of a
personal API token (made on its API tokens page, /tokens): the workflow
and its scripts are uploaded, the server plans and applies, and the plan
and each function's progress are printed here as they happen. The token
is read from the environment variable FDLSTUDIO_TOKEN or from the file
--token-file names (readable by its owner only), never from the command
line, where other users of the machine could read it.

Exit status: 0 nothing to do, planned only, or applied; 1 a function
failed or the server could not be reached; 2 bad input (file, flag,
mapping, a refused API token).`,
		RunE: func(cmd *cobra.Command, rest []string) error {
			if cmd.Flags().Changed("token") {
				return usageError(cmd, errors.New("--token: a token on the command line can be read by every user of this machine; "+
					"put it in FDLSTUDIO_TOKEN or in a file only you can read and pass --token-file FILE"))
			}
			issuer, subject, rest, err := userAndFile(cmd, user, rest, "FILE or BUNDLE")
			if err != nil {
				return err
			}
			if _, err := os.Stat(rest[0]); err != nil {
				return &exitError{code: deploy.ExitBadInput, err: err}
			}
			if server != "" {
				if user || cmd.Flags().Changed("data-dir") || cmd.Flags().Changed("secret-key-file") {
					return usageError(cmd, errors.New("--server deploys for the user of the API token: --user, --data-dir and --secret-key-file do not apply"))
				}
				token := getenv("FDLSTUDIO_TOKEN")
				if tokenFile != "" {
					if token, err = readTokenFile(tokenFile); err != nil {
						return &exitError{code: deploy.ExitBadInput, err: err}
					}
				}
				if strings.TrimSpace(token) == "" {
					return &exitError{code: deploy.ExitBadInput, err: fmt.Errorf("--server needs an API token: make one on %s/tokens, then set FDLSTUDIO_TOKEN or pass --token-file FILE", strings.TrimRight(server, "/"))}
				}
				opts := remoteOptions{Server: server, Token: strings.TrimSpace(token), Path: rest[0], Workflow: wf,
					Clusters: clusters, Plan: plan, Yes: yes, Delete: del, Out: cmd.OutOrStdout()}
				if !yes && isTerminal(os.Stdin) {
					opts.In = os.Stdin
				}
				return status(remoteDeploy(cmd.Context(), opts))
			}
			if tokenFile != "" {
				return usageError(cmd, errors.New("--token-file goes with --server"))
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			d, err := app.OpenDeployer(cmd.Context(), dataDir, keyFile, issuer, subject, log)
			if err != nil {
				return failure(err)
			}
			defer d.Close()
			var in *os.File
			if !yes {
				in = os.Stdin
			}
			opts := deploy.DeployOptions{
				Path: rest[0], Workflow: wf, Clusters: clusters, Plan: plan, Yes: yes, Delete: del,
				OwnerID: d.OwnerID, User: d.User, Maps: d.Maps, Out: cmd.OutOrStdout(),
			}
			if in != nil && isTerminal(in) {
				opts.In = in
			}
			return status(d.Engine.Deploy(cmd.Context(), opts))
		},
	}
	def := getenv("FDLSTUDIO_DATA_DIR")
	if def == "" {
		def = web.Defaults().DataDir
	}
	cmd.Flags().StringArrayVar(&clusters, "cluster", nil, "map an FDL cluster id to a registered cluster, ID=NAME (repeatable)")
	cmd.Flags().BoolVar(&plan, "plan", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "apply without asking")
	cmd.Flags().BoolVar(&del, "delete", false, "remove what earlier deployments of this workflow created")
	cmd.Flags().StringVar(&wf, "workflow", "", "the workflow's name in the records (default: the file's absolute path)")
	cmd.Flags().StringVar(&dataDir, "data-dir", def, "FDL Studio's data directory")
	cmd.Flags().StringVar(&keyFile, "secret-key-file", "", "the server's secret key (default <data-dir>/secret.key)")
	cmd.Flags().BoolVar(&user, "user", false, "use the clusters of the user ISSUER SUBJECT given before FILE")
	cmd.Flags().StringVar(&server, "server", "", "deploy through the running FDL Studio at this URL, as the user of an API token")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "with --server: a file holding the API token (default: $FDLSTUDIO_TOKEN)")
	// Refused with an explanation, rather than as an unknown flag.
	cmd.Flags().StringVar(&tokenFlag, "token", "", "")
	cmd.Flags().MarkHidden("token")
	return cmd
}

// isTerminal reports whether f is a terminal (someone can answer).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
