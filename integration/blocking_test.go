package integration

// The Blocking Command (XEP-0191) as the blocking user and the blocked
// contact observe it. Every name starts with "bl" so as not to clash with
// the helpers of other test files in this package.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Namespaces of the Blocking Command (XEP-0191 §9.1).
const (
	blNS       = "urn:xmpp:blocking"
	blNSErrors = "urn:xmpp:blocking:errors"
)

// blList retrieves the blocklist (XEP-0191 §3.2), which also subscribes c
// to block pushes, and returns the blocked JIDs, sorted.
func blList(c *client) []string {
	c.t.Helper()
	id := imID("blocklist")
	res := c.iq(id, fmt.Sprintf("<iq type='get' id='%s'><blocklist xmlns='%s'/></iq>", id, blNS))
	l := res.child(blNS, "blocklist")
	if res.attr("type") != "result" || l == nil {
		c.t.Fatalf("%s: blocklist get: %s, want a result with a <blocklist/> (XEP-0191 §3.2)", c.jid, res)
	}
	return blItems(c.t, l)
}

// blItems returns the 'jid' of each <item/> of a blocking element, sorted;
// it reports anything else the element holds.
func blItems(t testing.TB, el *node) []string {
	t.Helper()
	jids := []string{}
	for _, it := range el.Children {
		if !it.is(blNS, "item") {
			t.Errorf("unexpected %s in %s", &it, el)
			continue
		}
		jids = append(jids, it.attr("jid"))
	}
	slices.Sort(jids)
	return jids
}

// blCommand sends <block/> or <unblock/> (op) with an item for each of
// jids and returns the answer.
func blCommand(c *client, op string, jids ...string) *node {
	c.t.Helper()
	var items strings.Builder
	for _, j := range jids {
		fmt.Fprintf(&items, "<item jid='%s'/>", j)
	}
	id := imID(op)
	return c.iq(id, fmt.Sprintf("<iq type='set' id='%s'><%s xmlns='%s'>%s</%s></iq>", id, op, blNS, items.String(), op))
}

// blMust is blCommand for a command that must succeed (XEP-0191 §3.3–§3.5:
// an empty result).
func blMust(c *client, op string, jids ...string) {
	c.t.Helper()
	if res := blCommand(c, op, jids...); res.attr("type") != "result" {
		c.t.Fatalf("%s: <%s/> %q: %s, want a result", c.jid, op, jids, res)
	}
}

// blIsPush matches a block or unblock push (op; XEP-0191 §3.3–§3.5).
func blIsPush(op string) func(*node) bool {
	return func(n *node) bool {
		return n.is(nsClient, "iq") && n.attr("type") == "set" && n.child(blNS, op) != nil
	}
}

// blPush waits for the next push of op to c and checks that it carries
// exactly the items jids.
func blPush(c *client, op string, jids ...string) {
	c.t.Helper()
	push := c.waitFor("an <"+op+"/> push of "+fmt.Sprint(jids), blIsPush(op))
	want := slices.Sorted(slices.Values(jids))
	if want == nil {
		want = []string{}
	}
	if got := blItems(c.t, push.child(blNS, op)); !slices.Equal(got, want) {
		c.t.Errorf("%s: <%s/> push carries %q, want %q: %s", c.jid, op, got, want, push)
	}
}

// blCheckHidden checks the error a blocked party gets for a message or an
// iq get: service-unavailable, as if the user were not there (XEP-0191
// §3.3, XEP-0016 §2.14), with nothing that tells it was blocked.
func blCheckHidden(t testing.TB, what string, res *node) {
	t.Helper()
	cond, _ := stanzaErrorCondition(res)
	if res.attr("type") != "error" || cond != "service-unavailable" {
		t.Errorf("%s: got %s, want a service-unavailable error (XEP-0191 §3.3)", what, res)
		return
	}
	e := res.child(nsClient, "error")
	for _, c := range e.Children {
		text := strings.ToLower(c.Text)
		if c.XMLName.Space == blNSErrors || strings.Contains(text, "block") || strings.Contains(text, "privacy") {
			t.Errorf("%s: the error tells the sender it was blocked: %s", what, res)
		}
	}
}

// blCheckBlocked checks the error a user gets for a stanza to a JID the
// user blocks: not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>
// (XEP-0191 §3.3 example 9).
func blCheckBlocked(t testing.TB, what string, res *node) {
	t.Helper()
	cond, _ := stanzaErrorCondition(res)
	e := res.child(nsClient, "error")
	if res.attr("type") != "error" || cond != "not-acceptable" || e.child(blNSErrors, "blocked") == nil {
		t.Errorf("%s: got %s, want not-acceptable with <blocked xmlns='%s'/> (XEP-0191 §3.3)", what, res, blNSErrors)
	}
}

// blSendFor sends a stanza whose id is id and returns the error answered
// to it.
func blSendFor(c *client, id, raw string) *node {
	c.t.Helper()
	c.send(raw)
	return c.waitFor("the error answering "+id, func(n *node) bool { return n.attr("id") == id && n.attr("type") == "error" })
}

// blFrom matches every stanza from the bare JID bare or one of its full
// JIDs.
func blFrom(bare string) func(*node) bool {
	return func(n *node) bool {
		f := n.attr("from")
		return f == bare || strings.HasPrefix(f, bare+"/")
	}
}

// TestBlocking_BlockThenUnblock_WhatEachSideSees_XEP0191_3_2_to_3_4 has
// alice (phone, which requested the blocklist, and laptop, which did not
// and has carbons enabled) and bob (desk) subscribed to each other, and
// alice block bob from phone:
//
//   - §3.1: the server advertises urn:xmpp:blocking; §3.2: the blocklist
//     is empty at first;
//   - §3.3: the block is answered with a result, pushed to phone and not
//     to laptop; bob receives unavailable presence from both of alice's
//     resources; the blocklist holds bob;
//   - §3.3 (inbound): bob's messages to alice's full and bare JIDs and his
//     iqs to her full JID and her account are answered with
//     service-unavailable, without a word about blocking, and reach
//     nothing; his presence no longer reaches alice, and his new resource
//     is told nothing of alice's presence when it logs in (probes are not
//     answered);
//   - §3.3 (outbound): alice's message and iq to bob are refused with
//     not-acceptable and <blocked/>, are not delivered, and are not
//     carbon-copied to laptop (XEP-0280); alice's presence no longer
//     reaches bob;
//   - §3.4: the unblock is answered with a result and pushed to phone; bob's
//     resources receive alice's current presence; messages, iqs and
//     presence flow both ways again and the blocklist is empty.
func TestBlocking_BlockThenUnblock_WhatEachSideSees_XEP0191_3_2_to_3_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	desk := imLogin(t, s, "bob", "desk")
	for _, c := range []*client{phone, laptop, desk} {
		imReady(c)
	}
	imSubscribe(phone, desk)
	imSubscribe(desk, phone)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")
	if res := laptop.iq("carbons", "<iq type='set' id='carbons'><enable xmlns='"+cbNS+"'/></iq>"); res.attr("type") != "result" {
		t.Fatalf("laptop: enable carbons: %s", res)
	}
	for _, c := range []*client{phone, laptop, desk} {
		imSync(c)
		c.clear()
	}

	info := phone.iq("disco", "<iq type='get' id='disco' to='"+s.Domain+"'><query xmlns='"+nsDiscoInfo+"'/></iq>")
	var features []string
	for _, f := range info.child(nsDiscoInfo, "query").Children {
		features = append(features, f.attr("var"))
	}
	if !slices.Contains(features, blNS) {
		t.Errorf("disco#info features %q lack %s (XEP-0191 §3.1)", features, blNS)
	}
	// discoAlice is bob's disco#info query of alice's account, which the
	// server answers for her.
	discoAlice := func() *node {
		id := imID("disco-alice")
		return desk.iq(id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, aliceBare, nsDiscoInfo))
	}
	if res := discoAlice(); res.attr("type") != "result" {
		t.Fatalf("before the block, bob's disco#info of alice's account: %s, want a result", res)
	}
	plExpect(t, "before the block", phone, phone.jid, []*client{desk}, []string{plDelivered})

	if got := blList(phone); len(got) != 0 {
		t.Errorf("blocklist before any block: %q, want empty (XEP-0191 §3.2 example 5)", got)
	}
	blMust(phone, "block", bobBare)
	blPush(phone, "block", bobBare)
	for _, r := range []*client{phone, laptop} {
		desk.waitFor("unavailable presence from "+r.jid+" once alice blocked bob (XEP-0191 §3.3)", imPresence(r.jid, "unavailable"))
	}
	imNothing(laptop, "a block push, though it never requested the blocklist (XEP-0191 §3.3)", blIsPush("block"))
	if got := blList(phone); !slices.Equal(got, []string{bobBare}) {
		t.Errorf("blocklist after blocking bob: %q, want [%s]", got, bobBare)
	}

	// Inbound: bob learns nothing but that alice is not available.
	for _, to := range []string{phone.jid, aliceBare} {
		id := imID("msg")
		blCheckHidden(t, "bob's message to "+to, blSendFor(desk, id, fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>let me in</body></message>", id, to)))
	}
	id := imID("version")
	blCheckHidden(t, "bob's iq to alice's full JID", blSendFor(desk, id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, phone.jid, nsVersion)))
	blCheckHidden(t, "bob's disco#info of alice's account", discoAlice())
	// An iq result and an error message are dropped without an answer
	// (§3.3: "IQ stanzas of other types MUST be silently dropped"; RFC 6120
	// §8.3.1: an error is never answered with an error).
	result, bounced := imID("result"), imID("error")
	desk.send(fmt.Sprintf("<iq type='result' id='%s' to='%s'/>", result, phone.jid))
	desk.send(fmt.Sprintf("<message type='error' id='%s' to='%s'><error type='cancel'><item-not-found xmlns='%s'/></error></message>", bounced, phone.jid, nsStanzaErr))
	imSync(desk)
	imNothing(desk, "an answer to an iq result or an error message sent to a user who blocks bob", func(n *node) bool {
		return n.attr("id") == result || n.attr("id") == bounced
	})
	desk.send("<presence><show>away</show><status>blocked</status></presence>")
	desk.waitFor("bob's own presence change", imStatus(desk.jid, "blocked"))
	imSync(desk)
	for _, r := range []*client{phone, laptop} {
		imNothing(r, "a stanza from bob, whom alice blocked", blFrom(bobBare))
	}
	tablet := imLogin(t, s, "bob", "tablet")
	imReady(tablet)
	imNothing(tablet, "alice's presence while she blocks bob (XEP-0191 §3.3: probes are not answered)", imAnyPresenceFrom(aliceBare))
	imNothing(phone, "the presence of bob's new resource", blFrom(bobBare))

	// Outbound: alice is told she blocked bob.
	id = imID("msg")
	blCheckBlocked(t, "alice's message to bob", blSendFor(phone, id, fmt.Sprintf("<message id='%s' type='chat' to='%s'><body>sorry</body></message>", id, bobBare)))
	id = imID("version")
	blCheckBlocked(t, "alice's iq to bob's full JID", blSendFor(phone, id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, desk.jid, nsVersion)))
	phone.send("<presence><show>dnd</show><status>busy</status></presence>")
	phone.waitFor("alice's own presence change", imStatus(phone.jid, "busy"))
	imSync(phone)
	for _, b := range []*client{desk, tablet} {
		imNothing(b, "a stanza from alice, who blocked bob", blFrom(aliceBare))
	}
	imNothing(laptop, "a carbon of a message that was refused", func(n *node) bool { return n.child(cbNS, "sent") != nil })

	// Unblock.
	blMust(phone, "unblock", bobBare)
	blPush(phone, "unblock", bobBare)
	for _, b := range []*client{desk, tablet} {
		b.waitFor("phone's current presence once alice unblocked bob (XEP-0191 §3.4)", imStatus(phone.jid, "busy"))
		b.waitFor("laptop's current presence once alice unblocked bob (XEP-0191 §3.4)", imPresence(laptop.jid, ""))
	}
	if got := blList(phone); len(got) != 0 {
		t.Errorf("blocklist after unblocking bob: %q, want empty", got)
	}
	plExpect(t, "bob to alice after the unblock", phone, phone.jid, []*client{desk}, []string{plDelivered})
	plExpect(t, "alice to bob after the unblock", desk, desk.jid, []*client{phone}, []string{plDelivered})
	laptop.waitFor("a <sent/> carbon of alice's message to bob after the unblock", func(n *node) bool { return n.child(cbNS, "sent") != nil })
	if res := discoAlice(); res.attr("type") != "result" {
		t.Errorf("after the unblock, bob's disco#info of alice's account: %s, want a result", res)
	}
	id = imID("version")
	desk.send(fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, phone.jid, nsVersion))
	phone.waitFor("bob's iq after the unblock", func(n *node) bool { return n.is(nsClient, "iq") && n.attr("id") == id })
	desk.send("<presence><status>unblocked</status></presence>")
	for _, r := range []*client{phone, laptop} {
		r.waitFor("bob's presence after the unblock", imStatus(desk.jid, "unblocked"))
	}
}

// TestBlocking_SeveralJIDsOfflineAndUnblockAll_XEP0191_3_3_3_5 has alice
// block bob and carol with one command (§3.3: a <block/> may hold several
// items) and log out:
//
//   - bob's and carol's messages to the offline alice are refused with
//     service-unavailable, carol's subscription request gets no answer at
//     all (§3.3: presence is never answered);
//   - at alice's next login the blocklist still holds both (the block
//     "applies across sessions") and nothing of theirs was stored for her:
//     no offline message, no subscription request;
//   - unblocking all (§3.5: an empty <unblock/>) is pushed as an empty
//     <unblock/>, empties the blocklist, and their messages reach her
//     again.
func TestBlocking_SeveralJIDsOfflineAndUnblockAll_XEP0191_3_3_3_5(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	home := imLogin(t, s, "carol", "home")
	imReady(home)
	aliceBare, bobBare, carolBare := imBare(s, "alice"), imBare(s, "bob"), imBare(s, "carol")

	if got := blList(phone); len(got) != 0 {
		t.Fatalf("blocklist before any block: %q", got)
	}
	blMust(phone, "block", bobBare, carolBare)
	blPush(phone, "block", bobBare, carolBare)
	imLogout(phone)

	plExpect(t, "messages to the offline alice who blocks them", nil, aliceBare, []*client{desk, home}, []string{"service-unavailable", "service-unavailable"})
	imSendPresence(home, "subscribe", aliceBare)
	imSync(home)
	imNothing(home, "an answer to a subscription request to a user who blocks carol", blFrom(aliceBare))
	imNoErrors(home)

	again := imLogin(t, s, "alice", "again")
	if got, want := blList(again), []string{bobBare, carolBare}; !slices.Equal(got, want) {
		t.Errorf("blocklist at the next login: %q, want %q (XEP-0191 §3.3: the block applies across sessions)", got, want)
	}
	again.available(0)
	imNothing(again, "a stanza from a blocked JID stored while alice was offline", func(n *node) bool {
		return blFrom(bobBare)(n) || blFrom(carolBare)(n)
	})

	blMust(again, "unblock")
	blPush(again, "unblock")
	if got := blList(again); len(got) != 0 {
		t.Errorf("blocklist after unblocking all: %q, want empty (XEP-0191 §3.5)", got)
	}
	plExpect(t, "after unblocking all", again, aliceBare, []*client{desk, home}, []string{plDelivered, plDelivered})
}

// TestBlocking_StoredBeforeTheBlockIsNotDelivered_XEP0191_3_3 has bob send
// the offline alice a chat message and a subscription request, which the
// server stores for her (XEP-0160, RFC 6121 §3.1.3). alice then logs in,
// blocks bob before her initial presence and only then becomes available:
// "once the user has blocked communications with a JID, the user's server
// MUST NOT deliver any XML stanzas from the JID to the user" (§3.3), so
// neither the stored message nor the stored request may reach her.
func TestBlocking_StoredBeforeTheBlockIsNotDelivered_XEP0191_3_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	desk := imLogin(t, s, "bob", "desk")
	imReady(desk)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")
	desk.send("<message type='chat' to='" + aliceBare + "'><body>stored before the block</body></message>")
	imSendPresence(desk, "subscribe", aliceBare)
	imNoErrors(desk)

	phone := imLogin(t, s, "alice", "phone")
	blMust(phone, "block", bobBare)
	phone.available(0)
	imNothing(phone, "a subscription request from bob, whom she blocked before becoming available", imPresence(bobBare, "subscribe"))
	imNothing(phone, "a message from bob, whom she blocked before becoming available", message("stored before the block"))
}

// TestBlocking_Errors_XEP0191_3_3 sends malformed commands: a <block/>
// without items is bad-request (§3.3), an item without 'jid' bad-request
// (the schema of §10.1 requires it), a 'jid' that is no JID (RFC 7622)
// jid-malformed, whether alone or among valid items, in <block/> or in
// <unblock/>. None of them changes the blocklist or causes a push.
func TestBlocking_Errors_XEP0191_3_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	if got := blList(phone); len(got) != 0 {
		t.Fatalf("blocklist before any block: %q", got)
	}
	bob := imBare(s, "bob")
	cases := []struct {
		name, payload, cond string
	}{
		{"empty <block/>", "<block xmlns='" + blNS + "'/>", "bad-request"},
		{"item without jid", "<block xmlns='" + blNS + "'><item/></block>", "bad-request"},
		{"empty jid", "<block xmlns='" + blNS + "'><item jid=''/></block>", "jid-malformed"},
		{"empty localpart", "<block xmlns='" + blNS + "'><item jid='@" + s.Domain + "'/></block>", "jid-malformed"},
		{"empty resourcepart", "<block xmlns='" + blNS + "'><item jid='" + bob + "/'/></block>", "jid-malformed"},
		{"space in the localpart", "<block xmlns='" + blNS + "'><item jid='bo b@" + s.Domain + "'/></block>", "jid-malformed"},
		{"malformed after a valid item", "<block xmlns='" + blNS + "'><item jid='" + bob + "'/><item jid='a&lt;b@" + s.Domain + "'/></block>", "jid-malformed"},
		{"malformed in <unblock/>", "<unblock xmlns='" + blNS + "'><item jid='@" + s.Domain + "'/></unblock>", "jid-malformed"},
	}
	for _, tc := range cases {
		id := imID("bad")
		res := phone.iq(id, fmt.Sprintf("<iq type='set' id='%s'>%s</iq>", id, tc.payload))
		if cond, _ := stanzaErrorCondition(res); res.attr("type") != "error" || cond != tc.cond {
			t.Errorf("%s: got %s, want %s", tc.name, res, tc.cond)
		}
	}
	if got := blList(phone); len(got) != 0 {
		t.Errorf("blocklist after refused commands: %q, want empty", got)
	}
	imNothing(phone, "a push after refused commands", func(n *node) bool { return blIsPush("block")(n) || blIsPush("unblock")(n) })
}

// TestBlocking_IsTheDefaultPrivacyList_XEP0191_5 checks that blocking and
// privacy lists share one store (§5):
//
//   - blocking bob makes a default privacy list holding a jid deny rule for
//     him that applies to every stanza (no child elements);
//   - item 2: a jid deny rule for carol written into the default list with
//     jabber:iq:privacy is a block: it is pushed as <block/> to the
//     resource that requested the blocklist, shows in the blocklist and
//     refuses carol's messages; a rule for messages only is no block
//     (item 3) and does not show;
//   - item 2: removing bob's rule with jabber:iq:privacy unblocks him, with
//     an <unblock/> push;
//   - item 4: making another list the default makes its deny rules the
//     blocklist, with the pushes that change implies, and carol's messages
//     arrive again;
//   - blocking then writes into the new default list, ahead of its other
//     rules ("blocked items ... come first").
func TestBlocking_IsTheDefaultPrivacyList_XEP0191_5(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	home := imLogin(t, s, "carol", "home")
	bob, carol := imBare(s, "bob"), imBare(s, "carol")
	dave, erin := "dave@"+s.Domain, "erin@"+s.Domain

	if got := blList(phone); len(got) != 0 {
		t.Fatalf("blocklist before any block: %q", got)
	}
	blMust(phone, "block", bob)
	blPush(phone, "block", bob)
	_, _, def := plNames(phone)
	if def == "" {
		t.Fatalf("blocking bob left alice without a default privacy list (XEP-0191 §5)")
	}
	items := plGetList(phone, def)
	if len(items) != 1 || items[0].typ != "jid" || items[0].value != bob || items[0].action != "deny" || items[0].kinds != "" {
		t.Fatalf("default list %q after blocking bob: %+v, want one jid deny rule for %s for every stanza kind", def, items, bob)
	}
	bobOrder := items[0].order

	plMustSet(phone, fmt.Sprintf("<list name='%s'>"+
		"<item type='jid' value='%s' action='deny' order='%s'/>"+
		"<item type='jid' value='%s' action='deny' order='1000'/>"+
		"<item type='jid' value='%s' action='deny' order='1001'><message/></item>"+
		"</list>", def, bob, bobOrder, carol, dave))
	blPush(phone, "block", carol)
	if got, want := blList(phone), []string{bob, carol}; !slices.Equal(got, want) {
		t.Errorf("blocklist after adding carol's rule with privacy lists: %q, want %q (XEP-0191 §5 items 2, 3)", got, want)
	}
	plExpect(t, "carol, blocked through privacy lists", phone, phone.jid, []*client{home}, []string{"service-unavailable"})

	plMustSet(phone, fmt.Sprintf("<list name='%s'>"+
		"<item type='jid' value='%s' action='deny' order='1000'/>"+
		"<item type='jid' value='%s' action='deny' order='1001'><message/></item>"+
		"</list>", def, carol, dave))
	blPush(phone, "unblock", bob)
	if got, want := blList(phone), []string{carol}; !slices.Equal(got, want) {
		t.Errorf("blocklist after removing bob's rule with privacy lists: %q, want %q", got, want)
	}

	plMustSet(phone, "<list name='other'><item type='jid' value='"+erin+"' action='deny' order='5'/><item action='allow' order='6'/></list>")
	imNothing(phone, "a block push for a list that is not the default", blIsPush("block"))
	plMustSet(phone, "<default name='other'/>")
	blPush(phone, "block", erin)
	blPush(phone, "unblock", carol)
	if got, want := blList(phone), []string{erin}; !slices.Equal(got, want) {
		t.Errorf("blocklist after changing the default list: %q, want %q (XEP-0191 §5 item 4)", got, want)
	}
	plExpect(t, "carol, once the default list no longer blocks her", phone, phone.jid, []*client{home}, []string{plDelivered})

	blMust(phone, "block", carol)
	blPush(phone, "block", carol)
	items = plGetList(phone, "other")
	var carolAt, erinAt, fallAt int64 = -1, -1, -1
	for _, it := range items {
		var o int64
		fmt.Sscan(it.order, &o)
		switch {
		case it.typ == "jid" && it.value == carol && it.action == "deny" && it.kinds == "":
			carolAt = o
		case it.typ == "jid" && it.value == erin:
			erinAt = o
		case it.typ == "":
			fallAt = o
		}
	}
	if carolAt < 0 || erinAt < 0 || fallAt < 0 || carolAt > erinAt || carolAt > fallAt {
		t.Errorf("list 'other' after blocking carol: %+v, want a jid deny rule for %s ahead of every other rule (XEP-0191 §5)", items, carol)
	}
}

// TestBlocking_JIDMatching_XEP0191_6 blocks one JID of each form of §6 in
// turn and checks whose messages to alice are refused: a full JID blocks
// that resource only, a bare JID every resource of the account, a domain
// every JID at it, a domain/resource JID only that JID of the domain (none
// of the users). alice's own other resource is never blocked (XEP-0016
// note 5), not even when she blocks her own domain.
func TestBlocking_JIDMatching_XEP0191_6(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	desk := imLogin(t, s, "bob", "desk")
	tablet := imLogin(t, s, "bob", "tablet")
	home := imLogin(t, s, "carol", "home")
	senders := []*client{desk, tablet, home, laptop}
	const no = "service-unavailable"
	cases := []struct {
		jid  string
		want []string // desk, tablet, home, laptop
	}{
		{desk.jid, []string{no, plDelivered, plDelivered, plDelivered}},
		{imBare(s, "bob"), []string{no, no, plDelivered, plDelivered}},
		{s.Domain, []string{no, no, no, plDelivered}},
		{s.Domain + "/desk", []string{plDelivered, plDelivered, plDelivered, plDelivered}},
	}
	for _, tc := range cases {
		blMust(phone, "block", tc.jid)
		plExpect(t, "blocking "+tc.jid, phone, phone.jid, senders, tc.want)
		blMust(phone, "unblock", tc.jid)
		plExpect(t, "after unblocking "+tc.jid, phone, phone.jid, senders, []string{plDelivered, plDelivered, plDelivered, plDelivered})
	}
}

// TestBlocking_DirectedPresenceRecipientSeesUnavailable_XEP0191_3_3 has
// alice send directed presence to carol, who is no contact of hers (RFC
// 6121 §4.6), and then block her: carol, entitled to alice's presence by
// the directed presence, receives unavailable presence from alice
// (§3.3).
func TestBlocking_DirectedPresenceRecipientSeesUnavailable_XEP0191_3_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	home := imLogin(t, s, "carol", "home")
	phone.available(0)
	home.available(0)
	phone.send("<presence to='" + home.jid + "'><status>directed</status></presence>")
	home.waitFor("alice's directed presence", imStatus(phone.jid, "directed"))
	blMust(phone, "block", imBare(s, "carol"))
	home.waitFor("alice's unavailable presence once she blocked carol (XEP-0191 §3.3)", imPresence(phone.jid, "unavailable"))
}
