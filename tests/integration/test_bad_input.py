"""Bad input gets 400 with the reason, is counted, and leaves the registry unchanged."""
import json
import unittest

from harness import DnsdProcess


class BadInputTest(unittest.TestCase):
    def setUp(self):
        # A small body limit keeps the oversized case cheap.
        self.dnsd = DnsdProcess(config_text="[http]\nmax_body_bytes = 4096\n").start()

    def tearDown(self):
        self.dnsd.cleanup()

    def snapshot(self):
        """Every observable piece of registry state that a bad request could disturb."""
        state = {}
        for ns in ("public", "dev"):
            for group in ("DEFAULT_GROUP", "G"):
                listing = self.dnsd.json("GET", "/nacos/v2/ns/service/list",
                                         {"namespaceId": ns, "groupName": group, "pageSize": 500})
                for name in listing["data"]["services"]:
                    info = self.dnsd.json("GET", "/nacos/v1/ns/instance/list",
                                          {"namespaceId": ns, "groupName": group, "serviceName": name})
                    for h in info["hosts"]:
                        h.pop("valid", None)
                    state[(ns, group, name)] = sorted(json.dumps(h, sort_keys=True) for h in info["hosts"])
        metrics = self.dnsd.json("GET", "/nacos/v1/ns/operator/metrics", {"onlyStatus": "false"})
        state["counts"] = (metrics["serviceCount"], metrics["instanceCount"])
        return state

    def test_bad_requests_are_rejected_without_side_effects(self):
        d = self.dnsd
        self.assertEqual(d.curl("POST", "/nacos/v1/console/namespaces", {"customNamespaceId": "dev", "namespaceName": "dev"})[0], 200)
        d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "good", "ip": "10.0.0.1", "port": 80, "weight": 2})
        d.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "durable", "ip": "10.0.0.2", "port": 80, "ephemeral": "false"})
        d.curl("POST", "/nacos/v1/ns/service", {"serviceName": "persistent-svc", "protectThreshold": 0.2})
        before = self.snapshot()

        inst = "/nacos/v1/ns/instance"
        v2 = "/nacos/v2/ns/instance"
        base = {"serviceName": "good", "ip": "10.0.0.9", "port": 80}
        cases = [
            ("POST", inst, {"ip": "10.0.0.9", "port": 80}, None, "serviceName"),
            ("POST", inst, {"serviceName": "good", "port": 80}, None, "ip"),
            ("POST", inst, {"serviceName": "good", "ip": "10.0.0.9"}, None, "port"),
            ("POST", inst, {**base, "ip": "999.1.1.1"}, None, "ip"),
            ("POST", inst, {**base, "ip": "not an ip!"}, None, "ip"),
            ("POST", inst, {**base, "port": 0}, None, "port"),
            ("POST", inst, {**base, "port": 65536}, None, "port"),
            ("POST", inst, {**base, "port": "eighty"}, None, "port"),
            ("POST", inst, {**base, "weight": -1}, None, "weight"),
            ("POST", inst, {**base, "weight": 10000.5}, None, "weight"),
            ("POST", inst, {**base, "weight": "heavy"}, None, "weight"),
            ("POST", inst, {**base, "metadata": '{"a":'}, None, "metadata"),
            ("POST", inst, {**base, "metadata": '{"a":{"b":1}}'}, None, "metadata"),
            ("POST", inst, {**base, "metadata": '{"preserved.heart.beat.interval":"50000"}'}, None, "heart beat"),
            ("POST", inst, {**base, "clusterName": "bad cluster"}, None, "clusterName"),
            ("POST", inst, {**base, "healthy": "perhaps"}, None, "healthy"),
            ("POST", inst, {**base, "ephemeral": "sometimes"}, None, "ephemeral"),
            ("POST", inst, {**base, "serviceName": "@@nogroup"}, None, "serviceName"),
            ("POST", inst, {**base, "serviceName": "persistent-svc"}, None, "persistent service"),
            ("POST", inst, {**base, "serviceName": "good", "ephemeral": "false"}, None, "ephemeral service"),
            ("POST", v2, {**base, "namespaceId": "no-such-ns"}, None, "namespace"),
            ("POST", inst, None, "serviceName=good&ip=10.0.0.9&port=80&metadata=" + "x" * 5000, "exceeds the limit"),
            ("PUT", inst, {**base, "ip": "10.0.0.1", "weight": 20000}, None, "weight"),
            ("PUT", inst, {"serviceName": "absent-svc", "ip": "10.0.0.1", "port": 80}, None, "service not found"),
            ("PUT", "/nacos/v1/ns/instance/beat", {"serviceName": "good", "beat": "{not json"}, None, "beat"),
            ("POST", "/nacos/v1/ns/service", {"serviceName": "new-svc", "protectThreshold": 2}, None, "protectThreshold"),
            ("POST", "/nacos/v1/ns/service", {"serviceName": "new-svc", "selector": '{"type":"magic"}'}, None, "selector"),
            ("PUT", "/nacos/v1/ns/instance/metadata/batch", {"serviceName": "good", "metadata": '{"a":"b"}', "instances": "[{]"}, None, "instances"),
            ("DELETE", "/nacos/v1/ns/service", {"serviceName": "good"}, None, "not empty"),
            ("POST", "/nacos/v1/console/namespaces", {"customNamespaceId": "bad id!", "namespaceName": "x"}, None, "namespaceId"),
            ("DELETE", "/nacos/v1/console/namespaces", {"namespaceId": "public"}, None, "default namespace"),
            ("GET", "/nacos/v1/ns/service/list", {"pageNo": 0, "pageSize": 10}, None, "pageNo"),
        ]
        self.assertGreaterEqual(len(cases), 20)
        for method, path, params, body, reason in cases:
            status, text = d.curl(method, path, params, body)
            with self.subTest(method=method, path=path, params=params):
                self.assertEqual(status, 400, text)
                self.assertIn(reason.lower(), text.lower())
        self.assertEqual(self.snapshot(), before)

        _, metrics = d.curl("GET", "/metrics")
        rejected = [l for l in metrics.splitlines() if l.startswith('dnsd_api_rejected_requests_total{status="400"}')]
        self.assertTrue(rejected and int(rejected[0].split()[-1]) >= len(cases) - 1, metrics)
        self.assertIn("dnsd_api_http_oversized_bodies_total 1", metrics)
        # Still serving after all of it.
        self.assertEqual(d.curl("GET", "/nacos/v1/console/health/liveness"), (200, "OK"))

    def test_v2_errors_use_the_envelope(self):
        status, body = self.dnsd.curl("POST", "/nacos/v2/ns/instance", {"serviceName": "s", "ip": "1.2.3.4", "port": 1, "weight": 99999})
        self.assertEqual(status, 400)
        parsed = json.loads(body)
        self.assertEqual(parsed["code"], 21001)
        self.assertEqual(parsed["message"], "weight error")
        self.assertIn("weight", parsed["data"])

    def test_unknown_path_and_method(self):
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/ns/nothing")[0], 404)
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance/metadata/batch", {"serviceName": "x"})[0], 405)


if __name__ == "__main__":
    unittest.main()
