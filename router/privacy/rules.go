package privacy

import (
	"context"
	"fmt"
	"slices"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
)

// kind bits: which stanzas a rule applies to (XEP-0016 §2.1). A rule with
// no bit applies to all of them.
const (
	kindMessage uint8 = 1 << iota
	kindIQ
	kindPresenceIn
	kindPresenceOut
)

// direction of a stanza relative to the list's owner.
type direction uint8

const (
	inbound direction = iota
	outbound
)

// kindBit returns the kind bit a stanza of kind k travelling in dir
// selects, or 0 when only rules applying to every stanza can match it:
// outgoing messages and iqs (the <message/> and <iq/> children block
// incoming stanzas only, XEP-0016 §2.1) and any kind other than message, iq
// and presence notification (subscription stanzas and probes, §2.10,
// §2.13).
func kindBit(dir direction, k router.StanzaKind) uint8 {
	switch {
	case dir == inbound && k == router.KindMessage:
		return kindMessage
	case dir == inbound && k == router.KindIQ:
		return kindIQ
	case dir == inbound && k == router.KindPresence:
		return kindPresenceIn
	case dir == outbound && k == router.KindPresence:
		return kindPresenceOut
	}
	return 0
}

// ruleType is a compiled rule's 'type' attribute.
type ruleType uint8

const (
	typeAll ruleType = iota // fall-through
	typeJID
	typeGroup
	typeSubscription
)

// jidForm is the form of a jid rule's value (XEP-0016 §2.1).
type jidForm uint8

const (
	formExact  jidForm = iota // user@domain/resource or domain/resource
	formBare                  // user@domain
	formDomain                // domain
)

// rule is a compiled privacy rule.
type rule struct {
	typ   ruleType
	allow bool
	kinds uint8
	// jid and form for typeJID; a value that does not parse never matches
	// (never stored by the modules, which reject it).
	jid     jid.JID
	form    jidForm
	invalid bool
	// group for typeGroup, sub for typeSubscription.
	group string
	sub   storage.Subscription
}

// blocking reports whether r is a blocking rule: a jid deny rule for every
// stanza kind, which is how a XEP-0191 block is stored.
func (r *rule) blocking() bool {
	return r.typ == typeJID && !r.allow && r.kinds == 0 && !r.invalid
}

// list is a compiled privacy list: rules in ascending order.
type list struct {
	name  string
	rules []rule
}

// compile turns a stored list into its evaluation form. Rules are sorted by
// Order (XEP-0016 §2.2 rule 5) whatever order the store returns them in.
func compile(l storage.PrivacyList) *list {
	rules := slices.Clone(l.Rules)
	slices.SortStableFunc(rules, func(a, b storage.PrivacyRule) int {
		switch {
		case a.Order < b.Order:
			return -1
		case a.Order > b.Order:
			return 1
		}
		return 0
	})
	out := &list{name: l.Name, rules: make([]rule, 0, len(rules))}
	for _, sr := range rules {
		out.rules = append(out.rules, compileRule(sr))
	}
	return out
}

func compileRule(sr storage.PrivacyRule) rule {
	r := rule{allow: sr.Allow}
	if sr.Message {
		r.kinds |= kindMessage
	}
	if sr.IQ {
		r.kinds |= kindIQ
	}
	if sr.PresenceIn {
		r.kinds |= kindPresenceIn
	}
	if sr.PresenceOut {
		r.kinds |= kindPresenceOut
	}
	switch sr.Type {
	case storage.PrivacyJID:
		r.typ = typeJID
		j, err := jid.Parse(sr.Value)
		if err != nil {
			r.invalid = true
			break
		}
		r.jid = j
		switch {
		case j.IsBare() && j.Local() == "":
			r.form = formDomain
		case j.IsBare():
			r.form = formBare
		default:
			r.form = formExact
		}
	case storage.PrivacyGroup:
		r.typ = typeGroup
		r.group = sr.Value
	case storage.PrivacySubscription:
		r.typ = typeSubscription
		s, err := storage.ParseSubscription(sr.Value)
		if err != nil {
			r.invalid = true
		}
		r.sub = s
	case storage.PrivacyFallThrough:
		r.typ = typeAll
	default:
		r.invalid = true
	}
	return r
}

// matchJID applies XEP-0016 §2.1's four forms to the other party's address.
func (r *rule) matchJID(other jid.JID) bool {
	switch r.form {
	case formExact:
		return other == r.jid
	case formBare:
		return other.Bare() == r.jid
	default:
		return other.Domainpart() == r.jid
	}
}

// RosterLookup returns owner's roster item for contact (a bare JID) and
// whether there is one. Group and subscription rules consult it.
type RosterLookup func(ctx context.Context, owner, contact jid.JID) (storage.RosterItem, bool, error)

// rosterView looks the other party's roster item up at most once per
// evaluation, and only when a group or subscription rule needs it.
type rosterView struct {
	lookup RosterLookup
	done   bool
	item   storage.RosterItem
	ok     bool
}

func (v *rosterView) get(ctx context.Context, owner, other jid.JID) (storage.RosterItem, bool, error) {
	if !v.done {
		if v.lookup != nil {
			it, ok, err := v.lookup(ctx, owner, other.Bare())
			if err != nil {
				return storage.RosterItem{}, false, fmt.Errorf("roster of %s: %w", owner, err)
			}
			v.item, v.ok = it, ok
		}
		v.done = true
	}
	return v.item, v.ok, nil
}

// decide evaluates l for a stanza between owner and other of the given kind
// bit (XEP-0016 §2.2 rules 5–7). It returns whether the stanza may pass and
// the rule that decided (nil when none matched).
func (l *list) decide(ctx context.Context, roster RosterLookup, owner, other jid.JID, bit uint8) (bool, *rule, error) {
	if l == nil {
		return true, nil, nil
	}
	rv := rosterView{lookup: roster}
	for i := range l.rules {
		r := &l.rules[i]
		if r.invalid || (r.kinds != 0 && r.kinds&bit == 0) {
			continue
		}
		var match bool
		switch r.typ {
		case typeAll:
			match = true
		case typeJID:
			match = r.matchJID(other)
		case typeGroup:
			it, ok, err := rv.get(ctx, owner, other)
			if err != nil {
				return false, nil, err
			}
			match = ok && slices.Contains(it.Groups, r.group)
		case typeSubscription:
			it, ok, err := rv.get(ctx, owner, other)
			if err != nil {
				return false, nil, err
			}
			sub := storage.SubNone
			if ok {
				sub = it.Subscription
			}
			match = sub == r.sub
		}
		if match {
			return r.allow, r, nil
		}
	}
	return true, nil, nil
}

// blocked returns the JIDs of l's blocking rules, in list order without
// duplicates (XEP-0191 §5).
func (l *list) blocked() []jid.JID {
	if l == nil {
		return nil
	}
	var out []jid.JID
	for i := range l.rules {
		r := &l.rules[i]
		if r.blocking() && !slices.Contains(out, r.jid) {
			out = append(out, r.jid)
		}
	}
	return out
}

// isBlockingRule reports whether a stored rule is a blocking rule for a
// valid JID, and returns that JID.
func isBlockingRule(r storage.PrivacyRule) (jid.JID, bool) {
	if r.Type != storage.PrivacyJID || r.Allow || r.Message || r.IQ || r.PresenceIn || r.PresenceOut {
		return jid.JID{}, false
	}
	j, err := jid.Parse(r.Value)
	if err != nil {
		return jid.JID{}, false
	}
	return j, true
}
