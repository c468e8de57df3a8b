package blocking

import (
	"context"
	"encoding/xml"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/privacy"
	"github.com/herald-im/herald/router"
	engine "github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// bareHost offers no optional service.
type bareHost struct{}

func (bareHost) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (bareHost) Software() namespaces.Software { return namespaces.Software{Name: "test"} }

// host offers both protocols over one engine, as the server does.
type host struct {
	bareHost
	e *engine.Engine
}

func (h host) BlockingService() Service        { return h.e }
func (h host) PrivacyService() privacy.Service { return h.e }

// sessions stands in for the router: bound resources, recorded pushes and
// presence corrections.
type sessions struct {
	bound    map[jid.JID][]jid.JID
	entitled []jid.JID
	pushes   []string
	presence []string
}

func (s *sessions) Resources(owner jid.JID) []jid.JID { return slices.Clone(s.bound[owner]) }

func (s *sessions) PushIQ(owner jid.JID, payload *etree.Element, only func(jid.JID) bool) {
	for _, r := range s.bound[owner] {
		if only == nil || only(r) {
			s.pushes = append(s.pushes, r.Resource()+" "+render(payload))
		}
	}
}

// ReconcileInboundPresence: the module tests see no contacts' presence.
func (s *sessions) ReconcileInboundPresence(context.Context, jid.JID, func(jid.JID, jid.JID) bool, func(jid.JID, jid.JID) bool) {
}

func (s *sessions) ReconcilePresence(_ context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool) {
	for _, r := range s.bound[owner] {
		for _, c := range s.entitled {
			if hide(r, c) {
				s.presence = append(s.presence, "unavailable "+r.Resource()+">"+c.String())
			}
			if show(r, c) {
				s.presence = append(s.presence, "available "+r.Resource()+">"+c.String())
			}
		}
	}
}

func (s *sessions) take() (pushes, presence []string) {
	pushes, presence = s.pushes, s.presence
	s.pushes, s.presence = nil, nil
	return pushes, presence
}

func render(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

type fixture struct {
	reg      *namespaces.Registry
	e        *engine.Engine
	sessions *sessions
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	creds, err := storage.NewCredentials("secret", storage.MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"juliet@capulet.com", "nurse@capulet.com"} {
		if err := db.CreateAccount(t.Context(), a, creds); err != nil {
			t.Fatal(err)
		}
	}
	e := engine.New(db, nil, nil)
	s := &sessions{bound: map[jid.JID][]jid.JID{
		jid.MustParse("juliet@capulet.com"): {jid.MustParse(chamber), jid.MustParse(balcony)},
	}}
	e.Attach(s)
	reg := namespaces.NewRegistry(host{e: e})
	if err := reg.Register(Module{}, privacy.Module{}); err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	return &fixture{reg: reg, e: e, sessions: s}
}

const (
	chamber = "juliet@capulet.com/chamber"
	balcony = "juliet@capulet.com/balcony"
)

// iq dispatches raw, sent by from to its own account (or to to), through
// the registry; it returns the result payload rendered, or the error.
func (f *fixture) iq(t *testing.T, from, to, raw string) (string, error) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(raw); err != nil {
		t.Fatalf("bad test XML %s: %v", raw, err)
	}
	iq := doc.Root()
	payload := iq.ChildElements()[0]
	fromJID := jid.MustParse(from)
	toJID := fromJID.Bare()
	if to != "" {
		toJID = jid.MustParse(to)
	}
	typ := iq.SelectAttrValue("type", "")
	h := f.reg.LookupIQ(typ, xml.Name{Space: payload.NamespaceURI(), Local: payload.Tag}, namespaces.Account)
	if h == nil {
		t.Fatalf("no handler for %s", raw)
	}
	res, err := h.HandleIQ(t.Context(), &namespaces.Request{Stanza: iq, Payload: payload, Type: typ, From: fromJID, To: toJID, Target: namespaces.Account})
	if err != nil || res == nil {
		return "", err
	}
	return render(res), nil
}

func (f *fixture) mustIQ(t *testing.T, from, raw string) string {
	t.Helper()
	res, err := f.iq(t, from, "", raw)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return res
}

func (f *fixture) blocklist(t *testing.T, from string) string {
	t.Helper()
	return f.mustIQ(t, from, `<iq type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	if !slices.Contains(f.reg.Features(namespaces.Server), NS) || !slices.Contains(f.reg.Features(namespaces.Account), NS) {
		t.Error("urn:xmpp:blocking is not advertised (XEP-0191 §3.1)")
	}
	if err := namespaces.NewRegistry(bareHost{}).Register(Module{}); err == nil {
		t.Error("registering without a blocking service should fail")
	}
}

// TestBlockingCommands follows XEP-0191 §3.2–§3.5 step by step: results,
// pushes to the resources that requested the blocklist, presence.
func TestBlockingCommands(t *testing.T) {
	f := newFixture(t)
	f.sessions.entitled = []jid.JID{jid.MustParse("romeo@montague.net"), jid.MustParse("nurse@capulet.com")}
	steps := []struct {
		name      string
		from, iq  string
		result    string
		pushes    []string
		presence  []string
		blocklist string
	}{
		{"empty blocklist (§3.2 ex. 5)", chamber, `<iq type='get' id='blocklist1'><blocklist xmlns='urn:xmpp:blocking'/></iq>`,
			`<blocklist xmlns="urn:xmpp:blocking"/>`, nil, nil, `<blocklist xmlns="urn:xmpp:blocking"/>`},
		{"block (§3.3 ex. 6–8)", balcony, `<iq type='set' id='block1'><block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></block></iq>`,
			"", []string{
				`chamber <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`balcony <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`chamber <block xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/></block>`,
			}, []string{"unavailable chamber>romeo@montague.net", "unavailable balcony>romeo@montague.net"},
			`<blocklist xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/></blocklist>`},
		{"block several", chamber, `<iq type='set' id='block2'><block xmlns='urn:xmpp:blocking'><item jid='iago@shakespeare.lit'/><item jid='montague.net'/></block></iq>`,
			"", []string{
				`chamber <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`balcony <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`chamber <block xmlns="urn:xmpp:blocking"><item jid="iago@shakespeare.lit"/><item jid="montague.net"/></block>`,
			}, nil, // romeo already blocked
			`<blocklist xmlns="urn:xmpp:blocking"><item jid="iago@shakespeare.lit"/><item jid="montague.net"/><item jid="romeo@montague.net"/></blocklist>`},
		{"unblock (§3.4 ex. 10–12)", chamber, `<iq type='set' id='unblock1'><unblock xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></unblock></iq>`,
			"", []string{
				`chamber <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`balcony <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`chamber <unblock xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/></unblock>`,
			}, nil, // still blocked by the domain rule
			`<blocklist xmlns="urn:xmpp:blocking"><item jid="iago@shakespeare.lit"/><item jid="montague.net"/></blocklist>`},
		{"unblock all (§3.5 ex. 13–15)", chamber, `<iq type='set' id='unblock2'><unblock xmlns='urn:xmpp:blocking'/></iq>`,
			"", []string{
				`chamber <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`balcony <query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
				`chamber <unblock xmlns="urn:xmpp:blocking"/>`,
			}, []string{"available chamber>romeo@montague.net", "available balcony>romeo@montague.net"},
			`<blocklist xmlns="urn:xmpp:blocking"/>`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := f.mustIQ(t, s.from, s.iq); got != s.result {
				t.Errorf("result %q, want %q", got, s.result)
			}
			pushes, presence := f.sessions.take()
			if !slices.Equal(pushes, s.pushes) {
				t.Errorf("pushes:\n got %q\nwant %q", pushes, s.pushes)
			}
			if !slices.Equal(presence, s.presence) {
				t.Errorf("presence: got %q, want %q", presence, s.presence)
			}
			// chamber re-reads the blocklist (and stays interested).
			if got := f.blocklist(t, chamber); got != s.blocklist {
				t.Errorf("blocklist: got %s, want %s", got, s.blocklist)
			}
			f.sessions.take()
		})
	}
}

// TestEnforcement: a blocked JID cannot reach the user and the user's
// stanzas to it fail with <blocked/> (XEP-0191 §3.3).
func TestEnforcement(t *testing.T) {
	f := newFixture(t)
	f.mustIQ(t, chamber, `<iq type='set' id='b'><block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></block></iq>`)
	ctx := t.Context()
	if f.e.Inbound(ctx, jid.MustParse(balcony), jid.MustParse("romeo@montague.net/orchard"), router.KindMessage) {
		t.Error("a message from a blocked JID got through")
	}
	serr := f.e.Outbound(ctx, jid.MustParse(chamber), jid.MustParse("romeo@montague.net"), router.KindMessage)
	if serr == nil || serr.Condition != stream.NotAcceptable || serr.App == nil || serr.App.Tag != "blocked" {
		t.Fatalf("message to a blocked JID: %v, want not-acceptable with <blocked/>", serr)
	}
	reply := serr.Reply(etree.NewElement("message"))
	if got := render(reply.SelectElement("error")); got != `<error type="cancel"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">you have blocked this address</text><blocked xmlns="urn:xmpp:blocking:errors"/></error>` {
		t.Errorf("error element = %s (XEP-0191 ex. 9)", got)
	}
}

// TestErrors covers XEP-0191 §3.3's bad-request and the other refusals.
func TestErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		from, to string
		iq       string
		want     stream.StanzaCondition
	}{
		{"empty block (§3.3)", chamber, "", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'/></iq>`, stream.BadRequest},
		{"item without jid", chamber, "", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item/></block></iq>`, stream.BadRequest},
		{"malformed jid", chamber, "", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item jid='@montague.net'/></block></iq>`, stream.JIDMalformed},
		{"malformed jid in unblock", chamber, "", `<iq type='set' id='e'><unblock xmlns='urn:xmpp:blocking'><item jid='romeo@'/></unblock></iq>`, stream.JIDMalformed},
		{"foreign child", chamber, "", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><jid>romeo@montague.net</jid></block></iq>`, stream.BadRequest},
		{"another account's blocklist", chamber, "nurse@capulet.com", `<iq type='get' id='e'><blocklist xmlns='urn:xmpp:blocking'/></iq>`, stream.Forbidden},
		{"block for another account", chamber, "nurse@capulet.com", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></block></iq>`, stream.Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.iq(t, tt.from, tt.to, tt.iq)
			serr, _ := stream.AsStanzaError(err)
			if serr == nil || serr.Condition != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	if got := f.blocklist(t, chamber); got != `<blocklist xmlns="urn:xmpp:blocking"/>` {
		t.Errorf("after the refused commands the blocklist is %s", got)
	}
}

// TestConsistencyWithPrivacyLists: both protocols see one store (XEP-0191
// §5): a block is a rule of the default privacy list, and a privacy list
// jid deny rule for every kind is a block.
func TestConsistencyWithPrivacyLists(t *testing.T) {
	f := newFixture(t)
	// A privacy list user with a default list of their own.
	f.mustIQ(t, chamber, `<iq type='set' id='p1'><query xmlns='jabber:iq:privacy'><list name='public'>
		<item type='jid' value='tybalt@capulet.com' action='deny' order='3'><message/></item>
		<item action='allow' order='68'/></list></query></iq>`)
	f.mustIQ(t, chamber, `<iq type='set' id='p2'><query xmlns='jabber:iq:privacy'><default name='public'/></query></iq>`)
	f.mustIQ(t, chamber, `<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></block></iq>`)

	got := f.mustIQ(t, chamber, `<iq type='get' id='p3'><query xmlns='jabber:iq:privacy'><list name='public'/></query></iq>`)
	want := `<query xmlns="jabber:iq:privacy"><list name="public">` +
		`<item type="jid" value="romeo@montague.net" action="deny" order="2"/>` +
		`<item type="jid" value="tybalt@capulet.com" action="deny" order="3"><message/></item>` +
		`<item action="allow" order="68"/></list></query>`
	if got != want {
		t.Errorf("the block in the default list:\n got %s\nwant %s", got, want)
	}

	// The privacy list client blocks Paris and unblocks Romeo by editing.
	f.mustIQ(t, balcony, `<iq type='set' id='p4'><query xmlns='jabber:iq:privacy'><list name='public'>
		<item type='jid' value='paris@verona.lit' action='deny' order='1'/>
		<item type='jid' value='tybalt@capulet.com' action='deny' order='3'><message/></item>
		<item action='allow' order='68'/></list></query></iq>`)
	if got, want := f.blocklist(t, chamber), `<blocklist xmlns="urn:xmpp:blocking"><item jid="paris@verona.lit"/></blocklist>`; got != want {
		t.Errorf("blocklist after the privacy list edit: %s, want %s", got, want)
	}
	// Unblock all leaves the rules that are not blocks.
	f.mustIQ(t, chamber, `<iq type='set' id='u'><unblock xmlns='urn:xmpp:blocking'/></iq>`)
	got = f.mustIQ(t, chamber, `<iq type='get' id='p5'><query xmlns='jabber:iq:privacy'><list name='public'/></query></iq>`)
	want = `<query xmlns="jabber:iq:privacy"><list name="public">` +
		`<item type="jid" value="tybalt@capulet.com" action="deny" order="3"><message/></item>` +
		`<item action="allow" order="68"/></list></query>`
	if got != want {
		t.Errorf("after unblock all:\n got %s\nwant %s", got, want)
	}
}
