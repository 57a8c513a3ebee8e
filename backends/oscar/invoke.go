package oscar

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/fdlstudio/fdlstudio/backends"
)

var (
	_ backends.FileRunner     = (*Client)(nil)
	_ backends.Rerunner       = (*Client)(nil)
	_ backends.ClusterDetails = (*Client)(nil)
)

// RunFile implements backends.FileRunner. OSCAR's supervisor takes the
// /run body base64-encoded (or as is when it is JSON) and answers with the
// base64 of the single output file, of a zip of several, or with the
// script's stdout when there is none; RunFile encodes the input as it
// streams and decodes the answer.
func (c *Client) RunFile(ctx context.Context, service string, input io.Reader) (io.ReadCloser, error) {
	body, stop := supervisorInput(input)
	resp, err := c.Run(ctx, service, body)
	if err != nil {
		// The request may have failed before its body was read (a cluster
		// that is down, a service without a token): end the encoder.
		stop()
		return nil, err
	}
	out, err := supervisorOutput(resp)
	if err != nil {
		stop()
		resp.Close()
		return nil, c.err(fmt.Sprintf("run service %q", service), backends.KindUnavailable, "", err)
	}
	return &runOutput{Reader: out, close: func() error { stop(); return resp.Close() }}, nil
}

// runOutput is a decoded /run answer; closing it closes the response and
// ends the input encoder if it still runs.
type runOutput struct {
	io.Reader
	close func() error
}

func (r *runOutput) Close() error { return r.close() }

// supervisorInputPeek is how much of the input is looked at to tell JSON
// (sent as is) from anything else (sent in base64).
const supervisorInputPeek = 64 << 10

// errRunEnded ends an input encoder whose request is over.
var errRunEnded = errors.New("the run request ended before its input was read")

// supervisorInput encodes a /run payload the way OSCAR's supervisor reads
// it: JSON as is, anything else in base64, streamed through a pipe. stop
// ends the encoding goroutine whatever state the request is in; it must be
// called once the request is over (calling it more than once is fine).
func supervisorInput(payload io.Reader) (body io.Reader, stop func()) {
	br := bufio.NewReaderSize(payload, supervisorInputPeek)
	head, _ := br.Peek(supervisorInputPeek)
	if len(head) < supervisorInputPeek && json.Valid(head) && len(bytes.TrimSpace(head)) > 0 {
		return br, func() {}
	}
	pr, pw := io.Pipe()
	go func() {
		enc := base64.NewEncoder(base64.StdEncoding, pw)
		_, err := io.Copy(enc, br)
		if err == nil {
			err = enc.Close()
		}
		pw.CloseWithError(err)
	}()
	// Closing the read side makes a blocked write return, so the
	// goroutine above always ends.
	return pr, func() { pr.CloseWithError(errRunEnded) }
}

// supervisorOutput decodes a /run answer: the base64 of an output file (or
// zip) is decoded as it streams; anything else (the script's stdout) is
// passed through. The answer is taken for base64 when its first bytes are
// base64 and whole (their length a multiple of four, with no spaces), which
// plain text output rarely is.
func supervisorOutput(resp io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(resp, 4096)
	head, err := br.Peek(4096)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	trimmed := bytes.TrimRight(head, "\r\n")
	if len(trimmed) == 0 || !isBase64(trimmed) {
		return br, nil
	}
	if len(head) < 4096 { // the whole answer: decode it only if it decodes
		dec, err := base64.StdEncoding.DecodeString(string(trimmed))
		if err != nil {
			return br, nil
		}
		return bytes.NewReader(dec), nil
	}
	return base64.NewDecoder(base64.StdEncoding, br), nil
}

func isBase64(b []byte) bool {
	if len(b)%4 != 0 && len(b) < 4096 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// jobInput finds, in a job's log, the bucket and key of the object whose
// upload started it (backends.JobInput).
func jobInput(log string) (bucket, key string, ok bool) { return backends.JobInput(log) }

// storageEvent builds the MinIO notification a job receives when key is
// uploaded to bucket, the event OSCAR's jobs parse.
func storageEvent(bucket, key string) ([]byte, error) {
	escaped := url.QueryEscape(key)
	return json.Marshal(map[string]any{
		"EventName": "s3:ObjectCreated:Put",
		"Key":       bucket + "/" + escaped,
		"Records": []any{map[string]any{
			"eventVersion": "2.0",
			"eventSource":  "minio:s3",
			"eventName":    "s3:ObjectCreated:Put",
			"s3": map[string]any{
				"s3SchemaVersion": "1.0",
				"bucket":          map[string]any{"name": bucket},
				"object":          map[string]any{"key": escaped},
			},
		}},
	})
}

// RerunJob implements backends.Rerunner: the old job's log says which
// object started it; a new job gets the MinIO event of that object's
// upload.
func (c *Client) RerunJob(ctx context.Context, service, job string) (backends.JobRef, error) {
	log, err := c.JobLog(ctx, service, job, false)
	if err != nil {
		return backends.JobRef{}, err
	}
	bucket, key, ok := jobInput(log)
	if !ok {
		return backends.JobRef{}, c.err(fmt.Sprintf("re-run job %q of service %q", job, service), backends.KindInvalid,
			"its log does not say which file started it (it was not started by an upload)", nil)
	}
	event, err := storageEvent(bucket, key)
	if err != nil {
		return backends.JobRef{}, err
	}
	return c.SubmitJob(ctx, service, bytes.NewReader(event))
}

// ClusterStatus implements backends.ClusterDetails from GET /system/status.
func (c *Client) ClusterStatus(ctx context.Context) (*backends.ClusterStatus, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &backends.ClusterStatus{
		NodesCount:      st.Cluster.NodesCount,
		FreeCores:       st.Cluster.Metrics.CPU.TotalFreeCores,
		FreeMemoryBytes: st.Cluster.Metrics.Memory.TotalFreeBytes,
		GPUs:            st.Cluster.Metrics.GPU.TotalGPU,
		JobsCount:       st.Oscar.JobsCount,
		BucketsCount:    st.MinIO.BucketsCount,
	}
	for _, n := range st.Cluster.Nodes {
		out.Nodes = append(out.Nodes, backends.NodeStatus{
			Name: n.Name, Status: n.Status, GPUs: n.GPU,
			UsageCores: n.CPU.UsageCores, CapacityCores: n.CPU.CapacityCores,
			UsageMemoryBytes: n.Memory.UsageBytes, CapacityMemoryBytes: n.Memory.CapacityBytes,
		})
	}
	return out, nil
}

// ClusterConfig implements backends.ClusterDetails from GET /system/config,
// leaving out the MinIO keys it carries.
func (c *Client) ClusterConfig(ctx context.Context) (*backends.ClusterConfig, error) {
	cfg, err := c.UserConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &backends.ClusterConfig{
		Name:              cfg.Config.Name,
		Namespace:         cfg.Config.Namespace,
		ServicesNamespace: cfg.Config.ServicesNamespace,
		GPUAvailable:      cfg.Config.GPUAvailable,
		VolumesEnabled:    cfg.Config.VolumeEnable,
		StorageEndpoint:   cfg.MinIOProvider.Endpoint,
		OIDCGroups:        cfg.Config.OIDCGroups,
	}, nil
}
