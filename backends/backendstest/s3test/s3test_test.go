package s3test_test

import (
	"net/http"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends/backendstest/s3test"
)

func TestStartAnswersAndRejectsUnsigned(t *testing.T) {
	s := s3test.Start(t)
	resp, err := http.Get(s.Endpoint + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// An unsigned request must be refused: the server really checks keys.
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET / = %d, want 403", resp.StatusCode)
	}
}
