package integration

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
)

// Namespaces the tests look for on the wire.
const (
	nsStreams   = "http://etherx.jabber.org/streams"
	nsStreamErr = "urn:ietf:params:xml:ns:xmpp-streams"
	nsStanzaErr = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	nsClient    = "jabber:client"
	nsPing      = "urn:xmpp:ping"
	nsVersion   = "jabber:iq:version"
	nsTime      = "urn:xmpp:time"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
)

// wireTimeout bounds every single wait for the server in these tests. It
// is only reached when a test fails.
const wireTimeout = 10 * time.Second

// errStreamClosed is what wire.next returns when the server's closing
// </stream:stream> tag arrives.
var errStreamClosed = errors.New("the server closed its stream")

// node is an XML element as the server sent it, fully namespace-resolved.
type node struct {
	// XMLName is the element's namespace and local name.
	XMLName xml.Name
	// Attrs are its attributes, namespace declarations included.
	Attrs []xml.Attr `xml:",any,attr"`
	// Text is its character data, all runs concatenated.
	Text string `xml:",chardata"`
	// Children are its child elements in order.
	Children []node `xml:",any"`
}

// is reports whether n is the element {space}local.
func (n *node) is(space, local string) bool {
	return n != nil && n.XMLName.Space == space && n.XMLName.Local == local
}

// child returns the first child element {space}local, or nil.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for i := range n.Children {
		if n.Children[i].is(space, local) {
			return &n.Children[i]
		}
	}
	return nil
}

// attr returns the value of the unqualified attribute name, or "".
func (n *node) attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// String renders n for failure messages.
func (n *node) String() string {
	if n == nil {
		return "<nil>"
	}
	b, err := xml.Marshal(withoutDecls(*n))
	if err != nil {
		return fmt.Sprintf("%+v", *n)
	}
	return string(b)
}

// withoutDecls returns a copy of n without namespace declarations among
// its attributes, which xml.Marshal would otherwise write twice.
func withoutDecls(n node) node {
	attrs := make([]xml.Attr, 0, len(n.Attrs))
	for _, a := range n.Attrs {
		if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
			attrs = append(attrs, a)
		}
	}
	n.Attrs = attrs
	children := make([]node, len(n.Children))
	for i, c := range n.Children {
		children[i] = withoutDecls(c)
	}
	n.Children = children
	return n
}

// stanzaErrorCondition returns the defined condition of a stanza error
// (RFC 6120 §8.3.2) carried by n, and the error's type attribute.
func stanzaErrorCondition(n *node) (cond, typ string) {
	e := n.child(nsClient, "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Children {
		if c.XMLName.Space == nsStanzaErr && c.XMLName.Local != "text" {
			return c.XMLName.Local, e.attr("type")
		}
	}
	return "", e.attr("type")
}

// wire is a scripted client that writes raw bytes to the server and parses
// what comes back with encoding/xml, one first-level element at a time.
type wire struct {
	t      testing.TB
	srv    *servertest.Server
	conn   net.Conn // the TCP connection, or the TLS connection over it
	dec    *xml.Decoder
	header xml.StartElement // the server's last stream header
}

// dialWire opens a TCP connection to the server's STARTTLS (5222-style)
// port.
func dialWire(t testing.TB, s *servertest.Server) *wire {
	t.Helper()
	return dialWireFrom(t, s, "")
}

// dialWireFrom is dialWire from the loopback source address source ("":
// the system's choice), so that a test can be clients on several
// addresses.
func dialWireFrom(t testing.TB, s *servertest.Server, source string) *wire {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	var d net.Dialer
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	conn, err := d.DialContext(ctx, "tcp", s.C2SAddr().String())
	if err != nil {
		t.Fatalf("dial %s from %q: %v", s.C2SAddr(), source, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wire{t: t, srv: s, conn: conn, dec: xml.NewDecoder(conn)}
}

// write sends b, failing only on a network error.
func (w *wire) write(b []byte) error {
	if err := w.conn.SetWriteDeadline(time.Now().Add(wireTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := w.conn.Write(b); err != nil {
		return fmt.Errorf("write %d bytes: %w", len(b), err)
	}
	return nil
}

// send writes s and fails the test if that is impossible.
func (w *wire) send(s string) {
	w.t.Helper()
	if err := w.write([]byte(s)); err != nil {
		w.t.Fatalf("send %.80q: %v", s, err)
	}
}

// sendAsync writes b from another goroutine, for payloads larger than the
// socket buffers that the server may stop reading half way. The result is
// delivered on the channel; an error is expected when the server closes
// the connection first.
func (w *wire) sendAsync(b []byte) <-chan error {
	done := make(chan error, 1)
	go func() { done <- w.write(b) }()
	return done
}

// token reads one XML token, waiting at most wireTimeout.
func (w *wire) token() (xml.Token, error) {
	if err := w.conn.SetReadDeadline(time.Now().Add(wireTimeout)); err != nil {
		return nil, fmt.Errorf("set read deadline: %w", err)
	}
	tok, err := w.dec.Token()
	var syn *xml.SyntaxError
	if errors.As(err, &syn) && syn.Msg == "unexpected EOF" {
		return nil, fmt.Errorf("the connection ended inside the server's stream, without </stream:stream>: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, err
	}
	return xml.CopyToken(tok), nil
}

// readHeader reads up to and including the server's <stream:stream> tag.
func (w *wire) readHeader() (xml.StartElement, error) {
	for {
		tok, err := w.token()
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("read stream header: %w", err)
		}
		switch tk := tok.(type) {
		case xml.ProcInst, xml.CharData:
			continue
		case xml.StartElement:
			if tk.Name.Space != nsStreams || tk.Name.Local != "stream" {
				return xml.StartElement{}, fmt.Errorf("expected <stream:stream>, got <%s xmlns='%s'>", tk.Name.Local, tk.Name.Space)
			}
			w.header = tk
			return tk, nil
		default:
			return xml.StartElement{}, fmt.Errorf("unexpected %T %v before the stream header", tok, tok)
		}
	}
}

// next returns the next first-level element, skipping whitespace. It
// returns errStreamClosed when the server's closing tag arrives.
func (w *wire) next() (*node, error) {
	for {
		tok, err := w.token()
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(tk)) != "" {
				return nil, fmt.Errorf("unexpected text %q between first-level elements", tk)
			}
		case xml.StartElement:
			var n node
			if err := w.conn.SetReadDeadline(time.Now().Add(wireTimeout)); err != nil {
				return nil, fmt.Errorf("set read deadline: %w", err)
			}
			if err := w.dec.DecodeElement(&n, &tk); err != nil {
				return nil, fmt.Errorf("decode <%s>: %w", tk.Name.Local, err)
			}
			return &n, nil
		case xml.EndElement:
			if tk.Name.Space == nsStreams && tk.Name.Local == "stream" {
				return nil, errStreamClosed
			}
			return nil, fmt.Errorf("unexpected end tag </%s>", tk.Name.Local)
		default:
			return nil, fmt.Errorf("unexpected %T %v between first-level elements", tok, tok)
		}
	}
}

// expect reads the next first-level element and fails the test unless it
// is {space}local.
func (w *wire) expect(space, local string) *node {
	w.t.Helper()
	n, err := w.next()
	if err != nil {
		w.t.Fatalf("waiting for <%s xmlns='%s'>: %v", local, space, err)
	}
	if !n.is(space, local) {
		w.t.Fatalf("expected <%s xmlns='%s'>, got %s", local, space, n)
	}
	return n
}

// streamHeader is an initial stream header to the given domain (RFC 6120
// §4.7).
func streamHeader(to string) string {
	return "<?xml version='1.0'?><stream:stream to='" + to +
		"' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
}

// open sends hdr, reads the server's header and returns its
// <stream:features/>.
func (w *wire) open(hdr string) *node {
	w.t.Helper()
	// Each stream is a new XML document (RFC 6120 §4.3.3): parse it with
	// a new decoder. The server sends nothing before our header, so the
	// old decoder has nothing buffered.
	w.dec = xml.NewDecoder(w.conn)
	w.send(hdr)
	if _, err := w.readHeader(); err != nil {
		w.t.Fatal(err)
	}
	return w.expect(nsStreams, "features")
}

// openDefault opens (or restarts) a stream to the server's domain.
func (w *wire) openDefault() *node {
	w.t.Helper()
	return w.open(streamHeader(w.srv.Domain))
}

// starttls asks for TLS (RFC 6120 §5.4.2), checks <proceed/> and runs the
// handshake. The stream must then be restarted with openDefault.
func (w *wire) starttls() {
	w.t.Helper()
	w.send("<starttls xmlns='" + nsTLS + "'/>")
	w.expect(nsTLS, "proceed")
	tc := tls.Client(w.conn, w.srv.ClientTLS.Clone())
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		w.t.Fatalf("TLS handshake: %v", err)
	}
	w.conn = tc
	w.dec = xml.NewDecoder(tc)
}

// plainAuth renders a SASL PLAIN <auth/> element (RFC 4616, RFC 6120
// §6.4.2) for user and password.
func plainAuth(user, password string) string {
	payload := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	return "<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + payload + "</auth>"
}

// authPlain sends SASL PLAIN and returns the server's answer
// (<success/> or <failure/>).
func (w *wire) authPlain(user, password string) *node {
	w.t.Helper()
	w.send(plainAuth(user, password))
	n, err := w.next()
	if err != nil {
		w.t.Fatalf("waiting for the SASL outcome: %v", err)
	}
	return n
}

// bind binds resource (empty: let the server choose) and returns the
// full JID the server assigned (RFC 6120 §7).
func (w *wire) bind(resource string) string {
	w.t.Helper()
	req := "<iq type='set' id='bind-1'><bind xmlns='" + nsBind + "'>"
	if resource != "" {
		req += "<resource>" + resource + "</resource>"
	}
	w.send(req + "</bind></iq>")
	res := w.expect(nsClient, "iq")
	if res.attr("type") != "result" || res.attr("id") != "bind-1" {
		w.t.Fatalf("bind failed: %s", res)
	}
	j := res.child(nsBind, "bind").child(nsBind, "jid")
	if j == nil || j.Text == "" {
		w.t.Fatalf("bind result carries no JID: %s", res)
	}
	return j.Text
}

// tlsStream opens a stream, negotiates STARTTLS and restarts the stream
// over TLS, returning the features offered there (the SASL mechanisms).
func (w *wire) tlsStream() *node {
	w.t.Helper()
	w.openDefault()
	w.starttls()
	return w.openDefault()
}

// login takes a fresh connection through STARTTLS, SASL PLAIN and resource
// binding, and returns the bound full JID.
func (w *wire) login(user, password, resource string) string {
	w.t.Helper()
	w.tlsStream()
	if n := w.authPlain(user, password); !n.is(nsSASL, "success") {
		w.t.Fatalf("SASL PLAIN as %s failed: %s", user, n)
	}
	w.openDefault()
	return w.bind(resource)
}

// streamError is a stream error as received (RFC 6120 §4.9.2).
type streamError struct {
	condition string
	text      string
}

// readStreamError reads the next element, which must be <stream:error/>,
// and returns its defined condition and text.
func (w *wire) readStreamError() (streamError, error) {
	n, err := w.next()
	if err != nil {
		return streamError{}, fmt.Errorf("waiting for a stream error: %w", err)
	}
	if !n.is(nsStreams, "error") {
		return streamError{}, fmt.Errorf("expected <stream:error/>, got %s", n)
	}
	var se streamError
	for _, c := range n.Children {
		if c.XMLName.Space != nsStreamErr {
			continue
		}
		if c.XMLName.Local == "text" {
			se.text = c.Text
		} else if se.condition == "" {
			se.condition = c.XMLName.Local
		}
	}
	return se, nil
}

// expectClosed checks that the server ends its stream with
// </stream:stream> and then closes the connection (RFC 6120 §4.4).
func (w *wire) expectClosed() {
	w.t.Helper()
	n, err := w.next()
	if !errors.Is(err, errStreamClosed) {
		w.t.Fatalf("expected the server's </stream:stream>, got element %s, error %v", n, err)
	}
	// Nothing may follow the closing tag but the end of the connection.
	for {
		tok, err := w.token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			w.t.Errorf("expected the server to close the connection cleanly (EOF) after </stream:stream>, got %v", err)
			return
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) == "" {
			continue
		}
		w.t.Errorf("the server sent %T %v after </stream:stream>", tok, tok)
		return
	}
}

// expectStreamError checks the whole of RFC 6120 §4.9.1.1: a
// <stream:error/> with the defined condition cond in the
// urn:ietf:params:xml:ns:xmpp-streams namespace and a non-empty <text/>,
// then the closing stream tag, then the end of the connection.
func (w *wire) expectStreamError(cond string) streamError {
	w.t.Helper()
	se, err := w.readStreamError()
	if err != nil {
		w.t.Fatal(err)
	}
	if se.condition != cond {
		w.t.Errorf("stream error condition = <%s/> (text %q), want <%s/>", se.condition, se.text, cond)
	}
	if strings.TrimSpace(se.text) == "" {
		w.t.Errorf("stream error <%s/> has no <text/> explaining it", se.condition)
	}
	w.expectClosed()
	return se
}
