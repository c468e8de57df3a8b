package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/herald-im/herald/internal/servertest"
)

// TestRestart_RostersRequestsAndOfflineMessagesSurvive_RFC6121_XEP0160 stops a server
// after alice has built a roster (RFC 6121 §2), established a
// subscription (§3.1), left a subscription request for offline bob
// (§3.1.3) and sent him offline messages (XEP-0160), then starts a new
// server on the same data directory: everything is still there and
// behaves as before the restart.
func TestRestart_RostersRequestsAndOfflineMessagesSurvive_RFC6121_XEP0160(t *testing.T) {
	t.Parallel()
	first := imServer(t)
	aliceBare, bobBare, carolBare := imBare(first, "alice"), imBare(first, "bob"), imBare(first, "carol")

	phone := imLogin(t, first, "alice", "phone")
	home := imLogin(t, first, "carol", "home")
	imReady(phone)
	imReady(home)
	imMustSet(phone, "<item jid='"+carolBare+"' name='Carol'><group>Friends</group><group>Book club</group></item>")
	imPush(phone, carolBare)
	imSubscribe(phone, home)
	imSendPresence(phone, "subscribe", bobBare)
	imPush(phone, bobBare)
	bodies := []string{"before the restart 1", "before the restart 2"}
	for _, b := range bodies {
		phone.send("<message type='chat' to='" + bobBare + "'><body>" + b + "</body></message>")
	}
	imNoErrors(phone)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("shut the first server down: %v", err)
	}

	// A new server on the same data directory; the accounts are there.
	second := servertest.Start(t, servertest.DataDir(first.Config.DataDir))
	phone = imLogin(t, second, "alice", "phone")
	items := imRoster(phone)
	imCheckItem(t, "alice's item for carol after the restart", items[carolBare], imItem{sub: "to", name: "Carol", groups: []string{"Friends", "Book club"}})
	imCheckItem(t, "alice's item for bob after the restart", items[bobBare], imItem{sub: "none", ask: "subscribe"})
	if len(items) != 2 {
		t.Errorf("alice's roster after the restart: %v, want carol and bob", items)
	}
	home = imLogin(t, second, "carol", "home")
	imCheckItem(t, "carol's item for alice after the restart", imRoster(home)[aliceBare], imItem{sub: "from"})
	home.available(0)
	phone.available(0)
	phone.waitFor("carol's presence at alice's login after the restart", imPresence(home.jid, ""))

	desk := imLogin(t, second, "bob", "desk")
	desk.available(1)
	desk.waitFor("alice's subscription request after the restart", imPresence(aliceBare, "subscribe"))
	if got := imBodies(desk); !slices.Equal(got, bodies) {
		t.Fatalf("bob's offline messages after the restart: %q, want %q", got, bodies)
	}
	for _, b := range bodies {
		m := desk.waitFor("the offline message "+b, message(b))
		if m.child(nsDelay, "delay") == nil {
			t.Errorf("offline message without <delay/> after the restart: %s", m)
		}
		imCheckStanzaID(t, m, bobBare)
	}
}

// imHerald is a "herald serve" process that this test started.
type imHerald struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string        // the STARTTLS client listener
	tls    *tls.Config   // trusts the development certificate
	exited chan struct{} // closed once the process has been waited for
	err    error         // cmd.Wait's result, once exited is closed
}

// imHintAddr finds the client listener in the start-up hint of "herald
// serve" ("  clients (STARTTLS):  127.0.0.1:port").
var imHintAddr = regexp.MustCompile(`clients \(STARTTLS\):\s*(\S+)`)

// imBuildHerald builds cmd/herald into a temporary directory.
func imBuildHerald(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build herald with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "herald")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gotool, "build", "-o", bin, "github.com/herald-im/herald/cmd/herald").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/herald: %v\n%s", err, out)
	}
	return bin
}

// imAddUser runs "herald adduser -password-stdin" on dataDir.
func imAddUser(t *testing.T, bin, workDir, dataDir, bare, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "adduser", "-data-dir", dataDir, "-domain", "localhost", "-password-stdin", bare)
	cmd.Dir = workDir // no herald.toml there
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "created account "+bare) {
		t.Fatalf("herald adduser %s: %v\n%s", bare, err, out)
	}
}

// imStartHerald starts "herald serve" on dataDir with loopback ephemeral
// ports and waits for its start-up hint. The process is killed at the end
// of the test if it is still running.
func imStartHerald(t *testing.T, bin, workDir, dataDir, logName string) *imHerald {
	t.Helper()
	logFile, err := os.Create(filepath.Join(workDir, logName))
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	t.Cleanup(func() { logFile.Close() })
	cmd := exec.Command(bin, "serve",
		"-data-dir", dataDir, "-domain", "localhost",
		"-c2s-listen", "127.0.0.1:0", "-c2s-tls-listen", "",
		"-http-listen", "", "-s2s-listen", "", "-log-level", "debug")
	cmd.Dir = workDir
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start herald serve: %v", err)
	}
	h := &imHerald{t: t, cmd: cmd, exited: make(chan struct{})}
	addrs := make(chan string, 1)
	go func() {
		// Read the hint, then drain stdout until the process ends; only
		// then may Wait run (os/exec: all reads before Wait).
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := imHintAddr.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		h.err = cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-h.exited:
			return
		default:
		}
		_ = h.cmd.Process.Kill() // only the process this test started
		<-h.exited
	})
	select {
	case h.addr = <-addrs:
	case <-h.exited:
		t.Fatalf("herald serve exited before listening (%v); log in %s", h.err, logFile.Name())
	case <-time.After(30 * time.Second):
		t.Fatalf("herald serve printed no client address within 30s; log in %s", logFile.Name())
	}
	h.tls = imTrust(t, filepath.Join(dataDir, "devcert", "devcert.pem"))
	return h
}

// imTrust returns a client TLS configuration for localhost that trusts the
// certificates in the PEM file path.
func imTrust(t *testing.T, path string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("development certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", path)
	}
	return &tls.Config{ServerName: "localhost", RootCAs: pool}
}

// kill sends SIGKILL to the process (os.Process.Kill) and waits until it
// has ended, checking that the signal, not an exit, ended it.
func (h *imHerald) kill() {
	h.t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		h.t.Fatalf("kill herald serve (pid %d): %v", h.cmd.Process.Pid, err)
	}
	select {
	case <-h.exited:
	case <-time.After(wireTimeout):
		h.t.Fatalf("herald serve (pid %d) still running %s after SIGKILL", h.cmd.Process.Pid, wireTimeout)
	}
	var ee *exec.ExitError
	if !errors.As(h.err, &ee) || ee.Exited() {
		h.t.Fatalf("herald serve (pid %d) ended with %v, not by the kill signal", h.cmd.Process.Pid, h.err)
	}
}

// login connects user to the process as a mellium client, binding
// resource, and serves the session until the test ends or the server
// dies.
func (h *imHerald) login(user, password, resource string) *client {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	origin, err := jid.New(user, "localhost", "")
	if err != nil {
		h.t.Fatalf("client JID: %v", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		h.t.Fatalf("dial %s: %v", h.addr, err)
	}
	sess, err := newMelliumSession(ctx, conn, conn,
		origin,
		xmpp.StartTLS(h.tls.Clone()),
		xmpp.SASL("", password, sasl.ScramSha256),
		bindFeature(resource))
	if err != nil {
		h.t.Fatalf("log in as %s: %v", origin, err)
	}
	c := &client{
		t:      h.t,
		sess:   sess,
		jid:    sess.LocalAddr().String(),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(c.done)
		c.err = sess.Serve(c)
	}()
	h.t.Cleanup(func() {
		// The server may have been killed under the session: closing
		// then fails, and Serve has already returned.
		_ = sess.Close()
		select {
		case <-c.done:
		case <-time.After(wireTimeout):
			h.t.Errorf("%s: the session did not end within %s", c.jid, wireTimeout)
		}
		_ = sess.Conn().Close()
	})
	return c
}

// TestDurability_AcknowledgedOperationsSurviveKill9_RFC6121_XEP0160 runs the real herald
// binary, has clients perform operations that the server acknowledges —
// a roster set and a roster removal answered with a result (RFC 6121
// §2.3, §2.5), a subscription approval followed by its roster push
// (§3.1.5), a subscription request and chat messages to an offline user
// followed by the answer to a later iq (the server handles a session's
// stanzas in order, so that answer proves they were processed) — then
// kills the server with SIGKILL, with no chance to flush anything,
// restarts it on the same data directory and checks that every
// acknowledged operation is there.
func TestDurability_AcknowledgedOperationsSurviveKill9_RFC6121_XEP0160(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary; skipped with -short")
	}
	t.Parallel()
	bin := imBuildHerald(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	passwords := map[string]string{"alice": alicePass, "bob": bobPass, "carol": imCarolPass}
	for _, user := range []string{"alice", "bob", "carol"} {
		imAddUser(t, bin, work, dataDir, user+"@localhost", passwords[user])
	}
	const aliceBare, bobBare, carolBare = "alice@localhost", "bob@localhost", "carol@localhost"

	first := imStartHerald(t, bin, work, dataDir, "first.log")
	phone := first.login("alice", alicePass, "phone")
	desk := first.login("bob", bobPass, "desk")
	imReady(phone)
	imReady(desk)

	// Roster set → result, and a removal → result.
	imMustSet(phone, "<item jid='"+carolBare+"' name='Carol'><group>Friends</group><group>Kill test</group></item>")
	imMustSet(phone, "<item jid='ghost@localhost' name='Ghost'/>")
	imMustSet(phone, "<item jid='ghost@localhost' subscription='remove'/>")

	// Subscription approval → bob's push.
	imSendPresence(phone, "subscribe", bobBare)
	imCheckItem(t, "alice's push after subscribing to bob", imPushItem(phone, bobBare), imItem{sub: "none", ask: "subscribe"})
	desk.waitFor("alice's request", imPresence(aliceBare, "subscribe"))
	imSendPresence(desk, "subscribed", aliceBare)
	imCheckItem(t, "bob's push acknowledging his approval", imPushItem(desk, aliceBare), imItem{sub: "from"})
	imCheckItem(t, "alice's push after bob's approval", imPushItem(phone, bobBare), imItem{sub: "to"})

	// A request and messages to offline carol → no error, then the
	// marker iq's result.
	imSendPresence(phone, "subscribe", carolBare)
	bodies := []string{"durable 1", "durable 2 <&>", "durable 3"}
	for _, b := range bodies {
		phone.send("<message type='chat' to='" + carolBare + "'><body>" + xmlText(b) + "</body></message>")
	}
	imNoErrors(phone)

	first.kill()

	second := imStartHerald(t, bin, work, dataDir, "second.log")
	aliceAgain := second.login("alice", alicePass, "phone")
	items := imRoster(aliceAgain)
	imCheckItem(t, "alice's item for carol after the kill", items[carolBare], imItem{sub: "none", ask: "subscribe", name: "Carol", groups: []string{"Friends", "Kill test"}})
	imCheckItem(t, "alice's item for bob after the kill", items[bobBare], imItem{sub: "to"})
	if len(items) != 2 {
		t.Errorf("alice's roster after the kill: %v, want carol and bob only (ghost was removed)", items)
	}
	bobAgain := second.login("bob", bobPass, "desk")
	imCheckItem(t, "bob's item for alice after the kill", imRoster(bobAgain)[aliceBare], imItem{sub: "from"})
	bobAgain.available(0)
	aliceAgain.available(0)
	aliceAgain.waitFor("bob's presence at alice's login after the kill", imPresence(bobAgain.jid, ""))

	home := second.login("carol", imCarolPass, "home")
	home.available(1)
	home.waitFor("alice's request after the kill", imPresence(aliceBare, "subscribe"))
	if got := imBodies(home); !slices.Equal(got, bodies) {
		t.Fatalf("carol's offline messages after the kill: %q, want %q", got, bodies)
	}
	for _, b := range bodies {
		m := home.waitFor("the offline message "+b, message(b))
		if m.child(nsDelay, "delay") == nil {
			t.Errorf("offline message without <delay/> after the kill: %s", m)
		}
		imCheckStanzaID(t, m, carolBare)
	}
}
