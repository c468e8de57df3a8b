package integration

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// shortDataDir returns a fresh data directory with a short path: the
// control socket lives there, and Unix socket paths are limited to about
// 100 bytes, which a test's own temporary directory can exceed.
func shortDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// heraldCLI runs the herald binary with args on dataDir and returns its
// exit error and combined output.
func heraldCLI(t *testing.T, bin, dataDir, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{args[0], "-data-dir", dataDir, "-domain", "localhost"}, args[1:]...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = dataDir // no herald.toml there
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAdmin_CommandLineReachesRunningServer drives a running server with
// the herald binary's admin commands, as an operator would:
//   - "herald sessions" lists the bound sessions with their full JIDs;
//   - "herald disable" ends the account's sessions at once with
//     <not-authorized/> (its authentication no longer holds) and says how
//     many it ended; other accounts' sessions stay;
//   - "herald deluser" does the same, and an account created again under
//     the same name starts clean: the blocklist the deleted account had
//     cached in the running server no longer applies;
//   - a second server on the same data directory refuses to start.
func TestAdmin_CommandLineReachesRunningServer(t *testing.T) {
	t.Parallel()
	bin := imBuildHerald(t)
	dir := shortDataDir(t)
	s := imServer(t, servertest.DataDir(dir))

	phone := dialWire(t, s)
	phoneJID := phone.login("alice", alicePass, "phone")
	laptop := login(t, s, "alice", alicePass, loginOptions{resource: "laptop"})
	desk := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	imReady(desk)

	out, err := heraldCLI(t, bin, dir, "", "sessions")
	if err != nil {
		t.Fatalf("herald sessions: %v\n%s", err, out)
	}
	for _, j := range []string{phoneJID, laptop.jid, desk.jid, carol.jid} {
		if !strings.Contains(out, j) {
			t.Errorf("herald sessions does not list %s:\n%s", j, out)
		}
	}
	if !strings.Contains(out, "4 session(s)") {
		t.Errorf("herald sessions does not count 4 sessions:\n%s", out)
	}

	out, err = heraldCLI(t, bin, dir, "", "disable", "alice@localhost")
	if err != nil || !strings.Contains(out, "ended 2 session(s) of alice@localhost") {
		t.Fatalf("herald disable alice: %v\n%s", err, out)
	}
	se := phone.expectStreamError("not-authorized")
	if !strings.Contains(se.text, "disabled") {
		t.Errorf("the stream error's text %q does not say the account was disabled", se.text)
	}
	select {
	case <-laptop.done:
	case <-time.After(wireTimeout):
		t.Errorf("alice's laptop session is still open after herald disable")
	}
	imSync(desk) // bob's session is untouched

	// bob blocks carol, then is deleted and created again.
	blMust(desk, "block", imBare(s, "carol"))
	out, err = heraldCLI(t, bin, dir, "", "deluser", "bob@localhost")
	if err != nil || !strings.Contains(out, "ended 1 session(s) of bob@localhost") {
		t.Fatalf("herald deluser bob: %v\n%s", err, out)
	}
	select {
	case <-desk.done:
	case <-time.After(wireTimeout):
		t.Fatalf("bob's session is still open after herald deluser")
	}
	if out, err := heraldCLI(t, bin, dir, "new-bob-secret\n", "adduser", "-password-stdin", "bob@localhost"); err != nil {
		t.Fatalf("herald adduser bob again: %v\n%s", err, out)
	}
	newBob := login(t, s, "bob", "new-bob-secret", loginOptions{resource: "again"})
	carol.send("<message type='chat' to='" + newBob.jid + "'><body>hello new bob</body></message>")
	newBob.waitFor("carol's message to the new bob, whom nobody blocked", message("hello new bob"))

	// A second server on the same data directory.
	cfg := s.Config
	cfg.C2S.Listen, cfg.C2S.DirectTLSListen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	second, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("second server: %v", err)
	}
	err = second.Start(ctx)
	second.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "another server is running") {
		t.Errorf("a second server on the same data directory started: %v", err)
	}
	imSync(carol) // the first one still serves
}
