// The Jobs page's script, part: settings, state, the API, the login and the job list. page/index.ts joins the parts into one inline script
// inside one function scope (declarations here are seen by the other parts); no build step.
const TOKEN_KEY = 'p2m.apiToken';
const POLL_MS = 1000;
const ERRORS_POLL_MS = 5000;
const ERRORS_PAGE = 100;
const ACTIVE = new Set(['PENDING', 'IN_PROGRESS', 'VERIFYING', 'CANCELLING']);
const RESUMABLE = new Set(['FAILED', 'CANCELLED']);
/** Jobs per page; `?per-page=N` in the address asks for another number (1-100). */
const PAGE_SIZE = (() => {
  const n = Number(new URLSearchParams(location.search).get('per-page'));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 10;
})();
/** The status filter's choices, as the API's status lists. */
const FILTERS = {
  all: [],
  active: ['PENDING', 'IN_PROGRESS', 'VERIFYING', 'CANCELLING'],
  failed: ['FAILED'],
  successful: ['SUCCESSFUL'],
  cancelled: ['CANCELLED'],
};
const nf = new Intl.NumberFormat();

const $ = (sel, root = document) => root.querySelector(sel);
const tid = (root, id) => root.querySelector(`[data-testid="${id}"]`);
const cards = new Map();
let token = sessionStorage.getItem(TOKEN_KEY);
let pollTimer = null;
/**
 * What the list shows: the filter (kept in the address as `?status=failed`, so a filtered list
 * can be bookmarked), and the cursors of the pages before this one (newest first).
 */
const initialFilter = new URLSearchParams(location.search).get('status');
const view = { filter: initialFilter !== null && Object.hasOwn(FILTERS, initialFilter) ? initialFilter : 'all', cursors: [undefined], next: null, total: 0 };

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.hint = body && body.error && body.error.hint;
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    forgetToken('The token was rejected. Enter the controller\u2019s API token.');
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// ------------------------------------------------------------------ formatting
const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? nf.format(Math.round(n)) : '\u2014');
const statusLabel = (s) => s.replace(/_/g, ' ');
function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '\u2014';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}
const nsName = (ns) => (ns === '' ? '(default)' : ns);
const when = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
};
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells, testid) {
  const tr = document.createElement('tr');
  if (testid) tr.dataset.testid = testid;
  for (const c of cells) {
    const td = el('td', c.text, c.cls);
    tr.append(td);
  }
  return tr;
}

// ------------------------------------------------------------------ login
function showLogin(message) {
  $('#login').hidden = false;
  $('#jobs').hidden = true;
  $('#forget').hidden = true;
  $('#login-error').textContent = message || '';
  setConnection('');
  $('#token').focus();
}
function forgetToken(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(pollTimer);
  for (const card of cards.values()) card.root.remove();
  cards.clear();
  showLogin(message);
}
$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const value = $('#token').value.trim();
  if (!value) return;
  token = value;
  try {
    const data = await api('GET', listPath());
    sessionStorage.setItem(TOKEN_KEY, value);
    $('#token').value = '';
    startJobs(data);
  } catch (err) {
    if (err.status !== 401) $('#login-error').textContent = `Could not reach the controller: ${err.message}`;
  }
});
$('#forget').addEventListener('click', () => forgetToken(''));

function setConnection(text, bad) {
  const c = $('#connection');
  c.textContent = text;
  c.classList.toggle('bad', Boolean(bad));
}

// ------------------------------------------------------------------ jobs
function listPath() {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const statuses = FILTERS[view.filter];
  if (statuses.length) q.set('status', statuses.join(','));
  const cursor = view.cursors[view.cursors.length - 1];
  if (cursor) q.set('cursor', cursor);
  return `/v1/jobs?${q}`;
}
function startJobs(initial) {
  $('#login').hidden = true;
  $('#jobs').hidden = false;
  $('#forget').hidden = false;
  if (initial) show(initial);
  schedule(initial ? POLL_MS : 0);
}
function pressFilter() {
  for (const b of document.querySelectorAll('[data-filter]')) b.setAttribute('aria-pressed', String(b.dataset.filter === view.filter));
}
for (const button of document.querySelectorAll('[data-filter]')) {
  button.addEventListener('click', () => {
    view.filter = button.dataset.filter;
    view.cursors = [undefined];
    pressFilter();
    const address = new URL(location.href);
    if (view.filter === 'all') address.searchParams.delete('status');
    else address.searchParams.set('status', view.filter);
    history.replaceState(null, '', address);
    refresh();
  });
}
pressFilter();
tid(document, 'page-next').addEventListener('click', () => {
  if (!view.next) return;
  view.cursors.push(view.next);
  refresh();
});
tid(document, 'page-prev').addEventListener('click', () => {
  if (view.cursors.length > 1) view.cursors.pop();
  refresh();
});
/** Fetch the list now (filter or page changed), then go on polling. */
function refresh() {
  for (const b of document.querySelectorAll('.pager button')) b.disabled = true;
  schedule(0);
}
function show(data) {
  // A page left empty (its jobs changed status or were removed) falls back to the first page.
  if (data.jobs.length === 0 && view.cursors.length > 1) {
    view.cursors = [undefined];
    schedule(0);
    return;
  }
  view.next = data.next;
  view.total = data.total;
  render(data.jobs);
  const first = (view.cursors.length - 1) * PAGE_SIZE;
  tid(document, 'page-info').textContent = data.total === 0 ? '' : `Jobs ${num(first + 1)}\u2013${num(first + data.jobs.length)} of ${num(data.total)}`;
  tid(document, 'page-prev').disabled = view.cursors.length <= 1;
  tid(document, 'page-next').disabled = !data.next;
  const counts = data.counts || {};
  for (const button of document.querySelectorAll('[data-filter]')) {
    const statuses = FILTERS[button.dataset.filter];
    const n = statuses.length ? statuses.reduce((sum, st) => sum + (counts[st] || 0), 0) : Object.values(counts).reduce((a, b) => a + b, 0);
    button.querySelector('.n').textContent = `(${num(n)})`;
  }
  const anyJob = Object.values(counts).some((n) => n > 0);
  const empty = $('#empty');
  empty.hidden = data.jobs.length > 0;
  if (data.jobs.length === 0) {
    empty.textContent = anyJob ? 'No job matches this filter.' : '';
    if (!anyJob) empty.append('No jobs yet. Start one with ', el('code', 'npx p2m migrate --source-index NAME --collection NAME'), '.');
  }
}
function schedule(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, ms);
}
async function poll() {
  if (!token) return;
  try {
    const data = await api('GET', listPath());
    show(data);
    setConnection(`Updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (err.status === 401) return;
    setConnection(`Controller unreachable (${err.message}); retrying\u2026`, true);
  }
  if (token) schedule(POLL_MS);
}

function render(jobs) {
  const list = $('#job-list');
  const sorted = [...jobs].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  const seen = new Set();
  sorted.forEach((job, i) => {
    seen.add(job.id);
    let card = cards.get(job.id);
    if (!card) {
      card = createCard(job.id);
      cards.set(job.id, card);
    }
    updateCard(card, job);
    // Move only when out of place, so a button under the pointer is not pulled away between clicks.
    if (list.children[i] !== card.root) list.insertBefore(card.root, list.children[i] || null);
  });
  for (const [id, card] of cards)
    if (!seen.has(id)) {
      card.root.remove();
      cards.delete(id);
    }
}

// ------------------------------------------------------------------ start
if (token) startJobs(null);
else showLogin('');
