package integration

// Helpers shared by the roster, subscription, presence, offline-message and
// durability tests (RFC 6121, XEP-0160). Every name starts with "im" so as
// not to clash with the helpers of other test files in this package.

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
)

// The third account of the instant-messaging tests, and the roster
// namespace.
const (
	imCarolPass = "carol-secret"
	nsRoster    = "jabber:iq:roster"
	nsDelay     = "urn:xmpp:delay"
	nsStanzaID  = "urn:xmpp:sid:0"
)

// imServer starts a server with the accounts alice, bob and carol.
func imServer(t testing.TB, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	s := startServer(t, opts...)
	s.AddUser(t, "carol", imCarolPass)
	return s
}

// imPassword returns the password of one of the test accounts.
func imPassword(t testing.TB, user string) string {
	t.Helper()
	switch user {
	case "alice":
		return alicePass
	case "bob":
		return bobPass
	case "carol":
		return imCarolPass
	}
	t.Fatalf("no password known for %q", user)
	return ""
}

// imLogin logs user in with mellium, binding resource.
func imLogin(t testing.TB, s *servertest.Server, user, resource string) *client {
	t.Helper()
	return login(t, s, user, imPassword(t, user), loginOptions{resource: resource})
}

// imBare is user's bare JID on s.
func imBare(s *servertest.Server, user string) string {
	return user + "@" + s.Domain
}

// imLogout ends c's session before the test does, as a client would: it
// closes its stream, waits for the server's closing tag (RFC 6120 §4.4)
// and closes the connection. The server may still be unbinding the
// resource when this returns.
func imLogout(c *client) {
	c.t.Helper()
	_ = c.sess.Close()
	select {
	case <-c.done:
	case <-time.After(wireTimeout):
		c.t.Fatalf("%s: the server did not answer our closing tag within %s", c.jid, wireTimeout)
	}
	_ = c.sess.Conn().Close()
}

// imID returns a fresh stanza id.
func imID(prefix string) string {
	return prefix + "-" + rand.Text()
}

// imSync makes a round trip to the server (an XEP-0199 ping of the
// server). The server handles one session's stanzas in order and queues
// everything for a session in order, so once the answer is here every
// stanza it queued for c before handling the ping has been received, and
// every stanza c sent before has been fully processed.
func imSync(c *client) {
	c.t.Helper()
	id := imID("sync")
	res := c.iq(id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><ping xmlns='%s'/></iq>", id, c.sess.LocalAddr().Domain(), nsPing))
	if res.attr("type") != "result" {
		c.t.Fatalf("%s: ping of the server failed: %s", c.jid, res)
	}
}

// imNothing fails the test if c has received a stanza that matches,
// after a round trip that makes sure whatever the server had queued for c
// has arrived.
func imNothing(c *client, what string, match func(*node) bool) {
	c.t.Helper()
	imSync(c)
	for _, n := range c.pending() {
		if match(n) {
			c.t.Errorf("%s received %s, which it must not: %s", c.jid, what, n)
		}
	}
}

// imNoErrors fails the test if c has received any stanza of type error.
func imNoErrors(c *client) {
	c.t.Helper()
	imNothing(c, "an error", func(n *node) bool { return n.attr("type") == "error" })
}

// imPresence matches a presence stanza from from with type typ ("" for
// available).
func imPresence(from, typ string) func(*node) bool {
	return func(n *node) bool {
		return n.is(nsClient, "presence") && n.attr("from") == from && n.attr("type") == typ
	}
}

// imAnyPresenceFrom matches every presence stanza whose 'from' is from or
// a full JID of the bare JID from.
func imAnyPresenceFrom(from string) func(*node) bool {
	return func(n *node) bool {
		f := n.attr("from")
		return n.is(nsClient, "presence") && (f == from || strings.HasPrefix(f, from+"/"))
	}
}

// imSendPresence sends a presence stanza of type typ ("subscribe", ...) to
// the bare JID to.
func imSendPresence(c *client, typ, to string) {
	c.t.Helper()
	c.send(fmt.Sprintf("<presence type='%s' to='%s'/>", typ, to))
}

// imIsPush matches a roster push (RFC 6121 §2.1.6) of the item for
// contact.
func imIsPush(contact string) func(*node) bool {
	return func(n *node) bool {
		if !n.is(nsClient, "iq") || n.attr("type") != "set" {
			return false
		}
		it := n.child(nsRoster, "query").child(nsRoster, "item")
		return it != nil && it.attr("jid") == contact
	}
}

// imIsAnyPush matches any roster push.
func imIsAnyPush(n *node) bool {
	return n.is(nsClient, "iq") && n.attr("type") == "set" && n.child(nsRoster, "query") != nil
}

// imPush waits for a roster push of contact's item to c, checks its form
// (RFC 6121 §2.1.6: type set, no 'from' but the account's bare JID, one
// item, a 'ver' since the server supports versioning, §2.6) and returns
// the push.
func imPush(c *client, contact string) *node {
	c.t.Helper()
	push := c.waitFor("a roster push of "+contact, imIsPush(contact))
	// mellium clears a 'from' equal to the session's bare JID.
	if from := push.attr("from"); from != "" {
		c.t.Errorf("%s: roster push has from=%q; RFC 6121 §2.1.6 allows only none or the account's bare JID: %s", c.jid, from, push)
	}
	q := push.child(nsRoster, "query")
	if len(q.Children) != 1 {
		c.t.Errorf("%s: roster push carries %d items, want exactly one (RFC 6121 §2.1.6): %s", c.jid, len(q.Children), push)
	}
	if q.attr("ver") == "" {
		c.t.Errorf("%s: roster push has no 'ver' (RFC 6121 §2.6.2): %s", c.jid, push)
	}
	return push
}

// imPushItem is imPush returning only the pushed item.
func imPushItem(c *client, contact string) *node {
	c.t.Helper()
	return imPush(c, contact).child(nsRoster, "query").child(nsRoster, "item")
}

// imItem is what a roster item (RFC 6121 §2.1.2) should say.
type imItem struct {
	sub      string   // 'subscription'
	ask      string   // 'ask', "" when absent
	approved string   // 'approved', "" when absent
	name     string   // 'name', "" when absent
	groups   []string // <group/> texts, in any order
}

// imCheckItem compares an item element with want.
func imCheckItem(t testing.TB, where string, item *node, want imItem) {
	t.Helper()
	if item == nil {
		t.Errorf("%s: no item, want %+v", where, want)
		return
	}
	var groups []string
	for _, g := range item.Children {
		if g.is(nsRoster, "group") {
			groups = append(groups, g.Text)
		}
	}
	slices.Sort(groups)
	wantGroups := slices.Sorted(slices.Values(want.groups))
	got := imItem{sub: item.attr("subscription"), ask: item.attr("ask"), approved: item.attr("approved"), name: item.attr("name"), groups: groups}
	if got.sub != want.sub || got.ask != want.ask || got.approved != want.approved || got.name != want.name || !slices.Equal(groups, wantGroups) {
		t.Errorf("%s: item %s\n got %+v\nwant %+v", where, item, got, want)
	}
}

// imRosterGet sends a roster get (RFC 6121 §2.1.3); with ver non-nil it
// carries that 'ver' attribute (§2.6.2). It returns the answer.
func imRosterGet(c *client, ver *string) *node {
	c.t.Helper()
	id := imID("roster-get")
	attr := ""
	if ver != nil {
		attr = fmt.Sprintf(" ver='%s'", *ver)
	}
	return c.iq(id, fmt.Sprintf("<iq type='get' id='%s'><query xmlns='%s'%s/></iq>", id, nsRoster, attr))
}

// imRoster sends a plain roster get, checks that it succeeds, and returns
// the items by JID.
func imRoster(c *client) map[string]*node {
	c.t.Helper()
	res := imRosterGet(c, nil)
	q := res.child(nsRoster, "query")
	if res.attr("type") != "result" || q == nil {
		c.t.Fatalf("%s: roster get failed: %s", c.jid, res)
	}
	items := map[string]*node{}
	for i := range q.Children {
		it := &q.Children[i]
		if it.is(nsRoster, "item") {
			items[it.attr("jid")] = it
		}
	}
	return items
}

// imRosterSet sends a roster set whose <query/> holds items (raw XML) and
// returns the answer.
func imRosterSet(c *client, items string) *node {
	c.t.Helper()
	id := imID("roster-set")
	return c.iq(id, fmt.Sprintf("<iq type='set' id='%s'><query xmlns='%s'>%s</query></iq>", id, nsRoster, items))
}

// imMustSet is imRosterSet for a set that must succeed.
func imMustSet(c *client, items string) {
	c.t.Helper()
	if res := imRosterSet(c, items); res.attr("type") != "result" {
		c.t.Fatalf("%s: roster set %s failed: %s", c.jid, items, res)
	}
}

// imSubscribe runs the whole subscription handshake of RFC 6121 §3.1 with
// both clients available: from asks to, to approves, and from receives
// the approval. Afterwards from has a subscription to to's presence.
func imSubscribe(from, to *client) {
	from.t.Helper()
	fromBare := from.sess.LocalAddr().Bare().String()
	toBare := to.sess.LocalAddr().Bare().String()
	imSendPresence(from, "subscribe", toBare)
	to.waitFor("the subscription request of "+fromBare, imPresence(fromBare, "subscribe"))
	imSendPresence(to, "subscribed", fromBare)
	from.waitFor("the approval of "+toBare, imPresence(toBare, "subscribed"))
	imSync(to)
	imSync(from)
}

// imPeek waits until c has received a stanza matching each of matches,
// without taking any, and returns their places in arrival order (the
// first match of each).
func imPeek(c *client, what string, matches ...func(*node) bool) []int {
	c.t.Helper()
	deadline := time.NewTimer(wireTimeout)
	defer deadline.Stop()
	for {
		pending := c.pending()
		idx := make([]int, len(matches))
		all := true
		for i, m := range matches {
			idx[i] = slices.IndexFunc(pending, m)
			all = all && idx[i] >= 0
		}
		if all {
			return idx
		}
		select {
		case <-c.notify:
		case <-c.done:
			c.t.Fatalf("%s: the session ended (%v) before %s arrived; received %v", c.jid, c.err, what, c.pending())
		case <-deadline.C:
			c.t.Fatalf("%s: %s did not arrive within %s; received %v", c.jid, what, wireTimeout, c.pending())
		}
	}
}

// imBefore checks that c receives a stanza matching first and one matching
// second, in that order. Both are left in the inbox.
func imBefore(c *client, firstWhat string, first func(*node) bool, secondWhat string, second func(*node) bool) {
	c.t.Helper()
	idx := imPeek(c, firstWhat+" and "+secondWhat, first, second)
	if idx[0] > idx[1] {
		c.t.Errorf("%s: %s must arrive before %s; arrival order: %v", c.jid, firstWhat, secondWhat, c.pending())
	}
}
