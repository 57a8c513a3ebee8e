// Command fdlstudio serves the FDL Studio dashboard and workflow composer,
// and offers its FDL, cluster and local-cluster tools on the command line.
//
//	fdlstudio [serve] [flags]   run the server (the default)
//	fdlstudio fdl ...           validate, graph, export, edit FDL files
//	fdlstudio clusters ...      import OSCAR cluster registrations
//	fdlstudio local ...         the embedded local cluster
//	fdlstudio completion SHELL  shell completion script
//
// Every command is a cobra command (root.go): flags go before or after
// arguments, --help works everywhere, and the exit status is 0 on
// success, 1 on failure or findings, 2 on bad input or usage.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// serveCmd is "fdlstudio serve"; the root command runs the same when no
// sub-command is named, with the same flags.
func serveCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the FDL Studio server (the default command)",
		Long: `Run the FDL Studio server until SIGINT or SIGTERM.

Every flag can also be set as FDLSTUDIO_<NAME> in the environment (dashes as
underscores) or as <name>: in the --config file. A flag wins over the
environment, which wins over the file, which wins over the default.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, getenv) },
	}
	addSettingFlags(cmd.Flags())
	return cmd
}

// runServe builds the configuration from the command's flags, the
// environment and the config file, opens FDL Studio and serves until the
// context ends (SIGINT/SIGTERM).
func runServe(cmd *cobra.Command, getenv func(string) string) error {
	cfg, err := configFromFlags(cmd.Flags(), getenv)
	if err != nil {
		return usageError(cmd, err)
	}
	stderr := cmd.ErrOrStderr()
	log := newLogger(cfg, stderr)
	srv, err := app.Open(cmd.Context(), cfg, log)
	if err != nil {
		return failure(err)
	}
	if open := srv.OpenURL(); open != "" {
		// Single-user mode: the one place the start token is shown.
		fmt.Fprintf(stderr, "FDL Studio is running: open %s in your browser (Ctrl-C to stop)\n", open)
	} else {
		fmt.Fprintf(stderr, "FDL Studio is running at %s (Ctrl-C to stop)\n", srv.URL())
	}
	if err := srv.Serve(cmd.Context()); err != nil {
		return failure(err)
	}
	return nil
}

func newLogger(cfg web.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by configFromFlags
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
