package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fdlstudio/fdlstudio/fdl"
)

const fdlUsage = `Usage: fdlstudio fdl <command> [flags]

Commands:
  validate FILE...                        check FDL files; prints file:line:col: severity: message
                                          (exit 0 no errors, 1 errors, 2 a file cannot be read)
  graph FILE [--format json|dot|svg]      print the data-flow graph
  export FILE [--bundle OUT.zip]          print the document (byte-identical without edits),
                                          or write it with its scripts as a zip bundle
  set FILE --service NAME --field FIELD --value VALUE
                                          print the document with one field changed
                                          (NAME may be cluster/name; VALUE is YAML, e.g. 2Gi or "'1.0'")
  migrate FILE --to v4.1 [-w]             rewrite legacy forms to OSCAR v4.1 and list the changes
                                          (-w writes the file instead of printing it)
`

// runFDL implements "fdlstudio fdl ..." (args exclude "fdl"). It returns 0 on
// success, 1 when a file has errors or an edit fails, 2 on bad usage or an
// unreadable file.
func runFDL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, fdlUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "validate":
		return fdlValidate(rest, stdout, stderr)
	case "graph":
		return fdlGraph(rest, stdout, stderr)
	case "export":
		return fdlExport(rest, stdout, stderr)
	case "set":
		return fdlSet(rest, stdout, stderr)
	case "migrate":
		return fdlMigrate(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, fdlUsage)
		return 0
	}
	fmt.Fprintf(stderr, "fdlstudio fdl: unknown command %q\n\n%s", sub, fdlUsage)
	return 2
}

// parseArgs parses flags that may come before or after the positional
// arguments (`graph FILE --format dot` and `graph --format dot FILE`).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fdlstudio fdl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// usageError reports bad usage and returns exit status 2.
func usageError(stderr io.Writer, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return 2
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

func fdlValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	files, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(files) == 0 {
		return usageError(stderr, fs, "give at least one FDL file")
	}
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

func fdlGraph(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("graph", stderr)
	format := fs.String("format", "json", "output format: json, dot or svg")
	files, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(files) != 1 {
		return usageError(stderr, fs, "give exactly one FDL file")
	}
	if *format != "json" && *format != "dot" && *format != "svg" {
		return usageError(stderr, fs, "unknown --format %q (json, dot or svg)", *format)
	}
	doc, status := loadFDL(files[0], stderr)
	if doc == nil {
		return status
	}
	g := doc.Graph()
	for _, w := range g.Warnings {
		fmt.Fprintln(stderr, w)
	}
	switch *format {
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

func fdlExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", stderr)
	bundle := fs.String("bundle", "", "write a zip `file` with the FDL and its scripts instead of printing the FDL")
	files, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(files) != 1 {
		return usageError(stderr, fs, "give exactly one FDL file")
	}
	doc, status := loadFDL(files[0], stderr)
	if doc == nil {
		return status
	}
	if *bundle == "" {
		if _, err := stdout.Write(doc.Bytes()); err != nil {
			fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
			return 1
		}
		return 0
	}
	b, err := fdl.NewBundle(doc, os.DirFS(filepath.Dir(files[0])))
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
		return 1
	}
	f, err := os.Create(*bundle)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: %v\n", err)
		return 1
	}
	if err := b.WriteZip(f); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "fdlstudio fdl export: writing %s: %v\n", *bundle, err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl export: writing %s: %v\n", *bundle, err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s: %s and %d script(s)\n", *bundle, b.Name, len(b.Scripts))
	return 0
}

func fdlSet(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("set", stderr)
	service := fs.String("service", "", "service or Lambda function `name` (or cluster/name)")
	field := fs.String("field", "", "field `path`, e.g. memory, expose.api_port, input[0].path")
	value := fs.String("value", "", "new value as YAML, e.g. 2Gi")
	files, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(files) != 1 {
		return usageError(stderr, fs, "give exactly one FDL file")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, name := range []string{"service", "field", "value"} {
		if !set[name] {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return usageError(stderr, fs, "missing %s", strings.Join(missing, ", "))
	}
	doc, status := loadFDL(files[0], stderr)
	if doc == nil {
		return status
	}
	edited, err := doc.Set(fdl.ParseRef(*service), *field, *value)
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

func fdlMigrate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("migrate", stderr)
	to := fs.String("to", "", "target version (v4.1)")
	write := fs.Bool("w", false, "write the result to the file instead of printing it")
	files, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(files) != 1 {
		return usageError(stderr, fs, "give exactly one FDL file")
	}
	if *to != "v4.1" {
		return usageError(stderr, fs, "--to must be v4.1")
	}
	doc, status := loadFDL(files[0], stderr)
	if doc == nil {
		return status
	}
	migrated, changes, err := doc.Migrate(*to)
	if err != nil {
		fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
		return 1
	}
	for _, c := range changes {
		fmt.Fprintf(stderr, "%s:%s\n", files[0], c)
	}
	if len(changes) == 0 {
		fmt.Fprintf(stderr, "%s: already in the v4.1 form; nothing to change\n", files[0])
	}
	if *write {
		if len(changes) == 0 {
			return 0
		}
		st, err := os.Stat(files[0])
		if err != nil {
			fmt.Fprintf(stderr, "fdlstudio fdl migrate: %v\n", err)
			return 1
		}
		if err := os.WriteFile(files[0], migrated.Bytes(), st.Mode().Perm()); err != nil {
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
