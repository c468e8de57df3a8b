package presrules

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// ErrInvalid reports a document that is not a valid presence authorization
// document (RFC 4745 §13, RFC 5025 §7) or that Herald refuses (see the
// package documentation). The error text says what is wrong.
var ErrInvalid = errors.New("invalid presence rules")

// ErrLimit reports a document beyond the server's limits (Limits).
var ErrLimit = errors.New("presence rules too large")

// Default limits.
const (
	// DefaultMaxRules bounds the rules of a document.
	DefaultMaxRules = 256
	// DefaultMaxBytes bounds the canonical serialisation of a document.
	DefaultMaxBytes = 64 << 10
	// DefaultMaxEntries bounds the identities (<one/>, <many/>,
	// <except/>), spheres, validity intervals, set members and extension
	// elements of a document together.
	DefaultMaxEntries = 4096
	// maxIDBytes bounds a rule's 'id'.
	maxIDBytes = 256
	// maxExtensionDepth bounds the nesting of extension elements.
	maxExtensionDepth = 16
)

// Limits bounds what a user may store; zero fields take the defaults.
type Limits struct {
	// MaxRules bounds the rules of a document (DefaultMaxRules).
	MaxRules int
	// MaxBytes bounds the canonical serialisation (DefaultMaxBytes).
	MaxBytes int
	// MaxEntries bounds the identities, spheres, validity intervals, set
	// members and extension elements together (DefaultMaxEntries).
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxRules <= 0 {
		l.MaxRules = DefaultMaxRules
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}

// nsXML is the namespace bound to the 'xml' prefix.
const nsXML = "http://www.w3.org/XML/1998/namespace"

// Parse validates a <ruleset/> element (RFC 4745 §13 with the RFC 5025 §7
// elements) and returns the document with its canonical serialisation.
// Namespace prefixes may be used as in the RFC 5025 §6 example. Errors wrap
// ErrInvalid or ErrLimit and say what is wrong.
func Parse(el *etree.Element, lim Limits) (*Document, error) {
	p := parser{lim: lim.withDefaults()}
	doc, out, err := p.ruleset(el)
	if err != nil {
		return nil, err
	}
	doc.canonical = stream.AppendElement(nil, out)
	if len(doc.canonical) > p.lim.MaxBytes {
		return nil, fmt.Errorf("%w: the document takes %d bytes, the server's limit is %d", ErrLimit, len(doc.canonical), p.lim.MaxBytes)
	}
	return doc, nil
}

// ParseBytes parses a serialised document, such as a stored canonical one,
// with the server's restricted XML decoder (RFC 6120 §11.1: no DTDs,
// comments or processing instructions, no XML declaration) and validates it
// with Parse.
func ParseBytes(b []byte, lim Limits) (*Document, error) {
	el, err := decodeElement(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Parse(el, lim)
}

// Element decodes a serialised document, such as Document.Canonical,
// into a tree.
func Element(b []byte) (*etree.Element, error) {
	return decodeElement(b)
}

// Stream framing that lets the stream decoder read a standalone element.
const (
	frameHeader  = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	frameTrailer = "</stream:stream>"
)

// decodeElement reads the one element b holds, with the stream decoder's
// restrictions and limits.
func decodeElement(b []byte) (*etree.Element, error) {
	buf := make([]byte, 0, len(frameHeader)+len(b)+len(frameTrailer))
	buf = append(append(append(buf, frameHeader...), b...), frameTrailer...)
	r := bytes.NewReader(buf)
	dec := stream.NewDecoder(r, stream.Limits{MaxStanzaBytes: storage.MaxPresenceRulesBytes})
	if _, err := dec.ReadHeader(); err != nil {
		return nil, fmt.Errorf("framing the document: %w", err)
	}
	el, err := dec.Next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("no element")
	}
	if err != nil {
		return nil, fmt.Errorf("not well-formed restricted XML: %w", err)
	}
	// Exactly one element: the next thing is our trailer, and it is the
	// end of the input.
	if _, err := dec.Next(); !errors.Is(err, io.EOF) || r.Len() != 0 || dec.Buffered() != 0 {
		return nil, errors.New("content after the document element")
	}
	return el, nil
}

// parser holds the state of one Parse.
type parser struct {
	lim     Limits
	entries int
}

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// entry counts one more entry against MaxEntries.
func (p *parser) entry() error {
	p.entries++
	if p.entries > p.lim.MaxEntries {
		return fmt.Errorf("%w: more than %d identities, spheres, validity intervals, set members and extension elements; the server's limit is %d", ErrLimit, p.lim.MaxEntries, p.lim.MaxEntries)
	}
	return nil
}

// ruleset reads the document element (RFC 4745 §13 /ruleset).
func (p *parser) ruleset(el *etree.Element) (*Document, *etree.Element, error) {
	if el == nil {
		return nil, nil, invalid("no <ruleset/>")
	}
	ns, err := namespaceOf(el)
	if err != nil {
		return nil, nil, err
	}
	if ns != NSCommonPolicy || el.Tag != "ruleset" {
		return nil, nil, invalid("the document is a <ruleset xmlns='%s'/> (RFC 4745 §13), not %s", NSCommonPolicy, display(ns, el.Tag))
	}
	if err := checkAttrs(el, "<ruleset/>"); err != nil {
		return nil, nil, err
	}
	kids, err := elementChildren(el, "<ruleset/>")
	if err != nil {
		return nil, nil, err
	}
	out := etree.NewElement("ruleset")
	out.CreateAttr("xmlns", NSCommonPolicy)
	doc := &Document{Rules: make([]Rule, 0, len(kids))}
	ids := make(map[string]bool, len(kids))
	for _, k := range kids {
		kns, err := namespaceOf(k)
		if err != nil {
			return nil, nil, err
		}
		if kns != NSCommonPolicy || k.Tag != "rule" {
			return nil, nil, invalid("a <ruleset/> holds only <rule/> elements (RFC 4745 §13), not %s", display(kns, k.Tag))
		}
		if len(doc.Rules) == p.lim.MaxRules {
			return nil, nil, fmt.Errorf("%w: more than %d rules; the server's limit is %d", ErrLimit, p.lim.MaxRules, p.lim.MaxRules)
		}
		r, rel, err := p.rule(k)
		if err != nil {
			return nil, nil, err
		}
		if ids[r.ID] {
			return nil, nil, invalid("two rules with the id %s (RFC 4745 §6.1: rule ids are unique)", quote(r.ID))
		}
		ids[r.ID] = true
		doc.Rules = append(doc.Rules, r)
		out.AddChild(rel)
	}
	return doc, out, nil
}

// Stages of a rule's children, which come in this order (RFC 4745 §13
// ruleType), each at most once.
const (
	stageConditions = iota + 1
	stageActions
	stageTransformations
)

// rule reads a <rule/>.
func (p *parser) rule(el *etree.Element) (Rule, *etree.Element, error) {
	var r Rule
	if err := checkAttrs(el, "<rule/>", "id"); err != nil {
		return r, nil, err
	}
	id, ok := attr(el, "id")
	switch {
	case !ok:
		return r, nil, invalid("a <rule/> without an 'id' (RFC 4745 §6.1)")
	case len(id) > maxIDBytes:
		return r, nil, fmt.Errorf("%w: rule id %s is longer than %d bytes", ErrLimit, quote(id), maxIDBytes)
	case !isNCName(id):
		return r, nil, invalid("rule id %s is not an XML name (xs:ID, RFC 4745 §13)", quote(id))
	}
	r.ID = id
	where := "rule " + quote(id)
	out := etree.NewElement("rule")
	out.CreateAttr("id", id)
	kids, err := elementChildren(el, where)
	if err != nil {
		return r, nil, err
	}
	stage := 0
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return r, nil, err
		}
		next := 0
		if ns == NSCommonPolicy {
			switch k.Tag {
			case "conditions":
				next = stageConditions
			case "actions":
				next = stageActions
			case "transformations":
				next = stageTransformations
			}
		}
		if next == 0 {
			return r, nil, invalid("%s: unexpected %s; a rule holds <conditions/>, <actions/> and <transformations/> (RFC 4745 §13)", where, display(ns, k.Tag))
		}
		if next <= stage {
			return r, nil, invalid("%s: <%s/> out of place: a rule holds at most one each of <conditions/>, <actions/> and <transformations/>, in that order (RFC 4745 §13)", where, k.Tag)
		}
		stage = next
		if err := checkAttrs(k, where+" <"+k.Tag+"/>"); err != nil {
			return r, nil, err
		}
		var sub *etree.Element
		switch next {
		case stageConditions:
			sub, err = p.conditions(k, &r.Conditions, where)
		case stageActions:
			sub, err = p.actions(k, &r, where)
		case stageTransformations:
			sub, err = p.transformations(k, &r.Transformations, where)
		}
		if err != nil {
			return r, nil, err
		}
		out.AddChild(sub)
	}
	return r, out, nil
}

// conditions reads <conditions/> (RFC 4745 §7).
func (p *parser) conditions(el *etree.Element, c *Conditions, where string) (*etree.Element, error) {
	out := etree.NewElement("conditions")
	kids, err := elementChildren(el, where+" <conditions/>")
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return nil, err
		}
		switch {
		case ns == NSPresRules:
			return nil, invalid("%s: %s is not a condition (RFC 5025 defines no conditions)", where, display(ns, k.Tag))
		case ns != NSCommonPolicy:
			// §7: a condition of an unsupported namespace is FALSE.
			c.Unsupported = append(c.Unsupported, xml.Name{Space: ns, Local: k.Tag})
			ext, err := p.extension(k, NSCommonPolicy, 1)
			if err != nil {
				return nil, err
			}
			out.AddChild(ext)
			continue
		}
		var sub *etree.Element
		switch k.Tag {
		case "identity":
			var id Identity
			id, sub, err = p.identity(k, where)
			c.Identities = append(c.Identities, id)
		case "sphere":
			var tokens []string
			tokens, sub, err = p.sphere(k, where)
			c.Spheres = append(c.Spheres, tokens)
		case "validity":
			var v Validity
			v, sub, err = p.validity(k, where)
			c.Validities = append(c.Validities, v)
		default:
			return nil, invalid("%s: unknown condition <%s/> (RFC 4745 §7 defines <identity/>, <sphere/> and <validity/>)", where, k.Tag)
		}
		if err != nil {
			return nil, err
		}
		out.AddChild(sub)
	}
	return out, nil
}

// identity reads <identity/> (RFC 4745 §7.1).
func (p *parser) identity(el *etree.Element, where string) (Identity, *etree.Element, error) {
	var id Identity
	if err := checkAttrs(el, where+" <identity/>"); err != nil {
		return id, nil, err
	}
	out := etree.NewElement("identity")
	kids, err := elementChildren(el, where+" <identity/>")
	if err != nil {
		return id, nil, err
	}
	if len(kids) == 0 {
		return id, nil, invalid("%s: an empty <identity/>; it holds <one/> or <many/> elements (RFC 4745 §7.1, §13)", where)
	}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return id, nil, err
		}
		if ns != NSCommonPolicy {
			if ns == NSPresRules {
				return id, nil, invalid("%s: %s in <identity/>", where, display(ns, k.Tag))
			}
			id.Unsupported++ // §7.1.1: FALSE
			ext, err := p.extension(k, NSCommonPolicy, 1)
			if err != nil {
				return id, nil, err
			}
			out.AddChild(ext)
			continue
		}
		if err := p.entry(); err != nil {
			return id, nil, err
		}
		switch k.Tag {
		case "one":
			e, sub, err := p.one(k, where)
			if err != nil {
				return id, nil, err
			}
			id.One = append(id.One, e)
			out.AddChild(sub)
		case "many":
			m, sub, err := p.many(k, where)
			if err != nil {
				return id, nil, err
			}
			id.Many = append(id.Many, m)
			out.AddChild(sub)
		default:
			return id, nil, invalid("%s: unexpected <%s/> in <identity/>, which holds <one/> and <many/> (RFC 4745 §7.1)", where, k.Tag)
		}
	}
	return id, out, nil
}

// one reads <one id='...'/> (RFC 4745 §7.1.2), which may carry one
// extension element.
func (p *parser) one(el *etree.Element, where string) (Entity, *etree.Element, error) {
	if err := checkAttrs(el, where+" <one/>", "id"); err != nil {
		return Entity{}, nil, err
	}
	idv, ok := attr(el, "id")
	if !ok {
		return Entity{}, nil, invalid("%s: <one/> without an 'id' (RFC 4745 §7.1.2)", where)
	}
	e, err := ParseEntity(idv)
	if err != nil {
		return e, nil, invalid("%s: <one/>: %v", where, err)
	}
	out := etree.NewElement("one")
	out.CreateAttr("id", idv)
	kids, err := elementChildren(el, where+" <one/>")
	if err != nil {
		return e, nil, err
	}
	for i, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return e, nil, err
		}
		if i > 0 || ns == NSCommonPolicy || ns == NSPresRules {
			return e, nil, invalid("%s: <one/> holds at most one element, of another namespace (RFC 4745 §13)", where)
		}
		ext, err := p.extension(k, NSCommonPolicy, 1)
		if err != nil {
			return e, nil, err
		}
		out.AddChild(ext)
	}
	return e, out, nil
}

// many reads <many/> (RFC 4745 §7.1.3).
func (p *parser) many(el *etree.Element, where string) (Many, *etree.Element, error) {
	var m Many
	if err := checkAttrs(el, where+" <many/>", "domain"); err != nil {
		return m, nil, err
	}
	out := etree.NewElement("many")
	if d, ok := attr(el, "domain"); ok {
		canon, err := ParseDomain(d)
		if err != nil {
			return m, nil, invalid("%s: <many/>: %v", where, err)
		}
		m.Domain = canon
		out.CreateAttr("domain", d)
	}
	kids, err := elementChildren(el, where+" <many/>")
	if err != nil {
		return m, nil, err
	}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return m, nil, err
		}
		switch {
		case ns == NSCommonPolicy && k.Tag == "except":
			if err := p.entry(); err != nil {
				return m, nil, err
			}
			x, sub, err := p.except(k, where)
			if err != nil {
				return m, nil, err
			}
			m.Except = append(m.Except, x)
			out.AddChild(sub)
		case ns == NSCommonPolicy || ns == NSPresRules:
			return m, nil, invalid("%s: unexpected %s in <many/>, which holds <except/> elements (RFC 4745 §7.1.3)", where, display(ns, k.Tag))
		default:
			m.Unsupported = true
			ext, err := p.extension(k, NSCommonPolicy, 1)
			if err != nil {
				return m, nil, err
			}
			out.AddChild(ext)
		}
	}
	return m, out, nil
}

// except reads <except domain='...'/> or <except id='...'/> (RFC 4745
// §7.1.3, §7.2: a single-user entity has no 'domain').
func (p *parser) except(el *etree.Element, where string) (Except, *etree.Element, error) {
	var x Except
	if err := checkAttrs(el, where+" <except/>", "domain", "id"); err != nil {
		return x, nil, err
	}
	if kids, err := elementChildren(el, where+" <except/>"); err != nil {
		return x, nil, err
	} else if len(kids) > 0 {
		return x, nil, invalid("%s: <except/> is empty (RFC 4745 §13)", where)
	}
	d, hasDomain := attr(el, "domain")
	idv, hasID := attr(el, "id")
	out := etree.NewElement("except")
	switch {
	case hasDomain && hasID:
		return x, nil, invalid("%s: <except/> has either a 'domain' or an 'id', not both (RFC 4745 §7.2)", where)
	case hasDomain:
		canon, err := ParseDomain(d)
		if err != nil {
			return x, nil, invalid("%s: <except/>: %v", where, err)
		}
		x.Domain = canon
		out.CreateAttr("domain", d)
	case hasID:
		e, err := ParseEntity(idv)
		if err != nil {
			return x, nil, invalid("%s: <except/>: %v", where, err)
		}
		x.Entity = e
		out.CreateAttr("id", idv)
	default:
		return x, nil, invalid("%s: <except/> needs a 'domain' or an 'id' (RFC 4745 §7.1.3)", where)
	}
	return x, out, nil
}

// sphere reads <sphere value='...'/> (RFC 4745 §7.3): blank-separated
// tokens.
func (p *parser) sphere(el *etree.Element, where string) ([]string, *etree.Element, error) {
	if err := checkAttrs(el, where+" <sphere/>", "value"); err != nil {
		return nil, nil, err
	}
	if kids, err := elementChildren(el, where+" <sphere/>"); err != nil {
		return nil, nil, err
	} else if len(kids) > 0 {
		return nil, nil, invalid("%s: <sphere/> is empty (RFC 4745 §13)", where)
	}
	v, ok := attr(el, "value")
	if !ok {
		return nil, nil, invalid("%s: <sphere/> without a 'value' (RFC 4745 §7.3)", where)
	}
	tokens := strings.Fields(v)
	if len(tokens) == 0 {
		return nil, nil, invalid("%s: <sphere/> with an empty 'value' (RFC 4745 §7.3)", where)
	}
	if err := p.entry(); err != nil {
		return nil, nil, err
	}
	out := etree.NewElement("sphere")
	out.CreateAttr("value", v)
	return tokens, out, nil
}

// validity reads <validity/> (RFC 4745 §7.4): <from/>, <until/> pairs.
func (p *parser) validity(el *etree.Element, where string) (Validity, *etree.Element, error) {
	if err := checkAttrs(el, where+" <validity/>"); err != nil {
		return nil, nil, err
	}
	kids, err := elementChildren(el, where+" <validity/>")
	if err != nil {
		return nil, nil, err
	}
	if len(kids) == 0 {
		return nil, nil, invalid("%s: an empty <validity/>; it holds <from/>, <until/> pairs (RFC 4745 §7.4)", where)
	}
	out := etree.NewElement("validity")
	var v Validity
	var from time.Time
	for i, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return nil, nil, err
		}
		want := "from"
		if i%2 == 1 {
			want = "until"
		}
		if ns != NSCommonPolicy || k.Tag != want {
			return nil, nil, invalid("%s: <validity/> holds <from/>, <until/> pairs in that order (RFC 4745 §7.4); found %s where <%s/> belongs", where, display(ns, k.Tag), want)
		}
		if err := checkAttrs(k, where+" <"+want+"/>"); err != nil {
			return nil, nil, err
		}
		text, err := simpleText(k, where+" <"+want+"/>")
		if err != nil {
			return nil, nil, err
		}
		t, err := time.Parse(time.RFC3339, text)
		if err != nil {
			return nil, nil, invalid("%s: <%s/> %s is not an RFC 3339 date-time with a time zone, such as 2003-12-24T17:00:00+01:00 (RFC 4745 §7.4)", where, want, quote(text))
		}
		sub := out.CreateElement(want)
		sub.SetText(text)
		if want == "from" {
			from = t
			continue
		}
		if !t.After(from) {
			return nil, nil, invalid("%s: <until/> %s is not after <from/> (RFC 4745 §7.4: the interval would be empty)", where, quote(text))
		}
		if err := p.entry(); err != nil {
			return nil, nil, err
		}
		v = append(v, Interval{From: from, Until: t})
	}
	if len(kids)%2 == 1 {
		return nil, nil, invalid("%s: a <from/> without its <until/> (RFC 4745 §7.4)", where)
	}
	return v, out, nil
}

// actions reads <actions/> (RFC 4745 §8): the RFC 5025 §3.2.1
// <sub-handling/>, and actions of other namespaces, which are kept and
// ignored (RFC 5025 §8).
func (p *parser) actions(el *etree.Element, r *Rule, where string) (*etree.Element, error) {
	out := etree.NewElement("actions")
	kids, err := elementChildren(el, where+" <actions/>")
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return nil, err
		}
		switch {
		case ns == NSCommonPolicy:
			return nil, invalid("%s: unexpected <%s/> in <actions/>: actions belong to other namespaces (RFC 4745 §8, §13)", where, k.Tag)
		case ns == NSPresRules && k.Tag == "sub-handling":
			if r.HasSubHandling {
				return nil, invalid("%s: two <sub-handling/> actions", where)
			}
			if err := checkAttrs(k, where+" <sub-handling/>"); err != nil {
				return nil, err
			}
			text, err := simpleText(k, where+" <sub-handling/>")
			if err != nil {
				return nil, err
			}
			v, ok := parseSubHandling(text)
			if !ok {
				return nil, invalid("%s: <sub-handling/> %s is not block, confirm, polite-block or allow (RFC 5025 §3.2.1)", where, quote(text))
			}
			r.SubHandling, r.HasSubHandling = v, true
			sub := out.CreateElement("sub-handling")
			sub.CreateAttr("xmlns", NSPresRules)
			sub.SetText(v.String())
		case ns == NSPresRules:
			return nil, invalid("%s: <%s/> is not an action; RFC 5025 §3.2 defines only <sub-handling/>", where, k.Tag)
		default:
			r.OtherActions = append(r.OtherActions, xml.Name{Space: ns, Local: k.Tag})
			ext, err := p.extension(k, NSCommonPolicy, 1)
			if err != nil {
				return nil, err
			}
			out.AddChild(ext)
		}
	}
	return out, nil
}

// isBooleanPermission reports whether name is one of the boolean
// permissions of RFC 5025 §3.3.2.
func isBooleanPermission(name string) bool {
	switch name {
	case "provide-activities", "provide-class", "provide-deviceID", "provide-mood",
		"provide-place-is", "provide-place-type", "provide-privacy", "provide-relationship",
		"provide-sphere", "provide-status-icon", "provide-time-offset", "provide-note":
		return true
	}
	return false
}

// setAll returns the "all" element of a set permission of RFC 5025
// §3.3.1, or "" if name is not one.
func setAll(name string) string {
	switch name {
	case "provide-devices":
		return "all-devices"
	case "provide-persons":
		return "all-persons"
	case "provide-services":
		return "all-services"
	}
	return ""
}

// isSetMember reports whether member may be in the set permission set
// (RFC 5025 §7).
func isSetMember(set, member string) bool {
	switch member {
	case "occurrence-id", "class":
		return true
	case "deviceID":
		return set == "provide-devices"
	case "service-uri", "service-uri-scheme":
		return set == "provide-services"
	}
	return false
}

// transformations reads <transformations/> (RFC 4745 §9): the RFC 5025
// §3.3 permissions, validated and kept, and transformations of other
// namespaces, kept.
func (p *parser) transformations(el *etree.Element, t *Transformations, where string) (*etree.Element, error) {
	out := etree.NewElement("transformations")
	kids, err := elementChildren(el, where+" <transformations/>")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return nil, err
		}
		switch ns {
		case NSCommonPolicy:
			return nil, invalid("%s: unexpected <%s/> in <transformations/>: transformations belong to other namespaces (RFC 4745 §9, §13)", where, k.Tag)
		case NSPresRules:
		default:
			t.Other = append(t.Other, xml.Name{Space: ns, Local: k.Tag})
			ext, err := p.extension(k, NSCommonPolicy, 1)
			if err != nil {
				return nil, err
			}
			out.AddChild(ext)
			continue
		}
		what := where + " <" + k.Tag + "/>"
		if k.Tag != "provide-unknown-attribute" {
			if seen[k.Tag] {
				return nil, invalid("%s: two <%s/> permissions", where, k.Tag)
			}
			seen[k.Tag] = true
		}
		sub := etree.NewElement(k.Tag)
		sub.CreateAttr("xmlns", NSPresRules)
		switch {
		case isBooleanPermission(k.Tag):
			if err := checkAttrs(k, what); err != nil {
				return nil, err
			}
			b, text, err := booleanText(k, what)
			if err != nil {
				return nil, err
			}
			if t.Attributes == nil {
				t.Attributes = make(map[string]bool)
			}
			t.Attributes[k.Tag] = b
			sub.SetText(text)
		case setAll(k.Tag) != "":
			set, err := p.provideSet(k, sub, what)
			if err != nil {
				return nil, err
			}
			switch k.Tag {
			case "provide-devices":
				t.Devices = set
			case "provide-persons":
				t.Persons = set
			default:
				t.Services = set
			}
		case k.Tag == "provide-user-input":
			if err := checkAttrs(k, what); err != nil {
				return nil, err
			}
			text, err := simpleText(k, what)
			if err != nil {
				return nil, err
			}
			switch text {
			case "false", "bare", "thresholds", "full":
			default:
				return nil, invalid("%s: %s is not false, bare, thresholds or full (RFC 5025 §3.3.2.12)", what, quote(text))
			}
			t.UserInput = text
			sub.SetText(text)
		case k.Tag == "provide-unknown-attribute":
			u, err := p.unknownAttribute(k, sub, what)
			if err != nil {
				return nil, err
			}
			for _, o := range t.Unknown {
				if o.Name == u.Name && o.NS == u.NS {
					return nil, invalid("%s: two <provide-unknown-attribute/> permissions for {%s}%s", where, u.NS, u.Name)
				}
			}
			t.Unknown = append(t.Unknown, u)
		case k.Tag == "provide-all-attributes":
			if err := checkAttrs(k, what); err != nil {
				return nil, err
			}
			if err := emptyElement(k, what); err != nil {
				return nil, err
			}
			t.AllAttributes = true
		case k.Tag == "sub-handling":
			return nil, invalid("%s: <sub-handling/> is an action, not a transformation (RFC 5025 §3.2.1)", where)
		default:
			return nil, invalid("%s: unknown transformation <%s/> of %s (RFC 5025 §3.3)", where, k.Tag, NSPresRules)
		}
		out.AddChild(sub)
	}
	return out, nil
}

// provideSet reads a set permission (RFC 5025 §3.3.1) into out.
func (p *parser) provideSet(el, out *etree.Element, what string) (*ProvideSet, error) {
	if err := checkAttrs(el, what); err != nil {
		return nil, err
	}
	all := setAll(el.Tag)
	kids, err := elementChildren(el, what)
	if err != nil {
		return nil, err
	}
	set := &ProvideSet{}
	for _, k := range kids {
		ns, err := namespaceOf(k)
		if err != nil {
			return nil, err
		}
		if ns != NSPresRules {
			if ns == NSCommonPolicy {
				return nil, invalid("%s: unexpected <%s/> of %s", what, k.Tag, NSCommonPolicy)
			}
			ext, err := p.extension(k, NSPresRules, 1)
			if err != nil {
				return nil, err
			}
			out.AddChild(ext)
			continue
		}
		if err := p.entry(); err != nil {
			return nil, err
		}
		if err := checkAttrs(k, what+" <"+k.Tag+"/>"); err != nil {
			return nil, err
		}
		switch {
		case k.Tag == all:
			if len(kids) != 1 {
				return nil, invalid("%s: <%s/> stands alone (RFC 5025 §7)", what, all)
			}
			if err := emptyElement(k, what+" <"+k.Tag+"/>"); err != nil {
				return nil, err
			}
			set.All = true
			out.CreateElement(all)
		case isSetMember(el.Tag, k.Tag):
			text, err := simpleText(k, what+" <"+k.Tag+"/>")
			if err != nil {
				return nil, err
			}
			if text == "" {
				return nil, invalid("%s: an empty <%s/>", what, k.Tag)
			}
			set.Members = append(set.Members, SetMember{Kind: k.Tag, Value: text})
			out.CreateElement(k.Tag).SetText(text)
		default:
			return nil, invalid("%s: unexpected <%s/> (RFC 5025 §3.3.1)", what, k.Tag)
		}
	}
	return set, nil
}

// unknownAttribute reads <provide-unknown-attribute/> (RFC 5025
// §3.3.2.14) into out.
func (p *parser) unknownAttribute(el, out *etree.Element, what string) (UnknownAttribute, error) {
	var u UnknownAttribute
	if err := checkAttrs(el, what, "name", "ns"); err != nil {
		return u, err
	}
	name, hasName := attr(el, "name")
	ns, hasNS := attr(el, "ns")
	switch {
	case !hasName || !hasNS:
		return u, invalid("%s: needs both 'name' and 'ns' (RFC 5025 §3.3.2.14)", what)
	case strings.Contains(name, ":") || !isNCName(name):
		return u, invalid("%s: 'name' %s is not an unqualified element name (RFC 5025 §3.3.2.14)", what, quote(name))
	case ns == "":
		return u, invalid("%s: an empty 'ns' (RFC 5025 §3.3.2.14)", what)
	}
	b, text, err := booleanText(el, what)
	if err != nil {
		return u, err
	}
	out.CreateAttr("name", name)
	out.CreateAttr("ns", ns)
	out.SetText(text)
	return UnknownAttribute{Name: name, NS: ns, Value: b}, nil
}

// booleanText reads an xs:boolean permission.
func booleanText(el *etree.Element, what string) (bool, string, error) {
	text, err := simpleText(el, what)
	if err != nil {
		return false, "", err
	}
	switch text {
	case "true", "1":
		return true, text, nil
	case "false", "0":
		return false, text, nil
	}
	return false, "", invalid("%s: %s is not a boolean (true, false, 1 or 0)", what, quote(text))
}

// extension returns the canonical copy of an element the server does not
// interpret, to keep in the stored document (RFC 4745 §6.2): unprefixed,
// declaring its namespace where it differs from parentNS, its prefixed
// attributes with prefixes of its own, whitespace between child elements
// dropped.
func (p *parser) extension(el *etree.Element, parentNS string, depth int) (*etree.Element, error) {
	if depth > maxExtensionDepth {
		return nil, fmt.Errorf("%w: extension elements nested more than %d deep", ErrLimit, maxExtensionDepth)
	}
	if err := p.entry(); err != nil {
		return nil, err
	}
	ns, err := namespaceOf(el)
	if err != nil {
		return nil, err
	}
	if ns == "" && depth == 1 {
		return nil, invalid("%s has no namespace: extensions belong to a namespace of their own (RFC 4745 §6.2)", display(ns, el.Tag))
	}
	out := etree.NewElement(el.Tag)
	if ns != parentNS {
		out.CreateAttr("xmlns", ns)
	}
	var prefixes []string // namespace URIs; the prefix of the i-th is "a<i>"
	seen := map[xml.Name]bool{}
	for _, a := range el.Attr {
		if isNamespaceDecl(a) {
			continue
		}
		name := xml.Name{Local: a.Key}
		key := a.Key
		switch a.Space {
		case "":
		case "xml":
			name.Space, key = nsXML, "xml:"+a.Key
		default:
			uri, ok := lookupPrefix(el, a.Space)
			if !ok || uri == "" {
				return nil, invalid("attribute %s:%s uses an undeclared prefix", a.Space, a.Key)
			}
			name.Space = uri
			i := 0
			for i < len(prefixes) && prefixes[i] != uri {
				i++
			}
			if i == len(prefixes) {
				prefixes = append(prefixes, uri)
				out.CreateAttr(fmt.Sprintf("xmlns:a%d", i), uri)
			}
			key = fmt.Sprintf("a%d:%s", i, a.Key)
		}
		if seen[name] {
			return nil, invalid("%s has two attributes {%s}%s", display(ns, el.Tag), name.Space, name.Local)
		}
		seen[name] = true
		out.CreateAttr(key, a.Value)
	}
	hasElements := false
	for _, c := range el.Child {
		if _, ok := c.(*etree.Element); ok {
			hasElements = true
			break
		}
	}
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			sub, err := p.extension(c, ns, depth+1)
			if err != nil {
				return nil, err
			}
			out.AddChild(sub)
		case *etree.CharData:
			if hasElements && isXMLSpace(c.Data) {
				continue
			}
			out.CreateText(c.Data)
		}
	}
	return out, nil
}

// elementChildren returns the child elements of a structural element,
// which may have whitespace between them but no other text.
func elementChildren(el *etree.Element, where string) ([]*etree.Element, error) {
	kids := make([]*etree.Element, 0, len(el.Child))
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			kids = append(kids, c)
		case *etree.CharData:
			if !isXMLSpace(c.Data) {
				return nil, invalid("%s: unexpected text %s", where, quote(strings.Trim(c.Data, xmlSpace)))
			}
		}
	}
	return kids, nil
}

// simpleText returns the text of an element of simple type, without
// surrounding whitespace; it must have no child elements.
func simpleText(el *etree.Element, what string) (string, error) {
	var b strings.Builder
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			return "", invalid("%s: holds text only, not <%s/>", what, c.Tag)
		case *etree.CharData:
			b.WriteString(c.Data)
		}
	}
	return strings.Trim(b.String(), xmlSpace), nil
}

// emptyElement requires el to have no content but whitespace.
func emptyElement(el *etree.Element, what string) error {
	text, err := simpleText(el, what)
	if err == nil && text != "" {
		err = invalid("%s: is empty, found text %s", what, quote(text))
	}
	return err
}

// checkAttrs requires el's attributes, namespace declarations aside, to be
// unprefixed and among allowed.
func checkAttrs(el *etree.Element, what string, allowed ...string) error {
	for _, a := range el.Attr {
		if isNamespaceDecl(a) {
			continue
		}
		ok := a.Space == ""
		if ok {
			ok = false
			for _, k := range allowed {
				if a.Key == k {
					ok = true
					break
				}
			}
		}
		if !ok {
			return invalid("%s: unexpected attribute '%s'", what, a.FullKey())
		}
	}
	return nil
}

// attr returns the value of an unprefixed attribute.
func attr(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// isNamespaceDecl reports whether a declares a namespace.
func isNamespaceDecl(a etree.Attr) bool {
	return a.Space == "xmlns" || a.Space == "" && a.Key == "xmlns"
}

// namespaceOf resolves el's namespace from the declarations in scope.
func namespaceOf(el *etree.Element) (string, error) {
	uri, ok := lookupPrefix(el, el.Space)
	if !ok {
		if el.Space == "" {
			return "", nil
		}
		return "", invalid("element %s:%s uses an undeclared prefix", el.Space, el.Tag)
	}
	return uri, nil
}

// lookupPrefix finds the namespace bound to prefix ("" for the default
// namespace) at el.
func lookupPrefix(el *etree.Element, prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if prefix == "" && a.Space == "" && a.Key == "xmlns" || prefix != "" && a.Space == "xmlns" && a.Key == prefix {
				return a.Value, true
			}
		}
	}
	return "", false
}

// display names an element for a message.
func display(ns, local string) string {
	switch ns {
	case NSCommonPolicy, NSPresRules:
		return "<" + local + "/>"
	case "":
		return "<" + local + "/> (no namespace)"
	}
	return "<" + local + " xmlns='" + shorten(ns) + "'/>"
}

// xmlSpace is XML's white space (XML §2.3 S).
const xmlSpace = " \t\r\n"

func isXMLSpace(s string) bool { return strings.Trim(s, xmlSpace) == "" }

// isNCName approximates the XML NCName production (an xs:ID): a letter or
// '_', then letters, digits, marks, '.', '-', '_' and '·', no ':'.
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || r == '\u00b7' || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nl)):
		default:
			return false
		}
	}
	return true
}
