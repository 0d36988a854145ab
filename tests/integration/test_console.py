"""The web console in a real headless Chromium (Selenium + chromedriver) against a real dnsd:
a service registered through the nacos npm SDK shows up; a weight edited in the page changes
the SRV answer dnsd gives; the DNS page answers as dig does, lists every name a service answers
to (each checked with a real query), the zones loaded and the forwarder (an NSD upstream) with
its cache hit ratio; gRPC subscribers are listed; the dashboard draws push latency; a config is
validated, published, edited, diffed and rolled back in the page; server refusals are shown to
the user; with auth on the page asks for a login.
Each page is saved as a screenshot under $DNSD_TEST_ARTIFACTS (default build/test-artifacts)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import dns.message
import dns.rcode
import dns.query
import dns.rdatatype
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import DNSD, DnsdProcess, wait_until
from nacos_grpc import NacosGrpcClient
from upstream import UPSTREAM_ZONE, NsdUpstream

JS_DIR = os.path.join(os.path.dirname(__file__), "js")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Pages are re-rendered after each action: an element found just before may be replaced.
RERENDERS = (NoSuchElementException, StaleElementReferenceException)
ARTIFACTS = os.environ.get("DNSD_TEST_ARTIFACTS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(DNSD))), "test-artifacts")


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(os.path.join(ARTIFACTS, "console"), exist_ok=True)
        cls.upstream = NsdUpstream("upstream.test", UPSTREAM_ZONE).start()
        cls.zones = tempfile.mkdtemp(prefix="dnsd-console-zones-")
        shutil.copy(os.path.join(REPO, "zones", "example.zone"), cls.zones)
        cls.dnsd = DnsdProcess(extra_args=["--zones", cls.zones], config_text=(
            f'[forward]\nupstreams = ["127.0.0.1:{cls.upstream.port}"]\n')).start()
        cls.driver = browser()
        cls.wait = WebDriverWait(cls.driver, 15, ignored_exceptions=RERENDERS)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.dnsd.cleanup()
        cls.upstream.cleanup()
        shutil.rmtree(cls.zones, ignore_errors=True)

    def open(self, route):
        self.driver.get(f"http://127.0.0.1:{self.dnsd.port}/nacos/#/{route}")

    def find(self, css):
        return self.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css))

    def text_of(self, css):
        return self.find(css).text

    def type_into(self, css, text):
        """Replaces the text of an input, again if the page re-rendered it meanwhile."""
        def attempt(_):
            box = self.find(css)
            box.clear()
            box.send_keys(text)
            return self.find(css).get_attribute("value") == text
        self.wait.until(attempt)

    def click(self, css):
        self.wait.until(lambda _: self.find(css).click() or True)

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(ARTIFACTS, "console", f"{name}.png"))

    def srv_weights(self, service):
        q = dns.message.make_query(f"_http._tcp.{service}.svc.nacos.internal", "SRV")
        reply = dns.query.udp(q, "127.0.0.1", port=self.dnsd.dns_port, timeout=3)
        return sorted(r.weight for rrset in reply.answer for r in rrset)

    def test_1_service_from_the_sdk_and_a_weight_edited_in_the_page(self):
        sdk = subprocess.Popen(["node", os.path.join(JS_DIR, "register_instances.js"),
                                f"127.0.0.1:{self.dnsd.port}", "console-web", "10.90.1.", "2"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertIn("registered", sdk.stdout.readline())
            self.open("services")
            self.wait.until(lambda d: "console-web" in self.text_of("#services"))
            row = [r for r in self.text_of("#services").splitlines() if r.startswith("console-web")][0]
            self.assertEqual(row.split()[1:3], ["2", "2"])  # instances, healthy
            self.shot("services")
        finally:
            sdk.stdin.close()
            sdk.wait(timeout=30)
            sdk.stdout.close()
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
            "serviceName": "weighted", "ip": "10.90.2.1", "port": 8080, "ephemeral": "false"})[0], 200)
        self.assertEqual(self.srv_weights("weighted"), [100])
        # A 1.x client polling the list with a UDP port is a subscriber the page lists.
        self.dnsd.curl("GET", "/nacos/v1/ns/instance/list", {"serviceName": "weighted", "udpPort": 40123,
                                                            "clientIP": "127.0.0.1"})
        self.open("service/weighted")
        self.wait.until(lambda d: "127.0.0.1:40123" in self.text_of("#subscribers"))
        weight = self.find("#instances .weight")
        weight.clear()
        weight.send_keys("5")
        self.find("#instances .save-weight").click()
        self.assertTrue(wait_until(lambda: self.srv_weights("weighted") == [500]), self.srv_weights("weighted"))
        self.wait.until(lambda d: self.find("#instances .weight").get_attribute("value") == "5")
        self.shot("service")

    def test_1a_services_of_another_group(self):
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
            "serviceName": "grouped", "groupName": "team-a", "ip": "10.90.4.1", "port": 80, "ephemeral": "false"})[0], 200)
        self.open("services")
        self.wait.until(lambda d: "Services in" in self.text_of("#view"))
        self.assertNotIn("grouped", self.text_of("#services"))
        # Typed over the current value and committed with Enter (one change event, one render).
        self.find("#service-group").send_keys(Keys.CONTROL, "a")
        self.find("#service-group").send_keys("team-a\n")
        self.wait.until(lambda d: "grouped" in self.text_of("#services"))
        self.find("#services a").click()
        self.wait.until(lambda d: "10.90.4.1:80" in self.text_of("#instances"))
        self.shot("service-other-group")
        self.driver.execute_script("sessionStorage.removeItem('dnsd.serviceGroup')")

    def test_1b_dns_page_shows_what_dig_gets(self):
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
            "serviceName": "dns-page", "ip": "10.90.3.1", "port": 8443, "ephemeral": "false"})[0], 200)
        for name, rdtype in (("_http._tcp.dns-page.svc.nacos.internal", "SRV"),
                             ("dns-page.svc.nacos.internal", "A"), ("nope.svc.nacos.internal", "A")):
            self.open("dns")
            self.find("#dns-name").clear()
            self.find("#dns-name").send_keys(name)
            Select(self.find("#dns-type")).select_by_visible_text(rdtype)
            self.find("#dns-lookup").click()
            q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
            reply = dns.query.udp(q, "127.0.0.1", port=self.dnsd.dns_port, timeout=3)
            status = dns.rcode.to_text(reply.rcode())
            self.wait.until(lambda d: self.text_of("#dns-status") == f"{name}. {rdtype}: {status}, authoritative")
            page_rows = [r.split()[-1] for r in self.text_of("#dns-answer").splitlines()[1:]]
            dig_rows = [rdata.to_text().split()[-1] for rrset in reply.answer for rdata in rrset]
            self.assertEqual(sorted(page_rows), sorted(dig_rows), name)
        self.shot("dns")

    def test_1b2_metadata_edited_in_the_page(self):
        self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
            "serviceName": "tagged", "ip": "10.90.7.1", "port": 80, "ephemeral": "false",
            "metadata": '{"version":"v1"}'})[0], 200)
        self.open("service/tagged")
        # The page may render again while it loads: each step finds its element afresh.
        self.wait.until(lambda d: json.loads(self.find("#instances .metadata").get_attribute("value"))
                        == {"version": "v1"})
        self.type_into("#instances .metadata", '["not", "an object"]')
        self.click("#instances .save-metadata")
        self.wait.until(lambda d: "metadata must be a JSON object" in self.text_of("#error"))
        self.type_into("#instances .metadata", '{"version": "v2", "zone": "east"}')
        self.click("#instances .save-metadata")

        def stored():
            hosts = self.dnsd.json("GET", "/nacos/v1/ns/instance/list", {"serviceName": "tagged"})["hosts"]
            return hosts[0]["metadata"]
        self.assertTrue(wait_until(lambda: stored() == {"version": "v2", "zone": "east"}), stored())
        self.wait.until(lambda d: json.loads(self.find("#instances .metadata").get_attribute("value"))
                        == {"version": "v2", "zone": "east"})

    def test_1c_names_of_a_service_each_answered_by_dns(self):
        for ip, port, cluster in (("10.90.5.1", 8080, "east"), ("2001:db8::5", 8081, "DEFAULT")):
            self.assertEqual(self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
                "serviceName": "named", "ip": ip, "port": port, "clusterName": cluster,
                "ephemeral": "false"})[0], 200)
        self.open("service/named")
        self.find("#service-dns-names").click()
        self.wait.until(lambda d: len(self.find("#dns-names-table").find_elements(By.CSS_SELECTOR, "tr")) > 1)
        listed = {}
        for row in self.find("#dns-names-table").find_elements(By.CSS_SELECTOR, "tr")[1:]:
            cells = row.find_elements(By.CSS_SELECTOR, "td")
            listed[cells[0].text] = {b.text for b in cells[2].find_elements(By.CSS_SELECTOR, "button")}
        self.assertEqual(listed["named.svc.nacos.internal."], {"A", "AAAA", "SRV"})
        self.assertEqual(listed["named.svc.east.cl.default-group.grp.public.ns.nacos.internal."], {"A", "SRV"})
        self.assertEqual(listed["named.svc.default.cl.default-group.grp.public.ns.nacos.internal."], {"AAAA", "SRV"})
        self.assertEqual(listed["_named._tcp.svc.nacos.internal."], {"SRV"})
        self.assertTrue(any(".enc." in name for name in listed), listed)
        # Every name listed answers exactly the types the page says, asked over the wire.
        for name, types in listed.items():
            for rdtype in ("A", "AAAA", "SRV"):
                reply = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1",
                                      port=self.dnsd.dns_port, timeout=3)
                self.assertEqual(reply.rcode(), dns.rcode.NOERROR, name)
                has = any(r.rdtype == dns.rdatatype.from_text(rdtype) for r in reply.answer)
                self.assertEqual(has, rdtype in types, f"{name} {rdtype}")
        # A type's button asks dnsd there and then.
        self.find("#dns-names-table .dns-try").click()
        self.wait.until(lambda d: self.text_of("#dns-status").endswith("NOERROR, authoritative"))
        self.assertEqual(len(self.text_of("#dns-answer").splitlines()), 2, "one address record")
        self.shot("dns-names")
        # A service dnsd has no answers for says so.
        self.open("dns/absent")
        self.find("#dns-names-none")

    def test_1d_zones_and_the_forwarder_with_its_cache(self):
        for _ in range(3):
            dns.query.udp(dns.message.make_query("www.upstream.test", "A"), "127.0.0.1",
                          port=self.dnsd.dns_port, timeout=3)
        self.open("dns")
        self.wait.until(lambda d: "example.internal." in self.text_of("#dns-zones-table"))
        zone_rows = self.text_of("#dns-zones-table").splitlines()
        static = [r for r in zone_rows if r.startswith("example.internal.")][0]
        self.assertIn(os.path.join(self.zones, "example.zone"), static)
        self.assertTrue(static.endswith(" 2026112101"), static)  # the SOA serial
        self.assertTrue(any(r.startswith("nacos.internal.") for r in zone_rows), zone_rows)
        upstream = self.text_of("#dns-upstreams")
        self.assertIn(f"127.0.0.1:{self.upstream.port} up", upstream)
        metrics = self.dnsd.curl("GET", "/metrics")[1]
        counts = {name: float(line.split()[-1]) for line in metrics.splitlines()
                  for name in ("dnsd_forward_cache_hits_total", "dnsd_forward_cache_misses_total")
                  if line.startswith(name + " ")}
        hits, misses = counts["dnsd_forward_cache_hits_total"], counts["dnsd_forward_cache_misses_total"]
        self.assertGreaterEqual(hits, 2)
        self.assertEqual(self.text_of("#dns-hit-ratio"), f"{100 * hits / (hits + misses):.1f}%")
        self.shot("dns-zones-forwarder")

    def test_1e_grpc_subscribers_and_push_latency(self):
        subscriber = NacosGrpcClient(self.dnsd.grpc_port).connect()
        try:
            subscriber.request("SubscribeServiceRequest", {
                "namespace": "public", "serviceName": "pushed", "groupName": "DEFAULT_GROUP",
                "module": "naming", "subscribe": True, "clusters": ""})
            self.open("dashboard")
            changes = iter(range(1, 250))

            def pushed_and_drawn():
                # A change in every sampling interval, each pushed to the subscriber and acked.
                self.dnsd.curl("POST", "/nacos/v1/ns/instance", {
                    "serviceName": "pushed", "ip": f"10.90.6.{next(changes)}", "port": 80, "ephemeral": "false"})
                return self.find("#chart-push-latency-p99 .value").text != "-"
            self.assertTrue(wait_until(pushed_and_drawn, timeout=20, interval=0.25))
            self.assertGreater(float(self.find("#chart-push-latency-p99 .value").text), 0)
            self.shot("dashboard-push-latency")
            self.open("service/pushed")
            self.wait.until(lambda d: subscriber.connection_id in self.text_of("#subscribers"))
            self.assertIn("grpc", self.text_of("#subscribers"))
            self.assertIn("Nacos-Python-Test:v2.5.1", self.text_of("#subscribers"))
        finally:
            subscriber.close()

    def test_2_config_validated_published_edited_diffed_and_rolled_back(self):
        self.open("configs")
        self.find("#new-data-id").send_keys("console.json")
        self.find("#new-type").send_keys("json")
        self.find("#new-content").send_keys('{"a": ')
        self.find("#publish").click()
        self.wait.until(lambda d: "not valid JSON" in self.text_of("#error"))
        self.shot("configs-invalid")
        content = self.find("#new-content")
        content.clear()
        content.send_keys('{"a": 1}')
        self.find("#publish").click()
        self.wait.until(lambda d: "console.json" in d.current_url)
        # A client long-polling the config is listed as a listener (the page is loaded after).
        md5 = self.find("#md5").text
        poll = subprocess.Popen(["curl", "-s", "-X", "POST", "-H", "Long-Pulling-Timeout: 30000",
                                 "--data-urlencode", f"Listening-Configs=console.json\x02DEFAULT_GROUP\x02{md5}\x01",
                                 f"http://127.0.0.1:{self.dnsd.port}/nacos/v1/cs/configs/listener"],
                                stdout=subprocess.PIPE, text=True)
        self.assertTrue(wait_until(lambda: "127.0.0.1" in self.dnsd.curl(
            "GET", "/nacos/v1/cs/configs/listener", {"dataId": "console.json", "group": "DEFAULT_GROUP"})[1]))
        self.driver.refresh()
        self.wait.until(lambda d: "127.0.0.1" in self.text_of("#listeners"))
        editor = self.find("#content")
        self.assertEqual(editor.get_attribute("value"), '{"a": 1}')
        editor.clear()
        editor.send_keys('{"a": 2}')
        self.find("#save").click()
        self.wait.until(lambda d: len(self.find("#history").find_elements(By.CSS_SELECTOR, "tr")) == 3)
        self.assertEqual(self.dnsd.curl("GET", "/nacos/v1/cs/configs", {"dataId": "console.json",
                                                                          "group": "DEFAULT_GROUP"}), (200, '{"a": 2}'))
        self.assertIn("console.json", poll.communicate(timeout=20)[0], "the save woke the long poll")
        # The older version side by side with the current one, then published again.
        self.find("#history tr:nth-child(3) .diff").click()
        diff = self.text_of("#diff")
        self.assertIn('{"a": 1}', diff)
        self.assertIn('{"a": 2}', diff)
        self.shot("config-diff")
        self.find("#history tr:nth-child(3) .rollback").click()
        self.driver.switch_to.alert.accept()
        self.assertTrue(wait_until(lambda: self.dnsd.curl("GET", "/nacos/v1/cs/configs", {
            "dataId": "console.json", "group": "DEFAULT_GROUP"}) == (200, '{"a": 1}')))
        self.wait.until(lambda d: len(self.find("#history").find_elements(By.CSS_SELECTOR, "tr")) == 4)
        self.shot("config")

    def test_2b_dashboard_draws_live_rates(self):
        self.open("dashboard")
        q = dns.message.make_query("weighted.svc.nacos.internal", "A")

        def busy_and_drawn():
            for _ in range(50):
                dns.query.udp(q, "127.0.0.1", port=self.dnsd.dns_port, timeout=3)
            value = self.find("#chart-dns-noerror .value").text
            return value not in ("-", "0.0") and self.find("#chart-dns-noerror polyline")
        self.assertTrue(wait_until(busy_and_drawn, timeout=20))
        self.assertNotEqual(self.find("#chart-instances .value").text, "-")
        self.shot("dashboard")

    def test_3_server_refusals_are_shown_and_other_pages_render(self):
        self.open("namespaces")
        self.find("#ns-id").send_keys("bad id!")
        self.find("#ns-name").send_keys("x")
        self.find("#create-ns").click()
        self.wait.until(lambda d: "400" in self.text_of("#error"))
        self.shot("namespaces-refused")
        self.find("#ns-id").clear()
        self.find("#ns-id").send_keys("team")
        self.find("#create-ns").click()
        self.wait.until(lambda d: "team" in self.text_of("#namespaces"))
        self.find("#namespaces .edit-ns").click()
        self.find("#namespaces .ns-edit-name").clear()
        self.find("#namespaces .ns-edit-name").send_keys("Team A")
        self.find("#namespaces .ns-edit-desc").send_keys("owned by team a")
        self.find("#namespaces .save-ns").click()
        self.wait.until(lambda d: "Team A" in self.text_of("#namespaces"))
        listed = {n["namespace"]: n for n in self.dnsd.json("GET", "/nacos/v1/console/namespaces")["data"]}
        self.assertEqual((listed["team"]["namespaceShowName"], listed["team"]["namespaceDesc"]),
                         ("Team A", "owned by team a"))
        self.shot("namespaces")
        self.open("cluster")
        self.wait.until(lambda d: f"127.0.0.1:{self.dnsd.port}" in self.text_of("#cluster"))
        self.assertIn("LEADER", self.text_of("#cluster"))
        self.shot("cluster")


class ConsoleAuthTest(unittest.TestCase):
    def test_login_page_when_auth_is_on(self):
        secret = base64.b64encode(os.urandom(32)).decode()
        server = DnsdProcess(config_text=f'[auth]\nenabled = true\ntoken_secret = "{secret}"\n').start()
        driver = browser()
        try:
            self.assertEqual(server.curl("POST", "/nacos/v1/auth/users/admin", body={"password": "console-pw"})[0], 200)
            wait = WebDriverWait(driver, 15, ignored_exceptions=RERENDERS)
            driver.get(f"http://127.0.0.1:{server.port}/nacos/")
            find = lambda css: wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css))  # noqa: E731
            find("#username").send_keys("nacos")
            find("#password").send_keys("wrong")
            find("#login").click()
            wait.until(lambda d: "unknown user" in find("#error").text)
            driver.save_screenshot(os.path.join(ARTIFACTS, "console", "login-refused.png"))
            find("#password").clear()
            find("#password").send_keys("console-pw")
            find("#login").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#services"))
            self.assertEqual(find("#user").text, "nacos")
            driver.save_screenshot(os.path.join(ARTIFACTS, "console", "after-login.png"))
        finally:
            driver.quit()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
