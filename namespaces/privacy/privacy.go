// Package privacy implements the privacy list protocol, XEP-0016
// (jabber:iq:privacy): retrieving the names of one's lists and one list
// (§2.3), choosing the session's active list (§2.4) and the account's
// default list (§2.5), and creating, editing and removing lists (§2.6–§2.8),
// with the errors those sections require. Evaluation, caching, pushes and
// the blocklist that shares the lists (XEP-0191 §5) belong to the engine in
// router/privacy, reached through [Service].
package privacy

import (
	"context"
	"encoding/xml"
	"errors"
	"strconv"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	engine "github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NS is the privacy lists namespace (XEP-0016 §7.1).
const NS = engine.NSPrivacy

// Service is what the module needs from the server; *engine.Engine
// implements it. session is the requesting resource's full JID.
type Service interface {
	ListNames(ctx context.Context, session jid.JID) (names []string, active, def string, err error)
	List(ctx context.Context, session jid.JID, name string) (storage.PrivacyList, error)
	PutList(ctx context.Context, session jid.JID, l storage.PrivacyList) error
	DeleteList(ctx context.Context, session jid.JID, name string) error
	SetActive(ctx context.Context, session jid.JID, name string) error
	SetDefault(ctx context.Context, session jid.JID, name string) error
}

var _ Service = (*engine.Engine)(nil)

// Provider is the optional host capability this module needs.
type Provider interface {
	PrivacyService() Service
}

// Module registers jabber:iq:privacy.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	p, ok := h.Host().(Provider)
	if !ok {
		return errors.New("privacy: the host offers no privacy service")
	}
	name := xml.Name{Space: NS, Local: "query"}
	h.HandleIQ("get", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return get(ctx, p.PrivacyService(), req)
	}))
	h.HandleIQ("set", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return set(ctx, p.PrivacyService(), req)
	}))
	// XEP-0016 §3.
	h.AddFeature(namespaces.Server|namespaces.Account, NS)
	return nil
}

// get answers a privacy list get (XEP-0016 §2.3): with an empty <query/>
// the names of the lists preceded by the active and default lists, with
// one <list name='…'/> that list.
func get(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("privacy lists"); err != nil {
		return nil, err
	}
	children := req.Payload.ChildElements()
	switch {
	case len(children) == 0:
		names, active, def, err := svc.ListNames(ctx, req.From)
		if err != nil {
			return nil, err
		}
		q := newQuery()
		if active != "" {
			q.CreateElement("active").CreateAttr("name", active)
		}
		if def != "" {
			q.CreateElement("default").CreateAttr("name", def)
		}
		for _, n := range names {
			q.CreateElement("list").CreateAttr("name", n)
		}
		return q, nil
	case len(children) > 1:
		// §2.3 example 10: one list at a time.
		return nil, stream.NewStanzaError(stream.BadRequest, "retrieve one privacy list at a time (XEP-0016 §2.3)")
	}
	c := children[0]
	if c.Tag != "list" || c.NamespaceURI() != NS {
		return nil, stream.NewStanzaError(stream.BadRequest, "a privacy list get carries an empty <query/> or one <list/>")
	}
	name := c.SelectAttrValue("name", "")
	if name == "" {
		return nil, stream.NewStanzaError(stream.BadRequest, "the <list/> needs a 'name'")
	}
	l, err := svc.List(ctx, req.From, name)
	if err != nil {
		return nil, stanzaError(err)
	}
	q := newQuery()
	q.AddChild(ListElement(l))
	return q, nil
}

// set handles a privacy list set (XEP-0016 §2.4–§2.8): exactly one of
// <active/>, <default/> or <list/> (§2.1).
func set(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("privacy lists"); err != nil {
		return nil, err
	}
	children := req.Payload.ChildElements()
	if len(children) != 1 {
		return nil, stream.NewStanzaError(stream.BadRequest, "a privacy list set carries exactly one <active/>, <default/> or <list/> (XEP-0016 §2.1)")
	}
	c := children[0]
	if c.NamespaceURI() != NS {
		return nil, stream.NewStanzaError(stream.BadRequest, "unexpected element {%s}%s", c.NamespaceURI(), c.Tag)
	}
	switch c.Tag {
	case "active":
		// §2.4: no 'name' declines the use of an active list.
		return nil, stanzaError(svc.SetActive(ctx, req.From, c.SelectAttrValue("name", "")))
	case "default":
		// §2.5: no 'name' declines the use of a default list.
		return nil, stanzaError(svc.SetDefault(ctx, req.From, c.SelectAttrValue("name", "")))
	case "list":
		name := c.SelectAttrValue("name", "")
		if name == "" {
			return nil, stream.NewStanzaError(stream.BadRequest, "the <list/> needs a 'name'")
		}
		if len(c.ChildElements()) == 0 {
			// §2.8: an empty <list/> removes the list.
			return nil, stanzaError(svc.DeleteList(ctx, req.From, name))
		}
		l, serr := ParseList(c)
		if serr != nil {
			return nil, serr
		}
		return nil, stanzaError(svc.PutList(ctx, req.From, l))
	}
	return nil, stream.NewStanzaError(stream.BadRequest, "unexpected element <%s/> in a privacy list set", c.Tag)
}

func newQuery() *etree.Element {
	q := etree.NewElement("query")
	q.CreateAttr("xmlns", NS)
	return q
}

// stanzaError maps the engine's errors to the conditions XEP-0016 names:
// item-not-found for a missing list or roster group (§2.1, §2.3–§2.5,
// §2.8), conflict for a list in use elsewhere (§2.2 rule 11), bad-request
// for a malformed list (§2.1), jid-malformed for a bad jid value and
// policy-violation for the server's limits. Anything else is an internal
// error.
func stanzaError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return stream.NewStanzaError(stream.ItemNotFound, "no such privacy list or roster group")
	case errors.Is(err, storage.ErrConflict):
		return stream.NewStanzaError(stream.ConflictStanza, "the list is in use by another resource, or is the default list")
	case errors.Is(err, engine.ErrJIDMalformed):
		return stream.NewStanzaError(stream.JIDMalformed, "a jid rule's value is not a valid JID")
	case errors.Is(err, storage.ErrInvalid):
		return stream.NewStanzaError(stream.BadRequest, "the privacy list is malformed: %v", err)
	case errors.Is(err, engine.ErrLimit):
		return stream.NewStanzaError(stream.PolicyViolationStanza, "%v", err)
	}
	return err
}

// ParseList reads a <list/> with its <item/> children (XEP-0016 §2.1):
// 'action' and 'order' are required, 'type' is jid, group, subscription or
// absent (fall-through), and the children select the stanza kinds. Values
// are checked further by the engine (unique orders, JIDs, subscription
// states, groups).
func ParseList(el *etree.Element) (storage.PrivacyList, *stream.StanzaError) {
	l := storage.PrivacyList{Name: el.SelectAttrValue("name", "")}
	for _, it := range el.ChildElements() {
		if it.Tag != "item" || it.NamespaceURI() != NS {
			return l, stream.NewStanzaError(stream.BadRequest, "a <list/> holds only <item/> elements")
		}
		r, serr := parseItem(it)
		if serr != nil {
			return l, serr
		}
		l.Rules = append(l.Rules, r)
	}
	return l, nil
}

func parseItem(it *etree.Element) (storage.PrivacyRule, *stream.StanzaError) {
	var r storage.PrivacyRule
	switch a := it.SelectAttrValue("action", ""); a {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		return r, stream.NewStanzaError(stream.BadRequest, "an item's 'action' must be allow or deny, not %q", a)
	}
	orderAttr := it.SelectAttr("order")
	if orderAttr == nil {
		return r, stream.NewStanzaError(stream.BadRequest, "an item needs an 'order'")
	}
	order, err := strconv.ParseUint(orderAttr.Value, 10, 32)
	if err != nil {
		return r, stream.NewStanzaError(stream.BadRequest, "an item's 'order' must be an unsigned 32-bit integer, not %q", orderAttr.Value)
	}
	r.Order = uint32(order)
	if t := it.SelectAttr("type"); t != nil {
		switch t.Value {
		case storage.PrivacyJID, storage.PrivacyGroup, storage.PrivacySubscription:
			r.Type = t.Value
		default:
			return r, stream.NewStanzaError(stream.BadRequest, "an item's 'type' must be jid, group or subscription, not %q", t.Value)
		}
	}
	r.Value = it.SelectAttrValue("value", "")
	for _, c := range it.ChildElements() {
		if c.NamespaceURI() != NS {
			return r, stream.NewStanzaError(stream.BadRequest, "unexpected element {%s}%s in an item", c.NamespaceURI(), c.Tag)
		}
		switch c.Tag {
		case "message":
			r.Message = true
		case "iq":
			r.IQ = true
		case "presence-in":
			r.PresenceIn = true
		case "presence-out":
			r.PresenceOut = true
		default:
			return r, stream.NewStanzaError(stream.BadRequest, "unexpected element <%s/> in an item", c.Tag)
		}
	}
	return r, nil
}

// ListElement renders a list as in XEP-0016 §2.3 examples 4–8.
func ListElement(l storage.PrivacyList) *etree.Element {
	el := etree.NewElement("list")
	el.CreateAttr("name", l.Name)
	for _, r := range l.Rules {
		it := el.CreateElement("item")
		if r.Type != storage.PrivacyFallThrough {
			it.CreateAttr("type", r.Type)
			it.CreateAttr("value", r.Value)
		}
		if r.Allow {
			it.CreateAttr("action", "allow")
		} else {
			it.CreateAttr("action", "deny")
		}
		it.CreateAttr("order", strconv.FormatUint(uint64(r.Order), 10))
		if r.Message {
			it.CreateElement("message")
		}
		if r.IQ {
			it.CreateElement("iq")
		}
		if r.PresenceIn {
			it.CreateElement("presence-in")
		}
		if r.PresenceOut {
			it.CreateElement("presence-out")
		}
	}
	return el
}
