// Package integration holds black-box tests of a whole Herald server.
//
// Every test starts a server in-process on loopback addresses with
// servertest.Start (internal/servertest) and talks to it only over the
// network, as a user's client would:
//
//   - with mellium.im/xmpp, a client library written independently of
//     Herald, for login (every SASL mechanism, STARTTLS and XEP-0368 direct
//     TLS), resource binding, message routing, the server's own services and
//     resource conflicts (RFC 6120, RFC 6121, XEP-0030, XEP-0092, XEP-0199);
//   - with a small scripted-wire helper that writes raw bytes and parses what
//     the server answers, for stream negotiation and every stream error
//     condition the server must send (RFC 6120 §4.9, §5, §6, §11);
//   - over HTTP, for the metrics and health endpoints.
//
// Test names say what they prove and cite the section of the specification
// that requires it. The package has no non-test code besides this comment.
package integration
