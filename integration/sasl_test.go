package integration

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/storage/sqlite"
)

// carolPass is the password of carol, an account some tests add and
// disable.
const carolPass = "carol-secret"

// authKey is the /metrics sample of herald_c2s_auth_attempts_total for
// one mechanism label and outcome.
func authKey(mech, outcome string) string {
	return fmt.Sprintf(`herald_c2s_auth_attempts_total{mechanism="%s",outcome="%s"}`, mech, outcome)
}

// checkAuthDeltas checks that between the scrapes before and after, every
// herald_c2s_auth_attempts_total sample moved by exactly what want says
// (keyed by authKey), and every other one did not move at all.
func checkAuthDeltas(t testing.TB, before, after, want map[string]float64) {
	t.Helper()
	keys := make(map[string]bool)
	for _, m := range []map[string]float64{before, after, want} {
		for k := range m {
			if strings.HasPrefix(k, "herald_c2s_auth_attempts_total{") {
				keys[k] = true
			}
		}
	}
	for k := range keys {
		if got := after[k] - before[k]; got != want[k] {
			t.Errorf("%s moved by %v, want %v", k, got, want[k])
		}
	}
}

// tlsState returns the state of the wire's TLS connection; the stream
// must be past STARTTLS.
func (w *wire) tlsState() tls.ConnectionState {
	w.t.Helper()
	tc, ok := w.conn.(*tls.Conn)
	if !ok {
		w.t.Fatalf("the connection is not TLS yet (%T)", w.conn)
	}
	return tc.ConnectionState()
}

// saslPayload decodes the base64 data of a <challenge/> or <success/>
// (RFC 6120 §6.4.2: "=" is empty data).
func saslPayload(t testing.TB, n *node) []byte {
	t.Helper()
	s := strings.TrimSpace(n.Text)
	if s == "" || s == "=" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%s does not carry base64 data: %v", n, err)
	}
	return b
}

// scramSucceeds runs a SCRAM conversation on the wire, checks that it
// ends in <success/> and that the server's signature in the success data
// verifies (RFC 5802 §5.1: the client authenticates the server too).
func scramSucceeds(t testing.TB, w *wire, mech string, conv *scram.ClientConversation) {
	t.Helper()
	n := w.scramExchange(mech, conv)
	if !n.is(nsSASL, "success") {
		t.Fatalf("%s: got %s, want <success/>", mech, n)
	}
	if _, err := conv.Step(string(saslPayload(t, n))); err != nil || !conv.Valid() {
		t.Fatalf("%s: the server's final message does not verify (err %v): the server did not prove it knows the password", mech, err)
	}
}

// scramClient returns an xdg-go/scram SHA-256 client for user.
func scramClient(t testing.TB, user, password, authzid string) *scram.Client {
	t.Helper()
	c, err := scram.SHA256.NewClient(user, password, authzid)
	if err != nil {
		t.Fatalf("SCRAM client for %s: %v", user, err)
	}
	return c
}

// clientFirst returns the base64 SCRAM client-first message of conv.
func clientFirst(t testing.TB, conv *scram.ClientConversation) string {
	t.Helper()
	first, err := conv.Step("")
	if err != nil {
		t.Fatalf("SCRAM client-first: %v", err)
	}
	return base64.StdEncoding.EncodeToString([]byte(first))
}

// sendAuth sends <auth mechanism='mech'>payload</auth> and returns the
// server's answer.
func (w *wire) sendAuth(mech, payload string) *node {
	w.t.Helper()
	w.send("<auth xmlns='" + nsSASL + "' mechanism='" + mech + "'>" + payload + "</auth>")
	n, err := w.next()
	if err != nil {
		w.t.Fatalf("waiting for the answer to <auth mechanism='%s'/>: %v", mech, err)
	}
	return n
}

// disableAccount disables bare through a second handle on the server's
// database, as the admin command does.
func disableAccount(t testing.TB, s *servertest.Server, bare string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	db, err := sqlite.Open(ctx, s.Config.Storage.Path)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer db.Close()
	if err := db.SetDisabled(ctx, bare, true); err != nil {
		t.Fatalf("disable %s: %v", bare, err)
	}
}

// TestSASLFailures_EachCondition_ThenRetrySucceeds_RFC6120_6_5 provokes
// each SASL failure condition a client can cause (RFC 6120 §6.5) on the
// raw wire after STARTTLS, checks the <failure/> carries exactly that
// condition, then logs in on the same stream, which §6.4.5 allows
// ("the receiving entity SHOULD allow a configurable but reasonable number
// of retries"). /metrics must count the failure under the mechanism and
// condition, and the retry as a PLAIN success, and nothing else.
func TestSASLFailures_EachCondition_ThenRetrySucceeds_RFC6120_6_5(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.AddUser(t, "carol", carolPass)
	disableAccount(t, s, "carol@"+s.Domain)
	plain := func(authzid, user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte(authzid + "\x00" + user + "\x00" + pass))
	}

	cases := []struct {
		name string
		// attempt makes the failing attempt and returns the server's
		// answer to it.
		attempt func(t *testing.T, w *wire) *node
		cond    string
		// mech is the mechanism label the failure is counted under.
		mech string
	}{
		{
			name: "unknown mechanism (§6.5.7 invalid-mechanism)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.sendAuth("X-UNKNOWN", "=")
			},
			cond: "invalid-mechanism", mech: "unknown",
		},
		{
			name: "PLAIN with invalid base64 (§6.5.5 incorrect-encoding)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.sendAuth("PLAIN", "!!not*base64!!")
			},
			cond: "incorrect-encoding", mech: "PLAIN",
		},
		{
			name: "SCRAM-SHA-256 with GS2 flag p=tls-exporter (§6.5.8 malformed-request, RFC 5802 §6)",
			attempt: func(t *testing.T, w *wire) *node {
				cs := w.tlsState()
				cb, err := scram.NewTLSExporterBinding(&cs)
				if err != nil {
					t.Fatalf("tls-exporter binding: %v", err)
				}
				conv := scramClient(t, "alice", alicePass, "").NewConversationWithChannelBinding(cb)
				return w.sendAuth("SCRAM-SHA-256", clientFirst(t, conv))
			},
			cond: "malformed-request", mech: "SCRAM-SHA-256",
		},
		{
			name: "<abort/> in the middle of SCRAM-SHA-256 (§6.4.4, §6.5.1 aborted)",
			attempt: func(t *testing.T, w *wire) *node {
				conv := scramClient(t, "alice", alicePass, "").NewConversation()
				if n := w.sendAuth("SCRAM-SHA-256", clientFirst(t, conv)); !n.is(nsSASL, "challenge") {
					t.Fatalf("SCRAM client-first: got %s, want the server-first <challenge/>", n)
				}
				w.send("<abort xmlns='" + nsSASL + "'/>")
				n, err := w.next()
				if err != nil {
					t.Fatalf("waiting for the answer to <abort/>: %v", err)
				}
				return n
			},
			cond: "aborted", mech: "SCRAM-SHA-256",
		},
		{
			name: "PLAIN as a disabled account (§6.5.2 account-disabled)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.sendAuth("PLAIN", plain("", "carol", carolPass))
			},
			cond: "account-disabled", mech: "PLAIN",
		},
		{
			name: "SCRAM-SHA-256 as a disabled account (§6.5.2 account-disabled)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.scramExchange("SCRAM-SHA-256", scramClient(t, "carol", carolPass, "").NewConversation())
			},
			cond: "account-disabled", mech: "SCRAM-SHA-256",
		},
		{
			name: "PLAIN as alice asking to act as bob (§6.5.6 invalid-authzid)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.sendAuth("PLAIN", plain("bob@"+s.Domain, "alice", alicePass))
			},
			cond: "invalid-authzid", mech: "PLAIN",
		},
		{
			name: "SCRAM-SHA-256 as alice asking to act as bob (§6.5.6 invalid-authzid)",
			attempt: func(t *testing.T, w *wire) *node {
				return w.scramExchange("SCRAM-SHA-256", scramClient(t, "alice", alicePass, "bob@"+s.Domain).NewConversation())
			},
			cond: "invalid-authzid", mech: "SCRAM-SHA-256",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := scrapeMetrics(t, s)
			w := dialWire(t, s)
			w.tlsStream()
			fail := tc.attempt(t, w)
			if !fail.is(nsSASL, "failure") || fail.child(nsSASL, tc.cond) == nil {
				t.Fatalf("got %s, want <failure><%s/></failure>", fail, tc.cond)
			}
			// §6.4.5: the retry on the same stream.
			if ok := w.authPlain("alice", alicePass); !ok.is(nsSASL, "success") {
				t.Fatalf("retry with PLAIN on the same stream: got %s, want <success/>", ok)
			}
			w.openDefault()
			if got, want := w.bind("retry"), "alice@"+s.Domain+"/retry"; got != want {
				t.Errorf("bound %q after the retry, want %q", got, want)
			}
			checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{
				authKey(tc.mech, tc.cond):   1,
				authKey("PLAIN", "success"): 1,
			})
		})
	}
}

// TestSASL_ScramSha256PlusTLSExporter_RawWire_RFC5802_RFC9266 logs in on
// the raw wire with xdg-go/scram's client using tls-exporter channel
// binding (RFC 9266, RFC 5802 §6), after checking that the features offer
// the mechanism and the binding type (XEP-0440), and that the server's
// final message verifies.
func TestSASL_ScramSha256PlusTLSExporter_RawWire_RFC5802_RFC9266(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	before := scrapeMetrics(t, s)
	w := dialWire(t, s)
	features := w.tlsStream()
	if mechs := mechanisms(features); !slices.Contains(mechs, "SCRAM-SHA-256-PLUS") {
		t.Fatalf("mechanisms %q lack SCRAM-SHA-256-PLUS", mechs)
	}
	var cbTypes []string
	if cb := features.child("urn:xmpp:sasl-cb:0", "sasl-channel-binding"); cb != nil {
		for _, c := range cb.Children {
			cbTypes = append(cbTypes, c.attr("type"))
		}
	}
	if !slices.Contains(cbTypes, "tls-exporter") {
		t.Fatalf("channel-binding types %q lack tls-exporter (XEP-0440)", cbTypes)
	}
	cs := w.tlsState()
	if cs.Version != tls.VersionTLS13 {
		t.Fatalf("TLS version %x: tls-exporter is defined for TLS 1.3 (RFC 9266 §2)", cs.Version)
	}
	cb, err := scram.NewTLSExporterBinding(&cs)
	if err != nil {
		t.Fatalf("tls-exporter binding: %v", err)
	}
	scramSucceeds(t, w, "SCRAM-SHA-256-PLUS", scramClient(t, "alice", alicePass, "").NewConversationWithChannelBinding(cb))
	w.openDefault()
	if got, want := w.bind("plus"), "alice@"+s.Domain+"/plus"; got != want {
		t.Errorf("bound %q, want %q", got, want)
	}
	checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{
		authKey("SCRAM-SHA-256-PLUS", "success"): 1,
	})
}

// TestSASL_GS2FlagYAfterRefusedTLSUnique_Accepted_FreshStreamRefused_RFC5802_6
// checks both sides of RFC 5802 §6's downgrade rule on the raw wire.
// slixmpp knows only tls-unique, which TLS 1.3 does not define: it tries
// SCRAM-SHA-256-PLUS with p=tls-unique, is refused, and falls back to
// SCRAM-SHA-256 with GS2 flag "y". Having tried -PLUS on this stream it
// has shown it saw the offer, so "y" is no sign of a stripped mechanism
// list and must succeed. A fresh stream that says "y" straight away, while
// -PLUS was offered, is what a downgrade looks like and must be refused;
// it may then log in properly on the same stream (RFC 6120 §6.4.5).
func TestSASL_GS2FlagYAfterRefusedTLSUnique_Accepted_FreshStreamRefused_RFC5802_6(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	t.Run("y after a refused p=tls-unique on the same stream succeeds", func(t *testing.T) {
		before := scrapeMetrics(t, s)
		w := dialWire(t, s)
		w.tlsStream()
		unique := scram.NewTLSUniqueBinding([]byte("slixmpp-believes-in-tls-unique"))
		conv := scramClient(t, "alice", alicePass, "").NewConversationWithChannelBinding(unique)
		if n := w.sendAuth("SCRAM-SHA-256-PLUS", clientFirst(t, conv)); !n.is(nsSASL, "failure") || n.child(nsSASL, "malformed-request") == nil {
			t.Fatalf("SCRAM-SHA-256-PLUS with p=tls-unique: got %s, want <failure><malformed-request/></failure>", n)
		}
		scramSucceeds(t, w, "SCRAM-SHA-256", scramClient(t, "alice", alicePass, "").NewConversationAdvertisingChannelBinding())
		w.openDefault()
		if got, want := w.bind("slixmpp"), "alice@"+s.Domain+"/slixmpp"; got != want {
			t.Errorf("bound %q, want %q", got, want)
		}
		checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{
			authKey("SCRAM-SHA-256-PLUS", "malformed-request"): 1,
			authKey("SCRAM-SHA-256", "success"):                1,
		})
	})

	t.Run("y straight away on a fresh stream is refused", func(t *testing.T) {
		before := scrapeMetrics(t, s)
		w := dialWire(t, s)
		w.tlsStream()
		n := w.scramExchange("SCRAM-SHA-256", scramClient(t, "alice", alicePass, "").NewConversationAdvertisingChannelBinding())
		if !n.is(nsSASL, "failure") || n.child(nsSASL, "not-authorized") == nil {
			t.Fatalf("GS2 flag y while -PLUS was offered: got %s, want <failure><not-authorized/></failure>", n)
		}
		// The honest client then binds the channel, on the same stream.
		cs := w.tlsState()
		cb, err := scram.NewTLSExporterBinding(&cs)
		if err != nil {
			t.Fatalf("tls-exporter binding: %v", err)
		}
		scramSucceeds(t, w, "SCRAM-SHA-256-PLUS", scramClient(t, "alice", alicePass, "").NewConversationWithChannelBinding(cb))
		checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{
			authKey("SCRAM-SHA-256", "not-authorized"): 1,
			authKey("SCRAM-SHA-256-PLUS", "success"):   1,
		})
	})
}
