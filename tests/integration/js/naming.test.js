// The nacos npm SDK (naming client) against a real dnsd: what a Node.js service does.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { NacosNamingClient } = require('nacos');
const { startDnsd } = require('./dnsd_process');

const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
let dnsd;
const clients = [];

async function client(namespace = 'public') {
  const c = new NacosNamingClient({ logger: quiet, serverList: `127.0.0.1:${dnsd.port}`, namespace });
  await c.ready();
  clients.push(c);
  return c;
}

async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

async function http(method, path) {
  const res = await fetch(dnsd.base + path, { method });
  return { status: res.status, body: await res.text() };
}

before(async () => {
  dnsd = await startDnsd();
  // Subscribers poll every cacheMillis; a short cache keeps the test quick.
  const r = await http('PUT', '/nacos/v1/ns/operator/switches?entry=defaultPushCacheMillis&value=500');
  assert.equal(r.status, 200);
});

after(async () => {
  for (const c of clients) await c.close();
  await dnsd.stop();
});

test('register several instances with weights and metadata, then list and select', async () => {
  const c = await client();
  assert.equal(await c.getServerStatus(), 'UP');
  await c.registerInstance('orders', { ip: '10.0.0.1', port: 8080, weight: 2, metadata: { zone: 'a' } });
  await c.registerInstance('orders', { ip: '10.0.0.2', port: 8080, weight: 0.5, metadata: { zone: 'b' } });
  await c.registerInstance('orders', { ip: '10.0.0.3', port: 8080, healthy: false, clusterName: 'east' });
  const all = await c.getAllInstances('orders', 'DEFAULT_GROUP', '', false);
  const byIp = Object.fromEntries(all.map(h => [h.ip, h]));
  assert.deepEqual(Object.keys(byIp).sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  assert.equal(byIp['10.0.0.1'].weight, 2);
  assert.equal(byIp['10.0.0.2'].weight, 0.5);
  assert.deepEqual(byIp['10.0.0.1'].metadata, { zone: 'a' });
  assert.equal(byIp['10.0.0.3'].clusterName, 'east');
  assert.equal(byIp['10.0.0.1'].serviceName, 'DEFAULT_GROUP@@orders');

  const healthy = await c.selectInstances('orders', 'DEFAULT_GROUP', '', true, false);
  assert.deepEqual(healthy.map(h => h.ip).sort(), ['10.0.0.1', '10.0.0.2']);
  const unhealthy = await c.selectInstances('orders', 'DEFAULT_GROUP', '', false, false);
  assert.deepEqual(unhealthy.map(h => h.ip), ['10.0.0.3']);
  const east = await c.getAllInstances('orders', 'DEFAULT_GROUP', 'east', false);
  assert.deepEqual(east.map(h => h.ip), ['10.0.0.3']);

  const list = await c._serverProxy.getServiceList(1, 10, 'DEFAULT_GROUP');
  assert.ok(list.data.includes('orders'));
});

test('a subscriber sees registrations and a deregistration', async () => {
  const publisher = await client();
  const subscriber = await client();
  await publisher.registerInstance('payments', { ip: '10.1.0.1', port: 9000 });
  let latest = null;
  subscriber.subscribe('payments', hosts => { latest = hosts; });
  await waitFor(() => latest && latest.length === 1, 5000, 'first subscription update');
  await publisher.registerInstance('payments', { ip: '10.1.0.2', port: 9000 });
  await waitFor(() => latest && latest.length === 2, 5000, 'the new instance');
  await publisher.deregisterInstance('payments', { ip: '10.1.0.1', port: 9000 });
  await waitFor(() => latest && latest.length === 1 && latest[0].ip === '10.1.0.2', 5000, 'the deregistration');
  // The subscription is visible to operators.
  const subs = JSON.parse((await http('GET', '/nacos/v1/ns/service/subscribers?serviceName=payments')).body);
  assert.ok(subs.count >= 1);
});

test('a beating instance stays while an unbeaten one expires', async () => {
  const c = await client();
  const fast = {
    'preserved.heart.beat.interval': '1000',
    'preserved.heart.beat.timeout': '3000',
    'preserved.ip.delete.timeout': '5000',
  };
  // The SDK beats for the instances it registers.
  await c.registerInstance('beats', { ip: '10.2.0.1', port: 1, metadata: fast });
  // A raw registration with nobody beating for it.
  const meta = encodeURIComponent(JSON.stringify(fast));
  const r = await http('POST', `/nacos/v1/ns/instance?serviceName=beats&ip=10.2.0.2&port=1&metadata=${meta}`);
  assert.equal(r.body, 'ok');
  const ips = async () => (await c.getAllInstances('beats', 'DEFAULT_GROUP', '', false)).map(h => `${h.ip}:${h.healthy}`).sort();
  assert.deepEqual(await ips(), ['10.2.0.1:true', '10.2.0.2:true']);
  await waitFor(async () => (await ips()).includes('10.2.0.2:false'), 8000, 'the unbeaten instance to turn unhealthy');
  await waitFor(async () => (await ips()).join() === '10.2.0.1:true', 8000, 'the unbeaten instance to be removed');
  // Still there a while later: the SDK keeps it alive.
  await new Promise(res => setTimeout(res, 1500));
  assert.deepEqual(await ips(), ['10.2.0.1:true']);
});

test('groups and namespaces are isolated', async () => {
  const pub = await client();
  await pub.registerInstance('inventory', { ip: '10.3.0.1', port: 1 }, 'BLUE');
  await pub.registerInstance('inventory', { ip: '10.3.0.2', port: 1 }, 'GREEN');
  const blue = await pub.getAllInstances('inventory', 'BLUE', '', false);
  assert.deepEqual(blue.map(h => h.ip), ['10.3.0.1']);
  assert.equal(blue[0].serviceName, 'BLUE@@inventory');
  const none = await pub.getAllInstances('inventory', 'DEFAULT_GROUP', '', false);
  assert.deepEqual(none, []);

  const created = await http('POST', '/nacos/v1/console/namespaces?customNamespaceId=staging&namespaceName=staging');
  assert.equal(created.body, 'true');
  const staging = await client('staging');
  await staging.registerInstance('inventory', { ip: '10.3.0.9', port: 1 }, 'BLUE');
  assert.deepEqual((await staging.getAllInstances('inventory', 'BLUE', '', false)).map(h => h.ip), ['10.3.0.9']);
  assert.deepEqual((await pub.getAllInstances('inventory', 'BLUE', '', false)).map(h => h.ip), ['10.3.0.1']);
});
