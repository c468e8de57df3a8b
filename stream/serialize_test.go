package stream

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// TestAppendElement checks the serialisation of trees built with etree's
// own API, including values that need escaping.
func TestAppendElement(t *testing.T) {
	tests := []struct {
		name  string
		build func() *etree.Element
		want  string
		back  string // serialisation after reading want back, if not want
	}{
		{"empty element", func() *etree.Element { return etree.NewElement("presence") }, `<presence/>`, ""},
		{"attributes and text", func() *etree.Element {
			e := etree.NewElement("message")
			e.CreateAttr("to", "juliet@example.com")
			e.CreateAttr("type", "chat")
			e.CreateElement("body").SetText("hi")
			return e
		}, `<message to="juliet@example.com" type="chat"><body>hi</body></message>`, ""},
		{"text escaping", func() *etree.Element {
			e := etree.NewElement("body")
			e.SetText("a<b>c&d]]>e\"f'g\rh\ti\nj")
			return e
		}, "<body>a&lt;b&gt;c&amp;d]]&gt;e\"f'g&#xD;h\ti\nj</body>", ""},
		{"attribute escaping", func() *etree.Element {
			e := etree.NewElement("x")
			e.CreateAttr("v", "a<b>c&d\"e'f\tg\nh\ri")
			return e
		}, `<x v="a&lt;b>c&amp;d&quot;e'f&#x9;g&#xA;h&#xD;i"/>`, ""},
		{"characters XML cannot carry", func() *etree.Element {
			e := etree.NewElement("x")
			e.CreateAttr("v", "a\x00b\xffc")
			e.SetText("\x01\xef\xbf\xbe\xed\xa0\x80ok")
			return e
		}, "<x v=\"a\uFFFDb\uFFFDc\">\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDok</x>", ""},
		{"non-ASCII kept", func() *etree.Element {
			e := etree.NewElement("x")
			e.SetText("héllo ☃ \U0001F600")
			return e
		}, "<x>héllo ☃ \U0001F600</x>", ""},
		{"prefixes", func() *etree.Element {
			e := etree.NewElement("stream:error")
			e.CreateAttr("xmlns:stream", NSStream)
			e.CreateElement("conflict").CreateAttr("xmlns", NSStreamErrors)
			return e
		}, `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`, ""},
		{"RFC6120 11.1 restricted children are omitted, CDATA is text", func() *etree.Element {
			e := etree.NewElement("x")
			e.CreateComment("secret")
			e.CreateProcInst("php", "x")
			e.CreateDirective("DOCTYPE x")
			e.CreateCData("<a>")
			return e
		}, `<x>&lt;a&gt;</x>`, ""},
		{"only omitted children", func() *etree.Element {
			e := etree.NewElement("x")
			e.CreateComment("secret")
			return e
		}, `<x></x>`, `<x/>`},
		{"stanza error reply", func() *etree.Element {
			return NewStanzaError(ItemNotFound, "no such item").Element()
		}, `<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">no such item</text></error>`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el := tc.build()
			got := string(AppendElement([]byte("prefix:"), el))
			if got != "prefix:"+tc.want {
				t.Fatalf("got  %s\nwant prefix:%s", got, tc.want)
			}
			// What we write, we read back.
			back := reparse(t, hdrClient, el)
			wantBack := tc.back
			if wantBack == "" {
				wantBack = tc.want
			}
			if got2 := string(AppendElement(nil, back)); got2 != wantBack {
				t.Fatalf("read back as %s", got2)
			}
		})
	}
}

// TestAppendElementRoundTrip checks that parse → AppendElement → parse
// yields the same tree, for the benchmark stanzas and the framing tests.
func TestAppendElementRoundTrip(t *testing.T) {
	inputs := append([]string{}, benchStanzas...)
	inputs = append(inputs,
		"<message>\n <body a='&#9;&#10;&#13;x'>a&#13;b&amp;c&lt;d]]&gt;<![CDATA[<&>]]></body>\n</message>",
		`<stream:error><x xmlns='urn:x' xml:lang='en'/></stream:error>`,
		`<message><x:a xmlns:x='urn:x' x:b='1'><x:c xmlns:x='urn:y'/></x:a><d xmlns=''/></message>`,
	)
	for _, in := range inputs {
		res := decodeString(t, hdrClient+in+CloseTag, Limits{}, nil)
		if res.err.Error() != "EOF" || len(res.els) != 1 {
			t.Fatalf("%s: %v", in, res.err)
		}
		d := NewDecoder(strings.NewReader(hdrClient+in), Limits{})
		d.ReadHeader()
		el, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		back := reparse(t, hdrClient, el)
		if diff := treeDiff(el, back); diff != "" {
			t.Errorf("%s: round trip differs: %s", in, diff)
		}
		if s1, s2 := AppendElement(nil, el), AppendElement(nil, back); string(s1) != string(s2) {
			t.Errorf("serialisations differ:\n%s\n%s", s1, s2)
		}
	}
}

// TestAppendElementAllocs checks that serialisation allocates nothing
// once the buffer is large enough.
func TestAppendElementAllocs(t *testing.T) {
	data, _ := benchStream(1)
	els := decodeAll(t, data)
	buf := make([]byte, 0, 64<<10)
	allocs := testing.AllocsPerRun(100, func() {
		buf = buf[:0]
		for _, el := range els {
			buf = AppendElement(buf, el)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendElement allocated %v times per run", allocs)
	}
}

// TestDecodeAllocs checks that framing a stanza costs a handful of
// allocations whatever its size (see the package documentation).
func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under the race detector (sync.Pool drops items at random)")
	}
	big := `<message><body>` + strings.Repeat("lorem ipsum ", 2000) + `</body>` + strings.Repeat(`<x xmlns='urn:x' a='1'>t</x>`, 50) + `</message>`
	for _, in := range append([]string{big}, benchStanzas...) {
		data := []byte(hdrClient + strings.Repeat(in, 20))
		r := strings.NewReader("")
		d := NewDecoder(r, Limits{})
		allocs := testing.AllocsPerRun(10, func() {
			r.Reset(string(data))
			d.Reset(r)
			d.ReadHeader()
			for range 20 {
				if _, err := d.Next(); err != nil {
					t.Fatal(err)
				}
			}
		})
		// Five per stanza (string, elements, attributes, text nodes, child
		// lists) and some slack for the header and pooled buffers.
		if perStanza := allocs / 20; perStanza > 6 {
			t.Errorf("%.40s...: %.1f allocations per stanza", in, perStanza)
		}
	}
}
