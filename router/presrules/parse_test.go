package presrules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/router"
)

// Prefixes for the test documents.
const (
	cpOpen = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">`
	cpEnd  = `</ruleset>`
	pr     = `xmlns="urn:ietf:params:xml:ns:pres-rules"`
)

// doc wraps rules in a ruleset.
func doc(rules ...string) string { return cpOpen + strings.Join(rules, "") + cpEnd }

// rule builds a rule with the given id, conditions and sub-handling ("" for
// none).
func rule(id, conditions, sub string) string {
	s := `<rule id="` + id + `"><conditions>` + conditions + `</conditions>`
	if sub != "" {
		s += `<actions><sub-handling ` + pr + `>` + sub + `</sub-handling></actions>`
	}
	return s + `</rule>`
}

func mustParse(t testing.TB, s string) *Document {
	t.Helper()
	d, err := ParseBytes([]byte(s), Limits{})
	if err != nil {
		t.Fatalf("ParseBytes(%s): %v", s, err)
	}
	return d
}

// The RFC examples, without their XML declarations (the restricted XML of
// RFC 6120 §11.1 has none; an IQ payload never carries one).
const (
	rfc4745OneExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
       <rule id="f3g44r1">
           <conditions>
               <identity>
                   <one id="sip:alice@example.com"/>
                   <one id="tel:+1-212-555-1234" />
                   <one id="mailto:bob@example.net" />
               </identity>
           </conditions>
           <actions/>
           <transformations/>
       </rule>
   </ruleset>`
	rfc4745ManyExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
       <rule id="f3g44r5">
           <conditions>
               <identity>
                 <many/>
               </identity>
           </conditions>
           <actions/>
           <transformations/>
       </rule>
   </ruleset>`
	rfc4745ExceptExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
       <rule id="f3g44r1">
           <conditions>
               <sphere value="work"/>
               <identity>
                   <many>
                       <except domain="example.com"/>
                       <except domain="example.org"/>
                       <except id="sip:alice@bad.example.net"/>
                       <except id="sip:bob@good.example.net"/>
                       <except id="tel:+1-212-555-1234" />
                       <except id="sip:alice@example.com"/>
                   </many>
               </identity>
               <validity>
                   <from>2003-12-24T17:00:00+01:00</from>
                   <until>2003-12-24T19:00:00+01:00</until>
               </validity>
           </conditions>
           <actions/>
           <transformations/>
       </rule>
   </ruleset>`
	rfc4745DomainExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
       <rule id="f3g44r1">
           <conditions>
               <identity>
                   <many domain="example.com">
                       <except id="sip:alice@example.com"/>
                       <except id="sip:bob@example.com"/>
                   </many>
               </identity>
           </conditions>
           <actions/>
           <transformations/>
       </rule>
   </ruleset>`
	rfc4745SphereExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
     <rule id="f3g44r2">
       <conditions>
         <sphere value="work"/>
         <identity>
           <one id="sip:andrew@example.com"/>
         </identity>
       </conditions>
       <actions/>
       <transformations/>
     </rule>

     <rule id="y6y55r2">
       <conditions>
         <sphere value="home"/>
         <identity>
           <one id="sip:allison@example.com"/>
         </identity>
       </conditions>
       <actions/>
       <transformations/>
     </rule>
     <rule id="z6y55r2">
       <conditions>
         <identity>
              <one id="sip:john@doe.example.com"/>
         </identity>
         <sphere value="home work"/>
       </conditions>
       <actions/>
       <transformations/>
     </rule>
   </ruleset>`
	rfc4745ValidityExample = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
     <rule id="f3g44r3">
       <conditions>
           <validity>
               <from>2003-08-15T10:20:00.000-05:00</from>
               <until>2003-09-15T10:20:00.000-05:00</until>
           </validity>
       </conditions>
       <actions/>
       <transformations/>
     </rule>
   </ruleset>`
	rfc4745Section12Example = `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy">
       <rule id="f3g44r1">
           <conditions>
               <identity>
                   <one id="sip:bob@example.com"/>
               </identity>
               <sphere value="work"/>
               <validity>
                   <from>2003-12-24T17:00:00+01:00</from>
                   <until>2003-12-24T19:00:00+01:00</until>
               </validity>
           </conditions>
           <actions/>
           <transformations/>
       </rule>
   </ruleset>`
	rfc5025Example = `<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules"
    xmlns:pr="urn:ietf:params:xml:ns:pres-rules"
    xmlns:cr="urn:ietf:params:xml:ns:common-policy">
    <cr:rule id="a">
     <cr:conditions>
      <cr:identity>
       <cr:one id="sip:user@example.com"/>
      </cr:identity>
     </cr:conditions>
     <cr:actions>
      <pr:sub-handling>allow</pr:sub-handling>
     </cr:actions>
     <cr:transformations>
      <pr:provide-services>
        <pr:service-uri-scheme>sip</pr:service-uri-scheme>
        <pr:service-uri-scheme>mailto</pr:service-uri-scheme>
      </pr:provide-services>
      <pr:provide-persons>
        <pr:all-persons/>
      </pr:provide-persons>
      <pr:provide-activities>true</pr:provide-activities>
      <pr:provide-user-input>bare</pr:provide-user-input>
       <pr:provide-unknown-attribute
        ns="urn:vendor-specific:foo-namespace"
        name="foo">true</pr:provide-unknown-attribute>
     </cr:transformations>
    </cr:rule>
   </cr:ruleset>`
)

// TestParseValid parses valid documents, the RFC examples first, and
// checks what the model says about them and that their canonical form is
// stable (parsing it gives the same bytes).
func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		xml   string
		check func(t *testing.T, d *Document)
	}{
		{"RFC 4745 §7.1.2 one", rfc4745OneExample, func(t *testing.T, d *Document) {
			id := d.Rules[0].Conditions.Identities[0]
			if len(id.One) != 3 || id.One[0].ID != "sip:alice@example.com" || id.One[0].XMPP || id.One[1].XMPP || id.One[2].XMPP {
				t.Errorf("identity = %+v, want three non-XMPP <one/>", id)
			}
			if d.Rules[0].HasSubHandling || d.Rules[0].SubHandling != Block {
				t.Errorf("a rule with empty <actions/> has sub-handling %v", d.Rules[0].SubHandling)
			}
		}},
		{"RFC 4745 §7.1.3.1 many", rfc4745ManyExample, func(t *testing.T, d *Document) {
			if m := d.Rules[0].Conditions.Identities[0].Many; len(m) != 1 || m[0].Domain != "" || len(m[0].Except) != 0 {
				t.Errorf("many = %+v", m)
			}
		}},
		{"RFC 4745 §7.1.3.2 except", rfc4745ExceptExample, func(t *testing.T, d *Document) {
			c := d.Rules[0].Conditions
			m := c.Identities[0].Many[0]
			if len(m.Except) != 6 || m.Except[0].Domain != "example.com" || m.Except[2].Entity.ID != "sip:alice@bad.example.net" {
				t.Errorf("excepts = %+v", m.Except)
			}
			if len(c.Spheres) != 1 || c.Spheres[0][0] != "work" {
				t.Errorf("spheres = %q", c.Spheres)
			}
			want := Interval{From: time.Date(2003, 12, 24, 16, 0, 0, 0, time.UTC), Until: time.Date(2003, 12, 24, 18, 0, 0, 0, time.UTC)}
			if len(c.Validities) != 1 || len(c.Validities[0]) != 1 || !c.Validities[0][0].From.Equal(want.From) || !c.Validities[0][0].Until.Equal(want.Until) {
				t.Errorf("validity = %+v, want %+v", c.Validities, want)
			}
		}},
		{"RFC 4745 §7.1.3.3 many domain", rfc4745DomainExample, func(t *testing.T, d *Document) {
			if m := d.Rules[0].Conditions.Identities[0].Many[0]; m.Domain != "example.com" || len(m.Except) != 2 {
				t.Errorf("many = %+v", m)
			}
		}},
		{"RFC 4745 §7.3 sphere", rfc4745SphereExample, func(t *testing.T, d *Document) {
			if len(d.Rules) != 3 || fmt.Sprint(d.Rules[2].Conditions.Spheres) != "[[home work]]" {
				t.Errorf("rules = %+v", d.Rules)
			}
		}},
		{"RFC 4745 §7.4 validity", rfc4745ValidityExample, func(t *testing.T, d *Document) {
			iv := d.Rules[0].Conditions.Validities[0][0]
			if !iv.From.Equal(time.Date(2003, 8, 15, 15, 20, 0, 0, time.UTC)) || !iv.Until.Equal(time.Date(2003, 9, 15, 15, 20, 0, 0, time.UTC)) {
				t.Errorf("interval = %+v", iv)
			}
		}},
		{"RFC 4745 §12", rfc4745Section12Example, nil},
		{"RFC 5025 §6 prefixed", rfc5025Example, func(t *testing.T, d *Document) {
			r := d.Rules[0]
			if !r.HasSubHandling || r.SubHandling != Allow {
				t.Errorf("sub-handling = %v, %v; want allow", r.SubHandling, r.HasSubHandling)
			}
			tr := r.Transformations
			if tr.Services == nil || fmt.Sprint(tr.Services.Members) != "[{service-uri-scheme sip} {service-uri-scheme mailto}]" {
				t.Errorf("provide-services = %+v", tr.Services)
			}
			if tr.Persons == nil || !tr.Persons.All || tr.Devices != nil {
				t.Errorf("provide-persons = %+v, provide-devices = %+v", tr.Persons, tr.Devices)
			}
			if !tr.Attributes["provide-activities"] || tr.UserInput != "bare" || len(tr.Unknown) != 1 || tr.Unknown[0] != (UnknownAttribute{Name: "foo", NS: "urn:vendor-specific:foo-namespace", Value: true}) {
				t.Errorf("transformations = %+v", tr)
			}
		}},
		{"empty ruleset", cpOpen + cpEnd, func(t *testing.T, d *Document) {
			if len(d.Rules) != 0 {
				t.Errorf("rules = %+v", d.Rules)
			}
		}},
		{"rule with nothing", doc(`<rule id="r"/>`), func(t *testing.T, d *Document) {
			if len(d.Rules) != 1 || d.Rules[0].ID != "r" {
				t.Errorf("rules = %+v", d.Rules)
			}
		}},
		{"XMPP identities", doc(rule("x", `<identity><one id="xmpp:Juliet@Example.COM/balcony"/><one id="pres:romeo@example.net"/><one id="im:nurse@example.com"/><one id="benvolio@example.org"/><one id="example.net"/></identity>`, "allow")), func(t *testing.T, d *Document) {
			var got []string
			for _, o := range d.Rules[0].Conditions.Identities[0].One {
				if !o.XMPP {
					t.Errorf("%s: not XMPP", o.ID)
				}
				got = append(got, o.JID.String())
			}
			if want := "[juliet@example.com romeo@example.net nurse@example.com benvolio@example.org example.net]"; fmt.Sprint(got) != want {
				t.Errorf("JIDs = %v, want %s", got, want)
			}
		}},
		{"sub-handling values and whitespace", doc(rule("b", "", " block "), rule("c", "", "confirm"), rule("p", "", "\n\tpolite-block\n"), rule("a", "", "allow")), func(t *testing.T, d *Document) {
			want := []SubHandling{Block, Confirm, PoliteBlock, Allow}
			for i, r := range d.Rules {
				if !r.HasSubHandling || r.SubHandling != want[i] {
					t.Errorf("rule %s: %v, want %v", r.ID, r.SubHandling, want[i])
				}
			}
		}},
		{"several validity pairs and conditions", doc(rule("v", `<validity><from>2026-01-01T00:00:00Z</from><until>2026-02-01T00:00:00Z</until><from>2026-03-01T00:00:00.5+02:00</from><until>2026-04-01T00:00:00-07:00</until></validity><validity><from>2020-01-01T00:00:00Z</from><until>2030-01-01T00:00:00Z</until></validity><identity><many/></identity><identity><one id="a@b.example"/></identity>`, "allow")), func(t *testing.T, d *Document) {
			c := d.Rules[0].Conditions
			if len(c.Validities) != 2 || len(c.Validities[0]) != 2 || len(c.Identities) != 2 {
				t.Errorf("conditions = %+v", c)
			}
		}},
		{"extensions kept", doc(`<rule id="e"><conditions><mood xmlns="urn:example:cond" value="happy"/><identity><one id="sip:a@example.com"><note xmlns="urn:example:n">hi</note></one><fingerprint xmlns="urn:example:id"/><many><not-friends xmlns="urn:example:ex"/></many></identity></conditions><actions><sub-handling ` + pr + `>allow</sub-handling><notify xmlns="urn:example:act" by="sms">yes</notify></actions><transformations><provide-devices ` + pr + `><class>biz</class><model xmlns="urn:example:dev">x1</model></provide-devices><blur xmlns="urn:example:tr" level="3"><deep xmlns:p="urn:example:p" p:k="v"> <inner/> </deep></blur></transformations></rule>`), func(t *testing.T, d *Document) {
			r := d.Rules[0]
			if fmt.Sprint(r.Conditions.Unsupported) != "[{urn:example:cond mood}]" || r.Conditions.Identities[0].Unsupported != 1 || !r.Conditions.Identities[0].Many[0].Unsupported {
				t.Errorf("conditions = %+v", r.Conditions)
			}
			if fmt.Sprint(r.OtherActions) != "[{urn:example:act notify}]" || fmt.Sprint(r.Transformations.Other) != "[{urn:example:tr blur}]" {
				t.Errorf("other actions %v, transformations %v", r.OtherActions, r.Transformations.Other)
			}
			c := string(d.Canonical())
			for _, want := range []string{
				`<mood xmlns="urn:example:cond" value="happy"/>`,
				`<one id="sip:a@example.com"><note xmlns="urn:example:n">hi</note></one>`,
				`<notify xmlns="urn:example:act" by="sms">yes</notify>`,
				`<model xmlns="urn:example:dev">x1</model>`,
				`<blur xmlns="urn:example:tr" level="3"><deep xmlns:a0="urn:example:p" a0:k="v"><inner/></deep></blur>`,
			} {
				if !strings.Contains(c, want) {
					t.Errorf("canonical form lacks %s:\n%s", want, c)
				}
			}
		}},
		{"all transformations", doc(`<rule id="t"><transformations>` +
			`<provide-devices ` + pr + `><all-devices/></provide-devices>` +
			`<provide-services ` + pr + `><service-uri>xmpp:a@b.example</service-uri><occurrence-id>o1</occurrence-id><class>c</class></provide-services>` +
			`<provide-persons ` + pr + `/>` +
			`<provide-class ` + pr + `>1</provide-class><provide-deviceID ` + pr + `>0</provide-deviceID><provide-mood ` + pr + `>false</provide-mood>` +
			`<provide-place-is ` + pr + `>true</provide-place-is><provide-place-type ` + pr + `>true</provide-place-type><provide-privacy ` + pr + `>true</provide-privacy>` +
			`<provide-relationship ` + pr + `>true</provide-relationship><provide-sphere ` + pr + `>true</provide-sphere><provide-status-icon ` + pr + `>true</provide-status-icon>` +
			`<provide-time-offset ` + pr + `>true</provide-time-offset><provide-note ` + pr + `>true</provide-note><provide-user-input ` + pr + `>full</provide-user-input>` +
			`<provide-unknown-attribute ` + pr + ` name="a" ns="urn:x">false</provide-unknown-attribute><provide-unknown-attribute ` + pr + ` name="b" ns="urn:x">true</provide-unknown-attribute>` +
			`<provide-all-attributes ` + pr + `/></transformations></rule>`), func(t *testing.T, d *Document) {
			tr := d.Rules[0].Transformations
			if !tr.Devices.All || len(tr.Services.Members) != 3 || tr.Persons == nil || tr.Persons.All || len(tr.Persons.Members) != 0 {
				t.Errorf("sets: %+v %+v %+v", tr.Devices, tr.Services, tr.Persons)
			}
			if len(tr.Attributes) != 11 || !tr.Attributes["provide-class"] || tr.Attributes["provide-deviceID"] || tr.Attributes["provide-mood"] {
				t.Errorf("attributes = %v", tr.Attributes)
			}
			if tr.UserInput != "full" || len(tr.Unknown) != 2 || !tr.AllAttributes {
				t.Errorf("transformations = %+v", tr)
			}
		}},
		{"comment-free CDATA text", doc(rule("cd", "", "<![CDATA[allow]]>")), func(t *testing.T, d *Document) {
			if d.Rules[0].SubHandling != Allow {
				t.Errorf("sub-handling = %v", d.Rules[0].SubHandling)
			}
		}},
		{"unicode rule id and domains", doc(rule("règle_1.a-b", `<identity><many domain="BÜCHER.example"><except domain="xn--bcher-kva.example"/><except id="xmpp:%C3%A9lise@b%C3%BCcher.example"/></many></identity>`, "allow")), func(t *testing.T, d *Document) {
			m := d.Rules[0].Conditions.Identities[0].Many[0]
			if m.Domain != "bücher.example" || m.Except[0].Domain != "bücher.example" || m.Except[1].Entity.JID.String() != "élise@bücher.example" {
				t.Errorf("many = %+v", m)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustParse(t, tc.xml)
			if tc.check != nil {
				tc.check(t, d)
			}
			again, err := ParseBytes(d.Canonical(), Limits{})
			if err != nil {
				t.Fatalf("the canonical form does not parse: %v\n%s", err, d.Canonical())
			}
			if string(again.Canonical()) != string(d.Canonical()) {
				t.Errorf("canonical form not stable:\n%s\n%s", d.Canonical(), again.Canonical())
			}
			if len(again.Rules) != len(d.Rules) {
				t.Errorf("canonical form has %d rules, want %d", len(again.Rules), len(d.Rules))
			}
		})
	}
}

// TestParseCanonicalForm checks the exact canonical bytes of the RFC 5025
// example: prefixes gone, namespaces declared where they change,
// whitespace between elements dropped.
func TestParseCanonicalForm(t *testing.T) {
	d := mustParse(t, rfc5025Example)
	want := `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="a"><conditions><identity><one id="sip:user@example.com"/></identity></conditions>` +
		`<actions><sub-handling xmlns="urn:ietf:params:xml:ns:pres-rules">allow</sub-handling></actions><transformations>` +
		`<provide-services xmlns="urn:ietf:params:xml:ns:pres-rules"><service-uri-scheme>sip</service-uri-scheme><service-uri-scheme>mailto</service-uri-scheme></provide-services>` +
		`<provide-persons xmlns="urn:ietf:params:xml:ns:pres-rules"><all-persons/></provide-persons>` +
		`<provide-activities xmlns="urn:ietf:params:xml:ns:pres-rules">true</provide-activities>` +
		`<provide-user-input xmlns="urn:ietf:params:xml:ns:pres-rules">bare</provide-user-input>` +
		`<provide-unknown-attribute xmlns="urn:ietf:params:xml:ns:pres-rules" name="foo" ns="urn:vendor-specific:foo-namespace">true</provide-unknown-attribute>` +
		`</transformations></rule></ruleset>`
	if got := string(d.Canonical()); got != want {
		t.Errorf("canonical form\n got %s\nwant %s", got, want)
	}
}

// TestParseInvalid checks that invalid documents are refused with an error
// that wraps ErrInvalid and says what is wrong.
func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, xml, want string
	}{
		{"not a ruleset", `<rules xmlns="urn:ietf:params:xml:ns:common-policy"/>`, "is a <ruleset"},
		{"ruleset of another namespace", `<ruleset xmlns="urn:example"/>`, "is a <ruleset"},
		{"ruleset without namespace", `<ruleset/>`, "(no namespace)"},
		{"attribute on ruleset", `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy" version="2"/>`, "unexpected attribute 'version'"},
		{"text in ruleset", doc("hello"), `unexpected text "hello"`},
		{"not a rule", doc(`<conditions/>`), "holds only <rule/>"},
		{"rule of pres-rules", doc(`<rule ` + pr + ` id="a"/>`), "holds only <rule/>"},
		{"rule without id", doc(`<rule/>`), "without an 'id'"},
		{"rule id not a name", doc(`<rule id="1a"/>`), "not an XML name"},
		{"rule id with colon", doc(`<rule id="a:b"/>`), "not an XML name"},
		{"duplicate ids", doc(rule("a", "", "allow"), rule("a", "", "block")), `two rules with the id "a"`},
		{"unknown rule child", doc(`<rule id="a"><when/></rule>`), "unexpected <when/>"},
		{"conditions twice", doc(`<rule id="a"><conditions/><conditions/></rule>`), "<conditions/> out of place"},
		{"actions before conditions", doc(`<rule id="a"><actions/><conditions/></rule>`), "<conditions/> out of place"},
		{"transformations before actions", doc(`<rule id="a"><transformations/><actions/></rule>`), "<actions/> out of place"},
		{"attribute on conditions", doc(`<rule id="a"><conditions all="yes"/></rule>`), "unexpected attribute 'all'"},
		{"unknown common-policy condition", doc(rule("a", `<weekday value="mon"/>`, "")), "unknown condition <weekday/>"},
		{"pres-rules element as condition", doc(rule("a", `<sub-handling `+pr+`>allow</sub-handling>`, "")), "is not a condition"},
		{"condition without namespace", doc(rule("a", `<mood xmlns=""/>`, "")), "has no namespace"},
		{"empty identity", doc(rule("a", `<identity/>`, "")), "an empty <identity/>"},
		{"unknown identity child", doc(rule("a", `<identity><all/></identity>`, "")), "unexpected <all/> in <identity/>"},
		{"one without id", doc(rule("a", `<identity><one/></identity>`, "")), "<one/> without an 'id'"},
		{"one with domain", doc(rule("a", `<identity><one id="a@b.example" domain="b.example"/></identity>`, "")), "unexpected attribute 'domain'"},
		{"one with bad xmpp URI", doc(rule("a", `<identity><one id="xmpp:@example.com"/></identity>`, "")), "not an XMPP address"},
		{"one with bad JID", doc(rule("a", `<identity><one id="juliet@exa mple.com"/></identity>`, "")), "not an XMPP address"},
		{"one with bad pres URI", doc(rule("a", `<identity><one id="pres:a@b@c"/></identity>`, "")), "not an XMPP address"},
		{"one with two extensions", doc(rule("a", `<identity><one id="a@b.example"><x xmlns="urn:x"/><y xmlns="urn:x"/></one></identity>`, "")), "at most one element"},
		{"one with text", doc(rule("a", `<identity><one id="a@b.example">hi</one></identity>`, "")), "unexpected text"},
		{"many with bad domain", doc(rule("a", `<identity><many domain="exa mple.com"/></identity>`, "")), "is not a domain"},
		{"many with JID as domain", doc(rule("a", `<identity><many domain="a@example.com"/></identity>`, "")), "is not a domain"},
		{"many with one", doc(rule("a", `<identity><many><one id="a@b.example"/></many></identity>`, "")), "unexpected <one/> in <many/>"},
		{"except with both", doc(rule("a", `<identity><many><except domain="b.example" id="a@b.example"/></many></identity>`, "")), "not both"},
		{"except with neither", doc(rule("a", `<identity><many><except/></many></identity>`, "")), "needs a 'domain' or an 'id'"},
		{"except with child", doc(rule("a", `<identity><many><except id="a@b.example"><x xmlns="urn:x"/></except></many></identity>`, "")), "<except/> is empty"},
		{"except with bad id", doc(rule("a", `<identity><many><except id="xmpp:a@b.example/"/></many></identity>`, "")), "empty resourcepart"},
		{"sphere without value", doc(rule("a", `<sphere/>`, "")), "without a 'value'"},
		{"sphere with blank value", doc(rule("a", `<sphere value="  "/>`, "")), "empty 'value'"},
		{"empty validity", doc(rule("a", `<validity/>`, "")), "an empty <validity/>"},
		{"from without until", doc(rule("a", `<validity><from>2026-01-01T00:00:00Z</from></validity>`, "")), "without its <until/>"},
		{"until first", doc(rule("a", `<validity><until>2026-01-01T00:00:00Z</until></validity>`, "")), "found <until/> where <from/> belongs"},
		{"two froms", doc(rule("a", `<validity><from>2026-01-01T00:00:00Z</from><from>2026-01-02T00:00:00Z</from></validity>`, "")), "found <from/> where <until/> belongs"},
		{"until before from", doc(rule("a", `<validity><from>2026-01-02T00:00:00Z</from><until>2026-01-01T00:00:00Z</until></validity>`, "")), "is not after <from/>"},
		{"empty interval", doc(rule("a", `<validity><from>2026-01-01T01:00:00+01:00</from><until>2026-01-01T00:00:00Z</until></validity>`, "")), "is not after <from/>"},
		{"time without zone", doc(rule("a", `<validity><from>2026-01-01T00:00:00</from><until>2026-01-02T00:00:00Z</until></validity>`, "")), "with a time zone"},
		{"date only", doc(rule("a", `<validity><from>2026-01-01</from><until>2026-01-02T00:00:00Z</until></validity>`, "")), "not an RFC 3339 date-time"},
		{"bad sub-handling", doc(rule("a", "", "accept")), `"accept" is not block, confirm, polite-block or allow`},
		{"sub-handling in capitals", doc(rule("a", "", "Allow")), "is not block"},
		{"two sub-handlings", doc(`<rule id="a"><actions><sub-handling ` + pr + `>allow</sub-handling><sub-handling ` + pr + `>block</sub-handling></actions></rule>`), "two <sub-handling/>"},
		{"sub-handling with child", doc(`<rule id="a"><actions><sub-handling ` + pr + `><allow/></sub-handling></actions></rule>`), "holds text only"},
		{"transformation as action", doc(`<rule id="a"><actions><provide-mood ` + pr + `>true</provide-mood></actions></rule>`), "<provide-mood/> is not an action"},
		{"common-policy action", doc(`<rule id="a"><actions><permit/></actions></rule>`), "actions belong to other namespaces"},
		{"sub-handling as transformation", doc(`<rule id="a"><transformations><sub-handling ` + pr + `>allow</sub-handling></transformations></rule>`), "is an action, not a transformation"},
		{"unknown pres-rules transformation", doc(`<rule id="a"><transformations><provide-everything ` + pr + `/></transformations></rule>`), "unknown transformation <provide-everything/>"},
		{"common-policy transformation", doc(`<rule id="a"><transformations><identity/></transformations></rule>`), "transformations belong to other namespaces"},
		{"bad boolean", doc(`<rule id="a"><transformations><provide-mood ` + pr + `>yes</provide-mood></transformations></rule>`), `"yes" is not a boolean`},
		{"bad user input", doc(`<rule id="a"><transformations><provide-user-input ` + pr + `>some</provide-user-input></transformations></rule>`), "not false, bare, thresholds or full"},
		{"all with siblings", doc(`<rule id="a"><transformations><provide-devices ` + pr + `><all-devices/><class>biz</class></provide-devices></transformations></rule>`), "<all-devices/> stands alone"},
		{"all with content", doc(`<rule id="a"><transformations><provide-persons ` + pr + `><all-persons>x</all-persons></provide-persons></transformations></rule>`), "found text"},
		{"deviceID for persons", doc(`<rule id="a"><transformations><provide-persons ` + pr + `><deviceID>urn:x</deviceID></provide-persons></transformations></rule>`), "unexpected <deviceID/>"},
		{"empty class", doc(`<rule id="a"><transformations><provide-services ` + pr + `><class> </class></provide-services></transformations></rule>`), "an empty <class/>"},
		{"duplicate transformation", doc(`<rule id="a"><transformations><provide-mood ` + pr + `>true</provide-mood><provide-mood ` + pr + `>false</provide-mood></transformations></rule>`), "two <provide-mood/>"},
		{"unknown attribute without ns", doc(`<rule id="a"><transformations><provide-unknown-attribute ` + pr + ` name="foo">true</provide-unknown-attribute></transformations></rule>`), "needs both 'name' and 'ns'"},
		{"unknown attribute prefixed name", doc(`<rule id="a"><transformations><provide-unknown-attribute ` + pr + ` name="x:foo" ns="urn:x">true</provide-unknown-attribute></transformations></rule>`), "not an unqualified element name"},
		{"unknown attribute twice", doc(`<rule id="a"><transformations><provide-unknown-attribute ` + pr + ` name="foo" ns="urn:x">true</provide-unknown-attribute><provide-unknown-attribute ` + pr + ` name="foo" ns="urn:x">false</provide-unknown-attribute></transformations></rule>`), "two <provide-unknown-attribute/> permissions for {urn:x}foo"},
		{"all attributes with text", doc(`<rule id="a"><transformations><provide-all-attributes ` + pr + `>true</provide-all-attributes></transformations></rule>`), "found text"},
		{"attribute on sub-handling", doc(`<rule id="a"><actions><sub-handling ` + pr + ` strict="1">allow</sub-handling></actions></rule>`), "unexpected attribute 'strict'"},
		{"prefixed attribute on rule", doc(`<rule xmlns:x="urn:x" x:id="a" id="a"/>`), "unexpected attribute 'x:id'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(tc.xml), Limits{})
			if err == nil {
				t.Fatalf("ParseBytes accepted it:\n%s", d.Canonical())
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestParseLimits checks that documents beyond the limits are refused with
// ErrLimit, and that documents at the limits are accepted.
func TestParseLimits(t *testing.T) {
	lim := Limits{MaxRules: 3, MaxEntries: 5, MaxBytes: 400}
	rules := func(n int) string {
		var rs []string
		for i := range n {
			rs = append(rs, fmt.Sprintf(`<rule id="r%d"/>`, i))
		}
		return doc(rs...)
	}
	ones := func(n int) string {
		return doc(rule("a", "<identity>"+strings.Repeat(`<one id="a@b.example"/>`, n)+"</identity>", ""))
	}
	tests := []struct {
		name string
		xml  string
		want string // "" for accepted
	}{
		{"rules at the limit", rules(3), ""},
		{"too many rules", rules(4), "more than 3 rules"},
		{"entries at the limit", ones(5), ""},
		{"too many entries", ones(6), "more than 5 identities"},
		{"extension elements count", doc(rule("a", "", "") + `<rule id="b"><actions><x xmlns="urn:x"><y/><y/><y/><y/><y/></x></actions></rule>`), "more than 5 identities"},
		{"too large", doc(rule("a", `<identity><one id="`+strings.Repeat("a", 300)+`@b.example"/></identity>`, "")), "the server's limit is 400"},
		{"id too long", doc(`<rule id="` + strings.Repeat("i", maxIDBytes+1) + `"/>`), "longer than 256 bytes"},
		{"extensions too deep", doc(`<rule id="a"><actions>` + strings.Repeat(`<x xmlns="urn:x">`, maxExtensionDepth+1) + strings.Repeat(`</x>`, maxExtensionDepth+1) + `</actions></rule>`), "nested more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lim
			if tc.name == "extensions too deep" {
				l.MaxEntries = 100
			}
			_, err := ParseBytes([]byte(tc.xml), l)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want ErrLimit saying %q", err, tc.want)
			}
		})
	}
	if _, err := ParseBytes([]byte(rules(DefaultMaxRules+1)), Limits{}); !errors.Is(err, ErrLimit) {
		t.Errorf("%d rules with the default limits: %v, want ErrLimit", DefaultMaxRules+1, err)
	}
}

// TestParseBytesRestrictedXML checks that serialised documents are read
// with the restricted XML of RFC 6120 §11.1 and must hold exactly one
// element.
func TestParseBytesRestrictedXML(t *testing.T) {
	for _, tc := range []struct{ name, xml string }{
		{"empty", ""},
		{"whitespace", "  \n"},
		{"XML declaration", `<?xml version="1.0"?>` + cpOpen + cpEnd},
		{"comment", cpOpen + `<!-- hi -->` + cpEnd},
		{"processing instruction", cpOpen + `<?pi x?>` + cpEnd},
		{"DTD", `<!DOCTYPE ruleset [<!ENTITY x "y">]>` + cpOpen + cpEnd},
		{"entity", cpOpen + `&x;` + cpEnd},
		{"not well-formed", cpOpen},
		{"two documents", cpOpen + cpEnd + cpOpen + cpEnd},
		{"trailing text", cpOpen + cpEnd + "x"},
		{"stream close smuggled", cpOpen + cpEnd + "</stream:stream><x/>"},
		{"undeclared prefix", `<cp:ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d, err := ParseBytes([]byte(tc.xml), Limits{}); err == nil {
				t.Errorf("accepted %q as %s", tc.xml, d.Canonical())
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	// Whitespace around the element is fine.
	mustParse(t, "\n "+cpOpen+cpEnd+"\n")
}

// TestParseInsideIQ parses a ruleset as the server receives it: a child of
// an iq payload, with prefixes declared on the ancestors.
func TestParseInsideIQ(t *testing.T) {
	src := `<iq type="set" id="1" xmlns:cp="urn:ietf:params:xml:ns:common-policy"><pres-rules xmlns="urn:xmpp:herald:pres-rules:0" xmlns:p="urn:ietf:params:xml:ns:pres-rules">` +
		`<cp:ruleset><cp:rule id="a"><cp:actions><p:sub-handling>allow</p:sub-handling></cp:actions></cp:rule></cp:ruleset></pres-rules></iq>`
	d := etree.NewDocument()
	if err := d.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	ruleset := d.Root().ChildElements()[0].ChildElements()[0]
	got, err := Parse(ruleset, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := doc(rule("a", "", "allow"))
	want = strings.Replace(want, "<conditions></conditions>", "", 1)
	if string(got.Canonical()) != want {
		t.Errorf("canonical form\n got %s\nwant %s", got.Canonical(), want)
	}
	// The same with the prefix undeclared is refused.
	bad := etree.NewElement("cp:ruleset")
	if _, err := Parse(bad, Limits{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "undeclared prefix") {
		t.Errorf("undeclared prefix: %v", err)
	}
	// Trees built by etree are not checked by the stream decoder: Parse
	// does its own checks.
	d = etree.NewDocument()
	if err := d.ReadFromString(doc(`<rule id="a"><actions><n xmlns="urn:n" xmlns:p="urn:q" xmlns:q="urn:q" p:k="1" q:k="2"/></actions></rule>`)); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(d.Root(), Limits{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "two attributes {urn:q}k") {
		t.Errorf("duplicate expanded attribute names: %v", err)
	}
	if _, err := Parse(nil, Limits{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil: %v", err)
	}
}

// TestSubHandlingValues checks the numeric values of RFC 5025 §3.2.1 and
// the mapping to the router's values.
func TestSubHandlingValues(t *testing.T) {
	for _, tc := range []struct {
		v    SubHandling
		num  int
		name string
	}{{Block, 0, "block"}, {Confirm, 10, "confirm"}, {PoliteBlock, 20, "polite-block"}, {Allow, 30, "allow"}} {
		if int(tc.v) != tc.num || tc.v.String() != tc.name {
			t.Errorf("%v = %d %q, want %d %q", tc.v, int(tc.v), tc.v.String(), tc.num, tc.name)
		}
		if got, ok := parseSubHandling(tc.name); !ok || got != tc.v {
			t.Errorf("parseSubHandling(%q) = %v, %v", tc.name, got, ok)
		}
	}
	for v, want := range map[SubHandling]router.SubHandling{
		Block: router.SubBlock, Confirm: router.SubConfirm, PoliteBlock: router.SubPoliteBlock, Allow: router.SubAllow,
	} {
		if got := v.Router(); got != want {
			t.Errorf("%v.Router() = %v, want %v", v, got, want)
		}
	}
}
