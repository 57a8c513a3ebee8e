package store

import "time"

// JobLog is a job's log kept after the job ended, with the job's last
// known state.
type JobLog struct {
	OwnerID  int64
	Cluster  string
	Service  string
	Job      string
	Status   string
	Created  time.Time
	Started  time.Time
	Finished time.Time
	Log      string
	// Truncated is set when only the end of a longer log was kept.
	Truncated  bool
	ArchivedAt time.Time
}
