package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/namespaces"
	"github.com/herald-im/herald/router/subscription"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// Accounts answers whether a local account exists. storage.Accounts
// satisfies it.
type Accounts interface {
	AccountExists(ctx context.Context, bareJID string) (bool, error)
}

// Remote delivers stanzas addressed to other domains (federation).
type Remote interface {
	// SendRemote queues el for the remote domain of to. An error is
	// reported to the sender as the stanza error it carries, or as
	// remote-server-not-found.
	SendRemote(ctx context.Context, to jid.JID, el *etree.Element) error
}

// noFederation bounces every remote stanza; it stands in until s2s exists.
type noFederation struct{}

func (noFederation) SendRemote(_ context.Context, to jid.JID, _ *etree.Element) error {
	return stream.NewStanzaError(stream.RemoteServerNotFound,
		"federation is not available on this server: cannot reach %s", to.Domain())
}

// Config configures a Router.
type Config struct {
	// Domains are the local domains; at least one.
	Domains []jid.JID
	// Registry dispatches IQs addressed to the server and to accounts.
	Registry *namespaces.Registry
	// Accounts tells whether a local user exists.
	Accounts Accounts
	// Rosters, Requests and Offline persist rosters, pending subscription
	// requests and offline messages (RFC 6121, XEP-0160).
	Rosters  storage.Rosters
	Requests storage.SubscriptionRequests
	Offline  storage.Offline
	// OfflineQuota caps the messages stored for one offline account
	// (default 1000); more are bounced with service-unavailable.
	OfflineQuota int
	// Policy filters stanzas by privacy lists and blocking; nil allows all.
	Policy Policy
	// Subscriptions decides inbound subscription requests by the user's
	// presence authorization rules; nil asks the user every time.
	Subscriptions SubscriptionPolicy
	// Remote handles other domains; nil bounces with remote-server-not-found.
	Remote Remote
	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
	// Metrics registers the router's metrics; nil skips them.
	Metrics prometheus.Registerer
}

// Router decides the delivery of every stanza. It is safe for concurrent
// use.
type Router struct {
	domains  map[jid.JID]struct{}
	registry *namespaces.Registry
	accounts Accounts
	remote   Remote
	log      *slog.Logger
	table    *table
	rosters  *rosters
	offline  [offlineStripes]sync.Mutex
	seed     maphash.Seed
	store    stores
	quota    int
	policy   Policy
	subs     SubscriptionPolicy

	undeliverable *prometheus.CounterVec
}

// stores are the persistence the router uses beyond accounts.
type stores struct {
	Rosters  storage.Rosters
	Requests storage.SubscriptionRequests
	Offline  storage.Offline
}

// New returns a router for cfg.
func New(cfg Config) (*Router, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("router: no local domains configured")
	}
	if cfg.Registry == nil || cfg.Accounts == nil || cfg.Rosters == nil || cfg.Requests == nil || cfg.Offline == nil {
		return nil, errors.New("router: Registry, Accounts, Rosters, Requests and Offline are required")
	}
	if cfg.OfflineQuota <= 0 {
		cfg.OfflineQuota = 1000
	}
	r := &Router{
		domains:  make(map[jid.JID]struct{}, len(cfg.Domains)),
		registry: cfg.Registry,
		accounts: cfg.Accounts,
		remote:   cfg.Remote,
		log:      cfg.Logger,
		table:    newTable(),
		rosters:  newRosters(),
		seed:     maphash.MakeSeed(),
		store:    stores{Rosters: cfg.Rosters, Requests: cfg.Requests, Offline: cfg.Offline},
		quota:    cfg.OfflineQuota,
		policy:   cfg.Policy,
		subs:     cfg.Subscriptions,
		undeliverable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_router_undeliverable_stanzas_total",
			Help: "Stanzas the router could not deliver, by stanza kind and outcome (bounced with an error or silently dropped as the RFC requires).",
		}, []string{"kind", "outcome"}),
	}
	for _, d := range cfg.Domains {
		r.domains[d.Domainpart()] = struct{}{}
	}
	if r.remote == nil {
		r.remote = noFederation{}
	}
	if r.policy == nil {
		r.policy = allowAll{}
	}
	if r.subs == nil {
		r.subs = confirmAll{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(r.undeliverable); err != nil {
			return nil, fmt.Errorf("router: register metrics: %w", err)
		}
		if err := cfg.Metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_router_bound_sessions",
			Help: "Client sessions with a bound resource on this node.",
		}, func() float64 { return float64(r.table.count()) })); err != nil {
			return nil, fmt.Errorf("router: register metrics: %w", err)
		}
	}
	return r, nil
}

const offlineStripes = 256

// offlineLock returns the lock that serialises offline storage and
// delivery for bare.
func (r *Router) offlineLock(bare jid.JID) *sync.Mutex {
	return &r.offline[maphash.String(r.seed, bare.String())%offlineStripes]
}

// IsLocal reports whether domain is served here.
func (r *Router) IsLocal(domain jid.JID) bool {
	_, ok := r.domains[domain.Domainpart()]
	return ok
}

// GenerateResource returns a fresh random resourcepart for a client that
// asked the server to choose one (RFC 6120 §7.6).
func GenerateResource() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "herald-" + hex.EncodeToString(b[:])
}

// Bind registers s under its full JID (RFC 6120 §7). Herald's conflict
// policy (RFC 6120 §7.7.2.2, option "override"): a session that binds a
// full JID already in use replaces the old one, which is closed with a
// <conflict/> stream error.
func (r *Router) Bind(s Session) {
	// A new session starts with no per-session policy state (XEP-0016
	// §2.2: an active list lasts for its session only), even when it
	// replaces one at the same full JID.
	r.policy.SessionEnded(s.JID())
	if old := r.table.bind(s); old != nil {
		r.log.Info("resource conflict: replacing older session", "jid", s.JID().String())
		old.Close(stream.Errorf(stream.Conflict, "a new session bound the resource %q", s.JID().Resource()))
	}
}

// Unbind removes s. If s was available it owes unavailable presence to its
// account's other resources and to everyone it sent directed presence to
// (RFC 6121 §4.5.2, §4.6); the router sends it.
func (r *Router) Unbind(ctx context.Context, s Session) {
	res, ok := r.table.unbind(s)
	if !ok {
		return
	}
	if res.available {
		r.broadcastPresence(ctx, s.JID(), unavailablePresence(s.JID(), jid.JID{}), res.directed)
	}
	r.forgetRoster(s.JID().Bare())
	if _, rebound := r.table.lookupFull(s.JID(), jid.JID{}); !rebound {
		r.policy.SessionEnded(s.JID())
	}
}

// Route delivers a stanza received from the bound client session sender.
// The stanza's 'from' has already been stamped with the sender's full JID
// (RFC 6120 §8.1.2.1). Errors owed to the sender are queued to it.
func (r *Router) Route(ctx context.Context, sender Session, el *etree.Element) {
	from := sender.JID()
	toAttr := el.SelectAttrValue("to", "")
	var to jid.JID
	if toAttr != "" {
		var err error
		to, err = jid.Parse(toAttr)
		if err != nil {
			r.bounce(sender, el, stream.NewStanzaError(stream.JIDMalformed, "the 'to' address %q is not a valid JID: %v", toAttr, err))
			return
		}
	}
	if !to.IsZero() && to.Bare() != from.Bare() {
		if serr := r.policy.Outbound(ctx, from, to, kindOf(el)); serr != nil {
			if el.Tag == "presence" {
				r.drop(el)
			} else {
				r.bounce(sender, el, serr)
			}
			return
		}
	}
	switch el.Tag {
	case "message":
		if to.IsZero() {
			// RFC 6120 §10.3.1: as if addressed to the sender's bare JID.
			to = from.Bare()
		}
		if to.Bare() != from.Bare() && carbonEligible(el) {
			// XEP-0280 §8: the sender's other enabled resources get a copy.
			r.sendCarbons(from.Bare(), el, "sent", from)
		}
		r.routeMessage(ctx, sender, to, el)
	case "presence":
		r.routePresence(ctx, sender, to, el)
	case "iq":
		r.routeIQ(ctx, sender, to, el)
	default:
		// c2s only hands the three stanza kinds to the router.
		r.log.Error("router: not a stanza", "element", el.Tag)
	}
}

// deliverTo queues el to one session; a full or closing session loses it,
// which the session itself reports.
func deliverTo(s Session, el *etree.Element) {
	_ = s.Send(el)
}

// bounce answers el with a stanza error, unless el is itself an error
// (RFC 6120 §8.3.1).
func (r *Router) bounce(sender Session, el *etree.Element, serr *stream.StanzaError) {
	r.undeliverable.WithLabelValues(el.Tag, "bounced").Inc()
	if reply := serr.Reply(el); reply != nil {
		deliverTo(sender, reply)
	}
}

// traceDelivery logs a delivered message's stanza id (XEP-0359) at debug
// level, so one message can be followed through the logs; with debug off it
// costs one check and no allocation.
func (r *Router) traceDelivery(ctx context.Context, from, to jid.JID, id string) {
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.Debug("router: message delivered", "from", from.String(), "to", to.String(), "stanza_id", id)
	}
}

// refuseHidden answers a stanza the recipient's privacy rules refuse as if
// the recipient were unavailable (XEP-0016 §2.2, XEP-0191 §3.3.2): an error
// for message and iq, silence for presence.
func (r *Router) refuseHidden(sender Session, el *etree.Element) {
	if el.Tag == "presence" || el.SelectAttrValue("type", "") == "error" {
		r.drop(el)
		return
	}
	r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "the recipient is not available"))
}

func (r *Router) drop(el *etree.Element) {
	r.undeliverable.WithLabelValues(el.Tag, "dropped").Inc()
}

// exists reports whether bare is a local account, online or not.
func (r *Router) exists(ctx context.Context, bare jid.JID) (bool, error) {
	var buf [4]target
	if len(r.table.resources(buf[:0], bare)) > 0 {
		return true, nil
	}
	ok, err := r.accounts.AccountExists(ctx, bare.String())
	if err != nil {
		return false, fmt.Errorf("look up account %s: %w", bare, err)
	}
	return ok, nil
}

func (r *Router) routeMessage(ctx context.Context, sender Session, to jid.JID, el *etree.Element) {
	typ := el.SelectAttrValue("type", "normal")
	if !r.IsLocal(to) {
		r.sendRemote(ctx, sender, to, el)
		return
	}
	if to.Local() == "" {
		// A message to the server itself: no module handles messages
		// yet, so it is ignored (RFC 6120 §10.5.1 leaves this to the
		// server); errors are never answered.
		r.drop(el)
		return
	}
	ok, err := r.exists(ctx, to.Bare())
	if err != nil {
		r.log.Error("router: account lookup failed", "err", err)
		r.bounce(sender, el, stream.NewStanzaError(stream.InternalServerErr, "could not look up the recipient"))
		return
	}
	if !ok {
		// RFC 6121 §8.5.1.
		if typ == "error" {
			r.drop(el)
			return
		}
		r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "no such user"))
		return
	}
	if !to.IsBare() {
		if t, found := r.table.lookupFull(to, jid.JID{}); found {
			// RFC 6121 §8.5.3.1: deliver to the resource.
			if !r.policy.Inbound(ctx, to, sender.JID(), KindMessage) {
				r.refuseHidden(sender, el)
				return
			}
			r.traceDelivery(ctx, sender.JID(), to, stampStanzaID(el, to.Bare()))
			deliverTo(t.sess, el)
			if carbonEligible(el) {
				r.sendCarbons(to.Bare(), el, "received", to)
			}
			return
		}
		// RFC 6121 §8.5.3.2.1: only chat falls back to the bare JID.
		if typ != "chat" {
			if typ == "error" {
				r.drop(el)
			} else {
				r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "the resource is not online"))
			}
			return
		}
	}
	r.deliverToBare(ctx, sender, to.Bare(), typ, el)
}

// deliverToBare applies RFC 6121 §8.5.2 to a message for a local account
// that exists: chat and normal go to the available resources of highest
// non-negative priority, headline to all non-negative ones, groupchat and
// error are refused or ignored.
func (r *Router) deliverToBare(ctx context.Context, sender Session, bare jid.JID, typ string, el *etree.Element) {
	switch typ {
	case "error":
		r.drop(el)
		return
	case "groupchat":
		r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "groupchat messages cannot be sent to a user's bare JID"))
		return
	}
	// Storing and flushing offline messages are serialised per account,
	// so a message never overtakes one stored before it.
	mu := r.offlineLock(bare)
	mu.Lock()
	defer mu.Unlock()
	var buf [8]target
	targets := r.table.resources(buf[:0], bare)
	best := -1
	blocked := false
	for i, t := range targets {
		if !t.available || t.priority < 0 || t.flushing {
			targets[i].available = false
			continue
		}
		if !r.policy.Inbound(ctx, t.sess.JID(), sender.JID(), KindMessage) {
			targets[i].available = false // hidden from this sender
			blocked = true
			continue
		}
		if t.priority > best {
			best = t.priority
		}
	}
	if best < 0 && (blocked || !r.policy.Inbound(ctx, bare, sender.JID(), KindMessage)) {
		// A blocked sender learns nothing more than that the user is not
		// reachable, and nothing is stored for it.
		r.refuseHidden(sender, el)
		return
	}
	if best < 0 {
		// §8.5.2.2.1: no available resource with non-negative priority:
		// normal and chat go to offline storage (XEP-0160 §3).
		if typ == "headline" {
			r.drop(el)
			return
		}
		r.storeOffline(ctx, sender, bare, el)
		return
	}
	r.traceDelivery(ctx, sender.JID(), bare, stampStanzaID(el, bare))
	var got [8]jid.JID
	delivered := got[:0]
	for _, t := range targets {
		if !t.available { // excluded above: unavailable, negative, flushing or refused
			continue
		}
		if typ == "headline" || t.priority == best {
			if t.sess.Send(el) == nil {
				delivered = append(delivered, t.sess.JID())
			}
		}
	}
	if len(delivered) == 0 {
		// Every chosen session was closing: keep the message instead of
		// losing it, if the account's own rules (not the closing
		// sessions') let this sender leave it.
		switch {
		case typ == "headline":
		case !r.policy.Inbound(ctx, bare, sender.JID(), KindMessage):
			r.refuseHidden(sender, el)
		default:
			r.storeOffline(ctx, sender, bare, el)
		}
		return
	}
	if carbonEligible(el) {
		// XEP-0280 §7: enabled resources that did not get the original.
		r.sendCarbons(bare, el, "received", delivered...)
	}
}

func (r *Router) sendRemote(ctx context.Context, sender Session, to jid.JID, el *etree.Element) {
	if err := r.remote.SendRemote(ctx, to, el); err != nil {
		serr, ok := stream.AsStanzaError(err)
		if !ok {
			serr = stream.NewStanzaError(stream.RemoteServerNotFound, "cannot reach %s", to.Domain())
		}
		if el.SelectAttrValue("type", "") == "error" {
			r.drop(el)
			return
		}
		r.bounce(sender, el, serr)
	}
}

// parsePriority reads <priority/> (RFC 6121 §4.7.2.3): an integer from -128
// to 127, zero when absent.
func parsePriority(el *etree.Element) (int, error) {
	p := el.SelectElement("priority")
	if p == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(p.Text())
	if err != nil || n < -128 || n > 127 {
		return 0, fmt.Errorf("priority %q is not an integer from -128 to 127", p.Text())
	}
	return n, nil
}

func (r *Router) routePresence(ctx context.Context, sender Session, to jid.JID, el *etree.Element) {
	typ := el.SelectAttrValue("type", "")
	if to.IsZero() {
		// Presence broadcast (RFC 6121 §4.2, §4.4, §4.5).
		switch typ {
		case "", "unavailable":
			r.broadcastOwn(ctx, sender, typ, el)
		default:
			// Subscription requests and probes need an address.
			r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "presence of type %q needs a 'to' address", typ))
		}
		return
	}
	switch typ {
	case "", "unavailable", "probe", "error":
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		k, _ := subscription.ParseKind(typ)
		r.outboundSubscription(ctx, sender, to, k, el)
		return
	default:
		r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "unknown presence type %q", typ))
		return
	}
	if typ == "probe" {
		// A probe from a client (RFC 6121 §4.3): processed for a local
		// contact, routed otherwise, never answered with an error.
		if r.IsLocal(to) && to.Local() != "" {
			if ok, err := r.exists(ctx, to.Bare()); err == nil && ok {
				r.answerProbe(ctx, to, sender.JID())
			}
			return
		}
		if !r.IsLocal(to) {
			_ = r.remote.SendRemote(ctx, to, el)
		}
		return
	}
	if typ == "" || typ == "unavailable" {
		// Directed presence (RFC 6121 §4.6): remember it while available,
		// so the recipient can be told when the sender goes offline.
		r.table.update(sender, func(res *resource) {
			if !res.available {
				return
			}
			if typ == "" {
				if res.directed == nil {
					res.directed = make(map[jid.JID]struct{})
				}
				res.directed[to] = struct{}{}
			} else {
				delete(res.directed, to)
			}
		})
	}
	if !r.IsLocal(to) {
		r.sendRemote(ctx, sender, to, el)
		return
	}
	if to.Local() == "" {
		r.drop(el) // presence to the server itself: nothing to do
		return
	}
	ok, err := r.exists(ctx, to.Bare())
	if err != nil || !ok {
		// RFC 6121 §8.5.1: presence to a user that does not exist is
		// silently ignored, whatever its type.
		r.drop(el)
		return
	}
	if !to.IsBare() {
		if _, found := r.table.lookupFull(to, jid.JID{}); !found {
			r.drop(el) // §8.5.3.2.2
			return
		}
	}
	// §8.5.2.1.2: to all available resources (or the one addressed).
	r.deliverPresence(ctx, sender.JID(), to, el)
}

// broadcastOwn handles presence without 'to' from a resource: it records the
// resource's availability and priority and broadcasts the presence to the
// account's available resources, the sender included (RFC 6121 §4.2.2).
// On initial presence the new resource also receives the presence of the
// account's other available resources.
func (r *Router) broadcastOwn(ctx context.Context, sender Session, typ string, el *etree.Element) {
	prio := 0
	if typ == "" {
		var err error
		if prio, err = parsePriority(el); err != nil {
			r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "%v", err))
			return
		}
	}
	var wasAvailable bool
	oldPrio := 0
	var directed map[jid.JID]struct{}
	r.table.update(sender, func(res *resource) {
		wasAvailable = res.available
		oldPrio = res.priority
		if typ == "" {
			if prio >= 0 && (!res.available || res.priority < 0) {
				res.flushing = true // until deliverOffline is done
			}
			res.available = true
			res.priority = prio
			res.presence = el
		} else {
			res.available = false
			res.presence = nil
			directed = res.directed
			res.directed = nil
		}
	})
	if typ == "unavailable" && !wasAvailable {
		return // nothing to retract
	}
	if typ == "" && prio >= 0 && (!wasAvailable || oldPrio < 0) {
		// XEP-0160 §2: stored messages go to the first resource with a
		// non-negative priority. They are flushed before the presence is
		// reflected, so a client that has seen its own presence has them.
		r.deliverOffline(ctx, sender)
	}
	to := r.broadcastPresence(ctx, sender.JID(), el, directed)
	if typ == "" && !wasAvailable {
		r.sendOwnPresences(sender)
		r.sessionStarted(ctx, sender, to)
	}
}

// broadcastPresence sends el (from full) to the contacts subscribed to the
// account's presence (RFC 6121 §4.2.2, §4.4.2, §4.5.2), to the account's
// available resources addressed to the bare JID, and to each
// directed-presence recipient that is not a subscriber. It returns the
// contacts the account is subscribed to, the targets of probes.
func (r *Router) broadcastPresence(ctx context.Context, full jid.JID, el *etree.Element, directed map[jid.JID]struct{}) []jid.JID {
	bare := full.Bare()
	from, to, err := r.subscribers(ctx, bare)
	if err != nil {
		r.log.Error("router: presence broadcast without the roster", "jid", bare.String(), "err", err)
	}
	subscribed := make(map[jid.JID]struct{}, len(from))
	for _, contact := range from {
		subscribed[contact] = struct{}{}
		if r.policy.Outbound(ctx, full, contact, KindPresence) != nil {
			continue
		}
		r.deliverPresence(ctx, full, contact, presenceCopy(el, contact))
	}
	own := el.Copy()
	own.RemoveAttr("to")
	own.CreateAttr("to", bare.String())
	var buf [8]target
	for _, t := range r.table.resources(buf[:0], bare) {
		if t.available || t.sess.JID() == full {
			deliverTo(t.sess, own)
		}
	}
	for d := range directed {
		if _, ok := subscribed[d.Bare()]; ok || d.Bare() == bare {
			continue
		}
		if r.policy.Outbound(ctx, full, d, KindPresence) != nil {
			continue
		}
		r.deliverPresence(ctx, full, d, presenceCopy(el, d))
	}
	return to
}

// sendOwnPresences gives a newly available resource the current presence of
// the account's other available resources (it is implicitly subscribed to
// its own presence, RFC 6121 §4.2.2).
func (r *Router) sendOwnPresences(s Session) {
	full := s.JID()
	bare := full.Bare()
	sh := r.table.shard(bare)
	var presences []*etree.Element
	sh.mu.RLock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, res := range acc.resources {
			if res.sess != s && res.available && res.presence != nil {
				presences = append(presences, res.presence)
			}
		}
	}
	sh.mu.RUnlock()
	for _, p := range presences {
		c := p.Copy()
		c.RemoveAttr("to")
		c.CreateAttr("to", full.String())
		deliverTo(s, c)
	}
}

func (r *Router) routeIQ(ctx context.Context, sender Session, to jid.JID, el *etree.Element) {
	typ := el.SelectAttrValue("type", "")
	switch typ {
	case "get", "set", "result", "error":
	default:
		r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "iq type must be get, set, result or error, not %q", typ))
		return
	}
	if el.SelectAttrValue("id", "") == "" {
		r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "iq needs an 'id' attribute (RFC 6120 §8.2.3)"))
		return
	}
	from := sender.JID()
	if to.IsZero() {
		// RFC 6120 §10.3.3: handled on behalf of the sender's account.
		to = from.Bare()
	}
	if !r.IsLocal(to) {
		r.sendRemote(ctx, sender, to, el)
		return
	}
	if to.IsBare() {
		target := namespaces.Account
		if to.Local() == "" {
			target = namespaces.Server
		}
		if target == namespaces.Account {
			ok, err := r.exists(ctx, to)
			if err != nil || !ok {
				r.bounceIQ(sender, el, typ, stream.NewStanzaError(stream.ServiceUnavailable, "no such user"))
				return
			}
			// An iq the server answers for the account is still an iq to
			// the user: a blocked sender learns nothing (XEP-0191 §3.3).
			if to != from.Bare() && !r.policy.Inbound(ctx, to, from, KindIQ) {
				r.bounceIQ(sender, el, typ, stream.NewStanzaError(stream.ServiceUnavailable, "no such user"))
				return
			}
		}
		r.handleIQ(ctx, sender, to, target, typ, el)
		return
	}
	// A full JID (RFC 6121 §8.5.3).
	t, found := r.table.lookupFull(to, from)
	if !found {
		r.bounceIQ(sender, el, typ, stream.NewStanzaError(stream.ServiceUnavailable, "the resource is not online"))
		return
	}
	if to.Bare() != from.Bare() && !r.policy.Inbound(ctx, to, from, KindIQ) {
		r.bounceIQ(sender, el, typ, stream.NewStanzaError(stream.ServiceUnavailable, "the resource is not online"))
		return
	}
	if (typ == "get" || typ == "set") && to.Bare() != from.Bare() && !t.directed && !r.subscribedTo(ctx, to.Bare(), from.Bare()) {
		// §8.5.3.1: no presence shared with the requester (no From or
		// Both subscription, no directed presence) → do not leak that the
		// resource exists.
		r.bounceIQ(sender, el, typ, stream.NewStanzaError(stream.ServiceUnavailable, "the recipient does not share presence with you"))
		return
	}
	deliverTo(t.sess, el)
}

func (r *Router) bounceIQ(sender Session, el *etree.Element, typ string, serr *stream.StanzaError) {
	if typ == "result" || typ == "error" {
		r.drop(el) // responses are never answered (RFC 6120 §8.2.3)
		return
	}
	r.bounce(sender, el, serr)
}

// handleIQ dispatches an iq addressed to a domain or a bare JID through the
// namespaces registry and queues the answer to the sender.
func (r *Router) handleIQ(ctx context.Context, sender Session, to jid.JID, target namespaces.Target, typ string, el *etree.Element) {
	if typ == "result" || typ == "error" {
		// Answers to iqs the server sent (such as its own pings) are
		// consumed by the session that sent them; anything else is
		// dropped, never answered.
		r.drop(el)
		return
	}
	children := el.ChildElements()
	if len(children) != 1 {
		r.bounce(sender, el, stream.NewStanzaError(stream.BadRequest, "an iq of type %s must have exactly one child element (RFC 6120 §8.2.3)", typ))
		return
	}
	payload := children[0]
	name := xml.Name{Space: payload.NamespaceURI(), Local: payload.Tag}
	h := r.registry.LookupIQ(typ, name, target)
	if h == nil {
		r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "no service here handles {%s}%s", name.Space, name.Local))
		return
	}
	req := &namespaces.Request{Stanza: el, Payload: payload, Type: typ, From: sender.JID(), To: to, Target: target}
	result, err := h.HandleIQ(ctx, req)
	if err != nil {
		serr, ok := stream.AsStanzaError(err)
		if !ok {
			r.log.Error("iq handler failed", "namespace", name.Space, "element", name.Local, "err", err)
			serr = stream.NewStanzaError(stream.InternalServerErr, "the server failed to handle the request")
		}
		reply := serr.Reply(el)
		if target == namespaces.Account && to == sender.JID().Bare() {
			// Answered on behalf of the sender's own account: RFC 6120
			// §8.1.2.1 rule 3 allows the bare JID as 'from'.
			reply.RemoveAttr("from")
			reply.CreateAttr("from", to.String())
		}
		deliverTo(sender, reply)
		return
	}
	reply := etree.NewElement("iq")
	reply.CreateAttr("type", "result")
	reply.CreateAttr("id", el.SelectAttrValue("id", ""))
	reply.CreateAttr("from", to.String())
	reply.CreateAttr("to", sender.JID().String())
	if result != nil {
		reply.AddChild(result)
	}
	deliverTo(sender, reply)
	req.RunAfterReply()
}
