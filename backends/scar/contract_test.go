package scar_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
)

// newBackend is an AWS account on the fake control plane, with S3 data on
// a real S3 server. The contract's images are on ghcr.io, so the account
// mirrors them into ECR (Defaults.ImageMirror).
func newBackend(t *testing.T, rt awstest.Runtime) (*scar.Backend, *awstest.Fake) {
	t.Helper()
	srv := s3test.Start(t)
	fake := awstest.Start(t, srv.Endpoint, rt)
	b, err := scar.New(scar.Config{
		Name: "test",
		AWS: aws.Config{
			Region:      awstest.Region,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		},
		Defaults:  scar.Defaults{Role: role, ImageMirror: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"},
		Endpoints: fake.Endpoints(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, fake
}

func TestContract(t *testing.T) {
	backendstest.RunContract(t, func(t *testing.T) backends.Backend {
		b, _ := newBackend(t, echoRuntime())
		return b
	})
}
