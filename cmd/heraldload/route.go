package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// runRoute implements "heraldload route": two sessions of different
// accounts (<prefix>0 sends, <prefix>1 receives) send initial presence
// (RFC 6121 §4.2), then the sender pipelines -n chat messages to the
// receiver's full JID with at most -window unacknowledged, where a message
// counts as acknowledged once the receiver has read it. It reports the
// server's CPU time per routed message and the message rate.
func runRoute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("route", stderr)
	var c common
	c.register(fs)
	n := fs.Int("n", 100000, "number of measured messages")
	window := fs.Int("window", 100, "messages in flight at most")
	warmup := fs.Int("warmup", 1000, "unmeasured messages sent first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.users < 2 {
		c.users = 2
	}
	if err := c.check(); err != nil {
		return err
	}
	if *n < 1 || *window < 1 || *warmup < 0 {
		return usagef("-n and -window must be at least 1, -warmup not negative")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d, err := c.dialer()
	if err != nil {
		return err
	}
	accs, err := c.accounts(2)
	if err != nil {
		return err
	}
	p := c.proc()

	sender, err := d.login(ctx, accs[0], "route-sender")
	if err != nil {
		return err
	}
	defer sender.raw.Close()
	receiver, err := d.login(ctx, accs[1], "route-receiver")
	if err != nil {
		return err
	}
	defer receiver.raw.Close()
	for _, s := range []*session{sender, receiver} {
		if err := s.available(ctx); err != nil {
			return err
		}
	}

	r := &router{sender: sender, receiver: receiver, window: *window}
	r.start()
	if _, err := r.run(ctx, 0, *warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	cpu0, err := p.cpu()
	if err != nil {
		return err
	}
	elapsed, err := r.run(ctx, *warmup, *n)
	if err != nil {
		return err
	}
	cpu1, err := p.cpu()
	if err != nil {
		return err
	}
	cpu := cpu1 - cpu0
	fmt.Fprintf(stdout, "route: %d chat messages %s -> %s, window %d, in %s; server pid %d\n",
		*n, sender.jid, receiver.jid, *window, elapsed.Round(time.Millisecond), c.pid)
	fmt.Fprintf(stdout, "  server CPU total:          %s (utime+stime, %d Hz ticks)\n", cpu, c.clkTck)
	fmt.Fprintf(stdout, "  server CPU per message:    %s\n", cpu/time.Duration(*n))
	fmt.Fprintf(stdout, "  messages per second:       %.0f\n", float64(*n)/elapsed.Seconds())

	r.stop()
	return nil
}

// available sends initial presence (RFC 6121 §4.2.1) and waits for the
// server to reflect it back to this resource (§4.2.2), which shows the
// router has processed it.
func (s *session) available(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s.raw.SetDeadline(time.Now().Add(30 * time.Second))
	defer s.raw.SetDeadline(time.Time{})
	if err := s.write("<presence/>"); err != nil {
		return err
	}
	for {
		st, err := s.readStanza()
		if err != nil {
			return fmt.Errorf("%s: waiting for its own presence: %w", s.jid, err)
		}
		if st.XMLName.Local == "presence" && st.From == s.jid && st.Type == "" {
			return nil
		}
		if st.Type == "error" {
			return fmt.Errorf("%s: error stanza <%s>%s", s.jid, st.XMLName.Local, errorText(st))
		}
	}
}

// router drives one sender and one receiver session.
type router struct {
	sender, receiver *session
	window           int
	// senderErr receives what ends watchSender, which reads the sender's
	// stream for the whole life of the session; senderDone is closed then.
	senderErr  chan error
	senderDone chan struct{}
	closing    atomic.Bool
}

// start launches the reader of the sender's stream.
func (r *router) start() {
	r.senderErr = make(chan error, 1)
	r.senderDone = make(chan struct{})
	go func() {
		defer close(r.senderDone)
		r.senderErr <- r.watchSender()
	}()
}

// stop closes both streams (RFC 6120 §4.4).
func (r *router) stop() {
	r.closing.Store(true)
	done := make(chan struct{})
	go func() {
		r.receiver.close(3*time.Second, nil)
		close(done)
	}()
	r.sender.close(3*time.Second, r.senderDone)
	<-done
}

// run sends messages first … first+n-1 and returns the time from the first
// send to the last receipt. The receiver checks every body and the order.
func (r *router) run(ctx context.Context, first, n int) (time.Duration, error) {
	if n == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	credits := make(chan struct{}, r.window)
	for range r.window {
		credits <- struct{}{}
	}
	recvDone := make(chan error, 1)
	go func() { recvDone <- r.receive(ctx, first, n, credits) }()

	to := []byte(xmlAttr(r.receiver.jid))
	var buf []byte
	start := time.Now()
	for i := first; i < first+n; i++ {
		select {
		case <-credits:
		default:
			// The window is full: send what is batched, then wait.
			if err := r.flush(&buf); err != nil {
				return 0, err
			}
			select {
			case <-credits:
			case err := <-recvDone:
				return 0, receiveFailed(err)
			case err := <-r.senderErr:
				return 0, err
			case <-ctx.Done():
				return 0, fmt.Errorf("routing: %w", context.Cause(ctx))
			}
		}
		buf = append(buf, "<message type='chat' to='"...)
		buf = append(buf, to...)
		buf = append(buf, "' id='m"...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "'><body>load message "...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "</body></message>"...)
		if len(buf) > 8<<10 {
			if err := r.flush(&buf); err != nil {
				return 0, err
			}
		}
	}
	if err := r.flush(&buf); err != nil {
		return 0, err
	}
	select {
	case err := <-recvDone:
		if err != nil {
			return 0, receiveFailed(err)
		}
	case err := <-r.senderErr:
		return 0, err
	case <-ctx.Done():
		return 0, fmt.Errorf("routing: %w", context.Cause(ctx))
	}
	return time.Since(start), nil
}

func receiveFailed(err error) error {
	if err == nil {
		return fmt.Errorf("the receiver stopped early")
	}
	return err
}

func (r *router) flush(buf *[]byte) error {
	if len(*buf) == 0 {
		return nil
	}
	if err := r.sender.writeBytes(*buf); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	*buf = (*buf)[:0]
	return nil
}

// receive reads messages first … first+n-1 in order, returning a credit to
// the sender for each.
func (r *router) receive(ctx context.Context, first, n int, credits chan<- struct{}) error {
	s := r.receiver
	stop := context.AfterFunc(ctx, func() { s.raw.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	want := first
	for want < first+n {
		st, err := s.readStanza()
		if err != nil {
			return fmt.Errorf("receiver, after %d of %d messages: %w", want-first, n, err)
		}
		switch {
		case st.XMLName.Local == "iq" && st.Type == "get" && st.Ping != nil:
			if err := s.answerPing(st); err != nil {
				return fmt.Errorf("receiver: %w", err)
			}
			continue
		case st.XMLName.Local != "message":
			continue // e.g. presence
		case st.Type == "error":
			return fmt.Errorf("receiver got an error message: %s", errorText(st))
		}
		if st.From != r.sender.jid || st.Type != "chat" {
			return fmt.Errorf("receiver got a message from %q of type %q, want %q chat", st.From, st.Type, r.sender.jid)
		}
		id, _ := strings.CutPrefix(st.ID, "m")
		if id != strconv.Itoa(want) || st.Body != "load message "+id {
			return fmt.Errorf("receiver got message id %q body %q, want m%d in order, intact", st.ID, st.Body, want)
		}
		want++
		credits <- struct{}{}
	}
	return nil
}

// watchSender reads the sender's stream while it sends: a bounced message
// (type='error', RFC 6120 §8.3) or a stream error fails the run.
func (r *router) watchSender() error {
	s := r.sender
	for {
		st, err := s.readStanza()
		if err != nil {
			if r.closing.Load() {
				return nil
			}
			return fmt.Errorf("sender: %w", err)
		}
		switch {
		case st.XMLName.Local == "iq" && st.Type == "get" && st.Ping != nil:
			if err := s.answerPing(st); err != nil {
				return fmt.Errorf("sender: %w", err)
			}
		case st.Type == "error":
			return fmt.Errorf("sender got a bounced <%s id='%s'>: %s", st.XMLName.Local, st.ID, errorText(st))
		}
	}
}

// errorText describes a stanza error (RFC 6120 §8.3) for messages.
func errorText(st *stanza) string {
	if st.Error == nil {
		return "(no <error/> child)"
	}
	return stripTags(st.Error.Inner)
}

// xmlAttr escapes s for a single-quoted attribute value.
func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&apos;")
}
