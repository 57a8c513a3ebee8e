package handlers

import (
	"context"
	"fmt"
	"mime"
	"sort"
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key  string
		want string // substring of the reason; "" = accepted
	}{
		{"a.txt", ""},
		{"dir/sub/a b.txt", ""},
		{"folder/", ""},
		{"ünïcode/名前.txt", ""},
		{"", "empty"},
		{"../etc/passwd", `".."`},
		{"a/../b", `".."`},
		{"a/./b", `"."`},
		{"a//b", "two slashes"},
		{"/abs", "starts with a slash"},
		{`a\..\..\b.txt`, "backslash"},
		{"bad\nname", "control character"},
		{"tab\tname", "control character"},
		{"nul\x00", "control character"},
		{"\xff\xfe", "UTF-8"},
		{strings.Repeat("k", 1024), ""},
		{strings.Repeat("k", 1025), "1025 bytes"},
	}
	for _, tt := range tests {
		got := checkKey(tt.key)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestZipNameStaysInItsFolder: whatever names a bucket holds (other S3
// clients can write any key), no zip entry climbs out of the folder an
// unzip tool writes into, whether it reads / or \ as the separator.
func TestZipNameStaysInItsFolder(t *testing.T) {
	for key, want := range map[string]string{
		"in/a.txt":         "in/a.txt",
		`..\evil.txt`:      "evil.txt",
		`a\..\..\b.txt`:    "a/b.txt",
		"/abs/x":           "abs/x",
		"a/../../b":        "a/b",
		`C:\Windows\x.dll`: "C_/Windows/x.dll",
		"./x//y":           "x/y",
	} {
		got := zipName(key)
		if got != want {
			t.Errorf("zipName(%q) = %q, want %q", key, got, want)
		}
		for _, seg := range strings.FieldsFunc(got, func(r rune) bool { return r == '/' || r == '\\' }) {
			if seg == ".." || strings.Contains(seg, ":") {
				t.Errorf("zipName(%q) = %q holds %q", key, got, seg)
			}
		}
	}
}

func TestCheckBucketName(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"my-bucket", ""},
		{"a.b-c1", ""},
		{"ab", "3 to 63"},
		{strings.Repeat("a", 64), "3 to 63"},
		{"MyBucket", "lower-case"},
		{"my_bucket", "only lower-case letters"},
		{"-bucket", "start and end"},
		{"bucket.", "start and end"},
		{"a..b", "two dots"},
		{"192.168.1.1", "IP address"},
		{"xn--abc", "xn--"},
		{"data-s3alias", "-s3alias"},
	}
	for _, tt := range tests {
		got := checkBucketName(tt.name)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkBucketName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAttachment(t *testing.T) {
	tests := []struct {
		key  string
		want string // the file name the browser sees
	}{
		{"dir/report.pdf", "report.pdf"},
		{`we"ird\name.txt`, "we_ird_name.txt"},
		{"résumé.txt", "résumé.txt"},
		{"folder/", "folder"},
		{"..", "download"},
	}
	for _, tt := range tests {
		v := attachment(tt.key)
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" {
			t.Errorf("attachment(%q) = %q: not a valid attachment header (%v)", tt.key, v, err)
			continue
		}
		if got := params["filename"]; got != tt.want {
			t.Errorf("attachment(%q) file name = %q, want %q (header %q)", tt.key, got, tt.want, v)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// keyLister lists a sorted key set the way the OSCAR client does: pages
// of at most pageSize keys, the token being the last key (StartAfter).
type keyLister struct {
	keys     []string
	pageSize int
	calls    int
}

func (l *keyLister) ListObjects(_ context.Context, _ string, o backends.ListObjectsOptions) (*backends.ObjectList, error) {
	l.calls++
	out := &backends.ObjectList{}
	for _, k := range l.keys {
		if !strings.HasPrefix(k, o.Prefix) || k <= o.PageToken {
			continue
		}
		if len(out.Objects) == l.pageSize {
			out.NextPage = out.Objects[len(out.Objects)-1].Key
			break
		}
		out.Objects = append(out.Objects, backends.Object{Key: k})
	}
	return out, nil
}

func TestListDirGroupsFoldersAndPages(t *testing.T) {
	var keys []string
	for i := 0; i < 50; i++ {
		keys = append(keys, fmt.Sprintf("big/%03d.dat", i))
	}
	keys = append(keys, "a.txt", "b/", "b/x.txt", "c.txt", "d/e/f.txt", "z.txt", "top/")
	sort.Strings(keys)
	l := &keyLister{keys: keys, pageSize: 5}

	// All of it in one page: folders once each, files at this level.
	got, err := listDir(context.Background(), l, "bk", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b/", "big/", "d/", "top/"}; fmt.Sprint(got.Folders) != fmt.Sprint(want) {
		t.Errorf("folders = %v, want %v", got.Folders, want)
	}
	var files []string
	for _, f := range got.Files {
		files = append(files, f.Key)
	}
	if want := []string{"a.txt", "c.txt", "z.txt"}; fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	if got.Next != "" {
		t.Errorf("next = %q on the last page", got.Next)
	}
	// The 50 keys of big/ are skipped over, not read page by page.
	if l.calls > 6 {
		t.Errorf("%d backend calls for 7 entries; the big folder was not skipped", l.calls)
	}

	// Pages of 2 entries walk the same entries in order, each once.
	var walked []string
	token := ""
	for i := 0; i < 10; i++ {
		page, err := listDir(context.Background(), l, "bk", "", token, 2)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, page.Folders...)
		for _, f := range page.Files {
			walked = append(walked, f.Key)
		}
		if page.Next == "" {
			break
		}
		token = page.Next
	}
	sort.Strings(walked)
	if want := []string{"a.txt", "b/", "big/", "c.txt", "d/", "top/", "z.txt"}; fmt.Sprint(walked) != fmt.Sprint(want) {
		t.Errorf("paged walk = %v, want %v", walked, want)
	}

	// Inside a folder, its own marker is not listed.
	sub, err := listDir(context.Background(), l, "bk", "b/", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Folders) != 0 || len(sub.Files) != 1 || sub.Files[0].Key != "b/x.txt" {
		t.Errorf("b/ = %+v", sub)
	}
}
