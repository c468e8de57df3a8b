package privacy

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	engine "github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// host offers the privacy service to the module.
type host struct {
	bareHost
	svc Service
}

func (h host) PrivacyService() Service { return h.svc }

// bareHost offers no optional service.
type bareHost struct{}

func (bareHost) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (bareHost) Software() namespaces.Software { return namespaces.Software{Name: "test"} }

// sessions stands in for the router: bound resources and recorded pushes.
type sessions struct {
	bound  map[jid.JID][]jid.JID
	pushes []string
}

func (s *sessions) Resources(owner jid.JID) []jid.JID { return slices.Clone(s.bound[owner]) }

func (s *sessions) PushIQ(owner jid.JID, payload *etree.Element, only func(jid.JID) bool) {
	for _, r := range s.bound[owner] {
		if only == nil || only(r) {
			s.pushes = append(s.pushes, r.String()+" "+render(payload))
		}
	}
}

func (s *sessions) ReconcilePresence(context.Context, jid.JID, func(jid.JID, jid.JID) bool, func(jid.JID, jid.JID) bool) {
}

func (s *sessions) ReconcileInboundPresence(context.Context, jid.JID, func(jid.JID, jid.JID) bool, func(jid.JID, jid.JID) bool) {
}

func render(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

type fixture struct {
	reg      *namespaces.Registry
	db       *sqlite.DB
	sessions *sessions
}

func newFixture(t *testing.T, accounts ...string) *fixture {
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
	for _, a := range accounts {
		if err := db.CreateAccount(t.Context(), a, creds); err != nil {
			t.Fatal(err)
		}
	}
	groups := func(ctx context.Context, owner jid.JID) ([]string, error) {
		items, _, err := db.Roster(ctx, owner.String())
		var out []string
		for _, it := range items {
			out = append(out, it.Groups...)
		}
		return out, err
	}
	e := engine.New(db, nil, nil, engine.WithRosterGroups(groups))
	s := &sessions{bound: map[jid.JID][]jid.JID{}}
	e.Attach(s)
	reg := namespaces.NewRegistry(host{svc: e})
	if err := reg.Register(Module{}); err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	return &fixture{reg: reg, db: db, sessions: s}
}

func (f *fixture) bind(full ...string) {
	for _, s := range full {
		j := jid.MustParse(s)
		f.sessions.bound[j.Bare()] = append(f.sessions.bound[j.Bare()], j)
	}
}

// iq sends the iq from from (to its own account) through the registry and
// returns the result payload rendered, or the error.
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
		t.Fatalf("no handler for %s %s", typ, raw)
	}
	req := &namespaces.Request{Stanza: iq, Payload: payload, Type: typ, From: fromJID, To: toJID, Target: namespaces.Account}
	res, err := h.HandleIQ(t.Context(), req)
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

const (
	orchard = "romeo@example.net/orchard"
	home    = "romeo@example.net/home"
	garden  = "romeo@example.net/garden"
)

func condition(err error) stream.StanzaCondition {
	if serr, ok := stream.AsStanzaError(err); ok {
		return serr.Condition
	}
	return ""
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	if !slices.Contains(f.reg.Features(namespaces.Server), NS) || !slices.Contains(f.reg.Features(namespaces.Account), NS) {
		t.Error("jabber:iq:privacy is not advertised (XEP-0016 §3)")
	}
	if err := namespaces.NewRegistry(bareHost{}).Register(Module{}); err == nil {
		t.Error("registering without a privacy service should fail")
	}
}

// TestRetrieveLists follows XEP-0016 §2.3 examples 1–8.
func TestRetrieveLists(t *testing.T) {
	f := newFixture(t, "romeo@example.net")
	f.bind(orchard)
	f.mustIQ(t, orchard, `<iq type='set' id='a'><query xmlns='jabber:iq:privacy'><list name='public'>
		<item type='jid' value='tybalt@example.com' action='deny' order='1'/>
		<item action='allow' order='2'/></list></query></iq>`)
	f.mustIQ(t, orchard, `<iq type='set' id='b'><query xmlns='jabber:iq:privacy'><list name='private'>
		<item type='subscription' value='both' action='allow' order='10'/>
		<item action='deny' order='15'/></list></query></iq>`)
	f.mustIQ(t, orchard, `<iq type='set' id='c'><query xmlns='jabber:iq:privacy'><list name='special'>
		<item type='jid' value='juliet@example.com' action='allow' order='6'/>
		<item type='jid' value='benvolio@example.org' action='allow' order='7'/>
		<item type='jid' value='mercutio@example.org' action='allow' order='42'/>
		<item action='deny' order='666'/></list></query></iq>`)
	f.mustIQ(t, orchard, `<iq type='set' id='d'><query xmlns='jabber:iq:privacy'><default name='public'/></query></iq>`)
	f.mustIQ(t, orchard, `<iq type='set' id='e'><query xmlns='jabber:iq:privacy'><active name='private'/></query></iq>`)

	tests := []struct {
		from, get, want string
	}{
		{orchard, `<query xmlns='jabber:iq:privacy'/>`,
			`<query xmlns="jabber:iq:privacy"><active name="private"/><default name="public"/><list name="private"/><list name="public"/><list name="special"/></query>`},
		{home, `<query xmlns='jabber:iq:privacy'/>`, // no active list for home
			`<query xmlns="jabber:iq:privacy"><default name="public"/><list name="private"/><list name="public"/><list name="special"/></query>`},
		{orchard, `<query xmlns='jabber:iq:privacy'><list name='public'/></query>`,
			`<query xmlns="jabber:iq:privacy"><list name="public"><item type="jid" value="tybalt@example.com" action="deny" order="1"/><item action="allow" order="2"/></list></query>`},
		{orchard, `<query xmlns='jabber:iq:privacy'><list name='private'/></query>`,
			`<query xmlns="jabber:iq:privacy"><list name="private"><item type="subscription" value="both" action="allow" order="10"/><item action="deny" order="15"/></list></query>`},
		{orchard, `<query xmlns='jabber:iq:privacy'><list name='special'/></query>`,
			`<query xmlns="jabber:iq:privacy"><list name="special"><item type="jid" value="juliet@example.com" action="allow" order="6"/><item type="jid" value="benvolio@example.org" action="allow" order="7"/><item type="jid" value="mercutio@example.org" action="allow" order="42"/><item action="deny" order="666"/></list></query>`},
	}
	for _, tt := range tests {
		got := f.mustIQ(t, tt.from, `<iq type='get' id='g'>`+tt.get+`</iq>`)
		if got != tt.want {
			t.Errorf("get %s from %s:\n got %s\nwant %s", tt.get, tt.from, got, tt.want)
		}
	}
}

// TestListRoundTrip: every kind child and type survives a set and a get;
// jid values come back in canonical form.
func TestListRoundTrip(t *testing.T) {
	f := newFixture(t, "romeo@example.net")
	if _, err := f.db.PutRosterItem(t.Context(), "romeo@example.net", storage.RosterItem{Contact: "tybalt@example.com", Groups: []string{"Enemies"}}); err != nil {
		t.Fatal(err)
	}
	f.mustIQ(t, orchard, `<iq type='set' id='a'><query xmlns='jabber:iq:privacy'><list name='all-kinds'>
		<item type='jid' value='Tybalt@Example.COM/PDA' action='deny' order='3'><message/><iq/><presence-in/><presence-out/></item>
		<item type='group' value='Enemies' action='deny' order='4'><presence-out/></item>
		<item type='subscription' value='none' action='deny' order='5'><iq/></item>
		<item action='allow' order='4294967295'/></list></query></iq>`)
	got := f.mustIQ(t, orchard, `<iq type='get' id='g'><query xmlns='jabber:iq:privacy'><list name='all-kinds'/></query></iq>`)
	want := `<query xmlns="jabber:iq:privacy"><list name="all-kinds">` +
		`<item type="jid" value="tybalt@example.com/PDA" action="deny" order="3"><message/><iq/><presence-in/><presence-out/></item>` +
		`<item type="group" value="Enemies" action="deny" order="4"><presence-out/></item>` +
		`<item type="subscription" value="none" action="deny" order="5"><iq/></item>` +
		`<item action="allow" order="4294967295"/></list></query>`
	if got != want {
		t.Errorf("round trip:\n got %s\nwant %s", got, want)
	}
}

// TestErrors covers the error cases of XEP-0016 §2.1–§2.8.
func TestErrors(t *testing.T) {
	f := newFixture(t, "romeo@example.net", "juliet@example.com")
	f.bind(orchard, home, garden)
	for _, set := range []string{
		`<list name='public'><item type='jid' value='tybalt@example.com' action='deny' order='1'/></list>`,
		`<list name='private'><item action='deny' order='1'/></list>`,
		`<list name='special'><item action='allow' order='1'/></list>`,
		`<default name='public'/>`,
	} {
		f.mustIQ(t, orchard, `<iq type='set' id='s'><query xmlns='jabber:iq:privacy'>`+set+`</query></iq>`)
	}
	f.mustIQ(t, home, `<iq type='set' id='s'><query xmlns='jabber:iq:privacy'><active name='private'/></query></iq>`)

	q := func(inner string) string { return `<query xmlns='jabber:iq:privacy'>` + inner + `</query>` }
	item := func(attrs string) string { return q(`<list name='x'><item ` + attrs + `/></list>`) }
	tests := []struct {
		name      string
		from, to  string
		typ, body string
		want      stream.StanzaCondition
	}{
		{"get two lists (§2.3 ex. 10)", orchard, "", "get", q(`<list name='public'/><list name='private'/>`), stream.BadRequest},
		{"get missing list (§2.3 ex. 9)", orchard, "", "get", q(`<list name='The Empty Set'/>`), stream.ItemNotFound},
		{"get list without name", orchard, "", "get", q(`<list/>`), stream.BadRequest},
		{"get with active", orchard, "", "get", q(`<active/>`), stream.BadRequest},
		{"get another account's lists", orchard, "juliet@example.com", "get", q(``), stream.Forbidden},
		{"set with two children (§2.1)", orchard, "", "set", q(`<active name='public'/><default name='public'/>`), stream.BadRequest},
		{"set with no child", orchard, "", "set", q(``), stream.BadRequest},
		{"set unknown child", orchard, "", "set", q(`<foo/>`), stream.BadRequest},
		{"set another account's lists", orchard, "juliet@example.com", "set", q(`<active/>`), stream.Forbidden},
		{"activate missing list (§2.4 ex. 13)", orchard, "", "set", q(`<active name='The Empty Set'/>`), stream.ItemNotFound},
		{"default to missing list (§2.5 ex. 19)", orchard, "", "set", q(`<default name='The Empty Set'/>`), stream.ItemNotFound},
		{"change default in use by garden (§2.5 ex. 18)", orchard, "", "set", q(`<default name='special'/>`), stream.ConflictStanza},
		{"decline default in use by garden (§2.5 ex. 22)", orchard, "", "set", q(`<default/>`), stream.ConflictStanza},
		{"remove list active for home (§2.8)", orchard, "", "set", q(`<list name='private'/>`), stream.ConflictStanza},
		{"remove default list (§2.8)", orchard, "", "set", q(`<list name='public'/>`), stream.ConflictStanza},
		{"remove missing list (§2.8)", orchard, "", "set", q(`<list name='nope'/>`), stream.ItemNotFound},
		{"list without name", orchard, "", "set", q(`<list><item action='deny' order='1'/></list>`), stream.BadRequest},
		{"duplicate order (§2.1)", orchard, "", "set", q(`<list name='x'><item action='deny' order='1'/><item action='allow' order='1'/></list>`), stream.BadRequest},
		{"no action", orchard, "", "set", item(`order='1'`), stream.BadRequest},
		{"bad action", orchard, "", "set", item(`action='block' order='1'`), stream.BadRequest},
		{"no order", orchard, "", "set", item(`action='deny'`), stream.BadRequest},
		{"negative order", orchard, "", "set", item(`action='deny' order='-1'`), stream.BadRequest},
		{"order beyond unsignedInt", orchard, "", "set", item(`action='deny' order='4294967296'`), stream.BadRequest},
		{"unknown type", orchard, "", "set", item(`type='domain' value='example.com' action='deny' order='1'`), stream.BadRequest},
		{"jid type without value", orchard, "", "set", item(`type='jid' action='deny' order='1'`), stream.BadRequest},
		{"malformed jid", orchard, "", "set", item(`type='jid' value='@example.com' action='deny' order='1'`), stream.JIDMalformed},
		{"bad subscription value", orchard, "", "set", item(`type='subscription' value='remove' action='deny' order='1'`), stream.BadRequest},
		{"group not in roster (§2.1)", orchard, "", "set", item(`type='group' value='Enemies' action='deny' order='1'`), stream.ItemNotFound},
		{"fall-through with value", orchard, "", "set", item(`value='x' action='deny' order='1'`), stream.BadRequest},
		{"unknown kind child", orchard, "", "set", q(`<list name='x'><item action='deny' order='1'><presence/></item></list>`), stream.BadRequest},
		{"kind child in another namespace", orchard, "", "set", q(`<list name='x'><item action='deny' order='1'><subscription xmlns='urn:xmpp:herald:privacy:0'/></item></list>`), stream.BadRequest},
		{"non-item in list", orchard, "", "set", q(`<list name='x'><rule/></list>`), stream.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.iq(t, tt.from, tt.to, `<iq type='`+tt.typ+`' id='e'>`+tt.body+`</iq>`)
			if got := condition(err); got != tt.want {
				t.Errorf("condition %q (err %v), want %q", got, err, tt.want)
			}
		})
	}
	// None of the refused requests changed anything.
	got := f.mustIQ(t, orchard, `<iq type='get' id='g'><query xmlns='jabber:iq:privacy'/></iq>`)
	if want := `<query xmlns="jabber:iq:privacy"><default name="public"/><list name="private"/><list name="public"/><list name="special"/></query>`; got != want {
		t.Errorf("after the errors: %s, want %s", got, want)
	}
}

// TestSetOperations covers the successful sets and their pushes (XEP-0016
// §2.4–§2.8).
func TestSetOperations(t *testing.T) {
	f := newFixture(t, "romeo@example.net")
	f.bind(orchard, home)
	set := func(from, inner string) {
		t.Helper()
		f.mustIQ(t, from, `<iq type='set' id='s'><query xmlns='jabber:iq:privacy'>`+inner+`</query></iq>`)
	}
	names := func(from string) string {
		t.Helper()
		return f.mustIQ(t, from, `<iq type='get' id='g'><query xmlns='jabber:iq:privacy'/></iq>`)
	}
	set(orchard, `<list name='public'><item action='allow' order='68'/></list>`)
	if want := []string{
		orchard + ` <query xmlns="jabber:iq:privacy"><list name="public"/></query>`,
		home + ` <query xmlns="jabber:iq:privacy"><list name="public"/></query>`,
	}; !slices.Equal(f.sessions.pushes, want) {
		t.Errorf("pushes after edit = %v, want %v (§2.6 ex. 25)", f.sessions.pushes, want)
	}
	set(orchard, `<active name='public'/>`)
	set(orchard, `<default name='public'/>`)
	if got := names(orchard); !strings.Contains(got, `<active name="public"/><default name="public"/>`) {
		t.Errorf("after active+default: %s", got)
	}
	set(orchard, `<active/>`)
	if got := names(orchard); strings.Contains(got, "<active") {
		t.Errorf("after declining the active list: %s", got)
	}
	// orchard may not decline the default while home, without an active
	// list, uses it (§2.5): give home an active list first.
	set(home, `<active name='public'/>`)
	set(orchard, `<default/>`)
	if got := names(orchard); strings.Contains(got, "<default") {
		t.Errorf("after declining the default list: %s", got)
	}
	set(home, `<list name='public'/>`) // home removes its own active list
	if got := names(home); got != `<query xmlns="jabber:iq:privacy"/>` {
		t.Errorf("after removing the last list: %s", got)
	}
	// A list with no items removes; with items creates (§2.7, §2.8).
	if _, err := f.iq(t, orchard, "", `<iq type='set' id='s'><query xmlns='jabber:iq:privacy'><list name='public'/></query></iq>`); condition(err) != stream.ItemNotFound {
		t.Errorf("removing it again = %v, want item-not-found", err)
	}
}

// TestEngineErrorsPassThrough: failures that are not protocol errors reach
// the router as they are (internal-server-error there).
func TestEngineErrorsPassThrough(t *testing.T) {
	boom := errors.New("disk on fire")
	if got := stanzaError(boom); !errors.Is(got, boom) {
		t.Errorf("stanzaError(%v) = %v", boom, got)
	}
	if stanzaError(nil) != nil {
		t.Error("nil must stay nil")
	}
}
