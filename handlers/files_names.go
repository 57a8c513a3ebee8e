package handlers

// Name checks for buckets, object keys and folder prefixes, each with
// the message a user reads when one is wrong.

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

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
// slash, no backslash, no empty, "." or ".." segments. A trailing slash
// (a folder) is allowed.
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
	case strings.Contains(key, "\\"):
		return "the name contains a backslash, which Windows reads as a folder separator"
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
