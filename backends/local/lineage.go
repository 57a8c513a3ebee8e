package local

import (
	"sync"
	"time"
)

// Lineage: the local cluster runs every job and uploads every output
// itself, so it knows exactly which job wrote the object whose upload
// started another job. Each job records the object that started it, the
// objects it wrote and the job that wrote its input (its cause); a run
// is followed from its first job through these records (JobTraces).

// ObjectRef names one stored object.
type ObjectRef struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// JobID names one job of one service.
type JobID struct {
	Service string `json:"service"`
	Job     string `json:"job"`
}

// JobTrace is what the cluster knows of one job's place in a run.
type JobTrace struct {
	JobID
	// Input is the object whose upload started the job (zero when it was
	// not started by an upload).
	Input ObjectRef
	// Outputs are the objects the job uploaded to the cluster's storage,
	// in upload order.
	Outputs []ObjectRef
	// Cause is the job that wrote Input (zero when something outside the
	// cluster's jobs uploaded it).
	Cause JobID
}

// JobTraces returns the traces of a service's jobs, newest first.
func (c *Cluster) JobTraces(service string) []JobTrace {
	all := c.jobs.all(service)
	out := make([]JobTrace, len(all))
	for i, j := range all {
		out[i] = JobTrace{JobID: JobID{Service: j.Service, Job: j.Name}, Input: ObjectRef{Bucket: j.Bucket, Key: j.Key},
			Outputs: j.Outputs, Cause: j.Cause}
	}
	return out
}

// writers remembers which job is uploading or has just uploaded each
// object, until the storage event of that upload arrives (take) or, for
// objects no service watches, for writerTTL.
type writers struct {
	mu sync.Mutex
	m  map[ObjectRef]writer
}

type writer struct {
	job JobID
	at  time.Time
}

// writerTTL bounds how long an upload waits for its storage event; the
// event follows the upload within milliseconds.
const writerTTL = 10 * time.Minute

// put records that job writes o; it is called before the upload starts,
// since the storage event may arrive before the upload call returns.
func (w *writers) put(o ObjectRef, job JobID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[ObjectRef]writer{}
	}
	now := time.Now()
	if len(w.m) >= 1024 {
		for k, v := range w.m {
			if now.Sub(v.at) > writerTTL {
				delete(w.m, k)
			}
		}
	}
	w.m[o] = writer{job: job, at: now}
}

// forget drops o after its upload failed.
func (w *writers) forget(o ObjectRef, job JobID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := w.m[o]; ok && v.job == job {
		delete(w.m, o)
	}
}

// take returns and forgets the job that wrote o: a later upload of the
// same key by someone else starts a run of its own.
func (w *writers) take(o ObjectRef) (JobID, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.m[o]
	if !ok || time.Since(v.at) > writerTTL {
		return JobID{}, false
	}
	delete(w.m, o)
	return v.job, true
}
