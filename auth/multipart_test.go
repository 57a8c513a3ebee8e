package auth

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// uploadPath is an upload route; isUpload picks it out as
// handlers.IsFileUpload does the real one.
const uploadPath = "/files/:cluster/:bucket/upload"

func isUpload(c echo.Context) bool { return c.Path() == uploadPath }

func TestMultipartCSRFPeeksTheFirstField(t *testing.T) {
	body := "--XX\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\ntok123\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XX--\r\n"
	e := echo.New()
	var sawHeader, sawBody string
	e.POST(uploadPath, func(c echo.Context) error {
		sawHeader = c.Request().Header.Get("X-CSRF-Token")
		mr, err := c.Request().MultipartReader()
		if err != nil {
			return err
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			var b strings.Builder
			fmt.Fprint(&b, p.FormName(), "=")
			buf := make([]byte, 64)
			n, _ := p.Read(buf)
			b.Write(buf[:n])
			sawBody += b.String() + ";"
		}
		return c.NoContent(http.StatusNoContent)
	}, MultipartCSRF(isUpload))
	req := httptest.NewRequest(http.MethodPost, "/files/local/bk/upload", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if sawHeader != "tok123" {
		t.Errorf("X-CSRF-Token = %q, want the first field's value", sawHeader)
	}
	if sawBody != "csrf_token=tok123;files=hello;" {
		t.Errorf("the handler read %q; the body was not left whole", sawBody)
	}
}

// TestMultipartCSRFRefusesUploadsWithoutToken: an upload with the token
// neither in the header nor as the first field is refused before its
// body is read.
func TestMultipartCSRFRefusesUploadsWithoutToken(t *testing.T) {
	e := echo.New()
	reached := false
	e.POST(uploadPath, func(c echo.Context) error { reached = true; return c.NoContent(http.StatusNoContent) }, MultipartCSRF(isUpload))
	body := &countingReader{r: strings.NewReader("--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\n" + strings.Repeat("x", 1<<20) + "\r\n--XX--\r\n")}
	req := httptest.NewRequest(http.MethodPost, "/files/local/bk/upload", body)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || reached {
		t.Fatalf("status %d, handler reached %v", rec.Code, reached)
	}
	if body.n > 8192 {
		t.Errorf("read %d bytes of a refused upload", body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
