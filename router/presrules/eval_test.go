package presrules

import (
	"slices"
	"testing"
	"time"

	"github.com/herald-im/herald/jid"
)

// decision is one expected outcome of Decide.
type decision struct {
	requester string
	at        time.Time
	want      SubHandling
	matched   bool
}

func checkDecisions(t *testing.T, d *Document, tests []decision) {
	t.Helper()
	for _, tc := range tests {
		got, matched := d.Decide(jid.MustParse(tc.requester), tc.at)
		if got != tc.want || matched != tc.matched {
			t.Errorf("Decide(%s, %s) = %v, matched %v; want %v, matched %v", tc.requester, tc.at.Format(time.RFC3339), got, matched, tc.want, tc.matched)
		}
	}
}

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// TestDecideIdentity checks <one/>, <many/> with and without a domain, and
// <except/> by id and by domain (RFC 4745 §7.1, §7.2), with the requester
// compared as a canonical bare JID.
func TestDecideIdentity(t *testing.T) {
	d := mustParse(t, doc(
		rule("one", `<identity><one id="xmpp:Juliet@Example.com"/><one id="sip:romeo@example.org"/></identity>`, "allow"),
		rule("org", `<identity><many domain="example.org"><except id="pres:romeo@example.org"/><except id="sip:tybalt@example.org"/></many></identity>`, "polite-block"),
		rule("all", `<identity><many><except domain="EVIL.example"/><except id="nurse@example.com"/></many></identity>`, "confirm"),
	))
	checkDecisions(t, d, []decision{
		{"juliet@example.com", testNow, Allow, true},         // one and all: the maximum
		{"JULIET@example.com/balcony", testNow, Allow, true}, // compared as a canonical bare JID
		{"tybalt@example.org", testNow, PoliteBlock, true},   // a sip: except never excludes an XMPP requester
		{"romeo@example.org", testNow, Confirm, true},        // excluded from org (pres: URI), not from all
		{"example.org", testNow, PoliteBlock, true},          // the domain's own JID is of the domain
		{"paris@sub.example.org", testNow, Confirm, true},    // domains compare exactly, subdomains are others
		{"nurse@example.com", testNow, Block, false},         // excluded from all: no rule applies
		{"mallory@evil.example", testNow, Block, false},      // excluded by domain (IDNA case folding)
		{"evil.example", testNow, Block, false},
		{"benvolio@example.net", testNow, Confirm, true},
	})
}

// TestDecideValidity checks validity intervals (RFC 4745 §7.4): from is
// included, until excluded, pairs are ORed, and times in any offset
// compare as instants.
func TestDecideValidity(t *testing.T) {
	d := mustParse(t, doc(rule("v", `<validity>`+
		`<from>2026-05-01T10:00:00+02:00</from><until>2026-05-01T12:00:00+02:00</until>`+
		`<from>2026-06-01T00:00:00Z</from><until>2026-06-02T00:00:00Z</until>`+
		`</validity>`, "allow")))
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	const who = "juliet@example.com"
	checkDecisions(t, d, []decision{
		{who, at("2026-05-01T07:59:59.999Z"), Block, false},
		{who, at("2026-05-01T08:00:00Z"), Allow, true}, // = 10:00+02:00, included
		{who, at("2026-05-01T11:30:00+02:00"), Allow, true},
		{who, at("2026-05-01T09:59:59.999999999Z"), Allow, true},
		{who, at("2026-05-01T10:00:00Z"), Block, false}, // = until, excluded
		{who, at("2026-05-15T00:00:00Z"), Block, false}, // between the pairs
		{who, at("2026-06-01T00:00:00-01:00"), Allow, true},
		{who, at("2026-06-02T00:00:00Z"), Block, false},
	})
	// Two validity conditions must both hold (a logical AND, §7.4).
	d = mustParse(t, doc(rule("w", `<validity><from>2026-01-01T00:00:00Z</from><until>2026-12-31T00:00:00Z</until></validity>`+
		`<validity><from>2026-06-01T00:00:00Z</from><until>2027-06-01T00:00:00Z</until></validity>`, "allow")))
	checkDecisions(t, d, []decision{
		{who, at("2026-03-01T00:00:00Z"), Block, false},
		{who, at("2026-07-01T00:00:00Z"), Allow, true},
		{who, at("2027-03-01T00:00:00Z"), Block, false},
	})
}

// TestDecideCombining checks the combining rule of RFC 4745 §10.2 for the
// integer <sub-handling/> (RFC 5025 §3.2.1): the maximum over the rules
// that apply, whatever their order, a rule without the action counting as
// block, and "block" never overriding a higher value (RFC 5025 §3.2.1 NOTE
// WELL, §10).
func TestDecideCombining(t *testing.T) {
	rules := []string{
		// RFC 5025 §10: allow example.com, block joe@example.com: joe is
		// still allowed.
		rule("domain", `<identity><many domain="example.com"/></identity>`, "allow"),
		rule("joe", `<identity><one id="joe@example.com"/></identity>`, "block"),
		rule("carol-confirm", `<identity><one id="carol@example.net"/></identity>`, "confirm"),
		rule("carol-polite", `<identity><one id="carol@example.net"/></identity>`, "polite-block"),
		rule("dave-none", `<identity><one id="dave@example.net"/></identity>`, ""),
		rule("erin-block", `<identity><one id="erin@example.net"/></identity>`, "block"),
		rule("erin-none", `<identity><one id="erin@example.net"/></identity>`, ""),
		rule("frank-confirm", `<identity><one id="frank@example.net"/></identity>`, "confirm"),
		rule("frank-expired", `<identity><one id="frank@example.net"/></identity><validity><from>2020-01-01T00:00:00Z</from><until>2021-01-01T00:00:00Z</until></validity>`, "allow"),
	}
	tests := []decision{
		{"joe@example.com", testNow, Allow, true},
		{"carol@example.net", testNow, PoliteBlock, true},
		{"dave@example.net", testNow, Block, true}, // applies, grants nothing
		{"erin@example.net", testNow, Block, true},
		{"frank@example.net", testNow, Confirm, true}, // the expired allow does not count
		{"grace@example.net", testNow, Block, false},
	}
	checkDecisions(t, mustParse(t, doc(rules...)), tests)
	// Rule order does not matter (RFC 4745 §4 "permit only").
	reversed := slices.Clone(rules)
	slices.Reverse(reversed)
	checkDecisions(t, mustParse(t, doc(reversed...)), tests)
	rotated := append(slices.Clone(rules[4:]), rules[:4]...)
	checkDecisions(t, mustParse(t, doc(rotated...)), tests)
}

// TestDecideDefaults checks what applies to whom when conditions are
// missing, unsupported or about the user's sphere.
func TestDecideDefaults(t *testing.T) {
	const who = "juliet@example.com"
	tests := []struct {
		name    string
		doc     string
		want    SubHandling
		matched bool
	}{
		{"empty ruleset: RFC 5025's default", doc(), Block, false},
		{"no conditions: everyone", doc(`<rule id="a"><actions><sub-handling ` + pr + `>confirm</sub-handling></actions></rule>`), Confirm, true},
		{"empty conditions: everyone", doc(rule("a", "", "allow")), Allow, true},
		{"many: any authenticated requester", doc(rule("a", `<identity><many/></identity>`, "allow")), Allow, true},
		{"sphere never holds (Herald has none)", doc(rule("a", `<sphere value="work home"/>`, "allow")), Block, false},
		{"sphere with a matching identity", doc(rule("a", `<identity><one id="`+who+`"/></identity><sphere value="work"/>`, "allow")), Block, false},
		{"unsupported condition is FALSE", doc(rule("a", `<identity><many/></identity><mood xmlns="urn:example:c"/>`, "allow")), Block, false},
		{"unsupported identity child is FALSE, ORed", doc(rule("a", `<identity><x xmlns="urn:example:i"/><one id="`+who+`"/></identity>`, "allow")), Allow, true},
		{"unsupported identity child alone", doc(rule("a", `<identity><x xmlns="urn:example:i"/></identity>`, "allow")), Block, false},
		{"many with an unsupported child matches no one", doc(rule("a", `<identity><many><friends-of xmlns="urn:example:m"/></many></identity>`, "allow")), Block, false},
		{"non-XMPP identity never matches", doc(rule("a", `<identity><one id="sip:juliet@example.com"/><one id="mailto:juliet@example.com"/></identity>`, "allow")), Block, false},
		{"one of two identity conditions fails", doc(rule("a", `<identity><many/></identity><identity><one id="romeo@example.net"/></identity>`, "allow")), Block, false},
		{"unknown actions are ignored", doc(`<rule id="a"><actions><grant xmlns="urn:example:a">all</grant></actions></rule>`), Block, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, matched := mustParse(t, tc.doc).Decide(jid.MustParse(who), testNow)
			if got != tc.want || matched != tc.matched {
				t.Errorf("Decide = %v, matched %v; want %v, matched %v", got, matched, tc.want, tc.matched)
			}
		})
	}
}
