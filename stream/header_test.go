package stream

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadHeader checks stream header parsing (RFC 6120 §4.7, §4.8, §11.5,
// §11.6): accepted headers and the condition of each rejected one.
func TestReadHeader(t *testing.T) {
	const (
		ns     = ` xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'`
		stream = `<stream:stream to='im.example.com' version='1.0'` + ns + `>`
	)
	tests := []struct {
		name string
		in   string
		want Header
		cond Condition
		text string
	}{
		{name: "RFC6120 4.8.2 client header", in: `<?xml version='1.0'?><stream:stream from='juliet@im.example.com' to='im.example.com' version='1.0' xml:lang='en'` + ns + `>`,
			want: Header{From: "juliet@im.example.com", To: "im.example.com", Version: "1.0", Lang: "en", ContentNS: NSClient}},
		{name: "server header with dialback", in: `<stream:stream xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:server" xmlns:db="jabber:server:dialback" to="example.com" from="example.net" id="abc" version="1.0">`,
			want: Header{To: "example.com", From: "example.net", ID: "abc", Version: "1.0", ContentNS: NSServer, Dialback: true}},
		{name: "no XML declaration, no version", in: `<stream:stream to='a'` + ns + `>`, want: Header{To: "a", ContentNS: NSClient}},
		{name: "XML declaration with encoding and standalone", in: "<?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes' ?>\n" + stream,
			want: Header{To: "im.example.com", Version: "1.0", ContentNS: NSClient}},
		{name: "XML 1.1 declaration", in: `<?xml version='1.1'?>` + stream, want: Header{To: "im.example.com", Version: "1.0", ContentNS: NSClient}},
		{name: "U+FEFF is not a byte order mark (RFC 6120 §11.6)", in: "\xef\xbb\xbf<?xml version='1.0'?>" + stream, cond: NotWellFormed},
		{name: "whitespace before the tag", in: "\r\n  \t" + stream, want: Header{To: "im.example.com", Version: "1.0", ContentNS: NSClient}},
		{name: "escaped attribute values", in: `<stream:stream to='a&amp;b&#x20;c' from="x&#9;y"` + ns + `>`, want: Header{To: "a&b c", From: "x\ty", ContentNS: NSClient}},
		{name: "unknown attributes are ignored", in: `<stream:stream foo='bar' stream:x='1'` + ns + `>`, want: Header{ContentNS: NSClient}},
		{name: "XML namespace declared is an extra declaration", in: `<stream:stream xmlns:xml='http://www.w3.org/XML/1998/namespace'` + ns + `>`, cond: InvalidNamespace},

		{name: "RFC6120 4.9.3.22 UTF-16 declared", in: `<?xml version='1.0' encoding='UTF-16'?>` + stream, cond: UnsupportedEncoding, text: "UTF-16"},
		{name: "Latin-1 declared", in: `<?xml version="1.0" encoding="ISO-8859-1"?>` + stream, cond: UnsupportedEncoding},
		{name: "UTF-16 BE byte order mark", in: "\xfe\xff\x00<", cond: UnsupportedEncoding},
		{name: "UTF-16 LE byte order mark", in: "\xff\xfe<\x00", cond: UnsupportedEncoding},
		{name: "UTF-32 byte order mark", in: "\x00\x00\xfe\xff", cond: UnsupportedEncoding},
		{name: "UTF-16 without byte order mark", in: "<\x00?\x00x\x00m\x00l\x00", cond: UnsupportedEncoding},
		{name: "RFC6120 11.5 standalone no", in: `<?xml version='1.0' standalone='no'?>` + stream, cond: RestrictedXML},
		{name: "XML declaration not first", in: ` <?xml version='1.0'?>` + stream, cond: NotWellFormed},
		{name: "XML declaration without version", in: `<?xml encoding='UTF-8'?>` + stream, cond: NotWellFormed},
		{name: "XML declaration version 2.0", in: `<?xml version='2.0'?>` + stream, cond: NotWellFormed},
		{name: "XML declaration fields out of order", in: `<?xml version='1.0' standalone='yes' encoding='UTF-8'?>` + stream, cond: NotWellFormed},
		{name: "malformed XML declaration", in: `<?xml version='1.0'>` + stream, cond: NotWellFormed},
		{name: "bad encoding name", in: `<?xml version='1.0' encoding='#'?>` + stream, cond: NotWellFormed},
		{name: "DOCTYPE before the header", in: `<!DOCTYPE stream>` + stream, cond: RestrictedXML},
		{name: "comment before the header", in: `<!-- hi -->` + stream, cond: RestrictedXML},
		{name: "processing instruction before the header", in: `<?xml-stylesheet href='a'?>` + stream, cond: RestrictedXML},
		{name: "text before the header", in: "GET / HTTP/1.1\r\n", cond: NotWellFormed},
		{name: "CDATA before the header", in: `<![CDATA[x]]>`, cond: NotWellFormed},
		{name: "end tag first", in: `</stream:stream>`, cond: NotWellFormed},

		{name: "RFC6120 4.9.3.10 wrong stream namespace", in: `<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.namespace.example.org/'>`, cond: InvalidNamespace, text: "stream namespace"},
		{name: "undeclared stream prefix", in: `<stream:stream xmlns='jabber:client'>`, cond: InvalidNamespace},
		{name: "RFC6120 4.9.3.2 foobar prefix", in: `<foobar:stream xmlns='jabber:client' xmlns:foobar='http://etherx.jabber.org/streams'>`, cond: BadNamespacePrefix, text: "foobar"},
		{name: "prefix-free stream header", in: `<stream xmlns='http://etherx.jabber.org/streams'>`, cond: BadNamespacePrefix},
		{name: "no content namespace", in: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, cond: InvalidNamespace, text: "content namespace"},
		{name: "unsupported content namespace", in: `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>`, cond: InvalidNamespace},
		{name: "stream namespace as default", in: `<stream:stream xmlns='http://etherx.jabber.org/streams' xmlns:stream='http://etherx.jabber.org/streams'>`, cond: InvalidNamespace},
		{name: "RFC6120 4.8.5 extra namespace in header", in: `<stream:stream` + ns + ` xmlns:roster='jabber:iq:roster'>`, cond: InvalidNamespace, text: "roster"},
		{name: "db prefix with another namespace", in: `<stream:stream` + ns + ` xmlns:db='urn:other'>`, cond: InvalidNamespace},
		{name: "stanza instead of a header", in: `<message to='a'/>`, cond: InvalidNamespace},
		{name: "other element of the stream namespace", in: `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>`, cond: BadFormat},
		{name: "empty stream element", in: `<stream:stream` + ns + `/>`, cond: BadFormat},
		{name: "undeclared attribute prefix", in: `<stream:stream foo:to='a'` + ns + `>`, cond: NotWellFormed},
		{name: "db attribute without db declaration", in: `<stream:stream db:x='a'` + ns + `>`, cond: NotWellFormed},
		{name: "duplicate attribute", in: `<stream:stream to='a' to='b'` + ns + `>`, cond: NotWellFormed, text: "duplicate"},
		{name: "xmlns prefix declared", in: `<stream:stream xmlns:xmlns='urn:x'` + ns + `>`, cond: NotWellFormed},
		{name: "invalid UTF-8", in: "<stream:stream to='\xff'" + ns + `>`, cond: UnsupportedEncoding},
		{name: "restricted entity", in: `<stream:stream to='&foo;'` + ns + `>`, cond: RestrictedXML},
		{name: "oversized header", in: `<stream:stream to='` + strings.Repeat("a", 9000) + `'` + ns + `>`, cond: PolicyViolation, text: "MaxHeaderBytes"},
		{name: "oversized whitespace before the header", in: strings.Repeat(" ", 9000) + stream, cond: PolicyViolation},
		{name: "too many header attributes", in: `<stream:stream` + manyAttrs(100) + ns + `>`, cond: PolicyViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{{"whole", nil}, {"one byte at a time", iotest.OneByteReader}} {
				var r io.Reader = strings.NewReader(tc.in)
				if mode.wrap != nil {
					r = mode.wrap(r)
				}
				d := NewDecoder(r, Limits{})
				h, err := d.ReadHeader()
				if tc.cond == "" {
					if err != nil {
						t.Fatalf("%s: %v", mode.name, err)
					}
					if h != tc.want {
						t.Fatalf("%s: got %+v, want %+v", mode.name, h, tc.want)
					}
					continue
				}
				se, ok := AsError(err)
				if !ok {
					t.Fatalf("%s: err = %v, want %s", mode.name, err, tc.cond)
				}
				if se.Condition != tc.cond || !strings.Contains(se.Text, tc.text) {
					t.Fatalf("%s: got %s %q, want %s mentioning %q", mode.name, se.Condition, se.Text, tc.cond, tc.text)
				}
				if _, err := d.ReadHeader(); !errors.Is(err, se) {
					t.Fatalf("%s: the error is not sticky: %v", mode.name, err)
				}
			}
		})
	}
}

// TestReadHeaderEndOfInput checks the end-of-input errors of ReadHeader.
func TestReadHeaderEndOfInput(t *testing.T) {
	d := NewDecoder(strings.NewReader(""), Limits{})
	if _, err := d.ReadHeader(); !errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("empty input: err = %v, want io.EOF", err)
	}
	d = NewDecoder(strings.NewReader("<?xml version='1.0'?><stream:str"), Limits{})
	if _, err := d.ReadHeader(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated header: err = %v, want io.ErrUnexpectedEOF", err)
	}
	d = NewDecoder(strings.NewReader("<a"), Limits{})
	if _, err := d.ReadHeader(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("two bytes: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestHeaderBytes checks the rendered header and that ReadHeader reads it
// back unchanged.
func TestHeaderBytes(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want string
	}{
		{"client response", Header{From: "im.example.com", ID: "++TR84Sm6A3hnt3Q065SnAbbk3Y=", To: "juliet@im.example.com", Version: "1.0", Lang: "en", ContentNS: NSClient},
			`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='juliet@im.example.com' from='im.example.com' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' version='1.0' xml:lang='en'>`},
		{"server with dialback", Header{To: "example.net", From: "example.com", ContentNS: NSServer, Dialback: true},
			`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='example.net' from='example.com'>`},
		{"empty header defaults to jabber:client", Header{},
			`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`},
		{"values are escaped", Header{To: "a'b\"c<d>&e\tf\ng\rh", ContentNS: NSClient},
			`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a&apos;b&quot;c&lt;d&gt;&amp;e&#x9;f&#xA;g&#xD;h'>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.h.Bytes()
			if string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s", b, tc.want)
			}
			h, err := NewDecoder(strings.NewReader(string(b)), Limits{}).ReadHeader()
			if err != nil {
				t.Fatal(err)
			}
			want := tc.h
			if want.ContentNS == "" {
				want.ContentNS = NSClient
			}
			if h != want {
				t.Fatalf("read back %+v, want %+v", h, want)
			}
		})
	}
}
