#!/usr/bin/env python3
"""Regenerate the byte-exact MQTT wire captures in this directory.

Usage:  python3 record.py

What it does:
  1. starts a private mosquitto broker on 127.0.0.1 (OS-chosen free port,
     temporary config + password file with user alice / password secret);
  2. for every scenario, starts a recording TCP proxy on 127.0.0.1:0 that
     forwards exactly one client connection to the broker and records each
     direction verbatim to <scenario>.c2s.bin / <scenario>.s2c.bin;
  3. runs the scenario's client (mosquitto_pub / mosquitto_sub / paho-mqtt)
     against the proxy.  Helper publishers that only feed a subscriber talk to
     the broker directly and are NOT recorded;
  4. stops everything, checks that every capture is a whole sequence of
     complete MQTT packets (fixed header: type nibble + remaining-length
     varint), compares the packet sequence with the expected one, and
     rewrites README.md (tool versions, per-file description + summary).

Only the Python standard library and paho-mqtt (2.1.0) are used.  All
traffic stays on 127.0.0.1; every child process is wrapped in `timeout`
and killed at the end.  Exit status is non-zero if any scenario failed or
produced an unexpected packet sequence.
"""

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

CLIENT_TIMEOUT = 15      # seconds, per client process (`timeout` wrapper)
BROKER_TIMEOUT = 600     # seconds, hard upper bound for the broker process
GLOBAL_WATCHDOG = 300    # seconds, whole script

# --------------------------------------------------------------------------
# MQTT fixed-header parsing (sanity check + synchronisation helper)
# --------------------------------------------------------------------------

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
    11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}
NAME_TO_TYPE = {v: k for k, v in PACKET_NAMES.items()}
# Fixed-header flags mandated by the spec for every type except PUBLISH.
REQUIRED_FLAGS = {1: 0, 2: 0, 4: 0, 5: 0, 6: 2, 7: 0, 8: 2, 9: 0, 10: 2,
                  11: 0, 12: 0, 13: 0, 14: 0, 15: 0}


class Incomplete(Exception):
    pass


def split_packets(data, allow_trailing=False):
    """Split bytes into [(type, flags, offset, total_len)].

    Raises ValueError on malformed headers; on a truncated tail it raises
    Incomplete unless allow_trailing is set (then the tail is ignored).
    """
    out = []
    i = 0
    n = len(data)
    while i < n:
        start = i
        b0 = data[i]
        ptype, flags = b0 >> 4, b0 & 0x0F
        if ptype == 0:
            raise ValueError(f"reserved packet type 0 at offset {start}")
        i += 1
        mult, rl, nbytes = 1, 0, 0
        while True:
            if i >= n:
                if allow_trailing:
                    return out
                raise Incomplete(f"truncated remaining length at offset {start}")
            b = data[i]
            i += 1
            nbytes += 1
            rl += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
            if nbytes == 4:
                raise ValueError(f"remaining length varint > 4 bytes at {start}")
        if i + rl > n:
            if allow_trailing:
                return out
            raise Incomplete(f"packet at offset {start} needs {rl} body bytes, "
                             f"only {n - i} present")
        out.append((ptype, flags, start, i + rl - start))
        i += rl
    return out


PID_TYPES = {4, 5, 6, 7, 8, 9, 10, 11}   # packet id right after the fixed header


def describe(ptype, flags, body):
    """Short label: type name, PUBLISH flags, and the packet identifier.

    Only needs the fixed header plus the first bytes of the variable header,
    which have the same layout in MQTT 3.1, 3.1.1 and 5.
    """
    name = PACKET_NAMES[ptype]
    if ptype == 3:
        qos = (flags >> 1) & 3
        tags = [f"q{qos}"]
        if flags & 1:
            tags.append("retain")
        if flags & 8:
            tags.append("dup")
        label = f"{name}({','.join(tags)})"
        if qos:
            tlen = int.from_bytes(body[0:2], "big")
            label += f"#{int.from_bytes(body[2 + tlen:4 + tlen], 'big')}"
        return label
    if ptype in PID_TYPES:
        return f"{name}#{int.from_bytes(body[0:2], 'big')}"
    return name


def check_capture(data):
    """Return list of packet descriptions, raising on any structural problem."""
    pkts = split_packets(data)
    descs = []
    for ptype, flags, off, total in pkts:
        if ptype in REQUIRED_FLAGS and flags != REQUIRED_FLAGS[ptype]:
            raise ValueError(f"{PACKET_NAMES[ptype]} at {off} has flags {flags:#x}")
        if ptype == 3 and (flags >> 1) & 3 == 3:
            raise ValueError(f"PUBLISH at {off} with QoS 3")
        pkt = data[off:off + total]
        i = 1                      # skip the fixed header: type byte + varint
        while pkt[i] & 0x80:
            i += 1
        descs.append(describe(ptype, flags, pkt[i + 1:]))
    return descs


# --------------------------------------------------------------------------
# Broker
# --------------------------------------------------------------------------

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mqtt-captures-")
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "mosquitto.log")

    def start(self):
        pwfile = os.path.join(self.tmp, "passwd")
        subprocess.run(["timeout", "10", PASSWD, "-b", "-c", pwfile, "alice", "secret"],
                       check=True, timeout=15, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.port = free_port()
        conf = os.path.join(self.tmp, "mosquitto.conf")
        lines = [
            f"listener {self.port} {HOST}",
            # Anonymous clients are allowed (most scenarios have no credentials);
            # clients that DO present a username/password are still checked
            # against password_file and refused if wrong.
            "allow_anonymous true",
            f"password_file {pwfile}",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # don't drop privileges (tmp files are root-owned)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(BROKER_TIMEOUT), MOSQUITTO, "-c", conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited early: "
                                   + self.proc.stderr.read().decode(errors="replace"))
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start listening")
                time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Recording proxy: one listening socket, exactly one proxied connection
# --------------------------------------------------------------------------

class RecordingProxy:
    def __init__(self, upstream_port, accept_timeout=CLIENT_TIMEOUT):
        self.upstream_port = upstream_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(1)
        self.lsock.settimeout(accept_timeout)
        self.port = self.lsock.getsockname()[1]
        self.buf = {"c2s": bytearray(), "s2c": bytearray()}
        self.done = {"c2s": False, "s2c": False}
        self.cond = threading.Condition()
        self.error = None
        self.socks = []
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        try:
            try:
                client, _ = self.lsock.accept()
            finally:
                self.lsock.close()
            client.settimeout(None)
            server = socket.create_connection((HOST, self.upstream_port), timeout=5)
            server.settimeout(None)
            self.socks = [client, server]
            for src, dst, d in ((client, server, "c2s"), (server, client, "s2c")):
                t = threading.Thread(target=self._pump, args=(src, dst, d), daemon=True)
                t.start()
                self.threads.append(t)
        except Exception as e:  # noqa: BLE001
            with self.cond:
                self.error = e
                self.done = {"c2s": True, "s2c": True}
                self.cond.notify_all()

    def _pump(self, src, dst, d):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self.cond:
                self.buf[d] += data          # record exactly what the sender sent
                self.cond.notify_all()
            try:
                dst.sendall(data)
            except OSError:
                pass                         # peer already gone; keep recording
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.cond:
            self.done[d] = True
            self.cond.notify_all()

    def _count(self, d, name):
        t = NAME_TO_TYPE[name]
        return sum(1 for p in split_packets(bytes(self.buf[d]), allow_trailing=True)
                   if p[0] == t)

    def count(self, d, name):
        with self.cond:
            return self._count(d, name)

    def wait_for(self, d, name, n=1, timeout=10):
        """Block until direction d has carried at least n packets of type name."""
        with self.cond:
            ok = self.cond.wait_for(lambda: self._count(d, name) >= n or self.error,
                                    timeout)
            if self.error:
                raise RuntimeError(f"proxy error: {self.error}")
            if not ok:
                raise TimeoutError(f"timed out waiting for {n}x {name} in {d}")

    def finish(self, timeout=10):
        """Wait for both directions to reach EOF, then return (c2s, s2c)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: all(self.done.values()), timeout)
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        try:
            self.lsock.close()
        except OSError:
            pass
        if self.error:
            raise RuntimeError(f"proxy error: {self.error}")
        if not ok:
            raise TimeoutError("connection did not close in time")
        return bytes(self.buf["c2s"]), bytes(self.buf["s2c"])


# --------------------------------------------------------------------------
# Helpers for running clients
# --------------------------------------------------------------------------

def run_tool(argv, expect_rc=0):
    r = subprocess.run(["timeout", "-k", "2", str(CLIENT_TIMEOUT)] + argv,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=CLIENT_TIMEOUT + 5)
    if expect_rc is not None and r.returncode != expect_rc:
        raise RuntimeError(f"{argv[0]} exited {r.returncode} (expected {expect_rc}): "
                           f"{r.stdout.decode(errors='replace')}"
                           f"{r.stderr.decode(errors='replace')}")
    return r


def start_tool(argv):
    return subprocess.Popen(["timeout", "-k", "2", str(CLIENT_TIMEOUT)] + argv,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def reap(proc, timeout=CLIENT_TIMEOUT + 5):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def hp(port):
    return ["-h", HOST, "-p", str(port)]


# --------------------------------------------------------------------------
# Scenarios.  Each gets (broker, proxy) and must drive exactly one
# connection through the proxy and let it close.
# --------------------------------------------------------------------------

# Expected packet sequence of every capture (c2s, s2c), as printed by
# describe(): TYPE[(publish flags)][#packet id].
EXPECTED = {
    "mosquitto_pub-v311-qos0": (
        "CONNECT PUBLISH(q0) DISCONNECT",
        "CONNACK"),
    "mosquitto_pub-v311-qos1": (
        "CONNECT PUBLISH(q1,retain)#1 DISCONNECT",
        "CONNACK PUBACK#1"),
    "mosquitto_pub-v311-qos2": (
        "CONNECT PUBLISH(q2)#1 PUBREL#1 DISCONNECT",
        "CONNACK PUBREC#1 PUBCOMP#1"),
    "mosquitto_pub-v31-qos1": (
        "CONNECT PUBLISH(q1)#1 DISCONNECT",
        "CONNACK PUBACK#1"),
    "mosquitto_pub-v311-will-credentials": (
        "CONNECT PUBLISH(q1)#1 DISCONNECT",
        "CONNACK PUBACK#1"),
    "mosquitto_pub-v311-bad-password": (
        "CONNECT",
        "CONNACK"),
    "mosquitto_pub-v5-properties": (
        "CONNECT PUBLISH(q1)#1 DISCONNECT",
        "CONNACK PUBACK#1"),
    "mosquitto_pub-v5-qos2": (
        "CONNECT PUBLISH(q2)#1 PUBREL#1 DISCONNECT",
        "CONNACK PUBREC#1 PUBCOMP#1"),
    "mosquitto_pub-v5-bad-password": (
        "CONNECT",
        "CONNACK"),
    "mosquitto_sub-v311": (
        "CONNECT SUBSCRIBE#1 PUBACK#1 PUBACK#2 DISCONNECT",
        "CONNACK SUBACK#1 PUBLISH(q1)#1 PUBLISH(q1)#2"),
    "mosquitto_sub-v5": (
        "CONNECT SUBSCRIBE#1 PUBACK#1 DISCONNECT",
        "CONNACK SUBACK#1 PUBLISH(q1,retain)#1"),
    "mosquitto_sub-v311-unsubscribe": (
        "CONNECT SUBSCRIBE#1 UNSUBSCRIBE#2 UNSUBSCRIBE#3 DISCONNECT",
        "CONNACK SUBACK#1 UNSUBACK#2 UNSUBACK#3"),
    "paho-v311": (
        "CONNECT SUBSCRIBE#1 PUBLISH(q0) PUBLISH(q1)#3 PUBACK#1 PUBLISH(q2)#4 "
        "PUBREL#4 PUBREC#2 PUBCOMP#2 PINGREQ UNSUBSCRIBE#5 DISCONNECT",
        "CONNACK SUBACK#1 PUBLISH(q0) PUBLISH(q1)#1 PUBACK#3 PUBREC#4 PUBLISH(q2)#2 "
        "PUBCOMP#4 PUBREL#2 PINGRESP UNSUBACK#5"),
    "paho-v5": (
        "CONNECT SUBSCRIBE#1 PUBLISH(q0) PUBLISH(q1)#3 PUBACK#1 PUBLISH(q2)#4 "
        "PUBREL#4 PUBREC#2 PUBCOMP#2 PUBLISH(q2)#5 PUBREL#5 PUBREC#3 PUBCOMP#3 "
        "PUBLISH(q1)#6 PINGREQ UNSUBSCRIBE#7 DISCONNECT",
        "CONNACK SUBACK#1 PUBLISH(q0) PUBLISH(q1)#1 PUBACK#3 PUBREC#4 PUBLISH(q2)#2 "
        "PUBCOMP#4 PUBREL#2 PUBREC#5 PUBLISH(q2)#3 PUBCOMP#5 PUBREL#3 PUBACK#6 "
        "PINGRESP UNSUBACK#7"),
    "paho-v5-retained-delete": (
        "CONNECT PUBLISH(q1,retain)#1 SUBSCRIBE#2 PUBACK#1 UNSUBSCRIBE#3 "
        "PUBLISH(q1,retain)#4 SUBSCRIBE#5 DISCONNECT",
        "CONNACK PUBACK#1 SUBACK#2 PUBLISH(q1,retain)#1 UNSUBACK#3 PUBACK#4 SUBACK#5"),
}


SCENARIOS = []


def scenario(name, desc):
    def deco(fn):
        c2s, s2c = EXPECTED[name]
        SCENARIOS.append(dict(name=name, desc=desc, c2s=c2s.split(), s2c=s2c.split(),
                              fn=fn))
        return fn
    return deco


def pub_simple(*extra, expect_rc=0):
    def fn(broker, proxy):
        run_tool([PUB] + hp(proxy.port) + list(extra), expect_rc=expect_rc)
    return fn


scenario("mosquitto_pub-v311-qos0",
         "MQTT 3.1.1, clean session, client id `pub-v311-qos0`, keepalive 60; "
         "PUBLISH QoS 0 `sensors/room1/temp` = `21.5`; DISCONNECT.")(
    pub_simple("-V", "mqttv311", "-i", "pub-v311-qos0", "-q", "0",
               "-t", "sensors/room1/temp", "-m", "21.5"))

scenario("mosquitto_pub-v311-qos1",
         "MQTT 3.1.1, client id `pub-v311-qos1`; PUBLISH QoS 1 **retained** "
         "`sensors/room1/temp` = `21.6` (packet id 1); broker PUBACK; DISCONNECT.")(
    pub_simple("-V", "mqttv311", "-i", "pub-v311-qos1", "-q", "1", "-r",
               "-t", "sensors/room1/temp", "-m", "21.6"))

scenario("mosquitto_pub-v311-qos2",
         "MQTT 3.1.1, client id `pub-v311-qos2`; PUBLISH QoS 2 `sensors/room1/temp` "
         "= `21.7` (packet id 1); PUBREC / PUBREL / PUBCOMP; DISCONNECT.")(
    pub_simple("-V", "mqttv311", "-i", "pub-v311-qos2", "-q", "2",
               "-t", "sensors/room1/temp", "-m", "21.7"))

scenario("mosquitto_pub-v31-qos1",
         "MQTT 3.1 (protocol name `MQIsdp`, level 3), client id `pub-v31-qos1`; "
         "PUBLISH QoS 1 `sensors/room2/temp` = `19.0`; PUBACK; DISCONNECT.")(
    pub_simple("-V", "mqttv31", "-i", "pub-v31-qos1", "-q", "1",
               "-t", "sensors/room2/temp", "-m", "19.0"))

scenario("mosquitto_pub-v311-will-credentials",
         "MQTT 3.1.1 CONNECT with username `alice` / password `secret`, keepalive 30, "
         "will (topic `clients/pub-will/status`, payload `offline`, will QoS 1, will "
         "retain); PUBLISH QoS 1 `sensors/room1/humidity` = `40`; PUBACK; DISCONNECT "
         "(clean, so the will is not published).")(
    pub_simple("-V", "mqttv311", "-i", "pub-v311-will", "-u", "alice", "-P", "secret",
               "-k", "30", "--will-topic", "clients/pub-will/status",
               "--will-payload", "offline", "--will-qos", "1", "--will-retain",
               "-q", "1", "-t", "sensors/room1/humidity", "-m", "40"))

scenario("mosquitto_pub-v311-bad-password",
         "(extra) MQTT 3.1.1 CONNECT with username `alice` and WRONG password `wrong`; "
         "broker answers CONNACK return code 5 (not authorized) and closes.")(
    pub_simple("-V", "mqttv311", "-i", "pub-v311-badpw", "-u", "alice", "-P", "wrong",
               "-q", "1", "-t", "sensors/denied", "-m", "x", expect_rc=None))

scenario("mosquitto_pub-v5-properties",
         "MQTT 5 CONNECT (client id `pub-v5-props`) with properties session-expiry-"
         "interval 120, receive-maximum 10, maximum-packet-size 65536, user-property "
         "a=b; will `clients/pub-v5/status`=`gone` QoS 1 with will properties "
         "will-delay-interval 5, content-type text/plain, user-property wk=wv; "
         "PUBLISH QoS 1 `sensors/room1/temp` = `22.0` with properties user-property "
         "k=v, message-expiry-interval 60, content-type text/plain, response-topic "
         "reply/here, correlation-data `abc`, payload-format-indicator 1; v5 CONNACK "
         "(with broker properties); PUBACK; DISCONNECT.")(
    pub_simple("-V", "mqttv5", "-i", "pub-v5-props", "-q", "1",
               "-t", "sensors/room1/temp", "-m", "22.0",
               "-D", "publish", "user-property", "k", "v",
               "-D", "publish", "message-expiry-interval", "60",
               "-D", "publish", "content-type", "text/plain",
               "-D", "publish", "response-topic", "reply/here",
               "-D", "publish", "correlation-data", "abc",
               "-D", "publish", "payload-format-indicator", "1",
               "-D", "connect", "session-expiry-interval", "120",
               "-D", "connect", "receive-maximum", "10",
               "-D", "connect", "maximum-packet-size", "65536",
               "-D", "connect", "user-property", "a", "b",
               "--will-topic", "clients/pub-v5/status", "--will-payload", "gone",
               "--will-qos", "1",
               "-D", "will", "will-delay-interval", "5",
               "-D", "will", "content-type", "text/plain",
               "-D", "will", "user-property", "wk", "wv"))

scenario("mosquitto_pub-v5-qos2",
         "MQTT 5, client id `pub-v5-qos2`, no properties; PUBLISH QoS 2 "
         "`sensors/room3/temp` = `23.5`; PUBREC / PUBREL / PUBCOMP (v5 short "
         "form: no reason code / properties); DISCONNECT.")(
    pub_simple("-V", "mqttv5", "-i", "pub-v5-qos2", "-q", "2",
               "-t", "sensors/room3/temp", "-m", "23.5"))

scenario("mosquitto_pub-v5-bad-password",
         "(extra) MQTT 5 CONNECT with username `alice` and WRONG password; broker "
         "answers a v5 CONNACK with reason code 0x87 (Not authorized; mosquitto "
         "2.0.11 does not use 0x86 here) and closes.")(
    pub_simple("-V", "mqttv5", "-i", "pub-v5-badpw", "-u", "alice", "-P", "wrong",
               "-q", "1", "-t", "sensors/denied", "-m", "x", expect_rc=None))


@scenario("mosquitto_sub-v311",
          "MQTT 3.1.1 subscriber `sub-v311`: one SUBSCRIBE with filters `a/+/c` and "
          "`x/#` (both QoS 1); SUBACK [1,1]; then two messages published by an "
          "unrecorded helper (QoS 1 `a/b/c`=`first`, QoS 2 `x/y/z`=`second`, "
          "downgraded to QoS 1) arrive as PUBLISH QoS 1 and are PUBACKed; the "
          "subscriber exits after 2 messages (`-C 2`) with DISCONNECT.")
def sub_v311(broker, proxy):
    sub = start_tool([SUB] + hp(proxy.port) + [
        "-V", "mqttv311", "-i", "sub-v311", "-q", "1", "-t", "a/+/c", "-t", "x/#",
        "-C", "2", "-W", "5", "-v"])
    try:
        proxy.wait_for("s2c", "SUBACK")
        run_tool([PUB] + hp(broker.port) + ["-i", "helper-1", "-q", "1",
                                            "-t", "a/b/c", "-m", "first"])
        proxy.wait_for("c2s", "PUBACK", 1)
        run_tool([PUB] + hp(broker.port) + ["-i", "helper-2", "-q", "2",
                                            "-t", "x/y/z", "-m", "second"])
    finally:
        rc, out, err = reap(sub)
    if rc != 0:
        raise RuntimeError(f"mosquitto_sub rc={rc}: {out}{err}")


@scenario("mosquitto_sub-v5",
          "MQTT 5 subscriber `sub-v5` (CONNECT properties user-property cu=cv and "
          "receive-maximum 1, the latter added by mosquitto_sub because of `-C 1`): SUBSCRIBE "
          "`v5sub/#` QoS 2 with retain-as-published option and properties "
          "subscription-identifier 7 and user-property k=v; SUBACK; an unrecorded "
          "v5 helper publishes QoS 1 **retained** `v5sub/status`=`hello-v5` with "
          "user-property k=v, content-type text/plain, response-topic reply/v5, "
          "correlation-data `corr-1`, payload-format-indicator 1; it arrives as "
          "PUBLISH QoS 1 with retain flag kept (RAP) and properties incl. "
          "subscription-identifier 7; PUBACK; DISCONNECT after 1 message (`-C 1`).")
def sub_v5(broker, proxy):
    sub = start_tool([SUB] + hp(proxy.port) + [
        "-V", "mqttv5", "-i", "sub-v5", "-q", "2", "-t", "v5sub/#",
        "--retain-as-published",
        "-D", "connect", "user-property", "cu", "cv",
        "-D", "subscribe", "subscription-identifier", "7",
        "-D", "subscribe", "user-property", "k", "v",
        "-C", "1", "-W", "5", "-v"])
    try:
        proxy.wait_for("s2c", "SUBACK")
        run_tool([PUB] + hp(broker.port) + [
            "-V", "mqttv5", "-i", "helper-v5", "-q", "1", "-r",
            "-t", "v5sub/status", "-m", "hello-v5",
            "-D", "publish", "user-property", "k", "v",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "response-topic", "reply/v5",
            "-D", "publish", "correlation-data", "corr-1",
            "-D", "publish", "payload-format-indicator", "1"])
    finally:
        rc, out, err = reap(sub)
    if rc != 0:
        raise RuntimeError(f"mosquitto_sub rc={rc}: {out}{err}")


@scenario("mosquitto_sub-v311-unsubscribe",
          "MQTT 3.1.1 subscriber `sub-v311-unsub` with clean session disabled "
          "(`-c`): SUBSCRIBE `unsub/a` + `unsub/b` (QoS 1), then UNSUBSCRIBE "
          "`unsub/a` and UNSUBSCRIBE `unsub/c` (one packet per `-U`), then "
          "DISCONNECT once the SUBACK arrives (`-E`); broker answers SUBACK, "
          "UNSUBACK, UNSUBACK.")
def sub_v311_unsub(broker, proxy):
    run_tool([SUB] + hp(proxy.port) + [
        "-V", "mqttv311", "-i", "sub-v311-unsub", "-c", "-q", "1",
        "-t", "unsub/a", "-t", "unsub/b", "-U", "unsub/a", "-U", "unsub/c", "-E"])


# ---------------------------- paho-mqtt ------------------------------------

class PahoDriver:
    """Single-threaded driver: we call client.loop() ourselves."""

    def __init__(self, client_id, protocol):
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=protocol)
        self.connected = False
        self.connect_rc = None
        self.disconnected = False
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connect_rc = rc
        self.connected = not rc.is_failure

    def _on_disconnect(self, client, userdata, flags, rc, props):
        self.disconnected = True

    def pump(self, pred, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError(f"paho: timed out waiting for {what}")
            rc = self.c.loop(timeout=0.02)
            if rc != mqtt.MQTT_ERR_SUCCESS and not pred():
                raise RuntimeError(f"paho loop rc={rc} waiting for {what}")

    def pump_until_proxy(self, proxy, d, name, n=1, timeout=10):
        self.pump(lambda: proxy.count(d, name) >= n, timeout, f"{n}x {name} in {d}")

    def pump_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.c.loop(timeout=0.02)

    def connect(self, port, keepalive, **kw):
        self.c.connect(HOST, port, keepalive=keepalive, **kw)
        self.pump(lambda: self.connect_rc is not None, what="CONNACK")
        if not self.connected:
            raise RuntimeError(f"paho connect refused: {self.connect_rc}")

    def disconnect(self, **kw):
        self.c.disconnect(**kw)
        self.pump(lambda: self.disconnected, what="disconnect")


def props(packet_type, **kw):
    p = Properties(packet_type)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


@scenario("paho-v311",
          "paho-mqtt MQTT 3.1.1 client `paho-v311`: CONNECT (clean session, "
          "keepalive 2, user alice/secret, will `paho311/will`=`paho311 died` QoS 1 "
          "retained) → CONNACK; SUBSCRIBE#1 [`paho311/q0` QoS0, `paho311/q1` QoS1, "
          "`paho311/q2` QoS2] → SUBACK [0,1,2]; PUBLISH QoS0 `paho311/q0` → broker "
          "echoes PUBLISH QoS0; PUBLISH QoS1#3 `paho311/q1` → broker echoes PUBLISH "
          "QoS1#1 then PUBACK#3, client PUBACK#1; PUBLISH QoS2#4 `paho311/q2` → "
          "PUBREC#4, client PUBREL#4, broker echoes PUBLISH QoS2#2 then PUBCOMP#4, "
          "client PUBREC#2, broker PUBREL#2, client PUBCOMP#2; idle ~2 s → PINGREQ/"
          "PINGRESP; UNSUBSCRIBE#5 (3 filters) → UNSUBACK#5; DISCONNECT. (Packet id "
          "2 was consumed by paho for the QoS 0 publish and never appears.)")
def paho_v311(broker, proxy):
    d = PahoDriver("paho-v311", mqtt.MQTTv311)
    d.c.username_pw_set("alice", "secret")
    d.c.will_set("paho311/will", b"paho311 died", qos=1, retain=True)
    d.connect(proxy.port, keepalive=2)
    d.c.subscribe([("paho311/q0", 0), ("paho311/q1", 1), ("paho311/q2", 2)])
    d.pump_until_proxy(proxy, "s2c", "SUBACK")
    d.c.publish("paho311/q0", b"qos0 from paho", qos=0)
    d.pump_until_proxy(proxy, "s2c", "PUBLISH", 1)
    d.c.publish("paho311/q1", b"qos1 from paho", qos=1)
    d.pump_until_proxy(proxy, "s2c", "PUBACK", 1)
    d.pump_until_proxy(proxy, "c2s", "PUBACK", 1)
    d.c.publish("paho311/q2", b"qos2 from paho", qos=2)
    d.pump_until_proxy(proxy, "s2c", "PUBCOMP", 1)
    d.pump_until_proxy(proxy, "c2s", "PUBCOMP", 1)
    # Idle: keepalive is 2 s, so paho sends PINGREQ after ~2 s.
    d.pump_until_proxy(proxy, "s2c", "PINGRESP", 1, timeout=6)
    d.c.unsubscribe(["paho311/q0", "paho311/q1", "paho311/q2"])
    d.pump_until_proxy(proxy, "s2c", "UNSUBACK")
    d.disconnect()


@scenario("paho-v5",
          "paho-mqtt MQTT 5 client `paho-v5`: CONNECT (clean start, keepalive 2, "
          "user alice/secret, properties SessionExpiryInterval 30, ReceiveMaximum 20, "
          "TopicAliasMaximum 5, UserProperty client=paho-v5, RequestProblemInformation "
          "1; will `paho5/will`=`paho5 died` QoS 1 with will properties "
          "WillDelayInterval 10, MessageExpiryInterval 3600, ContentType text/plain, "
          "UserProperty will=yes) → CONNACK with broker properties; SUBSCRIBE#1 "
          "(SubscriptionIdentifier 42, UserProperty sub=yes) [`paho5/q0` QoS0; "
          "`paho5/q1` QoS1+retainAsPublished; `paho5/q2` QoS2+retainHandling=1; "
          "`paho5/nolocal` QoS1+noLocal+retainHandling=2] → SUBACK reason codes "
          "[0,1,2,1]; PUBLISH QoS0 `paho5/q0` (PayloadFormatIndicator 1, ContentType "
          "text/plain, UserProperty k0=v0) → echo; PUBLISH QoS1#3 `paho5/q1` "
          "(ResponseTopic paho5/reply, CorrelationData 00 'corr' ff, "
          "MessageExpiryInterval 120, two UserProperty pairs with the same key) → "
          "echo PUBLISH QoS1#1 then PUBACK#3, client PUBACK#1; PUBLISH QoS2#4 "
          "`paho5/q2` with TopicAlias 1 → PUBREC#4 / PUBREL#4 / echo PUBLISH QoS2#2 "
          "/ PUBCOMP#4, then PUBREC#2 / PUBREL#2 / PUBCOMP#2; PUBLISH QoS2#5 with "
          "EMPTY topic + TopicAlias 1 (broker resolves it to `paho5/q2`; the echo "
          "carries the full topic) → same QoS 2 flows (#5 / echo #3); PUBLISH QoS1#6 "
          "`paho5/nolocal` → PUBACK#6 with reason code 0x10 (no matching "
          "subscribers: noLocal suppresses the echo); idle ~2 s → PINGREQ/PINGRESP; "
          "UNSUBSCRIBE#7 4 filters (UserProperty unsub=yes) → UNSUBACK#7 [0,0,0,0]; "
          "DISCONNECT reason 0 with UserProperty bye=now. Every echoed PUBLISH "
          "carries SubscriptionIdentifier 42; the broker does not use topic aliases "
          "towards the client.")
def paho_v5(broker, proxy):
    d = PahoDriver("paho-v5", mqtt.MQTTv5)
    d.c.username_pw_set("alice", "secret")
    d.c.will_set("paho5/will", b"paho5 died", qos=1, retain=False,
                 properties=props(PacketTypes.WILLMESSAGE,
                                  WillDelayInterval=10, MessageExpiryInterval=3600,
                                  ContentType="text/plain",
                                  UserProperty=[("will", "yes")]))
    d.connect(proxy.port, keepalive=2, clean_start=True,
              properties=props(PacketTypes.CONNECT,
                               SessionExpiryInterval=30, ReceiveMaximum=20,
                               TopicAliasMaximum=5,
                               UserProperty=[("client", "paho-v5")],
                               RequestProblemInformation=1))
    d.c.subscribe(
        [("paho5/q0", SubscribeOptions(qos=0)),
         ("paho5/q1", SubscribeOptions(qos=1, retainAsPublished=True)),
         ("paho5/q2", SubscribeOptions(
             qos=2, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
         ("paho5/nolocal", SubscribeOptions(
             qos=1, noLocal=True, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))],
        properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=42,
                         UserProperty=[("sub", "yes")]))
    d.pump_until_proxy(proxy, "s2c", "SUBACK")

    d.c.publish("paho5/q0", b"v5 qos0", qos=0,
                properties=props(PacketTypes.PUBLISH, PayloadFormatIndicator=1,
                                 ContentType="text/plain",
                                 UserProperty=[("k0", "v0")]))
    d.pump_until_proxy(proxy, "s2c", "PUBLISH", 1)

    d.c.publish("paho5/q1", b"v5 qos1", qos=1,
                properties=props(PacketTypes.PUBLISH, ResponseTopic="paho5/reply",
                                 CorrelationData=b"\x00corr\xff",
                                 MessageExpiryInterval=120,
                                 UserProperty=[("k1", "v1"), ("k1", "dup-key")]))
    d.pump_until_proxy(proxy, "s2c", "PUBACK", 1)
    d.pump_until_proxy(proxy, "c2s", "PUBACK", 1)

    d.c.publish("paho5/q2", b"v5 qos2, alias set", qos=2,
                properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    d.pump_until_proxy(proxy, "s2c", "PUBCOMP", 1)
    d.pump_until_proxy(proxy, "c2s", "PUBCOMP", 1)

    d.c.publish("", b"v5 qos2, alias used", qos=2,
                properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    d.pump_until_proxy(proxy, "s2c", "PUBCOMP", 2)
    d.pump_until_proxy(proxy, "c2s", "PUBCOMP", 2)

    d.c.publish("paho5/nolocal", b"not echoed", qos=1)
    d.pump_until_proxy(proxy, "s2c", "PUBACK", 2)

    d.pump_until_proxy(proxy, "s2c", "PINGRESP", 1, timeout=6)

    d.c.unsubscribe(["paho5/q0", "paho5/q1", "paho5/q2", "paho5/nolocal"],
                    properties=props(PacketTypes.UNSUBSCRIBE,
                                     UserProperty=[("unsub", "yes")]))
    d.pump_until_proxy(proxy, "s2c", "UNSUBACK")
    d.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=0),
                 properties=props(PacketTypes.DISCONNECT, UserProperty=[("bye", "now")]))


@scenario("paho-v5-retained-delete",
          "paho-mqtt MQTT 5 client `paho-v5-retained-delete` (keepalive 60, no "
          "properties): PUBLISH QoS1#1 retained `paho5/retained`=`retained value` "
          "→ PUBACK#1 (reason 0x10, no subscribers); SUBSCRIBE#2 `paho5/retained` "
          "QoS1 → SUBACK#2 then the retained message as PUBLISH QoS1#1 with retain "
          "flag → client PUBACK#1; UNSUBSCRIBE#3 → UNSUBACK#3; PUBLISH QoS1#4 "
          "retained with EMPTY payload (deletes the retained message) → PUBACK#4 "
          "(0x10); SUBSCRIBE#5 again → SUBACK#5 only (nothing retained any more; "
          "waited 0.5 s); DISCONNECT.")
def paho_v5_retained_delete(broker, proxy):
    d = PahoDriver("paho-v5-retained-delete", mqtt.MQTTv5)
    d.connect(proxy.port, keepalive=60, clean_start=True)
    d.c.publish("paho5/retained", b"retained value", qos=1, retain=True)
    d.pump_until_proxy(proxy, "s2c", "PUBACK", 1)
    d.c.subscribe("paho5/retained", options=SubscribeOptions(qos=1))
    d.pump_until_proxy(proxy, "s2c", "PUBLISH", 1)
    d.pump_until_proxy(proxy, "c2s", "PUBACK", 1)
    d.c.unsubscribe("paho5/retained")
    d.pump_until_proxy(proxy, "s2c", "UNSUBACK")
    d.c.publish("paho5/retained", b"", qos=1, retain=True)
    d.pump_until_proxy(proxy, "s2c", "PUBACK", 2)
    d.c.subscribe("paho5/retained", options=SubscribeOptions(qos=1))
    d.pump_until_proxy(proxy, "s2c", "SUBACK", 2)
    d.pump_for(0.5)
    if proxy.count("s2c", "PUBLISH") != 1:
        raise RuntimeError("retained message was not deleted")
    d.disconnect()


# --------------------------------------------------------------------------
# README generation
# --------------------------------------------------------------------------

def tool_versions():
    def first_line_matching(argv, needle):
        try:
            r = subprocess.run(["timeout", "5"] + argv, capture_output=True, timeout=10)
        except Exception:  # noqa: BLE001
            return "unknown"
        for line in (r.stdout + r.stderr).decode(errors="replace").splitlines():
            if needle in line:
                return line.strip()
        return "unknown"
    return [
        ("broker", first_line_matching([MOSQUITTO, "-h"], "version")),
        ("mosquitto_pub", first_line_matching([PUB, "--help"], "version")),
        ("mosquitto_sub", first_line_matching([SUB, "--help"], "version")),
        ("paho-mqtt", paho.mqtt.__version__),
        ("python", sys.version.split()[0]),
    ]


def write_readme(results):
    L = []
    L.append("# MQTT wire captures")
    L.append("")
    L.append("Byte-exact recordings of real MQTT peers (mosquitto broker and clients, "
             "paho-mqtt) talking over TCP, for use as `mqtt-proto` test data.")
    L.append("")
    L.append("Each scenario is ONE TCP connection between a client and the broker, "
             "recorded by a transparent proxy into two files:")
    L.append("")
    L.append("* `<scenario>.c2s.bin` - every byte the client sent to the server, in order;")
    L.append("* `<scenario>.s2c.bin` - every byte the server sent to the client, in order.")
    L.append("")
    L.append("Each file is a concatenation of complete MQTT control packets (no "
             "framing, no TCP metadata). Helper publishers that only exist to feed a "
             "subscriber connect to the broker directly and are not recorded. The "
             "protocol version of a capture is given by its CONNECT packet "
             "(v3.1: `MQIsdp`/3, v3.1.1: `MQTT`/4, v5: `MQTT`/5), which is needed to "
             "decode the rest of the stream.")
    L.append("")
    L.append("## Regenerating")
    L.append("")
    L.append("```sh")
    L.append("cd mqtt-proto/tests/data/captures")
    L.append("python3 record.py")
    L.append("```")
    L.append("")
    L.append("`record.py` (python3 stdlib + paho-mqtt) starts a private mosquitto "
             "broker on `127.0.0.1` with an OS-chosen port (temporary config; "
             "`allow_anonymous true` plus a `password_file` containing `alice`/`secret`, "
             "so clients presenting credentials are really checked), runs a recording "
             "proxy on `127.0.0.1:0` for each scenario, runs the scenario client, then "
             "stops everything. It deletes and rewrites all `*.bin` files and this "
             "README, checks that every file parses as a whole sequence of complete "
             "packets (fixed header type nibble + remaining-length varint, reserved "
             "flag bits) and that the packet sequence matches the expected one, and "
             "exits non-zero otherwise. All client ids, payloads, packet ids and "
             "steps are fixed and each step waits for the previous exchange to finish, "
             "so regenerating should give byte-identical files.")
    L.append("")
    L.append("Known sources of possible variation: a broker version other than the "
             "one below may send different CONNACK properties; a forwarded PUBLISH "
             "with a message-expiry-interval carries the *remaining* lifetime, which "
             "could be 1 s lower if a wall-clock second boundary were crossed while "
             "the broker held the message (not observed).")
    L.append("")
    L.append("Not covered: mosquitto_sub 2.0.11 has no command-line options for the "
             "no-local or retain-handling subscription options (only "
             "`--retain-as-published`), so `mosquitto_sub-v5` sets RAP only; no-local "
             "and retain-handling 1/2 are exercised by `paho-v5`. (`-D subscribe "
             "subscription-identifier` is accepted by 2.0.11 even though its man page "
             "only lists user-property.)")
    L.append("")
    L.append("## Tool versions used for the committed files")
    L.append("")
    for k, v in tool_versions():
        L.append(f"* {k}: `{v}`")
    L.append("* OS packages: Debian `mosquitto` / `mosquitto-clients` 2.0.11; "
             "PyPI `paho-mqtt==2.1.0`")
    L.append("")
    L.append("## Captures")
    L.append("")
    for sc in SCENARIOS:
        L.append(f"* `{sc['name']}` - {sc['desc']}")
    L.append("")
    L.append("## Packet summary (generated by record.py from the fixed headers)")
    L.append("")
    L.append("`PUBLISH(qN[,retain][,dup])` shows the fixed-header flags; `#N` is the "
             "packet identifier (PUBLISH with QoS > 0, PUBACK..UNSUBACK).")
    L.append("")
    L.append("```")
    for name, c2s, s2c in results:
        for d, info in (("c2s", c2s), ("s2c", s2c)):
            fname = f"{name}.{d}.bin"
            L.append(f"{fname}  ({info['size']} bytes, sha256 {info['sha256'][:16]})")
            L.append("    " + " ".join(info["packets"]))
    L.append("```")
    L.append("")
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write("\n".join(L))


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main():
    only = set(sys.argv[1:])
    broker = Broker()

    def watchdog():
        sys.stderr.write("record.py: global watchdog fired, aborting\n")
        try:
            broker.stop()
        finally:
            os._exit(3)

    wd = threading.Timer(GLOBAL_WATCHDOG, watchdog)
    wd.daemon = True
    wd.start()

    failures = []
    results = []
    try:
        if not only:
            for f in glob.glob(os.path.join(HERE, "*.bin")):
                os.remove(f)
        broker.start()
        print(f"broker listening on {HOST}:{broker.port}")
        for sc in SCENARIOS:
            if only and sc["name"] not in only:
                continue
            name = sc["name"]
            proxy = RecordingProxy(broker.port)
            try:
                sc["fn"](broker, proxy)
                c2s, s2c = proxy.finish()
            except Exception as e:  # noqa: BLE001
                try:
                    proxy.finish(timeout=1)
                except Exception:  # noqa: BLE001
                    pass
                failures.append(f"{name}: {e!r}")
                print(f"FAIL {name}: {e!r}")
                continue
            infos = {}
            ok = True
            for d, data, expected in (("c2s", c2s, sc["c2s"]), ("s2c", s2c, sc["s2c"])):
                with open(os.path.join(HERE, f"{name}.{d}.bin"), "wb") as f:
                    f.write(data)
                try:
                    pk = check_capture(data)
                except (ValueError, Incomplete) as e:
                    failures.append(f"{name}.{d}: malformed: {e}")
                    pk = [f"<malformed: {e}>"]
                    ok = False
                if pk != expected:
                    failures.append(f"{name}.{d}: got {pk}, expected {expected}")
                    ok = False
                infos[d] = dict(size=len(data), packets=pk,
                                sha256=hashlib.sha256(data).hexdigest())
            results.append((name, infos["c2s"], infos["s2c"]))
            print(f"{'ok  ' if ok else 'BAD '} {name}")
            for d in ("c2s", "s2c"):
                print(f"       {d} ({infos[d]['size']:4d} B): {' '.join(infos[d]['packets'])}")
    finally:
        broker.stop()
        if failures:
            sys.stderr.write("---- broker log tail ----\n" + broker.log_tail() + "\n")
        broker.cleanup()
        wd.cancel()

    if not only:
        write_readme(results)
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("  " + f)
        return 1
    print(f"\nall {len(results)} scenarios recorded OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
