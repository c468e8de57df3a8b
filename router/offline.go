package router

import (
	"context"
	"errors"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// NSStanzaID is XEP-0359's namespace.
const NSStanzaID = "urn:xmpp:sid:0"

// stampStanzaID gives a message a stable, unique id assigned by the
// recipient's server (XEP-0359 §3), after removing any <stanza-id/> that
// claims to come from that entity (§5: a sender must not be able to forge
// one). The id is also what the logs show for tracing.
func stampStanzaID(el *etree.Element, by jid.JID) string {
	byStr := by.String()
	for i := 0; i < len(el.Child); i++ {
		c, ok := el.Child[i].(*etree.Element)
		if ok && c.Tag == "stanza-id" && c.NamespaceURI() == NSStanzaID && c.SelectAttrValue("by", "") == byStr {
			el.RemoveChildAt(i)
			i--
		}
	}
	id := newID()
	sid := etree.NewElement("stanza-id")
	sid.Attr = make([]etree.Attr, 0, 3)
	sid.CreateAttr("xmlns", NSStanzaID)
	sid.CreateAttr("id", id)
	sid.CreateAttr("by", byStr)
	el.AddChild(sid)
	return id
}

// storeOffline keeps a chat or normal message for an account with no
// available resource (XEP-0160 §3), stamped with its time of arrival
// (XEP-0203), and bounces it with service-unavailable when the account's
// store is full.
func (r *Router) storeOffline(ctx context.Context, sender Session, owner jid.JID, el *etree.Element) {
	id := stampStanzaID(el, owner)
	now := time.Now()
	el.AddChild(r.delayElement(now, owner))
	_, err := r.store.Offline.StoreOffline(ctx, owner.String(), stream.AppendElement(nil, el), now, r.quota)
	switch {
	case errors.Is(err, storage.ErrQuotaExceeded):
		r.log.Info("router: offline store full", "to", owner.String(), "stanza_id", id)
		r.bounce(sender, el, stream.NewStanzaError(stream.ServiceUnavailable, "the recipient is offline and cannot store more messages"))
	case err != nil:
		r.log.Error("router: store offline message", "to", owner.String(), "err", err)
		r.bounce(sender, el, stream.NewStanzaError(stream.InternalServerErr, "the message could not be stored for the offline recipient"))
	default:
		r.log.Debug("router: stored offline message", "to", owner.String(), "stanza_id", id)
	}
}

// deliverOffline sends the stored messages to a resource that just became
// available with a non-negative priority (XEP-0160 §3) and deletes each
// only once it is queued to the session. Until it is done the resource is
// flushing: messages for the account are stored behind the older ones.
func (r *Router) deliverOffline(ctx context.Context, s Session) {
	owner := s.JID().Bare()
	mu := r.offlineLock(owner)
	mu.Lock()
	defer mu.Unlock()
	defer r.table.update(s, func(res *resource) { res.flushing = false })
	for {
		msgs, err := r.store.Offline.OfflineMessages(ctx, owner.String(), 100)
		if err != nil {
			r.log.Error("router: read offline messages", "jid", owner.String(), "err", err)
			return
		}
		if len(msgs) == 0 {
			return
		}
		ids := make([]int64, 0, len(msgs))
		for _, m := range msgs {
			el := parseStored(m.Stanza)
			if el == nil {
				r.log.Error("router: unreadable offline message dropped", "jid", owner.String(), "id", m.ID)
				ids = append(ids, m.ID)
				continue
			}
			if from, err := jid.Parse(el.SelectAttrValue("from", "")); err == nil && !r.policy.Inbound(ctx, s.JID(), from, KindMessage) {
				// Blocked since it was stored (XEP-0191 §3.3: nothing
				// from a blocked JID is delivered): dropped unseen.
				ids = append(ids, m.ID)
				continue
			}
			if err := s.Send(el); err != nil {
				break // the session is closing: the rest stay stored
			}
			ids = append(ids, m.ID)
		}
		if err := r.store.Offline.DeleteOffline(ctx, owner.String(), ids); err != nil {
			r.log.Error("router: delete offline messages", "jid", owner.String(), "err", err)
			return
		}
		if len(ids) < len(msgs) {
			return
		}
	}
}

// parseStored parses a stanza the server stored itself.
func parseStored(b []byte) *etree.Element {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return nil
	}
	return doc.Root()
}
