'use strict';
// Clustering options of the guide over HTTP (1.x, 4) behind HAProxy, each for
// real (lib/topology.js). SHOAL_TOPOLOGY=<regexp> runs only the cases whose
// name matches.

require('../lib/topology').describeGroup('http');
