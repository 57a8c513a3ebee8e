package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

// SaveJobLog archives a job's log, replacing an earlier archive of the
// same job.
func (s *DB) SaveJobLog(ctx context.Context, l store.JobLog) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO job_logs
		(owner_id, cluster, service, job, status, created_at, started_at, finished_at, log, truncated, archived_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner_id, cluster, service, job) DO UPDATE SET
			status = excluded.status, created_at = excluded.created_at, started_at = excluded.started_at,
			finished_at = excluded.finished_at, log = excluded.log, truncated = excluded.truncated,
			archived_at = excluded.archived_at`,
		l.OwnerID, l.Cluster, l.Service, l.Job, l.Status, unixOrZero(l.Created), unixOrZero(l.Started),
		unixOrZero(l.Finished), l.Log, l.Truncated, time.Now().Unix())
	if err != nil {
		return fmt.Errorf("archiving the log of job %q of service %q: %w", l.Job, l.Service, err)
	}
	return nil
}

// JobLog returns the archived log of a job of the owner's, or
// store.ErrNotFound.
func (s *DB) JobLog(ctx context.Context, owner int64, cluster, service, job string) (store.JobLog, error) {
	l := store.JobLog{OwnerID: owner, Cluster: cluster, Service: service, Job: job}
	var created, started, finished, archived int64
	err := s.db.QueryRowContext(ctx, `SELECT status, created_at, started_at, finished_at, log, truncated, archived_at
		FROM job_logs WHERE owner_id = ? AND cluster = ? AND service = ? AND job = ?`, owner, cluster, service, job).
		Scan(&l.Status, &created, &started, &finished, &l.Log, &l.Truncated, &archived)
	if errors.Is(err, sql.ErrNoRows) {
		return store.JobLog{}, store.ErrNotFound
	}
	if err != nil {
		return store.JobLog{}, fmt.Errorf("reading the archived log of job %q: %w", job, err)
	}
	l.Created, l.Started, l.Finished, l.ArchivedAt = timeOrZero(created), timeOrZero(started), timeOrZero(finished), time.Unix(archived, 0)
	return l, nil
}
