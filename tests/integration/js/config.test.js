// The nacos npm SDK (config client) against a real dnsd: publish, read, listen, isolate.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
// DataClient is the SDK's config client itself. NacosConfigClient wraps it in cluster-client,
// which shares one DataClient among every client of a process with the same server name, so
// clients of different namespaces in one test process would not be independent.
const { DataClient } = require('nacos');
const { startDnsd } = require('./dnsd_process');

const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
let dnsd;
let cacheDir;
const clients = [];

function client(namespace) {
  const options = { logger: quiet, serverAddr: `127.0.0.1:${dnsd.port}`, cacheDir, requestTimeout: 5000 };
  if (namespace !== undefined) options.namespace = namespace;
  const c = new DataClient(options);
  c.on('error', () => {});
  clients.push(c);
  return c;
}

// Resolves with [value, elapsed ms] at the next listener call that satisfies `accept`.
function nextEvent(events, accept, timeoutMs, what) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    events.waiters.push(value => {
      if (!accept(value)) return false;
      clearTimeout(timer);
      resolve([value, Date.now() - start]);
      return true;
    });
  });
}

function recorder() {
  const events = { seen: [], waiters: [] };
  events.listener = value => {
    events.seen.push(value);
    events.waiters = events.waiters.filter(w => !w(value));
  };
  return events;
}

before(async () => {
  dnsd = await startDnsd();
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnsd-js-cache-'));
});

after(async () => {
  // Closed clients stop polling once dnsd, shutting down, answers their parked long polls.
  for (const c of clients) c.close();
  // Let requests already on their way (a re-poll right after an answer) reach dnsd first.
  await new Promise(r => setTimeout(r, 300));
  await dnsd.stop();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

const tricky = 'url=http://x/?a=1&b=2+3%20&c=%\nname=数据 ✓\r\n\ttrailing = spaces  \n';

test('publish, get, update and remove keep content byte for byte', async () => {
  const c = client();
  await c.ready();
  assert.equal(await c.getConfig('crud.properties', 'DEFAULT_GROUP'), null);
  assert.equal(await c.publishSingle('crud.properties', 'DEFAULT_GROUP', tricky), true);
  assert.equal(await c.getConfig('crud.properties', 'DEFAULT_GROUP'), tricky);

  // What the SDK reads is what the server stored: same bytes, same md5 on the wire.
  const res = await fetch(`${dnsd.base}/nacos/v1/cs/configs?dataId=crud.properties&group=DEFAULT_GROUP`);
  assert.equal(Buffer.from(await res.arrayBuffer()).toString('utf8'), tricky);
  const md5 = require('node:crypto').createHash('md5').update(Buffer.from(tricky, 'utf8')).digest('hex');
  assert.equal(res.headers.get('content-md5'), md5);

  await c.publishSingle('crud.properties', 'DEFAULT_GROUP', 'v=2');
  assert.equal(await c.getConfig('crud.properties', 'DEFAULT_GROUP'), 'v=2');
  assert.equal(await c.remove('crud.properties', 'DEFAULT_GROUP'), true);
  assert.equal(await c.getConfig('crud.properties', 'DEFAULT_GROUP'), null);
});

test('a subscriber sees a publish, an update and a delete within 1 s of each write', async () => {
  const writer = client();
  const reader = client();
  await Promise.all([writer.ready(), reader.ready()]);
  const events = recorder();
  const initial = nextEvent(events, v => v === null, 5000, 'initial state');
  reader.subscribe({ dataId: 'live.yaml', group: 'DEFAULT_GROUP' }, events.listener);
  await initial;
  // Let the long poll park on the server before writing.
  await new Promise(r => setTimeout(r, 300));

  for (const [write, expected] of [
    [() => writer.publishSingle('live.yaml', 'DEFAULT_GROUP', 'color: blue'), 'color: blue'],
    [() => writer.publishSingle('live.yaml', 'DEFAULT_GROUP', tricky), tricky],
    [() => writer.remove('live.yaml', 'DEFAULT_GROUP'), null],
  ]) {
    const seen = nextEvent(events, v => v === expected, 3000, `event ${JSON.stringify(expected)}`);
    await write();
    const acked = Date.now();
    await seen;
    const lag = Date.now() - acked;
    assert.ok(lag < 1000, `subscriber saw ${JSON.stringify(expected)} ${lag} ms after the write`);
    await new Promise(r => setTimeout(r, 200));  // the SDK re-parks its long poll
  }
});

test('groups are isolated', async () => {
  const c = client();
  await c.ready();
  await c.publishSingle('shared.json', 'GROUP_A', '{"a":1}');
  await c.publishSingle('shared.json', 'GROUP_B', '{"b":2}');
  assert.equal(await c.getConfig('shared.json', 'GROUP_A'), '{"a":1}');
  assert.equal(await c.getConfig('shared.json', 'GROUP_B'), '{"b":2}');

  const events = recorder();
  const initial = nextEvent(events, v => v === '{"a":1}', 5000, 'initial GROUP_A content');
  c.subscribe({ dataId: 'shared.json', group: 'GROUP_A' }, events.listener);
  await initial;
  await new Promise(r => setTimeout(r, 300));
  const changed = nextEvent(events, v => v === '{"a":2}', 3000, 'GROUP_A update');
  await c.publishSingle('shared.json', 'GROUP_B', '{"b":3}');
  await c.publishSingle('shared.json', 'GROUP_A', '{"a":2}');
  await changed;
  assert.deepEqual(events.seen, ['{"a":1}', '{"a":2}'], 'a write to GROUP_B never reaches a GROUP_A listener');
});

test('namespaces are isolated, and every spelling of the default is one namespace', async () => {
  const dev = client('dev');
  const implicit = client();
  const explicit = client('public');
  await Promise.all([dev.ready(), implicit.ready(), explicit.ready()]);
  await dev.publishSingle('db.properties', 'DEFAULT_GROUP', 'url=dev-db');
  await implicit.publishSingle('db.properties', 'DEFAULT_GROUP', 'url=prod-db');
  assert.equal(await dev.getConfig('db.properties', 'DEFAULT_GROUP'), 'url=dev-db');
  assert.equal(await implicit.getConfig('db.properties', 'DEFAULT_GROUP'), 'url=prod-db');
  assert.equal(await explicit.getConfig('db.properties', 'DEFAULT_GROUP'), 'url=prod-db');

  const devEvents = recorder();
  const initial = nextEvent(devEvents, v => v === 'url=dev-db', 5000, 'initial dev content');
  dev.subscribe({ dataId: 'db.properties', group: 'DEFAULT_GROUP' }, devEvents.listener);
  await initial;
  await new Promise(r => setTimeout(r, 300));
  const changed = nextEvent(devEvents, v => v === 'url=dev-db-2', 3000, 'dev update');
  await explicit.publishSingle('db.properties', 'DEFAULT_GROUP', 'url=prod-db-2');
  await dev.publishSingle('db.properties', 'DEFAULT_GROUP', 'url=dev-db-2');
  await changed;
  assert.deepEqual(devEvents.seen, ['url=dev-db', 'url=dev-db-2']);
});
