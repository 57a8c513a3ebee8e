package scar

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
)

// Ways AWS accounts may be used; the operator enables each explicitly
// (--aws-accounts).
const (
	// WayUser: users register their own access keys.
	WayUser = "user"
	// WayDefaultChain: accounts use the server's own credentials (its
	// role) through the SDK's default chain.
	WayDefaultChain = "default-chain"
	// WayOperator: the operator provides accounts (their keys) in the
	// config file, shared with every user (or the administrators).
	WayOperator = "operator"
)

// ValidRegion reports whether s is written like an AWS region; the
// account form checks it too, through backends.ValidAWSRegion.
func ValidRegion(s string) bool { return backends.ValidAWSRegion(s) }

// Options configure the AWS kind.
type Options struct {
	// Ways are the enabled ways (WayUser, WayDefaultChain).
	Ways []string
	// Defaults apply to every account (execution role, image mirror).
	Defaults Defaults
	// Endpoints overrides the AWS service endpoints (tests: awstest).
	Endpoints map[string]string
}

// Register makes this package the backend of AWS accounts (store.KindAWS).
func Register(r *backends.Registry, opts Options) {
	r.Register(store.KindAWS, func(ctx context.Context, c store.Cluster, _ backends.Acting) (backends.Backend, error) {
		return open(ctx, c, opts)
	})
}

func open(ctx context.Context, c store.Cluster, opts Options) (backends.Backend, error) {
	refuse := func(msg string) error {
		return &backends.Error{Kind: backends.KindForbidden, Op: "open AWS account", Backend: fmt.Sprintf("AWS account %q", c.Name), Message: msg}
	}
	if c.Endpoint == "" {
		return nil, &backends.Error{Kind: backends.KindInvalid, Op: "open AWS account", Backend: fmt.Sprintf("AWS account %q", c.Name), Message: "no region"}
	}
	var cfg aws.Config
	switch c.AuthKind {
	case store.AuthAWSKeys:
		if !slices.Contains(opts.Ways, WayUser) {
			return nil, refuse("AWS accounts with access keys are not enabled on this server (--aws-accounts)")
		}
		cfg = aws.Config{Region: c.Endpoint, Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.Username, c.Password, ""))}
	case store.AuthAWSOperator:
		if !slices.Contains(opts.Ways, WayOperator) || !c.Shared {
			return nil, refuse("AWS accounts provided by the operator are not enabled on this server (--aws-accounts)")
		}
		cfg = aws.Config{Region: c.Endpoint, Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.Username, c.Password, ""))}
	case store.AuthAWSDefaultChain:
		if !slices.Contains(opts.Ways, WayDefaultChain) {
			return nil, refuse("AWS accounts with the server's own credentials are not enabled on this server (--aws-accounts)")
		}
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Endpoint)); err != nil {
			return nil, &backends.Error{Kind: backends.KindUnavailable, Op: "load the server's AWS credentials", Err: err}
		}
	default:
		return nil, refuse(fmt.Sprintf("unknown AWS auth kind %q", c.AuthKind))
	}
	return New(Config{Name: c.Name, AWS: cfg, Defaults: opts.Defaults, Endpoints: opts.Endpoints})
}
