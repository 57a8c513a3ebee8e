package oscar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/s3kind"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Storage limits.
const (
	// PartSize is the multipart chunk: an upload holds at most one part in
	// memory, and an upload of unknown size may reach 10 000 parts (156 GiB).
	PartSize = 16 << 20
	// DefaultPresignExpiry is used when PresignRequest.Expires is 0 (as OSCAR).
	DefaultPresignExpiry = 15 * time.Minute
	// MaxPresignExpiry is the S3 limit.
	MaxPresignExpiry = 7 * 24 * time.Hour
	defaultPageSize  = 1000
)

// minioBucket is utils.MinIOBucket.
type minioBucket struct {
	BucketName   string            `json:"bucket_name"`
	Visibility   string            `json:"visibility,omitempty"`
	AllowedUsers []string          `json:"allowed_users,omitempty"`
	Owner        string            `json:"owner,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

func (b minioBucket) toBackend() backends.Bucket {
	return backends.Bucket{Name: b.BucketName, Visibility: b.Visibility, AllowedUsers: b.AllowedUsers, Owner: b.Owner, Metadata: b.Metadata}
}

func fromBackendBucket(b backends.Bucket) minioBucket {
	return minioBucket{BucketName: b.Name, Visibility: b.Visibility, AllowedUsers: b.AllowedUsers, Owner: b.Owner, Metadata: b.Metadata}
}

// BucketListing is GET /system/buckets/{bucket} (buckets.BucketListResponse).
type BucketListing struct {
	Bucket        backends.Bucket
	Objects       []backends.Object
	IsTruncated   bool
	NextPage      string
	ReturnedItems int
}

// ListBuckets implements backends.Storage: GET /system/buckets on v3.6+,
// the MinIO bucket list before.
func (c *Client) ListBuckets(ctx context.Context) ([]backends.Bucket, error) {
	const op = "list buckets"
	v, err := c.serverVersion(ctx)
	if err != nil {
		return nil, err
	}
	if !v.AtLeast(v3_6_0) {
		mc, err := c.minio(ctx)
		if err != nil {
			return nil, err
		}
		bs, err := mc.ListBuckets(ctx)
		if err != nil {
			return nil, c.s3err(op, err)
		}
		out := make([]backends.Bucket, 0, len(bs))
		for _, b := range bs {
			out = append(out, backends.Bucket{Name: b.Name})
		}
		return out, nil
	}
	var bs []minioBucket
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/buckets"}, nil, &bs); err != nil {
		return nil, err
	}
	out := make([]backends.Bucket, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.toBackend())
	}
	return out, nil
}

// CreateBucket implements backends.Storage: POST /system/buckets on v3.6+
// (so OSCAR sets the visibility policies), MinIO MakeBucket before.
func (c *Client) CreateBucket(ctx context.Context, b backends.Bucket) error {
	op := fmt.Sprintf("create bucket %q", b.Name)
	if err := c.checkName(op, "bucket name", b.Name); err != nil {
		return err
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	if !v.AtLeast(v3_6_0) {
		mc, err := c.minio(ctx)
		if err != nil {
			return err
		}
		return c.s3err(op, mc.MakeBucket(ctx, b.Name, minio.MakeBucketOptions{}))
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodPost, path: "/system/buckets", timeout: DefaultMutateTimeout}, fromBackendBucket(b), nil)
}

// UpdateBucket changes a bucket's visibility or allowed users (PUT
// /system/buckets, v3.6+).
func (c *Client) UpdateBucket(ctx context.Context, b backends.Bucket) error {
	op := fmt.Sprintf("update bucket %q", b.Name)
	if err := c.checkName(op, "bucket name", b.Name); err != nil {
		return err
	}
	if err := c.require(ctx, op, "bucket visibility", v3_6_0); err != nil {
		return err
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodPut, path: "/system/buckets"}, fromBackendBucket(b), nil)
}

// DeleteBucket implements backends.Storage: DELETE /system/buckets/{bucket}
// on v3.6+ (owner or admin only), MinIO otherwise.
func (c *Client) DeleteBucket(ctx context.Context, bucket string) error {
	op := fmt.Sprintf("delete bucket %q", bucket)
	if err := c.checkName(op, "bucket name", bucket); err != nil {
		return err
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	if !v.AtLeast(v3_6_0) {
		mc, err := c.minio(ctx)
		if err != nil {
			return err
		}
		return c.s3err(op, mc.RemoveBucket(ctx, bucket))
	}
	return c.doJSON(ctx, request{op: op, method: http.MethodDelete, path: "/system/buckets/" + escape(bucket), timeout: DefaultMutateTimeout}, nil, nil)
}

// BucketDetails returns GET /system/buckets/{bucket}: the bucket's
// visibility and one page of its objects (OSCAR's own paging, v3.6+).
func (c *Client) BucketDetails(ctx context.Context, bucket, page string) (*BucketListing, error) {
	op := fmt.Sprintf("read bucket %q", bucket)
	if err := c.checkName(op, "bucket name", bucket); err != nil {
		return nil, err
	}
	if err := c.require(ctx, op, "bucket details", v3_6_0); err != nil {
		return nil, err
	}
	q := url.Values{}
	if page != "" {
		q.Set("page", page)
	}
	var r struct {
		minioBucket
		Objects []struct {
			ObjectName   string `json:"object_name"`
			SizeBytes    int64  `json:"size_bytes"`
			LastModified string `json:"last_modified"`
		} `json:"objects"`
		IsTruncated   bool   `json:"is_truncated"`
		NextPage      string `json:"next_page"`
		ReturnedItems int    `json:"returned_items"`
	}
	if err := c.doJSON(ctx, request{op: op, method: http.MethodGet, path: "/system/buckets/" + escape(bucket), query: q}, nil, &r); err != nil {
		return nil, err
	}
	out := &BucketListing{Bucket: r.toBackend(), IsTruncated: r.IsTruncated, NextPage: r.NextPage, ReturnedItems: r.ReturnedItems}
	for _, o := range r.Objects {
		out.Objects = append(out.Objects, backends.Object{Key: o.ObjectName, Size: o.SizeBytes, LastModified: parseTime(o.LastModified)})
	}
	return out, nil
}

// ListObjects implements backends.Storage through MinIO. The page token is
// the last key of the previous page (S3 StartAfter).
func (c *Client) ListObjects(ctx context.Context, bucket string, opts backends.ListObjectsOptions) (*backends.ObjectList, error) {
	op := fmt.Sprintf("list objects in bucket %q", bucket)
	if err := c.checkName(op, "bucket name", bucket); err != nil {
		return nil, err
	}
	mc, err := c.minio(ctx)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit <= 0 || limit > defaultPageSize {
		limit = defaultPageSize
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &backends.ObjectList{}
	for obj := range mc.ListObjects(lctx, bucket, minio.ListObjectsOptions{
		Prefix: opts.Prefix, StartAfter: opts.PageToken, Recursive: true, MaxKeys: limit + 1,
	}) {
		if obj.Err != nil {
			return nil, c.s3err(op, obj.Err)
		}
		if len(out.Objects) == limit {
			out.NextPage = out.Objects[limit-1].Key
			break
		}
		out.Objects = append(out.Objects, backends.Object{
			Key: obj.Key, Size: obj.Size, LastModified: obj.LastModified, ContentType: obj.ContentType, ETag: obj.ETag,
		})
	}
	return out, nil
}

// PutObject implements backends.Storage: a streaming (multipart above
// PartSize) upload through MinIO.
func (c *Client) PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType string) error {
	op := fmt.Sprintf("upload %q to bucket %q", key, bucket)
	if err := c.checkObject(op, bucket, key); err != nil {
		return err
	}
	if size < -1 {
		return c.err(op, backends.KindInvalid, fmt.Sprintf("size %d is negative", size), nil)
	}
	mc, err := c.minio(ctx)
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	_, err = mc.PutObject(ctx, bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType, PartSize: PartSize})
	return c.s3err(op, err)
}

// GetObject implements backends.Storage: a streaming download through MinIO.
func (c *Client) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, *backends.Object, error) {
	op := fmt.Sprintf("download %q from bucket %q", key, bucket)
	if err := c.checkObject(op, bucket, key); err != nil {
		return nil, nil, err
	}
	mc, err := c.minio(ctx)
	if err != nil {
		return nil, nil, err
	}
	obj, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, nil, c.s3err(op, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, nil, c.s3err(op, err)
	}
	return obj, &backends.Object{Key: st.Key, Size: st.Size, LastModified: st.LastModified, ContentType: st.ContentType, ETag: st.ETag}, nil
}

// DeleteObject implements backends.Storage.
func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	op := fmt.Sprintf("delete %q from bucket %q", key, bucket)
	if err := c.checkObject(op, bucket, key); err != nil {
		return err
	}
	mc, err := c.minio(ctx)
	if err != nil {
		return err
	}
	// S3 deletes of absent keys succeed even when the bucket is absent on
	// some servers; check the bucket so the contract holds everywhere.
	ok, err := mc.BucketExists(ctx, bucket)
	if err != nil {
		return c.s3err(op, err)
	}
	if !ok {
		return c.err(op, backends.KindNotFound, fmt.Sprintf("bucket %q does not exist", bucket), nil)
	}
	return c.s3err(op, mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}))
}

// PresignObject implements backends.Storage: OSCAR's
// /system/buckets/{bucket}/presign on v3.6.4+, else signed here with the
// user's MinIO keys (the keys never leave the server; only the URL does).
func (c *Client) PresignObject(ctx context.Context, pr backends.PresignRequest) (*backends.PresignedURL, error) {
	op := fmt.Sprintf("presign %s of %q in bucket %q", pr.Method, pr.Key, pr.Bucket)
	if err := c.checkObject(op, pr.Bucket, pr.Key); err != nil {
		return nil, err
	}
	var operation string
	switch strings.ToUpper(pr.Method) {
	case http.MethodGet:
		operation = "download"
	case http.MethodPut:
		operation = "upload"
	default:
		return nil, c.err(op, backends.KindInvalid, fmt.Sprintf("method %q must be GET or PUT", pr.Method), nil)
	}
	expires := pr.Expires
	if expires == 0 {
		expires = DefaultPresignExpiry
	}
	if expires < time.Second || expires > MaxPresignExpiry {
		return nil, c.err(op, backends.KindInvalid, fmt.Sprintf("expiry %s must be between 1s and 7 days", expires), nil)
	}
	v, err := c.serverVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v.AtLeast(v3_6_4) {
		in := map[string]any{"object_key": pr.Key, "operation": operation, "expires_in": int(expires / time.Second)}
		if pr.ContentType != "" && operation == "upload" {
			in["content_type"] = pr.ContentType
		}
		var resp struct {
			URL       string            `json:"url"`
			Method    string            `json:"method"`
			Headers   map[string]string `json:"headers"`
			ExpiresAt string            `json:"expires_at"`
		}
		if err := c.doJSON(ctx, request{op: op, method: http.MethodPost, path: "/system/buckets/" + escape(pr.Bucket) + "/presign"}, in, &resp); err != nil {
			return nil, err
		}
		if resp.Method == "" {
			resp.Method = strings.ToUpper(pr.Method)
		}
		exp := parseTime(resp.ExpiresAt)
		if exp.IsZero() {
			exp = time.Now().Add(expires)
		}
		return &backends.PresignedURL{URL: resp.URL, Method: resp.Method, Headers: resp.Headers, ExpiresAt: exp}, nil
	}
	mc, err := c.minio(ctx)
	if err != nil {
		return nil, err
	}
	var u *url.URL
	if operation == "download" {
		u, err = mc.PresignedGetObject(ctx, pr.Bucket, pr.Key, expires, nil)
	} else {
		u, err = mc.PresignedPutObject(ctx, pr.Bucket, pr.Key, expires)
	}
	if err != nil {
		return nil, c.s3err(op, err)
	}
	return &backends.PresignedURL{URL: u.String(), Method: strings.ToUpper(pr.Method), ExpiresAt: time.Now().Add(expires)}, nil
}

func (c *Client) checkObject(op, bucket, key string) error {
	if err := c.checkName(op, "bucket name", bucket); err != nil {
		return err
	}
	return c.checkName(op, "object key", key)
}

// minio returns the MinIO client for this user, built on first use from GET
// /system/config. TLS verification follows the cluster's switch only: a
// server saying verify=false does not turn verification off by itself.
func (c *Client) minio(ctx context.Context) (*minio.Client, error) {
	c.mu.Lock()
	mc := c.store
	c.mu.Unlock()
	if mc != nil {
		return mc, nil
	}
	const op = "connect to the cluster's MinIO"
	cfg, err := c.UserConfig(ctx)
	if err != nil {
		return nil, err
	}
	p := cfg.MinIOProvider
	u, err := url.Parse(p.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, c.err(op, backends.KindUnavailable, fmt.Sprintf("cluster reports MinIO endpoint %q, which is not an http(s) URL", p.Endpoint), nil)
	}
	if p.AccessKey == "" || p.SecretKey == "" {
		return nil, c.err(op, backends.KindForbidden, "the cluster handed out no MinIO keys for this user", nil)
	}
	// MinIO is reached as the API is: same TLS mode, same dial guard.
	var tr *http.Transport
	if t, ok := c.hc.Transport.(*http.Transport); ok {
		tr = t.Clone()
	} else {
		tr = newTransport(c.cfg.InsecureSkipVerify, c.cfg.Guard)
	}
	tr.ResponseHeaderTimeout = 30 * time.Second
	mc, err = minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(p.AccessKey, p.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       p.Region,
		Transport:    tr,
		BucketLookup: minio.BucketLookupPath,
		// One retry, which minio-go only makes when it can rewind the body
		// (a folder marker, a byte slice; never a streamed upload): S3
		// servers that close every connection after one response
		// (versitygw, the local cluster's, does) now and then reset a
		// fresh connection before the request's first write, and
		// net/http does not replay a PUT. That was the 502 "broken pipe"
		// on creating a folder.
		MaxRetries: 2,
	})
	if err != nil {
		return nil, c.err(op, backends.KindUnavailable, "", err)
	}
	c.mu.Lock()
	if c.store == nil {
		c.store = mc
	}
	mc = c.store
	c.mu.Unlock()
	return mc, nil
}

// s3err maps a minio-go error to a backend error (nil stays nil).
func (c *Client) s3err(op string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	kind, msg := s3kind.Of(err)
	if resp.Code != "" {
		return c.err(op, kind, msg, nil)
	}
	var ee *backends.Error
	if errors.As(err, &ee) {
		return err
	}
	if resp.StatusCode != 0 {
		return c.err(op, kind, "", err)
	}
	return c.connectErr(op, "the cluster's MinIO storage", 0, err)
}
