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

// killHelper creates accounts child0, child1, ... and prints each JID on
// stdout once CreateAccount has returned, then waits to be killed.
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
		fmt.Println(jid)
	}
	// Never closes the DB: the parent kills this process.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// TestKillDuringWrites SIGKILLs a process in the middle of a stream of
// writes, while this process writes to the same file: every write the killed
// process had acknowledged is there afterwards, the file is intact, and the
// concurrent writes of both processes all succeeded.
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
			parentJIDs = append(parentJIDs, jid)
		}
	})

	var acked []string
	sc := bufio.NewScanner(stdout)
	for len(acked) < killAfter && sc.Scan() {
		acked = append(acked, sc.Text())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// Lines already in the pipe were acknowledged before the kill as well.
	for sc.Scan() {
		acked = append(acked, sc.Text())
	}
	waitErr := cmd.Wait()
	wg.Wait()

	if len(acked) < killAfter {
		t.Fatalf("child acknowledged only %d writes (wait: %v); stderr:\n%s", len(acked), waitErr, stderr.String())
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
	for _, jid := range append(acked, parentJIDs...) {
		acct, err := db.Account(ctx, jid)
		if err != nil {
			t.Errorf("acknowledged write lost: %s: %v", jid, err)
			continue
		}
		if !acct.Credentials.VerifyPassword("pencil") {
			t.Errorf("%s: credentials damaged", jid)
		}
	}
	var check string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	// And the database still takes writes.
	if err := db.CreateAccount(ctx, "after@example.com", creds); err != nil {
		t.Errorf("write after the kill: %v", err)
	}
	t.Logf("child acknowledged %d writes, parent %d", len(acked), len(parentJIDs))
}
