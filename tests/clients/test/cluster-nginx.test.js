'use strict';
// Clustering options of the guide, each for real: a kit made by
// `shoal cluster-plan`, two nodes, nginx, official clients (lib/topology.js).
// SHOAL_TOPOLOGY=<regexp> runs only the cases whose name matches.

const { describe, it } = require('node:test');
const { CASES, caseName, checkTopology } = require('../lib/topology');

const only = process.env.SHOAL_TOPOLOGY ? new RegExp(process.env.SHOAL_TOPOLOGY) : null;

describe('clustering options behind nginx', () => {
  for (const c of CASES.filter((x) => x.balancer === 'nginx')) {
    const name = caseName(c);
    it(name, { timeout: 150000, skip: only && !only.test(name) ? 'not selected by SHOAL_TOPOLOGY' : false }, (t) => checkTopology(t, c));
  }
});
