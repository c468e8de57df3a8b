package roster

import (
	"context"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/internal/stanzatest"
	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// recorder is a Service that records the roster changes it is asked for.
type recorder struct {
	set     *router.RosterUpdate
	removed *jid.JID
}

func (r *recorder) Roster(context.Context, jid.JID) ([]storage.RosterItem, int64, error) {
	return nil, 0, nil
}
func (r *recorder) RosterChangesSince(context.Context, jid.JID, int64) ([]storage.RosterChange, int64, bool, error) {
	return nil, 0, false, nil
}
func (r *recorder) PushRosterChanges(jid.JID, []storage.RosterChange) {}
func (r *recorder) SetRosterItem(_ context.Context, _ jid.JID, u router.RosterUpdate) error {
	r.set = &u
	return nil
}
func (r *recorder) RemoveRosterItem(_ context.Context, _ jid.JID, contact jid.JID) error {
	r.removed = &contact
	return nil
}

// FuzzRosterSet feeds the body of a roster set <query/> from an untrusted
// client through the stream decoder and the set handler. It must never
// panic; a refusal must be a stanza error. An accepted change must keep the
// RFC 6121 §2.3.3 rules (a bare contact JID, groups non-empty, distinct,
// bounded, valid UTF-8, a bounded name) and must survive rendering as a
// roster item (pushes, get results) and reading back unchanged.
func FuzzRosterSet(f *testing.F) {
	for _, s := range []string{
		`<item jid='nurse@example.com' name='Nurse'><group>Servants</group></item>`,
		`<item jid='nurse@example.com' subscription='remove'/>`,
		`<item jid='nurse@example.com'><group></group></item>`,
		`<item jid='nurse@example.com'><group>a</group><group>a</group></item>`,
		`<item jid='nurse@example.com/res'/>`,
		`<item jid='nurse@example.com' name='  spaced  '><group> x </group><group>&#x1F600;</group></item>`,
		`<item jid='Nurse@Example.COM'/><item jid='a@b'/>`,
	} {
		f.Add([]byte(s))
	}
	from := jid.MustParse("juliet@example.com/balcony")
	f.Fuzz(func(t *testing.T, body []byte) {
		iq, q, ok := stanzatest.SetQuery(NS, body)
		if !ok {
			return // refused by the decoder, whose own fuzz target covers it
		}
		rec := &recorder{}
		req := &namespaces.Request{Stanza: iq, Payload: q, Type: "set", From: from, To: from.Bare(), Target: namespaces.Account}
		_, err := set(context.Background(), rec, req)
		if err != nil {
			if _, ok := stream.AsStanzaError(err); !ok {
				t.Fatalf("set refused %q with %v, not a stanza error", body, err)
			}
			if rec.set != nil || rec.removed != nil {
				t.Fatalf("set refused %q but changed the roster", body)
			}
			return
		}
		if rec.removed != nil {
			if !rec.removed.IsBare() {
				t.Fatalf("removal of a non-bare JID %s", rec.removed)
			}
			return
		}
		u := rec.set
		if u == nil {
			t.Fatalf("set accepted %q but changed nothing", body)
		}
		if !u.Contact.IsBare() || len(u.Name) > router.MaxRosterNameBytes || len(u.Groups) > router.MaxRosterGroups {
			t.Fatalf("accepted an update breaking the limits: %+v", u)
		}
		seen := map[string]bool{}
		for _, g := range u.Groups {
			if g == "" || len(g) > router.MaxRosterGroupBytes || !utf8.ValidString(g) || seen[g] {
				t.Fatalf("accepted group %q in %q", g, u.Groups)
			}
			seen[g] = true
		}
		item := storage.RosterItem{Contact: u.Contact.String(), Name: u.Name, Groups: u.Groups}
		el := router.RosterItemElement(item, false)
		el.CreateAttr("xmlns", NS)
		doc := etree.NewDocument()
		doc.SetRoot(el)
		out, err := doc.WriteToBytes()
		if err != nil {
			t.Fatalf("render %+v: %v", item, err)
		}
		back := etree.NewDocument()
		if err := back.ReadFromBytes(out); err != nil {
			t.Fatalf("the rendered item does not parse: %v\n%s", err, out)
		}
		r := back.Root()
		var groups []string
		for _, g := range r.SelectElements("group") {
			groups = append(groups, g.Text())
		}
		if r.SelectAttrValue("jid", "") != item.Contact || r.SelectAttrValue("name", "") != item.Name || !slices.Equal(groups, item.Groups) {
			t.Fatalf("rendering changed the item:\n got %s\nwant %+v", out, item)
		}
	})
}
