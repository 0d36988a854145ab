"""Durable naming data survives a clean restart and kill -9; ephemeral data does not."""
import concurrent.futures
import shutil
import tempfile
import threading
import unittest

from harness import DnsdProcess


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnsd-durable-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def hosts(self, d, service, **params):
        info = d.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": service, **params})
        return {(h["ip"], h["port"]): h for h in info["hosts"]}

    def test_restart_keeps_persistent_instances_services_and_namespaces(self):
        d = DnsdProcess(data_dir=self.dir).start()
        try:
            d.curl("POST", "/nacos/v1/console/namespaces", {"customNamespaceId": "prod", "namespaceName": "Prod"})
            d.curl("POST", "/nacos/v1/ns/service", {"serviceName": "db", "protectThreshold": 0.3, "metadata": '{"tier":"1"}'})
            for i in range(3):
                status, _ = d.curl("POST", "/nacos/v1/ns/instance",
                                   {"serviceName": "db", "ip": f"10.20.0.{i}", "port": 5432, "ephemeral": "false", "weight": i + 1})
                self.assertEqual(status, 200)
            d.curl("PUT", "/nacos/v1/ns/instance", {"serviceName": "db", "ip": "10.20.0.0", "port": 5432, "ephemeral": "false", "weight": 7})
            d.curl("DELETE", "/nacos/v1/ns/instance", {"serviceName": "db", "ip": "10.20.0.2", "port": 5432, "ephemeral": "false"})
            d.json("POST", "/nacos/v2/ns/instance", {"namespaceId": "prod", "serviceName": "api", "ip": "10.21.0.1", "port": 1, "ephemeral": "false"})
            d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "cache", "ip": "10.22.0.1", "port": 1})  # ephemeral
            self.assertEqual(d.stop(), 0, "SIGTERM is a clean exit")

            d.start()
            hosts = self.hosts(d, "db")
            self.assertEqual(sorted(hosts), [("10.20.0.0", 5432), ("10.20.0.1", 5432)])
            self.assertEqual(hosts[("10.20.0.0", 5432)]["weight"], 7.0)
            self.assertFalse(hosts[("10.20.0.1", 5432)]["ephemeral"])
            svc = d.json("GET", "/nacos/v1/ns/service", {"serviceName": "db"})
            self.assertEqual((svc["protectThreshold"], svc["metadata"]), (0.3, {"tier": "1"}))
            ns = [n["namespace"] for n in d.json("GET", "/nacos/v1/console/namespaces")["data"]]
            self.assertIn("prod", ns)
            self.assertEqual(len(self.hosts(d, "api", namespaceId="prod")), 1)
            self.assertEqual(self.hosts(d, "cache"), {}, "ephemeral instances live in memory only")
        finally:
            d.cleanup()

    def test_kill9_loses_nothing_acknowledged(self):
        d = DnsdProcess(data_dir=self.dir).start()
        acked = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(worker):
            i = 0
            while not stop.is_set():
                ip = f"10.{30 + worker}.{i // 250}.{i % 250 + 1}"
                try:
                    status, body = d.curl("POST", "/nacos/v1/ns/instance",
                                          {"serviceName": "crashy", "ip": ip, "port": 80, "ephemeral": "false"})
                except Exception:
                    return
                if status == 200 and body == "ok":
                    with lock:
                        acked.append(ip)
                i += 1

        try:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                futures = [pool.submit(writer, w) for w in range(4)]
                while True:
                    with lock:
                        if len(acked) >= 150:
                            break
                    stop.wait(0.05)
                d.kill9()
                stop.set()
                for f in futures:
                    f.result()
            self.assertGreaterEqual(len(acked), 150)
            d.start()
            present = {ip for ip, _ in self.hosts(d, "crashy")}
            missing = [ip for ip in acked if ip not in present]
            self.assertEqual(missing, [], f"{len(missing)} acknowledged registrations lost")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
