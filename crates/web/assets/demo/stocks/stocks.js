// The stock list: the 30 items of QUOTE_ADAPTER in one MERGE subscription.
// Each update rewrites only the cells of the fields that changed, and
// flashes them: green when the number went up, red when it went down.
'use strict';

const ITEMS = Array.from({ length: 30 }, (_, i) => `item${i + 1}`);
// The columns of the table, in order; the first is the name.
const FIELDS = ['stock_name', 'last_price', 'time', 'pct_change', 'bid', 'ask', 'min', 'max'];
const FLASH_MS = 600;

const body = document.querySelector('#quotes tbody');

// One row per item, made up front so rows keep the order of ITEMS.
const rows = ITEMS.map((item) => {
  const tr = document.createElement('tr');
  tr.dataset.item = item;
  for (const field of FIELDS) {
    const td = document.createElement('td');
    td.dataset.field = field;
    if (field !== 'stock_name') td.className = 'num';
    tr.appendChild(td);
  }
  body.appendChild(tr);
  return tr;
});

function cell(itemPos, field) {
  return rows[itemPos - 1].querySelector(`td[data-field="${field}"]`);
}

// Replaces the text of a cell; flashes it if it held a different number.
function change(td, value, flash) {
  const before = parseFloat(td.textContent);
  const after = parseFloat(value);
  if (td.dataset.field === 'pct_change') {
    td.textContent = after > 0 ? `+${value}` : value;
    td.classList.toggle('rise', after > 0);
    td.classList.toggle('fall', after < 0);
  } else {
    td.textContent = value;
  }
  if (!flash || Number.isNaN(before) || Number.isNaN(after) || before === after) return;
  td.classList.remove('flash-up', 'flash-down');
  td.classList.add(after > before ? 'flash-up' : 'flash-down');
  clearTimeout(td.flashTimer);
  td.flashTimer = setTimeout(() => td.classList.remove('flash-up', 'flash-down'), FLASH_MS);
}

const subscription = new Subscription('MERGE', ITEMS, FIELDS);
subscription.setDataAdapter('QUOTE_ADAPTER');
subscription.setRequestedSnapshot('yes');
subscription.addListener({
  onItemUpdate(update) {
    // The snapshot fills the table; only live changes flash.
    const flash = !update.isSnapshot();
    update.forEachChangedField((name, _pos, value) => {
      change(cell(update.getItemPos(), name), value ?? '', flash);
    });
  },
  onSubscriptionError(code, message) {
    showProblem(`The server refused the subscription: ${code} ${message}`);
  },
});

const client = connectToShoal();
client.subscribe(subscription);
