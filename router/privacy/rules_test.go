package privacy

import (
	"context"
	"errors"
	"testing"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
)

// kindOther stands for any stanza kind the engine does not know, such as a
// kind the router would give subscription stanzas and probes: only rules
// for every kind apply to it (XEP-0016 §2.10, §2.13).
const kindOther router.StanzaKind = 200

var owner = jid.MustParse("romeo@example.net")

// fakeRoster is a roster keyed by contact.
type fakeRoster struct {
	items map[jid.JID]storage.RosterItem
	calls int
	err   error
}

func (f *fakeRoster) lookup(_ context.Context, o, contact jid.JID) (storage.RosterItem, bool, error) {
	f.calls++
	if f.err != nil {
		return storage.RosterItem{}, false, f.err
	}
	if o != owner {
		return storage.RosterItem{}, false, nil
	}
	it, ok := f.items[contact]
	return it, ok, nil
}

func jidRule(order uint32, value string, allow bool) storage.PrivacyRule {
	return storage.PrivacyRule{Type: storage.PrivacyJID, Value: value, Allow: allow, Order: order}
}

// TestJIDMatching covers the four forms of a jid rule's value (XEP-0016
// §2.1, XEP-0191 §6).
func TestJIDMatching(t *testing.T) {
	tests := []struct {
		value string
		other string
		match bool
	}{
		// 1. user@domain/resource: only that resource.
		{"juliet@example.com/balcony", "juliet@example.com/balcony", true},
		{"juliet@example.com/balcony", "juliet@example.com/chamber", false},
		{"juliet@example.com/balcony", "juliet@example.com", false},
		{"juliet@example.com/balcony", "example.com", false},
		// 2. user@domain: any resource, or none.
		{"juliet@example.com", "juliet@example.com", true},
		{"juliet@example.com", "juliet@example.com/chamber", true},
		{"juliet@example.com", "nurse@example.com/chamber", false},
		{"juliet@example.com", "example.com", false},
		{"juliet@example.com", "juliet@example.org", false},
		// 3. domain/resource: only that resource of the domain.
		{"example.com/bot", "example.com/bot", true},
		{"example.com/bot", "example.com", false},
		{"example.com/bot", "juliet@example.com/bot", false},
		// 4. domain: the domain and every JID at it.
		{"example.com", "example.com", true},
		{"example.com", "juliet@example.com", true},
		{"example.com", "juliet@example.com/balcony", true},
		{"example.com", "example.com/bot", true},
		{"example.com", "example.org", false},
		{"example.com", "juliet@sub.example.com", false},
		// Values and addresses compare in canonical form (RFC 7622).
		{"Juliet@EXAMPLE.com", "juliet@example.com/balcony", true},
	}
	for _, tt := range tests {
		t.Run(tt.value+"~"+tt.other, func(t *testing.T) {
			l := compile(storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{jidRule(1, tt.value, false)}})
			ok, r, err := l.decide(t.Context(), nil, owner, jid.MustParse(tt.other), kindBit(inbound, router.KindMessage))
			if err != nil {
				t.Fatal(err)
			}
			if got := !ok; got != tt.match {
				t.Errorf("rule jid=%q against %q: matched=%v, want %v", tt.value, tt.other, got, tt.match)
			}
			if tt.match && (r == nil || !r.blocking()) {
				t.Errorf("the deciding rule should be a blocking rule, got %+v", r)
			}
		})
	}
}

// TestKinds covers the kind children and the direction of each (XEP-0016
// §2.1, §2.9–§2.13): <message/>, <iq/> and <presence-in/> select incoming
// stanzas, <presence-out/> outgoing presence, no child every stanza both
// ways; subscription stanzas and probes only meet rules without a child.
func TestKinds(t *testing.T) {
	type probe struct {
		dir  direction
		kind router.StanzaKind
	}
	var (
		msgIn   = probe{inbound, router.KindMessage}
		iqIn    = probe{inbound, router.KindIQ}
		presIn  = probe{inbound, router.KindPresence}
		subIn   = probe{inbound, kindOther}
		msgOut  = probe{outbound, router.KindMessage}
		iqOut   = probe{outbound, router.KindIQ}
		presOut = probe{outbound, router.KindPresence}
		subOut  = probe{outbound, kindOther}
		all     = []probe{msgIn, iqIn, presIn, subIn, msgOut, iqOut, presOut, subOut}
	)
	tests := []struct {
		name   string
		rule   storage.PrivacyRule
		denied []probe
	}{
		{"message", storage.PrivacyRule{Message: true}, []probe{msgIn}},
		{"iq", storage.PrivacyRule{IQ: true}, []probe{iqIn}},
		{"presence-in", storage.PrivacyRule{PresenceIn: true}, []probe{presIn}},
		{"presence-out", storage.PrivacyRule{PresenceOut: true}, []probe{presOut}},
		{"message+presence-in", storage.PrivacyRule{Message: true, PresenceIn: true}, []probe{msgIn, presIn}},
		{"message+iq+presence-in+presence-out", storage.PrivacyRule{Message: true, IQ: true, PresenceIn: true, PresenceOut: true}, []probe{msgIn, iqIn, presIn, presOut}},
		{"none means all", storage.PrivacyRule{}, all},
	}
	other := jid.MustParse("tybalt@example.com/pda")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule
			r.Type, r.Value, r.Order = storage.PrivacyJID, "tybalt@example.com", 3
			l := compile(storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{r}})
			for _, p := range all {
				ok, _, err := l.decide(t.Context(), nil, owner, other, kindBit(p.dir, p.kind))
				if err != nil {
					t.Fatal(err)
				}
				wantDenied := false
				for _, d := range tt.denied {
					wantDenied = wantDenied || d == p
				}
				if !ok != wantDenied {
					t.Errorf("dir=%d kind=%d: denied=%v, want %v", p.dir, p.kind, !ok, wantDenied)
				}
			}
		})
	}
}

// TestDecide covers rule types, first match, ordering and fall-through
// (XEP-0016 §2.1, §2.2 rules 5–7).
func TestDecide(t *testing.T) {
	roster := map[jid.JID]storage.RosterItem{
		jid.MustParse("tybalt@example.com"):   {Contact: "tybalt@example.com", Groups: []string{"Enemies"}, Subscription: storage.SubNone},
		jid.MustParse("juliet@example.com"):   {Contact: "juliet@example.com", Groups: []string{"Friends", "Lovers"}, Subscription: storage.SubBoth},
		jid.MustParse("nurse@example.com"):    {Contact: "nurse@example.com", Subscription: storage.SubFrom},
		jid.MustParse("benvolio@example.org"): {Contact: "benvolio@example.org", Subscription: storage.SubTo, PendingIn: true},
	}
	in := kindBit(inbound, router.KindMessage)
	tests := []struct {
		name  string
		rules []storage.PrivacyRule
		other string
		allow bool
	}{
		{"empty list allows", nil, "tybalt@example.com", true},
		{"no match falls through to allow (§2.2 rule 7)", []storage.PrivacyRule{jidRule(1, "tybalt@example.com", false)}, "juliet@example.com", true},
		{"fall-through deny", []storage.PrivacyRule{{Order: 1}}, "juliet@example.com", false},
		{"first match wins: allow before deny", []storage.PrivacyRule{jidRule(1, "juliet@example.com", true), {Order: 2}}, "juliet@example.com/balcony", true},
		{"first match wins: deny before allow", []storage.PrivacyRule{jidRule(1, "example.com", false), jidRule(2, "juliet@example.com", true)}, "juliet@example.com", false},
		{"ascending order, not storage order", []storage.PrivacyRule{{Order: 20}, jidRule(10, "juliet@example.com", true)}, "juliet@example.com", true},
		{"positive list: others denied", []storage.PrivacyRule{jidRule(6, "juliet@example.com", true), jidRule(7, "benvolio@example.org", true), {Order: 666}}, "tybalt@example.com", false},
		{"group matches a member", []storage.PrivacyRule{{Type: storage.PrivacyGroup, Value: "Enemies", Order: 4}}, "tybalt@example.com/pda", false},
		{"group: member of several groups", []storage.PrivacyRule{{Type: storage.PrivacyGroup, Value: "Lovers", Order: 4}}, "juliet@example.com", false},
		{"group: not a member", []storage.PrivacyRule{{Type: storage.PrivacyGroup, Value: "Enemies", Order: 4}}, "juliet@example.com", true},
		{"group: no roster item", []storage.PrivacyRule{{Type: storage.PrivacyGroup, Value: "Enemies", Order: 4}}, "paris@example.org", true},
		{"subscription both", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "both", Order: 1}}, "juliet@example.com", false},
		{"subscription both is exact", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "both", Order: 1}}, "nurse@example.com", true},
		{"subscription from", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "from", Order: 1}}, "nurse@example.com", false},
		{"subscription to (pending in is still to)", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "to", Order: 1}}, "benvolio@example.org", false},
		{"subscription none: item with none", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "none", Order: 1}}, "tybalt@example.com", false},
		{"subscription none: no item at all", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "none", Order: 1}}, "paris@example.org", false},
		{"subscription none: not for both", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "none", Order: 1}}, "juliet@example.com", true},
		{"private list of §2.3: both allowed", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "both", Allow: true, Order: 10}, {Order: 15}}, "juliet@example.com", true},
		{"private list of §2.3: others denied", []storage.PrivacyRule{{Type: storage.PrivacySubscription, Value: "both", Allow: true, Order: 10}, {Order: 15}}, "nurse@example.com", false},
		{"invalid stored value never matches", []storage.PrivacyRule{jidRule(1, "not a jid@", false)}, "tybalt@example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := &fakeRoster{items: roster}
			l := compile(storage.PrivacyList{Name: "l", Rules: tt.rules})
			ok, _, err := l.decide(t.Context(), fr.lookup, owner, jid.MustParse(tt.other), in)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.allow {
				t.Errorf("allow=%v, want %v", ok, tt.allow)
			}
			if fr.calls > 1 {
				t.Errorf("roster looked up %d times in one evaluation, want at most once", fr.calls)
			}
		})
	}
}

// TestRosterLookedUpOnlyWhenNeeded: a jid rule that decides spares the
// roster lookup; a failing lookup is an error, not a silent allow.
func TestRosterLookedUpOnlyWhenNeeded(t *testing.T) {
	fr := &fakeRoster{err: errors.New("disk on fire")}
	l := compile(storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{
		jidRule(1, "juliet@example.com", true),
		{Type: storage.PrivacyGroup, Value: "Enemies", Order: 2},
	}})
	bit := kindBit(inbound, router.KindMessage)
	if ok, _, err := l.decide(t.Context(), fr.lookup, owner, jid.MustParse("juliet@example.com"), bit); err != nil || !ok || fr.calls != 0 {
		t.Errorf("jid rule: ok=%v err=%v lookups=%d, want allowed without a lookup", ok, err, fr.calls)
	}
	if _, _, err := l.decide(t.Context(), fr.lookup, owner, jid.MustParse("tybalt@example.com"), bit); err == nil {
		t.Error("a failing roster lookup must fail the evaluation")
	}
}

// TestBlockedOfList: the blocklist view of a list is its jid deny rules for
// every kind, nothing else (XEP-0191 §5).
func TestBlockedOfList(t *testing.T) {
	l := compile(storage.PrivacyList{Name: "l", Rules: []storage.PrivacyRule{
		jidRule(5, "iago@shakespeare.lit", false),
		jidRule(1, "romeo@montague.net", false),
		jidRule(2, "juliet@capulet.com", true),                                           // allow
		{Type: storage.PrivacyJID, Value: "tybalt@capulet.com", Order: 3, Message: true}, // one kind
		{Type: storage.PrivacyGroup, Value: "Enemies", Order: 4},                         // not a jid
		jidRule(6, "romeo@montague.net", false),                                          // duplicate
		{Order: 7},                                                                       // fall-through
	}})
	got := l.blocked()
	want := []jid.JID{jid.MustParse("romeo@montague.net"), jid.MustParse("iago@shakespeare.lit")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("blocked() = %v, want %v", got, want)
	}
}

func TestPrepend(t *testing.T) {
	block := func(v string) storage.PrivacyRule { return jidRule(0, v, false) }
	tests := []struct {
		name      string
		existing  []uint32
		add       int
		wantOrder []uint32
	}{
		{"empty list is numbered in tens", nil, 2, []uint32{10, 20}},
		{"room below the lowest order keeps the others", []uint32{10, 68}, 2, []uint32{8, 9, 10, 68}},
		{"exactly enough room", []uint32{2, 5}, 2, []uint32{0, 1, 2, 5}},
		{"no room renumbers", []uint32{0, 3}, 1, []uint32{10, 20, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rules []storage.PrivacyRule
			for i, o := range tt.existing {
				rules = append(rules, storage.PrivacyRule{Order: o, Allow: i%2 == 0})
			}
			var add []storage.PrivacyRule
			for range tt.add {
				add = append(add, block("x@example.com"))
			}
			got := prepend(rules, add)
			if len(got) != len(tt.wantOrder) {
				t.Fatalf("got %d rules, want %d", len(got), len(tt.wantOrder))
			}
			for i, r := range got {
				if r.Order != tt.wantOrder[i] {
					t.Errorf("rule %d order %d, want %d", i, r.Order, tt.wantOrder[i])
				}
				if isNew := i < tt.add; isNew != (r.Type == storage.PrivacyJID) {
					t.Errorf("rule %d: blocks must come first: %+v", i, r)
				}
			}
			if err := (storage.PrivacyList{Name: "l", Rules: got}).Validate(); err != nil {
				t.Errorf("result does not validate: %v", err)
			}
		})
	}
}
