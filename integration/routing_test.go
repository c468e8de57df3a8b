package integration

import (
	"errors"
	"slices"
	"testing"
	"time"

	xmppstream "mellium.im/xmpp/stream"
)

// TestChat_AliceAndBobBothWays_RFC6121_5 has two users, each available
// (RFC 6121 §4.2), exchange chat messages both ways: the body arrives
// byte for byte, and 'from' is the sender's full JID as the server stamps
// it (RFC 6120 §8.1.2.1), whatever the sender put there.
func TestChat_AliceAndBobBothWays_RFC6121_5(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := login(t, s, "alice", alicePass, loginOptions{resource: "phone"})
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "desk"})
	alice.available(0)
	bob.available(0)

	bodies := []string{
		"hello bob",
		"markup <b>&amp;</b> 'quotes' \"double\" & ampersands",
		"ünïcödé 😀 日本語 \u200d zero-width joiner",
		"  leading and trailing spaces\n\tand a tab  ",
	}
	for _, body := range bodies {
		// To the bare JID, with no 'from': the server adds it.
		alice.send("<message type='chat' to='bob@" + s.Domain + "'><body>" + xmlText(body) + "</body></message>")
		got := bob.waitFor("alice's message "+body, message(body))
		if from := got.attr("from"); from != alice.jid {
			t.Errorf("bob received 'from' = %q, want alice's full JID %q", from, alice.jid)
		}
		if to := got.attr("to"); to != "bob@"+s.Domain {
			t.Errorf("bob received 'to' = %q, want bob@%s", to, s.Domain)
		}

		// The reply goes to alice's full JID and carries her own bare JID
		// as 'from', which a client may claim (RFC 6120 §8.1.2.1).
		reply := "re: " + body
		bob.send("<message type='chat' from='bob@" + s.Domain + "' to='" + alice.jid + "'><body>" + xmlText(reply) + "</body></message>")
		got = alice.waitFor("bob's reply "+reply, message(reply))
		if from := got.attr("from"); from != bob.jid {
			t.Errorf("alice received 'from' = %q, want bob's full JID %q", from, bob.jid)
		}
	}
}

// TestMessage_BareJIDToHighestPriority_FullJIDToThatResource_RFC6121_8_5
// logs alice in twice with different priorities: a chat message to her
// bare JID reaches only the higher-priority resource (§8.5.2.1.1), and a
// message to a full JID reaches exactly that resource (§8.5.3.1).
//
// "Only" is proven without waiting for a timeout: after each message, bob
// sends a marker to the other resource; the server routes one sender's
// stanzas in order, so the marker arriving first means the message was
// not delivered there.
func TestMessage_BareJIDToHighestPriority_FullJIDToThatResource_RFC6121_8_5(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	high := login(t, s, "alice", alicePass, loginOptions{resource: "high"})
	low := login(t, s, "alice", alicePass, loginOptions{resource: "low"})
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "desk"})
	high.available(5)
	low.available(1)
	bob.available(0)

	send := func(to, body string) {
		bob.send("<message type='chat' to='" + to + "'><body>" + body + "</body></message>")
	}
	// notDelivered proves body never reached c.
	notDelivered := func(c *client, body, marker string) {
		t.Helper()
		send(c.jid, marker)
		c.waitFor("the marker "+marker, message(marker))
		if slices.ContainsFunc(c.pending(), message(body)) {
			t.Errorf("%s also received %q", c.jid, body)
		}
	}

	send("alice@"+s.Domain, "to the bare JID")
	high.waitFor("the bare-JID message at the priority 5 resource", message("to the bare JID"))
	notDelivered(low, "to the bare JID", "marker 1")

	send(low.jid, "to the low resource")
	low.waitFor("the full-JID message at its resource", message("to the low resource"))
	notDelivered(high, "to the low resource", "marker 2")

	send(high.jid, "to the high resource")
	high.waitFor("the full-JID message at its resource", message("to the high resource"))
	notDelivered(low, "to the high resource", "marker 3")

	// The lower resource raises its priority above the other: bare-JID
	// messages now go there instead.
	low.send("<presence><priority>10</priority></presence>")
	low.waitFor("the priority change reflected", func(n *node) bool {
		p := n.child(nsClient, "priority")
		return n.is(nsClient, "presence") && n.attr("from") == low.jid && p != nil && p.Text == "10"
	})
	send("alice@"+s.Domain, "after the priority change")
	low.waitFor("the bare-JID message at the now priority 10 resource", message("after the priority change"))
	notDelivered(high, "after the priority change", "marker 4")
}

// TestServerServices_XEP0030_XEP0092_XEP0199_XEP0202 asks the server
// itself: disco#info lists ping, version and time among its features;
// ping answers with a result; version names Herald; time answers.
func TestServerServices_XEP0030_XEP0092_XEP0199_XEP0202(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := login(t, s, "alice", alicePass, loginOptions{resource: "svc"})

	info := c.iq("disco", "<iq type='get' id='disco' to='"+s.Domain+"'><query xmlns='"+nsDiscoInfo+"'/></iq>")
	if info.attr("type") != "result" {
		t.Fatalf("disco#info: %s", info)
	}
	if info.attr("from") != s.Domain {
		t.Errorf("disco#info answer from %q, want %q", info.attr("from"), s.Domain)
	}
	var features []string
	for _, f := range info.child(nsDiscoInfo, "query").Children {
		if f.is(nsDiscoInfo, "feature") {
			features = append(features, f.attr("var"))
		}
	}
	for _, want := range []string{nsDiscoInfo, nsPing, nsVersion, nsTime} {
		if !slices.Contains(features, want) {
			t.Errorf("disco#info features %q lack %s", features, want)
		}
	}

	if pong := c.iq("ping", "<iq type='get' id='ping' to='"+s.Domain+"'><ping xmlns='"+nsPing+"'/></iq>"); pong.attr("type") != "result" {
		t.Errorf("XEP-0199 ping: %s, want a result", pong)
	}

	v := c.iq("ver", "<iq type='get' id='ver' to='"+s.Domain+"'><query xmlns='"+nsVersion+"'/></iq>")
	q := v.child(nsVersion, "query")
	if v.attr("type") != "result" || q.child(nsVersion, "name") == nil || q.child(nsVersion, "name").Text != "Herald" {
		t.Errorf("XEP-0092 version: %s, want a result naming Herald", v)
	}
	if q.child(nsVersion, "version") == nil || q.child(nsVersion, "version").Text == "" {
		t.Errorf("XEP-0092 version: %s has no version", v)
	}

	tm := c.iq("time", "<iq type='get' id='time' to='"+s.Domain+"'><time xmlns='"+nsTime+"'/></iq>")
	if tm.attr("type") != "result" || tm.child(nsTime, "time").child(nsTime, "utc") == nil {
		t.Errorf("XEP-0202 time: %s, want a result with <utc/>", tm)
	}
}

// TestStanzaErrors_RFC6120_8_3 checks the stanza errors a user gets back
// for what the server cannot deliver or handle.
func TestStanzaErrors_RFC6120_8_3(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := login(t, s, "alice", alicePass, loginOptions{resource: "err"})
	cases := []struct {
		name, id, stanza string
		kind             string // message or iq
		cond, typ        string
	}{
		{
			name:   "iq of an unknown namespace to the server (RFC 6120 §8.4)",
			id:     "unk",
			stanza: "<iq type='get' id='unk' to='" + s.Domain + "'><query xmlns='urn:example:no-such-thing'/></iq>",
			kind:   "iq", cond: "service-unavailable", typ: "cancel",
		},
		{
			name:   "message to an unknown local user (RFC 6121 §8.5.1)",
			id:     "nouser",
			stanza: "<message type='chat' id='nouser' to='nobody@" + s.Domain + "'><body>anyone?</body></message>",
			kind:   "message", cond: "service-unavailable", typ: "cancel",
		},
		{
			name:   "message to another domain (RFC 6120 §8.3.3.15, no federation)",
			id:     "remote",
			stanza: "<message type='chat' id='remote' to='juliet@example.org'><body>far away</body></message>",
			kind:   "message", cond: "remote-server-not-found", typ: "cancel",
		},
		{
			name:   "iq to another domain",
			id:     "remote-iq",
			stanza: "<iq type='get' id='remote-iq' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>",
			kind:   "iq", cond: "remote-server-not-found", typ: "cancel",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.stanza)
			got := c.waitFor("the error for "+tc.id, func(n *node) bool {
				return n.is(nsClient, tc.kind) && n.attr("id") == tc.id
			})
			if got.attr("type") != "error" {
				t.Fatalf("got %s, want type='error'", got)
			}
			cond, typ := stanzaErrorCondition(got)
			if cond != tc.cond || typ != tc.typ {
				t.Errorf("error condition <%s/> type %q, want <%s/> type %q: %s", cond, typ, tc.cond, tc.typ, got)
			}
			if got.attr("to") != c.jid {
				t.Errorf("error addressed to %q, want the sender %q", got.attr("to"), c.jid)
			}
		})
	}
}

// TestConflict_SecondSessionReplacesFirst_RFC6120_7_7_2_2 binds the same
// full JID twice: the new session wins, the old one receives a
// <conflict/> stream error and is closed (RFC 6120 §4.9.3.3), and stanzas
// to the full JID reach the new session.
func TestConflict_SecondSessionReplacesFirst_RFC6120_7_7_2_2(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	first := login(t, s, "alice", alicePass, loginOptions{resource: "same"})
	second := login(t, s, "alice", alicePass, loginOptions{resource: "same"})
	if first.jid != second.jid {
		t.Fatalf("the sessions bound %q and %q, want the same JID", first.jid, second.jid)
	}

	select {
	case <-first.done:
	case <-time.After(wireTimeout):
		t.Fatal("the first session was not closed after the second bound its JID")
	}
	var se xmppstream.Error
	if !errors.As(first.err, &se) || se.Err != "conflict" {
		t.Fatalf("the first session ended with %v, want a <conflict/> stream error", first.err)
	}
	if len(se.Text) == 0 || se.Text[0].Value == "" {
		t.Errorf("the <conflict/> stream error has no <text/>")
	}

	bob := login(t, s, "bob", bobPass, loginOptions{resource: "desk"})
	bob.send("<message type='chat' to='" + second.jid + "'><body>which one?</body></message>")
	second.waitFor("the message to the replaced JID", message("which one?"))
	if pong := second.iq("p", "<iq type='get' id='p' to='"+s.Domain+"'><ping xmlns='urn:xmpp:ping'/></iq>"); pong.attr("type") != "result" {
		t.Errorf("the new session's ping: %s", pong)
	}
}
