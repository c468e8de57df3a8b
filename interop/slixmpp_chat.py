#!/usr/bin/python3
"""Interoperability check: two slixmpp clients chat through Herald.

slixmpp (Debian's python3-slixmpp) is an XMPP client library written
independently of Herald. This script connects two of its clients, alice and
bob, to a Herald server over STARTTLS (RFC 6120 §5), verifying the server's
certificate against a given CA file (the server's development certificate)
for the JIDs' domain. Each logs in with the SASL mechanism slixmpp prefers
among those Herald offers (RFC 6120 §6; the one used is printed), binds a
resource (§7) and sends initial presence (RFC 6121 §4.2). Then alice sends bob
a chat message at his bare JID (RFC 6121 §8.5.2) and bob replies to alice's
full JID (§8.5.3).

After the chat, both clients request their rosters (RFC 6121 §2.1.3) and run
the subscription handshake of §3.1 both ways: alice sends bob "subscribe";
bob's client, which does not approve anything by itself here, receives the
request and answers "subscribed"; alice receives the approval, the roster
push of her item for bob (§3.1.6) and bob's current presence (§3.1.5). Then
the same from bob to alice, after which each roster item says
subscription='both' and each client has seen the other's available presence.

The exit status is 0 only if both messages arrive intact, with the sender's
full JID as 'from', and the whole handshake happens as described, within the
timeout; 1 otherwise; 2 on a usage error.

Channel binding. slixmpp 1.8.3 knows only the tls-unique channel binding
(RFC 5929 §3), which is not defined for TLS 1.3 (RFC 9266 §1, §3); Herald
negotiates TLS 1.3 and offers SCRAM-*-PLUS with tls-exporter and
tls-server-end-point (XEP-0440). With its defaults (--channel-binding on,
the default here, as a user would run it) slixmpp first tries
SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS with p=tls-unique, which Herald
refuses, then SCRAM-SHA-256 with the GS2 flag "y". RFC 5802 §6 makes a
server that offered -PLUS treat "y" as a possible downgrade; Herald accepts
it only because this client already tried -PLUS on the same stream, which
proves it saw the offer. The login therefore succeeds with SCRAM-SHA-256
after two failed -PLUS attempts (within c2s.sasl_retries). --channel-binding
off makes slixmpp act as a client without channel binding (GS2 flag "n").

Run with the system python, which has slixmpp:

    /usr/bin/python3 slixmpp_chat.py --port 5222 --ca data/devcert/devcert.pem \\
        --alice alice@localhost --alice-password secret \\
        --bob bob@localhost --bob-password secret

Every option can also come from the environment (HERALD_HOST, HERALD_PORT,
HERALD_CA, ALICE_JID, ALICE_PASSWORD, BOB_JID, BOB_PASSWORD, CHAT_TIMEOUT).
"""

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

try:
    import slixmpp
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "slixmpp_chat.py: cannot import slixmpp (%s); install python3-slixmpp "
        "and run with /usr/bin/python3\n" % exc)
    sys.exit(2)

# The message bodies exercise escaping (RFC 6120 §11.4: the five predefined
# entities), non-ASCII text and a line break, all of which must survive.
ALICE_SAYS = "Hello Bob! <tags> & \"quotes\" & 'apostrophes' — héllo ✓\nsecond line"
BOB_SAYS = "Hi Alice, got it: 3 > 2 & 2 < 3 — ça marche 🙂"

T0 = time.monotonic()


def say(who, text):
    """Prints one line of the transcript, with the time since start."""
    print("[%6.3fs] %-5s %s" % (time.monotonic() - T0, who, text), flush=True)


class Client(slixmpp.ClientXMPP):
    """One slixmpp client that records what happens to it."""

    def __init__(self, name, jid, password, ca_file, channel_binding):
        super().__init__(jid, password)
        self.name = name
        if not channel_binding:
            disable_channel_binding(self["feature_mechanisms"])
        # Verify the server certificate against this CA only; slixmpp
        # checks the host name against the JID's domain (check_hostname is
        # on and server_hostname is the domain).
        self.ca_certs = Path(ca_file)
        self.mechanism = None
        self.failure = None
        self.ready = asyncio.Event()        # own initial presence reflected
        self.finished = asyncio.Event()     # disconnected
        self.inbox = asyncio.Queue()
        # Subscription stanzas, available presence of others and roster
        # items (from roster results and pushes), for the handshake phase.
        self.subscriptions = Mailbox(name, "subscription stanzas")
        self.presences = Mailbox(name, "presence")
        self.roster_items = Mailbox(name, "roster items")
        # The test answers requests itself: no automatic approval, denial
        # or counter-request by slixmpp (its defaults approve everything).
        self.auto_authorize = None
        self.auto_subscribe = False
        for event, handler in [
            ("connected", self._connected),
            ("ssl_invalid_chain", self._bad_chain),
            ("connection_failed", self._conn_failed),
            ("failed_auth", self._failed_auth),
            ("failed_all_auth", self._failed_all_auth),
            ("no_auth", self._failed_all_auth),
            ("auth_success", self._auth_success),
            ("session_bind", self._bound),
            ("session_start", self._session_start),
            ("presence_available", self._presence),
            ("presence_subscribe", self.subscriptions.put),
            ("presence_subscribed", self.subscriptions.put),
            ("roster_update", self._roster_update),
            ("message", self._message),
            ("stream_error", self._stream_error),
            ("disconnected", self._disconnected),
        ]:
            self.add_event_handler(event, handler)

    def fail(self, why):
        if self.failure is None:
            self.failure = why
        say(self.name, "FAILED: " + why)
        self.ready.set()

    def _connected(self, _event):
        say(self.name, "TCP connected to %s:%s" % self.address)

    def _bad_chain(self, err):
        self.fail("TLS certificate verification failed: %s" % err)
        self.disconnect()

    def _conn_failed(self, err):
        self.fail("connection failed: %s" % err)

    def _failed_auth(self, stanza):
        mech = self["feature_mechanisms"].mech
        say(self.name, "SASL %s failed: %s %s" % (
            mech.name if mech else "?", stanza["condition"], stanza["text"]))

    def _failed_all_auth(self, _event):
        self.fail("no SASL mechanism succeeded (offered: %s)" % ", ".join(
            sorted(self["feature_mechanisms"].mech_list)))
        self.disconnect()

    def _auth_success(self, _stanza):
        self.mechanism = self["feature_mechanisms"].mech.name
        tls = "no TLS"
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        if ssl_object is not None:
            tls = "%s %s" % (ssl_object.version(), ssl_object.cipher()[0])
        say(self.name, "authenticated with SASL %s over %s" % (self.mechanism, tls))

    def _bound(self, jid):
        say(self.name, "bound %s" % jid)

    def _session_start(self, _event):
        # Initial presence (RFC 6121 §4.2.1). No roster request: the
        # exchange needs none.
        self.send_presence()
        say(self.name, "sent initial presence")

    def _presence(self, pres):
        # The server reflects our own initial presence to us (RFC 6121
        # §4.2.2): once seen, the server has processed it.
        if pres["from"] == self.boundjid and not self.ready.is_set():
            say(self.name, "own presence reflected: available")
            self.ready.set()
        elif pres["from"].bare != self.boundjid.bare:
            self.presences.put(pres)

    def _roster_update(self, iq):
        for jid, item in iq["roster"]["items"].items():
            self.roster_items.put({"jid": str(jid), "subscription": item["subscription"],
                                   "ask": item["ask"], "type": iq["type"]})

    def _message(self, msg):
        self.inbox.put_nowait(msg)

    def _stream_error(self, err):
        self.fail("stream error: %s %s" % (err["condition"], err["text"]))

    def _disconnected(self, reason):
        if not self.ready.is_set():
            self.fail("disconnected before the session was ready: %s" % (reason or "no reason"))
        self.finished.set()


class Mailbox:
    """Things a client received, kept until a waiter takes the first that
    matches, so that nothing is lost to a waiter looking for something
    else."""

    def __init__(self, owner, what):
        self.owner = owner
        self.what = what
        self.items = []
        self.changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self.changed.set()

    async def take(self, description, match, timeout):
        """Removes and returns the first item for which match is true,
        waiting up to timeout seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for i, item in enumerate(self.items):
                if match(item):
                    del self.items[i]
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s did not receive %s; %s received: %s" % (
                    self.owner, description, self.what, self.items))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass


def disable_channel_binding(mechanisms):
    """Makes slixmpp's SASL plugin act as a client without channel binding
    support: no -PLUS mechanism, and an empty channel binding credential so
    that SCRAM uses the GS2 flag "n" (RFC 5802 §6)."""
    from slixmpp.util.sasl.client import MECHANISMS
    mechanisms.use_mechs = {m for m in MECHANISMS if not m.endswith("-PLUS")}
    default_credentials = mechanisms.sasl_callback

    def credentials(required, optional):
        creds = default_credentials(required, optional)
        if "channel_binding" in creds:
            creds["channel_binding"] = b""
        return creds

    mechanisms.sasl_callback = credentials


async def expect_message(client, sender, body, timeout):
    """Waits for a chat message from sender (a full JID) with body."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%s received no message from %s" % (client.name, sender))
        msg = await asyncio.wait_for(client.inbox.get(), left)
        if msg["type"] == "error":
            raise RuntimeError("%s received an error message: %s %s" % (
                client.name, msg["error"]["condition"], msg["error"]["text"]))
        if msg["from"] != sender:
            say(client.name, "ignoring a message from %s" % msg["from"])
            continue
        if msg["type"] != "chat":
            raise RuntimeError("%s received type %r, want 'chat'" % (client.name, msg["type"]))
        if msg["body"] != body:
            raise RuntimeError("%s received a damaged body: %r, want %r" % (client.name, msg["body"], body))
        say(client.name, "received from %s: %r (intact)" % (msg["from"], msg["body"]))
        return msg


async def subscribe(user, contact, timeout):
    """Runs the subscription handshake of RFC 6121 §3.1 from user to contact,
    both available and interested in roster pushes, and checks each step:
    user's roster push with ask='subscribe' (§3.1.2), the request at the
    contact from user's bare JID (§3.1.3), the contact's approval sent by
    this script, the contact's push (§3.1.5), the approval and the push at
    user (§3.1.6), and the contact's available presence at user (§3.1.5)."""
    u, c = user.boundjid.bare, contact.boundjid.bare
    say(user.name, "-> %s: subscribe" % c)
    user.send_presence(pto=c, ptype="subscribe")
    await user.roster_items.take(
        "the push of %s with ask='subscribe'" % c,
        lambda it: it["type"] == "set" and it["jid"] == c and it["ask"] == "subscribe", timeout)
    req = await contact.subscriptions.take(
        "a subscription request from %s" % u,
        lambda p: p["type"] == "subscribe" and p["from"] == u, timeout)
    say(contact.name, "<- %s from %s; approving" % (req["type"], req["from"]))
    contact.send_presence(pto=u, ptype="subscribed")
    item = await contact.roster_items.take(
        "the push of %s after approving" % u,
        lambda it: it["type"] == "set" and it["jid"] == u and it["subscription"] in ("from", "both"), timeout)
    say(contact.name, "roster push: %s subscription=%s" % (u, item["subscription"]))
    approval = await user.subscriptions.take(
        "the approval from %s" % c,
        lambda p: p["type"] == "subscribed" and p["from"] == c, timeout)
    say(user.name, "<- %s from %s" % (approval["type"], approval["from"]))
    item = await user.roster_items.take(
        "the push of %s after the approval" % c,
        lambda it: it["type"] == "set" and it["jid"] == c and it["subscription"] in ("to", "both"), timeout)
    say(user.name, "roster push: %s subscription=%s" % (c, item["subscription"]))
    pres = await user.presences.take(
        "the available presence of %s" % contact.boundjid.full,
        lambda p: p["from"] == contact.boundjid.full, timeout)
    say(user.name, "<- available presence of %s" % pres["from"])


async def converse(args):
    cb = args.channel_binding == "on"
    alice = Client("alice", args.alice, args.alice_password, args.ca, cb)
    bob = Client("bob", args.bob, args.bob_password, args.ca, cb)
    clients = (alice, bob)
    try:
        for c in clients:
            # force_starttls (the default): refuse to go on without TLS.
            c.connect((args.host, args.port), force_starttls=True)
        await asyncio.gather(*(c.ready.wait() for c in clients))
        for c in clients:
            if c.failure:
                raise RuntimeError("%s: %s" % (c.name, c.failure))

        say("alice", "-> %s: %r" % (bob.boundjid.bare, ALICE_SAYS))
        alice.send_message(mto=bob.boundjid.bare, mbody=ALICE_SAYS, mtype="chat")
        got = await expect_message(bob, alice.boundjid.full, ALICE_SAYS, args.timeout)

        say("bob", "-> %s: %r" % (got["from"], BOB_SAYS))
        bob.send_message(mto=got["from"], mbody=BOB_SAYS, mtype="chat")
        await expect_message(alice, bob.boundjid.full, BOB_SAYS, args.timeout)

        # Subscription phase: rosters first, so that both clients are
        # interested resources that receive roster pushes (§2.1.6).
        for c in clients:
            await c.get_roster()
            others = sorted(str(j) for j in c.client_roster if j != c.boundjid.bare)
            say(c.name, "roster received: %s" % (", ".join(others) or "empty"))
        await subscribe(alice, bob, args.timeout)
        await subscribe(bob, alice, args.timeout)
        for c, other in ((alice, bob), (bob, alice)):
            other_bare = other.boundjid.bare
            sub = c.client_roster[other_bare]["subscription"]
            if sub != "both":
                raise RuntimeError("%s's roster says subscription=%r for %s, want 'both'" % (
                    c.name, sub, other_bare))
            say(c.name, "roster: %s subscription=both; sees %s available" % (
                other_bare, other.boundjid.full))
    finally:
        for c in clients:
            c.disconnect()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(c.finished.wait() for c in clients)), 5)
        except asyncio.TimeoutError:
            say("-", "clients did not report disconnection within 5 s")
    return {c.name: c.mechanism for c in clients}


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=env("HERALD_HOST", "127.0.0.1"),
                   help="server address to connect to (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(env("HERALD_PORT", "5222")),
                   help="STARTTLS client port (default 5222)")
    p.add_argument("--ca", default=env("HERALD_CA"),
                   help="PEM file of the certificate to trust (Herald's devcert.pem)")
    p.add_argument("--alice", default=env("ALICE_JID", "alice@localhost"))
    p.add_argument("--alice-password", default=env("ALICE_PASSWORD"))
    p.add_argument("--bob", default=env("BOB_JID", "bob@localhost"))
    p.add_argument("--bob-password", default=env("BOB_PASSWORD"))
    p.add_argument("--timeout", type=float, default=float(env("CHAT_TIMEOUT", "20")),
                   help="seconds allowed for the whole exchange (default 20)")
    p.add_argument("--channel-binding", choices=("on", "off"),
                   default=env("SLIXMPP_CHANNEL_BINDING", "on"),
                   help="'on' (default) keeps slixmpp's own channel binding settings "
                        "(tls-unique only); 'off' disables channel binding; see above")
    p.add_argument("-v", "--verbose", action="store_true", help="log slixmpp's debug output")
    args = p.parse_args(argv)
    missing = [name for name, value in [("--ca", args.ca),
                                        ("--alice-password", args.alice_password),
                                        ("--bob-password", args.bob_password)] if not value]
    if missing:
        p.error("missing " + ", ".join(missing))
    if not Path(args.ca).is_file():
        p.error("--ca %s: no such file" % args.ca)
    return args


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    say("-", "slixmpp %s, Python %s; server %s:%d; CA %s; channel binding %s" % (
        slixmpp.__version__, sys.version.split()[0], args.host, args.port, args.ca,
        args.channel_binding))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mechs = loop.run_until_complete(
            asyncio.wait_for(converse(args), args.timeout))
    except (asyncio.TimeoutError, TimeoutError):
        say("-", "FAIL: the exchange did not complete within %.0f s" % args.timeout)
        return 1
    except Exception as exc:  # any failure is reported, not raised
        say("-", "FAIL: %s" % exc)
        return 1
    finally:
        # Let slixmpp's own tasks finish before the loop goes away.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    say("-", "OK: both messages arrived intact and the mutual subscription "
        "handshake completed (SASL: alice %s, bob %s)" % (mechs["alice"], mechs["bob"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
