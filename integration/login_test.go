package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"
)

// TestLogin_EachSASLMechanism_RFC6120_6 logs in with every SASL mechanism
// the server offers, with a client library Herald did not write: SCRAM
// (RFC 5802, RFC 7677), SCRAM with tls-exporter channel binding (RFC
// 9266, XEP-0440) and PLAIN (RFC 4616), over STARTTLS (RFC 6120 §5) and
// once over XEP-0368 direct TLS. Each login must end in a bound session
// that the server answers, and the server must count the success under
// the mechanism the client chose.
func TestLogin_EachSASLMechanism_RFC6120_6(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct {
		name      string
		mech      sasl.Mechanism
		directTLS bool
	}{
		{"SCRAM-SHA-1", sasl.ScramSha1, false},
		{"SCRAM-SHA-256", sasl.ScramSha256, false},
		{"SCRAM-SHA-1-PLUS", sasl.ScramSha1Plus, false},
		{"SCRAM-SHA-256-PLUS", sasl.ScramSha256Plus, false},
		{"PLAIN", sasl.Plain, false},
		{"SCRAM-SHA-256-PLUS over direct TLS (XEP-0368)", sasl.ScramSha256Plus, true},
		{"PLAIN over direct TLS (XEP-0368)", sasl.Plain, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := scrapeMetrics(t, s)
			c := login(t, s, "alice", alicePass, loginOptions{mech: tc.mech, resource: "laptop", directTLS: tc.directTLS})
			if c.jid != "alice@"+s.Domain+"/laptop" {
				t.Errorf("bound JID = %q, want alice@%s/laptop", c.jid, s.Domain)
			}
			cs := c.sess.ConnectionState()
			if !cs.HandshakeComplete {
				t.Fatal("the session is not running over TLS")
			}
			if strings.HasSuffix(tc.mech.Name, "-PLUS") && cs.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x: tls-exporter channel binding needs TLS 1.3", cs.Version)
			}
			if tc.directTLS && cs.NegotiatedProtocol != "xmpp-client" {
				t.Errorf("ALPN protocol = %q, want xmpp-client (XEP-0368 §3)", cs.NegotiatedProtocol)
			}
			pong := c.iq("ping-1", "<iq type='get' id='ping-1' to='"+s.Domain+"'><ping xmlns='urn:xmpp:ping'/></iq>")
			if pong.attr("type") != "result" {
				t.Errorf("ping after login: %s", pong)
			}
			after := scrapeMetrics(t, s)
			key := fmt.Sprintf(`herald_c2s_auth_attempts_total{mechanism="%s",outcome="success"}`, tc.mech.Name)
			if got := after[key] - before[key]; got != 1 {
				t.Errorf("%s went up by %v, want 1: the server did not record this login under the mechanism the client chose", key, got)
			}
		})
	}
}

// TestBind_ClientChosenAndServerGeneratedResource_RFC6120_7 checks both
// ways of binding: the resource the client asks for is the one it gets
// (§7.7), and when it asks for none the server generates a unique one
// under the client's bare JID (§7.6), which is then routable.
func TestBind_ClientChosenAndServerGeneratedResource_RFC6120_7(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	chosen := login(t, s, "alice", alicePass, loginOptions{resource: "Küche tablet"})
	if want := "alice@" + s.Domain + "/Küche tablet"; chosen.jid != want {
		t.Errorf("client-chosen resource: bound %q, want %q", chosen.jid, want)
	}

	gen1 := login(t, s, "alice", alicePass, loginOptions{})
	gen2 := login(t, s, "alice", alicePass, loginOptions{})
	for _, c := range []*client{gen1, gen2} {
		j, err := jid.Parse(c.jid)
		if err != nil {
			t.Fatalf("server-generated JID %q does not parse: %v", c.jid, err)
		}
		if j.Bare().String() != "alice@"+s.Domain || j.Resourcepart() == "" {
			t.Errorf("server-generated JID = %q, want alice@%s/<resource>", c.jid, s.Domain)
		}
	}
	if gen1.jid == gen2.jid {
		t.Errorf("two server-generated resources are both %q", gen1.jid)
	}

	// The generated address is live: a message to it arrives there.
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "desk"})
	bob.send("<message type='chat' to='" + gen2.jid + "'><body>to the generated resource</body></message>")
	gen2.waitFor("the message to the server-generated resource", message("to the generated resource"))
}

// TestLogin_WrongPassword_NotAuthorized_RFC6120_6_5_10 checks that a wrong
// password fails with the SASL condition <not-authorized/> for every
// mechanism, and that the same user then logs in with the right one.
func TestLogin_WrongPassword_NotAuthorized_RFC6120_6_5_10(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, mech := range []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha1, sasl.Plain} {
		t.Run(mech.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
			defer cancel()
			sess, err := dialMellium(ctx, s, "alice", "not-the-password", loginOptions{mech: mech})
			if err == nil {
				sess.Close()
				t.Fatal("login with a wrong password succeeded")
			}
			if cond := saslCondition(err); cond != "not-authorized" {
				t.Errorf("login failed with %v (SASL condition %q), want <not-authorized/>", err, cond)
			}
			c := login(t, s, "alice", alicePass, loginOptions{mech: mech, resource: "retry"})
			if c.jid != "alice@"+s.Domain+"/retry" {
				t.Errorf("login after the failure bound %q", c.jid)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
		defer cancel()
		sess, err := dialMellium(ctx, s, "nobody", "whatever", loginOptions{})
		if err == nil {
			sess.Close()
			t.Fatal("login as an unknown user succeeded")
		}
		if cond := saslCondition(err); cond != "not-authorized" {
			t.Errorf("unknown user: login failed with %v (SASL condition %q), want <not-authorized/> as for a wrong password", err, cond)
		}
	})
}

// TestLogin_RetryOnSameStreamAfterFailure_RFC6120_6_4_5 checks on the wire
// that a client whose first SASL attempt failed can retry on the same
// stream and succeed (§6.4.5: the server SHOULD allow retries).
func TestLogin_RetryOnSameStreamAfterFailure_RFC6120_6_4_5(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	w.tlsStream()
	fail := w.authPlain("alice", "wrong")
	if !fail.is(nsSASL, "failure") || fail.child(nsSASL, "not-authorized") == nil {
		t.Fatalf("wrong password: got %s, want <failure><not-authorized/></failure>", fail)
	}
	if ok := w.authPlain("alice", alicePass); !ok.is(nsSASL, "success") {
		t.Fatalf("retry with the right password: got %s, want <success/>", ok)
	}
	w.openDefault()
	if got, want := w.bind("wire"), "alice@"+s.Domain+"/wire"; got != want {
		t.Errorf("bound %q, want %q", got, want)
	}
}
