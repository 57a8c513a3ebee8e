package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fdlstudio/fdlstudio/fdl"
)

// fdlCmd is "fdlstudio fdl": FDL files on the command line.
func fdlCmd() *cobra.Command {
	return group("fdl", "Validate, graph, export and edit FDL files", "",
		fdlValidateCmd(), fdlGraphCmd(), fdlExportCmd(), fdlSetCmd(), fdlMigrateCmd())
}

// runFDL runs "fdlstudio fdl ARGS..." and returns the exit status.
func runFDL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, append([]string{"fdl"}, args...), os.Getenv, stdout, stderr)
}

// fileArgs wants n FDL files (at least one when n is 0).
func fileArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case n == 0 && len(args) == 0:
			return usageError(cmd, errors.New("give at least one FDL file"))
		case n > 0 && len(args) != n:
			return usageError(cmd, fmt.Errorf("give exactly one FDL file, got %d arguments", len(args)))
		}
		return nil
	}
}

// loadFDL reads and parses one file. It returns the exit status to use on
// failure: 2 unreadable, 1 refused by the parser (diagnostics printed).
func loadFDL(path string, stderr io.Writer) (*fdl.Document, int) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot read: %v\n", path, err)
		return nil, 2
	}
	doc, err := fdl.Parse(path, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, 1
	}
	return doc, 0
}

func fdlValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check FDL files; print file:line:col: severity: message",
		Long: `Check FDL files and print each finding as file:line:col: severity: message.
Exit status 1 when a file has errors (warnings alone give 0), 2 when a file
cannot be read.`,
		Args: fileArgs(0),
		RunE: func(cmd *cobra.Command, files []string) error {
			return status(fdlValidate(files, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
}

func fdlValidate(files []string, stdout, stderr io.Writer) int {
	status := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: cannot read: %v\n", path, err)
			status = 2
			continue
		}
		doc, err := fdl.Parse(path, data)
		var diags fdl.Diagnostics
		if err != nil {
			if !errors.As(err, &diags) {
				diags = fdl.Diagnostics{{File: path, Line: 1, Col: 1, Message: err.Error()}}
			}
		} else {
			diags = doc.Validate(fdl.ValidateOptions{Scripts: os.DirFS(filepath.Dir(path))})
		}
		for _, d := range diags {
			fmt.Fprintln(stdout, d)
		}
		if diags.HasErrors() && status == 0 {
			status = 1
		}
	}
	return status
}

func fdlGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the data-flow graph of an FDL file",
		Args:  fileArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if format != "json" && format != "dot" && format != "svg" {
				return usageError(cmd, fmt.Errorf("unknown --format %q (json, dot or svg)", format))
			}
			return status(fdlGraph(files[0], format, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: json, dot or svg")
	return cmd
}

func fdlGraph(file, format string, stdout, stderr io.Writer) int {
	doc, status := loadFDL(file, stderr)
	if doc == nil {
		return status
	}
	g := doc.Graph()
	for _, w := range g.Warnings {
		fmt.Fprintln(stderr, w)
	}
	var err error
	switch format {
	case "dot":
		err = fdl.WriteDOT(stdout, g)
	case "svg":
		err = fdl.WriteSVG(stdout, g, fdl.Layout(g))
	default:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(g)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl graph: writing output: %v\n", err)
		return 1
	}
	return 0
}

func fdlExportCmd() *cobra.Command {
	var bundle string
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Print the document (byte-identical), or write it with its scripts as a zip bundle",
		Args:  fileArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			return status(fdlExport(files[0], bundle, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&bundle, "bundle", "", "write a zip `file` with the FDL and its scripts instead of printing the FDL")
	return cmd
}

func fdlExport(file, bundle string, stdout, stderr io.Writer) int {
	doc, status := loadFDL(file, stderr)
	if doc == nil {
		return status
	}
	if bundle == "" {
		if _, err := stdout.Write(doc.Bytes()); err != nil {
			fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
			return 1
		}
		return 0
	}
	b, err := fdl.NewBundle(doc, os.DirFS(filepath.Dir(file)))
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
		return 1
	}
	f, err := os.Create(bundle)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
		return 1
	}
	if err := b.WriteZip(f); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "fdlstudio fdl export: writing %s: %v\n", bundle, err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: writing %s: %v\n", bundle, err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s: %s and %d script(s)\n", bundle, b.Name, len(b.Scripts))
	return 0
}

func fdlSetCmd() *cobra.Command {
	var service, field, value string
	cmd := &cobra.Command{
		Use:   "set FILE --service NAME --field FIELD --value VALUE",
		Short: "Print the document with one field changed",
		Long: `Print the document with one field of one service changed; every other byte
(comments, key order) stays as it was. NAME may be cluster/name; VALUE is
YAML, e.g. 2Gi or "'1.0'".`,
		Args: fileArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var missing []string
			for _, name := range []string{"service", "field", "value"} {
				if !cmd.Flags().Changed(name) {
					missing = append(missing, "--"+name)
				}
			}
			if len(missing) > 0 {
				return usageError(cmd, fmt.Errorf("missing %s", strings.Join(missing, ", ")))
			}
			return status(fdlSet(files[0], service, field, value, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service or Lambda function `name` (or cluster/name)")
	cmd.Flags().StringVar(&field, "field", "", "field `path`, e.g. memory, expose.api_port, input[0].path")
	cmd.Flags().StringVar(&value, "value", "", "new value as YAML, e.g. 2Gi")
	return cmd
}

func fdlSet(file, service, field, value string, stdout, stderr io.Writer) int {
	doc, status := loadFDL(file, stderr)
	if doc == nil {
		return status
	}
	edited, err := doc.Set(fdl.ParseRef(service), field, value)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl set: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(edited.Bytes()); err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl set: %v\n", err)
		return 1
	}
	return 0
}

func fdlMigrateCmd() *cobra.Command {
	var to string
	var write bool
	cmd := &cobra.Command{
		Use:   "migrate FILE --to v4.1 [-w]",
		Short: "Rewrite legacy forms to OSCAR v4.1 and list the changes",
		Args:  fileArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if to != "v4.1" {
				return usageError(cmd, errors.New("--to must be v4.1"))
			}
			return status(fdlMigrate(files[0], to, write, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "target version (v4.1)")
	cmd.Flags().BoolVarP(&write, "write", "w", false, "write the result to the file instead of printing it")
	return cmd
}

func fdlMigrate(file, to string, write bool, stdout, stderr io.Writer) int {
	doc, status := loadFDL(file, stderr)
	if doc == nil {
		return status
	}
	migrated, changes, err := doc.Migrate(to)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
		return 1
	}
	for _, c := range changes {
		fmt.Fprintf(stderr, "%s:%s\n", file, c)
	}
	if len(changes) == 0 {
		fmt.Fprintf(stderr, "%s: already in the v4.1 form; nothing to change\n", file)
	}
	if write {
		if len(changes) == 0 {
			return 0
		}
		st, err := os.Stat(file)
		if err != nil {
			fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
			return 1
		}
		if err := os.WriteFile(file, migrated.Bytes(), st.Mode().Perm()); err != nil {
			fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
			return 1
		}
		return 0
	}
	if _, err := stdout.Write(migrated.Bytes()); err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
		return 1
	}
	return 0
}
