package stream

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

// TestNextFrames checks the framed form of first-level elements: what
// AppendElement writes for them and their NamespaceURI.
func TestNextFrames(t *testing.T) {
	const tlsNS = "urn:ietf:params:xml:ns:xmpp-tls"
	tests := []struct {
		name  string
		hdr   string
		in    string
		want  []string
		ns    []string // NamespaceURI of each element; nil: all ""
		noEOF bool     // the input does not close the stream
	}{
		{name: "message", in: `<message to='romeo@example.net' type='chat'><body>hi</body></message>`,
			want: []string{`<message to="romeo@example.net" type="chat"><body>hi</body></message>`}},
		{name: "RFC6120 4.8.2 redundant content namespace is removed", in: `<message xmlns='jabber:client' to='a@b'><body xmlns='jabber:client'>x</body></message>`,
			want: []string{`<message to="a@b"><body>x</body></message>`}},
		{name: "server stream content namespace removed", hdr: hdrServer, in: `<presence xmlns='jabber:server' from='a@example.net' to='b@example.com'/>`,
			want: []string{`<presence from="a@example.net" to="b@example.com"/>`}},
		{name: "other namespace on first level element kept", in: `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
			want: []string{`<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`}, ns: []string{tlsNS}},
		{name: "other content namespace kept", in: `<message xmlns='jabber:server'/>`,
			want: []string{`<message xmlns="jabber:server"/>`}, ns: []string{NSServer}},
		{name: "jabber:client inside an extension is kept", in: `<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='x'/></forwarded></message>`,
			want: []string{`<message><forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" to="x"/></forwarded></message>`}},
		{name: "sasl auth", in: `<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`,
			want: []string{`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`}, ns: []string{"urn:ietf:params:xml:ns:xmpp-sasl"}},
		{name: "stream prefix gets its declaration", in: `<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
			want: []string{`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`}, ns: []string{NSStream}},
		{name: "stream prefix used by a child only", in: `<message><stream:x/></message>`,
			want: []string{`<message xmlns:stream="http://etherx.jabber.org/streams"><stream:x/></message>`}},
		{name: "XEP-0220 db prefix gets its declaration", hdr: hdrServer, in: `<db:result from='example.net' to='example.com'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>`,
			want: []string{`<db:result from="example.net" to="example.com" xmlns:db="jabber:server:dialback">b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>`}, ns: []string{NSDialback}},
		{name: "locally redeclared stream prefix", in: `<stream:x xmlns:stream='urn:other'/>`,
			want: []string{`<stream:x xmlns:stream="urn:other"/>`}, ns: []string{"urn:other"}},
		{name: "RFC6120 4.6.1 whitespace keepalives", in: " \n\t\r\n <presence/>\n\n \t<presence/> ",
			want: []string{`<presence/>`, `<presence/>`}},
		{name: "CDATA becomes text", in: `<message><body>a<![CDATA[<b>&amp;]]]]>c<![CDATA[]]></body></message>`,
			want: []string{`<message><body>a&lt;b&gt;&amp;amp;]]c</body></message>`}},
		{name: "character references", in: `<message><body>&#65;&#x42;&#x1F600;&#x00e9;&#0000009;</body></message>`,
			want: []string{"<message><body>AB\U0001F600\u00e9\t</body></message>"}},
		{name: "predefined entities", in: `<message id='&lt;&gt;&amp;&apos;&quot;'><body>&lt;&gt;&amp;&apos;&quot;</body></message>`,
			want: []string{`<message id="&lt;>&amp;'&quot;"><body>&lt;&gt;&amp;'"</body></message>`}},
		{name: "XML 2.11 line ends", in: "<message><body>a\r\nb\rc\n\r</body></message>",
			want: []string{"<message><body>a\nb\nc\n\n</body></message>"}},
		{name: "XML 3.3.3 attribute normalisation", in: "<message id='a\tb\nc\r\nd\re&#9;&#10;&#13;'/>",
			want: []string{`<message id="a b c d e&#x9;&#xA;&#xD;"/>`}},
		{name: "character reference to CR in text", in: `<message><body>a&#13;b&#xD;</body></message>`,
			want: []string{`<message><body>a&#xD;b&#xD;</body></message>`}},
		{name: "quotes and > in attribute values", in: `<message a="it's" b='say "hi"' c='1>0'/>`,
			want: []string{`<message a="it's" b="say &quot;hi&quot;" c="1>0"/>`}},
		{name: "roster result", in: `<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='v1'><item jid='romeo@example.net' subscription='both'><group>Friends</group></item><item jid='nurse@example.com'/></query></iq>`,
			want: []string{`<iq type="result" id="r1"><query xmlns="jabber:iq:roster" ver="v1"><item jid="romeo@example.net" subscription="both"><group>Friends</group></item><item jid="nurse@example.com"/></query></iq>`}},
		{name: "prefixed extension", in: `<message><x:foo xmlns:x='urn:x' x:attr='1' xml:lang='en'><x:bar/></x:foo></message>`,
			want: []string{`<message><x:foo xmlns:x="urn:x" x:attr="1" xml:lang="en"><x:bar/></x:foo></message>`}},
		{name: "whitespace inside a stanza is kept", in: "<message>\n  <body>hi</body>\n</message>",
			want: []string{"<message>\n  <body>hi</body>\n</message>"}},
		{name: "whitespace inside tags", in: "<presence \n type = 'away' \t/><message\r\n></message\n >",
			want: []string{`<presence type="away"/>`, `<message/>`}},
		{name: "non-ASCII names and text", in: "<message><données clé='valeur'>héllo ☃ \U0001F600</données></message>",
			want: []string{"<message><données clé=\"valeur\">héllo ☃ \U0001F600</données></message>"}},
		{name: "default namespace undeclared", in: `<message><x xmlns=''/></message>`,
			want: []string{`<message><x xmlns=""/></message>`}},
		{name: "empty text sections produce no node", in: `<message><body><![CDATA[]]></body></message>`,
			want: []string{`<message><body/></message>`}},
		{name: "stream closes with whitespace in the end tag", in: `<presence/></stream:stream  >`,
			want: []string{`<presence/>`}},
		{name: "input ends after an element", in: `<presence/>`, want: []string{`<presence/>`}, noEOF: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr
			if hdr == "" {
				hdr = hdrClient
			}
			in := hdr + tc.in
			if !tc.noEOF && !strings.Contains(tc.in, "</stream:stream") {
				in += CloseTag
			}
			for _, mode := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{{"whole", nil}, {"one byte at a time", iotest.OneByteReader}, {"half reads", iotest.HalfReader}} {
				res := decodeString(t, in, Limits{}, mode.wrap)
				if tc.noEOF {
					if !errors.Is(res.err, io.ErrUnexpectedEOF) {
						t.Errorf("%s: err = %v, want io.ErrUnexpectedEOF", mode.name, res.err)
					}
				} else if res.err != io.EOF {
					t.Errorf("%s: err = %v, want io.EOF", mode.name, res.err)
				}
				if strings.Join(res.els, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("%s: got\n%s\nwant\n%s", mode.name, strings.Join(res.els, "\n"), strings.Join(tc.want, "\n"))
				}
				for i, ns := range res.ns {
					want := ""
					if tc.ns != nil {
						want = tc.ns[i]
					}
					if ns != want {
						t.Errorf("%s: element %d: NamespaceURI() = %q, want %q", mode.name, i, ns, want)
					}
				}
			}
		})
	}
}

// TestNextErrors checks that each protocol violation is reported with the
// right stream error condition (RFC 6120 §4.9.3) and a descriptive text,
// whether the input arrives at once or a byte at a time.
func TestNextErrors(t *testing.T) {
	tests := []struct {
		name string
		hdr  string
		in   string
		cond Condition
		text string // substring of the error text
		lim  Limits
	}{
		// RFC 6120 §11.1: restricted XML.
		{name: "comment in stanza", in: `<message><!-- x --><body/></message>`, cond: RestrictedXML, text: "comments"},
		{name: "comment at stream level", in: `<!-- keepalive -->`, cond: RestrictedXML, text: "comments"},
		{name: "processing instruction in stanza", in: `<message><?php echo 1 ?></message>`, cond: RestrictedXML, text: "processing instructions"},
		{name: "processing instruction at stream level", in: `<?foo?>`, cond: RestrictedXML},
		{name: "XML declaration mid-stream", in: `<?xml version='1.0'?>`, cond: RestrictedXML},
		{name: "DOCTYPE at stream level", in: `<!DOCTYPE message>`, cond: RestrictedXML, text: "document type"},
		{name: "DOCTYPE in stanza", in: `<message><!DOCTYPE x></message>`, cond: RestrictedXML},
		{name: "internal entity declaration", in: `<!ENTITY x 'y'>`, cond: RestrictedXML, text: "markup declarations"},
		{name: "element declaration in stanza", in: `<message><!ELEMENT x ANY></message>`, cond: RestrictedXML},
		{name: "external entity reference in text", in: `<message><body>&ext;</body></message>`, cond: RestrictedXML, text: "&ext;"},
		{name: "entity reference in attribute", in: `<message to='&ext;'/>`, cond: RestrictedXML, text: "&ext;"},
		{name: "billion laughs", in: `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`, cond: RestrictedXML},
		{name: "billion laughs reference only", in: `<message><body>&lol9;</body></message>`, cond: RestrictedXML},
		{name: "overlong entity name", in: `<message><body>&` + strings.Repeat("a", 100) + `;</body></message>`, cond: RestrictedXML},
		// XML well-formedness (RFC 6120 §11.3 rule 2).
		{name: "invalid UTF-8 in text", in: "<message><body>\xff</body></message>", cond: UnsupportedEncoding, text: "UTF-8"},
		{name: "invalid UTF-8 in attribute", in: "<message to='\xc3\x28'/>", cond: UnsupportedEncoding, text: "UTF-8"},
		{name: "invalid UTF-8 in name", in: "<mess\xffage/>", cond: UnsupportedEncoding},
		{name: "truncated UTF-8 sequence", in: "<message><body>\xe2\x82x</body></message>", cond: UnsupportedEncoding},
		{name: "UTF-8 encoded surrogate", in: "<message><body>\xed\xa0\x80</body></message>", cond: UnsupportedEncoding},
		{name: "overlong UTF-8", in: "<message><body>\xc0\xbc</body></message>", cond: UnsupportedEncoding},
		{name: "U+FFFE", in: "<message><body>\xef\xbf\xbe</body></message>", cond: NotWellFormed},
		{name: "NUL in text", in: "<message><body>a\x00b</body></message>", cond: NotWellFormed, text: "U+0000"},
		{name: "control character in text", in: "<message><body>\x01</body></message>", cond: NotWellFormed, text: "U+0001"},
		{name: "form feed in attribute", in: "<message to='a\x0cb'/>", cond: NotWellFormed},
		{name: "control character in CDATA", in: "<message><![CDATA[\x1b]]></message>", cond: NotWellFormed},
		{name: "control character at stream level", in: "\x01", cond: BadFormat},
		{name: "character reference to NUL", in: `<message><body>&#0;</body></message>`, cond: NotWellFormed, text: "not an XML character"},
		{name: "character reference to control", in: `<message><body>&#x1;</body></message>`, cond: NotWellFormed},
		{name: "character reference to surrogate", in: `<message><body>&#xD800;</body></message>`, cond: NotWellFormed},
		{name: "character reference to U+FFFF", in: `<message><body>&#xFFFF;</body></message>`, cond: NotWellFormed},
		{name: "character reference out of range", in: `<message><body>&#x110000;</body></message>`, cond: NotWellFormed},
		{name: "huge character reference", in: `<message><body>&#99999999999999999999;</body></message>`, cond: NotWellFormed},
		{name: "empty character reference", in: `<message><body>&#;</body></message>`, cond: NotWellFormed},
		{name: "empty hex character reference", in: `<message><body>&#x;</body></message>`, cond: NotWellFormed},
		{name: "bad digit in character reference", in: `<message><body>&#12a;</body></message>`, cond: NotWellFormed},
		{name: "control character reference in attribute", in: `<message to='&#2;'/>`, cond: NotWellFormed},
		{name: "bare ampersand", in: `<message><body>fish & chips</body></message>`, cond: NotWellFormed, text: "&amp;"},
		{name: "unterminated entity reference", in: `<message><body>&amp chips</body></message>`, cond: NotWellFormed, text: "not terminated"},
		{name: "unterminated reference in attribute", in: `<message to='&amp'/>`, cond: NotWellFormed},
		{name: "]]> in text", in: `<message><body>a]]>b</body></message>`, cond: NotWellFormed, text: "]]>"},
		{name: "mismatched end tag", in: `<message><body></message>`, cond: NotWellFormed, text: "does not match"},
		{name: "end tag prefix mismatch", in: `<message xmlns:a='u' xmlns:b='u'><a:x></b:x></message>`, cond: NotWellFormed},
		{name: "end tag at stream level", in: `</message>`, cond: NotWellFormed, text: "stream:stream"},
		{name: "wrong stream close", in: `</stream:streams>`, cond: NotWellFormed},
		{name: "attribute in end tag", in: `<message></message id='1'>`, cond: NotWellFormed},
		{name: "name starting with a digit", in: `<1message/>`, cond: NotWellFormed},
		{name: "name starting with a hyphen", in: `<message><-x/></message>`, cond: NotWellFormed},
		{name: "two colons in a name", in: `<message a:b:c='1'/>`, cond: NotWellFormed, text: "more than one colon"},
		{name: "leading colon", in: `<:message/>`, cond: NotWellFormed},
		{name: "trailing colon", in: `<message: />`, cond: NotWellFormed},
		{name: "no space between attributes", in: `<message a='1'b='2'/>`, cond: NotWellFormed},
		{name: "< in attribute value", in: `<message a='<'/>`, cond: NotWellFormed, text: "'<'"},
		{name: "unquoted attribute value", in: `<message a=1/>`, cond: NotWellFormed, text: "not quoted"},
		{name: "attribute without value", in: `<message a/>`, cond: NotWellFormed, text: "no value"},
		{name: "slash inside a start tag", in: `<message / >`, cond: NotWellFormed},
		{name: "duplicate attribute", in: `<message id='1' id='2'/>`, cond: NotWellFormed, text: "duplicate attribute id"},
		{name: "duplicate namespace declaration", in: `<message xmlns:a='u' xmlns:a='v'/>`, cond: NotWellFormed},
		{name: "duplicate expanded attribute name", in: `<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>`, cond: NotWellFormed, text: "same namespace"},
		{name: "unknown markup", in: `<message><!foo></message>`, cond: NotWellFormed},
		// Namespace well-formedness (RFC 6120 §11.3 rule 4).
		{name: "RFC6120 4.9.3.13 undeclared element prefix", in: `<message><foo:body>What is this foo?</foo:body></message>`, cond: NotWellFormed, text: `undeclared namespace prefix "foo"`},
		{name: "undeclared first-level prefix", in: `<foo:message/>`, cond: NotWellFormed},
		{name: "undeclared attribute prefix", in: `<message foo:bar='x'/>`, cond: NotWellFormed, text: "foo:bar"},
		{name: "prefix out of scope", in: `<message><a xmlns:p='urn:p'/><p:b/></message>`, cond: NotWellFormed},
		{name: "db prefix undeclared on a client stream", in: `<db:result/>`, cond: NotWellFormed},
		{name: "empty prefixed namespace", in: `<message xmlns:p=''/>`, cond: NotWellFormed, text: "empty namespace"},
		{name: "xmlns prefix declared", in: `<message xmlns:xmlns='urn:x'/>`, cond: NotWellFormed},
		{name: "xml prefix rebound", in: `<message xmlns:xml='urn:x'/>`, cond: NotWellFormed},
		{name: "XML namespace bound to another prefix", in: `<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>`, cond: NotWellFormed},
		{name: "element with the xmlns prefix", in: `<xmlns:message/>`, cond: NotWellFormed},
		// Stream-level rules.
		{name: "text at stream level", in: `hello`, cond: BadFormat, text: "stream level"},
		{name: "text between stanzas", in: `<presence/>x<presence/>`, cond: BadFormat},
		{name: "CDATA at stream level", in: `<![CDATA[x]]>`, cond: BadFormat},
		{name: "RFC6120 4.8.5 prefix for the content namespace", in: `<foo:message xmlns:foo='jabber:client'><foo:body>foo</foo:body></foo:message>`, cond: BadNamespacePrefix},
		{name: "nested prefix for the content namespace", in: `<message><c:body xmlns:c='jabber:client'/></message>`, cond: BadNamespacePrefix},
		{name: "server stream prefix for its content namespace", hdr: hdrServer, in: `<s:iq xmlns:s='jabber:server'/>`, cond: BadNamespacePrefix},
		// Limits.
		{name: "1 MiB stanza", in: `<message><body>` + strings.Repeat("x", 1<<20) + `</body></message>`, cond: PolicyViolation, text: "MaxStanzaBytes"},
		{name: "10000 nested elements", in: strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000), cond: PolicyViolation, text: "element nesting exceeds 64 levels"},
		{name: "1000 attributes", in: `<message` + manyAttrs(1000) + `/>`, cond: PolicyViolation, text: "more than 64 attributes"},
		{name: "1000 namespace declarations", in: `<message` + manyDecls(1000) + `/>`, cond: PolicyViolation, text: "MaxAttrs"},
		{name: "huge name", in: `<message` + strings.Repeat("x", 300<<10) + `/>`, cond: PolicyViolation},
		{name: "huge attribute value", in: `<message a='` + strings.Repeat("x", 300<<10) + `'/>`, cond: PolicyViolation},
		{name: "huge stream close tag", in: `</stream:stream` + strings.Repeat(" ", 300<<10) + `>`, cond: PolicyViolation},
		{name: "custom depth", in: `<a><b><c/></b></a>`, lim: Limits{MaxDepth: 2}, cond: PolicyViolation, text: "exceeds 2 levels"},
		{name: "custom attribute count", in: `<a x='1' y='2' z='3'/>`, lim: Limits{MaxAttrs: 2}, cond: PolicyViolation},
		{name: "custom stanza size", in: `<message>12345</message>`, lim: Limits{MaxStanzaBytes: 23}, cond: PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr
			if hdr == "" {
				hdr = hdrClient
			}
			for _, mode := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{{"whole", nil}, {"one byte at a time", iotest.OneByteReader}} {
				if mode.wrap != nil && len(tc.in) > 1<<16 {
					continue // covered by TestSlowDelivery
				}
				res := decodeString(t, hdr+tc.in+CloseTag, tc.lim, mode.wrap)
				se, ok := AsError(res.err)
				if !ok {
					t.Fatalf("%s: err = %v, want a %s stream error", mode.name, res.err, tc.cond)
				}
				if se.Condition != tc.cond {
					t.Errorf("%s: condition = %s (%s), want %s", mode.name, se.Condition, se.Text, tc.cond)
				}
				if !strings.Contains(se.Text, tc.text) || se.Text == "" {
					t.Errorf("%s: text %q does not mention %q", mode.name, se.Text, tc.text)
				}
				if !strings.Contains(se.Text, "at byte") {
					t.Errorf("%s: text %q does not say where", mode.name, se.Text)
				}
			}
		})
	}
}

func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26%26)))
		b.WriteString("='1'")
	}
	return b.String()
}

func manyDecls(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" xmlns:p")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26%26)))
		b.WriteString("='urn:x'")
	}
	return b.String()
}

// TestLimitBoundaries checks that each limit allows exactly its value.
func TestLimitBoundaries(t *testing.T) {
	stanza := `<message>12345</message>` // 24 bytes
	tests := []struct {
		name string
		in   string
		lim  Limits
		ok   bool
	}{
		{"stanza at the limit", stanza, Limits{MaxStanzaBytes: 24}, true},
		{"stanza one byte over", stanza, Limits{MaxStanzaBytes: 23}, false},
		{"empty element at the limit", `<presence/>`, Limits{MaxStanzaBytes: 11}, true},
		{"empty element over", `<presence/>`, Limits{MaxStanzaBytes: 10}, false},
		{"depth at the limit", `<a><b><c/></b></a>`, Limits{MaxDepth: 3}, true},
		{"depth over", `<a><b><c/></b></a>`, Limits{MaxDepth: 2}, false},
		{"default depth 64", strings.Repeat("<a>", 64) + strings.Repeat("</a>", 64), Limits{}, true},
		{"default depth 65", strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65), Limits{}, false},
		{"attributes at the limit", `<a x='1' y='2'/>`, Limits{MaxAttrs: 2}, true},
		{"attributes over", `<a x='1' y='2' z='3'/>`, Limits{MaxAttrs: 2}, false},
		{"default 64 attributes", `<a` + manyAttrs(64) + `/>`, Limits{}, true},
		{"default 65 attributes", `<a` + manyAttrs(65) + `/>`, Limits{}, false},
		{"stanza of default size", `<a>` + strings.Repeat("x", DefaultMaxStanzaBytes-7) + `</a>`, Limits{}, true},
		{"stanza one byte over default", `<a>` + strings.Repeat("x", DefaultMaxStanzaBytes-6) + `</a>`, Limits{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, wrap := range []func(io.Reader) io.Reader{nil, iotest.HalfReader} {
				res := decodeString(t, hdrClient+tc.in+CloseTag, tc.lim, wrap)
				if tc.ok {
					if res.err != io.EOF || len(res.els) != 1 {
						t.Fatalf("got %d elements, err %v; want 1 element", len(res.els), res.err)
					}
				} else if condition(res.err) != PolicyViolation {
					t.Fatalf("err = %v, want policy-violation", res.err)
				}
			}
		})
	}
}

// TestEndOfInput checks the errors for input that stops early.
func TestEndOfInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"inside an element", `<message><body>hi`, io.ErrUnexpectedEOF},
		{"inside a tag", `<message to='a`, io.ErrUnexpectedEOF},
		{"inside a reference", `<message><body>&am`, io.ErrUnexpectedEOF},
		{"inside the close tag", `</stream:str`, io.ErrUnexpectedEOF},
		{"between elements", `<presence/>  `, io.ErrUnexpectedEOF},
		{"after the close tag", CloseTag, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(hdrClient+tc.in), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			var err error
			for err == nil {
				_, err = d.Next()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == io.EOF && err != io.EOF {
				t.Fatalf("err = %v, want io.EOF itself", err)
			}
			// Errors are sticky.
			if _, err2 := d.Next(); !errors.Is(err2, tc.want) {
				t.Fatalf("second Next: err = %v, want %v", err2, tc.want)
			}
		})
	}
}

// timeoutReader delivers its chunks one per Read, returning errTimeout
// once between any two of them.
type timeoutReader struct {
	chunks []string
	fail   bool
}

var errTimeout = errors.New("i/o timeout")

func (r *timeoutReader) Read(p []byte) (int, error) {
	if r.fail {
		r.fail = false
		return 0, errTimeout
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
		r.fail = true
	}
	return n, nil
}

// TestReadErrorResumes checks that a read error such as a deadline
// timeout in the middle of a stanza is returned wrapped and that calling
// Next again resumes the stanza (a server probing an idle peer with a
// whitespace ping relies on this).
func TestReadErrorResumes(t *testing.T) {
	r := &timeoutReader{chunks: []string{hdrClient, "<message to='a", "@b'><bo", "dy>hi &am", "p; there</body></mess", "age> ", CloseTag}}
	d := NewDecoder(r, Limits{})
	var timeouts int
	for {
		_, err := d.ReadHeader()
		if err == nil {
			break
		}
		if !errors.Is(err, errTimeout) {
			t.Fatal(err)
		}
		timeouts++
	}
	var got []string
	for {
		el, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, errTimeout) {
				t.Fatalf("Next: %v", err)
			}
			if _, ok := AsError(err); ok {
				t.Fatalf("a read error was reported as a stream error: %v", err)
			}
			timeouts++
			continue
		}
		got = append(got, string(AppendElement(nil, el)))
	}
	if want := `<message to="a@b"><body>hi &amp; there</body></message>`; len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want [%q]", got, want)
	}
	if timeouts < 5 {
		t.Fatalf("only %d timeouts seen", timeouts)
	}
}

// TestSlowDelivery delivers large constructs a byte at a time: the work
// must stay linear (a rescan of the whole tag per byte would take hours).
func TestSlowDelivery(t *testing.T) {
	big := strings.Repeat("x", 128<<10)
	tests := []struct {
		name string
		in   string
		want string
		cond Condition
	}{
		{"long attribute value", `<message a='` + big + `'/>`, `<message a="` + big + `"/>`, ""},
		{"long attribute value with quotes and >", `<message a='` + strings.Repeat(`">`, 32<<10) + `'/>`, `<message a="` + strings.Repeat(`&quot;>`, 32<<10) + `"/>`, ""},
		{"long text", `<message><body>` + big + `</body></message>`, `<message><body>` + big + `</body></message>`, ""},
		{"whitespace in an end tag", `<message></message` + strings.Repeat(" ", 128<<10) + `>`, `<message/>`, ""},
		{"many attributes", `<message` + strings.Repeat(" ", 128<<10) + ` a='1'/>`, `<message a="1"/>`, ""},
		{"oversized attribute value", `<message a='` + strings.Repeat("x", 300<<10) + `'/>`, "", PolicyViolation},
		{"oversized close tag", `</stream:stream` + strings.Repeat(" ", 300<<10) + `>`, "", PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := decodeString(t, hdrClient+tc.in+CloseTag, Limits{}, iotest.OneByteReader)
			if tc.cond != "" {
				if condition(res.err) != tc.cond {
					t.Fatalf("err = %v, want %s", res.err, tc.cond)
				}
				return
			}
			if res.err != io.EOF || len(res.els) != 1 || res.els[0] != tc.want {
				t.Fatalf("got %d elements (err %v), want the element", len(res.els), res.err)
			}
		})
	}
}

// TestBufferedAfterStartTLS checks Buffered, which a server uses to detect
// data injected after <starttls/> (RFC 6120 §5.4.3.3).
func TestBufferedAfterStartTLS(t *testing.T) {
	const starttls = `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`
	tests := []struct {
		name     string
		chunks   []string
		buffered int
	}{
		{"nothing after starttls", []string{hdrClient, starttls}, 0},
		{"injected stanza in the same packet", []string{hdrClient, starttls + `<message/>`}, len(`<message/>`)},
		{"injected whitespace", []string{hdrClient, starttls + " "}, 1},
		{"header and starttls in one packet", []string{hdrClient + starttls}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &timeoutReader{chunks: tc.chunks}
			d := NewDecoder(r, Limits{})
			for {
				if _, err := d.ReadHeader(); err == nil {
					break
				} else if !errors.Is(err, errTimeout) {
					t.Fatal(err)
				}
			}
			for {
				el, err := d.Next()
				if errors.Is(err, errTimeout) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if el.Tag != "starttls" {
					t.Fatalf("got <%s>", el.Tag)
				}
				break
			}
			if got := d.Buffered(); got != tc.buffered {
				t.Fatalf("Buffered() = %d, want %d", got, tc.buffered)
			}
		})
	}
}

// TestReset checks the stream restart of RFC 6120 §4.3.3: buffered input
// and state are discarded and a new header is expected.
func TestReset(t *testing.T) {
	d := NewDecoder(strings.NewReader(hdrClient+`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AA==</auth><message/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() == 0 {
		t.Fatal("Buffered() = 0 with <message/> pending")
	}
	if _, err := d.ReadHeader(); err == nil {
		t.Fatal("ReadHeader succeeded twice without Reset")
	}
	d.Reset(strings.NewReader(hdrServer + `<presence from='a@example.net' to='b@example.com'/>`))
	if d.Buffered() != 0 {
		t.Fatalf("Buffered() = %d after Reset", d.Buffered())
	}
	if _, err := d.Next(); err == nil {
		t.Fatal("Next before ReadHeader succeeded")
	}
	h, err := d.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.ContentNS != NSServer || !h.Dialback {
		t.Fatalf("header after Reset: %+v", h)
	}
	el, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if el.Tag != "presence" {
		t.Fatalf("got <%s>, want the presence of the new stream", el.Tag)
	}
	// A sticky error is cleared by Reset too.
	d.Reset(strings.NewReader(hdrClient + `<!-- -->`))
	d.ReadHeader()
	if _, err := d.Next(); condition(err) != RestrictedXML {
		t.Fatalf("err = %v", err)
	}
	d.Reset(strings.NewReader(hdrClient + `<presence/>`))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

// TestIdleMemory checks the memory promise of the package documentation:
// the Decoder is small and holds no pooled state between stanzas.
func TestIdleMemory(t *testing.T) {
	if size := unsafe.Sizeof(Decoder{}); size > 512 {
		t.Errorf("Decoder is %d bytes", size)
	}
	big := `<message><body>` + strings.Repeat("y", 10000) + `</body></message>`
	r := &timeoutReader{chunks: []string{hdrClient, "<presence/>", big, " ", big[:5000], big[5000:] + "<presence/>"}}
	d := NewDecoder(r, Limits{})
	n := 0
	for {
		_, err := d.ReadHeader()
		if err == nil {
			break
		}
		if !errors.Is(err, errTimeout) {
			t.Fatal(err)
		}
	}
	for n < 4 {
		_, err := d.Next()
		if errors.Is(err, errTimeout) {
			if d.Buffered() == 0 && (d.w != nil || !d.inline) {
				t.Fatalf("idle Decoder holds pooled state (w=%v, inline=%v)", d.w != nil, d.inline)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if d.Buffered() == 0 && (d.w != nil || !d.inline) {
			t.Fatalf("after element %d: Decoder holds pooled state with nothing buffered", n)
		}
	}
}

// TestTreeShape checks details of the returned trees that serialisation
// does not show.
func TestTreeShape(t *testing.T) {
	d := NewDecoder(strings.NewReader(hdrClient+`<message to='a'><body>hi</body><x:y xmlns:x='urn:x' x:z='1'/></message>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if el.Parent() != nil || el.Index() != -1 {
		t.Errorf("root: Parent() = %v, Index() = %d; want nil, -1", el.Parent(), el.Index())
	}
	body := el.SelectElement("body")
	if body == nil || body.Text() != "hi" || body.Parent() != el || body.Index() != 0 {
		t.Fatalf("body = %v", body)
	}
	y := el.FindElement("x:y")
	if y == nil || y.Index() != 1 || y.NamespaceURI() != "urn:x" {
		t.Fatalf("x:y = %v", y)
	}
	if a := y.SelectAttr("x:z"); a == nil || a.Element() != y || a.NamespaceURI() != "urn:x" {
		t.Fatalf("x:z = %+v", a)
	}
	// Unprefixed attributes are filled in directly (see Next): they have
	// no namespace and Attr.Element is nil.
	if a := el.SelectAttr("to"); a == nil || a.Value != "a" || a.NamespaceURI() != "" || a.Element() != nil {
		t.Fatalf("to = %+v", a)
	}
	// The tree can be changed without disturbing its neighbours.
	body.CreateAttr("new", "1")
	el.CreateElement("extra")
	if got := string(AppendElement(nil, el)); got != `<message to="a"><body new="1">hi</body><x:y xmlns:x="urn:x" x:z="1"/><extra/></message>` {
		t.Fatalf("after changes: %s", got)
	}
}

// spyReader reports each Read to a callback.
type spyReader struct {
	r  io.Reader
	on func(p []byte)
}

func (s *spyReader) Read(p []byte) (int, error) {
	s.on(p)
	return s.r.Read(p)
}

// TestBufferBound checks that a huge stanza is rejected without being
// buffered whole: the decoder never grows its read buffer past the limit
// plus one read. The buffer it starts from comes from a pool shared with
// every other decoder (here, the package's parallel tests), so it may
// already be larger than that, up to maxPooledBuf; that is memory already
// held, not growth, and the bytes offered to Read are bounded with it.
func TestBufferBound(t *testing.T) {
	for _, max := range []int{DefaultMaxStanzaBytes, 10000} {
		in := hdrClient + `<message><body>` + strings.Repeat("x", 1<<20) + `</body></message>`
		var d *Decoder
		pooled, grown, total := 0, 0, 0
		sr := &spyReader{r: iotest.HalfReader(strings.NewReader(in))}
		sr.on = func(p []byte) {
			if d.w != nil && pooled == 0 {
				pooled = len(d.buf) // what the pool handed out
			}
			if pooled > 0 && len(d.buf) > pooled {
				grown = maxInt(grown, len(d.buf))
			}
			total += len(p)
		}
		d = NewDecoder(sr, Limits{MaxStanzaBytes: max})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		_, err := d.Next()
		if condition(err) != PolicyViolation {
			t.Fatalf("err = %v", err)
		}
		if grown > max+minRead {
			t.Errorf("limit %d: read buffer grew to %d bytes", max, grown)
		}
		if pooled > maxPooledBuf {
			t.Errorf("limit %d: the pool handed out a %d-byte buffer, more than it keeps (%d)", max, pooled, maxPooledBuf)
		}
		if limit := 2*max + len(hdrClient) + maxInt(pooled, workBufSize); total > limit {
			t.Errorf("limit %d: offered %d bytes to Read, more than %d", max, total, limit)
		}
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// TestConcurrentDecoders runs decoders in parallel: they share only the
// pool of scratch state, which must not mix their stanzas up.
func TestConcurrentDecoders(t *testing.T) {
	data, n := benchStream(8)
	want := decodeString(t, string(data), Limits{}, nil)
	if len(want.els) != n {
		t.Fatalf("%d elements, want %d", len(want.els), n)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			res := decodeString(t, string(data), Limits{}, func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 100 + g*37} })
			if res.err != io.EOF || strings.Join(res.els, "") != strings.Join(want.els, "") {
				errs <- errors.New("decoded stream differs")
				return
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
