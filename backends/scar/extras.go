package scar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	btypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The API Gateway stage SCAR deploys, and the Batch job command it runs.
const (
	APIStage     = "scar"
	batchCommand = "echo $EVENT | /opt/faas-supervisor/bin/supervisor"
	// EnvAPIGatewayID is the variable SCAR keeps the REST API's id in.
	EnvAPIGatewayID = "API_GATEWAY_ID"
	apiPermission   = "fdlstudio-apigateway"
	batchWait       = 5 * time.Minute
)

// usesBatch says whether the function runs (some) jobs on AWS Batch.
func usesBatch(f *Function) bool {
	m := f.Entry.Lambda.ExecutionMode
	return m == "batch" || m == "lambda-batch"
}

// api creates (or finds, by name) the REST API with an ANY {proxy+}
// resource integrated with the function, deployed on stage "scar".
func (r *run) api(ctx context.Context, name, functionARN string) (string, error) {
	c := r.c.APIGateway
	r.step("apigateway:GetRestApis", name)
	var id string
	p := apigateway.NewGetRestApisPaginator(c, &apigateway.GetRestApisInput{})
	for p.HasMorePages() && id == "" {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, a := range page.Items {
			if aws.ToString(a.Name) == name {
				id = aws.ToString(a.Id)
				break
			}
		}
	}
	if id == "" {
		r.step("apigateway:CreateRestApi", name)
		out, err := c.CreateRestApi(ctx, &apigateway.CreateRestApiInput{
			Name:                  &name,
			Description:           aws.String("created by FDL Studio (SCAR compatible)"),
			EndpointConfiguration: &agtypes.EndpointConfiguration{Types: []agtypes.EndpointType{agtypes.EndpointTypeRegional}},
		})
		if err != nil {
			return "", err
		}
		id = aws.ToString(out.Id)
	}
	r.step("apigateway:GetResources", id)
	res, err := c.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: &id})
	if err != nil {
		return "", err
	}
	var root string
	for _, x := range res.Items {
		switch aws.ToString(x.Path) {
		case "/":
			root = aws.ToString(x.Id)
		case "/{proxy+}":
			return id, nil // set up by an earlier deploy; the ARN does not change
		}
	}
	r.step("apigateway:CreateResource", "{proxy+}")
	proxy, err := c.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: &id, ParentId: &root, PathPart: aws.String("{proxy+}")})
	if err != nil {
		return "", err
	}
	r.step("apigateway:PutMethod", "ANY")
	if _, err := c.PutMethod(ctx, &apigateway.PutMethodInput{
		RestApiId: &id, ResourceId: proxy.Id, HttpMethod: aws.String("ANY"), AuthorizationType: aws.String("NONE"),
		RequestParameters: map[string]bool{"method.request.header.X-Amz-Invocation-Type": false},
	}); err != nil {
		return "", err
	}
	region := r.c.APIGateway.Options().Region
	r.step("apigateway:PutIntegration", "AWS_PROXY")
	if _, err := c.PutIntegration(ctx, &apigateway.PutIntegrationInput{
		RestApiId: &id, ResourceId: proxy.Id, HttpMethod: aws.String("ANY"),
		Type: agtypes.IntegrationTypeAwsProxy, IntegrationHttpMethod: aws.String("POST"),
		Uri:               aws.String("arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + functionARN + "/invocations"),
		RequestParameters: map[string]string{"integration.request.header.X-Amz-Invocation-Type": "method.request.header.X-Amz-Invocation-Type"},
	}); err != nil {
		return "", err
	}
	r.step("apigateway:CreateDeployment", APIStage)
	if _, err := c.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &id, StageName: aws.String(APIStage)}); err != nil {
		return "", err
	}
	return id, nil
}

// apiPermission lets API Gateway invoke the function.
func (r *run) apiPermission(ctx context.Context, name, apiID, account string) error {
	region := r.c.Lambda.Options().Region
	r.step("lambda:AddPermission", apiPermission)
	_, err := r.c.Lambda.AddPermission(ctx, &lambda.AddPermissionInput{
		FunctionName: &name, StatementId: aws.String(apiPermission),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("apigateway.amazonaws.com"),
		SourceArn: aws.String("arn:aws:execute-api:" + region + ":" + account + ":" + apiID + "/" + APIStage + "/ANY/*"),
	})
	var conflict *ltypes.ResourceConflictException
	if err != nil && !errors.As(err, &conflict) {
		return err
	}
	return nil
}

// deleteAPI removes the REST API named name, if any.
func (r *run) deleteAPI(ctx context.Context, name string) error {
	r.step("apigateway:GetRestApis", name)
	p := apigateway.NewGetRestApisPaginator(r.c.APIGateway, &apigateway.GetRestApisInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range page.Items {
			if aws.ToString(a.Name) == name {
				r.step("apigateway:DeleteRestApi", aws.ToString(a.Id))
				if _, err := r.c.APIGateway.DeleteRestApi(ctx, &apigateway.DeleteRestApiInput{RestApiId: a.Id}); err != nil {
					return err
				}
				return nil
			}
		}
	}
	return nil
}

// batch creates the compute environment and job queue named after the
// function (when absent) and registers a new revision of its job
// definition.
func (r *run) batch(ctx context.Context, f *Function) error {
	c := r.c.Batch
	b := f.Entry.Batch
	name := f.Name
	r.step("batch:DescribeComputeEnvironments", name)
	ces, err := c.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{name}})
	if err != nil {
		return err
	}
	if len(ces.ComputeEnvironments) == 0 {
		cr := b.ComputeResources
		typ := btypes.CRType(strings.ToUpper(cr.Type))
		if typ == "" {
			typ = btypes.CRTypeEc2
		}
		in := &batch.CreateComputeEnvironmentInput{
			ComputeEnvironmentName: &name,
			Type:                   btypes.CETypeManaged,
			State:                  btypes.CEStateEnabled,
			ComputeResources: &btypes.ComputeResource{
				Type:             typ,
				MinvCpus:         aws.Int32(int32(cr.MinVCPUs)),
				MaxvCpus:         aws.Int32(int32(max(cr.MaxVCPUs, 1))),
				DesiredvCpus:     aws.Int32(int32(cr.DesiredVCPUs)),
				InstanceTypes:    cr.InstanceTypes,
				Subnets:          cr.Subnets,
				SecurityGroupIds: cr.SecurityGroupIDs,
				InstanceRole:     nonEmpty(cr.InstanceRole),
			},
			ServiceRole: nonEmpty(b.ServiceRole),
		}
		if len(in.ComputeResources.InstanceTypes) == 0 {
			in.ComputeResources.InstanceTypes = []string{"m3.medium"}
		}
		r.step("batch:CreateComputeEnvironment", name)
		if _, err := c.CreateComputeEnvironment(ctx, in); err != nil {
			return err
		}
		if err := r.waitCE(ctx, name, false); err != nil {
			return err
		}
	}
	r.step("batch:DescribeJobQueues", name)
	qs, err := c.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{name}})
	if err != nil {
		return err
	}
	if len(qs.JobQueues) == 0 {
		r.step("batch:CreateJobQueue", name)
		if _, err := c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{
			JobQueueName: &name, Priority: aws.Int32(1), State: btypes.JQStateEnabled,
			ComputeEnvironmentOrder: []btypes.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: &name}},
		}); err != nil {
			return err
		}
	}
	env := []btypes.KeyValuePair{}
	if b.Environment != nil {
		for k, v := range b.Environment.Variables {
			env = append(env, btypes.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
		}
	}
	req := []btypes.ResourceRequirement{
		{Type: btypes.ResourceTypeVcpu, Value: aws.String(fmt.Sprint(max(b.VCPUs, 1)))},
		{Type: btypes.ResourceTypeMemory, Value: aws.String(fmt.Sprint(max(b.Memory, 1024)))},
	}
	if b.EnableGPU {
		req = append(req, btypes.ResourceRequirement{Type: btypes.ResourceTypeGpu, Value: aws.String("1")})
	}
	r.step("batch:RegisterJobDefinition", name)
	_, err = c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: &name, Type: btypes.JobDefinitionTypeContainer,
		ContainerProperties: &btypes.ContainerProperties{
			Image:                &f.Image,
			Command:              []string{"/bin/sh", "-c", batchCommand},
			Environment:          env,
			ResourceRequirements: req,
		},
		Tags: map[string]string{TagCreatedBy: CreatedBy},
	})
	return err
}

// waitCE polls a compute environment until it is VALID (gone: until it
// no longer exists), for at most batchWait; Batch has no SDK waiter.
func (r *run) waitCE(ctx context.Context, name string, gone bool) error {
	ctx, cancel := context.WithTimeout(ctx, batchWait)
	defer cancel()
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		r.step("batch:DescribeComputeEnvironments", name)
		out, err := r.c.Batch.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{name}})
		if err != nil {
			return err
		}
		if gone && len(out.ComputeEnvironments) == 0 {
			return nil
		}
		if !gone && len(out.ComputeEnvironments) == 1 {
			switch s := out.ComputeEnvironments[0]; s.Status {
			case btypes.CEStatusValid:
				return nil
			case btypes.CEStatusInvalid:
				return fmt.Errorf("batch compute environment %q is INVALID: %s", name, aws.ToString(s.StatusReason))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch compute environment %q: %w", name, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// waitQueue polls a job queue until its state is settled (or it is gone).
func (r *run) waitQueue(ctx context.Context, name string, gone bool) error {
	ctx, cancel := context.WithTimeout(ctx, batchWait)
	defer cancel()
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		r.step("batch:DescribeJobQueues", name)
		out, err := r.c.Batch.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{name}})
		if err != nil {
			return err
		}
		if len(out.JobQueues) == 0 {
			return nil
		}
		q := out.JobQueues[0]
		if !gone && q.Status == btypes.JQStatusValid {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch job queue %q: %w", name, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// deleteBatch removes the queue, the compute environment and every
// active revision of the job definition named after the function. Each
// must be disabled before it can be deleted.
func (r *run) deleteBatch(ctx context.Context, name string) error {
	c := r.c.Batch
	qs, err := c.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{name}})
	if err != nil {
		return err
	}
	if len(qs.JobQueues) > 0 {
		r.step("batch:UpdateJobQueue", name+" DISABLED")
		if _, err := c.UpdateJobQueue(ctx, &batch.UpdateJobQueueInput{JobQueue: &name, State: btypes.JQStateDisabled}); err != nil {
			return err
		}
		if err := r.waitQueue(ctx, name, false); err != nil {
			return err
		}
		r.step("batch:DeleteJobQueue", name)
		if _, err := c.DeleteJobQueue(ctx, &batch.DeleteJobQueueInput{JobQueue: &name}); err != nil {
			return err
		}
		if err := r.waitQueue(ctx, name, true); err != nil {
			return err
		}
	}
	ces, err := c.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{name}})
	if err != nil {
		return err
	}
	if len(ces.ComputeEnvironments) > 0 {
		r.step("batch:UpdateComputeEnvironment", name+" DISABLED")
		if _, err := c.UpdateComputeEnvironment(ctx, &batch.UpdateComputeEnvironmentInput{ComputeEnvironment: &name, State: btypes.CEStateDisabled}); err != nil {
			return err
		}
		if err := r.waitCE(ctx, name, false); err != nil {
			return err
		}
		r.step("batch:DeleteComputeEnvironment", name)
		if _, err := c.DeleteComputeEnvironment(ctx, &batch.DeleteComputeEnvironmentInput{ComputeEnvironment: &name}); err != nil {
			return err
		}
		if err := r.waitCE(ctx, name, true); err != nil {
			return err
		}
	}
	r.step("batch:DescribeJobDefinitions", name)
	p := batch.NewDescribeJobDefinitionsPaginator(c, &batch.DescribeJobDefinitionsInput{JobDefinitionName: &name, Status: aws.String("ACTIVE")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, d := range page.JobDefinitions {
			r.step("batch:DeregisterJobDefinition", aws.ToString(d.JobDefinitionArn))
			if _, err := c.DeregisterJobDefinition(ctx, &batch.DeregisterJobDefinitionInput{JobDefinition: d.JobDefinitionArn}); err != nil {
				return err
			}
		}
	}
	return nil
}
