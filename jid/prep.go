package jid

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

const (
	// maxPart is the maximum length in octets of every part after
	// preparation (RFC 7622 §3.2, §3.3, §3.4).
	maxPart = 1023
	// maxRawPart bounds a part's length before preparation. Preparation can
	// shrink a string (width mapping turns 3-octet fullwidth letters into
	// 1-octet ASCII, NFC composes sequences), but not by a factor of four, so
	// longer inputs are rejected before the costly PRECIS/IDNA steps run.
	maxRawPart = 4 * maxPart
	// maxDNSLabel and maxDNSName are the RFC 1034 limits, applied to the
	// A-label (ASCII) form of a domain name.
	maxDNSLabel = 63
	maxDNSName  = 253
)

// Byte classes for the ASCII fast path, as 128-bit masks (lo: bytes 0-63,
// hi: bytes 64-127).
const (
	// printable ASCII excluding space: U+0021..U+007E, the ASCII7 category
	// that is PVALID in the PRECIS IdentifierClass (RFC 8264 §9.11).
	printableLo uint64 = 1<<64 - 1<<0x21
	printableHi uint64 = 1<<(0x7f-64) - 1
	// upper-case letters, which UsernameCaseMapped would map.
	upperHi uint64 = (1<<26 - 1) << ('A' - 64)
	// the RFC 7622 §3.3.1 exclusions.
	forbiddenLo uint64 = 1<<'"' | 1<<'&' | 1<<'\'' | 1<<'/' | 1<<':' | 1<<'<' | 1<<'>'
	forbiddenHi uint64 = 1 << ('@' - 64)

	// localLo/localHi: bytes that a canonical localpart may contain
	// unchanged.
	localLo = printableLo &^ forbiddenLo
	localHi = printableHi &^ upperHi &^ forbiddenHi
)

// inMask reports whether c is in the 128-bit set (lo, hi).
func inMask(c byte, lo, hi uint64) bool {
	switch {
	case c < 64:
		return lo>>c&1 == 1
	case c < 128:
		return hi>>(c-64)&1 == 1
	}
	return false
}

// parse implements Parse. With fast false, every part goes through the full
// PRECIS/IDNA path; the fuzz target uses this to check that both paths agree.
func parse(s string, fast bool) (JID, error) {
	if s == "" {
		return JID{}, partError(ErrInvalidDomain, s, ErrEmptyPart, nil, "")
	}
	// RFC 7622 §3.2 steps 1 and 2: split on the first '/', then on the first
	// '@' before it, before any transformation is applied (RFC 7622 §3.1).
	head, rawR, hasR := s, "", false
	if i := strings.IndexByte(s, '/'); i >= 0 {
		head, rawR, hasR = s[:i], s[i+1:], true
	}
	rawL, rawD, hasL := "", head, false
	if i := strings.IndexByte(head, '@'); i >= 0 {
		rawL, rawD, hasL = head[:i], head[i+1:], true
	}

	var lp, rp string
	var err error
	if hasL {
		if lp, err = prepLocal(rawL, fast); err != nil {
			return JID{}, err
		}
	}
	dp, err := prepDomain(rawD, fast)
	if err != nil {
		return JID{}, err
	}
	if hasR {
		if rp, err = prepResource(rawR, fast); err != nil {
			return JID{}, err
		}
	}
	if lp == rawL && dp == rawD && rp == rawR {
		// The input is already canonical: keep it without copying.
		j := JID{s: s}
		if hasL {
			j.dstart = uint16(len(lp) + 1)
		}
		j.dend = j.dstart + uint16(len(dp))
		return j, nil
	}
	return assemble(lp, dp, rp, hasL, hasR), nil
}

// prepLocal prepares and enforces a localpart (RFC 7622 §3.3).
func prepLocal(raw string, fast bool) (string, error) {
	if fast && fastLocal(raw) {
		return raw, nil
	}
	return enforceLocal(raw)
}

// fastLocal reports whether raw is a non-empty pure-ASCII localpart that the
// UsernameCaseMapped profile leaves unchanged and that contains none of the
// RFC 7622 §3.3.1 exclusions: lower-case letters, digits and punctuation.
// Width mapping, NFC and the Bidi Rule have no effect on such strings.
func fastLocal(raw string) bool {
	if len(raw) == 0 || len(raw) > maxPart {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if !inMask(raw[i], localLo, localHi) {
			return false
		}
	}
	return true
}

// enforceLocal is the full localpart path: UsernameCaseMapped (RFC 8265 §3.3)
// plus the RFC 7622 §3.3.1 exclusions and the length limit.
func enforceLocal(raw string) (string, error) {
	if raw == "" {
		return "", partError(ErrInvalidLocal, raw, ErrEmptyPart, nil, "")
	}
	if len(raw) > maxRawPart {
		return "", partError(ErrInvalidLocal, raw, ErrTooLong, nil, fmt.Sprintf("%d octets before preparation", len(raw)))
	}
	if !utf8.ValidString(raw) {
		return "", partError(ErrInvalidLocal, raw, nil, nil, "invalid UTF-8")
	}
	if i := indexForbidden(raw); i >= 0 {
		return "", partError(ErrInvalidLocal, raw, ErrForbiddenChar, nil, fmt.Sprintf("%q (RFC 7622 §3.3.1)", raw[i]))
	}
	out, err := precis.UsernameCaseMapped.String(raw)
	if err != nil {
		return "", partError(ErrInvalidLocal, raw, nil, err, "")
	}
	if out == "" {
		return "", partError(ErrInvalidLocal, raw, ErrEmptyPart, nil, "")
	}
	// Mapping can produce an excluded character, e.g. U+FF20 FULLWIDTH
	// COMMERCIAL AT becomes '@'.
	if i := indexForbidden(out); i >= 0 {
		return "", partError(ErrInvalidLocal, raw, ErrForbiddenChar, nil, fmt.Sprintf("%q after preparation (RFC 7622 §3.3.1)", out[i]))
	}
	if len(out) > maxPart {
		return "", partError(ErrInvalidLocal, raw, ErrTooLong, nil, fmt.Sprintf("%d octets after preparation, maximum %d", len(out), maxPart))
	}
	return out, nil
}

// indexForbidden returns the index of the first RFC 7622 §3.3.1 excluded
// character in s, or -1.
func indexForbidden(s string) int {
	for i := 0; i < len(s); i++ {
		if inMask(s[i], forbiddenLo, forbiddenHi) {
			return i
		}
	}
	return -1
}

// prepResource prepares and enforces a resourcepart (RFC 7622 §3.4).
func prepResource(raw string, fast bool) (string, error) {
	if fast && fastResource(raw) {
		return raw, nil
	}
	return enforceResource(raw)
}

// fastResource reports whether raw is a non-empty printable-ASCII string not
// starting with a space: OpaqueString leaves such strings unchanged.
func fastResource(raw string) bool {
	if len(raw) == 0 || len(raw) > maxPart || raw[0] == ' ' {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// enforceResource is the full resourcepart path: OpaqueString (RFC 8265
// §4.2), the leading-space rule of RFC 7622 §3.5 example 18 and the length
// limit.
func enforceResource(raw string) (string, error) {
	if raw == "" {
		return "", partError(ErrInvalidResource, raw, ErrEmptyPart, nil, "")
	}
	if len(raw) > maxRawPart {
		return "", partError(ErrInvalidResource, raw, ErrTooLong, nil, fmt.Sprintf("%d octets before preparation", len(raw)))
	}
	if !utf8.ValidString(raw) {
		return "", partError(ErrInvalidResource, raw, nil, nil, "invalid UTF-8")
	}
	out, err := precis.OpaqueString.String(raw)
	if err != nil {
		return "", partError(ErrInvalidResource, raw, nil, err, "")
	}
	if out == "" {
		return "", partError(ErrInvalidResource, raw, ErrEmptyPart, nil, "")
	}
	if out[0] == ' ' {
		return "", partError(ErrInvalidResource, raw, nil, nil, "leading space (RFC 7622 §3.5, example 18)")
	}
	if len(out) > maxPart {
		return "", partError(ErrInvalidResource, raw, ErrTooLong, nil, fmt.Sprintf("%d octets after preparation, maximum %d", len(out), maxPart))
	}
	return out, nil
}

// prepDomain prepares and enforces a domainpart (RFC 7622 §3.2).
func prepDomain(raw string, fast bool) (string, error) {
	if raw == "" {
		return "", partError(ErrInvalidDomain, raw, ErrEmptyPart, nil, "")
	}
	// RFC 7622 §3.2: a final '.' MUST be stripped before any other
	// canonicalization step.
	d, stripped := raw, false
	if d[len(d)-1] == '.' {
		d, stripped = d[:len(d)-1], true
		if d == "" {
			return "", partError(ErrInvalidDomain, raw, ErrEmptyPart, nil, "")
		}
	}
	if fast && fastDomain(d) {
		return d, nil
	}
	return enforceDomain(raw, d, stripped)
}

// fastDomain reports whether d is a pure-ASCII host name that IDNA2008 lookup
// processing leaves unchanged and that passes every check of enforceDomain:
// labels of 1 to 63 lower-case letters, digits and hyphens, no hyphen at
// either end, no hyphens in positions 3 and 4 (which covers "xn--"), a last
// label that is not all digits, and at most 253 octets in total.
func fastDomain(d string) bool {
	if len(d) == 0 || len(d) > maxDNSName {
		return false
	}
	start, allDigits := 0, true
	for i := 0; ; i++ {
		if i == len(d) || d[i] == '.' {
			n := i - start
			if n == 0 || n > maxDNSLabel || d[start] == '-' || d[i-1] == '-' {
				return false
			}
			if n >= 4 && d[start+2] == '-' && d[start+3] == '-' {
				return false
			}
			if i == len(d) {
				return !allDigits
			}
			start, allDigits = i+1, true
			continue
		}
		switch c := d[i]; {
		case 'a' <= c && c <= 'z', c == '-':
			allDigits = false
		case '0' <= c && c <= '9':
		default:
			return false
		}
	}
}

// enforceDomain is the full domainpart path. raw is the input as given (for
// error messages), d the input with one trailing '.' removed (stripped
// reports whether one was).
func enforceDomain(raw, d string, stripped bool) (string, error) {
	if len(d) > maxRawPart {
		return "", partError(ErrInvalidDomain, raw, ErrTooLong, nil, fmt.Sprintf("%d octets before preparation", len(d)))
	}
	if !utf8.ValidString(d) {
		return "", partError(ErrInvalidDomain, raw, nil, nil, "invalid UTF-8")
	}
	if d[0] == '[' {
		return enforceIPLiteral(raw, d)
	}
	// IPv4address (RFC 3986) matches before ifqdn (RFC 7622 §3.1).
	if a, err := netip.ParseAddr(d); err == nil && a.Is4() {
		return a.String(), nil
	}
	// IDNA2008 with UTS #46 lookup mapping (non-transitional): case folding,
	// width mapping, NFC, STD3 (LDH) rules, hyphen, joiner and Bidi checks,
	// A-labels decoded to U-labels (RFC 7622 §3.2.1, §3.2.2).
	u, err := idna.Lookup.ToUnicode(d)
	if err != nil {
		return "", partError(ErrInvalidDomain, raw, nil, err, "")
	}
	// A label separator other than '.' (e.g. U+3002) can map to a trailing
	// '.'; strip it too, but only one separator in total.
	if !stripped && strings.HasSuffix(u, ".") {
		u = u[:len(u)-1]
	}
	if u == "" {
		return "", partError(ErrInvalidDomain, raw, ErrEmptyPart, nil, "")
	}
	if !isASCII(u) {
		// UTS #46 keeps IDNA2003-era symbols (its NV8 set, e.g. U+265A) as
		// valid, but IDNA2008 disallows them (RFC 5892 §2). The PRECIS
		// IdentifierClass is derived from the same LetterDigits, Exceptions,
		// HasCompat, JoinControl and Ignorable rules, so it rejects them.
		if out, err := idnaLetterDigits.String(u); err != nil || out != u {
			return "", partError(ErrInvalidDomain, raw, nil, nil, "code point not allowed in an IDNA2008 U-label (RFC 5892)")
		}
	}
	if len(u) > maxPart {
		return "", partError(ErrInvalidDomain, raw, ErrTooLong, nil, fmt.Sprintf("%d octets after preparation, maximum %d", len(u), maxPart))
	}
	total := -1
	var last string
	for rest := u; ; {
		label, tail, more := strings.Cut(rest, ".")
		if label == "" {
			return "", partError(ErrInvalidDomain, raw, nil, nil, "empty label")
		}
		n, err := aLabelLen(label)
		if err != nil {
			return "", partError(ErrInvalidDomain, raw, nil, err, "")
		}
		if n > maxDNSLabel {
			return "", partError(ErrInvalidDomain, raw, ErrTooLong, nil, fmt.Sprintf("label of %d octets in A-label form, maximum %d", n, maxDNSLabel))
		}
		total += n + 1
		last = label
		if !more {
			break
		}
		rest = tail
	}
	if total > maxDNSName {
		return "", partError(ErrInvalidDomain, raw, ErrTooLong, nil, fmt.Sprintf("%d octets in A-label form, maximum %d", total, maxDNSName))
	}
	if allDigits(last) {
		// Mapping may have produced an IPv4 address (e.g. from fullwidth
		// digits); anything else with a numeric top label is ambiguous.
		if a, err := netip.ParseAddr(u); err == nil && a.Is4() {
			return a.String(), nil
		}
		return "", partError(ErrInvalidDomain, raw, nil, nil, "numeric top-level label in a name that is not an IPv4 address")
	}
	return u, nil
}

// idnaLetterDigits is the bare PRECIS IdentifierClass (with NFC, a no-op
// on U-labels), used to apply the IDNA2008 code point rules that UTS #46
// mapping leaves out. It is never modified.
var idnaLetterDigits = precis.NewIdentifier()

// isASCII reports whether s is pure ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// aLabelLen returns the length of label in A-label (ASCII) form.
func aLabelLen(label string) (int, error) {
	if isASCII(label) {
		return len(label), nil
	}
	a, err := idna.Punycode.ToASCII(label)
	if err != nil {
		return 0, fmt.Errorf("encoding label as A-label: %w", err)
	}
	return len(a), nil
}

// allDigits reports whether s is non-empty and consists of ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// errNotIPv6 reports an IP literal holding something other than IPv6.
var errNotIPv6 = errors.New("IP literal is not an IPv6 address")

// enforceIPLiteral validates and canonicalises an RFC 6874 IP-literal
// "[" IPv6address [ "%25" ZoneID ] "]" (RFC 7622 §3.1). The address is
// rendered in RFC 5952 canonical form; a zone identifier must consist of
// RFC 3986 unreserved characters and is kept as is.
func enforceIPLiteral(raw, d string) (string, error) {
	if len(d) < 2 || d[len(d)-1] != ']' {
		return "", partError(ErrInvalidDomain, raw, nil, nil, "unterminated IP literal")
	}
	inner, zone := d[1:len(d)-1], ""
	if i := strings.IndexByte(inner, '%'); i >= 0 {
		inner, zone = inner[:i], inner[i:]
		if len(zone) < 4 || zone[:3] != "%25" || !unreserved(zone[3:]) {
			return "", partError(ErrInvalidDomain, raw, nil, nil, `zone identifier must be "%25" followed by unreserved characters (RFC 6874)`)
		}
	}
	a, err := netip.ParseAddr(inner)
	if err != nil {
		return "", partError(ErrInvalidDomain, raw, nil, err, "")
	}
	if !a.Is6() {
		return "", partError(ErrInvalidDomain, raw, nil, errNotIPv6, "")
	}
	out := "[" + a.String() + zone + "]"
	if len(out) > maxPart {
		return "", partError(ErrInvalidDomain, raw, ErrTooLong, nil, fmt.Sprintf("%d octets, maximum %d", len(out), maxPart))
	}
	return out, nil
}

// unreserved reports whether s consists of RFC 3986 unreserved characters.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
