// Registers ephemeral instances through one server with the nacos npm SDK's naming client,
// which then keeps them alive with its heartbeats. Prints one JSON line once registered; on the
// line "deregister" on stdin deregisters them and prints another; exits when stdin closes.
// Used by the cluster tests to register through one member with a real SDK:
//   node register_instances.js <ip:port> <service> <ip prefix> <count>
// NACOS_USERNAME and NACOS_PASSWORD, when set, become the SDK's username/password options.
'use strict';

const readline = require('node:readline');
const { NacosNamingClient } = require('nacos');

function credentials() {
  const { NACOS_USERNAME: username, NACOS_PASSWORD: password } = process.env;
  return username ? { username, password } : {};
}

async function main() {
  const [serverList, service, prefix, countText] = process.argv.slice(2);
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
  const client = new NacosNamingClient({ logger: quiet, serverList, namespace: 'public', ...credentials() });
  await client.ready();
  const ips = [];
  for (let i = 1; i <= Number(countText); i++) {
    const ip = `${prefix}${i}`;
    await client.registerInstance(service, { ip, port: 8080 });
    ips.push(ip);
  }
  console.log(JSON.stringify({ registered: ips }));
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() !== 'deregister') continue;
    for (const ip of ips) await client.deregisterInstance(service, { ip, port: 8080 });
    console.log(JSON.stringify({ deregistered: ips }));
  }
  await client.close();
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
