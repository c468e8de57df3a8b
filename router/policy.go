package router

import (
	"context"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// StanzaKind is what a privacy policy distinguishes (XEP-0016 §2.1:
// message, iq, presence-in and presence-out; the direction tells in from
// out).
type StanzaKind uint8

// The stanza kinds a Policy judges.
const (
	KindMessage StanzaKind = iota + 1
	KindIQ
	// KindPresence is a presence notification: no type, or unavailable
	// (XEP-0016 §2.10, §2.11).
	KindPresence
	// KindSubscription is any other presence: subscribe, subscribed,
	// unsubscribe, unsubscribed and probe. XEP-0016 §2.10 excludes them
	// from presence notifications; only rules for every kind apply to them
	// (§2.13).
	KindSubscription
)

// kindOf returns the kind of a stanza.
func kindOf(el *etree.Element) StanzaKind {
	switch el.Tag {
	case "message":
		return KindMessage
	case "iq":
		return KindIQ
	}
	switch el.SelectAttrValue("type", "") {
	case "", "unavailable", "error":
		return KindPresence
	}
	return KindSubscription
}

// Policy filters the stanzas exchanged between local users and everyone
// else: privacy lists (XEP-0016) and blocking (XEP-0191). The router asks
// it before delivering to or routing from a local user; a blocked party
// sees the user as unavailable and is never told why.
type Policy interface {
	// Outbound judges a stanza the local user (sender: a full JID for a
	// session, the bare JID for stanzas the server sends on the account's
	// behalf, such as probe answers) sends to to. A non-nil error denies
	// it; for messages and iqs it is returned to the sender (XEP-0191
	// §3.3.1: not-acceptable with <blocked/>), presence is dropped.
	Outbound(ctx context.Context, sender, to jid.JID, k StanzaKind) *stream.StanzaError
	// Inbound judges a stanza from from to the local user (recipient: the
	// full JID of the session it would reach, or the bare JID when it is
	// stored for later) and reports whether it may pass.
	Inbound(ctx context.Context, recipient, from jid.JID, k StanzaKind) bool
	// SessionEnded forgets per-session state (the active list, XEP-0016
	// §2.3) of a session that ended.
	SessionEnded(full jid.JID)
}

// allowAll is the policy of a router configured without one.
type allowAll struct{}

func (allowAll) Outbound(context.Context, jid.JID, jid.JID, StanzaKind) *stream.StanzaError {
	return nil
}
func (allowAll) Inbound(context.Context, jid.JID, jid.JID, StanzaKind) bool { return true }
func (allowAll) SessionEnded(jid.JID)                                       {}

// SubHandling is what a user's presence authorization rules (RFC 5025
// §3.2.1 sub-handling) say about a subscription request.
type SubHandling uint8

// The sub-handling values of RFC 5025 §3.2.1, in increasing permission.
const (
	// SubBlock refuses the request: the requester is told "unsubscribed".
	SubBlock SubHandling = iota
	// SubPoliteBlock approves the request on the user's behalf without
	// asking or recording it, and the requester only ever sees the user
	// unavailable (RFC 5025 §3.2.1), so it cannot tell it was refused.
	SubPoliteBlock
	// SubConfirm asks the user, the ordinary flow of RFC 6121 §3.1.3.
	SubConfirm
	// SubAllow approves the request without asking the user, as a
	// pre-approval would (RFC 6121 §3.4).
	SubAllow
)

// SubscriptionPolicy decides what happens to an inbound subscription
// request before the subscription state machine sees it.
type SubscriptionPolicy interface {
	SubscriptionRequest(ctx context.Context, user, requester jid.JID) SubHandling
}

// confirmAll is the policy of a router configured without one.
type confirmAll struct{}

func (confirmAll) SubscriptionRequest(context.Context, jid.JID, jid.JID) SubHandling {
	return SubConfirm
}
