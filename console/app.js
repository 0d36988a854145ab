// dnsd's web console: a single page over dnsd's own Nacos Open API (no framework, nothing
// fetched from elsewhere). Hash routes: #/services, #/service/<name>, #/configs,
// #/config/<group>/<dataId>, #/dns, #/namespaces, #/cluster, #/dashboard, #/login. Errors from the server are
// shown in the red bar, never swallowed.
'use strict';

const state = { namespace: sessionStorage.getItem('dnsd.namespace') || 'public',
                token: sessionStorage.getItem('dnsd.token') || '', authEnabled: false };
const view = document.getElementById('view');

function esc(text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function showError(message) {
  const bar = document.getElementById('error');
  bar.textContent = message;
  bar.hidden = false;
}

function clearError() { document.getElementById('error').hidden = true; }

// One API call: parameters in the query for GET/DELETE, in a form body otherwise. Throws an
// Error carrying the server's own message when the answer is not 200.
async function api(method, path, params = {}) {
  const query = new URLSearchParams(params);
  if (state.token) query.set('accessToken', state.token);
  const reads = method === 'GET' || method === 'DELETE';
  const response = await fetch(reads ? `${path}?${query}` : path, {
    method, body: reads ? undefined : query,
    headers: reads ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const text = await response.text();
  if (response.status === 403 && state.authEnabled && !path.includes('/auth/')) {
    state.token = '';
    sessionStorage.removeItem('dnsd.token');
  }
  if (!response.ok) {
    let message = text;
    try {
      const body = JSON.parse(text);
      message = [body.message, typeof body.data === 'string' ? body.data : ''].filter(Boolean).join(': ');
    } catch (e) { /* a plain-text reason */ }
    throw new Error(`${method} ${path}: ${response.status} ${message}`);
  }
  return text;
}

async function apiJson(method, path, params) { return JSON.parse(await api(method, path, params)); }

const tenant = () => (state.namespace === 'public' ? '' : state.namespace);

// ---------------------------------------------------------------- services

async function servicesView() {
  const filter = sessionStorage.getItem('dnsd.serviceFilter') || '';
  const group = sessionStorage.getItem('dnsd.serviceGroup') || 'DEFAULT_GROUP';
  const pageNo = Number(sessionStorage.getItem('dnsd.servicePage') || 1);
  const pageSize = 50;
  const page = await apiJson('GET', '/nacos/v1/ns/service/list',
    { namespaceId: state.namespace, groupName: group, pageNo, pageSize });
  const names = page.doms.filter(n => n.includes(filter));
  const rows = await Promise.all(names.map(async name => {
    const list = await apiJson('GET', '/nacos/v1/ns/instance/list',
      { namespaceId: state.namespace, groupName: group, serviceName: name });
    const healthy = list.hosts.filter(h => h.healthy && h.enabled).length;
    const link = group === 'DEFAULT_GROUP' ? name : `${group}@@${name}`;
    return `<tr><td><a href="#/service/${encodeURIComponent(link)}">${esc(name)}</a></td>
      <td>${list.hosts.length}</td><td class="${healthy ? 'ok' : 'bad'}">${healthy}</td>
      <td>${list.reachProtectionThreshold ? 'reached' : 'no'}</td></tr>`;
  }));
  view.innerHTML = `<h2>Services in ${esc(state.namespace)}</h2>
    <div class="row"><label>Group <input id="service-group" value="${esc(group)}"></label>
    <input id="service-filter" placeholder="filter this page by name" value="${esc(filter)}">
    <button id="service-prev" ${pageNo > 1 ? '' : 'disabled'}>&lt;</button>
    <span class="muted">page ${pageNo} of ${Math.max(1, Math.ceil(page.count / pageSize))}, ${page.count} services</span>
    <button id="service-next" ${pageNo * pageSize < page.count ? '' : 'disabled'}>&gt;</button></div>
    <table id="services"><tr><th>Service</th><th>Instances</th><th>Healthy</th><th>Protect threshold</th></tr>
    ${rows.join('')}</table>`;
  const remember = (key, value) => { sessionStorage.setItem(key, value); route(); };
  document.getElementById('service-filter').addEventListener('change', e => remember('dnsd.serviceFilter', e.target.value));
  document.getElementById('service-group').addEventListener('change', e => {
    sessionStorage.setItem('dnsd.servicePage', 1);
    remember('dnsd.serviceGroup', e.target.value.trim() || 'DEFAULT_GROUP');
  });
  document.getElementById('service-prev').addEventListener('click', () => remember('dnsd.servicePage', pageNo - 1));
  document.getElementById('service-next').addEventListener('click', () => remember('dnsd.servicePage', pageNo + 1));
}

async function serviceView(name) {
  // "group@@service" for services outside DEFAULT_GROUP.
  const [group, svc] = name.includes('@@') ? name.split('@@', 2) : ['DEFAULT_GROUP', name];
  const [list, service, subscribers] = await Promise.all([
    apiJson('GET', '/nacos/v1/ns/instance/list', { namespaceId: state.namespace, groupName: group, serviceName: svc }),
    apiJson('GET', '/nacos/v2/ns/service', { namespaceId: state.namespace, groupName: group, serviceName: svc }),
    apiJson('GET', '/nacos/v1/ns/service/subscribers', { namespaceId: state.namespace, groupName: group, serviceName: svc })]);
  const rows = list.hosts.map((h, i) => `<tr data-ip="${esc(h.ip)}" data-port="${h.port}">
    <td>${esc(h.ip)}:${h.port}</td><td>${esc(h.clusterName)}</td>
    <td class="${h.healthy ? 'ok' : 'bad'}">${h.healthy}</td><td>${h.enabled}</td><td>${h.ephemeral}</td>
    <td><input class="weight" size="5" value="${h.weight}"> <button class="save-weight" data-i="${i}">Save</button></td>
    <td><button class="toggle" data-i="${i}">${h.enabled ? 'Disable' : 'Enable'}</button>
        <button class="deregister" data-i="${i}">Deregister</button></td>
    <td><input class="metadata" size="36" value="${esc(JSON.stringify(h.metadata))}">
        <button class="save-metadata" data-i="${i}">Save</button></td></tr>`);
  const data = service.data;
  view.innerHTML = `<h2>${esc(name)}</h2>
    <p class="muted">group ${esc(data.groupName)}, protect threshold ${data.protectThreshold},
    clusters: ${Object.keys(data.clusterMap || {}).map(esc).join(', ') || 'none'};
    <a id="service-dns-names" href="#/dns/${encodeURIComponent(`${group}@@${svc}`)}">its DNS names</a></p>
    <table id="instances"><tr><th>Instance</th><th>Cluster</th><th>Healthy</th><th>Enabled</th>
    <th>Ephemeral</th><th>Weight</th><th></th><th>Metadata</th></tr>${rows.join('')}</table>
    <h3>Subscribers of this node</h3>
    <table id="subscribers"><tr><th>Address</th><th>Protocol</th><th>Client</th><th>Agent</th><th>App</th><th>Clusters</th></tr>
    ${subscribers.subscribers.map(s => `<tr><td>${esc(s.addrStr || `${s.ip}:${s.port}`)}</td><td>${esc(s.protocol || '')}</td>
      <td>${esc(s.clientId || '')}</td><td>${esc(s.agent || '')}</td><td>${esc(s.app || '')}</td>
      <td>${esc(s.cluster || 'all')}</td></tr>`).join('')}</table>`;
  const update = async (h, changes) => {
    await api('PUT', '/nacos/v1/ns/instance', { namespaceId: state.namespace, groupName: group, serviceName: svc,
      ip: h.ip, port: h.port, clusterName: h.clusterName, ephemeral: h.ephemeral,
      weight: h.weight, enabled: h.enabled, metadata: JSON.stringify(h.metadata), ...changes });
    route();
  };
  view.querySelectorAll('.save-weight').forEach(b => b.addEventListener('click', () => guarded(() => {
    const h = list.hosts[b.dataset.i];
    return update(h, { weight: b.parentElement.querySelector('.weight').value });
  })));
  view.querySelectorAll('.save-metadata').forEach(b => b.addEventListener('click', () => guarded(() => {
    const h = list.hosts[b.dataset.i];
    const text = b.parentElement.querySelector('.metadata').value;
    let metadata;
    try { metadata = JSON.parse(text); } catch (e) { throw new Error(`metadata is not JSON: ${e.message}`); }
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata) ||
        Object.values(metadata).some(v => typeof v !== 'string')) {
      throw new Error('metadata must be a JSON object of string values, e.g. {"version": "v2"}');
    }
    return update(h, { metadata: JSON.stringify(metadata) });
  })));
  view.querySelectorAll('.toggle').forEach(b => b.addEventListener('click', () => guarded(() => {
    const h = list.hosts[b.dataset.i];
    return update(h, { enabled: !h.enabled });
  })));
  view.querySelectorAll('.deregister').forEach(b => b.addEventListener('click', () => guarded(async () => {
    const h = list.hosts[b.dataset.i];
    if (!confirm(`Deregister ${h.ip}:${h.port} from ${name}?`)) return;
    await api('DELETE', '/nacos/v1/ns/instance', { namespaceId: state.namespace, groupName: group, serviceName: svc,
      ip: h.ip, port: h.port, clusterName: h.clusterName, ephemeral: h.ephemeral });
    route();
  })));
}

// ---------------------------------------------------------------- dashboard

// Prometheus text to {"name{labels}": value}.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return out;
}

const sum = (metrics, prefix) => Object.entries(metrics)
  .filter(([k]) => k === prefix || k.startsWith(`${prefix}{`)).reduce((t, [, v]) => t + v, 0);

// A quantile (0..1) of what a histogram observed between two samples, from its cumulative
// `_bucket{...le="x"}` counters, interpolated inside the bucket as Prometheus does; null when
// nothing was observed in between.
function histogramQuantile(metrics, before, name, labels, q) {
  const buckets = Object.keys(metrics).filter(k => k.startsWith(`${name}_bucket{${labels}`))
    .map(k => ({ key: k, le: Number(k.slice(k.lastIndexOf('le="') + 4, -2).replace('+Inf', 'Infinity')) }))
    .sort((a, b) => a.le - b.le)
    .map(b => ({ le: b.le, count: metrics[b.key] - ((before && before[b.key]) || 0) }));
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower;  // beyond the last bound: its lower edge
      return lower + (b.le - lower) * ((rank - below) / Math.max(1, b.count - below));
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

// What the dashboard draws: per-second rates of counters, gauges as they are, or quantiles
// of a histogram over the last interval. `show(m, before, seconds)` gives the value plotted.
const rate = read => (m, before, seconds) => (before ? Math.max(0, (read(m) - read(before)) / seconds) : 0);
const pushLatencyMs = (module, q) => (m, before) => {
  const seconds = histogramQuantile(m, before, 'dnsd_grpc_push_latency_seconds', `module="${module}"`, q);
  return seconds === null ? null : seconds * 1000;
};
const charts = [
  { id: 'http', title: 'HTTP requests/s', show: rate(m => sum(m, 'dnsd_api_http_responses_total')) },
  { id: 'dns-noerror', title: 'DNS NOERROR/s', show: rate(m => m['dnsd_dns_responses_total{rcode="NOERROR"}'] || 0) },
  { id: 'dns-nxdomain', title: 'DNS NXDOMAIN/s', show: rate(m => m['dnsd_dns_responses_total{rcode="NXDOMAIN"}'] || 0) },
  { id: 'dns-servfail', title: 'DNS SERVFAIL/s', show: rate(m => m['dnsd_dns_responses_total{rcode="SERVFAIL"}'] || 0) },
  { id: 'instances', title: 'Instances', integer: true, show: m => m.dnsd_registry_instances || 0 },
  { id: 'changes', title: 'Registry changes/s', show: rate(m => sum(m, 'dnsd_registry_service_changes_total')) },
  { id: 'pushes', title: 'gRPC pushes/s', show: rate(m => sum(m, 'dnsd_grpc_pushes_total')) },
  { id: 'push-latency-p50', title: 'Naming push latency p50 (ms)', show: pushLatencyMs('naming', 0.5) },
  { id: 'push-latency-p99', title: 'Naming push latency p99 (ms)', show: pushLatencyMs('naming', 0.99) },
  { id: 'config-push-latency-p99', title: 'Config push latency p99 (ms)', show: pushLatencyMs('config', 0.99) },
  { id: 'auth-failures', title: 'Auth refusals/s', show: rate(m => sum(m, 'dnsd_auth_failures_total')) },
];

function sparkline(values) {
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => `${(i * 300) / 59},${60 - (v / max) * 56}`).join(' ');
  return `<svg width="300" height="60" viewBox="0 0 300 60"><polyline fill="none" stroke="#2f6fd6"
    stroke-width="2" points="${points}"/></svg>`;
}

async function dashboardView() {
  view.innerHTML = `<h2>Dashboard</h2><p class="muted">From dnsd's /metrics every 2 s; the last two minutes.
    Latencies are over each 2 s interval, from a change to the client's ack of its push ("-": no push then).</p>
    <div id="charts">${charts.map(c => `<div class="chart" id="chart-${c.id}"><div>${c.title}:
      <strong class="value">-</strong></div><div class="plot"></div></div>`).join('')}</div>`;
  const series = Object.fromEntries(charts.map(c => [c.id, []]));
  let previous = null;
  const sample = async () => {
    const metrics = parseMetrics(await api('GET', '/metrics'));
    const now = Date.now();
    for (const c of charts) {
      const shown = c.show(metrics, previous && previous.metrics, previous ? (now - previous.at) / 1000 : 1);
      const points = series[c.id];
      points.push(shown === null ? 0 : shown);
      if (points.length > 60) points.shift();
      const box = document.getElementById(`chart-${c.id}`);
      if (!box) return false;  // the page was left
      box.querySelector('.value').textContent = shown === null ? '-' : c.integer ? String(shown) : shown.toFixed(1);
      box.querySelector('.plot').innerHTML = sparkline(points);
    }
    previous = { at: now, metrics };
    return true;
  };
  const tick = async () => {
    if (!location.hash.startsWith('#/dashboard')) return;
    if (await sample().catch(e => { showError(e.message); return false; })) setTimeout(tick, 2000);
  };
  await tick();
}

// ---------------------------------------------------------------- DNS

function recordsTable(id, records) {
  const rows = records.map(r => `<tr><td>${esc(r.name)}</td><td>${r.ttl}</td><td>${esc(r.class)}</td>
    <td>${esc(r.type)}</td><td><code>${esc(r.data)}</code></td></tr>`);
  return `<table id="${id}"><tr><th>Name</th><th>TTL</th><th>Class</th><th>Type</th><th>Data</th></tr>${rows.join('')}</table>`;
}

async function dnsView(service = '') {
  view.innerHTML = `<h2>DNS</h2><p class="muted">What dnsd answers, asked of its own DNS port as dig would.</p>
    <div class="row"><input id="dns-name" size="48" placeholder="web.svc.nacos.internal">
    <select id="dns-type">${['A', 'AAAA', 'SRV', 'TXT', 'SOA', 'NS', 'CNAME', 'PTR'].map(t =>
      `<option>${t}</option>`).join('')}</select>
    <button id="dns-lookup">Look up</button></div><div id="dns-result"></div>
    <h3>Names of a service</h3>
    <div class="row"><input id="dns-service" size="32" placeholder="service name" value="${esc(service)}">
    <input id="dns-group" size="20" placeholder="DEFAULT_GROUP"><button id="dns-names-show">Show names</button></div>
    <div id="dns-names"></div>
    <h3>Zones</h3><div id="dns-zones"></div>
    <h3>Forwarder</h3><div id="dns-forwarder"></div>`;
  const lookup = async (name, type) => {
    const answer = await apiJson('GET', '/dnsd/v1/dns/lookup', { name, type });
    const ede = answer.ede.map(e => `<li>EDE ${e.code}: ${esc(e.text)}</li>`).join('');
    document.getElementById('dns-result').innerHTML =
      `<p id="dns-status"><code>${esc(answer.question)}</code>: <strong>${esc(answer.status)}</strong>${answer.authoritative ? ', authoritative' : ''}${answer.truncated ? ', truncated' : ''}</p>
       ${ede ? `<ul id="dns-ede">${ede}</ul>` : ''}
       <h3>Answer</h3>${recordsTable('dns-answer', answer.answer)}
       ${answer.authority.length ? `<h3>Authority</h3>${recordsTable('dns-authority', answer.authority)}` : ''}`;
  };
  document.getElementById('dns-lookup').addEventListener('click', () => guarded(() =>
    lookup(document.getElementById('dns-name').value.trim(), document.getElementById('dns-type').value)));
  const showNames = async () => {
    const serviceName = document.getElementById('dns-service').value.trim();
    if (!serviceName) return;
    const data = await apiJson('GET', '/dnsd/v1/dns/names', { namespaceId: state.namespace, serviceName,
      groupName: document.getElementById('dns-group').value.trim() || 'DEFAULT_GROUP' });
    const box = document.getElementById('dns-names');
    if (!box) return;  // the page was left meanwhile
    if (!data.names.length) {
      box.innerHTML = `<p id="dns-names-none" class="muted">No DNS names: the service is unknown or has no enabled instance with weight above 0.</p>`;
      return;
    }
    box.innerHTML = `${data.naturalNameCollides ? '<p class="bad">Its natural name collides with another service\'s (they differ only in case): only the .enc names answer.</p>' : ''}
      <table id="dns-names-table"><tr><th>Name</th><th>Form</th><th>Answers now</th></tr>
      ${data.names.map(n => `<tr><td><code>${esc(n.name)}</code></td><td>${esc(n.form)}${n.cluster ? ` (${esc(n.cluster)})` : ''}</td>
        <td>${n.types.map(t => `<button class="dns-try" data-name="${esc(n.name)}" data-type="${t}">${t}</button>`).join(' ') || '<span class="muted">no data (NODATA)</span>'}</td></tr>`).join('')}</table>
      <p class="muted">SRV also answers under any <code>_service._proto.</code> prefix of the names above.</p>`;
    box.querySelectorAll('.dns-try').forEach(b => b.addEventListener('click', () => guarded(async () => {
      document.getElementById('dns-name').value = b.dataset.name;
      document.getElementById('dns-type').value = b.dataset.type;
      await lookup(b.dataset.name, b.dataset.type);
    })));
  };
  document.getElementById('dns-names-show').addEventListener('click', () => guarded(showNames));
  const overview = await apiJson('GET', '/dnsd/v1/dns/overview');
  const zonesBox = document.getElementById('dns-zones');
  if (!zonesBox) return;  // the page was left while the overview was on its way
  const z = overview.registryZone;
  zonesBox.innerHTML = `<table id="dns-zones-table"><tr><th>Zone</th><th>Source</th><th>Names</th><th>Records</th><th>Serial</th></tr>
    <tr><td><code>${esc(z.zone)}</code></td><td>the registry (TTL ${z.ttl} s, negative ${z.negativeTtl} s${z.compatSuffix ? `, also <code>${esc(z.compatSuffix)}</code>` : ''}${z.bareNames ? ', bare service names' : ''})</td>
      <td>${z.services} services</td><td></td><td>${z.serial}</td></tr>
    ${overview.staticZones.map(sz => `<tr><td><code>${esc(sz.zone)}</code></td><td>${esc(sz.file)}</td><td>${sz.names}</td><td>${sz.records}</td><td>${sz.serial}</td></tr>`).join('')}</table>`;
  const f = overview.forwarder;
  document.getElementById('dns-forwarder').innerHTML = !f.enabled
    ? '<p id="dns-forwarder-off" class="muted">Off: no upstream resolvers, other names get REFUSED.</p>'
    : `<p id="dns-cache">Cache: ${f.cache.entries} entries, ${f.cache.hits} hits, ${f.cache.misses} misses,
        hit ratio <strong id="dns-hit-ratio">${f.cache.hitRatio === null ? '-' : `${(f.cache.hitRatio * 100).toFixed(1)}%`}</strong>,
        ${f.cache.staleAnswers} stale answers served</p>
      <table id="dns-upstreams"><tr><th>Upstream</th><th>State</th><th>Queries</th><th>Failures</th><th>Average latency</th></tr>
      ${f.upstreams.map(u => `<tr><td><code>${esc(u.address)}</code></td><td class="${u.up ? 'ok' : 'bad'}">${u.up ? 'up' : 'down'}</td>
        <td>${u.queries}</td><td>${u.failures}</td><td>${u.averageLatencyMs.toFixed(2)} ms</td></tr>`).join('')}</table>`;
  if (service) await showNames();
}

// ---------------------------------------------------------------- configs

function validate(type, content) {
  if (!content.trim()) return 'the content is empty';
  try {
    if (type === 'json') JSON.parse(content);
    if (type === 'xml' && new DOMParser().parseFromString(content, 'application/xml').querySelector('parsererror')) {
      return 'not well-formed XML';
    }
  } catch (e) { return `not valid JSON: ${e.message}`; }
  if (type === 'properties' && content.split('\n').some(l => l.trim() && !/^\s*[#!]/.test(l) && !/[=:]/.test(l))) {
    return 'a properties line needs key=value';
  }
  if (type === 'yaml' && /\t/.test(content)) return 'YAML does not allow tabs for indentation';
  return '';
}

async function configsView() {
  const page = await apiJson('GET', '/nacos/v1/cs/configs',
    { search: 'blur', dataId: '', group: '', tenant: tenant(), pageNo: 1, pageSize: 200 });
  const rows = page.pageItems.map(c => `<tr><td><a href="#/config/${encodeURIComponent(c.group)}/${encodeURIComponent(c.dataId)}">${esc(c.dataId)}</a></td>
    <td>${esc(c.group)}</td><td>${esc(c.type || 'text')}</td></tr>`);
  view.innerHTML = `<h2>Configs in ${esc(state.namespace)}</h2>
    <table id="configs"><tr><th>Data ID</th><th>Group</th><th>Type</th></tr>${rows.join('')}</table>
    <h3>New config</h3>
    <div class="row"><input id="new-data-id" placeholder="dataId"><input id="new-group" value="DEFAULT_GROUP">
    <select id="new-type">${['text', 'json', 'yaml', 'properties', 'xml', 'html'].map(t => `<option>${t}</option>`).join('')}</select></div>
    <textarea id="new-content"></textarea>
    <div class="row"><button id="publish">Publish</button></div>`;
  document.getElementById('publish').addEventListener('click', () => guarded(async () => {
    const dataId = document.getElementById('new-data-id').value.trim();
    const group = document.getElementById('new-group').value.trim();
    const type = document.getElementById('new-type').value;
    const content = document.getElementById('new-content').value;
    const invalid = validate(type, content);
    if (invalid) throw new Error(`${dataId}: ${invalid}`);
    await api('POST', '/nacos/v1/cs/configs', { dataId, group, type, content, tenant: tenant() });
    location.hash = `#/config/${encodeURIComponent(group)}/${encodeURIComponent(dataId)}`;
  }));
}

function sideBySide(left, right) {
  const a = left.split('\n'), b = right.split('\n');
  const rows = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const changed = a[i] !== b[i];
    rows.push(`<tr class="${changed ? 'bad' : ''}"><td><code>${esc(a[i] ?? '')}</code></td><td><code>${esc(b[i] ?? '')}</code></td></tr>`);
  }
  return `<table id="diff"><tr><th>Selected version</th><th>Current</th></tr>${rows.join('')}</table>`;
}

async function configView(group, dataId) {
  const all = await apiJson('GET', '/nacos/v1/cs/configs', { dataId, group, tenant: tenant(), show: 'all' });
  const history = await apiJson('GET', '/nacos/v1/cs/history',
    { search: 'accurate', dataId, group, tenant: tenant(), pageNo: 1, pageSize: 50 });
  const listeners = await apiJson('GET', '/nacos/v1/cs/configs/listener', { dataId, group, tenant: tenant() });
  const listening = Object.entries(listeners.lisentersGroupkeyStatus || {})
    .map(([ip, md5]) => `<tr><td>${esc(ip)}</td><td><code>${esc(md5)}</code></td></tr>`).join('');
  const rows = history.pageItems.map((h, i) => `<tr><td>${esc(h.id)}</td><td>${esc(h.lastModifiedTime)}</td>
    <td>${esc(h.opType)}</td><td>${esc(h.srcUser)}</td><td>${esc(h.srcIp)}</td>
    <td><button class="diff" data-i="${i}">Diff</button> <button class="rollback" data-i="${i}">Roll back</button></td></tr>`);
  view.innerHTML = `<h2>${esc(dataId)} <span class="muted">${esc(group)}</span></h2>
    <p class="muted">type ${esc(all.type || 'text')}, md5 <code id="md5">${esc(all.md5)}</code></p>
    <textarea id="content">${esc(all.content)}</textarea>
    <div class="row"><button id="save">Save</button> <button id="delete">Delete</button></div>
    <h3>History</h3><table id="history"><tr><th>ID</th><th>Time</th><th>Op</th><th>User</th><th>From</th><th></th></tr>${rows.join('')}</table>
    <div id="diff-view"></div>
    <h3>Listeners (long polls now)</h3><table id="listeners"><tr><th>Client</th><th>Their md5</th></tr>${listening}</table>`;
  const publish = content => {
    const invalid = validate(all.type || 'text', content);
    if (invalid) throw new Error(`${dataId}: ${invalid}`);
    return api('POST', '/nacos/v1/cs/configs', { dataId, group, tenant: tenant(), type: all.type || 'text', content });
  };
  document.getElementById('save').addEventListener('click', () => guarded(async () => {
    await publish(document.getElementById('content').value);
    route();
  }));
  document.getElementById('delete').addEventListener('click', () => guarded(async () => {
    if (!confirm(`Delete ${dataId}?`)) return;
    await api('DELETE', '/nacos/v1/cs/configs', { dataId, group, tenant: tenant() });
    location.hash = '#/configs';
  }));
  view.querySelectorAll('.diff').forEach(b => b.addEventListener('click', () => {
    document.getElementById('diff-view').innerHTML = sideBySide(history.pageItems[b.dataset.i].content || '', all.content);
  }));
  view.querySelectorAll('.rollback').forEach(b => b.addEventListener('click', () => guarded(async () => {
    const old = history.pageItems[b.dataset.i];
    if (!confirm(`Publish version ${old.id} of ${dataId} again?`)) return;
    await publish(old.content || '');
    route();
  })));
}

// ---------------------------------------------------------------- namespaces, cluster, login

async function namespacesView() {
  const list = await apiJson('GET', '/nacos/v1/console/namespaces');
  const rows = list.data.map(n => `<tr><td>${esc(n.namespace || 'public')}</td><td>${esc(n.namespaceShowName)}</td>
    <td>${esc(n.namespaceDesc || '')}</td><td>${n.configCount}</td>
    <td>${n.namespace ? `<button class="edit-ns" data-id="${esc(n.namespace)}" data-name="${esc(n.namespaceShowName)}"
      data-desc="${esc(n.namespaceDesc || '')}">Edit</button>
      <button class="delete-ns" data-id="${esc(n.namespace)}">Delete</button>` : ''}</td></tr>`);
  view.innerHTML = `<h2>Namespaces</h2><table id="namespaces"><tr><th>ID</th><th>Name</th><th>Description</th><th>Configs</th><th></th></tr>${rows.join('')}</table>
    <div class="row"><input id="ns-id" placeholder="id"><input id="ns-name" placeholder="name"><input id="ns-desc" placeholder="description">
    <button id="create-ns">Create</button></div>`;
  document.getElementById('create-ns').addEventListener('click', () => guarded(async () => {
    await api('POST', '/nacos/v1/console/namespaces', { customNamespaceId: document.getElementById('ns-id').value,
      namespaceName: document.getElementById('ns-name').value, namespaceDesc: document.getElementById('ns-desc').value });
    await loadNamespaces();
    route();
  }));
  view.querySelectorAll('.edit-ns').forEach(b => b.addEventListener('click', () => {
    const row = b.closest('tr');
    row.cells[1].innerHTML = `<input class="ns-edit-name" value="${esc(b.dataset.name)}">`;
    row.cells[2].innerHTML = `<input class="ns-edit-desc" value="${esc(b.dataset.desc)}">`;
    row.cells[4].innerHTML = '<button class="save-ns">Save</button>';
    row.querySelector('.save-ns').addEventListener('click', () => guarded(async () => {
      const ok = await api('PUT', '/nacos/v1/console/namespaces', { namespace: b.dataset.id,
        namespaceShowName: row.querySelector('.ns-edit-name').value, namespaceDesc: row.querySelector('.ns-edit-desc').value });
      if (ok.trim() !== 'true') throw new Error(`namespace ${b.dataset.id} was not changed: ${ok}`);
      await loadNamespaces();
      route();
    }));
  }));
  view.querySelectorAll('.delete-ns').forEach(b => b.addEventListener('click', () => guarded(async () => {
    if (!confirm(`Delete namespace ${b.dataset.id}?`)) return;
    const ok = await api('DELETE', '/nacos/v1/console/namespaces', { namespaceId: b.dataset.id });
    if (ok.trim() !== 'true') throw new Error(`namespace ${b.dataset.id} was not deleted: it still holds configs or services`);
    await loadNamespaces();
    route();
  })));
}

async function clusterView() {
  const nodes = await apiJson('GET', '/nacos/v1/core/cluster/nodes');
  const rows = nodes.data.map(n => {
    const cp = ((n.extendInfo.raftMetaData || {}).metaDataMap || {}).dnsd_cp || {};
    return `<tr><td>${esc(n.address)}</td><td class="${n.state === 'UP' ? 'ok' : 'bad'}">${esc(n.state)}</td>
      <td>${esc(n.extendInfo.raftRole || '')}</td><td>${esc(cp.term ?? '')}</td><td>${esc(cp.leader || '')}</td>
      <td>${esc(n.extendInfo.raftAppliedIndex ?? '')}</td>
      <td>${n.extendInfo.distroPending === undefined ? '' : `${n.extendInfo.distroPending} pending, ${n.extendInfo.distroLagMs} ms`}</td></tr>`;
  });
  view.innerHTML = `<h2>Cluster</h2><p class="muted">As this member sees it: the applied index is its own; Distro lag
    is what each other member still lacks of the clients this member replicates (changes not delivered, and how long
    the oldest has waited).</p><table id="cluster"><tr><th>Member</th><th>State</th><th>Raft role</th><th>Term</th>
    <th>Leader</th><th>Applied</th><th>Distro lag</th></tr>${rows.join('')}</table>`;
}

function loginView() {
  view.innerHTML = `<h2>Log in</h2><div class="row"><input id="username" placeholder="user">
    <input id="password" type="password" placeholder="password"><button id="login">Log in</button></div>`;
  document.getElementById('login').addEventListener('click', () => guarded(async () => {
    const answer = await apiJson('POST', '/nacos/v1/auth/users/login',
      { username: document.getElementById('username').value, password: document.getElementById('password').value });
    state.token = answer.accessToken;
    sessionStorage.setItem('dnsd.token', state.token);
    document.getElementById('user').textContent = answer.username;
    await loadNamespaces();
    // The login page shows under any route: render the one asked for (no hashchange comes
    // when it is already the current one).
    if (location.hash === '#/services' || !location.hash) await route();
    else location.hash = '#/services';
  }));
}

// ---------------------------------------------------------------- routing

async function guarded(action) {
  try {
    await action();
  } catch (e) {
    showError(e.message);
  }
}

async function loadNamespaces() {
  const select = document.getElementById('namespace');
  if (state.authEnabled && !state.token) return;
  const list = await apiJson('GET', '/nacos/v1/console/namespaces');
  select.innerHTML = list.data.map(n => {
    const id = n.namespace || 'public';
    return `<option value="${esc(id)}" ${id === state.namespace ? 'selected' : ''}>${esc(n.namespaceShowName)}</option>`;
  }).join('');
}

async function route() {
  clearError();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  document.querySelectorAll('nav a').forEach(a => a.classList.toggle('active', a.id === `nav-${parts[0]}`));
  if (state.authEnabled && !state.token) return loginView();
  await guarded(async () => {
    switch (parts[0]) {
      case 'service': return serviceView(parts[1]);
      case 'dns': return dnsView(parts[1] || '');
      case 'dashboard': return dashboardView();
      case 'configs': return configsView();
      case 'config': return configView(parts[1], parts.slice(2).join('/'));
      case 'namespaces': return namespacesView();
      case 'cluster': return clusterView();
      default: return servicesView();
    }
  });
}

async function start() {
  document.getElementById('namespace').addEventListener('change', e => {
    state.namespace = e.target.value;
    sessionStorage.setItem('dnsd.namespace', state.namespace);
    route();
  });
  window.addEventListener('hashchange', route);
  await guarded(async () => {
    const server = await apiJson('GET', '/nacos/v1/console/server/state');
    state.authEnabled = server.auth_enabled === 'true';
    await loadNamespaces();
  });
  if (!location.hash) location.hash = '#/services';
  await route();
}

start();
