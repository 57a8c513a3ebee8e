package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// credentialsFile is the name, inside the data dir, of the file holding the
// per-installation secrets (mode 0600).
const credentialsFile = "credentials.json"

// runtimeFile is the name, inside the data dir, of the file a running
// cluster writes with its endpoints, so that `fdlstudio local credentials`
// can print them. It is removed on Close.
const runtimeFile = "runtime.json"

// Secrets are the generated credentials of one local installation.
type Secrets struct {
	// User and Password guard the OSCAR API (/system/*), like OSCAR_USERNAME
	// and OSCAR_PASSWORD on a real cluster.
	User     string `json:"user"`
	Password string `json:"password"`
	// S3AccessKey and S3SecretKey are the root keys of the versitygw child.
	S3AccessKey string `json:"s3_access_key"`
	S3SecretKey string `json:"s3_secret_key"`
}

// RuntimeInfo is what a running cluster publishes in its data dir.
type RuntimeInfo struct {
	Endpoint   string `json:"endpoint"`
	S3Endpoint string `json:"s3_endpoint"`
	PID        int    `json:"pid"`
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// itself instead of returning an error); keep the signature simple.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// loadOrCreateSecrets reads <dir>/credentials.json, creating it with fresh
// random values on first use.
func loadOrCreateSecrets(dir string) (Secrets, error) {
	path := filepath.Join(dir, credentialsFile)
	s, err := ReadSecrets(dir)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Secrets{}, err
	}
	s = Secrets{
		User:        "oscar",
		Password:    randomHex(16),
		S3AccessKey: "fdl" + randomHex(8),
		S3SecretKey: randomHex(20),
	}
	if err := writeFileAtomic(path, mustJSON(s), 0o600); err != nil {
		return Secrets{}, fmt.Errorf("save local cluster credentials: %w", err)
	}
	return s, nil
}

// ReadSecrets reads the credentials persisted in the data dir dir.
func ReadSecrets(dir string) (Secrets, error) {
	path := filepath.Join(dir, credentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Secrets{}, fmt.Errorf("read local cluster credentials: %w", err)
	}
	var s Secrets
	if err := json.Unmarshal(b, &s); err != nil {
		return Secrets{}, fmt.Errorf("read local cluster credentials %s: %w", path, err)
	}
	if s.User == "" || s.Password == "" || s.S3AccessKey == "" || s.S3SecretKey == "" {
		return Secrets{}, fmt.Errorf("read local cluster credentials %s: a field is empty; delete the file to regenerate it", path)
	}
	return s, nil
}

// ReadRuntime reads the endpoints published by a running cluster in dir.
func ReadRuntime(dir string) (RuntimeInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, runtimeFile))
	if err != nil {
		return RuntimeInfo{}, fmt.Errorf("read local cluster runtime info: %w", err)
	}
	var r RuntimeInfo
	if err := json.Unmarshal(b, &r); err != nil {
		return RuntimeInfo{}, fmt.Errorf("read local cluster runtime info in %s: %w", dir, err)
	}
	return r, nil
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return b
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so readers never see a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// DataDirIn returns the local cluster's data dir inside FDL Studio's data
// dir appDataDir: <appDataDir>/local.
func DataDirIn(appDataDir string) string { return filepath.Join(appDataDir, "local") }
