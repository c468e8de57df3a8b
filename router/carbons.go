package router

import (
	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// Namespaces of Message Carbons (XEP-0280) and the hints it honours.
const (
	NSCarbons = "urn:xmpp:carbons:2"
	NSForward = "urn:xmpp:forward:0"
	nsHints   = "urn:xmpp:hints"
)

// imPayloads are namespaces whose presence makes a message eligible for
// carbons (XEP-0280 §6.1): receipts, chat states, displayed markers.
var imPayloads = map[string]bool{
	"urn:xmpp:receipts":                     true,
	"http://jabber.org/protocol/chatstates": true,
	"urn:xmpp:chat-markers:0":               true,
}

// carbonEligible applies XEP-0280 §6.1 to a message.
func carbonEligible(el *etree.Element) bool {
	typ := el.SelectAttrValue("type", "normal")
	if typ == "groupchat" || typ == "error" {
		return false
	}
	eligible := typ == "chat"
	for _, tok := range el.Child {
		c, ok := tok.(*etree.Element)
		if !ok {
			continue
		}
		ns := c.NamespaceURI()
		switch {
		case ns == NSCarbons:
			// <private/> opts out (§9); <sent/>/<received/> are already
			// carbons and are never copied again.
			return false
		case ns == nsHints && c.Tag == "no-copy":
			return false
		case c.Tag == "body" && ns == "" && typ == "normal":
			eligible = true
		case imPayloads[ns]:
			eligible = true
		}
	}
	return eligible
}

// SetCarbons enables or disables carbons for one session (XEP-0280 §4, §5).
func (r *Router) SetCarbons(full jid.JID, enabled bool) bool {
	return r.table.updateJID(full, func(res *resource) { res.carbons = enabled })
}

// sendCarbons forwards a copy of el, wrapped in <sent/> or <received/>
// (XEP-0280 §7, §8; XEP-0297), to every carbons-enabled resource of owner
// except those in skip (the sender, the resources that got the original).
func (r *Router) sendCarbons(owner jid.JID, el *etree.Element, direction string, skip ...jid.JID) {
	var buf [8]target
	targets := r.table.resources(buf[:0], owner)
	var wrapped *etree.Element
	for _, t := range targets {
		if !t.carbons {
			continue
		}
		full := t.sess.JID()
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == full
		}
		if skipped {
			continue
		}
		if wrapped == nil {
			inner := el.Copy()
			inner.RemoveAttr("xmlns")
			inner.CreateAttr("xmlns", stream.NSClient)
			fwd := etree.NewElement("forwarded")
			fwd.CreateAttr("xmlns", NSForward)
			fwd.AddChild(inner)
			wrapped = etree.NewElement(direction)
			wrapped.CreateAttr("xmlns", NSCarbons)
			wrapped.AddChild(fwd)
		}
		c := etree.NewElement("message")
		c.CreateAttr("from", owner.String())
		c.CreateAttr("to", full.String())
		if typ := el.SelectAttrValue("type", ""); typ != "" {
			c.CreateAttr("type", typ)
		}
		c.AddChild(wrapped.Copy())
		deliverTo(t.sess, c)
	}
}
