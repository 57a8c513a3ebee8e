package scar

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/fdlstudio/fdlstudio/fdl"
)

// Delete removes what Deploy created for function name: its entries in
// its input buckets' notifications (other entries stay), the S3 invoke
// permissions, the log group and the function. Buckets and their objects
// stay: they are data, and other functions may share them. The REST API
// and the Batch queue, compute environment and job definitions go too. The inputs are
// read from the function's FDL variable, so functions deployed by SCAR
// are removed the same way.
func Delete(ctx context.Context, c *Clients, name string) ([]Step, error) {
	r := &run{c: c}
	op := fmt.Sprintf("delete AWS function %q", name)
	r.step("lambda:GetFunction", name)
	got, err := c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		return r.steps, awsError(op, err)
	}
	arn := aws.ToString(got.Configuration.FunctionArn)
	var inputs []Path
	var entry *fdl.AWSEntry
	if env := got.Configuration.Environment; env != nil {
		if v, ok := env.Variables[EnvFDL]; ok {
			e, err := DecodeFDL(v)
			if err != nil {
				return r.steps, invalid(op, "%v", err)
			}
			entry = e
			if e.Lambda != nil {
				for _, io := range e.Lambda.Input {
					if p, ok := s3Path(io); ok && p.Bucket != "" {
						inputs = append(inputs, p)
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range inputs {
		if seen[p.Bucket] {
			continue
		}
		seen[p.Bucket] = true
		err := r.notify(ctx, p.Bucket, func(cfgs []s3types.LambdaFunctionConfiguration) []s3types.LambdaFunctionConfiguration {
			kept := cfgs[:0]
			for _, c := range cfgs {
				// Ours: this function's ARN (with or without a qualifier).
				if a := aws.ToString(c.LambdaFunctionArn); a == arn || strings.HasPrefix(a, arn+":") {
					continue
				}
				kept = append(kept, c)
			}
			return kept
		})
		var nf *s3types.NoSuchBucket
		if err != nil && !errors.As(err, &nf) {
			return r.steps, awsError(op, err)
		}
		r.step("lambda:RemovePermission", permissionID(p.Bucket))
		_, err = c.Lambda.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: &name, StatementId: aws.String(permissionID(p.Bucket))})
		var lnf *ltypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &lnf) {
			return r.steps, awsError(op, err)
		}
	}
	if entry != nil && entry.APIGateway != nil && entry.APIGateway.Name != "" {
		if err := r.deleteAPI(ctx, entry.APIGateway.Name); err != nil {
			return r.steps, awsError(op, err)
		}
	}
	if entry != nil && entry.Lambda != nil && (entry.Lambda.ExecutionMode == "batch" || entry.Lambda.ExecutionMode == "lambda-batch") {
		if err := r.deleteBatch(ctx, name); err != nil {
			return r.steps, awsError(op, err)
		}
	}
	g := LogGroup(name)
	r.step("logs:DeleteLogGroup", g)
	_, err = c.Logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &g})
	var gnf *logtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &gnf) {
		return r.steps, awsError(op, err)
	}
	r.step("lambda:DeleteFunction", name)
	if _, err := c.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil {
		return r.steps, awsError(op, err)
	}
	return r.steps, nil
}
