'use strict';
// Fail-over per transport and per client settings (lib/topology.js): options
// 1.A.2, 2.A.2, 1.A.1 and 1.B.1 with the clients' transport forced to
// HTTP-STREAMING, WS-POLLING or HTTP-POLLING, and the slow cases (1.A.2 with
// HTTP-POLLING, 1.B.2) with a shorter retry delay and session recovery
// timeout. The test suite runs a subset (1.A.2 HTTP-POLLING, 1.B.1 WS-POLLING,
// 2.A.2 HTTP-STREAMING) and reports the others as skipped;
// SHOAL_FAILOVER_ALL=1 runs them all. SHOAL_TOPOLOGY=<regexp> runs only the
// cases whose name matches.

require('../lib/topology').describeGroup('transports');
