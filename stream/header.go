package stream

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// CloseTag is the closing stream tag (RFC 6120 §4.4).
const CloseTag = "</stream:stream>"

// Header is a parsed stream header: the attributes and namespace
// declarations of the opening <stream:stream> tag (RFC 6120 §4.7, §4.8).
type Header struct {
	// To, From, ID, Version and Lang are the 'to', 'from', 'id',
	// 'version' and 'xml:lang' attributes, empty when absent (RFC 6120
	// §4.7.1-§4.7.5). ReadHeader does not judge them.
	To, From, ID, Version, Lang string
	// ContentNS is the default namespace: NSClient or NSServer.
	ContentNS string
	// Dialback reports that the header declared
	// xmlns:db='jabber:server:dialback' (XEP-0220).
	Dialback bool
}

// Bytes renders an opening stream header: the XML declaration
// <?xml version='1.0'?> (RFC 6120 §11.5), then <stream:stream> declaring
// xmlns=ContentNS (NSClient if empty), xmlns:stream=NSStream, xmlns:db when
// Dialback is set, and those of to, from, id, version and xml:lang that
// are not empty, with their values escaped.
func (h Header) Bytes() []byte {
	ns := h.ContentNS
	if ns == "" {
		ns = NSClient
	}
	b := make([]byte, 0, 160+len(ns)+len(h.To)+len(h.From)+len(h.ID)+len(h.Version)+len(h.Lang))
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='"...)
	b = appendEscaped(b, ns, &escAttrSingle)
	b = append(b, "' xmlns:stream='"+NSStream+"'"...)
	if h.Dialback {
		b = append(b, " xmlns:db='"+NSDialback+"'"...)
	}
	for _, a := range [...]struct{ k, v string }{
		{"to", h.To}, {"from", h.From}, {"id", h.ID}, {"version", h.Version}, {"xml:lang", h.Lang},
	} {
		if a.v == "" {
			continue
		}
		b = append(b, ' ')
		b = append(b, a.k...)
		b = append(b, '=', '\'')
		b = appendEscaped(b, a.v, &escAttrSingle)
		b = append(b, '\'')
	}
	return append(b, '>')
}

// ReadHeader reads the start of a stream: an optional UTF-8 byte order
// mark, an optional XML declaration and the opening <stream:stream> tag
// (RFC 6120 §4.7, §4.8, §11.5, §11.6). It enforces the namespace rules of
// RFC 6120 §4.8 but does not judge the values of 'to' or 'version': the
// caller answers host-unknown or unsupported-version.
//
// Errors are as for [Decoder.Next]; an end of input before any byte was
// read wraps io.EOF, one after some bytes wraps io.ErrUnexpectedEOF.
func (d *Decoder) ReadHeader() (Header, error) {
	if d.err != nil {
		return Header{}, d.err
	}
	if d.state != stHeader {
		return Header{}, errors.New("stream: ReadHeader called again without Reset")
	}
	for {
		h, err := d.header()
		if err == nil {
			d.state = stStream
			d.settle()
			return h, nil
		}
		if err != errMore {
			return Header{}, d.fail(err)
		}
		if d.base+int64(d.end) >= int64(d.lim.MaxHeaderBytes) {
			return Header{}, d.fail(errHeaderSize(d.lim.MaxHeaderBytes))
		}
		if err := d.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				if d.base+int64(d.end) == 0 {
					return Header{}, d.fail(fmt.Errorf("stream: input ended before the stream header: %w", io.EOF))
				}
				return Header{}, d.fail(fmt.Errorf("stream: input ended inside the stream header: %w", io.ErrUnexpectedEOF))
			}
			return Header{}, fmt.Errorf("stream: read: %w", err)
		}
	}
}

// maxDeclBytes bounds the XML declaration.
const maxDeclBytes = 256

// errHeaderSize reports a stream header over the limit.
func errHeaderSize(limit int) error {
	return Errorf(PolicyViolation, "stream header exceeds %d bytes (MaxHeaderBytes)", limit)
}

// header advances through the header phases; it returns errMore when it
// needs more input.
func (d *Decoder) header() (Header, error) {
	for {
		b := d.view(0, int(int64(d.lim.MaxHeaderBytes)-d.base))
		i := d.pos
		switch d.hstate {
		case hsStart:
			if len(b)-i < 4 {
				return Header{}, errMore
			}
			switch {
			case b[i] == 0xEF && b[i+1] == 0xBB && b[i+2] == 0xBF:
				// RFC 6120 §11.6: U+FEFF is a zero width no-break space,
				// never a byte order mark, and no text may precede the
				// stream header.
				return Header{}, Errorf(NotWellFormed, "U+FEFF before the stream header: it is not a byte order mark in XMPP (RFC 6120 §11.6)")
			case b[i] == 0xFE && b[i+1] == 0xFF, b[i] == 0xFF && b[i+1] == 0xFE:
				return Header{}, Errorf(UnsupportedEncoding, "UTF-16 byte order mark: XMPP streams must be UTF-8 (RFC 6120 §11.6)")
			case b[i] == 0 && b[i+1] == 0 && b[i+2] == 0xFE && b[i+3] == 0xFF:
				return Header{}, Errorf(UnsupportedEncoding, "UTF-32 byte order mark: XMPP streams must be UTF-8 (RFC 6120 §11.6)")
			case b[i] == 0 || b[i+1] == 0:
				return Header{}, Errorf(UnsupportedEncoding, "NUL byte at the start of the stream (UTF-16 or UTF-32?): XMPP streams must be UTF-8 (RFC 6120 §11.6)")
			}
			d.hstate = hsDecl
		case hsDecl:
			switch hasPrefixOrMore(b[i:], "<?xml") {
			case -1:
				return Header{}, errMore
			case 0:
				d.hstate = hsMisc
				continue
			}
			if i+5 >= len(b) {
				return Header{}, errMore
			}
			if !isSpace(b[i+5]) {
				d.hstate = hsMisc
				continue
			}
			// The declaration is short; one split across reads is scanned
			// again from its start, in bounded time.
			db := b
			if len(db) > i+maxDeclBytes {
				db = db[:i+maxDeclBytes]
			}
			end, err := scanXMLDecl(db, i)
			if err == errMore {
				if len(db) < len(b) {
					err = Errorf(NotWellFormed, "XML declaration longer than %d bytes", maxDeclBytes)
					return Header{}, d.locate(err, i)
				}
				return Header{}, err
			}
			if err != nil {
				return Header{}, d.locate(err, i)
			}
			d.pos = end
			d.hstate = hsMisc
		case hsMisc:
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			d.pos = i
			if i >= len(b) {
				return Header{}, errMore
			}
			if b[i] != '<' {
				return Header{}, d.locate(Errorf(NotWellFormed, "text before the stream header"), i)
			}
			if i+1 >= len(b) {
				return Header{}, errMore
			}
			switch b[i+1] {
			case '?':
				switch hasPrefixOrMore(b[i:], "<?xml") {
				case -1:
					return Header{}, errMore
				case 1:
					if i+5 >= len(b) {
						return Header{}, errMore
					}
					if isSpace(b[i+5]) || b[i+5] == '?' {
						return Header{}, d.locate(Errorf(NotWellFormed, "the XML declaration must be at the very start of the stream"), i)
					}
				}
				return Header{}, d.locate(markupError(b, i), i)
			case '!':
				err := markupError(b, i)
				switch err {
				case errMore:
					return Header{}, err
				case errCDATA:
					err = Errorf(NotWellFormed, "CDATA section before the stream header")
				}
				return Header{}, d.locate(err, i)
			case '/':
				return Header{}, d.locate(Errorf(NotWellFormed, "end tag before the stream header"), i)
			}
			d.hstate = hsTag
		case hsTag:
			w := d.acquire()
			if w.inTag != tagStart {
				w.stag.reset(0)
				w.attrs = w.attrs[:0]
				w.inTag = tagStart
			}
			// Offsets are relative to the tag's '<', at d.pos.
			attrs, err := scanStartTag(b, i, &w.stag, w.attrs, max(d.lim.MaxAttrs, DefaultMaxAttrs))
			w.attrs = attrs
			if err == errMore {
				return Header{}, err
			}
			w.inTag = tagNone
			if err != nil {
				return Header{}, d.locate(err, i)
			}
			t := &w.stag
			if d.base+int64(i+t.end) > int64(d.lim.MaxHeaderBytes) {
				return Header{}, errHeaderSize(d.lim.MaxHeaderBytes)
			}
			h, err := d.headerTag(b[i:], t, attrs)
			if err != nil {
				return Header{}, d.locate(err, i)
			}
			d.pos = i + t.end
			return h, nil
		}
	}
}

// headerTag checks the stream tag against RFC 6120 §4.7-4.8 and returns
// the header it describes.
// b starts at the tag's '<': the offsets in t and attrs are relative to it.
func (d *Decoder) headerTag(b []byte, t *startTag, attrs []attrRec) (Header, error) {
	name := b[t.nameLo:t.nameHi]
	for k := range attrs {
		a := &attrs[k]
		if a.decode {
			hi, err := decodeAttrValue(b, int(a.valLo), int(a.valHi))
			if err != nil {
				return Header{}, err
			}
			a.valHi = int32(hi)
		}
		for m := range k {
			if string(b[attrs[m].nameLo:attrs[m].nameHi]) == string(b[a.nameLo:a.nameHi]) {
				return Header{}, Errorf(NotWellFormed, "duplicate attribute %s on <%s>", b[a.nameLo:a.nameHi], name)
			}
		}
	}
	// Namespace declarations.
	var (
		defNS, streamNS, dbNS    []byte
		hasDef, hasStream, hasDB bool
		other                    []byte // the first other prefix declared
		otherNS                  []byte
	)
	for k := range attrs {
		a := &attrs[k]
		v := b[a.valLo:a.valHi]
		switch {
		case a.colon < 0 && string(b[a.nameLo:a.nameHi]) == "xmlns":
			if string(v) == NSXML || string(v) == nsXMLNS {
				return Header{}, Errorf(NotWellFormed, "%s cannot be the default namespace", v)
			}
			defNS, hasDef = v, true
		case a.colon >= 0 && string(b[a.nameLo:a.colon]) == "xmlns":
			p := b[a.colon+1 : a.nameHi]
			if err := checkDecl(p, v); err != nil {
				return Header{}, err
			}
			switch string(p) {
			case "stream":
				streamNS, hasStream = v, true
			case "db":
				dbNS, hasDB = v, true
			default:
				if other == nil {
					other, otherNS = p, v
				}
			}
		}
	}
	// The element itself: <stream:stream xmlns:stream='...'> (§4.8.1, §4.8.5).
	prefix, local := []byte(nil), name
	if t.nameColon >= 0 {
		prefix, local = b[t.nameLo:t.nameColon], b[t.nameColon+1:t.nameHi]
	}
	var ns []byte
	bound := false
	switch {
	case prefix == nil:
		ns, bound = defNS, hasDef && len(defNS) > 0
	case string(prefix) == "stream":
		ns, bound = streamNS, hasStream
	case string(prefix) == "db":
		ns, bound = dbNS, hasDB
	case string(prefix) == "xml":
		ns, bound = []byte(NSXML), true
	case other != nil && string(prefix) == string(other):
		ns, bound = otherNS, true
	}
	if !bound || string(ns) != NSStream {
		return Header{}, Errorf(InvalidNamespace, "the stream header <%s> is not qualified by the stream namespace %s (RFC 6120 §4.8.1)", name, NSStream)
	}
	if string(local) != "stream" {
		return Header{}, Errorf(BadFormat, "the first element must be <stream:stream>, not <%s>", name)
	}
	if string(prefix) != "stream" {
		return Header{}, Errorf(BadNamespacePrefix, "the stream namespace must use the prefix 'stream', not %q (RFC 6120 §4.8.5)", prefix)
	}
	if other != nil {
		return Header{}, Errorf(InvalidNamespace, "the stream header declares the prefix %q; only xmlns, xmlns:stream and xmlns:db may be declared there (RFC 6120 §4.8.5)", other)
	}
	var h Header
	switch {
	case !hasDef:
		return Header{}, Errorf(InvalidNamespace, "the stream header declares no content namespace (xmlns='%s' or '%s')", NSClient, NSServer)
	case string(defNS) == NSClient:
		h.ContentNS = NSClient
	case string(defNS) == NSServer:
		h.ContentNS = NSServer
	default:
		return Header{}, Errorf(InvalidNamespace, "unsupported content namespace %q (RFC 6120 §4.8.3)", defNS)
	}
	if hasDB {
		if string(dbNS) != NSDialback {
			return Header{}, Errorf(InvalidNamespace, "the prefix db is declared as %q, not %s (XEP-0220)", dbNS, NSDialback)
		}
		h.Dialback = true
	}
	for k := range attrs {
		a := &attrs[k]
		if a.colon < 0 {
			continue
		}
		switch p := b[a.nameLo:a.colon]; string(p) {
		case "xmlns", "xml":
		case "stream":
		case "db":
			if !hasDB {
				return Header{}, Errorf(NotWellFormed, "attribute %s of <%s> uses the undeclared namespace prefix %q (RFC 6120 §11.3)", b[a.nameLo:a.nameHi], name, p)
			}
		default:
			return Header{}, Errorf(NotWellFormed, "attribute %s of <%s> uses the undeclared namespace prefix %q (RFC 6120 §11.3)", b[a.nameLo:a.nameHi], name, p)
		}
	}
	if t.empty {
		return Header{}, Errorf(BadFormat, "the stream header must not be an empty element")
	}
	for k := range attrs {
		a := &attrs[k]
		v := b[a.valLo:a.valHi]
		switch string(b[a.nameLo:a.nameHi]) {
		case "to":
			h.To = string(v)
		case "from":
			h.From = string(v)
		case "id":
			h.ID = string(v)
		case "version":
			h.Version = string(v)
		case "xml:lang":
			h.Lang = string(v)
		}
	}
	d.contentNS, d.dialback = h.ContentNS, h.Dialback
	return h, nil
}

// scanXMLDecl parses the XML declaration at b[i] (XML §2.8 XMLDecl): a
// version, then an optional encoding, which must be UTF-8 (RFC 6120
// §11.6), then an optional standalone declaration, which must not be 'no'
// (RFC 6120 §11.5). It returns the index after "?>".
func scanXMLDecl(b []byte, i int) (int, error) {
	j := i + len("<?xml")
	seen := 0 // 1: version, 2: encoding, 3: standalone
	for {
		ws := j
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) {
			return 0, errMore
		}
		if b[j] == '?' {
			if j+1 >= len(b) {
				return 0, errMore
			}
			if b[j+1] != '>' || seen == 0 {
				return 0, Errorf(NotWellFormed, "malformed XML declaration")
			}
			return j + 2, nil
		}
		if j == ws {
			return 0, Errorf(NotWellFormed, "malformed XML declaration")
		}
		k := j
		for k < len(b) && k-j < 16 && b[k] >= 'a' && b[k] <= 'z' {
			k++
		}
		if k >= len(b) {
			return 0, errMore
		}
		var field int
		switch string(b[j:k]) {
		case "version":
			field = 1
		case "encoding":
			field = 2
		case "standalone":
			field = 3
		}
		if field == 0 || field <= seen || seen == 0 && field != 1 {
			return 0, Errorf(NotWellFormed, "malformed XML declaration: unexpected %q", b[j:k])
		}
		seen = field
		j = k
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) {
			return 0, errMore
		}
		if b[j] != '=' {
			return 0, Errorf(NotWellFormed, "malformed XML declaration")
		}
		j++
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) {
			return 0, errMore
		}
		q := b[j]
		if q != '\'' && q != '"' {
			return 0, Errorf(NotWellFormed, "malformed XML declaration: unquoted value")
		}
		j++
		lo := j
		for j < len(b) && b[j] != q {
			j++
		}
		if j >= len(b) {
			return 0, errMore
		}
		v := string(b[lo:j])
		j++
		switch field {
		case 1:
			if len(v) < 3 || v[:2] != "1." || strings.Trim(v[2:], "0123456789") != "" {
				return 0, Errorf(NotWellFormed, "unsupported XML version %q (RFC 6120 §11.8)", v)
			}
		case 2:
			if !isEncName(v) {
				return 0, Errorf(NotWellFormed, "malformed encoding name %q", v)
			}
			if !strings.EqualFold(v, "UTF-8") {
				return 0, Errorf(UnsupportedEncoding, "encoding %q declared: XMPP streams must be UTF-8 (RFC 6120 §11.6)", v)
			}
		case 3:
			switch v {
			case "yes":
			case "no":
				return 0, Errorf(RestrictedXML, "standalone='no' is not allowed (RFC 6120 §11.5)")
			default:
				return 0, Errorf(NotWellFormed, "malformed standalone declaration %q", v)
			}
		}
	}
}

// isEncName reports whether s matches the EncName production (XML §4.3.3).
func isEncName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return s != ""
}
