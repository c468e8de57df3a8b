// Package stanzatest frames test input the way the server frames a
// client's stream, for tests (fuzz targets above all) of the code that
// handles what clients send.
package stanzatest

import (
	"bytes"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/stream"
)

// clientHeader opens a client stream to localhost.
const clientHeader = `<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// maxStanzaBytes bounds the framed stanza, as a small deployment would.
const maxStanzaBytes = 64 << 10

// SetQuery frames body as the contents of <iq type='set'><query
// xmlns='ns'>…</query></iq> on a client stream, through the server's
// stream decoder, and returns the iq and its query. ok is false when the
// decoder refuses the input (not well-formed, over a limit, restricted
// XML) or body closed the query early, so that no such query reached a
// handler.
func SetQuery(ns string, body []byte) (iq, query *etree.Element, ok bool) {
	var in bytes.Buffer
	in.WriteString(clientHeader)
	in.WriteString("<iq type='set' id='t'><query xmlns='" + ns + "'>")
	in.Write(body)
	in.WriteString("</query></iq>")
	d := stream.NewDecoder(&in, stream.Limits{MaxStanzaBytes: maxStanzaBytes})
	if _, err := d.ReadHeader(); err != nil {
		panic("stanzatest: the fixed stream header was refused: " + err.Error())
	}
	iq, err := d.Next()
	if err != nil {
		return nil, nil, false
	}
	query = iq.SelectElement("query")
	if query == nil || query.NamespaceURI() != ns {
		return nil, nil, false
	}
	return iq, query, true
}
