package handlers

import (
	"context"
	"errors"
	"strconv"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/watch"
	"github.com/fdlstudio/fdlstudio/store"
)

// JobLogArchive keeps the logs of ended jobs (store/sqlite), so that they
// can be read after the cluster has deleted the job.
type JobLogArchive interface {
	SaveJobLog(ctx context.Context, l store.JobLog) error
	JobLog(ctx context.Context, owner int64, cluster, service, job string) (store.JobLog, error)
}

// maxArchivedLog is the most of a log the archive keeps (its end).
const maxArchivedLog = 8 << 20

// archiveJobLog reads a job's whole log and archives it for owner.
func archiveJobLog(ctx context.Context, a JobLogArchive, owner int64, cluster, service string, j backends.Job, jobs backends.Jobs) error {
	ctx, cancel := context.WithTimeout(ctx, backends.LogTimeout)
	defer cancel()
	text, err := jobs.JobLog(ctx, service, j.Name, false)
	if err != nil {
		return err
	}
	l := store.JobLog{OwnerID: owner, Cluster: cluster, Service: service, Job: j.Name, Status: string(j.Status),
		Created: j.CreationTime, Started: j.StartTime, Finished: j.FinishTime, Log: text}
	if len(l.Log) > maxArchivedLog {
		l.Log, l.Truncated = l.Log[len(l.Log)-maxArchivedLog:], true
	}
	return a.SaveJobLog(ctx, l)
}

// ArchiveFinished is the live hub's Finished callback: it archives the
// log of a watched job that has just ended, for the user watching it
// (the hub's Key.Scope is the user's ID; see serveLive).
func ArchiveFinished(a JobLogArchive, onError func(error)) func(watch.Key, backends.Job, watch.Resolver) {
	return func(k watch.Key, j backends.Job, resolve watch.Resolver) {
		owner, err := strconv.ParseInt(k.Scope, 10, 64)
		if err != nil {
			onError(errors.New("live monitoring: a watch key's scope is not a user ID: " + k.Scope))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), backends.LogTimeout)
		defer cancel()
		jobs, err := resolve(ctx)
		if err == nil {
			err = archiveJobLog(ctx, a, owner, k.Cluster, k.Service, j, jobs)
		}
		if err != nil {
			onError(err)
		}
	}
}
