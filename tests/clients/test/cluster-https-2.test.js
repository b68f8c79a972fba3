'use strict';
// Clustering options of the guide over HTTPS (2.B.2) behind HAProxy, each for
// real (lib/topology.js). SHOAL_TOPOLOGY=<regexp> runs only the cases whose
// name matches.

require('../lib/topology').describeGroup('https-2');
