// The chat: a DISTINCT subscription to chat_room of CHAT_ROOM, and messages
// sent as "CHAT|<text>". The server signs each message with the session's
// user name, so the nick is given to the client before it connects.
'use strict';

const MAX_SHOWN = 200;

const joinForm = document.getElementById('join');
const nickInput = document.getElementById('nick');
const sayForm = document.getElementById('say');
const textInput = document.getElementById('text');
const list = document.getElementById('messages');

// A nick may come with the address (chat/?nick=alice).
nickInput.value = new URLSearchParams(location.search).get('nick') ?? '';

let nick = null;

function show(fields) {
  const li = document.createElement('li');
  if (fields.nick === nick) li.classList.add('mine');
  for (const [name, value] of [['time', fields.timestamp], ['nick', fields.nick], ['text', fields.message]]) {
    const span = document.createElement('span');
    span.className = name;
    span.textContent = value ?? '';
    li.appendChild(span);
  }
  // Keep the view at the bottom if the reader was there.
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.appendChild(li);
  while (list.children.length > MAX_SHOWN) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function join(chosen) {
  nick = chosen;
  for (const el of joinForm.elements) el.disabled = true;
  const client = connectToShoal(nick);

  const subscription = new Subscription('DISTINCT', ['chat_room'], ['message', 'timestamp', 'IP', 'nick']);
  subscription.setDataAdapter('CHAT_ROOM');
  subscription.addListener({
    onSubscription() {
      for (const el of sayForm.elements) el.disabled = false;
      textInput.placeholder = `Say something as ${nick}`;
      textInput.focus();
    },
    onItemUpdate(update) {
      show({
        message: update.getValue('message'),
        timestamp: update.getValue('timestamp'),
        nick: update.getValue('nick'),
      });
    },
    onSubscriptionError(code, message) {
      showProblem(`The server refused the subscription: ${code} ${message}`);
    },
  });
  client.subscribe(subscription);

  sayForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = textInput.value.trim();
    if (!text) return;
    // Sent even while briefly disconnected: the client queues it.
    client.sendMessage(`CHAT|${text}`, null, null, {
      onDeny: (code, reason) => showProblem(`Message refused: ${code} ${reason}`),
      onError: () => showProblem('The server could not take the message.'),
    }, true);
    textInput.value = '';
  });
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const chosen = nickInput.value.trim();
  if (chosen) join(chosen);
});
