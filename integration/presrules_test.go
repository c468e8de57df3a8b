package integration

// Presence authorization rules (RFC 5025 sub-handling over RFC 4745 common
// policy), set through Herald's urn:xmpp:herald:pres-rules:0 protocol, as
// the requester and the user observe them. Every name starts with "pr" so
// as not to clash with the helpers of other test files in this package.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/herald-im/herald/internal/servertest"
)

// Namespaces of the protocol and of the documents it carries.
const (
	prNS = "urn:xmpp:herald:pres-rules:0"
	prCP = "urn:ietf:params:xml:ns:common-policy"
	prPR = "urn:ietf:params:xml:ns:pres-rules"
)

// prRule is a rule whose only condition is an <identity/> holding identity
// (raw XML; "" for a rule without conditions, which applies to everyone)
// and whose action is <sub-handling>sub</sub-handling>.
func prRule(id, identity, sub string) string {
	cond := ""
	if identity != "" {
		cond = "<conditions><identity>" + identity + "</identity></conditions>"
	}
	return fmt.Sprintf("<rule id='%s'>%s<actions><sub-handling xmlns='%s'>%s</sub-handling></actions></rule>", id, cond, prPR, sub)
}

// prSet sends an iq set whose <pres-rules/> holds inner and returns the
// answer.
func prSet(c *client, inner string) *node {
	c.t.Helper()
	id := imID("pres-rules-set")
	return c.iq(id, fmt.Sprintf("<iq type='set' id='%s'><pres-rules xmlns='%s'>%s</pres-rules></iq>", id, prNS, inner))
}

// prMustSetRules stores a ruleset of rules for c's account; it must
// succeed with an empty result.
func prMustSetRules(c *client, rules ...string) {
	c.t.Helper()
	res := prSet(c, fmt.Sprintf("<ruleset xmlns='%s'>%s</ruleset>", prCP, strings.Join(rules, "")))
	if res.attr("type") != "result" || len(res.Children) != 0 {
		c.t.Fatalf("%s: setting presence rules failed: %s", c.jid, res)
	}
}

// prGet asks for the presence rules of the account to ("" for c's own)
// and returns the answer.
func prGet(c *client, to string) *node {
	c.t.Helper()
	id := imID("pres-rules-get")
	attr := ""
	if to != "" {
		attr = fmt.Sprintf(" to='%s'", to)
	}
	return c.iq(id, fmt.Sprintf("<iq type='get' id='%s'%s><pres-rules xmlns='%s'/></iq>", id, attr, prNS))
}

// prStanzaError returns the defined condition of an error answer and its
// text.
func prStanzaError(res *node) (condition, text string) {
	for _, c := range res.child(nsClient, "error").Children {
		if c.XMLName.Space != nsStanzaErr {
			continue
		}
		if c.XMLName.Local == "text" {
			text = c.Text
		} else {
			condition = c.XMLName.Local
		}
	}
	return condition, text
}

// prAnswer matches an answer from from to a subscription request:
// "subscribed" or "unsubscribed".
func prAnswer(from string) func(*node) bool {
	return func(n *node) bool {
		return imPresence(from, "subscribed")(n) || imPresence(from, "unsubscribed")(n)
	}
}

// prFixture is a server where bob (desk) has stored presence rules and
// alice (phone) is about to ask for his presence; both have requested
// their rosters and are available.
type prFixture struct {
	s                  *servertest.Server
	phone, desk        *client
	aliceBare, bobBare string
}

// prSetup starts the fixture; bob's rules are a ruleset of rules.
func prSetup(t *testing.T, rules ...string) *prFixture {
	t.Helper()
	s := imServer(t)
	f := &prFixture{s: s, aliceBare: imBare(s, "alice"), bobBare: imBare(s, "bob")}
	f.phone = imLogin(t, s, "alice", "phone")
	f.desk = imLogin(t, s, "bob", "desk")
	imReady(f.phone)
	imReady(f.desk)
	prMustSetRules(f.desk, rules...)
	return f
}

// request has alice ask for bob's presence and checks the push of her
// outbound request (RFC 6121 §3.1.2), which happens whatever bob's rules.
func (f *prFixture) request(t *testing.T) {
	t.Helper()
	imSendPresence(f.phone, "subscribe", f.bobBare)
	imCheckItem(t, "alice's push after subscribing", imPushItem(f.phone, f.bobBare), imItem{sub: "none", ask: "subscribe"})
}

// TestPresRules_Allow_ApprovedWithoutAsking_RFC5025_3_2_1 has bob allow
// alice (named by an xmpp: URI, RFC 5122): her request is approved as a
// pre-approval would be (RFC 6121 §3.4). She receives the approval, the
// push of her item with subscription='to' and bob's presence; bob is never
// asked, and gets the push of alice with subscription='from'.
func TestPresRules_Allow_ApprovedWithoutAsking_RFC5025_3_2_1(t *testing.T) {
	t.Parallel()
	f := prSetup(t, prRule("alice", "<one id='xmpp:alice@localhost'/>", "allow"))
	f.request(t)
	f.phone.waitFor("bob's automatic approval", imPresence(f.bobBare, "subscribed"))
	imCheckItem(t, "alice's push after the approval", imPushItem(f.phone, f.bobBare), imItem{sub: "to"})
	f.phone.waitFor("bob's presence after the automatic approval", imPresence(f.desk.jid, ""))

	imCheckItem(t, "bob's push after the automatic approval", imPushItem(f.desk, f.aliceBare), imItem{sub: "from"})
	imNothing(f.desk, "alice's request, which his rules approved", imPresence(f.aliceBare, "subscribe"))
	imCheckItem(t, "bob's roster", imRoster(f.desk)[f.aliceBare], imItem{sub: "from"})

	// The subscription is real: bob's presence changes reach alice.
	f.desk.send("<presence><show>away</show></presence>")
	f.phone.waitFor("bob's away presence", imShow(f.desk.jid, "away"))
	imNoErrors(f.phone)
	imNoErrors(f.desk)
}

// TestPresRules_Confirm_OrdinaryFlow_RFC5025_3_2_1 has bob ask to confirm
// alice's requests (named by a pres: URI, RFC 3922): the request reaches
// bob as without rules (RFC 6121 §3.1.3), alice hears nothing until bob
// answers, and bob's approval then works as usual.
func TestPresRules_Confirm_OrdinaryFlow_RFC5025_3_2_1(t *testing.T) {
	t.Parallel()
	f := prSetup(t, prRule("alice", "<one id='pres:alice@localhost'/>", "confirm"))
	f.request(t)
	f.desk.waitFor("alice's request", imPresence(f.aliceBare, "subscribe"))
	imNothing(f.desk, "a roster push for a request not yet answered (RFC 6121 §3.1.3)", imIsAnyPush)
	imNothing(f.phone, "an answer before bob gave one", prAnswer(f.bobBare))

	imSendPresence(f.desk, "subscribed", f.aliceBare)
	imCheckItem(t, "bob's push after approving", imPushItem(f.desk, f.aliceBare), imItem{sub: "from"})
	f.phone.waitFor("bob's approval", imPresence(f.bobBare, "subscribed"))
	imCheckItem(t, "alice's push after the approval", imPushItem(f.phone, f.bobBare), imItem{sub: "to"})
	f.phone.waitFor("bob's presence after his approval", imPresence(f.desk.jid, ""))
}

// TestPresRules_PoliteBlock_ActiveButUnavailable_RFC5025_3_2_1 has bob
// polite-block alice (named by her bare JID). RFC 5025 §3.2.1 makes the
// subscription active while the watcher sees the user unavailable:
//   - alice receives "subscribed" from bob's bare JID, the push of her item
//     with subscription 'to', and unavailable presence from bob;
//   - bob learns nothing: no request, no push, an empty roster, and no
//     request waiting at his next login;
//   - bob's presence changes never reach alice, and her explicit probe is
//     answered with unavailable presence, not "unsubscribed" (which would
//     reveal the refusal and end her subscription).
func TestPresRules_PoliteBlock_ActiveButUnavailable_RFC5025_3_2_1(t *testing.T) {
	t.Parallel()
	f := prSetup(t, prRule("alice", "<one id='alice@localhost'/>", "polite-block"))
	f.request(t)
	f.phone.waitFor("bob's automatic approval", imPresence(f.bobBare, "subscribed"))
	imCheckItem(t, "alice's push after the approval", imPushItem(f.phone, f.bobBare), imItem{sub: "to"})
	f.phone.waitFor("bob's unavailable presence", imPresence(f.bobBare, "unavailable"))

	imSync(f.desk)
	imNothing(f.desk, "alice's request", imAnyPresenceFrom(f.aliceBare))
	imNothing(f.desk, "a roster push", imIsAnyPush)
	if items := imRoster(f.desk); len(items) != 0 {
		t.Errorf("bob's roster after a polite-blocked request: %v, want empty", items)
	}

	f.desk.send("<presence><status>polite</status></presence>")
	f.desk.waitFor("bob's own presence change", imStatus(f.desk.jid, "polite"))
	imSync(f.desk)
	imNothing(f.phone, "bob's presence change", imStatus(f.desk.jid, "polite"))
	imSendPresence(f.phone, "probe", f.bobBare)
	f.phone.waitFor("the answer to alice's probe", imPresence(f.bobBare, "unavailable"))
	imNothing(f.phone, "an unsubscribed in answer to the probe", imPresence(f.bobBare, "unsubscribed"))
	imCheckItem(t, "alice's roster after the probe", imRoster(f.phone)[f.bobBare], imItem{sub: "to"})

	again := imLogin(t, f.s, "bob", "again")
	again.available(0)
	imNothing(again, "the polite-blocked request at a later login", imPresence(f.aliceBare, "subscribe"))
}

// TestPresRules_Block_Refused_RFC5025_3_2_1 has bob block alice (by her
// domain, with a <many/>): she receives "unsubscribed" and the push of her
// item with no subscription and no 'ask' (RFC 6121 §3.2.3), never bob's
// presence; bob learns nothing.
func TestPresRules_Block_Refused_RFC5025_3_2_1(t *testing.T) {
	t.Parallel()
	f := prSetup(t, prRule("locals", "<many domain='localhost'/>", "block"))
	f.request(t)
	imBefore(f.phone, "bob's refusal", imPresence(f.bobBare, "unsubscribed"), "the roster push it causes (RFC 6121 §3.2.3 step 1)", imIsPush(f.bobBare))
	f.phone.waitFor("bob's refusal", imPresence(f.bobBare, "unsubscribed"))
	imCheckItem(t, "alice's push after the refusal", imPushItem(f.phone, f.bobBare), imItem{sub: "none"})

	imSync(f.desk)
	imNothing(f.desk, "alice's request", imAnyPresenceFrom(f.aliceBare))
	imNothing(f.desk, "a roster push", imIsAnyPush)
	f.desk.send("<presence><show>chat</show></presence>")
	f.desk.waitFor("bob's own presence change reflected", imShow(f.desk.jid, "chat"))
	imNothing(f.phone, "bob's presence", imAnyPresenceFrom(f.desk.jid))
}

// TestPresRules_CombiningAndDefault_RFC4745_10_RFC5025_3_2_1 checks the
// combining of several applying rules (the maximum wins: bob blocks
// everyone at localhost but allows alice), RFC 5025's block default for a
// requester no rule applies to once the user has rules (carol), and that
// removing the rules restores the ordinary flow for her.
func TestPresRules_CombiningAndDefault_RFC4745_10_RFC5025_3_2_1(t *testing.T) {
	t.Parallel()
	f := prSetup(t,
		prRule("locals", "<many domain='localhost'><except id='carol@localhost'/></many>", "block"),
		prRule("alice", "<one id='alice@localhost'/>", "allow"))
	carol := imLogin(t, f.s, "carol", "home")
	imReady(carol)
	carolBare := imBare(f.s, "carol")

	f.request(t)
	f.phone.waitFor("bob's automatic approval (allow beats block)", imPresence(f.bobBare, "subscribed"))

	imSendPresence(carol, "subscribe", f.bobBare)
	carol.waitFor("bob's refusal (no rule applies: block)", imPresence(f.bobBare, "unsubscribed"))
	imNothing(f.desk, "carol's request", imPresence(carolBare, "subscribe"))

	// An empty <pres-rules/> removes the rules.
	if res := prSet(f.desk, ""); res.attr("type") != "result" {
		t.Fatalf("removing bob's rules: %s", res)
	}
	imSendPresence(carol, "subscribe", f.bobBare)
	f.desk.waitFor("carol's request once bob has no rules", imPresence(carolBare, "subscribe"))
	imNothing(carol, "an answer bob did not give", prAnswer(f.bobBare))
}

// TestPresRules_Protocol_XEP0030 checks the protocol itself on the wire:
// the disco features, reading back the canonical document, bad-request
// with a reason for an invalid document, and forbidden for another user.
func TestPresRules_Protocol_XEP0030(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	desk := imLogin(t, s, "bob", "desk")
	phone := imLogin(t, s, "alice", "phone")
	bobBare := imBare(s, "bob")

	for _, to := range []string{s.Domain, bobBare} {
		id := imID("disco")
		info := desk.iq(id, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", id, to, nsDiscoInfo))
		var features []string
		for _, f := range info.child(nsDiscoInfo, "query").Children {
			features = append(features, f.attr("var"))
		}
		if !slices.Contains(features, prNS) {
			t.Errorf("disco#info of %s: features %q lack %s", to, features, prNS)
		}
	}

	res := prGet(desk, "")
	if q := res.child(prNS, "pres-rules"); res.attr("type") != "result" || q == nil || len(q.Children) != 0 {
		t.Errorf("get without rules: %s, want an empty <pres-rules/>", res)
	}
	// Prefixes, as in the RFC 5025 §6 example, are accepted; the canonical
	// form comes back. The document is written raw: mellium (through
	// encoding/xml) would rewrite the prefix declarations as attributes
	// of a bogus namespace.
	w := dialWire(t, s)
	w.login("bob", bobPass, "wire")
	w.send(fmt.Sprintf("<iq type='set' id='prefixed'><pres-rules xmlns='%s'><cp:ruleset xmlns:cp='%s' xmlns:pr='%s'>"+
		"<cp:rule id='a'><cp:conditions><cp:identity><cp:one id='xmpp:alice@localhost'/></cp:identity></cp:conditions>"+
		"<cp:actions><pr:sub-handling> allow </pr:sub-handling></cp:actions>"+
		"<cp:transformations><pr:provide-mood>true</pr:provide-mood><x xmlns='urn:example:future'/></cp:transformations>"+
		"</cp:rule></cp:ruleset></pres-rules></iq>", prNS, prCP, prPR))
	if set := w.expect(nsClient, "iq"); set.attr("id") != "prefixed" || set.attr("type") != "result" {
		t.Fatalf("prefixed set: %s", set)
	}
	res = prGet(desk, bobBare)
	rs := res.child(prNS, "pres-rules").child(prCP, "ruleset")
	rule := rs.child(prCP, "rule")
	sub := rule.child(prCP, "actions").child(prPR, "sub-handling")
	tr := rule.child(prCP, "transformations")
	if rule.attr("id") != "a" || sub == nil || sub.Text != "allow" || tr.child(prPR, "provide-mood") == nil || tr.child("urn:example:future", "x") == nil {
		t.Errorf("get after set: %s", res)
	}

	bad := prSet(desk, fmt.Sprintf("<ruleset xmlns='%s'><rule id='a'><conditions><validity><from>2026-01-01T00:00:00</from><until>2027-01-01T00:00:00Z</until></validity></conditions></rule></ruleset>", prCP))
	if cond, text := prStanzaError(bad); bad.attr("type") != "error" || cond != "bad-request" || !strings.Contains(text, "time zone") {
		t.Errorf("invalid document: %s, want bad-request saying the time zone is missing", bad)
	}
	for name, res := range map[string]*node{
		"alice reads bob's rules":  prGet(phone, bobBare),
		"alice writes bob's rules": phone.iq("steal", fmt.Sprintf("<iq type='set' id='steal' to='%s'><pres-rules xmlns='%s'/></iq>", bobBare, prNS)),
	} {
		if cond, _ := prStanzaError(res); res.attr("type") != "error" || cond != "forbidden" {
			t.Errorf("%s: %s, want forbidden", name, res)
		}
	}
	if rs := prGet(desk, "").child(prNS, "pres-rules").child(prCP, "ruleset"); rs.child(prCP, "rule").attr("id") != "a" {
		t.Errorf("bob's rules after the refused requests: %s", rs)
	}
}

// TestPresRules_PreApprovalWinsOverBlock_RFC6121_3_4 has bob block
// everyone at localhost by rule, yet pre-approve alice explicitly: the
// pre-approval is the user's own decision about this one contact, so
// alice's request is approved without bob being asked, while carol, whom
// the rule alone decides, is refused.
func TestPresRules_PreApprovalWinsOverBlock_RFC6121_3_4(t *testing.T) {
	t.Parallel()
	f := prSetup(t, prRule("locals", "<many domain='localhost'/>", "block"))
	imSendPresence(f.desk, "subscribed", f.aliceBare) // pre-approval (RFC 6121 §3.4.1)
	imCheckItem(t, "bob's push of the pre-approval", imPushItem(f.desk, f.aliceBare), imItem{sub: "none", approved: "true"})

	f.request(t)
	f.phone.waitFor("bob's automatic approval", imPresence(f.bobBare, "subscribed"))
	imNothing(f.phone, "a refusal", imPresence(f.bobBare, "unsubscribed"))

	carol := imLogin(t, f.s, "carol", "home")
	imReady(carol)
	imSendPresence(carol, "subscribe", f.bobBare)
	carol.waitFor("bob's refusal by rule", imPresence(f.bobBare, "unsubscribed"))
}
