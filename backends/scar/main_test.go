package scar_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/scar/awstest"
)

// TestMain doubles as the Lambda function the Runtime Interface Emulator
// runs: started as its bootstrap (AWS_LAMBDA_RUNTIME_API set), this test
// binary serves the Runtime API with handle instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv(awstest.EnvRuntimeAPI) != "" {
		if err := awstest.ServeRuntimeAPI(handle); err != nil {
			fmt.Fprintln(os.Stderr, "bootstrap:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// handle is the function: it prints a line per S3 record (its log) and
// answers {"handled": N}; a payload {"fail": true} makes it fail.
func handle(id string, payload []byte) ([]byte, error) {
	var ev struct {
		Fail    bool `json:"fail"`
		Records []struct {
			S3 struct {
				Bucket struct{ Name string } `json:"bucket"`
				Object struct{ Key string }  `json:"object"`
			} `json:"s3"`
		}
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		fmt.Printf("payload of %d bytes is not JSON\n", len(payload))
	}
	for _, r := range ev.Records {
		fmt.Printf("processing s3://%s/%s\n", r.S3.Bucket.Name, r.S3.Object.Key)
	}
	if ev.Fail {
		fmt.Println("failing as asked")
		return nil, errors.New("asked to fail")
	}
	return json.Marshal(map[string]any{"handled": len(ev.Records), "bytes": len(payload)})
}
