// Package awstest is a fake of the AWS control-plane calls backends/scar
// makes: Lambda, S3 bucket notifications (every other S3 request goes to a
// real S3 server), CloudWatch Logs and STS. Each service listens on its own
// loopback port; tests reach it only through aws-sdk-go-v2 clients with
// BaseEndpoint set, so the SDK's own serialisation checks every request
// and response shape. Invocations run on a Runtime (the Lambda Runtime
// Interface Emulator, or a function in the test).
package awstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Account, Region and User are what the fake's STS says the caller is.
const (
	Account = "123456789012"
	Region  = "us-east-1"
	User    = "alice"
)

// Runtime runs one invocation of a function.
type Runtime interface {
	Invoke(ctx context.Context, function string, payload []byte) (Invocation, error)
}

// Invocation is what a runtime answered.
type Invocation struct {
	Payload []byte
	Error   string   // "" or the function error type ("Unhandled")
	Log     []string // the lines the function wrote
}

// RuntimeFunc adapts a function to Runtime.
type RuntimeFunc func(ctx context.Context, function string, payload []byte) (Invocation, error)

// Invoke calls f.
func (f RuntimeFunc) Invoke(ctx context.Context, function string, payload []byte) (Invocation, error) {
	return f(ctx, function, payload)
}

// Fake is the fake control plane.
type Fake struct {
	Runtime Runtime

	mu        sync.Mutex
	calls     []string
	functions map[string]*function
	groups    map[string]*logGroup
	notif     map[string][]byte // bucket -> NotificationConfiguration XML as put
	async     sync.WaitGroup

	autoDeliver atomic.Bool

	servers map[string]*httptest.Server
	gw      *gateway
	bs      *batchState
}

type function struct {
	cfg         map[string]any
	tags        map[string]string
	policy      map[string]statement // statement id -> statement
	pendingPoll int                  // GetFunction calls still answering the in-progress state
}

type statement struct {
	Principal, Action, SourceArn string
}

type logGroup struct {
	retention int
	events    []logEvent
}

type logEvent struct {
	Stream  string `json:"logStreamName"`
	Time    int64  `json:"timestamp"`
	Message string `json:"message"`
	Ingest  int64  `json:"ingestionTime"`
	ID      string `json:"eventId"`
}

// Start runs the fake on loopback ports, with S3 data requests proxied to
// the real S3 server at s3Endpoint, and stops it when the test ends.
func Start(t testing.TB, s3Endpoint string, rt Runtime) *Fake {
	t.Helper()
	target, err := url.Parse(s3Endpoint)
	if err != nil {
		t.Fatalf("awstest: S3 endpoint %q: %v", s3Endpoint, err)
	}
	f := &Fake{Runtime: rt, functions: map[string]*function{}, groups: map[string]*logGroup{}, notif: map[string][]byte{},
		gw: &gateway{}, bs: &batchState{}}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the SigV4 signature covers the host the client used
	}}
	f.servers = map[string]*httptest.Server{
		"lambda":     httptest.NewServer(http.HandlerFunc(f.lambda)),
		"logs":       httptest.NewServer(http.HandlerFunc(f.logs)),
		"sts":        httptest.NewServer(http.HandlerFunc(f.sts)),
		"s3":         httptest.NewServer(f.s3(proxy)),
		"apigateway": httptest.NewServer(f.apigateway(f.gw)),
		"batch":      httptest.NewServer(f.batch(f.bs)),
	}
	t.Cleanup(func() {
		f.async.Wait()
		for _, s := range f.servers {
			s.Close()
		}
	})
	return f
}

// Endpoints maps service names to the fake's URLs, for scar.NewClients.
func (f *Fake) Endpoints() map[string]string {
	m := map[string]string{}
	for k, s := range f.servers {
		m[k] = s.URL
	}
	return m
}

// Calls returns the operations served so far, e.g. "lambda:CreateFunction".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Wait waits for every asynchronous invocation started so far.
func (f *Fake) Wait() { f.async.Wait() }

func (f *Fake) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

// Functions returns the names of the functions that exist.
func (f *Fake) Functions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LogGroups returns the names of the log groups that exist.
func (f *Fake) LogGroups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Permissions returns the statement ids of a function's resource policy.
func (f *Fake) Permissions(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	if fn := f.functions[name]; fn != nil {
		for id := range fn.policy {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// restError is a REST-JSON (Lambda) error.
func restError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, status, map[string]string{"Type": "User", "message": msg})
}

// ---- Lambda (REST-JSON, API version 2015-03-31) ----

func (f *Fake) lambda(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, "/2017-03-31/tags/"); ok {
		arn, _ := url.PathUnescape(rest)
		f.tagsOp(w, r, arn)
		return
	}
	rest, ok := strings.CutPrefix(path, "/2015-03-31/functions")
	if !ok {
		restError(w, 404, "UnknownOperationException", "no such operation "+r.Method+" "+path)
		return
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		switch r.Method {
		case http.MethodGet:
			f.listFunctions(w, r)
		case http.MethodPost:
			f.createFunction(w, r)
		default:
			restError(w, 405, "UnknownOperationException", r.Method)
		}
		return
	}
	parts := strings.Split(rest, "/")
	name, _ := url.PathUnescape(parts[0])
	if i := strings.LastIndex(name, ":function:"); i >= 0 { // an ARN names the function too
		name = name[i+len(":function:"):]
	}
	sub := strings.Join(parts[1:], "/")
	switch {
	case sub == "" && r.Method == http.MethodGet:
		f.getFunction(w, name, true)
	case sub == "configuration" && r.Method == http.MethodGet:
		f.getFunction(w, name, false)
	case sub == "" && r.Method == http.MethodDelete:
		f.deleteFunction(w, name)
	case sub == "code" && r.Method == http.MethodPut:
		f.updateCode(w, r, name)
	case sub == "configuration" && r.Method == http.MethodPut:
		f.updateConfiguration(w, r, name)
	case sub == "policy" && r.Method == http.MethodPost:
		f.addPermission(w, r, name)
	case sub == "policy" && r.Method == http.MethodGet:
		f.getPolicy(w, name)
	case strings.HasPrefix(sub, "policy/") && r.Method == http.MethodDelete:
		sid, _ := url.PathUnescape(strings.TrimPrefix(sub, "policy/"))
		f.removePermission(w, name, sid)
	case sub == "invocations" && r.Method == http.MethodPost:
		f.invoke(w, r, name)
	default:
		restError(w, 404, "UnknownOperationException", "no such operation "+r.Method+" "+path)
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		restError(w, 400, "InvalidRequestContentException", "body: "+err.Error())
		return false
	}
	return true
}

func (f *Fake) arn(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// copyConfig copies the updatable configuration fields from a request.
func copyConfig(cfg, req map[string]any) {
	for _, k := range []string{"Role", "MemorySize", "Timeout", "Description", "Environment", "VpcConfig", "FileSystemConfigs", "Architectures", "Handler", "Runtime"} {
		if v, ok := req[k]; ok {
			cfg[k] = v
		}
	}
	if env, ok := cfg["Environment"].(map[string]any); ok { // the response shape has no "Variables" nil
		if env["Variables"] == nil {
			env["Variables"] = map[string]any{}
		}
	}
	if vpc, ok := cfg["VpcConfig"].(map[string]any); ok {
		if s, _ := vpc["SubnetIds"].([]any); len(s) > 0 {
			vpc["VpcId"] = "vpc-0fake"
		} else {
			delete(cfg, "VpcConfig")
		}
	}
}

func (f *Fake) createFunction(w http.ResponseWriter, r *http.Request) {
	f.record("lambda:CreateFunction")
	var req map[string]any
	if !decode(w, r, &req) {
		return
	}
	name, _ := req["FunctionName"].(string)
	code, _ := req["Code"].(map[string]any)
	image, _ := code["ImageUri"].(string)
	if name == "" || req["Role"] == nil {
		restError(w, 400, "InvalidParameterValueException", "FunctionName and Role are required")
		return
	}
	if req["PackageType"] != "Image" || image == "" {
		restError(w, 400, "InvalidParameterValueException", "the fake serves container-image functions only (PackageType Image, Code.ImageUri)")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.functions[name] != nil {
		restError(w, 409, "ResourceConflictException", "Function already exist: "+name)
		return
	}
	cfg := map[string]any{
		"FunctionName": name, "FunctionArn": f.arn(name), "PackageType": "Image",
		"MemorySize": 128, "Timeout": 3, "Architectures": []any{"x86_64"},
		"State": "Pending", "StateReasonCode": "Creating", "LastUpdateStatus": "InProgress",
		"Version": "$LATEST", "RevisionId": newID(), "LastModified": time.Now().UTC().Format("2006-01-02T15:04:05.000-0700"),
		"Environment": map[string]any{"Variables": map[string]any{}},
	}
	copyConfig(cfg, req)
	tags := map[string]string{}
	if t, ok := req["Tags"].(map[string]any); ok {
		for k, v := range t {
			tags[k], _ = v.(string)
		}
	}
	fn := &function{cfg: cfg, tags: tags, policy: map[string]statement{}, pendingPoll: 1}
	fn.cfg["_image"] = image
	f.functions[name] = fn
	writeJSON(w, 201, publicConfig(cfg))
}

// publicConfig drops the fake's private keys.
func publicConfig(cfg map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range cfg {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}

// settle moves a function from its in-progress state to its final one
// after the one poll that saw it in progress (so waiters must poll).
func (fn *function) settle() {
	if fn.pendingPoll > 0 {
		fn.pendingPoll--
		return
	}
	fn.cfg["State"] = "Active"
	delete(fn.cfg, "StateReasonCode")
	fn.cfg["LastUpdateStatus"] = "Successful"
}

func (f *Fake) getFunction(w http.ResponseWriter, name string, full bool) {
	if full {
		f.record("lambda:GetFunction")
	} else {
		f.record("lambda:GetFunctionConfiguration")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	cfg := publicConfig(fn.cfg)
	fn.settle()
	if !full {
		writeJSON(w, 200, cfg)
		return
	}
	writeJSON(w, 200, map[string]any{
		"Configuration": cfg,
		"Code":          map[string]any{"RepositoryType": "ECR", "ImageUri": fn.cfg["_image"]},
		"Tags":          fn.tags,
	})
}

func (f *Fake) listFunctions(w http.ResponseWriter, r *http.Request) {
	f.record("lambda:ListFunctions")
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.functions {
		names = append(names, n)
	}
	sort.Strings(names)
	marker := r.URL.Query().Get("Marker")
	const page = 50
	var out []any
	next := ""
	for _, n := range names {
		if n <= marker && marker != "" {
			continue
		}
		if len(out) == page {
			next = names[len(out)-1]
			break
		}
		out = append(out, publicConfig(f.functions[n].cfg))
	}
	resp := map[string]any{"Functions": out}
	if next != "" {
		resp["NextMarker"] = next
	}
	writeJSON(w, 200, resp)
}

// inProgress refuses a change while the previous one is in progress, as
// AWS does; deployers must wait (the SDK's waiters).
func inProgress(w http.ResponseWriter, fn *function) bool {
	if fn.cfg["LastUpdateStatus"] == "InProgress" || fn.cfg["State"] == "Pending" {
		restError(w, 409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource: "+fn.cfg["FunctionArn"].(string))
		return true
	}
	return false
}

func (f *Fake) updateCode(w http.ResponseWriter, r *http.Request, name string) {
	f.record("lambda:UpdateFunctionCode")
	var req map[string]any
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	if inProgress(w, fn) {
		return
	}
	if img, _ := req["ImageUri"].(string); img != "" {
		fn.cfg["_image"] = img
	}
	if a, ok := req["Architectures"]; ok && a != nil {
		fn.cfg["Architectures"] = a
	}
	fn.cfg["LastUpdateStatus"], fn.cfg["RevisionId"], fn.pendingPoll = "InProgress", newID(), 1
	writeJSON(w, 200, publicConfig(fn.cfg))
}

func (f *Fake) updateConfiguration(w http.ResponseWriter, r *http.Request, name string) {
	f.record("lambda:UpdateFunctionConfiguration")
	var req map[string]any
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	if inProgress(w, fn) {
		return
	}
	copyConfig(fn.cfg, req)
	fn.cfg["LastUpdateStatus"], fn.cfg["RevisionId"], fn.pendingPoll = "InProgress", newID(), 1
	writeJSON(w, 200, publicConfig(fn.cfg))
}

func (f *Fake) deleteFunction(w http.ResponseWriter, name string) {
	f.record("lambda:DeleteFunction")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.functions[name] == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	delete(f.functions, name)
	w.WriteHeader(204)
}

func (f *Fake) tagsOp(w http.ResponseWriter, r *http.Request, arn string) {
	name := arn[strings.LastIndex(arn, ":")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if r.Method == http.MethodGet {
		f.calls = append(f.calls, "lambda:ListTags")
	} else {
		f.calls = append(f.calls, "lambda:TagResource")
	}
	if fn == nil || arn != f.arn(name) {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+arn)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, map[string]any{"Tags": fn.tags})
	case http.MethodPost:
		var req struct{ Tags map[string]string }
		if !decode(w, r, &req) {
			return
		}
		for k, v := range req.Tags {
			fn.tags[k] = v
		}
		w.WriteHeader(204)
	default:
		restError(w, 405, "UnknownOperationException", r.Method)
	}
}

func (f *Fake) addPermission(w http.ResponseWriter, r *http.Request, name string) {
	f.record("lambda:AddPermission")
	var req struct{ StatementId, Action, Principal, SourceArn string }
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	if req.StatementId == "" || req.Action == "" || req.Principal == "" {
		restError(w, 400, "InvalidParameterValueException", "StatementId, Action and Principal are required")
		return
	}
	if _, ok := fn.policy[req.StatementId]; ok {
		restError(w, 409, "ResourceConflictException", "The statement id ("+req.StatementId+") provided already exists. Please provide a new statement id, or remove the existing statement.")
		return
	}
	st := statement{Principal: req.Principal, Action: req.Action, SourceArn: req.SourceArn}
	fn.policy[req.StatementId] = st
	b, _ := json.Marshal(policyStatement(req.StatementId, st, f.arn(name)))
	writeJSON(w, 201, map[string]string{"Statement": string(b)})
}

func policyStatement(sid string, st statement, arn string) map[string]any {
	s := map[string]any{"Sid": sid, "Effect": "Allow", "Principal": map[string]string{"Service": st.Principal}, "Action": st.Action, "Resource": arn}
	if st.SourceArn != "" {
		s["Condition"] = map[string]any{"ArnLike": map[string]string{"AWS:SourceArn": st.SourceArn}}
	}
	return s
}

func (f *Fake) getPolicy(w http.ResponseWriter, name string) {
	f.record("lambda:GetPolicy")
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil || len(fn.policy) == 0 {
		restError(w, 404, "ResourceNotFoundException", "The resource you requested does not exist.")
		return
	}
	var sts []any
	for sid, st := range fn.policy {
		sts = append(sts, policyStatement(sid, st, f.arn(name)))
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": sts})
	writeJSON(w, 200, map[string]string{"Policy": string(b), "RevisionId": fn.cfg["RevisionId"].(string)})
}

func (f *Fake) removePermission(w http.ResponseWriter, name, sid string) {
	f.record("lambda:RemovePermission")
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.functions[name]
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	if _, ok := fn.policy[sid]; !ok {
		restError(w, 404, "ResourceNotFoundException", "Statement "+sid+" is not found in resource policy.")
		return
	}
	delete(fn.policy, sid)
	w.WriteHeader(204)
}

func (f *Fake) invoke(w http.ResponseWriter, r *http.Request, name string) {
	f.record("lambda:Invoke")
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		restError(w, 400, "InvalidRequestContentException", err.Error())
		return
	}
	f.mu.Lock()
	fn := f.functions[name]
	f.mu.Unlock()
	if fn == nil {
		restError(w, 404, "ResourceNotFoundException", "Function not found: "+f.arn(name))
		return
	}
	reqID := newID()
	w.Header().Set("X-Amzn-Requestid", reqID)
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "Event":
		f.startAsync(name, reqID, payload)
		w.WriteHeader(202)
		return
	case "DryRun":
		w.WriteHeader(204)
		return
	}
	inv, err := f.run(r.Context(), name, reqID, payload)
	if err != nil {
		restError(w, 502, "ServiceException", "runtime: "+err.Error())
		return
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if inv.Error != "" {
		w.Header().Set("X-Amz-Function-Error", inv.Error)
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" {
		tail := strings.Join(inv.Log, "\n")
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	_, _ = w.Write(inv.Payload)
}

func (f *Fake) startAsync(name, reqID string, payload []byte) {
	f.async.Add(1)
	go func() {
		defer f.async.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = f.run(ctx, name, reqID, payload)
	}()
}

// run invokes the runtime and writes the invocation's log to the
// function's log group the way Lambda does (START, lines, END, REPORT).
func (f *Fake) run(ctx context.Context, name, reqID string, payload []byte) (Invocation, error) {
	if f.Runtime == nil {
		return Invocation{}, fmt.Errorf("the fake has no runtime")
	}
	start := time.Now()
	inv, err := f.Runtime.Invoke(ctx, name, payload)
	lines := []string{"START RequestId: " + reqID + " Version: $LATEST"}
	lines = append(lines, inv.Log...)
	if err != nil {
		lines = append(lines, "runtime error: "+err.Error())
	}
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms", reqID, float64(time.Since(start).Microseconds())/1000)
	if err != nil || inv.Error != "" {
		report += "\tStatus: error"
	}
	lines = append(lines, "END RequestId: "+reqID, report)
	inv.Log = lines
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups["/aws/lambda/"+name]
	if g == nil { // Lambda writes nowhere when the group is gone
		return inv, err
	}
	stream := start.UTC().Format("2006/01/02") + "/[$LATEST]" + strings.ReplaceAll(reqID, "-", "")
	ms := start.UnixMilli()
	for _, l := range lines {
		g.events = append(g.events, logEvent{Stream: stream, Time: ms, Message: l, Ingest: ms, ID: fmt.Sprintf("%d", len(g.events)+1)})
	}
	return inv, err
}

// ---- CloudWatch Logs (awsJson1_1) ----

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (f *Fake) logs(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	if !ok || r.Method != http.MethodPost {
		jsonError(w, 400, "UnknownOperationException", "missing X-Amz-Target")
		return
	}
	f.record("logs:" + op)
	var req struct {
		LogGroupName       string   `json:"logGroupName"`
		LogGroupNamePrefix string   `json:"logGroupNamePrefix"`
		RetentionInDays    int      `json:"retentionInDays"`
		LogStreamNames     []string `json:"logStreamNames"`
		FilterPattern      string   `json:"filterPattern"`
		NextToken          string   `json:"nextToken"`
		StartTime          int64    `json:"startTime"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		jsonError(w, 400, "SerializationException", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(v)
	}
	g := f.groups[req.LogGroupName]
	notFound := func() { jsonError(w, 400, "ResourceNotFoundException", "The specified log group does not exist.") }
	switch op {
	case "CreateLogGroup":
		if g != nil {
			jsonError(w, 400, "ResourceAlreadyExistsException", "The specified log group already exists")
			return
		}
		f.groups[req.LogGroupName] = &logGroup{}
		reply(struct{}{})
	case "PutRetentionPolicy":
		if g == nil {
			notFound()
			return
		}
		g.retention = req.RetentionInDays
		reply(struct{}{})
	case "DeleteLogGroup":
		if g == nil {
			notFound()
			return
		}
		delete(f.groups, req.LogGroupName)
		reply(struct{}{})
	case "DescribeLogGroups":
		var out []any
		for n, g := range f.groups {
			if strings.HasPrefix(n, req.LogGroupNamePrefix) {
				e := map[string]any{"logGroupName": n, "arn": "arn:aws:logs:" + Region + ":" + Account + ":log-group:" + n + ":*"}
				if g.retention > 0 {
					e["retentionInDays"] = g.retention
				}
				out = append(out, e)
			}
		}
		reply(map[string]any{"logGroups": out})
	case "FilterLogEvents":
		if g == nil {
			notFound()
			return
		}
		var out []logEvent
		for _, e := range g.events {
			if req.FilterPattern != "" && !strings.Contains(e.Message, strings.Trim(req.FilterPattern, `"`)) {
				continue
			}
			if len(req.LogStreamNames) > 0 && !contains(req.LogStreamNames, e.Stream) {
				continue
			}
			if e.Time < req.StartTime {
				continue
			}
			out = append(out, e)
		}
		reply(map[string]any{"events": out})
	default:
		jsonError(w, 400, "UnknownOperationException", "the fake does not serve "+op)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---- STS (awsQuery) ----

func (f *Fake) sts(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	action := r.PostForm.Get("Action")
	f.record("sts:" + action)
	w.Header().Set("Content-Type", "text/xml")
	if action != "GetCallerIdentity" {
		w.WriteHeader(400)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the fake does not serve %s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, action)
		return
	}
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::%s:user/%s</Arn><UserId>AIDAFAKEUSERID</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, Account, User, Account, newID())
}

// ---- S3: notification configuration here, everything else proxied ----

// notification is the part of a NotificationConfiguration the fake
// delivers: Lambda entries.
type notification struct {
	Lambdas []struct {
		ID       string   `xml:"Id"`
		Function string   `xml:"CloudFunction"`
		Events   []string `xml:"Event"`
		Rules    []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"Filter>S3Key>FilterRule"`
	} `xml:"CloudFunctionConfiguration"`
}

// AutoDeliver makes the fake do what S3 does after each object created
// through it (a PUT of a whole object, or a completed multipart upload):
// Deliver, as if S3 sent the event. Off by default, so that tests that
// call Deliver themselves see only their own deliveries.
func (f *Fake) AutoDeliver() { f.autoDeliver.Store(true) }

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// createsObject reports whether r creates an object: the bucket, key and
// size (-1 when unknown).
func createsObject(r *http.Request) (bucket, key string, size int64, ok bool) {
	q := r.URL.Query()
	bucket, key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return "", "", 0, false
	}
	switch {
	case r.Method == http.MethodPut && !q.Has("uploadId") && !q.Has("partNumber") && len(q) == 0:
		return bucket, key, r.ContentLength, true
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return bucket, key, -1, true
	}
	return "", "", 0, false
}

func (f *Fake) s3(proxy http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["notification"]; !ok {
			bucket, key, size, creates := createsObject(r)
			if !creates || !f.autoDeliver.Load() {
				proxy.ServeHTTP(w, r)
				return
			}
			rec := &statusRecorder{ResponseWriter: w}
			proxy.ServeHTTP(rec, r)
			if rec.status == http.StatusOK {
				f.Deliver(bucket, key, max(size, 0))
			}
			return
		}
		bucket := strings.Trim(r.URL.Path, "/")
		switch r.Method {
		case http.MethodGet:
			f.record("s3:GetBucketNotificationConfiguration")
			f.mu.Lock()
			b := f.notif[bucket]
			f.mu.Unlock()
			if b == nil {
				b = []byte(`<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>`)
			}
			w.Header().Set("Content-Type", "application/xml")
			_, _ = w.Write(b)
		case http.MethodPut:
			f.record("s3:PutBucketNotificationConfiguration")
			b, err := io.ReadAll(r.Body)
			var n notification
			if err == nil {
				err = xml.Unmarshal(b, &n)
			}
			if err != nil {
				w.WriteHeader(400)
				fmt.Fprintf(w, `<Error><Code>MalformedXML</Code><Message>%s</Message></Error>`, err)
				return
			}
			f.mu.Lock()
			f.notif[bucket] = b
			f.mu.Unlock()
			w.WriteHeader(200)
		default:
			w.WriteHeader(405)
		}
	})
}

// NotificationIDs returns the ids of a bucket's Lambda notification entries.
func (f *Fake) NotificationIDs(bucket string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n notification
	_ = xml.Unmarshal(f.notif[bucket], &n)
	var ids []string
	for _, l := range n.Lambdas {
		ids = append(ids, l.ID)
	}
	return ids
}

// NotificationXML returns a bucket's notification configuration as put.
func (f *Fake) NotificationXML(bucket string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.notif[bucket])
}

// Deliver does what S3 does after an object was created: every Lambda
// entry of the bucket's notification configuration whose event and
// filter match starts an asynchronous invocation with the S3 event, if
// the function's policy lets S3 invoke it for this bucket. It returns the
// functions invoked.
func (f *Fake) Deliver(bucket, key string, size int64) []string {
	f.mu.Lock()
	var n notification
	_ = xml.Unmarshal(f.notif[bucket], &n)
	var targets []string
	for _, l := range n.Lambdas {
		created := false
		for _, e := range l.Events {
			created = created || e == "s3:ObjectCreated:*" || e == "s3:ObjectCreated:Put"
		}
		match := created
		for _, rule := range l.Rules {
			switch strings.ToLower(rule.Name) {
			case "prefix":
				match = match && strings.HasPrefix(key, rule.Value)
			case "suffix":
				match = match && strings.HasSuffix(key, rule.Value)
			}
		}
		name := l.Function[strings.LastIndex(l.Function, ":")+1:]
		fn := f.functions[name]
		if !match || fn == nil || !allowsS3(fn, bucket) {
			continue
		}
		targets = append(targets, name)
	}
	f.mu.Unlock()
	for _, name := range targets {
		f.startAsync(name, newID(), S3Event(bucket, key, size))
	}
	return targets
}

func allowsS3(fn *function, bucket string) bool {
	for _, st := range fn.policy {
		if st.Principal == "s3.amazonaws.com" && st.Action == "lambda:InvokeFunction" && (st.SourceArn == "" || st.SourceArn == "arn:aws:s3:::"+bucket) {
			return true
		}
	}
	return false
}

// S3Event is the event S3 sends a Lambda function for a new object.
func S3Event(bucket, key string, size int64) []byte {
	ev := map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": Region,
		"eventTime": time.Now().UTC().Format(time.RFC3339), "eventName": "ObjectCreated:Put",
		"s3": map[string]any{
			"s3SchemaVersion": "1.0",
			"bucket":          map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
			"object":          map[string]any{"key": url.QueryEscape(key), "size": size},
		},
	}}}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(ev)
	return b.Bytes()
}
