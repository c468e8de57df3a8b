package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// Stream headers used by the tests.
const (
	hdrClient = `<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`
	hdrServer = `<?xml version='1.0'?><stream:stream to='example.com' from='example.net' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>`
)

// result is what decoding a stream produced: the serialised elements and
// the error that ended it (io.EOF for a clean close).
type result struct {
	els []string
	ns  []string // NamespaceURI of each element
	err error
}

// decodeString decodes a whole stream read through wrap (nil: as is).
func decodeString(t testing.TB, input string, lim Limits, wrap func(io.Reader) io.Reader) result {
	t.Helper()
	var r io.Reader = strings.NewReader(input)
	if wrap != nil {
		r = wrap(r)
	}
	d := NewDecoder(r, lim)
	var res result
	if _, res.err = d.ReadHeader(); res.err != nil {
		return res
	}
	for {
		el, err := d.Next()
		if err != nil {
			res.err = err
			return res
		}
		res.els = append(res.els, string(AppendElement(nil, el)))
		res.ns = append(res.ns, el.NamespaceURI())
	}
}

// condition returns the stream error condition of err, or "".
func condition(err error) Condition {
	if se, ok := AsError(err); ok {
		return se.Condition
	}
	return ""
}

// checkErrorKind fails unless err is a *Error, a wrapped io.EOF or a
// wrapped io.ErrUnexpectedEOF.
func checkErrorKind(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if _, ok := AsError(err); ok {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	t.Fatalf("error %v (%T) is neither a stream error nor an end of input", err, err)
}

// treeDiff describes the first difference between two trees, or "".
func treeDiff(a, b *etree.Element) string {
	if a.Space != b.Space || a.Tag != b.Tag {
		return fmt.Sprintf("name %s:%s != %s:%s", a.Space, a.Tag, b.Space, b.Tag)
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("<%s>: %d attributes != %d", a.FullTag(), len(a.Attr), len(b.Attr))
	}
	for i := range a.Attr {
		x, y := a.Attr[i], b.Attr[i]
		if x.Space != y.Space || x.Key != y.Key || x.Value != y.Value {
			return fmt.Sprintf("<%s>: attribute %s=%q != %s=%q", a.FullTag(), x.FullKey(), x.Value, y.FullKey(), y.Value)
		}
	}
	if len(a.Child) != len(b.Child) {
		return fmt.Sprintf("<%s>: %d children != %d", a.FullTag(), len(a.Child), len(b.Child))
	}
	for i := range a.Child {
		switch x := a.Child[i].(type) {
		case *etree.Element:
			y, ok := b.Child[i].(*etree.Element)
			if !ok {
				return fmt.Sprintf("<%s>: child %d: element != %T", a.FullTag(), i, b.Child[i])
			}
			if d := treeDiff(x, y); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok {
				return fmt.Sprintf("<%s>: child %d: text != %T", a.FullTag(), i, b.Child[i])
			}
			if x.Data != y.Data {
				return fmt.Sprintf("<%s>: text %q != %q", a.FullTag(), x.Data, y.Data)
			}
		default:
			return fmt.Sprintf("<%s>: unexpected child %T", a.FullTag(), x)
		}
	}
	return ""
}

// reparse serialises el and decodes it again in a stream with header hdr.
func reparse(t testing.TB, hdr string, el *etree.Element) *etree.Element {
	t.Helper()
	buf := AppendElement([]byte(hdr), el)
	d := NewDecoder(bytes.NewReader(buf), Limits{MaxStanzaBytes: maxLimit})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("reparse %s: header: %v", buf, err)
	}
	el2, err := d.Next()
	if err != nil {
		t.Fatalf("reparse %s: %v", buf[len(hdr):], err)
	}
	return el2
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}
