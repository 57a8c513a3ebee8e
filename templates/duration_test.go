package templates

import (
	"testing"
	"time"
)

func TestJobDurations(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		started, finished time.Time
		want              string
	}{
		{start, start.Add(300 * time.Millisecond), "300ms"},
		{start, start.Add(12340 * time.Millisecond), "12.3s"},
		{start, start.Add(4*time.Minute + 5400*time.Millisecond), "4m5s"},
		{start, start, "<1s"}, // whole-second times (OSCAR's) that are equal
		{start, start.Add(time.Second), "1s"},
		{time.Time{}, start, "—"},
	} {
		if got := (JobRow{Started: tt.started, Finished: tt.finished}).Duration(); got != tt.want {
			t.Errorf("Duration(%v, %v) = %q, want %q", tt.started, tt.finished, got, tt.want)
		}
	}
}
