package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every command.
const (
	exitOK      = 0 // success
	exitFailure = 1 // a failure, or findings (validation errors)
	exitUsage   = 2 // bad input or usage: an unknown command or flag, a bad value, a missing argument, an unreadable input file
)

// exitHelp ends every command's --help.
const exitHelp = `
Exit status: 0 success; 1 failure or findings (e.g. validation errors);
2 bad input or usage (unknown command or flag, bad value, unreadable input).
`

// exitError carries a command's exit status. Its message is printed on
// standard error unless it is empty (the command has said what it had to).
type exitError struct {
	code int
	err  error
	// cmd, for usage errors, is the command whose usage to point at.
	cmd *cobra.Command
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// failure is exit status 1 with err's message.
func failure(err error) error { return &exitError{code: exitFailure, err: err} }

// usageError is exit status 2 with err's message and a pointer to cmd's
// --help.
func usageError(cmd *cobra.Command, err error) error {
	return &exitError{code: exitUsage, err: err, cmd: cmd}
}

// status is an exit status whose message the command has printed already.
func status(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code}
}

// newRoot builds the command tree. New commands are added here, each
// built by its own function; a hidden internal command is a
// cobra.Command with Hidden set.
func newRoot(getenv func(string) string) *cobra.Command {
	serve := serveCmd(getenv)
	root := &cobra.Command{
		Use:   "fdlstudio",
		Short: "FDL Studio: dashboard and visual composer for FDL workflows",
		Long: `FDL Studio serves a web dashboard and a visual composer for FDL workflows
(OSCAR clusters, the embedded local cluster), and offers its FDL and cluster
tools on the command line. Without a command it runs the server (serve).`,
		Args:          noArgsRoot,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          serve.RunE,
	}
	addSettingFlags(root.Flags())
	root.AddCommand(serve, fdlCmd(), clustersCmd(), localCmd(getenv), deployCmd(getenv))
	root.SetUsageTemplate(root.UsageTemplate() + exitHelp)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(cmd, err)
	})
	return root
}

// run executes the command line and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	root := newRoot(getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Errors not made by our commands are cobra's own: an unknown
		// command, an argument a command does not take.
		ee = &exitError{code: exitUsage, err: err, cmd: cmd}
	}
	if ee.err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), ee.err)
	}
	if ee.code == exitUsage && ee.cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", ee.cmd.CommandPath())
	}
	return ee.code
}

// noArgs refuses positional arguments, with the usage pointer.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(cmd, unexpectedArgument(cmd.Name(), args[0]))
	}
	return nil
}

// noArgsRoot refuses an argument that names no command.
func noArgsRoot(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if _, err := strconv.ParseBool(args[0]); err == nil {
			return usageError(cmd, unexpectedArgument(cmd.Name(), args[0]))
		}
		return usageError(cmd, fmt.Errorf("unknown command %q", args[0]))
	}
	return nil
}

// group is a command that only holds sub-commands: run without one (or
// with an unknown one) it shows its usage and exits with status 2.
func group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
				return &exitError{code: exitUsage, err: errors.New("give a command (see the usage above)")}
			}
			if _, err := strconv.ParseBool(args[0]); err == nil {
				return usageError(cmd, unexpectedArgument(cmd.Name(), args[0]))
			}
			return usageError(cmd, fmt.Errorf("unknown command %q", args[0]))
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}
