package web

import "time"

// Config is everything the server needs, built by cmd/fdlstudio from
// flags, environment and the config file, or directly by tests.
type Config struct {
	// Addr is the host:port to listen on.
	Addr string
	// DataDir holds the database, the secret key and local-cluster data.
	DataDir string
	// PublicURL is the URL users reach the server at (behind a proxy it
	// differs from Addr); https turns on Secure cookies and HSTS.
	PublicURL string
	// SecretKeyFile is the key that encrypts secrets at rest; generated
	// on first run when absent. Empty means <DataDir>/secret.key.
	SecretKeyFile string
	// LogFormat is "text" or "json"; LogLevel "debug", "info", "warn"
	// or "error". main builds the logger from them.
	LogFormat string
	LogLevel  string
	// MaxBodyBytes caps request bodies (uploads stream past it on their
	// own routes).
	MaxBodyBytes int64
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "data",
		LogFormat:       "text",
		LogLevel:        "info",
		MaxBodyBytes:    10 << 20,
		ShutdownTimeout: 15 * time.Second,
	}
}

// AuthConfigured reports whether a login method is configured. Without
// one the server runs in local single-user mode, which is only allowed on
// a loopback address.
func (c Config) AuthConfigured() bool {
	return false // login methods arrive with the authentication issue
}
