"""The probe's storage defects against a real dnsd: a full disk (a real 8 MB tmpfs), a log
with a cut tail, a config store with a flipped byte. What was acknowledged is never lost or
served wrong; what was refused is never stored; no write is answered 500."""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from harness import DNSD, DnsdProcess, wait_until


def publish(d, data_id, content, timeout=5):
    """(status, body), status 0 when no answer came in time (outcome unknown)."""
    url = d.base + "/nacos/v1/cs/configs"
    body = urllib.parse.urlencode({"dataId": data_id, "group": "DEFAULT_GROUP", "content": content})
    try:
        out = subprocess.run(["curl", "-s", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}",
                              "-X", "POST", "--data-binary", "@-", url],
                             input=body, capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return 0, ""
    text, _, code = out.stdout.rpartition("\n")
    return int(code or 0), text


def read_config(d, data_id):
    return d.curl("GET", "/nacos/v1/cs/configs", {"dataId": data_id, "group": "DEFAULT_GROUP"})


def metric(d, name):
    _, text = d.curl("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def newest_wal(directory):
    files = [f for f in glob.glob(os.path.join(directory, "*.log")) if os.path.getsize(f) > 0]
    return max(files)


class StorageFaultTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnsd-storage-")
        self.mounted = False

    def tearDown(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_failed(self, data_dir):
        """Runs dnsd expecting it to refuse to start; returns (exit code, stderr)."""
        out = subprocess.run([DNSD, "--http-address", "127.0.0.1", "--http-port", "0",
                              "--dns-port", "0", "--grpc-port", "0", "--data-dir", data_dir],
                             capture_output=True, text=True, timeout=30)
        return out.returncode, out.stderr

    # Defects 1 and 4 (and 10): publish into a full disk, free it, restart.
    def test_full_disk_refuses_cleanly_and_restart_keeps_every_acknowledged_write(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", self.dir], check=True)
        self.mounted = True
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        filler = os.path.join(self.dir, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (3 << 20))
        # The free-space guard is off: this test is about what happens when writes really fail.
        d = DnsdProcess(data_dir=data, config_text="[server]\nmin_free_bytes = 0\n").start()
        acked, refused, unknown = {}, set(), set()
        try:
            refusals_in_a_row = 0
            i = 0
            while refusals_in_a_row < 15 and i < 3000:
                key = f"full-{i}"
                content = f"{i}:" + "x" * 20000
                status, body = publish(d, key, content)
                self.assertNotEqual(status, 500, f"a write answered 500: {body}")
                if status == 200:
                    acked[key] = content
                    refusals_in_a_row = 0
                elif status == 503:
                    refused.add(key)
                    refusals_in_a_row += 1
                    self.assertNotIn(data, body, "client messages must not show the data path")
                    self.assertNotIn(self.dir, body)
                else:
                    self.assertEqual(status, 0, f"unexpected answer {status}: {body}")
                    unknown.add(key)
                    refusals_in_a_row += 1
                i += 1
            print(f"full disk: {len(acked)} acknowledged, {len(refused)} refused (503), "
                  f"{len(unknown)} unanswered in time", flush=True)
            self.assertGreater(len(acked), 20)
            self.assertGreater(len(refused) + len(unknown), 0, "the disk never filled up")
            # Full, and still serving what it has.
            some = next(iter(acked))
            self.assertEqual(read_config(d, some), (200, acked[some]))

            os.remove(filler)  # free the space: writes work again
            ok = wait_until(lambda: publish(d, "after-full", "back")[0] == 200, timeout=20, interval=0.5)
            self.assertTrue(ok, "writes did not resume after space was freed")
            acked["after-full"] = "back"
            d.kill9()
            d.start(fresh_ports=True)  # the restart after a full disk must work
            for key, content in acked.items():
                self.assertEqual(read_config(d, key), (200, content), key)
            for key in refused:
                self.assertEqual(read_config(d, key)[0], 404, f"{key} was refused but is stored")
        finally:
            d.cleanup()

    # Defect 2: the log's tail is cut off; the config store had applied the lost entry.
    def test_truncated_log_refuses_start_and_repair_makes_new_writes_stick(self):
        d = DnsdProcess(data_dir=self.dir).start()
        raft_log = os.path.join(self.dir, "raft-standalone")
        try:
            for i in range(4):
                self.assertEqual(publish(d, f"t{i}", f"v{i}")[0], 200)
            # Everything up to t3 is in the write-ahead file once t3 is answered: cutting the
            # file back to this size loses exactly the records of t4.
            wal = newest_wal(raft_log)
            size_before_t4 = os.path.getsize(wal)
            self.assertEqual(publish(d, "t4", "v4")[0], 200)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(newest_wal(raft_log), wal, "the log rolled over to a new file")
            os.truncate(wal, size_before_t4)

            code, err = self.start_failed(self.dir)
            self.assertEqual(code, 2, err)
            self.assertIn("lost", err)
            self.assertIn(f"dnsd repair --data-dir {self.dir}", err)

            out = subprocess.run([DNSD, "repair", "--data-dir", self.dir], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("acknowledged writes are lost", out.stdout)
            d.start(fresh_ports=True)
            for i in range(4):
                self.assertEqual(read_config(d, f"t{i}"), (200, f"v{i}"))
            for key in ("new-a", "new-b"):
                self.assertEqual(publish(d, key, key.upper())[0], 200)
                self.assertEqual(read_config(d, key), (200, key.upper()))
            self.assertEqual(d.stop(), 0)
            d.start(fresh_ports=True)
            self.assertEqual(read_config(d, "new-b"), (200, "NEW-B"))
        finally:
            d.cleanup()

    # Defect 3: one flipped byte in the config store's own write-ahead file.
    def test_damaged_config_store_is_rebuilt_from_the_log(self):
        d = DnsdProcess(data_dir=self.dir).start()
        try:
            expected = {}
            for i in range(40):
                key = f"c{i % 13}"
                expected[key] = f"content {i} " + "y" * 200
                self.assertEqual(publish(d, key, expected[key])[0], 200)
            self.assertEqual(d.stop(), 0)
            wal = newest_wal(os.path.join(self.dir, "config"))
            with open(wal, "r+b") as f:
                f.seek(os.path.getsize(wal) // 2)
                byte = f.read(1)
                f.seek(-1, 1)
                f.write(bytes([byte[0] ^ 0xFF]))
            d.start(fresh_ports=True)
            for key, content in expected.items():
                self.assertEqual(read_config(d, key), (200, content), key)
            self.assertEqual(metric(d, "dnsd_storage_config_rebuilds"), 1.0)
            self.assertTrue(glob.glob(os.path.join(self.dir, "config.damaged-*")),
                            "the damaged store is kept for inspection")
            history = d.json("GET", "/nacos/v1/cs/history",
                             {"search": "accurate", "dataId": "c0", "group": "DEFAULT_GROUP"})
            self.assertEqual(history["totalCount"], 4, "history is rebuilt too")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
