package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/fdlstudio/fdlstudio/backends/local"
)

// runLocal implements `fdlstudio local credentials [--data-dir DIR]`: it
// prints the local cluster's endpoint, user and password (from the files
// the cluster keeps in its data dir), so oscar-cli and oscar-python can use
// it like any OSCAR cluster.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		localUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "credentials" {
		fmt.Fprintf(stderr, "fdlstudio local: unknown command %q\n\n", args[0])
		localUsage(stderr)
		return 2
	}
	fsFlags := flag.NewFlagSet("fdlstudio local credentials", flag.ContinueOnError)
	fsFlags.SetOutput(stderr)
	def := os.Getenv("FDLSTUDIO_DATA_DIR")
	if def == "" {
		def = "data"
	}
	dataDir := fsFlags.String("data-dir", def, "FDL Studio's data dir (the local cluster keeps its files in <data-dir>/local)")
	if err := fsFlags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fsFlags.NArg() > 0 {
		fmt.Fprintf(stderr, "fdlstudio local credentials: unexpected argument %q\n", fsFlags.Arg(0))
		return 2
	}
	dir := local.DataDirIn(*dataDir)
	// Also accept the local cluster's own dir.
	if _, err := os.Stat(filepath.Join(*dataDir, "credentials.json")); err == nil {
		dir = *dataDir
	}
	secrets, err := local.ReadSecrets(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "fdlstudio local credentials: no local cluster in %s (start `fdlstudio serve --data-dir %s` once to create it)\n", dir, *dataDir)
			return 1
		}
		fmt.Fprintf(stderr, "fdlstudio local credentials: %v\n", err)
		return 1
	}
	endpoint := "(not running: start `fdlstudio serve` and run this again)"
	s3 := endpoint
	if rt, err := local.ReadRuntime(dir); err == nil && processAlive(rt.PID) {
		endpoint, s3 = rt.Endpoint, rt.S3Endpoint
	}
	fmt.Fprintf(stdout, "endpoint:      %s\n", endpoint)
	fmt.Fprintf(stdout, "user:          %s\n", secrets.User)
	fmt.Fprintf(stdout, "password:      %s\n", secrets.Password)
	fmt.Fprintf(stdout, "s3 endpoint:   %s\n", s3)
	fmt.Fprintf(stdout, "s3 access key: %s\n", secrets.S3AccessKey)
	fmt.Fprintf(stdout, "s3 secret key: %s\n", secrets.S3SecretKey)
	return 0
}

func localUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: fdlstudio local credentials [--data-dir DIR]

Prints the embedded local cluster's OSCAR endpoint, user and password (and
its S3 endpoint and keys), for oscar-cli, oscar-python or any OSCAR client.
`)
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
