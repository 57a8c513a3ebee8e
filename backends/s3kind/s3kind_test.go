package s3kind

import (
	"errors"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestOf(t *testing.T) {
	tests := []struct {
		err  error
		kind backends.Kind
		msg  string
	}{
		{minio.ErrorResponse{Code: "NoSuchKey", Message: "The specified key does not exist.", StatusCode: 404}, backends.KindNotFound, "The specified key does not exist."},
		{minio.ErrorResponse{Code: "NoSuchUpload", StatusCode: 404}, backends.KindNotFound, "NoSuchUpload"},
		{minio.ErrorResponse{Code: "BucketNotEmpty", StatusCode: 409}, backends.KindConflict, "BucketNotEmpty"},
		{minio.ErrorResponse{Code: "AllAccessDisabled", StatusCode: 403}, backends.KindForbidden, "AllAccessDisabled"},
		{minio.ErrorResponse{Code: "InvalidToken", StatusCode: 400}, backends.KindUnauthorized, "InvalidToken"},
		{minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: 400}, backends.KindInvalid, "EntityTooLarge"},
		{minio.ErrorResponse{Code: "SomethingNew", StatusCode: 405}, backends.KindUnsupported, "SomethingNew"},
		{minio.ErrorResponse{Code: "SomethingNew", StatusCode: 418}, backends.KindInvalid, "SomethingNew"},
		{minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, backends.KindUnavailable, "SlowDown"},
		{errors.New("dial tcp: connection refused"), backends.KindUnavailable, ""},
	}
	for _, tt := range tests {
		kind, msg := Of(tt.err)
		if kind != tt.kind || msg != tt.msg {
			t.Errorf("Of(%v) = %q, %q; want %q, %q", tt.err, kind, msg, tt.kind, tt.msg)
		}
	}
}
