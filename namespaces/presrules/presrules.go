// Package presrules implements urn:xmpp:herald:pres-rules:0, Herald's
// protocol for a user to read and write their presence authorization rules:
// an RFC 5025 document (a common-policy <ruleset/>, RFC 4745) whose
// <sub-handling/> actions decide, before the user is asked, what happens to
// a request to subscribe to the user's presence. No XMPP standard carries
// these documents (RFC 5025 §9 uses XCAP over HTTP), so this is a private
// protocol; README.md in this directory describes it with examples.
//
// The module only carries documents. Validation, storage, caching and
// evaluation are the engine's, in package router/presrules, reached through
// [Service].
package presrules

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	engine "github.com/herald-im/herald/router/presrules"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NS is the protocol's namespace, the payload of its iqs and its service
// discovery feature.
const NS = "urn:xmpp:herald:pres-rules:0"

// Service is what the module needs from the server; *engine.Engine
// implements it. owner is the account's bare JID.
type Service interface {
	// Rules returns the owner's <ruleset/>, nil if none.
	Rules(ctx context.Context, owner jid.JID) (*etree.Element, error)
	// SetRules validates and stores a <ruleset/>; errors wrapping
	// engine.ErrInvalid or engine.ErrLimit say what is wrong with it.
	SetRules(ctx context.Context, owner jid.JID, ruleset *etree.Element) error
	// DeleteRules removes the owner's document, if any.
	DeleteRules(ctx context.Context, owner jid.JID) error
}

var _ Service = (*engine.Engine)(nil)

// Provider is the optional host capability this module needs.
type Provider interface {
	PresenceRulesService() Service
}

// Module registers urn:xmpp:herald:pres-rules:0.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	p, ok := h.Host().(Provider)
	if !ok {
		return errors.New("presrules: the host offers no presence rules service")
	}
	name := xml.Name{Space: NS, Local: "pres-rules"}
	h.HandleIQ("get", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return get(ctx, p.PresenceRulesService(), req)
	}))
	h.HandleIQ("set", name, namespaces.Account, namespaces.IQHandlerFunc(func(ctx context.Context, req *namespaces.Request) (*etree.Element, error) {
		return set(ctx, p.PresenceRulesService(), req)
	}))
	h.AddFeature(namespaces.Server|namespaces.Account, NS)
	return nil
}

// get answers an iq get with an empty <pres-rules/>: the stored
// <ruleset/> inside <pres-rules/>, or an empty <pres-rules/> when the user
// has none.
func get(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("presence rules"); err != nil {
		return nil, err
	}
	if kids, err := content(req.Payload); err != nil {
		return nil, err
	} else if len(kids) > 0 {
		return nil, stream.NewStanzaError(stream.BadRequest, "a get carries an empty <pres-rules/>")
	}
	rules, err := svc.Rules(ctx, req.From.Bare())
	if err != nil {
		return nil, stanzaError(err)
	}
	out := etree.NewElement("pres-rules")
	out.CreateAttr("xmlns", NS)
	if rules != nil {
		out.AddChild(rules)
	}
	return out, nil
}

// set handles an iq set: <pres-rules/> with one <ruleset/> replaces the
// user's document, an empty <pres-rules/> removes it.
func set(ctx context.Context, svc Service, req *namespaces.Request) (*etree.Element, error) {
	if err := req.FromOwnResource("presence rules"); err != nil {
		return nil, err
	}
	kids, err := content(req.Payload)
	if err != nil {
		return nil, err
	}
	switch len(kids) {
	case 0:
		return nil, stanzaError(svc.DeleteRules(ctx, req.From.Bare()))
	case 1:
		return nil, stanzaError(svc.SetRules(ctx, req.From.Bare(), kids[0]))
	}
	return nil, stream.NewStanzaError(stream.BadRequest, "a set carries one <ruleset xmlns='%s'/>, or nothing to remove the rules", engine.NSCommonPolicy)
}

// content returns the child elements of the payload, which has no text
// besides whitespace.
func content(payload *etree.Element) ([]*etree.Element, error) {
	for _, c := range payload.Child {
		if cd, ok := c.(*etree.CharData); ok && strings.Trim(cd.Data, " \t\r\n") != "" {
			return nil, stream.NewStanzaError(stream.BadRequest, "<pres-rules/> holds no text")
		}
	}
	return payload.ChildElements(), nil
}

// stanzaError maps the engine's errors: bad-request with the reason for a
// document that is invalid or too large, item-not-found for an account
// that no longer exists; anything else is an internal error.
func stanzaError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrInvalid), errors.Is(err, engine.ErrLimit):
		return stream.NewStanzaError(stream.BadRequest, "%s", err.Error())
	case errors.Is(err, storage.ErrNotFound):
		return stream.NewStanzaError(stream.ItemNotFound, "no such account")
	}
	return err
}
