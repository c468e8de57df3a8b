package integration

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/herald-im/herald/internal/servertest"
)

// Accounts every test server has.
const (
	alicePass = "alice-secret-ünïcode"
	bobPass   = "bob-secret"
)

// startServer runs a fresh server with the accounts alice and bob.
func startServer(t testing.TB, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	s := servertest.Start(t, opts...)
	s.AddUser(t, "alice", alicePass)
	s.AddUser(t, "bob", bobPass)
	return s
}

// loginOptions selects how a mellium client logs in.
type loginOptions struct {
	// mech is the only SASL mechanism the client offers; the zero value
	// means SCRAM-SHA-256.
	mech sasl.Mechanism
	// resource is the resource to ask for; empty lets the server choose
	// (RFC 6120 §7.6).
	resource string
	// directTLS connects to the XEP-0368 port and starts with TLS instead
	// of STARTTLS.
	directTLS bool
}

// dialMellium connects and negotiates a whole client session with
// mellium.im/xmpp: STARTTLS (or direct TLS), SASL and resource binding.
func dialMellium(ctx context.Context, s *servertest.Server, user, password string, o loginOptions) (*xmpp.Session, error) {
	// The origin is the bare JID, as RFC 6120 §4.7.1 wants in the
	// header's 'from': mellium v0.22.0 refuses a response 'to' that
	// differs from the origin it sent, and §4.7.2 has the server answer
	// with a bare JID. The resource is asked for at binding instead.
	origin, err := jid.New(user, s.Domain, "")
	if err != nil {
		return nil, fmt.Errorf("client JID: %w", err)
	}
	mech := o.mech
	if mech.Name == "" {
		mech = sasl.ScramSha256
	}
	addr := s.C2SAddr()
	if o.directTLS {
		addr = s.DirectTLSAddr()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	cfg := s.ClientTLS.Clone()
	var rw io.ReadWriter = conn
	var features []xmpp.StreamFeature
	if o.directTLS {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368 §3
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("direct TLS handshake: %w", err)
		}
		rw = tc
	} else {
		features = append(features, xmpp.StartTLS(cfg))
	}
	bind := xmpp.BindResource()
	if o.resource != "" {
		// mellium v0.22.0 sends <resource/> empty whatever the JID asks
		// for (bindPayload.TokenReader writes bp.JID instead of
		// bp.Resource), so client-chosen resources use our own feature.
		bind = bindFeature(o.resource)
	}
	features = append(features, xmpp.SASL("", password, mech), bind)
	sess, err := newMelliumSession(ctx, conn, rw, origin, features...)
	if err != nil {
		return nil, fmt.Errorf("negotiate a session as %s with %s: %w", origin, mech.Name, err)
	}
	return sess, nil
}

// newMelliumSession negotiates a client session over rw (conn, or TLS on
// it), closing conn if that fails. mellium watches a context it is given
// from a goroutine that, when the context ends, sets the connection's
// deadline to the past and back; if that goroutine runs late (a loaded
// machine) it fires after negotiation, in the middle of a later write, and
// a TLS connection whose write timed out is broken for good. So mellium
// gets a context that never ends, and ctx's time limit becomes a deadline
// on the connection itself, cleared once the session is up.
func newMelliumSession(ctx context.Context, conn net.Conn, rw io.ReadWriter, origin jid.JID, features ...xmpp.StreamFeature) (*xmpp.Session, error) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	sess, err := xmpp.NewClientSession(context.WithoutCancel(ctx), origin, rw, features...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return sess, nil
}

// bindFeature is a client-side resource binding feature (RFC 6120 §7.7)
// that asks for resource and records the JID the server assigns.
func bindFeature(resource string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(_ context.Context, d *xml.Decoder, _ *xml.StartElement) (bool, any, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(_ context.Context, sess *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
			const id = "bind-custom"
			w := sess.TokenWriter()
			defer w.Close()
			req := xmlstream.Wrap(
				xmlstream.Wrap(
					xmlstream.Wrap(xmlstream.Token(xml.CharData(resource)), xml.StartElement{Name: xml.Name{Local: "resource"}}),
					xml.StartElement{Name: xml.Name{Space: nsBind, Local: "bind"}},
				),
				xml.StartElement{Name: xml.Name{Local: "iq"}, Attr: []xml.Attr{
					{Name: xml.Name{Local: "type"}, Value: "set"},
					{Name: xml.Name{Local: "id"}, Value: id},
				}},
			)
			if _, err := xmlstream.Copy(w, req); err != nil {
				return 0, nil, fmt.Errorf("send bind request: %w", err)
			}
			if err := w.Flush(); err != nil {
				return 0, nil, fmt.Errorf("send bind request: %w", err)
			}
			r := sess.TokenReader()
			defer r.Close()
			d := xml.NewTokenDecoder(r)
			tok, err := d.Token()
			if err != nil {
				return 0, nil, fmt.Errorf("read bind response: %w", err)
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				return 0, nil, fmt.Errorf("read bind response: got %T", tok)
			}
			var resp node
			if err := d.DecodeElement(&resp, &start); err != nil {
				return 0, nil, fmt.Errorf("read bind response: %w", err)
			}
			j := resp.child(nsBind, "bind").child(nsBind, "jid")
			if !resp.is(nsClient, "iq") || resp.attr("id") != id || resp.attr("type") != "result" || j == nil {
				return 0, nil, fmt.Errorf("bind %q refused: %s", resource, &resp)
			}
			bound, err := jid.Parse(j.Text)
			if err != nil {
				return 0, nil, fmt.Errorf("bound JID %q: %w", j.Text, err)
			}
			sess.UpdateAddr(bound)
			return xmpp.Ready, nil, nil
		},
	}
}

// saslCondition digs the SASL failure condition (RFC 6120 §6.5) out of an
// error returned by mellium, whose failure type is internal to it: any
// error in the chain with a Condition field that prints itself.
func saslCondition(err error) string {
	for e := err; e != nil; {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("Condition"); f.IsValid() && f.CanInterface() {
				if s, ok := f.Interface().(fmt.Stringer); ok {
					return s.String()
				}
			}
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return ""
}

// client is a logged-in mellium session that records every stanza it
// receives, for the test to wait for.
type client struct {
	t    testing.TB
	sess *xmpp.Session
	jid  string // the bound full JID

	mu     sync.Mutex
	inbox  []*node
	notify chan struct{} // signalled when inbox grows
	done   chan struct{} // closed when Serve returns
	err    error         // Serve's result, once done is closed
}

// login logs user in with mellium and serves the session until the test
// ends; it fails the test if login fails.
func login(t testing.TB, s *servertest.Server, user, password string, o loginOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	sess, err := dialMellium(ctx, s, user, password, o)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	c := &client{
		t:      t,
		sess:   sess,
		jid:    sess.LocalAddr().String(),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(c.done)
		c.err = sess.Serve(c)
	}()
	t.Cleanup(func() {
		// Close our stream, wait for the server's closing tag (RFC 6120
		// §4.4), then end the connection: mellium leaves that to us.
		_ = sess.Close()
		select {
		case <-c.done:
		case <-time.After(wireTimeout):
			t.Errorf("%s: the server did not answer our closing tag within %s", c.jid, wireTimeout)
		}
		_ = sess.Conn().Close()
	})
	return c
}

// HandleXMPP implements xmpp.Handler: it records the stanza.
func (c *client) HandleXMPP(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var n node
	// The decoder must see the start element too, or it takes the end
	// element for an unbalanced one.
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
	if _, err := d.Token(); err != nil {
		return fmt.Errorf("decode <%s>: %w", start.Name.Local, err)
	}
	if err := d.DecodeElement(&n, start); err != nil {
		return fmt.Errorf("decode <%s>: %w", start.Name.Local, err)
	}
	c.mu.Lock()
	c.inbox = append(c.inbox, &n)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

// send writes one stanza given as XML text; stanzas without a namespace
// are put in jabber:client by mellium.
func (c *client) send(raw string) {
	c.t.Helper()
	// A write deadline rather than a context: see dialMellium.
	conn := c.sess.Conn()
	conn.SetWriteDeadline(time.Now().Add(wireTimeout))
	defer conn.SetWriteDeadline(time.Time{})
	if err := c.sess.Send(context.Background(), xml.NewDecoder(strings.NewReader(raw))); err != nil {
		c.t.Fatalf("%s: send %s: %v", c.jid, raw, err)
	}
}

// waitFor removes and returns the first received stanza that matches, or
// fails the test after wireTimeout.
func (c *client) waitFor(what string, match func(*node) bool) *node {
	c.t.Helper()
	deadline := time.NewTimer(wireTimeout)
	defer deadline.Stop()
	for {
		if n := c.take(match); n != nil {
			return n
		}
		select {
		case <-c.notify:
		case <-c.done:
			if n := c.take(match); n != nil {
				return n
			}
			c.t.Fatalf("%s: the session ended (%v) before %s arrived; received %v", c.jid, c.err, what, c.pending())
		case <-deadline.C:
			c.t.Fatalf("%s: %s did not arrive within %s; received %v", c.jid, what, wireTimeout, c.pending())
		}
	}
}

// take removes and returns the first received stanza that matches, or nil.
func (c *client) take(match func(*node) bool) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.inbox {
		if match(n) {
			c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
			return n
		}
	}
	return nil
}

// pending returns the received stanzas not taken yet.
func (c *client) pending() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*node(nil), c.inbox...)
}

// clear forgets the received stanzas not taken yet.
func (c *client) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inbox = nil
}

// iq sends an iq whose id is id and waits for its answer (RFC 6120 §8.2.3).
func (c *client) iq(id, raw string) *node {
	c.t.Helper()
	c.send(raw)
	return c.waitFor("the answer to iq "+id, func(n *node) bool {
		typ := n.attr("type")
		return n.is(nsClient, "iq") && n.attr("id") == id && (typ == "result" || typ == "error")
	})
}

// available sends initial presence (RFC 6121 §4.2) with the given
// priority and waits for the server to reflect it back, which proves the
// server has recorded this resource as available.
func (c *client) available(priority int) {
	c.t.Helper()
	c.send(fmt.Sprintf("<presence><priority>%d</priority></presence>", priority))
	c.waitFor("our own initial presence", func(n *node) bool {
		return n.is(nsClient, "presence") && n.attr("from") == c.jid && n.attr("type") == ""
	})
}

// message matches a message of the given body.
func message(body string) func(*node) bool {
	return func(n *node) bool {
		return n.is(nsClient, "message") && n.child(nsClient, "body") != nil && n.child(nsClient, "body").Text == body
	}
}

// xmlText escapes s for use in XML character data.
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
