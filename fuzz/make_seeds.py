#!/usr/bin/env python3
"""Write the fuzz harnesses' seed corpora into fuzz/corpus/<harness>/.

The seeds are committed; this script is how they were made (rerun it
after changing it: the output is deterministic). Each harness's input
format is described at the top of fuzz/fuzz_<harness>.c. Seeds named
regress_* are the inputs of known findings: they must keep passing.
"""
import gzip
import io
import os
import shutil
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
METHOD = "/noxrunner.v1.Sandbox/"


# ---- protobuf wire format ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def f_varint(num, v):
    if v < 0:
        v += 1 << 64
    return varint(num << 3) + varint(v)


def envelope(method, payload=b"", deadline_ms=None):
    out = f_bytes(1, METHOD + method if "/" not in method else method)
    if payload:
        out += f_bytes(2, payload)
    if deadline_ms is not None:
        out += f_varint(3, deadline_ms)
    return out


def exec_req(sid, cmd, workdir=None, env=(), timeout=None, stdin=None):
    out = f_bytes(1, sid)
    for word in cmd:
        out += f_bytes(2, word)
    if workdir is not None:
        out += f_bytes(3, workdir)
    for key, val in env:
        out += f_bytes(4, f_bytes(1, key) + f_bytes(2, val))
    if timeout is not None:
        out += f_varint(5, timeout)
    if stdin is not None:
        out += f_bytes(6, stdin)
    return out


# ---- archives ----

def tar_bytes(entries):
    """entries: (name, kind, data) with kind 'f' file, 'd' dir, 'l'
    symlink (data = target), 'h' hard link (data = target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.mode = 0o755 if kind == "d" else 0o644
            if kind == "d":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif kind in ("l", "h"):
                info.type = tarfile.SYMTYPE if kind == "l" else tarfile.LNKTYPE
                info.linkname = data
                t.addfile(info)
            else:
                payload = data.encode() if isinstance(data, str) else data
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    # tarfile pads to a 10 KiB record; the end-of-archive marker (two zero
    # blocks) is all a reader needs.
    end = len(raw)
    while end >= 512 and raw[end - 512:end] == bytes(512):
        end -= 512
    return raw[:end] + bytes(1024)


def tgz(entries):
    return gzip.compress(tar_bytes(entries), mtime=0)


def upload_record(kind, name, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 65536
    return bytes([kind]) + name.encode() + b"\0" + len(data).to_bytes(2, "little") + data


def plant(name, target):
    return upload_record(3, name, target)


DEEP = "d/" * 10 + "x"
UP10 = "../" * 10 + "etc"


# ---- the corpora ----

def dispatch_seeds():
    up = tgz([("a.txt", "f", "hello\n"), ("dir", "d", ""),
              ("dir/b.txt", "f", "b\n"), ("l", "l", "a.txt")])
    create = (f_bytes(1, "fz2") + f_varint(2, 60) + f_bytes(3, "python:3.11")
              + f_bytes(4, "500m") + f_bytes(5, "512Mi") + f_bytes(6, "1Gi")
              + f_varint(7, 64))
    return {
        "health": envelope("Health"),
        "list": envelope("ListSandboxes"),
        "create": envelope("CreateSandbox", create),
        "create_existing": envelope("CreateSandbox", f_bytes(1, "fz")),
        "touch": envelope("Touch", f_bytes(1, "fz")),
        "exec": envelope("Exec", exec_req("fz", ["echo", "hello"],
                                          "/workspace", [("A", "1")], 5,
                                          b"input"), 10000),
        "exec_sub": envelope("Exec", exec_req("fz", ["ls"], "sub")),
        "upload": envelope("UploadFiles", f_bytes(1, "fz") + f_bytes(2, "up")
                           + f_bytes(3, up)),
        "upload_tar": envelope("UploadFiles", f_bytes(1, "fz")
                               + f_bytes(3, tar_bytes([("t", "f", "t")]))
                               + f_varint(4, 1)),
        "download": envelope("DownloadFiles", f_bytes(1, "fz")),
        "download_tar": envelope("DownloadFiles", f_bytes(1, "fz")
                                 + f_bytes(2, "/workspace") + f_varint(3, 1)),
        "delete": envelope("DeleteSandbox", f_bytes(1, "fz")),
        "unknown_method": envelope("/other.Service/Health"),
        "past_deadline": envelope("Health", b"", -1),
        # Strings cut at a NUL by protobuf-c; each must be refused.
        "regress_create_sid_nul": envelope("CreateSandbox",
                                           f_bytes(1, b"zz\0evil!")),
        "regress_touch_sid_nul": envelope("Touch", f_bytes(1, b"fz\0x")),
        "regress_delete_sid_nul": envelope("DeleteSandbox",
                                           f_bytes(1, b"fz\0x")),
        "regress_exec_workdir_nul": envelope(
            "Exec", exec_req("fz", ["pwd"], b"sub\0dir")),
        "regress_exec_env_key_newline": envelope(
            "Exec", exec_req("fz", ["env"], env=[("A\nB", "1")])),
        "regress_exec_env_key_nul": envelope(
            "Exec", exec_req("fz", ["env"], env=[(b"A\0B", "1")])),
        "regress_exec_argv_nul": envelope(
            "Exec", exec_req("fz", ["echo", b"a\0b"])),
        "regress_upload_dest_nul": envelope(
            "UploadFiles", f_bytes(1, "fz") + f_bytes(2, b"a\0b")
            + f_bytes(3, up)),
        "regress_download_src_nul": envelope(
            "DownloadFiles", f_bytes(1, "fz") + f_bytes(2, b"/workspace\0/x")),
    }


def upload_seeds():
    files = tgz([("a.txt", "f", "hello\n"), ("dir", "d", ""),
                 ("dir/b.txt", "f", "b\n"), ("dir/l", "l", "../a.txt")])
    deep_link = tgz([("l", "l", UP10)])
    seeds = {
        "files_gz": b"\0" + upload_record(0, "", files),
        "files_tar": b"\0" + upload_record(1, "/workspace/sub",
                                           tar_bytes([("t.txt", "f", "t")])),
        "files_gz_namespaces": b"\1" + upload_record(0, "x/y", files),
        "two_uploads": b"\0" + upload_record(0, "", files)
        + upload_record(0, "dir", tgz([("c", "f", "c")])),
        "plant_then_upload": b"\0" + plant("p", "dir")
        + upload_record(0, "p", tgz([("q", "f", "q")])),
        "plant_canary": b"\0" + plant("c", "@canary")
        + upload_record(0, "c", tgz([("q", "f", "q")])),
        "escape_dotdot": b"\0" + upload_record(0, "", tgz([("../x", "f", "x")])),
        "escape_abs_link": b"\0" + upload_record(0, "", tgz([("l", "l", "/etc")])),
        "escape_link_up": b"\0" + upload_record(0, "a", tgz([("l", "l", "../../x")])),
        "escape_hardlink": b"\0" + upload_record(
            0, "", tgz([("a", "f", "a"), ("h", "h", "a")])),
        "escape_through_link": b"\0" + upload_record(
            0, "", tgz([("l", "l", "."), ("l/x", "f", "x")])),
    }
    # A symlink judged against the dest as written, not where it really
    # is: "d -> ." makes d/d/.../x the workspace's own x, so a link ten
    # levels up from there leaves the sandbox. Made by a command (planted)
    # or by an earlier upload, at both isolation levels.
    for level, suffix in ((b"\0", ""), (b"\1", "_namespaces")):
        seeds["regress_dot_link_deep_dest_planted" + suffix] = (
            level + plant("d", ".") + upload_record(0, DEEP, deep_link))
        seeds["regress_dot_link_deep_dest_uploaded" + suffix] = (
            level + upload_record(0, "", tgz([("d", "l", ".")]))
            + upload_record(0, DEEP, deep_link))
    return seeds


def paths_seeds():
    s = {
        "ws_abs": b"\0/workspace/a/b",
        "relative": b"\0a/./b/../f",
        "dotdot": b"\0../../etc/passwd",
        "foreign_abs": b"\0/etc/passwd",
        "ws_dotdot": b"\1/workspace/../workspace/a",
        "create": b"\3new/dir/x",
        "create_through_up": b"\3up/x",
        "create_through_abs": b"\3abs/x",
        "create_through_esc": b"\3d/esc/x",
        "loop": b"\0loop",
        "fifo": b"\0fifo",
        "small_out": b"\4a/b/c/d/e/f/g/h/i/j",
        "sid": b"\0zz-session_1.x",
        "sid_long": b"\0" + b"s" * 129,
        "sid_dot": b"\0.",
        "regress_sid_nul": b"\0zz\0evil!",
        "regress_workdir_nul": b"\1sub\0dir",
    }
    return s


def quantity_seeds():
    vals = ["500m", "1", "512Mi", "1Gi", "1G", "2.5", "1e3", "0", "1.2.3",
            "5MB", "0x10", "+1", ".5", "1E-3", "18446744073709551615",
            "18446744073709551616", "16Ei", "15Ei", "1e-100000", "0.0001m",
            "1000000", "1000001", "E", "1E", "1e", "-1", " 1"]
    return {"q%02d" % i: v.encode() for i, v in enumerate(vals)}


def meta_seeds():
    good = ("version=1\nsession_id=fm\nttl_seconds=900\ncreated_at=1700000000\n"
            "expires_at=4102444800\nimage=python:3.11\ncpu_limit=500m\n"
            "memory_limit=512Mi\nstorage_limit=1Gi\npids_limit=64\n"
            "isolation=none\nallow_network=0\nran=1\n")
    return {
        "good": good.encode(),
        "minimal": b"session_id=fm\nexpires_at=4102444800\n",
        "expired": b"session_id=fm\nexpires_at=0\n",
        "other_id": b"session_id=other\nexpires_at=4102444800\n",
        "climbing_id": b"session_id=../../canary\nexpires_at=4102444800\n",
        "huge_times": (b"session_id=fm\nttl_seconds=4294967295\n"
                       b"created_at=-9223372036854775808\n"
                       b"expires_at=9223372036854775807\n"),
        "bad_number": b"session_id=fm\nexpires_at=12x\n",
        "no_equals": b"session_id=fm\nexpires_at=1\ngarbage\n",
        "namespaces": good.replace("isolation=none", "isolation=namespaces")
        .encode(),
        "limits": (b"session_id=fm\nexpires_at=4102444800\ncpu_limit=1e999\n"
                   b"memory_limit=16Ei\nstorage_limit=1\npids_limit=1\n"),
        "empty": b"",
    }


def cli_seeds():
    words = {
        "exec": ["exec", "s", "--", "ls", "-la"],
        "exec_opts": ["exec", "s", "--workdir", "/workspace", "--env", "A=1",
                      "--timeout-seconds", "5", "--ignore-exit-code", "true"],
        "create": ["create", "s", "--ttl", "600", "--cpu", "500m", "--mem",
                   "512Mi", "--storage", "1Gi", "--pids", "64",
                   "--allow-network", "--wait"],
        "local": ["--local-test", "--isolation", "none", "--base-dir", "/tmp/x",
                  "list"],
        "upload": ["upload", "s", "--dir", "d", "--dest", "sub", "--format",
                   "tar"],
        "upload_files": ["upload", "s", "a.txt", "b.txt"],
        "download": ["download", "s", "--src", "x", "--output", "x.tgz"],
        "json": ["--json", "--url", "ipc:///tmp/x.ipc", "--timeout", "1.5",
                 "health"],
        "sh": ["sh", "s", "--bash", "echo hi"],
        "shell": ["shell", "s", "--verbose"],
        "help": ["--help"],
        "version": ["--version"],
        "touch_delete": ["touch", "s"],
        "regress_env_key_newline": ["exec", "s", "--env", "A\nB=1", "env"],
        "regress_sid_looks_like_option": ["delete", "--", "--json"],
    }
    return {k: "\0".join(v).encode() for k, v in words.items()}


def rest_seeds():
    """Mode byte (bits 0-1: 0 gateway, 1 client, 2 reply; the rest: verb
    or RPC), then the mode's input (fuzz/fuzz_rest.c)."""
    def gw(verb, path, body=b""):
        return bytes([{"GET": 0, "PUT": 1, "POST": 2, "DELETE": 3}[verb] << 2]) + \
            path.encode() + b"\n" + body

    def client(rpc, status, body, spec=False):
        return bytes([1 | (rpc | (0x20 if spec else 0)) << 2]) + \
            bytes([status & 0xFF, status >> 8]) + body

    def reply(rpc, env):
        return bytes([2 | rpc << 2]) + env

    exec_ok = f_varint(1, 0) + f_bytes(3, f_varint(1, 2) + f_bytes(2, b"hi\xff"))
    return {
        "gw_create": gw("PUT", "/v1/sandboxes/s1",
                        b'{"ttlSeconds": 900, "cpuLimit": "1", "pidsLimit": 9}'),
        "gw_exec": gw("POST", "/v1/sandboxes/a%2Fb/exec",
                      b'{"cmd": ["sh", "-c", "echo \\u0041"], '
                      b'"env": {"A": "1"}, "timeoutSeconds": 3, "stdin": "x"}'),
        "gw_upload": gw("POST", "/v1/sandboxes/s/files/upload", b"\x1f\x8b\x08"),
        "gw_bad": gw("POST", "/v1/sandboxes/s/exec", b'{"cmd": [1, {"a": []}]'),
        "gw_list": gw("GET", "/v1/sandboxes"),
        "client_exec": client(3, 200, b'{"exitCode": 1, "stdout": "x", '
                              b'"cause": "SIGNALED", "durationMs": 3}'),
        "client_error": client(3, 403, b'{"error": "command not allowed: rm", '
                               b'"code": 7}'),
        "client_health": client(0, 200, b"OK", spec=True),
        "client_create": client(1, 200, b'{"podName": "p", "limits": '
                                b'[{"name": "cpu_limit", "applied": true}]}'),
        "reply_exec": reply(3, exec_ok),
        "reply_error": reply(3, f_varint(1, 7) + f_bytes(2, b"no")),
    }


def main():
    corpora = {
        "rest": rest_seeds(),
        "dispatch": dispatch_seeds(),
        "upload": upload_seeds(),
        "paths": paths_seeds(),
        "quantity": quantity_seeds(),
        "meta": meta_seeds(),
        "cli_args": cli_seeds(),
    }
    for harness, seeds in corpora.items():
        d = os.path.join(CORPUS, harness)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
