"""Starts one real `tessera serve` of the default model on loopback for the end-to-end tests.

The binary comes from TESSERA_BINARY (tests/e2e/run sets it); the server picks a free port (--port 0) and the
fixture reads it from the server's log. The server runs with an API key so authentication is exercised.
"""
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

API_KEY = "e2e-secret-key"


class Server:
    def __init__(self, proc, port, log):
        self.proc = proc
        self.port = port
        self.log = log
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return r.status, r.read().decode()

    def metric(self, name):
        _, page = self.get("/metrics")
        for line in page.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("TESSERA_BINARY")
    assert binary and os.path.exists(binary), "TESSERA_BINARY must name a built tessera"
    proc = subprocess.Popen(
        [binary, "serve", "default", "--host", "127.0.0.1", "--port", "0", "--api-key", API_KEY,
         "--threads", "2", "--kv-cache-memory", "256M", "--served-model-name", "smollm2",
         "--served-model-name", "default"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    port_found = threading.Event()
    ready = threading.Event()
    port = [None]

    def reader():
        for line in proc.stdout:
            log.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m and port[0] is None:
                port[0] = int(m.group(1))
                port_found.set()
            if "ready: serving" in line:
                ready.set()

    threading.Thread(target=reader, daemon=True).start()
    assert port_found.wait(120), "the server did not start:\n" + "".join(log)
    s = Server(proc, port[0], log)
    assert ready.wait(300), "the model did not load:\n" + "".join(log)
    yield s
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the server did not stop on SIGTERM:\n" + "".join(log[-50:]))
    assert rc == 0, "the server exited with %d:\n%s" % (rc, "".join(log[-50:]))


@pytest.fixture(scope="session")
def openai_client(server):
    import openai
    return openai.OpenAI(base_url=server.base + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def anthropic_client(server):
    import anthropic
    return anthropic.Anthropic(base_url=server.base, api_key=API_KEY, max_retries=0, timeout=120)


def wait_idle(server, timeout=30):
    """Waits until the engine reports no running or waiting request and an empty KV cache."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (server.metric("vllm:num_requests_running") == 0 and server.metric("vllm:num_requests_waiting") == 0
                and server.metric("vllm:kv_cache_usage_perc") == 0):
            return True
        time.sleep(0.05)
    return False
