package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends/oscar"
)

// inputLine is how OSCAR's supervisor (and the local cluster) log the
// object a job was started for.
// The key runs to the last quote of the line, so keys with quotes in
// them are read whole.
var inputLine = regexp.MustCompile(`(?m)Downloading item from bucket '([^']+)' with key '(.+)'\s*$`)

// jobInput finds, in a job's log, the bucket and key of the object whose
// upload started it.
func jobInput(log string) (bucket, key string, ok bool) {
	m := inputLine.FindStringSubmatch(log)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// storageEvent builds the MinIO notification a job receives when key is
// uploaded to bucket, the event OSCAR's jobs parse.
func storageEvent(bucket, key string) ([]byte, error) {
	escaped := url.QueryEscape(key)
	return json.Marshal(map[string]any{
		"EventName": "s3:ObjectCreated:Put",
		"Key":       bucket + "/" + escaped,
		"Records": []any{map[string]any{
			"eventVersion": "2.0",
			"eventSource":  "minio:s3",
			"eventName":    "s3:ObjectCreated:Put",
			"s3": map[string]any{
				"s3SchemaVersion": "1.0",
				"bucket":          map[string]any{"name": bucket},
				"object":          map[string]any{"key": escaped},
			},
		}},
	})
}

// RerunJob handles "POST /services/:cluster/:name/jobs/:job/rerun": it
// starts a new job with the same input object as the old one (found in
// its log), as if the file had been uploaded again.
func (h *Handler) RerunJob(c echo.Context) error {
	cl, b, err := h.serviceBackend(c)
	if err != nil {
		return err
	}
	service, job := c.Param("name"), c.Param("job")
	ctx, cancel := context.WithTimeout(c.Request().Context(), oscar.DefaultLogTimeout)
	defer cancel()
	log, err := b.JobLog(ctx, service, job, false)
	if err != nil {
		return err
	}
	bucket, key, ok := jobInput(log)
	if !ok {
		return userError(http.StatusUnprocessableEntity, fmt.Sprintf(
			"Job %s cannot be re-run: its log does not say which file started it (it was not started by an upload).", job), nil)
	}
	event, err := storageEvent(bucket, key)
	if err != nil {
		return err
	}
	return h.submitAndOpen(c, cl.Name, b, service, bytes.NewReader(event))
}
