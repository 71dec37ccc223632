// The console's shell: sign-in with the API token, the error banner, and
// the hash routes #/ (services) and #/s/<name> (one service).
import { call, token, setToken, clearToken, onUnauthorized } from './api.js';
import { $, fill } from './dom.js';
import { servicesPage } from './services.js';
import { servicePage } from './service.js';

let stopView = () => {};

// Shows an API error in the banner (null clears it). Every failed call the
// pages make ends up here or next to the form that made it.
function report(err) {
  const banner = $('#banner');
  if (!err) {
    banner.hidden = true;
    return;
  }
  if (err.status === 401) return; // the sign-in page says it
  fill($('#banner-text'), String(err));
  banner.hidden = false;
}

function showLogin(message) {
  stopView();
  stopView = () => {};
  fill($('#view'));
  $('#banner').hidden = true;
  $('#logout').hidden = true;
  fill($('#node-info'));
  $('#login').hidden = false;
  const error = $('#login-error');
  error.hidden = !message;
  fill(error, message || '');
  $('#token').value = '';
  $('#token').focus();
}

function route() {
  if (!token()) return showLogin();
  stopView();
  $('#login').hidden = true;
  $('#logout').hidden = false;
  const view = $('#view');
  const m = location.hash.match(/^#\/s\/([^/]+)$/);
  if (m) {
    const name = decodeURIComponent(m[1]);
    document.title = `${name} · Ember console`;
    stopView = servicePage(view, name, report);
  } else {
    document.title = 'Services · Ember console';
    stopView = servicesPage(view, report);
  }
  $('#main').focus({ preventScroll: true });
}

async function showNodeInfo() {
  const info = await call('GET', '/v1/info');
  fill($('#node-info'), `emberd ${info.version} · gateway ${info.gateway}`);
}

async function signIn(ev) {
  ev.preventDefault();
  const candidate = $('#token').value.trim();
  const error = $('#login-error');
  if (!candidate) {
    fill(error, 'Enter the API token.');
    error.hidden = false;
    return;
  }
  $('#login-submit').disabled = true;
  try {
    // Checked before it is kept: a wrong token never reaches the pages.
    await call('GET', '/v1/info', { auth: candidate });
    setToken(candidate);
    await showNodeInfo();
    route();
  } catch (e) {
    fill(error, e.status === 401
      ? 'Wrong token: emberd refused it (401). Copy it again from <data-dir>/token on the node.'
      : `Cannot sign in: ${e}`);
    error.hidden = false;
  } finally {
    $('#login-submit').disabled = false;
  }
}

onUnauthorized(() => {
  clearToken();
  showLogin('emberd refused the token (401): it changed or emberd was reinstalled. Sign in again.');
});

$('#login-form').addEventListener('submit', signIn);
$('#logout').addEventListener('click', () => { clearToken(); showLogin(); });
$('#banner-close').addEventListener('click', () => { $('#banner').hidden = true; });
window.addEventListener('hashchange', route);
if (token()) showNodeInfo().then(route, (e) => { if (e.status !== 401) { report(e); route(); } });
else showLogin();
