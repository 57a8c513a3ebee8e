package oscar

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Info is GET /system/info (types.Info).
type Info struct {
	Version           string            `json:"version"`
	GitCommit         string            `json:"git_commit"`
	Architecture      string            `json:"architecture"`
	KubernetesVersion string            `json:"kubernetes_version"`
	ServerlessBackend ServerlessBackend `json:"serverless_backend"`
}

// ServerlessBackend is types.ServerlessBackendInfo.
type ServerlessBackend struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// UserConfig is GET /system/config (types.ConfigForUser). MinIOProvider
// holds the caller's MinIO keys (root keys for basic auth!): never send it to
// a browser; use Redacted.
type UserConfig struct {
	Config                   ClusterConfig          `json:"config"`
	MinIOProvider            backends.MinIOProvider `json:"minio_provider"`
	AllowedImageRepositories []string               `json:"allowed_image_repositories,omitempty"`
}

// Redacted returns a copy without the MinIO keys, safe to show.
func (u UserConfig) Redacted() UserConfig {
	u.MinIOProvider.AccessKey, u.MinIOProvider.SecretKey = "", ""
	return u
}

// ClusterConfig is types.Config: the part of the server configuration OSCAR
// shows its users.
type ClusterConfig struct {
	Name                     string   `json:"name"`
	Namespace                string   `json:"namespace"`
	ServicesNamespace        string   `json:"services_namespace"`
	ControllerServiceAccount string   `json:"controller_service_account,omitempty"`
	GPUAvailable             bool     `json:"gpu_available"`
	InterLinkAvailable       bool     `json:"interLink_available"`
	ServerlessBackend        string   `json:"serverless_backend"`
	YunikornEnable           bool     `json:"yunikorn_enable"`
	KueueEnable              bool     `json:"kueue_enable"`
	VolumeEnable             bool     `json:"volume_enable"`
	OIDCGroups               []string `json:"oidc_groups"`
	MinIOQuotaEnabled        bool     `json:"minio_quota_enabled"`
}

// StatusInfo is GET /system/status (types.StatusInfo).
type StatusInfo struct {
	Cluster struct {
		NodesCount int          `json:"nodes_count"`
		Metrics    ClusterUsage `json:"metrics"`
		Nodes      []NodeDetail `json:"nodes"`
	} `json:"cluster"`
	Oscar struct {
		DeploymentName string `json:"deployment_name"`
		Ready          bool   `json:"ready"`
		JobsCount      int    `json:"jobs_count"`
		Pods           struct {
			Total  int            `json:"total"`
			States map[string]int `json:"states"`
		} `json:"pods"`
		OIDC struct {
			Enabled bool     `json:"enabled"`
			Issuers []string `json:"issuers"`
			Groups  []string `json:"groups"`
		} `json:"oidc"`
	} `json:"oscar"`
	MinIO struct {
		BucketsCount int `json:"buckets_count"`
		TotalObjects int `json:"total_objects"`
	} `json:"minio"`
}

// ClusterUsage is types.ClusterMetrics.
type ClusterUsage struct {
	CPU struct {
		TotalFreeCores              int64 `json:"total_free_cores"`
		MaxFreeOnNodeCores          int64 `json:"max_free_on_node_cores"`
		TotalSchedulableCores       int64 `json:"total_schedulable_cores"`
		TotalSchedulableOnNodeCores int64 `json:"total_schedulable_on_node_cores"`
	} `json:"cpu"`
	Memory struct {
		TotalFreeBytes            int64 `json:"total_free_bytes"`
		MaxFreeOnNodeBytes        int64 `json:"max_free_on_node_bytes"`
		TotalSchedulableBytes     int64 `json:"total_schedulable_bytes"`
		MaxSchedulableOnNodeBytes int64 `json:"max_schedulable_on_node_bytes"`
	} `json:"memory"`
	GPU struct {
		TotalGPU int `json:"total_gpu"`
	} `json:"gpu"`
}

// NodeDetail is types.NodeDetail.
type NodeDetail struct {
	Name        string       `json:"name"`
	Status      string       `json:"status"`
	GPU         int          `json:"gpu"`
	IsInterlink bool         `json:"is_interlink"`
	CPU         NodeResource `json:"cpu"`
	Memory      NodeResource `json:"memory"`
	Conditions  []struct {
		Type   string `json:"type"`
		Status bool   `json:"status"`
	} `json:"conditions"`
}

// NodeResource is types.NodeResource.
type NodeResource struct {
	CapacityCores int64 `json:"capacity_cores,omitempty"`
	UsageCores    int64 `json:"usage_cores,omitempty"`
	RequestCores  int64 `json:"request_cores,omitempty"`
	CapacityBytes int64 `json:"capacity_bytes,omitempty"`
	UsageBytes    int64 `json:"usage_bytes,omitempty"`
	RequestBytes  int64 `json:"request_bytes,omitempty"`
}

// Health calls GET /health (no auth); nil means the server answers "Ok".
func (c *Client) Health(ctx context.Context) error {
	resp, cancel, err := c.do(ctx, request{op: "health check", method: http.MethodGet, path: "/health"})
	if err != nil {
		return err
	}
	defer cancel()
	resp.Body.Close()
	return nil
}

// SystemInfo returns GET /system/info. A successful answer is cached for the
// life of the Client (the version gates everything else).
func (c *Client) SystemInfo(ctx context.Context) (*Info, error) {
	c.mu.Lock()
	cached := c.info
	c.mu.Unlock()
	if cached != nil {
		cp := *cached
		return &cp, nil
	}
	var info Info
	if err := c.doJSON(ctx, request{op: "read cluster info", method: http.MethodGet, path: "/system/info"}, nil, &info); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.info = &info
	c.mu.Unlock()
	cp := info
	return &cp, nil
}

// Info implements backends.Cluster.
func (c *Client) Info(ctx context.Context) (*backends.ClusterInfo, error) {
	info, err := c.SystemInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &backends.ClusterInfo{
		Version:           info.Version,
		GitCommit:         info.GitCommit,
		Architecture:      info.Architecture,
		KubernetesVersion: info.KubernetesVersion,
		ServerlessBackend: info.ServerlessBackend.Name,
		ServerlessVersion: info.ServerlessBackend.Version,
		Capabilities:      capabilities(info),
	}, nil
}

// UserConfig returns GET /system/config, including the caller's MinIO keys.
func (c *Client) UserConfig(ctx context.Context) (*UserConfig, error) {
	var cfg UserConfig
	if err := c.doJSON(ctx, request{op: "read cluster config", method: http.MethodGet, path: "/system/config"}, nil, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// SetAllowedImageRepositories calls PUT /system/config (basic auth only;
// OIDC callers get KindUnauthorized). The spec declares no body; the server
// reads {"allowed_image_repositories": [...]}.
func (c *Client) SetAllowedImageRepositories(ctx context.Context, repos []string) (*UserConfig, error) {
	const op = "set allowed image repositories"
	if err := c.requireBasic(op); err != nil {
		return nil, err
	}
	var cfg UserConfig
	in := map[string][]string{"allowed_image_repositories": repos}
	if err := c.doJSON(ctx, request{op: op, method: http.MethodPut, path: "/system/config"}, in, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Status returns GET /system/status: nodes, CPU, memory, GPU, OSCAR and MinIO.
func (c *Client) Status(ctx context.Context) (*StatusInfo, error) {
	const op = "read cluster status"
	if err := c.require(ctx, op, "cluster status", v3_1_0); err != nil {
		return nil, err
	}
	var st StatusInfo
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/status"}, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ManagerLogs returns the logs of the OSCAR manager pod (GET /system/logs,
// basic auth only). The spec writes the path "/system/logs/"; the server
// registers "/system/logs", which is what is called.
func (c *Client) ManagerLogs(ctx context.Context, timestamps, previous bool) (string, error) {
	const op = "read manager logs"
	if err := c.requireBasic(op); err != nil {
		return "", err
	}
	q := url.Values{}
	if timestamps {
		q.Set("timestamps", "true")
	}
	if previous {
		q.Set("previous", "true")
	}
	return c.readText(ctx, request{op: op, method: http.MethodGet, path: "/system/logs", query: q, timeout: DefaultLogTimeout})
}

// readText performs r and returns the body as text, at most
// MaxLogResponse bytes of it; a longer body ends with a line saying it was
// cut.
func (c *Client) readText(ctx context.Context, r request) (string, error) {
	resp, cancel, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	defer cancel()
	defer resp.Body.Close()
	var b strings.Builder
	n, err := io.Copy(&b, io.LimitReader(resp.Body, MaxLogResponse+1))
	if err != nil {
		return "", c.err(r.op, backends.KindUnavailable, "", err)
	}
	if n > MaxLogResponse {
		return b.String()[:MaxLogResponse] + fmt.Sprintf("\n[FDL Studio: the log is longer than %d MiB; the rest was not read]\n", MaxLogResponse>>20), nil
	}
	return b.String(), nil
}

func boolQuery(q url.Values, key string, v bool) {
	if v {
		q.Set(key, strconv.FormatBool(v))
	}
}
