"""Minimal browser drivers for the console test, standard library only:
W3C WebDriver over HTTP to Debian's chromedriver (headless Chromium), and
Marionette (WebDriver commands over Firefox's own TCP protocol, no
geckodriver, which Debian 12 does not ship) to headless firefox-esr."""
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


def wait_for(what, probe, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            v = probe()
            if v:
                return v
        except (OSError, WebDriverError):
            pass
        if time.time() > deadline:
            raise WebDriverError(f"{what} did not start")
        time.sleep(0.1)


class Browser:
    """The page helpers; a transport implements the primitive commands."""
    name = ""

    def get(self, url):
        raise NotImplementedError

    def js(self, script, *args):
        raise NotImplementedError

    def find(self, css):
        raise NotImplementedError

    def element(self, command, el, text=None):  # "click", "clear" or "value"
        raise NotImplementedError

    def rect(self):
        raise NotImplementedError

    def resize(self, width, height):
        raise NotImplementedError

    def png(self):
        raise NotImplementedError

    def console_errors(self):
        return []

    def _on(self, css, fn):
        """fn(element) on the element css finds now; found again if the page
        replaced it in between (a poll re-rendered it)."""
        for attempt in range(3):
            try:
                return fn(self.find(css))
            except WebDriverError as e:
                if "stale element" not in str(e) or attempt == 2:
                    raise

    def click(self, css):
        self._on(css, lambda el: self.element("click", el))

    def type(self, css, text, clear=True):
        def typing(el):
            if clear:
                self.element("clear", el)
            self.element("value", el, text)
        self._on(css, typing)

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
                raise AssertionError(f"{self.name}: timed out waiting for {what}; banner: "
                                     f"{self.text('#banner')!r}, url: {self.js('return location.href')}")
            time.sleep(0.1)

    def screenshot(self, path, full_page=True):
        """Saves a PNG of the page; full_page grows the window to the page's height."""
        if full_page:
            rect = self.rect()
            h = self.js("return Math.ceil(document.documentElement.scrollHeight)")
            self.resize(rect["width"], min(6000, h + (rect["height"] - self.js("return innerHeight"))))
            time.sleep(0.2)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.png()))
        if full_page:
            self.resize(rect["width"], rect["height"])


class Chrome(Browser):
    """chromedriver and one headless Chromium session."""
    name = "chromium"

    def __init__(self, chromium, chromedriver, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        wait_for("chromedriver", lambda: self._call("GET", "/status").get("ready"))
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
            except ValueError:
                raise WebDriverError(f"{method} {path}: HTTP {e.code}")
            raise WebDriverError(f"{method} {path}: {v.get('error')}: {v.get('message', '')[:400]}")
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

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def element(self, command, el, text=None):
        self.cmd("POST", f"/element/{el}/{command}", {} if text is None else {"text": text})

    def rect(self):
        return self.cmd("GET", "/window/rect")

    def resize(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def png(self):
        return self.cmd("GET", "/screenshot")

    def console_errors(self):
        try:
            logs = self._call("POST", f"/session/{self.session}/se/log", {"type": "browser"})
        except WebDriverError:
            return []
        return [entry["message"] for entry in logs if entry.get("level") == "SEVERE"]


class Firefox(Browser):
    """Headless Firefox in a fresh profile, driven over Marionette: each
    message is "<length>:<JSON>"; a command is [0, id, name, params] and its
    answer [1, id, error, result]."""
    name = "firefox"

    def __init__(self, firefox, profile_dir, log_path):
        port = free_port()
        os.makedirs(profile_dir, exist_ok=True)
        with open(os.path.join(profile_dir, "user.js"), "w") as f:
            for k, v in {"marionette.port": port, "browser.shell.checkDefaultBrowser": False,
                         "datareporting.policy.dataSubmissionEnabled": False,
                         "toolkit.telemetry.reportingpolicy.firstRun": False,
                         "app.update.auto": False, "browser.startup.homepage": "about:blank",
                         "network.captive-portal-service.enabled": False,
                         "network.connectivity-service.enabled": False}.items():
                f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")
        self.log = open(log_path, "w")
        env = dict(os.environ, HOME=profile_dir, MOZ_HEADLESS="1")
        self.proc = subprocess.Popen(
            [firefox, "--headless", "--marionette", "--no-remote", "--profile", profile_dir,
             "--width", "1440", "--height", "900", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.sock = wait_for("firefox's marionette",
                             lambda: socket.create_connection(("127.0.0.1", port), timeout=2), 30)
        self.sock.settimeout(60)
        self.buf = b""
        self.next_id = 0
        self._read()  # the greeting
        self._cmd("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        self.resize(1440, 900)

    def _read(self):
        while b":" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebDriverError("marionette closed the connection")
            self.buf += chunk
        n, rest = self.buf.split(b":", 1)
        n = int(n)
        while len(rest) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebDriverError("marionette closed the connection")
            rest += chunk
        self.buf = rest[n:]
        return json.loads(rest[:n])

    def _cmd(self, name, params=None):
        self.next_id += 1
        msg = json.dumps([0, self.next_id, name, params or {}]).encode()
        self.sock.sendall(str(len(msg)).encode() + b":" + msg)
        while True:
            reply = self._read()
            if reply[0] == 1 and reply[1] == self.next_id:
                break
        if reply[2]:
            e = reply[2]
            raise WebDriverError(f"{name}: {e.get('error')}: {str(e.get('message', ''))[:400]}")
        return reply[3]

    def quit(self):
        try:
            self._cmd("Marionette:Quit", {"flags": ["eForceQuit"]})
        except (OSError, WebDriverError):
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()

    def get(self, url):
        self._cmd("WebDriver:Navigate", {"url": url})

    def js(self, script, *args):
        return self._cmd("WebDriver:ExecuteScript", {"script": script, "args": list(args)})["value"]

    def find(self, css):
        r = self._cmd("WebDriver:FindElement", {"using": "css selector", "value": css})["value"]
        return r[ELEMENT] if isinstance(r, dict) else r

    def element(self, command, el, text=None):
        name = {"click": "WebDriver:ElementClick", "clear": "WebDriver:ElementClear",
                "value": "WebDriver:ElementSendKeys"}[command]
        params = {"id": el}
        if text is not None:
            params["text"] = text
        self._cmd(name, params)

    def rect(self):
        return self._cmd("WebDriver:GetWindowRect")

    def resize(self, width, height):
        self._cmd("WebDriver:SetWindowRect", {"width": width, "height": height})

    def png(self):
        return self._cmd("WebDriver:TakeScreenshot", {"full": False})["value"]
