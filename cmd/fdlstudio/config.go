package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/netguard"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/web"
)

// setting is one configuration value: its flag name (the config file key
// is the same, the environment variable is FDLSTUDIO_ + the name in upper
// case with dashes as underscores), what it means, and how to set it.
type setting struct {
	name  string
	usage string
	def   func(web.Config) string
	set   func(*web.Config, string) error
	// boolean settings are switches: the bare flag means true, and a
	// value is given as --name=false.
	boolean bool
}

// settings is the one table of configuration. The README's table is
// checked against it by a test.
var settings = []setting{
	{
		name: "addr", usage: "host:port to listen on; anything but loopback needs a login method",
		def: func(c web.Config) string { return c.Addr },
		set: func(c *web.Config, v string) error { c.Addr = v; return nil },
	},
	{
		name: "metrics-addr", usage: "host:port of a second listener for /metrics and /readyz with details (monitoring only; no login there); empty serves them on --addr to admins only",
		def: func(c web.Config) string { return c.MetricsAddr },
		set: func(c *web.Config, v string) error { c.MetricsAddr = v; return nil },
	},
	{
		name: "data-dir", usage: "directory for the database, the secret key and local-cluster data",
		def: func(c web.Config) string { return c.DataDir },
		set: func(c *web.Config, v string) error { c.DataDir = v; return nil },
	},
	{
		name: "config", usage: "YAML file with any of these settings (keys as the flag names)",
		def: func(web.Config) string { return "" },
		set: func(*web.Config, string) error { return nil }, // read before the others
	},
	{
		name: "log-format", usage: "log format: text or json",
		def: func(c web.Config) string { return c.LogFormat },
		set: func(c *web.Config, v string) error {
			c.LogFormat = v
			return oneOf(v, "text", "json")
		},
	},
	{
		name: "log-level", usage: "least severe log level written: debug, info, warn or error",
		def: func(c web.Config) string { return c.LogLevel },
		set: func(c *web.Config, v string) error {
			c.LogLevel = v
			return oneOf(v, "debug", "info", "warn", "error")
		},
	},
	{
		name: "public-url", usage: "URL users reach FDL Studio at (behind a proxy); https turns on Secure cookies and HSTS",
		def: func(c web.Config) string { return c.PublicURL },
		set: func(c *web.Config, v string) error {
			c.PublicURL = strings.TrimRight(v, "/")
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return errors.New("want an http:// or https:// URL")
			}
			return nil
		},
	},
	{
		name: "secret-key-file", usage: "key that encrypts secrets at rest; generated on first run when absent (default <data-dir>/secret.key)",
		def: func(c web.Config) string { return c.SecretKeyFile },
		set: func(c *web.Config, v string) error { c.SecretKeyFile = v; return nil },
	},
	{
		name: "max-body-size", usage: "largest request body accepted, in bytes (uploads stream past it)",
		def: func(c web.Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) },
		set: func(c *web.Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return errors.New("want a positive number of bytes")
			}
			c.MaxBodyBytes = n
			return nil
		},
	},
	{
		name: "shutdown-timeout", usage: "how long in-flight requests may finish after SIGINT/SIGTERM",
		def: func(c web.Config) string { return c.ShutdownTimeout.String() },
		set: func(c *web.Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return errors.New("want a duration such as 15s or 1m")
			}
			c.ShutdownTimeout = d
			return nil
		},
	},
	{
		name: "local-cluster", usage: "run the embedded local cluster: auto (only in local single-user mode), on (with a login method: for --admins only) or off",
		def: func(c web.Config) string { return c.LocalCluster },
		set: func(c *web.Config, v string) error {
			c.LocalCluster = v
			return oneOf(v, "auto", "on", "off")
		},
	},
	{
		name: "aws-accounts", usage: "enable AWS accounts (Lambda, Batch, S3), each way explicitly (comma-separated): user (users register access keys), default-chain (the server's own AWS credentials, for every user who registers such an account), operator (the config file's operator-aws-accounts, shared); empty disables AWS",
		def: func(c web.Config) string { return strings.Join(c.AWSAccounts, ",") },
		set: func(c *web.Config, v string) error {
			c.AWSAccounts = splitList(v)
			for _, w := range c.AWSAccounts {
				if err := oneOf(w, "user", "default-chain", "operator"); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		name: "cluster-hosts", usage: "hosts users may register as clusters (comma-separated; *.example.org for sub-domains, host:port for one port); empty allows any http(s) host",
		def: func(c web.Config) string { return strings.Join(c.ClusterHosts, ",") },
		set: func(c *web.Config, v string) error { c.ClusterHosts = splitList(v); return nil },
	},
	{
		name: "allow-private-endpoints", usage: "networks (CIDRs or addresses, comma-separated) that user-registered clusters, the MinIO they report and OSCAR logins may reach although private, loopback or link-local",
		def: func(c web.Config) string { return strings.Join(c.AllowPrivateEndpoints, ",") },
		set: func(c *web.Config, v string) error {
			c.AllowPrivateEndpoints = splitList(v)
			_, err := netguard.ParseAllow(c.AllowPrivateEndpoints)
			return err
		},
	},
	{
		name: "admins", usage: "administrators, comma-separated, each ISSUER#SUBJECT or an e-mail the provider marks verified; with a login method, only they see the local cluster",
		def: func(c web.Config) string { return strings.Join(c.Admins, ",") },
		set: func(c *web.Config, v string) error { c.Admins = splitList(v); return nil },
	},

	// Authentication (see README, Authentication).
	{
		name: "oidc-preset", usage: "known OpenID Connect provider that fills in issuer and scopes: egi (EGI Check-in)",
		def: func(c web.Config) string { return c.OIDCPreset },
		set: func(c *web.Config, v string) error {
			c.OIDCPreset = v
			if v == "" {
				return nil
			}
			return oneOf(v, "egi")
		},
	},
	{
		name: "oidc-issuer", usage: "OpenID Connect issuer URL (discovered at start-up); setting it turns on OIDC login",
		def: func(c web.Config) string { return c.OIDCIssuer },
		set: func(c *web.Config, v string) error {
			c.OIDCIssuer = v
			if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return errors.New("want the issuer's https:// URL")
			}
			return nil
		},
	},
	{
		name: "oidc-client-id", usage: "client ID of FDL Studio at the OpenID Connect provider",
		def: func(c web.Config) string { return c.OIDCClientID },
		set: func(c *web.Config, v string) error { c.OIDCClientID = v; return nil },
	},
	{
		name: "oidc-client-secret", usage: "client secret at the OpenID Connect provider (prefer the file or the environment: flags show in ps)",
		def: func(web.Config) string { return "" },
		set: func(c *web.Config, v string) error { c.OIDCClientSecret = v; return nil },
	},
	{
		name: "oidc-client-secret-file", usage: "file holding the client secret",
		def: func(c web.Config) string { return c.OIDCClientSecretFile },
		set: func(c *web.Config, v string) error { c.OIDCClientSecretFile = v; return nil },
	},
	{
		name: "oidc-scopes", usage: "scopes to ask for, separated by spaces or commas (default: the preset's, else openid profile email offline_access)",
		def: func(c web.Config) string { return strings.Join(c.OIDCScopes, " ") },
		set: func(c *web.Config, v string) error { c.OIDCScopes = splitList(v); return nil },
	},
	{
		name: "oidc-allowed-vos", usage: "only members of these VOs (comma-separated, from EGI entitlements) may log in; empty allows all",
		def: func(c web.Config) string { return strings.Join(c.OIDCAllowedVOs, ",") },
		set: func(c *web.Config, v string) error { c.OIDCAllowedVOs = splitList(v); return nil },
	},
	{
		name: "oidc-vo-roles", usage: "entitlement roles (the :role= part) that make a user a member of a VO (comma-separated)",
		def: func(c web.Config) string {
			if len(c.OIDCVORoles) == 0 {
				return strings.Join(auth.DefaultVORoles, ",")
			}
			return strings.Join(c.OIDCVORoles, ",")
		},
		set: func(c *web.Config, v string) error { c.OIDCVORoles = splitList(v); return nil },
	},
	{
		name: "oscar-login", usage: "offer the OSCAR basic login (endpoint, username, password); --oscar-login=false turns it off",
		boolean: true,
		def:     func(c web.Config) string { return strconv.FormatBool(c.OSCARLogin) },
		set: func(c *web.Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("want true or false")
			}
			c.OSCARLogin = b
			return nil
		},
	},
	{
		name: "oscar-login-hosts", usage: "hosts the OSCAR login may contact (comma-separated; *.example.org for sub-domains); required with --oscar-login",
		def: func(c web.Config) string { return strings.Join(c.OSCARLoginHosts, ",") },
		set: func(c *web.Config, v string) error { c.OSCARLoginHosts = splitList(v); return nil },
	},
	{
		name: "session-idle-timeout", usage: "a session with no request for this long ends",
		def: func(c web.Config) string { return c.SessionIdleTimeout.String() },
		set: func(c *web.Config, v string) error { return positiveDuration(v, &c.SessionIdleTimeout) },
	},
	{
		name: "session-max-age", usage: "any session ends this long after login",
		def: func(c web.Config) string { return c.SessionMaxAge.String() },
		set: func(c *web.Config, v string) error { return positiveDuration(v, &c.SessionMaxAge) },
	},
}

// splitList splits a list given as one string, by commas or spaces.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func positiveDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 30m or 8h")
	}
	*dst = d
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
}

func envName(name string) string {
	return "FDLSTUDIO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// configError is a bad setting: it names the setting, where it came from
// and what is accepted. main exits with status 2 on it.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// addSettingFlags registers every setting as a flag (all strings: the
// setting's own parser checks the value, naming where it came from). A
// boolean setting is a switch: given bare it is true, and it does not
// take the next argument as its value (--oscar-login --oscar-login-hosts H).
func addSettingFlags(fs *pflag.FlagSet) {
	def := web.Defaults()
	for _, s := range settings {
		fs.String(s.name, s.def(def), s.usage)
		if s.boolean {
			fs.Lookup(s.name).NoOptDefVal = "true"
		}
	}
}

// unexpectedArgument refuses a positional argument of command name; a
// lone true or false most likely followed a switch, which takes its
// value after "=".
func unexpectedArgument(name, arg string) error {
	if _, err := strconv.ParseBool(arg); err == nil {
		return fmt.Errorf("unexpected argument %q: %s takes only flags (a switch such as --oscar-login takes a value only as --oscar-login=%s)", arg, name, arg)
	}
	return fmt.Errorf("unexpected argument %q: %s takes only flags", arg, name)
}

// parseConfig builds the server Config from command-line arguments, as
// the serve command does from its flags (configFromFlags).
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (web.Config, error) {
	fs := pflag.NewFlagSet("fdlstudio serve", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	addSettingFlags(fs)
	if err := fs.Parse(args); err != nil {
		return web.Defaults(), &configError{err.Error()}
	}
	if fs.NArg() > 0 {
		return web.Defaults(), &configError{unexpectedArgument("serve", fs.Arg(0)).Error()}
	}
	return configFromFlags(fs, getenv)
}

// configFromFlags builds the server Config from parsed flags, the
// environment and the optional config file, in that order of precedence
// over the defaults. Every problem is a *configError.
func configFromFlags(fs *pflag.FlagSet, getenv func(string) string) (web.Config, error) {
	cfg := web.Defaults()
	value := func(name string) string { v, _ := fs.GetString(name); return v }
	fromFlag := func(name string) bool { return fs.Changed(name) }

	// The config file's own location comes from the flag or environment.
	path := getenv(envName("config"))
	if fromFlag("config") {
		path = value("config")
	}
	file := map[string]string{}
	if path != "" {
		var err error
		if file, cfg.Clusters, cfg.AWSOperatorAccounts, err = readConfigFile(path, getenv); err != nil {
			return cfg, err
		}
	}

	for _, s := range settings {
		if s.name == "config" {
			continue
		}
		var v, source string
		switch {
		case fromFlag(s.name):
			v, source = value(s.name), "flag --"+s.name
		case getenv(envName(s.name)) != "":
			v, source = getenv(envName(s.name)), "environment variable "+envName(s.name)
		case hasKey(file, s.name):
			v, source = file[s.name], fmt.Sprintf("%s: key %s", path, s.name)
		default:
			continue
		}
		if err := s.set(&cfg, v); err != nil {
			return cfg, &configError{fmt.Sprintf("%s: invalid value %q: %v", source, v, err)}
		}
	}
	operator := slices.Contains(cfg.AWSAccounts, "operator")
	switch {
	case len(cfg.AWSOperatorAccounts) > 0 && !operator:
		return cfg, &configError{fmt.Sprintf("%s: operator-aws-accounts lists %d account(s), but --aws-accounts does not enable the way \"operator\"", path, len(cfg.AWSOperatorAccounts))}
	case operator && len(cfg.AWSOperatorAccounts) == 0:
		return cfg, &configError{"--aws-accounts operator: the config file (--config) lists no operator-aws-accounts"}
	}
	for _, a := range cfg.AWSOperatorAccounts {
		if slices.ContainsFunc(cfg.Clusters, func(c web.ClusterConfig) bool { return c.Name == a.Name }) {
			return cfg, &configError{fmt.Sprintf("%s: %q is both a shared cluster and an operator AWS account; rename one", path, a.Name)}
		}
	}
	return cfg, nil
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// readConfigFile reads a YAML mapping of setting names to scalar values,
// plus the operator's shared clusters under "clusters". Unknown keys are
// errors (a typo must not be silently ignored).
func readConfigFile(path string, getenv func(string) string) (map[string]string, []web.ClusterConfig, []web.AWSAccountConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, &configError{fmt.Sprintf("config file: %v", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, nil, &configError{fmt.Sprintf("config file %s: %v", path, err)}
	}
	out := map[string]string{}
	if len(doc.Content) == 0 {
		return out, nil, nil, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, nil, &configError{fmt.Sprintf("%s:%d:%d: want a mapping of setting names to values", path, root.Line, root.Column)}
	}
	var shared []web.ClusterConfig
	var accounts []web.AWSAccountConfig
	known := map[string]bool{}
	var names []string
	for _, s := range settings {
		known[s.name] = true
		names = append(names, s.name)
	}
	sort.Strings(names)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == "clusters" {
			if shared, err = readSharedClusters(path, v); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		if k.Value == "operator-aws-accounts" {
			if accounts, err = readAWSAccounts(path, v, getenv); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		if !known[k.Value] || k.Value == "config" {
			return nil, nil, nil, &configError{fmt.Sprintf("%s:%d:%d: unknown setting %q (known: %s, clusters, operator-aws-accounts)", path, k.Line, k.Column, k.Value, strings.Join(names, ", "))}
		}
		if v.Kind != yaml.ScalarNode {
			return nil, nil, nil, &configError{fmt.Sprintf("%s:%d:%d: setting %q wants a single value", path, v.Line, v.Column, k.Value)}
		}
		out[k.Value] = v.Value
	}
	return out, shared, accounts, nil
}

// awsAccountKeys are the keys of one entry of operator-aws-accounts.
var awsAccountKeys = []string{"name", "region", "access-key-id", "secret-access-key-file", "secret-access-key-env", "admins-only"}

// readAWSAccounts reads the AWS accounts the operator provides: a list
// of {name, region, access-key-id, secret-access-key-file |
// secret-access-key-env, admins-only}. The secret is never written in
// the file itself, nor given on the command line.
func readAWSAccounts(path string, n *yaml.Node, getenv func(string) string) ([]web.AWSAccountConfig, error) {
	at := func(n *yaml.Node, format string, args ...any) error {
		return &configError{fmt.Sprintf("%s:%d:%d: operator-aws-accounts: ", path, n.Line, n.Column) + fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.SequenceNode {
		return nil, at(n, "want a list of accounts (- name: ..., region: ...)")
	}
	var out []web.AWSAccountConfig
	seen := map[string]bool{}
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			return nil, at(item, "each account is a mapping with %s", strings.Join(awsAccountKeys, ", "))
		}
		var a web.AWSAccountConfig
		secretFrom := 0
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, at(v, "%q wants a single value", k.Value)
			}
			switch k.Value {
			case "name":
				a.Name = v.Value
			case "region":
				a.Region = v.Value
			case "access-key-id":
				a.AccessKeyID = v.Value
			case "secret-access-key-file":
				b, err := os.ReadFile(v.Value)
				if err != nil {
					return nil, at(v, "secret-access-key-file: %v", err)
				}
				a.SecretAccessKey = strings.TrimSpace(string(b))
				secretFrom++
			case "secret-access-key-env":
				a.SecretAccessKey = getenv(v.Value)
				if a.SecretAccessKey == "" {
					return nil, at(v, "secret-access-key-env: the environment variable %s is empty or not set", v.Value)
				}
				secretFrom++
			case "secret-access-key":
				return nil, at(k, "write the secret in a file (secret-access-key-file) or an environment variable (secret-access-key-env), not in the config file")
			case "admins-only":
				if v.Value != "true" && v.Value != "false" {
					return nil, at(v, "admins-only wants true or false")
				}
				a.AdminsOnly = v.Value == "true"
			default:
				return nil, at(k, "unknown key %q (known: %s)", k.Value, strings.Join(awsAccountKeys, ", "))
			}
		}
		switch {
		case a.Name == "":
			return nil, at(item, "an account needs a name")
		case seen[a.Name]:
			return nil, at(item, "two accounts are called %q", a.Name)
		case a.Name == web.LocalClusterName:
			return nil, at(item, "%q is the embedded local cluster's name; pick another", a.Name)
		case !scar.ValidRegion(a.Region):
			return nil, at(item, "account %q: region %q is not an AWS region like eu-west-1", a.Name, a.Region)
		case a.AccessKeyID == "":
			return nil, at(item, "account %q: give access-key-id", a.Name)
		case secretFrom != 1 || a.SecretAccessKey == "":
			return nil, at(item, "account %q: give the secret in exactly one of secret-access-key-file or secret-access-key-env", a.Name)
		}
		seen[a.Name] = true
		out = append(out, a)
	}
	return out, nil
}

// clusterKeys are the keys of one entry of the config file's clusters.
var clusterKeys = []string{"name", "endpoint", "username", "password", "password-file", "insecure-tls"}

// readSharedClusters reads the operator's clusters: a list of
// {name, endpoint, username, password | password-file, insecure-tls}.
// Without credentials, each user reaches the cluster with their own login
// token; with them (an OSCAR account, often its admin), only
// administrators may use it. The password is best given as a file.
func readSharedClusters(path string, n *yaml.Node) ([]web.ClusterConfig, error) {
	at := func(n *yaml.Node, format string, args ...any) error {
		return &configError{fmt.Sprintf("%s:%d:%d: clusters: ", path, n.Line, n.Column) + fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.SequenceNode {
		return nil, at(n, "want a list of clusters (- name: ..., endpoint: ...)")
	}
	var out []web.ClusterConfig
	seen := map[string]bool{}
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			return nil, at(item, "each cluster is a mapping with %s", strings.Join(clusterKeys, ", "))
		}
		var c web.ClusterConfig
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, at(v, "%q wants a single value", k.Value)
			}
			switch k.Value {
			case "name":
				c.Name = v.Value
			case "endpoint":
				c.Endpoint = v.Value
			case "username":
				c.Username = v.Value
			case "password":
				c.Password = v.Value
			case "password-file":
				b, err := os.ReadFile(v.Value)
				if err != nil {
					return nil, at(v, "password-file: %v", err)
				}
				c.Password = strings.TrimSpace(string(b))
			case "insecure-tls":
				c.InsecureTLS = v.Value == "true"
				if v.Value != "true" && v.Value != "false" {
					return nil, at(v, "insecure-tls wants true or false")
				}
			default:
				return nil, at(k, "unknown key %q (known: %s)", k.Value, strings.Join(clusterKeys, ", "))
			}
		}
		switch {
		case c.Name == "":
			return nil, at(item, "a cluster needs a name")
		case seen[c.Name]:
			return nil, at(item, "two clusters are called %q", c.Name)
		case c.Name == web.LocalClusterName:
			return nil, at(item, "%q is the embedded local cluster's name; pick another", c.Name)
		case (c.Username == "") != (c.Password == ""):
			return nil, at(item, "cluster %q: give both username and password (or password-file), or neither to use each user's own login token", c.Name)
		}
		if _, err := backends.ValidateEndpoint(c.Endpoint, nil); err != nil {
			return nil, at(item, "cluster %q: %s", c.Name, backends.MessageOf(err))
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out, nil
}
