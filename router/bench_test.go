package router

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// queueSession serialises what it is sent, as a c2s session does.
type queueSession struct {
	jid jid.JID
	buf []byte
	n   int
}

func (q *queueSession) JID() jid.JID { return q.jid }
func (q *queueSession) Send(el *etree.Element) error {
	q.buf = stream.AppendElement(q.buf[:0], el)
	q.n++
	return nil
}
func (q *queueSession) Close(*stream.Error) {}

// BenchmarkRouteChat measures the server-side path of one chat message
// between two local users: framing from the wire, stamping 'from', the
// router's delivery decision and serialisation into the recipient's
// queue. TLS and syscalls are not included; cmd/heraldload measures the
// whole process.
func BenchmarkRouteChat(b *testing.B) {
	r := newTestRouter(b)
	romeo := &queueSession{jid: jid.MustParse("romeo@example.com/orchard")}
	juliet := &queueSession{jid: jid.MustParse("juliet@example.com/balcony")}
	for _, s := range []*queueSession{romeo, juliet} {
		r.Bind(s)
		p := etree.NewElement("presence")
		p.CreateAttr("from", s.jid.String())
		r.Route(context.Background(), s, p)
	}
	const msg = "<message type='chat' to='juliet@example.com/balcony' id='a1b2c3'>" +
		"<body>Wherefore art thou, Romeo? Deny thy father and refuse thy name.</body>" +
		"<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='a1b2c3'/></message>"
	header := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
	input := header + strings.Repeat(msg, b.N)
	dec := stream.NewDecoder(bytes.NewReader([]byte(input)), stream.Limits{})
	if _, err := dec.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	from := romeo.jid.String()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		el, err := dec.Next()
		if err != nil {
			b.Fatal(err)
		}
		el.CreateAttr("from", from)
		r.Route(ctx, romeo, el)
	}
	b.StopTimer()
	if juliet.n != b.N+1 { // b.N messages and her own initial presence
		b.Fatalf("juliet got %d stanzas, want %d", juliet.n, b.N+1)
	}
}

// BenchmarkPresenceBroadcast measures a presence change of a user whose
// contacts (mutual subscriptions, RFC 6121 §4.4.2) are all online: one op
// is one broadcast, delivered and serialised to every contact and to the
// user's own resource.
func BenchmarkPresenceBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) { benchmarkBroadcast(b, n) })
	}
}

func benchmarkBroadcast(b *testing.B, n int) {
	r, db := newTestRouterDB(b)
	ctx := context.Background()
	creds, err := storage.NewCredentials("secret", 0)
	if err != nil {
		b.Fatal(err)
	}
	owner := "juliet@example.com"
	contacts := make([]*queueSession, n)
	for i := range contacts {
		bare := fmt.Sprintf("contact%d@example.com", i)
		if err := db.CreateAccount(ctx, bare, creds); err != nil {
			b.Fatal(err)
		}
		for _, pair := range [][2]string{{owner, bare}, {bare, owner}} {
			if _, err := db.PutRosterItem(ctx, pair[0], storage.RosterItem{Contact: pair[1], Subscription: storage.SubBoth}); err != nil {
				b.Fatal(err)
			}
		}
		contacts[i] = &queueSession{jid: jid.MustParse(bare + "/phone")}
	}
	for _, c := range contacts {
		r.Bind(c)
		p := etree.NewElement("presence")
		p.CreateAttr("from", c.jid.String())
		r.Route(ctx, c, p)
	}
	juliet := &queueSession{jid: jid.MustParse(owner + "/balcony")}
	r.Bind(juliet)
	initial := etree.NewElement("presence")
	initial.CreateAttr("from", juliet.jid.String())
	r.Route(ctx, juliet, initial)
	for _, c := range contacts {
		c.n = 0
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := etree.NewElement("presence")
		p.CreateAttr("from", juliet.jid.String())
		p.CreateElement("show").SetText("away")
		p.CreateElement("status").SetText("at the balcony")
		r.Route(ctx, juliet, p)
	}
	b.StopTimer()
	for _, c := range contacts {
		if c.n != b.N {
			b.Fatalf("%s got %d presences, want %d", c.jid, c.n, b.N)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/delivery")
}
