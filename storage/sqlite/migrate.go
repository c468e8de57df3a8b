package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"time"
)

// ErrSchemaTooNew reports that the database was migrated by a newer Herald
// than this one: running against it could misread or corrupt data, so Open
// refuses. Upgrade the binary (or restore a backup).
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary supports")

// migrationFiles holds the schema history, migrations/NNNN_name.sql, applied
// in ascending NNNN order. Migrations are append-only: never edit one that
// has shipped, add the next number instead.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationName matches NNNN_name.sql.
var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads dir in fsys and returns its migrations sorted by
// version, requiring versions 1..N without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir) // sorted by name, hence by version
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			return nil, fmt.Errorf("migration %q is not named NNNN_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(m[1]) // four digits: cannot fail
		if want := len(migs) + 1; version != want {
			return nil, fmt.Errorf("migration %q has version %d, want %d (versions must run 1..N without gaps)", e.Name(), version, want)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", e.Name(), err)
		}
		migs = append(migs, migration{version: version, name: m[2], sql: string(body)})
	}
	if len(migs) == 0 {
		return nil, errors.New("no migrations found")
	}
	return migs, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// migrate brings the database behind w (the single-writer handle, whose
// transactions begin IMMEDIATE) up to the last of migs. Each migration runs in
// its own transaction together with its schema_migrations row, so a failure
// leaves the database at the previous version. The current version is read
// inside each transaction, so processes opening the same file at once apply
// every migration exactly once. A database whose version exceeds the last of
// migs is refused with ErrSchemaTooNew.
func migrate(ctx context.Context, w *sql.DB, migs []migration) error {
	// In a transaction, so that the write lock is taken at BEGIN IMMEDIATE,
	// where SQLite waits for it, rather than by upgrading a read lock.
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	known := migs[len(migs)-1].version
	for _, m := range migs {
		if err := applyMigration(ctx, w, m, known); err != nil {
			return err
		}
	}
	// Also catches a too-new database when every known migration was
	// already applied.
	v, err := schemaVersion(ctx, w)
	if err != nil {
		return err
	}
	if v > known {
		return tooNew(v, known)
	}
	return nil
}

func applyMigration(ctx context.Context, w *sql.DB, m migration, known int) (err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %04d_%s: beginning transaction: %w", m.version, m.name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that caused the rollback matters more
		}
	}()
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
	}
	if current > known {
		return tooNew(current, known)
	}
	if current >= m.version {
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().Unix()); err != nil {
		return fmt.Errorf("migration %04d_%s: recording: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %04d_%s: commit: %w", m.version, m.name, err)
	}
	return nil
}

func tooNew(have, known int) error {
	return fmt.Errorf("%w: database is at schema version %d, this binary knows up to %d; upgrade Herald", ErrSchemaTooNew, have, known)
}

// schemaVersion returns the highest applied migration version (0 if none).
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}
