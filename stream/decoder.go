package stream

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/beevik/etree"
)

// Buffer sizes. An idle Decoder reads into its inline buffer; a larger one
// is borrowed from workPool only while a stanza is in flight.
const (
	smallBufSize = 256      // inline buffer, read into while idle
	workBufSize  = 4 << 10  // initial size of a pooled read buffer
	minRead      = 512      // least free space offered to one Read
	maxPooledBuf = 64 << 10 // larger buffers are dropped, not pooled
	maxPooledLen = 1 << 12  // scratch slices longer than this are dropped
)

// minCloseTagBytes is how long </stream:stream> with whitespace may be
// even if MaxStanzaBytes is smaller.
const minCloseTagBytes = 64

// workPool holds the per-stanza scratch state (read buffer, event list,
// element stack) so that idle Decoders do not keep it. It is the only
// package-level variable that changes, and sync.Pool is safe for
// concurrent use.
var workPool = sync.Pool{New: func() any { return new(work) }}

type decoderState uint8

const (
	stHeader decoderState = iota // expecting the stream header
	stStream                     // between or inside first-level elements
	stClosed                     // </stream:stream> was read
)

// Header parsing phases.
const (
	hsStart uint8 = iota // byte order mark / encoding detection
	hsDecl               // optional XML declaration
	hsMisc               // whitespace before the stream tag
	hsTag                // the <stream:stream> start tag
)

// Decoder reads an XMPP stream (RFC 6120 §4): the stream header, then one
// first-level element at a time. It is not safe for concurrent use.
//
// A Decoder holds only a small inline buffer while idle; see the package
// documentation for how memory is used.
type Decoder struct {
	r    io.Reader
	buf  []byte // d.small[:] (inline) or d.w.buf
	pos  int    // first byte not yet consumed
	end  int    // end of the bytes read
	base int64  // stream offset of buf[0], for error messages and the header limit
	w    *work  // scratch state; nil when idle
	err  error  // sticky: a stream error or an unexpected end of input
	rerr error  // read error held back while the bytes that came with it are used

	lim       Limits
	contentNS string // NSClient or NSServer once the header is read
	dialback  bool   // the header declared xmlns:db

	closeJ int // where to resume the closing stream tag, relative to pos; 0: not started
	state  decoderState
	hstate uint8
	inline bool // buf is the inline buffer

	small [smallBufSize]byte
}

// work is the scratch state of a Decoder while a stanza is in flight. It
// is borrowed from workPool and given back when the input buffer drains.
type work struct {
	buf []byte // read buffer once the inline one is too small

	st    int   // index in buf of the first-level element's '<'; -1 if none in flight
	stEnd int   // index after its final '>' once complete
	r     int   // scan position
	mode  uint8 // what is being scanned at r
	depth int

	textLo, textW int // text run: decoded bytes are buf[textLo:textW]; textLo < 0 if none

	inTag uint8    // a tag whose scan is to be resumed (tagStart, tagEnd) or tagNone
	stag  startTag // the start tag being scanned (offsets relative to st)
	a0    int      // len(attrs) when the start tag began
	endJ  int      // where to resume the end tag, relative to st

	used              uint8 // header-declared prefixes used (usedStream, usedDB)
	nEl, nText, nAttr int   // totals for the tree to build

	stack  []frame
	ns     []nsBind
	events []event
	attrs  []attrRec
	bstack []*etree.Element

	// tmp is a parent that build attaches the root to and detaches it
	// from, which leaves the root's index at -1 as for etree.NewElement
	// without allocating the root on its own.
	tmp      etree.Element
	tmpChild [1]etree.Token
}

// Tags being scanned (work.inTag).
const (
	tagNone uint8 = iota
	tagStart
	tagEnd
)

// Scan modes.
const (
	modeTag   uint8 = iota // at a '<'
	modeText               // in character data
	modeCDATA              // inside a CDATA section
)

// Header-declared prefixes a stanza uses (work.used).
const (
	usedStream uint8 = 1 << iota
	usedDB
)

// Results of resolving a namespace prefix: an index into work.ns, or one
// of these.
const (
	nsXML    = -1 // the 'xml' prefix, bound by definition
	nsStream = -2 // 'stream', declared in the stream header
	nsDB     = -3 // 'db', declared in the stream header
	nsNone   = -4 // undeclared
	nsDecl   = -5 // the attribute is a namespace declaration (xmlns:p)
)

// Event kinds.
const (
	evStart uint8 = iota
	evText
	evEnd
)

// event is one node of the stanza being scanned. Offsets are relative to
// work.st; they stay valid when the buffer moves.
type event struct {
	kind          uint8
	lo, colon, hi int32 // element name (colon < 0 if unprefixed) or text
	a0, a1        int32 // the element's attributes: work.attrs[a0:a1]
	nchild        int32 // child nodes (elements and text runs)
}

// frame is an open element.
type frame struct {
	ev             int32 // index of its start event
	nameLo, nameHi int32 // qualified name, relative to work.st
	ns             int32 // len(work.ns) before its declarations
	defContent     bool  // the default namespace in scope is the content namespace
}

// nsBind is a prefix declared inside the stanza (relative offsets).
type nsBind struct {
	pLo, pHi, uLo, uHi int32
}

// NewDecoder returns a Decoder reading from r with the given limits (zero
// fields take the defaults). Call [Decoder.ReadHeader] first.
//
// Cancellation works through r: closing the underlying connection, or
// setting a read deadline on it, makes a blocked ReadHeader or Next return.
// A read error other than the end of input is not sticky: after a timeout
// the call can be repeated and resumes where it stopped.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.withDefaults()}
	d.Reset(r)
	return d
}

// Reset discards all buffered input and parser state and continues reading
// from r, expecting a new stream header: this is the stream restart after
// STARTTLS or SASL (RFC 6120 §4.3.3, §5.4.3.3, §6.4.6). The limits are
// kept.
func (d *Decoder) Reset(r io.Reader) {
	d.releaseWork()
	d.r = r
	d.buf = d.small[:]
	d.inline = true
	d.pos, d.end, d.base = 0, 0, 0
	d.err, d.rerr = nil, nil
	d.contentNS, d.dialback = "", false
	d.closeJ = 0
	d.state, d.hstate = stHeader, hsStart
}

// Buffered reports how many bytes have been read from the underlying reader
// but not yet consumed. After Next returns <starttls/> it must be 0: any
// other value means the peer sent data that would otherwise be processed
// as if it had come over TLS (RFC 6120 §5.4.3.3; CVE-2011-1431).
func (d *Decoder) Buffered() int { return d.end - d.pos }

// Next returns the next complete first-level element: a stanza or a
// negotiation element such as <auth/>. Whitespace between elements
// (keepalives, RFC 6120 §4.6.1) is skipped. It returns io.EOF when the
// peer closes the stream with </stream:stream>.
//
// A protocol violation is returned as a *[Error] to send to the peer
// before closing the stream; it and an end of input inside the stream
// (wrapping io.ErrUnexpectedEOF) are sticky. Other read errors are
// wrapped and returned as they are.
//
// An element in the content namespace (jabber:client or jabber:server)
// carries no xmlns attribute, so its NamespaceURI is "" and it can be
// written into a stream of either content namespace. An element that
// uses the 'stream' or 'db' prefix of the stream header gets that
// declaration added so that it stands alone.
//
// All strings in the returned tree share one allocation holding the
// decoded stanza; a caller that keeps a small piece of a large stanza for
// long should copy it (strings.Clone). Unprefixed attributes are filled
// into Element.Attr directly rather than through CreateAttr (several
// times cheaper), so their Attr.Element is nil, as for attributes removed
// with RemoveAttr; prefixed attributes have it set, so Attr.NamespaceURI
// works for every attribute.
func (d *Decoder) Next() (*etree.Element, error) {
	if d.err != nil {
		return nil, d.err
	}
	switch d.state {
	case stHeader:
		return nil, errors.New("stream: Next called before ReadHeader")
	case stClosed:
		return nil, io.EOF
	}
	for {
		el, err := d.next()
		switch {
		case err == nil:
			d.settle()
			return el, nil
		case err == io.EOF:
			d.state = stClosed
			d.settle()
			return nil, io.EOF
		case err != errMore:
			return nil, d.fail(err)
		}
		inElement := d.pos < d.end
		if n := d.end - d.pos; n >= d.lim.MaxStanzaBytes && (n >= minCloseTagBytes || d.w != nil && d.w.st >= 0) {
			return nil, d.fail(d.locate(Errorf(PolicyViolation, "stanza exceeds %d bytes (MaxStanzaBytes)", d.lim.MaxStanzaBytes), d.pos))
		}
		if err := d.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				if inElement {
					return nil, d.fail(fmt.Errorf("stream: input ended inside an element: %w", io.ErrUnexpectedEOF))
				}
				return nil, d.fail(fmt.Errorf("stream: input ended without </stream:stream>: %w", io.ErrUnexpectedEOF))
			}
			return nil, fmt.Errorf("stream: read: %w", err)
		}
	}
}

// fail makes err sticky and drops the scratch state.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.releaseWork()
	return err
}

// settle gives the scratch state back once nothing is buffered, so that an
// idle Decoder holds only its inline buffer.
func (d *Decoder) settle() {
	if d.pos == d.end || d.inline {
		d.releaseWork()
	}
}

// acquire returns the scratch state, borrowing it from the pool if needed.
func (d *Decoder) acquire() *work {
	if d.w == nil {
		w := workPool.Get().(*work)
		if w.buf == nil {
			w.buf = make([]byte, workBufSize)
		}
		w.st = -1
		d.w = w
	}
	return d.w
}

// releaseWork gives the scratch state back to the pool. If the read
// buffer was the pooled one, buffered bytes are dropped (callers release
// only when none are left or the stream has failed) and the inline buffer
// takes over.
func (d *Decoder) releaseWork() {
	w := d.w
	if w == nil {
		return
	}
	if !d.inline {
		d.base += int64(d.end)
		d.buf = d.small[:]
		d.inline = true
		d.pos, d.end = 0, 0
		d.closeJ = 0
	}
	d.w = nil
	w.inTag = tagNone
	if cap(w.buf) > maxPooledBuf {
		w.buf = nil
	}
	w.st = -1
	w.stack = trimScratch(w.stack)
	w.ns = trimScratch(w.ns)
	w.events = trimScratch(w.events)
	w.attrs = trimScratch(w.attrs)
	clear(w.bstack[:cap(w.bstack)])
	w.bstack = trimScratch(w.bstack)
	workPool.Put(w)
}

// trimScratch empties s, dropping it if it grew large.
func trimScratch[T any](s []T) []T {
	if cap(s) > maxPooledLen {
		return nil
	}
	return s[:0]
}

// shift records that the buffered bytes moved delta positions towards the
// start of the buffer.
func (d *Decoder) shift(delta int) {
	if delta == 0 {
		return
	}
	d.pos -= delta
	d.end -= delta
	d.base += int64(delta)
	if w := d.w; w != nil && w.st >= 0 {
		w.st -= delta
		w.r -= delta
		w.textW -= delta
		if w.textLo >= 0 {
			w.textLo -= delta
		}
	}
}

// fill reads more input after the bytes buffered. While nothing is
// buffered and no element is in flight it reads into the inline buffer;
// otherwise into the pooled buffer, which it moves or grows as needed.
func (d *Decoder) fill() error {
	if d.rerr != nil {
		err := d.rerr
		d.rerr = nil
		return err
	}
	switch {
	case d.pos == d.end && (d.w == nil || d.w.st < 0):
		d.releaseWork()
		d.base += int64(d.end)
		d.pos, d.end = 0, 0
	case d.inline:
		w := d.acquire()
		n := copy(w.buf, d.buf[d.pos:d.end])
		d.shift(d.pos)
		d.buf, d.inline = w.buf, false
		d.end = n
	case len(d.buf)-d.end < minRead:
		if d.pos > 0 {
			copy(d.buf, d.buf[d.pos:d.end])
			d.shift(d.pos)
		}
		if len(d.buf)-d.end < minRead {
			// The callers keep what is buffered below the limits, so the
			// buffer never needs more than a limit plus one read.
			n := min(2*len(d.buf), max(d.lim.MaxStanzaBytes, d.lim.MaxHeaderBytes)+minRead)
			nb := make([]byte, max(n, d.end+minRead))
			copy(nb, d.buf[:d.end])
			d.buf = nb
			d.w.buf = nb
		}
	}
	for range 100 {
		n, err := d.r.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			return fmt.Errorf("stream: reader returned an invalid count %d", n)
		}
		d.end += n
		if err != nil {
			if n > 0 {
				d.rerr = err
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// view returns the buffered input from start on that a scan may look at:
// at most limit bytes from start. Scanning never looks past a limit, so a
// limit is enforced the same way however the input was split into reads.
func (d *Decoder) view(start, limit int) []byte {
	if n := start + limit; n < d.end {
		return d.buf[:max(n, start)]
	}
	return d.buf[:d.end]
}

// locate adds where the error happened to a stream error's text.
func (d *Decoder) locate(err error, i int) error {
	se, ok := err.(*Error)
	if !ok {
		return err
	}
	if w := d.w; w != nil && w.st >= 0 && len(w.stack) > 0 {
		f := w.stack[len(w.stack)-1]
		se.Text += fmt.Sprintf(" (inside <%s>, at byte %d of the stream)", d.buf[w.st+int(f.nameLo):w.st+int(f.nameHi)], d.base+int64(i))
	} else {
		se.Text += fmt.Sprintf(" (at byte %d of the stream)", d.base+int64(i))
	}
	return se
}

// next scans for the next first-level element. It returns errMore when it
// needs more input and io.EOF at the closing stream tag.
func (d *Decoder) next() (*etree.Element, error) {
	w := d.w
	if w == nil || w.st < 0 {
		b := d.buf[:d.end]
		i := d.pos
		for i < len(b) && charClass[b[i]]&cSpace != 0 {
			i++
		}
		d.pos = i
		if i >= len(b) {
			return nil, errMore
		}
		if b[i] != '<' {
			return nil, d.locate(Errorf(BadFormat, "text at stream level: only whitespace may appear between first-level elements (RFC 6120 §11.7)"), i)
		}
		// A stanza, or the closing tag (which is allowed some whitespace
		// whatever the limit), may not extend beyond the stanza limit.
		b = d.view(i, max(d.lim.MaxStanzaBytes, minCloseTagBytes))
		if i+1 >= len(b) {
			return nil, errMore
		}
		switch b[i+1] {
		case '/':
			j := i + 2
			if d.closeJ > 0 {
				j = i + d.closeJ
			}
			end, err := scanEndTag(b, i, j, []byte("stream:stream"))
			if err == errMore {
				d.closeJ = end - i
				return nil, errMore
			}
			d.closeJ = 0
			if err != nil {
				return nil, d.locate(err, i)
			}
			d.pos = end
			return nil, io.EOF
		case '!', '?':
			err := markupError(b, i)
			if err == errCDATA {
				err = Errorf(BadFormat, "CDATA section at stream level: only whitespace may appear between first-level elements (RFC 6120 §11.7)")
			}
			if err == errMore {
				return nil, err
			}
			return nil, d.locate(err, i)
		}
		w = d.acquire()
		w.st, w.r, w.mode, w.depth, w.inTag = i, i, modeTag, 0, tagNone
		w.textLo, w.textW = -1, i
		w.used, w.nEl, w.nText, w.nAttr = 0, 0, 0, 0
		w.stack, w.ns, w.events, w.attrs = w.stack[:0], w.ns[:0], w.events[:0], w.attrs[:0]
	}
	for {
		var err error
		switch w.mode {
		case modeText:
			err = d.scanText()
		case modeCDATA:
			err = d.scanCDATA()
		default:
			var done bool
			done, err = d.scanTag()
			if err == nil && done {
				if n := w.stEnd - w.st; n > d.lim.MaxStanzaBytes {
					return nil, d.locate(Errorf(PolicyViolation, "stanza of %d bytes exceeds %d bytes (MaxStanzaBytes)", n, d.lim.MaxStanzaBytes), w.st)
				}
				el := d.build()
				d.pos = w.stEnd
				w.st = -1
				return el, nil
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// errCDATA is returned by markupError for a CDATA section, which only the
// caller can judge.
var errCDATA = errors.New("stream: CDATA section")

// markupError classifies the markup starting with "<!" or "<?" at b[i]:
// comments, processing instructions, DTDs and markup declarations are
// restricted XML (RFC 6120 §11.1). It returns errMore if more input is
// needed to tell, and errCDATA for a CDATA section.
func markupError(b []byte, i int) error {
	if b[i+1] == '?' {
		return Errorf(RestrictedXML, "processing instructions are not allowed (RFC 6120 §11.1)")
	}
	more := false
	is := func(p string) bool {
		switch hasPrefixOrMore(b[i:], p) {
		case 1:
			return true
		case -1:
			more = true
		}
		return false
	}
	switch {
	case is("<!--"):
		return Errorf(RestrictedXML, "comments are not allowed (RFC 6120 §11.1)")
	case is("<!DOCTYPE"):
		return Errorf(RestrictedXML, "document type declarations are not allowed (RFC 6120 §11.1)")
	case is("<!ENTITY"), is("<!ELEMENT"), is("<!ATTLIST"), is("<!NOTATION"):
		return Errorf(RestrictedXML, "markup declarations are not allowed (RFC 6120 §11.1)")
	case is("<![CDATA["):
		return errCDATA
	}
	if more {
		return errMore
	}
	return Errorf(NotWellFormed, "unexpected '<!'")
}

// scanText scans character data inside a first-level element, decoding it
// in place: the decoded text never is longer than its source, so it is
// written over the bytes already read (textW <= r).
func (d *Decoder) scanText() error {
	w := d.w
	b := d.view(w.st, d.lim.MaxStanzaBytes)
	i, o := w.r, w.textW
	if w.textLo < 0 {
		w.textLo, o = i, i
	}
	for {
		j := i
		for j < len(b) && charClass[b[j]]&cText == 0 {
			j++
		}
		if o != i {
			copy(b[o:], b[i:j])
		}
		o += j - i
		i = j
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '<':
			w.r, w.textW, w.mode = i, o, modeTag
			return nil
		case c == '&':
			r, n, err := scanRef(b, i)
			if err != nil {
				if err == errMore {
					w.r, w.textW = i, o
					return err
				}
				return d.locate(err, i)
			}
			o = putRune(b, o, r)
			i += n
		case c == '\r':
			if i+1 >= len(b) {
				w.r, w.textW = i, o
				return errMore
			}
			next := b[i+1]
			b[o] = '\n'
			o++
			i++
			if next == '\n' {
				i++
			}
		case c == ']':
			if i+1 < len(b) && b[i+1] != ']' || i+2 < len(b) && b[i+2] != '>' {
				b[o] = ']'
				o++
				i++
				continue
			}
			if i+2 >= len(b) {
				w.r, w.textW = i, o
				return errMore
			}
			return d.locate(Errorf(NotWellFormed, "']]>' is not allowed in text"), i)
		case c < 0x20:
			return d.locate(controlError(c, "text"), i)
		default:
			n, err := checkRune(b, i)
			if err != nil {
				if err == errMore {
					w.r, w.textW = i, o
					return err
				}
				return d.locate(err, i)
			}
			if o != i {
				copy(b[o:], b[i:i+n])
			}
			o += n
			i += n
		}
	}
	w.r, w.textW = i, o
	return errMore
}

// scanCDATA scans the content of a CDATA section, appending it to the
// current text run (CDATA is kept as plain text).
func (d *Decoder) scanCDATA() error {
	w := d.w
	b := d.view(w.st, d.lim.MaxStanzaBytes)
	i, o := w.r, w.textW
	for {
		j := i
		for j < len(b) && charClass[b[j]]&cCDATA == 0 {
			j++
		}
		if o != i {
			copy(b[o:], b[i:j])
		}
		o += j - i
		i = j
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == ']':
			if i+2 >= len(b) {
				if i+1 < len(b) && b[i+1] != ']' {
					b[o] = ']'
					o++
					i++
					continue
				}
				w.r, w.textW = i, o
				return errMore
			}
			if b[i+1] == ']' && b[i+2] == '>' {
				w.r, w.textW, w.mode = i+3, o, modeText
				return nil
			}
			b[o] = ']'
			o++
			i++
		case c == '\r':
			if i+1 >= len(b) {
				w.r, w.textW = i, o
				return errMore
			}
			next := b[i+1]
			b[o] = '\n'
			o++
			i++
			if next == '\n' {
				i++
			}
		case c < 0x20:
			return d.locate(controlError(c, "a CDATA section"), i)
		default:
			n, err := checkRune(b, i)
			if err != nil {
				if err == errMore {
					w.r, w.textW = i, o
					return err
				}
				return d.locate(err, i)
			}
			if o != i {
				copy(b[o:], b[i:i+n])
			}
			o += n
			i += n
		}
	}
	w.r, w.textW = i, o
	return errMore
}

// scanTag handles the markup at w.r inside (or starting) a first-level
// element. done reports that the first-level element is complete.
func (d *Decoder) scanTag() (done bool, err error) {
	w := d.w
	b := d.view(w.st, d.lim.MaxStanzaBytes)
	i := w.r
	if i+1 >= len(b) {
		return false, errMore
	}
	switch b[i+1] {
	case '!', '?':
		err := markupError(b, i)
		if err == errCDATA {
			if w.textLo < 0 {
				w.textLo, w.textW = i, i
			}
			w.r, w.mode = i+len("<![CDATA["), modeCDATA
			return false, nil
		}
		if err == errMore {
			return false, err
		}
		return false, d.locate(err, i)
	}
	// A start or end tag ends the text run.
	if w.textLo >= 0 {
		if w.textW > w.textLo {
			w.events = grow(w.events)
			ev := &w.events[len(w.events)-1]
			ev.kind, ev.lo, ev.hi = evText, int32(w.textLo-w.st), int32(w.textW-w.st)
			w.events[w.stack[len(w.stack)-1].ev].nchild++
			w.nText++
		}
		w.textLo = -1
	}
	if b[i+1] == '/' {
		f := &w.stack[len(w.stack)-1]
		j := i + 2
		if w.inTag == tagEnd {
			j = w.st + w.endJ
		}
		end, err := scanEndTag(b, i, j, b[w.st+int(f.nameLo):w.st+int(f.nameHi)])
		if err == errMore {
			w.inTag, w.endJ = tagEnd, end-w.st
			return false, err
		}
		w.inTag = tagNone
		if err != nil {
			return false, d.locate(err, i)
		}
		d.endElement()
		if w.depth == 0 {
			w.stEnd = end
			return true, nil
		}
		w.r, w.mode = end, modeText
		return false, nil
	}
	if w.inTag != tagStart {
		if w.depth >= d.lim.MaxDepth {
			return false, d.locate(Errorf(PolicyViolation, "element nesting exceeds %d levels (MaxDepth)", d.lim.MaxDepth), i)
		}
		w.stag.reset(i - w.st)
		w.inTag, w.a0 = tagStart, len(w.attrs)
	}
	attrs, err := scanStartTag(b, w.st, &w.stag, w.attrs, d.lim.MaxAttrs)
	w.attrs = attrs
	if err == errMore {
		return false, err
	}
	w.inTag = tagNone
	if err != nil {
		return false, d.locate(err, i)
	}
	t := &w.stag
	if err := d.startElement(b, t, w.a0); err != nil {
		return false, d.locate(err, i)
	}
	end := w.st + t.end
	if t.empty {
		d.endElement()
		if w.depth == 0 {
			w.stEnd = end
			return true, nil
		}
	}
	w.r, w.mode = end, modeText
	return false, nil
}

// endElement closes the innermost open element.
func (d *Decoder) endElement() {
	w := d.w
	n := len(w.stack) - 1
	w.ns = w.ns[:w.stack[n].ns]
	w.stack = w.stack[:n]
	w.depth--
	w.events = grow(w.events)
	w.events[len(w.events)-1].kind = evEnd
}

// startElement applies the namespace rules (XML Namespaces §5-6, RFC 6120
// §4.8) to a parsed start tag, whose attributes are w.attrs[a0:], and
// records it.
func (d *Decoder) startElement(b []byte, t *startTag, a0 int) error {
	w := d.w
	st := w.st
	sb := b[st:] // attribute offsets are relative to st
	attrs := w.attrs[a0:]
	for k := range attrs {
		a := &attrs[k]
		if a.decode {
			hi, err := decodeAttrValue(sb, int(a.valLo), int(a.valHi))
			if err != nil {
				return err
			}
			a.valHi = int32(hi)
		}
	}
	parentDef := true
	if n := len(w.stack); n > 0 {
		parentDef = w.stack[n-1].defContent
	}
	def := parentDef
	nsBase := len(w.ns)
	drops := false
	if t.xmlns || t.prefixed {
		for k := range attrs {
			a := &attrs[k]
			if a.colon < 0 {
				if a.nameHi-a.nameLo == 5 && string(sb[a.nameLo:a.nameHi]) == "xmlns" {
					v := sb[a.valLo:a.valHi]
					if string(v) == NSXML || string(v) == nsXMLNS {
						return Errorf(NotWellFormed, "%s cannot be the default namespace", v)
					}
					isContent := string(v) == d.contentNS
					a.drop = isContent && parentDef
					drops = drops || a.drop
					def = isContent
					a.ns = nsDecl
				}
				continue
			}
			if string(sb[a.nameLo:a.colon]) != "xmlns" {
				continue
			}
			a.ns = nsDecl
			p, v := sb[a.colon+1:a.nameHi], sb[a.valLo:a.valHi]
			if err := checkDecl(p, v); err != nil {
				return err
			}
			w.ns = append(w.ns, nsBind{pLo: a.colon + 1, pHi: a.nameHi, uLo: a.valLo, uHi: a.valHi})
		}
	}
	if t.nameColon >= 0 {
		p := sb[t.nameLo:t.nameColon]
		if string(p) == "xmlns" {
			return Errorf(NotWellFormed, "element <%s> uses the reserved prefix xmlns", sb[t.nameLo:t.nameHi])
		}
		k := d.lookup(b, p)
		if k == nsNone {
			return Errorf(NotWellFormed, "element <%s> uses the undeclared namespace prefix %q (RFC 6120 §11.3)", sb[t.nameLo:t.nameHi], p)
		}
		if d.nsIs(b, k, d.contentNS) {
			return Errorf(BadNamespacePrefix, "element <%s> has a prefix for the content namespace %s; it must be unprefixed (RFC 6120 §4.8.5)", sb[t.nameLo:t.nameHi], d.contentNS)
		}
	}
	for k := 1; k < len(attrs); k++ {
		a := &attrs[k]
		name := sb[a.nameLo:a.nameHi]
		for m := range k {
			o := &attrs[m]
			if string(sb[o.nameLo:o.nameHi]) == string(name) {
				return Errorf(NotWellFormed, "duplicate attribute %s on <%s>", name, sb[t.nameLo:t.nameHi])
			}
		}
	}
	if t.prefixed {
		for k := range attrs {
			a := &attrs[k]
			if a.colon < 0 || a.ns == nsDecl {
				continue
			}
			p := sb[a.nameLo:a.colon]
			a.ns = int32(d.lookup(b, p))
			if a.ns == nsNone {
				return Errorf(NotWellFormed, "attribute %s of <%s> uses the undeclared namespace prefix %q (RFC 6120 §11.3)", sb[a.nameLo:a.nameHi], sb[t.nameLo:t.nameHi], p)
			}
			for m := range k {
				o := &attrs[m]
				if o.colon >= 0 && o.ns >= nsDB &&
					string(sb[a.colon+1:a.nameHi]) == string(sb[o.colon+1:o.nameHi]) && d.sameNS(b, int(a.ns), int(o.ns)) {
					return Errorf(NotWellFormed, "attributes %s and %s of <%s> have the same namespace and local name", sb[o.nameLo:o.nameHi], sb[a.nameLo:a.nameHi], sb[t.nameLo:t.nameHi])
				}
			}
		}
	}
	if drops {
		kept := attrs[:0]
		for _, a := range attrs {
			if !a.drop {
				kept = append(kept, a)
			}
		}
		w.attrs = w.attrs[:a0+len(kept)]
	}
	w.nAttr += len(w.attrs) - a0
	colon, nameLo, nameHi := int32(t.nameColon), int32(t.nameLo), int32(t.nameHi)
	// Field by field into the slices: building the structs on the stack
	// and copying them stalls on store forwarding.
	evIdx := int32(len(w.events))
	w.events = grow(w.events)
	ev := &w.events[evIdx]
	ev.kind, ev.lo, ev.colon, ev.hi = evStart, nameLo, colon, nameHi
	ev.a0, ev.a1, ev.nchild = int32(a0), int32(len(w.attrs)), 0
	if n := len(w.stack); n > 0 {
		w.events[w.stack[n-1].ev].nchild++
	}
	w.nEl++
	w.stack = grow(w.stack)
	f := &w.stack[len(w.stack)-1]
	f.ev, f.nameLo, f.nameHi, f.ns, f.defContent = evIdx, nameLo, nameHi, int32(nsBase), def
	w.depth++
	return nil
}

// nsXMLNS is the namespace bound to the xmlns prefix (XML Namespaces §3).
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// checkDecl checks the declaration xmlns:p='v' against XML Namespaces §3.
func checkDecl(p, v []byte) error {
	switch {
	case string(p) == "xmlns":
		return Errorf(NotWellFormed, "the prefix xmlns must not be declared")
	case len(v) == 0:
		return Errorf(NotWellFormed, "prefix %q is declared with an empty namespace name", p)
	case string(p) == "xml" && string(v) != NSXML, string(p) != "xml" && string(v) == NSXML:
		return Errorf(NotWellFormed, "only the prefix xml may be bound to %s", NSXML)
	case string(v) == nsXMLNS:
		return Errorf(NotWellFormed, "no prefix may be bound to %s", nsXMLNS)
	}
	return nil
}

// lookup resolves prefix p: first the declarations of the open elements
// of the stanza, innermost first, then those of the stream header.
func (d *Decoder) lookup(b []byte, p []byte) int {
	w := d.w
	for k := len(w.ns) - 1; k >= 0; k-- {
		nb := &w.ns[k]
		if string(b[w.st+int(nb.pLo):w.st+int(nb.pHi)]) == string(p) {
			return k
		}
	}
	switch string(p) {
	case "xml":
		return nsXML
	case "stream":
		w.used |= usedStream
		return nsStream
	case "db":
		if d.dialback {
			w.used |= usedDB
			return nsDB
		}
	}
	return nsNone
}

// nsName returns the namespace name of a lookup result, as bytes for a
// declaration in the stanza or as a string for the others.
func (d *Decoder) nsName(b []byte, k int) ([]byte, string) {
	switch k {
	case nsXML:
		return nil, NSXML
	case nsStream:
		return nil, NSStream
	case nsDB:
		return nil, NSDialback
	}
	nb := &d.w.ns[k]
	return b[d.w.st+int(nb.uLo) : d.w.st+int(nb.uHi)], ""
}

// nsIs reports whether lookup result k is the namespace s.
func (d *Decoder) nsIs(b []byte, k int, s string) bool {
	v, vs := d.nsName(b, k)
	if v != nil {
		return string(v) == s
	}
	return vs == s
}

// sameNS reports whether two lookup results name the same namespace.
func (d *Decoder) sameNS(b []byte, k1, k2 int) bool {
	if k1 == k2 {
		return true
	}
	v1, s1 := d.nsName(b, k1)
	if v1 != nil {
		return d.nsIs(b, k2, string(v1))
	}
	return d.nsIs(b, k2, s1)
}

// build turns the recorded events of the complete stanza into an etree
// tree. All strings are substrings of one copy of the decoded stanza, and
// elements, attributes, child lists and text nodes each come from one
// slice, so a stanza costs a handful of allocations whatever its size.
func (d *Decoder) build() *etree.Element {
	w := d.w
	s := string(d.buf[w.st:w.stEnd])
	extra := 0
	if w.used&usedStream != 0 {
		extra++
	}
	if w.used&usedDB != 0 {
		extra++
	}
	var (
		els   []etree.Element
		attrs []etree.Attr
		texts []etree.CharData
		toks  []etree.Token
	)
	els = make([]etree.Element, w.nEl)
	if n := w.nAttr + extra; n > 0 {
		attrs = make([]etree.Attr, n)
	}
	if w.nText > 0 {
		texts = make([]etree.CharData, w.nText)
	}
	if n := w.nEl - 1 + w.nText; n > 0 {
		toks = make([]etree.Token, n)
	}
	var root *etree.Element
	stack := w.bstack[:0]
	ai, ti, deepest := 0, 0, 0
	for k := range w.events {
		ev := &w.events[k]
		switch ev.kind {
		case evStart:
			var e *etree.Element
			na := int(ev.a1 - ev.a0)
			e = &els[0]
			els = els[1:]
			if ev.colon >= 0 {
				e.Space, e.Tag = s[ev.lo:ev.colon], s[ev.colon+1:ev.hi]
			} else {
				e.Tag = s[ev.lo:ev.hi]
			}
			if root == nil {
				root = e
				na += extra
				w.tmp.Child = w.tmpChild[:0]
				w.tmp.AddChild(e)
				w.tmp.RemoveChildAt(0)
				w.tmpChild[0] = nil
			} else {
				stack[len(stack)-1].AddChild(e)
			}
			if na > 0 {
				e.Attr = attrs[ai : ai : ai+na]
				ai += na
				for k := ev.a0; k < ev.a1; k++ {
					a := &w.attrs[k]
					if a.colon >= 0 {
						// CreateAttr records the element, which
						// Attr.NamespaceURI needs for a prefix.
						e.CreateAttr(s[a.nameLo:a.nameHi], s[a.valLo:a.valHi])
						continue
					}
					// Unprefixed attributes are filled in directly, which
					// is several times cheaper than CreateAttr.
					n := len(e.Attr)
					e.Attr = e.Attr[:n+1]
					at := &e.Attr[n]
					at.Key, at.Value = s[a.nameLo:a.nameHi], s[a.valLo:a.valHi]
				}
				if e == root {
					if w.used&usedStream != 0 {
						e.CreateAttr("xmlns:stream", NSStream)
					}
					if w.used&usedDB != 0 {
						e.CreateAttr("xmlns:db", NSDialback)
					}
				}
			}
			if n := int(ev.nchild); n > 0 {
				e.Child = toks[ti : ti : ti+n]
				ti += n
			}
			stack = append(stack, e)
			deepest = max(deepest, len(stack))
		case evText:
			t := &texts[0]
			texts = texts[1:]
			t.Data = s[ev.lo:ev.hi]
			stack[len(stack)-1].AddChild(t)
		case evEnd:
			stack = stack[:len(stack)-1]
		}
	}
	clear(stack[:deepest]) // the pooled scratch must not keep the tree alive
	w.bstack = stack[:0]
	return root
}
