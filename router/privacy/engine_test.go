package privacy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/storage/sqlite"
	"github.com/herald-im/herald/stream"
)

// fakeSessions records what the engine asks of the router.
type fakeSessions struct {
	mu        sync.Mutex
	resources map[jid.JID][]jid.JID
	// entitled are the contacts that receive each owner's presence.
	entitled map[jid.JID][]jid.JID
	// publishers are the contacts' resources whose presence each owner
	// receives.
	publishers map[jid.JID][]jid.JID
	pushes     []push
	hidden     []string
	shown      []string
	// hiddenIn and shownIn record inbound corrections as
	// "contact>session".
	hiddenIn []string
	shownIn  []string
}

type push struct {
	owner   jid.JID
	payload string
	to      []jid.JID
}

func newFakeSessions() *fakeSessions {
	return &fakeSessions{resources: map[jid.JID][]jid.JID{}, entitled: map[jid.JID][]jid.JID{}, publishers: map[jid.JID][]jid.JID{}}
}

func (f *fakeSessions) Resources(owner jid.JID) []jid.JID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resources[owner])
}

func (f *fakeSessions) PushIQ(owner jid.JID, payload *etree.Element, only func(jid.JID) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := push{owner: owner, payload: render(payload)}
	for _, r := range f.resources[owner] {
		if only == nil || only(r) {
			p.to = append(p.to, r)
		}
	}
	f.pushes = append(f.pushes, p)
}

func (f *fakeSessions) ReconcilePresence(_ context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool) {
	f.mu.Lock()
	res, ent := slices.Clone(f.resources[owner]), slices.Clone(f.entitled[owner])
	f.mu.Unlock()
	f.reconcile(res, ent, hide, show, &f.hidden, &f.shown)
}

func (f *fakeSessions) ReconcileInboundPresence(_ context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool) {
	f.mu.Lock()
	res, pub := slices.Clone(f.resources[owner]), slices.Clone(f.publishers[owner])
	f.mu.Unlock()
	f.reconcile(pub, res, hide, show, &f.hiddenIn, &f.shownIn)
}

// reconcile records, as "from>to", each pair that hide or show selects.
func (f *fakeSessions) reconcile(froms, tos []jid.JID, hide, show func(from, to jid.JID) bool, hidden, shown *[]string) {
	for _, from := range froms {
		for _, to := range tos {
			switch {
			case hide(from, to):
				*hidden = append(*hidden, from.String()+">"+to.String())
			case show(from, to):
				*shown = append(*shown, from.String()+">"+to.String())
			}
		}
	}
}

func (f *fakeSessions) takePushes() []push {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pushes
	f.pushes = nil
	return p
}

func render(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

// env is an engine over a fresh SQLite database with accounts created.
type env struct {
	db       *sqlite.DB
	e        *Engine
	sessions *fakeSessions
}

func newEnv(t testing.TB, accounts ...string) *env {
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
	lookup := func(ctx context.Context, owner, contact jid.JID) (storage.RosterItem, bool, error) {
		it, err := db.RosterItem(ctx, owner.String(), contact.String())
		if errors.Is(err, storage.ErrNotFound) {
			return it, false, nil
		}
		return it, err == nil, err
	}
	groups := func(ctx context.Context, owner jid.JID) ([]string, error) {
		items, _, err := db.Roster(ctx, owner.String())
		var out []string
		for _, it := range items {
			out = append(out, it.Groups...)
		}
		return out, err
	}
	en := &env{db: db, e: New(db, lookup, nil, WithRosterGroups(groups)), sessions: newFakeSessions()}
	en.e.Attach(en.sessions)
	return en
}

func (en *env) put(t testing.TB, session string, name string, rules ...storage.PrivacyRule) {
	t.Helper()
	if err := en.e.PutList(t.Context(), jid.MustParse(session), storage.PrivacyList{Name: name, Rules: rules}); err != nil {
		t.Fatalf("PutList(%s): %v", name, err)
	}
}

func (en *env) bind(full ...string) {
	en.sessions.mu.Lock()
	defer en.sessions.mu.Unlock()
	for _, f := range full {
		j := jid.MustParse(f)
		en.sessions.resources[j.Bare()] = append(en.sessions.resources[j.Bare()], j)
	}
}

const (
	romeo    = "romeo@example.net"
	orchard  = "romeo@example.net/orchard"
	home     = "romeo@example.net/home"
	tybalt   = "tybalt@example.com/pda"
	juliet   = "juliet@example.com/balcony"
	mercutio = "mercutio@example.org"
)

func in(t testing.TB, e *Engine, recipient, from string, k router.StanzaKind) bool {
	t.Helper()
	return e.Inbound(t.Context(), jid.MustParse(recipient), jid.MustParse(from), k)
}

func out(t testing.TB, e *Engine, sender, to string, k router.StanzaKind) *stream.StanzaError {
	t.Helper()
	return e.Outbound(t.Context(), jid.MustParse(sender), jid.MustParse(to), k)
}

// TestNoListsAllowEverything: XEP-0016 §2.2 rule 3.
func TestNoListsAllowEverything(t *testing.T) {
	en := newEnv(t, romeo)
	for _, k := range []router.StanzaKind{router.KindMessage, router.KindIQ, router.KindPresence, kindOther} {
		if !in(t, en.e, orchard, tybalt, k) || !in(t, en.e, romeo, tybalt, k) {
			t.Errorf("kind %d refused inbound without any list", k)
		}
		if err := out(t, en.e, orchard, tybalt, k); err != nil {
			t.Errorf("kind %d refused outbound without any list: %v", k, err)
		}
	}
}

// TestActiveVersusDefault: the active list replaces the default for its
// session only, without layering; bare JIDs use the default list; the
// active list is forgotten with the session (XEP-0016 §2.2 rules 1–2).
func TestActiveVersusDefault(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	en.put(t, orchard, "public", jidRule(1, "tybalt@example.com", false))
	en.put(t, orchard, "private", storage.PrivacyRule{Type: storage.PrivacySubscription, Value: "both", Allow: true, Order: 10}, storage.PrivacyRule{Order: 15})
	if err := en.e.SetDefault(ctx, jid.MustParse(orchard), "public"); err != nil {
		t.Fatal(err)
	}
	if err := en.e.SetActive(ctx, jid.MustParse(orchard), "private"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		recipient, from string
		want            bool
	}{
		{orchard, tybalt, false},             // active list: not subscribed
		{orchard, juliet, false},             // active list only: no layering with public
		{home, tybalt, false},                // default list
		{home, juliet, true},                 // default list allows her
		{romeo, tybalt, false},               // bare JID: default list
		{romeo, juliet, true},                // bare JID ignores orchard's active list
		{orchard, "romeo@example.net", true}, // own account is never filtered
	}
	for _, tt := range tests {
		if got := in(t, en.e, tt.recipient, tt.from, router.KindMessage); got != tt.want {
			t.Errorf("Inbound(%s <- %s) = %v, want %v", tt.recipient, tt.from, got, tt.want)
		}
	}
	if got := en.e.Active(jid.MustParse(orchard)); got != "private" {
		t.Errorf("Active = %q, want private", got)
	}
	// Declining the active list brings the default back (§2.4).
	if err := en.e.SetActive(ctx, jid.MustParse(orchard), ""); err != nil {
		t.Fatal(err)
	}
	if !in(t, en.e, orchard, juliet, router.KindMessage) {
		t.Error("after declining the active list, the default list should apply")
	}
	if err := en.e.SetActive(ctx, jid.MustParse(orchard), "private"); err != nil {
		t.Fatal(err)
	}
	en.e.SessionEnded(jid.MustParse(orchard))
	if en.e.Active(jid.MustParse(orchard)) != "" || !in(t, en.e, orchard, juliet, router.KindMessage) {
		t.Error("a new session at the same full JID must not inherit the ended session's active list")
	}
	if err := en.e.SetActive(ctx, jid.MustParse(orchard), "nonexistent"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetActive(nonexistent) = %v, want ErrNotFound", err)
	}
}

// TestEditTakesEffect: the cache is dropped on every change, so the next
// stanza sees the new rules, for the default list and for an active list
// alike (XEP-0016 §2.2 rule 8).
func TestEditTakesEffect(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	en.put(t, orchard, "public", jidRule(1, "tybalt@example.com", false))
	if err := en.e.SetDefault(ctx, jid.MustParse(orchard), "public"); err != nil {
		t.Fatal(err)
	}
	en.put(t, orchard, "mine", jidRule(1, "juliet@example.com", false))
	if err := en.e.SetActive(ctx, jid.MustParse(home), "mine"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		list, value string
		// wanted verdicts for tybalt and juliet at orchard (default) and
		// home (active "mine").
		orchardTybalt, orchardJuliet, homeTybalt, homeJuliet bool
	}{
		{"", "", false, true, true, false},
		{"public", "juliet@example.com", true, false, true, false},
		{"mine", "tybalt@example.com", true, false, false, true},
		{"public", "example.com", false, false, false, true},
	}
	for i, s := range steps {
		if s.list != "" {
			en.put(t, orchard, s.list, jidRule(1, s.value, false))
		}
		got := []bool{
			in(t, en.e, orchard, tybalt, router.KindMessage), in(t, en.e, orchard, juliet, router.KindMessage),
			in(t, en.e, home, tybalt, router.KindMessage), in(t, en.e, home, juliet, router.KindMessage),
		}
		want := []bool{s.orchardTybalt, s.orchardJuliet, s.homeTybalt, s.homeJuliet}
		if !slices.Equal(got, want) {
			t.Errorf("step %d (%s denies %s): got %v, want %v", i, s.list, s.value, got, want)
		}
	}
}

// TestGroupRules: group values must name a roster group (XEP-0016 §2.1), and
// roster changes apply to the next stanza (§2.2 rule 9).
func TestGroupRules(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	err := en.e.PutList(ctx, jid.MustParse(orchard), storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{{Type: storage.PrivacyGroup, Value: "Enemies", Order: 1}}})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("group not in the roster: %v, want ErrNotFound", err)
	}
	if _, err := en.db.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: "mercutio@example.org", Groups: []string{"Enemies"}}); err != nil {
		t.Fatal(err)
	}
	en.put(t, orchard, "l", storage.PrivacyRule{Type: storage.PrivacyGroup, Value: "Enemies", Order: 1})
	if err := en.e.SetDefault(ctx, jid.MustParse(orchard), "l"); err != nil {
		t.Fatal(err)
	}
	if in(t, en.e, orchard, mercutio, router.KindMessage) {
		t.Error("a member of Enemies got through")
	}
	if _, err := en.db.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: "mercutio@example.org", Groups: []string{"Friends"}}); err != nil {
		t.Fatal(err)
	}
	if !in(t, en.e, orchard, mercutio, router.KindMessage) {
		t.Error("after leaving the group he is still refused (§2.2 rule 9)")
	}
	// Tybalt joins Enemies: the cached list is evaluated against the new roster.
	if _, err := en.db.PutRosterItem(ctx, romeo, storage.RosterItem{Contact: "tybalt@example.com", Groups: []string{"Enemies"}}); err != nil {
		t.Fatal(err)
	}
	if in(t, en.e, orchard, tybalt, router.KindMessage) {
		t.Error("a new member of Enemies got through")
	}
}

// TestOutboundErrors: not-acceptable, with <blocked/> only for a blocking
// rule (XEP-0016 §2.14, XEP-0191 §3.3).
func TestOutboundErrors(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	en.put(t, orchard, "l",
		jidRule(1, "tybalt@example.com", false),
		storage.PrivacyRule{Type: storage.PrivacyJID, Value: "juliet@example.com", Order: 2, PresenceOut: true},
		storage.PrivacyRule{Type: storage.PrivacySubscription, Value: "none", Order: 3},
		jidRule(4, "example.com", true))
	if err := en.e.SetDefault(ctx, jid.MustParse(orchard), "l"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		to      string
		kind    router.StanzaKind
		wantErr bool
		blocked bool
	}{
		{tybalt, router.KindMessage, true, true},
		{"tybalt@example.com", router.KindPresence, true, true},
		{juliet, router.KindPresence, true, false},
		{juliet, router.KindMessage, true, false}, // falls to "subscription none", which is no blocking rule
		{mercutio, router.KindIQ, true, false},
		{"romeo@example.net/home", router.KindMessage, false, false}, // own resource
		{"example.net", router.KindIQ, false, false},                 // own server
		{"example.net/admin", router.KindMessage, false, false},      // own server's resource
		{"upload.example.net", router.KindIQ, true, false},           // another domain
	}
	for _, tt := range tests {
		serr := out(t, en.e, orchard, tt.to, tt.kind)
		if (serr != nil) != tt.wantErr {
			t.Errorf("Outbound(%s, %d) = %v, want error %v", tt.to, tt.kind, serr, tt.wantErr)
			continue
		}
		if serr == nil {
			continue
		}
		if serr.Condition != stream.NotAcceptable || serr.Type != stream.Cancel {
			t.Errorf("Outbound(%s) = %s/%s, want cancel/not-acceptable", tt.to, serr.Type, serr.Condition)
		}
		gotBlocked := serr.App != nil && serr.App.Tag == "blocked" && serr.App.SelectAttrValue("xmlns", "") == NSBlockingErrors
		if gotBlocked != tt.blocked {
			t.Errorf("Outbound(%s): <blocked/> present=%v, want %v", tt.to, gotBlocked, tt.blocked)
		}
	}
}

// TestPositiveLists covers the RFC 2779 requirements with plain XEP-0016
// rules: only chosen people may message the user (§5.4.10), see the user's
// presence (§5.2.3) or subscribe (§5.1.13, §5.1.14), each separately.
func TestPositiveLists(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	friend := "juliet@example.com"
	en.put(t, orchard, "messages",
		storage.PrivacyRule{Type: storage.PrivacyJID, Value: friend, Allow: true, Order: 1, Message: true},
		storage.PrivacyRule{Order: 2, Message: true})
	en.put(t, orchard, "presence",
		storage.PrivacyRule{Type: storage.PrivacyJID, Value: friend, Allow: true, Order: 1, PresenceOut: true},
		storage.PrivacyRule{Order: 2, PresenceOut: true})
	// Subscription requests only meet rules for every kind: allow every
	// other kind first, then the positive list.
	en.put(t, orchard, "subscriptions",
		storage.PrivacyRule{Allow: true, Order: 1, Message: true, IQ: true, PresenceIn: true, PresenceOut: true},
		storage.PrivacyRule{Type: storage.PrivacyJID, Value: friend, Allow: true, Order: 2},
		storage.PrivacyRule{Order: 3})
	type check struct {
		dir  direction
		kind router.StanzaKind
		from string
		want bool
	}
	tests := []struct {
		list   string
		checks []check
	}{
		{"messages", []check{
			{inbound, router.KindMessage, juliet, true},
			{inbound, router.KindMessage, tybalt, false},
			{inbound, router.KindPresence, tybalt, true},
			{inbound, kindOther, tybalt, true},
			{outbound, router.KindPresence, tybalt, true},
		}},
		{"presence", []check{
			{outbound, router.KindPresence, juliet, true},
			{outbound, router.KindPresence, tybalt, false},
			{inbound, router.KindMessage, tybalt, true},
			{inbound, kindOther, tybalt, true},
		}},
		{"subscriptions", []check{
			{inbound, kindOther, juliet, true},
			{inbound, kindOther, tybalt, false},
			{inbound, router.KindMessage, tybalt, true},
			{inbound, router.KindPresence, tybalt, true},
			{inbound, router.KindIQ, tybalt, true},
			{outbound, router.KindPresence, tybalt, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			if err := en.e.SetActive(ctx, jid.MustParse(orchard), tt.list); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.checks {
				var got bool
				if c.dir == inbound {
					got = in(t, en.e, orchard, c.from, c.kind)
				} else {
					got = out(t, en.e, orchard, c.from, c.kind) == nil
				}
				if got != c.want {
					t.Errorf("dir=%d kind=%d party=%s: allowed=%v, want %v", c.dir, c.kind, c.from, got, c.want)
				}
			}
		})
	}
}

// TestConflicts covers XEP-0016 §2.2 rule 11, §2.5 and §2.8.
func TestConflicts(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o, h := jid.MustParse(orchard), jid.MustParse(home)
	en.bind(orchard, home)
	en.put(t, orchard, "a", storage.PrivacyRule{Order: 1, Message: true})
	en.put(t, orchard, "b", storage.PrivacyRule{Order: 1, IQ: true})
	en.put(t, orchard, "c", storage.PrivacyRule{Order: 1, IQ: true})

	// No default yet: setting one conflicts with nobody.
	if err := en.e.SetDefault(ctx, o, "a"); err != nil {
		t.Fatalf("first default: %v", err)
	}
	// home has no active list, so "a" applies to it: changing or declining
	// the default is refused.
	if err := en.e.SetDefault(ctx, o, "b"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("change default in use by home = %v, want ErrConflict", err)
	}
	if err := en.e.SetDefault(ctx, o, ""); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("decline default in use by home = %v, want ErrConflict", err)
	}
	if err := en.e.SetDefault(ctx, o, "a"); err != nil {
		t.Errorf("re-setting the same default = %v, want success", err)
	}
	if err := en.e.SetDefault(ctx, o, "zzz"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("default to a missing list = %v, want ErrNotFound", err)
	}
	// Once home uses an active list, the default applies to nobody else.
	if err := en.e.SetActive(ctx, h, "b"); err != nil {
		t.Fatal(err)
	}
	if err := en.e.SetDefault(ctx, o, "c"); err != nil {
		t.Errorf("change default while home uses an active list = %v", err)
	}
	// "b" is active for home: orchard may not remove it; home may.
	if err := en.e.DeleteList(ctx, o, "b"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("remove a list active elsewhere = %v, want ErrConflict", err)
	}
	if err := en.e.DeleteList(ctx, h, "b"); err != nil {
		t.Errorf("remove one's own active list = %v", err)
	}
	if en.e.Active(h) != "" {
		t.Error("the removed list is still home's active list")
	}
	if err := en.e.DeleteList(ctx, o, "c"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("remove the default list = %v, want ErrConflict", err)
	}
	if err := en.e.DeleteList(ctx, o, "b"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("remove a missing list = %v, want ErrNotFound", err)
	}
	if err := en.e.DeleteList(ctx, o, "a"); err != nil {
		t.Errorf("remove an unused list = %v", err)
	}
}

// TestPrivacyListPushes: every edit and removal is pushed, by name only, to
// all resources (XEP-0016 §2.6–§2.8).
func TestPrivacyListPushes(t *testing.T) {
	en := newEnv(t, romeo)
	en.bind(orchard, home)
	en.put(t, orchard, "public", jidRule(1, "tybalt@example.com", false))
	if err := en.e.DeleteList(t.Context(), jid.MustParse(home), "public"); err != nil {
		t.Fatal(err)
	}
	want := `<query xmlns="jabber:iq:privacy"><list name="public"/></query>`
	pushes := en.sessions.takePushes()
	if len(pushes) != 2 {
		t.Fatalf("got %d pushes, want 2: %+v", len(pushes), pushes)
	}
	for _, p := range pushes {
		if p.payload != want || len(p.to) != 2 || p.owner.String() != romeo {
			t.Errorf("push %+v, want %s to both resources", p, want)
		}
	}
}

func blocklistOf(t testing.TB, e *Engine, session string) []string {
	t.Helper()
	jids, err := e.Blocklist(t.Context(), jid.MustParse(session))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range jids {
		out = append(out, j.String())
	}
	return out
}

func jids(s ...string) []jid.JID {
	var out []jid.JID
	for _, x := range s {
		out = append(out, jid.MustParse(x))
	}
	return out
}

// TestBlockingIsPrivacyLists: the blocklist and the default privacy list are
// one store (XEP-0191 §5).
func TestBlockingIsPrivacyLists(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o := jid.MustParse(orchard)
	en.bind(orchard, home)
	if got := blocklistOf(t, en.e, orchard); len(got) != 0 {
		t.Fatalf("fresh blocklist = %v", got)
	}
	// A list named like the one blocking creates exists already.
	en.put(t, home, BlocklistName, storage.PrivacyRule{Order: 1, IQ: true})
	en.sessions.takePushes()

	// Blocking with no default list creates one, and makes it the default.
	if err := en.e.Block(ctx, o, jids("tybalt@example.com", "iago@shakespeare.lit", "tybalt@example.com")); err != nil {
		t.Fatal(err)
	}
	names, _, def, err := en.e.ListNames(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if def != BlocklistName+"-2" || !slices.Contains(names, def) {
		t.Fatalf("default list = %q among %v, want %s-2", def, names, BlocklistName)
	}
	l, err := en.e.List(ctx, o, def)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rules) != 2 || l.Rules[0].Value != "tybalt@example.com" || l.Rules[0].Allow || l.Rules[0].Type != storage.PrivacyJID {
		t.Errorf("default list after block = %+v, want two jid deny rules", l.Rules)
	}
	// The block is enforced both ways.
	if in(t, en.e, orchard, tybalt, router.KindMessage) || in(t, en.e, romeo, "iago@shakespeare.lit", kindOther) {
		t.Error("a blocked JID got through")
	}
	if serr := out(t, en.e, orchard, tybalt, router.KindMessage); serr == nil || serr.App == nil {
		t.Errorf("message to a blocked JID = %v, want not-acceptable with <blocked/>", serr)
	}

	// A privacy list client adds a jid deny rule to the default list, and
	// removes Iago: the blocklist follows (§5 item 2).
	en.put(t, home, def,
		jidRule(1, "tybalt@example.com", false),
		storage.PrivacyRule{Type: storage.PrivacyJID, Value: "paris@example.org", Order: 2, Message: true}, // not a block: one kind
		jidRule(3, "Mercutio@Example.org", false),
		storage.PrivacyRule{Allow: true, Order: 4})
	if got, want := blocklistOf(t, en.e, orchard), []string{"tybalt@example.com", "mercutio@example.org"}; !slices.Equal(got, want) {
		t.Errorf("blocklist after privacy list edit = %v, want %v", got, want)
	}

	// Blocking again puts the new rule first, keeping the others.
	if err := en.e.Block(ctx, o, jids("juliet@example.com/balcony")); err != nil {
		t.Fatal(err)
	}
	l, _ = en.e.List(ctx, o, def)
	if len(l.Rules) != 5 || l.Rules[0].Value != "juliet@example.com/balcony" || l.Rules[0].Order != 0 {
		t.Errorf("after block the list is %+v, want juliet first at order 0", l.Rules)
	}
	if !in(t, en.e, orchard, "juliet@example.com/chamber", router.KindMessage) || in(t, en.e, orchard, juliet, router.KindMessage) {
		t.Error("a full-JID block must block only that resource")
	}

	// Unblocking removes only the blocking rules named.
	if err := en.e.Unblock(ctx, o, jids("tybalt@example.com", "nobody@example.com")); err != nil {
		t.Fatal(err)
	}
	if got, want := blocklistOf(t, en.e, orchard), []string{"juliet@example.com/balcony", "mercutio@example.org"}; !slices.Equal(got, want) {
		t.Errorf("blocklist after unblock = %v, want %v", got, want)
	}
	if !in(t, en.e, orchard, tybalt, router.KindMessage) {
		t.Error("an unblocked JID is still refused")
	}
	// Unblock all leaves the other rules.
	if err := en.e.UnblockAll(ctx, o); err != nil {
		t.Fatal(err)
	}
	l, _ = en.e.List(ctx, o, def)
	if len(l.Rules) != 2 || l.Rules[0].Value != "paris@example.org" || l.Rules[1].Type != storage.PrivacyFallThrough {
		t.Errorf("after unblock all the list is %+v, want the paris and fall-through rules", l.Rules)
	}
	if got := blocklistOf(t, en.e, orchard); len(got) != 0 {
		t.Errorf("blocklist after unblock all = %v", got)
	}

	// Changing the default list changes the blocklist (§5 item 4).
	en.put(t, home, "other", jidRule(7, "benvolio@example.org", false))
	if err := en.e.SetActive(ctx, jid.MustParse(home), "other"); err != nil {
		t.Fatal(err)
	}
	if err := en.e.SetDefault(ctx, o, "other"); err != nil {
		t.Fatal(err)
	}
	if got := blocklistOf(t, en.e, orchard); !slices.Equal(got, []string{"benvolio@example.org"}) {
		t.Errorf("blocklist after switching the default = %v", got)
	}
	// Blocking with nothing to block is refused.
	if err := en.e.Block(ctx, o, nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Block(nothing) = %v, want ErrInvalid", err)
	}
}

// TestBlockPushes: block and unblock pushes go to the resources that
// requested the blocklist (XEP-0191 §3.3–§3.5), privacy list pushes to all;
// privacy list edits of the default list are pushed as blocks and unblocks.
func TestBlockPushes(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o := jid.MustParse(orchard)
	en.bind(orchard, home)
	blocklistOf(t, en.e, orchard) // orchard is interested, home is not

	type want struct {
		payload string
		to      []string
	}
	tests := []struct {
		name string
		do   func() error
		want []want
	}{
		{"block", func() error { return en.e.Block(ctx, o, jids("tybalt@example.com", "iago@shakespeare.lit")) }, []want{
			{`<query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`, []string{orchard, home}},
			{`<block xmlns="urn:xmpp:blocking"><item jid="tybalt@example.com"/><item jid="iago@shakespeare.lit"/></block>`, []string{orchard}},
		}},
		{"block again still confirms", func() error { return en.e.Block(ctx, o, jids("tybalt@example.com")) }, []want{
			{`<block xmlns="urn:xmpp:blocking"><item jid="tybalt@example.com"/></block>`, []string{orchard}},
		}},
		{"unblock", func() error { return en.e.Unblock(ctx, o, jids("iago@shakespeare.lit")) }, []want{
			{`<query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`, []string{orchard, home}},
			{`<unblock xmlns="urn:xmpp:blocking"><item jid="iago@shakespeare.lit"/></unblock>`, []string{orchard}},
		}},
		{"privacy edit of the default list", func() error {
			return en.e.PutList(ctx, jid.MustParse(home), storage.PrivacyList{Name: "blocklist", Rules: []storage.PrivacyRule{jidRule(1, "paris@example.org", false)}})
		}, []want{
			{`<query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`, []string{orchard, home}},
			{`<block xmlns="urn:xmpp:blocking"><item jid="paris@example.org"/></block>`, []string{orchard}},
			{`<unblock xmlns="urn:xmpp:blocking"><item jid="tybalt@example.com"/></unblock>`, []string{orchard}},
		}},
		{"unblock all", func() error { return en.e.UnblockAll(ctx, o) }, []want{
			{`<query xmlns="jabber:iq:privacy"><list name="blocklist"/></query>`, []string{orchard, home}},
			{`<unblock xmlns="urn:xmpp:blocking"/>`, []string{orchard}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			got := en.sessions.takePushes()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d pushes %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				var to []string
				for _, j := range got[i].to {
					to = append(to, j.String())
				}
				if got[i].payload != w.payload || !slices.Equal(to, w.to) {
					t.Errorf("push %d = %s to %v, want %s to %v", i, got[i].payload, to, w.payload, w.to)
				}
			}
		})
	}
	// A session that ended no longer counts as interested.
	en.e.SessionEnded(o)
	if err := en.e.Block(ctx, jid.MustParse(home), jids("iago@shakespeare.lit")); err != nil {
		t.Fatal(err)
	}
	for _, p := range en.sessions.takePushes() {
		if p.payload[:6] == "<block" {
			t.Errorf("block pushed after the interested session ended: %+v", p)
		}
	}
}

// TestPresenceOnBlock: blocking sends unavailable presence to the blocked
// contact, unblocking the current presence again (XEP-0191 §3.3, §3.4), and
// a presence-out rule does the same (XEP-0016 §2.11).
func TestPresenceOnBlock(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o := jid.MustParse(orchard)
	en.bind(orchard)
	en.sessions.entitled[jid.MustParse(romeo)] = jids("juliet@example.com", "tybalt@example.com")

	if err := en.e.Block(ctx, o, jids("tybalt@example.com")); err != nil {
		t.Fatal(err)
	}
	if want := []string{orchard + ">tybalt@example.com"}; !slices.Equal(en.sessions.hidden, want) || len(en.sessions.shown) != 0 {
		t.Errorf("after block: hidden %v shown %v, want hidden %v", en.sessions.hidden, en.sessions.shown, want)
	}
	en.sessions.hidden = nil
	if err := en.e.UnblockAll(ctx, o); err != nil {
		t.Fatal(err)
	}
	if want := []string{orchard + ">tybalt@example.com"}; !slices.Equal(en.sessions.shown, want) || len(en.sessions.hidden) != 0 {
		t.Errorf("after unblock: hidden %v shown %v, want shown %v", en.sessions.hidden, en.sessions.shown, want)
	}
	en.sessions.shown = nil
	en.put(t, orchard, "invisible", storage.PrivacyRule{Order: 1, PresenceOut: true})
	if err := en.e.SetActive(ctx, o, "invisible"); err != nil {
		t.Fatal(err)
	}
	if want := []string{orchard + ">juliet@example.com", orchard + ">tybalt@example.com"}; !slices.Equal(en.sessions.hidden, want) {
		t.Errorf("after activating an invisible list: hidden %v, want %v", en.sessions.hidden, want)
	}
}

// TestInboundPresenceOnDeny_XEP0016_2_10: when a list starts refusing a
// contact's presence notifications, the session is sent unavailable on the
// contact's behalf; when it allows them again, their current presence.
// A block (a deny-all rule) sends nothing from the blocked contact, and
// its end sends the current presence. Other contacts and presence-out
// rules leave inbound presence alone.
func TestInboundPresenceOnDeny_XEP0016_2_10(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o := jid.MustParse(orchard)
	en.bind(orchard)
	en.sessions.publishers[jid.MustParse(romeo)] = jids("juliet@example.com/balcony", "tybalt@example.com/street")

	en.put(t, orchard, "no-tybalt", storage.PrivacyRule{Type: storage.PrivacyJID, Value: "tybalt@example.com", Order: 1, PresenceIn: true})
	if err := en.e.SetActive(ctx, o, "no-tybalt"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tybalt@example.com/street>" + orchard}; !slices.Equal(en.sessions.hiddenIn, want) || len(en.sessions.shownIn) != 0 {
		t.Errorf("after denying tybalt's presence-in: hiddenIn %v shownIn %v, want hiddenIn %v", en.sessions.hiddenIn, en.sessions.shownIn, want)
	}
	en.sessions.hiddenIn = nil
	if err := en.e.SetActive(ctx, o, ""); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tybalt@example.com/street>" + orchard}; !slices.Equal(en.sessions.shownIn, want) || len(en.sessions.hiddenIn) != 0 {
		t.Errorf("after declining the list: hiddenIn %v shownIn %v, want shownIn %v", en.sessions.hiddenIn, en.sessions.shownIn, want)
	}
	en.sessions.shownIn = nil

	en.put(t, orchard, "invisible", storage.PrivacyRule{Order: 1, PresenceOut: true})
	if err := en.e.SetActive(ctx, o, "invisible"); err != nil {
		t.Fatal(err)
	}
	if len(en.sessions.hiddenIn) != 0 || len(en.sessions.shownIn) != 0 {
		t.Errorf("a presence-out list changed inbound presence: hiddenIn %v shownIn %v", en.sessions.hiddenIn, en.sessions.shownIn)
	}
	if err := en.e.SetActive(ctx, o, ""); err != nil {
		t.Fatal(err)
	}

	// A block refuses every stanza from juliet, the server's unavailable
	// on her behalf included (XEP-0191 §3.3); unblocking sends her
	// current presence.
	if err := en.e.Block(ctx, o, jids("juliet@example.com")); err != nil {
		t.Fatal(err)
	}
	if len(en.sessions.hiddenIn) != 0 {
		t.Errorf("after blocking juliet: hiddenIn %v, want nothing delivered from her", en.sessions.hiddenIn)
	}
	if err := en.e.UnblockAll(ctx, o); err != nil {
		t.Fatal(err)
	}
	if want := []string{"juliet@example.com/balcony>" + orchard}; !slices.Equal(en.sessions.shownIn, want) {
		t.Errorf("after unblocking juliet: shownIn %v, want %v", en.sessions.shownIn, want)
	}
}

// TestLimitsAndValidation: malformed lists and values are refused before
// anything is stored.
func TestLimitsAndValidation(t *testing.T) {
	en := newEnv(t, romeo)
	o := jid.MustParse(orchard)
	tests := []struct {
		name string
		list storage.PrivacyList
		want error
	}{
		{"duplicate order", storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{{Order: 1}, {Order: 1, Allow: true}}}, storage.ErrInvalid},
		{"bad subscription", storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "remove", Order: 1}}}, storage.ErrInvalid},
		{"bad jid", storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{{Type: storage.PrivacyJID, Value: "@example.com", Order: 1}}}, ErrJIDMalformed},
		{"no name", storage.PrivacyList{Rules: []storage.PrivacyRule{{Order: 1}}}, storage.ErrInvalid},
		{"too many rules", storage.PrivacyList{Name: "l", Rules: make([]storage.PrivacyRule, MaxRules+1)}, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := en.e.PutList(t.Context(), o, tt.list); !errors.Is(err, tt.want) {
				t.Errorf("PutList = %v, want %v", err, tt.want)
			}
		})
	}
	for i := range MaxLists {
		en.put(t, orchard, fmt.Sprint("l", i), storage.PrivacyRule{Order: 1})
	}
	if err := en.e.PutList(t.Context(), o, storage.PrivacyList{Name: "one-too-many", Rules: []storage.PrivacyRule{{Order: 1}}}); !errors.Is(err, ErrLimit) {
		t.Errorf("list beyond MaxLists = %v, want ErrLimit", err)
	}
	if err := en.e.Block(t.Context(), o, jids("tybalt@example.com")); !errors.Is(err, ErrLimit) {
		t.Errorf("block needing a list beyond MaxLists = %v, want ErrLimit", err)
	}
}

// failingLists fails every read, as a broken database would.
type failingLists struct{ storage.PrivacyLists }

func (failingLists) PrivacyListNames(context.Context, string) ([]string, string, error) {
	return nil, "", errors.New("database is locked")
}

// TestStorageFailureRefuses: when the lists cannot be read, stanzas are
// refused rather than let through past a block.
func TestStorageFailureRefuses(t *testing.T) {
	e := New(failingLists{}, nil, nil)
	if in(t, e, orchard, tybalt, router.KindMessage) {
		t.Error("inbound stanza allowed although the lists could not be read")
	}
	if serr := out(t, e, orchard, tybalt, router.KindMessage); serr == nil || serr.Condition != stream.InternalServerErr {
		t.Errorf("outbound = %v, want internal-server-error", serr)
	}
	if !in(t, e, orchard, home, router.KindMessage) {
		t.Error("own resources must pass without reading the lists")
	}
}

// TestCacheBound: with a tiny cache, many owners still get their own rules.
func TestCacheBound(t *testing.T) {
	var accounts []string
	for i := range 20 {
		accounts = append(accounts, fmt.Sprintf("user%d@example.net", i))
	}
	en := newEnv(t, accounts...)
	en.e = New(en.db, nil, nil, WithCacheSize(1))
	for i, a := range accounts {
		if i%2 == 0 {
			if err := en.e.Block(t.Context(), jid.MustParse(a+"/r"), jids("tybalt@example.com")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := range 3 {
		for i, a := range accounts {
			if got, want := in(t, en.e, a, tybalt, router.KindMessage), i%2 != 0; got != want {
				t.Errorf("round %d: %s allowed=%v, want %v", round, a, got, want)
			}
		}
	}
	total := 0
	for i := range en.e.shards {
		total += len(en.e.shards[i].owners)
	}
	if total > shardCount {
		t.Errorf("%d owners cached, want at most one per shard", total)
	}
}

// TestConcurrentUse exercises evaluation racing with changes (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	en := newEnv(t, romeo)
	ctx := t.Context()
	o := jid.MustParse(orchard)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				en.e.Inbound(ctx, o, jid.MustParse(tybalt), router.KindMessage)
				en.e.Outbound(ctx, o, jid.MustParse(tybalt), router.KindPresence)
			}
		})
	}
	for range 20 {
		if err := en.e.Block(ctx, o, jids("tybalt@example.com")); err != nil {
			t.Error(err)
		}
		if err := en.e.UnblockAll(ctx, o); err != nil {
			t.Error(err)
		}
	}
	if err := en.e.Block(ctx, o, jids("tybalt@example.com")); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if in(t, en.e, orchard, tybalt, router.KindMessage) {
		t.Error("after the last block, Tybalt still gets through")
	}
}
