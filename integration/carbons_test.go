package integration

// Message Carbons (XEP-0280) as the clients of one account observe them.
// Every name starts with "cb" so as not to clash with the helpers of other
// test files in this package.

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
)

// Namespaces of Message Carbons (XEP-0280 §13.1), Stanza Forwarding
// (XEP-0297) and the payloads the eligibility rules of §6.1 and §9 look at.
const (
	cbNS           = "urn:xmpp:carbons:2"
	cbNSForward    = "urn:xmpp:forward:0"
	cbNSHints      = "urn:xmpp:hints"
	cbNSReceipts   = "urn:xmpp:receipts"
	cbNSChatStates = "http://jabber.org/protocol/chatstates"
)

// cbRaw is a session on the scripted wire, logged in and bound, whose
// stanzas are read and recorded by a goroutine. mellium blanks a 'from'
// equal to the session's bare JID, which is exactly the address a carbon
// must come from (XEP-0280 §7, §8, §11); cbRaw shows every attribute as the
// server wrote it.
type cbRaw struct {
	t    testing.TB
	w    *wire
	jid  string // the bound full JID
	bare string // its bare JID

	mu     sync.Mutex
	inbox  []*node
	notify chan struct{} // signalled when inbox grows
	done   chan struct{} // closed when the reader stops
	err    error         // why the reader stopped, once done is closed
}

// cbLogin logs user in on the scripted wire (STARTTLS, SASL PLAIN, binding
// resource) and records what the server sends until the test ends, when it
// closes the stream and waits for the server's closing tag.
func cbLogin(t testing.TB, s *servertest.Server, user, resource string) *cbRaw {
	t.Helper()
	w := dialWire(t, s)
	full := w.login(user, imPassword(t, user), resource)
	// login left a read deadline behind; the reader waits as long as the
	// test lasts.
	if err := w.conn.SetReadDeadline(time.Time{}); err != nil {
		t.Fatalf("clear the read deadline: %v", err)
	}
	c := &cbRaw{
		t:      t,
		w:      w,
		jid:    full,
		bare:   imBare(s, user),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go c.read()
	t.Cleanup(func() {
		// RFC 6120 §4.4: close our stream and wait for the server's
		// closing tag; dialWire's cleanup then closes the connection.
		if err := w.write([]byte("</stream:stream>")); err != nil {
			t.Errorf("%s: close the stream: %v", c.jid, err)
			return
		}
		select {
		case <-c.done:
		case <-time.After(wireTimeout):
			t.Errorf("%s: the server did not answer our closing tag within %s", c.jid, wireTimeout)
		}
	})
	return c
}

// read records every first-level element until the stream or the
// connection ends.
func (c *cbRaw) read() {
	defer close(c.done)
	for {
		tok, err := c.w.dec.Token()
		if err != nil {
			c.err = fmt.Errorf("read: %w", err)
			return
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			var n node
			if err := c.w.dec.DecodeElement(&n, &tk); err != nil {
				c.err = fmt.Errorf("decode <%s>: %w", tk.Name.Local, err)
				return
			}
			c.mu.Lock()
			c.inbox = append(c.inbox, &n)
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
		case xml.EndElement:
			c.err = errStreamClosed
			return
		}
	}
}

// send writes one stanza given as XML text (in the stream's jabber:client
// namespace unless it says otherwise).
func (c *cbRaw) send(raw string) {
	c.t.Helper()
	if err := c.w.write([]byte(raw)); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.jid, raw, err)
	}
}

// take removes and returns the first received stanza that matches, or nil.
func (c *cbRaw) take(match func(*node) bool) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.inbox {
		if match(n) {
			c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
			return n
		}
	}
	return nil
}

// pending returns the received stanzas not taken yet.
func (c *cbRaw) pending() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.inbox)
}

// waitFor removes and returns the first received stanza that matches, or
// fails the test after wireTimeout.
func (c *cbRaw) waitFor(what string, match func(*node) bool) *node {
	c.t.Helper()
	deadline := time.NewTimer(wireTimeout)
	defer deadline.Stop()
	for {
		if n := c.take(match); n != nil {
			return n
		}
		select {
		case <-c.notify:
		case <-c.done:
			if n := c.take(match); n != nil {
				return n
			}
			c.t.Fatalf("%s: the stream ended (%v) before %s arrived; received %v", c.jid, c.err, what, c.pending())
		case <-deadline.C:
			c.t.Fatalf("%s: %s did not arrive within %s; received %v", c.jid, what, wireTimeout, c.pending())
		}
	}
}

// iq sends an iq whose id is id and waits for its answer.
func (c *cbRaw) iq(id, raw string) *node {
	c.t.Helper()
	c.send(raw)
	return c.waitFor("the answer to iq "+id, func(n *node) bool {
		typ := n.attr("type")
		return n.is(nsClient, "iq") && n.attr("id") == id && (typ == "result" || typ == "error")
	})
}

// sync makes a round trip to the server, as imSync does for mellium
// clients: afterwards everything the server queued for c before has
// arrived and everything c sent before has been processed.
func (c *cbRaw) sync() {
	c.t.Helper()
	id := imID("sync")
	domain := c.bare[strings.IndexByte(c.bare, '@')+1:]
	res := c.iq(id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><ping xmlns='%s'/></iq>", id, domain, nsPing))
	if res.attr("type") != "result" {
		c.t.Fatalf("%s: ping of the server failed: %s", c.jid, res)
	}
}

// nothing fails the test if c has received a stanza that matches, after a
// round trip.
func (c *cbRaw) nothing(what string, match func(*node) bool) {
	c.t.Helper()
	c.sync()
	for _, n := range c.pending() {
		if match(n) {
			c.t.Errorf("%s received %s, which it must not: %s", c.jid, what, n)
		}
	}
}

// available sends initial presence with priority prio and waits for the
// server to reflect it (RFC 6121 §4.2.2).
func (c *cbRaw) available(prio int) {
	c.t.Helper()
	c.send(fmt.Sprintf("<presence><priority>%d</priority></presence>", prio))
	c.waitFor("our own presence of priority "+fmt.Sprint(prio), func(n *node) bool {
		p := n.child(nsClient, "priority")
		return n.is(nsClient, "presence") && n.attr("from") == c.jid && n.attr("type") == "" && p != nil && p.Text == fmt.Sprint(prio)
	})
}

// carbons sends <enable/> or <disable/> (XEP-0280 §4, §5) and returns the
// answer.
func (c *cbRaw) carbons(op string) *node {
	c.t.Helper()
	id := imID(op)
	return c.iq(id, fmt.Sprintf("<iq type='set' id='%s'><%s xmlns='%s'/></iq>", id, op, cbNS))
}

// mustCarbons is carbons for a request that must succeed with an empty
// result from the account (XEP-0280 example 4: from the bare JID; RFC 6120
// §8.1.2.1 also allows none).
func (c *cbRaw) mustCarbons(op string) {
	c.t.Helper()
	res := c.carbons(op)
	if res.attr("type") != "result" || len(res.Children) != 0 {
		c.t.Fatalf("%s: <%s xmlns='%s'/>: got %s, want an empty result (XEP-0280 §4, §5)", c.jid, op, cbNS, res)
	}
	if from := res.attr("from"); from != "" && from != c.bare {
		c.t.Errorf("%s: the answer to <%s/> comes from %q, want the account's bare JID %s or none", c.jid, op, from, c.bare)
	}
}

// cbForwarded returns the message that n forwards if n is a carbon of
// direction dir ("sent" or "received"; XEP-0280 §7, §8), or nil.
func cbForwarded(n *node, dir string) *node {
	if !n.is(nsClient, "message") {
		return nil
	}
	return n.child(cbNS, dir).child(cbNSForward, "forwarded").child(nsClient, "message")
}

// cbCarbonOf matches a carbon of direction dir that forwards the message
// whose id is id.
func cbCarbonOf(dir, id string) func(*node) bool {
	return func(n *node) bool {
		return cbForwarded(n, dir).attr("id") == id && id != ""
	}
}

// cbAnyCarbon matches every carbon, of either direction.
func cbAnyCarbon(n *node) bool {
	return cbForwarded(n, "sent") != nil || cbForwarded(n, "received") != nil
}

// cbOriginal matches the message whose id is id itself, not a carbon of
// it.
func cbOriginal(id string) func(*node) bool {
	return func(n *node) bool {
		return n.is(nsClient, "message") && n.attr("id") == id && !cbAnyCarbon(n)
	}
}

// cbAbout matches the message whose id is id and every carbon of it.
func cbAbout(id string) func(*node) bool {
	return func(n *node) bool {
		return cbOriginal(id)(n) || cbCarbonOf("sent", id)(n) || cbCarbonOf("received", id)(n)
	}
}

// cbWant is what a carbon must say (XEP-0280 §7, §8).
type cbWant struct {
	dir       string // "sent" or "received"
	owner     string // the account's bare JID: the carbon's 'from'
	rcpt      string // the full JID of the resource receiving the copy: its 'to'
	typ       string // the original's type, "" for none: kept on the carbon
	innerFrom string // the forwarded message's 'from'
	innerTo   string // the forwarded message's 'to'
	body      string // its body, "" when it has none
}

// cbCheckCarbon checks a carbon against want: from the account's bare JID
// to the receiving resource, of the original's type, with exactly one
// <sent/> or <received/> holding one <forwarded/> that holds the original
// message, in jabber:client, with its addresses and body intact.
func cbCheckCarbon(t testing.TB, where string, n *node, want cbWant) {
	t.Helper()
	if n.attr("from") != want.owner {
		t.Errorf("%s: the carbon comes from %q, want the account's bare JID %q (XEP-0280 §7, §8, §11): %s", where, n.attr("from"), want.owner, n)
	}
	if n.attr("to") != want.rcpt {
		t.Errorf("%s: the carbon is addressed to %q, want the receiving resource %q: %s", where, n.attr("to"), want.rcpt, n)
	}
	if n.attr("type") != want.typ {
		t.Errorf("%s: the carbon has type %q, want the original's %q (XEP-0280 §7, §8): %s", where, n.attr("type"), want.typ, n)
	}
	var wrappers int
	for _, c := range n.Children {
		if c.XMLName.Space == cbNS {
			wrappers++
		}
	}
	if wrappers != 1 {
		t.Errorf("%s: the carbon has %d children in %s, want exactly one <%s/>: %s", where, wrappers, cbNS, want.dir, n)
	}
	fwd := n.child(cbNS, want.dir).child(cbNSForward, "forwarded")
	inner := cbForwarded(n, want.dir)
	if inner == nil {
		t.Errorf("%s: no <%s xmlns='%s'><forwarded xmlns='%s'><message xmlns='%s'/> (XEP-0280 §7, §8; XEP-0297): %s", where, want.dir, cbNS, cbNSForward, nsClient, n)
		return
	}
	var msgs int
	for _, c := range fwd.Children {
		if c.XMLName.Local == "message" {
			msgs++
		}
	}
	if msgs != 1 {
		t.Errorf("%s: <forwarded/> holds %d messages, want one: %s", where, msgs, n)
	}
	if inner.attr("from") != want.innerFrom || inner.attr("to") != want.innerTo || inner.attr("type") != want.typ {
		t.Errorf("%s: forwarded message from=%q to=%q type=%q, want from=%q to=%q type=%q: %s",
			where, inner.attr("from"), inner.attr("to"), inner.attr("type"), want.innerFrom, want.innerTo, want.typ, n)
	}
	body := inner.child(nsClient, "body")
	switch {
	case want.body == "" && body != nil:
		t.Errorf("%s: the forwarded message grew a body: %s", where, n)
	case want.body != "" && (body == nil || body.Text != want.body):
		t.Errorf("%s: the forwarded message's body is not %q: %s", where, want.body, n)
	}
}

// TestCarbons_DiscoveryAndEnableDisable_XEP0280_3_4_5_10_1 asks the server
// for its features (§3: urn:xmpp:carbons:2), then enables carbons twice and
// disables them twice: each request gets an empty result from the account
// (§4 example 4, §5 example 7), repeated requests included (§10.1). Asking
// to enable carbons on another user's account is refused with an error
// (§4.1 recommends forbidden or not-allowed).
func TestCarbons_DiscoveryAndEnableDisable_XEP0280_3_4_5_10_1(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	a := cbLogin(t, s, "alice", "a")

	info := a.iq("disco", "<iq type='get' id='disco' to='"+s.Domain+"'><query xmlns='"+nsDiscoInfo+"'/></iq>")
	var features []string
	for _, f := range info.child(nsDiscoInfo, "query").Children {
		if f.is(nsDiscoInfo, "feature") {
			features = append(features, f.attr("var"))
		}
	}
	if info.attr("type") != "result" || !slices.Contains(features, cbNS) {
		t.Errorf("disco#info of the server: features %q, want %s among them (XEP-0280 §3): %s", features, cbNS, info)
	}

	for _, op := range []string{"enable", "enable", "disable", "disable", "enable"} {
		a.mustCarbons(op)
	}

	id := imID("enable-bob")
	res := a.iq(id, fmt.Sprintf("<iq type='set' id='%s' to='%s'><enable xmlns='%s'/></iq>", id, imBare(s, "bob"), cbNS))
	if cond, _ := stanzaErrorCondition(res); res.attr("type") != "error" || (cond != "forbidden" && cond != "not-allowed") {
		t.Errorf("enabling carbons on bob's account: got %s, want forbidden or not-allowed (XEP-0280 §4.1)", res)
	}
}

// cbCase is one row of the eligibility table of XEP-0280 §6.1 and §9.
type cbCase struct {
	name    string
	typ     string // the message's type, "" for none (normal)
	payload string // its children, {id} standing for the message's id
	copied  bool
}

// cbStanza renders a row of cases addressed to to, with id id.
func cbStanza(c cbCase, id, to string) string {
	typ := ""
	if c.typ != "" {
		typ = " type='" + c.typ + "'"
	}
	return fmt.Sprintf("<message id='%s' to='%s'%s>%s</message>", id, to, typ, strings.ReplaceAll(c.payload, "{id}", id))
}

// cbBodyOf returns the body text a row carries, "" for none.
func cbBodyOf(c cbCase, id string) string {
	if strings.HasPrefix(c.payload, "<body>") {
		return id
	}
	return ""
}

// TestCarbons_WhichMessagesAreCopied_XEP0280_6_7_8_9 gives alice three
// resources: A and B with carbons enabled, C without. For every row of the
// eligibility table bob sends a message to alice/A (§7) and A sends one to
// bob/desk (§8):
//
//   - the original always reaches its addressee, never as a carbon;
//   - B receives a <received/> or <sent/> carbon exactly when the message is
//     eligible (§6.1: chat, normal with a body, XEP-0184 receipts, XEP-0085
//     chat states; not headline, groupchat, an empty normal message, nor a
//     message with <private/> and <no-copy/>, §9), from alice's bare JID, to
//     B, of the original's type, forwarding the original intact in
//     jabber:client (bob's full JID as its 'from' for received carbons);
//   - A, the addressee or the sender, receives no carbon (§7: "MUST NOT
//     send a forwarded copy to the client(s) the original was addressed
//     to"; §8: "SHOULD NOT ... to the sending full JID");
//   - C, which never enabled carbons, receives nothing (§2: clients that do
//     not implement the protocol must not receive protocol they do not
//     expect).
func TestCarbons_WhichMessagesAreCopied_XEP0280_6_7_8_9(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	a := cbLogin(t, s, "alice", "A")
	b := cbLogin(t, s, "alice", "B")
	c := cbLogin(t, s, "alice", "C")
	bob := imLogin(t, s, "bob", "desk")
	a.available(5)
	b.available(1)
	c.available(0)
	bob.available(0)
	a.mustCarbons("enable")
	b.mustCarbons("enable")

	// What §6.1 and §9 say about which messages are copied.
	cases := []cbCase{
		{"chat with body (§6.1: type chat)", "chat", "<body>{id}</body><thread>th-1</thread>", true},
		{"no type with body (§6.1: type normal with a body)", "", "<body>{id}</body>", true},
		{"type normal with body (§6.1)", "normal", "<body>{id}</body>", true},
		{"receipt without body (§6.1: XEP-0184 payload)", "", "<received xmlns='" + cbNSReceipts + "' id='{id}'/>", true},
		{"chat state without body (§6.1: XEP-0085 payload)", "", "<active xmlns='" + cbNSChatStates + "'/>", true},
		{"chat with private and no-copy (§9)", "chat", "<body>{id}</body><private xmlns='" + cbNS + "'/><no-copy xmlns='" + cbNSHints + "'/>", false},
		{"headline (not an IM message, §6)", "headline", "<body>{id}</body>", false},
		{"groupchat (§6.1 MUC rules)", "groupchat", "<body>{id}</body>", false},
		{"normal without body or IM payload (§6.1)", "", "<x xmlns='urn:example:herald:custom'/>", false},
	}

	for _, dir := range []string{"received", "sent"} {
		ids := make([]string, len(cases))
		for i, row := range cases {
			ids[i] = imID(dir)
			if dir == "received" {
				bob.send(cbStanza(row, ids[i], a.jid))
			} else {
				a.send(cbStanza(row, ids[i], bob.jid))
			}
		}
		// The sender's round trip proves its messages were routed, and
		// with them every copy queued; then each resource's round trip
		// proves it has received what was queued for it.
		if dir == "received" {
			imSync(bob)
		} else {
			a.sync()
		}
		a.sync()
		b.sync()
		c.sync()
		imSync(bob)
		imNoErrors(bob)
		for i, row := range cases {
			id := ids[i]
			where := dir + ": " + row.name
			want := cbWant{dir: dir, owner: a.bare, rcpt: b.jid, typ: row.typ, body: cbBodyOf(row, id)}
			if dir == "received" {
				want.innerFrom, want.innerTo = bob.jid, a.jid
				if orig := a.take(cbOriginal(id)); orig == nil {
					t.Errorf("%s: alice/A did not receive bob's message", where)
				} else if orig.attr("from") != bob.jid {
					t.Errorf("%s: alice/A received bob's message from %q, want %q: %s", where, orig.attr("from"), bob.jid, orig)
				}
			} else {
				want.innerFrom, want.innerTo = a.jid, bob.jid
				if orig := bob.take(cbOriginal(id)); orig == nil {
					t.Errorf("%s: bob did not receive alice/A's message", where)
				}
			}
			carbon := b.take(cbCarbonOf(dir, id))
			switch {
			case row.copied && carbon == nil:
				t.Errorf("%s: alice/B (carbons enabled) received no <%s/> carbon; it is eligible (XEP-0280 §6.1); B has %v", where, dir, b.pending())
			case !row.copied && carbon != nil:
				t.Errorf("%s: alice/B received a carbon of a message that is not eligible: %s", where, carbon)
			case carbon != nil:
				cbCheckCarbon(t, where, carbon, want)
			}
			if n := a.take(cbCarbonOf("sent", id)); n != nil {
				t.Errorf("%s: alice/A received a <sent/> carbon of a message it is the addressee or sender of: %s", where, n)
			}
			if n := a.take(cbCarbonOf("received", id)); n != nil {
				t.Errorf("%s: alice/A received a <received/> carbon of a message it is the addressee or sender of: %s", where, n)
			}
			if n := c.take(cbAbout(id)); n != nil {
				t.Errorf("%s: alice/C, which did not enable carbons, received %s", where, n)
			}
			if n := b.take(cbAbout(id)); n != nil {
				t.Errorf("%s: alice/B received a second stanza for one message: %s", where, n)
			}
		}
	}
}

// TestCarbons_BareJIDDeliveryAndDisable_XEP0280_5_7_10_1 has bob write to
// alice's bare JID while her resources are A (priority 5, carbons), B
// (priority 1, carbons) and C (priority 0, no carbons):
//
//   - A receives the message (RFC 6121 §8.5.2.1.1), B a <received/> carbon
//     forwarding it with alice's bare JID as its 'to', C nothing (§7);
//   - once B has priority 5 as well both receive the original and neither
//     a carbon: a carbon goes only to resources "that did not receive it"
//     (§7);
//   - once B disables carbons (§5) it receives no copy of bob's message to
//     A nor of A's message to bob, and once it enables them again it does
//     (§10.1: enable and disable many times in a session).
func TestCarbons_BareJIDDeliveryAndDisable_XEP0280_5_7_10_1(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	a := cbLogin(t, s, "alice", "A")
	b := cbLogin(t, s, "alice", "B")
	c := cbLogin(t, s, "alice", "C")
	bob := imLogin(t, s, "bob", "desk")
	a.available(5)
	b.available(1)
	c.available(0)
	bob.available(0)
	a.mustCarbons("enable")
	b.mustCarbons("enable")

	// settle waits until everything the last stanzas caused has arrived.
	settle := func() {
		imSync(bob)
		a.sync()
		b.sync()
		c.sync()
	}

	id := imID("bare")
	bob.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>to the bare JID</body></message>", id, a.bare))
	a.waitFor("bob's message to alice's bare JID (highest priority)", cbOriginal(id))
	carbon := b.waitFor("a <received/> carbon of bob's message to the bare JID", cbCarbonOf("received", id))
	cbCheckCarbon(t, "bare JID", carbon, cbWant{dir: "received", owner: a.bare, rcpt: b.jid, typ: "chat", innerFrom: bob.jid, innerTo: a.bare, body: "to the bare JID"})
	settle()
	c.nothing("anything about a message to the bare JID", cbAbout(id))
	a.nothing("a carbon of the message it received", cbCarbonOf("received", id))
	b.nothing("the original of a message sent to a higher-priority resource", cbOriginal(id))

	// B at priority 5: both receive the original, neither a carbon.
	b.available(5)
	id = imID("both")
	bob.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>to both</body></message>", id, a.bare))
	a.waitFor("bob's message at equal priority", cbOriginal(id))
	b.waitFor("bob's message at equal priority", cbOriginal(id))
	settle()
	for _, r := range []*cbRaw{a, b} {
		r.nothing("a carbon of a message it received itself (XEP-0280 §7)", cbCarbonOf("received", id))
	}
	c.nothing("anything about a message it did not receive", cbAbout(id))
	b.available(1)

	// B disables carbons.
	b.mustCarbons("disable")
	in, out := imID("in-after-disable"), imID("out-after-disable")
	bob.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>in</body></message>", in, a.jid))
	a.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>out</body></message>", out, bob.jid))
	a.waitFor("bob's message after B disabled carbons", cbOriginal(in))
	bob.waitFor("alice/A's message after B disabled carbons", cbOriginal(out))
	settle()
	b.nothing("a carbon after disabling carbons (XEP-0280 §5)", func(n *node) bool { return cbAbout(in)(n) || cbAbout(out)(n) })

	// And enables them again.
	b.mustCarbons("enable")
	in, out = imID("in-after-enable"), imID("out-after-enable")
	bob.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>in again</body></message>", in, a.jid))
	a.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>out again</body></message>", out, bob.jid))
	cbCheckCarbon(t, "received after enabling again", b.waitFor("a <received/> carbon after enabling again", cbCarbonOf("received", in)),
		cbWant{dir: "received", owner: a.bare, rcpt: b.jid, typ: "chat", innerFrom: bob.jid, innerTo: a.jid, body: "in again"})
	cbCheckCarbon(t, "sent after enabling again", b.waitFor("a <sent/> carbon after enabling again", cbCarbonOf("sent", out)),
		cbWant{dir: "sent", owner: a.bare, rcpt: b.jid, typ: "chat", innerFrom: a.jid, innerTo: bob.jid, body: "out again"})
}

// TestCarbons_ForgedCarbonFromAnotherUser_XEP0280_11 has bob send alice
// messages that look like carbons: a <received/> forwarding a message
// "from" carol to alice, to alice/A, and a <sent/> claiming alice wrote
// something, to alice's bare JID (the impersonation attack of §7 example
// 11). The server delivers each to A as the ordinary message it is, with
// bob's full JID as its 'from' (RFC 6120 §8.1.2.1), so that A's client can
// tell it is no carbon (§11: carbons come from the account's bare JID);
// it does not turn either into a carbon from alice's bare JID for any of
// her resources, and C, which never enabled carbons, receives nothing.
func TestCarbons_ForgedCarbonFromAnotherUser_XEP0280_11(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	a := cbLogin(t, s, "alice", "A")
	b := cbLogin(t, s, "alice", "B")
	c := cbLogin(t, s, "alice", "C")
	bob := imLogin(t, s, "bob", "desk")
	a.available(5)
	b.available(1)
	c.available(0)
	a.mustCarbons("enable")
	b.mustCarbons("enable")
	carol := imBare(s, "carol")

	cases := []struct {
		dir, to, innerFrom, innerTo string
	}{
		{"received", a.jid, carol + "/home", a.jid},
		{"sent", a.bare, a.bare + "/B", carol},
	}
	for _, tc := range cases {
		id, innerID := imID("forged-"+tc.dir), imID("inner")
		body := "forged " + tc.dir + " carbon " + innerID
		bob.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><%s xmlns='%s'><forwarded xmlns='%s'>"+
			"<message xmlns='jabber:client' id='%s' type='chat' from='%s' to='%s'><body>%s</body></message>"+
			"</forwarded></%s></message>",
			id, tc.to, tc.dir, cbNS, cbNSForward, innerID, tc.innerFrom, tc.innerTo, body, tc.dir))
		got := a.waitFor("bob's forged "+tc.dir+" carbon", func(n *node) bool { return n.is(nsClient, "message") && n.attr("id") == id })
		if got.attr("from") != bob.jid {
			t.Errorf("forged %s carbon: alice/A received it from %q, want bob's full JID %q (RFC 6120 §8.1.2.1, XEP-0280 §11): %s", tc.dir, got.attr("from"), bob.jid, got)
		}
		if inner := cbForwarded(got, tc.dir); inner == nil || inner.attr("from") != tc.innerFrom {
			t.Errorf("forged %s carbon: delivered altered, want bob's payload as he sent it: %s", tc.dir, got)
		}
		imSync(bob)
		// forgedAsCarbon matches a stanza that presents bob's payload as a
		// carbon from alice's own account: a carbon from her bare JID
		// forwarding the message bob made up. (A carbon forwarding bob's
		// own message, from bob, would be no forgery.)
		forgedAsCarbon := func(n *node) bool {
			return n.attr("from") == a.bare && (cbForwarded(n, "sent").attr("id") == innerID || cbForwarded(n, "received").attr("id") == innerID)
		}
		for _, r := range []*cbRaw{a, b, c} {
			r.nothing("bob's forged "+tc.dir+" carbon presented as a carbon from alice's bare JID", forgedAsCarbon)
		}
		c.nothing("bob's forged carbon, though it did not enable carbons and was not addressed", func(n *node) bool {
			return strings.Contains(n.String(), innerID)
		})
		imNoErrors(bob)
	}
}
