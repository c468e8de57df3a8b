package standard_test

import (
	"context"
	"encoding/xml"
	"log/slog"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/blocking"
	"github.com/herald-im/herald/namespaces/carbons"
	"github.com/herald-im/herald/namespaces/disco"
	"github.com/herald-im/herald/namespaces/entitytime"
	"github.com/herald-im/herald/namespaces/presrules"
	"github.com/herald-im/herald/namespaces/privacy"
	"github.com/herald-im/herald/namespaces/roster"
	"github.com/herald-im/herald/namespaces/standard"
	"github.com/herald-im/herald/stream"
)

type host struct{}

func (host) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// RosterService satisfies the roster module's requirement; these tests do
// not send roster requests (the integration tests do).
func (host) RosterService() roster.Service { return nil }

// CarbonsService likewise satisfies the carbons module.
func (host) CarbonsService() carbons.Service { return nil }

// PrivacyService and BlockingService likewise satisfy the privacy and
// blocking modules.
func (host) PrivacyService() privacy.Service   { return nil }
func (host) BlockingService() blocking.Service { return nil }

// PresenceRulesService likewise satisfies the presence rules module.
func (host) PresenceRulesService() presrules.Service { return nil }

func (host) Software() namespaces.Software {
	return namespaces.Software{Name: "Herald", Version: "1.2.3", OS: "linux"}
}

func registry(t *testing.T) *namespaces.Registry {
	t.Helper()
	reg := namespaces.NewRegistry(host{})
	if err := reg.Register(standard.Modules()...); err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	return reg
}

func ask(t *testing.T, reg *namespaces.Registry, target namespaces.Target, ns, local string, attrs ...string) (*etree.Element, error) {
	t.Helper()
	h := reg.LookupIQ("get", xml.Name{Space: ns, Local: local}, target)
	if h == nil {
		t.Fatalf("no handler for {%s}%s on %v", ns, local, target)
	}
	p := etree.NewElement(local)
	p.CreateAttr("xmlns", ns)
	for i := 0; i+1 < len(attrs); i += 2 {
		p.CreateAttr(attrs[i], attrs[i+1])
	}
	iq := etree.NewElement("iq")
	iq.AddChild(p)
	to := jid.MustParse("example.com")
	if target == namespaces.Account {
		to = jid.MustParse("juliet@example.com")
	}
	return h.HandleIQ(context.Background(), &namespaces.Request{
		Stanza: iq, Payload: p, Type: "get", From: jid.MustParse("romeo@example.com/orchard"), To: to, Target: target,
	})
}

// TestDiscoInfo checks XEP-0030 §3.1 answers for the server and an account.
func TestDiscoInfo(t *testing.T) {
	reg := registry(t)
	res, err := ask(t, reg, namespaces.Server, disco.NSInfo, "query")
	if err != nil {
		t.Fatal(err)
	}
	features := map[string]bool{}
	for _, f := range res.SelectElements("feature") {
		features[f.SelectAttrValue("var", "")] = true
	}
	for _, want := range []string{disco.NSInfo, disco.NSItems, "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time", presrules.NS} {
		if !features[want] {
			t.Errorf("server disco#info lacks %s", want)
		}
	}
	id := res.SelectElement("identity")
	if id == nil || id.SelectAttrValue("category", "") != "server" || id.SelectAttrValue("type", "") != "im" {
		t.Errorf("server identity wrong")
	}
	res, err = ask(t, reg, namespaces.Account, disco.NSInfo, "query")
	if err != nil {
		t.Fatal(err)
	}
	id = res.SelectElement("identity")
	if id == nil || id.SelectAttrValue("category", "") != "account" || id.SelectAttrValue("type", "") != "registered" {
		t.Errorf("account identity wrong")
	}
	_, err = ask(t, reg, namespaces.Server, disco.NSInfo, "query", "node", "nope")
	if serr, ok := stream.AsStanzaError(err); !ok || serr.Condition != stream.ItemNotFound {
		t.Errorf("unknown node: err = %v, want item-not-found", err)
	}
}

func TestVersion(t *testing.T) {
	res, err := ask(t, registry(t), namespaces.Server, "jabber:iq:version", "query")
	if err != nil {
		t.Fatal(err)
	}
	if res.SelectElement("name").Text() != "Herald" || res.SelectElement("version").Text() != "1.2.3" || res.SelectElement("os").Text() != "linux" {
		t.Errorf("version answer wrong: %v", res)
	}
}

func TestPing(t *testing.T) {
	res, err := ask(t, registry(t), namespaces.Account, "urn:xmpp:ping", "ping")
	if err != nil || res != nil {
		t.Fatalf("ping = %v, %v; want an empty result", res, err)
	}
}

// TestEntityTime checks the XEP-0202 §4 format: tzo as ±hh:mm or Z, utc in
// UTC with a Z suffix (XEP-0082).
func TestEntityTime(t *testing.T) {
	tests := []struct {
		at       time.Time
		tzo, utc string
	}{
		{time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), "Z", "2026-11-21T08:00:00.000Z"},
		{time.Date(2026, 11, 21, 8, 0, 0, 0, time.FixedZone("x", -6*3600)), "-06:00", "2026-11-21T14:00:00.000Z"},
		{time.Date(2026, 11, 21, 8, 0, 0, 0, time.FixedZone("y", 5*3600+1800)), "+05:30", "2026-11-21T02:30:00.000Z"},
	}
	for _, tt := range tests {
		el := entitytime.Element(tt.at)
		if got := el.SelectElement("tzo").Text(); got != tt.tzo {
			t.Errorf("tzo = %s, want %s", got, tt.tzo)
		}
		if got := el.SelectElement("utc").Text(); got != tt.utc {
			t.Errorf("utc = %s, want %s", got, tt.utc)
		}
	}
}
