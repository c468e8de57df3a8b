package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/storagetest"
)

// openTemp opens a fresh database in a temporary directory, closed at the
// end of the test.
func openTemp(t testing.TB) *DB {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "herald.db"))
}

func openPath(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func testCreds(t testing.TB, password string) storage.Credentials {
	t.Helper()
	c, err := storage.NewCredentials(password, 0)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}

// rawOpen opens path without Open's configuration or migrations, to inspect
// or tamper with the file.
func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	h, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func queryInt(t *testing.T, q interface {
	QueryRow(string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestAccountsConformance(t *testing.T) {
	storagetest.TestAccounts(t, func(t *testing.T) storage.Accounts { return openTemp(t) })
}

// TestPragmas checks the settings durability and multi-process sharing rely
// on, on both connection pools.
func TestPragmas(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	for _, h := range []struct {
		name      string
		db        *sql.DB
		queryOnly string
	}{
		{"writer", db.write, "0"},
		{"reader", db.read, "1"},
	} {
		for _, tc := range []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
			{"foreign_keys", "1"},
			{"busy_timeout", "10000"},
			{"query_only", h.queryOnly},
		} {
			var got string
			if err := h.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", h.name, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", h.name, tc.pragma, got, tc.want)
			}
		}
	}
	if _, err := db.read.ExecContext(ctx, `DELETE FROM accounts`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestCreateAccountRejectsMalformedJID(t *testing.T) {
	db := openTemp(t)
	creds := testCreds(t, "pencil")
	for _, jid := range []string{"", "example.com", "@example.com", "juliet@", "juliet@example.com/balcony", "jul/iet@example.com", "a@b@example.com"} {
		err := db.CreateAccount(t.Context(), jid, creds)
		if err == nil {
			t.Errorf("CreateAccount(%q) succeeded", jid)
		} else if errors.Is(err, storage.ErrExists) {
			t.Errorf("CreateAccount(%q) = %v, want a malformed-JID error", jid, err)
		}
	}
	if got, err := db.ListAccounts(t.Context(), ""); err != nil || len(got) != 0 {
		t.Errorf("ListAccounts = %q, %v; want nothing stored", got, err)
	}
}

// TestDeleteCascades checks that foreign keys are enforced: deleting an
// account removes its credentials rows.
func TestDeleteCascades(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	creds := testCreds(t, "pencil")
	for _, j := range []string{"juliet@example.com", "romeo@example.com"} {
		if err := db.CreateAccount(ctx, j, creds); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteAccount(ctx, "juliet@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM account_scram WHERE jid = ?`, "juliet@example.com"); n != 0 {
		t.Errorf("%d credential rows left for a deleted account", n)
	}
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM account_scram WHERE jid = ?`, "romeo@example.com"); n != 2 {
		t.Errorf("other account has %d credential rows, want 2", n)
	}
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO account_scram (jid, hash, salt, iterations, stored_key, server_key) VALUES ('ghost@example.com', 'SHA-1', x'00', 1, x'00', x'00')`); err == nil {
		t.Error("credentials for a missing account were accepted: foreign keys are off")
	}
}

// TestNoPasswordStored checks that the database file holds SCRAM keys only.
func TestNoPasswordStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	const password = "unmistakable-password-8f3a"
	if err := db.CreateAccount(t.Context(), "juliet@example.com", testCreds(t, password)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*") // database, and -wal/-shm if left
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), password) {
			t.Errorf("%s contains the password", f)
		}
	}
}

// TestPersistence checks that every kind of change survives Close and Open.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	ctx := t.Context()
	first := testCreds(t, "first")
	second := testCreds(t, "second")

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{"juliet@example.com", "romeo@example.com", "nurse@example.net"} {
		if err := db.CreateAccount(ctx, j, first); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetCredentials(ctx, "juliet@example.com", second); err != nil {
		t.Fatal(err)
	}
	if err := db.SetDisabled(ctx, "romeo@example.com", true); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAccount(ctx, "nurse@example.net"); err != nil {
		t.Fatal(err)
	}
	before, err := db.Account(ctx, "juliet@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openPath(t, path)
	juliet, err := db.Account(ctx, "juliet@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !juliet.Credentials.VerifyPassword("second") || juliet.Credentials.VerifyPassword("first") {
		t.Error("credential change was not persisted")
	}
	if !juliet.Created.Equal(before.Created) {
		t.Errorf("Created = %v after reopen, was %v", juliet.Created, before.Created)
	}
	romeo, err := db.Account(ctx, "romeo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !romeo.Disabled {
		t.Error("disabled flag was not persisted")
	}
	if _, err := db.Account(ctx, "nurse@example.net"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted account after reopen: %v, want ErrNotFound", err)
	}
}

// TestMigrationsIdempotent reopens a database several times: each
// migration is applied and recorded exactly once.
func TestMigrationsIdempotent(t *testing.T) {
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "herald.db")
	ctx := t.Context()
	for i := range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if i == 0 {
			if err := db.CreateAccount(ctx, "juliet@example.com", testCreds(t, "pencil")); err != nil {
				t.Fatal(err)
			}
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != len(migs) {
			t.Errorf("Open #%d: SchemaVersion = %d, want %d", i+1, v, len(migs))
		}
		if n := queryInt(t, db.read, `SELECT COUNT(*) FROM schema_migrations`); n != len(migs) {
			t.Errorf("Open #%d: %d schema_migrations rows, want %d", i+1, n, len(migs))
		}
		if ok, err := db.AccountExists(ctx, "juliet@example.com"); err != nil || !ok {
			t.Errorf("Open #%d: AccountExists = %v, %v", i+1, ok, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenConcurrently opens fresh files from several handles at once, as
// when the server and `herald adduser` start together: every Open succeeds
// (including the race to switch the new file to WAL mode) and the migrations
// are applied once.
func TestOpenConcurrently(t *testing.T) {
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	const (
		rounds  = 10
		openers = 6
	)
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "herald.db")
		var wg sync.WaitGroup
		errs := make([]error, openers)
		for i := range openers {
			wg.Go(func() {
				db, err := Open(t.Context(), path)
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: Open #%d: %v", round, i, err)
			}
		}
		if got := queryInt(t, rawOpen(t, path), `SELECT COUNT(*) FROM schema_migrations`); got != len(migs) {
			t.Errorf("round %d: %d schema_migrations rows, want %d", round, got, len(migs))
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	t.Run("unknown version recorded", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "herald.db")
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		raw := rawOpen(t, path)
		if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)`); err != nil {
			t.Fatal(err)
		}
		db, err = Open(t.Context(), path)
		if err == nil {
			db.Close()
			t.Fatal("Open succeeded on a database from a newer schema")
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
		}
		if !strings.Contains(err.Error(), "9999") {
			t.Errorf("error %q does not name the database's version", err)
		}
	})
	t.Run("binary with fewer migrations", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "herald.db")
		newer := withExtra(t, `CREATE TABLE b (x INTEGER);`)
		db, err := open(t.Context(), path, newer)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err = open(t.Context(), path, newer[:len(newer)-1])
		if !errors.Is(err, ErrSchemaTooNew) {
			if err == nil {
				db.Close()
			}
			t.Fatalf("open with an older migration set = %v, want ErrSchemaTooNew", err)
		}
	})
}

// withExtra returns the embedded migrations followed by extra ones, numbered
// on from the last embedded version.
func withExtra(t *testing.T, extra ...string) []migration {
	t.Helper()
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range extra {
		migs = append(migs, migration{version: len(migs) + 1, name: fmt.Sprintf("extra%d", i+1), sql: body})
	}
	return migs
}

// TestMigrationFailureRollsBack checks that a failing migration leaves the
// database at the previous version with none of its statements applied, and
// that a fixed binary then migrates it.
func TestMigrationFailureRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	broken := withExtra(t,
		`CREATE TABLE a (x INTEGER);`,
		`CREATE TABLE b (x INTEGER); INSERT INTO no_such_table VALUES (1);`)
	last := broken[len(broken)-1]
	if db, err := open(t.Context(), path, broken); err == nil {
		db.Close()
		t.Fatal("open with a broken migration succeeded")
	} else if !strings.Contains(err.Error(), fmt.Sprintf("%04d_%s", last.version, last.name)) {
		t.Errorf("error %q does not name the failing migration", err)
	}
	raw := rawOpen(t, path)
	tableCount := `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`
	if queryInt(t, raw, tableCount, "a") != 1 {
		t.Error("the migration before the failing one was not applied")
	}
	if queryInt(t, raw, tableCount, "b") != 0 {
		t.Error("the failed migration's first statement was not rolled back")
	}
	if v := queryInt(t, raw, `SELECT MAX(version) FROM schema_migrations`); v != last.version-1 {
		t.Errorf("schema version %d, want %d", v, last.version-1)
	}

	fixed := withExtra(t,
		`CREATE TABLE a (x INTEGER);`,
		`CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1);`)
	db, err := open(t.Context(), path, fixed)
	if err != nil {
		t.Fatalf("open with fixed migrations: %v", err)
	}
	defer db.Close()
	if n := queryInt(t, db.read, `SELECT COUNT(*) FROM b`); n != 1 {
		t.Errorf("table b has %d rows, want 1 (whole migration applied once)", n)
	}
	if v, err := db.SchemaVersion(t.Context()); err != nil || v != last.version {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, last.version)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name     string
		fs       fstest.MapFS
		versions []int // nil: expect an error
	}{
		{"ordered", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, []int{1, 2, 3}},
		{"gap", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, nil},
		{"duplicate version", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0001_b.sql": file("B")}, nil},
		{"not starting at 1", fstest.MapFS{"m/0002_b.sql": file("B")}, nil},
		{"bad name", fstest.MapFS{"m/0001_a.sql": file("A"), "m/2_b.sql": file("B")}, nil},
		{"stray file", fstest.MapFS{"m/0001_a.sql": file("A"), "m/README": file("")}, nil},
		{"empty", fstest.MapFS{"m": &fstest.MapFile{Mode: fs.ModeDir}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := loadMigrations(tc.fs, "m")
			if tc.versions == nil {
				if err == nil {
					t.Fatalf("loadMigrations succeeded: %+v", migs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range migs {
				got = append(got, m.version)
				if want := tc.fs[fmt.Sprintf("m/%04d_%s.sql", m.version, m.name)]; want == nil || string(want.Data) != m.sql {
					t.Errorf("migration %d has body %q", m.version, m.sql)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.versions) {
				t.Errorf("versions %v, want %v", got, tc.versions)
			}
		})
	}
	if _, err := loadMigrations(migrationFiles, "migrations"); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

func TestOpenPaths(t *testing.T) {
	dir := t.TempDir()
	// A name SQLite's URI syntax would misread unless escaped.
	odd := filepath.Join(dir, "odd ?name#%20&mode=ro.db")
	db := openPath(t, odd)
	if err := db.CreateAccount(t.Context(), "juliet@example.com", testCreds(t, "pencil")); err != nil {
		t.Fatalf("CreateAccount on %q: %v", odd, err)
	}
	if _, err := os.Stat(odd); err != nil {
		t.Errorf("database not created at the literal path: %v", err)
	}
	for _, bad := range []string{"", filepath.Join(dir, "missing", "dir", "herald.db")} {
		if db, err := Open(t.Context(), bad); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// TestTwoHandles uses two DBs on one file, as the server and `herald adduser`
// do: each sees the other's committed changes immediately.
func TestTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	server, admin := openPath(t, path), openPath(t, path)
	ctx := t.Context()
	creds := testCreds(t, "pencil")

	if err := admin.CreateAccount(ctx, "juliet@example.com", creds); err != nil {
		t.Fatal(err)
	}
	acct, err := server.Account(ctx, "juliet@example.com")
	if err != nil {
		t.Fatalf("server does not see the admin's new account: %v", err)
	}
	if !acct.Credentials.VerifyPassword("pencil") {
		t.Error("server sees wrong credentials")
	}
	if err := server.CreateAccount(ctx, "juliet@example.com", creds); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CreateAccount of the same JID via the other handle = %v, want ErrExists", err)
	}
	if err := admin.SetDisabled(ctx, "juliet@example.com", true); err != nil {
		t.Fatal(err)
	}
	if acct, err := server.Account(ctx, "juliet@example.com"); err != nil || !acct.Disabled {
		t.Errorf("server sees Disabled = %v, %v; want true", acct.Disabled, err)
	}
	if err := server.DeleteAccount(ctx, "juliet@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Account(ctx, "juliet@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("admin sees a deleted account: %v", err)
	}
}

// TestConcurrentWriters runs many writers on two handles of one file: every
// write succeeds (busy_timeout, not SQLITE_BUSY) and a JID contested by all
// of them is created exactly once.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	handles := []*DB{openPath(t, path), openPath(t, path)}
	creds := testCreds(t, "pencil")
	ctx := t.Context()
	const (
		writers    = 8
		perWriter  = 20
		contestJID = "contested@example.com"
	)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		errs      []error
		contested = make([]error, writers)
	)
	for w := range writers {
		db := handles[w%len(handles)]
		wg.Go(func() {
			contested[w] = db.CreateAccount(ctx, contestJID, creds)
			for i := range perWriter {
				jid := fmt.Sprintf("w%d-%d@example.com", w, i)
				err := db.CreateAccount(ctx, jid, creds)
				if err == nil {
					err = db.SetDisabled(ctx, jid, i%2 == 0)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	wins := 0
	for w, err := range contested {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("writer %d: contested CreateAccount = %v, want nil or ErrExists", w, err)
		}
	}
	if wins != 1 {
		t.Errorf("contested JID created %d times, want 1", wins)
	}
	for i, db := range handles {
		jids, err := db.ListAccounts(ctx, "example.com")
		if err != nil {
			t.Fatal(err)
		}
		if want := writers*perWriter + 1; len(jids) != want {
			t.Errorf("handle %d lists %d accounts, want %d", i, len(jids), want)
		}
	}
}
