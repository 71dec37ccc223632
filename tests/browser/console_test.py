#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium, driven through
chromedriver (WebDriver), against a real emberd with a real service.

Signs in with a wrong token, then the right one; sees the services; opens
one; watches its request counter move while this script sends requests;
reads a line the guest printed in the live log; scales it; sees an API
error; deploys a new program; removes it; sees the 404 of the removed
service. Screenshots of the main pages at laptop and phone widths go to
--out for a person to look at.

Exit status 77 (skipped, with a message) without chromium, chromedriver or
/dev/kvm. Standard library only."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import Chrome, free_port  # noqa: E402

SKIP = 77
LAPTOP = (1440, 900)
PHONE = (390, 844)


def skip(why):
    print(f"SKIPPED: {why}", flush=True)
    sys.exit(SKIP)


class Emberd:
    def __init__(self, binary, tmp):
        self.gw, self.api_port = free_port(), free_port()
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "emberd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", self.data, "--gateway", f"127.0.0.1:{self.gw}",
             "--api", f"127.0.0.1:{self.api_port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.token = ""
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("emberd exited at start:\n" + self.output())
            try:
                with open(os.path.join(self.data, "token")) as f:
                    self.token = f.read().strip()
                if self.token and self.call("GET", "/v1/info")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("emberd did not answer within 20 s:\n" + self.output())

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, raw=False):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = body if raw else json.dumps(body).encode()
            headers["Content-Type"] = "application/octet-stream" if raw else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read()
                return r.status, json.loads(text) if text.startswith(b"{") else text
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def deploy(self, name, program):
        with open(program, "rb") as f:
            status, img = self.call("POST", "/v1/images", f.read(), raw=True)
        assert status in (200, 201), (status, img)
        status, svc = self.call("PUT", f"/v1/services/{name}", {"image": img["sha256"]})
        assert status in (200, 201), (status, svc)
        return svc

    def request(self, service, path="/"):
        """One request through the gateway (path prefix routing); the status."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.gw}/{service}{path}", timeout=30) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def number(text):
    digits = "".join(c for c in text if c.isdigit())
    return int(digits) if digits else -1


def run(args, tmp):
    out = args.out
    os.makedirs(out, exist_ok=True)
    if os.path.exists(os.path.join(out, "failure.png")):
        os.remove(os.path.join(out, "failure.png"))
    d = Emberd(args.emberd, tmp)
    chrome = None
    try:
        d.deploy("hello", args.app)
        chrome = Chrome(args.chromium, args.chromedriver, os.path.join(out, "chromedriver.log"))
        b = chrome
        shot = lambda name: b.screenshot(os.path.join(out, name + ".png"))  # noqa: E731

        # Static files need no token; every data call does.
        b.get(d.url + "/")
        b.wait("the sign-in form", lambda: b.visible("#token"))
        shot("laptop-1-sign-in")
        b.type("#token", "not-the-token")
        b.click("#login-submit")
        b.wait("the wrong-token message", lambda: "Wrong token" in b.text("#login-error"))
        assert b.js("return sessionStorage.getItem('ember.token')") is None
        shot("laptop-2-wrong-token")
        print("ok: a wrong token is refused with a clear message", flush=True)

        b.type("#token", d.token)
        b.click("#login-submit")
        b.wait("the services table", lambda: b.text("#services tr[data-service=hello] th") == "hello")
        assert d.token not in b.js("return location.href"), "the token must never be in a URL"
        assert not b.visible("#banner"), "no error: no banner"
        print("ok: signed in; the services list shows hello", flush=True)

        b.click("#services a[href='#/s/hello']")
        b.wait("the service page", lambda: "generation 1" in b.text("#svc-state"))
        start = number(b.text("#st-requests"))
        # A client sends requests while the page is watched.
        sender = threading.Thread(target=lambda: [d.request("hello") for _ in range(30)])
        sender.start()
        b.wait("the request counter to move", lambda: number(b.text("#st-requests")) > start)
        sender.join()
        b.wait("all 30 requests counted", lambda: number(b.text("#st-requests")) >= start + 30)
        print(f"ok: the request counter moved from {start} to {b.text('#st-requests')}", flush=True)

        assert d.request("hello", "/console-test-marker") == 404
        b.wait("the guest's log line", lambda: "e2e_app: GET /console-test-marker" in b.text("#log"))
        print("ok: the live log shows the line the guest printed", flush=True)

        # Scale: one instance kept warm, at most three.
        b.type("#set-min_instances", "1")
        b.type("#set-max_instances", "3")
        b.click("#settings-save")
        b.wait("the save", lambda: "Saved" in b.text("#settings-form [role=status]"))
        status, svc = d.call("GET", "/v1/services/hello")
        assert svc["min_instances"] == 1 and svc["max_instances"] == 3, svc
        b.wait("the warm instance in the table", lambda: b.text("#instances tbody th").startswith("i-"), 20)
        print("ok: scaled to min 1, max 3; the instance table shows the warm instance", flush=True)

        # An API error is shown, not swallowed.
        b.type("#set-max_instances", "0")
        b.click("#settings-save")
        b.wait("the API's 400", lambda: "400 invalid_argument" in b.text("#settings-form [role=alert]"))
        print("ok: API error shown:", b.text("#settings-form [role=alert]"), flush=True)
        b.type("#set-max_instances", "3")

        # Deploy a new program: the same binary with bytes appended (a new image).
        program = os.path.join(tmp, "e2e_app_v2")
        shutil.copyfile(args.app, program)
        with open(program, "ab") as f:
            f.write(b"\0console test v2\0")
        b.type("#deploy-file", program, clear=False)
        b.click("#deploy-submit")
        b.wait("generation 2", lambda: "Deployed generation 2" in b.text("#deploy-form [role=status]"), 30)
        b.wait("the page to show generation 2", lambda: "generation 2" in b.text("#svc-state"))
        print("ok: deployed a new program as generation 2", flush=True)

        # Charts need points: requests over two sampling intervals.
        for _ in range(5):
            d.request("hello")
        b.wait("a point in the charts", lambda: b.js(
            "return document.querySelectorAll('#chart-requests .line, #chart-requests .dot').length") > 0, 35)
        b.js("window.scrollTo(0, 0)")
        shot("laptop-4-service")
        b.resize(*PHONE)
        time.sleep(0.5)
        shot("phone-2-service")
        b.get(d.url + "/#/")
        b.wait("the services table", lambda: b.text("#services tr[data-service=hello] th") == "hello")
        shot("phone-1-services")
        b.resize(*LAPTOP)
        time.sleep(0.3)
        shot("laptop-3-services")

        # Remove, with confirmation.
        b.click("#services a[href='#/s/hello']")
        b.wait("the service page", lambda: "generation" in b.text("#svc-state"))
        b.click("#remove")
        b.wait("the confirmation", lambda: b.js("return document.getElementById('remove-dialog').open"))
        shot("laptop-5-remove")
        b.click("#remove-confirm")
        b.wait("the services page", lambda: b.js("return location.hash") == "#/")
        b.wait("hello gone", lambda: b.text("#services tbody") == "" and b.visible("#main p.muted"))
        assert d.call("GET", "/v1/services/hello")[0] == 404
        print("ok: removed after confirmation", flush=True)

        # The page of a service that does not exist: the API's 404 is shown.
        b.get(d.url + "/#/s/hello")
        b.wait("the 404 in the banner", lambda: "404 not_found" in b.text("#banner"))
        shot("laptop-6-api-error")
        print("ok: API error shown:", b.text("#banner-text"), flush=True)

        # The 4xx answers provoked above are logged as failed loads: expected.
        errors = [e for e in b.console_errors() if "Failed to load resource" not in e]
        assert not errors, f"errors in the browser console: {errors}"
        print(f"screenshots in {out}", flush=True)
    except BaseException:
        print("--- emberd output ---\n" + d.output()[-4000:], file=sys.stderr)
        if chrome:
            try:
                chrome.screenshot(os.path.join(out, "failure.png"), full_page=False)
                print(f"failure screenshot: {out}/failure.png", file=sys.stderr)
            except Exception:  # noqa: BLE001 - the original failure matters
                pass
        raise
    finally:
        if chrome:
            chrome.quit()
        d.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--emberd", required=True)
    p.add_argument("--app", required=True, help="e2e_app: the service deployed")
    p.add_argument("--out", required=True, help="directory for the screenshots")
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = p.parse_args()
    for tool in (args.chromium, args.chromedriver):
        if not os.access(tool, os.X_OK):
            skip(f"{tool} not found: install Debian's chromium and chromium-driver (scripts/deps.sh)")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is not available; the console test runs a real emberd")
    with tempfile.TemporaryDirectory(prefix="ember-console-") as tmp:
        run(args, tmp)
    print("PASSED", flush=True)


if __name__ == "__main__":
    main()
