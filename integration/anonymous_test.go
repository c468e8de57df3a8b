package integration

import (
	"context"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
	"github.com/herald-im/herald/storage/sqlite"
)

// allowAnonymous turns SASL ANONYMOUS on.
func allowAnonymous(c *server.Config) { c.C2S.AllowAnonymous = true }

// TestSASLAnonymous_OfferedWhenAllowed_ChatsWithAlice_RFC4505 turns on
// c2s.allow_anonymous: ANONYMOUS is offered after TLS, a client logs in
// with it (RFC 4505 §2: the initial response is an optional trace) and
// gets a fresh JID anon-…@domain, distinct for every login, that can
// exchange messages with a registered user both ways.
func TestSASLAnonymous_OfferedWhenAllowed_ChatsWithAlice_RFC4505(t *testing.T) {
	t.Parallel()
	s := startServer(t, allowAnonymous)
	anonJID := regexp.MustCompile(`^anon-[0-9a-z]+@` + regexp.QuoteMeta(s.Domain) + `/.+$`)
	before := scrapeMetrics(t, s)

	anonLogin := func(trace string) (*wire, string) {
		t.Helper()
		w := dialWire(t, s)
		features := w.tlsStream()
		if mechs := mechanisms(features); !slices.Contains(mechs, "ANONYMOUS") {
			t.Fatalf("mechanisms %q lack ANONYMOUS though allow_anonymous is set", mechs)
		}
		payload := "="
		if trace != "" {
			payload = base64.StdEncoding.EncodeToString([]byte(trace))
		}
		if n := w.sendAuth("ANONYMOUS", payload); !n.is(nsSASL, "success") {
			t.Fatalf("ANONYMOUS with trace %q: got %s, want <success/>", trace, n)
		}
		w.openDefault()
		j := w.bind("")
		if !anonJID.MatchString(j) {
			t.Fatalf("anonymous session bound %q, want anon-…@%s/<resource>", j, s.Domain)
		}
		return w, j
	}
	anon, j := anonLogin("tester@example.org")
	_, j2 := anonLogin("")
	if j2 == j {
		t.Errorf("two anonymous logins both got %q", j)
	}
	checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{authKey("ANONYMOUS", "success"): 2})

	alice := login(t, s, "alice", alicePass, loginOptions{resource: "desk"})
	alice.send("<message type='chat' to='" + j + "'><body>hello stranger</body></message>")
	m := anon.expect(nsClient, "message")
	if body := m.child(nsClient, "body"); body == nil || body.Text != "hello stranger" || m.attr("from") != alice.jid {
		t.Errorf("the anonymous session received %s, want alice's message from %s", m, alice.jid)
	}
	anon.send("<message type='chat' to='" + alice.jid + "'><body>hello alice</body></message>")
	got := alice.waitFor("the anonymous user's answer", message("hello alice"))
	if got.attr("from") != j {
		t.Errorf("the answer came from %q, want the anonymous JID %q", got.attr("from"), j)
	}
}

// TestSASLAnonymous_NotOfferedByDefault_RFC4505 checks the default
// configuration: ANONYMOUS is neither offered nor accepted (RFC 6120
// §6.5.7 invalid-mechanism).
func TestSASLAnonymous_NotOfferedByDefault_RFC4505(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	if mechs := mechanisms(w.tlsStream()); slices.Contains(mechs, "ANONYMOUS") {
		t.Fatalf("mechanisms %q offer ANONYMOUS by default", mechs)
	}
	if n := w.sendAuth("ANONYMOUS", "="); !n.is(nsSASL, "failure") || n.child(nsSASL, "invalid-mechanism") == nil {
		t.Errorf("ANONYMOUS by default: got %s, want <failure><invalid-mechanism/></failure>", n)
	}
}

// anonWireLogin logs in anonymously on the raw wire and returns the
// session and its full JID.
func anonWireLogin(t *testing.T, s *servertest.Server) (*wire, string) {
	t.Helper()
	w := dialWire(t, s)
	w.tlsStream()
	if n := w.sendAuth("ANONYMOUS", "="); !n.is(nsSASL, "success") {
		t.Fatalf("ANONYMOUS: got %s, want <success/>", n)
	}
	w.openDefault()
	return w, w.bind("")
}

// accountExists looks bare up through a second handle on the server's
// database.
func accountExists(t *testing.T, path, bare string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer db.Close()
	ok, err := db.AccountExists(ctx, bare)
	if err != nil {
		t.Fatalf("look %s up: %v", bare, err)
	}
	return ok
}

// TestSASLAnonymous_TemporaryAccount_RFC4505 checks that an anonymous
// session is a whole account while it lasts: it keeps a roster (RFC 6121
// §2: empty at first, then a result and a push) and subscribes to alice (§3.1: alice gets the
// request from its bare JID, approves, and it gets the roster push with
// subscription 'to' and her presence). Nobody can log in to its JID with a
// password. When the session ends the account goes with everything stored
// for it: a message to the JID then gets <service-unavailable/> (RFC 6121
// §8.5.1), as for any JID without an account.
func TestSASLAnonymous_TemporaryAccount_RFC4505(t *testing.T) {
	t.Parallel()
	s := startServer(t, allowAnonymous)
	alice := login(t, s, "alice", alicePass, loginOptions{resource: "desk"})
	alice.available(1)
	aliceBare := imBare(s, "alice")

	anon, anonFull := anonWireLogin(t, s)
	anonBare, _, _ := strings.Cut(anonFull, "/")
	if !accountExists(t, s.Config.Storage.Path, anonBare) {
		t.Fatalf("no account %s exists while its anonymous session is bound", anonBare)
	}

	// Asking for the roster makes the session an interested resource,
	// which gets pushes (RFC 6121 §2.1.6); it starts empty.
	anon.send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>")
	if r := anon.expect(nsClient, "iq"); r.attr("type") != "result" || len(r.child(nsRoster, "query").Children) != 0 {
		t.Fatalf("the anonymous session's roster: got %s, want an empty result", r)
	}
	anon.send("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='" + aliceBare + "' name='Alice'/></query></iq>")
	var result, push *node
	for result == nil || push == nil {
		n := anon.expect(nsClient, "iq")
		switch {
		case n.attr("id") == "r1":
			if n.attr("type") != "result" {
				t.Fatalf("the anonymous session's roster set: got %s, want a result", n)
			}
			result = n
		case n.attr("type") == "set" && n.child(nsRoster, "query") != nil:
			push = n
		default:
			t.Fatalf("unexpected %s", n)
		}
	}
	if item := push.child(nsRoster, "query").child(nsRoster, "item"); item == nil || item.attr("jid") != aliceBare || item.attr("name") != "Alice" {
		t.Errorf("roster push %s, want alice named Alice", push)
	}

	anon.send("<presence/>") // available: approvals and presence reach it
	anon.send("<presence type='subscribe' to='" + aliceBare + "'/>")
	req := alice.waitFor("the anonymous user's subscription request", func(n *node) bool {
		return n.is(nsClient, "presence") && n.attr("type") == "subscribe"
	})
	if req.attr("from") != anonBare {
		t.Errorf("the request came from %q, want the anonymous bare JID %q", req.attr("from"), anonBare)
	}
	alice.send("<presence type='subscribed' to='" + anonBare + "'/>")
	var gotPush, gotPresence bool
	for !gotPush || !gotPresence {
		n, err := anon.next()
		if err != nil {
			t.Fatalf("waiting for the approval's push and alice's presence: %v", err)
		}
		if n.is(nsClient, "iq") && n.attr("type") == "set" {
			if item := n.child(nsRoster, "query").child(nsRoster, "item"); item != nil && item.attr("subscription") == "to" {
				gotPush = true
			}
		}
		if n.is(nsClient, "presence") && n.attr("from") == alice.jid && n.attr("type") == "" {
			gotPresence = true
		}
	}

	// Nobody logs in to the temporary account with a password.
	w := dialWire(t, s)
	w.tlsStream()
	local, _, _ := strings.Cut(anonBare, "@")
	if n := w.authPlain(local, ""); !n.is(nsSASL, "failure") || n.child(nsSASL, "not-authorized") == nil {
		t.Errorf("PLAIN as the anonymous account: got %s, want <not-authorized/>", n)
	}

	anon.send("</stream:stream>")
	anon.expectClosed()
	anon.conn.Close() // as a client does once both closing tags are out
	deadline := time.Now().Add(wireTimeout)
	for accountExists(t, s.Config.Storage.Path, anonBare) {
		if time.Now().After(deadline) {
			t.Fatalf("the temporary account %s still exists %s after its session ended", anonBare, wireTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	alice.send("<message type='chat' id='m1' to='" + anonBare + "'><body>still there?</body></message>")
	bounce := alice.waitFor("the bounce of a message to the gone anonymous JID", func(n *node) bool {
		return n.is(nsClient, "message") && n.attr("id") == "m1"
	})
	if cond, _ := stanzaErrorCondition(bounce); bounce.attr("type") != "error" || cond != "service-unavailable" {
		t.Errorf("a message to the ended anonymous JID: got %s, want <service-unavailable/>", bounce)
	}
}

// TestSASLAnonymous_LeftoverTemporaryAccountsRemovedAtStart stands for a
// server that stopped without ending its anonymous sessions (a crash): a
// temporary account left in the database is gone once the server starts
// again, while ordinary accounts stay.
func TestSASLAnonymous_LeftoverTemporaryAccountsRemovedAtStart(t *testing.T) {
	t.Parallel()
	first := startServer(t, allowAnonymous)
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("shut the first server down: %v", err)
	}
	leftover := "anon-leftover@" + first.Domain
	db, err := sqlite.Open(ctx, first.Config.Storage.Path)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	if err := db.CreateTemporaryAccount(ctx, leftover); err != nil {
		t.Fatalf("create %s: %v", leftover, err)
	}
	db.Close()

	second := servertest.Start(t, servertest.DataDir(first.Config.DataDir), allowAnonymous)
	if accountExists(t, second.Config.Storage.Path, leftover) {
		t.Errorf("the leftover temporary account %s survived the restart", leftover)
	}
	if !accountExists(t, second.Config.Storage.Path, imBare(second, "alice")) {
		t.Errorf("alice's ordinary account did not survive the restart")
	}
}
