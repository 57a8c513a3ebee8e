package local

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Job states, as OSCAR reports pod phases.
const (
	StatusPending   = "Pending"
	StatusRunning   = "Running"
	StatusSucceeded = "Succeeded"
	StatusFailed    = "Failed"
)

// jobRecord is the persisted state of one asynchronous job.
type jobRecord struct {
	Name     string    `json:"name"`
	Service  string    `json:"service"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Event is the invocation body, handed to the script as EVENT.
	Event string `json:"event"`
	// Bucket and Key locate the object that triggered the job, if any.
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"`
	// Outputs are the objects the job uploaded; Cause the job that wrote
	// the object that started it (lineage.go).
	Outputs  []ObjectRef `json:"outputs,omitempty"`
	Cause    JobID       `json:"cause,omitzero"`
	ExitCode *int        `json:"exit_code,omitempty"`
	Reason   string      `json:"reason,omitempty"`
}

func (j *jobRecord) finished() bool {
	return j.Status == StatusSucceeded || j.Status == StatusFailed
}

// jobInfo is one entry of OSCAR's job list (types.JobInfo).
type jobInfo struct {
	Status       string `json:"status"`
	CreationTime string `json:"creation_time,omitempty"`
	StartTime    string `json:"start_time,omitempty"`
	FinishTime   string `json:"finish_time,omitempty"`
}

// jobsResponse is OSCAR's paged job list (types.JobsResponse, v3.6.4+).
type jobsResponse struct {
	Jobs          map[string]jobInfo `json:"jobs"`
	NextPage      string             `json:"next_page,omitempty"`
	RemainingJobs int                `json:"remaining_jobs"`
}

// rfc3339 formats a job time with milliseconds: OSCAR itself reports
// whole seconds, which makes every short job last "0s"; RFC 3339 allows
// the fraction and OSCAR clients parse it.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// jobStore keeps job records in memory and as <dir>/<service>/<job>.json,
// with the job's log beside it in <job>.log.
type jobStore struct {
	dir string
	mu  sync.Mutex
	m   map[string]map[string]*jobRecord // service → job name → record
	// changed is told of every job added, updated or removed (watch.go).
	changed func(svc, job string)
}

func (st *jobStore) tell(svc, job string) {
	if st.changed != nil {
		st.changed(svc, job)
	}
}

func openJobStore(dir string) (*jobStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create jobs dir: %w", err)
	}
	st := &jobStore{dir: dir, m: map[string]map[string]*jobRecord{}}
	svcDirs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read jobs dir: %w", err)
	}
	for _, sd := range svcDirs {
		if !sd.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, sd.Name()))
		if err != nil {
			return nil, fmt.Errorf("read jobs dir: %w", err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".json") || strings.HasPrefix(f.Name(), ".") {
				continue
			}
			path := filepath.Join(dir, sd.Name(), f.Name())
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read job %s: %w", path, err)
			}
			var j jobRecord
			if err := json.Unmarshal(b, &j); err != nil {
				return nil, fmt.Errorf("read job %s: %w", path, err)
			}
			if st.m[j.Service] == nil {
				st.m[j.Service] = map[string]*jobRecord{}
			}
			st.m[j.Service][j.Name] = &j
		}
	}
	return st, nil
}

func (st *jobStore) svcDir(svc string) string { return filepath.Join(st.dir, svc) }

func (st *jobStore) logPath(svc, job string) string {
	return filepath.Join(st.dir, svc, job+".log")
}

// saveLocked persists j; st.mu must be held.
func (st *jobStore) saveLocked(j *jobRecord) error {
	if err := os.MkdirAll(st.svcDir(j.Service), 0o700); err != nil {
		return fmt.Errorf("save job %s: %w", j.Name, err)
	}
	if err := writeFileAtomic(filepath.Join(st.svcDir(j.Service), j.Name+".json"), mustJSON(j), 0o600); err != nil {
		return fmt.Errorf("save job %s: %w", j.Name, err)
	}
	return nil
}

func (st *jobStore) add(j *jobRecord) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.saveLocked(j); err != nil {
		return err
	}
	if st.m[j.Service] == nil {
		st.m[j.Service] = map[string]*jobRecord{}
	}
	c := *j
	st.m[j.Service][j.Name] = &c
	st.tell(j.Service, j.Name)
	return nil
}

// get returns a copy of a job record.
func (st *jobStore) get(svc, name string) (jobRecord, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	j, ok := st.m[svc][name]
	if !ok {
		return jobRecord{}, false
	}
	return *j, true
}

// update applies fn to the stored record and persists it. It returns
// fs.ErrNotExist if the job was deleted meanwhile.
func (st *jobStore) update(svc, name string, fn func(j *jobRecord)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	j, ok := st.m[svc][name]
	if !ok {
		return fs.ErrNotExist
	}
	c := *j
	fn(&c)
	if err := st.saveLocked(&c); err != nil {
		return err
	}
	*j = c
	st.tell(svc, name)
	return nil
}

// remove deletes a job's record and log.
func (st *jobStore) remove(svc, name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.m[svc][name]; !ok {
		return fs.ErrNotExist
	}
	delete(st.m[svc], name)
	st.tell(svc, name)
	var errs []error
	for _, p := range []string{filepath.Join(st.svcDir(svc), name+".json"), st.logPath(svc, name)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// all returns copies of every job of a service, newest first.
func (st *jobStore) all(svc string) []jobRecord {
	st.mu.Lock()
	out := make([]jobRecord, 0, len(st.m[svc]))
	for _, j := range st.m[svc] {
		out = append(out, *j)
	}
	st.mu.Unlock()
	sort.Slice(out, func(i, k int) bool { return newer(out[i], out[k]) })
	return out
}

// services returns the names of services that have jobs.
func (st *jobStore) services() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.m))
	for s, jobs := range st.m {
		if len(jobs) > 0 {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// newer orders jobs newest first, by name among equal creation times.
func newer(a, b jobRecord) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.Name > b.Name
}

// pageToken encodes the position after job j for the next page.
func pageToken(j jobRecord) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(j.Created.UnixNano(), 10) + "/" + j.Name))
}

func parsePageToken(tok string) (jobRecord, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return jobRecord{}, badf("page %q: not a continuation token from this server", tok)
	}
	ns, name, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return jobRecord{}, badf("page %q: not a continuation token from this server", tok)
	}
	return jobRecord{Created: time.Unix(0, n), Name: name}, nil
}

// page returns the jobs of a service after the continuation token (newest
// first), at most limit of them, in OSCAR's JobsResponse shape.
func (st *jobStore) page(svc, token string, limit int) (jobsResponse, error) {
	all := st.all(svc)
	start := 0
	if token != "" {
		after, err := parsePageToken(token)
		if err != nil {
			return jobsResponse{}, err
		}
		start = sort.Search(len(all), func(i int) bool { return newer(after, all[i]) })
	}
	end := min(start+limit, len(all))
	resp := jobsResponse{Jobs: make(map[string]jobInfo, end-start)}
	for _, j := range all[start:end] {
		resp.Jobs[j.Name] = jobInfo{
			Status:       j.Status,
			CreationTime: rfc3339(j.Created),
			StartTime:    rfc3339(j.Started),
			FinishTime:   rfc3339(j.Finished),
		}
	}
	resp.RemainingJobs = len(all) - end
	if resp.RemainingJobs > 0 && end > start {
		resp.NextPage = pageToken(all[end-1])
	}
	return resp, nil
}
