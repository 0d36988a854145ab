// Publishes configs through one server with the nacos npm SDK's config client and prints, as
// one JSON line, which publishes the SDK reported as successful. Used by the cluster tests to
// write through a follower with a real SDK:
//   node publish_configs.js <ip:port> <dataId prefix> <count>
// NACOS_USERNAME and NACOS_PASSWORD, when set, become the SDK's username/password options.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DataClient } = require('nacos');

async function main() {
  const [serverAddr, prefix, countText] = process.argv.slice(2);
  const count = Number(countText);
  const quiet = { info() {}, warn() {}, error() {}, debug() {}, log() {} };
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnsd-js-cache-'));
  const { NACOS_USERNAME: username, NACOS_PASSWORD: password } = process.env;
  const client = new DataClient({ logger: quiet, serverAddr, cacheDir, requestTimeout: 10000,
                                  ...(username ? { username, password } : {}) });
  client.on('error', () => {});
  await client.ready();
  const acknowledged = [];
  const failed = [];
  for (let i = 0; i < count; i++) {
    const dataId = `${prefix}${i}`;
    try {
      if (await client.publishSingle(dataId, 'DEFAULT_GROUP', `content of ${dataId}`)) acknowledged.push(dataId);
      else failed.push(dataId);
    } catch (e) {
      failed.push(dataId);
    }
  }
  // What the SDK reads back through the same server: read-your-writes on the node written through.
  const readBack = {};
  for (const dataId of acknowledged) readBack[dataId] = await client.getConfig(dataId, 'DEFAULT_GROUP');
  client.close();
  fs.rmSync(cacheDir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ acknowledged, failed, readBack }) + "\n", () => process.exit(0));
}

main().catch(e => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
