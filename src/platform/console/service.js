// One service's page: live numbers, charts of the last hour (GET
// .../stats), instances, settings (PATCH), a new program (upload, then PUT),
// the log as it is written (GET .../logs?follow=true) and removal.
import { call, svcPath, upload, followLogs } from './api.js';
import { h, fill, badge, fmtMs, fmtRate, fmtCount, fmtBytes, fmtAge } from './dom.js';
import { drawChart } from './charts.js';

// The runtime settings a PATCH changes, as the API names them.
const SETTINGS = [
  ['min_instances', 'Minimum instances (kept warm)'],
  ['max_instances', 'Maximum instances'],
  ['concurrency', 'Requests per instance at once'],
  ['spare_instances', 'Spare instances (per-request isolation)'],
  ['idle_timeout_ms', 'Idle timeout (ms)'],
  ['timeout_ms', 'Request timeout (ms)'],
  ['queue_size', 'Queue size'],
  ['queue_timeout_ms', 'Queue timeout (ms)'],
];
const SPEC = ['image', 'program', 'port', 'memory_mb', 'args', 'env', 'files', 'egress',
              'snapshot', 'url'];
const MAX_LOG_CHARS = 200000;

function stat(label, id) {
  return h('div', { class: 'stat' }, h('dt', {}, label), h('dd', { id }, '–'));
}

function settingsForm(name, report, onSaved) {
  const msg = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const fields = SETTINGS.map(([key, label]) => [
    h('label', { for: `set-${key}` }, label),
    h('input', { id: `set-${key}`, name: key, type: 'number', inputmode: 'numeric' })]);
  const isolation = h('select', { id: 'set-isolation', name: 'isolation' },
    h('option', { value: 'instance' }, 'instance (an instance serves many requests)'),
    h('option', { value: 'request' }, 'request (a fresh instance per request)'));
  const form = h('form', { class: 'grid-form', novalidate: true, id: 'settings-form' }, fields,
    h('label', { for: 'set-isolation' }, 'Isolation'), isolation,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'settings-save' }, 'Save settings')),
    msg, error);
  let current = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const patch = {};
    for (const [key] of SETTINGS) {
      const raw = form.querySelector(`#set-${key}`).value.trim();
      // Sent as typed: emberd says what is wrong with a value.
      const v = raw === '' ? raw : Number(raw);
      if (current && v === current[key]) continue;
      patch[key] = v;
    }
    if (!current || isolation.value !== current.isolation) patch.isolation = isolation.value;
    if (!Object.keys(patch).length) { fill(msg, 'Nothing changed.'); return; }
    try {
      const svc = await call('PATCH', svcPath(name), { json: patch });
      fill(msg, `Saved: ${Object.keys(patch).join(', ')}.`);
      onSaved(svc);
    } catch (e) {
      fill(msg);
      fill(error, String(e));
      error.hidden = false;
      report(null);
    }
  });
  form.load = (svc) => {
    current = svc;
    for (const [key] of SETTINGS) form.querySelector(`#set-${key}`).value = svc[key] ?? '';
    isolation.value = svc.isolation || 'instance';
  };
  return form;
}

function deployForm(name, getService, onDeployed) {
  const msg = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const file = h('input', { id: 'deploy-file', type: 'file', required: true });
  const form = h('form', { class: 'grid-form', novalidate: true, id: 'deploy-form' },
    h('label', { for: 'deploy-file' }, 'New program'), file,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'deploy-submit' }, 'Upload and deploy')),
    msg, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!file.files[0]) { fill(error, 'Choose a program first.'); error.hidden = false; return; }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      fill(msg, `Uploading ${file.files[0].name}…`);
      const image = await upload(file.files[0]);
      fill(msg, 'Deploying: the new generation is prepared while the old one serves…');
      // A GET result is a valid PUT body: read-only fields are ignored.
      const svc = await call('PUT', svcPath(name), { json: { ...getService(), image } });
      fill(msg, `Deployed generation ${svc.generation}.`);
      form.reset();
      onDeployed(svc);
    } catch (e) {
      fill(msg);
      fill(error, String(e));
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function removeDialog(name, report) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const dialog = h('dialog', { id: 'remove-dialog', 'aria-labelledby': 'remove-title' },
    h('h2', { id: 'remove-title' }, `Remove ${name}?`),
    h('p', {}, 'Its instances stop, queued requests get 404, and its settings and snapshot are deleted. This cannot be undone.'),
    error,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', id: 'remove-cancel', onclick: () => dialog.close() }, 'Cancel'),
      h('button', { type: 'button', class: 'danger', id: 'remove-confirm', onclick: async () => {
        try {
          await call('DELETE', svcPath(name));
          dialog.close();
          location.hash = '#/';
        } catch (e) {
          fill(error, String(e));
          error.hidden = false;
          report(null);
        }
      } }, 'Remove')));
  return dialog;
}

function instancesTable(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No instances: the service is in standby and starts one at the next request.');
  return h('div', { class: 'table-wrap', tabindex: '0', 'aria-label': 'Instances table' },
    h('table', { id: 'instances' },
      h('thead', {}, h('tr', {}, ['Instance', 'State', 'Generation', 'Age', 'Memory written',
        'Guest memory', 'Requests served', 'Restore'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.map((i) => h('tr', {},
        h('th', { scope: 'row' }, i.id), h('td', {}, badge(i.state)),
        h('td', { class: 'num' }, i.generation), h('td', { class: 'num' }, fmtAge(i.age_s)),
        h('td', { class: 'num' }, fmtBytes(i.private_memory_bytes)),
        h('td', { class: 'num' }, fmtBytes(i.memory_bytes)),
        h('td', { class: 'num' }, fmtCount(i.requests_served)),
        h('td', { class: 'num' }, fmtMs(i.restore_ms)))))));
}

function specList(svc) {
  return h('dl', { class: 'spec' }, SPEC.filter((k) => svc[k] !== undefined).map((k) => {
    const v = svc[k];
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return [h('dt', {}, k), h('dd', {}, k === 'url' ? h('a', { href: v, rel: 'noreferrer' }, v) : text)];
  }));
}

function charts(hosts, data) {
  const pts = data.points;
  const now = Date.now();
  const first = pts.length ? pts[0].t - pts[0].seconds * 1000 : now - data.interval_s * 1000;
  const base = { t0: Math.max(first, now - data.retention_s * 1000), t1: now,
                 gapMs: data.interval_s * 2500 };
  const series = (name, key) => ({ name, values: pts.map((p) => [p.t, p[key]]) });
  drawChart(hosts.requests, { ...base, title: 'Requests per second', format: fmtRate,
    series: [series('requests/s', 'requests_per_s'),
             { name: 'errors/s', values: pts.map((p) => [p.t, p.seconds ? p.errors / p.seconds : null]) }] });
  drawChart(hosts.latency, { ...base, title: 'Latency (Server-Timing stages: mean per request)',
    format: fmtMs, series: [series('p50', 'p50_ms'), series('p99', 'p99_ms'), series('queue', 'queue_ms'),
                            series('restore', 'restore_ms'), series('app', 'app_ms')] });
  drawChart(hosts.instances, { ...base, title: 'Instances', format: (v) => fmtCount(v), integer: true,
    series: [series('instances', 'instances')] });
}

// Renders into view; returns a function that stops its polling and log stream.
export function servicePage(view, name, report) {
  const title = h('h1', {}, name);
  const state = h('span', { id: 'svc-state' });
  const hosts = { requests: h('div', { class: 'chart-box', id: 'chart-requests' }),
                  latency: h('div', { class: 'chart-box', id: 'chart-latency' }),
                  instances: h('div', { class: 'chart-box', id: 'chart-instances' }) };
  const instances = h('div', { id: 'instances-box' });
  const spec = h('div', { id: 'spec-box' });
  const log = h('pre', { id: 'log', class: 'log', role: 'log', tabindex: '0', 'aria-label': 'Log' });
  const logNote = h('p', { class: 'muted small', id: 'log-note' });
  let service = null;
  let series = null;
  const settings = settingsForm(name, report, (svc) => { service = svc; settings.load(svc); });
  const dialog = removeDialog(name, report);
  fill(view,
    h('p', {}, h('a', { href: '#/' }, '← All services')),
    h('div', { class: 'title-row' }, title, state),
    h('dl', { class: 'stats' }, stat('Requests/s', 'st-rps'), stat('p50', 'st-p50'),
      stat('p99', 'st-p99'), stat('Requests', 'st-requests'), stat('Cold starts', 'st-cold'),
      stat('Errors', 'st-errors'), stat('Instances', 'st-instances')),
    h('section', { class: 'charts', 'aria-label': 'Charts' }, hosts.requests, hosts.latency, hosts.instances),
    h('section', { class: 'card' }, h('h2', {}, 'Instances'), instances),
    h('section', { class: 'card' }, h('h2', {}, 'Log'), log, logNote),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Settings'), settings),
      h('section', { class: 'card' }, h('h2', {}, 'Program'), spec,
        deployForm(name, () => service, (svc) => { service = svc; fill(spec, specList(svc)); }))),
    h('section', { class: 'card danger-zone' }, h('h2', {}, 'Remove'),
      h('button', { type: 'button', class: 'danger', id: 'remove', onclick: () => dialog.showModal() }, `Remove ${name}…`)),
    dialog);

  let stopped = false;
  let timer = 0;
  let tick = 0;
  const refresh = async () => {
    try {
      const [svc, inst, stats] = await Promise.all([
        call('GET', svcPath(name)), call('GET', svcPath(name, '/instances')), call('GET', '/v1/stats')]);
      if (stopped) return;
      if (!service) settings.load(svc);
      service = svc;
      fill(state, badge(svc.status), ` generation ${svc.generation}`,
        svc.error ? h('span', { class: 'error' }, ` ${svc.error}`) : null);
      fill(spec, specList(svc));
      fill(instances, instancesTable(inst.instances));
      const st = stats.services.find((s) => s.name === name);
      const last = st?.last;
      const set = (id, text) => { document.getElementById(id).textContent = text; };
      set('st-rps', fmtRate(last?.requests_per_s));
      set('st-p50', fmtMs(last?.p50_ms));
      set('st-p99', fmtMs(last?.p99_ms));
      set('st-requests', fmtCount(st?.requests_total ?? 0));
      set('st-cold', fmtCount(st?.cold_starts_total ?? 0));
      set('st-errors', fmtCount(st?.errors_total ?? 0));
      set('st-instances', fmtCount(svc.instances));
      if (tick++ % 3 === 0 || !series) {
        series = await call('GET', svcPath(name, '/stats'));
        if (!stopped) charts(hosts, series);
      }
      report(null);
    } catch (e) {
      if (stopped) return;
      report(e);
      if (e.status === 404) return; // removed elsewhere: nothing more to poll
    }
    if (!stopped) timer = setTimeout(refresh, 2000);
  };
  refresh();

  const onResize = () => { if (series) charts(hosts, series); };
  window.addEventListener('resize', onResize);

  const abort = new AbortController();
  const stream = async () => {
    while (!stopped) {
      log.textContent = '';
      fill(logNote, 'Following the log as it is written.');
      try {
        await followLogs(name, (text) => {
          const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.append(text);
          if (log.textContent.length > MAX_LOG_CHARS) log.textContent = log.textContent.slice(-MAX_LOG_CHARS / 2);
          if (atEnd) log.scrollTop = log.scrollHeight;
        }, abort.signal);
        fill(logNote, 'The log stream ended; reconnecting…');
      } catch (e) {
        if (stopped) return;
        fill(logNote, `The log stream failed: ${e}; reconnecting…`);
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
  };
  stream();

  return () => {
    stopped = true;
    clearTimeout(timer);
    abort.abort();
    window.removeEventListener('resize', onResize);
  };
}
