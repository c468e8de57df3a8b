// Package entitytime implements Entity Time, XEP-0202, for the server's
// domains: its UTC time and offset, in the XEP-0082 profiles.
package entitytime

import (
	"context"
	"encoding/xml"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/namespaces"
)

// NS is the XEP-0202 namespace.
const NS = "urn:xmpp:time"

// Module registers entity time. Now, when set, replaces the clock (tests).
type Module struct {
	Now func() time.Time
}

// Register implements namespaces.Module.
func (m Module) Register(h *namespaces.Handle) error {
	now := m.Now
	if now == nil {
		now = time.Now
	}
	h.HandleIQ("get", xml.Name{Space: NS, Local: "time"}, namespaces.Server,
		namespaces.IQHandlerFunc(func(context.Context, *namespaces.Request) (*etree.Element, error) {
			return Element(now()), nil
		}))
	h.AddFeature(namespaces.Server, NS)
	return nil
}

// Element renders t as the XEP-0202 <time/> payload: the zone offset as
// ±hh:mm (XEP-0082 TZD, "Z" for UTC) and the instant in UTC.
func Element(t time.Time) *etree.Element {
	el := etree.NewElement("time")
	el.CreateAttr("xmlns", NS)
	tzo := t.Format("-07:00")
	if _, off := t.Zone(); off == 0 {
		tzo = "Z"
	}
	el.CreateElement("tzo").SetText(tzo)
	el.CreateElement("utc").SetText(t.UTC().Format("2006-01-02T15:04:05.000Z"))
	return el
}
