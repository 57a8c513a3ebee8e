package local

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// apiBucket is OSCAR's utils.MinIOBucket. The local cluster has one user,
// so visibility is recorded as given but not enforced.
type apiBucket struct {
	BucketName   string            `json:"bucket_name"`
	Visibility   string            `json:"visibility"`
	AllowedUsers []string          `json:"allowed_users"`
	Owner        string            `json:"owner"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func (c *Cluster) bucketRoutes(sys *http.ServeMux) {
	sys.HandleFunc("GET /system/buckets", c.handleListBuckets)
	sys.HandleFunc("POST /system/buckets", c.handleCreateBucket)
	sys.HandleFunc("PUT /system/buckets", c.handleUpdateBucket)
	sys.HandleFunc("GET /system/buckets/{bucket}", c.handleListObjects)
	sys.HandleFunc("DELETE /system/buckets/{bucket}", c.handleDeleteBucket)
	sys.HandleFunc("POST /system/buckets/{bucket}/presign", c.handlePresign)
}

func (c *Cluster) handleListBuckets(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	bs, err := c.store.ListBuckets(r.Context())
	if err != nil {
		textError(w, http.StatusBadGateway, "list buckets: "+err.Error())
		return
	}
	out := make([]apiBucket, 0, len(bs))
	for _, b := range bs {
		out = append(out, apiBucket{BucketName: b.Name, Visibility: "private", AllowedUsers: []string{}, Owner: "cluster_admin"})
	}
	writeJSON(w, http.StatusOK, out)
}

func decodeBucket(r *http.Request) (apiBucket, error) {
	var b apiBucket
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		return b, badf("bucket definition is not valid JSON: %v", err)
	}
	if !bucketNameRE.MatchString(b.BucketName) || strings.Contains(b.BucketName, "..") {
		return b, badf("bucket_name %q is not a valid bucket name (3-63 lowercase letters, digits, '.' or '-')", b.BucketName)
	}
	return b, nil
}

func (c *Cluster) handleCreateBucket(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	b, err := decodeBucket(r)
	if err != nil {
		c.serviceError(w, err)
		return
	}
	c.bucketsMu.Lock()
	defer c.bucketsMu.Unlock()
	exists, err := c.store.BucketExists(r.Context(), b.BucketName)
	if err != nil {
		textError(w, http.StatusBadGateway, fmt.Sprintf("check bucket %s: %v", b.BucketName, err))
		return
	}
	if exists {
		textError(w, http.StatusConflict, fmt.Sprintf("bucket %q already exists", b.BucketName))
		return
	}
	if err := c.store.MakeBucket(r.Context(), b.BucketName, minio.MakeBucketOptions{Region: c.s3Region}); err != nil {
		textError(w, http.StatusBadGateway, fmt.Sprintf("create bucket %s: %v", b.BucketName, err))
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (c *Cluster) handleUpdateBucket(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	b, err := decodeBucket(r)
	if err != nil {
		c.serviceError(w, err)
		return
	}
	if !c.bucketFound(w, r, b.BucketName) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bucketFound answers 404 (or 502) itself when the bucket is missing.
func (c *Cluster) bucketFound(w http.ResponseWriter, r *http.Request, name string) bool {
	exists, err := c.store.BucketExists(r.Context(), name)
	if err != nil {
		textError(w, http.StatusBadGateway, fmt.Sprintf("check bucket %s: %v", name, err))
		return false
	}
	if !exists {
		textError(w, http.StatusNotFound, fmt.Sprintf("bucket %q does not exist", name))
		return false
	}
	return true
}

func (c *Cluster) handleDeleteBucket(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	name := r.PathValue("bucket")
	if !c.bucketFound(w, r, name) {
		return
	}
	if err := c.removeBucket(r.Context(), name); err != nil {
		textError(w, http.StatusBadGateway, fmt.Sprintf("delete bucket %s: %v", name, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleListObjects is GET /system/buckets/{bucket}: one page of objects
// (1000 at most), continued with ?page=<next_page>.
func (c *Cluster) handleListObjects(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	name := r.PathValue("bucket")
	if !c.bucketFound(w, r, name) {
		return
	}
	const limit = 1000
	type object struct {
		ObjectName   string `json:"object_name"`
		SizeBytes    int64  `json:"size_bytes"`
		LastModified string `json:"last_modified"`
		Owner        string `json:"owner"`
	}
	objs := []object{}
	truncated := false
	for o := range c.store.ListObjects(r.Context(), name, minio.ListObjectsOptions{Recursive: true, StartAfter: r.URL.Query().Get("page")}) {
		if o.Err != nil {
			textError(w, http.StatusBadGateway, fmt.Sprintf("list bucket %s: %v", name, o.Err))
			return
		}
		if len(objs) == limit {
			truncated = true
			break
		}
		objs = append(objs, object{ObjectName: o.Key, SizeBytes: o.Size, LastModified: o.LastModified.UTC().Format(time.RFC3339), Owner: "cluster_admin"})
	}
	next := ""
	if truncated {
		next = objs[len(objs)-1].ObjectName
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"bucket_name": name, "visibility": "private", "allowed_users": []string{}, "owner": "cluster_admin",
		"objects": objs, "is_truncated": truncated, "next_page": next, "returned_items": len(objs),
	})
}

// handlePresign is POST /system/buckets/{bucket}/presign (OSCAR v3.6.4+).
func (c *Cluster) handlePresign(w http.ResponseWriter, r *http.Request) {
	if !c.ready(w) {
		return
	}
	var in struct {
		ObjectKey   string `json:"object_key"`
		Operation   string `json:"operation"`
		ExpiresIn   int    `json:"expires_in"`
		ContentType string `json:"content_type"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		textError(w, http.StatusBadRequest, "presign request is not valid JSON: "+err.Error())
		return
	}
	if in.ObjectKey == "" {
		textError(w, http.StatusBadRequest, "presign request: object_key is required")
		return
	}
	exp := time.Duration(in.ExpiresIn) * time.Second
	if in.ExpiresIn == 0 {
		exp = 15 * time.Minute
	}
	if exp < time.Second || exp > 7*24*time.Hour {
		textError(w, http.StatusBadRequest, fmt.Sprintf("presign request: expires_in %d must be between 1 and 604800 seconds", in.ExpiresIn))
		return
	}
	bucket := r.PathValue("bucket")
	if !c.bucketFound(w, r, bucket) {
		return
	}
	var (
		u      *url.URL
		err    error
		method string
	)
	headers := map[string]string{}
	switch in.Operation {
	case "download":
		method = http.MethodGet
		u, err = c.store.PresignedGetObject(r.Context(), bucket, in.ObjectKey, exp, nil)
	case "upload":
		method = http.MethodPut
		u, err = c.store.PresignedPutObject(r.Context(), bucket, in.ObjectKey, exp)
		if in.ContentType != "" {
			headers["Content-Type"] = in.ContentType
		}
	default:
		textError(w, http.StatusBadRequest, fmt.Sprintf("presign request: operation %q is not \"upload\" or \"download\"", in.Operation))
		return
	}
	if err != nil {
		textError(w, http.StatusBadGateway, "presign: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url": u.String(), "method": method, "headers": headers,
		"expires_at": time.Now().Add(exp).UTC().Format(time.RFC3339),
		"object_key": in.ObjectKey, "operation": in.Operation,
	})
}
