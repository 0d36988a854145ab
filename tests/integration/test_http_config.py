"""The Nacos config HTTP API (v1 and v2) driven with curl against a real dnsd."""
import hashlib
import subprocess
import time
import unittest
import urllib.parse

from harness import SharedDnsdTest, wait_until

WORD, LINE = "\x02", "\x01"
TRICKY = "a=1&b=2+3%\nurl=http://h/?x=%20y\nname=数据 ✓\n"


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class HttpConfigTest(SharedDnsdTest):
    dnsd_config = "[config]\nmax_content_bytes = 4096\n"

    def publish(self, data_id, content, group="DEFAULT_GROUP", **extra):
        status, body = self.dnsd.curl("POST", "/nacos/v1/cs/configs",
                                      body={"dataId": data_id, "group": group, "content": content, **extra})
        self.assertEqual((status, body), (200, "true"))

    def get_with_headers(self, params):
        url = self.dnsd.base + "/nacos/v1/cs/configs?" + urllib.parse.urlencode(params)
        out = subprocess.run(["curl", "-s", "-D", "-", url], capture_output=True, timeout=30)
        head, _, body = out.stdout.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return int(lines[0].split()[1]), headers, body

    def rejected(self, status):
        for line in self.dnsd.curl("GET", "/metrics")[1].splitlines():
            if line.startswith(f'dnsd_api_rejected_requests_total{{status="{status}"}}'):
                return int(float(line.split()[-1]))
        return 0

    def test_v1_get_returns_exact_bytes_and_headers(self):
        self.publish("exact.properties", TRICKY, type="properties", appName="shop", desc="d")
        status, headers, body = self.get_with_headers({"dataId": "exact.properties", "group": "DEFAULT_GROUP"})
        self.assertEqual(status, 200)
        self.assertEqual(body, TRICKY.encode("utf-8"))
        self.assertEqual(headers["content-md5"], md5(TRICKY))
        self.assertEqual(headers["config-type"], "properties")
        self.assertEqual(headers["cache-control"], "no-cache,no-store")
        self.assertIn("last-modified", headers)

        detail = self.dnsd.json("GET", "/nacos/v1/cs/configs",
                                {"dataId": "exact.properties", "group": "DEFAULT_GROUP", "show": "all"})
        self.assertEqual((detail["content"], detail["md5"], detail["appName"], detail["desc"], detail["tenant"]),
                         (TRICKY, md5(TRICKY), "shop", "d", ""))
        self.assertIsInstance(detail["id"], str)

        status, headers, body = self.get_with_headers({"dataId": "missing", "group": "DEFAULT_GROUP"})
        self.assertEqual((status, body), (404, b"config data not exist"))

    def test_default_namespace_has_one_identity(self):
        self.publish("ns.txt", "one", tenant="public")
        for tenant in ("", "public", "PUBLIC"):
            status, body = self.dnsd.curl("GET", "/nacos/v1/cs/configs",
                                          {"dataId": "ns.txt", "group": "DEFAULT_GROUP", "tenant": tenant})
            self.assertEqual((status, body), (200, "one"), tenant)
        status, _ = self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "ns.txt", "group": "DEFAULT_GROUP", "tenant": "dev"})
        self.assertEqual(status, 404)
        v2 = self.dnsd.json("GET", "/nacos/v2/cs/config", {"dataId": "ns.txt", "group": "DEFAULT_GROUP", "namespaceId": "public"})
        self.assertEqual(v2["data"], "one")

    def test_v2_config_api(self):
        status, body = self.dnsd.curl("POST", "/nacos/v2/cs/config",
                                      body={"dataId": "v2.json", "group": "G2", "namespaceId": "team",
                                            "content": '{"k": "v"}', "type": "json"})
        self.assertEqual(status, 200, body)
        self.assertIn('"data":true', body)
        got = self.dnsd.json("GET", "/nacos/v2/cs/config", {"dataId": "v2.json", "group": "G2", "namespaceId": "team"})
        self.assertEqual((got["code"], got["message"], got["data"]), (0, "success", '{"k": "v"}'))
        status, body = self.dnsd.curl("DELETE", "/nacos/v2/cs/config", {"dataId": "v2.json", "group": "G2", "namespaceId": "team"})
        self.assertEqual(status, 200)
        status, body = self.dnsd.curl("GET", "/nacos/v2/cs/config", {"dataId": "v2.json", "group": "G2", "namespaceId": "team"})
        self.assertEqual(status, 404)
        self.assertIn('"code":20004', body)

    def test_history_records_every_change(self):
        for content in ("v1", "v2", "v3"):
            self.publish("hist.yaml", content, group="H")
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/cs/configs", {"dataId": "hist.yaml", "group": "H"})
        self.assertEqual((status, body), (200, "true"))
        page = self.dnsd.json("GET", "/nacos/v1/cs/history",
                              {"search": "accurate", "dataId": "hist.yaml", "group": "H", "pageNo": 1, "pageSize": 10})
        rows = page["pageItems"]
        self.assertEqual(page["totalCount"], 4)
        # Newest first. An insert records the new content; updates and the delete record what they replaced.
        self.assertEqual([(r["opType"], r["content"]) for r in rows],
                         [("D", "v3"), ("U", "v2"), ("U", "v1"), ("I", "v1")])
        self.assertTrue(all(r["md5"] == md5(r["content"]) for r in rows))
        self.assertRegex(rows[0]["createdTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")

        one = self.dnsd.json("GET", "/nacos/v1/cs/history", {"nid": rows[1]["id"], "dataId": "hist.yaml", "group": "H"})
        self.assertEqual(one["content"], "v2")
        prev = self.dnsd.json("GET", "/nacos/v1/cs/history/previous", {"id": rows[1]["id"], "dataId": "hist.yaml", "group": "H"})
        self.assertEqual((prev["id"], prev["content"]), (rows[2]["id"], "v1"))
        status, _ = self.dnsd.curl("GET", "/nacos/v1/cs/history/previous", {"id": rows[3]["id"]})
        self.assertEqual(status, 404, "the insert has nothing before it")
        status, _ = self.dnsd.curl("GET", "/nacos/v1/cs/history", {"nid": rows[1]["id"], "dataId": "other", "group": "H"})
        self.assertEqual(status, 403, "a row is only shown for its own config")
        status, _ = self.dnsd.curl("GET", "/nacos/v1/cs/history", {"nid": 999999})
        self.assertEqual(status, 404)

        v2 = self.dnsd.json("GET", "/nacos/v2/cs/history/list", {"dataId": "hist.yaml", "group": "H", "pageSize": 2})
        self.assertEqual((v2["data"]["totalCount"], v2["data"]["pagesAvailable"], len(v2["data"]["pageItems"])), (4, 2, 2))
        detail = self.dnsd.json("GET", "/nacos/v2/cs/history", {"dataId": "hist.yaml", "group": "H", "nid": rows[3]["id"]})
        self.assertEqual(detail["data"]["opType"], "I")

        self.publish("listed.txt", "x", group="H", tenant="hist-ns")
        configs = self.dnsd.json("GET", "/nacos/v1/cs/history/configs", {"tenant": "hist-ns"})
        self.assertEqual([(c["dataId"], c["group"]) for c in configs], [("listed.txt", "H")])

    def test_search_accurate_and_blur_with_paging(self):
        for name in ("order.yaml", "order.json", "user.yaml"):
            self.publish(name, "x", group="SEARCH", tenant="search")
        self.publish("pay.yaml", "y", group="SEARCH", tenant="search", appName="pay", config_tags="prod,eu")
        base = {"tenant": "search", "pageNo": 1, "pageSize": 10}
        accurate = self.dnsd.json("GET", "/nacos/v1/cs/configs", {**base, "search": "accurate", "dataId": "order.yaml", "group": "SEARCH"})
        self.assertEqual([c["dataId"] for c in accurate["pageItems"]], ["order.yaml"])
        blur = self.dnsd.json("GET", "/nacos/v1/cs/configs", {**base, "search": "blur", "dataId": "order*", "group": ""})
        self.assertEqual(sorted(c["dataId"] for c in blur["pageItems"]), ["order.json", "order.yaml"])
        tagged = self.dnsd.json("GET", "/nacos/v1/cs/configs", {**base, "search": "blur", "config_tags": "eu"})
        self.assertEqual([c["dataId"] for c in tagged["pageItems"]], ["pay.yaml"])
        by_app = self.dnsd.json("GET", "/nacos/v1/cs/configs", {**base, "search": "accurate", "appName": "pay"})
        self.assertEqual([c["appName"] for c in by_app["pageItems"]], ["pay"])
        paged = self.dnsd.json("GET", "/nacos/v1/cs/configs", {**base, "search": "blur", "pageNo": 2, "pageSize": 3})
        self.assertEqual((paged["totalCount"], paged["pageNumber"], paged["pagesAvailable"], len(paged["pageItems"])),
                         (4, 2, 2, 1))

    def test_cas_publish(self):
        self.publish("cas.txt", "first")
        status, body = self.dnsd.curl("POST", "/nacos/v1/cs/configs",
                                      body={"dataId": "cas.txt", "group": "DEFAULT_GROUP", "content": "lost"},
                                      headers={"casMd5": md5("not what is stored")})
        self.assertEqual(status, 409)
        self.assertIn(md5("first"), body, "the conflict names the current md5")
        status, body = self.dnsd.curl("POST", "/nacos/v2/cs/config",
                                      body={"dataId": "cas.txt", "group": "DEFAULT_GROUP", "content": "lost"},
                                      headers={"casMd5": md5("stale")})
        self.assertEqual(status, 409)
        self.assertIn('"code":20005', body)
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "cas.txt", "group": "DEFAULT_GROUP"}),
                         (200, "first"))
        status, body = self.dnsd.curl("POST", "/nacos/v1/cs/configs",
                                      body={"dataId": "cas.txt", "group": "DEFAULT_GROUP", "content": "second"},
                                      headers={"casMd5": md5("first")})
        self.assertEqual((status, body), (200, "true"))
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "cas.txt", "group": "DEFAULT_GROUP"}),
                         (200, "second"))

    def test_invalid_and_oversized_input(self):
        before = self.rejected(400)
        cases = [
            ("POST", {"group": "G", "content": "x"}, "dataId"),
            ("POST", {"dataId": "a b", "group": "G", "content": "x"}, "may only contain"),
            ("POST", {"dataId": "ok", "group": "g/1", "content": "x"}, "group"),
            ("POST", {"dataId": "ok", "group": "G", "tenant": "t" * 129, "content": "x"}, "tenant"),
            ("POST", {"dataId": "ok", "group": "G"}, "content"),
            ("POST", {"dataId": "ok", "group": "G", "content": "  \n"}, "blank"),
            ("POST", {"dataId": "ok", "group": "G", "content": "x" * 4097}, "limit of 4096"),
            ("POST", {"dataId": "ok", "group": "G", "content": "x", "tag": "gray"}, "gray"),
            ("GET", {"dataId": "ok", "group": "G", "search": "fuzzy"}, "search"),
            ("GET", {"dataId": "ok", "group": "G", "search": "blur", "pageSize": 0}, "pageSize"),
        ]
        for method, params, reason in cases:
            with self.subTest(params=params):
                if method == "POST":
                    status, text = self.dnsd.curl(method, "/nacos/v1/cs/configs", body=params)
                else:
                    status, text = self.dnsd.curl(method, "/nacos/v1/cs/configs", params)
                self.assertEqual(status, 400, text)
                self.assertIn(reason.lower(), text.lower())
        status, text = self.dnsd.curl("POST", "/nacos/v2/cs/config", body={"dataId": "ok", "group": "G", "content": "x" * 5000})
        self.assertEqual(status, 400)
        self.assertIn('"code":20002', text)
        status, text = self.dnsd.curl("POST", "/nacos/v2/cs/config", body={"group": "G", "content": "x"})
        self.assertIn('"code":10000', text)
        self.assertEqual(self.rejected(400), before + len(cases) + 2)
        # Nothing was stored by any of them.
        status, _ = self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "ok", "group": "G"})
        self.assertEqual(status, 404)

    def test_delete_by_ids(self):
        # del2 lives in a tenant that was never created as a namespace, which Nacos allows.
        targets = [("del1", ""), ("del2", "never-created"), ("del3", "")]
        for data_id, tenant in targets:
            self.publish(data_id, "x", group="DEL", tenant=tenant)
        ids = [self.dnsd.json("GET", "/nacos/v1/cs/configs",
                              {"dataId": d, "group": "DEL", "tenant": t, "show": "all"})["id"]
               for d, t in targets[:2]]
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/cs/configs", {"delType": "ids", "ids": ",".join(ids)})
        self.assertEqual(status, 200)
        self.assertIn('"data":true', body)
        for d, t in targets[:2]:
            self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": d, "group": "DEL", "tenant": t})[0], 404)
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "del3", "group": "DEL"}), (200, "x"),
                         "configs not named by id stay")

    # ---- long polling (§4.3)
    def listen(self, records, headers=None, timeout=40):
        body = "Listening-Configs=" + urllib.parse.quote("".join(records), safe="")
        start = time.monotonic()
        status, text = self.dnsd.curl("POST", "/nacos/v1/cs/configs/listener", body=body, headers=headers)
        return status, urllib.parse.unquote(text), time.monotonic() - start

    def test_long_poll_answers_at_once_on_mismatch(self):
        self.publish("lp.now", "v")
        status, text, _ = self.listen([f"lp.now{WORD}DEFAULT_GROUP{WORD}stale{LINE}"],
                                      {"Long-Pulling-Timeout": "30000"})
        self.assertEqual((status, text), (200, f"lp.now{WORD}DEFAULT_GROUP{LINE}\n"))
        # Tenants come back in the answer; an empty md5 means "I have nothing".
        self.publish("lp.ten", "v", tenant="lpns")
        status, text, _ = self.listen([f"lp.ten{WORD}DEFAULT_GROUP{WORD}{WORD}lpns{LINE}"],
                                      {"Long-Pulling-Timeout": "30000"})
        self.assertEqual(text, f"lp.ten{WORD}DEFAULT_GROUP{WORD}lpns{LINE}\n")
        # No-hangup and short polls compare and return even when nothing changed.
        status, text, _ = self.listen([f"lp.now{WORD}DEFAULT_GROUP{WORD}{md5('v')}{LINE}"],
                                      {"Long-Pulling-Timeout": "30000", "Long-Pulling-Timeout-No-Hangup": "true"})
        self.assertEqual((status, text), (200, ""))
        status, text, _ = self.listen([f"lp.now{WORD}DEFAULT_GROUP{WORD}{md5('v')}{LINE}"])
        self.assertEqual((status, text), (200, ""))

    def test_long_poll_is_answered_by_a_publish(self):
        self.publish("lp.wait", "v1")
        args = ["curl", "-s", "-X", "POST", self.dnsd.base + "/nacos/v1/cs/configs/listener",
                "-H", "Long-Pulling-Timeout: 30000", "--data-binary",
                "Listening-Configs=" + urllib.parse.quote(f"lp.wait{WORD}DEFAULT_GROUP{WORD}{md5('v1')}{LINE}", safe="")]
        poll = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        # curl may take a moment to connect under load: wait until dnsd lists the listener.
        listeners = lambda: self.dnsd.json("GET", "/nacos/v1/cs/configs/listener",
                                           {"dataId": "lp.wait", "group": "DEFAULT_GROUP"})
        wait_until(lambda: listeners()["lisentersGroupkeyStatus"], timeout=10)
        self.assertIsNone(poll.poll(), "nothing changed yet: the poll is parked")
        self.assertEqual(listeners()["lisentersGroupkeyStatus"], {"127.0.0.1": md5("v1")})
        self.publish("lp.wait", "v2")
        out, _ = poll.communicate(timeout=5)
        self.assertEqual(urllib.parse.unquote(out), f"lp.wait{WORD}DEFAULT_GROUP{LINE}\n")

    def test_long_poll_times_out_with_an_empty_200(self):
        self.publish("lp.idle", "v")
        # The hold is max(10 s, timeout - 500 ms): a 10 s request is held 10 s, then answered empty.
        status, text, took = self.listen([f"lp.idle{WORD}DEFAULT_GROUP{WORD}{md5('v')}{LINE}"],
                                         {"Long-Pulling-Timeout": "10000"})
        self.assertEqual((status, text), (200, ""))
        self.assertGreaterEqual(took, 9.5)

    def test_bad_listening_configs(self):
        for records, headers in [
            ([f"only{WORD}two{LINE}"], {"Long-Pulling-Timeout": "30000"}),
            ([f"a{WORD}b{WORD}c{WORD}d{WORD}e{LINE}"], {"Long-Pulling-Timeout": "30000"}),
            ([f"a{WORD}b{WORD}{LINE}"], {"Long-Pulling-Timeout": "soon"}),
            ([f"k{i}{WORD}G{WORD}{LINE}" for i in range(10001)], {"Long-Pulling-Timeout": "30000"}),
        ]:
            status, text, _ = self.listen(records, headers)
            self.assertEqual(status, 400, text)
        status, text = self.dnsd.curl("POST", "/nacos/v1/cs/configs/listener", body={"x": "y"})
        self.assertEqual(status, 400)
        self.assertIn("Listening-Configs", text)

    def test_namespaces_count_configs_and_refuse_deletion_while_used(self):
        status, body = self.dnsd.curl("POST", "/nacos/v1/console/namespaces",
                                      {"customNamespaceId": "cfgns", "namespaceName": "Cfg"})
        self.assertEqual((status, body), (200, "true"))
        self.publish("n.txt", "x", tenant="cfgns")
        listed = {n["namespace"]: n for n in self.dnsd.json("GET", "/nacos/v1/console/namespaces")["data"]}
        self.assertEqual(listed["cfgns"]["configCount"], 1)
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/console/namespaces", {"namespaceId": "cfgns"})
        self.assertEqual(status, 400)
        self.assertIn("still has configs", body)
        self.dnsd.curl("DELETE", "/nacos/v1/cs/configs", {"dataId": "n.txt", "group": "DEFAULT_GROUP", "tenant": "cfgns"})
        status, body = self.dnsd.curl("DELETE", "/nacos/v1/console/namespaces", {"namespaceId": "cfgns"})
        self.assertEqual((status, body), (200, "true"))


if __name__ == "__main__":
    unittest.main()
