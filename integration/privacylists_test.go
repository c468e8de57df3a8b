package integration

// Privacy Lists (XEP-0016) as users' clients observe them. Every name
// starts with "pl" so as not to clash with the helpers of other test files
// in this package; the blocking tests use these helpers too.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
)

// plNS is the privacy lists namespace (XEP-0016 §7.1).
const plNS = "jabber:iq:privacy"

// plExtraPass is the password of the accounts these tests add beyond
// alice, bob and carol.
const plExtraPass = "privacy-extra-secret"

// plDelivered is plTry's outcome for a message that reached the recipient
// from the sender's full JID.
const plDelivered = "delivered"

// plLogin logs user in with mellium, binding resource; users other than
// alice, bob and carol must have been added with plExtraPass.
func plLogin(t testing.TB, s *servertest.Server, user, resource string) *client {
	t.Helper()
	switch user {
	case "alice", "bob", "carol":
		return imLogin(t, s, user, resource)
	}
	return login(t, s, user, plExtraPass, loginOptions{resource: resource})
}

// plQuery sends an iq of type typ (get or set) whose <query/> in
// jabber:iq:privacy holds inner, and returns the answer.
func plQuery(c *client, typ, inner string) *node {
	c.t.Helper()
	id := imID("privacy-" + typ)
	return c.iq(id, fmt.Sprintf("<iq type='%s' id='%s'><query xmlns='%s'>%s</query></iq>", typ, id, plNS, inner))
}

// plMustSet is a privacy set that must succeed (XEP-0016 §2.4–§2.8: an
// empty result).
func plMustSet(c *client, inner string) {
	c.t.Helper()
	if res := plQuery(c, "set", inner); res.attr("type") != "result" {
		c.t.Fatalf("%s: privacy set %s failed: %s", c.jid, inner, res)
	}
}

// plNames asks for the names of the lists (XEP-0016 §2.3) and returns them
// with the session's active list and the default list ("" for none).
func plNames(c *client) (names []string, active, def string) {
	c.t.Helper()
	res := plQuery(c, "get", "")
	q := res.child(plNS, "query")
	if res.attr("type") != "result" || q == nil {
		c.t.Fatalf("%s: privacy list names: %s", c.jid, res)
	}
	for _, ch := range q.Children {
		switch {
		case ch.is(plNS, "active"):
			active = ch.attr("name")
		case ch.is(plNS, "default"):
			def = ch.attr("name")
		case ch.is(plNS, "list"):
			names = append(names, ch.attr("name"))
		}
	}
	slices.Sort(names)
	return names, active, def
}

// plItem is a privacy list item (XEP-0016 §2.1) as the server returns it.
type plItem struct {
	typ, value, action, order string
	kinds                     string // the names of its children, sorted, comma-separated
}

// plGetList retrieves one list (XEP-0016 §2.3) and returns its items.
func plGetList(c *client, name string) []plItem {
	c.t.Helper()
	res := plQuery(c, "get", "<list name='"+name+"'/>")
	l := res.child(plNS, "query").child(plNS, "list")
	if res.attr("type") != "result" || l == nil || l.attr("name") != name {
		c.t.Fatalf("%s: get privacy list %q: %s", c.jid, name, res)
	}
	var items []plItem
	for _, it := range l.Children {
		if !it.is(plNS, "item") {
			c.t.Errorf("%s: list %q holds %s, which is no <item/>", c.jid, name, &it)
			continue
		}
		var kinds []string
		for _, k := range it.Children {
			kinds = append(kinds, k.XMLName.Local)
		}
		slices.Sort(kinds)
		items = append(items, plItem{
			typ: it.attr("type"), value: it.attr("value"), action: it.attr("action"), order: it.attr("order"),
			kinds: strings.Join(kinds, ","),
		})
	}
	return items
}

// plIsPush matches a privacy list push of list name (XEP-0016 §2.2 rule
// 10, §2.6: an iq set whose <query/> has one <list/> naming the list and
// nothing else).
func plIsPush(name string) func(*node) bool {
	return func(n *node) bool {
		q := n.child(plNS, "query")
		return n.is(nsClient, "iq") && n.attr("type") == "set" && q != nil &&
			len(q.Children) == 1 && q.child(plNS, "list").attr("name") == name && len(q.Children[0].Children) == 0
	}
}

// plIsAnyPush matches every privacy list push.
func plIsAnyPush(n *node) bool {
	return n.is(nsClient, "iq") && n.attr("type") == "set" && n.child(plNS, "query") != nil
}

// plCheckError checks that res is an error whose condition is one of
// conds.
func plCheckError(t testing.TB, what string, res *node, conds ...string) {
	t.Helper()
	cond, _ := stanzaErrorCondition(res)
	if res.attr("type") != "error" || !slices.Contains(conds, cond) {
		t.Errorf("%s: got %s, want an error with condition %s", what, res, strings.Join(conds, " or "))
	}
}

// plTry has each sender write a chat message to the address to and
// reports, for each, what became of it: plDelivered when rcpt received it
// from the sender's full JID, the condition of the error the sender got
// back when it was refused, "lost" when neither happened. rcpt is nil
// when the recipient has no session (the message may then be stored).
func plTry(rcpt *client, to string, senders ...*client) []string {
	senders[0].t.Helper()
	ids := make([]string, len(senders))
	for i, s := range senders {
		ids[i] = imID("try")
		s.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>probe %s</body></message>", ids[i], to, ids[i]))
	}
	// The senders' round trips prove their messages were routed, the
	// recipient's that it has what was queued for it.
	for _, s := range senders {
		imSync(s)
	}
	if rcpt != nil {
		imSync(rcpt)
	}
	out := make([]string, len(senders))
	for i, s := range senders {
		bounce := s.take(func(n *node) bool {
			return n.is(nsClient, "message") && n.attr("id") == ids[i] && n.attr("type") == "error"
		})
		var got *node
		if rcpt != nil {
			got = rcpt.take(message("probe " + ids[i]))
		}
		switch {
		case bounce != nil && got != nil:
			out[i] = "delivered and refused"
		case bounce != nil:
			cond, _ := stanzaErrorCondition(bounce)
			out[i] = cond
		case got == nil:
			out[i] = "lost"
		case got.attr("from") != s.jid:
			out[i] = "delivered from " + got.attr("from")
		default:
			out[i] = plDelivered
		}
	}
	return out
}

// plExpect runs plTry and compares its outcomes with want.
func plExpect(t testing.TB, what string, rcpt *client, to string, senders []*client, want []string) {
	t.Helper()
	if got := plTry(rcpt, to, senders...); !slices.Equal(got, want) {
		var who []string
		for _, s := range senders {
			who = append(who, s.jid)
		}
		t.Errorf("%s: messages from %q to %s: %q, want %q", what, who, to, got, want)
	}
}

// TestPrivacy_ManageLists_XEP0016_2_3_to_2_8 manages lists from two
// resources of alice, phone and laptop:
//
//   - §3: the server advertises jabber:iq:privacy; §2.3: with no lists the
//     names query is empty;
//   - §2.6, §2.7: creating a list is answered with a result and pushed to
//     both resources (only the name, §2.2 rule 10); the names query lists
//     it; the list reads back as written, item children included;
//   - §2.4: an active list is set for the requesting session only: phone
//     sees it as active, laptop does not; declining it (<active/>) clears
//     it;
//   - §2.5: the default list shows for both resources;
//   - §2.6: editing replaces the whole list (not a delta) and is pushed
//     again to both;
//   - §2.8: removing a list active for another resource is a conflict and
//     changes nothing; the resource using it may remove it, which is pushed;
//     removing the default list while it applies to the other resource is a
//     conflict too (§2.2 rule 11), and so is declining the default
//     (§2.5 example 22); once laptop is alone, it may decline the default
//     and remove the list.
func TestPrivacy_ManageLists_XEP0016_2_3_to_2_8(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	both := []*client{phone, laptop}

	info := phone.iq("disco", "<iq type='get' id='disco' to='"+s.Domain+"'><query xmlns='"+nsDiscoInfo+"'/></iq>")
	var features []string
	for _, f := range info.child(nsDiscoInfo, "query").Children {
		features = append(features, f.attr("var"))
	}
	if !slices.Contains(features, plNS) {
		t.Errorf("disco#info features %q lack %s (XEP-0016 §3)", features, plNS)
	}
	if names, active, def := plNames(phone); len(names) != 0 || active != "" || def != "" {
		t.Errorf("names before any list: %q active %q default %q, want nothing (XEP-0016 §2.3)", names, active, def)
	}

	// §2.6 example 23 and a list using every stanza kind.
	public := "<list name='public'>" +
		"<item type='jid' value='tybalt@example.com' action='deny' order='3'/>" +
		"<item type='jid' value='paris@example.org' action='deny' order='5'/>" +
		"<item action='allow' order='68'/></list>"
	plMustSet(phone, public)
	for _, c := range both {
		c.waitFor("the privacy list push of 'public' (XEP-0016 §2.6)", plIsPush("public"))
	}
	// A group rule needs a group in the roster (§2.1).
	imMustSet(phone, "<item jid='"+imBare(s, "bob")+"'><group>Friends</group></item>")
	special := "<list name='special'>" +
		"<item type='subscription' value='both' action='allow' order='10'/>" +
		"<item type='group' value='Friends' action='deny' order='11'><iq/></item>" +
		"<item action='deny' order='20'><message/><presence-in/><presence-out/></item>" +
		"</list>"
	plMustSet(phone, special)
	for _, c := range both {
		c.waitFor("the privacy list push of 'special'", plIsPush("special"))
	}
	if names, active, def := plNames(laptop); !slices.Equal(names, []string{"public", "special"}) || active != "" || def != "" {
		t.Errorf("names: %q active %q default %q, want [public special] and neither active nor default", names, active, def)
	}
	wantPublic := []plItem{
		{typ: "jid", value: "tybalt@example.com", action: "deny", order: "3"},
		{typ: "jid", value: "paris@example.org", action: "deny", order: "5"},
		{action: "allow", order: "68"},
	}
	if got := plGetList(laptop, "public"); !slices.Equal(got, wantPublic) {
		t.Errorf("list 'public' reads back as %+v, want %+v", got, wantPublic)
	}
	wantSpecial := []plItem{
		{typ: "subscription", value: "both", action: "allow", order: "10"},
		{typ: "group", value: "Friends", action: "deny", order: "11", kinds: "iq"},
		{action: "deny", order: "20", kinds: "message,presence-in,presence-out"},
	}
	if got := plGetList(phone, "special"); !slices.Equal(got, wantSpecial) {
		t.Errorf("list 'special' reads back as %+v, want %+v", got, wantSpecial)
	}

	// §2.4: active for phone only.
	plMustSet(phone, "<active name='special'/>")
	if _, active, _ := plNames(phone); active != "special" {
		t.Errorf("phone's active list is %q after activating 'special'", active)
	}
	if _, active, _ := plNames(laptop); active != "" {
		t.Errorf("laptop's active list is %q; phone's <active/> must apply to phone's session only (XEP-0016 §2.2 rule 1)", active)
	}
	// §2.5: the default is the account's.
	plMustSet(laptop, "<default name='public'/>")
	for _, c := range both {
		if _, _, def := plNames(c); def != "public" {
			t.Errorf("%s: default list %q, want public", c.jid, def)
		}
	}

	// §2.6: an edit replaces the list.
	plMustSet(laptop, "<list name='public'><item type='jid' value='iago@example.com' action='deny' order='1'/></list>")
	for _, c := range both {
		c.waitFor("the privacy list push of the edited 'public'", plIsPush("public"))
	}
	if got, want := plGetList(phone, "public"), []plItem{{typ: "jid", value: "iago@example.com", action: "deny", order: "1"}}; !slices.Equal(got, want) {
		t.Errorf("edited 'public' reads back as %+v, want %+v (the new items, not a delta)", got, want)
	}

	// §2.8: laptop may not remove phone's active list.
	plCheckError(t, "laptop removing phone's active list (XEP-0016 §2.8)", plQuery(laptop, "set", "<list name='special'/>"), "conflict")
	if names, _, _ := plNames(laptop); !slices.Contains(names, "special") {
		t.Errorf("the refused removal removed 'special' anyway: %q", names)
	}
	imNothing(laptop, "a push after a refused removal", plIsPush("special"))
	// §2.4 example 14: phone declines its active list, activates it again
	// and then removes it itself.
	plMustSet(phone, "<active/>")
	if _, active, _ := plNames(phone); active != "" {
		t.Errorf("phone's active list is %q after declining it", active)
	}
	plMustSet(phone, "<active name='special'/>")
	plMustSet(phone, "<list name='special'/>")
	for _, c := range both {
		c.waitFor("the privacy list push of the removed 'special' (XEP-0016 §2.8)", plIsPush("special"))
	}
	if names, active, _ := plNames(phone); !slices.Equal(names, []string{"public"}) || active != "" {
		t.Errorf("after removing 'special': names %q, active %q; want [public] and no active list", names, active)
	}

	// The default list applies to laptop: phone can neither remove it nor
	// decline it nor choose another (§2.2 rule 11, §2.5 examples 18, 22).
	plMustSet(phone, "<list name='other'><item action='allow' order='1'/></list>")
	for _, c := range both {
		c.waitFor("the privacy list push of 'other'", plIsPush("other"))
	}
	plCheckError(t, "phone removing the default list that applies to laptop", plQuery(phone, "set", "<list name='public'/>"), "conflict")
	plCheckError(t, "phone declining the default list that applies to laptop", plQuery(phone, "set", "<default/>"), "conflict")
	plCheckError(t, "phone changing the default list that applies to laptop", plQuery(phone, "set", "<default name='other'/>"), "conflict")
	if _, _, def := plNames(laptop); def != "public" {
		t.Errorf("after refused changes the default list is %q, want public", def)
	}

	// Alone, laptop may decline the default and remove the list.
	imLogout(phone)
	plMustSet(laptop, "<default/>")
	plMustSet(laptop, "<list name='public'/>")
	if names, active, def := plNames(laptop); !slices.Equal(names, []string{"other"}) || active != "" || def != "" {
		t.Errorf("at the end: names %q active %q default %q, want [other] and neither active nor default", names, active, def)
	}
}

// TestPrivacy_Errors_XEP0016_2_1_2_3_to_2_8 sends the malformed and
// impossible requests XEP-0016 names an error for, and checks that none of
// them stored anything:
//
//   - §2.3: a list that does not exist → item-not-found; two lists in one
//     get → bad-request;
//   - §2.4, §2.5: an active or default list that does not exist →
//     item-not-found; §2.8: removing one → item-not-found;
//   - §2.1: more than one child in a set, duplicate 'order' values, an item
//     without 'order' or 'action' or with an unknown one, an unknown type,
//     a subscription value other than both, to, from and none → bad-request;
//     a jid rule whose value is no JID → jid-malformed (or bad-request); a
//     group rule naming a group not in the roster → item-not-found.
func TestPrivacy_Errors_XEP0016_2_1_2_3_to_2_8(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	plMustSet(phone, "<list name='exists'><item action='allow' order='1'/></list>")
	phone.waitFor("the push of 'exists'", plIsPush("exists"))

	cases := []struct {
		name, typ, inner string
		conds            []string
	}{
		{"§2.3 get a missing list", "get", "<list name='missing'/>", []string{"item-not-found"}},
		{"§2.3 get two lists", "get", "<list name='exists'/><list name='missing'/>", []string{"bad-request"}},
		{"§2.4 activate a missing list", "set", "<active name='missing'/>", []string{"item-not-found"}},
		{"§2.5 make a missing list the default", "set", "<default name='missing'/>", []string{"item-not-found"}},
		{"§2.8 remove a missing list", "set", "<list name='missing'/>", []string{"item-not-found"}},
		{"§2.1 two children in a set", "set", "<active name='exists'/><default name='exists'/>", []string{"bad-request"}},
		{"§2.1 duplicate order", "set", "<list name='bad'><item action='deny' order='1' type='jid' value='a@example.com'/><item action='allow' order='1'/></list>", []string{"bad-request"}},
		{"§2.1 item without order", "set", "<list name='bad'><item action='deny'/></list>", []string{"bad-request"}},
		{"§2.1 negative order", "set", "<list name='bad'><item action='deny' order='-1'/></list>", []string{"bad-request"}},
		{"§2.1 item without action", "set", "<list name='bad'><item order='1'/></list>", []string{"bad-request"}},
		{"§2.1 unknown action", "set", "<list name='bad'><item action='reject' order='1'/></list>", []string{"bad-request"}},
		{"§2.1 unknown type", "set", "<list name='bad'><item type='domain' value='example.com' action='deny' order='1'/></list>", []string{"bad-request"}},
		{"§2.1 unknown subscription", "set", "<list name='bad'><item type='subscription' value='remove' action='deny' order='1'/></list>", []string{"bad-request"}},
		{"§2.1 jid rule with no JID", "set", "<list name='bad'><item type='jid' value='@example.com' action='deny' order='1'/></list>", []string{"jid-malformed", "bad-request"}},
		{"§2.1 group not in the roster", "set", "<list name='bad'><item type='group' value='Nobody' action='deny' order='1'/></list>", []string{"item-not-found"}},
	}
	for _, tc := range cases {
		plCheckError(t, tc.name, plQuery(phone, tc.typ, tc.inner), tc.conds...)
	}
	if names, active, def := plNames(phone); !slices.Equal(names, []string{"exists"}) || active != "" || def != "" {
		t.Errorf("after the refused requests: names %q active %q default %q, want [exists] and neither active nor default", names, active, def)
	}
	imNothing(phone, "a privacy list push after refused requests", plIsAnyPush)
}

// TestPrivacy_ActiveListAppliesToItsSessionOnly_XEP0016_2_2_2_4 gives alice
// two sessions, phone (priority 5) and laptop (priority 1), and activates
// on phone a list denying messages from bob (§2.9 example 29):
//
//   - bob's message to phone is refused with service-unavailable (§2.14),
//     carol's reaches phone, bob's reaches laptop (§2.2 rule 1: an active
//     list affects only its session);
//   - bob's message to alice's bare JID reaches laptop and not phone:
//     privacy lists come before the delivery rules (§2.2 rule 4), so
//     phone, though of higher priority, is not a candidate for it;
//   - once phone declines its active list (§2.4) bob's message reaches it.
func TestPrivacy_ActiveListAppliesToItsSessionOnly_XEP0016_2_2_2_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	bob := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	phone.available(5)
	laptop.available(1)
	bobBare := imBare(s, "bob")

	plMustSet(phone, "<list name='no-bob'><item type='jid' value='"+bobBare+"' action='deny' order='3'><message/></item></list>")
	plMustSet(phone, "<active name='no-bob'/>")

	plExpect(t, "phone with its active list", phone, phone.jid, []*client{bob, carol}, []string{"service-unavailable", plDelivered})
	plExpect(t, "laptop without an active list", laptop, laptop.jid, []*client{bob}, []string{plDelivered})
	plExpect(t, "the bare JID: laptop", laptop, imBare(s, "alice"), []*client{bob}, []string{plDelivered})
	plExpect(t, "the bare JID: phone", phone, imBare(s, "alice"), []*client{carol}, []string{plDelivered})
	imNothing(phone, "a message from bob", func(n *node) bool { return n.is(nsClient, "message") && strings.HasPrefix(n.attr("from"), bobBare) })

	plMustSet(phone, "<active/>")
	plExpect(t, "phone after declining its active list", phone, phone.jid, []*client{bob}, []string{plDelivered})
}

// TestPrivacy_DefaultListAppliesWithoutActiveListAndOffline_XEP0016_2_2
// makes a list denying messages from carol alice's default list while her
// phone has an active list allowing everything:
//
//   - §2.2 rule 1: phone's active list alone applies to it (no layering):
//     carol's message reaches phone;
//   - §2.2 rule 2: the default list applies to laptop, which has no active
//     list: carol's message to it is refused with service-unavailable,
//     bob's arrives;
//   - §2.2 rule 2: it applies when alice has no session at all: carol's
//     message to the offline alice is refused and not stored, bob's is
//     stored and is the only one alice's next session receives.
func TestPrivacy_DefaultListAppliesWithoutActiveListAndOffline_XEP0016_2_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	bob := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	phone.available(0)
	laptop.available(0)
	aliceBare, carolBare := imBare(s, "alice"), imBare(s, "carol")

	plMustSet(phone, "<list name='no-carol'><item type='jid' value='"+carolBare+"' action='deny' order='1'><message/></item></list>")
	plMustSet(phone, "<list name='open'><item action='allow' order='1'/></list>")
	plMustSet(phone, "<active name='open'/>")
	plMustSet(laptop, "<default name='no-carol'/>")

	plExpect(t, "phone, whose active list allows everything", phone, phone.jid, []*client{carol}, []string{plDelivered})
	plExpect(t, "laptop, under the default list", laptop, laptop.jid, []*client{carol, bob}, []string{"service-unavailable", plDelivered})

	imLogout(phone)
	imLogout(laptop)
	plExpect(t, "offline alice, under the default list", nil, aliceBare, []*client{carol}, []string{"service-unavailable"})
	bob.send("<message type='chat' to='" + aliceBare + "'><body>stored for alice</body></message>")
	imNoErrors(bob)

	tablet := imLogin(t, s, "alice", "tablet")
	tablet.available(0)
	tablet.waitFor("bob's message stored while alice was offline", message("stored for alice"))
	imNothing(tablet, "a message from carol, whom the default list refuses", func(n *node) bool {
		return n.is(nsClient, "message") && strings.HasPrefix(n.attr("from"), carolBare)
	})
}

// TestPrivacy_AllowOneDenyTheRest_XEP0016_2_2_2_9 makes alice's default
// list "allow messages from bob, deny all other messages" (rules in
// ascending order, the first match decides, §2.2 rules 5, 6; a
// fall-through item with <message/>, §2.9 example 32):
//
//   - bob's message arrives, carol's is refused with service-unavailable,
//     with no hint that a privacy list refused it (§2.14);
//   - the list says nothing about presence: carol's directed presence
//     reaches alice (§2.1: <message/> blocks messages only);
//   - it says nothing about alice's outgoing messages: hers reach carol
//     (§2.1: <message/> blocks incoming messages);
//   - alice's other resource is not filtered (note 5: never block a user's
//     resources from one another).
func TestPrivacy_AllowOneDenyTheRest_XEP0016_2_2_2_9(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	bob := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	phone.available(0)

	plMustSet(phone, "<list name='only-bob'>"+
		"<item type='jid' value='"+imBare(s, "bob")+"' action='allow' order='10'><message/></item>"+
		"<item action='deny' order='20'><message/></item></list>")
	plMustSet(phone, "<default name='only-bob'/>")

	plExpect(t, "the positive list", phone, phone.jid, []*client{bob, carol, laptop}, []string{plDelivered, "service-unavailable", plDelivered})

	id := imID("refused")
	carol.send(fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>hello?</body></message>", id, phone.jid))
	bounce := carol.waitFor("the error for carol's message", func(n *node) bool { return n.attr("id") == id && n.attr("type") == "error" })
	blCheckHidden(t, "carol's message refused by alice's privacy list", bounce)

	carol.send("<presence to='" + phone.jid + "'><status>directed</status></presence>")
	phone.waitFor("carol's directed presence, which the list does not deny", imStatus(carol.jid, "directed"))
	plExpect(t, "alice's own outgoing message", carol, carol.jid, []*client{phone}, []string{plDelivered})
}

// TestPrivacy_PresenceOutHidesUser_XEP0016_2_11 has bob subscribed to
// alice's presence and makes a list denying alice's outgoing presence
// notifications to bob (§2.11 example 37) her default list:
//
//   - bob receives unavailable presence from alice's resource as soon as
//     the list applies (§2.11: "MUST send unavailable presence");
//   - alice's later presence changes do not reach him, while messages
//     still flow both ways (the rule covers presence-out only);
//   - when alice edits the list so that it no longer denies bob, he
//     receives her current presence again (§2.2 rule 8: an edit applies
//     at once; the counterpart of XEP-0191 §3.4).
func TestPrivacy_PresenceOutHidesUser_XEP0016_2_11(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	bob := imLogin(t, s, "bob", "desk")
	imReady(phone)
	imReady(bob)
	imSubscribe(bob, phone)
	bob.waitFor("alice's presence after the subscription", imPresence(phone.jid, ""))
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")

	plMustSet(phone, "<list name='hide'><item type='jid' value='"+bobBare+"' action='deny' order='13'><presence-out/></item></list>")
	imSync(phone)
	imNothing(bob, "alice's unavailable presence before the list applies", imPresence(phone.jid, "unavailable"))
	plMustSet(phone, "<default name='hide'/>")
	bob.waitFor("alice's unavailable presence once her list hides her (XEP-0016 §2.11)", imPresence(phone.jid, "unavailable"))

	phone.send("<presence><show>chat</show><status>hidden from bob</status></presence>")
	phone.waitFor("alice's own presence change", imStatus(phone.jid, "hidden from bob"))
	imSync(phone)
	imNothing(bob, "alice's presence, which her list denies him", imAnyPresenceFrom(aliceBare))
	plExpect(t, "bob's message to the hidden alice", phone, phone.jid, []*client{bob}, []string{plDelivered})
	plExpect(t, "the hidden alice's message to bob", bob, bob.jid, []*client{phone}, []string{plDelivered})

	plMustSet(phone, "<list name='hide'><item type='jid' value='dave@"+s.Domain+"' action='deny' order='13'><presence-out/></item></list>")
	bob.waitFor("alice's current presence once her list no longer hides her", imStatus(phone.jid, "hidden from bob"))
}

// TestPrivacy_PresenceInDenyShowsContactOffline_XEP0016_2_10 has alice,
// subscribed to bob and seeing him online, activate a list that denies
// presence-in from him:
//   - her session receives unavailable presence on bob's behalf at once
//     (§2.10: the server SHOULD send it for a contact that was available),
//     while her other session, without the list, sees nothing change;
//   - bob's later presence changes do not reach the session with the
//     list, but messages still do (the rule covers presence-in only);
//   - when she declines the list, the session receives bob's current
//     presence again.
func TestPrivacy_PresenceInDenyShowsContactOffline_XEP0016_2_10(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	bob := imLogin(t, s, "bob", "desk")
	for _, c := range []*client{phone, laptop, bob} {
		imReady(c)
	}
	imSubscribe(phone, bob)
	phone.waitFor("bob's presence after the subscription", imPresence(bob.jid, ""))
	laptop.waitFor("bob's presence after the subscription", imPresence(bob.jid, ""))
	bobBare := imBare(s, "bob")

	plMustSet(phone, "<list name='no-bob-presence'><item type='jid' value='"+bobBare+"' action='deny' order='1'><presence-in/></item></list>")
	plMustSet(phone, "<active name='no-bob-presence'/>")
	phone.waitFor("bob's unavailable presence once the list denies his presence-in (XEP-0016 §2.10)", imPresence(bob.jid, "unavailable"))
	imNothing(laptop, "bob's unavailable presence on the session without the list", imPresence(bob.jid, "unavailable"))

	bob.send("<presence><status>denied to the phone</status></presence>")
	laptop.waitFor("bob's presence change on the session without the list", imStatus(bob.jid, "denied to the phone"))
	imNothing(phone, "bob's presence change, which the phone's list denies", imAnyPresenceFrom(bobBare))
	plExpect(t, "bob's message to the phone", phone, phone.jid, []*client{bob}, []string{plDelivered})

	plMustSet(phone, "<active/>")
	phone.waitFor("bob's current presence once the list is declined", imStatus(bob.jid, "denied to the phone"))
}

// TestPrivacy_GroupAndSubscriptionRules_XEP0016_2_1_2_2 sets up alice's
// roster with real roster sets and subscription handshakes:
//
//	bob    subscription both, group Friends
//	carol  subscription to (alice subscribed to carol), group Work
//	dave   subscription from (dave subscribed to alice), no group
//	erin   no roster item at all
//
// and makes alice's active list, edited between cases (§2.2 rule 8),
// deny messages of one group or one subscription state. Only the matching
// contacts' messages are refused: a group rule matches the members of the
// group, a subscription rule matches that state exactly, "none" also
// matching entities not in the roster (§2.1). Then, with the rule for
// Friends in place, bob leaves the group and carol joins it through roster
// sets: the next messages follow the new groups (§2.2 rule 9).
func TestPrivacy_GroupAndSubscriptionRules_XEP0016_2_1_2_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	s.AddUser(t, "dave", plExtraPass)
	s.AddUser(t, "erin", plExtraPass)
	phone := imLogin(t, s, "alice", "phone")
	bob := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	dave := plLogin(t, s, "dave", "room")
	erin := plLogin(t, s, "erin", "den")
	for _, c := range []*client{phone, bob, carol, dave, erin} {
		imReady(c)
	}
	imSubscribe(phone, bob)
	imSubscribe(bob, phone)
	imSubscribe(phone, carol)
	imSubscribe(dave, phone)
	bobBare, carolBare, daveBare := imBare(s, "bob"), imBare(s, "carol"), imBare(s, "dave")
	imMustSet(phone, "<item jid='"+bobBare+"'><group>Friends</group></item>")
	imMustSet(phone, "<item jid='"+carolBare+"'><group>Work</group></item>")
	items := imRoster(phone)
	imCheckItem(t, "alice's item for bob", items[bobBare], imItem{sub: "both", groups: []string{"Friends"}})
	imCheckItem(t, "alice's item for carol", items[carolBare], imItem{sub: "to", groups: []string{"Work"}})
	imCheckItem(t, "alice's item for dave", items[daveBare], imItem{sub: "from"})
	if len(items) != 3 {
		t.Fatalf("alice's roster: %v, want bob, carol and dave only", items)
	}

	plMustSet(phone, "<list name='rules'><item action='allow' order='1'/></list>")
	plMustSet(phone, "<active name='rules'/>")
	senders := []*client{bob, carol, dave, erin}
	const refused = "service-unavailable"
	cases := []struct {
		typ, value string
		want       []string // bob, carol, dave, erin
	}{
		{"group", "Friends", []string{refused, plDelivered, plDelivered, plDelivered}},
		{"group", "Work", []string{plDelivered, refused, plDelivered, plDelivered}},
		{"subscription", "both", []string{refused, plDelivered, plDelivered, plDelivered}},
		{"subscription", "to", []string{plDelivered, refused, plDelivered, plDelivered}},
		{"subscription", "from", []string{plDelivered, plDelivered, refused, plDelivered}},
		{"subscription", "none", []string{plDelivered, plDelivered, plDelivered, refused}},
	}
	for _, tc := range cases {
		plMustSet(phone, fmt.Sprintf("<list name='rules'><item type='%s' value='%s' action='deny' order='5'><message/></item></list>", tc.typ, tc.value))
		plExpect(t, fmt.Sprintf("deny messages from %s %q", tc.typ, tc.value), phone, phone.jid, senders, tc.want)
	}

	// §2.2 rule 9: group changes apply at once.
	plMustSet(phone, "<list name='rules'><item type='group' value='Friends' action='deny' order='5'><message/></item></list>")
	imMustSet(phone, "<item jid='"+bobBare+"'><group>Family</group></item>")
	imMustSet(phone, "<item jid='"+carolBare+"'><group>Work</group><group>Friends</group></item>")
	plExpect(t, "deny messages from Friends after bob left it and carol joined", phone, phone.jid, senders,
		[]string{plDelivered, refused, plDelivered, plDelivered})
}

// plSeen reports whether rcpt has received a presence from sender's full
// JID with the given status, after sender's and rcpt's round trips.
func plSeen(sender, rcpt *client, status string) bool {
	sender.t.Helper()
	imSync(sender)
	imSync(rcpt)
	return rcpt.take(imStatus(sender.jid, status)) != nil
}

// plIQ has from send an iq get to the full JID of rcpt and reports
// plDelivered when rcpt received it, else the condition of the error from
// got back, or "lost". (A mellium client answers an iq it does not handle
// with an error of its own, so only delivery tells; and that answer may be
// refused by the asker's own rules, so it is not waited for.)
func plIQ(from, rcpt *client) string {
	from.t.Helper()
	id := imID("iq")
	from.send(fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, rcpt.jid, nsVersion))
	imSync(from)
	imSync(rcpt)
	if rcpt.take(func(n *node) bool { return n.is(nsClient, "iq") && n.attr("id") == id }) != nil {
		return plDelivered
	}
	if res := from.take(func(n *node) bool { return n.is(nsClient, "iq") && n.attr("id") == id && n.attr("type") == "error" }); res != nil {
		cond, _ := stanzaErrorCondition(res)
		return cond
	}
	return "lost"
}

// TestPrivacy_StanzaKinds_XEP0016_2_9_to_2_13 has alice and bob subscribed
// to each other and makes alice's active list deny bob one kind of stanza
// at a time (§2.1), checking six exchanges each time:
//
//   - <message/> refuses bob's messages (§2.9), <iq/> his iqs (§2.12),
//     <presence-in/> his presence notifications (§2.10), <presence-out/>
//     alice's presence notifications to him (§2.11), and nothing else:
//     these children block incoming messages and iqs only, so alice's
//     messages and iqs to bob go through;
//   - a rule without children blocks everything in both directions
//     (§2.13), alice's stanzas to bob being refused with not-acceptable
//     (§2.14 example 51); incoming ones are refused with
//     service-unavailable (§2.14).
func TestPrivacy_StanzaKinds_XEP0016_2_9_to_2_13(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	imReady(phone)
	imReady(desk)
	imSubscribe(phone, desk)
	imSubscribe(desk, phone)
	bobBare := imBare(s, "bob")
	plMustSet(phone, "<list name='kinds'><item action='allow' order='1'/></list>")
	plMustSet(phone, "<active name='kinds'/>")

	const (
		ok     = plDelivered
		hidden = "hidden"
		shown  = "shown"
	)
	cases := []struct {
		kind string // the item's child, "" for none
		// What became of: bob's message to alice, bob's iq to alice, bob's
		// presence, alice's presence, alice's message to bob, alice's iq to
		// bob.
		want [6]string
	}{
		{"message", [6]string{"service-unavailable", ok, shown, shown, ok, ok}},
		{"iq", [6]string{ok, "service-unavailable", shown, shown, ok, ok}},
		{"presence-in", [6]string{ok, ok, hidden, shown, ok, ok}},
		{"presence-out", [6]string{ok, ok, shown, hidden, ok, ok}},
		{"", [6]string{"service-unavailable", "service-unavailable", hidden, hidden, "not-acceptable", "not-acceptable"}},
	}
	// seen has sender change its presence to a new status and reports
	// whether rcpt sees the change.
	seen := func(sender, rcpt *client, status string) string {
		sender.send("<presence><status>" + status + "</status></presence>")
		sender.waitFor("its own presence "+status, imStatus(sender.jid, status))
		if plSeen(sender, rcpt, status) {
			return shown
		}
		return hidden
	}
	for i, tc := range cases {
		child := ""
		if tc.kind != "" {
			child = "<" + tc.kind + "/>"
		}
		plMustSet(phone, fmt.Sprintf("<list name='kinds'><item type='jid' value='%s' action='deny' order='1'>%s</item></list>", bobBare, child))
		var got [6]string
		got[0] = plTry(phone, phone.jid, desk)[0]
		got[1] = plIQ(desk, phone)
		got[2] = seen(desk, phone, fmt.Sprintf("bob %d", i))
		got[3] = seen(phone, desk, fmt.Sprintf("alice %d", i))
		got[4] = plTry(desk, desk.jid, phone)[0]
		got[5] = plIQ(phone, desk)
		if got != tc.want {
			t.Errorf("deny <%s/> from bob: got %q, want %q\n(bob's message, bob's iq, bob's presence, alice's presence, alice's message, alice's iq)", tc.kind, got, tc.want)
		}
	}
}

// TestPrivacy_ActiveListEndsWithItsSession_XEP0016_2_2 activates a list
// denying bob's messages on alice's session "same" and then logs alice in
// again with the same resource, which replaces the first session (RFC 6120
// §7.7.2.2: the old one gets a <conflict/> stream error). An active list
// applies "only for the duration of the session(s)" it was activated for
// (§2.2 rule 1), and the new session activated none: it reports no active
// list and bob's messages reach it.
func TestPrivacy_ActiveListEndsWithItsSession_XEP0016_2_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	first := imLogin(t, s, "alice", "same")
	bob := imLogin(t, s, "bob", "desk")
	plMustSet(first, "<list name='no-bob'><item type='jid' value='"+imBare(s, "bob")+"' action='deny' order='1'><message/></item></list>")
	plMustSet(first, "<active name='no-bob'/>")
	plExpect(t, "the first session, with its active list", first, first.jid, []*client{bob}, []string{"service-unavailable"})

	second := imLogin(t, s, "alice", "same")
	select {
	case <-first.done:
	case <-time.After(wireTimeout):
		t.Fatal("the first session was not closed after the second bound its JID")
	}
	if _, active, _ := plNames(second); active != "" {
		t.Errorf("the new session reports the active list %q of the session it replaced (XEP-0016 §2.2 rule 1)", active)
	}
	plExpect(t, "the new session, which activated no list", second, second.jid, []*client{bob}, []string{plDelivered})
}
