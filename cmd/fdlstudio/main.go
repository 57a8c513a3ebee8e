// Command fdlstudio serves the FDL Studio dashboard and workflow composer,
// and offers its FDL, cluster and local-cluster tools on the command line.
//
//	fdlstudio [serve] [flags]   run the server (the default)
//	fdlstudio fdl ...           validate, graph, export, edit FDL files
//	fdlstudio clusters ...      import OSCAR cluster registrations
//	fdlstudio local ...         the embedded local cluster
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fdlstudio/fdlstudio/app"
	"github.com/fdlstudio/fdlstudio/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is a sub-command; it returns the process exit status.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// commands are the sub-commands besides serve.
func commands() map[string]command {
	return map[string]command{
		"fdl":      runFDL,
		"clusters": runClusters,
		"local":    runLocal,
	}
}

// run dispatches to a sub-command and returns the exit status: 0 success,
// 1 failure, 2 bad usage or configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "serve" {
		return runServe(ctx, args, getenv, stderr)
	}
	if name == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "fdlstudio: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return cmd(ctx, args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: fdlstudio [command] [flags]

Commands:
  serve       run the FDL Studio server (the default)
  fdl         validate, graph, export and edit FDL files
  clusters    import OSCAR cluster registrations
  local       the embedded local cluster (credentials)
  help        show this text

Run "fdlstudio serve -h" for the server's flags.
`)
}

// runServe parses the configuration, opens the server and serves until
// the context ends (SIGINT/SIGTERM).
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	srv, err := app.Open(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "FDL Studio is running at %s (Ctrl-C to stop)\n", srv.URL())
	if err := srv.Serve(ctx); err != nil {
		fmt.Fprintf(stderr, "fdlstudio: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(cfg web.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by parseConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
