package handlers

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/auth"
	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/store"
	"github.com/fdlstudio/fdlstudio/templates"
)

// Route patterns of the file pages that the middleware chain treats
// specially (web/routes.go): uploads stream past the body limit and may
// carry their CSRF token as the first multipart field; downloads are not
// gzipped again.
const (
	FilesUploadPath   = "/files/:cluster/:bucket/upload"
	FilesDownloadPath = "/files/:cluster/:bucket/download"
	FilesZipPath      = "/files/:cluster/:bucket/zip"
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

// IsFileUpload reports whether the request is for the upload route, whose
// body streams to the cluster and may be larger than the body limit.
func IsFileUpload(c echo.Context) bool { return c.Path() == FilesUploadPath }

// IsFileDownload reports whether the request is for a download route: the
// bytes go out as stored (already compressed archives are not gzipped
// again, and the Content-Length stays true).
func IsFileDownload(c echo.Context) bool {
	return c.Path() == FilesDownloadPath || c.Path() == FilesZipPath
}

// MultipartCSRF lets the no-JavaScript upload form (multipart, so it
// cannot send a header) prove its CSRF token without the body being
// parsed whole: when an upload request has no X-CSRF-Token header and
// its first multipart field is csrf_token, the field is peeked from the
// first bytes of the body and copied into the header for auth.CSRF to
// check. The body is left unread for the handler. An upload with neither
// is refused at once, before anything reads its body. It must run before
// auth.CSRF.
func MultipartCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method != http.MethodPost || !IsFileUpload(c) || req.Header.Get("X-CSRF-Token") != "" {
			return next(c)
		}
		mt, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
		if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
			return next(c)
		}
		br := bufio.NewReaderSize(req.Body, 4096)
		head, _ := br.Peek(4096) // fewer bytes at the end of a small body
		mr := multipart.NewReader(bytes.NewReader(head), params["boundary"])
		if p, err := mr.NextPart(); err == nil && p.FormName() == "csrf_token" {
			if v, err := io.ReadAll(io.LimitReader(p, 256)); err == nil {
				req.Header.Set("X-CSRF-Token", string(v))
			}
		}
		if req.Header.Get("X-CSRF-Token") == "" {
			// Refuse now: the CSRF check would otherwise parse (and
			// spool to disk) the whole body only to refuse it.
			return echo.NewHTTPError(http.StatusForbidden, "the upload carries no CSRF token (the form's first field must be csrf_token)")
		}
		req.Body = readCloser{br, req.Body}
		return next(c)
	}
}

type readCloser struct {
	io.Reader
	io.Closer
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

// checkBucketName applies the S3 bucket naming rules and says which one
// name breaks ("" when it is fine).
func checkBucketName(name string) string {
	switch {
	case len(name) < 3 || len(name) > 63:
		return "use 3 to 63 characters"
	case strings.ToLower(name) != name && strings.IndexFunc(name, unicode.IsUpper) >= 0:
		return "use lower-case letters only"
	case strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}) >= 0:
		return "use only lower-case letters, digits, dots and hyphens"
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return "start and end with a letter or digit"
	case strings.Contains(name, ".."):
		return "do not put two dots next to each other"
	case net.ParseIP(name) != nil:
		return "do not use an IP address"
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-"):
		return `do not start with "xn--" or "sthree-"`
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3"):
		return `do not end with "-s3alias" or "--ol-s3"`
	}
	return ""
}

func isAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// checkKey says why key cannot be an object key ("" when it can): not
// empty, at most MaxKeyBytes of UTF-8, no control characters, no leading
// slash, no empty, "." or ".." segments. A trailing slash (a folder) is
// allowed.
func checkKey(key string) string {
	switch {
	case key == "":
		return "the name is empty"
	case len(key) > MaxKeyBytes:
		return fmt.Sprintf("the full name is %d bytes long; the limit is %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return "the name is not valid UTF-8 text"
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return "the name contains a control character (such as a tab or a line break)"
	case strings.HasPrefix(key, "/"):
		return "the name starts with a slash"
	}
	for _, seg := range strings.Split(strings.TrimSuffix(key, "/"), "/") {
		switch seg {
		case "":
			return "the name has an empty folder (two slashes in a row)"
		case ".", "..":
			return fmt.Sprintf("the name has a %q folder, which is not allowed", seg)
		}
	}
	return ""
}

// checkPrefix checks a folder prefix from a URL ("" is the bucket root).
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !strings.HasSuffix(prefix, "/") {
		return userError(http.StatusBadRequest, fmt.Sprintf("Folder %q must end with a slash.", prefix), nil)
	}
	if msg := checkKey(prefix); msg != "" {
		return userError(http.StatusBadRequest, fmt.Sprintf("Folder %q: %s.", prefix, msg), nil)
	}
	return nil
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
		Notice:     c.QueryParam("notice"),
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
	return c.Redirect(http.StatusSeeOther, templates.BucketURL(cl.Name, name, "")+"&notice="+url.QueryEscape(fmt.Sprintf("Bucket %q created.", name)))
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
		Notice:    c.QueryParam("notice"),
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

// UploadFiles handles "POST /files/:cluster/:bucket/upload". Two forms:
//
//   - the JavaScript uploader sends one file as the raw body, with its
//     path under the folder in ?path= and its size as Content-Length;
//   - the no-JavaScript form sends multipart/form-data with any number of
//     "files" parts (a folder upload names them by relative path).
//
// Either way the bytes stream from the request into the cluster's store
// (one multipart part at a time), never whole in memory or on disk.
func (h *Handler) UploadFiles(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	release, err := h.acquireTransfer(c, h.transfers.uploads)
	if err != nil {
		return err
	}
	defer release()
	prefix := c.QueryParam("prefix")
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	req := c.Request()
	mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if mt == "multipart/form-data" {
		return h.uploadMultipart(c, fr, prefix)
	}
	rel := c.QueryParam("path")
	key := prefix + rel
	if msg := checkKey(rel); msg != "" || strings.HasSuffix(rel, "/") {
		if msg == "" {
			msg = "the name ends with a slash"
		}
		return userError(http.StatusBadRequest, fmt.Sprintf("%q was not uploaded: %s.", rel, msg), nil)
	}
	if msg := checkKey(key); msg != "" {
		return userError(http.StatusBadRequest, fmt.Sprintf("%q was not uploaded: %s.", key, msg), nil)
	}
	ct := mt
	if ct == "" || ct == "application/x-www-form-urlencoded" {
		ct = guessType(key, "")
	}
	size := req.ContentLength // -1 when the client streams without a length
	if err := fr.st.PutObject(req.Context(), fr.bucket, key, req.Body, size, ct); err != nil {
		return userError(statusOf(err), fmt.Sprintf("%q was not uploaded: %s", rel, h.describe(err)), err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"key": key, "size": size})
}

// uploadMultipart stores each "files" part as it arrives.
func (h *Handler) uploadMultipart(c echo.Context, fr fileRequest, prefix string) error {
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return userError(http.StatusBadRequest, "The upload form could not be read: "+err.Error(), err)
	}
	var done []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return userError(http.StatusBadRequest, fmt.Sprintf("The upload stopped after %d files: the form data is broken (%v).", len(done), err), err)
		}
		if part.FormName() != "files" && part.FormName() != "folder" {
			part.Close()
			continue
		}
		// part.FileName drops the folder; a folder upload needs it.
		_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		rel := strings.TrimLeft(strings.ReplaceAll(params["filename"], `\`, "/"), "/")
		if rel == "" {
			part.Close()
			continue // an empty file input
		}
		key := prefix + rel
		if msg := checkKey(key); msg != "" {
			return userError(http.StatusBadRequest, fmt.Sprintf("%q was not uploaded: %s. %s", rel, msg, uploadedSoFar(done)), nil)
		}
		ct := guessType(key, part.Header.Get(echo.HeaderContentType))
		if err := fr.st.PutObject(c.Request().Context(), fr.bucket, key, part, -1, ct); err != nil {
			return userError(statusOf(err), fmt.Sprintf("%q was not uploaded: %s. %s", rel, h.describe(err), uploadedSoFar(done)), err)
		}
		part.Close()
		done = append(done, rel)
	}
	notice := "Nothing was uploaded: choose files or a folder first."
	if len(done) == 1 {
		notice = fmt.Sprintf("Uploaded %q.", done[0])
	} else if len(done) > 1 {
		notice = fmt.Sprintf("Uploaded %d files.", len(done))
	}
	return c.Redirect(http.StatusSeeOther, templates.BucketURL(fr.cluster, fr.bucket, prefix)+"&notice="+url.QueryEscape(notice))
}

func uploadedSoFar(done []string) string {
	switch len(done) {
	case 0:
		return "Nothing before it was uploaded."
	case 1:
		return fmt.Sprintf("%q before it was uploaded.", done[0])
	}
	return fmt.Sprintf("The %d files before it were uploaded.", len(done))
}

// guessType picks a content type: the one given, unless it says nothing,
// else by the key's extension.
func guessType(key, given string) string {
	if given != "" && given != "application/octet-stream" {
		return given
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// attachment is a Content-Disposition that makes the browser save the
// response as name (its last path segment, without control characters or
// quotes); non-ASCII names are sent RFC 2231-encoded.
func attachment(name string) string {
	name = path.Base(strings.TrimSuffix(name, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' || r == '\\' || r == '/' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." {
		name = "download"
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return `attachment; filename="download"`
}

// DownloadObject handles "GET /files/:cluster/:bucket/download?key=": the
// object streamed as an attachment.
func (h *Handler) DownloadObject(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	key := c.QueryParam("key")
	if msg := checkKey(key); msg != "" {
		return userError(http.StatusBadRequest, fmt.Sprintf("Object %q: %s.", key, msg), nil)
	}
	r, obj, err := fr.st.GetObject(c.Request().Context(), fr.bucket, key)
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) {
			return notFound(fmt.Sprintf("There is no %q in bucket %q on %s.", key, fr.bucket, fr.cluster), err)
		}
		return err
	}
	defer r.Close()
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, guessType(key, obj.ContentType))
	hd.Set(echo.HeaderContentDisposition, attachment(key))
	hd.Set(echo.HeaderContentLength, strconv.FormatInt(obj.Size, 10))
	hd.Set(echo.HeaderCacheControl, "private, no-store")
	if !obj.LastModified.IsZero() {
		hd.Set(echo.HeaderLastModified, obj.LastModified.UTC().Format(http.TimeFormat))
	}
	c.Response().WriteHeader(http.StatusOK)
	if _, err := copyLarge(c.Response(), r); err != nil {
		// The status is out: end the connection so the browser reports
		// a failed download instead of keeping a short file.
		h.log.Warn("download interrupted", "cluster", fr.cluster, "bucket", fr.bucket, "key", key, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return nil
}

// DownloadZip handles "GET /files/:cluster/:bucket/zip?prefix=" (a whole
// folder) and "POST /files/:cluster/:bucket/zip" (the selected key= files
// and folder= folders of the form): one zip built while it is sent, one
// object at a time, named relative to the folder shown (prefix=).
func (h *Handler) DownloadZip(c echo.Context) error {
	fr, err := h.fileRequest(c)
	if err != nil {
		return err
	}
	base := c.QueryParam("prefix")
	var keys, folders []string
	if c.Request().Method == http.MethodPost {
		if base == "" {
			base = c.FormValue("prefix")
		}
		form, err := c.FormParams()
		if err != nil {
			return userError(http.StatusBadRequest, "The selection could not be read.", err)
		}
		keys, folders = form["key"], form["folder"]
		if len(keys)+len(folders) == 0 {
			return userError(http.StatusBadRequest, "Select at least one file or folder to download.", nil)
		}
	} else {
		folders = []string{base}
	}
	if err := checkPrefix(base); err != nil {
		return err
	}
	for _, k := range append(append([]string(nil), keys...), folders...) {
		if k == "" {
			continue // the bucket root
		}
		if msg := checkKey(k); msg != "" {
			return userError(http.StatusBadRequest, fmt.Sprintf("%q: %s.", k, msg), nil)
		}
		if !strings.HasPrefix(k, base) {
			return userError(http.StatusBadRequest, fmt.Sprintf("%q is not inside the folder %q.", k, base), nil)
		}
	}
	release, err := h.acquireTransfer(c, h.transfers.zips)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	// Collect the keys first, so a listing failure is a clean error page
	// and not a broken download.
	lctx, cancel := context.WithTimeout(ctx, 2*clusterTimeout)
	keys, _, err = collectKeys(lctx, fr.st, fr.bucket, keys, folders, maxZipObjects)
	cancel()
	if err != nil {
		return err
	}
	name := fr.bucket
	if base != "" {
		name = path.Base(base)
	}
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "application/zip")
	hd.Set(echo.HeaderContentDisposition, attachment(name+".zip"))
	hd.Set(echo.HeaderCacheControl, "private, no-store")
	c.Response().WriteHeader(http.StatusOK)
	zw := zip.NewWriter(c.Response())
	seen := map[string]bool{}
	for _, k := range keys {
		entry := zipName(k[len(base):])
		if entry == "" || seen[entry] || strings.HasSuffix(k, "/") {
			continue
		}
		seen[entry] = true
		if err := addToZip(ctx, zw, fr, k, entry); err != nil {
			h.log.Warn("zip download interrupted", "cluster", fr.cluster, "bucket", fr.bucket, "key", k, "error", err.Error())
			panic(http.ErrAbortHandler)
		}
	}
	if err := zw.Close(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// zipName makes a key into a safe relative zip entry name: no leading
// slash, no empty, "." or ".." segments.
func zipName(rel string) string {
	var segs []string
	for _, s := range strings.Split(rel, "/") {
		if s != "" && s != "." && s != ".." {
			segs = append(segs, s)
		}
	}
	return strings.Join(segs, "/")
}

func addToZip(ctx context.Context, zw *zip.Writer, fr fileRequest, key, entry string) error {
	r, obj, err := fr.st.GetObject(ctx, fr.bucket, key)
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) {
			return nil // deleted since it was listed
		}
		return err
	}
	defer r.Close()
	hdr := &zip.FileHeader{Name: entry, Method: zip.Deflate, Modified: obj.LastModified}
	if stored(guessType(key, obj.ContentType), obj.Size) {
		hdr.Method = zip.Store
	}
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return err
}

// stored reports whether a file goes into a zip as is: media and archives
// are compressed already, and deflating large files costs more time than
// it saves.
func stored(contentType string, size int64) bool {
	if size > 64<<20 {
		return true
	}
	for _, p := range []string{"image/", "video/", "audio/", "application/zip", "application/gzip", "application/x-gzip", "application/x-7z", "application/x-xz", "application/zstd"} {
		if strings.HasPrefix(contentType, p) {
			return true
		}
	}
	return false
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
	return c.Redirect(http.StatusSeeOther, templates.BucketURL(fr.cluster, fr.bucket, prefix)+"&notice="+url.QueryEscape(notice))
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
	return c.Redirect(http.StatusSeeOther, templates.BucketURL(fr.cluster, fr.bucket, key)+"&notice="+url.QueryEscape(fmt.Sprintf("Folder %q created.", name)))
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

// copyBuffers are 1 MiB buffers for streaming objects: far fewer reads and
// writes than io.Copy's 32 KiB on a multi-gigabyte download.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyLarge copies src to dst through a pooled 1 MiB buffer.
func copyLarge(dst io.Writer, src io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Hide WriterTo/ReaderFrom so the buffer is the one used.
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
}
