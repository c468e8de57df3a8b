package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/herald-im/herald/storage"
)

// killHelperEnv, when set to a database path, turns the test binary into the
// writer process of TestKillDuringWrites.
const killHelperEnv = "HERALD_SQLITE_KILL_HELPER_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(killHelperEnv); path != "" {
		os.Exit(killHelper(path))
	}
	os.Exit(m.Run())
}

// Acknowledged roster writes and offline messages of the child process are
// all for this owner, its first account.
const (
	killOwner = "child0@example.com"
	// killQuota is far above what the child can store before the kill.
	killQuota = 1 << 20
)

// killStanza is the offline message the child stores in round i.
func killStanza(i int) []byte {
	return fmt.Appendf(nil, "<message id='m%d'><body>%d</body></message>", i, i)
}

// killHelper, in round i, creates account child<i>, adds it to killOwner's
// roster and stores an offline message for killOwner, then prints
// "<jid> <roster version> <offline message ID>" on stdout: one line per
// round whose three writes have all returned. It never stops by itself.
func killHelper(path string) int {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	creds, err := storage.NewCredentials("pencil", 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range 10000 {
		jid := fmt.Sprintf("child%d@example.com", i)
		if err := db.CreateAccount(ctx, jid, creds); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ver, err := db.PutRosterItem(ctx, killOwner, storage.RosterItem{Contact: jid, Name: strconv.Itoa(i), Groups: []string{"Children"}, Subscription: storage.SubBoth})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		id, err := db.StoreOffline(ctx, killOwner, killStanza(i), time.Now(), killQuota)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(jid, ver, id)
	}
	// Never closes the DB: the parent kills this process.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// TestKillDuringWrites SIGKILLs a process in the middle of a stream of
// writes (accounts, roster items, offline messages), while this process
// writes to the same file: every write the killed process had acknowledged
// is there afterwards, the file is intact, and the concurrent writes of both
// processes all succeeded.
func TestKillDuringWrites(t *testing.T) {
	const killAfter = 25
	path := filepath.Join(t.TempDir(), "herald.db")
	parent := openPath(t, path)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // held open so the child cannot finish on its own
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Write from this process too, while the child writes. The count is
	// bounded: SQLite's busy handler polls, so a process committing in a
	// tight loop starves another process's writer.
	creds := testCreds(t, "pencil")
	var (
		wg         sync.WaitGroup
		parentJIDs []string
		parentErr  error
	)
	wg.Go(func() {
		for i := range killAfter {
			jid := fmt.Sprintf("parent%d@example.com", i)
			if err := parent.CreateAccount(ctx, jid, creds); err != nil {
				parentErr = err
				return
			}
			// Roster versions come from one counter in the file, which
			// both processes draw from.
			if _, err := parent.PutRosterItem(ctx, "parent0@example.com", storage.RosterItem{Contact: jid}); err != nil {
				parentErr = err
				return
			}
			parentJIDs = append(parentJIDs, jid)
		}
	})

	var (
		acked    []killAck
		parseErr error
	)
	sc := bufio.NewScanner(stdout)
	read := func() bool {
		if !sc.Scan() {
			return false
		}
		var a killAck
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d", &a.jid, &a.version, &a.offlineID); err != nil {
			parseErr = errors.Join(parseErr, fmt.Errorf("line %q: %w", sc.Text(), err))
		}
		acked = append(acked, a)
		return true
	}
	for len(acked) < killAfter && read() {
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// Lines already in the pipe were acknowledged before the kill as well.
	for read() {
	}
	waitErr := cmd.Wait()
	wg.Wait()

	if len(acked) < killAfter || parseErr != nil {
		t.Fatalf("child acknowledged only %d rounds of writes (wait: %v, %v); stderr:\n%s", len(acked), waitErr, parseErr, stderr.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(waitErr, &exitErr) || exitErr.ExitCode() != -1 {
		t.Errorf("child did not die from the signal: %v", waitErr)
	}
	if parentErr != nil {
		t.Errorf("write concurrent with the child failed: %v", parentErr)
	}
	if len(parentJIDs) != killAfter {
		t.Errorf("the parent wrote %d accounts, want %d", len(parentJIDs), killAfter)
	}

	// A fresh handle, as a restarted server would open.
	db := openPath(t, path)
	jids := slices.Clone(parentJIDs)
	for _, a := range acked {
		jids = append(jids, a.jid)
	}
	for _, jid := range jids {
		acct, err := db.Account(ctx, jid)
		if err != nil {
			t.Errorf("acknowledged write lost: %s: %v", jid, err)
			continue
		}
		if !acct.Credentials.VerifyPassword("pencil") {
			t.Errorf("%s: credentials damaged", jid)
		}
	}
	checkKilledRosterAndOffline(t, db, acked)
	if items, _, err := db.Roster(ctx, "parent0@example.com"); err != nil || len(items) != len(parentJIDs) {
		t.Errorf("the parent's roster has %d items (%v), want %d", len(items), err, len(parentJIDs))
	}
	var check string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	// And the database still takes writes.
	if err := db.CreateAccount(ctx, "after@example.com", creds); err != nil {
		t.Errorf("write after the kill: %v", err)
	}
	t.Logf("child acknowledged %d rounds of writes, parent %d", len(acked), len(parentJIDs))
}

// killAck is one round of writes the killed child acknowledged.
type killAck struct {
	jid       string
	version   int64 // of the roster item for jid in killOwner's roster
	offlineID int64 // of the offline message stored for killOwner
}

// checkKilledRosterAndOffline checks that every roster item and offline
// message the killed child acknowledged is stored as acknowledged.
func checkKilledRosterAndOffline(t *testing.T, db *DB, acked []killAck) {
	t.Helper()
	ctx := t.Context()
	msgs, err := db.OfflineMessages(ctx, killOwner, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[int64][]byte, len(msgs))
	for _, m := range msgs {
		stored[m.ID] = m.Stanza
	}
	_, current, err := db.Roster(ctx, killOwner)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range acked {
		item, err := db.RosterItem(ctx, killOwner, a.jid)
		switch {
		case err != nil:
			t.Errorf("acknowledged roster write lost: %s: %v", a.jid, err)
		case item.Version != a.version || item.Name != strconv.Itoa(i) || item.Subscription != storage.SubBoth || !slices.Equal(item.Groups, []string{"Children"}):
			t.Errorf("roster item %s = %+v, want version %d, name %d, both, [Children]", a.jid, item, a.version, i)
		}
		if a.version > current {
			t.Errorf("roster version %d is below the acknowledged %d", current, a.version)
		}
		if got, ok := stored[a.offlineID]; !ok || !bytes.Equal(got, killStanza(i)) {
			t.Errorf("acknowledged offline message %d lost or damaged: %q", a.offlineID, got)
		}
	}
}
