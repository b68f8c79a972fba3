'use strict';
// The publisher of the Mosquitto peer: one MQTT 3.1.1 client (mqtt.js,
// pinned in package.json) publishing {"seq":N,"ts":MICROS} at QoS 0 to each
// topic rate-N of TOPICS, N times a second, over plain TCP to the broker.
// (The topic names the channel: no "ch" in the message.)
//
//   node publisher.js --port MQTT_PORT --topics rate-10[,rate-11...]
// prints "publishing" once connected.

const mqtt = require('mqtt');
const { message, channels, tick, options } = require('../ticker');

const opt = options(['port', 'topics']);
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
  for (const { name, rate } of channels(opt.topics)) {
    tick(rate, (seq) => client.publish(name, message(seq), { qos: 0 }));
  }
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
