// MQTT.js over WebSocket against our broker. Usage: node exchange.mjs URL PROTOCOL_VERSION
// Subscribes to js/in, publishes "from-js" to js/out (QoS 1, retained off), prints one JSON
// line per step, and exits once a message arrives on js/in (or after 10 s, with an error).
import mqtt from "mqtt";

const [url, version] = process.argv.slice(2);
const say = (o) => console.log(JSON.stringify(o));
const client = mqtt.connect(url, {
  protocolVersion: Number(version),
  clientId: `mqttjs-${version}-${process.pid}`,
  reconnectPeriod: 0,
  connectTimeout: 5000,
});
const timer = setTimeout(() => {
  say({ error: "timeout" });
  process.exit(2);
}, 10000);
client.on("error", (e) => {
  say({ error: String(e) });
  process.exit(1);
});
client.on("connect", (connack) => {
  say({ connected: true, sessionPresent: connack.sessionPresent });
  client.subscribe("js/in", { qos: 1 }, (err, granted) => {
    if (err) {
      say({ error: String(err) });
      process.exit(1);
    }
    say({ subscribed: granted.map((g) => g.qos) });
    client.publish("js/out", "from-js", { qos: 1 }, (err) => {
      say({ published: !err });
    });
  });
});
client.on("message", (topic, payload, packet) => {
  say({ topic, payload: payload.toString(), qos: packet.qos });
  clearTimeout(timer);
  client.end(false, () => process.exit(0));
});
