package presrules

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/herald-im/herald/jid"
)

// ParseEntity reads the 'id' of a <one/> or <except/> element (RFC 4745
// §7.2), which is a URI. For XMPP the watcher's identity is its bare JID,
// and these forms denote one:
//
//   - an xmpp: URI (RFC 5122 §2): "xmpp:juliet@example.com"; an authority
//     component ("xmpp://romeo@example.net/juliet@example.com") names the
//     account a client would act as, not the address, and is skipped; a
//     query or fragment is ignored; a resource is dropped, as presence
//     subscriptions are between bare JIDs (RFC 6121 §3);
//   - a pres: or im: URI (RFC 3922 §3.3): "pres:juliet@example.com", whose
//     localpart is percent-decoded and has &, ' and / translated to #26;,
//     #27; and #2f; (step 5);
//   - a bare JID, which is not a URI but is what an XMPP user writes:
//     "juliet@example.com".
//
// Each part is then prepared as RFC 7622 requires, so that the comparison
// with the requester is between canonical bare JIDs. An XMPP form that does
// not yield a valid JID is an error. An ID of any other scheme (sip:, tel:,
// mailto:, ...) is valid but never matches an XMPP requester (RFC 5025
// §3.1.1.2: URIs of different schemes are never equivalent); it is returned
// with XMPP false.
func ParseEntity(id string) (Entity, error) {
	e := Entity{ID: id}
	if id == "" {
		return e, errors.New("empty 'id'")
	}
	scheme, rest, isURI := splitScheme(id)
	var (
		j   jid.JID
		err error
	)
	switch {
	case !isURI:
		j, err = jid.Parse(id)
	case scheme == "xmpp":
		j, err = parseXMPPURI(rest)
	case scheme == "pres" || scheme == "im":
		j, err = parseCPIMURI(rest)
	default:
		return e, nil
	}
	if err != nil {
		return e, fmt.Errorf("'id' %s is not an XMPP address: %w", quote(id), err)
	}
	e.JID, e.XMPP = j.Bare(), true
	return e, nil
}

// splitScheme splits a URI's scheme (RFC 3986 §3.1: a letter, then
// letters, digits, '+', '-' or '.', then ':'), lower-cased, from the rest.
// isURI is false when s does not start with a scheme, as a JID does not:
// "user@host" stops at '@', "[::1]" at '['.
func splitScheme(s string) (scheme, rest string, isURI bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.ToLower(s[:i]), s[i+1:], true
		default:
			return "", s, false
		}
	}
	return "", s, false
}

// parseXMPPURI reads the part of an xmpp: URI after the scheme (RFC 5122
// §2.2): [ "//" authxmpp "/" ] [ nodeid "@" ] hostpart [ "/" resid ]
// [ "?" query ] [ "#" fragment ], each part percent-encoded.
func parseXMPPURI(rest string) (jid.JID, error) {
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		// authpath: the authority is who acts, the path whom it is about.
		_, path, ok := strings.Cut(after, "/")
		if !ok {
			return jid.JID{}, errors.New("the URI has an authority but no address (RFC 5122 §2.3)")
		}
		rest = path
	}
	addr, res, hasRes := strings.Cut(rest, "/")
	node, host, err := splitAddress(addr)
	if err != nil {
		return jid.JID{}, err
	}
	if hasRes {
		if res, err = unescape(res); err != nil {
			return jid.JID{}, err
		}
		if res == "" {
			return jid.JID{}, errors.New("empty resourcepart")
		}
	}
	return jid.New(node, host, res)
}

// splitAddress splits a URI's "node@host" (or "host") at the first '@'
// and percent-decodes both parts; a present but empty node is an error.
func splitAddress(addr string) (node, host string, err error) {
	node, host, hasNode := strings.Cut(addr, "@")
	if !hasNode {
		node, host = "", addr
	} else if node == "" {
		return "", "", errors.New("empty localpart")
	}
	if node, err = unescape(node); err != nil {
		return "", "", err
	}
	if host, err = unescape(host); err != nil {
		return "", "", err
	}
	return node, host, nil
}

// parseCPIMURI reads the part of a pres: or im: URI after the scheme as
// RFC 3922 §3.3 maps it to an XMPP address: split at the first '@',
// percent-decode, translate &, ' and / in the localpart to #26;, #27; and
// #2f;. A query ("?headers", RFC 3860 §3, RFC 3861 §3) is ignored.
func parseCPIMURI(rest string) (jid.JID, error) {
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	node, host, err := splitAddress(rest)
	if err != nil {
		return jid.JID{}, err
	}
	node = strings.NewReplacer("&", "#26;", "'", "#27;", "/", "#2f;").Replace(node)
	return jid.New(node, host, "")
}

// unescape decodes percent-encoding and requires UTF-8.
func unescape(s string) (string, error) {
	u, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("bad percent-encoding in %s", quote(s))
	}
	if !utf8.ValidString(u) {
		return "", fmt.Errorf("%s does not decode to UTF-8", quote(s))
	}
	return u, nil
}

// ParseDomain reads a 'domain' attribute of <many/> or <except/> as RFC
// 4745 §7.1.3 compares them: percent-decoded, then converted as IDNA
// requires (jid's domainpart preparation, which also lower-cases and maps
// A-labels to U-labels, so equal domains have equal canonical forms). It
// returns the canonical domain.
func ParseDomain(domain string) (string, error) {
	d, err := unescape(domain)
	if err == nil {
		if d == "" {
			err = errors.New("empty domain")
		} else if strings.ContainsAny(d, "@/") {
			err = errors.New("a domain has no '@' or '/'")
		}
	}
	var j jid.JID
	if err == nil {
		j, err = jid.New("", d, "")
	}
	if err != nil {
		return "", fmt.Errorf("'domain' %s is not a domain: %w", quote(domain), err)
	}
	return j.Domain(), nil
}

// quote quotes s for an error message, shortened to at most 64 bytes.
func quote(s string) string {
	if t := shorten(s); len(t) < len(s) {
		return fmt.Sprintf("%q…", t[:len(t)-len("…")])
	}
	return fmt.Sprintf("%q", s)
}

// shorten returns s cut to at most 64 bytes on a character boundary,
// with an ellipsis when it was cut.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
