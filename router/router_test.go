package router

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/namespaces/disco"
	"github.com/herald-im/herald/namespaces/ping"
	"github.com/herald-im/herald/namespaces/version"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// fakeSession records what the router queues to it.
type fakeSession struct {
	jid    jid.JID
	mu     sync.Mutex
	got    []*etree.Element
	closed *stream.Error
}

func (f *fakeSession) JID() jid.JID { return f.jid }
func (f *fakeSession) Send(el *etree.Element) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, el)
	return nil
}
func (f *fakeSession) Close(err *stream.Error) { f.closed = err }

func (f *fakeSession) take() []*etree.Element {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.got
	f.got = nil
	return g
}

type testHost struct{}

func (testHost) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (testHost) Software() namespaces.Software {
	return namespaces.Software{Name: "Herald", Version: "test"}
}

// testAccounts are the accounts every test router has.
var testAccounts = []string{"juliet@example.com", "romeo@example.com", "nurse@example.com", "benvolio@example.com"}

// newTestRouter returns a router over a fresh SQLite database holding
// testAccounts.
func newTestRouter(t testing.TB) *Router {
	r, _ := newTestRouterDB(t)
	return r
}

func newTestRouterDB(t testing.TB) (*Router, *sqlite.DB) {
	t.Helper()
	reg := namespaces.NewRegistry(testHost{})
	if err := reg.Register(disco.Module{}, ping.Module{}, version.Module{}); err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	creds, err := storage.NewCredentials("secret", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range testAccounts {
		if err := db.CreateAccount(context.Background(), a, creds); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(Config{
		Domains:  []jid.JID{jid.MustParse("example.com")},
		Registry: reg,
		Accounts: db,
		Rosters:  db,
		Requests: db,
		Offline:  db,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, db
}

// online binds a session and sends initial presence with the priority.
func online(t testing.TB, r *Router, full string, priority string) *fakeSession {
	t.Helper()
	s := &fakeSession{jid: jid.MustParse(full)}
	r.Bind(s)
	p := etree.NewElement("presence")
	p.CreateAttr("from", full)
	if priority != "" {
		p.CreateElement("priority").SetText(priority)
	}
	r.Route(context.Background(), s, p)
	s.take()
	return s
}

func msg(from, to, typ string) *etree.Element {
	m := etree.NewElement("message")
	m.CreateAttr("from", from)
	m.CreateAttr("to", to)
	if typ != "" {
		m.CreateAttr("type", typ)
	}
	m.CreateElement("body").SetText("hi")
	return m
}

func errorCondition(el *etree.Element) string {
	if el.SelectAttrValue("type", "") != "error" {
		return ""
	}
	e := el.SelectElement("error")
	if e == nil || len(e.ChildElements()) == 0 {
		return "?"
	}
	return e.ChildElements()[0].Tag
}

// TestMessageDelivery checks the message rules of RFC 6121 §8.5.2 and
// §8.5.3 for each message type and recipient situation.
func TestMessageDelivery(t *testing.T) {
	tests := []struct {
		name      string
		to        string
		typ       string
		resources map[string]string // resource → priority ("" = connected but not available)
		want      []string          // resources that receive the message
		bounce    string            // error condition the sender gets, if any
		offline   bool              // stored for offline delivery (XEP-0160)
	}{
		{name: "chat to bare, one resource", to: "juliet@example.com", typ: "chat", resources: map[string]string{"balcony": "1"}, want: []string{"balcony"}},
		{name: "chat to bare, highest priority wins", to: "juliet@example.com", typ: "chat", resources: map[string]string{"balcony": "1", "chamber": "5"}, want: []string{"chamber"}},
		{name: "chat to bare, equal priorities get all", to: "juliet@example.com", typ: "chat", resources: map[string]string{"balcony": "3", "chamber": "3"}, want: []string{"balcony", "chamber"}},
		{name: "normal to bare, negative only, stored", to: "juliet@example.com", typ: "", resources: map[string]string{"balcony": "-1"}, offline: true},
		{name: "chat to bare, none online, stored", to: "juliet@example.com", typ: "chat", offline: true},
		{name: "full JID gone, chat with nobody online, stored", to: "juliet@example.com/gone", typ: "chat", offline: true},
		{name: "headline to all non-negative", to: "juliet@example.com", typ: "headline", resources: map[string]string{"a": "1", "b": "5", "c": "-1"}, want: []string{"a", "b"}},
		{name: "headline none online is dropped", to: "juliet@example.com", typ: "headline"},
		{name: "groupchat to bare bounces", to: "juliet@example.com", typ: "groupchat", resources: map[string]string{"balcony": "1"}, bounce: "service-unavailable"},
		{name: "error to bare is dropped", to: "juliet@example.com", typ: "error", resources: map[string]string{"balcony": "1"}},
		{name: "full JID online", to: "juliet@example.com/chamber", typ: "chat", resources: map[string]string{"balcony": "9", "chamber": "-5"}, want: []string{"chamber"}},
		{name: "full JID gone, chat falls back to bare", to: "juliet@example.com/gone", typ: "chat", resources: map[string]string{"balcony": "1"}, want: []string{"balcony"}},
		{name: "full JID gone, normal bounces", to: "juliet@example.com/gone", typ: "normal", resources: map[string]string{"balcony": "1"}, bounce: "service-unavailable"},
		{name: "no such user", to: "nobody@example.com", typ: "chat", bounce: "service-unavailable"},
		{name: "no such user, error dropped", to: "nobody@example.com", typ: "error"},
		{name: "remote domain", to: "someone@elsewhere.example", typ: "chat", bounce: "remote-server-not-found"},
		{name: "bad JID", to: "a@b@c/", typ: "chat", bounce: "jid-malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, db := newTestRouterDB(t)
			sessions := map[string]*fakeSession{}
			for res, prio := range tt.resources {
				sessions[res] = online(t, r, "juliet@example.com/"+res, prio)
			}
			romeo := online(t, r, "romeo@example.com/orchard", "0")
			for _, s := range sessions {
				s.take() // presence the resources exchanged while coming online
			}
			r.Route(context.Background(), romeo, msg("romeo@example.com/orchard", tt.to, tt.typ))
			for res, s := range sessions {
				got := s.take()
				wanted := false
				for _, w := range tt.want {
					wanted = wanted || w == res
				}
				if wanted && len(got) != 1 {
					t.Errorf("%s got %d stanzas, want the message", res, len(got))
				}
				if !wanted && len(got) != 0 {
					t.Errorf("%s got %d stanzas, want none", res, len(got))
				}
				if wanted && len(got) == 1 && got[0].SelectAttrValue("to", "") != tt.to {
					t.Errorf("%s: 'to' rewritten to %q (RFC 6121 §8.5.2.1.1 forbids)", res, got[0].SelectAttrValue("to", ""))
				}
			}
			stored, err := db.CountOffline(context.Background(), "juliet@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if (stored == 1) != tt.offline || stored > 1 {
				t.Errorf("%d messages stored offline, want stored=%v", stored, tt.offline)
			}
			back := romeo.take()
			switch {
			case tt.bounce == "" && len(back) != 0:
				t.Errorf("sender got %d stanzas, want none", len(back))
			case tt.bounce != "" && len(back) != 1:
				t.Fatalf("sender got %d stanzas, want one %s error", len(back), tt.bounce)
			case tt.bounce != "":
				if c := errorCondition(back[0]); c != tt.bounce {
					t.Errorf("sender got condition %q, want %q", c, tt.bounce)
				}
				if back[0].SelectAttrValue("to", "") != "romeo@example.com/orchard" {
					t.Errorf("error addressed to %q", back[0].SelectAttrValue("to", ""))
				}
			}
		})
	}
}

func iq(from, to, typ string, payload *etree.Element) *etree.Element {
	el := etree.NewElement("iq")
	el.CreateAttr("from", from)
	if to != "" {
		el.CreateAttr("to", to)
	}
	el.CreateAttr("type", typ)
	el.CreateAttr("id", "q1")
	if payload != nil {
		el.AddChild(payload)
	}
	return el
}

func payload(tag, ns string) *etree.Element {
	p := etree.NewElement(tag)
	p.CreateAttr("xmlns", ns)
	return p
}

// TestIQ checks IQ dispatch (RFC 6120 §8.2.3, §10.3.3, RFC 6121 §8.5).
func TestIQ(t *testing.T) {
	tests := []struct {
		name    string
		stanza  *etree.Element
		result  bool   // a result comes back
		bounce  string // or this error
		toNurse bool   // delivered to nurse's session instead
	}{
		{name: "ping the server", stanza: iq("romeo@example.com/orchard", "example.com", "get", payload("ping", "urn:xmpp:ping")), result: true},
		{name: "ping with no to", stanza: iq("romeo@example.com/orchard", "", "get", payload("ping", "urn:xmpp:ping")), result: true},
		{name: "unknown namespace", stanza: iq("romeo@example.com/orchard", "example.com", "get", payload("query", "urn:example:unknown")), bounce: "service-unavailable"},
		{name: "two children", stanza: func() *etree.Element {
			el := iq("romeo@example.com/orchard", "example.com", "get", payload("ping", "urn:xmpp:ping"))
			el.AddChild(payload("ping", "urn:xmpp:ping"))
			return el
		}(), bounce: "bad-request"},
		{name: "disco on an account", stanza: iq("romeo@example.com/orchard", "juliet@example.com", "get", payload("query", "http://jabber.org/protocol/disco#info")), result: true},
		{name: "unknown user", stanza: iq("romeo@example.com/orchard", "nobody@example.com", "get", payload("query", "http://jabber.org/protocol/disco#info")), bounce: "service-unavailable"},
		{name: "full JID without shared presence", stanza: iq("romeo@example.com/orchard", "nurse@example.com/station", "get", payload("query", "jabber:iq:version")), bounce: "service-unavailable"},
		{name: "full JID offline", stanza: iq("romeo@example.com/orchard", "nurse@example.com/gone", "get", payload("query", "jabber:iq:version")), bounce: "service-unavailable"},
		{name: "result to a full JID is delivered", stanza: iq("romeo@example.com/orchard", "nurse@example.com/station", "result", nil), toNurse: true},
		{name: "error iq never answered", stanza: iq("romeo@example.com/orchard", "nobody@example.com", "error", nil)},
		{name: "bad type", stanza: iq("romeo@example.com/orchard", "example.com", "query", payload("ping", "urn:xmpp:ping")), bounce: "bad-request"},
		{name: "remote", stanza: iq("romeo@example.com/orchard", "elsewhere.example", "get", payload("ping", "urn:xmpp:ping")), bounce: "remote-server-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRouter(t)
			romeo := online(t, r, "romeo@example.com/orchard", "0")
			nurse := online(t, r, "nurse@example.com/station", "0")
			r.Route(context.Background(), romeo, tt.stanza)
			back := romeo.take()
			toNurse := nurse.take()
			if tt.toNurse != (len(toNurse) == 1) {
				t.Errorf("nurse got %d stanzas", len(toNurse))
			}
			switch {
			case tt.result:
				if len(back) != 1 || back[0].SelectAttrValue("type", "") != "result" || back[0].SelectAttrValue("id", "") != "q1" {
					t.Fatalf("want a result with id q1, got %d stanzas", len(back))
				}
			case tt.bounce != "":
				if len(back) != 1 {
					t.Fatalf("want a %s error, got %d stanzas", tt.bounce, len(back))
				}
				if c := errorCondition(back[0]); c != tt.bounce {
					t.Errorf("condition %q, want %q", c, tt.bounce)
				}
			default:
				if len(back) != 0 {
					t.Errorf("want no answer, got %d stanzas", len(back))
				}
			}
		})
	}
}

// TestPresenceBroadcastOwnResources: RFC 6121 §4.2.2 — initial presence
// goes to all the account's available resources including the sender, and
// the new resource learns the others' presence; unavailable on unbind.
func TestPresenceBroadcastOwnResources(t *testing.T) {
	r := newTestRouter(t)
	balcony := online(t, r, "juliet@example.com/balcony", "1")
	chamber := &fakeSession{jid: jid.MustParse("juliet@example.com/chamber")}
	r.Bind(chamber)
	p := etree.NewElement("presence")
	p.CreateAttr("from", "juliet@example.com/chamber")
	r.Route(context.Background(), chamber, p)

	got := balcony.take()
	if len(got) != 1 || got[0].SelectAttrValue("from", "") != "juliet@example.com/chamber" || got[0].SelectAttrValue("to", "") != "juliet@example.com" {
		t.Fatalf("balcony did not get chamber's presence: %d stanzas", len(got))
	}
	got = chamber.take()
	froms := map[string]bool{}
	for _, g := range got {
		froms[g.SelectAttrValue("from", "")] = true
	}
	if !froms["juliet@example.com/chamber"] || !froms["juliet@example.com/balcony"] {
		t.Fatalf("chamber should see its own presence and balcony's, got %v", froms)
	}
	r.Unbind(context.Background(), chamber)
	got = balcony.take()
	if len(got) != 1 || got[0].SelectAttrValue("type", "") != "unavailable" {
		t.Fatalf("balcony should get unavailable presence on unbind, got %d", len(got))
	}
}

// TestDirectedPresence: RFC 6121 §4.6 — the recipient of directed presence
// gets unavailable when the sender goes offline, and may then reach the
// sender's full JID with an iq (§8.5.3.1).
func TestDirectedPresence(t *testing.T) {
	r := newTestRouter(t)
	romeo := online(t, r, "romeo@example.com/orchard", "0")
	nurse := online(t, r, "nurse@example.com/station", "0")
	p := etree.NewElement("presence")
	p.CreateAttr("from", "romeo@example.com/orchard")
	p.CreateAttr("to", "nurse@example.com")
	r.Route(context.Background(), romeo, p)
	if got := nurse.take(); len(got) != 1 {
		t.Fatalf("nurse got %d stanzas, want the directed presence", len(got))
	}
	r.Route(context.Background(), nurse, iq("nurse@example.com/station", "romeo@example.com/orchard", "get", payload("query", "jabber:iq:version")))
	if got := romeo.take(); len(got) != 1 || got[0].Tag != "iq" {
		t.Fatalf("romeo should receive nurse's iq after sharing presence, got %d", len(got))
	}
	r.Unbind(context.Background(), romeo)
	got := nurse.take()
	if len(got) != 1 || got[0].SelectAttrValue("type", "") != "unavailable" || got[0].SelectAttrValue("to", "") != "nurse@example.com" {
		t.Fatalf("nurse should get unavailable after romeo leaves, got %d", len(got))
	}
}

// TestConflictReplacesOldSession checks the documented conflict policy.
func TestConflictReplacesOldSession(t *testing.T) {
	r := newTestRouter(t)
	old := online(t, r, "juliet@example.com/balcony", "1")
	fresh := &fakeSession{jid: jid.MustParse("juliet@example.com/balcony")}
	r.Bind(fresh)
	if old.closed == nil || old.closed.Condition != stream.Conflict {
		t.Fatalf("old session closed with %v, want conflict", old.closed)
	}
	// The old session's departure must not unbind the new one.
	r.Unbind(context.Background(), old)
	romeo := online(t, r, "romeo@example.com/orchard", "0")
	r.Route(context.Background(), romeo, msg("romeo@example.com/orchard", "juliet@example.com/balcony", "chat"))
	if got := fresh.take(); len(got) != 1 {
		t.Fatalf("new session got %d stanzas, want the message", len(got))
	}
}

// closingSession is a session whose stream is closing: it refuses output.
type closingSession struct{ fakeSession }

func (c *closingSession) Send(*etree.Element) error { return errors.New("closing") }

// barePolicy admits everything to sessions and refuses messages from
// refused to the bare JID, as a default privacy list with an active list
// "allow all" on the session would.
type barePolicy struct{ refused jid.JID }

func (barePolicy) Outbound(context.Context, jid.JID, jid.JID, StanzaKind) *stream.StanzaError {
	return nil
}
func (p barePolicy) Inbound(_ context.Context, rcpt, from jid.JID, k StanzaKind) bool {
	return !(rcpt.IsBare() && from.Bare() == p.refused && k == KindMessage)
}
func (barePolicy) SessionEnded(jid.JID) {}

// TestMessageToClosingSessions_AccountRulesDecideStorage_RFC6121_8_5_2: a
// message to the bare JID whose only chosen session is closing is kept
// offline, unless the account's own rules (its default list) refuse the
// sender: then the sender gets service-unavailable and nothing is stored.
func TestMessageToClosingSessions_AccountRulesDecideStorage_RFC6121_8_5_2(t *testing.T) {
	r, db := newTestRouterDB(t)
	r.policy = barePolicy{refused: jid.MustParse("nurse@example.com")}
	ctx := t.Context()
	juliet := &closingSession{fakeSession{jid: jid.MustParse("juliet@example.com/balcony")}}
	r.Bind(juliet)
	p := etree.NewElement("presence")
	p.CreateAttr("from", juliet.jid.String())
	r.Route(ctx, juliet, p)

	for _, tc := range []struct {
		from      string
		wantError bool
	}{
		{"romeo@example.com/orchard", false},
		{"nurse@example.com/kitchen", true},
	} {
		sender := online(t, r, tc.from, "")
		msg := etree.NewElement("message")
		msg.CreateAttr("from", tc.from)
		msg.CreateAttr("to", "juliet@example.com")
		msg.CreateAttr("type", "chat")
		msg.CreateElement("body").SetText("from " + tc.from)
		r.Route(ctx, sender, msg)
		got := sender.take()
		if tc.wantError {
			if len(got) != 1 || got[0].SelectAttrValue("type", "") != "error" || got[0].FindElement("error/service-unavailable") == nil {
				t.Errorf("%s, refused by the account's rules: got %v, want one service-unavailable error", tc.from, got)
			}
		} else if len(got) != 0 {
			t.Errorf("%s: got %v, want nothing back (the message is stored)", tc.from, got)
		}
	}
	stored, err := db.OfflineMessages(ctx, "juliet@example.com", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || !strings.Contains(string(stored[0].Stanza), "from romeo@example.com") {
		t.Errorf("stored %d messages, want only romeo's", len(stored))
	}
}
