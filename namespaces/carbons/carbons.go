// Package carbons implements Message Carbons, XEP-0280: a client enables or
// disables carbon copies of its account's chat messages for its session.
// The copies themselves are made by the router.
package carbons

import (
	"context"
	"encoding/xml"
	"errors"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/stream"
)

// NS is the XEP-0280 namespace.
const NS = "urn:xmpp:carbons:2"

// Service switches carbons for a session; *router.Router implements it.
type Service interface {
	SetCarbons(full jid.JID, enabled bool) bool
}

// Provider is the optional host capability this module needs.
type Provider interface {
	CarbonsService() Service
}

// Module registers Message Carbons.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	p, ok := h.Host().(Provider)
	if !ok {
		return errors.New("carbons: the host offers no carbons service")
	}
	for _, op := range []struct {
		name    string
		enabled bool
	}{{"enable", true}, {"disable", false}} {
		enabled := op.enabled
		h.HandleIQ("set", xml.Name{Space: NS, Local: op.name}, namespaces.Account,
			namespaces.IQHandlerFunc(func(_ context.Context, req *namespaces.Request) (*etree.Element, error) {
				// XEP-0280 §4: a client enables carbons for itself, with
				// an iq to its own account (or no 'to').
				if req.To != req.From.Bare() {
					return nil, stream.NewStanzaError(stream.Forbidden, "carbons are enabled by the account's own resources")
				}
				if !p.CarbonsService().SetCarbons(req.From, enabled) {
					return nil, stream.NewStanzaError(stream.UnexpectedRequest, "no bound session %s", req.From)
				}
				return nil, nil
			}))
	}
	h.AddFeature(namespaces.Server|namespaces.Account, NS)
	return nil
}
