package handlers

// The file pages: the buckets, folders and objects of a cluster's
// storage, and the forms that change them.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// File page limits.
const (
	// MaxKeyBytes is the S3 limit on object keys.
	MaxKeyBytes = 1024
	// filesPageSize is how many folders and files one listing page shows.
	filesPageSize = 200
	// maxZipObjects bounds one zip download, so a mistaken click on a
	// bucket root with millions of objects ends with a clear message.
	maxZipObjects = 10000
	// maxDeleteObjects bounds one folder delete for the same reason.
	maxDeleteObjects = 10000
)

// ShareExpiries are the lifetimes a share link may have, in the order
// the form offers them.
var ShareExpiries = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"1h", "1 hour", time.Hour},
	{"24h", "1 day", 24 * time.Hour},
	{"168h", "7 days", 7 * 24 * time.Hour},
}

// storageFor returns the storage of the user's cluster called name.
func (h *Handler) storageFor(ctx context.Context, u *auth.User, name string) (backends.Storage, store.Cluster, error) {
	cl, err := h.findCluster(ctx, u, name)
	if err != nil {
		return nil, cl, err
	}
	b, err := h.backendFor(ctx, cl)
	if err != nil {
		return nil, cl, err
	}
	return b, cl, nil
}

// fileRequest is what every bucket route starts from: the user, the
// cluster's storage and the checked bucket name.
type fileRequest struct {
	st      backends.Storage
	cluster string
	bucket  string
}

func (h *Handler) fileRequest(c echo.Context) (fileRequest, error) {
	u, err := currentUser(c)
	if err != nil {
		return fileRequest{}, err
	}
	bucket := c.Param("bucket")
	if msg := checkBucketName(bucket); msg != "" {
		return fileRequest{}, userError(http.StatusBadRequest, fmt.Sprintf("Bucket name %q: %s", bucket, msg), nil)
	}
	st, cl, err := h.storageFor(c.Request().Context(), u, c.Param("cluster"))
	if err != nil {
		return fileRequest{}, err
	}
	return fileRequest{st: st, cluster: cl.Name, bucket: bucket}, nil
}

// objectLister is the part of backends.Storage that listings need.
type objectLister interface {
	ListObjects(ctx context.Context, bucket string, opts backends.ListObjectsOptions) (*backends.ObjectList, error)
}

// dirListing is one page of a folder: its sub-folders and files, in key
// order, and the token for the next page ("" on the last).
type dirListing struct {
	Folders []string // full prefixes, ending in "/"
	Files   []backends.Object
	Next    string
}

// afterFolder is a page token that starts listing after every key in
// folder: S3 compares keys as UTF-8 bytes, and U+10FFFF is the largest
// character, so no key in the folder sorts after folder+U+10FFFF except
// ones that start with it, which are listed (and grouped) again harmlessly.
func afterFolder(folder string) string { return folder + "\U0010FFFF" }

// listDir lists one page of the folder prefix, grouping deeper keys into
// sub-folders (what an S3 delimiter "/" gives). The storage contract lists
// recursively, so a sub-folder whose keys fill the backend's page is
// skipped over with a token after it. The page token is an S3 StartAfter
// key, as backends.Storage implementations use it.
func listDir(ctx context.Context, st objectLister, bucket, prefix, token string, limit int) (*dirListing, error) {
	out := &dirListing{}
	after := token
	lastDir := ""
	count := func() int { return len(out.Folders) + len(out.Files) }
	for calls := 0; calls < 100; calls++ {
		page, err := st.ListObjects(ctx, bucket, backends.ListObjectsOptions{Prefix: prefix, PageToken: after})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			rest, ok := strings.CutPrefix(o.Key, prefix)
			if !ok || rest == "" {
				continue // the folder's own marker
			}
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				dir := prefix + rest[:i+1]
				if dir == lastDir {
					continue
				}
				if count() == limit {
					out.Next = after
					return out, nil
				}
				out.Folders = append(out.Folders, dir)
				lastDir = dir
				after = afterFolder(dir)
				continue
			}
			if count() == limit {
				out.Next = after
				return out, nil
			}
			out.Files = append(out.Files, o)
			after = o.Key
		}
		if page.NextPage == "" {
			return out, nil
		}
		if lastDir == "" || !strings.HasPrefix(page.NextPage, lastDir) {
			after = page.NextPage
		}
	}
	out.Next = after
	return out, nil
}

// ShowFiles handles "GET /files": the first cluster's buckets.
func (h *Handler) ShowFiles(c echo.Context) error {
	return h.showBuckets(c, "", http.StatusOK, "")
}

// ShowBuckets handles "GET /files/:cluster": the buckets of one cluster,
// with a picker for the others.
func (h *Handler) ShowBuckets(c echo.Context) error {
	return h.showBuckets(c, c.Param("cluster"), http.StatusOK, "")
}

func (h *Handler) showBuckets(c echo.Context, cluster string, status int, formError string) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := h.userClusters(ctx, u)
	if err != nil {
		return err
	}
	p := templates.FilesProps{
		Chrome:     h.Chrome(c, "Files", "/files"),
		Notice:     h.notice(c),
		FormError:  formError,
		NewBucket:  c.FormValue("name"),
		Visibility: c.FormValue("visibility"),
	}
	for _, cl := range list {
		p.Clusters = append(p.Clusters, cl.Name)
	}
	if cluster == "" {
		if len(list) == 0 {
			return Render(c, status, templates.FilesPage(p))
		}
		cluster = list[0].Name
	}
	cl, err := h.findCluster(ctx, u, cluster)
	if err != nil {
		return err
	}
	p.Cluster = cl.Name
	p.Chrome.Title = "Files on " + cl.Name
	if err := h.checkLogin(ctx, []store.Cluster{cl}); err != nil {
		return err
	}
	st, err := h.backendFor(ctx, cl)
	if err == nil {
		lctx, cancel := context.WithTimeout(ctx, clusterTimeout)
		defer cancel()
		var bs []backends.Bucket
		if bs, err = st.ListBuckets(lctx); err == nil {
			for _, b := range bs {
				p.Buckets = append(p.Buckets, templates.BucketRow{Name: b.Name, Visibility: b.Visibility, Owner: b.Owner})
			}
		}
	}
	if err != nil {
		p.BucketsError = h.describe(err)
	}
	return Render(c, status, templates.FilesPage(p))
}

// CreateBucket handles "POST /files/:cluster": a new bucket with the
// chosen visibility.
func (h *Handler) CreateBucket(c echo.Context) error {
	u, err := currentUser(c)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	vis := c.FormValue("visibility")
	switch vis {
	case "", "private", "restricted", "public":
	default:
		return h.showBuckets(c, c.Param("cluster"), http.StatusUnprocessableEntity, fmt.Sprintf("Visibility %q is not private, restricted or public.", vis))
	}
	if msg := checkBucketName(name); msg != "" {
		return h.showBuckets(c, c.Param("cluster"), http.StatusUnprocessableEntity, fmt.Sprintf("Bucket name %q: %s.", name, msg))
	}
	ctx := c.Request().Context()
	st, cl, err := h.storageFor(ctx, u, c.Param("cluster"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	if err := st.CreateBucket(ctx, backends.Bucket{Name: name, Visibility: vis}); err != nil {
		if errors.Is(err, backends.ErrConflict) || errors.Is(err, backends.ErrInvalid) {
			return h.showBuckets(c, cl.Name, http.StatusUnprocessableEntity, h.describe(err))
		}
		return err
	}
	return h.redirectNotice(c, templates.BucketURL(cl.Name, name, ""), fmt.Sprintf("Bucket %q created.", name))
}

// ShowObjects handles "GET /files/:cluster/:bucket": one page of a folder
// (?prefix=, ?after= for the next page).
func (h *Handler) ShowObjects(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	prefix := c.QueryParam("prefix")
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	p := templates.ObjectsProps{
		Chrome:    h.Chrome(c, fr.bucket+" on "+fr.cluster, "/files"),
		Cluster:   fr.cluster,
		Bucket:    fr.bucket,
		Prefix:    prefix,
		Paged:     c.QueryParam("after") != "",
		Notice:    h.notice(c),
		FormError: c.QueryParam("error"),
		Expiries:  shareChoices(),
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	l, err := listDir(ctx, fr.st, fr.bucket, prefix, c.QueryParam("after"), filesPageSize)
	if err != nil {
		p.ListError = h.describe(err)
		status := http.StatusOK
		if errors.Is(err, backends.ErrNotFound) {
			status = http.StatusNotFound
		}
		return Render(c, status, templates.ObjectsPage(p))
	}
	for _, d := range l.Folders {
		p.Folders = append(p.Folders, templates.FolderRow{Name: strings.TrimSuffix(d[len(prefix):], "/"), Prefix: d})
	}
	for _, o := range l.Files {
		p.Files = append(p.Files, templates.FileRow{
			Name: o.Key[len(prefix):], Key: o.Key, Size: HumanBytes(o.Size), Bytes: o.Size,
			Modified: o.LastModified.UTC().Format("2006-01-02 15:04"), ModifiedISO: o.LastModified.UTC().Format(time.RFC3339),
		})
	}
	p.Next = l.Next
	return Render(c, http.StatusOK, templates.ObjectsPage(p))
}

func shareChoices() []templates.Choice {
	out := make([]templates.Choice, len(ShareExpiries))
	for i, e := range ShareExpiries {
		out[i] = templates.Choice{Value: e.Value, Label: e.Label}
	}
	return out
}

// HumanBytes writes a size for people: 0 B, 999 B, 1.5 KiB, 2.0 GiB.
func HumanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= 1024
		if v < 1024 || unit == "PiB" {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
		}
	}
	return ""
}

// DeleteObjects handles "POST /files/:cluster/:bucket/delete" with the
// key= files and folder= folders to delete. Without confirm=yes it shows
// what would be deleted (how many objects each folder holds) and asks;
// with it, it deletes and goes back to the folder.
func (h *Handler) DeleteObjects(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	prefix := c.FormValue("prefix")
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return userError(http.StatusBadRequest, "The selection could not be read.", err)
	}
	keys, folders := form["key"], form["folder"]
	if len(keys)+len(folders) == 0 {
		return c.Redirect(http.StatusSeeOther, templates.BucketURL(fr.cluster, fr.bucket, prefix)+"&error="+url.QueryEscape("Select at least one file or folder to delete."))
	}
	for _, k := range keys {
		if msg := checkKey(k); msg != "" {
			return userError(http.StatusBadRequest, fmt.Sprintf("%q: %s.", k, msg), nil)
		}
	}
	for _, f := range folders {
		if err := checkPrefix(f); err != nil || f == "" {
			return userError(http.StatusBadRequest, fmt.Sprintf("%q is not a folder.", f), err)
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*clusterTimeout)
	defer cancel()
	p := templates.DeleteProps{
		Chrome: h.Chrome(c, "Delete from "+fr.bucket, "/files"), Cluster: fr.cluster, Bucket: fr.bucket, Prefix: prefix, Keys: keys,
	}
	all, counts, err := collectKeys(ctx, fr.st, fr.bucket, keys, folders, maxDeleteObjects)
	if err != nil {
		return err
	}
	for i, f := range folders {
		p.Folders = append(p.Folders, templates.FolderCount{Prefix: f, Count: counts[i]})
	}
	if c.FormValue("confirm") != "yes" {
		return Render(c, http.StatusOK, templates.DeletePage(p))
	}
	for i, k := range all {
		if err := fr.st.DeleteObject(ctx, fr.bucket, k); err != nil {
			return userError(statusOf(err), fmt.Sprintf("Deleting stopped at %q (%d of %d deleted): %s", k, i, len(all), h.describe(err)), err)
		}
	}
	notice := fmt.Sprintf("Deleted %d objects.", len(all))
	if len(all) == 1 {
		notice = fmt.Sprintf("Deleted %q.", all[0])
	}
	return h.redirectNotice(c, templates.BucketURL(fr.cluster, fr.bucket, prefix), notice)
}

// CreateFolder handles "POST /files/:cluster/:bucket/folder": an empty
// "prefix/name/" marker object, so the folder shows before it has files.
func (h *Handler) CreateFolder(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	prefix := c.FormValue("prefix")
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	name := strings.Trim(strings.TrimSpace(c.FormValue("name")), "/")
	back := templates.BucketURL(fr.cluster, fr.bucket, prefix)
	key := prefix + name + "/"
	if msg := checkKey(name); msg != "" {
		return c.Redirect(http.StatusSeeOther, back+"&error="+url.QueryEscape(fmt.Sprintf("Folder %q: %s.", name, msg)))
	}
	if msg := checkKey(key); msg != "" {
		return c.Redirect(http.StatusSeeOther, back+"&error="+url.QueryEscape(fmt.Sprintf("Folder %q: %s.", name, msg)))
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
	defer cancel()
	if err := fr.st.PutObject(ctx, fr.bucket, key, strings.NewReader(""), 0, "application/x-directory"); err != nil {
		return err
	}
	return h.redirectNotice(c, templates.BucketURL(fr.cluster, fr.bucket, key), fmt.Sprintf("Folder %q created.", name))
}

// ShareObject handles "POST /files/:cluster/:bucket/share": a presigned
// download link for key= valid for expires= (one of ShareExpiries). htmx
// gets the link as a fragment; without JavaScript it is a page.
func (h *Handler) ShareObject(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	key := c.FormValue("key")
	if msg := checkKey(key); msg != "" {
		return userError(http.StatusBadRequest, fmt.Sprintf("Object %q: %s.", key, msg), nil)
	}
	p := templates.ShareProps{Chrome: h.Chrome(c, "Share "+path.Base(key), "/files"), Cluster: fr.cluster, Bucket: fr.bucket, Key: key}
	var d time.Duration
	for _, e := range ShareExpiries {
		if e.Value == c.FormValue("expires") {
			d, p.Expiry = e.D, e.Label
		}
	}
	if d == 0 {
		p.Error = fmt.Sprintf("Expiry %q is not one of 1 hour, 1 day or 7 days.", c.FormValue("expires"))
	} else {
		ctx, cancel := context.WithTimeout(c.Request().Context(), clusterTimeout)
		defer cancel()
		u, err := fr.st.PresignObject(ctx, backends.PresignRequest{Bucket: fr.bucket, Key: key, Method: http.MethodGet, Expires: d})
		if err != nil {
			p.Error = h.describe(err)
		} else {
			p.URL, p.ExpiresAt = u.URL, u.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		return Render(c, http.StatusOK, templates.ShareResult(p))
	}
	return Render(c, http.StatusOK, templates.SharePage(p))
}
