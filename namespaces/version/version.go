// Package version implements Software Version, XEP-0092, for the server's
// domains: its name, version and (unless the operator hides it) operating
// system.
package version

import (
	"context"
	"encoding/xml"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/namespaces"
)

// NS is the XEP-0092 namespace.
const NS = "jabber:iq:version"

// Module registers software version.
type Module struct{}

// Register implements namespaces.Module.
func (Module) Register(h *namespaces.Handle) error {
	host := h.Host()
	h.HandleIQ("get", xml.Name{Space: NS, Local: "query"}, namespaces.Server,
		namespaces.IQHandlerFunc(func(context.Context, *namespaces.Request) (*etree.Element, error) {
			sw := host.Software()
			q := etree.NewElement("query")
			q.CreateAttr("xmlns", NS)
			q.CreateElement("name").SetText(sw.Name)
			q.CreateElement("version").SetText(sw.Version)
			if sw.OS != "" {
				q.CreateElement("os").SetText(sw.OS)
			}
			return q, nil
		}))
	h.AddFeature(namespaces.Server, NS)
	return nil
}
