package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fdlstudio/fdlstudio/backends/local"
	"github.com/fdlstudio/fdlstudio/web"
)

// localCmd is "fdlstudio local".
func localCmd(getenv func(string) string) *cobra.Command {
	return group("local", "The embedded local cluster", "", localCredentialsCmd(getenv))
}

// localCredentialsCmd is "fdlstudio local credentials": it prints the
// local cluster's endpoint, user and password (from the files the cluster
// keeps in its data dir), so oscar-cli and oscar-python can use it like
// any OSCAR cluster.
func localCredentialsCmd(getenv func(string) string) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "credentials [--data-dir DIR]",
		Short: "Print the local cluster's endpoints, user, password and S3 keys",
		Long: `Print the embedded local cluster's OSCAR endpoint, user and password (and
its S3 endpoint and keys), for oscar-cli, oscar-python or any OSCAR client.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return localCredentials(dataDir, cmd.OutOrStdout())
		},
	}
	def := getenv("FDLSTUDIO_DATA_DIR")
	if def == "" {
		def = web.Defaults().DataDir
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", def, "FDL Studio's data dir (the local cluster keeps its files in <data-dir>/local)")
	return cmd
}

func localCredentials(dataDir string, stdout io.Writer) error {
	dir := local.DataDirIn(dataDir)
	// Also accept the local cluster's own dir.
	if _, err := os.Stat(filepath.Join(dataDir, "credentials.json")); err == nil {
		dir = dataDir
	}
	secrets, err := local.ReadSecrets(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return failure(fmt.Errorf("no local cluster in %s (start `fdlstudio serve --data-dir %s` once to create it)", dir, dataDir))
		}
		return failure(err)
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
	return nil
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
