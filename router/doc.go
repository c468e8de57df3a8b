// Package router is the hub of Herald: every stanza that arrives from any
// listener is handed to a [Router], which decides who receives it.
//
// The router owns the table of local sessions (sharded by bare JID so that
// unrelated users never contend for a lock) and applies the delivery rules
// of RFC 6120 §10 and RFC 6121 §8.5: messages to bare JIDs by presence
// priority, fallback from a vanished full JID to the bare JID, the errors
// owed for unknown users and unavailable resources, and the rule that an
// error is never answered with an error. IQs addressed to a local domain or
// to an account are dispatched through the namespaces registry.
//
// Stanzas for other domains go to a [Remote]; until federation exists the
// default one bounces them with remote-server-not-found.
//
// The router never blocks on a client: [Session.Send] only queues. A
// stanza handed to the router, and every stanza it delivers, is treated as
// immutable from then on, so one element can be queued to many sessions.
package router
