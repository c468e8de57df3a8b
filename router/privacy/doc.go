// Package privacy is Herald's privacy policy: it evaluates users' privacy
// lists (XEP-0016) and blocklists (XEP-0191) on every delivery the router
// makes, and offers the list management that the jabber:iq:privacy and
// urn:xmpp:blocking modules expose to clients. [Engine] implements
// [router.Policy].
//
// # Evaluation (XEP-0016 §2.1, §2.2)
//
// Which list applies: the active list of the session a stanza reaches or
// leaves from (§2.4), else the user's default list (§2.5), else none and
// everything is allowed (§2.2 rules 1–3). A stanza for or from a bare JID
// (stored offline, a subscription request, an answer the server gives on
// the account's behalf) is judged by the default list only. Stanzas between
// resources of one account are never filtered (XEP-0016 note 5), nor those
// between a user and the user's own server (its domain JID or a resource of
// it), so that a list denying everything leaves the client able to talk to
// its server.
//
// Rules are tried in ascending 'order'; the first rule that matches the
// other party and the stanza kind decides (§2.2 rules 5, 6); when none
// matches the stanza is allowed (rule 7). A rule of type jid matches
// according to the form of its value (§2.1):
//
//	user@domain/resource  only that full JID
//	user@domain           that bare JID, with any resource or none
//	domain/resource       only that full JID of the domain
//	domain                the domain itself and every JID at it
//
// The four forms define what each rule matches; precedence between rules
// is the rules' 'order' alone, as §2.2 rules 5 and 6 require. A group rule
// matches a party whose item in the owner's roster is in that group; a
// subscription rule matches the item's subscription state exactly, "none"
// also matching a party with no item. A rule with no type matches everyone.
// Rules re-read the roster on each evaluation, so roster changes take effect
// at once (§2.2 rule 9).
//
// Kinds (§2.1): a rule with no kind child applies to every stanza, in both
// directions (§2.13). <message/>, <iq/> and <presence-in/> select incoming
// messages, iqs and presence notifications, <presence-out/> outgoing
// presence notifications. An outgoing message or iq is therefore judged only
// by rules that apply to every stanza, and so is any [router.StanzaKind] this
// package does not know: the router passes [router.KindPresence] for
// presence notifications and should give subscription stanzas and probes a
// kind of their own, which the engine then judges by the all-kinds rules
// alone, as §2.10 and §2.13 require.
//
// Denials: an incoming stanza that is refused is reported to the router,
// which answers as if the user were unavailable (§2.14, XEP-0191 §3.3). An
// outgoing one yields not-acceptable, with the <blocked/> condition of
// urn:xmpp:blocking:errors when the rule that refused it is a blocking rule
// (XEP-0191 §3.3; see below).
//
// # Blocking as privacy lists (XEP-0191 §5)
//
// Both protocols share one store. A blocking rule is a rule of type jid
// with action deny and no kind child (it blocks every stanza in both
// directions). The blocklist is the set of blocking rules of the user's
// default list, in list order:
//
//   - blocking a JID adds a blocking rule for it ahead of every other rule
//     of the default list (XEP-0191 §5: blocked items come first), leaving
//     the other rules' order values alone when there is room below the
//     lowest one and renumbering the list (in steps of ten) otherwise;
//   - when the user has no default list, blocking creates one named
//     [BlocklistName] (or that name with a numeric suffix when a list of
//     that name exists) and makes it the default;
//   - unblocking removes the blocking rules for the given JIDs, unblocking
//     all removes every blocking rule; the list itself stays, possibly empty;
//   - conversely a blocking rule written with jabber:iq:privacy into the
//     default list, wherever it stands, appears in the blocklist, and
//     changing which list is the default changes the blocklist (§5 items 2
//     and 4). Each such change is pushed to the resources that requested
//     the blocklist as block and unblock pushes, and every change to a list
//     is pushed to all resources as a privacy list push (XEP-0016 §2.6).
//
// A session with an active list other than the default one is not protected
// by the blocklist (XEP-0191 §5 item 5).
//
// # Presence on changes
//
// When a change makes the user's presence visible to fewer or more
// contacts (blocking, unblocking, editing a list with presence-out rules,
// switching lists), the engine asks the router, through [Sessions], to send
// unavailable presence to those who can no longer see it (XEP-0191 §3.3,
// XEP-0016 §2.11) and the current presence to those who can again
// (XEP-0191 §3.4).
//
// # Cache
//
// Lists are cached per owner, compiled, and dropped when the owner's lists
// change, so judging a stanza for a user with no list costs one map lookup
// under a read lock. The cache holds at most a configured number of owners
// ([WithCacheSize]); the per-session state (active lists, blocklist
// interest) is kept until the session ends.
package privacy
