"""The Nacos naming HTTP API (v1 and v2) driven with curl against a real dnsd."""
import json
import unittest

from harness import SharedDnsdTest


class HttpNamingTest(SharedDnsdTest):
    def register(self, service, ip, port, **extra):
        params = {"serviceName": service, "ip": ip, "port": port, **extra}
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/instance", params)
        self.assertEqual((status, body), (200, "ok"))

    def hosts(self, service, **extra):
        info = self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": service, **extra})
        return info, {(h["ip"], h["port"]): h for h in info["hosts"]}

    def test_v1_instance_lifecycle(self):
        self.register("life", "10.1.0.1", 80, weight=2, metadata=json.dumps({"v": "1"}))
        self.register("life", "10.1.0.2", 80, clusterName="east")
        info, hosts = self.hosts("life")
        self.assertEqual(info["name"], "DEFAULT_GROUP@@life")
        self.assertEqual(info["cacheMillis"], 10000)
        self.assertFalse(info["reachProtectionThreshold"])
        self.assertEqual(hosts[("10.1.0.1", 80)]["weight"], 2.0)
        self.assertEqual(hosts[("10.1.0.1", 80)]["metadata"], {"v": "1"})
        self.assertEqual(hosts[("10.1.0.2", 80)]["instanceId"], "10.1.0.2#80#east#DEFAULT_GROUP@@life")
        _, east = self.hosts("life", clusters="east")
        self.assertEqual(list(east), [("10.1.0.2", 80)])

        # PUT replaces weight/enabled/metadata; PATCH changes only what it names.
        status, body = self.dnsd.curl("PUT", "/nacos/v1/ns/instance",
                                      body={"serviceName": "life", "ip": "10.1.0.1", "port": 80, "weight": 5,
                                            "metadata": '{"v":"2"}'})
        self.assertEqual((status, body), (200, "ok"))
        status, _ = self.dnsd.curl("PATCH", "/nacos/v1/ns/instance",
                                   {"serviceName": "life", "ip": "10.1.0.1", "port": 80, "enabled": "false"})
        self.assertEqual(status, 200)
        one = self.dnsd.json("GET", "/nacos/v1/ns/instance", {"serviceName": "life", "ip": "10.1.0.1", "port": 80})
        self.assertEqual(one["weight"], 5.0)
        self.assertFalse(one["enabled"])
        self.assertEqual(one["metadata"], {"v": "2"})
        _, hosts = self.hosts("life")
        self.assertNotIn(("10.1.0.1", 80), hosts, "disabled instances are not listed")

        statuses = self.dnsd.json("GET", "/nacos/v1/ns/instance/statuses", {"key": "public##DEFAULT_GROUP@@life"})
        self.assertEqual(sorted(statuses["ips"]), ["10.1.0.1:80_true", "10.1.0.2:80_true"])

        status, body = self.dnsd.curl("DELETE", "/nacos/v1/ns/instance",
                                      {"serviceName": "life", "ip": "10.1.0.2", "port": 80, "clusterName": "east"})
        self.assertEqual((status, body), (200, "ok"))
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/ns/instance",
                                      {"serviceName": "life", "ip": "10.9.9.9", "port": 80})
        self.assertEqual((status, body), (200, "ok"), "deregistering an unknown instance is not an error")
        status, _ = self.dnsd.curl("GET", "/nacos/v1/ns/instance",
                                   {"serviceName": "life", "ip": "10.1.0.2", "port": 80, "clusterName": "east"})
        self.assertEqual(status, 404)

    def test_parameters_from_form_body_for_every_method(self):
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/instance",
                                      body={"serviceName": "formsvc", "ip": "10.2.0.1", "port": 81})
        self.assertEqual((status, body), (200, "ok"))
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/ns/instance",
                                      body={"serviceName": "formsvc", "ip": "10.2.0.1", "port": 81})
        self.assertEqual((status, body), (200, "ok"))
        _, hosts = self.hosts("formsvc")
        self.assertEqual(hosts, {})

    def test_beat_codes(self):
        beat = json.dumps({"ip": "10.3.0.1", "port": 90, "serviceName": "DEFAULT_GROUP@@beaten", "cluster": "",
                           "weight": 3, "metadata": {"a": "b"}, "scheduled": False})
        # Unknown instance without a body: 20404, and nothing is created.
        light = self.dnsd.json("PUT", "/nacos/v1/ns/instance/beat",
                               {"serviceName": "DEFAULT_GROUP@@beaten", "ip": "10.3.0.1", "port": 90})
        self.assertEqual(light["code"], 20404)
        # With the beat body, the instance is registered from it.
        full = self.dnsd.json("PUT", "/nacos/v1/ns/instance/beat", body={"serviceName": "DEFAULT_GROUP@@beaten", "beat": beat})
        self.assertEqual(full, {"clientBeatInterval": 5000, "code": 10200, "lightBeatEnabled": True})
        _, hosts = self.hosts("beaten")
        self.assertEqual(hosts[("10.3.0.1", 90)]["weight"], 3.0)
        self.assertEqual(hosts[("10.3.0.1", 90)]["metadata"], {"a": "b"})
        light = self.dnsd.json("PUT", "/nacos/v1/ns/instance/beat",
                               {"serviceName": "beaten", "ip": "10.3.0.1", "port": 90})
        self.assertEqual(light["code"], 10200)
        v2 = self.dnsd.json("PUT", "/nacos/v2/ns/instance/beat",
                            {"serviceName": "beaten", "ip": "10.3.0.1", "port": 90})
        self.assertEqual(v2["code"], 10200, "v2 beat answers un-enveloped")

    def test_service_crud_v1(self):
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/service",
                                      {"serviceName": "crud", "protectThreshold": 0.5, "metadata": '{"team":"a"}'})
        self.assertEqual((status, body), (200, "ok"))
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/service", {"serviceName": "crud"})
        self.assertEqual(status, 400)
        self.assertIn("already exists", body)
        svc = self.dnsd.json("GET", "/nacos/v1/ns/service", {"serviceName": "crud"})
        self.assertEqual((svc["name"], svc["groupName"], svc["namespaceId"]), ("crud", "DEFAULT_GROUP", "public"))
        self.assertEqual(svc["protectThreshold"], 0.5)
        self.assertEqual(svc["metadata"], {"team": "a"})
        self.assertEqual(svc["selector"], {"type": "none"})
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/ns/service", {"serviceName": "crud", "metadata": "{}"})
        self.assertEqual(status, 400, "protectThreshold is required on update")
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/ns/service", {"serviceName": "crud", "protectThreshold": 0.8})
        self.assertEqual(status, 200)
        self.assertEqual(self.dnsd.json("GET", "/nacos/v1/ns/service", {"serviceName": "crud"})["protectThreshold"], 0.8)
        # v1 services are persistent: ephemeral registration is refused.
        status, body = self.dnsd.curl("POST", "/nacos/v1/ns/instance", {"serviceName": "crud", "ip": "10.4.0.1", "port": 1})
        self.assertEqual(status, 400)
        self.assertIn("persistent service", body)
        self.register("crud", "10.4.0.1", 1, ephemeral="false")
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/ns/service", {"serviceName": "crud"})
        self.assertEqual(status, 400, body)
        self.dnsd.curl("DELETE", "/nacos/v1/ns/instance", {"serviceName": "crud", "ip": "10.4.0.1", "port": 1, "ephemeral": "false"})
        status, _ = self.dnsd.curl("DELETE", "/nacos/v1/ns/service", {"serviceName": "crud"})
        self.assertEqual(status, 200)
        status, _ = self.dnsd.curl("GET", "/nacos/v1/ns/service", {"serviceName": "crud"})
        self.assertEqual(status, 404)

    def test_service_list_paging_and_groups(self):
        for i in range(5):
            self.register(f"page-{i}", "10.5.0.1", 1, groupName="PAGING")
        page = self.dnsd.json("GET", "/nacos/v1/ns/service/list", {"pageNo": 2, "pageSize": 2, "groupName": "PAGING"})
        self.assertEqual(page, {"count": 5, "doms": ["page-2", "page-3"]})
        v2 = self.dnsd.json("GET", "/nacos/v2/ns/service/list", {"groupName": "PAGING"})
        self.assertEqual(v2["code"], 0)
        self.assertEqual(v2["data"]["count"], 5)
        self.assertEqual(len(v2["data"]["services"]), 5)
        status, _ = self.dnsd.curl("GET", "/nacos/v1/ns/service/list", {"pageSize": 2})
        self.assertEqual(status, 400, "pageNo is required on v1")

    def test_protect_threshold_over_http(self):
        self.dnsd.json("POST", "/nacos/v2/ns/service", {"serviceName": "guarded", "ephemeral": "true", "protectThreshold": 0.6})
        self.register("guarded", "10.6.0.1", 1)
        self.register("guarded", "10.6.0.2", 1, healthy="false")
        info, hosts = self.hosts("guarded")
        self.assertTrue(info["reachProtectionThreshold"], "1 healthy of 2 = 0.5 <= 0.6")
        self.assertTrue(all(h["healthy"] for h in hosts.values()), "protection reports every host healthy")
        self.register("guarded", "10.6.0.3", 1)
        info, hosts = self.hosts("guarded")
        self.assertFalse(info["reachProtectionThreshold"])
        self.assertFalse(hosts[("10.6.0.2", 1)]["healthy"])
        info, hosts = self.hosts("guarded", healthyOnly="true")
        self.assertEqual(len(hosts), 2)

    def test_v2_instances_and_services(self):
        ok = self.dnsd.json("POST", "/nacos/v2/ns/instance",
                            {"serviceName": "v2svc", "groupName": "G2", "ip": "10.7.0.1", "port": 7, "weight": 3})
        self.assertEqual(ok, {"code": 0, "message": "success", "data": "ok"})
        got = self.dnsd.json("GET", "/nacos/v2/ns/instance", {"serviceName": "v2svc", "groupName": "G2", "ip": "10.7.0.1", "port": 7})
        self.assertEqual(got["data"]["weight"], 3.0)
        self.assertEqual(got["data"]["serviceName"], "G2@@v2svc")
        listing = self.dnsd.json("GET", "/nacos/v2/ns/instance/list", {"serviceName": "v2svc", "groupName": "G2"})
        self.assertEqual([h["ip"] for h in listing["data"]["hosts"]], ["10.7.0.1"])
        svc = self.dnsd.json("GET", "/nacos/v2/ns/service", {"serviceName": "v2svc", "groupName": "G2"})
        self.assertTrue(svc["data"]["ephemeral"])
        self.assertIn("DEFAULT", svc["data"]["clusterMap"])
        status, body = self.dnsd.curl("GET", "/nacos/v2/ns/service", {"serviceName": "nope"})
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["code"], 21008)
        status, body = self.dnsd.curl("POST", "/nacos/v2/ns/instance", {"serviceName": "v2svc", "ip": "10.7.0.1"})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["code"], 10000)

    def test_metadata_batch(self):
        self.register("batch", "10.8.0.1", 1)
        self.register("batch", "10.8.0.2", 1)
        result = self.dnsd.json("PUT", "/nacos/v1/ns/instance/metadata/batch",
                                {"serviceName": "batch", "metadata": '{"ver":"9"}',
                                 "instances": '[{"ip":"10.8.0.2","port":1,"clusterName":"DEFAULT"}]'})
        self.assertEqual(result, {"updated": ["10.8.0.2:1:unknown:DEFAULT:ephemeral"]})
        _, hosts = self.hosts("batch")
        self.assertEqual(hosts[("10.8.0.2", 1)]["metadata"], {"ver": "9"})
        self.assertEqual(hosts[("10.8.0.1", 1)]["metadata"], {})
        result = self.dnsd.json("DELETE", "/nacos/v1/ns/instance/metadata/batch",
                                {"serviceName": "batch", "metadata": '{"ver":""}'})
        self.assertEqual(len(result["updated"]), 2)
        _, hosts = self.hosts("batch")
        self.assertEqual(hosts[("10.8.0.2", 1)]["metadata"], {})

    def test_persistent_health_api(self):
        self.register("manual", "10.9.0.1", 1, ephemeral="false")
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/ns/health/instance",
                                   {"serviceName": "manual", "ip": "10.9.0.1", "port": 1, "healthy": "false"})
        self.assertEqual(status, 200)
        _, hosts = self.hosts("manual")
        self.assertFalse(hosts[("10.9.0.1", 1)]["healthy"])

    def test_subscribers_switches_metrics_health_cluster(self):
        self.register("subs", "10.10.0.1", 1)
        self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": "subs", "udpPort": 5555, "clientIP": "10.99.0.1"})
        subs = self.dnsd.json("GET", "/nacos/v1/ns/service/subscribers", {"serviceName": "subs"})
        self.assertEqual(subs["count"], 1)
        self.assertEqual(subs["subscribers"][0]["addrStr"], "10.99.0.1:5555")

        switches = self.dnsd.json("GET", "/nacos/v1/ns/operator/switches")
        self.assertEqual(switches["defaultPushCacheMillis"], 10000)
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/ns/operator/switches", {"entry": "defaultPushCacheMillis", "value": "12000"})
        self.assertEqual(status, 200)
        self.assertEqual(self.hosts("subs")[0]["cacheMillis"], 12000)
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/ns/operator/switches", {"entry": "noSuchSwitch", "value": "1"})
        self.assertEqual(status, 400)
        self.dnsd.curl("PUT", "/nacos/v1/ns/operator/switches", {"entry": "defaultPushCacheMillis", "value": "10000"})

        self.assertEqual(self.dnsd.json("GET", "/nacos/v1/ns/operator/metrics"), {"status": "UP"})
        full = self.dnsd.json("GET", "/nacos/v1/ns/operator/metrics", {"onlyStatus": "false"})
        self.assertGreaterEqual(full["instanceCount"], 1)
        for path in ("/nacos/v1/console/health/liveness", "/nacos/v1/console/health/readiness"):
            self.assertEqual(self.dnsd.curl("GET", path), (200, "OK"))
        nodes = self.dnsd.json("GET", "/nacos/v1/core/cluster/nodes")
        self.assertEqual(nodes["data"][0]["address"], f"127.0.0.1:{self.dnsd.port}")
        self.assertEqual(nodes["data"][0]["state"], "UP")
        status, text = self.dnsd.curl("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("dnsd_registry_instances ", text)
        self.assertIn('dnsd_api_http_responses_total{class="2xx"}', text)

    def test_v2_client_introspection(self):
        self.register("clients", "10.12.0.1", 7001)
        ids = self.dnsd.json("GET", "/nacos/v2/ns/client/list")["data"]
        self.assertIn("10.12.0.1:7001#true", ids)
        client = self.dnsd.json("GET", "/nacos/v2/ns/client", {"clientId": "10.12.0.1:7001#true"})["data"]
        self.assertEqual((client["clientIp"], client["ephemeral"]), ("10.12.0.1", True))
        published = self.dnsd.json("GET", "/nacos/v2/ns/client/publish/list", {"clientId": "10.12.0.1:7001#true"})["data"]
        self.assertEqual(published[0]["serviceName"], "clients")
        self.assertEqual(published[0]["registeredInstance"]["port"], 7001)
        publishers = self.dnsd.json("GET", "/nacos/v2/ns/client/service/publisher/list", {"serviceName": "clients"})["data"]
        self.assertEqual(publishers, [{"clientId": "10.12.0.1:7001#true", "ip": "10.12.0.1", "port": 7001}])
        status, _ = self.dnsd.curl("GET", "/nacos/v2/ns/client", {"clientId": "10.99.99.99:1#true"})
        self.assertEqual(status, 404)

    def test_namespaces_v1_and_v2(self):
        status, body = self.dnsd.curl("POST", "/nacos/v1/console/namespaces",
                                      {"customNamespaceId": "team-x", "namespaceName": "Team X", "namespaceDesc": "x"})
        self.assertEqual((status, body), (200, "true"))
        listed = self.dnsd.json("GET", "/nacos/v1/console/namespaces")
        self.assertEqual(listed["data"][0]["namespace"], "")
        self.assertEqual(listed["data"][0]["namespaceShowName"], "public")
        self.assertIn("team-x", [n["namespace"] for n in listed["data"]])
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/console/namespaces",
                                        {"checkNamespaceIdExist": "true", "customNamespaceId": "team-x"}), (200, "true"))
        status, _ = self.dnsd.curl("PUT", "/nacos/v1/console/namespaces",
                                   {"namespace": "team-x", "namespaceShowName": "Team X2", "namespaceDesc": "y"})
        self.assertEqual(status, 200)
        one = self.dnsd.json("GET", "/nacos/v2/console/namespace", {"namespaceId": "team-x"})
        self.assertEqual(one["data"]["namespaceShowName"], "Team X2")
        # Registry namespaces: the v2 API accepts the new namespace and isolates it.
        self.dnsd.json("POST", "/nacos/v2/ns/instance", {"namespaceId": "team-x", "serviceName": "iso", "ip": "10.11.0.1", "port": 1})
        self.assertEqual(self.hosts("iso")[1], {})
        info = self.dnsd.json("GET", "/nacos/v2/ns/instance/list", {"namespaceId": "team-x", "serviceName": "iso"})
        self.assertEqual(len(info["data"]["hosts"]), 1)
        created = self.dnsd.json("POST", "/nacos/v2/console/namespace", {"namespaceId": "team-y", "namespaceName": "Y"})
        self.assertEqual(created["data"], True)
        status, body = self.dnsd.curl("POST", "/nacos/v2/console/namespace", {"namespaceId": "team-y", "namespaceName": "Y"})
        self.assertEqual(json.loads(body)["code"], 22002)
        self.assertEqual(self.dnsd.json("DELETE", "/nacos/v2/console/namespace", {"namespaceId": "team-y"})["data"], True)
        ids = [n["namespace"] for n in self.dnsd.json("GET", "/nacos/v2/console/namespace/list")["data"]]
        self.assertNotIn("team-y", ids)


if __name__ == "__main__":
    unittest.main()
