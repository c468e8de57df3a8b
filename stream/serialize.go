package stream

import (
	"unicode/utf8"

	"github.com/beevik/etree"
)

// escTable says, for each byte, what to write instead of it: "" to copy
// the byte, "u" to validate the UTF-8 sequence it starts, or the
// replacement text.
type escTable [256]string

// Escape tables. An entry is the replacement for the byte; bytes >= 0x80
// are marked "u" and validated as UTF-8.
var (
	// escText escapes character data: & < > (so "]]>" cannot appear) and
	// CR, which would otherwise be read back as LF (XML §2.11).
	escText = makeEscTable(map[byte]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '\r': "&#xD;"})
	// escAttr escapes an attribute value in double quotes; tab, LF and CR
	// become character references so that attribute-value normalisation
	// (XML §3.3.3) gives them back.
	escAttr = makeEscTable(map[byte]string{'&': "&amp;", '<': "&lt;", '"': "&quot;",
		'\t': "&#x9;", '\n': "&#xA;", '\r': "&#xD;"})
	// escAttrSingle escapes an attribute value in single quotes.
	escAttrSingle = makeEscTable(map[byte]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '\'': "&apos;", '"': "&quot;",
		'\t': "&#x9;", '\n': "&#xA;", '\r': "&#xD;"})
)

// makeEscTable builds an escape table: the given replacements, U+FFFD for
// the control characters XML cannot carry, and "u" (validate) for bytes
// >= 0x80.
func makeEscTable(m map[byte]string) (t escTable) {
	for c := 0; c < 0x20; c++ {
		if c != '\t' && c != '\n' && c != '\r' {
			t[c] = "\uFFFD"
		}
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = "u"
	}
	for c, r := range m {
		t[c] = r
	}
	return t
}

// appendEscaped appends s to b, escaped with t. Characters that XML cannot
// carry at all (control characters, invalid UTF-8, U+FFFE, U+FFFF) are
// written as U+FFFD so that the output is always well-formed.
func appendEscaped(b []byte, s string, t *escTable) []byte {
	last := 0
	for i := 0; i < len(s); {
		r := t[s[i]]
		if r == "" {
			i++
			continue
		}
		if r == "u" {
			c, n := utf8.DecodeRuneInString(s[i:])
			if (c != utf8.RuneError || n > 1) && c != 0xFFFE && c != 0xFFFF {
				i += n
				continue
			}
			r = "\uFFFD"
			b = append(b, s[last:i]...)
			b = append(b, r...)
			i += n
			last = i
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, r...)
		i++
		last = i
	}
	return append(b, s[last:]...)
}

// appendName appends a qualified name.
func appendName(b []byte, space, local string) []byte {
	if space != "" {
		b = append(b, space...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// AppendElement appends the serialisation of el and its subtree to buf and
// returns the extended buffer. It allocates nothing beyond growing buf.
//
// Text is escaped (&, <, >, and CR as &#xD;), attribute values are written
// in double quotes with &, <, " and tab, LF and CR escaped, so that parsing
// the output yields the same tree. Characters that XML cannot carry are
// replaced by U+FFFD. Comments, processing instructions and directives in
// the tree are omitted, as they are restricted XML (RFC 6120 §11.1); CDATA
// sections are written as escaped text. Namespace declarations are written
// as the attributes they are: el must carry the ones it needs (elements
// returned by [Decoder.Next] do).
func AppendElement(buf []byte, el *etree.Element) []byte {
	buf = append(buf, '<')
	buf = appendName(buf, el.Space, el.Tag)
	for i := range el.Attr {
		a := &el.Attr[i]
		buf = append(buf, ' ')
		buf = appendName(buf, a.Space, a.Key)
		buf = append(buf, '=', '"')
		buf = appendEscaped(buf, a.Value, &escAttr)
		buf = append(buf, '"')
	}
	if len(el.Child) == 0 {
		return append(buf, '/', '>')
	}
	buf = append(buf, '>')
	for _, c := range el.Child {
		switch t := c.(type) {
		case *etree.Element:
			buf = AppendElement(buf, t)
		case *etree.CharData:
			buf = appendEscaped(buf, t.Data, &escText)
		}
	}
	buf = append(buf, '<', '/')
	buf = appendName(buf, el.Space, el.Tag)
	return append(buf, '>')
}
