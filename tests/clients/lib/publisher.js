'use strict';
// The application that publishes to a cluster kit's feed (a kit made with
// --feed redis|nats): POST /publish through the kit's balancer with
// kit.publish, tick after tick, one request at a time, until stopped. Used
// by test/cluster-feed.test.js and test/cluster-handoff.test.js.
//
//   const pub = new Publisher(kit, {
//     source: '127.0.84.70',                        // its own source address
//     bodies: (seq) => [{ item: 'counter', fields: { seq: String(seq) } }],
//   });
//   pub.start();
//   await guard(pub, c.waitUpdate(...));             // fails at once if publishing fails
//   const kill = await guard(pub, pub.between(() => kit.kill('node1'))); // nothing in flight
//   await pub.stop();                                // pub.seq: the last tick published
//
// A tick is numbered seq (1, 2, ...): bodies(seq) gives the publish bodies of
// that tick ({ item, fields, command?, key? }), sent in that order. pub.seq
// is the last tick whose every body was answered 200. A refusal that says
// nothing was written (no answer, 502, 503, 504: the balancer still sending
// some requests to a dead node, or no live node) is tried again, for up to
// retryMs; anything else fails the publisher (pub.error, pub.failed).

const { EventEmitter } = require('node:events');

// Defaults: one tick every 5 ms at most; a refused publish tried again for 10 s.
const PERIOD_MS = 5;
const RETRY_MS = 10000;
const RETRIED_STATUSES = [0, 502, 503, 504];

class Publisher extends EventEmitter {
  constructor(kit, { source, bodies, periodMs = PERIOD_MS, retryMs = RETRY_MS }) {
    super();
    if (typeof bodies !== 'function') throw new TypeError('Publisher: bodies(seq) is required');
    this.setMaxListeners(0);
    this.kit = kit;
    this.source = source;
    this.bodies = bodies;
    this.periodMs = periodMs;
    this.retryMs = retryMs;
    this.seq = 0; // the last tick every body of which was answered 200
    this.started = []; // started[seq]: Date.now() just before the tick's first request
    this.answered = []; // answered[seq]: Date.now() when its last 200 came
    this.published = 0; // bodies answered 200
    this.retries = []; // [{ seq, item, t, status, body }]
    this.pending = null; // { fn, resolve, reject } for between()
    this.stopping = false;
    this.error = null;
    this.done = null;
    // Rejects when publishing fails, so that waits fail at once (see guard).
    this.failed = new Promise((_, reject) => { this.fail = reject; });
    this.failed.catch(() => {});
  }

  start() {
    this.done = this._run().catch((err) => {
      this.error = err;
      this.fail(err);
    });
  }

  async _run() {
    let next = Date.now();
    while (!this.stopping) {
      if (this.pending) {
        const { fn, resolve, reject } = this.pending;
        this.pending = null;
        try {
          resolve(await fn(this.seq));
        } catch (err) {
          reject(err);
          throw err;
        }
      }
      const seq = this.seq + 1;
      this.started[seq] = Date.now();
      for (const body of this.bodies(seq)) {
        await this._publish(seq, body);
        this.published += 1;
      }
      this.answered[seq] = Date.now();
      this.seq = seq;
      this.emit('change');
      next += this.periodMs;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else next = Date.now();
    }
  }

  async _publish(seq, body) {
    const first = Date.now();
    for (;;) {
      let r;
      try {
        r = await this.kit.publish(body, { source: this.source });
      } catch (err) {
        r = { status: 0, body: err.message };
      }
      if (r.status === 200) return;
      this.retries.push({ seq, item: body.item, t: Date.now(), status: r.status, body: r.body });
      if (this.stopping || !RETRIED_STATUSES.includes(r.status) || Date.now() - first > this.retryMs) {
        throw new Error(`publish of ${JSON.stringify(body)} (tick ${seq}): ${r.status} ${JSON.stringify(r.body)} ` +
          `(${this.retries.length} refusals so far)`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.periodMs));
    }
  }

  // Runs fn(seq) after one tick has been answered and before the next one
  // starts (nothing is in flight), and resolves with its result.
  between(fn) {
    return new Promise((resolve, reject) => { this.pending = { fn, resolve, reject }; });
  }

  // The first tick whose publishing started after time t (ms).
  firstStartedAfter(t) {
    for (let seq = 1; seq < this.started.length; seq += 1) if (this.started[seq] > t) return seq;
    return Infinity;
  }

  // The last tick answered before time t (ms), 0 if none.
  lastAnsweredBefore(t) {
    let last = 0;
    for (let seq = 1; seq < this.answered.length && this.answered[seq] < t; seq += 1) last = seq;
    return last;
  }

  async stop() {
    this.stopping = true;
    if (this.done) await this.done;
  }

  describe() {
    return `publisher: last tick ${this.seq} (${this.published} publishes)${this.error ? `, failed: ${this.error.message}` : ''}; ` +
      `refusals: ${JSON.stringify(this.retries.slice(0, 20))}${this.retries.length > 20 ? ` ... ${this.retries.length} in all` : ''}`;
  }
}

// Waits for `promise`, failing at once when the publisher does.
const guard = (pub, promise) => Promise.race([promise, pub.failed]);

module.exports = { Publisher, guard };
