// The services page: every service with its state and live numbers (GET
// /v1/services and GET /v1/stats, polled), and a form that deploys a new
// one (POST /v1/images, then POST /v1/services).
import { call, upload } from './api.js';
import { h, fill, badge, fmtMs, fmtRate, fmtCount } from './dom.js';

const COLUMNS = ['Service', 'Status', 'Generation', 'Instances', 'Req/s', 'p50', 'p99',
                 'Requests', 'Cold starts', 'Errors'];

function row(s, st) {
  const last = st?.last;
  return h('tr', { 'data-service': s.name },
    h('th', { scope: 'row' }, h('a', { href: `#/s/${encodeURIComponent(s.name)}` }, s.name)),
    h('td', {}, badge(s.status)),
    h('td', { class: 'num' }, s.generation),
    h('td', { class: 'num', 'data-field': 'instances' }, s.instances),
    h('td', { class: 'num', 'data-field': 'rps' }, fmtRate(last?.requests_per_s)),
    h('td', { class: 'num' }, fmtMs(last?.p50_ms)),
    h('td', { class: 'num' }, fmtMs(last?.p99_ms)),
    h('td', { class: 'num', 'data-field': 'requests' }, fmtCount(st?.requests_total ?? 0)),
    h('td', { class: 'num' }, fmtCount(st?.cold_starts_total ?? 0)),
    h('td', { class: `num${st?.errors_total ? ' bad' : ''}` }, fmtCount(st?.errors_total ?? 0)));
}

function newServiceForm(onDeployed) {
  const status = h('p', { class: 'muted', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h('form', { class: 'grid-form', novalidate: true },
    h('label', { for: 'new-name' }, 'Name'),
    h('input', { id: 'new-name', name: 'name', required: true, placeholder: 'hello',
                 autocomplete: 'off', spellcheck: 'false' }),
    h('label', { for: 'new-program' }, 'Program (static x86-64 Linux executable)'),
    h('input', { id: 'new-program', name: 'program', type: 'file', required: true }),
    h('label', { for: 'new-port' }, 'Port it listens on'),
    h('input', { id: 'new-port', name: 'port', type: 'number', value: '8080', inputmode: 'numeric' }),
    h('label', { for: 'new-memory' }, 'Memory (MiB)'),
    h('input', { id: 'new-memory', name: 'memory', type: 'number', value: '64', inputmode: 'numeric' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'new-deploy' }, 'Deploy')),
    status, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const field = (id) => form.querySelector(`#new-${id}`);
    const file = field('program').files[0];
    const name = field('name').value.trim();
    if (!name || !file) {
      fill(error, 'A name and a program are needed.');
      error.hidden = false;
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      fill(status, `Uploading ${file.name}…`);
      const image = await upload(file);
      fill(status, 'Deploying: emberd boots the program once and snapshots it…');
      await call('POST', '/v1/services', { json: {
        name, image, port: Number(field('port').value), memory_mb: Number(field('memory').value),
      } });
      fill(status, `Deployed ${name}.`);
      form.reset();
      onDeployed(name);
    } catch (e) {
      fill(status);
      fill(error, String(e));
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// Renders into view; returns a function that stops its polling.
export function servicesPage(view, report) {
  const body = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true }, 'No services yet: deploy one below.');
  const updated = h('p', { class: 'muted small', 'aria-live': 'off' });
  fill(view,
    h('h1', {}, 'Services'),
    h('div', { class: 'table-wrap', tabindex: '0', 'aria-label': 'Services table' },
      h('table', { id: 'services' },
        h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col' }, c)))), body)),
    empty, updated,
    h('section', { class: 'card' }, h('h2', {}, 'Deploy a new service'),
      newServiceForm((name) => { location.hash = `#/s/${encodeURIComponent(name)}`; })));
  let timer = 0;
  let stopped = false;
  const refresh = async () => {
    try {
      const [list, stats] = await Promise.all([call('GET', '/v1/services'), call('GET', '/v1/stats')]);
      if (stopped) return;
      const byName = new Map(stats.services.map((s) => [s.name, s]));
      fill(body, list.services.map((s) => row(s, byName.get(s.name))));
      empty.hidden = list.services.length > 0;
      fill(updated, `Updated ${new Date().toLocaleTimeString('en-GB')}; rates and latencies over the last ${stats.interval_s} s.`);
      report(null);
    } catch (e) {
      if (!stopped) report(e);
    }
    if (!stopped) timer = setTimeout(refresh, 2000);
  };
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
