package local

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestSampleWorkflowEndToEnd(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)

	services := loadFDL(t, filepath.Join("..", "..", "examples", "wordcount", "wordcount.yaml"))
	if len(services) != 2 {
		t.Fatalf("sample FDL has %d services, want 2", len(services))
	}
	for _, s := range services {
		a.must(201, "POST", "/system/services", mustMarshal(t, s))
	}
	count := a.service("wc-count")
	if len(count.Token) != 64 {
		t.Errorf("token %q: want 64 hex characters", count.Token)
	}
	if got, want := count.Input[0].Path, "wordcount/in"; got != want {
		t.Errorf("input path = %q, want %q", got, want)
	}
	if got := count.StorageProviders.MinIO["default"]; got == nil || got.Endpoint == "" || got.SecretKey != "" {
		t.Errorf("storage_providers.minio.default = %+v, want the endpoint without keys", got)
	}

	s3 := a.s3Client()
	ctx := context.Background()
	text := "The quick brown fox jumps over the lazy dog.\nThe dog sleeps; the fox runs. A fox!\n"
	if _, err := s3.PutObject(ctx, "wordcount", "in/story.txt", strings.NewReader(text), int64(len(text)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("upload: %v", err)
	}

	got := string(waitObject(t, s3, "wordcount", "top10/story.top10.txt", 30*time.Second))
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 10 {
		t.Errorf("top10 has %d lines, want 10:\n%s", len(lines), got)
	}
	for i, want := range []string{"4 the", "3 fox", "2 dog"} {
		if i >= len(lines) || lines[i] != want {
			t.Errorf("top10 line %d = %q, want %q; whole output:\n%s", i+1, lines[min(i, len(lines)-1)], want, got)
		}
	}

	for _, svc := range []string{"wc-count", "wc-top10"} {
		r := a.waitJobs(svc, 10*time.Second, func(r jobsResponse) bool { return countStatus(r, StatusSucceeded) == 1 })
		if len(r.Jobs) != 1 {
			t.Errorf("%s: %d jobs, want 1: %+v", svc, len(r.Jobs), r.Jobs)
		}
		for name, j := range r.Jobs {
			if !strings.HasPrefix(name, svc+"-") {
				t.Errorf("job name %q does not start with %q", name, svc+"-")
			}
			for what, ts := range map[string]string{"creation": j.CreationTime, "start": j.StartTime, "finish": j.FinishTime} {
				if _, err := time.Parse(time.RFC3339, ts); err != nil {
					t.Errorf("%s %s_time %q: %v", name, what, ts, err)
				}
			}
			log := string(a.must(200, "GET", "/system/logs/"+svc+"/"+name, nil))
			want := map[string]string{"wc-count": "Counting words of in/story.txt", "wc-top10": "Top 10 words of counts/story.counts"}[svc]
			if !strings.Contains(log, want) {
				t.Errorf("%s log does not contain %q:\n%s", name, want, log)
			}
			stamped := string(a.must(200, "GET", "/system/logs/"+svc+"/"+name+"?timestamps=true", nil))
			first, _, _ := strings.Cut(stamped, " ")
			if _, err := time.Parse(time.RFC3339Nano, first); err != nil {
				t.Errorf("log with timestamps starts with %q, not a timestamp: %v", first, err)
			}
		}
	}

	// Delete keeps the data and says which buckets OSCAR would have deleted.
	a.must(204, "DELETE", "/system/services/wc-top10", nil)
	if got, want := a.lastHead.Get(keptBucketsHeader), "wordcount"; got != want {
		t.Errorf("%s = %q, want %q", keptBucketsHeader, got, want)
	}
	if _, err := s3.StatObject(ctx, "wordcount", "top10/story.top10.txt", minio.StatObjectOptions{}); err != nil {
		t.Errorf("output was deleted with the service: %v", err)
	}
	a.must(404, "GET", "/system/services/wc-top10", nil)
}

func TestFailingScriptIsFailedWithStderrInLog(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": "fails", "image": "alpine", "script": "echo about to fail\necho 'boom: no such thing' >&2\nexit 3\n",
	}))
	a.bearer = a.service("fails").Token
	a.must(201, "POST", "/job/fails", []byte(`{"hello":"world"}`))
	job := a.lastHead.Get(jobNameHeader)
	a.bearer = ""
	r := a.waitJobs("fails", 10*time.Second, func(r jobsResponse) bool { return countStatus(r, StatusFailed) == 1 })
	if _, ok := r.Jobs[job]; !ok {
		t.Fatalf("job %q from the /job response is not in the list %+v", job, r.Jobs)
	}
	log := string(a.must(200, "GET", "/system/logs/fails/"+job, nil))
	for _, want := range []string{"about to fail", "boom: no such thing", "status 3"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not contain %q:\n%s", want, log)
		}
	}
}

func TestAsyncEnvironmentAndOutputFilters(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	script := `set -e
echo "svc=$OSCAR_SERVICE_NAME uuid=$JOB_UUID key=$STORAGE_OBJECT_KEY var=$GREETING secret=$PASSWORD"
case "$EVENT" in *'"Records"'*) echo event-ok;; esac
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy.txt"
echo data > "$TMP_OUTPUT_DIR/result.csv"
mkdir "$TMP_OUTPUT_DIR/sub"; echo deep > "$TMP_OUTPUT_DIR/sub/x.csv"
`
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": "envcheck", "image": "alpine", "script": script,
		"environment": map[string]any{"Variables": map[string]string{"GREETING": "hi"}, "secrets": map[string]string{"PASSWORD": "s3cret"}},
		"input":       []map[string]any{{"storage_provider": "minio", "path": "in"}},
		"output": []map[string]any{
			{"storage_provider": "minio", "path": "envcheck/csv", "suffix": []string{".csv"}},
			{"storage_provider": "minio.default", "path": "/envcheck/all/"},
		},
	}))
	svc := a.service("envcheck")
	if got := svc.Environment.Secrets["PASSWORD"]; got != "" {
		t.Errorf("GET hands out the secret value %q", got)
	}
	s3 := a.s3Client()
	key := "in/with space+plus.txt"
	if _, err := s3.PutObject(context.Background(), "envcheck", key, strings.NewReader("payload"), 7, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := string(waitObject(t, s3, "envcheck", "all/copy.txt", 20*time.Second)); got != "payload" {
		t.Errorf("all/copy.txt = %q, want the input", got)
	}
	for _, k := range []string{"csv/result.csv", "csv/sub/x.csv", "all/result.csv", "all/sub/x.csv"} {
		waitObject(t, s3, "envcheck", k, 10*time.Second)
	}
	if _, err := s3.StatObject(context.Background(), "envcheck", "csv/copy.txt", minio.StatObjectOptions{}); err == nil {
		t.Errorf("copy.txt was uploaded to the .csv-only output")
	}
	r := a.waitJobs("envcheck", 10*time.Second, func(r jobsResponse) bool { return countStatus(r, StatusSucceeded) == 1 })
	for name := range r.Jobs {
		log := string(a.must(200, "GET", "/system/logs/envcheck/"+name, nil))
		want := "svc=envcheck uuid=" + strings.TrimPrefix(name, "envcheck-") + " key=" + key + " var=hi secret=s3cret"
		if !strings.Contains(log, want) || !strings.Contains(log, "event-ok") {
			t.Errorf("log does not contain %q and event-ok:\n%s", want, log)
		}
	}
	if n := len(r.Jobs); n != 1 {
		t.Errorf("%d jobs, want 1 (folder markers and outputs must not trigger)", n)
	}
}

func TestRunSync(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	script := `case "$(cat "$INPUT_FILE_PATH")" in
stdout) echo "printed $(cat "$INPUT_FILE_PATH")";;
one) echo one > "$TMP_OUTPUT_DIR/one.txt";;
two) echo a > "$TMP_OUTPUT_DIR/a.txt"; echo b > "$TMP_OUTPUT_DIR/b.txt";;
*) echo "bad input" >&2; exit 1;;
esac
`
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": "sync", "image": "alpine", "script": script}))
	a.bearer = a.service("sync").Token
	b64 := func(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

	if got, want := string(a.must(200, "POST", "/run/sync", b64("stdout"))), "printed stdout\n"; got != want {
		t.Errorf("stdout response = %q, want %q", got, want)
	}
	one, err := base64.StdEncoding.DecodeString(string(a.must(200, "POST", "/run/sync", b64("one"))))
	if err != nil || string(one) != "one\n" {
		t.Errorf("single-file response decodes to %q (%v), want %q", one, err, "one\n")
	}
	zipped, err := base64.StdEncoding.DecodeString(string(a.must(200, "POST", "/run/sync", b64("two"))))
	if err != nil {
		t.Fatalf("zip response is not base64: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("zip response: %v", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	if files["a.txt"] != "a\n" || files["b.txt"] != "b\n" || len(files) != 2 {
		t.Errorf("zip holds %v, want a.txt and b.txt", files)
	}
	body := string(a.must(500, "POST", "/run/sync", b64("other")))
	if !strings.Contains(body, "bad input") {
		t.Errorf("failed run body does not carry stderr: %q", body)
	}
	if n := len(a.jobsWithBasic("sync").Jobs); n != 0 {
		t.Errorf("sync runs made %d async jobs", n)
	}
}

func (a *api) jobsWithBasic(svc string) jobsResponse {
	saved := a.bearer
	a.bearer = ""
	defer func() { a.bearer = saved }()
	return a.jobs(svc)
}

func TestAuthRequired(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": "guarded", "image": "alpine", "script": "echo hi"}))
	token := a.service("guarded").Token

	anon := newAPI(t, c)
	anon.noAuth = true
	anon.must(200, "GET", "/health", nil)
	for _, p := range []string{"/system/info", "/system/config", "/system/services", "/system/logs/guarded"} {
		anon.must(401, "GET", p, nil)
	}
	anon.must(401, "POST", "/job/guarded", nil)
	anon.must(401, "POST", "/run/guarded", nil)

	wrong := newAPI(t, c)
	wrong.pass = "not-the-password"
	wrong.must(401, "GET", "/system/services", nil)
	wrong.bearer = strings.Repeat("0", 64)
	wrong.must(401, "POST", "/job/guarded", nil)
	// A service token opens /job and /run of its service, not /system.
	tok := newAPI(t, c)
	tok.bearer = token
	tok.must(401, "GET", "/system/services", nil)
	tok.must(201, "POST", "/job/guarded", nil)
	// Basic credentials also work for /job, as documented.
	a.must(201, "POST", "/job/guarded", nil)
	a.must(404, "POST", "/job/nosuch", nil)
}

func TestDeleteRunningJobKillsIt(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	pidFile := filepath.Join(t.TempDir(), "pid")
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{
		"name": "sleeper", "image": "alpine",
		"script":      "echo $$ > \"$PIDFILE\"\necho started\nsleep 60\necho never\n",
		"environment": map[string]any{"variables": map[string]string{"PIDFILE": pidFile}},
	}))
	a.must(201, "POST", "/job/sleeper", nil)
	job := a.lastHead.Get(jobNameHeader)
	a.waitJobs("sleeper", 10*time.Second, func(r jobsResponse) bool { return r.Jobs[job].Status == StatusRunning })
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(a.must(200, "GET", "/system/logs/sleeper/"+job, nil)), "started") {
		if time.Now().After(deadline) {
			t.Fatal("the running job's log never showed its first line")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	a.must(204, "DELETE", "/system/logs/sleeper/"+job, nil)
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("script process %d still alive 5s after the job was deleted", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.must(404, "GET", "/system/logs/sleeper/"+job, nil)
	if r := a.jobs("sleeper"); len(r.Jobs) != 0 {
		t.Errorf("jobs after delete: %+v", r.Jobs)
	}
}

func TestJobListPagingAndPersistence(t *testing.T) {
	dir := t.TempDir()
	c := startCluster(t, Config{DataDir: dir, JobListingLimit: 3, MaxConcurrency: 2})
	a := newAPI(t, c)
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": "pager", "image": "alpine", "script": "echo job $JOB_UUID"}))
	for i := 0; i < 7; i++ {
		a.must(201, "POST", "/job/pager", []byte(fmt.Sprintf("payload %d", i)))
	}
	a.waitJobs("pager", 20*time.Second, func(jobsResponse) bool {
		return len(c.jobs.all("pager")) == 7 && allFinished(c.jobs.all("pager"))
	})
	seen := map[string]bool{}
	page := ""
	for i := 0; ; i++ {
		var r jobsResponse
		path := "/system/logs/pager"
		if page != "" {
			path += "?page=" + page
		}
		mustJSONDecode(t, a.must(200, "GET", path, nil), &r)
		if len(r.Jobs) > 3 {
			t.Fatalf("page %d has %d jobs, limit 3", i, len(r.Jobs))
		}
		for name := range r.Jobs {
			if seen[name] {
				t.Errorf("job %s listed twice", name)
			}
			seen[name] = true
		}
		if got, want := r.RemainingJobs, 7-len(seen); got != want {
			t.Errorf("page %d: remaining_jobs = %d, want %d", i, got, want)
		}
		if r.NextPage == "" {
			break
		}
		page = r.NextPage
	}
	if len(seen) != 7 {
		t.Errorf("paged through %d jobs, want 7", len(seen))
	}
	a.must(400, "GET", "/system/logs/pager?page=garbage!", nil)

	// Jobs and their logs survive a restart.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := New(Config{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := c2.jobs.all("pager")
	if len(all) != 7 {
		t.Fatalf("after restart: %d jobs, want 7", len(all))
	}
	for _, j := range all {
		if j.Status != StatusSucceeded {
			t.Errorf("after restart: job %s is %s", j.Name, j.Status)
		}
		b, err := os.ReadFile(c2.jobs.logPath("pager", j.Name))
		if err != nil || !strings.Contains(string(b), "job "+strings.TrimPrefix(j.Name, "pager-")) {
			t.Errorf("after restart: log of %s = %q (%v)", j.Name, b, err)
		}
	}
	// Deleting succeeded jobs (the default) empties the list.
	c3 := startCluster(t, Config{DataDir: dir})
	a3 := newAPI(t, c3)
	a3.must(204, "DELETE", "/system/logs/pager", nil)
	if r := a3.jobs("pager"); len(r.Jobs) != 0 {
		t.Errorf("after DELETE /system/logs/pager: %d jobs left", len(r.Jobs))
	}
}

func allFinished(js []jobRecord) bool {
	for _, j := range js {
		if !j.finished() {
			return false
		}
	}
	return true
}

func TestJobTimeoutAndOutputLimit(t *testing.T) {
	// The timeout leaves room for the job wrapper to start on a loaded
	// machine (it is this program, re-run), so "big" ends on its own.
	c := startCluster(t, Config{JobTimeout: 2 * time.Second, MaxOutputBytes: 1000})
	a := newAPI(t, c)
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": "slow", "image": "alpine", "script": "sleep 30"}))
	a.must(201, "POST", "/system/services", mustMarshal(t, map[string]any{"name": "big", "image": "alpine",
		"script": "head -c 5000 /dev/zero > \"$TMP_OUTPUT_DIR/big.bin\"",
		"output": []map[string]any{{"path": "big/out"}}}))
	a.must(201, "POST", "/job/slow", nil)
	slow := a.lastHead.Get(jobNameHeader)
	a.must(201, "POST", "/job/big", nil)
	big := a.lastHead.Get(jobNameHeader)
	a.waitJobs("slow", 10*time.Second, func(r jobsResponse) bool { return r.Jobs[slow].Status == StatusFailed })
	a.waitJobs("big", 10*time.Second, func(r jobsResponse) bool { return r.Jobs[big].Status == StatusFailed })
	if log := string(a.must(200, "GET", "/system/logs/slow/"+slow, nil)); !strings.Contains(log, "time limit") {
		t.Errorf("timeout log: %q", log)
	}
	if log := string(a.must(200, "GET", "/system/logs/big/"+big, nil)); !strings.Contains(log, "over the limit of 1000 bytes") {
		t.Errorf("output limit log: %q", log)
	}
	entries, err := os.ReadDir(filepath.Join(c.cfg.DataDir, "work"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("working dirs left behind: %v", entries)
	}
}

func TestServiceValidationAndConflicts(t *testing.T) {
	c := startCluster(t, Config{})
	a := newAPI(t, c)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"not json", `{`, "not valid JSON"},
		{"no name", `{"image":"a","script":"b"}`, `"name" is required`},
		{"bad name", `{"name":"Bad_Name","image":"a","script":"b"}`, "lowercase"},
		{"long name", `{"name":"` + strings.Repeat("a", 40) + `","image":"a","script":"b"}`, "maximum is 39"},
		{"no script", `{"name":"x1","image":"a"}`, `"script" is required`},
		{"empty path", `{"name":"x1","image":"a","script":"b","input":[{"path":" / "}]}`, "input 0: \"path\" is empty"},
		{"bad provider", `{"name":"x1","image":"a","script":"b","input":[{"storage_provider":"s3.aws","path":"bkt/in"}]}`, "not supported"},
		{"bad bucket", `{"name":"x1","image":"a","script":"b","output":[{"path":"B_ad/out"}]}`, "not a valid bucket name"},
		{"undefined output provider", `{"name":"x1","image":"a","script":"b","output":[{"storage_provider":"minio.other","path":"bkt1/out"}]}`, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, body := a.do("POST", "/system/services", []byte(tt.body))
			if got != 400 || !strings.Contains(string(body), tt.want) {
				t.Errorf("status %d body %q, want 400 containing %q", got, body, tt.want)
			}
		})
	}
	svc := `{"name":"dup","image":"a","script":"echo 1","environment":{"secrets":{"K":"v"}}}`
	a.must(201, "POST", "/system/services", []byte(svc))
	a.must(409, "POST", "/system/services", []byte(svc))
	token := a.service("dup").Token
	// Update keeps the token and, for a blank secret, the stored value.
	a.must(204, "PUT", "/system/services", []byte(`{"name":"dup","image":"a","script":"echo $K","environment":{"secrets":{"K":""}}}`))
	s, _ := c.services.get("dup")
	if s.Token != token || s.Script != "echo $K" || s.Environment.Secrets["K"] != "v" {
		t.Errorf("after update: token kept %v, script %q, secret %q", s.Token == token, s.Script, s.Environment.Secrets["K"])
	}
	a.must(404, "PUT", "/system/services", []byte(`{"name":"nosuch","image":"a","script":"b"}`))
	a.must(404, "DELETE", "/system/services/nosuch", nil)
}
