// The Jobs page's script, part: one card per job, its details, errors and report. page/index.ts joins the parts into one inline script
// inside one function scope (declarations here are seen by the other parts); no build step.
function createCard(id) {
  const root = $('#job-template').content.firstElementChild.cloneNode(true);
  root.dataset.jobId = id;
  const card = { id, root, job: null, open: false, errors: [], next: null, total: 0, pagedFurther: false, errorsAt: 0, loadingErrors: false };
  tid(root, 'job-cancel').addEventListener('click', () => act(card, 'cancel'));
  tid(root, 'job-resume').addEventListener('click', () => act(card, 'resume'));
  tid(root, 'job-details-toggle').addEventListener('click', () => toggleDetails(card));
  tid(root, 'job-errors-more').addEventListener('click', () => loadErrors(card, true));
  return card;
}

/**
 * The lag; while Kafka does not answer (offsets older than the view by 5 s or more), how long,
 * since the loaded counts shown are then those of that time; before Kafka first answered, unknown.
 */
function lagText(job) {
  const p = job.progress;
  if (!ACTIVE.has(job.status)) return num(p.consumerLag);
  if (p.offsetsAt === null) return 'unknown';
  const age = p.offsetsAt ? (Date.parse(p.updatedAt) - Date.parse(p.offsetsAt)) / 1000 : 0;
  return age >= 5 ? `${num(p.consumerLag)} (Kafka not answering for ${duration(age)}: loaded as of then)` : num(p.consumerLag);
}

async function act(card, action) {
  const button = tid(card.root, action === 'cancel' ? 'job-cancel' : 'job-resume');
  button.disabled = true;
  tid(card.root, 'job-action-error').textContent = '';
  try {
    const job = await api('POST', `/v1/jobs/${encodeURIComponent(card.id)}/${action}`);
    updateCard(card, job);
  } catch (err) {
    if (err.status !== 401) tid(card.root, 'job-action-error').textContent = `${action} failed: ${err.message}${err.hint ? ` \u2014 ${err.hint}` : ''}`;
  } finally {
    button.disabled = false;
  }
}

function toggleDetails(card) {
  card.open = !card.open;
  tid(card.root, 'job-details').hidden = !card.open;
  const toggle = tid(card.root, 'job-details-toggle');
  toggle.textContent = card.open ? 'Hide details' : 'View details';
  toggle.setAttribute('aria-expanded', String(card.open));
  if (card.open) {
    card.pagedFurther = false;
    void loadErrors(card, false);
  }
}

async function loadErrors(card, more) {
  if (card.loadingErrors) return;
  card.loadingErrors = true;
  try {
    const q = new URLSearchParams({ limit: String(ERRORS_PAGE) });
    if (more && card.next) q.set('cursor', card.next);
    const page = await api('GET', `/v1/jobs/${encodeURIComponent(card.id)}/errors?${q}`);
    card.errors = more ? card.errors.concat(page.entries) : page.entries;
    card.next = page.next;
    card.total = page.total;
    card.pagedFurther = card.pagedFurther || more;
    card.errorsAt = Date.now();
    renderErrors(card);
  } catch (err) {
    if (err.status !== 401) tid(card.root, 'job-errors-total').textContent = `Could not load the error log: ${err.message}`;
  } finally {
    card.loadingErrors = false;
  }
}

function renderErrors(card) {
  const body = tid(card.root, 'job-errors').tBodies[0];
  body.replaceChildren(
    ...card.errors.map((e) =>
      row(
        [{ text: nsName(e.namespace), cls: 'text' }, { text: e.id, cls: 'text' }, { text: e.code }, { text: e.reason, cls: 'text' }, { text: when(e.at) }],
        'error-row',
      ),
    ),
  );
  tid(card.root, 'job-errors-total').textContent =
    card.total === 0
      ? 'No record went to the dead-letter queue.'
      : `Showing ${num(card.errors.length)} of ${num(card.total)} records in the dead-letter queue.`;
  tid(card.root, 'job-errors-more').hidden = !card.next;
}

function updateCard(card, job) {
  const r = card.root;
  const p = job.progress;
  const t = p.total;
  card.job = job;
  r.dataset.status = job.status;
  r.className = `card job ${job.status}`;
  tid(r, 'job-collection').textContent = job.target.collection;
  const badge = tid(r, 'job-status');
  badge.textContent = statusLabel(job.status);
  badge.className = `badge ${job.status}`;
  tid(r, 'job-id').textContent = job.id;
  const replay = job.mode === 'replay' ? ` (replay of ${job.topicJobId})` : '';
  tid(r, 'job-route').textContent =
    `Pinecone ${job.source.index} \u2192 Milvus ${job.target.address} / ${job.target.collection}${replay} \u00b7 created ${when(job.createdAt)}`;

  const total = t.sourceCount;
  const done = t.loaded + t.failed;
  const pct = total > 0 ? Math.min(100, (done / total) * 100) : job.status === 'SUCCESSFUL' ? 100 : 0;
  const share = (n) => (total > 0 ? Math.min(100, (n / total) * 100) : 0);
  const bar = tid(r, 'job-progress');
  bar.setAttribute('aria-valuenow', pct.toFixed(1));
  bar.querySelector('.extracted').style.width = `${share(t.extracted)}%`;
  bar.querySelector('.loaded').style.width = `${job.status === 'SUCCESSFUL' && total === 0 ? 100 : share(t.loaded)}%`;
  const failed = bar.querySelector('.failed');
  failed.style.left = `${share(t.loaded)}%`;
  failed.style.width = `${share(t.failed)}%`;
  tid(r, 'job-progress-text').textContent = `${num(t.loaded)} / ${num(total)} loaded (${pct.toFixed(1)}%)`;
  tid(r, 'job-rate').textContent = ACTIVE.has(job.status) ? `${num(p.recordsPerSecond)} rec/s` : '\u2014';
  tid(r, 'job-eta').textContent = ACTIVE.has(job.status) ? duration(p.etaSeconds) : '\u2014';
  tid(r, 'job-lag').textContent = lagText(job);
  tid(r, 'job-failed').textContent = num(t.failed);

  tid(r, 'job-cancel').hidden = !ACTIVE.has(job.status) || job.status === 'CANCELLING';
  tid(r, 'job-resume').hidden = !RESUMABLE.has(job.status);

  tid(r, 'job-namespaces').tBodies[0].replaceChildren(
    ...p.namespaces.map((ns) => {
      const state = extraction(job, ns);
      const tr = row(
        [
          { text: nsName(ns.namespace), cls: 'text' },
          { text: num(ns.sourceCount) },
          { text: num(ns.extracted) },
          { text: num(ns.loaded) },
          { text: num(ns.failed) },
          { text: state.text, cls: state.cls },
        ],
        'namespace-row',
      );
      tr.dataset.namespace = ns.namespace;
      return tr;
    }),
  );

  renderStopped(r, job);
  renderVerification(r, job.status === 'VERIFYING' ? p.verification : undefined);
  renderJobError(r, job.error);
  renderReport(r, job.report, job.status);
  if (card.open && !card.pagedFurther && Date.now() - card.errorsAt > ERRORS_POLL_MS) void loadErrors(card, false);
}

// While VERIFYING: the phase, how far reconciliation is, its ETA, and the phases already done.
function renderVerification(r, v) {
  const box = tid(r, 'job-verification');
  box.hidden = !v;
  if (!v) return;
  let text = `Verifying: ${v.phase}`;
  if (v.phase === 'reconcile')
    text += ` \u2014 ${num(v.recordsChecked)} / ${num(v.recordsTotal)} log records checked, ${num(v.namespacesDone)} / ${num(v.namespaces)} namespaces`;
  if (v.phase === 'unexpected') text += ` \u2014 ${num(v.bucketsDone)} / ${num(v.buckets)} buckets`;
  if (v.etaSeconds !== null) text += `, ETA ${duration(v.etaSeconds)}`;
  const done = v.phases.filter((t) => t.done).map((t) => `${t.phase} ${duration(t.seconds)}`);
  if (done.length) text += ` (done: ${done.join(', ')})`;
  box.textContent = text;
}

/**
 * Where the extractor failed, from the job error's `at` ("namespace docs, page 12"; the default
 * namespace is named as Pinecone names it, `__default__`).
 */
function failedAt(job) {
  const m = job.error && job.error.at && /^namespace (.*), page (\d+)$/.exec(job.error.at);
  if (!m) return null;
  return { namespace: m[1] === '__default__' || m[1] === '(default)' ? '' : m[1], page: Number(m[2]) };
}

/** A namespace's extraction as it is, not as it would be if the job still ran. */
function extraction(job, ns) {
  if (ns.extractionDone) return { text: 'done' };
  if (job.status === 'PENDING') return { text: 'waiting' };
  if (job.status === 'IN_PROGRESS' || job.status === 'VERIFYING') return { text: 'running' };
  if (job.status === 'CANCELLING') return { text: 'stopping', cls: 'state-stopped' };
  const at = failedAt(job);
  if (job.status === 'FAILED' && at && at.namespace === ns.namespace) {
    return { text: `failed at page ${num(at.page)}, ${num(ns.extracted)} of ${num(ns.sourceCount)} extracted`, cls: 'state-failed' };
  }
  return { text: `stopped at ${num(ns.extracted)} of ${num(ns.sourceCount)}`, cls: 'state-stopped' };
}

/** On the card itself: why a job that is not running stopped, and where. */
function renderStopped(r, job) {
  const box = tid(r, 'job-stopped');
  box.className = `job-stopped ${job.status}`;
  box.replaceChildren();
  if (job.status === 'FAILED') {
    const e = job.error;
    box.append(el('b', 'Failed'), document.createTextNode(e ? `${e.at ? ` at ${e.at}` : ''}: ${e.code}: ${e.message}` : ': no error was recorded'));
  } else if (job.status === 'CANCELLED' || job.status === 'CANCELLING') {
    const t = job.progress.total;
    box.append(
      el('b', job.status === 'CANCELLED' ? 'Cancelled' : 'Cancelling'),
      document.createTextNode(` at ${num(t.extracted)} of ${num(t.sourceCount)} extracted, ${num(t.loaded)} loaded`),
    );
  }
  box.hidden = box.childNodes.length === 0;
}

function renderJobError(r, error) {
  tid(r, 'job-error-section').hidden = !error;
  const box = tid(r, 'job-error');
  box.replaceChildren();
  if (!error) return;
  box.append(el('b', error.code), document.createTextNode(`: ${error.message}`));
  if (error.at) box.append(el('div', `Stopped at ${error.at}`));
}

function renderReport(r, report, status) {
  const box = tid(r, 'job-report');
  box.replaceChildren();
  if (!report) {
    box.append(el('p', status === 'VERIFYING' ? 'Verifying\u2026' : 'Not verified yet: the report comes when the job finishes.', 'muted'));
    return;
  }
  box.append(
    el(
      'p',
      report.passed ? `Passed (checked ${when(report.checkedAt)})` : `Did not pass (checked ${when(report.checkedAt)})`,
      `report ${report.passed ? 'passed' : 'failed'}`,
    ),
  );
  const table = el('table');
  table.dataset.testid = 'report-namespaces';
  const head = document.createElement('tr');
  for (const h of ['Namespace', 'Source', 'Extracted', 'In target', 'In DLQ', 'Missing', 'OK']) head.append(el('th', h));
  table.append(el('thead'));
  table.tHead.append(head);
  const body = document.createElement('tbody');
  for (const ns of report.namespaces) {
    body.append(
      row(
        [
          { text: nsName(ns.namespace), cls: 'text' },
          { text: num(ns.sourceCount) },
          { text: num(ns.extracted) },
          { text: num(ns.targetCount) },
          { text: num(ns.dlq) },
          { text: num(ns.missing) },
          { text: ns.ok ? 'yes' : 'no' },
        ],
        'report-namespace-row',
      ),
    );
  }
  table.append(body);
  box.append(table);
  const s = report.sample;
  box.append(
    el(
      'p',
      `Sampled ${num(s.compared)} of ${num(s.size)} records field by field: ${s.mismatches.length === 0 ? 'no mismatch' : `${num(s.mismatches.length)} mismatches`}.`,
    ),
  );
  if (s.mismatches.length) {
    const ul = el('ul');
    for (const m of s.mismatches.slice(0, 20)) ul.append(el('li', `${nsName(m.namespace)} / ${m.id}: ${m.field} \u2014 ${m.reason}`));
    box.append(ul);
  }
  if (report.problems.length) {
    const ul = el('ul');
    ul.dataset.testid = 'report-problems';
    for (const problem of report.problems) ul.append(el('li', problem));
    box.append(ul);
  }
  const rec = report.reconciliation;
  if (rec)
    box.append(
      el('p', `Reconciled ${num(rec.logRecords)} log records (${num(rec.distinctRecords)} distinct) against ${num(rec.targetRows)} target rows.`, 'muted'),
    );
  if (report.phases && report.phases.length) box.append(el('p', `Took ${report.phases.map((t) => `${t.phase} ${duration(t.seconds)}`).join(', ')}.`, 'muted'));
  for (const advice of report.advice || []) box.append(el('p', advice));
}
