package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
	"github.com/fdlstudio/fdlstudio/backends/oscar/oscartest"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
	"github.com/fdlstudio/fdlstudio/store"
)

// TestAWSFunctionsBesideOSCAR: an AWS account's Lambda functions show on
// the services page beside an OSCAR cluster's services, run from there,
// and its S3 buckets show on the files page; both reached through the
// registry by kind (AWS on the fake control plane, files on a real S3
// server).
func TestAWSFunctionsBesideOSCAR(t *testing.T) {
	ctx := t.Context()
	s3 := s3test.Start(t)
	osc := oscartest.NewServer(t, oscartest.Options{S3Endpoint: s3.Endpoint, S3AccessKey: s3.AccessKey, S3SecretKey: s3.SecretKey})
	fake := awstest.Start(t, s3.Endpoint, awstest.RuntimeFunc(func(_ context.Context, fn string, payload []byte) (awstest.Invocation, error) {
		return awstest.Invocation{Payload: []byte(`{"from":"` + fn + `"}`), Log: []string{"ran " + fn}}, nil
	}))
	reg := oscartest.Registry(nil)
	scar.Register(reg, scar.Options{
		Ways:      []string{scar.WayUser},
		Defaults:  scar.Defaults{Role: "arn:aws:iam::123456789012:role/lambda"},
		Endpoints: fake.Endpoints(),
	})
	egiRec := store.Cluster{Name: "egi", Kind: store.KindOSCAR, Endpoint: osc.URL, AuthKind: store.AuthBasic, Username: "oscar", Password: "oscar-pass", Shared: true}
	labRec := store.Cluster{Name: "lab", Kind: store.KindAWS, Endpoint: awstest.Region, AuthKind: store.AuthAWSKeys, Username: s3.AccessKey, Password: s3.SecretKey, Shared: true}
	egi, err := reg.Backend(ctx, egiRec, backends.Acting{})
	if err != nil {
		t.Fatal(err)
	}
	lab, err := reg.Backend(ctx, labRec, backends.Acting{})
	if err != nil {
		t.Fatal(err)
	}
	if err := egi.CreateService(ctx, &backends.Service{Name: "blurry-faces", Image: "grycap/blurry-faces", Script: "echo hi"}); err != nil {
		t.Fatal(err)
	}
	if err := lab.CreateService(ctx, &backends.Service{Name: "mask-detector", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mask:1", Memory: "1Gi",
		Input: []backends.StorageIOConfig{{StorageProvider: "s3", Path: "masks/in"}}}); err != nil {
		t.Fatal(err)
	}
	// A Lambda function SCAR did not create (no createdby tag) stays off the page.
	if _, err := lab.(*scar.Backend).Clients().Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("someone-elses"), PackageType: ltypes.PackageTypeImage, Role: aws.String("arn:aws:iam::123456789012:role/x"),
		Code: &ltypes.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")},
	}); err != nil {
		t.Fatal(err)
	}

	h := New(Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clusters: noClusters{}, Backends: reg,
		SharedClusters: []store.Cluster{egiRec, labRec},
	})
	k := &twoKinds{t: t, e: echo.New()}
	k.e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(auth.WithUser(c.Request().Context(), &auth.User{ID: 1, Mode: auth.ModeLocal})))
			return next(c)
		}
	})
	k.e.GET("/services", h.ShowServices)
	k.e.GET("/files/:cluster", h.ShowBuckets)
	k.e.POST("/services/:cluster/:name/run", h.RunService)

	page := k.page("/services", "blurry-faces", "mask-detector", "1024Mi")
	if strings.Contains(page, "someone-elses") {
		t.Error("a function without createdby=scar is listed")
	}
	if strings.Contains(page, s3.SecretKey) {
		t.Error("the services page contains the AWS secret key")
	}
	k.page("/files/lab", "masks")
	rec := k.do(http.MethodPost, "/services/lab/mask-detector/run", map[string][]string{"payload": {`{"x":1}`}})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "{&#34;from&#34;:&#34;mask-detector&#34;}") {
		t.Errorf("run the AWS function: %d %s", rec.Code, rec.Body)
	}
}
