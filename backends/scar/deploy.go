// Package scar is FDL Studio's AWS backend: it deploys the functions.aws
// part of an FDL to AWS Lambda (container images) the way SCAR does, so
// that SCAR's own `scar ls` and `scar rm` see the functions, and without
// SCAR's "already exists" failure: a second deploy updates.
//
// Everything goes through aws-sdk-go-v2. backends/scar/awstest is a fake
// of the control-plane calls used here, reached by the same SDK clients.
package scar

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"gopkg.in/yaml.v3"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// Clients are the AWS service clients one account uses.
type Clients struct {
	Lambda     *lambda.Client
	S3         *s3.Client
	Logs       *cloudwatchlogs.Client
	STS        *sts.Client
	Batch      *batch.Client
	APIGateway *apigateway.Client
}

// NewClients builds the clients of one account from an SDK config.
// endpoints, when not nil, overrides each service's endpoint by service
// name ("lambda", "s3", "logs", "sts", "batch", "apigateway"): tests point them at awstest.
func NewClients(cfg aws.Config, endpoints map[string]string) *Clients {
	ep := func(name string) *string {
		if u, ok := endpoints[name]; ok {
			return aws.String(u)
		}
		return nil
	}
	return &Clients{
		Lambda: lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = ep("lambda") }),
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = ep("s3")
			o.UsePathStyle = endpoints != nil
		}),
		Logs:       cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = ep("logs") }),
		STS:        sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep("sts") }),
		Batch:      batch.NewFromConfig(cfg, func(o *batch.Options) { o.BaseEndpoint = ep("batch") }),
		APIGateway: apigateway.NewFromConfig(cfg, func(o *apigateway.Options) { o.BaseEndpoint = ep("apigateway") }),
	}
}

// Tags SCAR puts on its functions; `scar ls` lists by them.
const (
	TagCreatedBy = "createdby"
	TagOwner     = "owner"
	CreatedBy    = "scar"
	// EnvFDL is the environment variable holding the function's FDL entry
	// as base64 YAML, which `scar rm` and `scar ls` read back.
	EnvFDL = "FDL"
	// DefaultLogRetentionDays is SCAR's log retention.
	DefaultLogRetentionDays = 30
	// waitTimeout bounds each SDK waiter.
	waitTimeout = 5 * time.Minute
)

// ecrImage matches an image URI AWS Lambda can pull: a private Amazon ECR
// repository (Lambda pulls from nowhere else).
var ecrImage = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})?$`)

// Function is one functions.aws entry, checked and ready to deploy.
type Function struct {
	Entry  *fdl.AWSEntry
	Name   string
	Image  string
	Role   string
	Inputs []Path // s3 inputs
	// Outputs are the s3 outputs.
	Outputs []Path
}

// Path is a bucket and the folder in it ("" for the bucket root).
type Path struct{ Bucket, Folder string }

// Prefix is the object key prefix of the folder ("folder/", or "").
func (p Path) Prefix() string {
	if p.Folder == "" {
		return ""
	}
	return p.Folder + "/"
}

func invalid(op, format string, a ...any) error {
	return &backends.Error{Kind: backends.KindInvalid, Op: op, Message: fmt.Sprintf(format, a...)}
}

// Defaults are an AWS account's settings that fill what an entry omits.
type Defaults struct {
	// Role is the execution role used when the entry names none (SCAR
	// takes it from scar.cfg).
	Role string
	// ImageMirror, when set, is an ECR repository prefix
	// (ACCOUNT.dkr.ecr.REGION.amazonaws.com/PREFIX) where the operator
	// mirrors images from other registries, e.g. with an ECR pull-through
	// cache rule: an image outside ECR is deployed as the mirror plus its
	// repository path (ghcr.io/grycap/cowsay -> MIRROR/grycap/cowsay).
	// The FDL keeps the image as written.
	ImageMirror string
}

// Prepare checks one functions.aws entry and says what is wrong and where.
func Prepare(e *fdl.AWSEntry, d Defaults) (*Function, error) {
	where := e.Path
	if where == "" {
		where = "functions.aws entry"
	}
	op := "check " + where
	if e.Lambda == nil || e.Lambda.Name == "" {
		return nil, invalid(op, "%s.lambda.name is missing", where)
	}
	l := e.Lambda
	f := &Function{Entry: e, Name: l.Name}
	if l.Container == nil || l.Container.Image == "" {
		return nil, invalid(op, "%s.lambda.container.image is missing: FDL Studio deploys container-image Lambdas only", where)
	}
	f.Image = l.Container.Image
	if !ecrImage.MatchString(f.Image) && d.ImageMirror != "" {
		f.Image = strings.TrimSuffix(d.ImageMirror, "/") + "/" + repositoryPath(f.Image)
	}
	if !ecrImage.MatchString(f.Image) {
		return nil, invalid(op, "%s.lambda.container.image %q is not an image AWS Lambda can pull: Lambda pulls only from Amazon ECR (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG); push the image there and use that URI", where, f.Image)
	}
	f.Role = d.Role
	if e.IAM != nil && e.IAM.Role != "" {
		f.Role = e.IAM.Role
	}
	if !strings.HasPrefix(f.Role, "arn:aws") {
		return nil, invalid(op, "%s.iam.role must be the ARN of the function's execution role (arn:aws:iam::ACCOUNT:role/NAME), and the AWS account has no default role", where)
	}
	for _, io := range l.Input {
		if p, ok := s3Path(io); ok {
			f.Inputs = append(f.Inputs, p)
		}
	}
	for _, io := range l.Output {
		if p, ok := s3Path(io); ok {
			f.Outputs = append(f.Outputs, p)
		}
	}
	if usesBatch(f) {
		cr := (*fdl.ComputeResources)(nil)
		if e.Batch != nil {
			cr = e.Batch.ComputeResources
		}
		if cr == nil || len(cr.Subnets) == 0 || len(cr.SecurityGroupIDs) == 0 || cr.InstanceRole == "" {
			return nil, invalid(op, "%s.lambda.execution_mode %q needs batch.compute_resources with subnets, security_group_ids and instance_role (the AWS Batch compute environment)", where, l.ExecutionMode)
		}
	}
	for _, p := range append(append([]Path{}, f.Inputs...), f.Outputs...) {
		if p.Bucket == "" {
			return nil, invalid(op, "%s.lambda: an s3 input or output has an empty path (want BUCKET/FOLDER)", where)
		}
	}
	env, err := environment(f)
	if err != nil {
		return nil, invalid(op, "%s: encode the FDL entry: %v", where, err)
	}
	size := 0
	for k, v := range env {
		size += len(k) + len(v)
	}
	// Room is left for API_GATEWAY_ID, added on deploy.
	if size > maxEnvironment-64 {
		return nil, invalid(op, "%s: the function's environment is %d bytes (its variables, and the entry with its init script kept base64 in %s as SCAR does); AWS Lambda allows %d: shorten the init script or the variables", where, size, EnvFDL, maxEnvironment)
	}
	return f, nil
}

// maxEnvironment is AWS Lambda's limit on a function's environment
// variables, names and values together.
const maxEnvironment = 4096

// repositoryPath is an image reference without its registry host
// ("ghcr.io/grycap/cowsay:1" -> "grycap/cowsay:1"; Docker Hub's
// "ubuntu" -> "library/ubuntu").
func repositoryPath(image string) string {
	first, rest, ok := strings.Cut(image, "/")
	switch {
	case !ok:
		return "library/" + image
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return rest
	}
	return image
}

// s3Path reads an s3 storage path ("bucket/folder/sub").
func s3Path(io fdl.StorageIO) (Path, bool) {
	typ, _ := fdl.ParseProvider(io.StorageProvider)
	if typ != "s3" {
		return Path{}, false
	}
	b, folder, _ := strings.Cut(strings.Trim(io.Path, "/"), "/")
	return Path{Bucket: b, Folder: folder}, true
}

// Step is one AWS call a deploy or delete made, for the plan's log.
type Step struct {
	Call   string // e.g. "lambda:CreateFunction"
	Target string
}

// Result says what a deploy did.
type Result struct {
	FunctionARN string
	Created     bool // false: the function existed and was updated
	Steps       []Step
}

type run struct {
	c     *Clients
	steps []Step
}

func (r *run) step(call, target string) { r.steps = append(r.steps, Step{call, target}) }

// Deploy creates the function and its triggers, or updates them when the
// function exists. It is safe to repeat.
func Deploy(ctx context.Context, c *Clients, f *Function) (*Result, error) {
	r := &run{c: c}
	res := &Result{}
	op := fmt.Sprintf("deploy AWS function %q", f.Name)
	wrap := func(err error) error { return awsError(op, err) }

	owner, account, err := r.owner(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	env, err := environment(f)
	if err != nil {
		return nil, invalid(op, "encode the FDL entry: %v", err)
	}
	// The API comes first, as with SCAR, so that its id is in the
	// function's environment (where `scar rm` looks for it).
	apiID := ""
	if gw := f.Entry.APIGateway; gw != nil && gw.Name != "" {
		arn := "arn:aws:lambda:" + c.Lambda.Options().Region + ":" + account + ":function:" + f.Name
		if apiID, err = r.api(ctx, gw.Name, arn); err != nil {
			return nil, wrap(err)
		}
		env[EnvAPIGatewayID] = apiID
	}
	l := f.Entry.Lambda
	arch := architectures(l.Architectures)
	vpc, err := vpcConfig(l.VPC)
	if err != nil {
		return nil, invalid(op, "%s.lambda.vpc: %v", f.Entry.Path, err)
	}
	fs, err := fileSystems(l.FileSystem)
	if err != nil {
		return nil, invalid(op, "%s.lambda.file_system: %v", f.Entry.Path, err)
	}

	r.step("lambda:GetFunction", f.Name)
	got, err := c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &f.Name})
	var nf *ltypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		r.step("lambda:CreateFunction", f.Name)
		out, err := c.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName:      &f.Name,
			PackageType:       ltypes.PackageTypeImage,
			Code:              &ltypes.FunctionCode{ImageUri: &f.Image},
			Role:              &f.Role,
			MemorySize:        positive(l.Memory),
			Timeout:           positive(l.Timeout),
			Architectures:     arch,
			Description:       nonEmpty(l.Description),
			Environment:       &ltypes.Environment{Variables: env},
			VpcConfig:         vpc,
			FileSystemConfigs: fs,
			Tags:              map[string]string{TagCreatedBy: CreatedBy, TagOwner: owner},
		})
		if err != nil {
			return nil, wrap(err)
		}
		res.Created, res.FunctionARN = true, aws.ToString(out.FunctionArn)
		r.step("lambda:GetFunction (waiter FunctionActiveV2)", f.Name)
		if err := lambda.NewFunctionActiveV2Waiter(c.Lambda).Wait(ctx, &lambda.GetFunctionInput{FunctionName: &f.Name}, waitTimeout); err != nil {
			return nil, wrap(err)
		}
	case err != nil:
		return nil, wrap(err)
	default:
		res.FunctionARN = aws.ToString(got.Configuration.FunctionArn)
		r.step("lambda:UpdateFunctionCode", f.Name)
		if _, err := c.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
			FunctionName: &f.Name, ImageUri: &f.Image, Architectures: arch,
		}); err != nil {
			return nil, wrap(err)
		}
		if err := r.waitUpdated(ctx, f.Name); err != nil {
			return nil, wrap(err)
		}
		if vpc == nil && got.Configuration.VpcConfig != nil && len(got.Configuration.VpcConfig.SubnetIds) > 0 {
			vpc = &ltypes.VpcConfig{SubnetIds: []string{}, SecurityGroupIds: []string{}} // detach
		}
		if fs == nil && len(got.Configuration.FileSystemConfigs) > 0 {
			fs = []ltypes.FileSystemConfig{}
		}
		r.step("lambda:UpdateFunctionConfiguration", f.Name)
		if _, err := c.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName:      &f.Name,
			Role:              &f.Role,
			MemorySize:        positive(l.Memory),
			Timeout:           positive(l.Timeout),
			Description:       nonEmpty(l.Description),
			Environment:       &ltypes.Environment{Variables: env},
			VpcConfig:         vpc,
			FileSystemConfigs: fs,
		}); err != nil {
			return nil, wrap(err)
		}
		if err := r.waitUpdated(ctx, f.Name); err != nil {
			return nil, wrap(err)
		}
		r.step("lambda:TagResource", res.FunctionARN)
		if _, err := c.Lambda.TagResource(ctx, &lambda.TagResourceInput{
			Resource: &res.FunctionARN, Tags: map[string]string{TagCreatedBy: CreatedBy, TagOwner: owner},
		}); err != nil {
			return nil, wrap(err)
		}
	}

	if apiID != "" {
		if err := r.apiPermission(ctx, f.Name, apiID, account); err != nil {
			return nil, wrap(err)
		}
	}
	if err := r.logGroup(ctx, f); err != nil {
		return nil, wrap(err)
	}
	for _, in := range f.Inputs {
		if err := r.input(ctx, f.Name, res.FunctionARN, in); err != nil {
			return nil, wrap(err)
		}
	}
	for _, out := range f.Outputs {
		if err := r.bucket(ctx, out.Bucket); err != nil {
			return nil, wrap(err)
		}
	}
	if usesBatch(f) {
		if err := r.batch(ctx, f); err != nil {
			return nil, wrap(err)
		}
	}
	res.Steps = r.steps
	return res, nil
}

func (r *run) waitUpdated(ctx context.Context, name string) error {
	r.step("lambda:GetFunction (waiter FunctionUpdatedV2)", name)
	return lambda.NewFunctionUpdatedV2Waiter(r.c.Lambda).Wait(ctx, &lambda.GetFunctionInput{FunctionName: &name}, waitTimeout)
}

// owner is the IAM user name (or the caller's id) SCAR tags with, and
// the caller's account.
func (r *run) owner(ctx context.Context) (owner, account string, err error) {
	r.step("sts:GetCallerIdentity", "")
	id, err := r.c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	return OwnerOf(aws.ToString(id.Arn), aws.ToString(id.UserId)), aws.ToString(id.Account), nil
}

// OwnerOf is SCAR's owner tag: the IAM user name from the caller's ARN,
// else the caller's user id.
func OwnerOf(arn, userID string) string {
	if _, user, ok := strings.Cut(arn, ":user/"); ok {
		if i := strings.LastIndexByte(user, '/'); i >= 0 {
			user = user[i+1:]
		}
		return user
	}
	return userID
}

// LogGroup is the CloudWatch log group of a function.
func LogGroup(name string) string { return "/aws/lambda/" + name }

func (r *run) logGroup(ctx context.Context, f *Function) error {
	g := LogGroup(f.Name)
	r.step("logs:CreateLogGroup", g)
	_, err := r.c.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &g})
	var exists *logtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	days := int32(DefaultLogRetentionDays)
	if cw := f.Entry.CloudWatch; cw != nil && cw.LogRetentionPolicyInDays > 0 {
		days = int32(cw.LogRetentionPolicyInDays)
	}
	r.step("logs:PutRetentionPolicy", g)
	_, err = r.c.Logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: &g, RetentionInDays: &days})
	return err
}

func (r *run) bucket(ctx context.Context, b string) error {
	r.step("s3:CreateBucket", b)
	_, err := r.c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return err
	}
	return nil
}

// permissionID is the statement id of the S3 invoke permission of a
// function for one bucket.
func permissionID(bucket string) string { return "fdlstudio-s3-" + bucket }

// notificationID is the id of our notification entry for one input.
func notificationID(function string, p Path) string {
	return "fdlstudio-" + function + "-" + strings.Trim(strings.ReplaceAll(p.Prefix(), "/", "-"), "-")
}

func (r *run) input(ctx context.Context, function, arn string, p Path) error {
	if err := r.bucket(ctx, p.Bucket); err != nil {
		return err
	}
	if p.Folder != "" {
		key := p.Prefix()
		r.step("s3:PutObject", p.Bucket+"/"+key)
		if _, err := r.c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &p.Bucket, Key: &key, Body: strings.NewReader("")}); err != nil {
			return err
		}
	}
	r.step("lambda:AddPermission", function)
	_, err := r.c.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: &function,
		StatementId:  aws.String(permissionID(p.Bucket)),
		Action:       aws.String("lambda:InvokeFunction"),
		Principal:    aws.String("s3.amazonaws.com"),
		SourceArn:    aws.String("arn:aws:s3:::" + p.Bucket),
	})
	var conflict *ltypes.ResourceConflictException
	if err != nil && !errors.As(err, &conflict) { // already granted by an earlier deploy
		return err
	}
	return r.notify(ctx, p.Bucket, func(cfgs []s3types.LambdaFunctionConfiguration) []s3types.LambdaFunctionConfiguration {
		id := notificationID(function, p)
		kept := cfgs[:0]
		for _, c := range cfgs {
			if aws.ToString(c.Id) != id {
				kept = append(kept, c)
			}
		}
		return append(kept, s3types.LambdaFunctionConfiguration{
			Id:                aws.String(id),
			LambdaFunctionArn: &arn,
			Events:            []s3types.Event{"s3:ObjectCreated:*"},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{
				FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String(p.Prefix())}},
			}},
		})
	})
}

// notify reads a bucket's notification configuration, lets edit change
// its Lambda entries, and writes it back with every other entry kept.
func (r *run) notify(ctx context.Context, bucket string, edit func([]s3types.LambdaFunctionConfiguration) []s3types.LambdaFunctionConfiguration) error {
	r.step("s3:GetBucketNotificationConfiguration", bucket)
	cur, err := r.c.S3.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
	if err != nil {
		return err
	}
	r.step("s3:PutBucketNotificationConfiguration", bucket)
	_, err = r.c.S3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: &bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{
			LambdaFunctionConfigurations: edit(cur.LambdaFunctionConfigurations),
			QueueConfigurations:          cur.QueueConfigurations,
			TopicConfigurations:          cur.TopicConfigurations,
			EventBridgeConfiguration:     cur.EventBridgeConfiguration,
		},
	})
	return err
}

// environment is the function's variables: the FDL's, then FDL (the
// entry as base64 YAML, as SCAR writes it).
func environment(f *Function) (map[string]string, error) {
	env := map[string]string{}
	l := f.Entry.Lambda
	if l.Environment != nil {
		for k, v := range l.Environment.Variables {
			env[k] = v
		}
	}
	if l.Container.Environment != nil {
		for k, v := range l.Container.Environment.Variables {
			env[k] = v
		}
	}
	b, err := yaml.Marshal(f.Entry)
	if err != nil {
		return nil, err
	}
	env[EnvFDL] = base64.StdEncoding.EncodeToString(b)
	return env, nil
}

// DecodeFDL reads back the entry stored in a function's FDL variable.
func DecodeFDL(v string) (*fdl.AWSEntry, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("FDL variable is not base64: %w", err)
	}
	var e fdl.AWSEntry
	if err := yaml.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("FDL variable is not an FDL entry: %w", err)
	}
	return &e, nil
}

func architectures(a []string) []ltypes.Architecture {
	var out []ltypes.Architecture
	for _, s := range a {
		out = append(out, ltypes.Architecture(s))
	}
	return out
}

// vpcConfig reads SCAR's `vpc: {SubnetIds: [...], SecurityGroupIds: [...]}`.
func vpcConfig(v map[string]any) (*ltypes.VpcConfig, error) {
	if len(v) == 0 {
		return nil, nil
	}
	sub, err := strings_(v["SubnetIds"], "SubnetIds")
	if err != nil {
		return nil, err
	}
	sg, err := strings_(v["SecurityGroupIds"], "SecurityGroupIds")
	if err != nil {
		return nil, err
	}
	return &ltypes.VpcConfig{SubnetIds: sub, SecurityGroupIds: sg}, nil
}

func strings_(v any, key string) ([]string, error) {
	if v == nil {
		return []string{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of strings", key)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

// fileSystems reads SCAR's `file_system: [{Arn: ..., LocalMountPath: ...}]`.
func fileSystems(v any) ([]ltypes.FileSystemConfig, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []ltypes.FileSystemConfig
	for i, x := range list {
		m, ok := x.(map[string]any)
		arn, _ := m["Arn"].(string)
		mount, _ := m["LocalMountPath"].(string)
		if !ok || arn == "" || mount == "" {
			return nil, fmt.Errorf("entry %d needs Arn and LocalMountPath", i)
		}
		out = append(out, ltypes.FileSystemConfig{Arn: aws.String(arn), LocalMountPath: aws.String(mount)})
	}
	return out, nil
}

func positive(n int) *int32 {
	if n <= 0 {
		return nil
	}
	v := int32(n)
	return &v
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// awsError turns an SDK error into the backends error of its kind.
func awsError(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	kind := backends.KindUnavailable
	msg := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorCode() + ": " + ae.ErrorMessage()
		code := ae.ErrorCode()
		switch {
		case strings.Contains(code, "NotFound"), code == "NoSuchBucket", code == "NoSuchKey":
			kind = backends.KindNotFound
		case strings.Contains(code, "Conflict"), strings.Contains(code, "AlreadyExists"):
			kind = backends.KindConflict
		case code == "AccessDeniedException", code == "AccessDenied":
			kind = backends.KindForbidden
		case strings.Contains(code, "Unrecognized"), strings.Contains(code, "InvalidClientTokenId"), code == "ExpiredToken", code == "SignatureDoesNotMatch":
			kind = backends.KindUnauthorized
		case strings.Contains(code, "Invalid"), strings.Contains(code, "Validation"):
			kind = backends.KindInvalid
		}
		return &backends.Error{Kind: kind, Op: op, Message: msg}
	}
	return &backends.Error{Kind: kind, Op: op, Err: err}
}
