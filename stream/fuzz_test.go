package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/beevik/etree"
)

// fuzzLimits are small so that fuzzing reaches the limits; MaxAttrs stays
// two below the default so that a framed element, which may gain the
// xmlns:stream and xmlns:db declarations, always parses again.
var fuzzLimits = Limits{MaxStanzaBytes: 2048, MaxDepth: 12, MaxAttrs: 8, MaxHeaderBytes: 1024}

// fuzzRun decodes hdr+data with reads of at most chunk bytes (0: all at
// once) and returns the framed elements and the final error.
func fuzzRun(t *testing.T, hdr string, data []byte, chunk int) (els [][]byte, trees []*etree.Element, err error) {
	var r io.Reader = bytes.NewReader(append([]byte(hdr), data...))
	if chunk > 0 {
		r = &chunkReader{r: r, n: chunk}
	}
	d := NewDecoder(r, fuzzLimits)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatalf("header: %v", err)
	}
	for {
		el, err := d.Next()
		if err != nil {
			return els, trees, err
		}
		els = append(els, AppendElement(nil, el))
		trees = append(trees, el)
	}
}

// sameOutcome fails unless two decoding errors are the same outcome: the
// same stream error condition, or the same end of input.
func sameOutcome(t *testing.T, a, b error) {
	t.Helper()
	if condition(a) != condition(b) || errors.Is(a, io.ErrUnexpectedEOF) != errors.Is(b, io.ErrUnexpectedEOF) || (a == io.EOF) != (b == io.EOF) {
		t.Fatalf("outcomes differ: %v / %v", a, b)
	}
}

// FuzzDecoder feeds arbitrary bytes after a valid stream header, split
// into reads of a fuzz-chosen size. Decoding must not panic; it must end
// with a stream error or an end of input; the split must not change the
// outcome; and every element must survive AppendElement and a fresh
// decode unchanged.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`<message to='a@b' type='chat'><body>hi &amp; &#x263A;</body></message>`,
		`<presence/> <iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq></stream:stream>`,
		"<message>\r\n<body a='x\ty'><![CDATA[<]]>]]&gt;</body></message>",
		`<stream:error><x xmlns='urn:x'/></stream:error>`,
		`<db:result from='a' to='b'>key</db:result>`,
		`<message><!-- c --></message>`,
		`<message><foo:body/></message>`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		hdr := hdrClient
		if chunk&0x80 != 0 {
			hdr = hdrServer
		}
		n := int(chunk&0x3f) + 1
		els, trees, err := fuzzRun(t, hdr, data, 0)
		checkErrorKind(t, err)
		els2, _, err2 := fuzzRun(t, hdr, data, n)
		checkErrorKind(t, err2)
		sameOutcome(t, err, err2)
		if len(els) != len(els2) {
			t.Fatalf("%d elements read whole, %d in reads of %d bytes", len(els), len(els2), n)
		}
		for i := range els {
			if !bytes.Equal(els[i], els2[i]) {
				t.Fatalf("element %d differs:\n%s\n%s", i, els[i], els2[i])
			}
			back := reparse(t, hdr, trees[i])
			if diff := treeDiff(trees[i], back); diff != "" {
				t.Fatalf("element %d does not round-trip (%s):\n%s", i, diff, els[i])
			}
		}
	})
}

// FuzzHeader feeds arbitrary bytes as the start of a stream, split into
// reads of a fuzz-chosen size. ReadHeader must not panic; it must fail
// with a stream error or an end of input, the same however the input is
// split; and a header it accepts must survive Header.Bytes and a fresh
// ReadHeader unchanged.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		hdrClient,
		hdrServer,
		"\xef\xbb\xbf<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a&amp;b' xml:lang='en'>",
		`<?xml version="1.0" encoding="UTF-16"?><stream:stream/>`,
		`<foo:stream xmlns:foo='http://etherx.jabber.org/streams' xmlns='jabber:client'>`,
		`<!DOCTYPE x><stream:stream>`,
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		read := func(n int) (Header, error) {
			var r io.Reader = bytes.NewReader(data)
			if n > 0 {
				r = &chunkReader{r: r, n: n}
			}
			return NewDecoder(r, fuzzLimits).ReadHeader()
		}
		h, err := read(0)
		checkErrorKind(t, err)
		h2, err2 := read(int(chunk%64) + 1)
		checkErrorKind(t, err2)
		sameOutcome(t, err, err2)
		if errors.Is(err, io.EOF) != errors.Is(err2, io.EOF) {
			t.Fatalf("outcomes differ: %v / %v", err, err2)
		}
		if h != h2 {
			t.Fatalf("headers differ: %+v / %+v", h, h2)
		}
		if err != nil {
			return
		}
		if h.ContentNS != NSClient && h.ContentNS != NSServer {
			t.Fatalf("content namespace %q accepted", h.ContentNS)
		}
		h3, err := NewDecoder(bytes.NewReader(h.Bytes()), Limits{}).ReadHeader()
		if err != nil {
			t.Fatalf("%s: %v", h.Bytes(), err)
		}
		if h3 != h {
			t.Fatalf("round trip: %+v != %+v", h3, h)
		}
	})
}
