package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Service is an OSCAR service definition, with the same JSON keys as OSCAR's
// types.Service (reference/oscar-openapi.yaml). Objects the local cluster
// does not interpret (expose, federation, kserve, ...) are kept verbatim.
type Service struct {
	Name                    string            `json:"name"`
	ClusterID               string            `json:"cluster_id,omitempty"`
	Image                   string            `json:"image"`
	Script                  string            `json:"script"`
	Memory                  string            `json:"memory,omitempty"`
	CPU                     string            `json:"cpu,omitempty"`
	TotalMemory             string            `json:"total_memory,omitempty"`
	TotalCPU                string            `json:"total_cpu,omitempty"`
	EphemeralStorageRequest string            `json:"ephemeral_storage_request,omitempty"`
	EnableGPU               bool              `json:"enable_gpu"`
	EnableSGX               bool              `json:"enable_sgx"`
	ImagePrefetch           bool              `json:"image_prefetch"`
	Synchronous             *Synchronous      `json:"synchronous,omitempty"`
	Expose                  json.RawMessage   `json:"expose,omitempty"`
	LogLevel                string            `json:"log_level,omitempty"`
	Alpine                  bool              `json:"alpine"`
	Token                   string            `json:"token"`
	FileStageIn             bool              `json:"file_stage_in"`
	Input                   []StorageIOConfig `json:"input"`
	Output                  []StorageIOConfig `json:"output"`
	Mount                   *StorageIOConfig  `json:"mount,omitempty"`
	Volume                  json.RawMessage   `json:"volume,omitempty"`
	ImagePullSecrets        []string          `json:"image_pull_secrets,omitempty"`
	Environment             Environment       `json:"environment"`
	Annotations             map[string]string `json:"annotations,omitempty"`
	Labels                  map[string]string `json:"labels,omitempty"`
	VO                      string            `json:"vo,omitempty"`
	Visibility              string            `json:"visibility,omitempty"`
	AllowedUsers            []string          `json:"allowed_users,omitempty"`
	IsolationLevel          string            `json:"isolation_level,omitempty"`
	BucketList              []string          `json:"bucket_list,omitempty"`
	Owner                   string            `json:"owner,omitempty"`
	Namespace               string            `json:"namespace,omitempty"`
	InterlinkNodeName       string            `json:"interlink_node_name,omitempty"`
	StorageProviders        *StorageProviders `json:"storage_providers,omitempty"`
	Clusters                json.RawMessage   `json:"clusters,omitempty"`
	Federation              json.RawMessage   `json:"federation,omitempty"`
	Kserve                  json.RawMessage   `json:"kserve,omitempty"`
}

// Synchronous holds the Knative scaling settings (recorded, unused here).
type Synchronous struct {
	MinScale int `json:"min_scale"`
	MaxScale int `json:"max_scale"`
}

// Environment holds a service's variables and secrets. encoding/json
// matches keys case-insensitively, so the pre-v3.6 "Variables" spelling is
// accepted too, as by OSCAR.
type Environment struct {
	Variables map[string]string `json:"variables,omitempty"`
	Secrets   map[string]string `json:"secrets,omitempty"`
}

// StorageIOConfig is one input or output of a service.
type StorageIOConfig struct {
	StorageProvider string   `json:"storage_provider"`
	Path            string   `json:"path"`
	Suffix          []string `json:"suffix,omitempty"`
	Prefix          []string `json:"prefix,omitempty"`
	Options         string   `json:"options,omitempty"`
}

// StorageProviders mirrors OSCAR's storage_providers object. Only MinIO
// providers are used by the local cluster; the others are kept verbatim.
type StorageProviders struct {
	MinIO   map[string]*MinIOProvider `json:"minio,omitempty"`
	S3      json.RawMessage           `json:"s3,omitempty"`
	Onedata json.RawMessage           `json:"onedata,omitempty"`
	WebDav  json.RawMessage           `json:"webdav,omitempty"`
	Rucio   json.RawMessage           `json:"rucio,omitempty"`
}

// MinIOProvider is a MinIO (S3-compatible) endpoint with its keys.
type MinIOProvider struct {
	Endpoint  string `json:"endpoint"`
	Verify    bool   `json:"verify"`
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
	Region    string `json:"region,omitempty"`
}

// badRequest is an error caused by the caller's input; the API answers 400.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

var (
	serviceNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	bucketNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// bucketPath is a bucket and an optional folder inside it.
type bucketPath struct {
	Bucket string
	Folder string // without leading or trailing slash; may be empty
}

func (b bucketPath) String() string {
	if b.Folder == "" {
		return b.Bucket
	}
	return b.Bucket + "/" + b.Folder
}

// matches reports whether an object key lies under the folder.
func (b bucketPath) matches(bucket, key string) bool {
	if bucket != b.Bucket {
		return false
	}
	return b.Folder == "" || strings.HasPrefix(key, b.Folder+"/")
}

// key returns the object key for a file name relative to the folder.
func (b bucketPath) key(rel string) string {
	if b.Folder == "" {
		return rel
	}
	return b.Folder + "/" + rel
}

func parseBucketPath(p string) bucketPath {
	bucket, folder, _ := strings.Cut(p, "/")
	return bucketPath{Bucket: bucket, Folder: folder}
}

// providerID splits "minio.default" into ("minio", "default"); a bare
// "minio" or an empty value means the default provider.
func providerID(p string) (kind, id string) {
	kind, id, _ = strings.Cut(strings.TrimSpace(p), ".")
	if kind == "" {
		kind = "minio"
	}
	if id == "" {
		id = "default"
	}
	return strings.ToLower(kind), id
}

// normalize checks a service the way OSCAR's create handler does and fills
// in its defaults. It does not touch Token, Owner or StorageProviders'
// default entry; the caller sets those.
func (s *Service) normalize() error {
	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "":
		return badf("service: \"name\" is required")
	case len(s.Name) > 39:
		return badf("service %q: name is %d characters long; the maximum is 39", s.Name, len(s.Name))
	case !serviceNameRE.MatchString(s.Name):
		return badf("service %q: the name must be lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	if strings.TrimSpace(s.Image) == "" {
		return badf("service %q: \"image\" is required (the local cluster records it but runs the script on this host)", s.Name)
	}
	if strings.TrimSpace(s.Script) == "" {
		return badf("service %q: \"script\" is required", s.Name)
	}
	if s.Memory == "" {
		s.Memory = "256Mi"
	}
	if s.CPU == "" {
		s.CPU = "0.2"
	}
	s.LogLevel = strings.ToUpper(strings.TrimSpace(s.LogLevel))
	switch s.LogLevel {
	case "":
		s.LogLevel = "INFO"
	case "NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
	default:
		return badf("service %q: log_level %q is not one of NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL", s.Name, s.LogLevel)
	}
	switch s.Visibility {
	case "":
		s.Visibility = "private"
	case "private", "public", "restricted":
	default:
		return badf("service %q: visibility %q is not one of private, public, restricted", s.Name, s.Visibility)
	}
	for i := range s.Input {
		in := &s.Input[i]
		if err := s.normalizeIO(in, "input", i); err != nil {
			return err
		}
		if kind, id := providerID(in.StorageProvider); kind != "minio" || id != "default" {
			return badf("service %q: input %d: storage provider %q is not supported by the local cluster (only minio.default, this cluster's own storage)", s.Name, i, in.StorageProvider)
		}
	}
	for i := range s.Output {
		out := &s.Output[i]
		if err := s.normalizeIO(out, "output", i); err != nil {
			return err
		}
		kind, id := providerID(out.StorageProvider)
		if kind != "minio" {
			return badf("service %q: output %d: storage provider %q is not supported by the local cluster (only minio providers)", s.Name, i, out.StorageProvider)
		}
		if id != "default" {
			if s.StorageProviders == nil || s.StorageProviders.MinIO[id] == nil {
				return badf("service %q: output %d: storage provider %q is not defined in storage_providers.minio", s.Name, i, out.StorageProvider)
			}
		}
	}
	return nil
}

func (s *Service) normalizeIO(io *StorageIOConfig, what string, i int) error {
	p := strings.Trim(strings.TrimSpace(io.Path), "/")
	if p == "" {
		return badf("service %q: %s %d: \"path\" is empty", s.Name, what, i)
	}
	if !strings.Contains(p, "/") {
		p = s.Name + "/" + p
	}
	bp := parseBucketPath(p)
	if !bucketNameRE.MatchString(bp.Bucket) || strings.Contains(bp.Bucket, "..") {
		return badf("service %q: %s %d: %q is not a valid bucket name (3-63 lowercase letters, digits, '.' or '-')", s.Name, what, i, bp.Bucket)
	}
	if strings.Contains(bp.Folder, "//") {
		return badf("service %q: %s %d: path %q contains an empty folder name", s.Name, what, i, io.Path)
	}
	io.Path = p
	if io.StorageProvider == "" {
		io.StorageProvider = "minio.default"
	}
	return nil
}

// defaultBuckets returns the distinct buckets of the default provider used
// by the service's inputs and outputs: the buckets OSCAR creates (and, on
// delete, removes).
func (s *Service) defaultBuckets() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ios []StorageIOConfig) {
		for _, io := range ios {
			if _, id := providerID(io.StorageProvider); id != "default" {
				continue
			}
			b := parseBucketPath(io.Path).Bucket
			if !seen[b] {
				seen[b] = true
				out = append(out, b)
			}
		}
	}
	add(s.Input)
	add(s.Output)
	sort.Strings(out)
	return out
}

// public returns the copy of s the API hands out: secret values blanked,
// as OSCAR's ConfigMap copy does.
func (s *Service) public() Service {
	c := *s
	if len(s.Environment.Secrets) > 0 {
		c.Environment.Secrets = make(map[string]string, len(s.Environment.Secrets))
		for k := range s.Environment.Secrets {
			c.Environment.Secrets[k] = ""
		}
	}
	if c.Input == nil {
		c.Input = []StorageIOConfig{}
	}
	if c.Output == nil {
		c.Output = []StorageIOConfig{}
	}
	return c
}

// serviceStore keeps services in memory and one JSON file each (mode 0600:
// they hold tokens and secrets) under dir.
type serviceStore struct {
	dir string
	mu  sync.RWMutex
	m   map[string]*Service
}

func openServiceStore(dir string) (*serviceStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create services dir: %w", err)
	}
	st := &serviceStore{dir: dir, m: map[string]*Service{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read services dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read service %s: %w", path, err)
		}
		var s Service
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("read service %s: %w", path, err)
		}
		st.m[s.Name] = &s
	}
	return st, nil
}

func (st *serviceStore) get(name string) (*Service, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s, ok := st.m[name]
	if !ok {
		return nil, false
	}
	c := *s
	return &c, true
}

func (st *serviceStore) list() []*Service {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]*Service, 0, len(st.m))
	for _, s := range st.m {
		c := *s
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var errServiceExists = errors.New("service exists")

// put saves s. With create set it fails with errServiceExists if a service
// of that name exists; otherwise it fails with fs.ErrNotExist if none does.
func (st *serviceStore) put(s *Service, create bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, exists := st.m[s.Name]
	if create && exists {
		return errServiceExists
	}
	if !create && !exists {
		return fs.ErrNotExist
	}
	if err := writeFileAtomic(filepath.Join(st.dir, s.Name+".json"), mustJSON(s), 0o600); err != nil {
		return fmt.Errorf("save service %q: %w", s.Name, err)
	}
	c := *s
	st.m[s.Name] = &c
	return nil
}

func (st *serviceStore) remove(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.m[name]; !ok {
		return fs.ErrNotExist
	}
	if err := os.Remove(filepath.Join(st.dir, name+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete service %q: %w", name, err)
	}
	delete(st.m, name)
	return nil
}
