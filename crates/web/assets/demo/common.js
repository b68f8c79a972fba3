// What every demo page does: connect the official web client to the server
// that served the page (so the page works the same directly and through a
// balancer), with the demo adapter set, and keep the footer up to date.
'use strict';

// The web client's bundle defines its classes as globals
// (LightstreamerClient, Subscription, ...).
// `?transport=HTTP-STREAMING` (or WS-STREAMING, WS-POLLING, HTTP-POLLING)
// in the page's address forces that transport.
function connectToShoal(user) {
  const client = new LightstreamerClient(location.origin, 'DEMO');
  if (user) client.connectionDetails.setUser(user);
  const transport = new URLSearchParams(location.search).get('transport');
  if (transport) client.connectionOptions.setForcedTransport(transport);
  client.addListener({ onStatusChange: showStatus });
  showStatus(client.getStatus());
  client.connect();
  return client;
}

// The status is like CONNECTED:WS-STREAMING: the state, then the transport.
function showStatus(status) {
  for (const el of document.querySelectorAll('.status')) {
    el.textContent = status;
    el.dataset.state = status.split(':')[0];
  }
}

// A problem the page cannot get over by itself, shown above the footer.
function showProblem(text) {
  const el = document.getElementById('problem');
  el.textContent = text;
  el.hidden = false;
}

document.addEventListener('DOMContentLoaded', () => {
  const server = document.getElementById('server');
  if (server) server.textContent = location.origin;
});
