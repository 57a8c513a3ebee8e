package local

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// portsFile is the name, inside the data dir, of the file keeping the
// ports the cluster's API and S3 server listened on, so both endpoints (and
// an oscar-cli or S3 client configured with them) stay the same across
// restarts.
const portsFile = "ports.json"

// savedPorts is the content of portsFile.
type savedPorts struct {
	API int `json:"api"`
	S3  int `json:"s3"`
}

func readPorts(dir string) savedPorts {
	var p savedPorts
	b, err := os.ReadFile(filepath.Join(dir, portsFile))
	if err == nil {
		_ = json.Unmarshal(b, &p)
	}
	return p
}

func writePorts(dir string, p savedPorts) error {
	return writeFileAtomic(filepath.Join(dir, portsFile), mustJSON(p), 0o600)
}

// listenStable listens on addr; when addr's port is 0 it first tries the
// saved port, and when that one is taken it says so and takes a free one.
func listenStable(addr string, saved int, what string, log *slog.Logger) (net.Listener, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port == 0 && saved > 0 {
		ln, err := net.Listen("tcp", joinHostPort(host, saved))
		if err == nil {
			return ln, nil
		}
		log.Warn("the "+what+"'s port of the last run is taken; using another one, so clients configured with the old endpoint need the new one (`fdlstudio local credentials` prints it)",
			"port", saved, "err", err)
	}
	return net.Listen("tcp", joinHostPort(host, port))
}

// stablePort picks the S3 server's port: the configured one, else the
// saved one if it is free, else a free one (saying why).
func stablePort(host string, configured, saved int, what string, log *slog.Logger) (int, error) {
	if configured > 0 {
		return configured, nil
	}
	if saved > 0 {
		ln, err := net.Listen("tcp", joinHostPort(host, saved))
		if err == nil {
			ln.Close()
			return saved, nil
		}
		log.Warn("the "+what+"'s port of the last run is taken; using another one, so clients configured with the old endpoint need the new one (`fdlstudio local credentials` prints it)",
			"port", saved, "err", err)
	}
	return freeLoopbackPort()
}

func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, ps)
	}
	return host, port, nil
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
