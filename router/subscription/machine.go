package subscription

// OutboundResult is what the user's server does when the user sends a
// subscription stanza to a contact (RFC 6121 App. A.2 and §3). The router
// performs the actions in the order given in the package documentation.
type OutboundResult struct {
	// State is the new state of the user's roster item for the contact:
	// the NEW STATE column of App. A.2.1–A.2.4 (Tables 2–5).
	State State

	// Route: route the stanza to the contact, stamped with the user's bare
	// JID (§3 implementation note; §3.1.2, §3.1.5, §3.2.2, §3.3.2), and for
	// a local contact process it with [Inbound]. This is the ROUTE? column
	// of App. A.2: true for MUST, false for "S.N." and "M.N.".
	Route bool

	// Push: send a roster push of the updated item to the user's interested
	// resources (§2.1.6; required by §3.1.2, §3.1.5, §3.2.2, §3.3.2 and
	// §3.4.2). It is true exactly when the item as a client sees it — its
	// existence, 'subscription', 'ask' and 'approved' — changes. Where §3
	// narrates a push for a case in which nothing a client can see changes
	// (a resent request, a denial), the push would repeat the item
	// unchanged and is not requested.
	Push bool

	// CreateItem: the result needs a roster item and State was one of the
	// two states that can exist without one ("None", "None + Pending In";
	// see [State.NeedsItem]), so the router must create the item if the
	// user has none: an outbound subscribe to a non-contact (§3.1.2, the
	// push of an item with ask='subscribe'), the approval of a request from
	// someone not in the roster (§3.1.5; App. A.1 state 3: the server waits
	// for approval before adding the contact), or a pre-approval for a
	// non-contact (§3.4.2 step 4). A pre-approval lives on an item, so
	// CreateItem is never set when preApproved was true.
	CreateItem bool

	// SendAvailable: after routing the approval, send the user's current
	// presence from each of the user's available resources to the contact
	// (§3.1.5). Set only when the contact has just gained a subscription.
	SendAvailable bool

	// SendUnavailable: before routing the cancellation, send presence of
	// type "unavailable" from each of the user's available resources to the
	// contact (§3.2.2, "while the user is still subscribed"). Set only when
	// the contact had a subscription to the user's presence; see the
	// package documentation for why a denial does not send it.
	SendUnavailable bool

	// PreApprove: record a subscription pre-approval (approved='true') on
	// the item instead of routing the "subscribed" (§3.4.2 step 3 and 4;
	// App. A.2.3 "pre-approval" rows). This package implements the
	// optional pre-approval support, so a server using it must advertise
	// the stream feature urn:xmpp:features:pre-approval (§3.4).
	PreApprove bool

	// ClearPreApproval: remove a recorded pre-approval. Set when the user
	// cancels it with "unsubscribed" (§3.2.2 step 2; §3.4.2 implementation
	// note; App. A.2.4 note [1]), and when preApproved was passed for a
	// state in which §3.4.2 step 3 would never have recorded one.
	ClearPreApproval bool
}

// Outbound computes what the user's server does when the user sends a
// presence stanza of kind k to a contact whose roster item is in state s
// (RFC 6121 App. A.2, §3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4.2). preApproved
// says whether the item carries a subscription pre-approval (§3.4); a
// contact the user has no item for is passed as State{} (App. A.1: "None"
// includes the unknown entity), or as "None + Pending In" when the server
// holds a request from it.
//
// An invalid state or kind is not processed: the result has State s and
// no actions.
func Outbound(s State, k Kind, preApproved bool) OutboundResult {
	if !s.Valid() || !k.Valid() {
		return OutboundResult{State: s}
	}
	var r OutboundResult
	n := s
	// A pre-approval exists only where §3.4.2 step 3 can record one; in
	// any other state it has no meaning and is dropped.
	approved := preApproved && s.preApprovable()

	switch k {
	case Subscribe:
		// App. A.2.1 (Table 2), §3.1.2: always routed (a repeat is a resend,
		// which §3.1.2 recommends after silence); "pending out" is added
		// unless the user is already subscribed.
		r.Route = true
		if !s.Sub.HasTo() {
			n.PendingOut = true
		}
	case Unsubscribe:
		// App. A.2.2 (Table 3), §3.3.2: always routed; the user's
		// subscription and any pending request of the user's end.
		r.Route = true
		n.Sub &^= To
		n.PendingOut = false
	case Subscribed:
		// App. A.2.3 (Table 4), §3.1.5, §3.4.2.
		switch {
		case s.PendingIn:
			// An approval (§3.4.2 step 2, §3.1.5): route it, the contact
			// now has a subscription, and gets the user's presence.
			r.Route = true
			r.SendAvailable = true
			n.Sub |= From
			n.PendingIn = false
		case !s.Sub.HasFrom():
			// "None", "None + Pending Out", "To": a pre-approval, not
			// routed (§3.4.2 steps 3 and 4; Table 4 "M.N.").
			approved = true
		default:
			// "From", "From + Pending Out", "Both": silently ignored
			// (§3.4.2 step 1; Table 4 "M.N.", no state change).
		}
	case Unsubscribed:
		// App. A.2.4 (Table 5), §3.2.2. Whatever else happens, the user no
		// longer pre-approves the contact (§3.2.1: "unsubscribed" cancels a
		// pre-approval).
		approved = false
		if s.PendingIn || s.Sub.HasFrom() {
			// §3.2.2 step 3: cancel the contact's subscription or deny its
			// request; routed.
			r.Route = true
			// "While the user is still subscribed" (§3.2.2): the unavailable
			// presence goes only to a contact that was receiving the user's
			// presence, never to one whose request is being denied.
			r.SendUnavailable = s.Sub.HasFrom()
			n.Sub &^= From
			n.PendingIn = false
		}
		// Otherwise ("None", "None + Pending Out", "To"): not routed and no
		// unavailable presence (§3.2.2 steps 1 and 2; Table 5 "S.N.").
	}

	approved = approved && n.preApprovable()
	r.State = n
	r.PreApprove = approved && !preApproved
	r.ClearPreApproval = preApproved && !approved
	r.CreateItem = !s.NeedsItem() && !preApproved && (n.NeedsItem() || approved)
	r.Push = seen(true, s, preApproved) != seen(true, n, approved)
	return r
}

// InboundResult is what the user's server does when a subscription stanza
// from a contact arrives for the user (RFC 6121 App. A.3 and §3). The
// router performs the actions in the order given in the package
// documentation.
type InboundResult struct {
	// State is the new state of the user's roster item for the contact:
	// the NEW STATE column of App. A.3.1–A.3.4 (Tables 6–9), except where
	// the package documentation lists a difference. When PendingIn goes
	// from true to false the router also discards any subscription request
	// it stored for later delivery (§3.1.3 step 4, §3.3.3).
	State State

	// Deliver: deliver the stanza to the user (the DELIVER? column of
	// App. A.3: true for MUST, false for "S.N.", except for the Table 7
	// rows the package documentation lists). A "subscribe" goes to the
	// user's available resources, or is stored and delivered when the user
	// next has one (§3.1.3 steps 3 and 4). "subscribed", "unsubscribe" and
	// "unsubscribed" go to the user's interested resources before the
	// roster push (§3.1.6 step 1, §3.3.3 step 1, §3.2.3 step 1); a server
	// may store them for an offline user (the implementation notes there).
	Deliver bool

	// Push: send a roster push of the updated item to the user's interested
	// resources (§3.1.6 step 2, §3.2.3 step 2, §3.3.3 step 2, §3.4.2). It
	// is true exactly when the item as a client sees it — its existence,
	// 'subscription', 'ask' and 'approved' — changes; a change of PendingIn
	// alone is invisible to clients and is not pushed.
	Push bool

	// CreateItem: the new state needs a roster item and the user has none.
	// An inbound stanza never creates an item by itself (§3.1.3 security
	// warning: not until the user approves); this is set only when the
	// router reports a pre-approval without an item (which §3.4.2 step 4
	// does not produce) and an auto-approval makes the contact a
	// subscriber.
	CreateItem bool

	// AutoReply, when HasAutoReply is set, is the kind of the stanza the
	// user's server sends to the contact on the user's behalf, from the
	// user's bare JID to the contact's bare JID: "subscribed" when the
	// contact is already subscribed (§3.1.3 step 2, a MUST; App. A.3.1 note
	// [2]) or the user pre-approved it (§3.1.3 step 2, §3.4.2; App. A.3.1
	// note [1]). The auto-reply is not processed with [Outbound]: its
	// effect on the user's item is already in State.
	AutoReply Kind
	// HasAutoReply reports whether AutoReply is to be sent.
	HasAutoReply bool

	// SendAvailable: after the auto-reply, send the user's current presence
	// from each of the user's available resources to the contact. For an
	// auto-approved pre-approval this is §3.1.5, performed on the user's
	// behalf; when the contact was already subscribed it is Herald's
	// choice (the RFC neither requires nor forbids it): the contact is
	// entitled to the presence and a repeated request usually means it has
	// lost its view of it.
	//
	// Nothing is generated after an inbound "subscribed": the available
	// presence §3.1.6 step 3 asks the user's server to deliver is the
	// contact's, sent by the contact's server under §3.1.5, and the router
	// delivers it as ordinary presence once State has To.
	SendAvailable bool

	// SendUnavailable: after the roster push, send presence of type
	// "unavailable" from each of the user's available resources to the
	// contact, who has unsubscribed (§3.3.3 step 3).
	SendUnavailable bool

	// ClearPreApproval: remove the item's pre-approval: consumed by an
	// automatic approval (Herald keeps no record of it afterwards, as the
	// §3.4.2 implementation note allows), or passed for a state in which
	// §3.4.2 step 3 would never have recorded one.
	ClearPreApproval bool
}

// Inbound computes what the user's server does when a presence stanza of
// kind k from a contact arrives for the user, whose roster item for the
// contact is in state s (RFC 6121 App. A.3, §3.1.3, §3.1.6, §3.2.3, §3.3.3,
// §3.4.2). exists says whether the user has a roster item for the contact
// at all; it matters only for "None" and "None + Pending In", the states
// that can exist without one, and is taken as true for every other state.
// preApproved says whether the item carries a subscription pre-approval.
//
// An invalid state or kind is not processed: the result has State s and
// no actions.
func Inbound(s State, exists bool, k Kind, preApproved bool) InboundResult {
	if !s.Valid() || !k.Valid() {
		return InboundResult{State: s}
	}
	exists = exists || s.NeedsItem()
	var r InboundResult
	n := s
	approved := preApproved && s.preApprovable()

	switch k {
	case Subscribe:
		// App. A.3.1 (Table 6), §3.1.3, §3.4.2.
		switch {
		case s.Sub.HasFrom():
			// Already subscribed: the server MUST answer for the user
			// (§3.1.3 step 2; Table 6 note [2] says SHOULD, the prose MUST
			// is followed) and does not deliver (Table 6 "S.N.").
			r.AutoReply, r.HasAutoReply = Subscribed, true
			r.SendAvailable = true
		case approved:
			// Pre-approved: MUST NOT deliver, MUST answer "subscribed"
			// (§3.4.2), and the contact is now subscribed, as if the user
			// had approved (Table 6 note [1]: "change the state to From").
			// Table 6 writes the note only on the "None" row; §3.4.2 applies
			// it to every state a pre-approval can exist in. The
			// pre-approval is spent: no state with From keeps one (below).
			r.AutoReply, r.HasAutoReply = Subscribed, true
			r.SendAvailable = true
			n.Sub |= From
			n.PendingIn = false
		case s.PendingIn:
			// A repeated request: not delivered again, no state change
			// (Table 6 "S.N."; §3.1.3 step 4: only one request per contact).
		default:
			// Deliver to the user for approval (§3.1.3 steps 1, 3, 4). No
			// roster item is created for a non-contact (§3.1.3 security
			// warning; App. A.1 state 3).
			r.Deliver = true
			n.PendingIn = true
		}
	case Unsubscribe:
		// App. A.3.2 (Table 7), §3.3.3.
		switch {
		case s.Sub.HasFrom():
			// "From", "From + Pending Out", "Both": the contact's
			// subscription ends; deliver, push, and send unavailable
			// (§3.3.3 steps 1–3).
			//
			// Table 7 note [1] says the server SHOULD also auto-reply
			// "unsubscribed"; §3.3.3 lists its steps without one, and the
			// prose is followed: at a peer in step with this one the reply
			// changes nothing, and a reply that overtakes a fresh
			// "subscribe" from the contact would deny that new request.
			r.Deliver = true
			r.SendUnavailable = true
			n.Sub &^= From
		case s.PendingIn:
			// The contact withdraws its request. §3.3.3 requires the check
			// above to pass before delivering, pushing or changing the
			// roster, and for a contact not in the roster says to "simply
			// remove any record of the inbound presence subscription
			// request". Table 7 instead says MUST deliver. The prose is
			// followed: not delivered, no push (nothing a client sees
			// changes), and the pending request is forgotten — for an item
			// as well as a non-contact, as Table 7's NEW STATE says, since
			// keeping it would let a later approval reach a contact that no
			// longer asks and leave the two rosters disagreeing.
			n.PendingIn = false
		default:
			// Nothing to end: ignored (§3.3.3 "otherwise"; Table 7 "S.N.").
		}
	case Subscribed:
		// App. A.3.3 (Table 8), §3.1.6: only an answer to a pending request
		// of the user's counts; anything else is silently ignored.
		if s.PendingOut {
			r.Deliver = true
			n.Sub |= To
			n.PendingOut = false
		}
	case Unsubscribed:
		// App. A.3.4 (Table 9), §3.2.3, §3.1.4. §3.2.3's check names only
		// subscription='to' or 'both', but §3.1.4 and §3.2.1 say a denial
		// of the user's request is this same stanza "processed as described
		// under Section 3.2" at the user's server, so a pending request of
		// the user's is ended too, as Table 9 says.
		if s.PendingOut || s.Sub.HasTo() {
			r.Deliver = true
			n.Sub &^= To
			n.PendingOut = false
		}
	}

	approved = approved && n.preApprovable()
	r.State = n
	r.ClearPreApproval = preApproved && !approved
	r.CreateItem = !exists && n.NeedsItem()
	r.Push = seen(exists, s, preApproved) != seen(exists || r.CreateItem, n, approved)
	return r
}

// RemoveResult is what the user's server sends to the contact when the user
// deletes the roster item for the contact (RFC 6121 §2.5.2). Afterwards the
// user has no item for the contact: its state is "None", with no pending
// request and no pre-approval.
type RemoveResult struct {
	// Unsubscribe: send presence of type "unsubscribe" to the contact, from
	// the user's bare JID (§2.5.2 rules 1 and 3: the user was subscribed to
	// the contact; also sent to withdraw a pending request of the user's).
	Unsubscribe bool
	// SendUnavailable: before the "unsubscribed", send presence of type
	// "unavailable" from each of the user's available resources to the
	// contact, which was subscribed to the user's presence (§3.2.2).
	SendUnavailable bool
	// Unsubscribed: send presence of type "unsubscribed" to the contact,
	// after the "unsubscribe" (§2.5.2 rules 2 and 3: the contact was
	// subscribed to the user; also sent to deny a pending request of the
	// contact's).
	Unsubscribed bool
}

// Remove computes the presence stanzas the user's server sends when the
// user deletes the roster item for a contact in state s (RFC 6121 §2.5.2).
// The stanzas are sent straight to the contact (with [Inbound] for a local
// one), not processed with [Outbound]: the user's side of them is the
// removal itself.
//
// §2.5.2 names only subscriptions. Pending requests are ended as well: an
// ask='subscribe' cannot outlive its item, and a request the user no
// longer has an item to answer would otherwise stay pending at one end
// only, so that the two rosters disagree.
func Remove(s State) RemoveResult {
	return RemoveResult{
		Unsubscribe:     s.Sub.HasTo() || s.PendingOut,
		SendUnavailable: s.Sub.HasFrom(),
		Unsubscribed:    s.Sub.HasFrom() || s.PendingIn,
	}
}

// view is a roster item as a client sees it (RFC 6121 §2.1.2): whether it
// exists and its 'subscription', 'ask' and 'approved' attributes. A roster
// push is owed exactly when the view changes.
type view struct {
	exists   bool
	sub      Sub
	ask      bool
	approved bool
}

// seen returns the view of an item in state s with the given pre-approval;
// a missing item is the zero view.
func seen(exists bool, s State, approved bool) view {
	if !exists {
		return view{}
	}
	return view{exists: true, sub: s.Sub, ask: s.PendingOut, approved: approved}
}
