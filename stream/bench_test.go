package stream

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"runtime"
	"testing"

	"github.com/beevik/etree"
)

// benchStanzas is a realistic mix of client traffic: chat messages with
// receipts and ids (XEP-0184, XEP-0359, XEP-0085), presence with caps
// (XEP-0115), roster get and result (RFC 6121 §2), a carbon copy
// (XEP-0280 / XEP-0297) and a message full of escapes and character
// references.
var benchStanzas = []string{
	`<message from='juliet@example.com/balcony' id='ktx72v49' to='romeo@example.net' type='chat' xml:lang='en'><body>Art thou not Romeo, and a Montague?</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread><request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
	`<presence from='romeo@example.net/orchard' id='pres1'><show>away</show><status>In the orchard</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://psi-im.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`,
	`<iq from='juliet@example.com/balcony' id='bv1bs71f' type='get'><query xmlns='jabber:iq:roster'/></iq>`,
	`<iq id='bv1bs71f' to='juliet@example.com/chamber' type='result'><query xmlns='jabber:iq:roster' ver='ver11'><item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item><item jid='mercutio@example.com' name='Mercutio' subscription='from'/><item jid='benvolio@example.net' name='Benvolio' subscription='both'/></query></iq>`,
	`<message xmlns='jabber:client' from='romeo@montague.example' to='romeo@montague.example/home' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='juliet@capulet.example/balcony' to='romeo@montague.example/garden' type='chat'><body>What man art thou that, thus bescreen'd in night, so stumblest on my counsel?</body><thread>0e3141cd80894871a68e6fe6b1ec56fa</thread></message></forwarded></received></message>`,
	`<message to='romeo@example.net' id='esc1' type='chat'><body>if (a &lt; b &amp;&amp; c &gt; d) { return &quot;x&quot;; } &#x1F600; caf&#233; &#8212; it&apos;s</body></message>`,
	`<presence to='juliet@example.com' type='subscribe' id='sub1'/>`,
	`<message from='juliet@example.com/balcony' id='m2' to='romeo@example.net' type='chat'><body>Wherefore art thou Romeo?</body><markable xmlns='urn:xmpp:chat-markers:0'/><stanza-id xmlns='urn:xmpp:sid:0' by='romeo@example.net' id='28482-98726-73623'/></message>`,
}

const benchHeader = `<?xml version='1.0'?><stream:stream to='example.net' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// benchStream returns a stream of reps rounds of benchStanzas, with
// whitespace keepalives between some of them, and its stanza count.
func benchStream(reps int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(benchHeader)
	n := 0
	for r := range reps {
		for i, s := range benchStanzas {
			b.WriteString(s)
			if (r+i)%3 == 0 {
				b.WriteString("\n ")
			}
			n++
		}
	}
	b.WriteString(CloseTag)
	return b.Bytes(), n
}

// BenchmarkFrame measures Decoder.Next over the stanza mix.
func BenchmarkFrame(b *testing.B) {
	data, n := benchStream(64)
	rd := bytes.NewReader(data)
	d := NewDecoder(rd, Limits{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := mallocs()
	for b.Loop() {
		rd.Reset(data)
		d.Reset(rd)
		if _, err := d.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerStanza(b, n, start)
}

// BenchmarkEncodingXMLToken is the baseline: encoding/xml's Token loop
// over the same bytes (it neither frames nor builds trees).
func BenchmarkEncodingXMLToken(b *testing.B) {
	data, n := benchStream(64)
	rd := bytes.NewReader(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := mallocs()
	for b.Loop() {
		rd.Reset(data)
		x := xml.NewDecoder(rd)
		for {
			_, err := x.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerStanza(b, n, start)
}

// decodeAll returns the elements of a stream.
func decodeAll(tb testing.TB, data []byte) []*etree.Element {
	tb.Helper()
	d := NewDecoder(bytes.NewReader(data), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		tb.Fatal(err)
	}
	var els []*etree.Element
	for {
		el, err := d.Next()
		if err == io.EOF {
			return els
		}
		if err != nil {
			tb.Fatal(err)
		}
		els = append(els, el)
	}
}

// BenchmarkAppendElement measures serialisation of the stanza mix.
func BenchmarkAppendElement(b *testing.B) {
	data, n := benchStream(64)
	els := decodeAll(b, data)
	var buf []byte
	for _, el := range els {
		buf = AppendElement(buf, el)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	start := mallocs()
	for b.Loop() {
		buf = buf[:0]
		for _, el := range els {
			buf = AppendElement(buf, el)
		}
	}
	reportPerStanza(b, n, start)
}

// BenchmarkEtreeWriteTo is the baseline: etree's own serialiser over the
// same trees, into a reused buffer.
func BenchmarkEtreeWriteTo(b *testing.B) {
	data, n := benchStream(64)
	els := decodeAll(b, data)
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	ws := &etree.WriteSettings{}
	for _, el := range els {
		el.WriteTo(bw, ws)
	}
	bw.Flush()
	b.SetBytes(int64(out.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	start := mallocs()
	for b.Loop() {
		out.Reset()
		bw.Reset(&out)
		for _, el := range els {
			el.WriteTo(bw, ws)
		}
		bw.Flush()
	}
	reportPerStanza(b, n, start)
}

// mallocs returns the number of heap allocations so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// reportPerStanza reports ns/stanza and allocs/stanza; start is mallocs()
// from just before the timed loop.
func reportPerStanza(b *testing.B, perOp int, start uint64) {
	allocs := mallocs() - start
	stanzas := float64(b.N) * float64(perOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/stanzas, "ns/stanza")
	b.ReportMetric(float64(allocs)/stanzas, "allocs/stanza")
}
