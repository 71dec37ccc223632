"""A minimal W3C WebDriver client over HTTP (the standard library only), for
Debian's chromedriver driving headless Chromium."""
import base64
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chrome:
    """Starts chromedriver and one headless Chromium session."""

    def __init__(self, chromium, chromedriver, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        deadline = time.time() + 15
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.time() > deadline:
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--window-size=1440,900", "--lang=en-US"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read()).get("value", {})
                raise WebDriverError(f"{method} {path}: {v.get('error')}: {v.get('message', '')[:400]}")
            except ValueError:
                raise WebDriverError(f"{method} {path}: HTTP {e.code}")
        return out.get("value", out)

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def quit(self):
        try:
            if self.session:
                self.cmd("DELETE", "")
        except (OSError, WebDriverError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    # --- pages and elements ---
    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text, clear=True):
        el = self.find(css)
        if clear:
            self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def text(self, css):
        """The element's text, "" when it does not exist."""
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return e ? e.textContent : '';", css)

    def visible(self, css):
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;", css)

    def wait(self, what, cond, timeout=15):
        """Polls cond() until it is true; fails with what and the page's state."""
        deadline = time.time() + timeout
        while True:
            try:
                v = cond()
                if v:
                    return v
            except WebDriverError:
                pass
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; banner: "
                                     f"{self.text('#banner')!r}, url: {self.js('return location.href')}")
            time.sleep(0.1)

    def resize(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path, full_page=True):
        """Saves a PNG of the page; full_page grows the window to the page's height."""
        if full_page:
            rect = self.cmd("GET", "/window/rect")
            h = self.js("return Math.ceil(document.documentElement.scrollHeight)")
            self.resize(rect["width"], min(6000, h + (rect["height"] - self.js("return innerHeight"))))
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))
        if full_page:
            self.resize(rect["width"], rect["height"])

    def console_errors(self):
        try:
            logs = self._call("POST", f"/session/{self.session}/se/log", {"type": "browser"})
        except WebDriverError:
            return []
        return [l["message"] for l in logs if l.get("level") == "SEVERE"]
