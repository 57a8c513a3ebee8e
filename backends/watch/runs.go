package watch

import (
	"cmp"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/fdlstudio/fdlstudio/backends"
)

// Runs: a run is one input object and everything it caused: the job it
// started in the first stage, the objects that job wrote, the jobs those
// objects started in the next stage, and so on. Correlate rebuilds the
// runs of a workflow from its functions' jobs. Where a cluster records
// the causality itself (the local cluster: which job wrote the object
// that started a job) the runs are exact; otherwise a job is linked to
// an upstream job by object key: its input key appears in the upstream
// job's outputs, or, when those are unknown (OSCAR does not say what a
// job wrote), its input's name starts with the name of the upstream
// job's input. Such a run is marked a guess.

// Func names one deployed function: a service of a registered cluster.
type Func struct {
	Cluster string
	Service string
}

func (f Func) String() string { return f.Cluster + "/" + f.Service }

// Object names one stored object.
type Object struct {
	Bucket string
	Key    string
}

func (o Object) String() string { return o.Bucket + "/" + o.Key }

// Stage is one function of a workflow and where its inputs and outputs
// are, as bucket/folder paths.
type Stage struct {
	Func
	// Label is the function's name as the workflow shows it.
	Label   string
	Inputs  []string
	Outputs []string
}

// JobRef names one job of one function.
type JobRef struct {
	Func
	Job string
}

// Traced is one job with what is known of its input, outputs and cause.
type Traced struct {
	Func
	Job backends.Job
	// Input is the object whose upload started the job (zero: unknown).
	Input Object
	// Outputs are the objects the job wrote; OutputsKnown says whether
	// the cluster reports them at all.
	Outputs      []Object
	OutputsKnown bool
	// Cause is the job that wrote Input, and Exact says that the cluster
	// recorded it (zero Cause with Exact: an upload from outside).
	Cause JobRef
	Exact bool
}

// RunJob is one job of a run.
type RunJob struct {
	Traced
	// Depth is the job's distance from the run's first job; Parent the
	// index in Run.Jobs of the job that caused it (-1 for the first).
	Depth  int
	Parent int
}

// Run is one input object and the jobs it caused, in causal order.
type Run struct {
	// ID is the first job's name.
	ID    string
	Input Object
	Jobs  []RunJob
	// Guess is set when some link of the run was inferred from names.
	Guess bool
	// Status is Failed if a job failed, else Running or Pending while
	// some job is (or a next stage is still to start), else Succeeded.
	Status   backends.JobStatus
	Created  time.Time
	Finished time.Time // zero until the run is over
}

// Outputs are the objects the run's jobs wrote, in job order.
func (r *Run) Outputs() []Object {
	var out []Object
	for _, j := range r.Jobs {
		out = append(out, j.Outputs...)
	}
	return out
}

// Duration is from the first job's creation to the end of the run, or to
// now while it runs.
func (r *Run) Duration(now time.Time) time.Duration {
	if r.Created.IsZero() {
		return 0
	}
	end := r.Finished
	if end.IsZero() {
		end = now
	}
	return end.Sub(r.Created)
}

// StageStatus is the status of the run's jobs of one function ("" when
// the run has none there): the worst of them.
func (r *Run) StageStatus(f Func) backends.JobStatus {
	var st backends.JobStatus
	for _, j := range r.Jobs {
		if j.Func == f {
			st = worse(st, j.Job.Status)
		}
	}
	return st
}

// rank orders statuses from best to worst for a summary.
func rank(s backends.JobStatus) int {
	switch s {
	case "":
		return 0
	case backends.JobSucceeded:
		return 1
	case backends.JobPending:
		return 2
	case backends.JobRunning:
		return 3
	case backends.JobFailed:
		return 5
	default:
		return 4
	}
}

func worse(a, b backends.JobStatus) backends.JobStatus {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// underPath reports whether key in bucket lies under a bucket/folder path.
func underPath(o Object, p string) bool {
	bucket, folder, _ := strings.Cut(strings.Trim(p, "/"), "/")
	if bucket != o.Bucket {
		return false
	}
	return folder == "" || strings.HasPrefix(o.Key, folder+"/")
}

// stem is a key's file name without its extensions: "in/story.txt" →
// "story".
func stem(key string) string {
	b := path.Base(key)
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return b
}

// feeds reports whether stage a's outputs land in stage b's inputs.
func feeds(a, b Stage) bool {
	for _, o := range a.Outputs {
		for _, i := range b.Inputs {
			o, i := strings.Trim(o, "/"), strings.Trim(i, "/")
			if o == i || strings.HasPrefix(o, i+"/") {
				return true
			}
		}
	}
	return false
}

// Correlate builds the runs of jobs, newest first. stages are the
// workflow's functions; a job of a function not among them is ignored.
// now decides whether a finished stage may still start the next one
// (for a short while after it wrote an output to a watched input).
func Correlate(stages []Stage, jobs []Traced, now time.Time) []Run {
	byFunc := map[Func]int{}
	for i, s := range stages {
		byFunc[s.Func] = i
	}
	index := map[JobRef]int{}
	var kept []Traced
	for _, j := range jobs {
		if _, ok := byFunc[j.Func]; ok {
			index[JobRef{j.Func, j.Job.Name}] = len(kept)
			kept = append(kept, j)
		}
	}
	// Which stage feeds which, and the upstream jobs by what links to
	// them: the objects they wrote (when known), else their input's name.
	feed := make([][]bool, len(stages))
	for a := range stages {
		feed[a] = make([]bool, len(stages))
		for b := range stages {
			feed[a][b] = feeds(stages[a], stages[b])
		}
	}
	byOutput := map[Object][]int{}
	byStem := map[string][]int{}
	for k, u := range kept {
		switch {
		case u.OutputsKnown:
			for _, o := range u.Outputs {
				byOutput[o] = append(byOutput[o], k)
			}
		case u.Input != (Object{}):
			byStem[stem(u.Input.Key)] = append(byStem[stem(u.Input.Key)], k)
		}
	}
	parent := make([]int, len(kept))
	guessed := make([]bool, len(kept))
	for i, j := range kept {
		parent[i] = -1
		if j.Exact {
			if p, ok := index[j.Cause]; ok && j.Cause.Job != "" {
				parent[i] = p
			}
			continue
		}
		if j.Input == (Object{}) {
			continue
		}
		// By key: the newest upstream job created before this one that
		// wrote the input, or whose input's name this input's name starts
		// with.
		me := byFunc[j.Func]
		candidates := slices.Clone(byOutput[j.Input])
		base := path.Base(j.Input.Key)
		for n := 1; n <= len(base); n++ {
			candidates = append(candidates, byStem[base[:n]]...)
		}
		best := -1
		for _, k := range candidates {
			u := kept[k]
			if k == i || !feed[byFunc[u.Func]][me] || after(u.Job.CreationTime, j.Job.CreationTime) {
				continue
			}
			if best < 0 || kept[best].Job.CreationTime.Before(u.Job.CreationTime) {
				best = k
			}
		}
		if best >= 0 {
			parent[i] = best
			guessed[i] = true
		}
	}
	// A cycle in guessed links (impossible in time order, but a bad clock
	// could make one) is broken by making its members roots.
	for i := range kept {
		steps := 0
		for p := parent[i]; p >= 0; p = parent[p] {
			if steps++; steps > len(kept) {
				parent[i] = -1
				break
			}
		}
	}
	children := make([][]int, len(kept))
	for i, p := range parent {
		if p >= 0 {
			children[p] = append(children[p], i)
		}
	}
	var runs []Run
	for i, j := range kept {
		if parent[i] >= 0 {
			continue
		}
		r := Run{ID: j.Job.Name, Input: j.Input}
		queue := []struct{ at, parent, depth int }{{i, -1, 0}}
		for len(queue) > 0 {
			q := queue[0]
			queue = queue[1:]
			r.Jobs = append(r.Jobs, RunJob{Traced: kept[q.at], Parent: q.parent, Depth: q.depth})
			r.Guess = r.Guess || guessed[q.at]
			kids := slices.Clone(children[q.at])
			slices.SortFunc(kids, func(a, b int) int { return kept[a].Job.CreationTime.Compare(kept[b].Job.CreationTime) })
			for _, k := range kids {
				queue = append(queue, struct{ at, parent, depth int }{k, len(r.Jobs) - 1, q.depth + 1})
			}
		}
		summarize(&r, stages, now)
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b Run) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.ID, b.ID))
	})
	return runs
}

func after(a, b time.Time) bool { return !a.IsZero() && !b.IsZero() && a.After(b) }

// nextStageWait is how long after a job wrote an output into a next
// stage's input the run counts as still running, waiting for that job.
const nextStageWait = 30 * time.Second

func summarize(r *Run, stages []Stage, now time.Time) {
	var st backends.JobStatus
	var end time.Time
	for _, j := range r.Jobs {
		st = worse(st, j.Job.Status)
		if r.Created.IsZero() || !j.Job.CreationTime.IsZero() && j.Job.CreationTime.Before(r.Created) {
			r.Created = j.Job.CreationTime
		}
		if j.Job.FinishTime.After(end) {
			end = j.Job.FinishTime
		}
	}
	// Every job succeeded, but one that just wrote into the input of a
	// stage has no job there yet: the run goes on.
	for i, j := range r.Jobs {
		if st != backends.JobSucceeded || !j.OutputsKnown || hasChild(r, i) || now.Sub(j.Job.FinishTime) >= nextStageWait {
			continue
		}
		for _, o := range j.Outputs {
			for _, s := range stages {
				for _, in := range s.Inputs {
					if underPath(o, in) {
						st = backends.JobPending
					}
				}
			}
		}
	}
	r.Status = st
	if st == backends.JobSucceeded || st == backends.JobFailed && !anyActive(r) {
		r.Finished = end
	}
}

func hasChild(r *Run, i int) bool {
	for _, j := range r.Jobs {
		if j.Parent == i {
			return true
		}
	}
	return false
}

func anyActive(r *Run) bool {
	for _, j := range r.Jobs {
		if j.Job.Status == backends.JobPending || j.Job.Status == backends.JobRunning {
			return true
		}
	}
	return false
}

// Counts are the jobs of one function by status.
type Counts struct {
	Pending, Running, Succeeded, Failed int
}

// Count tallies jobs per function.
func Count(jobs []Traced) map[Func]Counts {
	out := map[Func]Counts{}
	for _, j := range jobs {
		c := out[j.Func]
		switch j.Job.Status {
		case backends.JobPending:
			c.Pending++
		case backends.JobRunning:
			c.Running++
		case backends.JobSucceeded:
			c.Succeeded++
		case backends.JobFailed:
			c.Failed++
		}
		out[j.Func] = c
	}
	return out
}
