package c2s

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

func sha256New() hash.Hash { return sha256.New() }

// Mechanism names, in the order of preference they are offered (RFC 6120
// §6.3.3: strongest first).
const (
	mechSHA256Plus = "SCRAM-SHA-256-PLUS"
	mechSHA1Plus   = "SCRAM-SHA-1-PLUS"
	mechSHA256     = "SCRAM-SHA-256"
	mechSHA1       = "SCRAM-SHA-1"
	mechPlain      = "PLAIN"
	mechExternal   = "EXTERNAL"
	mechAnonymous  = "ANONYMOUS"
)

// saslError is a SASL failure condition (RFC 6120 §6.5) with a description.
type saslError struct {
	cond string
	text string
}

func (e *saslError) Error() string { return "sasl " + e.cond + ": " + e.text }

func failure(cond, format string, args ...any) *saslError {
	return &saslError{cond: cond, text: fmt.Sprintf(format, args...)}
}

// saslFailure renders <failure/> (RFC 6120 §6.4.5).
func saslFailure(cond, text string) []byte {
	var b strings.Builder
	b.WriteString("<failure xmlns='" + nsSASL + "'><" + cond + "/>")
	if text != "" {
		b.WriteString("<text xml:lang='en'>")
		stream.EscapeText(&b, text)
		b.WriteString("</text>")
	}
	b.WriteString("</failure>")
	return []byte(b.String())
}

// saslElement renders <challenge/> or <success/> with base64 data; empty
// data is sent as "=" (RFC 6120 §6.4.6) and absent data as an empty element.
func saslElement(tag string, data []byte) []byte {
	if data == nil {
		return []byte("<" + tag + " xmlns='" + nsSASL + "'/>")
	}
	enc := "="
	if len(data) > 0 {
		enc = base64.StdEncoding.EncodeToString(data)
	}
	return []byte("<" + tag + " xmlns='" + nsSASL + "'>" + enc + "</" + tag + ">")
}

// offer is the set of mechanisms and channel-binding types available on one
// stream.
type offer struct {
	mechs    []string
	cbTypes  []string
	verified []*x509.Certificate // the client's verified certificate chain
}

func (o offer) has(mech string) bool {
	for _, m := range o.mechs {
		if m == mech {
			return true
		}
	}
	return false
}

// makeOffer decides what this stream offers: PLAIN only inside TLS (always
// the case here, as TLS precedes SASL), -PLUS only where a channel binding
// can be computed (XEP-0440), EXTERNAL only with a verified client
// certificate (XEP-0178), ANONYMOUS only when configured.
func (c *conn) makeOffer() offer {
	cs := c.tls.ConnectionState()
	var o offer
	if _, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
		o.cbTypes = append(o.cbTypes, string(scram.ChannelBindingTLSExporter))
	}
	if _, err := c.serverEndPoint(cs); err == nil {
		o.cbTypes = append(o.cbTypes, string(scram.ChannelBindingTLSServerEndpoint))
	}
	if len(o.cbTypes) > 0 {
		o.mechs = append(o.mechs, mechSHA256Plus, mechSHA1Plus)
	}
	o.mechs = append(o.mechs, mechSHA256, mechSHA1, mechPlain)
	if c.srv.cfg.ExternalAuth && len(cs.VerifiedChains) > 0 {
		o.verified = cs.VerifiedChains[0]
		o.mechs = append(o.mechs, mechExternal)
	}
	if c.srv.cfg.AllowAnonymous {
		o.mechs = append(o.mechs, mechAnonymous)
	}
	return o
}

// negotiateSASL offers the mechanisms and runs handshakes until one
// succeeds or the client exhausts its retries (RFC 6120 §6.4).
func (c *conn) negotiateSASL(ctx context.Context) error {
	o := c.makeOffer()
	features := newFeatures()
	mechs := features.CreateElement("mechanisms")
	mechs.CreateAttr("xmlns", nsSASL)
	for _, m := range o.mechs {
		mechs.CreateElement("mechanism").SetText(m)
	}
	if len(o.cbTypes) > 0 {
		cb := features.CreateElement("sasl-channel-binding")
		cb.CreateAttr("xmlns", nsSASLCB)
		for _, t := range o.cbTypes {
			cb.CreateElement("channel-binding").CreateAttr("type", t)
		}
	}
	if err := c.openStream(features); err != nil {
		return err
	}
	failures := 0
	for {
		el, err := c.dec.Next()
		if err != nil {
			return err
		}
		ns := el.NamespaceURI()
		switch {
		case ns == nsSASL && el.Tag == "auth":
			mech := el.SelectAttrValue("mechanism", "")
			attempt, wait, ok := c.srv.authFails.Begin(c.remoteIP())
			var user jid.JID
			var data []byte
			if ok {
				user, data, err = c.authenticate(ctx, el, o)
			} else {
				// Too many recent failures from this address: the
				// credentials are not even checked, so guessing on
				// gains nothing (RFC 6120 §6.5.12, §13.8).
				c.log.Warn("c2s: authentication refused: too many failures from this address", "retry_after", wait.Round(time.Second))
				err = failure("temporary-auth-failure", "too many failed authentications from your address; try again in %s", max(wait.Round(time.Second), time.Second))
			}
			if !isFailedAuth(err) {
				attempt.Forgive() // a success, an abort or a broken stream
			}
			if err == nil {
				c.srv.metrics.auth.WithLabelValues(mech, "success").Inc()
				if err := c.writeNow(saslElement("success", data)); err != nil {
					return err
				}
				c.user = user
				c.dec.Reset(&c.in) // stream restart (RFC 6120 §6.4.6)
				return nil
			}
			var fe *saslError
			if !errors.As(err, &fe) {
				return err // the stream broke, or a stream error
			}
			label := mech
			if !o.has(mech) {
				label = "unknown"
			}
			c.srv.metrics.auth.WithLabelValues(label, fe.cond).Inc()
			if fe.cond != "aborted" {
				failures++
			}
			if err := c.writeNow(saslFailure(fe.cond, fe.text)); err != nil {
				return err
			}
			if failures > c.srv.cfg.SASLRetries {
				return stream.Errorf(stream.PolicyViolation, "authentication failed %d times", failures)
			}
		case ns == nsSASL && el.Tag == "abort":
			if err := c.writeNow(saslFailure("aborted", "")); err != nil {
				return err
			}
		case ns == nsTLS:
			return stream.Errorf(stream.PolicyViolation, "TLS is already in place on this stream")
		case ns == "" && isStanza(el.Tag):
			return stream.Errorf(stream.NotAuthorized, "stanzas may only be sent after authentication and resource binding")
		default:
			return stream.Errorf(stream.UnsupportedStanzaType, "unexpected <%s xmlns='%s'/> during authentication", el.Tag, ns)
		}
	}
}

// isFailedAuth reports whether err is a SASL failure that counts against
// the client's address: not a success, not a handshake the client aborted,
// not a stream that broke before the server decided.
func isFailedAuth(err error) bool {
	var fe *saslError
	return errors.As(err, &fe) && fe.cond != "aborted"
}

// remoteIP returns the client's IP address (the zero Addr when the
// connection is not IP).
func (c *conn) remoteIP() netip.Addr {
	if a, ok := c.raw.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}

// authenticate runs one SASL handshake started by auth. It returns a
// *saslError for a failed handshake, any other error for a broken stream.
func (c *conn) authenticate(ctx context.Context, auth *etree.Element, o offer) (jid.JID, []byte, error) {
	name := auth.SelectAttrValue("mechanism", "")
	if !o.has(name) {
		return jid.JID{}, nil, failure("invalid-mechanism", "the mechanism %q is not offered", name)
	}
	resp, ferr := decodeSASL(auth.Text())
	if ferr != nil {
		return jid.JID{}, nil, ferr
	}
	var a authState
	mech := c.newMechanism(ctx, name, o, &a)
	for {
		challenge, done, err := mech.Next(resp)
		if err != nil {
			if a.fail != nil {
				return jid.JID{}, nil, a.fail
			}
			var fe *saslError
			if errors.As(err, &fe) {
				return jid.JID{}, nil, fe
			}
			return jid.JID{}, nil, failure("not-authorized", "authentication failed")
		}
		if done {
			if a.user.IsZero() {
				return jid.JID{}, nil, failure("not-authorized", "authentication failed")
			}
			return a.user, challenge, nil
		}
		if challenge == nil {
			challenge = []byte{}
		}
		if err := c.writeNow(saslElement("challenge", challenge)); err != nil {
			return jid.JID{}, nil, err
		}
		el, err := c.dec.Next()
		if err != nil {
			return jid.JID{}, nil, err
		}
		if el.NamespaceURI() != nsSASL {
			return jid.JID{}, nil, stream.Errorf(stream.UnsupportedStanzaType, "expected a SASL <response/>, got <%s/>", el.Tag)
		}
		switch el.Tag {
		case "response":
			if resp, ferr = decodeSASL(el.Text()); ferr != nil {
				return jid.JID{}, nil, ferr
			}
			if resp == nil {
				resp = []byte{}
			}
		case "abort":
			return jid.JID{}, nil, failure("aborted", "")
		default:
			return jid.JID{}, nil, failure("malformed-request", "expected <response/> or <abort/>, got <%s/>", el.Tag)
		}
	}
}

// decodeSASL decodes the base64 payload of <auth/> or <response/>: absent
// data is nil, "=" is empty (RFC 6120 §6.4.2).
func decodeSASL(s string) ([]byte, *saslError) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "=":
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, failure("incorrect-encoding", "the data is not valid base64")
	}
	return b, nil
}

// authState collects what a mechanism learned: who authenticated, or the
// precise failure condition when it is more specific than not-authorized.
type authState struct {
	user jid.JID
	fail *saslError
}

func (c *conn) newMechanism(ctx context.Context, name string, o offer, a *authState) sasl.Server {
	switch name {
	case mechPlain:
		return sasl.NewPlainServer(func(authzid, username, password string) error {
			return c.checkPlain(ctx, a, authzid, username, password)
		})
	case mechSHA256, mechSHA256Plus:
		return &scramServer{c: c, ctx: ctx, a: a, hash: scram.SHA256, plus: name == mechSHA256Plus, cbTypes: o.cbTypes}
	case mechSHA1, mechSHA1Plus:
		return &scramServer{c: c, ctx: ctx, a: a, hash: scram.SHA1, plus: name == mechSHA1Plus, cbTypes: o.cbTypes}
	case mechExternal:
		return sasl.NewExternalServer(func(authzid string) error {
			return c.checkExternal(ctx, a, o.verified, authzid)
		})
	case mechAnonymous:
		return sasl.NewAnonymousServer(func(string) error {
			var b [9]byte
			_, _ = rand.Read(b[:])
			u, err := jid.New("anon-"+hex.EncodeToString(b[:]), c.domain.Domain(), "")
			if err != nil {
				return failure("temporary-auth-failure", "could not create an anonymous address")
			}
			// A temporary account, so that the session can keep a
			// roster, lists and subscriptions like any other; finish
			// deletes it.
			if err := c.srv.cfg.Accounts.CreateTemporaryAccount(ctx, u.String()); err != nil {
				c.log.Error("c2s: could not create a temporary account for an anonymous login", "err", err)
				return failure("temporary-auth-failure", "could not create an anonymous account")
			}
			c.temporary = true
			a.user = u
			return nil
		})
	}
	// makeOffer and authenticate keep unknown names out.
	panic("c2s: no mechanism " + name)
}

// localUser turns a SASL user name into the account's bare JID on the
// stream's domain (RFC 6120 §6.3.7: the simple user name is the localpart).
func (c *conn) localUser(username string) (jid.JID, *saslError) {
	u, err := jid.New(username, c.domain.Domain(), "")
	if err != nil {
		return jid.JID{}, failure("not-authorized", "authentication failed")
	}
	return u, nil
}

// checkAuthzid enforces RFC 6120 §6.3.8: a client may only ask to act as
// the account it authenticated as.
func checkAuthzid(authzid string, user jid.JID) *saslError {
	if authzid == "" {
		return nil
	}
	z, err := jid.Parse(authzid)
	if err != nil || z.Bare() != user || !z.IsBare() {
		return failure("invalid-authzid", "you may not act as %q", authzid)
	}
	return nil
}

// account loads an account, mapping storage problems to SASL conditions.
func (c *conn) account(ctx context.Context, user jid.JID) (storage.Account, *saslError) {
	acc, err := c.srv.cfg.Accounts.Account(ctx, user.String())
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && acc.Temporary:
		// A temporary account belongs to one anonymous session: nobody
		// logs in to it, whatever the mechanism.
		return storage.Account{}, failure("not-authorized", "authentication failed")
	case err != nil:
		c.srv.cfg.Logger.Error("c2s: account lookup failed", "err", err)
		return storage.Account{}, failure("temporary-auth-failure", "the account store is unavailable; try again later")
	case acc.Disabled:
		return storage.Account{}, failure("account-disabled", "this account is disabled")
	}
	return acc, nil
}

func (c *conn) checkPlain(ctx context.Context, a *authState, authzid, username, password string) error {
	user, fe := c.localUser(username)
	if fe == nil {
		var acc storage.Account
		acc, fe = c.account(ctx, user)
		if fe == nil && !acc.Credentials.VerifyPassword(password) {
			fe = failure("not-authorized", "authentication failed")
		}
	}
	if fe == nil {
		fe = checkAuthzid(authzid, user)
	}
	if fe != nil {
		a.fail = fe
		return fe
	}
	a.user = user
	return nil
}

// oidXMPPAddr is id-on-xmppAddr (RFC 6120 §13.7.1.4).
var oidXMPPAddr = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5}

// xmppAddrs extracts the id-on-xmppAddr otherName values from a
// certificate's subjectAltName (RFC 6120 §13.7.1.4).
func xmppAddrs(cert *x509.Certificate) []string {
	var out []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) > 0 {
			continue
		}
		data := seq.Bytes
		for len(data) > 0 {
			var gn asn1.RawValue
			rest, err := asn1.Unmarshal(data, &gn)
			if err != nil {
				break
			}
			data = rest
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
				continue // not an otherName
			}
			var other struct {
				ID    asn1.ObjectIdentifier
				Value asn1.RawValue `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.UnmarshalWithParams(gn.FullBytes, &other, "tag:0"); err != nil || !other.ID.Equal(oidXMPPAddr) {
				continue
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(other.Value.Bytes, &s, "utf8"); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// checkExternal authenticates with the client's verified certificate
// (XEP-0178 §3): the certificate's xmppAddr names the account; when it
// names several, the client must pick one as authzid.
func (c *conn) checkExternal(ctx context.Context, a *authState, chain []*x509.Certificate, authzid string) error {
	fail := func(fe *saslError) error { a.fail = fe; return fe }
	if len(chain) == 0 {
		return fail(failure("not-authorized", "no verified client certificate"))
	}
	var users []jid.JID
	for _, s := range xmppAddrs(chain[0]) {
		if j, err := jid.Parse(s); err == nil && j.IsBare() && j.Local() != "" && j.Domainpart() == c.domain {
			users = append(users, j)
		}
	}
	var user jid.JID
	switch {
	case authzid != "":
		z, err := jid.Parse(authzid)
		if err != nil {
			return fail(failure("invalid-authzid", "%q is not a JID", authzid))
		}
		for _, u := range users {
			if u == z {
				user = u
			}
		}
		if user.IsZero() {
			return fail(failure("invalid-authzid", "the certificate does not name %q", authzid))
		}
	case len(users) == 1:
		user = users[0]
	case len(users) == 0:
		return fail(failure("not-authorized", "the certificate names no account on %s", c.domain))
	default:
		return fail(failure("invalid-authzid", "the certificate names several accounts; choose one as the authorization identity"))
	}
	if _, fe := c.account(ctx, user); fe != nil {
		return fail(fe)
	}
	a.user = user
	return nil
}

// serverEndPoint computes tls-server-end-point channel binding data (RFC
// 5929 §4.1): the hash of the certificate this server presented, with the
// certificate's signature hash, or SHA-256 for MD5 and SHA-1.
func (c *conn) serverEndPoint(cs tls.ConnectionState) ([]byte, error) {
	cfg := c.srv.cfg.TLS
	var cert *tls.Certificate
	if cfg.GetCertificate != nil {
		var err error
		if cert, err = cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: cs.ServerName}); err != nil {
			return nil, fmt.Errorf("find server certificate: %w", err)
		}
	} else if len(cfg.Certificates) > 0 {
		cert = &cfg.Certificates[0]
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil, errors.New("no server certificate")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse server certificate: %w", err)
		}
	}
	var h hash.Hash
	switch leaf.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write(leaf.Raw)
	return h.Sum(nil), nil
}

// channelBinding returns the binding data of the given type for this TLS
// connection.
func (c *conn) channelBinding(typ string) (scram.ChannelBinding, error) {
	cs := c.tls.ConnectionState()
	switch scram.ChannelBindingType(typ) {
	case scram.ChannelBindingTLSExporter:
		return scram.NewTLSExporterBinding(&cs)
	case scram.ChannelBindingTLSServerEndpoint:
		data, err := c.serverEndPoint(cs)
		if err != nil {
			return scram.ChannelBinding{}, err
		}
		return scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: data}, nil
	}
	return scram.ChannelBinding{}, fmt.Errorf("unsupported channel binding type %q", typ)
}

// scramServer adapts xdg-go/scram's server conversation to sasl.Server,
// choosing the channel binding from the client's GS2 header (RFC 5802 §6,
// RFC 9266) before the conversation starts.
type scramServer struct {
	c       *conn
	ctx     context.Context
	a       *authState
	hash    scram.HashGeneratorFcn
	plus    bool
	cbTypes []string
	conv    *scram.ServerConversation
	user    jid.JID
}

func (s *scramServer) Next(resp []byte) ([]byte, bool, error) {
	if s.conv == nil {
		if len(resp) == 0 {
			// SCRAM is client-first: ask for the client-first message.
			return []byte{}, false, nil
		}
		conv, fe := s.start(string(resp))
		if fe != nil {
			return nil, false, fe
		}
		s.conv = conv
	}
	out, err := s.conv.Step(string(resp))
	if err != nil {
		if s.a.fail == nil {
			s.a.fail = failure("not-authorized", "authentication failed")
		}
		return nil, false, s.a.fail
	}
	if !s.conv.Done() {
		return []byte(out), false, nil
	}
	if !s.conv.Valid() {
		return nil, false, failure("not-authorized", "authentication failed")
	}
	if fe := checkAuthzid(s.conv.AuthzID(), s.user); fe != nil {
		s.a.fail = fe
		return nil, false, fe
	}
	s.a.user = s.user
	return []byte(out), true, nil
}

// start inspects the GS2 header and opens the conversation with the
// matching channel binding.
func (s *scramServer) start(first string) (*scram.ServerConversation, *saslError) {
	srv, err := s.hash.NewServer(s.lookup)
	if err != nil {
		return nil, failure("temporary-auth-failure", "SCRAM is unavailable")
	}
	switch {
	case strings.HasPrefix(first, "p="):
		if !s.plus {
			return nil, failure("malformed-request", "channel binding requested with a mechanism that has none; use the -PLUS variant")
		}
		typ, _, _ := strings.Cut(first[2:], ",")
		if !contains(s.cbTypes, typ) {
			s.c.sawPlusOffer = true
			return nil, failure("malformed-request", "channel binding type %q is not supported here; this server offers %s", typ, strings.Join(s.cbTypes, ", "))
		}
		cb, err := s.c.channelBinding(typ)
		if err != nil {
			return nil, failure("temporary-auth-failure", "channel binding data is unavailable")
		}
		return srv.NewConversationWithChannelBindingRequired(cb), nil
	case s.plus:
		return nil, failure("malformed-request", "a -PLUS mechanism requires channel binding (GS2 flag p=)")
	case len(s.cbTypes) > 0 && !s.c.sawPlusOffer:
		// We offered -PLUS: a client that says "y" (it could bind but
		// believes we cannot) is being downgraded (RFC 5802 §6). Once
		// the client has tried a -PLUS mechanism on this stream with a
		// binding type we lack (slixmpp knows only tls-unique, which TLS
		// 1.3 does not define), it has proven it saw the offer, so its
		// "y" on the next attempt is no sign of tampering.
		cb, err := s.c.channelBinding(s.cbTypes[0])
		if err != nil {
			return srv.NewConversation(), nil
		}
		return srv.NewConversationWithChannelBinding(cb), nil
	default:
		return srv.NewConversation(), nil
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lookup returns the stored SCRAM keys for a user name. Unknown users get
// keys that cannot match, with a salt that stays the same for the name, so
// the exchange looks the same as for a real account until the proof fails.
func (s *scramServer) lookup(username string) (scram.StoredCredentials, error) {
	user, fe := s.c.localUser(username)
	if fe != nil {
		return s.fake(username), nil
	}
	acc, fe := s.c.account(s.ctx, user)
	if fe != nil {
		if fe.cond != "not-authorized" {
			s.a.fail = fe
			return scram.StoredCredentials{}, fe
		}
		return s.fake(username), nil
	}
	keys := acc.Credentials.SHA256
	if isSHA1(s.hash) {
		keys = acc.Credentials.SHA1
	}
	if len(keys.StoredKey) == 0 {
		return s.fake(username), nil
	}
	s.user = user
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(keys.Salt), Iters: keys.Iterations},
		StoredKey:  keys.StoredKey,
		ServerKey:  keys.ServerKey,
	}, nil
}

func (s *scramServer) fake(username string) scram.StoredCredentials {
	junk := make([]byte, 32)
	_, _ = rand.Read(junk)
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(s.c.srv.fakeSalt(username)), Iters: storage.DefaultIterations},
		StoredKey:  junk,
		ServerKey:  junk,
	}
}

func isSHA1(h scram.HashGeneratorFcn) bool {
	return h().Size() == 20
}
