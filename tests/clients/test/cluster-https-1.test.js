'use strict';
// Clustering options of the guide over HTTPS (2.A, 2.B.1) behind HAProxy, each
// for real (lib/topology.js). SHOAL_TOPOLOGY=<regexp> runs only the cases whose
// name matches.

require('../lib/topology').describeGroup('https-1');
