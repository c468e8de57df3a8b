package stream

import (
	"io"
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	in := `<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>
	<message to='a@b' id="x&amp;y"><body>hi &lt;there&gt; &#x263A; <![CDATA[<raw>]]></body></message> <iq type='get'><query xmlns='jabber:iq:roster'/></iq>
	<stream:error><foo xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`
	d := NewDecoder(strings.NewReader(in), Limits{})
	h, err := d.ReadHeader()
	t.Logf("%+v %v", h, err)
	for {
		el, err := d.Next()
		if err != nil {
			t.Log(err, err == io.EOF)
			break
		}
		t.Logf("%s ns=%q", AppendElement(nil, el), el.NamespaceURI())
	}
}
