package presrules

import (
	"time"

	"github.com/herald-im/herald/jid"
)

// Decide combines the rules that apply to a subscription request from
// requester at now (RFC 4745 §10): every rule whose conditions all hold
// contributes its <sub-handling/> (Block if it has none, §10.2), and the
// result is the maximum by the numeric values of RFC 5025 §3.2.1. When no
// rule applies, the result is Block, the lowest value (RFC 5025 §3.2.1:
// "it represents the default value"); matched is then false.
func (d *Document) Decide(requester jid.JID, now time.Time) (sh SubHandling, matched bool) {
	requester = requester.Bare()
	sh = Block
	for i := range d.Rules {
		r := &d.Rules[i]
		if !r.Conditions.Match(requester, now) {
			continue
		}
		matched = true
		if r.HasSubHandling && r.SubHandling > sh {
			sh = r.SubHandling
			if sh == Allow {
				break // the maximum: no other rule can change it
			}
		}
	}
	return sh, matched
}

// Match reports whether every condition holds for a request from requester
// (a bare JID) at now (RFC 4745 §10.1). No conditions always match.
func (c *Conditions) Match(requester jid.JID, now time.Time) bool {
	if len(c.Unsupported) > 0 || len(c.Spheres) > 0 {
		// §7: unsupported conditions are FALSE; the user's sphere is
		// undefined in Herald, so no sphere condition holds (RFC 4745
		// §7.3, RFC 5025 §3.1.2).
		return false
	}
	for i := range c.Validities {
		if !c.Validities[i].Contains(now) {
			return false
		}
	}
	for i := range c.Identities {
		if !c.Identities[i].Match(requester) {
			return false
		}
	}
	return true
}

// Contains reports whether t is in one of the intervals (RFC 4745 §7.4:
// greater than or equal to a <from/>, less than the <until/> after it).
func (v Validity) Contains(t time.Time) bool {
	for _, iv := range v {
		if !t.Before(iv.From) && t.Before(iv.Until) {
			return true
		}
	}
	return false
}

// Match reports whether requester (a bare JID) matches one of the
// identity's children (RFC 4745 §7.1.1: a logical OR); children of
// unsupported namespaces are FALSE.
func (id *Identity) Match(requester jid.JID) bool {
	for i := range id.One {
		if id.One[i].Match(requester) {
			return true
		}
	}
	for i := range id.Many {
		if id.Many[i].Match(requester) {
			return true
		}
	}
	return false
}

// Match reports whether the entity is requester (RFC 4745 §7.2), compared
// as canonical bare JIDs. An entity of a non-XMPP scheme matches no one.
func (e *Entity) Match(requester jid.JID) bool {
	return e.XMPP && e.JID == requester
}

// Match reports whether requester is of the <many/> element's domain (any
// domain when it has none) and matches none of its <except/> elements
// (RFC 4745 §7.1.3). A <many/> with an unsupported child matches no one.
func (m *Many) Match(requester jid.JID) bool {
	if m.Unsupported || m.Domain != "" && requester.Domain() != m.Domain {
		return false
	}
	for i := range m.Except {
		if m.Except[i].Match(requester) {
			return false
		}
	}
	return true
}

// Match reports whether the exclusion applies to requester: by domain,
// or as a single entity.
func (x *Except) Match(requester jid.JID) bool {
	if x.Domain != "" {
		return requester.Domain() == x.Domain
	}
	return x.Entity.Match(requester)
}
