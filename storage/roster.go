package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrInvalid reports that a record handed to a store is malformed (for
// example a roster item in a state RFC 6121 Appendix A does not define, or a
// privacy list with two rules of the same order). Nothing is stored. Backends
// wrap it; test with errors.Is.
var ErrInvalid = errors.New("storage: invalid record")

// Subscription is the primary presence subscription state of a roster item
// (RFC 6121 Appendix A.1), seen from the user who owns the roster.
type Subscription uint8

// The four primary subscription states (RFC 6121 Appendix A.1). The zero
// value is SubNone.
const (
	// SubNone: neither the user nor the contact is subscribed to the other.
	SubNone Subscription = iota
	// SubTo: the user is subscribed to the contact's presence.
	SubTo
	// SubFrom: the contact is subscribed to the user's presence.
	SubFrom
	// SubBoth: each is subscribed to the other's presence.
	SubBoth
)

// String returns the 'subscription' attribute value for s ("none", "to",
// "from" or "both"; RFC 6121 §2.1.2.5), or "Subscription(N)" for a value
// outside the four states.
func (s Subscription) String() string {
	switch s {
	case SubNone:
		return "none"
	case SubTo:
		return "to"
	case SubFrom:
		return "from"
	case SubBoth:
		return "both"
	}
	return fmt.Sprintf("Subscription(%d)", uint8(s))
}

// Valid reports whether s is one of SubNone, SubTo, SubFrom and SubBoth.
func (s Subscription) Valid() bool { return s <= SubBoth }

// To reports whether the user is subscribed to the contact's presence
// (state "to" or "both").
func (s Subscription) To() bool { return s == SubTo || s == SubBoth }

// From reports whether the contact is subscribed to the user's presence
// (state "from" or "both"), that is whether the contact receives the user's
// presence broadcasts (RFC 6121 §4.2.2).
func (s Subscription) From() bool { return s == SubFrom || s == SubBoth }

// ParseSubscription parses a 'subscription' attribute value: "none", "to",
// "from" or "both" (RFC 6121 §2.1.2.5), matched exactly. "remove", which is a
// request rather than a state, and any other value fail with an error
// wrapping ErrInvalid.
func ParseSubscription(s string) (Subscription, error) {
	for sub := SubNone; sub <= SubBoth; sub++ {
		if s == sub.String() {
			return sub, nil
		}
	}
	return SubNone, fmt.Errorf("%w: %q is not a subscription state (RFC 6121 §2.1.2.5)", ErrInvalid, s)
}

// RosterItem is one contact in a user's roster (RFC 6121 §2.1.2), with the
// subscription state of RFC 6121 Appendix A: Subscription, PendingOut and
// PendingIn together name one of the nine states of Appendix A.1.
type RosterItem struct {
	// Contact is the contact's canonical bare JID, the item's key.
	Contact string
	// Name is the user-assigned handle ('name' attribute, RFC 6121
	// §2.1.2.4); "" for none.
	Name string
	// Groups are the roster groups the item belongs to (<group/>
	// elements, RFC 6121 §2.1.2.6). Stores normalise them with
	// NormalizeGroups, so they come back sorted in byte order, without
	// duplicates.
	Groups []string
	// Subscription is the primary subscription state.
	Subscription Subscription
	// PendingOut reports that the user has asked to subscribe to the
	// contact's presence and the contact has not answered (ask='subscribe',
	// RFC 6121 §2.1.2.2; "None + Pending Out", "From + Pending Out", "None +
	// Pending Out+In").
	PendingOut bool
	// PendingIn reports that the contact has asked to subscribe to the
	// user's presence and the user has not answered ("None + Pending In",
	// "To + Pending In", "None + Pending Out+In"). It is not shown to
	// clients as a roster attribute.
	PendingIn bool
	// PreApproved reports a subscription pre-approval (RFC 6121 §3.4;
	// approved='true', §2.1.2.1): a later subscription request from the
	// contact is approved automatically.
	PreApproved bool
	// Version is the roster version at which the item last changed. Stores
	// set it; the value passed to PutRosterItem is ignored.
	Version int64
}

// Validate reports whether the item can be stored: a non-empty Contact, a valid
// Subscription, no empty group name (RFC 6121 §2.3.3, "not-acceptable"), and
// flags that form one of the nine states of RFC 6121 Appendix A.1:
// PendingOut only with "none" or "from", PendingIn only with "none" or "to".
// A pre-approval (RFC 6121 §3.4.2) exists only with "none" or "to" and
// without PendingIn (approving a pending request is an approval, not a
// pre-approval). Errors wrap ErrInvalid.
func (it RosterItem) Validate() error {
	var problem string
	switch {
	case it.Contact == "":
		problem = "empty contact JID"
	case !it.Subscription.Valid():
		problem = fmt.Sprintf("unknown subscription state %v", it.Subscription)
	case slices.Contains(it.Groups, ""):
		problem = "empty group name (RFC 6121 §2.3.3)"
	case it.PendingOut && it.Subscription.To():
		problem = fmt.Sprintf("pending outbound request with subscription %q (RFC 6121 Appendix A.1)", it.Subscription)
	case it.PendingIn && it.Subscription.From():
		problem = fmt.Sprintf("pending inbound request with subscription %q (RFC 6121 Appendix A.1)", it.Subscription)
	case it.PreApproved && (it.Subscription.From() || it.PendingIn):
		problem = fmt.Sprintf("pre-approval with subscription %q, pending in %v (RFC 6121 §3.4.2)", it.Subscription, it.PendingIn)
	default:
		return nil
	}
	return fmt.Errorf("%w: roster item %q: %s", ErrInvalid, it.Contact, problem)
}

// NormalizeGroups returns a sorted (byte order) copy of groups without
// duplicates, or nil if groups is empty. Group names are compared octet for
// octet.
func NormalizeGroups(groups []string) []string {
	if len(groups) == 0 {
		return nil
	}
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out)
}

// RosterChange is a roster item changed after some version: the item as it
// now is, or, if Deleted, a removal (tombstone) of which only Item.Contact
// and Item.Version are meaningful. It is what a server sends as an "interim
// roster push" (RFC 6121 §2.6.3), a removal as subscription='remove'.
type RosterChange struct {
	Item    RosterItem
	Deleted bool
}

// Rosters stores each user's roster (RFC 6121 §2) with roster versioning
// (RFC 6121 §2.6).
//
// Every change to an owner's roster gets a new version, greater than any
// version the owner's roster had before, atomically with the change. A
// version is never reused for the same owner, not even after the account is
// deleted and created again, so a client's cached version of a deleted
// account is never mistaken for a version of the new one. The empty,
// never-changed roster has version 0. Versions of different owners are
// unrelated, and need not be consecutive.
//
// Owners and contacts are canonical bare JIDs, compared octet for octet.
// PutRosterItem fails with ErrNotFound if the owner has no account; reads of
// an owner without an account return an empty roster. Errors are wrapped;
// test them with errors.Is.
type Rosters interface {
	// Roster returns all items, sorted by Contact in byte order, and the
	// current roster version (0 for an empty, never-changed roster).
	Roster(ctx context.Context, owner string) ([]RosterItem, int64, error)
	// RosterItem returns one item. It fails with ErrNotFound if the contact
	// is not in the owner's roster.
	RosterItem(ctx context.Context, owner, contact string) (RosterItem, error)
	// PutRosterItem inserts or replaces the item for item.Contact, bumps the
	// owner's roster version and returns the new version, which is also the
	// stored item's Version. Groups are normalised with NormalizeGroups; an
	// item that fails Validate is rejected with ErrInvalid.
	PutRosterItem(ctx context.Context, owner string, item RosterItem) (int64, error)
	// DeleteRosterItem removes an item, leaving a tombstone for
	// RosterChangesSince, and returns the new version. It fails with
	// ErrNotFound if the contact is not in the owner's roster.
	DeleteRosterItem(ctx context.Context, owner, contact string) (int64, error)
	// RosterChangesSince returns the changes made after version since, in
	// the order they were made (ascending Item.Version), with one entry per
	// changed contact: its latest state or a tombstone. Applying them to
	// the roster as it was at version since yields the roster at version
	// current. since 0 stands for the empty roster.
	//
	// ok is false, and changes nil, when the store cannot answer
	// incrementally because since is not a version of this roster: negative,
	// greater than current, from before the account was (re)created, or
	// older than the oldest tombstone the store still keeps. The caller
	// then sends the full roster (RFC 6121 §2.6.3).
	RosterChangesSince(ctx context.Context, owner string, since int64) (changes []RosterChange, current int64, ok bool, err error)
	// Subscribers returns, sorted in byte order, the contacts whose
	// subscription is "from" or "both": those that receive the owner's
	// presence broadcasts (RFC 6121 §4.2.2, §4.4.2).
	Subscribers(ctx context.Context, owner string) ([]string, error)
}

// SubscriptionRequest is a pending inbound presence subscription request
// ("Pending In", RFC 6121 §3.1.3): the contact asked to subscribe to the
// owner's presence and the owner has not answered yet.
type SubscriptionRequest struct {
	// Contact is the requesting contact's canonical bare JID.
	Contact string
	// Stanza is the original <presence type='subscribe'/> stanza, serialised,
	// so that it can be delivered again when the user next comes online
	// (RFC 6121 §3.1.3).
	Stanza []byte
	// Received is when the store recorded the request.
	Received time.Time
}

// SubscriptionRequests stores pending inbound subscription requests, one
// per (owner, contact). They exist independently of roster items: RFC 6121
// Appendix A.1 ("None + Pending In") forbids creating a roster item for a
// request the user has not approved.
//
// PutSubscriptionRequest fails with ErrNotFound if the owner has no
// account; reads of an owner without an account return nothing. Errors are
// wrapped; test them with errors.Is.
type SubscriptionRequests interface {
	// PutSubscriptionRequest records a request from contact, replacing any
	// earlier request from the same contact (which then counts as received
	// now). An empty stanza is rejected with ErrInvalid.
	PutSubscriptionRequest(ctx context.Context, owner, contact string, stanza []byte) error
	// DeleteSubscriptionRequest forgets the request from contact, if any;
	// it is not an error if there is none.
	DeleteSubscriptionRequest(ctx context.Context, owner, contact string) error
	// SubscriptionRequests returns the owner's pending requests, oldest
	// first (in the order they were stored).
	SubscriptionRequests(ctx context.Context, owner string) ([]SubscriptionRequest, error)
}
