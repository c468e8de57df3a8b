package integration

import (
	"fmt"
	"strconv"
	"testing"
)

// TestRoster_FeaturesAfterAuth_RFC6121_2_6_1_3_4 checks that the stream
// features after authentication advertise roster versioning (RFC 6121
// §2.6.1, urn:xmpp:features:rosterver) and subscription pre-approval
// (§3.4, urn:xmpp:features:pre-approval), which the server supports.
func TestRoster_FeaturesAfterAuth_RFC6121_2_6_1_3_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	w := dialWire(t, s)
	w.tlsStream()
	if n := w.authPlain("alice", alicePass); !n.is(nsSASL, "success") {
		t.Fatalf("SASL PLAIN failed: %s", n)
	}
	features := w.openDefault()
	for _, f := range []struct{ space, local string }{
		{"urn:xmpp:features:rosterver", "ver"},
		{"urn:xmpp:features:pre-approval", "sub"},
		{nsBind, "bind"},
	} {
		if features.child(f.space, f.local) == nil {
			t.Errorf("features after authentication lack <%s xmlns='%s'/>: %s", f.local, f.space, features)
		}
	}
}

// TestRoster_SetUpdateRemove_PushedToInterestedResources_RFC6121_2 goes
// through the life of one roster item with three resources of alice, two
// of which requested the roster and so are "interested" (RFC 6121 §2.1.6):
// the roster starts empty (§2.1.3, §2.1.4); a set with a name and groups
// (§2.3) is answered with a result and pushed to both interested
// resources, not to the third; a client cannot set the subscription state
// (§2.1.2.5, §2.3.2); an update (§2.4) and a removal (§2.5, pushed with
// subscription='remove') are pushed the same way, and a roster get always
// returns what the pushes said.
func TestRoster_SetUpdateRemove_PushedToInterestedResources_RFC6121_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	idle := imLogin(t, s, "alice", "idle") // never requests the roster
	bob := imBare(s, "bob")
	interested := []*client{phone, laptop}

	for _, c := range interested {
		if items := imRoster(c); len(items) != 0 {
			t.Fatalf("%s: a new account's roster has items: %v", c.jid, items)
		}
	}

	// Add, with 'subscription' and 'ask' the client may not set.
	imMustSet(phone, "<item jid='"+bob+"' name='Bob' subscription='both' ask='subscribe'><group>Friends</group><group>Work</group></item>")
	added := imItem{sub: "none", name: "Bob", groups: []string{"Friends", "Work"}}
	for _, c := range interested {
		imCheckItem(t, c.jid+" push after add", imPushItem(c, bob), added)
	}
	imNothing(idle, "a roster push, never having requested the roster", imIsAnyPush)
	imCheckItem(t, "roster after add", imRoster(laptop)[bob], added)

	// Update from the other resource: the name changes, the groups are
	// replaced.
	imMustSet(laptop, "<item jid='"+bob+"' name='Robert'><group>Family</group></item>")
	updated := imItem{sub: "none", name: "Robert", groups: []string{"Family"}}
	for _, c := range interested {
		imCheckItem(t, c.jid+" push after update", imPushItem(c, bob), updated)
	}
	imNothing(idle, "a roster push, never having requested the roster", imIsAnyPush)
	imCheckItem(t, "roster after update", imRoster(phone)[bob], updated)

	// Remove.
	imMustSet(phone, "<item jid='"+bob+"' subscription='remove'/>")
	for _, c := range interested {
		imCheckItem(t, c.jid+" push after removal", imPushItem(c, bob), imItem{sub: "remove"})
	}
	imNothing(idle, "a roster push, never having requested the roster", imIsAnyPush)
	if items := imRoster(laptop); len(items) != 0 {
		t.Errorf("roster after removal still has items: %v", items)
	}

	// The resource that never asked becomes interested by asking.
	imRoster(idle)
	imMustSet(phone, "<item jid='"+bob+"'/>")
	for _, c := range []*client{phone, laptop, idle} {
		imCheckItem(t, c.jid+" push after re-adding", imPushItem(c, bob), imItem{sub: "none"})
	}
}

// TestRoster_Errors_RFC6121_2_3_3_2_5_3 sends the roster requests RFC
// 6121 §2.1.5, §2.3.3 and §2.5.3 require the server to refuse, and checks
// the stanza error condition and type of each (as in the RFC's examples),
// and that neither roster changed.
func TestRoster_Errors_RFC6121_2_3_3_2_5_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	alice := imLogin(t, s, "alice", "phone")
	bob := imBare(s, "bob")
	carol := imBare(s, "carol")
	imMustSet(alice, "<item jid='"+carol+"' name='Carol'/>")

	cases := []struct {
		name    string
		stanza  string // %s is the id
		cond    string
		errType string
		section string
	}{
		{
			name:    "two items in one set",
			stanza:  "<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='" + bob + "'/><item jid='" + carol + "'/></query></iq>",
			cond:    "bad-request",
			errType: "modify",
			section: "§2.3.3",
		},
		{
			name:    "empty group",
			stanza:  "<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='" + bob + "'><group/></item></query></iq>",
			cond:    "not-acceptable",
			errType: "modify",
			section: "§2.3.3",
		},
		{
			name:    "the same group twice",
			stanza:  "<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='" + bob + "'><group>A</group><group>A</group></item></query></iq>",
			cond:    "bad-request",
			errType: "modify",
			section: "§2.3.3",
		},
		{
			name:    "removal of an item not in the roster",
			stanza:  "<iq type='set' id='%s'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' subscription='remove'/></query></iq>",
			cond:    "item-not-found",
			errType: "cancel",
			section: "§2.5.3",
		},
		{
			name:    "get of another user's roster",
			stanza:  "<iq type='get' id='%s' to='" + bob + "'><query xmlns='jabber:iq:roster'/></iq>",
			cond:    "forbidden",
			errType: "auth",
			section: "§2.1.5",
		},
		{
			name:    "set in another user's roster",
			stanza:  "<iq type='set' id='%s' to='" + bob + "'><query xmlns='jabber:iq:roster'><item jid='" + carol + "'/></query></iq>",
			cond:    "forbidden",
			errType: "auth",
			section: "§2.3.3",
		},
	}
	for i, tc := range cases {
		id := "err-" + strconv.Itoa(i)
		res := alice.iq(id, fmt.Sprintf(tc.stanza, id))
		cond, typ := stanzaErrorCondition(res)
		if res.attr("type") != "error" || cond != tc.cond || typ != tc.errType {
			t.Errorf("%s (RFC 6121 %s): got %s, want an error <%s/> of type %s", tc.name, tc.section, res, tc.cond, tc.errType)
		}
	}

	// Nothing changed: alice still has only carol, unpushed; bob's
	// roster is still empty.
	imNothing(alice, "a roster push after a refused request", imIsAnyPush)
	items := imRoster(alice)
	if len(items) != 1 {
		t.Errorf("alice's roster after refused requests: %v, want only %s", items, carol)
	}
	imCheckItem(t, "alice's item for carol", items[carol], imItem{sub: "none", name: "Carol"})
	if items := imRoster(imLogin(t, s, "bob", "desk")); len(items) != 0 {
		t.Errorf("bob's roster changed through alice's forbidden set: %v", items)
	}
}

// TestRoster_Versioning_RFC6121_2_6 checks roster versioning (RFC 6121
// §2.6.3): a get with an empty ver returns the whole roster and its version; a
// get with the current version returns an empty result (no <query/>) and
// nothing more; a get with an older version returns an empty result
// followed by pushes of exactly the changes since then, removals
// included, to that resource only; an unknown version returns the whole
// roster with the current version.
func TestRoster_Versioning_RFC6121_2_6(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	other := imLogin(t, s, "alice", "other")
	imRoster(other) // interested in ordinary pushes only
	bob, carol := imBare(s, "bob"), imBare(s, "carol")

	// fullRoster asserts a whole-roster answer with a 'ver' and returns
	// its version and items.
	fullRoster := func(ver string) (string, map[string]*node) {
		t.Helper()
		res := imRosterGet(phone, &ver)
		q := res.child(nsRoster, "query")
		if res.attr("type") != "result" || q == nil {
			t.Fatalf("roster get with ver=%q: got %s, want the whole roster", ver, res)
		}
		if q.attr("ver") == "" {
			t.Errorf("roster get with ver=%q: the answer has no 'ver' (RFC 6121 §2.6.3): %s", ver, res)
		}
		items := map[string]*node{}
		for i := range q.Children {
			items[q.Children[i].attr("jid")] = &q.Children[i]
		}
		return q.attr("ver"), items
	}
	// emptyResult asserts the answer to an up-to-date or incremental get.
	emptyResult := func(ver string) {
		t.Helper()
		res := imRosterGet(phone, &ver)
		if res.attr("type") != "result" || len(res.Children) != 0 {
			t.Fatalf("roster get with ver=%q: got %s, want an empty result", ver, res)
		}
	}

	v0, items := fullRoster("")
	if len(items) != 0 {
		t.Errorf("new roster has items: %v", items)
	}
	emptyResult(v0)
	imNothing(phone, "a roster push after an up-to-date get", imIsAnyPush)

	imMustSet(phone, "<item jid='"+bob+"' name='Bob'/>")
	imPush(phone, bob)
	imMustSet(phone, "<item jid='"+carol+"' name='Carol'><group>G</group></item>")
	v2 := imPush(phone, carol).child(nsRoster, "query").attr("ver")
	imSync(phone)
	phone.clear()
	other.clear()

	emptyResult(v2)
	imNothing(phone, "a roster push after an up-to-date get", imIsAnyPush)

	// Two changes after v2: bob renamed, carol removed.
	imMustSet(phone, "<item jid='"+bob+"' name='Robert'/>")
	imMustSet(phone, "<item jid='"+carol+"' subscription='remove'/>")
	v4 := imPush(phone, carol).child(nsRoster, "query").attr("ver")
	imSync(phone)
	imSync(other)
	phone.clear()
	other.clear()
	if v4 == v2 {
		t.Fatalf("the roster version did not change (%s) after two changes", v4)
	}

	// An incremental get from v2: the empty result comes first, then
	// exactly the two changes, in order, the last carrying the current
	// version.
	emptyResult(v2)
	imSync(phone)
	var pushes []*node
	for _, n := range phone.pending() {
		if imIsAnyPush(n) {
			pushes = append(pushes, n)
		}
	}
	if len(pushes) != 2 {
		t.Fatalf("incremental roster get from %s: %d pushes, want exactly 2 (rename, removal): %v", v2, len(pushes), pushes)
	}
	first := pushes[0].child(nsRoster, "query")
	imCheckItem(t, "first incremental push", first.child(nsRoster, "item"), imItem{sub: "none", name: "Robert"})
	if first.child(nsRoster, "item").attr("jid") != bob {
		t.Errorf("first incremental push is not bob's item: %s", pushes[0])
	}
	second := pushes[1].child(nsRoster, "query")
	if it := second.child(nsRoster, "item"); it.attr("jid") != carol || it.attr("subscription") != "remove" {
		t.Errorf("second incremental push is not carol's removal: %s", pushes[1])
	}
	if second.attr("ver") != v4 {
		t.Errorf("last incremental push has ver=%q, want the current version %q", second.attr("ver"), v4)
	}
	imNothing(other, "the pushes of another resource's incremental get", imIsAnyPush)
	phone.clear()

	// Versions the server does not know get the whole roster.
	for _, ver := range []string{"not-a-version", "999999999", "-1"} {
		got, items := fullRoster(ver)
		if got != v4 {
			t.Errorf("roster get with unknown ver=%q: answered ver=%q, want %q", ver, got, v4)
		}
		if len(items) != 1 || items[bob] == nil {
			t.Errorf("roster get with unknown ver=%q: items %v, want only %s", ver, items, bob)
		}
	}
	imNothing(phone, "a roster push after a full roster", imIsAnyPush)
}
