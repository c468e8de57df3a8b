package stream

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRatioScratch(t *testing.T) {
	if os.Getenv("RATIO") == "" {
		t.Skip()
	}
	data, n := benchStream(64)
	rd := bytes.NewReader(data)
	d := NewDecoder(rd, Limits{})
	frame := func() {
		rd.Reset(data)
		d.Reset(rd)
		d.ReadHeader()
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	}
	tok := func() {
		rd.Reset(data)
		x := xml.NewDecoder(rd)
		for {
			if _, err := x.Token(); err != nil {
				break
			}
		}
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var tf, tt []time.Duration
	for range 20 {
		s := cpu()
		for range 10 {
			frame()
		}
		tf = append(tf, (cpu()-s)/10)
		s = cpu()
		for range 2 {
			tok()
		}
		tt = append(tt, (cpu()-s)/2)
	}
	sum := func(x []time.Duration) (t time.Duration) {
		for _, v := range x {
			t += v
		}
		return t / time.Duration(len(x))
	}
	t.Logf("mean cpu: frame %v token %v ratio %.2f", sum(tf)/time.Duration(n), sum(tt)/time.Duration(n), float64(sum(tt))/float64(sum(tf)))
	minOf := func(x []time.Duration) time.Duration {
		m := x[0]
		for _, v := range x {
			m = min(m, v)
		}
		return m
	}
	f, k := minOf(tf), minOf(tt)
	t.Logf("frame %v/stanza (%.0f MB/s), token %v/stanza (%.0f MB/s), ratio %.2f", f/time.Duration(n), float64(len(data))/f.Seconds()/1e6, k/time.Duration(n), float64(len(data))/k.Seconds()/1e6, float64(k)/float64(f))
	_ = io.EOF
}
