# paho-mqtt 2.x client for tests/interop.rs, run as `python3 -c <this file> PORT VERSION`
# with VERSION one of 31, 311, 5. It talks to the test's mqtt-proto server and prints one
# JSON-ish line per thing it received, so the Rust side can check that paho understood
# every packet the codec encoded. Any failure exits non-zero with a message on stderr.
import json
import os
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

WAIT = 15.0
port = int(sys.argv[1])
ver = sys.argv[2]
proto = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}[ver]
v5 = proto == mqtt.MQTTv5

# Belt and braces: never outlive the test, whatever paho does.
watchdog = threading.Timer(45.0, lambda: os._exit(3))
watchdog.daemon = True
watchdog.start()

cond = threading.Condition()
state = {"connack": None, "suback": None, "unsuback": None, "acks": {}, "messages": [],
         "pingresp": 0, "disconnected": None}


def out(kind, value):
    print(kind + " " + json.dumps(value, sort_keys=True), flush=True)


def fail(msg):
    print("paho client failure: " + msg, file=sys.stderr, flush=True)
    os._exit(1)


def wait_for(what, pred):
    with cond:
        if not cond.wait_for(pred, timeout=WAIT):
            fail("timed out waiting for " + what + "; state=" + repr(state))


def props(p):
    if p is None or p.isEmpty():
        return {}
    return p.json()


def codes(lst):
    return [int(c.value) for c in lst]


def on_connect(client, userdata, flags, reason_code, properties):
    with cond:
        state["connack"] = {"session_present": bool(flags.session_present),
                            "rc": int(reason_code.value), "props": props(properties)}
        cond.notify_all()


def on_subscribe(client, userdata, mid, reason_codes, properties):
    with cond:
        state["suback"] = {"codes": codes(reason_codes), "props": props(properties)}
        cond.notify_all()


def on_unsubscribe(client, userdata, mid, reason_codes, properties):
    with cond:
        state["unsuback"] = {"codes": codes(reason_codes), "props": props(properties)}
        cond.notify_all()


def on_publish(client, userdata, mid, reason_code, properties):
    with cond:
        state["acks"][mid] = {"rc": int(reason_code.value), "props": props(properties)}
        cond.notify_all()


def on_message(client, userdata, msg):
    with cond:
        state["messages"].append({"topic": msg.topic, "payload": msg.payload.hex(),
                                  "qos": msg.qos, "retain": bool(msg.retain),
                                  "props": props(getattr(msg, "properties", None))})
        cond.notify_all()


def on_disconnect(client, userdata, flags, reason_code, properties):
    with cond:
        state["disconnected"] = int(reason_code.value)
        cond.notify_all()


def on_log(client, userdata, level, buf):
    if buf.startswith("Received PINGRESP"):
        with cond:
            state["pingresp"] += 1
            cond.notify_all()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-" + ver,
                     protocol=proto, clean_session=None if v5 else False)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_unsubscribe = on_unsubscribe
client.on_publish = on_publish
client.on_message = on_message
client.on_disconnect = on_disconnect
client.on_log = on_log
client.username_pw_set("paho-user", b"paho-\x00\xffpass")

will_props = None
connect_props = None
if v5:
    will_props = Properties(PacketTypes.WILLMESSAGE)
    will_props.WillDelayInterval = 5
    will_props.ContentType = "text/will"
    will_props.UserProperty = [("wk", "wv")]
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 60
    connect_props.ReceiveMaximum = 9
    connect_props.TopicAliasMaximum = 4
    connect_props.UserProperty = [("ck", "cv1"), ("ck", "cv2")]
client.will_set("paho/will", b"paho died", qos=2, retain=False, properties=will_props)

# Keep alive 3 s: paho sends PINGREQ once idle that long, and drops the connection if no
# PINGRESP follows within another 3 s.
if v5:
    client.connect("127.0.0.1", port, keepalive=3, clean_start=False, properties=connect_props)
else:
    client.connect("127.0.0.1", port, keepalive=3)
client.loop_start()

wait_for("CONNACK", lambda: state["connack"] is not None)
out("connack", state["connack"])

if v5:
    sp = Properties(PacketTypes.SUBSCRIBE)
    sp.SubscriptionIdentifier = 7
    sp.UserProperty = [("sk", "sv")]
    client.subscribe([("paho/in/#", SubscribeOptions(qos=2, noLocal=True, retainAsPublished=True,
                                                     retainHandling=1)),
                      ("paho/deny", SubscribeOptions(qos=1))], properties=sp)
else:
    client.subscribe([("paho/in/#", 2), ("paho/deny", 1)])
wait_for("SUBACK", lambda: state["suback"] is not None)
out("suback", state["suback"])


def publish(topic, payload, qos, retain=False, properties=None):
    info = client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        fail("publish returned " + str(info.rc))
    wait_for("ack of mid %d" % info.mid, lambda: info.mid in state["acks"])
    out("published", dict(state["acks"][info.mid], qos=qos))


p0 = p1 = p2 = None
if v5:
    p0 = Properties(PacketTypes.PUBLISH)
    p0.PayloadFormatIndicator = 1
    p0.ContentType = "text/plain"
    p0.MessageExpiryInterval = 30
    p0.UserProperty = [("a", "1"), ("a", "2")]
    p1 = Properties(PacketTypes.PUBLISH)
    p1.ResponseTopic = "paho/reply"
    p1.CorrelationData = b"\x00\x01corr"
    p1.TopicAlias = 1
    p2 = Properties(PacketTypes.PUBLISH)
    p2.TopicAlias = 1
publish("paho/out/zero", b"z", 0, properties=p0)
publish("paho/out/one", "one \u00fc", 1, retain=True, properties=p1)
# 5.0: an empty topic name that stands for the one topic alias 1 was set to above.
publish("" if v5 else "paho/out/one", b"\x00\xff two", 2, properties=p2)

# 5.0 also gets a fourth message whose topic name is left out for a topic alias.
expected_messages = 4 if v5 else 3
wait_for("messages", lambda: len(state["messages"]) >= expected_messages)
for m in state["messages"]:
    out("message", m)

# Idle until paho has pinged and had its PINGRESP (keep alive 3 s).
wait_for("PINGRESP", lambda: state["pingresp"] >= 1)
out("pingresp", state["pingresp"] >= 1)

up = None
if v5:
    up = Properties(PacketTypes.UNSUBSCRIBE)
    up.UserProperty = [("uk", "uv")]
client.unsubscribe(["paho/in/#", "paho/never"], properties=up)
wait_for("UNSUBACK", lambda: state["unsuback"] is not None)
out("unsuback", state["unsuback"])

if v5:
    dp = Properties(PacketTypes.DISCONNECT)
    dp.SessionExpiryInterval = 0
    dp.ReasonString = "bye"
    client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"),
                      properties=dp)
else:
    client.disconnect()
wait_for("disconnect", lambda: state["disconnected"] is not None)
client.loop_stop()
out("disconnected", state["disconnected"])
if state["pingresp"] < 1:
    fail("no PINGRESP seen")
