"""Crash tests: dnsd killed with SIGKILL between every two steps of a write (before the log
append, after it, after applying, after answering), during the replay at start, and while
rebuilding a damaged config store. After a plain restart every acknowledged write is there,
the write in flight at the crash is there whole or not at all, and the node takes writes."""
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import DNSD, DnsdProcess

POINTS = ["log.before_append", "log.after_append", "log.after_apply", "log.after_answer"]


def publish(d, key, content):
    try:
        return d.curl("POST", "/nacos/v1/cs/configs", body={"dataId": key, "group": "CRASH", "content": content})
    except Exception:
        return 0, ""


def register(d, ip):
    try:
        return d.curl("POST", "/nacos/v1/ns/instance",
                      {"serviceName": "crash-svc", "ip": ip, "port": 80, "ephemeral": "false"})
    except Exception:
        return 0, ""


def config(d, key):
    return d.curl("GET", "/nacos/v1/cs/configs", {"dataId": key, "group": "CRASH"})


def instances(d):
    info = d.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": "crash-svc"})
    return {h["ip"] for h in info["hosts"]}


class CrashPointTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnsd-crash-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_until_killed(self, d, limit=40):
        """Alternating config publishes and persistent registrations; returns
        (acked configs, acked ips, the write in flight when dnsd died)."""
        acked_configs, acked_ips, in_flight = {}, set(), None
        for i in range(limit):
            if i % 2 == 0:
                key, content = f"k{i}", f"content {i}"
                status, body = publish(d, key, content)
                if status == 200 and body == "true":
                    acked_configs[key] = content
                    continue
                in_flight = ("config", key, content)
            else:
                ip = f"10.77.0.{i}"
                status, body = register(d, ip)
                if status == 200 and body == "ok":
                    acked_ips.add(ip)
                    continue
                in_flight = ("instance", ip, None)
            break
        return acked_configs, acked_ips, in_flight

    def check_after_restart(self, d, acked_configs, acked_ips, in_flight):
        for key, content in acked_configs.items():
            self.assertEqual(config(d, key), (200, content), key)
        present = instances(d)
        self.assertTrue(acked_ips <= present, acked_ips - present)
        extra = present - acked_ips
        if in_flight and in_flight[0] == "instance":
            extra.discard(in_flight[1])
        self.assertEqual(extra, set(), "instances nobody registered")
        if in_flight and in_flight[0] == "config":
            status, text = config(d, in_flight[1])
            if status == 200:
                self.assertEqual(text, in_flight[2], "the write in flight is there whole")
            else:
                self.assertEqual(status, 404, "or not at all")
        # The node takes and keeps new writes at the indexes after the crash.
        self.assertEqual(publish(d, "after", "fine"), (200, "true"))
        self.assertEqual(config(d, "after"), (200, "fine"))

    def test_kill_at_every_step_of_a_write(self):
        for point in POINTS:
            for nth in (1, 6):
                with self.subTest(point=point, nth=nth):
                    data = os.path.join(self.dir, f"{point}-{nth}")
                    os.makedirs(data)
                    d = DnsdProcess(data_dir=data, env={"DNSD_CRASH_AT": f"{point}:{nth}"}).start()
                    try:
                        acked_configs, acked_ips, in_flight = self.write_until_killed(d)
                        self.assertEqual(d.proc.wait(timeout=10), -signal.SIGKILL, "dnsd was not killed")
                        self.assertIsNotNone(in_flight)
                        d.env = None
                        d.start(fresh_ports=True)
                        self.check_after_restart(d, acked_configs, acked_ips, in_flight)
                        d.stop()
                        d.start(fresh_ports=True)  # and once more, from the state the restart wrote
                        self.check_after_restart(d, acked_configs, acked_ips, in_flight)
                    finally:
                        d.cleanup()

    def test_kill_during_replay_and_during_rebuild(self):
        d = DnsdProcess(data_dir=self.dir).start()
        try:
            acked_configs, acked_ips, _ = self.write_until_killed(d, limit=20)
            self.assertEqual(len(acked_configs) + len(acked_ips), 20)
            self.assertEqual(d.stop(), 0)
            # Replay at start is killed halfway: the next start must still get everything.
            for env in ({"DNSD_CRASH_AT": "replay.after_apply:10"}, None):
                out = subprocess.run([DNSD, "--http-port", "0", "--dns-port", "0", "--grpc-port", "0",
                                      "--data-dir", self.dir], capture_output=True, text=True, timeout=30,
                                     env=dict(os.environ, **env)) if env else None
                if out is not None:
                    self.assertEqual(out.returncode, -signal.SIGKILL, out.stderr)
            d.start(fresh_ports=True)
            self.check_after_restart(d, acked_configs, acked_ips, None)
            self.assertEqual(d.stop(), 0)
            # Damage the config store, then kill the start that moves it aside.
            wal = max(os.path.join(self.dir, "config", f) for f in os.listdir(os.path.join(self.dir, "config"))
                      if f.endswith(".log") and os.path.getsize(os.path.join(self.dir, "config", f)) > 0)
            with open(wal, "r+b") as f:
                f.seek(os.path.getsize(wal) // 2)
                f.write(b"\x00\xff\x00")
            out = subprocess.run([DNSD, "--http-port", "0", "--dns-port", "0", "--grpc-port", "0",
                                  "--data-dir", self.dir], capture_output=True, text=True, timeout=30,
                                 env=dict(os.environ, DNSD_CRASH_AT="config.after_move_aside:1"))
            self.assertEqual(out.returncode, -signal.SIGKILL, out.stderr)
            d.start(fresh_ports=True)
            self.check_after_restart(d, acked_configs, acked_ips, None)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
