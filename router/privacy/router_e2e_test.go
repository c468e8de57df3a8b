package privacy_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/blocking"
	nsprivacy "github.com/herald-im/herald/namespaces/privacy"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/router/privacy"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// session records what the router queues to it.
type session struct {
	jid jid.JID
	mu  sync.Mutex
	got []string
}

func (s *session) JID() jid.JID { return s.jid }
func (s *session) Send(el *etree.Element) error {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	x, _ := doc.WriteToString()
	s.mu.Lock()
	s.got = append(s.got, x)
	s.mu.Unlock()
	return nil
}
func (s *session) Close(*stream.Error) {}
func (s *session) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.got
	s.got = nil
	return g
}

type host struct{ e *privacy.Engine }

func (host) Logger() *slog.Logger                { return slog.New(slog.DiscardHandler) }
func (host) Software() namespaces.Software       { return namespaces.Software{Name: "test"} }
func (h host) PrivacyService() nsprivacy.Service { return h.e }
func (h host) BlockingService() blocking.Service { return h.e }

func parse(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// TestThroughTheRouter wires engine, modules and router as server.go does
// and blocks a contact with the Blocking Command.
func TestThroughTheRouter(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	creds, _ := storage.NewCredentials("pw", 0)
	for _, a := range []string{"juliet@example.com", "romeo@example.com"} {
		if err := db.CreateAccount(ctx, a, creds); err != nil {
			t.Fatal(err)
		}
	}
	var r *router.Router
	e := privacy.New(db, func(ctx context.Context, o, c jid.JID) (storage.RosterItem, bool, error) {
		return r.RosterItem(ctx, o, c)
	}, nil, privacy.WithRosterGroups(func(ctx context.Context, o jid.JID) ([]string, error) { return r.RosterGroups(ctx, o) }))
	reg := namespaces.NewRegistry(host{e})
	if err := reg.Register(nsprivacy.Module{}, blocking.Module{}); err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	r, err = router.New(router.Config{Domains: []jid.JID{jid.MustParse("example.com")}, Registry: reg, Accounts: db, Rosters: db, Requests: db, Offline: db, Policy: e})
	if err != nil {
		t.Fatal(err)
	}
	e.Attach(r)

	juliet := &session{jid: jid.MustParse("juliet@example.com/balcony")}
	romeo := &session{jid: jid.MustParse("romeo@example.com/orchard")}
	for _, s := range []*session{juliet, romeo} {
		r.Bind(s)
		r.Route(ctx, s, parse(t, `<presence from='`+s.jid.String()+`'/>`))
	}
	// Mutual subscription, so that presence flows.
	r.Route(ctx, juliet, parse(t, `<presence from='juliet@example.com/balcony' to='romeo@example.com' type='subscribe'/>`))
	r.Route(ctx, romeo, parse(t, `<presence from='romeo@example.com/orchard' to='juliet@example.com' type='subscribed'/>`))
	r.Route(ctx, romeo, parse(t, `<presence from='romeo@example.com/orchard' to='juliet@example.com' type='subscribe'/>`))
	r.Route(ctx, juliet, parse(t, `<presence from='juliet@example.com/balcony' to='romeo@example.com' type='subscribed'/>`))
	juliet.take()
	romeo.take()

	r.Route(ctx, juliet, parse(t, `<iq from='juliet@example.com/balcony' type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>`))
	r.Route(ctx, juliet, parse(t, `<iq from='juliet@example.com/balcony' type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='romeo@example.com'/></block></iq>`))
	got := strings.Join(juliet.take(), "\n")
	for _, want := range []string{
		`<blocklist xmlns="urn:xmpp:blocking"/>`,
		`type="result" id="b1"`,
		`<block xmlns="urn:xmpp:blocking"><item jid="romeo@example.com"/></block>`,
		`<query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("juliet did not get %s; got:\n%s", want, got)
		}
	}
	if got := strings.Join(romeo.take(), "\n"); !strings.Contains(got, `<presence from="juliet@example.com/balcony" to="romeo@example.com" type="unavailable"/>`) {
		t.Errorf("romeo was not sent unavailable presence (XEP-0191 §3.3); got:\n%s", got)
	}
	// Romeo's message bounces as if Juliet were offline; hers fails with <blocked/>.
	r.Route(ctx, romeo, parse(t, `<message from='romeo@example.com/orchard' to='juliet@example.com' type='chat'><body>hi</body></message>`))
	if got := strings.Join(romeo.take(), ""); !strings.Contains(got, "service-unavailable") {
		t.Errorf("romeo's message: %s", got)
	}
	if got := juliet.take(); len(got) != 0 {
		t.Errorf("juliet received %v from a blocked contact", got)
	}
	r.Route(ctx, juliet, parse(t, `<message from='juliet@example.com/balcony' to='romeo@example.com' type='chat'><body>hi</body></message>`))
	if got := strings.Join(juliet.take(), ""); !strings.Contains(got, "not-acceptable") || !strings.Contains(got, `<blocked xmlns="urn:xmpp:blocking:errors"/>`) {
		t.Errorf("juliet's message to a blocked contact: %s", got)
	}
	// An iq the server would answer for her account is refused as if she
	// did not exist (without the block it would be forbidden).
	r.Route(ctx, romeo, parse(t, `<iq from='romeo@example.com/orchard' to='juliet@example.com' type='get' id='q'><query xmlns='jabber:iq:privacy'/></iq>`))
	if got := strings.Join(romeo.take(), ""); !strings.Contains(got, "service-unavailable") {
		t.Errorf("romeo's iq to juliet's account: %s", got)
	}
	// A subscription request from the blocked contact is dropped silently.
	r.Route(ctx, romeo, parse(t, `<presence from='romeo@example.com/orchard' to='juliet@example.com' type='unsubscribe'/>`))
	if got := juliet.take(); len(got) != 0 {
		t.Errorf("juliet received %v", got)
	}
	// Unblocking sends her presence again (XEP-0191 §3.4).
	r.Route(ctx, juliet, parse(t, `<iq from='juliet@example.com/balcony' type='set' id='u1'><unblock xmlns='urn:xmpp:blocking'/></iq>`))
	if got := strings.Join(romeo.take(), "\n"); !strings.Contains(got, `<presence from="juliet@example.com/balcony" to="romeo@example.com"/>`) {
		t.Errorf("romeo was not sent juliet's presence again; got:\n%s", got)
	}
	// A presence-in rule does not stop subscription stanzas (XEP-0016 §2.10).
	r.Route(ctx, juliet, parse(t, `<iq from='juliet@example.com/balcony' type='set' id='p1'><query xmlns='jabber:iq:privacy'><list name='quiet'><item type='jid' value='romeo@example.com' action='deny' order='1'><presence-in/></item></list></query></iq>`))
	r.Route(ctx, juliet, parse(t, `<iq from='juliet@example.com/balcony' type='set' id='p2'><query xmlns='jabber:iq:privacy'><active name='quiet'/></query></iq>`))
	juliet.take()
	r.Route(ctx, romeo, parse(t, `<presence from='romeo@example.com/orchard'><show>away</show></presence>`))
	if got := juliet.take(); len(got) != 0 {
		t.Errorf("presence-in rule let %v through", got)
	}
}
