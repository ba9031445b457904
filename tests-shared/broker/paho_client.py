#!/usr/bin/env python3
"""A paho-mqtt client driven by the `broker` integration tests.

It connects as the command line says, then reads commands from stdin and reports what
happens on stdout, both as one JSON object per line:

  commands  {"op": "sub", "topic": T, "qos": Q}
            {"op": "pub", "topic": T, "payload_hex": H, "qos": Q, "retain": B}
            {"op": "disconnect"}              (clean DISCONNECT, then exit 0)
  events    {"event": "connack", "reason_code": N, "session_present": B}
            {"event": "suback", "mid": N, "reason_codes": [N, ...]}
            {"event": "published", "mid": N}  (QoS 0 sent, QoS 1 PUBACK, QoS 2 PUBCOMP)
            {"event": "message", "topic": T, "payload_hex": H, "qos": Q, "retain": B}
            {"event": "disconnect", "reason_code": N}
            {"event": "server_disconnect", "reason_code": N}  (5.0: a DISCONNECT was received)
            {"event": "error", "message": S}

End of input acts as "disconnect". Automatic reconnection is off, so a connection the broker
closes stays closed (the take-over tests rely on that).
"""

import argparse
import json
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

LOCK = threading.Lock()


def emit(**event):
    with LOCK:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def code(rc):
    """The numeric value of a paho ReasonCode (or a plain int)."""
    return rc.value if hasattr(rc, "value") else int(rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", choices=["31", "311", "5"], default="311")
    ap.add_argument("--id", default="")
    ap.add_argument("--clean", type=int, default=1)
    ap.add_argument("--expiry", type=int, default=None)
    ap.add_argument("--keepalive", type=int, default=60)
    ap.add_argument("--will-topic")
    ap.add_argument("--will-payload", default="")
    ap.add_argument("--will-qos", type=int, default=0)
    ap.add_argument("--will-retain", action="store_true")
    ap.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    ap.add_argument("--ws-path", default="/mqtt")
    ap.add_argument("--tls", action="store_true", help="TLS trusting the system roots")
    ap.add_argument("--ca", help="TLS trusting this CA file")
    args = ap.parse_args()

    protocol = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}[args.version]
    v5 = protocol == mqtt.MQTTv5
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.id,
        clean_session=None if v5 else bool(args.clean),
        protocol=protocol,
        transport=args.transport,
        reconnect_on_failure=False,
    )
    if args.transport == "websockets":
        client.ws_set_options(path=args.ws_path)
    if args.tls or args.ca:
        client.tls_set(ca_certs=args.ca)
    if args.will_topic:
        client.will_set(
            args.will_topic, args.will_payload, qos=args.will_qos, retain=args.will_retain
        )

    client.on_connect = lambda c, u, flags, rc, props: emit(
        event="connack", reason_code=code(rc), session_present=bool(flags.session_present)
    )
    client.on_subscribe = lambda c, u, mid, rcs, props: emit(
        event="suback", mid=mid, reason_codes=[code(rc) for rc in rcs]
    )
    client.on_publish = lambda c, u, mid, rc, props: emit(event="published", mid=mid)
    client.on_message = lambda c, u, msg: emit(
        event="message",
        topic=msg.topic,
        payload_hex=msg.payload.hex(),
        qos=msg.qos,
        retain=bool(msg.retain),
    )
    client.on_disconnect = lambda c, u, flags, rc, props: emit(
        event="disconnect", reason_code=code(rc)
    )

    # paho 2.1.0 passes the reason code of a DISCONNECT to on_disconnect only when the
    # packet's remaining length is above 2 (eclipse-paho/paho.mqtt.python#860), but a
    # DISCONNECT without properties is `e0 01 8e`. Report the code paho has read instead.
    handle_disconnect = client._handle_disconnect

    def report_disconnect():
        packet = client._in_packet["packet"]
        emit(event="server_disconnect", reason_code=packet[0] if len(packet) else 0)
        return handle_disconnect()

    client._handle_disconnect = report_disconnect

    connect = {"keepalive": args.keepalive}
    if v5:
        connect["clean_start"] = bool(args.clean)
        if args.expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = args.expiry
            connect["properties"] = props
    try:
        client.connect(args.host, args.port, **connect)
    except Exception as e:  # refused socket, TLS verification, WebSocket upgrade
        emit(event="error", message=repr(e))
        return 1
    client.loop_start()

    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "sub":
            client.subscribe(cmd["topic"], qos=cmd.get("qos", 0))
        elif op == "pub":
            payload = bytes.fromhex(cmd.get("payload_hex", ""))
            client.publish(
                cmd["topic"], payload, qos=cmd.get("qos", 0), retain=cmd.get("retain", False)
            )
        elif op == "disconnect":
            break
        else:
            emit(event="error", message="unknown op " + op)
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
