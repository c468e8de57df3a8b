package subscription

import "fmt"

// Sub is the primary subscription state of a roster item (RFC 6121
// App. A.1, the 'subscription' attribute of §2.1.2.5), seen from the user
// who owns the roster. It is a two-bit set: [To] is the user's subscription
// to the contact's presence, [From] the contact's subscription to the
// user's presence, and [Both] is their union.
type Sub uint8

// The four primary subscription states of RFC 6121 App. A.1. The numeric
// values match storage.Subscription.
const (
	// None: neither is subscribed to the other's presence.
	None Sub = 0
	// To: the user is subscribed to the contact's presence.
	To Sub = 1
	// From: the contact is subscribed to the user's presence.
	From Sub = 2
	// Both: each is subscribed to the other's presence (To | From).
	Both Sub = To | From
)

// String returns the App. A.1 name of s: "None", "To", "From" or "Both",
// or "Sub(N)" for a value outside the four states.
func (s Sub) String() string {
	switch s {
	case None:
		return "None"
	case To:
		return "To"
	case From:
		return "From"
	case Both:
		return "Both"
	}
	return fmt.Sprintf("Sub(%d)", uint8(s))
}

// Attr returns the value of the 'subscription' attribute that represents s
// in a roster item (RFC 6121 §2.1.2.5): "none", "to", "from" or "both";
// "" for a value outside the four states.
func (s Sub) Attr() string {
	switch s {
	case None:
		return "none"
	case To:
		return "to"
	case From:
		return "from"
	case Both:
		return "both"
	}
	return ""
}

// ParseSub parses a 'subscription' attribute value (RFC 6121 §2.1.2.5),
// matched exactly. "remove", which is a request rather than a state, and
// any other value report false.
func ParseSub(attr string) (Sub, bool) {
	switch attr {
	case "none":
		return None, true
	case "to":
		return To, true
	case "from":
		return From, true
	case "both":
		return Both, true
	}
	return None, false
}

// HasTo reports whether the user is subscribed to the contact's presence
// (To or Both).
func (s Sub) HasTo() bool { return s&To != 0 }

// HasFrom reports whether the contact is subscribed to the user's presence
// (From or Both), that is whether the contact receives the user's presence.
func (s Sub) HasFrom() bool { return s&From != 0 }

// State is the subscription state of one roster item from the user's point
// of view (RFC 6121 App. A.1): a primary state and the two pending
// sub-states. Only nine of the combinations are defined; see [State.Valid].
type State struct {
	// Sub is the primary state: None, To, From or Both.
	Sub Sub
	// PendingOut reports that the user asked to subscribe to the contact
	// and the contact has not answered (ask='subscribe', §2.1.2.2).
	PendingOut bool
	// PendingIn reports that the contact asked to subscribe to the user
	// and the user has not answered. It has no roster attribute: clients
	// learn of it only from the delivered subscription request.
	PendingIn bool
}

// States returns the nine states of RFC 6121 App. A.1, in the order the
// appendix lists them (which is also the row order of every App. A table).
// Each call returns a new slice.
func States() []State {
	return []State{
		{Sub: None},
		{Sub: None, PendingOut: true},
		{Sub: None, PendingIn: true},
		{Sub: None, PendingOut: true, PendingIn: true},
		{Sub: To},
		{Sub: To, PendingIn: true},
		{Sub: From},
		{Sub: From, PendingOut: true},
		{Sub: Both},
	}
}

// Valid reports whether s is one of the nine states of RFC 6121 App. A.1.
// A user already subscribed to the contact cannot also be asking to
// subscribe (no "To + Pending Out"), a contact already subscribed to the
// user cannot also be asking (no "From + Pending In"), and so "Both" has no
// pending sub-state.
func (s State) Valid() bool {
	return s.Sub <= Both &&
		!(s.Sub.HasTo() && s.PendingOut) &&
		!(s.Sub.HasFrom() && s.PendingIn)
}

// String returns the App. A.1 name of s, e.g. "None", "None + Pending
// Out", "None + Pending Out+In", "To + Pending In", "Both". An invalid
// state is named by the same rule (e.g. "Both + Pending In"), which is not
// an App. A.1 name.
func (s State) String() string {
	name := s.Sub.String()
	switch {
	case s.PendingOut && s.PendingIn:
		return name + " + Pending Out+In"
	case s.PendingOut:
		return name + " + Pending Out"
	case s.PendingIn:
		return name + " + Pending In"
	}
	return name
}

// NeedsItem reports whether s can only be held by an existing roster item.
// Only "None" (an unknown entity, App. A.1 implementation note) and "None +
// Pending In" (a request from someone the user has not added, App. A.1
// state 3 and §3.1.3's security warning) can exist without one.
func (s State) NeedsItem() bool { return s.Sub != None || s.PendingOut }

// preApprovable reports whether a subscription pre-approval can be recorded
// in state s: RFC 6121 §3.4.2 step 3 lists "To", "None" and "None + Pending
// Out" (the contact is neither subscribed nor asking). In every other state
// an outbound "subscribed" is either an approval (step 2) or ignored
// (step 1).
func (s State) preApprovable() bool {
	return s.Valid() && !s.PendingIn && !s.Sub.HasFrom()
}

// Kind is the type of a presence subscription stanza (RFC 6121 §3,
// §4.7.1). The zero Kind is not a kind.
type Kind uint8

// The four subscription-related presence types of RFC 6121 §4.7.1.
const (
	// Subscribe asks for a subscription to the recipient's presence (§3.1).
	Subscribe Kind = iota + 1
	// Subscribed approves a subscription request, or pre-approves one
	// (§3.1.5, §3.4).
	Subscribed
	// Unsubscribe ends the sender's subscription to the recipient's
	// presence, or withdraws a pending request (§3.3).
	Unsubscribe
	// Unsubscribed cancels or denies the recipient's subscription to the
	// sender's presence, or cancels a pre-approval (§3.2).
	Unsubscribed
)

// ParseKind maps a presence 'type' attribute value to a Kind. It reports
// false for every other value, including "" (available presence),
// "unavailable", "probe" and "error"; attribute values are compared
// exactly (XML is case-sensitive).
func ParseKind(presenceType string) (Kind, bool) {
	switch presenceType {
	case "subscribe":
		return Subscribe, true
	case "subscribed":
		return Subscribed, true
	case "unsubscribe":
		return Unsubscribe, true
	case "unsubscribed":
		return Unsubscribed, true
	}
	return 0, false
}

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k >= Subscribe && k <= Unsubscribed }

// String returns the presence 'type' value for k ("subscribe",
// "subscribed", "unsubscribe", "unsubscribed"), or "Kind(N)" for a value
// that is not a kind.
func (k Kind) String() string {
	switch k {
	case Subscribe:
		return "subscribe"
	case Subscribed:
		return "subscribed"
	case Unsubscribe:
		return "unsubscribe"
	case Unsubscribed:
		return "unsubscribed"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}
