// Package disco implements service discovery, XEP-0030: disco#info and
// disco#items on the server's domains and on local accounts, reporting the
// identities and features every other module registered.
package disco

import (
	"context"
	"encoding/xml"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/stream"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Module registers service discovery.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	reg := h.Registry()
	both := namespaces.Server | namespaces.Account
	h.HandleIQ("get", xml.Name{Space: NSInfo, Local: "query"}, both,
		namespaces.IQHandlerFunc(func(_ context.Context, req *namespaces.Request) (*etree.Element, error) {
			return info(reg, req)
		}))
	h.HandleIQ("get", xml.Name{Space: NSItems, Local: "query"}, both,
		namespaces.IQHandlerFunc(items))
	h.AddFeature(both, NSInfo)
	h.AddFeature(both, NSItems)
	h.AddIdentity(namespaces.Server, namespaces.Identity{Category: "server", Type: "im", Name: "Herald"})
	// XEP-0030 §3.1 and the registrar: an account answers as account/registered.
	h.AddIdentity(namespaces.Account, namespaces.Identity{Category: "account", Type: "registered"})
	return nil
}

// info answers disco#info (XEP-0030 §3.1). A request naming a node is
// answered with item-not-found, since Herald publishes no nodes yet (§3.2).
func info(reg *namespaces.Registry, req *namespaces.Request) (*etree.Element, error) {
	node := req.Payload.SelectAttrValue("node", "")
	if node != "" {
		return nil, stream.NewStanzaError(stream.ItemNotFound, "no disco node %q", node)
	}
	q := etree.NewElement("query")
	q.CreateAttr("xmlns", NSInfo)
	for _, id := range reg.Identities(req.Target) {
		e := q.CreateElement("identity")
		e.CreateAttr("category", id.Category)
		e.CreateAttr("type", id.Type)
		if id.Name != "" {
			e.CreateAttr("name", id.Name)
		}
	}
	for _, f := range reg.Features(req.Target) {
		q.CreateElement("feature").CreateAttr("var", f)
	}
	return q, nil
}

// items answers disco#items (XEP-0030 §4). Herald hosts no components or
// published nodes yet, so the list is empty; a node is item-not-found.
func items(_ context.Context, req *namespaces.Request) (*etree.Element, error) {
	node := req.Payload.SelectAttrValue("node", "")
	if node != "" {
		return nil, stream.NewStanzaError(stream.ItemNotFound, "no disco node %q", node)
	}
	q := etree.NewElement("query")
	q.CreateAttr("xmlns", NSItems)
	return q, nil
}
