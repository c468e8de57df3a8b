package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// errMore is returned by the scanning functions when the buffered input
// ends before the construct being scanned does. It never leaves the
// package: the Decoder reads more input and retries.
var errMore = errors.New("stream: need more input")

// Byte classes used by the scanning loops (one table look-up per byte).
const (
	cNameStart = 1 << iota // ASCII NameStartChar other than ':' (XML §2.3)
	cName                  // ASCII NameChar other than ':'
	cSpace                 // XML S production: space, tab, LF, CR
	cText                  // needs a closer look in character data
	cAttr                  // needs a closer look in an attribute value
	cCDATA                 // needs a closer look inside a CDATA section
)

// charClass maps every byte to its classes. Bytes >= 0x80 belong to no
// name class (names with them take the slow path) and need a closer look
// everywhere (UTF-8 validation).
var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		var v uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
			v |= cNameStart | cName
		case c >= '0' && c <= '9', c == '-', c == '.':
			v |= cName
		case c == ' ', c == '\t', c == '\n', c == '\r':
			v |= cSpace
		}
		if c < 0x20 && c != '\t' && c != '\n' || c == '\r' || c >= 0x80 {
			v |= cText | cAttr | cCDATA
		}
		switch c {
		case '<', '&', ']':
			v |= cText
		}
		switch c {
		case '<', '&', '\'', '"', '\t', '\n':
			v |= cAttr
		}
		if c == ']' {
			v |= cCDATA
		}
		t[c] = v
	}
	return t
}()

// SWAR (SIMD within a register) helpers: skipAttr tests eight bytes at a
// time for bytes that need a closer look, and falls back to the charClass
// table only at a candidate. (Text runs in stanzas are mostly short; a
// plain table loop measured faster for them.) In each mask the lowest set bit
// always marks a genuine match (a borrow only propagates upwards), so
// jumping to it never skips a byte that matters.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// swarEq flags the bytes of x equal to c.
func swarEq(x uint64, c byte) uint64 {
	v := x ^ (swarLo * uint64(c))
	return (v - swarLo) &^ v & swarHi
}

// skipAttr returns the index of the first byte at or after j that is
// special in an attribute value (class cAttr), or len(b).
func skipAttr(b []byte, j int) int {
	for {
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			// Bytes below 0x28 cover the controls, '"', '&' and '\''
			// (and a few harmless ones, checked below); bytes from 0x80
			// start UTF-8 sequences.
			if m := (x-swarLo*0x28)&^x&swarHi | x&swarHi | swarEq(x, '<'); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j+8 > len(b) {
			for j < len(b) && charClass[b[j]]&cAttr == 0 {
				j++
			}
			return j
		}
		if charClass[b[j]]&cAttr != 0 {
			return j
		}
		j++
	}
}

// isSpace reports whether c is XML whitespace (the S production).
func isSpace(c byte) bool { return charClass[c]&cSpace != 0 }

// isChar reports whether r is allowed by the XML Char production (XML §2.2).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r < 0xD800:
		return true
	case r < 0xE000:
		return false
	case r < 0xFFFE:
		return true
	case r < 0x10000:
		return false
	default:
		return r <= 0x10FFFF
	}
}

// isNameStartRune reports whether the non-ASCII rune r may start an XML
// name (the NameStartChar production of XML §2.3).
func isNameStartRune(r rune) bool {
	switch {
	case r < 0xC0:
		return false
	case r <= 0x2FF:
		return r != 0xD7 && r != 0xF7
	case r < 0x370:
		return false
	case r <= 0x1FFF:
		return r != 0x37E
	case r < 0x200C:
		return false
	case r <= 0x200D:
		return true
	case r < 0x2070:
		return false
	case r <= 0x218F:
		return true
	case r < 0x2C00:
		return false
	case r <= 0x2FEF:
		return true
	case r < 0x3001:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xF900:
		return false
	case r <= 0xFDCF:
		return true
	case r < 0xFDF0:
		return false
	case r <= 0xFFFD:
		return true
	case r < 0x10000:
		return false
	default:
		return r <= 0xEFFFF
	}
}

// isNameRune reports whether the non-ASCII rune r may appear in an XML name
// after its first character (NameChar, XML §2.3).
func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040
}

// checkRune validates the UTF-8 sequence starting at b[i] (b[i] >= 0x80)
// and returns its length. It returns errMore if b ends inside a sequence
// that could still be valid.
func checkRune(b []byte, i int) (int, error) {
	if !utf8.FullRune(b[i:]) {
		return 0, errMore
	}
	r, n := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError && n == 1 {
		// RFC 6120 §11.6: data that is not UTF-8 is unsupported-encoding.
		return 0, Errorf(UnsupportedEncoding, "invalid UTF-8 byte 0x%02X: XMPP streams must be UTF-8 (RFC 6120 §11.6)", b[i])
	}
	if !isChar(r) {
		return 0, Errorf(NotWellFormed, "character U+%04X is not allowed in XML", r)
	}
	return n, nil
}

// controlError reports a byte below 0x20 (other than tab, LF, CR) in the
// input: such characters are outside the XML Char production (XML §2.2).
func controlError(c byte, where string) error {
	return Errorf(NotWellFormed, "control character U+%04X in %s is not allowed in XML", c, where)
}

// scanName continues scanning an XML qualified name (XML Namespaces §4:
// NCName or NCName ':' NCName) that starts at b[lo]. j is where to go on
// from and colon the index of the colon seen so far (-1 if none). It
// returns the index just past the name and its colon; with errMore it
// returns the state to resume from once more input has arrived, so that a
// long name delivered in pieces is scanned once.
func scanName(b []byte, lo, j, colon int) (int, int, error) {
	for {
		if j == lo || colon >= 0 && j == colon+1 {
			// An NCName starts here.
			if j >= len(b) {
				return j, colon, errMore
			}
			c := b[j]
			if c < utf8.RuneSelf {
				if charClass[c]&cNameStart == 0 {
					if j == lo {
						return j, colon, Errorf(NotWellFormed, "invalid character %q at the start of a name", rune(c))
					}
					return j, colon, Errorf(NotWellFormed, "invalid character %q after ':' in name %q", rune(c), b[lo:j])
				}
				j++
			} else {
				if !utf8.FullRune(b[j:]) {
					return j, colon, errMore
				}
				r, n := utf8.DecodeRune(b[j:])
				if r == utf8.RuneError && n == 1 {
					return j, colon, Errorf(UnsupportedEncoding, "invalid UTF-8 byte 0x%02X in a name: XMPP streams must be UTF-8 (RFC 6120 §11.6)", c)
				}
				if !isNameStartRune(r) {
					return j, colon, Errorf(NotWellFormed, "character U+%04X cannot start a name", r)
				}
				j += n
			}
		}
		for j < len(b) && charClass[b[j]]&cName != 0 {
			j++
		}
		if j >= len(b) {
			return j, colon, errMore
		}
		c := b[j]
		switch {
		case c == ':':
			if colon >= 0 {
				return j, colon, Errorf(NotWellFormed, "name %q has more than one colon", b[lo:j+1])
			}
			colon = j
			j++
		case c >= utf8.RuneSelf:
			if !utf8.FullRune(b[j:]) {
				return j, colon, errMore
			}
			r, n := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && n == 1 {
				return j, colon, Errorf(UnsupportedEncoding, "invalid UTF-8 byte 0x%02X in a name: XMPP streams must be UTF-8 (RFC 6120 §11.6)", c)
			}
			if !isNameRune(r) {
				return j, colon, Errorf(NotWellFormed, "character U+%04X is not allowed in a name", r)
			}
			j += n
		default:
			return j, colon, nil
		}
	}
}

// maxRefLen bounds a character or entity reference, '&' and ';' included,
// so that a reference split across reads is rescanned in bounded time.
const maxRefLen = 32

// scanRef decodes the reference starting at b[i] == '&' (XML §4.1). It
// returns the character it stands for and the reference's length. Only
// the five predefined entities and numeric character references denoting
// an XML Char are accepted; any other entity reference is restricted XML
// (RFC 6120 §11.1) and is never expanded. It returns errMore if b ends
// before the reference does.
func scanRef(b []byte, i int) (rune, int, error) {
	j := i + 1
	if j >= len(b) {
		return 0, 0, errMore
	}
	if b[j] == '#' {
		j++
		base := rune(10)
		if j < len(b) && b[j] == 'x' {
			base = 16
			j++
		}
		var v rune
		digits := 0
		for {
			if j-i >= maxRefLen {
				return 0, 0, Errorf(NotWellFormed, "character reference %q is too long", b[i:j])
			}
			if j >= len(b) {
				return 0, 0, errMore
			}
			c := b[j]
			if c == ';' {
				break
			}
			var d rune
			switch {
			case c >= '0' && c <= '9':
				d = rune(c - '0')
			case base == 16 && c >= 'a' && c <= 'f':
				d = rune(c-'a') + 10
			case base == 16 && c >= 'A' && c <= 'F':
				d = rune(c-'A') + 10
			default:
				return 0, 0, Errorf(NotWellFormed, "malformed character reference %q", b[i:j+1])
			}
			v = v*base + d
			if v > utf8.MaxRune {
				return 0, 0, Errorf(NotWellFormed, "character reference %q is out of range", b[i:j+1])
			}
			digits++
			j++
		}
		if digits == 0 {
			return 0, 0, Errorf(NotWellFormed, "malformed character reference %q", b[i:j+1])
		}
		if !isChar(v) {
			return 0, 0, Errorf(NotWellFormed, "character reference %q denotes U+%04X, which is not an XML character", b[i:j+1], v)
		}
		return v, j + 1 - i, nil
	}
	c := b[j]
	if c < utf8.RuneSelf && charClass[c]&cNameStart == 0 {
		return 0, 0, Errorf(NotWellFormed, "'&' not followed by a reference (write it as &amp;)")
	}
	k := j
	for k < len(b) && k-i < maxRefLen && (charClass[b[k]]&(cName) != 0 || b[k] == ':' || b[k] >= utf8.RuneSelf) {
		k++
	}
	if k-i >= maxRefLen {
		return 0, 0, Errorf(RestrictedXML, "entity reference %q... is not allowed: only the five predefined entities may be used (RFC 6120 §11.1)", b[i:min(k, i+16)])
	}
	if k >= len(b) {
		return 0, 0, errMore
	}
	if b[k] != ';' {
		return 0, 0, Errorf(NotWellFormed, "entity reference %q is not terminated by ';'", b[i:k])
	}
	var r rune
	switch string(b[j:k]) {
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "amp":
		r = '&'
	case "apos":
		r = '\''
	case "quot":
		r = '"'
	default:
		return 0, 0, Errorf(RestrictedXML, "entity reference %q is not allowed: only the five predefined entities may be used (RFC 6120 §11.1)", b[i:k+1])
	}
	return r, k + 1 - i, nil
}

// grow extends s by one element, whose old contents the caller overwrites.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	return append(s, *new(T))
}

// putRune writes r at b[o] and returns the index after it.
func putRune(b []byte, o int, r rune) int {
	if r < utf8.RuneSelf {
		b[o] = byte(r)
		return o + 1
	}
	return o + utf8.EncodeRune(b[o:], r)
}

// decodeAttrValue decodes, in place, the attribute value b[lo:hi] whose
// characters were already validated: references are replaced by the
// characters they stand for, line ends are normalised (XML §2.11) and
// literal whitespace becomes a space (XML §3.3.3). Decoding never grows
// the text, so it is done in the input buffer. It returns the new end.
func decodeAttrValue(b []byte, lo, hi int) (int, error) {
	v := b[:hi]
	o := lo
	for i := lo; i < hi; {
		c := v[i]
		switch c {
		case '&':
			r, n, err := scanRef(v, i)
			if err == errMore {
				return 0, Errorf(NotWellFormed, "reference %q in attribute value is not terminated by ';'", v[i:])
			}
			if err != nil {
				return 0, err
			}
			o = putRune(v, o, r)
			i += n
			continue
		case '\t', '\n':
			c = ' '
		case '\r':
			c = ' '
			if i+1 < hi && v[i+1] == '\n' {
				i++
			}
		}
		v[o] = c
		o++
		i++
	}
	return o, nil
}

// hasPrefixOrMore reports whether b starts with p (1), cannot start with
// it (0), or is a proper prefix of it so that more input is needed (-1).
func hasPrefixOrMore(b []byte, p string) int {
	n := min(len(b), len(p))
	if string(b[:n]) != p[:n] {
		return 0
	}
	if n < len(p) {
		return -1
	}
	return 1
}

// attrRec is one attribute of a start tag. Offsets are relative to the
// base passed to scanStartTag (the stanza's first byte), so that they stay
// valid when the buffer moves.
type attrRec struct {
	nameLo, colon, nameHi int32 // qualified name; colon < 0 if unprefixed
	valLo, valHi          int32 // value, decoded in place once the tag is complete
	ns                    int32 // lookup result for the prefix (see nsNone)
	decode                bool  // the value holds '&' or literal tab, LF or CR
	drop                  bool  // a redundant declaration of the content namespace
}

// Phases of a start tag scan.
const (
	phName     uint8 = iota // the element name
	phSpace                 // whitespace after the name or an attribute
	phSlash                 // after '/', expecting '>'
	phAttrName              // an attribute name
	phEq                    // whitespace, then '='
	phQuote                 // whitespace, then the opening quote
	phValue                 // an attribute value
)

// startTag is a start tag being scanned, and once done the parsed tag. It
// records where the scan stopped, so that a tag split across reads is
// resumed rather than scanned again: a tag delivered a byte at a time
// costs linear time. Offsets are relative to the base given to
// scanStartTag, so they stay valid when the buffer moves.
type startTag struct {
	phase             uint8
	q                 byte // quote of the value being scanned
	decode            bool // the value being scanned needs decoding
	empty             bool // an empty-element tag (<x/>)
	prefixed          bool // some attribute has a prefix
	xmlns             bool // some attribute is named xmlns
	n                 int  // attributes so far
	j                 int  // where to resume
	lo, colon         int  // the name being scanned: start and colon (-1: none)
	wsLo              int  // where the current whitespace run began
	aLo, aColon, aHi  int  // the attribute name of the value being scanned
	valLo             int  // the value being scanned
	nameLo, nameColon int  // the element name
	nameHi            int
	end               int // index after '>'
}

// reset prepares t for the tag whose '<' is at base+at. (The fields it
// leaves are set before they are read.)
func (t *startTag) reset(at int) {
	t.phase, t.j, t.lo, t.colon, t.n = phName, at+1, at+1, -1, 0
	t.empty, t.prefixed, t.xmlns = false, false, false
}

// scanStartTag scans a start tag, set up with reset, from where it last
// stopped, without changing b. Its attributes are appended to attrs with
// offsets relative to base. It returns errMore if b ends first; call it
// again with the same state once more input is buffered. maxAttrs bounds
// the attributes.
func scanStartTag(b []byte, base int, t *startTag, attrs []attrRec, maxAttrs int) ([]attrRec, error) {
	j := base + t.j
	for {
		switch t.phase {
		case phName, phAttrName:
			// Fast path: an ASCII name without a prefix, complete in b.
			lo := base + t.lo
			end := j
			if end == lo && end < len(b) && charClass[b[end]]&cNameStart != 0 {
				end++
				for end < len(b) && charClass[b[end]]&cName != 0 {
					end++
				}
			}
			if end == j || end >= len(b) || b[end] == ':' || b[end] >= utf8.RuneSelf {
				colon := -1
				if t.colon >= 0 {
					colon = base + t.colon
				}
				var err error
				end, colon, err = scanName(b, lo, j, colon)
				t.colon = -1
				if colon >= 0 {
					t.colon = colon - base
				}
				if err != nil {
					t.j = end - base
					return attrs, err
				}
			}
			j = end
			if t.phase == phName {
				t.nameLo, t.nameColon, t.nameHi = t.lo, t.colon, end-base
				t.wsLo, t.phase = end-base, phSpace
				continue
			}
			t.aLo, t.aColon, t.aHi = t.lo, t.colon, end-base
			if t.colon >= 0 {
				t.prefixed = true
			} else if end-lo == 5 && string(b[lo:end]) == "xmlns" {
				t.xmlns = true
			}
			// Fast path: ='value' right after the name.
			if end+1 < len(b) && b[end] == '=' && (b[end+1] == '\'' || b[end+1] == '"') {
				j = end + 2
				t.q, t.valLo, t.decode, t.phase = b[end+1], j-base, false, phValue
				continue
			}
			t.phase = phEq
		case phSpace:
			for j < len(b) && charClass[b[j]]&cSpace != 0 {
				j++
			}
			if j >= len(b) {
				t.j = j - base
				return attrs, errMore
			}
			switch b[j] {
			case '>':
				t.end = j + 1 - base
				return attrs, nil
			case '/':
				t.phase = phSlash
				j++
				continue
			}
			if j == base+t.wsLo {
				return attrs, Errorf(NotWellFormed, "unexpected %s in start tag <%s>", quoteByte(b[j]), b[base+t.nameLo:base+t.nameHi])
			}
			if t.n >= maxAttrs {
				return attrs, Errorf(PolicyViolation, "element <%s> has more than %d attributes (MaxAttrs)", b[base+t.nameLo:base+t.nameHi], maxAttrs)
			}
			t.n++
			t.lo, t.colon, t.phase = j-base, -1, phAttrName
		case phSlash:
			if j >= len(b) {
				t.j = j - base
				return attrs, errMore
			}
			if b[j] != '>' {
				return attrs, Errorf(NotWellFormed, "'/' not followed by '>' in start tag <%s>", b[base+t.nameLo:base+t.nameHi])
			}
			t.end, t.empty = j+1-base, true
			return attrs, nil
		case phEq, phQuote:
			for j < len(b) && charClass[b[j]]&cSpace != 0 {
				j++
			}
			if j >= len(b) {
				t.j = j - base
				return attrs, errMore
			}
			c := b[j]
			if t.phase == phEq {
				if c != '=' {
					return attrs, Errorf(NotWellFormed, "attribute %s of <%s> has no value", b[base+t.aLo:base+t.aHi], b[base+t.nameLo:base+t.nameHi])
				}
				j++
				t.phase = phQuote
				continue
			}
			if c != '\'' && c != '"' {
				return attrs, Errorf(NotWellFormed, "value of attribute %s of <%s> is not quoted", b[base+t.aLo:base+t.aHi], b[base+t.nameLo:base+t.nameHi])
			}
			j++
			t.q, t.valLo, t.decode, t.phase = c, j-base, false, phValue
		case phValue:
			q := t.q
			for {
				j = skipAttr(b, j)
				if j >= len(b) {
					t.j = j - base
					return attrs, errMore
				}
				c := b[j]
				if c == q {
					break
				}
				switch {
				case c == '\'' || c == '"':
					j++
				case c == '&' || c == '\t' || c == '\n' || c == '\r':
					t.decode = true
					j++
				case c == '<':
					return attrs, Errorf(NotWellFormed, "'<' in the value of attribute %s of <%s>", b[base+t.aLo:base+t.aHi], b[base+t.nameLo:base+t.nameHi])
				case c < 0x20:
					return attrs, controlError(c, "an attribute value")
				default:
					n, err := checkRune(b, j)
					if err != nil {
						t.j = j - base
						return attrs, err
					}
					j += n
				}
			}
			// Field by field into the slice: building the struct on the
			// stack and copying it stalls on store forwarding.
			attrs = grow(attrs)
			a := &attrs[len(attrs)-1]
			a.nameLo, a.colon, a.nameHi = int32(t.aLo), int32(t.aColon), int32(t.aHi)
			a.valLo, a.valHi, a.ns = int32(t.valLo), int32(j-base), nsNone
			a.decode, a.drop = t.decode, false
			j++
			t.wsLo, t.phase = j-base, phSpace
		}
	}
}

// scanEndTag scans the end tag whose "</" is at b[i] and which must close
// the element named name, going on from j (i+2 at first). It returns the
// index after '>'; with errMore it returns where to resume.
func scanEndTag(b []byte, i, j int, name []byte) (int, error) {
	lo := i + 2
	for ; j < lo+len(name); j++ {
		if j >= len(b) {
			return j, errMore
		}
		if b[j] != name[j-lo] {
			return j, Errorf(NotWellFormed, "end tag </%s...> does not match start tag <%s>", b[lo:j+1], name)
		}
	}
	for j < len(b) && charClass[b[j]]&cSpace != 0 {
		j++
	}
	if j >= len(b) {
		return j, errMore
	}
	if b[j] != '>' {
		if j == lo+len(name) {
			return j, Errorf(NotWellFormed, "end tag </%s%c...> does not match start tag <%s>", name, b[j], name)
		}
		return j, Errorf(NotWellFormed, "unexpected %s in end tag </%s>", quoteByte(b[j]), name)
	}
	return j + 1, nil
}

// quoteByte describes a byte for an error message.
func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return fmt.Sprintf("character %q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02X", c)
}
