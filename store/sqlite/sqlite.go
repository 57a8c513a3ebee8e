// Package sqlite is the default store of FDL Studio: one SQLite file in
// the data directory, opened through a pure-Go driver (no cgo), in WAL
// mode with a busy timeout, its schema migrated at start-up from the SQL
// files embedded in migrations/ (a migration that must re-seal secrets
// has a Go step too, run in the same transaction).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fdlstudio/fdlstudio/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a statement waits for a lock held by another
// connection before it fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// DB is the SQLite store.
type DB struct {
	db     *sql.DB
	lock   *os.File // flock on <path>.lock, held while the store is open
	path   string
	sealer *store.Sealer
}

// Option changes how Open opens the store.
type Option func(*DB)

// WithSealer gives Open the server's sealer, which migrations that
// re-seal stored secrets need (0004 does, when clusters are stored; 0013
// when workflows are) and the workflow repository uses for its texts.
// Without it such a migration fails, saying so, and nothing changes.
func WithSealer(s *store.Sealer) Option { return func(db *DB) { db.sealer = s } }

// Open opens (creating when needed) the database at path, takes an
// exclusive lock so that no second FDL Studio process uses the same file,
// and applies pending migrations. On any failure nothing stays open.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", filepath.Dir(path), err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s: %w (stop the other fdlstudio or use another --data-dir)", path, store.ErrLocked)
		}
		return nil, fmt.Errorf("store: locking %s: %w", path, err)
	}

	dsn := "file:" + path + "?_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	s := &DB{db: db, lock: lock, path: path}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// SQL returns the underlying database for the store's own packages.
func (s *DB) SQL() *sql.DB { return s.db }

// Ping checks that the database answers a query.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the database and releases the lock.
func (s *DB) Close() error {
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close() // closing the descriptor releases the flock
	}
	return err
}

// migrate applies, in order and each in its own transaction, every
// embedded migration not yet recorded in the database (so a migration
// that lands later with a lower number still runs). A migration that
// fails is rolled back whole.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := s.db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	list, err := listMigrations()
	if err != nil {
		return err
	}
	sealed := false
	for _, m := range list {
		if applied[m.version] {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		sealed = sealed || goSteps[m.version] != nil
	}
	if sealed {
		// A migration that sealed what was stored in plain leaves the
		// plain bytes in freed pages and free space of the file: rebuild
		// the file from the live rows, then move the rebuilt pages from
		// the write-ahead log into it and empty the log.
		for _, q := range []string{"VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
			if _, err := s.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s after sealing: %w", q, err)
			}
		}
	}
	return nil
}

// goSteps finish, in Go and in the same transaction, the migrations SQL
// cannot do alone (re-sealing secrets needs the key).
var goSteps = map[int]func(context.Context, *sql.Tx, *store.Sealer) error{
	4:  resealClusterCredentials,
	13: sealWorkflowTexts,
}

type migration struct {
	version int
	name    string
	sql     string
}

func listMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name must start with a number and an underscore", e.Name())
		}
		data, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func (s *DB) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if step := goSteps[m.version]; step != nil {
		if err := step(ctx, tx, s.sealer); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion reports the newest migration applied.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
