package oscar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Volume is types.ManagedVolume (OSCAR v4.0+).
type Volume struct {
	Name             string `json:"name"`
	Namespace        string `json:"namespace,omitempty"`
	PVCName          string `json:"pvc_name,omitempty"`
	Size             string `json:"size,omitempty"`
	LifecyclePolicy  string `json:"lifecycle_policy,omitempty"`
	CreationMode     string `json:"creation_mode,omitempty"`
	CreatedByService string `json:"created_by_service,omitempty"`
	OwnerUser        string `json:"owner_user,omitempty"`
	Status           struct {
		Phase           string `json:"phase,omitempty"`
		Message         string `json:"message,omitempty"`
		AttachmentCount int    `json:"attachment_count,omitempty"`
	} `json:"status"`
	Attachments []struct {
		ServiceName string `json:"service_name"`
		MountPath   string `json:"mount_path"`
	} `json:"attachments,omitempty"`
}

// ListVolumes returns GET /system/volumes.
func (c *Client) ListVolumes(ctx context.Context) ([]Volume, error) {
	const op = "list volumes"
	if err := c.require(ctx, op, "managed volumes", v4_0_0); err != nil {
		return nil, err
	}
	var vs []Volume
	return vs, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/volumes"}, nil, &vs)
}

// CreateVolume calls POST /system/volumes. KindConflict if it exists.
func (c *Client) CreateVolume(ctx context.Context, name, size string) (*Volume, error) {
	op := fmt.Sprintf("create volume %q", name)
	if err := c.checkName(op, "volume name", name); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "managed volumes", v4_0_0); err != nil {
		return nil, err
	}
	var v Volume
	in := map[string]string{"name": name, "size": size}
	return &v, c.doJSON(ctx, request{op: op, method: http.MethodPost, path: "/system/volumes", timeout: DefaultMutateTimeout}, in, &v)
}

// GetVolume returns GET /system/volumes/{name}.
func (c *Client) GetVolume(ctx context.Context, name string) (*Volume, error) {
	op := fmt.Sprintf("get volume %q", name)
	if err := c.checkName(op, "volume name", name); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "managed volumes", v4_0_0); err != nil {
		return nil, err
	}
	var v Volume
	return &v, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/volumes/" + escape(name)}, nil, &v)
}

// DeleteVolume calls DELETE /system/volumes/{name} (detached volumes only).
func (c *Client) DeleteVolume(ctx context.Context, name string) error {
	op := fmt.Sprintf("delete volume %q", name)
	if err := c.checkName(op, "volume name", name); err != nil {
		return err
	}
	if err := c.require(ctx, op, "managed volumes", v4_0_0); err != nil {
		return err
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodDelete, path: "/system/volumes/" + escape(name), timeout: DefaultMutateTimeout}, nil, nil)
}

// FederationRequest is types.FederationRequest.
type FederationRequest struct {
	Members          []backends.Replica             `json:"members,omitempty"`
	Update           []backends.Replica             `json:"update,omitempty"`
	Clusters         map[string]backends.ClusterRef `json:"clusters,omitempty"`
	StorageProviders *backends.StorageProviders     `json:"storage_providers,omitempty"`
	Delete           bool                           `json:"delete,omitempty"`
}

// FederationInfo is types.FederationResponse.
type FederationInfo struct {
	Topology string             `json:"topology"`
	Members  []backends.Replica `json:"members"`
}

// GetFederation returns GET /system/federation/{service} (v4.1+).
func (c *Client) GetFederation(ctx context.Context, service string) (*FederationInfo, error) {
	op := fmt.Sprintf("read federation of service %q", service)
	if err := c.federationCheck(ctx, op, service); err != nil {
		return nil, err
	}
	var f FederationInfo
	return &f, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/federation/" + escape(service)}, nil, &f)
}

// AddFederationMembers (POST), UpdateFederationMembers (PUT) and
// DeleteFederationMembers (DELETE with a body) change a service's
// federation and propagate it to the topology (v4.1+).
func (c *Client) AddFederationMembers(ctx context.Context, service string, req FederationRequest) error {
	return c.federationChange(ctx, http.MethodPost, "add federation members to", service, req)
}

// UpdateFederationMembers: see AddFederationMembers.
func (c *Client) UpdateFederationMembers(ctx context.Context, service string, req FederationRequest) error {
	return c.federationChange(ctx, http.MethodPut, "update federation members of", service, req)
}

// DeleteFederationMembers: see AddFederationMembers.
func (c *Client) DeleteFederationMembers(ctx context.Context, service string, req FederationRequest) error {
	return c.federationChange(ctx, http.MethodDelete, "delete federation members of", service, req)
}

func (c *Client) federationChange(ctx context.Context, method, verb, service string, req FederationRequest) error {
	op := fmt.Sprintf("%s service %q", verb, service)
	if err := c.federationCheck(ctx, op, service); err != nil {
		return err
	}
	return c.doJSON(ctx, request{op: op, method: method, path: "/system/federation/" + escape(service), timeout: DefaultMutateTimeout}, req, nil)
}

func (c *Client) federationCheck(ctx context.Context, op, service string) error {
	if err := c.checkName(op, "service name", service); err != nil {
		return err
	}
	return c.require(ctx, op, "federation", v4_1_0)
}

// MetricsSummary returns GET /system/metrics (types.MetricsSummaryResponse)
// undecoded; zero times use the server defaults (the last 24 h).
func (c *Client) MetricsSummary(ctx context.Context, start, end time.Time) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: "read metrics", method: http.MethodGet, path: "/system/metrics", query: timeRange(start, end)}, nil, &raw)
}

// ServiceMetrics returns GET /system/metrics/{service}
// (types.ServiceMetricsResponse) undecoded; metric "" means all.
func (c *Client) ServiceMetrics(ctx context.Context, service, metric string, start, end time.Time) (json.RawMessage, error) {
	op := fmt.Sprintf("read metrics of service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return nil, err
	}
	q := timeRange(start, end)
	if metric != "" {
		q.Set("metric", metric)
	}
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/metrics/" + escape(service), query: q}, nil, &raw)
}

// MetricsBreakdown returns GET /system/metrics/breakdown as JSON
// (types.MetricsBreakdownResponse); groupBy is service, user or country.
func (c *Client) MetricsBreakdown(ctx context.Context, groupBy string, includeUsers bool, start, end time.Time) (json.RawMessage, error) {
	q := timeRange(start, end)
	q.Set("group_by", groupBy)
	q.Set("format", "json")
	boolQuery(q, "include_users", includeUsers)
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: "read metrics breakdown by " + groupBy, method: http.MethodGet, path: "/system/metrics/breakdown", query: q}, nil, &raw)
}

func timeRange(start, end time.Time) url.Values {
	q := url.Values{}
	if !start.IsZero() {
		q.Set("start", start.UTC().Format(time.RFC3339))
	}
	if !end.IsZero() {
		q.Set("end", end.UTC().Format(time.RFC3339))
	}
	return q
}

// OwnQuota returns GET /system/quotas/user (types.QuotaResponse) undecoded
// (OIDC callers, v3.7+).
func (c *Client) OwnQuota(ctx context.Context) (json.RawMessage, error) {
	const op = "read own quota"
	if err := c.require(ctx, op, "quotas", v3_7_0); err != nil {
		return nil, err
	}
	if err := c.requireBearer(op); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/quotas/user"}, nil, &raw)
}

// UserQuota returns GET /system/quotas/user/{userID} (admin, basic auth).
func (c *Client) UserQuota(ctx context.Context, userID string) (json.RawMessage, error) {
	op := fmt.Sprintf("read quota of user %q", userID)
	if err := c.checkName(op, "user id", userID); err != nil {
		return nil, err
	}
	if err := c.requireBasic(op); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "quotas", v3_7_0); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/quotas/user/" + escape(userID)}, nil, &raw)
}

// SetUserQuota calls PUT /system/quotas/user/{userID} with update shaped as
// types.QuotaUpdateRequest, returning the new types.QuotaResponse.
func (c *Client) SetUserQuota(ctx context.Context, userID string, update any) (json.RawMessage, error) {
	op := fmt.Sprintf("set quota of user %q", userID)
	if err := c.checkName(op, "user id", userID); err != nil {
		return nil, err
	}
	if err := c.requireBasic(op); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "quotas", v3_7_0); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	return raw, c.doJSON(ctx, request{op: op, method: http.MethodPut, path: "/system/quotas/user/" + escape(userID)}, update, &raw)
}
