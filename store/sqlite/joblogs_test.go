package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/fdlstudio/fdlstudio/store"
)

func TestJobLogArchive(t *testing.T) {
	db := openTestDB(t)
	ctx := t.Context()
	u, err := db.UpsertUser(ctx, "iss", "sub", "Ann", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := db.UpsertUser(ctx, "iss", "other", "Bob", "")
	if err != nil {
		t.Fatal(err)
	}
	started := time.Unix(1700000000, 0)
	l := store.JobLog{OwnerID: u.ID, Cluster: "c", Service: "s", Job: "j", Status: "Running", Started: started, Log: "a\n"}
	if err := db.SaveJobLog(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.Status, l.Log, l.Finished = "Succeeded", "a\nb\n", started.Add(time.Second)
	if err := db.SaveJobLog(ctx, l); err != nil { // a later archive replaces it
		t.Fatal(err)
	}
	got, err := db.JobLog(ctx, u.ID, "c", "s", "j")
	if err != nil {
		t.Fatal(err)
	}
	if got.Log != "a\nb\n" || got.Status != "Succeeded" || !got.Started.Equal(started) || !got.Finished.Equal(l.Finished) || !got.Created.IsZero() {
		t.Fatalf("archived = %+v", got)
	}
	if _, err := db.JobLog(ctx, other.ID, "c", "s", "j"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's read of the archive: %v, want ErrNotFound", err)
	}
	if _, err := db.JobLog(ctx, u.ID, "c", "s", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent job: %v, want ErrNotFound", err)
	}
}
