package privacy

import (
	"reflect"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/internal/stanzatest"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// FuzzParseList feeds the body of a jabber:iq:privacy <query/> from an
// untrusted client through the stream decoder and ParseList. Whatever the
// input, parsing must not panic and a refusal must be a bad-request stanza
// error. A list it accepts and storage.PrivacyList.Validate admits must
// survive rendering (ListElement, as in pushes and get results) and parsing
// again unchanged: what the user reads back is what the server enforces.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		`<list name='l'><item type='jid' value='romeo@example.net' action='deny' order='1'><message/></item></list>`,
		`<list name='g'><item type='group' value='Friends' action='allow' order='10'><presence-in/><presence-out/></item><item action='deny' order='20'/></list>`,
		`<list name='s'><item type='subscription' value='none' action='deny' order='4294967295'><iq/></item></list>`,
		`<list name='x'><item action='allow' order='-1'/></list>`,
		`<list name='y'><item type='jid' value='' action='deny' order='1'/></list>`,
		`<list name='z'><item action='deny' order='1'><presence-in xmlns='urn:other'/></item></list>`,
		`<list/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, q, ok := stanzatest.SetQuery(NS, body)
		if !ok {
			return // refused by the decoder, whose own fuzz target covers it
		}
		el := q.SelectElement("list")
		if el == nil || el.NamespaceURI() != NS {
			return
		}
		l, serr := ParseList(el)
		if serr != nil {
			if serr.Condition != stream.BadRequest {
				t.Fatalf("ParseList refused %s with %s, want bad-request", body, serr.Condition)
			}
			return
		}
		if l.Validate() != nil {
			return
		}
		doc := etree.NewDocument()
		rendered := ListElement(l)
		rendered.CreateAttr("xmlns", NS)
		doc.SetRoot(rendered)
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatalf("render %+v: %v", l, err)
		}
		back := etree.NewDocument()
		if err := back.ReadFromBytes(out); err != nil {
			t.Fatalf("the rendered list does not parse: %v\n%s", err, out)
		}
		l2, serr := ParseList(back.Root())
		if serr != nil {
			t.Fatalf("the rendered list is refused (%v):\n%s", serr, out)
		}
		if !reflect.DeepEqual(normalise(l), normalise(l2)) {
			t.Fatalf("round trip changed the list:\n got %+v\nwant %+v\nrendered %s", l2, l, out)
		}
	})
}

// normalise makes an empty rule list and a nil one compare equal.
func normalise(l storage.PrivacyList) storage.PrivacyList {
	if len(l.Rules) == 0 {
		l.Rules = nil
	}
	return l
}
