package watch

import (
	"fmt"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

var (
	count     = Func{"local", "wc-count"}
	top10     = Func{"local", "wc-top10"}
	runStages = []Stage{
		{Func: count, Inputs: []string{"wordcount/in"}, Outputs: []string{"wordcount/counts"}},
		{Func: top10, Inputs: []string{"wordcount/counts"}, Outputs: []string{"wordcount/top10"}},
	}
	t0 = time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
)

func job(name string, st backends.JobStatus, created, finished int) backends.Job {
	j := backends.Job{Name: name, Status: st, CreationTime: t0.Add(time.Duration(created) * time.Second)}
	if finished > 0 {
		j.FinishTime = t0.Add(time.Duration(finished) * time.Second)
	}
	return j
}

// Exact causality: two uploads of the same name make two runs, each with
// its own second-stage job, and the run waits for a next stage its first
// stage fed.
func TestCorrelateExact(t *testing.T) {
	jobs := []Traced{
		{Func: count, Job: job("c1", backends.JobSucceeded, 0, 2), Input: Object{"wordcount", "in/a.txt"}, Outputs: []Object{{"wordcount", "counts/a.counts"}}, OutputsKnown: true, Exact: true},
		{Func: count, Job: job("c2", backends.JobSucceeded, 1, 3), Input: Object{"wordcount", "in/a.txt"}, Outputs: []Object{{"wordcount", "counts/a.counts"}}, OutputsKnown: true, Exact: true},
		{Func: top10, Job: job("t1", backends.JobSucceeded, 3, 4), Input: Object{"wordcount", "counts/a.counts"}, Outputs: []Object{{"wordcount", "top10/a.top10.txt"}}, OutputsKnown: true, Exact: true, Cause: JobRef{count, "c1"}},
		{Func: Func{"local", "other"}, Job: job("x", backends.JobFailed, 0, 1), Exact: true},
	}
	runs := Correlate(runStages, jobs, t0.Add(5*time.Second))
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2: %+v", len(runs), runs)
	}
	// Newest first: c2's run, whose next stage has not started yet.
	if r := runs[0]; r.ID != "c2" || len(r.Jobs) != 1 || r.Status != backends.JobPending || !r.Finished.IsZero() || r.Guess {
		t.Errorf("run c2 = %+v, want one job, pending its next stage, exact", r)
	}
	r := runs[1]
	if r.ID != "c1" || len(r.Jobs) != 2 || r.Jobs[1].Job.Name != "t1" || r.Jobs[1].Depth != 1 || r.Jobs[1].Parent != 0 {
		t.Fatalf("run c1 = %+v, want c1 then t1", r)
	}
	if r.Status != backends.JobSucceeded || r.Duration(time.Time{}) != 4*time.Second || r.Guess {
		t.Errorf("run c1: status %s, duration %s, guess %v; want Succeeded, 4s, exact", r.Status, r.Duration(time.Time{}), r.Guess)
	}
	if got := r.Outputs(); len(got) != 2 || got[1].String() != "wordcount/top10/a.top10.txt" {
		t.Errorf("outputs = %v", got)
	}
	if r.StageStatus(top10) != backends.JobSucceeded || runs[0].StageStatus(top10) != "" {
		t.Errorf("stage statuses: %q and %q", r.StageStatus(top10), runs[0].StageStatus(top10))
	}
	// Long after, with no second-stage job, c2's run is over.
	if late := Correlate(runStages, jobs, t0.Add(time.Hour)); late[0].Status != backends.JobSucceeded {
		t.Errorf("an hour later run c2 is %s, want Succeeded", late[0].Status)
	}
}

// Without recorded causality (OSCAR), jobs are linked by key: the newest
// upstream job before it whose input name the job's input name starts
// with; the run says it is a guess.
func TestCorrelateByKey(t *testing.T) {
	jobs := []Traced{
		{Func: count, Job: job("c1", backends.JobSucceeded, 0, 2), Input: Object{"wordcount", "in/a.txt"}},
		{Func: count, Job: job("c2", backends.JobSucceeded, 1, 2), Input: Object{"wordcount", "in/b.txt"}},
		{Func: top10, Job: job("t2", backends.JobRunning, 3, 0), Input: Object{"wordcount", "counts/b.counts"}},
		{Func: top10, Job: job("t0", backends.JobFailed, 0, 1), Input: Object{"wordcount", "counts/zzz.counts"}},
	}
	runs := Correlate(runStages, jobs, t0.Add(5*time.Second))
	got := map[string]Run{}
	for _, r := range runs {
		got[r.ID] = r
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3 (c1, c2 with t2, t0 alone): %+v", len(runs), runs)
	}
	if r := got["c2"]; len(r.Jobs) != 2 || r.Jobs[1].Job.Name != "t2" || !r.Guess || r.Status != backends.JobRunning {
		t.Errorf("run c2 = %+v, want c2 then t2, a guess, running", r)
	}
	if r := got["c1"]; len(r.Jobs) != 1 || r.Guess {
		t.Errorf("run c1 = %+v, want c1 alone", r)
	}
	if r := got["t0"]; r.Status != backends.JobFailed || r.Finished.IsZero() {
		t.Errorf("run t0 = %+v, want a finished failed run of its own", r)
	}
	c := Count(jobs)
	if c[count].Succeeded != 2 || c[top10].Running != 1 || c[top10].Failed != 1 {
		t.Errorf("counts = %+v", c)
	}
}

// BenchmarkCorrelate is one rendering's work for two stages of 500 jobs
// each, linked by key (the slow path: no recorded causality).
func BenchmarkCorrelate(b *testing.B) {
	var jobs []Traced
	for i := range 500 {
		name := fmt.Sprintf("f%03d", i)
		jobs = append(jobs,
			Traced{Func: count, Job: job("c"+name, backends.JobSucceeded, i, i+1), Input: Object{"wordcount", "in/" + name + ".txt"}},
			Traced{Func: top10, Job: job("t"+name, backends.JobSucceeded, i+1, i+2), Input: Object{"wordcount", "counts/" + name + ".counts"}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if runs := Correlate(runStages, jobs, t0); len(runs) != 500 {
			b.Fatalf("%d runs, want 500", len(runs))
		}
	}
}

// A workflow whose stages feed each other, with jobs of equal creation
// times (whole seconds), cannot make the correlation loop.
func TestCorrelateBreaksCycles(t *testing.T) {
	a, b := Func{"c", "a"}, Func{"c", "b"}
	stages := []Stage{{Func: a, Inputs: []string{"x/in"}, Outputs: []string{"y/in"}}, {Func: b, Inputs: []string{"y/in"}, Outputs: []string{"x/in"}}}
	jobs := []Traced{
		{Func: a, Job: job("a1", backends.JobSucceeded, 0, 1), Input: Object{"x", "in/f.txt"}},
		{Func: b, Job: job("b1", backends.JobSucceeded, 0, 1), Input: Object{"y", "in/f.txt"}},
	}
	runs := Correlate(stages, jobs, t0)
	if len(runs) != 1 || len(runs[0].Jobs) != 2 {
		t.Fatalf("runs = %+v, want one run of both jobs", runs)
	}
}
