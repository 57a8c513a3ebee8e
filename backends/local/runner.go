package local

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Event is the part of an S3/MinIO event notification the runtime reads.
type s3Event struct {
	EventName string `json:"EventName"`
	Key       string `json:"Key"`
	Records   []struct {
		EventName   string `json:"eventName"`
		EventSource string `json:"eventSource"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  string `json:"key"`
				Size int64  `json:"size"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// parseS3Event returns the bucket and (decoded) key of the object an event
// body refers to, or ok=false if the body is not such an event.
func parseS3Event(body []byte) (bucket, key string, ok bool) {
	var ev s3Event
	if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) == 0 {
		return "", "", false
	}
	r := ev.Records[0]
	bucket, key = r.S3.Bucket.Name, r.S3.Object.Key
	if bucket == "" || key == "" {
		return "", "", false
	}
	// S3 and MinIO URL-encode keys in notifications (spaces as '+').
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	return bucket, key, true
}

// runSpec describes one execution of a service script.
type runSpec struct {
	svc     *Service
	jobName string // full job name; its UUID part becomes JOB_UUID
	event   []byte // EVENT
	// input, when not nil, is written to the input dir as "event_file"
	// instead of downloading an object (sync invocations and non-S3
	// payloads).
	input  []byte
	log    *logWriter
	stdout io.Writer // optional extra sink for the script's stdout
}

// outputFile is one file the script left in TMP_OUTPUT_DIR.
type outputFile struct {
	rel  string // slash-separated path relative to the output dir
	abs  string
	size int64
}

// runResult is what an execution produced.
type runResult struct {
	exitCode int
	outputs  []outputFile
}

// errScriptFailed marks a non-zero exit; the log has the details.
var errScriptFailed = errors.New("script failed")

// execute prepares a working dir under work, fetches the input, runs the
// script with /bin/sh and collects the output files. The caller removes
// the working dir (after using the outputs).
func (c *Cluster) execute(ctx context.Context, work string, spec runSpec) (runResult, error) {
	res := runResult{exitCode: -1}
	lg := spec.log
	inDir := filepath.Join(work, "input")
	outDir := filepath.Join(work, "output")
	tmpDir := filepath.Join(work, "tmp")
	for _, d := range []string{inDir, outDir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return res, fmt.Errorf("create working dir: %w", err)
		}
	}
	scriptPath := filepath.Join(work, "script.sh")
	if err := os.WriteFile(scriptPath, []byte(spec.svc.Script), 0o700); err != nil {
		return res, fmt.Errorf("write script: %w", err)
	}

	env := []string{
		"PATH=" + envOr("PATH", "/usr/local/bin:/usr/bin:/bin"),
		"HOME=" + work,
		"TMPDIR=" + tmpDir,
		"LANG=C.UTF-8",
	}
	for k, v := range spec.svc.Environment.Variables {
		env = append(env, k+"="+v)
	}
	for k, v := range spec.svc.Environment.Secrets {
		env = append(env, k+"="+v)
	}
	jobUUID := spec.jobName
	if i := strings.Index(jobUUID, "-"); i >= 0 && len(jobUUID)-i-1 == 36 {
		jobUUID = jobUUID[i+1:]
	} else if len(jobUUID) > 36 {
		jobUUID = jobUUID[len(jobUUID)-36:]
	}
	host, _ := os.Hostname()
	env = append(env,
		"EVENT="+string(spec.event),
		"TMP_INPUT_DIR="+inDir,
		"TMP_OUTPUT_DIR="+outDir,
		"JOB_UUID="+jobUUID,
		"JOB_NAME="+spec.jobName,
		"RESOURCE_ID="+host,
		"OSCAR_SERVICE_NAME="+spec.svc.Name,
		"OSCAR_SERVICE_TOKEN="+spec.svc.Token,
		"OSCAR_SERVICE_BASE_PATH=/system/services/"+spec.svc.Name+"/exposed",
	)

	switch {
	case spec.input != nil:
		p := filepath.Join(inDir, "event_file")
		if err := os.WriteFile(p, spec.input, 0o600); err != nil {
			return res, fmt.Errorf("write input file: %w", err)
		}
		env = append(env, "INPUT_FILE_PATH="+p)
	default:
		bucket, key, ok := parseS3Event(spec.event)
		if !ok {
			// Not a storage event: hand the payload over as a file, as
			// faas-supervisor does for unknown events.
			p := filepath.Join(inDir, "event_file")
			if err := os.WriteFile(p, spec.event, 0o600); err != nil {
				return res, fmt.Errorf("write input file: %w", err)
			}
			env = append(env, "INPUT_FILE_PATH="+p)
			break
		}
		env = append(env, "STORAGE_OBJECT_KEY="+key)
		name := path.Base(key)
		if name == "." || name == "/" || name == ".." {
			name = "input"
		}
		p := filepath.Join(inDir, name)
		env = append(env, "INPUT_FILE_PATH="+p)
		if spec.svc.FileStageIn {
			lg.Printf("file_stage_in is set: not downloading %s/%s", bucket, key)
			break
		}
		lg.Printf("Downloading item from bucket '%s' with key '%s'", bucket, key)
		if err := c.store.FGetObject(ctx, bucket, key, p, minio.GetObjectOptions{}); err != nil {
			return res, fmt.Errorf("download input %s/%s: %w", bucket, key, err)
		}
	}

	shell := c.cfg.Shell
	lg.Printf("Running script of service '%s'", spec.svc.Name)
	cmd, err := c.jobCommand(work, scriptPath)
	if err != nil {
		return res, err
	}
	cmd.Dir = work
	cmd.Env = append(env, gatewayChildEnv+"="+jobWrapperCommand)
	cmd.SysProcAttr = childAttrs()
	var stdout io.Writer = lg
	if spec.stdout != nil {
		stdout = io.MultiWriter(lg, spec.stdout)
	}
	check := c.diskWatch(work, outDir)
	exit, killedBy, err := runGroup(ctx, cmd, stdout, lg, check)
	var over *diskLimitError
	switch {
	case err != nil:
		return res, fmt.Errorf("start %s: %w", shell, err)
	case errors.As(killedBy, &over):
		return res, over
	case errors.Is(killedBy, context.DeadlineExceeded):
		return res, fmt.Errorf("the job exceeded its time limit of %s and was killed", c.cfg.JobTimeout)
	case killedBy != nil:
		return res, fmt.Errorf("the job was cancelled and killed: %w", context.Cause(ctx))
	}
	res.exitCode = exit
	if exit != 0 {
		lg.Printf("Script exited with status %d", res.exitCode)
		return res, errScriptFailed
	}

	var total int64
	err = filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(outDir, p)
		if err != nil {
			return err
		}
		total += info.Size()
		res.outputs = append(res.outputs, outputFile{rel: filepath.ToSlash(rel), abs: p, size: info.Size()})
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("read output dir: %w", err)
	}
	if c.cfg.MaxOutputBytes > 0 && total > c.cfg.MaxOutputBytes {
		return res, fmt.Errorf("the output files total %d bytes, over the limit of %d bytes; nothing was uploaded", total, c.cfg.MaxOutputBytes)
	}
	return res, nil
}

// diskLimitError says which disk limit a running job went over.
type diskLimitError struct {
	what  string // "output files in TMP_OUTPUT_DIR", ...
	size  int64
	limit int64
	name  string // the Config field
}

func (e *diskLimitError) Error() string {
	return fmt.Sprintf("the job's %s reached %d bytes while it ran, over the limit of %d bytes (%s); the job was killed", e.what, e.size, e.limit, e.name)
}

// diskWatch returns the check runGroup makes while a script runs: it sums
// the files under the working dir and fails when the outputs go over
// MaxOutputBytes or what the script added to the dir (anything but what was
// there before it started, its input) goes over MaxWorkDirBytes. Stopping
// the script then, instead of after it exits, keeps it from filling the
// disk.
func (c *Cluster) diskWatch(work, outDir string) func() error {
	baseline, _ := dirUsage(work, outDir)
	return func() error {
		total, out := dirUsage(work, outDir)
		if c.cfg.MaxOutputBytes > 0 && out > c.cfg.MaxOutputBytes {
			return &diskLimitError{what: "output files in TMP_OUTPUT_DIR", size: out, limit: c.cfg.MaxOutputBytes, name: "MaxOutputBytes"}
		}
		if grown := total - baseline; c.cfg.MaxWorkDirBytes > 0 && grown > c.cfg.MaxWorkDirBytes {
			return &diskLimitError{what: "working dir (temporary files and outputs)", size: grown, limit: c.cfg.MaxWorkDirBytes, name: "MaxWorkDirBytes"}
		}
		return nil
	}
}

// dirUsage sums the sizes of the regular files under root, and of those
// under sub (a dir inside root). Entries that vanish or cannot be read
// while it walks are skipped: the script is still running.
func dirUsage(root, sub string) (total, inSub int64) {
	prefix := sub + string(filepath.Separator)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		total += info.Size()
		if strings.HasPrefix(p, prefix) {
			inSub += info.Size()
		}
		return nil
	})
	return total, inSub
}

// passes reports whether a file name passes an output's prefix and suffix
// filters (each list, when not empty, must have a match).
func passes(name string, out StorageIOConfig) bool {
	ok := func(list []string, f func(string, string) bool) bool {
		if len(list) == 0 {
			return true
		}
		for _, s := range list {
			if f(name, s) {
				return true
			}
		}
		return false
	}
	return ok(out.Prefix, strings.HasPrefix) && ok(out.Suffix, strings.HasSuffix)
}

// upload sends every output file to each output whose filters it passes,
// recording on job (unless "") what it wrote to the cluster's own storage.
func (c *Cluster) upload(ctx context.Context, svc *Service, job string, files []outputFile, lg *logWriter) error {
	id := JobID{Service: svc.Name, Job: job}
	for _, out := range svc.Output {
		client := c.store
		_, pid := providerID(out.StorageProvider)
		own := pid == "default" && job != ""
		if pid != "default" {
			var err error
			client, err = providerClient(svc.StorageProviders.MinIO[pid])
			if err != nil {
				return fmt.Errorf("output %s: %w", out.StorageProvider, err)
			}
		}
		bp := parseBucketPath(out.Path)
		for _, f := range files {
			if !passes(path.Base(f.rel), out) {
				continue
			}
			key := bp.key(f.rel)
			lg.Printf("Uploading file '%s' to bucket '%s' with key '%s'", f.rel, bp.Bucket, key)
			obj := ObjectRef{Bucket: bp.Bucket, Key: key}
			if own {
				c.writers.put(obj, id)
			}
			if _, err := client.FPutObject(ctx, bp.Bucket, key, f.abs, minio.PutObjectOptions{}); err != nil {
				c.writers.forget(obj, id)
				return fmt.Errorf("upload %s to %s/%s: %w", f.rel, bp.Bucket, key, err)
			}
			if own {
				if err := c.jobs.update(svc.Name, job, func(j *jobRecord) { j.Outputs = append(j.Outputs, obj) }); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("record output %s/%s: %w", bp.Bucket, key, err)
				}
			}
		}
	}
	return nil
}

// providerClient builds a client for a MinIO provider of a service.
func providerClient(p *MinIOProvider) (*minio.Client, error) {
	if p == nil {
		return nil, errors.New("provider is not defined")
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not a URL like https://host:port", p.Endpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !p.Verify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the provider says verify=false
	}
	return minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(p.AccessKey, p.SecretKey, ""),
		Secure:    u.Scheme == "https",
		Region:    p.Region,
		Transport: tr,
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// jobTimeout returns a context bounded by the per-job time limit.
func (c *Cluster) jobContext(parent context.Context) (context.Context, context.CancelFunc) {
	if c.cfg.JobTimeout > 0 {
		return context.WithTimeout(parent, c.cfg.JobTimeout)
	}
	return context.WithCancel(parent)
}
