"""A real upstream DNS server for forwarding tests: NSD serving its own zone on loopback."""
import os
import shutil
import subprocess
import tempfile
import time

from harness import free_port


class NsdUpstream:
    def __init__(self, zone_name, zone_text, port=None):
        self.dir = tempfile.mkdtemp(prefix="dnsd-nsd-")
        self.port = port or free_port()
        self.zone_name = zone_name
        with open(os.path.join(self.dir, "zone"), "w") as f:
            f.write(zone_text)
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write(f"""server:
  ip-address: 127.0.0.1@{self.port}
  zonesdir: {self.dir}
  pidfile: {self.dir}/nsd.pid
  database: ""
  xfrdfile: {self.dir}/xfrd.state
  zonelistfile: {self.dir}/zone.list
  username: ""
  verbosity: 0
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: {zone_name}
  zonefile: zone
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+short", "+time=1", "+tries=1",
                                  self.zone_name, "SOA"], capture_output=True, text=True).stdout
            if out.strip():
                return self
            time.sleep(0.1)
        raise RuntimeError("nsd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


UPSTREAM_ZONE = """$ORIGIN upstream.test.
$TTL 300
@ IN SOA ns.upstream.test. admin.upstream.test. 1 3600 600 86400 60
  IN NS ns.upstream.test.
ns IN A 127.0.0.1
www IN A 192.0.2.80
www IN AAAA 2001:db8::80
brief 1 IN A 192.0.2.81
""" + "".join(f'big IN TXT "{"x" * 40}{i}"\n' for i in range(80))
