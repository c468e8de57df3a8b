package stream

// Default limits applied by [NewDecoder] to zero fields of [Limits].
const (
	// DefaultMaxStanzaBytes bounds one first-level element, from its '<'
	// to its final '>' (RFC 6120 §13.12 asks servers to bound stanza size;
	// XEP-0478 suggests advertising at least 10 000 bytes).
	DefaultMaxStanzaBytes = 256 << 10
	// DefaultMaxDepth bounds element nesting inside a first-level element;
	// the first-level element itself is at depth 1.
	DefaultMaxDepth = 64
	// DefaultMaxAttrs bounds the attributes of one element, namespace
	// declarations included.
	DefaultMaxAttrs = 64
	// DefaultMaxHeaderBytes bounds everything before and including the
	// opening <stream:stream> tag: byte order mark, XML declaration,
	// whitespace and the tag itself.
	DefaultMaxHeaderBytes = 8 << 10
)

// maxLimit caps configured limits so that offsets inside one stanza always
// fit in an int32.
const maxLimit = 1 << 30

// Limits bounds what a peer may send; zero (or negative) fields take the
// defaults. Every limit is enforced while reading, before the data that
// exceeds it is buffered or allocated, and a peer that exceeds one gets a
// policy-violation stream error (RFC 6120 §4.9.3.14) whose text names the
// limit.
type Limits struct {
	// MaxStanzaBytes bounds the bytes of one first-level element, from its
	// '<' to its final '>'. Names, attribute values and text are bounded by
	// it too. Default [DefaultMaxStanzaBytes].
	MaxStanzaBytes int
	// MaxDepth bounds element nesting inside a first-level element (the
	// first-level element is depth 1). Default [DefaultMaxDepth].
	MaxDepth int
	// MaxAttrs bounds the attributes per element, namespace declarations
	// included. Default [DefaultMaxAttrs].
	MaxAttrs int
	// MaxHeaderBytes bounds the stream header: byte order mark, XML
	// declaration, whitespace and the <stream:stream> tag. Default
	// [DefaultMaxHeaderBytes].
	MaxHeaderBytes int
}

// withDefaults returns l with zero or negative fields replaced by the
// defaults and every field capped at 1 GiB.
func (l Limits) withDefaults() Limits {
	fix := func(v, def int) int {
		if v <= 0 {
			return def
		}
		return min(v, maxLimit)
	}
	l.MaxStanzaBytes = fix(l.MaxStanzaBytes, DefaultMaxStanzaBytes)
	l.MaxDepth = fix(l.MaxDepth, DefaultMaxDepth)
	l.MaxAttrs = fix(l.MaxAttrs, DefaultMaxAttrs)
	l.MaxHeaderBytes = fix(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	return l
}
