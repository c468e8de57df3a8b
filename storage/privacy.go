package storage

import (
	"context"
	"errors"
	"fmt"
)

// ErrConflict reports that a change is refused because of the record's
// current state, for example deleting the default privacy list (XEP-0016
// §2.8: the user must first choose another default). Backends wrap it; test
// with errors.Is.
var ErrConflict = errors.New("storage: conflict")

// Privacy rule types: the 'type' attribute of a privacy list <item/>
// (XEP-0016 §2.1).
const (
	// PrivacyFallThrough is a rule without a type, which matches every
	// stanza.
	PrivacyFallThrough = ""
	// PrivacyJID matches by JID; Value is a JID.
	PrivacyJID = "jid"
	// PrivacyGroup matches contacts in a roster group; Value is the group.
	PrivacyGroup = "group"
	// PrivacySubscription matches by subscription state; Value is "none",
	// "to", "from" or "both".
	PrivacySubscription = "subscription"
)

// PrivacyRule is one <item/> of a privacy list (XEP-0016 §2.1).
type PrivacyRule struct {
	// Type is PrivacyFallThrough, PrivacyJID, PrivacyGroup or
	// PrivacySubscription.
	Type string
	// Value is what Type matches: a JID, a group name or a subscription
	// state; "" for a fall-through rule.
	Value string
	// Allow is the action: true for "allow", false for "deny".
	Allow bool
	// Order is the rule's position; rules are processed in ascending Order,
	// which is unique within a list.
	Order uint32
	// Message, IQ, PresenceIn and PresenceOut select the stanzas the rule
	// applies to (the <message/>, <iq/>, <presence-in/> and <presence-out/>
	// children). All false means all of them (XEP-0016 §2.1).
	Message, IQ, PresenceIn, PresenceOut bool
}

// Validate reports whether r is well formed (XEP-0016 §2.1): a known Type,
// an empty Value for a fall-through rule, a non-empty Value otherwise and one
// of "none", "to", "from" or "both" for a subscription rule. Errors wrap
// ErrInvalid.
func (r PrivacyRule) Validate() error {
	var problem string
	switch r.Type {
	case PrivacyFallThrough:
		if r.Value != "" {
			problem = fmt.Sprintf("fall-through rule with value %q", r.Value)
		}
	case PrivacyJID, PrivacyGroup:
		if r.Value == "" {
			problem = fmt.Sprintf("%s rule without a value", r.Type)
		}
	case PrivacySubscription:
		if _, err := ParseSubscription(r.Value); err != nil {
			problem = fmt.Sprintf("subscription rule with value %q, want none, to, from or both", r.Value)
		}
	default:
		problem = fmt.Sprintf("unknown type %q", r.Type)
	}
	if problem != "" {
		return fmt.Errorf("%w: privacy rule %d: %s (XEP-0016 §2.1)", ErrInvalid, r.Order, problem)
	}
	return nil
}

// PrivacyList is a named, ordered list of privacy rules (XEP-0016 §2).
type PrivacyList struct {
	// Name is the list's name, unique per user and never empty.
	Name string
	// Rules are the list's rules; stores return them sorted by Order.
	Rules []PrivacyRule
}

// Validate reports whether l can be stored: a non-empty Name, valid rules
// and no two rules with the same Order (XEP-0016 §2.1 requires
// <bad-request/> for that). A list without rules is valid. Errors wrap
// ErrInvalid.
func (l PrivacyList) Validate() error {
	if l.Name == "" {
		return fmt.Errorf("%w: privacy list without a name", ErrInvalid)
	}
	seen := make(map[uint32]bool, len(l.Rules))
	for _, r := range l.Rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("privacy list %q: %w", l.Name, err)
		}
		if seen[r.Order] {
			return fmt.Errorf("%w: privacy list %q: two rules with order %d (XEP-0016 §2.1)", ErrInvalid, l.Name, r.Order)
		}
		seen[r.Order] = true
	}
	return nil
}

// PrivacyLists stores users' privacy lists (XEP-0016 §2) and which of them,
// if any, is the user's default list (XEP-0016 §2.5). Active lists are
// per-session state and not stored.
//
// PutPrivacyList fails with ErrNotFound if the owner has no account; reads
// of an owner without an account find no lists. Errors are wrapped; test them with
// errors.Is.
type PrivacyLists interface {
	// PrivacyListNames returns the names of the owner's lists, sorted in
	// byte order, and the name of the default list ("" if none).
	PrivacyListNames(ctx context.Context, owner string) (names []string, defaultName string, err error)
	// PrivacyList returns one list, its rules sorted by Order. It fails with
	// ErrNotFound if the owner has no list of that name.
	PrivacyList(ctx context.Context, owner, name string) (PrivacyList, error)
	// PutPrivacyList creates a list or replaces all the rules of the list
	// with the same name (XEP-0016 §2.6, §2.7); a replaced default list
	// stays the default. A list that fails Validate, for example one with
	// duplicate Order values, is rejected with ErrInvalid.
	PutPrivacyList(ctx context.Context, owner string, list PrivacyList) error
	// DeletePrivacyList removes a list (XEP-0016 §2.8). It fails with
	// ErrNotFound if there is no such list and with ErrConflict if it is
	// the default list.
	DeletePrivacyList(ctx context.Context, owner, name string) error
	// SetDefaultPrivacyList makes the named list the owner's default
	// (XEP-0016 §2.5); name "" declines the use of a default list. It fails
	// with ErrNotFound if there is no list of that name.
	SetDefaultPrivacyList(ctx context.Context, owner, name string) error
}
