"""What the multi-node tests share: a private network namespace to run in, a cluster of real
dnsd processes on 127.0.0.1-3 (each under its own uid, so nftables can tell their packets
apart on loopback), and nftables cuts of a node's peer links.
"""
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

from harness import DnsdProcess, wait_until

NETNS_MARK = "DNSD_TEST_IN_PRIVATE_NETNS"


def enter_private_network_namespace(script):
    """Re-executes `script` under `unshare -n` (as root) and brings up its loopback."""
    if os.environ.get(NETNS_MARK):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    if os.geteuid() != 0:
        print(f"{os.path.basename(script)} needs root for a private network namespace; skipped")
        sys.exit(0)
    env = dict(os.environ, **{NETNS_MARK: "1"})
    os.execvpe("unshare", ["unshare", "-n", "--", sys.executable, os.path.abspath(script)] + sys.argv[1:], env)


HTTP_PORT, GRPC_PORT, PEER_PORT = 8848, 9848, 9849
# Fixed like the others, and below the ephemeral range: a node restarted on a port the kernel
# once picked could find it taken as the source port of another node's connection.
DNS_PORT = 1053
IPS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
JS_DIR = os.path.join(os.path.dirname(__file__), "js")
# Snapshots every 100 applied entries: the log is compacted many times over in these tests,
# so restarts load a snapshot and replay a tail, and a node that was down catches up by one.
SNAPSHOT_EVERY = 100
CONFIG = f"[cluster]\nsnapshot_every = {SNAPSHOT_EVERY}\n"


def call(ip, method, path, params=None, timeout=15):
    """One request with Python's HTTP client; returns (status, body) or (None, error text)."""
    body = urllib.parse.urlencode(params or {})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    conn = http.client.HTTPConnection(ip, HTTP_PORT, timeout=timeout)
    try:
        if method == "GET":
            conn.request("GET", f"{path}?{body}")
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except OSError as e:
        return None, str(e)
    finally:
        conn.close()


def publish(ip, data_id, content, timeout=15):
    status, body = call(ip, "POST", "/nacos/v1/cs/configs",
                        {"dataId": data_id, "group": "DEFAULT_GROUP", "content": content}, timeout)
    return status == 200 and body == "true"


def config_on(ip, data_id):
    status, body = call(ip, "GET", "/nacos/v1/cs/configs", {"dataId": data_id, "group": "DEFAULT_GROUP"})
    return body if status == 200 else None


class Cluster:
    def __init__(self, joining=(), config_text=CONFIG, health_check=False):
        """Nodes on IPS form the cluster; nodes on `joining` start with --join, waiting to be
        added (their cluster.conf lists everyone, the others' only IPS)."""
        self.work = tempfile.mkdtemp(prefix="dnsd-cluster-")
        # Searchable by the nodes' uids: LevelDB checks for its CURRENT file with access(2),
        # which ignores the capability that lets them in otherwise.
        os.chmod(self.work, 0o755)
        self.conf = os.path.join(self.work, "cluster.conf")
        with open(self.conf, "w") as f:
            f.write("# three nodes in one network namespace\n")
            f.writelines(f"{ip}:{HTTP_PORT}\n" for ip in IPS)
        # Members prove this key to each other on their peer ports (node/peer_auth.h).
        key_file = os.path.join(self.work, "cluster.key")
        with open(key_file, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        join_conf = os.path.join(self.work, "join.conf")
        with open(join_conf, "w") as f:
            f.writelines(f"{ip}:{HTTP_PORT}\n" for ip in IPS + list(joining))
        self.token = None  # set by tests that turn auth on
        self.nodes = {}
        for i, ip in enumerate(IPS + list(joining)):
            data_dir = os.path.join(self.work, f"node{i + 1}")
            os.makedirs(data_dir)
            args = ["--advertise-ip", ip, "--cluster-conf", self.conf, "--cluster-key-file", key_file]
            if ip in joining:
                args = ["--advertise-ip", ip, "--cluster-conf", join_conf, "--join",
                        "--cluster-key-file", key_file]
            self.nodes[ip] = DnsdProcess(
                data_dir=data_dir, address=ip, run_as_uid=30001 + i, config_text=config_text,
                extra_args=args, health_check=health_check)
            self.nodes[ip].grpc_port = GRPC_PORT
            self.nodes[ip].dns_port = DNS_PORT

    def auth_params(self):
        """The token the harness's own reads of cluster pages carry when auth is on."""
        return {"accessToken": self.token} if self.token else {}

    def uid(self, ip):
        return self.nodes[ip].run_as_uid

    def start(self, ip):
        self.nodes[ip].start(port=HTTP_PORT)

    def start_all(self):
        for ip in IPS:
            self.start(ip)

    def alive(self):
        return [ip for ip in self.nodes if self.nodes[ip].proc and self.nodes[ip].proc.poll() is None]

    def membership(self, ip):
        view = self.self_view(ip)
        return view["extendInfo"].get("raftMembership", "") if view else None

    def voters(self, ip):
        status, body = call(ip, "GET", "/dnsd/v1/cluster/members", self.auth_params(), timeout=5)
        members = json.loads(body)["data"] if status == 200 else []
        return sorted(m["ip"] for m in members if m["extendInfo"].get("raftMembership") == "VOTER")

    def self_view(self, ip):
        status, body = call(ip, "GET", "/nacos/v1/core/cluster/self", self.auth_params(), timeout=5)
        return json.loads(body)["data"] if status == 200 else None

    def role(self, ip):
        view = self.self_view(ip)
        return view["extendInfo"]["raftRole"] if view else None

    def term(self, ip):
        view = self.self_view(ip)
        return view["extendInfo"]["raftMetaData"]["metaDataMap"]["dnsd_cp"]["term"] if view else None

    def leader(self, among=None, timeout=15):
        """The node that reports itself leader, once exactly one of `among` does."""
        found = []

        def one_leader():
            found[:] = [ip for ip in (among or self.alive()) if self.role(ip) == "LEADER"]
            return len(found) == 1
        if not wait_until(one_leader, timeout=timeout, interval=0.05):
            raise AssertionError(f"no single leader among {among or self.alive()}: {found}")
        return found[0]

    def metric(self, ip, name):
        status, body = call(ip, "GET", "/metrics", timeout=5)
        for line in body.splitlines() if status == 200 else []:
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def applied(self, ip):
        view = self.self_view(ip)
        return view["extendInfo"]["raftAppliedIndex"] if view else -1

    def wait_converged(self, timeout=20):
        """Every live node has applied the same index (nothing more in flight)."""
        def same():
            indexes = {self.applied(ip) for ip in self.alive()}
            return len(indexes) == 1 and -1 not in indexes
        assert wait_until(same, timeout=timeout, interval=0.1), \
            {ip: self.applied(ip) for ip in self.alive()}

    def cleanup(self):
        subprocess.run(["nft", "delete", "table", "inet", "dnsd_test_cut"], capture_output=True)
        for node in self.nodes.values():
            node.cleanup()
        if os.environ.get("DNSD_KEEP_CLUSTER_DATA"):
            print(f"cluster data kept in {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


class Partition:
    """Cuts every peer link of one node, both ways, with nftables in this namespace; client
    ports (HTTP, gRPC) stay open so the test can see what the cut-off node answers."""

    def __init__(self, cluster, ip):
        self.cluster, self.ip = cluster, ip

    def __enter__(self):
        rules = f"""
        table inet dnsd_test_cut {{
          chain out {{
            type filter hook output priority 0; policy accept;
            ip daddr {self.ip} tcp dport {PEER_PORT} drop
            meta skuid {self.cluster.uid(self.ip)} tcp dport {PEER_PORT} drop
          }}
        }}"""
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["nft", "delete", "table", "inet", "dnsd_test_cut"], check=True)


def getent(*commands, nameserver="127.0.0.1"):
    """Runs getent commands (glibc's resolver) in a private mount namespace whose resolv.conf
    names only `nameserver` (port 53); returns what they printed, with "exit N" for failures."""
    work = tempfile.mkdtemp(prefix="dnsd-getent-")
    with open(os.path.join(work, "resolv.conf"), "w") as f:
        f.write(f"nameserver {nameserver}\noptions attempts:1 timeout:2\n")
    script = f"mount --bind {work}/resolv.conf /etc/resolv.conf\n" + "\n".join(
        f"echo '== {c}'; getent {c} || echo 'exit '$?" for c in commands)
    out = subprocess.run(["unshare", "--mount", "bash", "-c", script], capture_output=True,
                         text=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)
    return out.stdout + out.stderr
