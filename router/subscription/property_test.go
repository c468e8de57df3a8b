package subscription

import "testing"

// each calls f for every valid input: the nine states × four kinds ×
// pre-approved, and for inbound whether the item exists.
func each(f func(s State, k Kind, pre, exists bool)) {
	for _, s := range States() {
		for _, k := range kinds {
			for _, pre := range []bool{false, true} {
				for _, exists := range []bool{false, true} {
					f(s, k, pre, exists)
				}
			}
		}
	}
}

// TestResultStateIsValid: every valid input yields one of the nine states.
func TestResultStateIsValid(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		if got := Outbound(s, k, pre).State; !got.Valid() {
			t.Errorf("Outbound(%q, %s, %v) gave invalid state %q", s, k, pre, got)
		}
		if got := Inbound(s, exists, k, pre).State; !got.Valid() {
			t.Errorf("Inbound(%q, %v, %s, %v) gave invalid state %q", s, exists, k, pre, got)
		}
	})
}

// TestNoPendingFlagFromNothing: only an outbound subscribe sets Pending Out
// and only an inbound subscribe sets Pending In (App. A.2.1, A.3.1); no other
// transition invents a pending request. A new inbound request is always
// delivered to the user (§3.1.3), never silently recorded.
func TestNoPendingFlagFromNothing(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		o := Outbound(s, k, pre).State
		if o.PendingIn && !s.PendingIn {
			t.Errorf("Outbound(%q, %s, %v) set Pending In", s, k, pre)
		}
		if o.PendingOut && !s.PendingOut && k != Subscribe {
			t.Errorf("Outbound(%q, %s, %v) set Pending Out", s, k, pre)
		}
		in := Inbound(s, exists, k, pre)
		if in.State.PendingOut && !s.PendingOut {
			t.Errorf("Inbound(%q, %v, %s, %v) set Pending Out", s, exists, k, pre)
		}
		if in.State.PendingIn && !s.PendingIn {
			if k != Subscribe {
				t.Errorf("Inbound(%q, %v, %s, %v) set Pending In", s, exists, k, pre)
			}
			if !in.Deliver {
				t.Errorf("Inbound(%q, %v, %s, %v) recorded a request without delivering it", s, exists, k, pre)
			}
		}
	})
}

// TestNoSubscriptionWithoutConsent: the user's server never gives the user a
// subscription to the contact on its own (To is granted only by an inbound
// "subscribed" answering the user's request, §3.1.6), and never gives the
// contact a subscription the user did not grant (From is granted only by the
// user's "subscribed", §3.1.5, or a pre-approval, §3.4.2).
func TestNoSubscriptionWithoutConsent(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		if o := Outbound(s, k, pre); o.State.Sub.HasTo() && !s.Sub.HasTo() {
			t.Errorf("Outbound(%q, %s, %v) granted To", s, k, pre)
		}
		if o := Outbound(s, k, pre); o.State.Sub.HasFrom() && !s.Sub.HasFrom() && (k != Subscribed || !s.PendingIn) {
			t.Errorf("Outbound(%q, %s, %v) granted From without approving a request", s, k, pre)
		}
		in := Inbound(s, exists, k, pre)
		if in.State.Sub.HasTo() && !s.Sub.HasTo() && (k != Subscribed || !s.PendingOut) {
			t.Errorf("Inbound(%q, %v, %s, %v) granted To without a pending request", s, exists, k, pre)
		}
		if in.State.Sub.HasFrom() && !s.Sub.HasFrom() && (k != Subscribe || !pre) {
			t.Errorf("Inbound(%q, %v, %s, %v) granted From without a pre-approval", s, exists, k, pre)
		}
		if in.State.Sub != s.Sub && !in.Deliver && !in.HasAutoReply {
			t.Errorf("Inbound(%q, %v, %s, %v) changed the subscription silently", s, exists, k, pre)
		}
	})
}

// TestRepeatIsIdempotent: sending or receiving the same kind twice leaves
// the state where the first left it, and the second changes nothing a client
// sees and delivers nothing (e.g. a second "subscribe" is routed again, as a
// resend, but neither flips state nor pushes).
func TestRepeatIsIdempotent(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		o1 := Outbound(s, k, pre)
		pre1 := (pre || o1.PreApprove) && !o1.ClearPreApproval
		o2 := Outbound(o1.State, k, pre1)
		if o2.State != o1.State || o2.Push || o2.CreateItem || o2.PreApprove || o2.ClearPreApproval ||
			o2.SendAvailable || o2.SendUnavailable {
			t.Errorf("Outbound %s twice from %q (pre %v): first %+v, second %+v", k, s, pre, o1, o2)
		}
		if o2.Route && k != Subscribe && k != Unsubscribe {
			t.Errorf("Outbound %s twice from %q (pre %v): routed twice", k, s, pre)
		}

		i1 := Inbound(s, exists, k, pre)
		i2 := Inbound(i1.State, exists || i1.CreateItem, k, pre && !i1.ClearPreApproval)
		if i2.State != i1.State || i2.Push || i2.CreateItem || i2.Deliver || i2.ClearPreApproval || i2.SendUnavailable {
			t.Errorf("Inbound %s twice at %q (exists %v, pre %v): first %+v, second %+v", k, s, exists, pre, i1, i2)
		}
	})
}

// TestResultFlagsAreCoherent checks relations between the result fields
// that hold for every input.
func TestResultFlagsAreCoherent(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		o := Outbound(s, k, pre)
		switch {
		case o.CreateItem && !o.Push:
			t.Errorf("Outbound(%q, %s, %v): created an item without pushing it", s, k, pre)
		case o.CreateItem && s.NeedsItem():
			t.Errorf("Outbound(%q, %s, %v): created an item the state already implies", s, k, pre)
		case o.PreApprove && (o.Route || pre):
			t.Errorf("Outbound(%q, %s, %v): pre-approval routed or recorded twice", s, k, pre)
		case o.PreApprove && o.ClearPreApproval:
			t.Errorf("Outbound(%q, %s, %v): pre-approval both recorded and cleared", s, k, pre)
		case o.ClearPreApproval && !pre:
			t.Errorf("Outbound(%q, %s, %v): cleared a pre-approval that was not there", s, k, pre)
		case o.SendAvailable && !(o.Route && o.State.Sub.HasFrom()):
			// Presence goes only to a contact that is now subscribed and
			// has been sent the approval (§3.1.5).
			t.Errorf("Outbound(%q, %s, %v): available presence to a non-subscriber", s, k, pre)
		case o.SendUnavailable && !(o.Route && s.Sub.HasFrom() && !o.State.Sub.HasFrom()):
			t.Errorf("Outbound(%q, %s, %v): unavailable presence to a contact that was not a subscriber", s, k, pre)
		case k != Subscribed && k != Unsubscribed && !o.Route:
			t.Errorf("Outbound(%q, %s, %v): subscribe/unsubscribe not routed (App. A.2.1, A.2.2: MUST)", s, k, pre)
		}

		in := Inbound(s, exists, k, pre)
		hasItem := exists || s.NeedsItem()
		switch {
		case in.CreateItem && (hasItem || !in.Push):
			t.Errorf("Inbound(%q, %v, %s, %v): bad CreateItem", s, exists, k, pre)
		case in.Push && !hasItem && !in.CreateItem:
			t.Errorf("Inbound(%q, %v, %s, %v): push for an item that does not exist", s, exists, k, pre)
		case in.HasAutoReply && (in.AutoReply != Subscribed || in.Deliver || k != Subscribe):
			// §3.4.2: MUST NOT deliver a pre-approved request; §3.1.3 step
			// 2: the reply to a subscriber replaces delivery.
			t.Errorf("Inbound(%q, %v, %s, %v): bad auto-reply %+v", s, exists, k, pre, in)
		case in.SendAvailable && !(in.HasAutoReply && in.State.Sub.HasFrom()):
			t.Errorf("Inbound(%q, %v, %s, %v): available presence to a non-subscriber", s, exists, k, pre)
		case in.SendUnavailable && !(s.Sub.HasFrom() && !in.State.Sub.HasFrom() && k == Unsubscribe):
			t.Errorf("Inbound(%q, %v, %s, %v): unavailable presence without an unsubscribe", s, exists, k, pre)
		case in.ClearPreApproval && !pre:
			t.Errorf("Inbound(%q, %v, %s, %v): cleared a pre-approval that was not there", s, exists, k, pre)
		}
	})
}

// TestPreApprovalOnlyWhereRecordable: after any transition a pre-approval
// survives only in "None", "None + Pending Out" or "To" (§3.4.2 step 3).
func TestPreApprovalOnlyWhereRecordable(t *testing.T) {
	each(func(s State, k Kind, pre, exists bool) {
		o := Outbound(s, k, pre)
		if (pre || o.PreApprove) && !o.ClearPreApproval && !o.State.preApprovable() {
			t.Errorf("Outbound(%q, %s, %v): pre-approval kept in %q", s, k, pre, o.State)
		}
		in := Inbound(s, exists, k, pre)
		if pre && !in.ClearPreApproval && !in.State.preApprovable() {
			t.Errorf("Inbound(%q, %v, %s, %v): pre-approval kept in %q", s, exists, k, pre, in.State)
		}
	})
}
