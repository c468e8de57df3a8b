// Package presrules implements presence authorization rules: the RFC 5025
// "pres-rules" document format over the RFC 4745 common-policy framework,
// applied to XMPP presence subscriptions. A user writes a <ruleset/> whose
// rules say, per watcher, how a request to subscribe to the user's presence
// is handled (<sub-handling/>, RFC 5025 §3.2.1); [Engine] validates and
// stores those documents, caches them, and decides inbound subscription
// requests for the router as its [router.SubscriptionPolicy].
//
// # Documents
//
// [Parse] validates a <ruleset/> against the schemas of RFC 4745 §13 and
// RFC 5025 §7 and returns a [Document]: the rules, their conditions
// (identity, sphere, validity), the <sub-handling/> action and the RFC 5025
// §3.3 transformations (parsed and kept, but not applied: Herald does not
// filter presence per watcher yet). Elements of other namespaces are
// accepted where the schemas allow them (RFC 4745 §6.2) and kept.
//
// What is stored and given back is the document's canonical serialisation
// ([Document.Canonical]): every element unprefixed, declaring its namespace
// where it differs from its parent's; whitespace between elements dropped;
// attributes of known elements limited to those the schemas define;
// extension elements copied with their attributes (prefixed ones under
// generated prefixes) and text. Parsing a canonical document gives the same
// bytes back.
//
// Herald is stricter than the schemas in a few places, to catch what can
// only be mistakes: an <until/> must be after its <from/>; a date-time must
// carry a time zone (RFC 3339, RFC 4745 §4 "no false assurance"); <except/>
// has exactly one of 'domain' and 'id' (§7.2); a rule has at most one
// <sub-handling/> and each RFC 5025 transformation at most once; elements of
// the pres-rules namespace appear only where RFC 5025 puts them. [Limits]
// bounds the rules, the entries and the size of a document. Errors wrap
// [ErrInvalid] or [ErrLimit] and say what is wrong.
//
// # Identities
//
// RFC 4745 §7.2 expresses identities as URIs. For XMPP, [ParseEntity]
// accepts xmpp: URIs (RFC 5122), pres: and im: URIs (RFC 3922 §3.3) and
// plain bare JIDs, and compares them with the requester as canonical bare
// JIDs (package jid, RFC 7622): a subscription is always requested by a
// bare JID (RFC 6121 §3.1.1). A resource in an identity is dropped. An
// identity of another scheme (sip:, tel:, mailto:) is accepted, so that a
// document shared with a SIP presence server is not refused, and never
// matches (RFC 5025 §3.1.1.2: URIs of different schemes are never
// equivalent). Domains ('domain' of <many/> and <except/>) are compared
// after IDNA preparation, as §7.1.3 requires. Every requester that reaches
// the router is authenticated (by SASL, or by the server that routed it).
// A session of SASL ANONYMOUS (RFC 4505) has a random JID of its own and is
// matched by it like any other, so <many/> includes it; RFC 5025 §3.1.1.2
// would treat it as unauthenticated, but the router's hook does not say how
// a requester authenticated.
//
// # Evaluation
//
// A rule applies when all its conditions hold (RFC 4745 §10.1):
//
//   - <identity/>: one of its <one/> and <many/> children matches (§7.1);
//     <many/> matches every requester, or those of its 'domain', except
//     those an <except/> names (§7.1.3). Children of other namespaces are
//     FALSE (§7.1.1), and a <many/> with a child of another namespace
//     matches no one, since Herald cannot tell whom it would exclude;
//   - <validity/>: the current time is in one of its [from, until)
//     intervals (§7.4);
//   - <sphere/>: Herald has no notion of the user's sphere (RFC 5025
//     §3.1.2 derives it from published RPID data, which Herald does not
//     process), so the user's sphere is undefined and a sphere condition
//     never holds. RFC 5025 §3.1.2 itself warns against sphere conditions
//     on <sub-handling/>;
//   - a condition of another namespace is FALSE (§7).
//
// The <sub-handling/> values of the applying rules are combined by taking
// the maximum of their numeric values (RFC 4745 §10.2; RFC 5025 §3.2.1:
// block 0, confirm 10, polite-block 20, allow 30); an applying rule without
// <sub-handling/> counts as block. When no rule applies the result is
// block, RFC 5025's default.
//
// That default applies only to users who have a document. A user without
// one keeps the ordinary XMPP flow, confirm (RFC 6121 §3.1.3: the request
// is delivered to the user), as before this package existed. So a user who
// stores rules for some watchers refuses everyone else, as RFC 5025
// prescribes; a rule such as <identity><many/></identity> with
// <sub-handling>confirm</sub-handling> restores "ask me" for the others.
//
// The router asks only about new requests: a contact already subscribed to
// the user's presence is not evaluated, and changing the rules does not
// end existing subscriptions (RFC 5025 §3.2.1 describes such terminations
// for SIP; XMPP leaves removing a subscription to the user, RFC 6121 §3.2).
// How the router carries each value out is its business (see
// router.SubHandling): polite-block approves the request without asking
// the user or recording it, and the watcher only ever sees the user
// unavailable, as RFC 5025 §3.2.1 has it.
//
// # Cache
//
// Documents are cached per owner in a sharded map, compiled, and so is the
// fact that an owner has none: deciding a request for a user without rules
// costs a hash and a map lookup under a read lock, after the first request.
// A change through the engine drops the owner's entry; a read that raced
// with a change is not cached. The cache holds a bounded number of owners
// ([WithCacheSize]). Changes made to storage behind the engine's back (an
// account deleted from the command line while the server runs) are not
// seen until the entry is evicted or [Engine.Invalidate] is called.
package presrules
