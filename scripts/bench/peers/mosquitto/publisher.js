'use strict';
// The publisher of the Mosquitto peer: one MQTT 3.1.1 client (mqtt.js,
// pinned in package.json) publishing {"seq":N,"ts":MICROS} to TOPIC at QoS
// 0, RATE times a second, over plain TCP to the broker.
//
//   node publisher.js --port MQTT_PORT --topic rate-10 --rate 10
// prints "publishing" once connected.

const mqtt = require('mqtt');
const { message, tick, options } = require('../ticker');

const opt = options(['port', 'topic', 'rate']);
const client = mqtt.connect(`mqtt://127.0.0.1:${opt.port}`, {
  protocolVersion: 4,
  clean: true,
  reconnectPeriod: 0,
});
client.on('error', (e) => {
  console.error(`publisher: ${e.message}`);
  process.exit(1);
});
client.on('close', () => {
  console.error('publisher: the broker closed the connection');
  process.exit(1);
});
client.on('connect', () => {
  console.log('publishing');
  tick(Number(opt.rate), (seq) => client.publish(opt.topic, message(seq), { qos: 0 }));
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
