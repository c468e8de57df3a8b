package presrules

import (
	"encoding/xml"
	"fmt"
	"time"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
)

// Namespaces of the two document formats.
const (
	// NSCommonPolicy is the namespace of rulesets, rules, conditions,
	// actions and transformations (RFC 4745 §15.1).
	NSCommonPolicy = "urn:ietf:params:xml:ns:common-policy"
	// NSPresRules is the namespace of the presence-specific actions and
	// transformations (RFC 5025 §11.2).
	NSPresRules = "urn:ietf:params:xml:ns:pres-rules"
)

// SubHandling is the value of the <sub-handling/> action, an enumerated
// integer type whose numeric values are those of RFC 5025 §3.2.1, so that
// combining the rules that match is taking the maximum (RFC 4745 §10.2).
type SubHandling uint8

// The sub-handling values of RFC 5025 §3.2.1.
const (
	// Block rejects the request; it is also the value of a rule without
	// a <sub-handling/> action and of a document no rule of which matches.
	Block SubHandling = 0
	// Confirm asks the user.
	Confirm SubHandling = 10
	// PoliteBlock accepts the watcher but shows it the user as
	// unavailable, so it cannot tell it was refused.
	PoliteBlock SubHandling = 20
	// Allow approves without asking the user.
	Allow SubHandling = 30
)

// String returns the value's name as written in documents.
func (s SubHandling) String() string {
	switch s {
	case Block:
		return "block"
	case Confirm:
		return "confirm"
	case PoliteBlock:
		return "polite-block"
	case Allow:
		return "allow"
	}
	return fmt.Sprintf("SubHandling(%d)", uint8(s))
}

// Router returns the router's name for s. The router's constants are
// ordered differently (by what the requester learns), which is why the
// combining is done on SubHandling and converted only at the end.
func (s SubHandling) Router() router.SubHandling {
	switch s {
	case Allow:
		return router.SubAllow
	case PoliteBlock:
		return router.SubPoliteBlock
	case Confirm:
		return router.SubConfirm
	}
	return router.SubBlock
}

// parseSubHandling reads the text of a <sub-handling/> element (an
// xs:token: surrounding whitespace is not significant).
func parseSubHandling(s string) (SubHandling, bool) {
	switch s {
	case "block":
		return Block, true
	case "confirm":
		return Confirm, true
	case "polite-block":
		return PoliteBlock, true
	case "allow":
		return Allow, true
	}
	return 0, false
}

// Document is a validated presence authorization document: a common-policy
// ruleset (RFC 4745 §6) whose rules may carry the RFC 5025 action and
// transformations. It is immutable and safe for concurrent use.
type Document struct {
	// Rules are the document's rules in document order (which does not
	// matter to evaluation, RFC 4745 §4).
	Rules []Rule
	// canonical is the canonical serialisation (see Canonical).
	canonical []byte
}

// Canonical returns the canonical serialisation of the document: what is
// stored and given back to the user. Every element is unprefixed and
// declares its namespace where it differs from its parent's, whitespace
// between elements is dropped, and extension elements the server does not
// understand are kept. The caller must not modify the result.
func (d *Document) Canonical() []byte { return d.canonical }

// Rule is one <rule/> (RFC 4745 §6).
type Rule struct {
	// ID is the rule's identifier (RFC 4745 §6.1), unique in the document.
	ID string
	// Conditions are what must all hold for the rule to apply.
	Conditions Conditions
	// SubHandling is the rule's <sub-handling/> action (RFC 5025
	// §3.2.1); Block when HasSubHandling is false, since a missing
	// permission takes its lowest value (RFC 4745 §10.2).
	SubHandling SubHandling
	// HasSubHandling reports whether the rule has a <sub-handling/>.
	HasSubHandling bool
	// OtherActions names the actions of other namespaces, which are
	// ignored (RFC 5025 §8) but kept in the canonical document.
	OtherActions []xml.Name
	// Transformations are the rule's RFC 5025 §3.3 permissions. Herald
	// keeps them but does not apply them yet.
	Transformations Transformations
}

// Conditions is the <conditions/> of a rule (RFC 4745 §7): the rule
// applies when every one of them is TRUE (a logical AND); a rule without
// conditions applies to every request.
type Conditions struct {
	// Identities are the <identity/> conditions (§7.1).
	Identities []Identity
	// Spheres are the token lists of the <sphere/> conditions (§7.3).
	// Herald has no notion of the user's sphere: its value is undefined
	// (RFC 5025 §3.1.2), so a sphere condition is never TRUE.
	Spheres [][]string
	// Validities are the <validity/> conditions (§7.4).
	Validities []Validity
	// Unsupported names the conditions of namespaces Herald does not
	// support; each is FALSE (§7), so a rule with one never applies.
	Unsupported []xml.Name
}

// Identity is an <identity/> condition (RFC 4745 §7.1): TRUE if any of its
// children is (a logical OR).
type Identity struct {
	// One are its <one/> children.
	One []Entity
	// Many are its <many/> children.
	Many []Many
	// Unsupported counts the children of other namespaces, which are
	// FALSE (§7.1.1).
	Unsupported int
}

// Entity is the 'id' of a <one/> or <except/> element (RFC 4745 §7.2).
type Entity struct {
	// ID is the attribute as written.
	ID string
	// JID is the bare JID the ID denotes when XMPP is true.
	JID jid.JID
	// XMPP reports whether the ID names an XMPP address: an xmpp: URI
	// (RFC 5122), a pres: or im: URI (RFC 3922 §3.3) or a bare JID. An
	// ID of another scheme (sip:, tel:, mailto:, ...) is kept but never
	// matches, since URIs of different schemes are never equivalent
	// (RFC 5025 §3.1.1.2).
	XMPP bool
}

// Many is a <many/> element (RFC 4745 §7.1.3): it matches every requester
// (of Domain, when set) except those an Except matches.
type Many struct {
	// Domain is the canonical domain of the 'domain' attribute; "" when
	// absent, for any domain (§7.1.3.1, §7.1.3.2).
	Domain string
	// Except are the exclusions, combined with a logical OR.
	Except []Except
	// Unsupported reports a child of another namespace. Herald cannot
	// know whether it would have excluded the requester, so such a
	// <many/> matches no one (granting less, never more).
	Unsupported bool
}

// Except is an <except/> element: exactly one of Domain and Entity is set.
type Except struct {
	// Domain is the canonical domain excluded; "" if Entity is used.
	Domain string
	// Entity is the single entity excluded (§7.2); zero if Domain is used.
	Entity Entity
}

// Validity is a <validity/> condition (RFC 4745 §7.4): TRUE when the
// current time is in one of its intervals.
type Validity []Interval

// Interval is one <from/>, <until/> pair: it contains the instants t with
// From <= t < Until.
type Interval struct {
	From, Until time.Time
}

// Transformations are the RFC 5025 §3.3 permissions of a rule. Herald
// parses, validates and stores them for per-watcher presence filtering,
// which does not exist yet: they have no effect today.
type Transformations struct {
	// Devices, Persons and Services are <provide-devices/>,
	// <provide-persons/> and <provide-services/> (§3.3.1); nil when the
	// rule has none (the empty set).
	Devices, Persons, Services *ProvideSet
	// Attributes holds the boolean permissions of §3.3.2 by element name
	// ("provide-activities", "provide-mood", ...).
	Attributes map[string]bool
	// UserInput is <provide-user-input/> (§3.3.2.12): "false", "bare",
	// "thresholds", "full", or "" when absent.
	UserInput string
	// Unknown are the <provide-unknown-attribute/> permissions
	// (§3.3.2.14).
	Unknown []UnknownAttribute
	// AllAttributes reports <provide-all-attributes/> (§3.3.2.15).
	AllAttributes bool
	// Other names the transformations of other namespaces, kept in the
	// canonical document.
	Other []xml.Name
}

// ProvideSet is a set permission of RFC 5025 §3.3.1.
type ProvideSet struct {
	// All is <all-devices/>, <all-persons/> or <all-services/>.
	All bool
	// Members are the set's members otherwise.
	Members []SetMember
}

// SetMember is one member of a ProvideSet.
type SetMember struct {
	// Kind is the element name: "class", "occurrence-id", "deviceID",
	// "service-uri" or "service-uri-scheme".
	Kind string
	// Value is its text.
	Value string
}

// UnknownAttribute is a <provide-unknown-attribute/> permission.
type UnknownAttribute struct {
	// Name and NS are the qualified name of the presence attribute.
	Name, NS string
	// Value is the permission.
	Value bool
}
