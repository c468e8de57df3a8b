package c2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-im/herald/internal/limit"
	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/stream"
)

// Namespaces of stream negotiation (RFC 6120 §5–§7) and the legacy session
// establishment that old clients still look for (RFC 3921 §3, kept
// optional as draft-cridland-xmpp-session describes).
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
	nsPing    = "urn:xmpp:ping"
)

// closeGrace is how long a closing stream waits for the peer to read our
// last bytes and answer with its own closing tag (RFC 6120 §4.4).
const closeGrace = 5 * time.Second

// drainLimit bounds how much a closing connection reads and discards while
// waiting for the client to close its side.
const drainLimit = 4 << 20

// maxBindAttempts bounds failed resource-binding attempts (RFC 6120 §7.7.3).
const maxBindAttempts = 5

// countingReader counts the bytes read, so that the idle timer can tell
// whether the client has been silent, without touching the hot path with
// timers or deadlines.
type countingReader struct {
	r io.Reader
	n atomic.Uint64
	// shape holds the input to c2s.inbound_rate (nil: no limit); the
	// time it makes reads wait is added to waited.
	shape  *limit.Shaper
	waited prometheus.Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.shape != nil {
		p = c.shape.Window(p)
	}
	n, err := c.r.Read(p)
	c.n.Add(uint64(n))
	if c.shape != nil {
		if d := c.shape.Took(n); d > 0 {
			c.waited.Add(d.Seconds())
		}
	}
	return n, err
}

// conn is one client connection and, once bound, its session.
type conn struct {
	srv       *Server
	raw       net.Conn
	tls       *tls.Conn // nil until TLS is up
	directTLS bool
	in        countingReader
	dec       *stream.Decoder

	// sawPlusOffer is set when the client attempted a -PLUS mechanism
	// with a channel binding type this server cannot provide.
	sawPlusOffer bool

	domain jid.JID // the local domain the stream was opened to
	user   jid.JID // the authenticated bare JID
	// temporary is set when user is a temporary account created for an
	// anonymous login; finish deletes it.
	temporary bool
	// boundAt is when the resource was bound (set with bound, under mu).
	boundAt time.Time
	jid     jid.JID // the bound full JID

	// Output. After binding, every write goes through out and a writer
	// goroutine that runs only while out is non-empty.
	mu      sync.Mutex
	out     []byte
	spare   []byte
	writing bool
	closing bool
	// closeQueued is set once the closing tag is in out: the writer
	// half-closes the connection after writing it, and not before.
	closeQueued bool
	bound       bool
	closeWhy    string
	// writeSince is when the write in flight started (zero when the
	// writer is not in a write), to tell a stalled client from a burst.
	writeSince time.Time
	// closeErr is the stream error a negotiating stream was closed with
	// by another goroutine (shutdown), to send instead of a timeout.
	closeErr *stream.Error

	// stopped mirrors closing for the read loop, without the lock.
	stopped atomic.Bool

	// Parking (see poller): running is true while a goroutine reads the
	// bound session; parkReq asks that goroutine to park; sweepSeen is
	// owned by the server's sweeper. pollToken and pollAdded are guarded
	// by the poller's lock.
	ctx        context.Context
	log        *slog.Logger
	running    atomic.Bool
	parkReq    atomic.Bool
	sweepSeen  uint64
	pollToken  uint64
	pollAdded  bool
	finishOnce sync.Once
	stopCtx    func() bool

	// Idle detection: seenBytes is owned by the idle timer's callback;
	// pingID is shared with the read loop.
	idle      atomic.Pointer[time.Timer]
	seenBytes uint64
	pingID    atomic.Pointer[string]
}

func newConn(srv *Server, nc net.Conn, directTLS bool) *conn {
	c := &conn{srv: srv, raw: nc, directTLS: directTLS}
	c.in.r = nc
	c.in.shape = limit.NewShaper(srv.cfg.InboundRate, srv.cfg.InboundBurst)
	c.in.waited = srv.metrics.inboundWait
	return c
}

func (c *conn) netConn() net.Conn {
	if c.tls != nil {
		return c.tls
	}
	return c.raw
}

// JID implements router.Session.
func (c *conn) JID() jid.JID { return c.jid }

var _ router.Session = (*conn)(nil)

var (
	errSessionClosed = errors.New("c2s: session closed")
	errParked        = errors.New("c2s: session parked")
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// requestPark asks the goroutine reading a session that has been silent
// since the last sweep to park, by making its blocked read time out.
// Only the server's sweeper calls it.
func (c *conn) requestPark() {
	if !c.running.Load() {
		return
	}
	n := c.in.n.Load()
	if n != c.sweepSeen {
		c.sweepSeen = n
		return
	}
	c.parkReq.Store(true)
	c.raw.SetReadDeadline(time.Now())
}

// Send implements router.Session: it serialises el into the outbound queue.
func (c *conn) Send(el *etree.Element) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return errSessionClosed
	}
	before := len(c.out)
	c.out = stream.AppendElement(c.out, el)
	if before > 0 && len(c.out) > c.srv.cfg.OutboundQueueBytes && c.stalledLocked() {
		c.out = c.out[:before]
		c.mu.Unlock()
		c.Close(stream.Errorf(stream.PolicyViolation,
			"more than %d bytes of output are waiting: the client is not reading its stream", c.srv.cfg.OutboundQueueBytes))
		return errSessionClosed
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	c.srv.metrics.countSent(el.Tag)
	if start {
		go c.writeLoop()
	}
	return nil
}

// Close implements router.Session: it queues the stream error and the
// closing tag, and ends the connection once they are written (or after
// closeGrace if the client does not read them).
func (c *conn) Close(serr *stream.Error) {
	c.closeWith(serr, string(serr.Condition))
}

// closeWith queues serr (nil when the client closed the stream itself) and
// the closing tag.
func (c *conn) closeWith(serr *stream.Error, why string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.stopped.Store(true)
	if c.closeWhy == "" {
		c.closeWhy = why
	}
	if !c.bound {
		// Still negotiating: the reading goroutine owns the connection.
		// Interrupting its read makes it send closeErr and finish.
		c.closeErr = serr
		c.mu.Unlock()
		c.srv.cfg.Logger.Debug("c2s: closing negotiating connection", "reason", why)
		c.raw.SetReadDeadline(time.Now())
		return
	}
	c.mu.Unlock()
	// The session stops being a destination now, before the client can
	// see the end of the stream, not when the socket is finally closed:
	// whatever is routed once the client has our closing tag follows the
	// rules for an unavailable resource (offline storage, fallback to the
	// bare JID) instead of vanishing into a closing stream, and contacts
	// see the unavailable presence at once. (Send refuses new output from
	// here on.)
	c.srv.cfg.Router.Unbind(c.ctx, c)
	c.mu.Lock()
	if serr != nil {
		c.out = append(c.out, serr.Bytes()...)
	}
	c.out = append(c.out, stream.CloseTag...)
	c.closeQueued = true
	start := c.startWriterLocked()
	c.mu.Unlock()
	nc := c.netConn()
	nc.SetWriteDeadline(time.Now().Add(closeGrace))
	nc.SetReadDeadline(time.Now().Add(closeGrace))
	if start {
		go c.writeLoop()
	}
	// A parked session has no reader to see the client's closing tag.
	if c.srv.poll != nil && c.srv.poll.unpark(c) {
		go c.resume()
	}
}

// stallGrace is how long one write may block before a session whose queue
// is over its limit counts as not reading; hardQueueFactor bounds the queue
// whatever the writer is doing. The hard bound is only a memory guard: it
// must sit well above what a burst to a reading client can queue while
// that client's goroutines wait for a CPU (a loaded machine can leave a
// healthy reader unscheduled for tens of milliseconds), so that the stall
// rule, not a race with the scheduler, decides who is slow.
const (
	stallGrace      = 2 * time.Second
	hardQueueFactor = 16
)

// stalledLocked reports, for a queue over its limit, whether the client is
// to blame: its writer has been stuck in one write for stallGrace, or the
// queue passed the hard bound. A writer that has not been scheduled yet,
// or that is making progress, is not a slow client (a burst is).
func (c *conn) stalledLocked() bool {
	if len(c.out) > hardQueueFactor*c.srv.cfg.OutboundQueueBytes {
		return true
	}
	return !c.writeSince.IsZero() && time.Since(c.writeSince) > stallGrace
}

func (c *conn) startWriterLocked() bool {
	if c.writing || len(c.out) == 0 {
		return false
	}
	c.writing = true
	return true
}

// writeLoop writes the queue until it is empty, swapping buffers so that
// Send never waits for the network.
func (c *conn) writeLoop() {
	nc := c.netConn()
	for {
		c.mu.Lock()
		if len(c.out) == 0 {
			c.writing = false
			closing := c.closeQueued
			// Keep at most a small buffer while idle.
			if cap(c.out) > 2048 {
				c.out = nil
			}
			c.spare = nil
			c.mu.Unlock()
			if closing {
				// The closing tag is out: TLS close_notify and TCP FIN;
				// the reader waits for the client's own closing tag
				// within the grace period Close set.
				c.halfClose()
			}
			return
		}
		buf := c.out
		c.out = c.spare[:0]
		c.spare = nil
		c.writeSince = time.Now()
		c.mu.Unlock()
		_, err := nc.Write(buf)
		c.mu.Lock()
		c.writeSince = time.Time{}
		if cap(buf) <= 64<<10 {
			c.spare = buf[:0]
		}
		if err != nil {
			c.writing = false
			c.closing = true
			if c.closeWhy == "" {
				c.closeWhy = "io-error"
			}
			c.out = nil
			c.mu.Unlock()
			nc.Close()
			return
		}
		c.mu.Unlock()
	}
}

func (c *conn) halfClose() {
	if c.tls != nil {
		_ = c.tls.CloseWrite()
	}
	if tc, ok := c.raw.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// linger waits, bounded by closeGrace and drainLimit, for the client to
// close its side, discarding what it still sends. Closing a socket with
// unread input makes TCP send a reset, which can destroy the stream error
// the client has not read yet (RFC 6120 §4.4 closes streams gracefully).
func (c *conn) linger() {
	c.raw.SetReadDeadline(time.Now().Add(closeGrace))
	_, _ = io.CopyN(io.Discard, c.raw, drainLimit)
}

// writeNow writes b directly; only the reading goroutine calls it, and only
// before the session is bound (no writer goroutine exists yet).
func (c *conn) writeNow(b []byte) error {
	_, err := c.netConn().Write(b)
	return err
}

// serve runs the connection from accept through negotiation, then reads
// the bound session until it ends or parks.
func (c *conn) serve(ctx context.Context) {
	c.ctx = ctx
	c.srv.metrics.open.Inc()
	c.log = c.srv.cfg.Logger.With("remote", c.raw.RemoteAddr().String())
	defer func() {
		if p := recover(); p != nil {
			c.panicked(p)
		}
	}()
	c.stopCtx = context.AfterFunc(ctx, func() {
		c.Close(stream.Errorf(stream.SystemShutdown, "the server is shutting down"))
	})

	c.raw.SetDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
	c.dec = stream.NewDecoder(&c.in, c.srv.cfg.Limits)
	if err := c.negotiate(ctx); err != nil {
		c.recordFailure(err)
		c.fail(err)
		if se, ok := stream.AsError(err); ok {
			c.log.Info("c2s: negotiation failed", "error", se.Error())
		} else if !isClosed(err) {
			c.log.Debug("c2s: negotiation ended", "err", err)
		}
		c.finish()
		return
	}
	c.netConn().SetDeadline(time.Time{})
	c.log.Info("c2s: session bound", "jid", c.jid.String())
	c.startIdleTimer()
	c.readLoop()
}

// panicked ends a session whose goroutine panicked, keeping the server up.
func (c *conn) panicked(p any) {
	c.log.Error("c2s: panic in session", "panic", p, "stack", string(debug.Stack()))
	c.recordFailure(stream.Errorf(stream.InternalServerError, "panic"))
	c.fail(stream.Errorf(stream.InternalServerError, "the server hit an internal error"))
	c.finish()
}

// resume continues a parked session in a new goroutine.
func (c *conn) resume() {
	defer func() {
		if p := recover(); p != nil {
			c.panicked(p)
		}
	}()
	if !c.stopped.Load() {
		c.raw.SetReadDeadline(time.Time{})
	}
	c.readLoop()
}

// readLoop reads the bound session until the stream ends (then it finishes
// the session) or the session parks (then the goroutine just returns).
func (c *conn) readLoop() {
	c.running.Store(true)
	err := c.readStanzas(c.ctx)
	c.running.Store(false)
	if errors.Is(err, errParked) {
		return // the poller resumes the session; touch nothing here
	}
	c.recordFailure(err)
	if !c.stopped.Load() {
		if se, ok := stream.AsError(err); ok {
			c.log.Info("c2s: stream error", "jid", c.jid.String(), "error", se.Error())
		}
		c.fail(err)
	}
	c.finish()
}

// finish releases everything the session holds, once.
func (c *conn) finish() {
	c.finishOnce.Do(func() {
		if c.stopCtx != nil {
			c.stopCtx()
		}
		if t := c.idle.Load(); t != nil {
			t.Stop()
		}
		if c.bound {
			c.srv.cfg.Router.Unbind(c.ctx, c)
		}
		if c.temporary {
			c.deleteTemporaryAccount()
		}
		c.mu.Lock()
		reason := c.closeWhy
		if reason == "" {
			reason = "client-closed"
		}
		c.closing = true
		c.mu.Unlock()
		c.stopped.Store(true)
		c.netConn().Close()
		c.srv.metrics.open.Dec()
		c.srv.metrics.closed.WithLabelValues(reason).Inc()
		c.log.Debug("c2s: connection closed", "jid", c.jid.String(), "reason", reason)
		c.srv.connDone(c)
	})
}

// deleteTemporaryAccount removes the account an anonymous login created,
// with everything stored for it: an anonymous JID lasts as long as its
// session (RFC 4505 §3; XEP-0175). It runs after Unbind, so contacts have
// seen the unavailable presence first. Should it fail, the next start of
// the server removes the account.
func (c *conn) deleteTemporaryAccount() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), temporaryDeleteTimeout)
	defer cancel()
	if err := c.srv.cfg.Accounts.DeleteAccount(ctx, c.user.String()); err != nil {
		c.log.Error("c2s: could not delete an anonymous session's temporary account", "jid", c.user.String(), "err", err)
	}
}

// temporaryDeleteTimeout bounds the deletion of a temporary account.
const temporaryDeleteTimeout = 10 * time.Second

// recordFailure remembers why the connection ends, for logs and metrics.
func (c *conn) recordFailure(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeWhy != "" {
		return
	}
	switch se, ok := stream.AsError(err); {
	case ok:
		c.closeWhy = string(se.Condition)
	case errors.Is(err, io.EOF):
		c.closeWhy = "client-closed"
	case isTimeout(err):
		c.closeWhy = string(stream.ConnectionTimeout)
	default:
		c.closeWhy = "io-error"
	}
}

// fail ends a stream that failed during negotiation: a stream error is
// sent with the closing tag, a client that closed its stream gets ours
// (RFC 6120 §4.4), an expired deadline becomes connection-timeout. Before
// binding, this goroutine is the only writer.
func (c *conn) fail(err error) {
	var out []byte
	se, isStreamErr := stream.AsError(err)
	c.mu.Lock()
	if c.closeErr != nil {
		// Closed by the server (shutdown): say so, not what the
		// interrupted read reported.
		se, isStreamErr = c.closeErr, true
	}
	c.mu.Unlock()
	switch {
	case isStreamErr:
	case errors.Is(err, io.EOF):
	case isTimeout(err):
		se = stream.Errorf(stream.ConnectionTimeout, "stream negotiation did not finish within %s", c.srv.cfg.AuthTimeout)
	default:
		return // the connection broke: nobody to tell
	}
	if c.bound {
		why := "client-closed"
		if se != nil {
			why = string(se.Condition)
		}
		c.closeWith(se, why)
		c.linger()
		return
	}
	if se != nil {
		out = append(out, se.Bytes()...)
	}
	out = append(out, stream.CloseTag...)
	c.netConn().SetWriteDeadline(time.Now().Add(closeGrace))
	if c.writeNow(out) == nil {
		c.halfClose()
		c.linger()
	}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// openStream reads the client's stream header, answers with ours and the
// features, and reports a header problem as a stream error after our header
// has been sent (RFC 6120 §4.9.1.2).
func (c *conn) openStream(features *etree.Element) error {
	h, herr := c.dec.ReadHeader()
	reply := stream.Header{
		ContentNS: stream.NSClient,
		ID:        newStreamID(),
		Version:   "1.0",
		Lang:      "en",
	}
	if !c.domain.IsZero() {
		reply.From = c.domain.String()
	} else if d, ok := c.lookupDomain(h.To); ok {
		reply.From = d.String()
	}
	if herr != nil {
		if _, ok := stream.AsError(herr); !ok {
			return herr // the connection failed; nobody to tell
		}
		_ = c.writeNow(reply.Bytes())
		return herr
	}
	if h.From != "" {
		// RFC 6120 §4.7.2 echoes the client's 'from', which §4.7.1 says
		// is its bare JID. A client that sends a full JID instead (as
		// mellium.im/xmpp does) gets it back unchanged, because such
		// clients reject any other value; see ARCHITECTURE.md.
		if from, err := jid.Parse(h.From); err == nil && from.Local() != "" {
			reply.To = from.String()
		}
	}
	if err := c.checkHeader(h); err != nil {
		_ = c.writeNow(reply.Bytes())
		return err
	}
	var b []byte
	b = append(b, reply.Bytes()...)
	b = stream.AppendElement(b, features)
	return c.writeNow(b)
}

func (c *conn) lookupDomain(to string) (jid.JID, bool) {
	if to == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(to)
	if err != nil || !j.IsBare() || j.Local() != "" {
		return jid.JID{}, false
	}
	d, ok := c.srv.domains[j.Domain()]
	return d, ok
}

// checkHeader validates a client's stream header (RFC 6120 §4.7, §4.8).
func (c *conn) checkHeader(h stream.Header) error {
	if h.ContentNS != stream.NSClient {
		return stream.Errorf(stream.InvalidNamespace, "client streams use the jabber:client namespace, not %q", h.ContentNS)
	}
	if h.Version == "" {
		return stream.Errorf(stream.UnsupportedVersion, "Herald supports XMPP 1.0 streams; the header has no version attribute")
	}
	major, _, _ := strings.Cut(h.Version, ".")
	if n, err := strconv.Atoi(major); err != nil || n != 1 {
		return stream.Errorf(stream.UnsupportedVersion, "Herald supports XMPP version 1.0, not %q", h.Version)
	}
	d, ok := c.lookupDomain(h.To)
	if !ok {
		if h.To == "" {
			return stream.Errorf(stream.HostUnknown, "the stream header must name the domain to connect to in its 'to' attribute")
		}
		return stream.Errorf(stream.HostUnknown, "this server does not serve %q", h.To)
	}
	if !c.domain.IsZero() && d != c.domain {
		return stream.Errorf(stream.HostUnknown, "a restarted stream must be for %s, not %q", c.domain, h.To)
	}
	c.domain = d
	return nil
}

func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// negotiate runs stream negotiation as straight-line code: TLS, SASL, then
// resource binding (RFC 6120 §4.3).
func (c *conn) negotiate(ctx context.Context) error {
	if c.directTLS {
		if err := c.handshakeTLS(ctx); err != nil {
			return err
		}
	} else {
		if err := c.negotiateSTARTTLS(ctx); err != nil {
			return err
		}
	}
	if err := c.negotiateSASL(ctx); err != nil {
		return err
	}
	return c.negotiateBind(ctx)
}

// newFeatures returns an empty <stream:features/> (RFC 6120 §4.3.2).
func newFeatures() *etree.Element {
	return etree.NewElement("stream:features")
}

// negotiateSTARTTLS offers only STARTTLS, marked required (RFC 6120 §5.3.1,
// §5.4.1), and upgrades the connection when the client asks for it.
func (c *conn) negotiateSTARTTLS(ctx context.Context) error {
	features := newFeatures()
	st := features.CreateElement("starttls")
	st.CreateAttr("xmlns", nsTLS)
	st.CreateElement("required")
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
		case ns == nsTLS && el.Tag == "starttls":
			if c.dec.Buffered() > 0 {
				// Anything sent after <starttls/> before the handshake
				// could be injected by an attacker in the path.
				return stream.Errorf(stream.PolicyViolation, "data was sent after <starttls/> before the TLS handshake")
			}
			if err := c.writeNow([]byte("<proceed xmlns='" + nsTLS + "'/>")); err != nil {
				return err
			}
			return c.handshakeTLS(ctx)
		case ns == nsSASL && el.Tag == "auth":
			// RFC 6120 §6.5.4: no mechanism is usable before TLS.
			failures++
			c.srv.metrics.auth.WithLabelValues(el.SelectAttrValue("mechanism", ""), "encryption-required").Inc()
			if failures > c.srv.cfg.SASLRetries {
				return stream.Errorf(stream.PolicyViolation, "too many authentication attempts")
			}
			if err := c.writeNow(saslFailure("encryption-required", "negotiate TLS with STARTTLS before authenticating")); err != nil {
				return err
			}
		case ns == "" && isStanza(el.Tag):
			return stream.Errorf(stream.NotAuthorized, "stanzas may only be sent after TLS, authentication and resource binding")
		default:
			return stream.Errorf(stream.UnsupportedStanzaType, "unexpected <%s xmlns='%s'/> while TLS is required", el.Tag, ns)
		}
	}
}

func isStanza(tag string) bool {
	return tag == "message" || tag == "presence" || tag == "iq"
}

// handshakeTLS runs the TLS handshake and restarts the stream over it. A
// failed handshake ends the TCP connection without a stream error (RFC 6120
// §5.4.3.2).
func (c *conn) handshakeTLS(ctx context.Context) error {
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	// The handshake is bounded by the connection's auth deadline, and a
	// shutdown interrupts it through the read deadline (closeWith); a
	// context that can be cancelled would only make crypto/tls start a
	// goroutine per handshake to watch it.
	if err := tc.HandshakeContext(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("c2s: TLS handshake: %w", err)
	}
	c.tls = tc
	c.in.r = tc
	c.dec.Reset(&c.in)
	return nil
}

// negotiateBind offers resource binding (RFC 6120 §7) and the optional
// legacy session feature, and binds the resource the client asks for or one
// the server generates.
func (c *conn) negotiateBind(ctx context.Context) error {
	features := newFeatures()
	features.CreateElement("bind").CreateAttr("xmlns", nsBind)
	sess := features.CreateElement("session")
	sess.CreateAttr("xmlns", nsSession)
	sess.CreateElement("optional")
	if c.srv.cfg.Features != nil {
		for _, f := range c.srv.cfg.Features() {
			features.AddChild(f)
		}
	}
	if err := c.openStream(features); err != nil {
		return err
	}
	attempts := 0
	for {
		el, err := c.dec.Next()
		if err != nil {
			return err
		}
		if el.NamespaceURI() != "" || !isStanza(el.Tag) {
			return stream.Errorf(stream.UnsupportedStanzaType, "unexpected <%s xmlns='%s'/> while binding a resource", el.Tag, el.NamespaceURI())
		}
		bind := el.SelectElement("bind")
		if el.Tag != "iq" || el.SelectAttrValue("type", "") != "set" || bind == nil || bind.NamespaceURI() != nsBind {
			return stream.Errorf(stream.NotAuthorized, "bind a resource (RFC 6120 §7) before sending other stanzas")
		}
		full, serr := c.chooseResource(bind)
		if serr != nil {
			attempts++
			if attempts >= maxBindAttempts {
				return stream.Errorf(stream.PolicyViolation, "too many failed resource binding attempts")
			}
			if err := c.writeNow(stream.AppendElement(nil, serr.Reply(el))); err != nil {
				return err
			}
			continue
		}
		c.jid = full
		result := etree.NewElement("iq")
		result.CreateAttr("type", "result")
		result.CreateAttr("id", el.SelectAttrValue("id", ""))
		b := result.CreateElement("bind")
		b.CreateAttr("xmlns", nsBind)
		b.CreateElement("jid").SetText(full.String())
		// The result is written by this goroutine, before the router
		// knows the session: nothing can be queued for the new full JID
		// ahead of it, and a login starts no writer goroutine.
		if err := c.writeNow(stream.AppendElement(nil, result)); err != nil {
			return err
		}
		c.srv.metrics.countSent("iq")
		// Bound: from here on all output goes through the queue. A
		// stream already being closed (shutdown) stays unbound, so that
		// fail still writes the stream error itself.
		c.mu.Lock()
		closing := c.closing
		if !closing {
			c.bound = true
			c.boundAt = time.Now()
		}
		c.mu.Unlock()
		if closing {
			return stream.Errorf(stream.SystemShutdown, "the server is shutting down")
		}
		c.srv.cfg.Router.Bind(c)
		return nil
	}
}

// chooseResource validates the requested resource (RFC 6120 §7.7) or
// generates one (§7.6).
func (c *conn) chooseResource(bind *etree.Element) (jid.JID, *stream.StanzaError) {
	res := ""
	if r := bind.SelectElement("resource"); r != nil {
		res = strings.TrimSpace(r.Text())
	}
	if res == "" {
		res = router.GenerateResource()
	}
	full, err := c.user.WithResource(res)
	if err != nil {
		return jid.JID{}, stream.NewStanzaError(stream.BadRequest, "the resource %q is not allowed: %v", res, err)
	}
	return full, nil
}

// readStanzas is the main loop of a bound session.
func (c *conn) readStanzas(ctx context.Context) error {
	m := c.srv.metrics
	full := c.jid.String()
	bare := c.jid.Bare().String()
	for {
		el, err := c.dec.Next()
		if err != nil {
			if c.parkReq.Swap(false) && isTimeout(err) && !c.stopped.Load() {
				// The sweeper interrupted a silent session's read.
				if c.dec.Buffered() == 0 && c.srv.poll != nil && c.srv.poll.park(c) {
					return errParked
				}
				c.raw.SetReadDeadline(time.Time{})
				continue
			}
			return err
		}
		if c.stopped.Load() {
			continue // closing: read only to see the client's closing tag
		}
		if el.NamespaceURI() != "" || !isStanza(el.Tag) {
			return stream.Errorf(stream.UnsupportedStanzaType, "<%s xmlns='%s'/> is not a stanza this server accepts", el.Tag, el.NamespaceURI())
		}
		m.countReceived(el.Tag)
		// RFC 6120 §8.1.2.1: stamp 'from'; a client may only claim its
		// own addresses (§4.9.3.9).
		if from := el.SelectAttrValue("from", ""); from != "" && from != full && from != bare {
			if j, err := jid.Parse(from); err != nil || (j != c.jid && j != c.jid.Bare()) {
				return stream.Errorf(stream.InvalidFrom, "the 'from' address %q is not this session's JID %s", from, full)
			}
		}
		stampFrom(el, full, bare)
		if el.Tag == "iq" && c.consumeOwnIQ(el) {
			continue
		}
		c.srv.cfg.Router.Route(ctx, c, el)
	}
}

// stampFrom sets 'from' to the full JID, or the bare JID for subscription
// management presence (RFC 6121 §3.1.2, §3.2.2, §3.3.2, §3.4.2).
func stampFrom(el *etree.Element, full, bare string) {
	v := full
	if el.Tag == "presence" {
		switch el.SelectAttrValue("type", "") {
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			v = bare
		}
	}
	el.CreateAttr("from", v)
}

// consumeOwnIQ handles iqs that concern this stream rather than routing:
// the legacy session request and the answer to the server's idle ping.
func (c *conn) consumeOwnIQ(el *etree.Element) bool {
	typ := el.SelectAttrValue("type", "")
	to := el.SelectAttrValue("to", "")
	if to != "" && to != c.domain.String() {
		return false
	}
	switch typ {
	case "result", "error":
		id := c.pingID.Load()
		return id != nil && el.SelectAttrValue("id", "") == *id
	case "set":
		s := el.SelectElement("session")
		if s == nil || s.NamespaceURI() != nsSession || len(el.ChildElements()) != 1 {
			return false
		}
		result := etree.NewElement("iq")
		result.CreateAttr("type", "result")
		result.CreateAttr("id", el.SelectAttrValue("id", ""))
		result.CreateAttr("from", c.domain.String())
		result.CreateAttr("to", c.jid.String())
		_ = c.Send(result)
		return true
	}
	return false
}

// startIdleTimer arms the idle check (RFC 6120 §4.6.3, XEP-0199 §4.1).
func (c *conn) startIdleTimer() {
	c.seenBytes = c.in.n.Load()
	// Created stopped and published before it is armed, so the callback
	// always finds it.
	t := time.AfterFunc(time.Hour, c.checkIdle)
	t.Stop()
	c.idle.Store(t)
	t.Reset(c.srv.cfg.IdleTimeout)
}

// checkIdle runs on the idle timer: if the client has sent nothing since the
// last check, it is pinged; if it stays silent after the ping, the stream is
// closed with connection-timeout.
func (c *conn) checkIdle() {
	t := c.idle.Load()
	n := c.in.n.Load()
	if n != c.seenBytes {
		c.seenBytes = n
		c.pingID.Store(nil)
		t.Reset(c.srv.cfg.IdleTimeout)
		return
	}
	if c.pingID.Load() != nil {
		c.Close(stream.Errorf(stream.ConnectionTimeout, "no answer to a ping after %s of silence", c.srv.cfg.IdleTimeout+c.srv.cfg.PingTimeout))
		return
	}
	id := "ping-" + newStreamID()
	c.pingID.Store(&id)
	ping := etree.NewElement("iq")
	ping.CreateAttr("from", c.domain.String())
	ping.CreateAttr("to", c.jid.String())
	ping.CreateAttr("type", "get")
	ping.CreateAttr("id", id)
	ping.CreateElement("ping").CreateAttr("xmlns", nsPing)
	if c.Send(ping) == nil {
		t.Reset(c.srv.cfg.PingTimeout)
	}
}
