'use strict';
// Clustering options of the guide that fit nginx, behind nginx, each for real
// (lib/topology.js). SHOAL_TOPOLOGY=<regexp> runs only the cases whose name
// matches.

require('../lib/topology').describeGroup('nginx');
