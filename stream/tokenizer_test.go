package stream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNameRunes checks the NameStartChar and NameChar productions of XML
// 1.0 (fifth edition) §2.3 at the edges of their ranges.
func TestNameRunes(t *testing.T) {
	tests := []struct {
		r           rune
		start, name bool
	}{
		{0xB7, false, true}, {0xC0, true, true}, {0xD7, false, false}, {0xD8, true, true},
		{0xF7, false, false}, {0xF8, true, true}, {0x2FF, true, true}, {0x300, false, true},
		{0x36F, false, true}, {0x370, true, true}, {0x37D, true, true}, {0x37E, false, false},
		{0x37F, true, true}, {0x1FFF, true, true}, {0x2000, false, false}, {0x200C, true, true},
		{0x200D, true, true}, {0x200E, false, false}, {0x203F, false, true}, {0x2040, false, true},
		{0x2070, true, true}, {0x218F, true, true}, {0x2190, false, false}, {0x2C00, true, true},
		{0x2FEF, true, true}, {0x2FF0, false, false}, {0x3000, false, false}, {0x3001, true, true},
		{0xD7FF, true, true}, {0xF8FF, false, false}, {0xF900, true, true}, {0xFDCF, true, true},
		{0xFDD0, false, false}, {0xFDF0, true, true}, {0xFFFD, true, true}, {0xFFFE, false, false},
		{0x10000, true, true}, {0xEFFFF, true, true}, {0xF0000, false, false}, {0xA0, false, false},
	}
	for _, tc := range tests {
		if got := isNameStartRune(tc.r); got != tc.start {
			t.Errorf("isNameStartRune(U+%04X) = %v", tc.r, got)
		}
		if got := isNameRune(tc.r); got != tc.name {
			t.Errorf("isNameRune(U+%04X) = %v", tc.r, got)
		}
	}
}

// TestNames checks names as the decoder sees them.
func TestNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"_a-b.c9", true}, {"ä", true}, {"a·b", true}, {"·a", false}, {"a\u0300", true}, {"\u0300a", false},
		{"Ͱ\U00010000", true}, {"\U000F0000", false}, {"a\u2190", false}, {"x:\u00e9", true}, {"x:-", false},
		{"a\xe2\x82", false}, {"\xe2\x82", false},
	}
	for _, tc := range tests {
		in := "<" + tc.name + "/>"
		if strings.Contains(tc.name, ":") {
			in = "<" + tc.name + " xmlns:x='urn:x'/>"
		}
		res := decodeString(t, hdrClient+in+CloseTag, Limits{}, nil)
		if ok := res.err.Error() == "EOF"; ok != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.name, res.err, tc.ok)
		} else if want := nameCondition(tc.name); !ok && condition(res.err) != want {
			t.Errorf("%q: err = %v, want %s", tc.name, res.err, want)
		}
	}
}

// nameCondition is the error a bad name gets: bytes that are not UTF-8
// are unsupported-encoding (RFC 6120 §11.6), bad characters not-well-formed.
func nameCondition(name string) Condition {
	if !utf8.ValidString(name) {
		return UnsupportedEncoding
	}
	return NotWellFormed
}

// TestCDATA checks CDATA sections in detail (XML §2.7).
func TestCDATA(t *testing.T) {
	tests := []struct {
		in   string
		want string // serialised body, or the error condition
	}{
		{"<![CDATA[a\r\nb\rc]x]]y]]]>", "<body>a\nb\nc]x]]y]</body>"},
		{"<![CDATA[é☃\U0001F600]]>", "<body>é☃\U0001F600</body>"},
		{"x<![CDATA[]]]]><![CDATA[>]]>y", "<body>x]]&gt;y</body>"},
		{"<![CDATA[\xff]]>", string(UnsupportedEncoding)},
		{"<![CDATA[\xef\xbf\xbf]]>", string(NotWellFormed)},
		{"<![CDATA[\x00]]>", string(NotWellFormed)},
		{"<![CDATA[<!-- not a comment --><?pi?>&ext;]]>", "<body>&lt;!-- not a comment --&gt;&lt;?pi?&gt;&amp;ext;</body>"},
		{"<![CDAT[x]]>", string(NotWellFormed)},
	}
	for _, tc := range tests {
		for _, n := range []int{1, 2, 3, 1000} {
			r := &chunkReader{r: strings.NewReader(hdrClient + "<body>" + tc.in + "</body>" + CloseTag), n: n}
			d := NewDecoder(r, Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			el, err := d.Next()
			got := ""
			if err != nil {
				got = string(condition(err))
			} else {
				got = string(AppendElement(nil, el))
			}
			if got != tc.want {
				t.Errorf("%q in reads of %d: got %s, want %s", tc.in, n, got, tc.want)
			}
		}
	}
}

// TestSkipAttr checks the eight-bytes-at-a-time scan of attribute values
// against the byte-at-a-time definition on pseudo-random input.
func TestSkipAttr(t *testing.T) {
	alphabet := []byte("ab \t\n\r!\"#$%&'()<>=/\x00\x1f\x7f\x80\xc3\xa9\xff")
	seed := uint32(1)
	next := func() uint32 { seed = seed*1664525 + 1013904223; return seed >> 8 }
	for range 20000 {
		b := make([]byte, next()%40)
		for i := range b {
			if next()%4 == 0 {
				b[i] = alphabet[next()%uint32(len(alphabet))]
			} else {
				b[i] = byte('a' + next()%26)
			}
		}
		start := 0
		if len(b) > 0 {
			start = int(next() % uint32(len(b)))
		}
		want := start
		for want < len(b) && charClass[b[want]]&cAttr == 0 {
			want++
		}
		if got := skipAttr(b, start); got != want {
			t.Fatalf("skipAttr(%q, %d) = %d, want %d", b, start, got, want)
		}
	}
}
