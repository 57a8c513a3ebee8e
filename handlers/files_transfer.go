package handlers

// Moving bytes to and from a cluster's storage: uploads, downloads and
// zip downloads, all streamed.

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/fdlstudio/fdlstudio/backends"
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

// IsFileUpload reports whether the request is for the upload route, whose
// body streams to the cluster and may be larger than the body limit.
func IsFileUpload(c echo.Context) bool { return c.Path() == FilesUploadPath }

// IsFileDownload reports whether the request is for a download route: the
// bytes go out as stored (already compressed archives are not gzipped
// again, and the Content-Length stays true).
func IsFileDownload(c echo.Context) bool {
	return c.Path() == FilesDownloadPath || c.Path() == FilesZipPath
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
	return h.redirectNotice(c, templates.BucketURL(fr.cluster, fr.bucket, prefix), notice)
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

// zipName makes a key into a safe relative zip entry name for every
// unzip tool: a backslash is a separator too (Windows tools read it so),
// and no entry has a leading slash, a drive letter, or an empty, "." or
// ".." segment, so none lands outside the folder it is unpacked in.
func zipName(rel string) string {
	var segs []string
	for _, s := range strings.FieldsFunc(rel, func(r rune) bool { return r == '/' || r == '\\' }) {
		s = strings.ReplaceAll(s, ":", "_")
		if s != "." && s != ".." {
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
