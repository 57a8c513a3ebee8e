package scar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	btypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/fdlstudio/fdlstudio/backends"
)

// BatchLogGroup is the log group AWS Batch writes job output to.
const BatchLogGroup = "/aws/batch/job"

// executionMode is a function's lambda.execution_mode as its FDL
// variable says ("" when it has none: lambda).
func executionMode(fc *ltypes.FunctionConfiguration) string {
	if fc == nil || fc.Environment == nil {
		return ""
	}
	e, err := DecodeFDL(fc.Environment.Variables[EnvFDL])
	if err != nil || e.Lambda == nil {
		return ""
	}
	return e.Lambda.ExecutionMode
}

func isBatchMode(mode string) bool { return mode == "batch" || mode == "lambda-batch" }

// batchStatus maps an AWS Batch job status to a job status.
func batchStatus(s btypes.JobStatus) backends.JobStatus {
	switch s {
	case btypes.JobStatusSucceeded:
		return backends.JobSucceeded
	case btypes.JobStatusFailed:
		return backends.JobFailed
	case btypes.JobStatusStarting, btypes.JobStatusRunning:
		return backends.JobRunning
	}
	return backends.JobPending // SUBMITTED, PENDING, RUNNABLE
}

func millis(v *int64) time.Time {
	if v == nil || *v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*v)
}

// batchJobs lists the jobs of the function's Batch queue (named after
// it), whatever their status: with a filter, ListJobs returns every
// status (without one, only RUNNING jobs).
func (b *Backend) batchJobs(ctx context.Context, service string) ([]*invocation, error) {
	var out []*invocation
	p := batch.NewListJobsPaginator(b.c.Batch, &batch.ListJobsInput{
		JobQueue: aws.String(service),
		Filters:  []btypes.KeyValuesPair{{Name: aws.String("AFTER_CREATED_AT"), Values: []string{"0"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			var ce *btypes.ClientException
			if errors.As(err, &ce) && strings.Contains(aws.ToString(ce.Message), "does not exist") {
				return nil, nil // no queue: no jobs
			}
			return nil, err
		}
		for _, j := range page.JobSummaryList {
			out = append(out, &invocation{batch: true, job: backends.Job{
				Name: aws.ToString(j.JobId), Status: batchStatus(j.Status),
				CreationTime: millis(j.CreatedAt), StartTime: millis(j.StartedAt), FinishTime: millis(j.StoppedAt),
			}})
		}
	}
	return out, nil
}

// batchLog reads a Batch job's output from its log stream.
func (b *Backend) batchLog(ctx context.Context, op, job string, timestamps bool) (string, error) {
	d, err := b.c.Batch.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{job}})
	if err != nil {
		return "", b.wrap(op, err)
	}
	if len(d.Jobs) == 0 {
		return "", b.fail(op, backends.KindNotFound, "no such invocation or Batch job")
	}
	var stream string
	if c := d.Jobs[0].Container; c != nil {
		stream = aws.ToString(c.LogStreamName)
	}
	if stream == "" {
		return "", nil // not started: no output yet
	}
	var sb strings.Builder
	p := cloudwatchlogs.NewFilterLogEventsPaginator(b.c.Logs, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(BatchLogGroup), LogStreamNames: []string{stream}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *logtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", nil
		}
		if err != nil {
			return "", b.wrap(op, err)
		}
		for _, ev := range page.Events {
			if timestamps {
				sb.WriteString(time.UnixMilli(aws.ToInt64(ev.Timestamp)).UTC().Format(time.RFC3339Nano) + " ")
			}
			sb.WriteString(strings.TrimRight(aws.ToString(ev.Message), "\n") + "\n")
		}
	}
	return sb.String(), nil
}

// submitBatch submits a job to the function's Batch queue with the event
// in EVENT, as SCAR's supervisor does for execution_mode batch.
func (b *Backend) submitBatch(ctx context.Context, op, service string, event []byte) (backends.JobRef, error) {
	out, err := b.c.Batch.SubmitJob(ctx, &batch.SubmitJobInput{
		JobName:       aws.String(fmt.Sprintf("%s-%d", service, time.Now().UnixMilli())),
		JobQueue:      aws.String(service),
		JobDefinition: aws.String(service),
		ContainerOverrides: &btypes.ContainerOverrides{Environment: []btypes.KeyValuePair{
			{Name: aws.String("EVENT"), Value: aws.String(string(event))},
		}},
	})
	if err != nil {
		return backends.JobRef{}, b.wrap(op, err)
	}
	return backends.JobRef{Name: aws.ToString(out.JobId)}, nil
}
