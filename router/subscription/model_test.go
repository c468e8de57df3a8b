package subscription

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// This file is a small model of two users on servers that use this package:
// each holds a roster item (or none) for the other, and every stanza is
// processed by the recipient before the next is sent. Each user's clients
// are modelled by the roster they were last pushed and the stanzas they were
// delivered; each user's presence as seen by the other is a flag.

const (
	romeo  = 0
	juliet = 1
)

var jids = [2]string{"romeo@example.net", "juliet@example.com"}

// party is one user's server-side state about the other user.
type party struct {
	item     bool  // the user has a roster item for the other
	st       State // its subscription state (or "None"/"None + Pending In" without an item)
	approved bool  // the item's pre-approval (§3.4)
	client   string
	// client is the item as the user's interested resources last saw it in
	// a roster push, rendered as in RFC 6121's examples; "" for no item.
	sees bool // the user's resources hold the other user's available presence
}

// stanza is a stanza between the two servers: a subscription stanza of
// kind, or (kind 0) available or unavailable presence.
type stanza struct {
	from      int
	kind      Kind
	available bool
}

// world is the two users and the stanzas in flight between their servers
// (in order). When record is set, every observable event is appended to log;
// problems are reported to fail.
type world struct {
	p        [2]party
	inFlight []stanza
	record   bool
	log      []string
	fail     func(format string, args ...any)
}

func newWorld(t testing.TB, record bool) *world {
	return &world{record: record, fail: func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format, args...)
	}}
}

func (w *world) logf(format string, args ...any) {
	if w.record {
		w.log = append(w.log, fmt.Sprintf(format, args...))
	}
}

// rosterItem renders the user's item for the other user as a client sees it
// (RFC 6121 §2.1.2), attributes in the order RFC 6121's examples use; "" when
// there is no item.
func (w *world) rosterItem(i int) string {
	p := &w.p[i]
	if !p.item {
		return ""
	}
	var b strings.Builder
	b.WriteString("<item ")
	if p.approved {
		b.WriteString("approved='true' ")
	}
	if p.st.PendingOut {
		b.WriteString("ask='subscribe' ")
	}
	fmt.Fprintf(&b, "jid='%s' subscription='%s'/>", jids[1-i], p.st.Sub.Attr())
	return b.String()
}

// push records a roster push to user i's interested resources.
func (w *world) push(i int) {
	item := w.rosterItem(i)
	if item == "" {
		item = fmt.Sprintf("<item jid='%s' subscription='remove'/>", jids[1-i])
	}
	w.logf("%s: push %s", jids[i], item)
	w.p[i].client = w.rosterItem(i)
}

// checkPush verifies that a push was requested exactly when the item a
// client sees changed.
func (w *world) checkPush(i int, before string, pushed bool) {
	if changed := before != w.rosterItem(i); changed != pushed {
		w.fail("%s: item %q -> %q but Push = %v", jids[i], before, w.rosterItem(i), pushed)
	}
}

// presence sends available or unavailable presence from each of user i's
// resources to the other user.
func (w *world) presence(i int, available bool) {
	typ := "unavailable"
	if available {
		typ = "available"
	}
	w.logf("%s→%s presence %s", jids[i], jids[1-i], typ)
	w.inFlight = append(w.inFlight, stanza{from: i, available: available})
}

// route sends a subscription stanza of kind k from user i to the other user.
func (w *world) route(i int, k Kind, note string) {
	w.logf("%s→%s %s%s", jids[i], jids[1-i], k, note)
	w.inFlight = append(w.inFlight, stanza{from: i, kind: k})
}

// drain processes the stanzas in flight, in order, until there are none.
func (w *world) drain() {
	for len(w.inFlight) > 0 {
		st := w.inFlight[0]
		w.inFlight = w.inFlight[1:]
		to := 1 - st.from
		if st.kind != 0 {
			w.receive(to, st.kind)
			continue
		}
		// §3.1.5: the approval precedes the presence, so the recipient's
		// server already sees a subscription when the presence arrives.
		if st.available && !w.p[to].st.Sub.HasTo() {
			w.fail("%s got available presence from %s without a subscription", jids[to], jids[st.from])
		}
		w.p[to].sees = st.available
	}
}

// send has user i send a presence stanza of kind k to the other user.
func (w *world) send(i int, k Kind) {
	u := &w.p[i]
	before := w.rosterItem(i)
	r := Outbound(u.st, k, u.approved)
	if r.CreateItem {
		u.item = true
	}
	if r.State.NeedsItem() && !u.item {
		w.fail("%s: Outbound(%s) led to %q without an item", jids[i], k, r.State)
	}
	u.st = r.State
	if r.PreApprove {
		u.approved = true
	}
	if r.ClearPreApproval {
		u.approved = false
	}
	if r.SendUnavailable {
		w.presence(i, false)
	}
	if r.Route {
		w.route(i, k, "")
	}
	if r.Push {
		w.push(i)
	}
	if r.SendAvailable {
		w.presence(i, true)
	}
	w.checkPush(i, before, r.Push)
}

// receive processes at user i's server a stanza of kind k from the other
// user.
func (w *world) receive(i int, k Kind) {
	u := &w.p[i]
	before := w.rosterItem(i)
	r := Inbound(u.st, u.item, k, u.approved)
	if r.CreateItem {
		u.item = true
	}
	if r.State.NeedsItem() && !u.item {
		w.fail("%s: Inbound(%s) led to %q without an item", jids[i], k, r.State)
	}
	u.st = r.State
	if r.ClearPreApproval {
		u.approved = false
	}
	if r.Deliver {
		w.logf("%s: deliver %s from %s", jids[i], k, jids[1-i])
	}
	if r.HasAutoReply {
		w.route(i, r.AutoReply, " (auto-reply)")
	}
	if r.SendAvailable {
		w.presence(i, true)
	}
	if r.Push {
		w.push(i)
	}
	if r.SendUnavailable {
		w.presence(i, false)
	}
	w.checkPush(i, before, r.Push)
}

// remove has user i delete the roster item for the other user (§2.5); it
// reports false when there is no item (item-not-found, §2.5.3).
func (w *world) remove(i int) bool {
	u := &w.p[i]
	if !u.item {
		return false
	}
	r := Remove(u.st)
	*u = party{sees: u.sees}
	w.push(i)
	if r.Unsubscribe {
		w.route(i, Unsubscribe, "")
	}
	if r.SendUnavailable {
		w.presence(i, false)
	}
	if r.Unsubscribed {
		w.route(i, Unsubscribed, "")
	}
	return true
}

// check verifies the invariants that hold whenever no stanza is in flight.
func (w *world) check() {
	for i := range w.p {
		u, c := &w.p[i], &w.p[1-i]
		switch {
		case !u.st.Valid():
			w.fail("%s: invalid state %q", jids[i], u.st)
		case u.st.NeedsItem() && !u.item:
			w.fail("%s: state %q without an item", jids[i], u.st)
		case u.approved && !u.item:
			w.fail("%s: pre-approval without an item", jids[i])
		case u.approved && !u.st.preApprovable():
			w.fail("%s: pre-approval in %q", jids[i], u.st)
		case u.client != w.rosterItem(i):
			w.fail("%s: clients hold %q, server has %q", jids[i], u.client, w.rosterItem(i))
		// The two rosters agree (App. A.1 describes one relationship from
		// both ends).
		case u.st.Sub.HasTo() != c.st.Sub.HasFrom():
			w.fail("%s is %q but %s is %q", jids[i], u.st, jids[1-i], c.st)
		case u.st.PendingOut != c.st.PendingIn:
			w.fail("%s is %q but %s is %q", jids[i], u.st, jids[1-i], c.st)
		// Presence: the other user holds u's available presence exactly
		// while subscribed to it (no leak after a cancellation, §3.2.2,
		// §3.3.3; nothing missing after an approval, §3.1.5).
		case c.sees != u.st.Sub.HasFrom():
			w.fail("%s sees %s's presence = %v, but %s is %q", jids[1-i], jids[i], c.sees, jids[i], u.st)
		}
	}
}

// op is one user action: send one of the four kinds, or remove the item.
type op struct {
	user   int
	kind   Kind // the kind sent, unless remove
	remove bool
}

func (o op) String() string {
	if o.remove {
		return jids[o.user] + " removes item"
	}
	return jids[o.user] + " sends " + o.kind.String()
}

// ops lists all ten actions.
func ops() []op {
	var all []op
	for _, u := range []int{romeo, juliet} {
		for _, k := range kinds {
			all = append(all, op{user: u, kind: k})
		}
		all = append(all, op{user: u, remove: true})
	}
	return all
}

// apply performs o, lets every resulting stanza be processed, and checks
// the invariants.
func (w *world) apply(o op) {
	if o.remove {
		w.remove(o.user)
	} else {
		w.send(o.user, o.kind)
	}
	w.drain()
	w.check()
}

// checkLog compares the recorded events with want.
func checkLog(t *testing.T, w *world, want ...string) {
	t.Helper()
	if !slices.Equal(w.log, want) {
		t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(w.log, "\n  "), strings.Join(want, "\n  "))
	}
	w.log = nil
}

// checkStates compares both users' states and items.
func checkStates(t *testing.T, w *world, romeoState string, romeoItem bool, julietState string, julietItem bool) {
	t.Helper()
	for i, want := range []struct {
		state string
		item  bool
	}{{romeoState, romeoItem}, {julietState, julietItem}} {
		if got := w.p[i].st.String(); got != want.state || w.p[i].item != want.item {
			t.Errorf("%s: %q (item %v), want %q (item %v)", jids[i], got, w.p[i].item, want.state, want.item)
		}
	}
}

// TestTwoPartyRequestAndApprove drives §3.1 in both directions: Romeo asks
// Juliet, who approves, then Juliet asks Romeo, who approves; both end in
// "Both". The pushes are the items of RFC 6121's examples.
func TestTwoPartyRequestAndApprove(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribe})
	checkLog(t, w,
		"romeo@example.net→juliet@example.com subscribe",
		// §3.1.2: after routing, push the item with ask='subscribe'.
		"romeo@example.net: push <item ask='subscribe' jid='juliet@example.com' subscription='none'/>",
		// §3.1.3 step 3.
		"juliet@example.com: deliver subscribe from romeo@example.net",
	)
	// §3.1.3 security warning: no item for Romeo until Juliet approves.
	checkStates(t, w, "None + Pending Out", true, "None + Pending In", false)

	w.apply(op{user: juliet, kind: Subscribed})
	checkLog(t, w,
		// §3.1.5: route, push 'from', then Juliet's presence.
		"juliet@example.com→romeo@example.net subscribed",
		"juliet@example.com: push <item jid='romeo@example.net' subscription='from'/>",
		"juliet@example.com→romeo@example.net presence available",
		// §3.1.6 steps 1 and 2: deliver, then push 'to'.
		"romeo@example.net: deliver subscribed from juliet@example.com",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='to'/>",
	)
	checkStates(t, w, "To", true, "From", true)

	w.apply(op{user: juliet, kind: Subscribe})
	checkLog(t, w,
		"juliet@example.com→romeo@example.net subscribe",
		"juliet@example.com: push <item ask='subscribe' jid='romeo@example.net' subscription='from'/>",
		"romeo@example.net: deliver subscribe from juliet@example.com",
	)
	checkStates(t, w, "To + Pending In", true, "From + Pending Out", true)

	w.apply(op{user: romeo, kind: Subscribed})
	checkLog(t, w,
		"romeo@example.net→juliet@example.com subscribed",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='both'/>",
		"romeo@example.net→juliet@example.com presence available",
		"juliet@example.com: deliver subscribed from romeo@example.net",
		"juliet@example.com: push <item jid='romeo@example.net' subscription='both'/>",
	)
	checkStates(t, w, "Both", true, "Both", true)
}

// TestTwoPartyCrossedRequests: both ask at once ("None + Pending Out+In" at
// each end), then both approve: mutual subscription.
func TestTwoPartyCrossedRequests(t *testing.T) {
	w := newWorld(t, false)
	w.apply(op{user: romeo, kind: Subscribe})
	w.apply(op{user: juliet, kind: Subscribe})
	checkStates(t, w, "None + Pending Out+In", true, "None + Pending Out+In", true)
	w.apply(op{user: juliet, kind: Subscribed})
	checkStates(t, w, "To + Pending In", true, "From + Pending Out", true)
	w.apply(op{user: romeo, kind: Subscribed})
	checkStates(t, w, "Both", true, "Both", true)
}

// TestTwoPartyDeny drives §3.1.4: Juliet denies Romeo's request with
// "unsubscribed" (processed per §3.2); Romeo's pending request ends and no
// presence is exchanged. Juliet never had an item, so nothing is pushed to
// her.
func TestTwoPartyDeny(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribe})
	w.log = nil
	w.apply(op{user: juliet, kind: Unsubscribed})
	checkLog(t, w,
		"juliet@example.com→romeo@example.net unsubscribed",
		"romeo@example.net: deliver unsubscribed from juliet@example.com",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
	)
	checkStates(t, w, "None", true, "None", false)
}

// TestTwoPartyCancel drives §3.2: Juliet cancels Romeo's subscription. Her
// server sends unavailable presence first, then the "unsubscribed"; both
// pushes show subscription='none' as in the RFC's examples.
func TestTwoPartyCancel(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribe})
	w.apply(op{user: juliet, kind: Subscribed})
	w.log = nil
	w.apply(op{user: juliet, kind: Unsubscribed})
	checkLog(t, w,
		// §3.2.2: unavailable presence, the "unsubscribed", the push.
		"juliet@example.com→romeo@example.net presence unavailable",
		"juliet@example.com→romeo@example.net unsubscribed",
		"juliet@example.com: push <item jid='romeo@example.net' subscription='none'/>",
		// §3.2.3 steps 1 and 2.
		"romeo@example.net: deliver unsubscribed from juliet@example.com",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
	)
	checkStates(t, w, "None", true, "None", true)
}

// TestTwoPartyUnsubscribe drives §3.3: Romeo unsubscribes from Juliet's
// presence; Juliet's server delivers it, pushes, and sends unavailable.
func TestTwoPartyUnsubscribe(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribe})
	w.apply(op{user: juliet, kind: Subscribed})
	w.log = nil
	w.apply(op{user: romeo, kind: Unsubscribe})
	checkLog(t, w,
		// §3.3.2: route, then push.
		"romeo@example.net→juliet@example.com unsubscribe",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
		// §3.3.3 steps 1 to 3.
		"juliet@example.com: deliver unsubscribe from romeo@example.net",
		"juliet@example.com: push <item jid='romeo@example.net' subscription='none'/>",
		"juliet@example.com→romeo@example.net presence unavailable",
	)
	checkStates(t, w, "None", true, "None", true)
}

// TestTwoPartyWithdrawRequest: Romeo withdraws his request with
// "unsubscribe" before Juliet answers; her server drops the request without
// telling her (§3.3.3, last paragraph).
func TestTwoPartyWithdrawRequest(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribe})
	w.log = nil
	w.apply(op{user: romeo, kind: Unsubscribe})
	checkLog(t, w,
		"romeo@example.net→juliet@example.com unsubscribe",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
	)
	checkStates(t, w, "None", true, "None", false)
}

// TestTwoPartyPreApproval drives §3.4: Romeo pre-approves Juliet (an item
// with approved='true', nothing routed); Juliet's request is then answered
// by Romeo's server without reaching Romeo's clients.
func TestTwoPartyPreApproval(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribed})
	checkLog(t, w,
		// §3.4.2 step 4, the RFC's example push.
		"romeo@example.net: push <item approved='true' jid='juliet@example.com' subscription='none'/>",
	)
	checkStates(t, w, "None", true, "None", false)

	w.apply(op{user: juliet, kind: Subscribe})
	checkLog(t, w,
		"juliet@example.com→romeo@example.net subscribe",
		"juliet@example.com: push <item ask='subscribe' jid='romeo@example.net' subscription='none'/>",
		// Romeo's clients never see the request (§3.4.2: MUST NOT deliver);
		// the pre-approval is consumed.
		"romeo@example.net→juliet@example.com subscribed (auto-reply)",
		"romeo@example.net→juliet@example.com presence available",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='from'/>",
		"juliet@example.com: deliver subscribed from romeo@example.net",
		"juliet@example.com: push <item jid='romeo@example.net' subscription='to'/>",
	)
	checkStates(t, w, "From", true, "To", true)
}

// TestTwoPartyCancelPreApproval: "unsubscribed" withdraws a pre-approval
// without reaching the contact (§3.2.2 step 2, §3.4.2 implementation note),
// and the contact's later request is then delivered for approval.
func TestTwoPartyCancelPreApproval(t *testing.T) {
	w := newWorld(t, true)
	w.apply(op{user: romeo, kind: Subscribed})
	w.log = nil
	w.apply(op{user: romeo, kind: Unsubscribed})
	checkLog(t, w,
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
	)
	w.apply(op{user: juliet, kind: Subscribe})
	checkLog(t, w,
		"juliet@example.com→romeo@example.net subscribe",
		"juliet@example.com: push <item ask='subscribe' jid='romeo@example.net' subscription='none'/>",
		"romeo@example.net: deliver subscribe from juliet@example.com",
	)
	checkStates(t, w, "None + Pending In", true, "None + Pending Out", true)
}

// TestTwoPartyRemoveItem drives §2.5.2 from a mutual subscription: Juliet
// deletes Romeo; her server sends "unsubscribe" and "unsubscribed" and both
// subscriptions end.
func TestTwoPartyRemoveItem(t *testing.T) {
	w := newWorld(t, false)
	for _, o := range []op{{user: romeo, kind: Subscribe}, {user: juliet, kind: Subscribed}, {user: juliet, kind: Subscribe}, {user: romeo, kind: Subscribed}} {
		w.apply(o)
	}
	w.record = true
	w.apply(op{user: juliet, remove: true})
	checkLog(t, w,
		"juliet@example.com: push <item jid='romeo@example.net' subscription='remove'/>",
		"juliet@example.com→romeo@example.net unsubscribe",
		"juliet@example.com→romeo@example.net presence unavailable",
		"juliet@example.com→romeo@example.net unsubscribed",
		"romeo@example.net: deliver unsubscribe from juliet@example.com",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='to'/>",
		"romeo@example.net→juliet@example.com presence unavailable",
		"romeo@example.net: deliver unsubscribed from juliet@example.com",
		"romeo@example.net: push <item jid='juliet@example.com' subscription='none'/>",
	)
	checkStates(t, w, "None", true, "None", false)
}

// TestCrossingStanzasCanDesynchronise documents the limit of the
// consistency invariant: Juliet denies Romeo's request while Romeo's resent
// request is in flight. Each server follows App. A, yet Juliet ends with a
// pending request that Romeo no longer has. A later approval by Juliet would
// then be ignored by Romeo's server (App. A.3.3, "None" row).
func TestCrossingStanzasCanDesynchronise(t *testing.T) {
	r, j := State{Sub: None, PendingOut: true}, State{Sub: None, PendingIn: true}
	deny := Outbound(j, Unsubscribed, false) // Juliet's denial leaves her server
	j = deny.State
	resend := Outbound(r, Subscribe, false) // Romeo's resend leaves his
	r = resend.State
	if !deny.Route || !resend.Route {
		t.Fatal("both stanzas should be routed")
	}
	j = Inbound(j, false, Subscribe, false).State   // the resend reaches Juliet
	r = Inbound(r, true, Unsubscribed, false).State // the denial reaches Romeo
	if r != (State{}) || j != (State{PendingIn: true}) {
		t.Fatalf("Romeo %q, Juliet %q; want the documented None / None + Pending In", r, j)
	}
	approve := Outbound(j, Subscribed, false)
	if got := Inbound(r, true, Subscribed, false); approve.State.Sub != From || got.State.Sub != None || got.Deliver {
		t.Fatalf("approval: Juliet %q, Romeo %+v", approve.State, got)
	}
}

// key is a world's state without its log, for the exhaustive search.
type key [2]party

// TestModelExhaustive explores every state the two-user model can reach from
// two strangers by any sequence of the ten actions, checking the invariants
// after each action, and that every App. A.1 state and every place a
// pre-approval can be recorded is reached.
func TestModelExhaustive(t *testing.T) {
	start := newWorld(t, false)
	seen := map[key][]op{key(start.p): nil}
	queue := []key{key(start.p)}
	reached := map[State]bool{}
	approvedIn := map[State]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		path := seen[k]
		for _, o := range ops() {
			w := &world{p: k}
			w.fail = func(format string, args ...any) {
				t.Helper()
				t.Fatalf("after %v then %v: %s", path, o, fmt.Sprintf(format, args...))
			}
			w.apply(o)
			nk := key(w.p)
			reached[nk[romeo].st] = true
			if nk[romeo].approved {
				approvedIn[nk[romeo].st] = true
			}
			if _, ok := seen[nk]; !ok {
				seen[nk] = append(slices.Clip(path), o)
				queue = append(queue, nk)
			}
		}
	}
	for _, s := range States() {
		if !reached[s] {
			t.Errorf("state %q never reached", s)
		}
		if s.preApprovable() != approvedIn[s] {
			t.Errorf("pre-approval in %q reached = %v", s, approvedIn[s])
		}
	}
	t.Logf("%d reachable two-user states", len(seen))
}

// FuzzMachine applies a random sequence of the ten actions (one per input
// byte: bit 0 picks the user, the rest the action) to the two-user model and
// checks the invariants after each.
func FuzzMachine(f *testing.F) {
	all := ops()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256 {
			data = data[:256]
		}
		w := newWorld(t, false)
		var done []op
		for _, b := range data {
			o := all[int(b&1)*5+int(b>>1)%5]
			done = append(done, o)
			w.fail = func(format string, args ...any) {
				t.Helper()
				t.Fatalf("after %v: %s", done, fmt.Sprintf(format, args...))
			}
			w.apply(o)
		}
	})
}
