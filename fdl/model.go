package fdl

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Model is the typed view of a document. It is rebuilt from the node tree on
// every parse, so it always agrees with Bytes.
type Model struct {
	// Oscar lists the functions.oscar entries in file (deployment) order.
	Oscar []*OscarEntry
	// AWS lists the functions.aws entries in file order.
	AWS []*AWSEntry
	// StorageProviders is the top-level storage_providers block.
	StorageProviders StorageProviders
	// Clusters is the top-level clusters block.
	Clusters map[string]Cluster

	nodes map[string]*yaml.Node // value node of every decoded YAML path
	keys  map[string]*yaml.Node // key node of every decoded mapping entry
	// oscarItems records, for each item of the functions.oscar list and
	// one past the last, the index of its entry in Oscar and of its first
	// diagnostic, so that an edit of one item can redo only that item.
	oscarItems []oscarItem
}

type oscarItem struct{ entry, diag int }

// OscarEntry is one `- <cluster-id>: {service}` item of functions.oscar.
type OscarEntry struct {
	Cluster string  // the cluster id (the single key of the item)
	Path    string  // YAML path of the service mapping
	Service Service // the decoded service
}

// AWSEntry is one item of functions.aws.
type AWSEntry struct {
	Path       string      `yaml:"-"` // YAML path of the entry mapping
	Lambda     *Lambda     `yaml:"lambda"`
	IAM        *IAM        `yaml:"iam"`
	APIGateway *APIGateway `yaml:"api_gateway"`
	CloudWatch *CloudWatch `yaml:"cloudwatch"`
	Batch      *Batch      `yaml:"batch"`
	ECR        *ECR        `yaml:"ecr"`
	S3         *AWSProfile `yaml:"s3"`
}

// Service is an OSCAR v4.1 service as written in an FDL (pkg/types/service.go
// of the OSCAR server), plus the legacy keys still found in examples.
type Service struct {
	Name                    string             `yaml:"name"`
	ClusterID               string             `yaml:"cluster_id"`
	Image                   string             `yaml:"image"`
	Script                  string             `yaml:"script"`
	Memory                  string             `yaml:"memory"`
	CPU                     string             `yaml:"cpu"`
	TotalMemory             string             `yaml:"total_memory"`
	TotalCPU                string             `yaml:"total_cpu"`
	EphemeralStorageRequest string             `yaml:"ephemeral_storage_request"`
	EnableGPU               bool               `yaml:"enable_gpu"`
	EnableSGX               bool               `yaml:"enable_sgx"`
	ImagePrefetch           bool               `yaml:"image_prefetch"`
	Synchronous             *Synchronous       `yaml:"synchronous"`
	Expose                  *Expose            `yaml:"expose"`
	LogLevel                string             `yaml:"log_level"`
	Alpine                  bool               `yaml:"alpine"`
	Token                   string             `yaml:"token"`
	FileStageIn             bool               `yaml:"file_stage_in"`
	Input                   []StorageIO        `yaml:"input"`
	Output                  []StorageIO        `yaml:"output"`
	Mount                   *StorageIO         `yaml:"mount"`
	Volume                  *Volume            `yaml:"volume"`
	ImagePullSecrets        []string           `yaml:"image_pull_secrets"`
	Environment             *Environment       `yaml:"environment"`
	Annotations             map[string]string  `yaml:"annotations" fdl:"warn"`
	Labels                  map[string]string  `yaml:"labels" fdl:"warn"`
	VO                      string             `yaml:"vo"`
	Visibility              string             `yaml:"visibility"`
	AllowedUsers            []string           `yaml:"allowed_users"`
	IsolationLevel          string             `yaml:"isolation_level"`
	BucketList              []string           `yaml:"bucket_list"`
	Owner                   string             `yaml:"owner"`
	Namespace               string             `yaml:"namespace"`
	InterlinkNodeName       string             `yaml:"interlink_node_name"`
	StorageProviders        *StorageProviders  `yaml:"storage_providers"`
	Clusters                map[string]Cluster `yaml:"clusters"`
	Federation              *Federation        `yaml:"federation"`
	KServe                  *KServe            `yaml:"kserve"`

	// Legacy (v3) federation keys; v4.1 uses Federation.
	Replicas             []Replica `yaml:"replicas"`
	Delegation           string    `yaml:"delegation"`
	ReschedulerThreshold int       `yaml:"rescheduler_threshold"`
}

// Synchronous holds Knative scaling bounds.
type Synchronous struct {
	MinScale int `yaml:"min_scale"`
	MaxScale int `yaml:"max_scale"`
}

// Expose publishes a service over HTTP.
type Expose struct {
	MinScale       int     `yaml:"min_scale"`
	MaxScale       int     `yaml:"max_scale"`
	APIPort        IntList `yaml:"api_port"`
	CPUThreshold   int     `yaml:"cpu_threshold"`
	RewriteTarget  bool    `yaml:"rewrite_target"`
	NodePort       IntList `yaml:"nodePort"`
	DefaultCommand bool    `yaml:"default_command"`
	SetAuth        bool    `yaml:"set_auth"`
	AuthType       string  `yaml:"auth_type"`
	HealthPath     string  `yaml:"health_path"`
	ProbeMode      string  `yaml:"probe_mode"`
	Port           int     `yaml:"port"` // legacy spelling in the OSCAR docs
}

// IntList is a list of ports; a scalar (the v3/v4.0 form) reads as one item.
type IntList []int

// UnmarshalYAML accepts both `8080` and `[8080]`.
func (l *IntList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("expected a port number, got %q", n.Value)
		}
		*l = IntList{v}
		return nil
	}
	var v []int
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("expected a list of port numbers")
	}
	*l = v
	return nil
}

// StorageIO is an input, output or mount: a provider reference and a path.
type StorageIO struct {
	StorageProvider string   `yaml:"storage_provider"`
	Path            string   `yaml:"path"`
	Suffix          []string `yaml:"suffix"`
	Prefix          []string `yaml:"prefix"`
}

// Volume is a managed persistent volume (OSCAR v4).
type Volume struct {
	Name            string `yaml:"name"`
	Size            string `yaml:"size"`
	MountPath       string `yaml:"mount_path"`
	LifecyclePolicy string `yaml:"lifecycle_policy"`
}

// Environment holds container variables and secrets. LegacyVariables is the
// capitalised `Variables` key of OSCAR v3.5 and older.
type Environment struct {
	Variables       map[string]string `yaml:"variables" fdl:"warn"`
	LegacyVariables map[string]string `yaml:"Variables" fdl:"warn"`
	Secrets         map[string]string `yaml:"secrets" fdl:"warn"`
}

// Federation is the v4.1 replica/federation block.
type Federation struct {
	GroupID              string    `yaml:"group_id"`
	Topology             string    `yaml:"topology"`
	Delegation           string    `yaml:"delegation"`
	ReschedulerThreshold int       `yaml:"rescheduler_threshold"`
	Members              []Replica `yaml:"members"`
}

// Replica is a federation member (or a legacy top-level replica).
type Replica struct {
	Type        string            `yaml:"type"`
	ClusterID   string            `yaml:"cluster_id"`
	ServiceName string            `yaml:"service_name"`
	URL         string            `yaml:"url"`
	SSLVerify   bool              `yaml:"ssl_verify"`
	Priority    int               `yaml:"priority"`
	Headers     map[string]string `yaml:"headers"`
}

// KServe is the v4.1 inference service block.
type KServe struct {
	Type         string            `yaml:"type"`
	StorageURI   string            `yaml:"storage_uri"`
	Inference    *KServeInference  `yaml:"inference"`
	LLMInference *KServeLLM        `yaml:"llm_inference"`
	APIVersion   string            `yaml:"api_version"`
	MinScale     int               `yaml:"min_scale"`
	MaxScale     int               `yaml:"max_scale"`
	CPU          string            `yaml:"cpu"`
	Memory       string            `yaml:"memory"`
	Args         []string          `yaml:"args"`
	Env          map[string]string `yaml:"env" fdl:"warn"`
	EnableGPU    bool              `yaml:"enable_gpu"`
	SetAuth      bool              `yaml:"set_auth"`
}

// KServeInference selects a predictive model runtime.
type KServeInference struct {
	ModelFormat string `yaml:"model_format"`
	Runtime     string `yaml:"runtime"`
}

// KServeLLM selects an LLM runtime image.
type KServeLLM struct {
	RuntimeImage string `yaml:"runtime_image"`
}

// StorageProviders is the storage_providers block: type → id → settings.
type StorageProviders struct {
	MinIO   map[string]MinIOProvider   `yaml:"minio"`
	S3      map[string]S3Provider      `yaml:"s3"`
	Onedata map[string]OnedataProvider `yaml:"onedata"`
	WebDAV  map[string]WebDAVProvider  `yaml:"webdav"`
	Rucio   map[string]RucioProvider   `yaml:"rucio"`
}

// MinIOProvider is a MinIO server.
type MinIOProvider struct {
	Endpoint  string `yaml:"endpoint"`
	Verify    bool   `yaml:"verify"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Region    string `yaml:"region"`
}

// S3Provider is an AWS account for S3.
type S3Provider struct {
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Region    string `yaml:"region"`
}

// OnedataProvider is a Onedata space.
type OnedataProvider struct {
	OneproviderHost string `yaml:"oneprovider_host"`
	Token           string `yaml:"token"`
	Space           string `yaml:"space"`
}

// WebDAVProvider is a WebDAV (dCache) server; Hostname has no scheme.
type WebDAVProvider struct {
	Hostname string `yaml:"hostname"`
	Login    string `yaml:"login"`
	Password string `yaml:"password"`
}

// RucioProvider is a Rucio data management instance.
type RucioProvider struct {
	Host          string `yaml:"host"`
	AuthHost      string `yaml:"auth_host"`
	Account       string `yaml:"account"`
	RSE           string `yaml:"rse"`
	RefreshToken  string `yaml:"refresh_token"`
	OIDCAudience  string `yaml:"oidc_audience"`
	TokenEndpoint string `yaml:"token_endpoint"`
}

// Cluster is an OSCAR cluster declared in the clusters block.
type Cluster struct {
	Endpoint     string `yaml:"endpoint"`
	AuthUser     string `yaml:"auth_user"`
	AuthPassword string `yaml:"auth_password"`
	SSLVerify    bool   `yaml:"ssl_verify"`
}

// Lambda is the SCAR lambda block.
type Lambda struct {
	Name           string          `yaml:"name"`
	BotoProfile    string          `yaml:"boto_profile"`
	Region         string          `yaml:"region"`
	Memory         int             `yaml:"memory"`
	Timeout        int             `yaml:"timeout"`
	ExecutionMode  string          `yaml:"execution_mode"`
	LogLevel       string          `yaml:"log_level"`
	Runtime        string          `yaml:"runtime"`
	Architectures  []string        `yaml:"architectures"`
	Layers         []string        `yaml:"layers"`
	Description    string          `yaml:"description"`
	InvocationType string          `yaml:"invocation_type"`
	Asynchronous   bool            `yaml:"asynchronous"`
	LogType        string          `yaml:"log_type"`
	Environment    *AWSEnvironment `yaml:"environment"`
	InitScript     string          `yaml:"init_script"`
	RunScript      string          `yaml:"run_script"`
	Container      *Container      `yaml:"container"`
	Input          []StorageIO     `yaml:"input"`
	Output         []StorageIO     `yaml:"output"`
	Supervisor     *Supervisor     `yaml:"supervisor"`
	Deployment     *Deployment     `yaml:"deployment"`
	VPC            map[string]any  `yaml:"vpc"`
	FileSystem     any             `yaml:"file_system"`
	Preheat        bool            `yaml:"preheat"`
	Handler        string          `yaml:"handler"`
}

// AWSEnvironment is the SCAR form `environment: {Variables: {...}}` (AWS
// spells it with a capital V, so this is not legacy here).
type AWSEnvironment struct {
	Variables map[string]string `yaml:"Variables" fdl:"warn"`
}

// Container is the image run inside a Lambda function.
type Container struct {
	Image            string          `yaml:"image"`
	ImageFile        string          `yaml:"image_file"`
	CreateImage      bool            `yaml:"create_image"`
	Alpine           bool            `yaml:"alpine"`
	TimeoutThreshold int             `yaml:"timeout_threshold"`
	Environment      *AWSEnvironment `yaml:"environment"`
}

// Supervisor selects the faas-supervisor release.
type Supervisor struct {
	Version   string `yaml:"version"`
	LayerName string `yaml:"layer_name"`
}

// Deployment sets where SCAR uploads large function packages.
type Deployment struct {
	Bucket           string `yaml:"bucket"`
	MaxPayloadSize   any    `yaml:"max_payload_size"`
	MaxS3PayloadSize any    `yaml:"max_s3_payload_size"`
}

// AWSProfile names a boto profile and region.
type AWSProfile struct {
	BotoProfile string `yaml:"boto_profile"`
	Region      string `yaml:"region"`
}

// IAM holds the Lambda execution role.
type IAM struct {
	BotoProfile string `yaml:"boto_profile"`
	Role        string `yaml:"role"`
}

// APIGateway creates a REST API in front of the function when Name is set.
type APIGateway struct {
	Name        string `yaml:"name"`
	BotoProfile string `yaml:"boto_profile"`
	Region      string `yaml:"region"`
}

// CloudWatch sets log retention.
type CloudWatch struct {
	BotoProfile              string `yaml:"boto_profile"`
	Region                   string `yaml:"region"`
	LogRetentionPolicyInDays int    `yaml:"log_retention_policy_in_days"`
}

// Batch configures AWS Batch for execution_mode batch or lambda-batch.
type Batch struct {
	BotoProfile       string             `yaml:"boto_profile"`
	Region            string             `yaml:"region"`
	VCPUs             int                `yaml:"vcpus"`
	Memory            int                `yaml:"memory"`
	EnableGPU         bool               `yaml:"enable_gpu"`
	State             string             `yaml:"state"`
	Type              string             `yaml:"type"`
	Environment       *AWSEnvironment    `yaml:"environment"`
	ComputeResources  *ComputeResources  `yaml:"compute_resources"`
	ServiceRole       string             `yaml:"service_role"`
	MultiNodeParallel *MultiNodeParallel `yaml:"multi_node_parallel"`
}

// ComputeResources is the Batch compute environment.
type ComputeResources struct {
	Type               string   `yaml:"type"`
	DesiredVCPUs       int      `yaml:"desired_v_cpus"`
	MinVCPUs           int      `yaml:"min_v_cpus"`
	MaxVCPUs           int      `yaml:"max_v_cpus"`
	InstanceTypes      []string `yaml:"instance_types"`
	Subnets            []string `yaml:"subnets"`
	SecurityGroupIDs   []string `yaml:"security_group_ids"`
	LaunchTemplateName string   `yaml:"launch_template_name"`
	InstanceRole       string   `yaml:"instance_role"`
}

// MultiNodeParallel configures multi-node Batch jobs.
type MultiNodeParallel struct {
	Enabled       bool `yaml:"enabled"`
	NumberNodes   int  `yaml:"number_nodes"`
	MainNodeIndex int  `yaml:"main_node_index"`
}

// ECR controls the image repository SCAR creates for `runtime: image`.
type ECR struct {
	DeleteImage bool   `yaml:"delete_image"`
	Name        string `yaml:"name"`
}
