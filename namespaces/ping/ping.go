// Package ping implements XMPP Ping, XEP-0199: the server answers pings sent
// to its domains (§4.2, client-to-server) and to local accounts' bare JIDs,
// which it answers on the account's behalf. Pings the server sends to idle
// clients are issued by package c2s.
package ping

import (
	"context"
	"encoding/xml"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/namespaces"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Module registers ping.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	both := namespaces.Server | namespaces.Account
	h.HandleIQ("get", xml.Name{Space: NS, Local: "ping"}, both,
		namespaces.IQHandlerFunc(func(context.Context, *namespaces.Request) (*etree.Element, error) {
			return nil, nil // XEP-0199 §4.2: an empty result
		}))
	h.AddFeature(both, NS)
	return nil
}
