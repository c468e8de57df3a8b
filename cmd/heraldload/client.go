package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xdg-go/scram"
)

// XML namespaces the client speaks (RFC 6120 §4.8, §5, §6, §7; XEP-0199).
const (
	nsClient    = "jabber:client"
	nsStream    = "http://etherx.jabber.org/streams"
	nsTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	nsPing      = "urn:xmpp:ping"
	closeStream = "</stream:stream>"
	mechSCRAM   = "SCRAM-SHA-256"
	readBufSize = 2048 // per session; stanzas in this tool are small
)

// account is one load account and the SCRAM client that caches its salted
// password (RFC 5802 §5.1 lets a client keep SaltedPassword), so repeated
// logins do not repeat the client's PBKDF2 work.
type account struct {
	local  string
	client *scram.Client
}

// newAccount prepares a SCRAM-SHA-256 client for local@domain.
func newAccount(local, password string) (*account, error) {
	c, err := scram.SHA256.NewClient(local, password, "")
	if err != nil {
		return nil, fmt.Errorf("SCRAM client for %s: %w", local, err)
	}
	return &account{local: local, client: c}, nil
}

// dialer holds what every login needs.
type dialer struct {
	addr   string      // host:port of the STARTTLS listener
	domain string      // the XMPP domain, also the TLS server name
	tls    *tls.Config // trusts the server's certificate
	// timeout bounds one whole login (TCP, STARTTLS, SASL, bind).
	timeout time.Duration
}

// session is a bound client stream: a raw TLS socket and an encoding/xml
// decoder over a small buffer. The zero value is not usable; see
// dialer.login.
type session struct {
	raw  net.Conn
	conn *tls.Conn
	br   *bufio.Reader
	dec  *xml.Decoder
	// jid is the full JID the server bound (RFC 6120 §7.6.3).
	jid string
	// mech is the SASL mechanism used.
	mech string

	wmu sync.Mutex // serialises writes from the reader (ping replies) and the owner
}

// streamError is a stream error the server sent (RFC 6120 §4.9).
type streamError struct {
	condition, text string
}

func (e *streamError) Error() string {
	if e.text != "" {
		return "stream error " + e.condition + ": " + e.text
	}
	return "stream error " + e.condition
}

// features is <stream:features/> (RFC 6120 §4.3.2) with the parts this
// client looks at.
type features struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
}

// anyElement captures an element's name, inner XML and text.
type anyElement struct {
	XMLName xml.Name
	Inner   string `xml:",innerxml"`
	Text    string `xml:",chardata"`
}

// stanza is the view of a received stanza the load modes need.
type stanza struct {
	XMLName xml.Name
	Type    string    `xml:"type,attr"`
	ID      string    `xml:"id,attr"`
	From    string    `xml:"from,attr"`
	To      string    `xml:"to,attr"`
	Body    string    `xml:"jabber:client body"`
	Ping    *struct{} `xml:"urn:xmpp:ping ping"`
	Error   *struct {
		Inner string `xml:",innerxml"`
	} `xml:"jabber:client error"`
}

// login opens a TCP connection, negotiates STARTTLS (RFC 6120 §5),
// authenticates with SCRAM-SHA-256 (RFC 7677) and binds resource (RFC 6120
// §7). On success the session has no deadline set.
func (d *dialer) login(ctx context.Context, acc *account, resource string) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.addr, err)
	}
	s := &session{raw: raw}
	// Cancelling ctx (deadline or caller) cuts the connection, which
	// unblocks any read or write below.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	err = s.negotiate(ctx, d, acc, resource)
	cut := !stop() // the deadline was set to cut the connection
	switch {
	case err == nil && !cut:
		return s, nil
	case cut || ctx.Err() != nil:
		err = fmt.Errorf("login as %s: %w (%v)", acc.local, context.Cause(ctx), err)
	default:
		err = fmt.Errorf("login as %s: %w", acc.local, err)
	}
	raw.Close()
	return nil, err
}

func (s *session) negotiate(ctx context.Context, d *dialer, acc *account, resource string) error {
	// RFC 6120 §4.2: open the stream; the server answers with features.
	s.br = bufio.NewReaderSize(s.raw, readBufSize)
	f, err := s.open(d.domain)
	if err != nil {
		return err
	}
	if f.StartTLS == nil {
		return errors.New("the server does not offer STARTTLS")
	}
	if err := s.write("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return err
	}
	el, err := s.next()
	if err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	if el.XMLName.Space != nsTLS || el.XMLName.Local != "proceed" {
		return fmt.Errorf("STARTTLS: the server answered <%s xmlns='%s'/>", el.XMLName.Local, el.XMLName.Space)
	}
	cfg := d.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = d.domain
	}
	s.conn = tls.Client(s.raw, cfg)
	if err := s.conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.br.Reset(s.conn)

	// RFC 6120 §6: SASL over the restarted stream.
	if f, err = s.open(d.domain); err != nil {
		return err
	}
	if !slices.Contains(f.Mechanisms, mechSCRAM) {
		return fmt.Errorf("the server does not offer %s (it offers %s)", mechSCRAM, strings.Join(f.Mechanisms, ", "))
	}
	if err := s.scram(acc); err != nil {
		return err
	}
	s.mech = mechSCRAM

	// RFC 6120 §7: bind the resource over the stream restarted after SASL.
	if f, err = s.open(d.domain); err != nil {
		return err
	}
	if f.Bind == nil {
		return errors.New("the server does not offer resource binding")
	}
	var b strings.Builder
	b.WriteString("<iq type='set' id='bind'><bind xmlns='" + nsBind + "'><resource>")
	xml.EscapeText(&b, []byte(resource))
	b.WriteString("</resource></bind></iq>")
	if err := s.write(b.String()); err != nil {
		return err
	}
	var res struct {
		XMLName xml.Name
		Type    string `xml:"type,attr"`
		ID      string `xml:"id,attr"`
		JID     string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
		Inner   string `xml:",innerxml"`
	}
	if err := s.decodeNext(&res); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if res.XMLName.Local != "iq" || res.Type != "result" || res.ID != "bind" || res.JID == "" {
		return fmt.Errorf("bind: the server answered <%s type='%s'>%s", res.XMLName.Local, res.Type, res.Inner)
	}
	s.jid = res.JID
	return nil
}

// open writes a stream header (RFC 6120 §4.7) and reads the server's header
// and features.
func (s *session) open(domain string) (features, error) {
	var f features
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + nsClient + "' xmlns:stream='" + nsStream + "' to='")
	xml.EscapeText(&b, []byte(domain))
	b.WriteString("' version='1.0' xml:lang='en'>")
	if err := s.write(b.String()); err != nil {
		return f, err
	}
	// A new decoder per stream: a restarted stream is a new XML document
	// (RFC 6120 §4.3.3). The bufio.Reader is kept, so nothing buffered is
	// lost; the server sends nothing before our new header anyway.
	s.dec = xml.NewDecoder(s.br)
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return f, fmt.Errorf("reading the stream header: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != nsStream || se.Name.Local != "stream" {
				return f, fmt.Errorf("expected a stream header, got <%s xmlns='%s'>", se.Name.Local, se.Name.Space)
			}
			break
		}
	}
	start, err := s.nextStart()
	if err != nil {
		return f, err
	}
	if start.Name.Space != nsStream || start.Name.Local != "features" {
		return f, fmt.Errorf("expected <stream:features/>, got <%s xmlns='%s'/>", start.Name.Local, start.Name.Space)
	}
	if err := s.dec.DecodeElement(&f, &start); err != nil {
		return f, fmt.Errorf("reading stream features: %w", err)
	}
	return f, nil
}

// scram runs SCRAM-SHA-256 (RFC 5802 §5, RFC 7677) without channel binding
// (GS2 flag "n").
func (s *session) scram(acc *account) error {
	conv := acc.client.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return fmt.Errorf("SCRAM: %w", err)
	}
	if err := s.write("<auth xmlns='" + nsSASL + "' mechanism='" + mechSCRAM + "'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>"); err != nil {
		return err
	}
	for {
		var el anyElement
		if err := s.decodeNext(&el); err != nil {
			return fmt.Errorf("SASL: %w", err)
		}
		if el.XMLName.Space != nsSASL {
			return fmt.Errorf("SASL: unexpected <%s xmlns='%s'/>", el.XMLName.Local, el.XMLName.Space)
		}
		var data []byte
		if t := strings.TrimSpace(el.Text); t != "" && t != "=" {
			if data, err = base64.StdEncoding.DecodeString(t); err != nil {
				return fmt.Errorf("SASL: bad base64 in <%s/>: %w", el.XMLName.Local, err)
			}
		}
		switch el.XMLName.Local {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				return fmt.Errorf("SCRAM: %w", err)
			}
			if err := s.write("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>"); err != nil {
				return err
			}
		case "success":
			// RFC 6120 §6.4.6: the server-final-message rides in
			// <success/>; the client must verify it (RFC 5802 §5.1).
			if _, err := conv.Step(string(data)); err != nil {
				return fmt.Errorf("SCRAM: verifying the server: %w", err)
			}
			if !conv.Valid() {
				return errors.New("SCRAM: the server's signature did not verify")
			}
			return nil
		case "failure":
			return fmt.Errorf("SASL failure: %s", strings.TrimSpace(stripTags(el.Inner)))
		default:
			return fmt.Errorf("SASL: unexpected <%s/>", el.XMLName.Local)
		}
	}
}

// stripTags turns the inner XML of a failure into "condition text" for
// messages.
func stripTags(inner string) string {
	var b strings.Builder
	dec := xml.NewDecoder(strings.NewReader("<x>" + inner + "</x>"))
	for {
		tok, err := dec.Token()
		if err != nil {
			return strings.TrimSpace(b.String())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "x" && t.Name.Local != "text" {
				b.WriteString(t.Name.Local + " ")
			}
		case xml.CharData:
			b.Write(t)
		}
	}
}

// nextStart returns the next child of the stream. It turns a stream error
// into *streamError and the end of the stream into io.EOF.
func (s *session) nextStart() (xml.StartElement, error) {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStream && t.Name.Local == "error" {
				var el anyElement
				if err := s.dec.DecodeElement(&el, &t); err != nil {
					return xml.StartElement{}, fmt.Errorf("reading a stream error: %w", err)
				}
				return xml.StartElement{}, parseStreamError(el.Inner)
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, io.EOF // </stream:stream>
		}
	}
}

func parseStreamError(inner string) *streamError {
	se := &streamError{}
	dec := xml.NewDecoder(strings.NewReader("<x>" + inner + "</x>"))
	depth := 0
	inText := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return se
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				if t.Name.Local == "text" {
					inText = true
				} else if se.condition == "" {
					se.condition = t.Name.Local
				}
			}
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				se.text += string(t)
			}
		}
	}
}

// next decodes the next child of the stream generically.
func (s *session) next() (*anyElement, error) {
	var el anyElement
	if err := s.decodeNext(&el); err != nil {
		return nil, err
	}
	return &el, nil
}

// decodeNext decodes the next child of the stream into v.
func (s *session) decodeNext(v any) error {
	start, err := s.nextStart()
	if err != nil {
		return err
	}
	if err := s.dec.DecodeElement(v, &start); err != nil {
		return fmt.Errorf("decoding <%s/>: %w", start.Name.Local, err)
	}
	return nil
}

// readStanza reads the next stanza.
func (s *session) readStanza() (*stanza, error) {
	var st stanza
	if err := s.decodeNext(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// write sends raw XML over the TLS connection (or TCP before STARTTLS).
func (s *session) write(x string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var w io.Writer = s.raw
	if s.conn != nil {
		w = s.conn
	}
	if _, err := io.WriteString(w, x); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeBytes is write for a byte slice.
func (s *session) writeBytes(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// answerPing replies to a server ping (XEP-0199 §4.2), so idle sessions
// stay connected however long the measurement lasts.
func (s *session) answerPing(st *stanza) error {
	var b strings.Builder
	b.WriteString("<iq type='result' id='")
	xml.EscapeText(&b, []byte(st.ID))
	b.WriteString("'")
	if st.From != "" {
		b.WriteString(" to='")
		xml.EscapeText(&b, []byte(st.From))
		b.WriteString("'")
	}
	b.WriteString("/>")
	return s.write(b.String())
}

// close ends the stream politely (RFC 6120 §4.4): it sends the closing tag,
// waits up to grace for the server's, and closes the socket. It must not
// run concurrently with a reader of the session, except one that returns
// once the stream ends; wait on it with done (nil if there is none).
func (s *session) close(grace time.Duration, done <-chan struct{}) {
	s.raw.SetDeadline(time.Now().Add(grace))
	if err := s.write(closeStream); err == nil {
		if done != nil {
			<-done
		} else {
			for {
				if _, err := s.nextStart(); err != nil {
					break
				}
				_ = s.dec.Skip()
			}
		}
	}
	s.raw.Close()
}
