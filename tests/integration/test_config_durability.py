"""Acknowledged config publishes and their history survive kill -9 and restart."""
import concurrent.futures
import shutil
import tempfile
import threading
import time
import unittest

from harness import DnsdProcess, wait_until

WRITERS = 4
KEYS_PER_WRITER = 3


class ConfigDurabilityTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnsd-config-durable-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def history_contents(self, d, data_id):
        page = d.json("GET", "/nacos/v1/cs/history",
                      {"search": "accurate", "dataId": data_id, "group": "CRASH", "pageNo": 1, "pageSize": 500})
        self.assertLessEqual(page["totalCount"], 500)
        return [(row["opType"], row["content"]) for row in reversed(page["pageItems"])]

    def test_kill9_mid_stream_loses_no_acknowledged_publish(self):
        d = DnsdProcess(data_dir=self.dir).start()
        # last acknowledged version per key; each key is written by one thread, in order
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(worker):
            version = 0
            while not stop.is_set():
                version += 1
                data_id = f"crash-{worker}-{version % KEYS_PER_WRITER}"
                content = f"{data_id} version {version}\n&=+%"
                try:
                    status, body = d.curl("POST", "/nacos/v1/cs/configs",
                                          body={"dataId": data_id, "group": "CRASH", "content": content})
                except Exception:
                    return
                if status == 200 and body == "true":
                    with lock:
                        acked.setdefault(data_id, []).append(content)

        try:
            with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
                futures = [pool.submit(writer, w) for w in range(WRITERS)]
                while True:
                    with lock:
                        if sum(map(len, acked.values())) >= 200:
                            break
                    stop.wait(0.05)
                d.kill9()
                stop.set()
                for f in futures:
                    f.result()

            d.start()
            for data_id, contents in acked.items():
                # The last acknowledged version is there, or a later one whose publish was
                # committed but not yet acknowledged when the process died.
                status, current = d.curl("GET", "/nacos/v1/cs/configs", {"dataId": data_id, "group": "CRASH"})
                self.assertEqual(status, 200, data_id)
                current_version = int(current.split()[2])
                last_acked_version = int(contents[-1].split()[2])
                self.assertIn(current_version - last_acked_version, (0, KEYS_PER_WRITER),
                              f"{data_id}: stored {current!r}, last acknowledged {contents[-1]!r}")
                # Every acknowledged version is in the history: the insert row holds the first,
                # each update row holds the version it replaced.
                rows = self.history_contents(d, data_id)
                self.assertEqual(rows[0], ("I", contents[0]))
                recorded = {content for _, content in rows} | {current}
                missing = [c for c in contents if c not in recorded]
                self.assertEqual(missing, [], f"{data_id}: acknowledged versions missing from history")
                self.assertTrue(all(op == "U" for op, _ in rows[1:]))
        finally:
            d.cleanup()


    def test_history_past_its_retention_is_dropped_and_stays_dropped(self):
        retention_s = 6
        d = DnsdProcess(data_dir=self.dir,
                        config_text=f"[config]\nhistory_retention_ms = {retention_s * 1000}\n").start()
        try:
            for n in range(4):
                self.assertEqual(d.curl("POST", "/nacos/v1/cs/configs",
                                        body={"dataId": "short", "group": "CRASH", "content": f"old {n}"}),
                                 (200, "true"))
            old_written = time.time()
            time.sleep(retention_s / 2)
            self.assertEqual(d.curl("POST", "/nacos/v1/cs/configs",
                                    body={"dataId": "short", "group": "CRASH", "content": "new"}),
                             (200, "true"))
            new_written = time.time()
            self.assertEqual(len(self.history_contents(d, "short")), 5)

            # An update row holds the version it replaced and is as old as the update: the
            # rows written before the pause are the insert and the first three updates.
            # They may go in several trims (each takes what is past the cut-off then).
            def old_gone():
                return len(self.history_contents(d, "short")) <= 1
            self.assertTrue(wait_until(old_gone, timeout=retention_s * 3, interval=0.2))
            self.assertGreaterEqual(time.time() - old_written, retention_s * 0.9, "dropped before its time")
            rows = self.history_contents(d, "short")
            if time.time() < new_written + retention_s - 1:
                self.assertEqual(rows, [("U", "old 3")], "the row newer than the cut-off stays")
            self.assertEqual(d.curl("GET", "/nacos/v1/cs/configs", {"dataId": "short", "group": "CRASH"}),
                             (200, "new"), "the config itself stays")
            d.kill9()
            d.start(fresh_ports=True)
            self.assertLessEqual(len(self.history_contents(d, "short")), 1,
                                 "a trim is state: it survives a restart")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
