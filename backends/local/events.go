package local

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/notification"
)

// storageEvent is one object notification, with the body handed to the job
// as EVENT.
type storageEvent struct {
	eventName string
	bucket    string
	key       string // decoded
	body      []byte
}

// splitEvents turns a notification body (one or more records, from
// versitygw or MinIO) into one MinIO-style event per record, the shape
// OSCAR's jobs receive: {"EventName", "Key", "Records":[record]}, with
// eventSource "minio:s3" and the key URL-encoded as MinIO does.
// Bodies that are not notifications (versitygw's startup test event)
// yield nothing.
func splitEvents(body []byte) []storageEvent {
	var env struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil
	}
	var out []storageEvent
	for _, raw := range env.Records {
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			continue
		}
		name, _ := rec["eventName"].(string)
		source, _ := rec["eventSource"].(string)
		s3, _ := rec["s3"].(map[string]any)
		bucketObj, _ := s3["bucket"].(map[string]any)
		object, _ := s3["object"].(map[string]any)
		bucket, _ := bucketObj["name"].(string)
		key, _ := object["key"].(string)
		if bucket == "" || key == "" {
			continue
		}
		if source == "minio:s3" {
			// MinIO URL-encodes keys; versitygw sends them raw.
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
		}
		rec["eventSource"] = "minio:s3"
		object["key"] = url.QueryEscape(key)
		ev := map[string]any{
			"EventName": name,
			"Key":       bucket + "/" + url.QueryEscape(key),
			"Records":   []any{rec},
		}
		b, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		out = append(out, storageEvent{eventName: name, bucket: bucket, key: key, body: b})
	}
	return out
}

func constantEq(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// notifier arranges for uploads under a service's inputs to reach the
// event receiver.
type notifier interface {
	watch(ctx context.Context, store *minio.Client, svc *Service) error
	unwatch(ctx context.Context, store *minio.Client, svc *Service) error
}

// globalNotifier is for versitygw, which sends every bucket's events to one
// webhook: nothing to set per bucket, the receiver filters.
type globalNotifier struct{}

func (globalNotifier) watch(context.Context, *minio.Client, *Service) error   { return nil }
func (globalNotifier) unwatch(context.Context, *minio.Client, *Service) error { return nil }

// minioNotifier sets per-bucket notifications the way OSCAR does: a queue
// configuration per input, event s3:ObjectCreated:*, filtered on the
// input's folder, appended to the bucket's existing configuration. The
// configuration id is "<service>-<n>" so it can be removed again.
type minioNotifier struct{ arn string }

func (m *minioNotifier) watch(ctx context.Context, store *minio.Client, svc *Service) error {
	if err := m.unwatch(ctx, store, svc); err != nil {
		return err
	}
	arn, err := notification.NewArnFromString(m.arn)
	if err != nil {
		return fmt.Errorf("webhook ARN %q: %w", m.arn, err)
	}
	for i, in := range svc.Input {
		bp := parseBucketPath(in.Path)
		cfg, err := store.GetBucketNotification(ctx, bp.Bucket)
		if err != nil {
			return fmt.Errorf("read notifications of bucket %s: %w", bp.Bucket, err)
		}
		q := notification.NewConfig(arn)
		q.AddEvents(notification.ObjectCreatedAll)
		if bp.Folder != "" {
			q.AddFilterPrefix(bp.Folder + "/")
		}
		q.ID = fmt.Sprintf("%s-%d", svc.Name, i)
		cfg.AddQueue(q)
		if err := store.SetBucketNotification(ctx, bp.Bucket, cfg); err != nil {
			return fmt.Errorf("set notification on bucket %s: %w", bp.Bucket, err)
		}
	}
	return nil
}

func (m *minioNotifier) unwatch(ctx context.Context, store *minio.Client, svc *Service) error {
	buckets := map[string]bool{}
	for _, in := range svc.Input {
		buckets[parseBucketPath(in.Path).Bucket] = true
	}
	for b := range buckets {
		cfg, err := store.GetBucketNotification(ctx, b)
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchBucket" {
				continue
			}
			return fmt.Errorf("read notifications of bucket %s: %w", b, err)
		}
		n := len(cfg.QueueConfigs)
		cfg.QueueConfigs = slices.DeleteFunc(cfg.QueueConfigs, func(q notification.QueueConfig) bool {
			n, ok := strings.CutPrefix(q.ID, svc.Name+"-")
			return ok && n != "" && strings.Trim(n, "0123456789") == ""
		})
		if len(cfg.QueueConfigs) == n {
			continue
		}
		if err := store.SetBucketNotification(ctx, b, cfg); err != nil {
			return fmt.Errorf("set notification on bucket %s: %w", b, err)
		}
	}
	return nil
}
