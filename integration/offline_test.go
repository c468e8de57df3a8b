package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// imIsMessage matches every message stanza with a body.
func imIsMessage(n *node) bool {
	return n.is(nsClient, "message") && n.child(nsClient, "body") != nil
}

// imBodies returns the bodies of the messages c has received and not
// taken, in arrival order, after a round trip that makes sure everything
// the server had queued for c is here.
func imBodies(c *client) []string {
	c.t.Helper()
	imSync(c)
	var bodies []string
	for _, n := range c.pending() {
		if imIsMessage(n) {
			bodies = append(bodies, n.child(nsClient, "body").Text)
		}
	}
	return bodies
}

// imStanzaIDs returns the XEP-0359 <stanza-id/> elements of a message.
func imStanzaIDs(n *node) []*node {
	var ids []*node
	for i := range n.Children {
		if n.Children[i].is(nsStanzaID, "stanza-id") {
			ids = append(ids, &n.Children[i])
		}
	}
	return ids
}

// imCheckStanzaID checks that msg carries exactly one XEP-0359 stanza-id
// from by (§3: by the recipient's bare JID, a non-empty id) and returns
// the id.
func imCheckStanzaID(t testing.TB, msg *node, by string) string {
	t.Helper()
	ids := imStanzaIDs(msg)
	var mine []*node
	for _, id := range ids {
		if id.attr("by") == by {
			mine = append(mine, id)
		}
	}
	if len(mine) != 1 || mine[0].attr("id") == "" {
		t.Errorf("message has %d <stanza-id by='%s'/> (want exactly one, with an id; XEP-0359 §3): %s", len(mine), by, msg)
		return ""
	}
	return mine[0].attr("id")
}

// TestOffline_StoredInOrderWithDelay_DeliveredOnce_XEP0160 has alice send
// three chat messages to bob while he is offline (XEP-0160 §2, RFC 6121
// §8.5.2.2.1): she gets no error. When bob sends initial presence with
// priority 1 he receives them in order, each with a XEP-0203 <delay/>
// whose stamp is the time it was stored and a XEP-0359 <stanza-id/> by
// his bare JID, distinct for each message; a later login does not receive
// them again.
func TestOffline_StoredInOrderWithDelay_DeliveredOnce_XEP0160(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")

	before := time.Now().Add(-time.Second) // the stamp has millisecond precision
	bodies := []string{"first while you were out", "second <b>&amp;</b>", "third ünïcode"}
	for _, b := range bodies {
		phone.send("<message type='chat' to='" + bobBare + "'><body>" + xmlText(b) + "</body></message>")
	}
	imNoErrors(phone)
	after := time.Now().Add(time.Second)

	first := imLogin(t, s, "bob", "first")
	imNothing(first, "an offline message before initial presence", imIsMessage)
	first.available(1)
	if got := imBodies(first); !slices.Equal(got, bodies) {
		t.Fatalf("bob received %q, want %q in this order", got, bodies)
	}
	seen := map[string]bool{}
	for _, b := range bodies {
		m := first.waitFor("the offline message "+b, message(b))
		if m.attr("from") != phone.jid || m.attr("type") != "chat" {
			t.Errorf("offline message lost its sender or type: %s", m)
		}
		d := m.child(nsDelay, "delay")
		if d == nil {
			t.Errorf("offline message has no <delay xmlns='%s'/> (XEP-0160 §2, XEP-0203): %s", nsDelay, m)
		} else if stamp, err := time.Parse(time.RFC3339Nano, d.attr("stamp")); err != nil {
			t.Errorf("delay stamp %q is not a XEP-0082 DateTime: %v", d.attr("stamp"), err)
		} else if stamp.Before(before) || stamp.After(after) {
			t.Errorf("delay stamp %s is not the time the message was stored (between %s and %s)", stamp, before, after)
		}
		if id := imCheckStanzaID(t, m, bobBare); id != "" {
			if seen[id] {
				t.Errorf("stanza-id %q given to two messages (XEP-0359 §3: unique)", id)
			}
			seen[id] = true
		}
	}
	imLogout(first)

	second := imLogin(t, s, "bob", "second")
	second.available(1)
	if got := imBodies(second); len(got) != 0 {
		t.Errorf("bob's next login received the offline messages again: %q", got)
	}
}

// TestOffline_WhichMessagesAreStored_XEP0160_RFC6121_8_5_2 sends each
// message type to offline bob (RFC 6121 §8.5.2.2.1): chat and normal
// (also by default) are stored; headline is silently dropped; groupchat is
// refused with service-unavailable (§8.5.2.2.2). At bob's login he
// receives exactly the stored ones, in order.
func TestOffline_WhichMessagesAreStored_XEP0160_RFC6121_8_5_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")

	cases := []struct {
		typ     string // the type attribute, "" for none
		stored  bool
		errCond string // the error alice receives, if any
	}{
		{typ: "chat", stored: true},
		{typ: "headline"},
		{typ: "normal", stored: true},
		{typ: "", stored: true},
		{typ: "groupchat", errCond: "service-unavailable"},
	}
	var want []string
	for i, tc := range cases {
		body := fmt.Sprintf("message %d of type %q", i, tc.typ)
		id := fmt.Sprintf("offline-%d", i)
		typeAttr := ""
		if tc.typ != "" {
			typeAttr = " type='" + tc.typ + "'"
		}
		phone.send(fmt.Sprintf("<message id='%s' to='%s'%s><body>%s</body></message>", id, bobBare, typeAttr, body))
		imSync(phone)
		isErr := func(n *node) bool { return n.attr("id") == id && n.attr("type") == "error" }
		if tc.errCond == "" {
			imNothing(phone, "an error for a message of type "+tc.typ, isErr)
		} else if e := phone.take(isErr); e == nil {
			t.Errorf("a message of type %q to offline bob: no error, want %s", tc.typ, tc.errCond)
		} else if cond, _ := stanzaErrorCondition(e); cond != tc.errCond {
			t.Errorf("a message of type %q to offline bob: error %s, want %s", tc.typ, e, tc.errCond)
		}
		if tc.stored {
			want = append(want, body)
		}
	}

	desk := imLogin(t, s, "bob", "desk")
	desk.available(0)
	if got := imBodies(desk); !slices.Equal(got, want) {
		t.Errorf("bob received %q at login, want %q", got, want)
	}
}

// TestOffline_NegativePriorityLoginDoesNotReceive_XEP0160 checks that a
// resource available with a negative priority, which never receives
// messages addressed to the bare JID (RFC 6121 §4.7.2.3, §8.5.2.1.1), gets
// no stored message at its initial presence; the messages stay stored, as
// do the ones sent while only that resource is available, and a later
// login with a non-negative priority receives them all, in order.
func TestOffline_NegativePriorityLoginDoesNotReceive_XEP0160(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")
	chat := func(body string) {
		phone.send("<message type='chat' to='" + bobBare + "'><body>" + body + "</body></message>")
	}

	chat("before any login")
	imSync(phone)

	shy := imLogin(t, s, "bob", "shy")
	shy.available(-1)
	if got := imBodies(shy); len(got) != 0 {
		t.Fatalf("a resource with priority -1 received %q", got)
	}
	chat("while only a negative resource is available")
	imNoErrors(phone)
	if got := imBodies(shy); len(got) != 0 {
		t.Fatalf("a resource with priority -1 received %q", got)
	}

	desk := imLogin(t, s, "bob", "desk")
	desk.available(0)
	want := []string{"before any login", "while only a negative resource is available"}
	if got := imBodies(desk); !slices.Equal(got, want) {
		t.Errorf("bob's priority 0 login received %q, want %q", got, want)
	}
	if got := imBodies(shy); len(got) != 0 {
		t.Errorf("the priority -1 resource received %q", got)
	}
}

// TestOffline_DeliveredWhenPriorityBecomesNonNegative_XEP0160_2 follows
// XEP-0160 §2 step 5 literally: "when the recipient next sends
// non-negative available presence", not only initial presence. bob's only
// resource starts at priority -1 while a message waits for him, then
// raises its priority to 1: the stored message is then delivered to it.
func TestOffline_DeliveredWhenPriorityBecomesNonNegative_XEP0160_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")

	phone.send("<message type='chat' to='" + bobBare + "'><body>stored</body></message>")
	imSync(phone)
	desk := imLogin(t, s, "bob", "desk")
	desk.available(-1)
	if got := imBodies(desk); len(got) != 0 {
		t.Fatalf("bob's resource received %q at priority -1", got)
	}
	imRaisePriority(desk, 1)
	if got, want := imBodies(desk), []string{"stored"}; !slices.Equal(got, want) {
		t.Errorf("after raising its priority to 1, bob's resource received %q, want %q", got, want)
	}
}

// imRaisePriority sends a presence update with priority prio and waits for
// the server to reflect it (RFC 6121 §4.4.2).
func imRaisePriority(c *client, prio int) {
	c.t.Helper()
	p := fmt.Sprint(prio)
	c.send("<presence><priority>" + p + "</priority></presence>")
	c.waitFor("the priority change reflected", func(n *node) bool {
		e := n.child(nsClient, "priority")
		return imPresence(c.jid, "")(n) && e != nil && e.Text == p
	})
}

// TestOffline_StoredThenLiveMessagesStayInOrder_RFC6120_10_1 checks RFC
// 6120 §10.1 rule 2 across the moment bob becomes reachable: alice's
// message stored while bob had no non-negative resource was received by
// the server before her next one, so it must be delivered first. alice
// sends the next one as soon as bob's client sees its presence reflected,
// both when that presence is initial presence with priority 1 and when a
// priority -1 resource raises its priority to 1 (XEP-0160 §2). The race
// this looks for is in the server (a resource that becomes eligible for
// live delivery before the stored messages are queued to it), so each case
// is repeated to make it show.
func TestOffline_StoredThenLiveMessagesStayInOrder_RFC6120_10_1(t *testing.T) {
	t.Parallel()
	const rounds = 50
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")

	for _, tc := range []struct {
		name   string
		become func(c *client) // makes bob's new resource reachable
	}{
		{"initial presence with priority 1", func(c *client) { c.available(1) }},
		{"priority raised from -1 to 1", func(c *client) {
			c.available(-1)
			imRaisePriority(c, 1)
		}},
	} {
		for i := range rounds {
			stored := fmt.Sprintf("%s: stored %d", tc.name, i)
			live := fmt.Sprintf("%s: live %d", tc.name, i)
			phone.send("<message type='chat' to='" + bobBare + "'><body>" + stored + "</body></message>")
			imSync(phone)
			desk := imLogin(t, s, "bob", fmt.Sprintf("r%d", i))
			tc.become(desk)
			phone.send("<message type='chat' to='" + bobBare + "'><body>" + live + "</body></message>")
			if idx := imPeek(desk, "both messages", message(stored), message(live)); idx[0] > idx[1] {
				var order []string
				for _, n := range desk.pending() {
					if imIsMessage(n) {
						order = append(order, n.child(nsClient, "body").Text)
					}
				}
				t.Errorf("%s, round %d: alice's later message overtook the one stored before it (RFC 6120 §10.1): bob received %q", tc.name, i, order)
			}
			imGoOffline(desk)
		}
	}
}

// imGoOffline ends c's session as RFC 6121 §4.5.1 asks a client to:
// unavailable presence first, reflected by the server once the resource no
// longer counts as available, then the closing of the stream.
func imGoOffline(c *client) {
	c.t.Helper()
	c.send("<presence type='unavailable'/>")
	c.waitFor("our own unavailable presence", imPresence(c.jid, "unavailable"))
	imLogout(c)
}

// TestOffline_MessageDuringLogoutIsNotLost_RFC6121_8_5_2 sends bob a
// chat message just after his only resource closed its stream (RFC 6120
// §4.4: the server has answered with its closing tag, so it sends that
// stream nothing more). alice gets no error, so the message must not be
// lost: it is either stored and delivered at bob's next login (XEP-0160),
// or bounced (each login of bob collects what was stored before it). The
// window in which the server still counts the closed resource as available
// is short, so this is repeated.
func TestOffline_MessageDuringLogoutIsNotLost_RFC6121_8_5_2(t *testing.T) {
	t.Parallel()
	const rounds = 50
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	phone.available(0)
	bobBare := imBare(s, "bob")

	var sent, got []string
	for i := range rounds {
		desk := imLogin(t, s, "bob", fmt.Sprintf("r%d", i))
		desk.available(1)
		// What was stored in the previous round arrives here.
		got = append(got, imBodies(desk)...)
		imLogout(desk) // no unavailable presence first
		body := fmt.Sprintf("sent as bob's resource %d closed", i)
		phone.send("<message type='chat' to='" + bobBare + "'><body>" + body + "</body></message>")
		sent = append(sent, body)
	}
	imNoErrors(phone)

	final := imLogin(t, s, "bob", "final")
	final.available(1)
	got = append(got, imBodies(final)...)
	for _, b := range sent {
		if !slices.Contains(got, b) {
			t.Errorf("%q was neither bounced nor delivered at bob's next login: lost", b)
		}
	}
}

// TestMessage_StanzaIDOnLiveDelivery_XEP0359 checks that a message
// delivered at once also carries a <stanza-id/> by the recipient's bare
// JID (XEP-0359 §3), and that one the sender forged in the recipient's
// name is not passed on (§5): bob sees exactly one, the server's.
func TestMessage_StanzaIDOnLiveDelivery_XEP0359(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	phone.available(0)
	desk.available(0)
	bobBare := imBare(s, "bob")

	for _, tc := range []struct {
		name, to, extra string
	}{
		{name: "to the bare JID", to: bobBare},
		{name: "to the full JID", to: desk.jid},
		{name: "with a forged stanza-id", to: bobBare, extra: "<stanza-id xmlns='" + nsStanzaID + "' id='forged' by='" + bobBare + "'/>"},
	} {
		phone.send("<message type='chat' to='" + tc.to + "'><body>" + tc.name + "</body>" + tc.extra + "</message>")
		m := desk.waitFor("the message "+tc.name, message(tc.name))
		if id := imCheckStanzaID(t, m, bobBare); id == "forged" {
			t.Errorf("%s: the sender's forged stanza-id reached bob (XEP-0359 §5): %s", tc.name, m)
		}
		if m.child(nsDelay, "delay") != nil {
			t.Errorf("%s: a message delivered at once carries a <delay/>: %s", tc.name, m)
		}
	}
}
