package presrules

import (
	"encoding/xml"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/router"
	engine "github.com/herald-im/herald/router/presrules"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// host offers the presence rules service to the module.
type host struct {
	bareHost
	svc Service
}

func (h host) PresenceRulesService() Service { return h.svc }

// bareHost offers no optional service.
type bareHost struct{}

func (bareHost) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (bareHost) Software() namespaces.Software { return namespaces.Software{Name: "test"} }

const (
	juliet  = "juliet@example.com"
	balcony = "juliet@example.com/balcony"
	romeo   = "romeo@example.net"
	orchard = "romeo@example.net/orchard"
)

type fixture struct {
	path   string
	db     *sqlite.DB
	engine *engine.Engine
	reg    *namespaces.Registry
}

// newFixture opens a fresh SQLite database with the accounts juliet and
// romeo, and registers the module over an engine on it.
func newFixture(t *testing.T, opts ...engine.Option) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "herald.db")}
	f.open(t, opts...)
	creds, err := storage.NewCredentials("secret", storage.MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{juliet, romeo} {
		if err := f.db.CreateAccount(t.Context(), a, creds); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// open (re)opens the database and builds a new engine and registry on it.
func (f *fixture) open(t *testing.T, opts ...engine.Option) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	f.engine = engine.New(db, nil, opts...)
	f.reg = namespaces.NewRegistry(host{svc: f.engine})
	if err := f.reg.Register(Module{}); err != nil {
		t.Fatal(err)
	}
	f.reg.Seal()
}

// decodeIQ reads raw with the server's stream decoder, as c2s would.
func decodeIQ(t *testing.T, raw string) *etree.Element {
	t.Helper()
	in := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>" + raw
	dec := stream.NewDecoder(strings.NewReader(in), stream.Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := dec.Next()
	if err != nil {
		t.Fatalf("bad test XML %s: %v", raw, err)
	}
	return el
}

// iq sends raw from from to the account to ("" for from's own) and returns
// the rendered result payload ("" for none) or the error.
func (f *fixture) iq(t *testing.T, from, to, raw string) (string, error) {
	t.Helper()
	iq := decodeIQ(t, raw)
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
	return string(stream.AppendElement(nil, res)), nil
}

func (f *fixture) mustIQ(t *testing.T, from, raw string) string {
	t.Helper()
	res, err := f.iq(t, from, "", raw)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return res
}

func (f *fixture) decide(t *testing.T, user, requester string) router.SubHandling {
	t.Helper()
	return f.engine.SubscriptionRequest(t.Context(), jid.MustParse(user), jid.MustParse(requester))
}

func asStanzaError(t *testing.T, err error) *stream.StanzaError {
	t.Helper()
	serr, ok := stream.AsStanzaError(err)
	if !ok {
		t.Fatalf("error %v is not a stanza error", err)
	}
	return serr
}

const (
	getRules = `<iq type='get' id='g'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'/></iq>`
	emptyRes = `<pres-rules xmlns="urn:xmpp:herald:pres-rules:0"/>`
	// setRomeo allows romeo and asks for everyone else, written with the
	// prefixes of the RFC 5025 §6 example.
	setRomeo = `<iq type='set' id='s'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'>
  <cr:ruleset xmlns:cr='urn:ietf:params:xml:ns:common-policy' xmlns:pr='urn:ietf:params:xml:ns:pres-rules'>
    <cr:rule id='romeo'>
      <cr:conditions><cr:identity><cr:one id='xmpp:romeo@example.net'/></cr:identity></cr:conditions>
      <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>
      <cr:transformations><pr:provide-mood>true</pr:provide-mood></cr:transformations>
    </cr:rule>
    <cr:rule id='others'>
      <cr:conditions><cr:identity><cr:many/></cr:identity></cr:conditions>
      <cr:actions><pr:sub-handling>confirm</pr:sub-handling></cr:actions>
    </cr:rule>
  </cr:ruleset>
</pres-rules></iq>`
	romeoCanonical = `<pres-rules xmlns="urn:xmpp:herald:pres-rules:0"><ruleset xmlns="urn:ietf:params:xml:ns:common-policy">` +
		`<rule id="romeo"><conditions><identity><one id="xmpp:romeo@example.net"/></identity></conditions>` +
		`<actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">allow</sub-handling></actions>` +
		`<transformations><provide-mood xmlns="urn:ietf:params:xml:ns:pres-rules">true</provide-mood></transformations></rule>` +
		`<rule id="others"><conditions><identity><many/></identity></conditions>` +
		`<actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">confirm</sub-handling></actions></rule>` +
		`</ruleset></pres-rules>`
	deleteRules = `<iq type='set' id='d'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'/></iq>`
)

// TestRegister checks the disco feature on the server and accounts, and
// that the module needs the service.
func TestRegister(t *testing.T) {
	f := newFixture(t)
	for _, target := range []namespaces.Target{namespaces.Server, namespaces.Account} {
		if !slices.Contains(f.reg.Features(target), NS) {
			t.Errorf("%s disco#info lacks %s", target, NS)
		}
	}
	if err := namespaces.NewRegistry(bareHost{}).Register(Module{}); err == nil {
		t.Error("registering without a presence rules service should fail")
	}
}

// TestSetGetDelete walks the protocol: no rules, set (with prefixes),
// get the canonical form, the decisions they make, delete.
func TestSetGetDelete(t *testing.T) {
	f := newFixture(t)
	if got := f.mustIQ(t, balcony, getRules); got != emptyRes {
		t.Errorf("get without rules = %s, want %s", got, emptyRes)
	}
	if got := f.decide(t, juliet, "tybalt@example.com"); got != router.SubConfirm {
		t.Errorf("without rules: %v, want SubConfirm", got)
	}
	if got := f.mustIQ(t, balcony, setRomeo); got != "" {
		t.Errorf("set = %s, want an empty result", got)
	}
	if got := f.mustIQ(t, balcony, getRules); got != romeoCanonical {
		t.Errorf("get =\n%s\nwant\n%s", got, romeoCanonical)
	}
	stored, err := f.db.PresenceRules(t.Context(), juliet)
	if err != nil || !strings.HasPrefix(romeoCanonical, `<pres-rules xmlns="urn:xmpp:herald:pres-rules:0">`+string(stored)) {
		t.Errorf("stored %s, %v", stored, err)
	}
	for requester, want := range map[string]router.SubHandling{romeo: router.SubAllow, "tybalt@example.com": router.SubConfirm} {
		if got := f.decide(t, juliet, requester); got != want {
			t.Errorf("%s: %v, want %v", requester, got, want)
		}
	}
	// Romeo's own rules are his.
	if got := f.mustIQ(t, orchard, getRules); got != emptyRes {
		t.Errorf("romeo's get = %s", got)
	}
	// A second set replaces the document.
	f.mustIQ(t, balcony, `<iq type='set' id='s2'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'><ruleset xmlns='urn:ietf:params:xml:ns:common-policy'/></pres-rules></iq>`)
	if got := f.mustIQ(t, balcony, getRules); got != `<pres-rules xmlns="urn:xmpp:herald:pres-rules:0"><ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/></pres-rules>` {
		t.Errorf("get after replacing = %s", got)
	}
	if got := f.decide(t, juliet, romeo); got != router.SubBlock {
		t.Errorf("an empty ruleset: %v, want SubBlock (RFC 5025 default)", got)
	}
	// Delete, also when there is nothing to delete.
	for range 2 {
		if got := f.mustIQ(t, balcony, deleteRules); got != "" {
			t.Errorf("delete = %s", got)
		}
		if got := f.mustIQ(t, balcony, getRules); got != emptyRes {
			t.Errorf("get after delete = %s", got)
		}
		if got := f.decide(t, juliet, romeo); got != router.SubConfirm {
			t.Errorf("after delete: %v, want SubConfirm", got)
		}
	}
}

// TestBadRequests checks that malformed requests and invalid documents are
// refused with bad-request and a <text/> saying what is wrong, and change
// nothing.
func TestBadRequests(t *testing.T) {
	f := newFixture(t, engine.WithLimits(engine.Limits{MaxRules: 2}))
	f.mustIQ(t, balcony, setRomeo)
	set := func(inner string) string {
		return `<iq type='set' id='x'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'>` + inner + `</pres-rules></iq>`
	}
	cp := `xmlns='urn:ietf:params:xml:ns:common-policy'`
	tests := []struct {
		name, raw, text string
	}{
		{"get with content", `<iq type='get' id='x'><pres-rules xmlns='urn:xmpp:herald:pres-rules:0'><ruleset ` + cp + `/></pres-rules></iq>`, "a get carries an empty <pres-rules/>"},
		{"two rulesets", set(`<ruleset ` + cp + `/><ruleset ` + cp + `/>`), "a set carries one <ruleset"},
		{"text", set(`yes`), "holds no text"},
		{"ruleset without namespace", set(`<ruleset/>`), "is a <ruleset xmlns='urn:ietf:params:xml:ns:common-policy'/>"},
		{"bad sub-handling", set(`<ruleset ` + cp + `><rule id='a'><actions><sub-handling xmlns='urn:ietf:params:xml:ns:pres-rules'>yes</sub-handling></actions></rule></ruleset>`), `rule "a": <sub-handling/> "yes" is not block, confirm, polite-block or allow (RFC 5025 §3.2.1)`},
		{"bad identity", set(`<ruleset ` + cp + `><rule id='a'><conditions><identity><one id='xmpp:@example.com'/></identity></conditions></rule></ruleset>`), "not an XMPP address"},
		{"over the limit", set(`<ruleset ` + cp + `><rule id='a'/><rule id='b'/><rule id='c'/></ruleset>`), "more than 2 rules; the server's limit is 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.iq(t, balcony, "", tc.raw)
			serr := asStanzaError(t, err)
			if serr.Condition != stream.BadRequest || serr.Type != stream.Modify {
				t.Errorf("error %v, want bad-request of type modify", serr)
			}
			if !strings.Contains(serr.Text, tc.text) {
				t.Errorf("text %q does not say %q", serr.Text, tc.text)
			}
		})
	}
	if got := f.mustIQ(t, balcony, getRules); got != romeoCanonical {
		t.Errorf("the refused sets changed the rules to %s", got)
	}
}

// TestOnlyTheAccount checks that another user, or a request without a
// resource, is refused with forbidden (RFC 5025 §9.9: only the user reads
// or writes their rules), and reveals nothing.
func TestOnlyTheAccount(t *testing.T) {
	f := newFixture(t)
	f.mustIQ(t, balcony, setRomeo)
	for _, tc := range []struct{ from, to, raw string }{
		{orchard, juliet, getRules},
		{orchard, juliet, setRomeo},
		{orchard, juliet, deleteRules},
		{juliet, "", getRules},
		{"example.com", juliet, getRules},
	} {
		res, err := f.iq(t, tc.from, tc.to, tc.raw)
		if serr := asStanzaError(t, err); serr.Condition != stream.Forbidden || res != "" {
			t.Errorf("%s → %s: %v, %q; want forbidden", tc.from, tc.to, err, res)
		}
	}
	if got := f.mustIQ(t, balcony, getRules); got != romeoCanonical {
		t.Errorf("juliet's rules are now %s", got)
	}
}

// TestRulesDurableAndDeletedWithAccount checks that rules set through the
// protocol survive a restart (a new database handle and engine), and go
// with the account.
func TestRulesDurableAndDeletedWithAccount(t *testing.T) {
	f := newFixture(t)
	f.mustIQ(t, balcony, setRomeo)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	if got := f.mustIQ(t, balcony, getRules); got != romeoCanonical {
		t.Errorf("after reopening: %s", got)
	}
	if got := f.decide(t, juliet, romeo); got != router.SubAllow {
		t.Errorf("after reopening: %v, want SubAllow", got)
	}
	if err := f.db.DeleteAccount(t.Context(), juliet); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.PresenceRules(t.Context(), juliet); err == nil {
		t.Error("the rules outlived the account")
	}
	f.engine.Invalidate(jid.MustParse(juliet))
	if got := f.decide(t, juliet, romeo); got != router.SubConfirm {
		t.Errorf("after deleting the account: %v, want SubConfirm", got)
	}
	// Setting rules for an account that no longer exists.
	_, err := f.iq(t, balcony, "", setRomeo)
	if serr := asStanzaError(t, err); serr.Condition != stream.ItemNotFound {
		t.Errorf("set without an account: %v, want item-not-found", err)
	}
}
