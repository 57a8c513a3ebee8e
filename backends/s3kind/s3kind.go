// Package s3kind reads the errors of an S3 server, as minio-go reports
// them, as backend error kinds. Every backend that moves files over S3
// (OSCAR's MinIO, AWS S3) uses it, so one code means one kind everywhere.
package s3kind

import (
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Of returns the kind of a minio-go error and the S3 server's message
// (its code when it sent no message; "" for an error that never reached a
// server, whose kind is then KindUnavailable).
func Of(err error) (backends.Kind, string) {
	resp := minio.ToErrorResponse(err)
	msg := resp.Message
	if msg == "" {
		msg = resp.Code
	}
	switch resp.Code {
	case "NoSuchBucket", "NoSuchKey", "NotFound", "NoSuchUpload":
		return backends.KindNotFound, msg
	case "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "BucketNotEmpty":
		return backends.KindConflict, msg
	case "AccessDenied", "AllAccessDisabled":
		return backends.KindForbidden, msg
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		return backends.KindUnauthorized, msg
	case "InvalidBucketName", "InvalidArgument", "KeyTooLongError", "EntityTooLarge", "EntityTooSmall", "InvalidObjectName", "XMinioInvalidObjectName":
		return backends.KindInvalid, msg
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return backends.KindUnauthorized, msg
	case s == http.StatusForbidden:
		return backends.KindForbidden, msg
	case s == http.StatusNotFound:
		return backends.KindNotFound, msg
	case s == http.StatusConflict:
		return backends.KindConflict, msg
	case s == http.StatusMethodNotAllowed || s == http.StatusNotImplemented:
		return backends.KindUnsupported, msg
	case s >= 400 && s < 500:
		return backends.KindInvalid, msg
	}
	return backends.KindUnavailable, msg
}
