// Package stream reads and writes the XML streams of XMPP (RFC 6120 §4,
// §11): it parses stream headers, frames first-level elements (stanzas and
// negotiation elements) into etree trees, serialises trees back, and
// defines stream and stanza errors.
//
// # Decoding
//
// A [Decoder] reads the stream header with [Decoder.ReadHeader] and then one
// complete first-level element at a time with [Decoder.Next]. It is a
// hand-written byte-level tokenizer that accepts exactly the XML subset of
// RFC 6120 §11.1: comments, processing instructions, DTDs and entity
// references other than the five predefined ones are rejected with
// restricted-xml and never expanded; anything not well-formed or not
// namespace-well-formed is rejected with not-well-formed (RFC 6120 §11.3);
// encodings other than UTF-8 with unsupported-encoding (§11.6). Line ends
// and attribute values are normalised as XML §2.11 and §3.3.3 require, CDATA
// sections become plain text, and character references are resolved.
//
// Elements in the content namespace (jabber:client or jabber:server) are
// returned without an xmlns attribute, so the same tree can be written into
// a client or a server stream (the re-scoping of RFC 6120 §4.8.3). Elements
// that use a prefix declared in the stream header ('stream', 'db') get the
// declaration added, so every returned tree stands alone.
//
// # Limits
//
// [Limits] bounds the size of a first-level element, its nesting depth, the
// attributes of an element and the stream header. They are checked while
// reading: a peer that sends a 1 MiB stanza or 10 000 nested elements is
// stopped with policy-violation after at most MaxStanzaBytes have been
// buffered, before any tree is built.
//
// # Memory
//
// An idle XMPP session should cost as little memory as possible, so a
// Decoder is small (a few hundred bytes) and, while nothing is buffered,
// reads into a 256-byte buffer inside itself. Only while a first-level
// element is in flight does it borrow a larger read buffer and its scratch
// state (token list, element stack) from a package-level sync.Pool; it
// gives them back as soon as the buffered input drains, normally right
// after the element is returned. The read buffer grows as needed but never
// beyond MaxStanzaBytes plus one read, and buffers that grew past 64 KiB are
// dropped rather than pooled.
//
// Decoding is in place: character data and attribute values are decoded
// over the bytes they were read from (decoding never lengthens text), the
// element is scanned into a compact token list, and only once it is
// complete is the tree built, with one string holding the decoded stanza
// and one slice each for its elements, attributes, child lists and text
// nodes. A stanza therefore costs a handful of allocations whatever its
// size. All strings of a returned tree share that one allocation; copy
// (strings.Clone) a small piece of a large stanza before keeping it for
// long. Unprefixed attributes are stored into Element.Attr directly, so
// their Attr.Element is nil (see [Decoder.Next]).
//
// # Encoding
//
// [AppendElement] serialises a tree into a byte slice without allocating;
// [Header.Bytes] renders an opening stream header and [CloseTag] closes a
// stream. [Error.Bytes] renders a stream error.
package stream
