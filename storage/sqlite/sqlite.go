// Package sqlite is Herald's SQLite storage backend, built on the pure-Go
// driver modernc.org/sqlite (no cgo).
//
// # Durability and sharing
//
// Every connection runs with journal_mode=WAL, synchronous=FULL (each commit
// is fsynced before it is acknowledged, so neither a kill -9 nor a power cut
// right after a successful call loses it), foreign_keys=ON and a busy_timeout
// of BusyTimeout. WAL lets readers proceed while one writer commits, and the
// busy timeout makes writers from several processes sharing one file (the
// running server and `herald adduser`) wait for each other instead of failing.
//
// # Connections
//
// A DB holds two database/sql pools on the same file:
//
//   - a writer pool limited to one connection, whose transactions begin with
//     BEGIN IMMEDIATE. SQLite admits one writer at a time anyway; queueing
//     writers in Go instead of inside SQLite's busy handler is cheaper, and
//     taking the write lock at BEGIN means a transaction never has to upgrade a
//     read lock, the case where SQLite returns SQLITE_BUSY without waiting.
//   - a reader pool of up to ReadConns query_only connections, which in WAL
//     mode never block the writer nor each other. The login lookup (Account)
//     uses a statement prepared on this pool.
//
// # Schema
//
// The schema is a series of embedded migrations (migrations/NNNN_name.sql),
// each applied in its own transaction and recorded in schema_migrations. Open
// applies the missing ones and refuses, with ErrSchemaTooNew, a database that
// a newer Herald has migrated further. The SQL sticks to what PostgreSQL also
// accepts, bar the ? placeholders, the BLOB type and the auto-numbered
// INTEGER PRIMARY KEY columns (identity columns in PostgreSQL).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/herald-im/herald/storage"

	// msqlite registers the "sqlite" database/sql driver and defines its
	// error type.
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// BusyTimeout is how long a statement waits for another connection or
// process holding the database lock before failing with SQLITE_BUSY. Herald's
// write transactions are a few rows long, so waiting this long means something
// is badly stuck.
const BusyTimeout = 10 * time.Second

// ReadConns is the maximum number of concurrent read connections per DB.
const ReadConns = 4

// DB is a SQLite-backed store. It implements storage.Accounts,
// storage.Rosters, storage.SubscriptionRequests, storage.Offline and
// storage.PrivacyLists, and is safe for concurrent use; several DBs (in one
// process or several) may share a file.
type DB struct {
	path  string
	write *sql.DB // at most one connection; BEGIN IMMEDIATE
	read  *sql.DB // query_only connections

	// rosterTombstones is how many roster tombstones are kept per owner;
	// RosterTombstones, but tests lower it.
	rosterTombstones int

	// Prepared on read: the login hot path and its cheap cousin.
	accountStmt *sql.Stmt
	existsStmt  *sql.Stmt
}

var _ storage.Accounts = (*DB)(nil)

// Open opens the SQLite database at path, creating the file if needed,
// configures it as described in the package documentation and applies any
// missing migrations. ctx bounds the opening and the migrations, not the
// life of the DB. The caller must Close the DB.
func Open(ctx context.Context, path string) (*DB, error) {
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := open(ctx, path, migs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	return db, nil
}

// open is Open with the migration list as a parameter, for tests.
func open(ctx context.Context, path string, migs []migration) (_ *DB, err error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving path: %w", err)
	}
	db := &DB{path: abs, rosterTombstones: RosterTombstones}
	defer func() {
		if err != nil {
			_ = db.Close() // report the error that made Open fail
		}
	}()

	// The writer goes first: it sets WAL mode (a property of the file) and
	// creates the schema before any reader looks at it.
	if db.write, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		return nil, fmt.Errorf("opening writer: %w", err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := enableWAL(ctx, db.write); err != nil {
		return nil, err
	}
	if err := checkPragmas(ctx, db.write); err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	if err := migrate(ctx, db.write, migs); err != nil {
		return nil, err
	}

	if db.read, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return nil, fmt.Errorf("opening reader: %w", err)
	}
	db.read.SetMaxOpenConns(ReadConns)
	db.read.SetMaxIdleConns(ReadConns)
	db.read.SetConnMaxLifetime(0)
	db.read.SetConnMaxIdleTime(0)
	if err := checkPragmas(ctx, db.read); err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}

	if db.accountStmt, err = db.read.PrepareContext(ctx, accountQuery); err != nil {
		return nil, fmt.Errorf("preparing account lookup: %w", err)
	}
	if db.existsStmt, err = db.read.PrepareContext(ctx, existsQuery); err != nil {
		return nil, fmt.Errorf("preparing account existence check: %w", err)
	}
	return db, nil
}

// dsn builds the modernc.org/sqlite data source name for the file at abs:
// a file: URI (so that any character in the path is escaped) whose query
// carries the per-connection settings the driver applies on connect.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	// synchronous is per connection; readers set it too because the last
	// connection to close checkpoints the WAL into the database file.
	q.Set("_synchronous", "FULL")
	if readOnly {
		q.Set("_query_only", "on")
	} else {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// enableWAL switches the database file to WAL mode (a persistent property of
// the file, so later connections find it set). Changing the journal mode
// upgrades a read lock to a write lock, which SQLite refuses with SQLITE_BUSY
// without consulting the busy handler when another connection holds a lock,
// as happens when two processes open a new file at once; so it is retried
// here, for up to BusyTimeout.
func enableWAL(ctx context.Context, w *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, BusyTimeout)
	defer cancel()
	backoff := time.Millisecond
	for {
		var mode string
		err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("cannot enable WAL mode: journal_mode is %q (is the file system local?)", mode)
			}
			return nil
		}
		if !isBusy(err) {
			return fmt.Errorf("enabling WAL mode: %w", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("enabling WAL mode: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED (or an
// extended code of either).
func isBusy(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	primary := se.Code() & 0xff
	return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
}

// checkPragmas connects and verifies that the settings that durability and
// sharing depend on took effect; SQLite silently keeps its journal mode on
// file systems without WAL support, for example.
func checkPragmas(ctx context.Context, h *sql.DB) error {
	want := []struct{ pragma, value string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10)},
	}
	for _, w := range want {
		var got string
		if err := h.QueryRowContext(ctx, "PRAGMA "+w.pragma).Scan(&got); err != nil {
			return fmt.Errorf("reading PRAGMA %s: %w", w.pragma, err)
		}
		if !strings.EqualFold(got, w.value) {
			return fmt.Errorf("PRAGMA %s is %q, want %q", w.pragma, got, w.value)
		}
	}
	return nil
}

// Close releases the DB's statements and connections. It does not wait for
// calls in progress on other goroutines beyond what database/sql does.
func (db *DB) Close() error {
	var errs []error
	for _, s := range []*sql.Stmt{db.accountStmt, db.existsStmt} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	// Readers first, so the writer is the last connection and checkpoints.
	for _, h := range []*sql.DB{db.read, db.write} {
		if h != nil {
			errs = append(errs, h.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: closing %s: %w", db.path, err)
	}
	return nil
}

// SchemaVersion returns the highest migration version applied to the
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, db.read)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return v, nil
}
