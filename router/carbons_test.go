package router

import (
	"context"
	"testing"

	"github.com/beevik/etree"
)

func TestCarbonEligible_XEP0280_6_1(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want bool
	}{
		{"chat", `<message type='chat'><body>hi</body></message>`, true},
		{"chat without body (chat state)", `<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, true},
		{"normal with body", `<message><body>hi</body></message>`, true},
		{"normal without body", `<message><x xmlns='urn:example'/></message>`, false},
		{"normal receipt", `<message><received xmlns='urn:xmpp:receipts' id='x'/></message>`, true},
		{"normal displayed marker", `<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>`, true},
		{"headline", `<message type='headline'><body>news</body></message>`, false},
		{"groupchat", `<message type='groupchat'><body>hi</body></message>`, false},
		{"error", `<message type='error'><body>hi</body></message>`, false},
		{"private", `<message type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>`, false},
		{"no-copy hint", `<message type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>`, false},
		{"already a carbon", `<message type='chat'><sent xmlns='urn:xmpp:carbons:2'/></message>`, false},
	}
	for _, tt := range tests {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(tt.xml); err != nil {
			t.Fatal(err)
		}
		if got := carbonEligible(doc.Root()); got != tt.want {
			t.Errorf("%s: eligible = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCarbons_XEP0280_7_8: a received message is copied to the recipient's
// enabled resources that did not get it, a sent one to the sender's other
// enabled resources, and <private/> stops both.
func TestCarbons_XEP0280_7_8(t *testing.T) {
	r := newTestRouter(t)
	balcony := online(t, r, "juliet@example.com/balcony", "1")
	chamber := online(t, r, "juliet@example.com/chamber", "0")
	plain := online(t, r, "juliet@example.com/plain", "0")
	romeo := online(t, r, "romeo@example.com/orchard", "0")
	if !r.SetCarbons(chamber.jid, true) || !r.SetCarbons(balcony.jid, true) {
		t.Fatal("SetCarbons found no session")
	}
	for _, s := range []*fakeSession{balcony, chamber, plain, romeo} {
		s.take()
	}
	carbon := func(s *fakeSession, dir string) *etree.Element {
		t.Helper()
		got := s.take()
		if len(got) != 1 {
			t.Fatalf("%s got %d stanzas, want one %s carbon", s.jid, len(got), dir)
		}
		c := got[0]
		w := c.SelectElement(dir)
		if w == nil || w.NamespaceURI() != NSCarbons || c.SelectAttrValue("from", "") != "juliet@example.com" || c.SelectAttrValue("to", "") != s.jid.String() {
			t.Fatalf("%s: not a %s carbon from the bare JID", s.jid, dir)
		}
		inner := w.FindElement("forwarded/message")
		if inner == nil || inner.SelectAttrValue("xmlns", "") != "jabber:client" {
			t.Fatalf("%s: the forwarded message must declare jabber:client", s.jid)
		}
		return inner
	}

	// Received, to the bare JID: balcony (priority 1) gets the original,
	// chamber a carbon, plain (carbons off) nothing.
	r.Route(context.Background(), romeo, msg("romeo@example.com/orchard", "juliet@example.com", "chat"))
	if got := balcony.take(); len(got) != 1 || got[0].SelectElement("body") == nil {
		t.Fatalf("balcony should get the original")
	}
	if inner := carbon(chamber, "received"); inner.SelectAttrValue("from", "") != "romeo@example.com/orchard" {
		t.Errorf("the carbon must carry the original sender")
	}
	if got := plain.take(); len(got) != 0 {
		t.Errorf("a resource without carbons got %d stanzas", len(got))
	}

	// Sent: balcony writes to romeo; chamber gets a sent carbon, balcony none.
	r.Route(context.Background(), balcony, msg("juliet@example.com/balcony", "romeo@example.com", "chat"))
	carbon(chamber, "sent")
	if got := balcony.take(); len(got) != 0 {
		t.Errorf("the sender got %d stanzas, want no copy of its own message", len(got))
	}
	if got := romeo.take(); len(got) != 1 {
		t.Errorf("romeo got %d stanzas", len(got))
	}

	// Private: no carbons either way.
	m := msg("romeo@example.com/orchard", "juliet@example.com/balcony", "chat")
	m.CreateElement("private").CreateAttr("xmlns", NSCarbons)
	r.Route(context.Background(), romeo, m)
	balcony.take()
	if got := chamber.take(); len(got) != 0 {
		t.Errorf("a <private/> message was carbon-copied")
	}
}
