package serviceform

import (
	"io"
	"strings"
	"testing"
)

func TestReadScriptFile(t *testing.T) {
	open := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	tests := []struct {
		name, in, want, msg string
		size                int64
	}{
		{"crlf", "echo a\r\necho b", "echo a\necho b\n", "", 14},
		{"binary", "\x00\x01", "", "not UTF-8 text", 2},
		{"latin1", "caf\xe9", "", "not UTF-8 text", 4},
		{"too big", "x", "", "at most", maxScriptBytes + 1},
	}
	for _, tt := range tests {
		got, msg := ReadScriptFile(tt.size, open(tt.in))
		if got != tt.want || (tt.msg == "") != (msg == "") || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: got %q, %q; want %q, %q", tt.name, got, msg, tt.want, tt.msg)
		}
	}
}
