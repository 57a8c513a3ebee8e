package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// runGatewayChild is the S3 server child's main: it reads its config from
// conf, runs versitygw's posix backend with sidecar metadata until SIGTERM
// and returns the exit status.
func runGatewayChild(conf *os.File, stderr io.Writer) int {
	if conf == nil {
		fmt.Fprintf(stderr, "%s: no configuration on file descriptor %d\n", gatewayCommand, gatewayConfigFD)
		return 2
	}
	var cfg gatewayChildConfig
	err := json.NewDecoder(io.LimitReader(conf, 1<<20)).Decode(&cfg)
	conf.Close()
	if err != nil {
		fmt.Fprintf(stderr, "%s: read configuration on file descriptor %d: %v\n", gatewayCommand, gatewayConfigFD, err)
		return 2
	}
	if cfg.Addr == "" || cfg.AccessKey == "" || cfg.SecretKey == "" || cfg.DataDir == "" || cfg.MetaDir == "" {
		fmt.Fprintf(stderr, "%s: configuration lacks the address, keys, data dir or metadata dir\n", gatewayCommand)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serveGateway(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", gatewayCommand, err)
		return 1
	}
	return 0
}

// serveGateway runs the embedded versitygw until ctx ends.
func serveGateway(ctx context.Context, cfg gatewayChildConfig) error {
	sc, err := meta.NewSideCar(cfg.MetaDir)
	if err != nil {
		return fmt.Errorf("sidecar metadata dir %s: %w", cfg.MetaDir, err)
	}
	opts := posix.PosixOpts{SideCarDir: cfg.MetaDir, Concurrency: 5000, IOBufferSize: 1 << 20}
	opts.SetNewDirPerm(0o700)
	opts.SetNewFilePerm(0o600)
	be, err := posix.New(cfg.DataDir, sc, opts)
	if err != nil {
		return fmt.Errorf("posix backend on %s: %w", cfg.DataDir, err)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	return embedgw.RunVersityGW(ctx, be, &embedgw.Config{
		RootUserAccess:      cfg.AccessKey,
		RootUserSecret:      cfg.SecretKey,
		Region:              region,
		Ports:               []string{cfg.Addr},
		MaxConnections:      250000,
		MaxRequests:         100000,
		MultipartMaxParts:   10000,
		Quiet:               true,
		EventWebhookURL:     cfg.WebhookURL,
		EventConfigFilePath: cfg.FilterFile,
	})
}

// S3ServerConfig configures a standalone S3 server (see StartS3Server).
type S3ServerConfig struct {
	// Addr is the loopback host:port to listen on; port 0 picks a free one.
	Addr string
	// DataDir holds the objects (one directory per bucket) and MetaDir
	// their metadata; MetaDir must not be inside DataDir.
	DataDir, MetaDir string
	// AccessKey and SecretKey are the root keys.
	AccessKey, SecretKey string
}

// S3Server is a running S3 server: the same one the local cluster uses,
// versitygw embedded in this program, in a child process.
type S3Server struct {
	Endpoint string // "http://127.0.0.1:PORT"
	gw       *gateway
}

// StartS3Server starts an S3 server child with cfg and waits until it
// accepts connections (at most 30 seconds or until ctx ends).
func StartS3Server(ctx context.Context, cfg S3ServerConfig, logger *slog.Logger) (*S3Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if err := checkLoopback(cfg.Addr); err != nil {
		return nil, fmt.Errorf("S3 server: %w", err)
	}
	if cfg.DataDir == "" || cfg.MetaDir == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("S3 server: DataDir, MetaDir, AccessKey and SecretKey are required")
	}
	addr, err := resolvePort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("S3 server: %w", err)
	}
	gw := &gateway{addr: addr, dataDir: cfg.DataDir, metaDir: cfg.MetaDir, accessKey: cfg.AccessKey, secretKey: cfg.SecretKey, log: logger}
	if err := gw.start(); err != nil {
		return nil, fmt.Errorf("S3 server: %w", err)
	}
	if err := gw.waitReady(ctx, 30*time.Second); err != nil {
		gw.close()
		return nil, fmt.Errorf("S3 server: %w", err)
	}
	return &S3Server{Endpoint: "http://" + addr, gw: gw}, nil
}

// Close stops the server and waits for its process to end.
func (s *S3Server) Close() error { return s.gw.close() }

// resolvePort turns "host:0" into host and a free port.
func resolvePort(addr string) (string, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port == 0 {
		if port, err = freeLoopbackPort(); err != nil {
			return "", err
		}
	}
	return joinHostPort(host, port), nil
}
