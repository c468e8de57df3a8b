// Package blocking implements the Blocking Command, XEP-0191
// (urn:xmpp:blocking): retrieving the blocklist (§3.2), blocking JIDs
// (§3.3), unblocking some (§3.4) or all of them (§3.5). The blocklist is
// stored as rules of the user's default privacy list (§5); the engine in
// router/privacy keeps the two consistent, enforces the blocks and sends
// the block and unblock pushes. This module reaches it through [Service].
package blocking

import (
	"context"
	"encoding/xml"
	"errors"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	engine "github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NS is the Blocking Command namespace (XEP-0191 §9.1).
const NS = engine.NSBlocking

// Service is what the module needs from the server; *engine.Engine
// implements it. session is the requesting resource's full JID.
type Service interface {
	Blocklist(ctx context.Context, session jid.JID) ([]jid.JID, error)
	Block(ctx context.Context, session jid.JID, jids []jid.JID) error
	Unblock(ctx context.Context, session jid.JID, jids []jid.JID) error
	UnblockAll(ctx context.Context, session jid.JID) error
}

var _ Service = (*engine.Engine)(nil)

// Provider is the optional host capability this module needs.
type Provider interface {
	BlockingService() Service
}

// Module registers urn:xmpp:blocking.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	p, ok := h.Host().(Provider)
	if !ok {
		return errors.New("blocking: the host offers no blocking service")
	}
	h.HandleIQ("get", xml.Name{Space: NS, Local: "blocklist"}, namespaces.Account,
		namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
			return blocklist(ctx, p.BlockingService(), req)
		}))
	h.HandleIQ("set", xml.Name{Space: NS, Local: "block"}, namespaces.Account,
		namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
			return block(ctx, p.BlockingService(), req)
		}))
	h.HandleIQ("set", xml.Name{Space: NS, Local: "unblock"}, namespaces.Account,
		namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
			return unblock(ctx, p.BlockingService(), req)
		}))
	// XEP-0191 §3.1.
	h.AddFeature(namespaces.Server|namespaces.Account, NS)
	return nil
}

// blocklist answers a blocklist get (XEP-0191 §3.2): one <item/> per
// blocked JID, or an empty <blocklist/>. The requesting resource receives
// pushes from then on.
func blocklist(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("blocklist"); err != nil {
		return nil, err
	}
	jids, err := svc.Blocklist(ctx, req.From)
	if err != nil {
		return nil, err
	}
	el := etree.NewElement("blocklist")
	el.CreateAttr("xmlns", NS)
	for _, j := range jids {
		el.CreateElement("item").CreateAttr("jid", j.String())
	}
	return el, nil
}

// block handles a block command (XEP-0191 §3.3): at least one item, each
// with a valid 'jid'.
func block(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("blocklist"); err != nil {
		return nil, err
	}
	jids, serr := items(req.Payload)
	if serr != nil {
		return nil, serr
	}
	if len(jids) == 0 {
		return nil, stream.NewStanzaError(stream.BadRequest, "a <block/> needs at least one <item/> (XEP-0191 §3.3)")
	}
	return nil, stanzaError(svc.Block(ctx, req.From, jids))
}

// unblock handles an unblock command: of the listed JIDs (XEP-0191 §3.4),
// or of all of them when there is no item (§3.5).
func unblock(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("blocklist"); err != nil {
		return nil, err
	}
	jids, serr := items(req.Payload)
	if serr != nil {
		return nil, serr
	}
	if len(jids) == 0 {
		return nil, stanzaError(svc.UnblockAll(ctx, req.From))
	}
	return nil, stanzaError(svc.Unblock(ctx, req.From, jids))
}

// items parses the <item jid='…'/> children of a command (XEP-0191 §10.1):
// bad-request for anything else or a missing 'jid', jid-malformed for an
// invalid one.
func items(el *etree.Element) ([]jid.JID, *stream.StanzaError) {
	var out []jid.JID
	for _, c := range el.ChildElements() {
		if c.Tag != "item" || c.NamespaceURI() != NS {
			return nil, stream.NewStanzaError(stream.BadRequest, "only <item/> elements are allowed here")
		}
		a := c.SelectAttr("jid")
		if a == nil {
			return nil, stream.NewStanzaError(stream.BadRequest, "an <item/> needs a 'jid'")
		}
		j, err := jid.Parse(a.Value)
		if err != nil {
			return nil, stream.NewStanzaError(stream.JIDMalformed, "%q is not a valid JID", a.Value)
		}
		out = append(out, j)
	}
	return out, nil
}

// stanzaError maps the engine's errors: policy-violation for a blocklist at
// the server's limit, bad-request for an invalid request, anything else
// an internal error.
func stanzaError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrLimit):
		return stream.NewStanzaError(stream.PolicyViolationStanza, "%v", err)
	case errors.Is(err, storage.ErrInvalid):
		return stream.NewStanzaError(stream.BadRequest, "%v", err)
	}
	return err
}
