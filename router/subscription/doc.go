// Package subscription implements the presence subscription state machine of
// RFC 6121 §3 (Managing Presence Subscriptions) and Appendix A
// (Subscription States) as pure functions: no I/O, no storage, no XML.
//
// A roster item's subscription is a [State]: one of the nine states of
// App. A.1, such as "None + Pending Out" or "Both". When the user sends a
// presence stanza of type subscribe, subscribed, unsubscribe or unsubscribed
// (a [Kind]), the router calls [Outbound] with the user's item for the
// contact (App. A.2); when such a stanza arrives for the user, it calls
// [Inbound] (App. A.3). Both return the new state and the actions the RFC
// requires: route or deliver the stanza, push the roster item, create it,
// answer on the user's behalf, send the user's presence. [Remove] gives the
// stanzas owed when the user deletes an item (§2.5.2). For a local contact
// the router runs Outbound for the sender and then Inbound for the
// recipient.
//
// # Order of the actions
//
// The RFC fixes the order in which a server acts; the router follows it:
//
//   - Outbound subscribe, unsubscribe: route, then push (§3.1.2, §3.3.2).
//   - Outbound subscribed (an approval): route the "subscribed", push, then
//     send available presence (§3.1.5). The approval must reach the contact
//     before the presence, or the contact's server, not yet seeing a
//     subscription, would drop it.
//   - Outbound unsubscribed: send unavailable presence, route the
//     "unsubscribed", then push (§3.2.2).
//   - Inbound: deliver, then push (§3.1.6, §3.2.3, §3.3.3 step 1: this
//     "MUST occur before sending the roster push"), then send unavailable
//     presence (§3.3.3 step 3).
//   - Inbound with an auto-reply: send the "subscribed", then available
//     presence (as for an outbound approval), then push.
//   - Remove: "unsubscribe", unavailable presence, "unsubscribed" (§2.5.2).
//
// # Where this package departs from Appendix A
//
// Appendix A's tables and §3's prose disagree in a few places; the prose is
// followed, and each case is commented in the code with both citations:
//
//   - Inbound unsubscribe in "None + Pending In", "None + Pending Out+In"
//     or "To + Pending In" (the contact withdraws its request): Table 7 says
//     MUST deliver; §3.3.3 says to ignore the stanza and only drop the
//     record of the request. It is not delivered; the pending request is
//     dropped, as Table 7's NEW STATE says.
//   - Inbound unsubscribe that ends the contact's subscription: Table 7
//     note [1] says SHOULD auto-reply "unsubscribed"; §3.3.3's steps have no
//     such reply, and none is sent.
//   - Inbound subscribe from a subscribed contact: Table 6 note [2] says
//     SHOULD auto-reply; §3.1.3 step 2 says MUST. The reply is sent.
//   - Pre-approved inbound subscribe: Table 6 note [1] mentions only the
//     "None" row; §3.4.2 applies to "None + Pending Out" and "To" too.
//
// Where the prose contradicts itself, or neither source settles a point:
//
//   - Inbound unsubscribed while the user's request is pending (a denial):
//     §3.2.3's check names only 'to' and 'both', but §3.1.4 sends denials
//     to §3.2, and Table 9 ends the request. It is ended and delivered.
//   - Outbound unsubscribed denying a request: §3.2.2 step 3 literally asks
//     for unavailable presence in every routed case, but explains it as
//     sent "while the user is still subscribed". Unavailable presence is
//     sent only to a contact that was subscribed; to a mere requester it
//     would disclose the user's resources (a presence leak).
//   - Roster pushes are owed when the item a client sees changes (§2.1.6).
//     Where §3 narrates a push for the common case and a table row changes
//     nothing visible (a resent request, a denial of a non-contact), no push
//     is requested.
//
// Pre-approvals (§3.4) are supported and recorded on a roster item. One is
// consumed by the automatic approval it causes, and is dropped if passed for
// a state in which §3.4.2 step 3 could not have recorded it.
//
// # Consistency
//
// If every stanza is processed before the next is sent, the two rosters of
// a user and a contact stay in step: the user has To exactly when the
// contact has From, and the user is Pending Out exactly when the contact is
// Pending In. Stanzas that cross in flight can break this (for example a
// denial crossing a resent request); that is a property of the protocol,
// which is why §3.1.2 recommends resending unanswered requests.
package subscription
