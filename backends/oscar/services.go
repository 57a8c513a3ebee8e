package oscar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/fdlstudio/fdlstudio/backends"
)

// ServiceQuery selects optional parts of service reads.
type ServiceQuery struct {
	// IncludeDeployment asks for the deployment summary (?include=deployment,
	// OSCAR v4.0+). It is slow on big clusters (oscar#513), so it is opt-in.
	IncludeDeployment bool
}

func (q ServiceQuery) values() url.Values {
	v := url.Values{}
	if q.IncludeDeployment {
		v.Set("include", "deployment")
	}
	return v
}

// ListServices implements backends.Services.
func (c *Client) ListServices(ctx context.Context) ([]backends.Service, error) {
	return c.ListServicesWith(ctx, ServiceQuery{})
}

// ListServicesWith lists services with optional expansions.
func (c *Client) ListServicesWith(ctx context.Context, q ServiceQuery) ([]backends.Service, error) {
	const op = "list services"
	var raws []json.RawMessage
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/services", query: q.values()}, nil, &raws); err != nil {
		return nil, err
	}
	out := make([]backends.Service, 0, len(raws))
	for i, raw := range raws {
		svc, err := decodeService(raw)
		if err != nil {
			return nil, c.err(op, backends.KindUnavailable, "", fmt.Errorf("service #%d: %w", i, err))
		}
		out = append(out, *svc)
	}
	return out, nil
}

// GetService implements backends.Services.
func (c *Client) GetService(ctx context.Context, name string) (*backends.Service, error) {
	return c.GetServiceWith(ctx, name, ServiceQuery{})
}

// GetServiceWith reads one service with optional expansions.
func (c *Client) GetServiceWith(ctx context.Context, name string, q ServiceQuery) (*backends.Service, error) {
	op := fmt.Sprintf("get service %q", name)
	if err := c.checkName(op, "service name", name); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/services/" + escape(name), query: q.values()}, nil, &raw); err != nil {
		return nil, err
	}
	svc, err := decodeService(raw)
	if err != nil {
		return nil, c.err(op, backends.KindUnavailable, "", err)
	}
	return svc, nil
}

// CreateService implements backends.Services (POST /system/services, 201).
func (c *Client) CreateService(ctx context.Context, svc *backends.Service) error {
	return c.putService(ctx, http.MethodPost, fmt.Sprintf("create service %q", svc.Name), svc)
}

// UpdateService implements backends.Services (PUT /system/services; the name
// is in the body, 204).
func (c *Client) UpdateService(ctx context.Context, svc *backends.Service) error {
	return c.putService(ctx, http.MethodPut, fmt.Sprintf("update service %q", svc.Name), svc)
}

func (c *Client) putService(ctx context.Context, method, op string, svc *backends.Service) error {
	if err := c.checkName(op, "service name", svc.Name); err != nil {
		return err
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	body, err := encodeService(svc, v)
	if err != nil {
		return c.err(op, backends.KindUnsupported, err.Error(), nil)
	}
	timeout := DefaultMutateTimeout
	if svc.ImagePrefetch {
		timeout = PrefetchTimeout
	}
	resp, cancel, err := c.do(ctx, request{op: op, method: method, path: "/system/services",
		body: bytes.NewReader(body), contentType: "application/json", timeout: timeout})
	if err != nil {
		return err
	}
	defer cancel()
	resp.Body.Close()
	return nil
}

// DeleteService implements backends.Services. OSCAR also deletes the
// service's input and output buckets with everything in them.
func (c *Client) DeleteService(ctx context.Context, name string) error {
	return c.DeleteServiceIn(ctx, name, "")
}

// DeleteServiceIn deletes a service in a given namespace (admins only;
// "" searches all namespaces).
func (c *Client) DeleteServiceIn(ctx context.Context, name, namespace string) error {
	op := fmt.Sprintf("delete service %q", name)
	if err := c.checkName(op, "service name", name); err != nil {
		return err
	}
	q := url.Values{}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodDelete, path: "/system/services/" + escape(name), query: q, timeout: DefaultMutateTimeout}, nil, nil)
}

// CheckServiceAccess calls GET /system/services/{name}/auth, the check
// exposed services use for forward auth: nil means allowed.
func (c *Client) CheckServiceAccess(ctx context.Context, name string) error {
	op := fmt.Sprintf("check access to service %q", name)
	if err := c.checkName(op, "service name", name); err != nil {
		return err
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/services/" + escape(name) + "/auth"}, nil, nil)
}

// deploymentStatus is types.ServiceDeploymentStatus.
type deploymentStatus struct {
	ServiceName        string `json:"service_name"`
	Namespace          string `json:"namespace"`
	State              string `json:"state"`
	Reason             string `json:"reason"`
	ActiveInstances    int    `json:"active_instances"`
	AffectedInstances  int    `json:"affected_instances"`
	ResourceKind       string `json:"resource_kind"`
	LastTransitionTime string `json:"last_transition_time"`
}

func (d deploymentStatus) toBackend() *backends.DeploymentStatus {
	return &backends.DeploymentStatus{
		ServiceName: d.ServiceName, Namespace: d.Namespace, State: d.State, Reason: d.Reason,
		ActiveInstances: d.ActiveInstances, AffectedInstances: d.AffectedInstances,
		ResourceKind: d.ResourceKind, LastTransitionTime: d.LastTransitionTime,
	}
}

// DeploymentStatus implements backends.Deployments (OSCAR v4.0+).
func (c *Client) DeploymentStatus(ctx context.Context, service string) (*backends.DeploymentStatus, error) {
	op := fmt.Sprintf("read deployment of service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "deployment status", v4_0_0); err != nil {
		return nil, err
	}
	var d deploymentStatus
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/services/" + escape(service) + "/deployment"}, nil, &d); err != nil {
		return nil, err
	}
	return d.toBackend(), nil
}

// DeploymentLogs implements backends.Deployments (OSCAR v4.0+).
func (c *Client) DeploymentLogs(ctx context.Context, service string, tailLines int, timestamps bool) (*backends.DeploymentLogs, error) {
	op := fmt.Sprintf("read deployment logs of service %q", service)
	if err := c.checkName(op, "service name", service); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "deployment logs", v4_0_0); err != nil {
		return nil, err
	}
	q := url.Values{}
	boolQuery(q, "timestamps", timestamps)
	if tailLines > 0 {
		q.Set("tailLines", fmt.Sprint(tailLines))
	}
	var d struct {
		ServiceName string `json:"service_name"`
		Available   bool   `json:"available"`
		Message     string `json:"message"`
		Entries     []struct {
			Timestamp string `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"entries"`
	}
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/services/" + escape(service) + "/deployment/logs", query: q, timeout: DefaultLogTimeout}, nil, &d); err != nil {
		return nil, err
	}
	out := &backends.DeploymentLogs{ServiceName: d.ServiceName, Available: d.Available, Message: d.Message}
	for _, e := range d.Entries {
		out.Entries = append(out.Entries, backends.LogEntry{Timestamp: e.Timestamp, Message: e.Message})
	}
	return out, nil
}

// StartService, StopService and RestartService drive the lifecycle of an
// exposed service (POST /system/services/{name}/start|stop|restart, v4.0+).
func (c *Client) StartService(ctx context.Context, name string) (*backends.DeploymentStatus, error) {
	return c.lifecycle(ctx, name, "start")
}

// StopService scales an exposed service to zero. See StartService.
func (c *Client) StopService(ctx context.Context, name string) (*backends.DeploymentStatus, error) {
	return c.lifecycle(ctx, name, "stop")
}

// RestartService rolls an exposed service's pods. See StartService.
func (c *Client) RestartService(ctx context.Context, name string) (*backends.DeploymentStatus, error) {
	return c.lifecycle(ctx, name, "restart")
}

func (c *Client) lifecycle(ctx context.Context, name, action string) (*backends.DeploymentStatus, error) {
	op := fmt.Sprintf("%s service %q", action, name)
	if err := c.checkName(op, "service name", name); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, action+" of exposed services", v4_0_0); err != nil {
		return nil, err
	}
	var d deploymentStatus
	if err := c.doJSON(ctx, request{op: op, method: http.MethodPost, path: "/system/services/" + escape(name) + "/" + action, timeout: DefaultMutateTimeout}, nil, &d); err != nil {
		return nil, err
	}
	return d.toBackend(), nil
}

// decodeService reads a service as any OSCAR version writes it: a scalar
// expose.api_port / expose.nodePort (before v4.1) becomes a one-element list.
func decodeService(raw []byte) (*backends.Service, error) {
	if !bytes.Contains(raw, []byte(`"expose"`)) {
		// Nothing version-dependent to rewrite: decode directly.
		var svc backends.Service
		if err := json.Unmarshal(raw, &svc); err != nil {
			return nil, fmt.Errorf("decode service: %w", err)
		}
		return &svc, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("decode service: %w", err)
	}
	if exp, ok := top["expose"]; ok && len(exp) > 0 && exp[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(exp, &m); err != nil {
			return nil, fmt.Errorf("decode service expose: %w", err)
		}
		changed := false
		for _, k := range []string{"api_port", "nodePort"} {
			if v, ok := m[k]; ok && len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
				m[k] = append(append([]byte{'['}, v...), ']')
				changed = true
			}
		}
		if changed {
			top["expose"], _ = json.Marshal(m)
			raw, _ = json.Marshal(top)
		}
	}
	var svc backends.Service
	if err := json.Unmarshal(raw, &svc); err != nil {
		return nil, fmt.Errorf("decode service: %w", err)
	}
	return &svc, nil
}

// encodeService writes svc the way a server of version v reads it: before
// v4.1 expose.api_port/nodePort are scalars and federation does not exist;
// before v3.6 environment.variables is spelt "Variables" and secrets do not
// exist. What an old server cannot hold is an error, never silently dropped.
func encodeService(svc *backends.Service, v Version) ([]byte, error) {
	b, err := json.Marshal(svc)
	if err != nil {
		return nil, fmt.Errorf("encode service %q: %w", svc.Name, err)
	}
	oldPorts := !v.AtLeast(v4_1_0) && svc.Expose != nil
	oldEnv := !v.AtLeast(v3_6_0) && svc.Environment != nil
	if !v.AtLeast(v4_1_0) && svc.Federation != nil {
		return nil, fmt.Errorf("service %q uses federation, which needs OSCAR v4.1.0 or newer (cluster runs %s)", svc.Name, v)
	}
	if !oldPorts && !oldEnv {
		return b, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if oldPorts {
		e := svc.Expose
		if len(e.APIPort) > 1 || len(e.NodePort) > 1 {
			return nil, fmt.Errorf("service %q exposes several ports, which needs OSCAR v4.1.0 or newer (cluster runs %s)", svc.Name, v)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(top["expose"], &m); err != nil {
			return nil, err
		}
		if len(e.APIPort) == 1 {
			m["api_port"], _ = json.Marshal(e.APIPort[0])
		}
		if len(e.NodePort) == 1 {
			m["nodePort"], _ = json.Marshal(e.NodePort[0])
		}
		top["expose"], _ = json.Marshal(m)
	}
	if oldEnv {
		if len(svc.Environment.Secrets) > 0 {
			return nil, fmt.Errorf("service %q has environment secrets, which need OSCAR v3.6.0 or newer (cluster runs %s)", svc.Name, v)
		}
		top["environment"], _ = json.Marshal(map[string]map[string]string{"Variables": svc.Environment.Variables})
	}
	return json.Marshal(top)
}
