// Package roster implements roster management, RFC 6121 §2: roster get
// with versioning (§2.6), roster set to add, update and remove items, and
// the errors of §2.3.3 and §2.5.3. Subscription state and pushes belong to
// the router, which this module reaches through [Service].
package roster

import (
	"context"
	"encoding/xml"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NS is the roster namespace.
const NS = "jabber:iq:roster"

// Stream features advertised after authentication: roster versioning
// (RFC 6121 §2.6.1) and subscription pre-approval (§3.4).
const (
	NSFeatureRosterVer   = "urn:xmpp:features:rosterver"
	NSFeaturePreApproval = "urn:xmpp:features:pre-approval"
)

// Service is what the module needs from the server; *router.Router
// implements it.
type Service interface {
	Roster(ctx context.Context, requester jid.JID) ([]storage.RosterItem, int64, error)
	RosterChangesSince(ctx context.Context, requester jid.JID, since int64) ([]storage.RosterChange, int64, bool, error)
	PushRosterChanges(requester jid.JID, changes []storage.RosterChange)
	SetRosterItem(ctx context.Context, requester jid.JID, u router.RosterUpdate) error
	RemoveRosterItem(ctx context.Context, requester jid.JID, contact jid.JID) error
}

var _ Service = (*router.Router)(nil)

// Provider is the optional host capability this module needs.
type Provider interface {
	RosterService() Service
}

// Module registers roster management.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	p, ok := h.Host().(Provider)
	if !ok {
		return errors.New("roster: the host offers no roster service")
	}
	name := xml.Name{Space: NS, Local: "query"}
	h.HandleIQ("get", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return get(ctx, p.RosterService(), req)
	}))
	h.HandleIQ("set", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return set(ctx, p.RosterService(), req)
	}))
	h.AddStreamFeature(func() *etree.Element {
		f := etree.NewElement("ver")
		f.CreateAttr("xmlns", NSFeatureRosterVer)
		return f
	})
	h.AddStreamFeature(func() *etree.Element {
		f := etree.NewElement("sub")
		f.CreateAttr("xmlns", NSFeaturePreApproval)
		return f
	})
	return nil
}

// get answers a roster get (RFC 6121 §2.1.3) and versioned get (§2.6.3):
// an unchanged roster gets an empty result, a known older version gets an
// empty result followed by pushes of the changes, anything else the whole
// roster with its version.
func get(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("roster"); err != nil {
		return nil, err
	}
	if len(req.Payload.ChildElements()) > 0 {
		return nil, stream.NewStanzaError(stream.BadRequest, "a roster get carries an empty <query/>")
	}
	verAttr := req.Payload.SelectAttr("ver")
	if verAttr != nil {
		if since, err := strconv.ParseInt(verAttr.Value, 10, 64); err == nil && since >= 0 {
			changes, current, ok, err := svc.RosterChangesSince(ctx, req.From, since)
			if err != nil {
				return nil, err
			}
			if ok {
				if current != since {
					// §2.6.3: the empty result first, then the pushes.
					req.AfterReply(func() { svc.PushRosterChanges(req.From, changes) })
				}
				return nil, nil
			}
		}
	}
	items, version, err := svc.Roster(ctx, req.From)
	if err != nil {
		return nil, err
	}
	q := etree.NewElement("query")
	q.CreateAttr("xmlns", NS)
	if verAttr != nil {
		q.CreateAttr("ver", strconv.FormatInt(version, 10))
	}
	for _, it := range items {
		q.AddChild(router.RosterItemElement(it, false))
	}
	return q, nil
}

// set handles a roster set (RFC 6121 §2.3, §2.4, §2.5).
func set(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("roster"); err != nil {
		return nil, err
	}
	items := req.Payload.SelectElements("item")
	if len(items) != 1 || len(req.Payload.ChildElements()) != 1 {
		return nil, stream.NewStanzaError(stream.BadRequest, "a roster set carries exactly one <item/> (RFC 6121 §2.3.3)")
	}
	it := items[0]
	contact, err := jid.Parse(it.SelectAttrValue("jid", ""))
	if err != nil || !contact.IsBare() {
		return nil, stream.NewStanzaError(stream.BadRequest, "the item's jid must be a valid bare JID")
	}
	if it.SelectAttrValue("subscription", "") == "remove" {
		return nil, svc.RemoveRosterItem(ctx, req.From, contact)
	}
	name := it.SelectAttrValue("name", "")
	if len(name) > router.MaxRosterNameBytes {
		return nil, stream.NewStanzaError(stream.NotAcceptable, "the item name is longer than %d bytes", router.MaxRosterNameBytes)
	}
	groups, serr := parseGroups(it)
	if serr != nil {
		return nil, serr
	}
	// 'subscription' values other than remove, 'ask' and 'approved' are
	// the server's to set and are ignored (RFC 6121 §2.1.2, §2.3.2).
	return nil, svc.SetRosterItem(ctx, req.From, router.RosterUpdate{Contact: contact, Name: name, Groups: groups})
}

// parseGroups validates the <group/> elements (RFC 6121 §2.3.3): none
// empty, none too long, no duplicates, not too many.
func parseGroups(it *etree.Element) ([]string, *stream.StanzaError) {
	var groups []string
	seen := map[string]bool{}
	for _, g := range it.SelectElements("group") {
		name := g.Text()
		switch {
		case name == "":
			return nil, stream.NewStanzaError(stream.NotAcceptable, "a <group/> must not be empty")
		case len(name) > router.MaxRosterGroupBytes || !utf8.ValidString(name):
			return nil, stream.NewStanzaError(stream.NotAcceptable, "a group name is longer than %d bytes", router.MaxRosterGroupBytes)
		case seen[name]:
			return nil, stream.NewStanzaError(stream.BadRequest, "the group %q is listed twice", name)
		}
		seen[name] = true
		groups = append(groups, name)
	}
	if len(groups) > router.MaxRosterGroups {
		return nil, stream.NewStanzaError(stream.NotAcceptable, "an item may be in at most %d groups", router.MaxRosterGroups)
	}
	return groups, nil
}
