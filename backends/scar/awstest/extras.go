package awstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ---- API Gateway (REST-JSON) ----

type restAPI struct {
	id, name    string
	resources   []map[string]any // id, parentId, path, pathPart
	methods     map[string]map[string]any
	deployments int
}

type gateway struct {
	mu   sync.Mutex
	apis map[string]*restAPI
	next int
}

func (f *Fake) apigateway(g *gateway) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		g.mu.Lock()
		defer g.mu.Unlock()
		newID := func() string { g.next++; return fmt.Sprintf("fake%06d", g.next) }
		var body map[string]any
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				restError(w, 400, "BadRequestException", "body: "+err.Error())
				return
			}
		}
		if parts[0] != "restapis" {
			restError(w, 404, "NotFoundException", "no such operation")
			return
		}
		if len(parts) == 1 {
			switch r.Method {
			case http.MethodGet:
				f.record("apigateway:GetRestApis")
				var items []any
				var ids []string
				for id := range g.apis {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				for _, id := range ids {
					items = append(items, map[string]any{"id": id, "name": g.apis[id].name})
				}
				writeJSON(w, 200, map[string]any{"item": items})
			case http.MethodPost:
				f.record("apigateway:CreateRestApi")
				name, _ := body["name"].(string)
				if name == "" {
					restError(w, 400, "BadRequestException", "name is required")
					return
				}
				a := &restAPI{id: newID(), name: name, methods: map[string]map[string]any{}}
				a.resources = []map[string]any{{"id": newID(), "path": "/"}}
				if g.apis == nil {
					g.apis = map[string]*restAPI{}
				}
				g.apis[a.id] = a
				writeJSON(w, 201, map[string]any{"id": a.id, "name": name})
			}
			return
		}
		a := g.apis[parts[1]]
		if a == nil {
			restError(w, 404, "NotFoundException", "Invalid API identifier specified "+parts[1])
			return
		}
		switch {
		case len(parts) == 2 && r.Method == http.MethodDelete:
			f.record("apigateway:DeleteRestApi")
			delete(g.apis, a.id)
			w.WriteHeader(202)
		case len(parts) == 3 && parts[2] == "resources" && r.Method == http.MethodGet:
			f.record("apigateway:GetResources")
			items := []any{}
			for _, res := range a.resources {
				items = append(items, res)
			}
			writeJSON(w, 200, map[string]any{"item": items})
		case len(parts) == 4 && parts[2] == "resources" && r.Method == http.MethodPost:
			f.record("apigateway:CreateResource")
			var parent map[string]any
			for _, res := range a.resources {
				if res["id"] == parts[3] {
					parent = res
				}
			}
			part, _ := body["pathPart"].(string)
			if parent == nil || part == "" {
				restError(w, 404, "NotFoundException", "Invalid Resource identifier specified")
				return
			}
			path := strings.TrimSuffix(parent["path"].(string), "/") + "/" + part
			for _, res := range a.resources {
				if res["path"] == path {
					restError(w, 409, "ConflictException", "Another resource with the same parent already has this name: "+part)
					return
				}
			}
			res := map[string]any{"id": newID(), "parentId": parts[3], "path": path, "pathPart": part}
			a.resources = append(a.resources, res)
			writeJSON(w, 201, res)
		case len(parts) == 6 && parts[4] == "methods" && r.Method == http.MethodPut:
			f.record("apigateway:PutMethod")
			key := parts[3] + " " + parts[5]
			if a.methods[key] != nil {
				restError(w, 409, "ConflictException", "Method already exists for this resource")
				return
			}
			a.methods[key] = body
			writeJSON(w, 201, map[string]any{"httpMethod": parts[5], "authorizationType": body["authorizationType"]})
		case len(parts) == 7 && parts[6] == "integration" && r.Method == http.MethodPut:
			f.record("apigateway:PutIntegration")
			m := a.methods[parts[3]+" "+parts[5]]
			if m == nil {
				restError(w, 404, "NotFoundException", "Invalid Method identifier specified")
				return
			}
			m["integration"] = body
			writeJSON(w, 201, map[string]any{"type": body["type"], "uri": body["uri"], "httpMethod": body["httpMethod"]})
		case len(parts) == 3 && parts[2] == "deployments" && r.Method == http.MethodPost:
			f.record("apigateway:CreateDeployment")
			if len(a.methods) == 0 {
				restError(w, 400, "BadRequestException", "The REST API doesn't contain any methods")
				return
			}
			a.deployments++
			writeJSON(w, 201, map[string]any{"id": newID()})
		default:
			restError(w, 404, "NotFoundException", "no such operation "+r.Method+" "+r.URL.Path)
		}
	}
}

// RestAPIs returns the names of the REST APIs that exist.
func (f *Fake) RestAPIs() []string {
	f.gw.mu.Lock()
	defer f.gw.mu.Unlock()
	var names []string
	for _, a := range f.gw.apis {
		names = append(names, a.name)
	}
	sort.Strings(names)
	return names
}

// Integration returns the integration URI of ANY /{proxy+} of the API
// named name ("" when it has none).
func (f *Fake) Integration(name string) string {
	f.gw.mu.Lock()
	defer f.gw.mu.Unlock()
	for _, a := range f.gw.apis {
		if a.name != name {
			continue
		}
		for _, res := range a.resources {
			if res["path"] == "/{proxy+}" {
				if m := a.methods[res["id"].(string)+" ANY"]; m != nil {
					in, _ := m["integration"].(map[string]any)
					uri, _ := in["uri"].(string)
					return uri
				}
			}
		}
	}
	return ""
}

// ---- Batch (REST-JSON) ----

type batchState struct {
	mu     sync.Mutex
	ces    map[string]map[string]any
	queues map[string]map[string]any
	defs   []map[string]any
	jobs   []map[string]any // newest last
}

// BatchLogGroup is where AWS Batch writes its jobs' output.
const BatchLogGroup = "/aws/batch/job"

func batchARN(kind, name string) string {
	return "arn:aws:batch:" + Region + ":" + Account + ":" + kind + "/" + name
}

func (f *Fake) batch(b *batchState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.URL.Path, "/v1/")
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			restError(w, 400, "ClientException", "body: "+err.Error())
			return
		}
		str := func(k string) string { s, _ := req[k].(string); return s }
		names := func(k string) map[string]bool {
			m := map[string]bool{}
			l, _ := req[k].([]any)
			for _, x := range l {
				s, _ := x.(string)
				m[s] = true
				m[s[strings.LastIndex(s, "/")+1:]] = true
			}
			return m
		}
		fail := func(msg string) { restError(w, 400, "ClientException", msg) }
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.ces == nil {
			b.ces, b.queues = map[string]map[string]any{}, map[string]map[string]any{}
		}
		switch op {
		case "createcomputeenvironment":
			f.record("batch:CreateComputeEnvironment")
			name := str("computeEnvironmentName")
			if b.ces[name] != nil {
				fail("Object already exists")
				return
			}
			if req["type"] != "MANAGED" && req["type"] != "UNMANAGED" {
				fail("type must be MANAGED or UNMANAGED")
				return
			}
			b.ces[name] = map[string]any{"computeEnvironmentName": name, "computeEnvironmentArn": batchARN("compute-environment", name),
				"type": req["type"], "state": req["state"], "status": "VALID", "computeResources": req["computeResources"]}
			writeJSON(w, 200, map[string]any{"computeEnvironmentName": name, "computeEnvironmentArn": batchARN("compute-environment", name)})
		case "describecomputeenvironments":
			f.record("batch:DescribeComputeEnvironments")
			want := names("computeEnvironments")
			out := []any{}
			for n, ce := range b.ces {
				if len(want) == 0 || want[n] {
					out = append(out, ce)
				}
			}
			writeJSON(w, 200, map[string]any{"computeEnvironments": out})
		case "updatecomputeenvironment":
			f.record("batch:UpdateComputeEnvironment")
			ce := b.ces[lastPart(str("computeEnvironment"))]
			if ce == nil {
				fail("compute environment does not exist")
				return
			}
			if s := str("state"); s != "" {
				ce["state"] = s
			}
			writeJSON(w, 200, map[string]any{"computeEnvironmentName": ce["computeEnvironmentName"], "computeEnvironmentArn": ce["computeEnvironmentArn"]})
		case "deletecomputeenvironment":
			f.record("batch:DeleteComputeEnvironment")
			name := lastPart(str("computeEnvironment"))
			ce := b.ces[name]
			if ce == nil {
				fail("compute environment does not exist")
				return
			}
			if ce["state"] != "DISABLED" {
				fail("Cannot delete, found existing JobQueue relationship or the compute environment is ENABLED")
				return
			}
			for _, q := range b.queues {
				if strings.Contains(fmt.Sprint(q["computeEnvironmentOrder"]), name) {
					fail("Cannot delete, found existing JobQueue relationship")
					return
				}
			}
			delete(b.ces, name)
			writeJSON(w, 200, map[string]any{})
		case "createjobqueue":
			f.record("batch:CreateJobQueue")
			name := str("jobQueueName")
			if b.queues[name] != nil {
				fail("Object already exists")
				return
			}
			order, _ := req["computeEnvironmentOrder"].([]any)
			for _, o := range order {
				m, _ := o.(map[string]any)
				ce, _ := m["computeEnvironment"].(string)
				if b.ces[lastPart(ce)] == nil {
					fail("computeEnvironment " + ce + " does not exist")
					return
				}
			}
			b.queues[name] = map[string]any{"jobQueueName": name, "jobQueueArn": batchARN("job-queue", name), "state": req["state"],
				"status": "VALID", "priority": req["priority"], "computeEnvironmentOrder": req["computeEnvironmentOrder"]}
			writeJSON(w, 200, map[string]any{"jobQueueName": name, "jobQueueArn": batchARN("job-queue", name)})
		case "describejobqueues":
			f.record("batch:DescribeJobQueues")
			want := names("jobQueues")
			out := []any{}
			for n, q := range b.queues {
				if len(want) == 0 || want[n] {
					out = append(out, q)
				}
			}
			writeJSON(w, 200, map[string]any{"jobQueues": out})
		case "updatejobqueue":
			f.record("batch:UpdateJobQueue")
			q := b.queues[lastPart(str("jobQueue"))]
			if q == nil {
				fail("job queue does not exist")
				return
			}
			if s := str("state"); s != "" {
				q["state"] = s
			}
			writeJSON(w, 200, map[string]any{"jobQueueName": q["jobQueueName"], "jobQueueArn": q["jobQueueArn"]})
		case "deletejobqueue":
			f.record("batch:DeleteJobQueue")
			name := lastPart(str("jobQueue"))
			q := b.queues[name]
			if q == nil {
				fail("job queue does not exist")
				return
			}
			if q["state"] != "DISABLED" {
				fail("Cannot delete an ENABLED job queue")
				return
			}
			delete(b.queues, name)
			writeJSON(w, 200, map[string]any{})
		case "registerjobdefinition":
			f.record("batch:RegisterJobDefinition")
			name := str("jobDefinitionName")
			rev := 1
			for _, d := range b.defs {
				if d["jobDefinitionName"] == name {
					rev = max(rev, d["revision"].(int)+1)
				}
			}
			arn := fmt.Sprintf("%s:%d", batchARN("job-definition", name), rev)
			b.defs = append(b.defs, map[string]any{"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": rev,
				"status": "ACTIVE", "type": req["type"], "containerProperties": req["containerProperties"]})
			writeJSON(w, 200, map[string]any{"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": rev})
		case "describejobdefinitions":
			f.record("batch:DescribeJobDefinitions")
			out := []any{}
			for _, d := range b.defs {
				if (str("jobDefinitionName") == "" || d["jobDefinitionName"] == str("jobDefinitionName")) && (str("status") == "" || d["status"] == str("status")) {
					out = append(out, d)
				}
			}
			writeJSON(w, 200, map[string]any{"jobDefinitions": out})
		case "submitjob":
			f.record("batch:SubmitJob")
			q := b.queues[lastPart(str("jobQueue"))]
			if q == nil || q["state"] != "ENABLED" {
				fail("job queue " + str("jobQueue") + " does not exist or is not ENABLED")
				return
			}
			var def map[string]any
			for _, d := range b.defs {
				if d["status"] == "ACTIVE" && (d["jobDefinitionName"] == lastPart(str("jobDefinition")) || d["jobDefinitionArn"] == str("jobDefinition")) {
					def = d
				}
			}
			if def == nil {
				fail("job definition " + str("jobDefinition") + " does not exist")
				return
			}
			id := newID()
			event := ""
			if co, ok := req["containerOverrides"].(map[string]any); ok {
				env, _ := co["environment"].([]any)
				for _, e := range env {
					kv, _ := e.(map[string]any)
					if kv["name"] == "EVENT" {
						event, _ = kv["value"].(string)
					}
				}
			}
			defName, _ := def["jobDefinitionName"].(string)
			job := map[string]any{"jobId": id, "jobName": str("jobName"), "jobArn": batchARN("job", id), "jobQueue": q["jobQueueArn"],
				"jobDefinition": def["jobDefinitionArn"], "status": "RUNNABLE", "createdAt": time.Now().UnixMilli(),
				"container": map[string]any{"logStreamName": defName + "/default/" + id}}
			b.jobs = append(b.jobs, job)
			f.async.Add(1)
			go f.runBatchJob(b, job, defName, event)
			writeJSON(w, 200, map[string]any{"jobId": id, "jobName": str("jobName"), "jobArn": job["jobArn"]})
		case "listjobs":
			f.record("batch:ListJobs")
			queue := lastPart(str("jobQueue"))
			out := []any{}
			for i := len(b.jobs) - 1; i >= 0; i-- {
				j := b.jobs[i]
				if lastPart(fmt.Sprint(j["jobQueue"])) != queue || (str("jobStatus") != "" && j["status"] != str("jobStatus")) {
					continue
				}
				sum := map[string]any{}
				for _, k := range []string{"jobId", "jobName", "jobArn", "status", "createdAt", "startedAt", "stoppedAt", "statusReason"} {
					if v, ok := j[k]; ok {
						sum[k] = v
					}
				}
				out = append(out, sum)
			}
			writeJSON(w, 200, map[string]any{"jobSummaryList": out})
		case "describejobs":
			f.record("batch:DescribeJobs")
			want := names("jobs")
			out := []any{}
			for _, j := range b.jobs {
				if want[j["jobId"].(string)] {
					out = append(out, j)
				}
			}
			writeJSON(w, 200, map[string]any{"jobs": out})
		case "deregisterjobdefinition":
			f.record("batch:DeregisterJobDefinition")
			for _, d := range b.defs {
				if d["jobDefinitionArn"] == str("jobDefinition") {
					d["status"] = "INACTIVE"
					writeJSON(w, 200, map[string]any{})
					return
				}
			}
			fail("job definition does not exist")
		default:
			restError(w, 404, "ClientException", "the fake does not serve "+op)
		}
	}
}

// runBatchJob runs a submitted job on the fake's runtime (the job
// definition's name as the function, its EVENT as the payload), moving it
// through RUNNING to SUCCEEDED or FAILED and writing its output to
// BatchLogGroup as AWS Batch does.
func (f *Fake) runBatchJob(b *batchState, job map[string]any, def, event string) {
	defer f.async.Done()
	set := func(kv ...any) {
		b.mu.Lock()
		for i := 0; i+1 < len(kv); i += 2 {
			job[kv[i].(string)] = kv[i+1]
		}
		b.mu.Unlock()
	}
	set("status", "RUNNING", "startedAt", time.Now().UnixMilli())
	var inv Invocation
	err := fmt.Errorf("the fake has no runtime")
	if f.Runtime != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		inv, err = f.Runtime.Invoke(ctx, def, []byte(event))
		cancel()
	}
	lines := inv.Log
	if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	b.mu.Lock()
	stream := job["container"].(map[string]any)["logStreamName"].(string)
	b.mu.Unlock()
	f.mu.Lock()
	g := f.groups[BatchLogGroup]
	if g == nil {
		g = &logGroup{}
		f.groups[BatchLogGroup] = g
	}
	ms := time.Now().UnixMilli()
	for _, l := range lines {
		g.events = append(g.events, logEvent{Stream: stream, Time: ms, Message: l, Ingest: ms, ID: fmt.Sprintf("%d", len(g.events)+1)})
	}
	f.mu.Unlock()
	if err != nil || inv.Error != "" {
		set("status", "FAILED", "stoppedAt", time.Now().UnixMilli(), "statusReason", "Essential container in task exited")
		return
	}
	set("status", "SUCCEEDED", "stoppedAt", time.Now().UnixMilli())
}

func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// BatchResources returns the Batch compute environments, job queues and
// ACTIVE job definitions that exist, as "ce:NAME", "queue:NAME" and
// "def:NAME:REV".
func (f *Fake) BatchResources() []string {
	b := f.bs
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n := range b.ces {
		out = append(out, "ce:"+n)
	}
	for n := range b.queues {
		out = append(out, "queue:"+n)
	}
	for _, d := range b.defs {
		if d["status"] == "ACTIVE" {
			out = append(out, fmt.Sprintf("def:%s:%d", d["jobDefinitionName"], d["revision"]))
		}
	}
	sort.Strings(out)
	return out
}
