// Package c2s serves client-to-server XMPP streams (RFC 6120): the listener
// on 5222 with mandatory STARTTLS and the one on 5223 with direct TLS
// (XEP-0368), stream negotiation (TLS, SASL, resource binding), stamping of
// 'from' addresses, keepalives, and a bounded outbound queue per session.
//
// Each connection has one goroutine that reads and negotiates as
// straight-line code. Writes after negotiation go through the session's
// bounded queue; a writer goroutine exists only while there is output, so
// an idle session holds no writer goroutine and no output buffer. A client
// that stops reading until its queue exceeds Config.OutboundQueueBytes is
// closed with a policy-violation stream error; the router never waits on it.
//
// Lock order within a session: session.mu is a leaf lock; nothing else is
// locked while it is held, and the router never holds a shard lock while
// calling Session methods.
package c2s
