package integration

import (
	"encoding/base64"
	"regexp"
	"slices"
	"testing"

	"github.com/herald-im/herald/server"
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
