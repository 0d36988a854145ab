// Subscribes to one service with the nacos npm SDK's naming client at its default settings
// (a list poll every cacheMillis, 10 s, and a UDP push receiver) and prints one JSON line per
// change the SDK reports: {"ms": <epoch ms>, "ips": [...]}. Exits when stdin closes.
//   node subscribe_service.js <ip:port> <service>
'use strict';

const { NacosNamingClient } = require('nacos');

async function main() {
  const [serverList, service] = process.argv.slice(2);
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
  const client = new NacosNamingClient({ logger: quiet, serverList, namespace: 'public' });
  await client.ready();
  client.subscribe(service, hosts => {
    console.log(JSON.stringify({ ms: Date.now(), ips: hosts.map(h => h.ip).sort() }));
  });
  console.log(JSON.stringify({ subscribed: service }));
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await client.close();
    process.exit(0);
  });
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
