package integration

import (
	"fmt"
	"testing"
)

// imShow matches an available presence from from whose <show/> is show.
func imShow(from, show string) func(*node) bool {
	return func(n *node) bool {
		s := n.child(nsClient, "show")
		return imPresence(from, "")(n) && s != nil && s.Text == show
	}
}

// imStatus matches an available presence from from whose <status/> is
// status.
func imStatus(from, status string) func(*node) bool {
	return func(n *node) bool {
		s := n.child(nsClient, "status")
		return imPresence(from, "")(n) && s != nil && s.Text == status
	}
}

// imReady requests the roster (so that c is an interested resource, RFC
// 6121 §2.1.6) and sends initial presence (§4.2).
func imReady(c *client) {
	c.t.Helper()
	imRoster(c)
	c.available(0)
}

// TestSubscription_HandshakeThenMutual_PresenceFlows_RFC6121_3_1_4 runs
// the subscription handshake of RFC 6121 §3.1 from alice (two resources,
// both interested and available) to bob, then from bob to alice, and then
// watches presence flow between the now mutual contacts:
//
//   - §3.1.2: alice's request is pushed to her resources with
//     ask='subscribe'; §3.1.3: bob receives it from alice's bare JID, and
//     no roster item is created for a stranger;
//   - §3.1.5: bob's approval is pushed to him (subscription='from');
//     §3.1.6: alice's resources receive the approval, then (it "MUST occur
//     before") the push with subscription='to', and bob's current
//     presence;
//   - the reverse handshake ends with 'both' on both sides, and bob
//     receives the presence of both of alice's resources;
//   - §4.4: a presence change of bob reaches both of alice's resources,
//     one of alice's reaches bob; §4.5: bob's disconnection reaches alice
//     as unavailable presence.
func TestSubscription_HandshakeThenMutual_PresenceFlows_RFC6121_3_1_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	laptop := imLogin(t, s, "alice", "laptop")
	desk := imLogin(t, s, "bob", "desk")
	alices := []*client{phone, laptop}
	for _, c := range []*client{phone, laptop, desk} {
		imReady(c)
	}
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")

	// alice → bob: request.
	imSendPresence(phone, "subscribe", bobBare)
	for _, c := range alices {
		imCheckItem(t, c.jid+" push after subscribing", imPushItem(c, bobBare), imItem{sub: "none", ask: "subscribe"})
	}
	req := desk.waitFor("alice's subscription request", imPresence(aliceBare, "subscribe"))
	if req.attr("to") != bobBare {
		t.Errorf("the request is addressed to %q, want bob's bare JID: %s", req.attr("to"), req)
	}
	imNothing(desk, "a roster push for a stranger's request (RFC 6121 §3.1.3)", imIsAnyPush)
	if items := imRoster(desk); len(items) != 0 {
		t.Errorf("bob's roster has items before he answered (RFC 6121 §3.1.3 security warning): %v", items)
	}

	// bob approves.
	imSendPresence(desk, "subscribed", aliceBare)
	imCheckItem(t, "bob's push after approving", imPushItem(desk, aliceBare), imItem{sub: "from"})
	for _, c := range alices {
		imBefore(c, "bob's approval", imPresence(bobBare, "subscribed"), "the roster push it causes (RFC 6121 §3.1.6 step 1)", imIsPush(bobBare))
		c.waitFor("bob's approval", imPresence(bobBare, "subscribed"))
		imCheckItem(t, c.jid+" push after bob's approval", imPushItem(c, bobBare), imItem{sub: "to"})
		c.waitFor("bob's current presence after his approval (RFC 6121 §3.1.5)", imPresence(desk.jid, ""))
	}

	// bob → alice: the reverse request, approved from the laptop.
	imSendPresence(desk, "subscribe", aliceBare)
	imCheckItem(t, "bob's push after subscribing", imPushItem(desk, aliceBare), imItem{sub: "from", ask: "subscribe"})
	for _, c := range alices {
		c.waitFor("bob's subscription request", imPresence(bobBare, "subscribe"))
	}
	imSendPresence(laptop, "subscribed", bobBare)
	for _, c := range alices {
		imCheckItem(t, c.jid+" push after approving bob", imPushItem(c, bobBare), imItem{sub: "both"})
	}
	imBefore(desk, "alice's approval", imPresence(aliceBare, "subscribed"), "the roster push it causes (RFC 6121 §3.1.6 step 1)", imIsPush(aliceBare))
	desk.waitFor("alice's approval", imPresence(aliceBare, "subscribed"))
	imCheckItem(t, "bob's push after alice's approval", imPushItem(desk, aliceBare), imItem{sub: "both"})
	for _, c := range alices {
		desk.waitFor("the presence of "+c.jid+" after alice's approval", imPresence(c.jid, ""))
	}
	imCheckItem(t, "bob's roster", imRoster(desk)[aliceBare], imItem{sub: "both"})
	imCheckItem(t, "alice's roster", imRoster(phone)[bobBare], imItem{sub: "both"})

	// Presence broadcast both ways (§4.4).
	desk.send("<presence><show>away</show><status>lunch</status></presence>")
	for _, c := range alices {
		p := c.waitFor("bob's away presence", imShow(desk.jid, "away"))
		if p.attr("to") != aliceBare {
			t.Errorf("%s: bob's broadcast presence is addressed to %q, want %s", c.jid, p.attr("to"), aliceBare)
		}
		if st := p.child(nsClient, "status"); st == nil || st.Text != "lunch" {
			t.Errorf("%s: bob's broadcast presence lost its status: %s", c.jid, p)
		}
	}
	phone.send("<presence><show>dnd</show></presence>")
	desk.waitFor("alice's dnd presence", imShow(phone.jid, "dnd"))

	// bob disconnects (§4.5.2): both of alice's resources learn it.
	imLogout(desk)
	for _, c := range alices {
		c.waitFor("bob's unavailable presence after he disconnected", imPresence(desk.jid, "unavailable"))
	}
}

// TestSubscription_Denial_RFC6121_3_1_4 has carol ask for bob's presence
// and bob refuse (RFC 6121 §3.1.4, processed as §3.2): carol receives the
// "unsubscribed", then the push of her item with no subscription and no
// 'ask'; she never sees bob's presence; bob's roster stays empty, and the
// answered request is not delivered again at bob's next login.
func TestSubscription_Denial_RFC6121_3_1_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	carol := imLogin(t, s, "carol", "home")
	desk := imLogin(t, s, "bob", "desk")
	imReady(carol)
	imReady(desk)
	carolBare, bobBare := imBare(s, "carol"), imBare(s, "bob")

	imSendPresence(carol, "subscribe", bobBare)
	imCheckItem(t, "carol's push after subscribing", imPushItem(carol, bobBare), imItem{sub: "none", ask: "subscribe"})
	desk.waitFor("carol's request", imPresence(carolBare, "subscribe"))

	imSendPresence(desk, "unsubscribed", carolBare)
	imBefore(carol, "bob's refusal", imPresence(bobBare, "unsubscribed"), "the roster push it causes (RFC 6121 §3.2.3 step 1)", imIsPush(bobBare))
	carol.waitFor("bob's refusal", imPresence(bobBare, "unsubscribed"))
	imCheckItem(t, "carol's push after the refusal", imPushItem(carol, bobBare), imItem{sub: "none"})

	// bob's later presence never reaches carol, nor did any before.
	desk.send("<presence><show>chat</show></presence>")
	desk.waitFor("bob's own presence change reflected", imShow(desk.jid, "chat"))
	imSync(desk)
	imNothing(carol, "bob's presence", imAnyPresenceFrom(desk.jid))
	imNothing(desk, "a roster push for a refused stranger", imIsAnyPush)
	if items := imRoster(desk); len(items) != 0 {
		t.Errorf("bob's roster after refusing carol: %v, want empty", items)
	}

	again := imLogin(t, s, "bob", "again")
	again.available(0)
	imNothing(again, "carol's refused request again", imPresence(carolBare, "subscribe"))
}

// TestSubscription_CancelByContact_RFC6121_3_2 has bob cancel alice's
// subscription to his presence with "unsubscribed" (RFC 6121 §3.2): bob's
// item becomes 'none' (§3.2.2); alice receives unavailable presence from
// bob's resource while still subscribed, i.e. before the "unsubscribed"
// (§3.2.2), then the "unsubscribed" before the push of 'none' (§3.2.3);
// afterwards she no longer sees bob's presence, live or at login.
func TestSubscription_CancelByContact_RFC6121_3_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	imReady(phone)
	imReady(desk)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")
	imSubscribe(phone, desk)
	phone.waitFor("bob's presence after his approval", imPresence(desk.jid, ""))
	phone.clear()
	desk.clear()

	imSendPresence(desk, "unsubscribed", aliceBare)
	imCheckItem(t, "bob's push after cancelling", imPushItem(desk, aliceBare), imItem{sub: "none"})
	imBefore(phone, "bob's unavailable presence", imPresence(desk.jid, "unavailable"), "bob's cancellation (RFC 6121 §3.2.2)", imPresence(bobBare, "unsubscribed"))
	imBefore(phone, "bob's cancellation", imPresence(bobBare, "unsubscribed"), "the roster push it causes (RFC 6121 §3.2.3 step 1)", imIsPush(bobBare))
	phone.waitFor("bob's cancellation", imPresence(bobBare, "unsubscribed"))
	imCheckItem(t, "alice's push after the cancellation", imPushItem(phone, bobBare), imItem{sub: "none"})
	phone.clear()

	desk.send("<presence><show>xa</show></presence>")
	desk.waitFor("bob's own presence change reflected", imShow(desk.jid, "xa"))
	imSync(desk)
	imNothing(phone, "bob's presence after he cancelled her subscription", imAnyPresenceFrom(desk.jid))

	later := imLogin(t, s, "alice", "later")
	later.available(0)
	imNothing(later, "bob's presence at login after he cancelled her subscription", imAnyPresenceFrom(desk.jid))
}

// TestSubscription_UnsubscribeByUser_RFC6121_3_3 has alice end her own
// subscription to bob's presence (RFC 6121 §3.3): her item becomes 'none'
// (§3.3.2); bob receives the "unsubscribe" before the push of 'none'
// (§3.3.3 steps 1, 2) and his server sends alice unavailable presence from
// his resource (step 3); bob's later presence no longer reaches her.
func TestSubscription_UnsubscribeByUser_RFC6121_3_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	imReady(phone)
	imReady(desk)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")
	imSubscribe(phone, desk)
	phone.waitFor("bob's presence after his approval", imPresence(desk.jid, ""))
	phone.clear()
	desk.clear()

	imSendPresence(phone, "unsubscribe", bobBare)
	imCheckItem(t, "alice's push after unsubscribing", imPushItem(phone, bobBare), imItem{sub: "none"})
	imBefore(desk, "alice's unsubscribe", imPresence(aliceBare, "unsubscribe"), "the roster push it causes (RFC 6121 §3.3.3 step 1)", imIsPush(aliceBare))
	desk.waitFor("alice's unsubscribe", imPresence(aliceBare, "unsubscribe"))
	imCheckItem(t, "bob's push after alice unsubscribed", imPushItem(desk, aliceBare), imItem{sub: "none"})
	phone.waitFor("bob's unavailable presence (RFC 6121 §3.3.3 step 3)", imPresence(desk.jid, "unavailable"))

	desk.send("<presence><show>away</show></presence>")
	desk.waitFor("bob's own presence change reflected", imShow(desk.jid, "away"))
	imSync(desk)
	imNothing(phone, "bob's presence after unsubscribing", imShow(desk.jid, "away"))
}

// TestSubscription_PreApproval_RFC6121_3_4 has bob pre-approve alice
// before she asks (RFC 6121 §3.4): his item for her is pushed with
// approved='true' and no subscription; when alice later subscribes, bob's
// server approves on his behalf without delivering the request to him
// (§3.4.2): alice receives the approval, her item becomes 'to' and she
// receives bob's presence; bob's item becomes 'from', the pre-approval
// spent.
func TestSubscription_PreApproval_RFC6121_3_4(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	desk := imLogin(t, s, "bob", "desk")
	imReady(desk)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")

	imSendPresence(desk, "subscribed", aliceBare)
	imCheckItem(t, "bob's push after pre-approving", imPushItem(desk, aliceBare), imItem{sub: "none", approved: "true"})
	imCheckItem(t, "bob's roster after pre-approving", imRoster(desk)[aliceBare], imItem{sub: "none", approved: "true"})

	phone := imLogin(t, s, "alice", "phone")
	imReady(phone)
	imSendPresence(phone, "subscribe", bobBare)
	imCheckItem(t, "alice's push after subscribing", imPushItem(phone, bobBare), imItem{sub: "none", ask: "subscribe"})
	phone.waitFor("the automatic approval", imPresence(bobBare, "subscribed"))
	imCheckItem(t, "alice's push after the approval", imPushItem(phone, bobBare), imItem{sub: "to"})
	phone.waitFor("bob's presence after the automatic approval", imPresence(desk.jid, ""))

	imCheckItem(t, "bob's push after the automatic approval", imPushItem(desk, aliceBare), imItem{sub: "from"})
	imNothing(desk, "alice's pre-approved request (RFC 6121 §3.4.2: MUST NOT deliver)", imPresence(aliceBare, "subscribe"))
	imCheckItem(t, "bob's roster after the automatic approval", imRoster(desk)[aliceBare], imItem{sub: "from"})
}

// TestSubscription_PendingRequestDeliveredAtEachLogin_RFC6121_3_1_3 has
// alice ask for bob's presence while bob is offline. The request is kept
// (RFC 6121 §3.1.3): a bound resource of bob that is not available does
// not receive it; his initial presence does; he logs out without answering
// and receives it again at his next login; once he has answered, a later
// login no longer receives it.
func TestSubscription_PendingRequestDeliveredAtEachLogin_RFC6121_3_1_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	imReady(phone)
	aliceBare, bobBare := imBare(s, "alice"), imBare(s, "bob")
	isRequest := imPresence(aliceBare, "subscribe")

	imSendPresence(phone, "subscribe", bobBare)
	imPush(phone, bobBare)
	imSync(phone)

	first := imLogin(t, s, "bob", "first")
	imNothing(first, "the request before sending initial presence", isRequest)
	first.available(0)
	if req := first.waitFor("the stored request at bob's first login", isRequest); req.attr("to") != bobBare {
		t.Errorf("the stored request is addressed to %q, want %s: %s", req.attr("to"), bobBare, req)
	}
	imLogout(first)

	second := imLogin(t, s, "bob", "second")
	second.available(0)
	second.waitFor("the unanswered request at bob's second login", isRequest)
	imSendPresence(second, "subscribed", aliceBare)
	phone.waitFor("bob's approval", imPresence(bobBare, "subscribed"))
	imLogout(second)

	third := imLogin(t, s, "bob", "third")
	third.available(0)
	imNothing(third, "the request he has answered", isRequest)
}

// TestPresence_ProbeAnsweredAtLogin_RFC6121_4_3 checks that a user
// subscribed to a contact learns the contact's current presence when she
// sends initial presence (RFC 6121 §4.2.2, §4.3), without the contact
// doing anything; and that a user not subscribed learns nothing.
func TestPresence_ProbeAnsweredAtLogin_RFC6121_4_3(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	desk := imLogin(t, s, "bob", "desk")
	imReady(desk)
	first := imLogin(t, s, "alice", "first")
	imReady(first)
	imSubscribe(first, desk)
	imLogout(first)

	desk.send("<presence><status>at my desk</status></presence>")
	desk.waitFor("bob's own presence change reflected", imStatus(desk.jid, "at my desk"))
	imSync(desk)
	desk.clear()

	again := imLogin(t, s, "alice", "again")
	again.available(0)
	p := again.waitFor("bob's presence at alice's login", imStatus(desk.jid, "at my desk"))
	if p.attr("to") != imBare(s, "alice") && p.attr("to") != again.jid {
		t.Errorf("bob's presence is addressed to %q, want alice: %s", p.attr("to"), p)
	}
	imNothing(desk, "anything caused by alice's login (probes are answered by the server)", func(n *node) bool { return true })

	carol := imLogin(t, s, "carol", "home")
	carol.available(0)
	imNothing(carol, "bob's presence without a subscription", imAnyPresenceFrom(desk.jid))
}

// TestIQ_ToFullJIDOfContactSharingPresence_RFC6121_8_5_3_1 checks the
// presence-leak rule of RFC 6121 §8.5.3.1 in both directions once alice is
// subscribed to bob: bob shares his presence with alice (his item for her
// is 'from'), so an iq get from alice to bob's full JID is delivered to
// him; alice does not share hers with bob (her item is 'to'), so bob's iq
// get to alice's full JID is answered with service-unavailable and not
// delivered.
func TestIQ_ToFullJIDOfContactSharingPresence_RFC6121_8_5_3_1(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	imReady(phone)
	imReady(desk)
	imSubscribe(phone, desk)

	const toBob = "version-to-bob"
	// bob's mellium client answers any iq it receives with an error of
	// its own, so the answer alone does not tell; whether bob received
	// the iq does.
	res := phone.iq(toBob, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", toBob, desk.jid, nsVersion))
	imSync(desk)
	if desk.take(func(n *node) bool { return n.is(nsClient, "iq") && n.attr("id") == toBob }) == nil {
		t.Errorf("bob shares his presence with alice, yet her iq to his full JID was not delivered; she got %s", res)
	}

	const toAlice = "version-to-alice"
	res = desk.iq(toAlice, fmt.Sprintf("<iq type='get' id='%s' to='%s'><query xmlns='%s'/></iq>", toAlice, phone.jid, nsVersion))
	if cond, _ := stanzaErrorCondition(res); res.attr("type") != "error" || cond != "service-unavailable" {
		t.Errorf("bob's iq to alice's full JID: got %s, want service-unavailable", res)
	}
	imNothing(phone, "bob's iq, though she does not share her presence with him", func(n *node) bool {
		return n.is(nsClient, "iq") && n.attr("id") == toAlice
	})
}

// TestPresence_ExplicitProbe_RFC6121_4_3_2 has clients probe bob's bare
// JID themselves (RFC 6121 §4.3): alice, subscribed to bob, gets the
// presence of his available resource while he is online and, once he is
// gone, unavailable presence from his bare JID (§4.3.2 rule 3: a
// deterministic answer); carol, not subscribed, gets "unsubscribed" from
// his bare JID (rule 1), whether he is online or not.
func TestPresence_ExplicitProbe_RFC6121_4_3_2(t *testing.T) {
	t.Parallel()
	s := imServer(t)
	phone := imLogin(t, s, "alice", "phone")
	desk := imLogin(t, s, "bob", "desk")
	carol := imLogin(t, s, "carol", "home")
	for _, c := range []*client{phone, desk, carol} {
		imReady(c)
	}
	imSubscribe(phone, desk)
	phone.waitFor("bob's presence after the subscription", imPresence(desk.jid, ""))
	bobBare := imBare(s, "bob")

	desk.send("<presence><status>at my desk</status></presence>")
	phone.waitFor("bob's presence change", imStatus(desk.jid, "at my desk"))
	imSendPresence(phone, "probe", bobBare)
	phone.waitFor("the answer to alice's probe while bob is online", imStatus(desk.jid, "at my desk"))
	imSendPresence(carol, "probe", bobBare)
	carol.waitFor("the answer to carol's probe", imPresence(bobBare, "unsubscribed"))
	imNothing(carol, "bob's presence, which carol is not subscribed to", imAnyPresenceFrom(bobBare))

	imLogout(desk)
	phone.waitFor("bob's unavailable presence at his logout", imPresence(desk.jid, "unavailable"))
	imSendPresence(phone, "probe", bobBare)
	phone.waitFor("the answer to alice's probe once bob is gone (§4.3.2 rule 3)", imPresence(bobBare, "unavailable"))
	imSendPresence(carol, "probe", bobBare)
	carol.waitFor("the answer to carol's probe once bob is gone", imPresence(bobBare, "unsubscribed"))
}
