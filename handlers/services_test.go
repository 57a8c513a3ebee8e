package handlers

import (
	"strings"
	"testing"

	"github.com/fdlstudio/fdlstudio/templates"
)

func TestSortServices(t *testing.T) {
	rows := []templates.ServiceRow{
		{Cluster: "b", Name: "zeta", Memory: "1Gi"},
		{Cluster: "a", Name: "Alpha", Memory: "2Gi"},
		{Cluster: "a", Name: "zeta", Memory: "512Mi"},
	}
	names := func() string {
		var s []string
		for _, r := range rows {
			s = append(s, r.Cluster+"/"+r.Name)
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		by   string
		desc bool
		want string
	}{
		{"", false, "a/Alpha a/zeta b/zeta"},
		{"name", true, "a/zeta b/zeta a/Alpha"},
		{"cluster", false, "a/Alpha a/zeta b/zeta"},
		{"memory", false, "a/zeta b/zeta a/Alpha"},
	}
	for _, tt := range tests {
		sortServices(rows, tt.by, tt.desc)
		if got := names(); got != tt.want {
			t.Errorf("sort by %q desc=%v = %s, want %s", tt.by, tt.desc, got, tt.want)
		}
	}
}

func TestLogLinesSearch(t *testing.T) {
	lines, total := logLines("start\nERROR disk full\nretry\nerror again\n", "error")
	if total != 4 || len(lines) != 2 || lines[0].N != 2 || lines[1].N != 4 {
		t.Fatalf("lines = %+v, total %d", lines, total)
	}
	if lines, _ := logLines("a\nb\n", ""); len(lines) != 2 {
		t.Fatalf("no query keeps every line: %+v", lines)
	}
}

func TestAttachmentHeaderIsSafe(t *testing.T) {
	got := attachmentHeader("we\"ird\r\nname/ü.txt")
	if strings.ContainsAny(got, "\r\n") || strings.Contains(got, `we"`) || !strings.Contains(got, "filename*=UTF-8''") {
		t.Fatalf("header = %q", got)
	}
}
