#!/usr/bin/env python3
"""rest_compat.py - noxrunnerd --http as NoxRunner's own Python client and
its noxrc CLI meet it.

NoxRunner's client (the `noxrunner` package) is not installable here, so
WireClient below sends exactly what its HTTP backend sends and checks what
it checks: urllib.request with the same methods and paths, the session id
put into the path as given, queries built by urllib.parse.urlencode,
Content-Type application/json for JSON bodies and application/x-tar for
the upload, no body and no Content-Type for touch, a gzip tar made in
memory with tarfile for uploads, status 200 for touch and upload, 200 or
204 for delete, b"OK" in the body of /healthz. The Noxrc* tests then do
what each noxrc command does with those calls.

Every suite starts its own noxrunnerd on 127.0.0.1 port 0 with its own
base directory under a temporary directory, and stops it (SIGTERM, then
SIGKILL) whatever happens; the daemon also gets SIGKILL if this process
dies (PR_SET_PDEATHSIG).

Usage: rest_compat.py NOXRUNNERD [unittest arguments]
"""
import ctypes
import datetime
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

NOXRUNNERD = None  # the binary, from argv[1]
LISTENING = re.compile(r"noxrunnerd: listening on (http://127\.0\.0\.1:\d+)\n")
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 15
TOKEN = "compat-token-3f9c1d2e8a7b6c5d4e3f2a1b"


class WireError(Exception):
    """A status outside 2xx, as the client's NoxRunnerHTTPError carries it."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class WireClient:
    """What NoxRunner's HTTPSandboxBackend puts on the wire, call by call.

    headers are added to every request (an Authorization header: what a
    token-aware client would send). last holds the status and headers of
    the latest response, so tests can assert them exactly."""

    def __init__(self, base_url, timeout=30, headers=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.last = None

    def request(self, method, path, data=None, content_type=None):
        headers = dict(self.headers)
        body = None
        if isinstance(data, dict):
            body = json.dumps(data).encode("utf-8")
            headers["Content-Type"] = content_type or "application/json"
        elif isinstance(data, bytes):
            body = data
            headers["Content-Type"] = content_type or "application/octet-stream"
        req = urllib.request.Request(
            self.base_url + path, data=body, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                self.last = (resp.status, resp.headers)
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            self.last = (e.code, e.headers)
            raise WireError(e.code, e.read().decode("utf-8", errors="ignore"))

    def json_request(self, method, path, data=None):
        status, body = self.request(method, path, data)
        if not 200 <= status < 300:
            raise WireError(status, body.decode("utf-8", errors="ignore"))
        return json.loads(body.decode("utf-8")) if body else {}

    def health_check(self):
        try:
            status, body = self.request("GET", "/healthz")
        except Exception:
            return False
        return status == 200 and b"OK" in body

    def create_sandbox(self, sid, ttl_seconds=900, image=None, cpu_limit=None,
                       memory_limit=None, ephemeral_storage_limit=None):
        data = {"ttlSeconds": ttl_seconds}
        for key, value in (("image", image), ("cpuLimit", cpu_limit),
                           ("memoryLimit", memory_limit),
                           ("ephemeralStorageLimit", ephemeral_storage_limit)):
            if value:
                data[key] = value
        return self.json_request("PUT", f"/v1/sandboxes/{sid}", data)

    def touch(self, sid):
        status, _ = self.request("POST", f"/v1/sandboxes/{sid}/touch")
        return status == 200

    def exec(self, sid, cmd, workdir="/workspace", env=None,
             timeout_seconds=30):
        data = {"cmd": cmd, "workdir": workdir,
                "timeoutSeconds": timeout_seconds}
        if env:
            data["env"] = env
        return self.json_request("POST", f"/v1/sandboxes/{sid}/exec", data)

    def exec_shell(self, sid, command, workdir="/workspace", env=None,
                   timeout_seconds=30, shell="sh"):
        return self.exec(sid, [shell, "-c", command], workdir, env,
                         timeout_seconds)

    def upload_files(self, sid, files, dest="/workspace"):
        query = urllib.parse.urlencode({"dest": dest})
        status, _ = self.request(
            "POST", f"/v1/sandboxes/{sid}/files/upload?{query}",
            data=make_tar(files), content_type="application/x-tar")
        return status == 200

    def download_files(self, sid, src="/workspace"):
        query = urllib.parse.urlencode({"src": src})
        status, body = self.request(
            "GET", f"/v1/sandboxes/{sid}/files/download?{query}")
        if not 200 <= status < 300:
            raise WireError(status, "Download failed")
        return body

    def delete_sandbox(self, sid):
        status, _ = self.request("DELETE", f"/v1/sandboxes/{sid}")
        return status in (200, 204)

    def wait_for_pod_ready(self, sid, timeout=30, interval=2):
        end = time.time() + timeout
        while time.time() < end:
            try:
                res = self.exec(sid, ["echo", "ready"], timeout_seconds=5)
                if res.get("stdout", "").strip() == "ready":
                    return True
            except Exception:
                pass
            time.sleep(interval)
        return False


def make_tar(files):
    """A gzip tar of {name: str or bytes}, built in memory with bare
    TarInfo entries (no directory entries, default mode and mtime), the
    way the client builds its uploads."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name=name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_files(data, mode="r:gz"):
    """{name: bytes} of the regular files of a tar, and the set of all
    member names."""
    files, names = {}, set()
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
        for m in tar.getmembers():
            names.add(m.name)
            if m.isfile():
                files[m.name] = tar.extractfile(m).read()
    return files, names


def die_with_parent():
    """In the daemon's child before exec: SIGKILL when this test dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class Daemon:
    """A noxrunnerd on 127.0.0.1:0 (and a private ipc socket, so that it
    never takes the default path) with its own base directory."""

    def __init__(self, isolation="none", token=None):
        self.tmp = tempfile.mkdtemp(prefix="nox-rest-compat-")
        self.base = os.path.join(self.tmp, "base")
        os.mkdir(self.base, 0o700)
        self.log_path = os.path.join(self.tmp, "noxrunnerd.log")
        argv = [NOXRUNNERD, "--http", "127.0.0.1:0",
                "--listen", f"ipc://{self.tmp}/rpc.sock",
                "--base-dir", self.base, "--quiet", "--isolation", isolation]
        if token is not None:
            path = os.path.join(self.tmp, "token")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(token + "\n")
            argv += ["--token-file", path]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log, preexec_fn=die_with_parent)
        self.url = None
        self.exit_status = None

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def await_listening(self):
        """The base URL, or None when the daemon exited first (its log
        says why); a daemon neither listening nor gone fails."""
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            m = LISTENING.search(self.log())
            if m:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        raise AssertionError("noxrunnerd not listening within "
                             f"{START_TIMEOUT_S} s: {self.log()}")

    def stop(self):
        """SIGTERM, then SIGKILL; the exit status (negative: a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_status = self.proc.returncode
        subprocess.run(["rm", "-rf", "--", self.tmp], check=False)
        return self.exit_status


def start_daemon(case, isolation="none", token=None):
    """A listening daemon for the test class case, stopped (and checked to
    exit 0) by a class cleanup, also when setUpClass fails later on."""
    d = Daemon(isolation, token)
    case.addClassCleanup(check_stopped, d)
    if d.await_listening() is None:
        log = d.log()
        if isolation == "namespaces" and "isolation" in log:
            raise unittest.SkipTest(f"isolation namespaces: {log.strip()}")
        raise AssertionError(f"noxrunnerd exited at start-up: {log}")
    return d


def check_stopped(d):
    status = d.stop()
    if status != 0:
        raise AssertionError(f"noxrunnerd exited with {status}")


class SpecFlow:
    """Each call of NoxRunner's client, against one daemon per level."""

    isolation = None
    sid = "compat-flow"

    @classmethod
    def setUpClass(cls):
        cls.daemon = start_daemon(cls, cls.isolation)
        cls.c = WireClient(cls.daemon.url)
        cls.c.create_sandbox(cls.sid)

    def workspace(self, sub=""):
        """The path pwd prints for /workspace/sub at this level."""
        if self.isolation == "namespaces":
            return "/workspace" + sub
        return (f"{self.daemon.base}/noxrunner_sandbox_{self.sid}"
                f"/workspace{sub}")

    def assert_status(self, status, error, call, *args, **kw):
        with self.assertRaises(WireError) as cm:
            call(*args, **kw)
        self.assertEqual(cm.exception.status, status)
        self.assertEqual(self.c.last[1].get_content_type(), "application/json")
        self.assertEqual(json.loads(cm.exception.body)["error"], error)

    def test_health(self):
        self.assertTrue(self.c.health_check())
        status, body = self.c.request("GET", "/healthz")
        self.assertEqual((status, body), (200, b"OK"))
        self.assertEqual(self.c.last[1].get_content_type(), "text/plain")

    def test_create(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        res = self.c.create_sandbox("compat-create", ttl_seconds=1800)
        self.assertEqual(self.c.last[0], 200)
        self.assertEqual(self.c.last[1].get_content_type(), "application/json")
        self.assertEqual(res["podName"], "local-compat-create")
        self.assertRegex(res["expiresAt"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        expires = datetime.datetime.strptime(
            res["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
        delta = (expires - before).total_seconds()
        self.assertTrue(1795 <= delta <= 1810, delta)
        self.assertEqual(res["isolation"], self.isolation)
        self.assertIs(res["created"], True)
        again = self.c.create_sandbox("compat-create", ttl_seconds=1800)
        self.assertEqual(again["podName"], "local-compat-create")
        self.assertIs(again["created"], False)
        self.assertTrue(self.c.delete_sandbox("compat-create"))

    def test_create_with_limits(self):
        """noxrc create --image --cpu --mem --storage."""
        res = self.c.create_sandbox("compat-limits", 900, "python:3.10", "1",
                                    "1Gi", "2Gi")
        self.assertEqual(res["podName"], "local-compat-limits")
        self.assertEqual(
            sorted((l["name"], l["value"]) for l in res["limits"]),
            [("cpu_limit", "1"), ("ephemeral_storage_limit", "2Gi"),
             ("image", "python:3.10"), ("memory_limit", "1Gi")])
        self.assertTrue(self.c.delete_sandbox("compat-limits"))

    def test_exec(self):
        res = self.c.exec(self.sid, ["echo", "hello"])
        self.assertEqual(self.c.last[1].get_content_type(), "application/json")
        self.assertEqual((res["exitCode"], res["stdout"], res["stderr"]),
                         (0, "hello\n", ""))
        self.assertIsInstance(res["durationMs"], int)
        self.assertGreaterEqual(res["durationMs"], 0)
        self.assertIs(res["timedOut"], False)
        self.assertEqual(res["cause"], "EXITED")

    def test_exec_env_workdir_and_exit_codes(self):
        res = self.c.exec(self.sid, ["sh", "-c", 'echo "$MY_VAR"; pwd'],
                          workdir="/workspace/sub", env={"MY_VAR": "v 1"})
        self.assertEqual(res["stdout"], "v 1\n" + self.workspace("/sub") + "\n")
        res = self.c.exec(self.sid, ["sh", "-c", "echo err >&2; exit 3"])
        self.assertEqual((res["exitCode"], res["stdout"], res["stderr"]),
                         (3, "", "err\n"))
        res = self.c.exec(self.sid, ["no-such-command-compat"])
        self.assertEqual(res["exitCode"], 127)

    def test_exec_timeout(self):
        res = self.c.exec(self.sid, ["sleep", "10"], timeout_seconds=1)
        self.assertEqual(res["exitCode"], 124)
        self.assertIs(res["timedOut"], True)
        self.assertEqual(res["cause"], "TIMED_OUT")

    def test_exec_shell(self):
        res = self.c.exec_shell(self.sid, "echo $MY_VAR | tr a-z A-Z",
                                env={"MY_VAR": "test_value"})
        self.assertEqual((res["exitCode"], res["stdout"]), (0, "TEST_VALUE\n"))
        res = self.c.exec_shell(self.sid, "echo $0", shell="bash")
        self.assertEqual(res["stdout"], "bash\n")

    def test_exec_invalid_utf8_is_replaced(self):
        res = self.c.exec(self.sid, ["printf", "a\\377b"])
        self.assertEqual(res["stdout"], "a\ufffdb")

    def test_wait_for_pod_ready(self):
        self.assertTrue(self.c.wait_for_pod_ready(self.sid, timeout=5))

    def test_errors(self):
        self.assert_status(403, "command not allowed: rm", self.c.exec,
                           self.sid, ["rm", "-rf", "/"])
        self.assert_status(404, "sandbox not found: compat-missing",
                           self.c.exec, "compat-missing", ["true"])
        self.assert_status(404, "sandbox not found: compat-missing",
                           self.c.touch, "compat-missing")
        self.assert_status(400, "cmd is empty: the command must be a non-empty array of strings", self.c.exec, self.sid, [])
        with self.assertRaises(WireError) as cm:
            self.c.request("POST", f"/v1/sandboxes/{self.sid}/files/upload",
                           b"not a tar", "application/x-tar")
        self.assertEqual(cm.exception.status, 400)

    def test_upload_download(self):
        files = {"script.py": "print('Hello')\n",
                 "data.bin": bytes(range(256)) * 4,
                 "pkg/mod.py": "X = 1\n"}
        self.assertTrue(self.c.upload_files(self.sid, files,
                                            dest="/workspace/up"))
        self.assertEqual(self.c.last[0], 200)
        res = self.c.exec(self.sid, ["cat", "pkg/mod.py", "script.py"],
                          workdir="/workspace/up")
        self.assertEqual(res["stdout"], "X = 1\nprint('Hello')\n")
        data = self.c.download_files(self.sid, src="/workspace/up")
        self.assertEqual(self.c.last[0], 200)
        got, names = tar_files(data)
        self.assertEqual(got, {k: v.encode() if isinstance(v, str) else v
                               for k, v in files.items()})
        self.assertEqual(names, {"script.py", "data.bin", "pkg", "pkg/mod.py"})

    def test_upload_default_dest(self):
        self.assertTrue(self.c.upload_files(self.sid, {"top.txt": "top\n"}))
        res = self.c.exec(self.sid, ["cat", "top.txt"])
        self.assertEqual(res["stdout"], "top\n")

    def test_upload_query_encoding(self):
        """urlencode makes "/" %2F and " " +; the gateway decodes both."""
        dest = "/workspace/a b&c=d+e"
        self.assertEqual(urllib.parse.urlencode({"dest": dest}),
                         "dest=%2Fworkspace%2Fa+b%26c%3Dd%2Be")
        self.assertTrue(self.c.upload_files(self.sid, {"q.txt": "q\n"}, dest))
        res = self.c.exec(self.sid, ["cat", "a b&c=d+e/q.txt"])
        self.assertEqual((res["exitCode"], res["stdout"]), (0, "q\n"))
        got, _ = tar_files(self.c.download_files(self.sid, src=dest))
        self.assertEqual(got, {"q.txt": b"q\n"})

    def test_download_workspace(self):
        """NoxRunnerClient.download_workspace: r:*, directories skipped,
        the data filter where Python has it (3.12 on)."""
        self.c.upload_files(self.sid, {"w/a.txt": "a\n", "w/b/c.txt": "c\n"})
        data = self.c.download_files(self.sid, src="/workspace/w")
        with tempfile.TemporaryDirectory() as out:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                members = [m for m in tar.getmembers() if not m.isdir()]
                for m in members:
                    if sys.version_info >= (3, 12):
                        tar.extract(m, out, filter="data")
                    else:
                        tar.extract(m, out)
            self.assertEqual(len(members), 2)
            with open(os.path.join(out, "b", "c.txt")) as f:
                self.assertEqual(f.read(), "c\n")

    def test_touch(self):
        self.assertTrue(self.c.touch(self.sid))
        self.assertEqual(self.c.last[0], 200)

    def test_delete(self):
        self.c.create_sandbox("compat-delete")
        self.assertTrue(self.c.delete_sandbox("compat-delete"))
        self.assertEqual(self.c.last[0], 204)
        self.assertEqual(self.c.last[1]["X-Noxrunner-Deleted"], "true")
        self.assert_status(404, "sandbox not found: compat-delete",
                           self.c.exec, "compat-delete", ["true"])
        self.assertTrue(self.c.delete_sandbox("compat-delete"))
        self.assertEqual(self.c.last[0], 204)
        self.assertEqual(self.c.last[1]["X-Noxrunner-Deleted"], "false")


class NoxrcCommands:
    """What each noxrc command sends and how it reads the answer."""

    isolation = None
    sid = "compat-noxrc"

    @classmethod
    def setUpClass(cls):
        cls.daemon = start_daemon(cls, cls.isolation)
        # noxrc --base-url URL --timeout 30
        cls.c = WireClient(cls.daemon.url, timeout=30)

    def test_session(self):
        c, sid = self.c, self.sid
        # noxrc health
        self.assertTrue(c.health_check())
        # noxrc create S --ttl 900 --wait: "Sandbox created: <podName>"
        self.assertEqual(c.create_sandbox(sid, ttl_seconds=900)["podName"],
                         "local-" + sid)
        self.assertTrue(c.wait_for_pod_ready(sid, timeout=30))
        # noxrc exec S --env K=V --workdir /workspace -- sh -c ...: prints
        # stdout and stderr, exits with exitCode
        res = c.exec(sid, ["sh", "-c", 'echo "$K"; echo e >&2; exit 5'],
                     workdir="/workspace", env={"K": "V=1"},
                     timeout_seconds=30)
        self.assertEqual((res.get("stdout"), res.get("stderr"),
                          res.get("exitCode", 0)), ("V=1\n", "e\n", 5))
        # noxrc shell S: shlex.split of the line, exec without env
        res = c.exec(sid, shlex.split("sh -c 'echo one two'"),
                     workdir="/workspace", timeout_seconds=30)
        self.assertEqual((res["stdout"], res["exitCode"]), ("one two\n", 0))
        # noxrc shell S, "touch"
        self.assertTrue(c.touch(sid))
        with tempfile.TemporaryDirectory() as local:
            self.upload_download(c, sid, local)
        # noxrc delete S
        self.assertTrue(c.delete_sandbox(sid))

    def upload_download(self, c, sid, local):
        src = os.path.join(local, "src")
        os.makedirs(os.path.join(src, "d"))
        for name, text in (("a.txt", "alpha\n"), ("d/b.txt", "beta\n")):
            with open(os.path.join(src, name), "w") as f:
                f.write(text)
        # noxrc upload S --dir src --dest /workspace/proj: rglob, names
        # relative to the directory
        files = {}
        for root, _, names in os.walk(src):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    files[os.path.relpath(p, src)] = f.read()
        self.assertTrue(c.upload_files(sid, files, dest="/workspace/proj"))
        # noxrc upload S FILE: the file under its base name
        self.assertTrue(c.upload_files(sid, {"a.txt": b"alpha2\n"},
                                       dest="/workspace/one"))
        # noxrc download S --src /workspace/proj --extract X: r:gz,
        # extractall
        data = c.download_files(sid, src="/workspace/proj")
        out = os.path.join(local, "out")
        os.makedirs(out)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(out)
        for name, text in (("a.txt", "alpha\n"), ("d/b.txt", "beta\n")):
            with open(os.path.join(out, name)) as f:
                self.assertEqual(f.read(), text)
        # noxrc download S --src /workspace/one --output f.tar.gz
        got, _ = tar_files(c.download_files(sid, src="/workspace/one"))
        self.assertEqual(got, {"a.txt": b"alpha2\n"})


class TokenAuth(unittest.TestCase):
    """--token-file: a client that sends Authorization: Bearer passes;
    without it (or with another token) every call but /healthz is 401."""

    sid = "compat-auth"

    @classmethod
    def setUpClass(cls):
        cls.daemon = start_daemon(cls, "none", TOKEN)
        cls.ok = WireClient(cls.daemon.url,
                            headers={"Authorization": f"Bearer {TOKEN}"})

    def calls(self, c):
        sid = self.sid
        q = urllib.parse.urlencode({"dest": "/workspace"})
        return [
            ("PUT", lambda: c.create_sandbox(sid)),
            ("touch", lambda: c.touch(sid)),
            ("exec", lambda: c.exec(sid, ["true"])),
            ("upload", lambda: c.request(
                "POST", f"/v1/sandboxes/{sid}/files/upload?{q}",
                make_tar({"x": "x"}), "application/x-tar")),
            ("download", lambda: c.download_files(sid)),
            ("DELETE", lambda: c.delete_sandbox(sid)),
            ("list", lambda: c.request("GET", "/v1/sandboxes")),
            ("health", lambda: c.request("GET", "/v1/health")),
        ]

    def test_with_token(self):
        c = self.ok
        self.assertTrue(c.health_check())
        self.assertEqual(c.create_sandbox(self.sid)["podName"],
                         "local-" + self.sid)
        self.assertTrue(c.upload_files(self.sid, {"f.txt": "f\n"}))
        self.assertEqual(c.exec(self.sid, ["cat", "f.txt"])["stdout"], "f\n")
        self.assertEqual(tar_files(c.download_files(self.sid))[0],
                         {"f.txt": b"f\n"})
        self.assertTrue(c.touch(self.sid))
        self.assertTrue(c.delete_sandbox(self.sid))

    def test_without_token(self):
        self.ok.create_sandbox(self.sid)
        for headers in ({}, {"Authorization": "Bearer wrong-token"},
                        {"Authorization": TOKEN}):
            c = WireClient(self.daemon.url, headers=headers)
            self.assertTrue(c.health_check())
            for what, call in self.calls(c):
                with self.subTest(what=what, headers=headers):
                    with self.assertRaises(WireError) as cm:
                        call()
                    self.assertEqual(cm.exception.status, 401)
                    self.assertEqual(c.last[1].get_content_type(),
                                     "application/json")
                    body = json.loads(cm.exception.body)
                    self.assertEqual(body["code"], 16)
        # Nothing of it happened: the sandbox is still there, empty.
        res = self.ok.exec(self.sid, ["ls", "-A"])
        self.assertEqual((res["exitCode"], res["stdout"]), (0, ""))
        self.assertTrue(self.ok.delete_sandbox(self.sid))


class SpecFlowNone(SpecFlow, unittest.TestCase):
    isolation = "none"


class SpecFlowNamespaces(SpecFlow, unittest.TestCase):
    isolation = "namespaces"


class NoxrcCommandsNone(NoxrcCommands, unittest.TestCase):
    isolation = "none"


class NoxrcCommandsNamespaces(NoxrcCommands, unittest.TestCase):
    isolation = "namespaces"


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: rest_compat.py NOXRUNNERD [unittest arguments]")
    NOXRUNNERD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
