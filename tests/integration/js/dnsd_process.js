// Starts a real dnsd on a free loopback port with its own data directory.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const BINARY = process.env.DNSD_BINARY || path.join(__dirname, '..', '..', '..', 'build', 'bin', 'dnsd');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function startDnsd() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dnsd-js-'));
  const port = await freePort();
  const log = fs.openSync(path.join(dataDir, 'dnsd.stderr.log'), 'a');
  const child = spawn(BINARY, ['--http-address', '127.0.0.1', '--http-port', String(port), '--dns-port', '0', '--grpc-port', '0',
    '--data-dir', dataDir, '--log-level', 'warn', '--health-check', 'off'], { stdio: ['ignore', 'pipe', log] });
  const rl = readline.createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    rl.once('line', line => (line.startsWith('dnsd ready') ? resolve() : reject(new Error(line))));
    child.once('exit', code => reject(new Error(`dnsd exited with ${code}`)));
  });
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startDnsd };
