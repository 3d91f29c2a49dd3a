#!/usr/bin/env python3
"""Marathon's own Python client against berth: Debian's python3-marathon (0.13), unchanged,
driven through every public method of `marathon.MarathonClient` against `berth up`.

    /usr/bin/python3 tests/integration/marathon_client_test.py PATH_TO_BERTH [TEST_NAME ...]

Each method is called the way a user calls it, and its result is checked against what the
cluster did (tasks running with host and ports, instances changed, versions rolled back, ...).
Setup, waits and cleanup use the HTTP API directly (Bearer admin token), so one method that
fails does not hide the others. A failing case says what the client sent and what berth
answered: the client raises MarathonHttpError with berth's status and message, or one of its
model classes (MarathonTask, MarathonInfo, ...) rejects a key of berth's JSON with TypeError.

The client authenticates with HTTP Basic, the admin token as the password (berth takes a token
there for clients that speak only Basic); its `auth_token=` mechanism has a case of its own. The
last case lists the client's public methods by introspection and fails if any was not called,
so the coverage is checked, not claimed (only when the whole suite runs).

`DELETE /v2/leader` is called on a single master (berth answers 409: no standby) and on
`berth up --masters 3` (etcd), where the leader steps down.

Exits 77 (ctest: skipped) when python3-marathon is not installed, except under CI=true, where
that is a failure: scripts/install-deps installs it.
"""

import inspect
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

sys.dont_write_bytecode = True

try:
    import requests
    from marathon import MarathonClient
    from marathon.exceptions import ConflictError, MarathonHttpError
    from marathon.models import MarathonApp, MarathonGroup, MarathonInfo, MarathonTask
    from marathon.models.deployment import MarathonDeployment
    from marathon.models.endpoint import MarathonEndpoint
    from marathon.models.events import MarathonEvent
    from marathon.models.queue import MarathonQueueItem
    from requests_toolbelt.adapters import socket_options
except ImportError as missing:
    why = ("python3-marathon is not installed (%s); install it with `apt-get install "
           "python3-marathon` (scripts/install-deps does) and run this with /usr/bin/python3"
           % missing)
    if os.environ.get("CI") == "true":
        print("FAIL: " + why)
        sys.exit(1)
    print("SKIP: " + why)
    sys.exit(77)

BERTH = None  # the binary, from argv
CALLED = set()  # public MarathonClient methods the cases called (coverage)
CPUS, MEM = 0.05, 16


# --- the cluster -------------------------------------------------------------------------------

def ports_free(base, span):
    for port in range(base, base + span):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_base_port(span):
    """A base port with `span` free ports after it, below the agents' 31000- and the service
    ports' 10000-20000 ranges of `berth up`."""
    rng = random.Random(os.getpid() ^ int(time.time()))
    for _ in range(200):
        base = rng.randrange(21000, 30000 - span)
        if ports_free(base, span):
            return base
    raise RuntimeError("no %d free ports in 21000-30000" % span)


class BerthUp:
    """`berth up` as a user starts it, in a data dir of its own; stopped with SIGINT."""

    def __init__(self, masters=1, agents=2):
        self.masters = masters
        self.port = free_base_port(9 if masters > 1 else 1)
        self.data_dir = tempfile.mkdtemp(prefix="berth-mclient-")
        self.urls = ["http://127.0.0.1:%d" % (self.port + i) for i in range(masters)]
        self.url = self.urls[0]
        argv = [BERTH, "up", "--agents", str(agents), "--port", str(self.port), "--data-dir",
                self.data_dir]
        if masters > 1:
            argv[2:2] = ["--masters", str(masters)]
        self.out_path = os.path.join(self.data_dir, "up.out")
        self.out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if b"berth is up" in open(self.out_path, "rb").read():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("berth up exited %s:\n%s" % (self.proc.returncode, self.output()))
            time.sleep(0.2)
        else:
            self.stop(keep=True)
            raise RuntimeError("berth up did not say 'berth is up' in 120 s:\n" + self.output())
        self.token = open(os.path.join(self.data_dir, "admin-token")).read().strip()

    def output(self):
        return open(self.out_path, errors="replace").read()[-4000:]

    def stop(self, keep=False):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                print("berth up did not stop in 90 s; SIGKILL", file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        if keep:
            print("kept %s (logs/*.log) for a look" % self.data_dir, file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # The HTTP API directly, for setup, waits and cleanup: not through the client under test.
    def api(self, method, path, body=None, timeout=10, url=None):
        r = requests.request(method, (url or self.url) + path,
                             data=None if body is None else json.dumps(body),
                             headers={"Authorization": "Bearer " + self.token,
                                      "Content-Type": "application/json"},
                             timeout=timeout)
        try:
            return r.status_code, r.json() if r.content else None
        except ValueError:
            return r.status_code, r.text


# --- what the client sent and what berth answered ----------------------------------------------

class Wire:
    """Every request of the client's sessions and berth's answer (status and the start of the
    body; an event stream's body is not read)."""

    def __init__(self):
        self.log = []

    def hook(self, response, *args, **kwargs):
        request = response.request
        streaming = "text/event-stream" in response.headers.get("content-type", "")
        body = "" if streaming else response.text
        self.log.append({"method": request.method, "url": request.url, "body": request.body,
                         "headers": dict(request.headers), "status": response.status_code,
                         "answer": body})

    def session(self, keepalive=False):
        s = requests.Session()
        if keepalive:  # as the client builds its event-stream session by default
            adapter = socket_options.TCPKeepAliveAdapter()
            s.mount("http://", adapter)
            s.mount("https://", adapter)
        s.hooks["response"].append(self.hook)
        return s


def describe_exchange(x):
    sent = x["body"]
    if isinstance(sent, bytes):
        sent = sent.decode(errors="replace")
    what = ""
    if sent:
        try:
            parsed = json.loads(sent)
            what = " body keys %s" % (sorted(parsed) if isinstance(parsed, dict) else
                                      "[%s]" % ", ".join(str(sorted(e)) if isinstance(e, dict)
                                                         else repr(e) for e in parsed))
        except ValueError:
            what = " body %r" % sent[:200]
    answer = x["answer"] if len(x["answer"]) <= 700 else x["answer"][:700] + "..."
    return "%s %s%s -> %s %s" % (x["method"], x["url"], what, x["status"], answer)


def diagnose(name, exc, exchanges):
    lines = ["MarathonClient.%s raised %s: %s" % (name, type(exc).__name__, exc)]
    if isinstance(exc, MarathonHttpError):
        lines.append("berth answered HTTP %s: %s" % (exc.status_code, exc.error_message))
    elif isinstance(exc, (TypeError, AttributeError, ValueError, KeyError)):
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if "/marathon/" in f.filename]
        lines.append("the client could not build its model from berth's JSON; raised in "
                     + " -> ".join("%s:%d %s" % (os.path.basename(f.filename), f.lineno, f.name)
                                   for f in frames[-6:]))
        if frames:
            lines.append("  at: " + frames[-1].line)
        if "unexpected keyword argument" in str(exc):
            lines.append("(the argument is the snake_case of a JSON key berth sends that the "
                         "model's constructor does not take)")
    if exchanges:
        lines.append("exchanges:")
        lines += ["  " + describe_exchange(x) for x in exchanges[-4:]]
    return "\n".join(lines)


class Recorder:
    """The client, with each public method call noted in CALLED (for the coverage case)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def called(*args, **kwargs):
            CALLED.add(name)
            return attr(*args, **kwargs)
        return called


# --- the cases ---------------------------------------------------------------------------------

def sleep_app(app_id, instances=1, cmd="sleep 1000", **extra):
    app = {"id": app_id, "cmd": cmd, "cpus": CPUS, "mem": MEM, "instances": instances}
    app.update(extra)
    return app


NOWHERE = [["hostname", "LIKE", "no-such-node"]]  # a deployment that cannot finish


class ClientCase(unittest.TestCase):
    cluster = None

    @staticmethod
    def make_client(servers, **kwargs):
        """A MarathonClient whose requests and berth's answers are noted in a Wire of its own."""
        wire = Wire()
        client = MarathonClient(servers, session=wire.session(),
                                sse_session=wire.session(keepalive=True), **kwargs)
        return client, wire

    def setUp(self):
        self.cleanup = []

    def tearDown(self):
        for app_id in reversed(self.cleanup):
            try:
                self.cluster.api("DELETE", "/v2/apps%s?force=true" % app_id)
            except requests.RequestException:
                pass

    # -- calling the client
    def call(self, name, *args, **kwargs):
        """The client's method `name`; a failure says what was sent and answered."""
        start = len(self.wire.log)
        try:
            return getattr(self.mc, name)(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 -- every failure becomes a diagnosis
            raise self.failureException(diagnose(name, e, self.wire.log[start:])) from None

    def sent(self, n=2):
        """The last exchanges, for assertion messages."""
        return "\n".join("  " + describe_exchange(x) for x in self.wire.log[-n:])

    # -- the cluster through the HTTP API
    def api(self, method, path, body=None, expect=None):
        status, answer = self.cluster.api(method, path, body)
        if expect is not None:
            self.assertIn(status, expect if isinstance(expect, tuple) else (expect,),
                          "setup: %s %s -> %s %s" % (method, path, status, answer))
        return status, answer

    def create(self, app):
        self.cleanup.append(app["id"])
        self.api("POST", "/v2/apps", app, expect=201)

    def app(self, app_id):
        status, body = self.api("GET", "/v2/apps" + app_id)
        return body["app"] if status == 200 else None

    def tasks(self, app_id, running=False):
        status, body = self.api("GET", "/v2/apps%s/tasks" % app_id)
        tasks = body["tasks"] if status == 200 else []
        return [t for t in tasks if t["state"] == "TASK_RUNNING"] if running else tasks

    def deployments_of(self, app_id):
        _, body = self.api("GET", "/v2/deployments")
        return [d for d in body or [] if app_id in d.get("affectedApps", [])]

    def wait_for(self, what, fn, timeout=40):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.2)
        self.fail("timed out after %d s waiting for %s (last: %r)" % (timeout, what, last))

    def settled(self, app_id, n, timeout=40):
        """Once app_id runs exactly n tasks and no deployment touches it: its tasks."""
        def check():
            tasks = self.tasks(app_id)
            if (len(tasks) == n and all(t["state"] == "TASK_RUNNING" for t in tasks)
                    and not self.deployments_of(app_id)):
                return tasks or [None]
            return None
        tasks = self.wait_for("%s to run %d tasks with no deployment" % (app_id, n), check,
                              timeout)
        return [t for t in tasks if t]

    def replaced(self, app_id, gone, n, timeout=40):
        """Once none of the task ids `gone` is listed and app_id runs n tasks: its tasks."""
        self.wait_for("%s to be gone" % sorted(gone), lambda: not (
            set(gone) & {t["id"] for t in self.tasks(app_id)}), timeout)
        return self.settled(app_id, n, timeout)

    def assert_deployment(self, answer, what):
        self.assertIsInstance(answer, dict, what)
        self.assertTrue(answer.get("deploymentId"), "%s: no deploymentId in %r\n%s"
                        % (what, answer, self.sent()))
        self.assertTrue(answer.get("version"), "%s: no version in %r" % (what, answer))

    def assert_task(self, task, app_id):
        self.assertIsInstance(task, MarathonTask)
        self.assertEqual(task.app_id, app_id)
        self.assertEqual(task.state, "TASK_RUNNING")
        self.assertTrue(task.host, "task %s has no host" % task.id)
        self.assertTrue(task.ports, "task %s has no ports" % task.id)
        self.assertIsNotNone(task.started_at, "task %s has no startedAt" % task.id)


class MarathonClientTest(ClientCase):
    """Every public call against a single master and two agents."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = BerthUp(masters=1, agents=2)
        client, cls.wire = cls.make_client(cls.cluster.url, username="berth",
                                           password=cls.cluster.token)
        cls.mc = Recorder(client)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    # ---- system
    def test_ping(self):
        self.assertEqual(self.call("ping"), b"pong")

    def test_get_info(self):
        info = self.call("get_info")
        self.assertIsInstance(info, MarathonInfo)
        self.assertTrue(info.name)
        self.assertTrue(info.version)
        self.assertTrue(info.elected)
        self.assertEqual(info.leader, "127.0.0.1:%d" % self.cluster.port)
        self.assertIsNotNone(info.marathon_config)
        self.assertEqual(info.http_config.http_port, self.cluster.port)

    def test_get_leader(self):
        self.assertEqual(self.call("get_leader"), {"leader": "127.0.0.1:%d" % self.cluster.port})

    def test_delete_leader_single_master(self):
        # berth's single master (SQLite) has no standby to hand over to: 409 by design.
        # HaLeaderTest calls it where it can succeed.
        with self.assertRaises(ConflictError) as raised:
            self.mc.delete_leader()
        self.assertEqual(raised.exception.status_code, 409)
        self.assertIn("standby", raised.exception.error_message)

    def test_get_metrics(self):
        metrics = self.call("get_metrics")
        self.assertIsInstance(metrics, dict)
        self.assertTrue({"counters", "gauges", "timers"} & set(metrics),
                        "no counters/gauges/timers in %r" % sorted(metrics))

    # ---- apps
    def test_create_app(self):
        self.cleanup.append("/mc-create")
        created = self.call("create_app", "/mc-create",
                            MarathonApp(cmd="sleep 1000", cpus=CPUS, mem=MEM, instances=2,
                                        labels={"suite": "mclient"}, env={"GREETING": "hi"}))
        self.assertIsInstance(created, MarathonApp, "create_app answers False unless 201")
        self.assertEqual(created.id, "/mc-create")
        self.assertEqual(created.instances, 2)
        self.assertEqual(created.cmd, "sleep 1000")
        self.assertEqual(created.labels, {"suite": "mclient"})
        self.assertEqual(created.env, {"GREETING": "hi"})
        for task in self.settled("/mc-create", 2):
            self.assertTrue(task["host"])
            self.assertTrue(task["ports"])

    def test_list_apps(self):
        self.create(sleep_app("/mc-list/alpha", cmd="sleep 1001", labels={"tier": "front"}))
        self.create(sleep_app("/mc-list/beta", cmd="sleep 1002", labels={"tier": "back"}))
        self.settled("/mc-list/alpha", 1)
        self.settled("/mc-list/beta", 1)

        def ids(apps):
            return {a.id for a in apps if a.id.startswith("/mc-list/")}
        with self.subTest("all"):
            apps = self.call("list_apps")
            self.assertTrue(all(isinstance(a, MarathonApp) for a in apps))
            self.assertEqual(ids(apps), {"/mc-list/alpha", "/mc-list/beta"})
        with self.subTest("cmd"):
            self.assertEqual(ids(self.call("list_apps", cmd="sleep 1001")), {"/mc-list/alpha"})
        with self.subTest("app_id"):
            self.assertEqual(ids(self.call("list_apps", app_id="mc-list/be")), {"/mc-list/beta"})
        with self.subTest("label"):
            self.assertEqual(ids(self.call("list_apps", label="tier==front")), {"/mc-list/alpha"},
                             "the label selector was not applied\n" + self.sent(1))
        with self.subTest("attribute filter (kwargs)"):
            self.assertEqual(ids(self.call("list_apps", cmd="sleep 100", id="/mc-list/beta")),
                             {"/mc-list/beta"})
        with self.subTest("embed_tasks"):
            apps = [a for a in self.call("list_apps", app_id="mc-list/", embed_tasks=True)]
            self.assertEqual(len(apps), 2)
            for a in apps:
                self.assertEqual(len(a.tasks), 1, "%s: tasks not embedded\n%s"
                                 % (a.id, self.sent(1)))
                self.assert_task(a.tasks[0], a.id)
        with self.subTest("embed_failures"):
            apps = self.call("list_apps", app_id="mc-list/", embed_failures=True)
            self.assertTrue(all(len(a.tasks) == 1 for a in apps),
                            "tasks not embedded with app.failures\n" + self.sent(1))
        with self.subTest("embed counts, deployments, readiness, lastTaskFailure"):
            apps = self.call("list_apps", app_id="mc-list/", embed_counts=True,
                             embed_deployments=True, embed_readiness=True,
                             embed_last_task_failure=True)
            self.assertEqual(sorted(a.tasks_running for a in apps), [1, 1])
            self.assertTrue(all(a.deployments == [] for a in apps))
        with self.subTest("embed_task_stats"):
            apps = self.call("list_apps", app_id="mc-list/", embed_task_stats=True)
            self.assertTrue(all(a.task_stats is not None for a in apps),
                            "no taskStats\n" + self.sent(1))

    def test_get_app(self):
        self.create(sleep_app("/mc-get", instances=2, labels={"a": "b"}))
        self.settled("/mc-get", 2)
        for name, embeds in (("plain", {}),
                             ("all embeds", dict(embed_tasks=True, embed_counts=True,
                                                 embed_deployments=True, embed_readiness=True,
                                                 embed_last_task_failure=True,
                                                 embed_failures=True, embed_task_stats=True))):
            with self.subTest(name):
                app = self.call("get_app", "mc-get", **embeds)
                self.assertIsInstance(app, MarathonApp)
                self.assertEqual(app.id, "/mc-get")
                self.assertEqual(app.instances, 2)
                self.assertEqual(app.labels, {"a": "b"})
                self.assertEqual(app.tasks_running, 2)
                self.assertEqual(len(app.tasks), 2)
                for task in app.tasks:
                    self.assert_task(task, "/mc-get")

    def test_update_app(self):
        self.create(sleep_app("/mc-update"))
        old = {t["id"] for t in self.settled("/mc-update", 1)}
        answer = self.call("update_app", "mc-update", MarathonApp(cmd="sleep 2000"))
        self.assert_deployment(answer, "update_app")
        self.wait_for("the new cmd", lambda: self.app("/mc-update")["cmd"] == "sleep 2000")
        new = self.settled("/mc-update", 1)
        self.assertNotIn(new[0]["id"], old, "the task was not replaced")
        with self.subTest("force"):
            self.api("PUT", "/v2/apps/mc-update", {"constraints": NOWHERE}, expect=200)
            answer = self.call("update_app", "mc-update",
                               MarathonApp(constraints=[["hostname", "LIKE", "agent-.*"]]),
                               force=True)
            self.assert_deployment(answer, "update_app(force=True)")
            self.settled("/mc-update", 1)

    def test_update_apps(self):
        self.create(sleep_app("/mc-bulk/a"))
        self.create(sleep_app("/mc-bulk/b"))
        self.cleanup.append("/mc-bulk/c")
        self.settled("/mc-bulk/a", 1)
        self.settled("/mc-bulk/b", 1)
        answer = self.call("update_apps", [
            MarathonApp(id="/mc-bulk/a", instances=2),
            MarathonApp(id="/mc-bulk/b", cmd="sleep 1500"),
            MarathonApp(id="/mc-bulk/c", cmd="sleep 1000", cpus=CPUS, mem=MEM, instances=1)])
        self.assert_deployment(answer, "update_apps")
        self.settled("/mc-bulk/a", 2)
        self.assertEqual(self.app("/mc-bulk/b")["cmd"], "sleep 1500")
        self.settled("/mc-bulk/c", 1)

    def test_rollback_app(self):
        self.create(sleep_app("/mc-rollback", cmd="sleep 1000"))
        self.settled("/mc-rollback", 1)
        first = self.app("/mc-rollback")["version"]
        self.api("PUT", "/v2/apps/mc-rollback", {"cmd": "sleep 3000"}, expect=200)
        self.settled("/mc-rollback", 1)
        self.assertEqual(self.app("/mc-rollback")["cmd"], "sleep 3000")
        answer = self.call("rollback_app", "mc-rollback", first)
        self.assert_deployment(answer, "rollback_app")
        self.wait_for("the old cmd", lambda: self.app("/mc-rollback")["cmd"] == "sleep 1000")
        self.settled("/mc-rollback", 1)

    def test_scale_app(self):
        self.create(sleep_app("/mc-scale"))
        self.settled("/mc-scale", 1)
        with self.subTest("instances"):
            self.assert_deployment(self.call("scale_app", "mc-scale", instances=3), "scale_app")
            self.settled("/mc-scale", 3)
            self.assertEqual(self.app("/mc-scale")["instances"], 3)
        with self.subTest("delta"):
            self.api("PUT", "/v2/apps/mc-scale", {"instances": 3}, expect=200)
            self.settled("/mc-scale", 3)
            self.assert_deployment(self.call("scale_app", "mc-scale", delta=-2),
                                   "scale_app(delta=-2)")
            self.settled("/mc-scale", 1)
            self.assertEqual(self.app("/mc-scale")["instances"], 1)

    def test_restart_app(self):
        self.create(sleep_app("/mc-restart", instances=2))
        old = {t["id"] for t in self.settled("/mc-restart", 2)}
        self.assert_deployment(self.call("restart_app", "mc-restart"), "restart_app")
        self.wait_for("new tasks", lambda: (
            {t["id"] for t in self.tasks("/mc-restart", running=True)}.isdisjoint(old)
            and len(self.tasks("/mc-restart", running=True)) == 2))

    def test_delete_app(self):
        self.create(sleep_app("/mc-delete"))
        self.settled("/mc-delete", 1)
        self.assert_deployment(self.call("delete_app", "mc-delete"), "delete_app")
        self.wait_for("the app to go", lambda: self.api("GET", "/v2/apps/mc-delete")[0] == 404)
        self.wait_for("its tasks to go", lambda: not [
            t for t in self.api("GET", "/v2/tasks")[1]["tasks"] if t["appId"] == "/mc-delete"])
        with self.subTest("force, during its deployment"):
            self.create(sleep_app("/mc-delete-stuck", constraints=NOWHERE))
            self.assert_deployment(self.call("delete_app", "mc-delete-stuck", force=True),
                                   "delete_app(force=True)")
            self.wait_for("the app to go",
                          lambda: self.api("GET", "/v2/apps/mc-delete-stuck")[0] == 404)

    def test_list_versions_and_get_version(self):
        self.create(sleep_app("/mc-versions", cmd="sleep 1000"))
        self.settled("/mc-versions", 1)
        first = self.app("/mc-versions")["version"]
        self.api("PUT", "/v2/apps/mc-versions", {"cmd": "sleep 4000"}, expect=200)
        self.settled("/mc-versions", 1)
        second = self.app("/mc-versions")["version"]
        versions = self.call("list_versions", "mc-versions")
        self.assertIn(first, versions)
        self.assertIn(second, versions)
        old = self.call("get_version", "mc-versions", first)
        self.assertIsInstance(old, MarathonApp)
        self.assertEqual(old.cmd, "sleep 1000")
        self.assertEqual(old.version, first)

    # ---- tasks
    def test_list_tasks(self):
        self.create(sleep_app("/mc-tasks", instances=2))
        ids = {t["id"] for t in self.settled("/mc-tasks", 2)}
        with self.subTest("all"):
            tasks = [t for t in self.call("list_tasks") if t.app_id == "/mc-tasks"]
            self.assertEqual({t.id for t in tasks}, ids)
            for t in tasks:
                self.assert_task(t, "/mc-tasks")
        for app_id in ("mc-tasks", "/mc-tasks"):
            with self.subTest("of app " + app_id):
                tasks = self.call("list_tasks", app_id)
                self.assertEqual({t.id for t in tasks}, ids)
                for t in tasks:
                    self.assert_task(t, "/mc-tasks")
        with self.subTest("attribute filter (kwargs)"):
            tasks = self.call("list_tasks", "mc-tasks", state="TASK_RUNNING")
            self.assertEqual({t.id for t in tasks}, ids)

    def test_list_endpoints(self):
        service_port = random.Random(os.getpid()).randrange(15000, 19000)
        self.create(sleep_app("/mc-endpoints", portDefinitions=[{"port": service_port}]))
        task = self.settled("/mc-endpoints", 1)[0]
        endpoints = [e for e in self.call("list_endpoints") if e.app_id == "/mc-endpoints"]
        self.assertEqual(len(endpoints), 1)
        self.assertIsInstance(endpoints[0], MarathonEndpoint)
        self.assertEqual(endpoints[0].service_port, service_port)
        self.assertEqual(endpoints[0].task_port, task["ports"][0])
        self.assertEqual(endpoints[0].host, task["host"])
        self.assertEqual(endpoints[0].task_id, task["id"])

    def test_kill_task(self):
        self.create(sleep_app("/mc-killtask", instances=2))
        victim = self.settled("/mc-killtask", 2)[0]["id"]
        with self.subTest("replaced"):
            killed = self.call("kill_task", "mc-killtask", victim)
            self.assertIsInstance(killed, MarathonTask, "%r\n%s" % (killed, self.sent(1)))
            self.assertEqual(killed.id, victim)
        tasks = self.replaced("/mc-killtask", {victim}, 2)
        with self.subTest("scale"):
            answer = self.call("kill_task", "mc-killtask", tasks[0]["id"], scale=True)
            self.assert_deployment(answer, "kill_task(scale=True)")
            self.settled("/mc-killtask", 1)
            self.assertEqual(self.app("/mc-killtask")["instances"], 1)

    def test_kill_tasks(self):
        self.create(sleep_app("/mc-killtasks", instances=2))
        old = {t["id"] for t in self.settled("/mc-killtasks", 2)}
        with self.subTest("all, replaced"):
            killed = self.call("kill_tasks", "mc-killtasks")
            self.assertIsInstance(killed, list, "%r\n%s" % (killed, self.sent(1)))
            self.assertEqual({t.id for t in killed}, old)
        tasks = self.replaced("/mc-killtasks", old, 2)
        with self.subTest("host"):
            host = tasks[0]["host"]
            on_host = {t["id"] for t in tasks if t["host"] == host}
            killed = self.call("kill_tasks", "mc-killtasks", host=host)
            self.assertIsInstance(killed, list, "%r\n%s" % (killed, self.sent(1)))
            self.assertEqual({t.id for t in killed}, on_host)
            self.replaced("/mc-killtasks", on_host, 2)
        with self.subTest("scale"):
            answer = self.call("kill_tasks", "mc-killtasks", scale=True)
            self.assert_deployment(answer, "kill_tasks(scale=True)")
            self.settled("/mc-killtasks", 0)
            self.assertEqual(self.app("/mc-killtasks")["instances"], 0)

    def test_kill_given_tasks(self):
        self.create(sleep_app("/mc-killgiven", instances=2))
        victim = self.settled("/mc-killgiven", 2)[0]["id"]
        self.assertIs(self.call("kill_given_tasks", [victim]), True)
        tasks = self.replaced("/mc-killgiven", {victim}, 2)
        with self.subTest("scale, force"):
            self.assertIs(self.call("kill_given_tasks", [tasks[0]["id"]], scale=True, force=True),
                          True)
            self.settled("/mc-killgiven", 1)
            self.assertEqual(self.app("/mc-killgiven")["instances"], 1)

    # ---- deployments and the queue
    def stuck(self, app_id, **extra):
        """An app whose deployment cannot finish; its deployment's id."""
        self.create(sleep_app(app_id, constraints=NOWHERE, **extra))
        return self.wait_for("a deployment of " + app_id, lambda: self.deployments_of(app_id))[0]["id"]

    def test_list_deployments(self):
        deployment_id = self.stuck("/mc-deploy")
        listed = [d for d in self.call("list_deployments") if d.id == deployment_id]
        self.assertEqual(len(listed), 1, "deployment %s not listed" % deployment_id)
        self.assertIsInstance(listed[0], MarathonDeployment)
        self.assertIn("/mc-deploy", listed[0].affected_apps)
        self.assertIn("/mc-deploy", [a.app for a in listed[0].current_actions])
        self.assertTrue(listed[0].steps)
        self.assertTrue(listed[0].version)
        self.api("PUT", "/v2/apps/mc-deploy?force=true", {"instances": 0}, expect=200)
        self.wait_for("the deployment to go", lambda: deployment_id not in {
            d.id for d in self.call("list_deployments")})

    def test_delete_deployment(self):
        with self.subTest("rollback"):
            deployment_id = self.stuck("/mc-undeploy")
            answer = self.call("delete_deployment", deployment_id)
            self.assert_deployment(answer, "delete_deployment")
            # Rolling back the creation of an app removes it.
            self.wait_for("the app to go", lambda: self.api("GET", "/v2/apps/mc-undeploy")[0] == 404)
        with self.subTest("force"):
            deployment_id = self.stuck("/mc-cancel")
            self.assertEqual(self.call("delete_deployment", deployment_id, force=True), {})
            self.wait_for("the deployment to go", lambda: not self.deployments_of("/mc-cancel"))
            self.assertIsNotNone(self.app("/mc-cancel"), "a forced cancel keeps the app")

    def test_list_queue(self):
        # Three instances, one per host, two agents: one waits in the queue.
        self.create(sleep_app("/mc-queue", instances=3, constraints=[["hostname", "UNIQUE"]]))
        self.wait_for("the queue entry", lambda: [
            q for q in self.api("GET", "/v2/queue")[1]["queue"] if q["app"]["id"] == "/mc-queue"])
        with self.subTest("plain"):
            items = [q for q in self.call("list_queue") if q.app.id == "/mc-queue"]
            self.assertEqual(len(items), 1)
            self.assertIsInstance(items[0], MarathonQueueItem)
            self.assertEqual(items[0].count, 1)
            self.assertIsNotNone(items[0].delay)
        with self.subTest("embed_last_unused_offers"):
            items = [q for q in self.call("list_queue", embed_last_unused_offers=True)
                     if q.app.id == "/mc-queue"]
            self.assertEqual(len(items), 1)
            self.assertTrue(items[0].last_unused_offers)

    def test_reset_delay(self):
        # A task that fails at once: the app backs off.
        self.create(sleep_app("/mc-delay", cmd="exit 1", backoffSeconds=60))
        self.wait_for("a backoff", lambda: [
            q for q in self.api("GET", "/v2/queue")[1]["queue"]
            if q["app"]["id"] == "/mc-delay" and q["delay"]["timeLeftSeconds"] > 0])
        for app_id in ("mc-delay", "/mc-delay"):
            with self.subTest(app_id):
                self.assertIsNone(self.call("reset_delay", app_id))
                self.assertEqual(self.wire.log[-1]["status"], 204)

    # ---- groups
    def group_app(self, app_id, instances=1, cmd="sleep 1000"):
        return MarathonApp(id=app_id, cmd=cmd, cpus=CPUS, mem=MEM, instances=instances)

    def test_create_group(self):
        self.cleanup.append("/mc-gc/web")
        answer = self.call("create_group", MarathonGroup(id="/mc-gc",
                                                         apps=[self.group_app("/mc-gc/web")]))
        self.assertIsInstance(answer, dict)
        self.assertTrue(answer.get("version"), "no version in %r" % answer)
        self.settled("/mc-gc/web", 1)

    def test_list_groups(self):
        self.create(sleep_app("/mc-lg/a"))
        groups = {g.id: g for g in self.call("list_groups")}
        self.assertIn("/mc-lg", groups)
        self.assertIsInstance(groups["/mc-lg"], MarathonGroup)
        self.assertEqual([a.id for a in groups["/mc-lg"].apps], ["/mc-lg/a"])
        with self.subTest("attribute filter (kwargs)"):
            self.assertEqual([g.id for g in self.call("list_groups", id="/mc-lg")], ["/mc-lg"])

    def test_get_group(self):
        self.create(sleep_app("/mc-gg/a"))
        self.create(sleep_app("/mc-gg/sub/b"))
        group = self.call("get_group", "mc-gg")
        self.assertIsInstance(group, MarathonGroup)
        self.assertEqual(group.id, "/mc-gg")
        self.assertEqual([a.id for a in group.apps], ["/mc-gg/a"])
        self.assertEqual([g.id for g in group.groups], ["/mc-gg/sub"])
        self.assertEqual([a.id for a in group.groups[0].apps], ["/mc-gg/sub/b"])

    def test_update_group(self):
        self.create(sleep_app("/mc-ug/a"))
        self.settled("/mc-ug/a", 1)
        answer = self.call("update_group", "mc-ug", MarathonGroup(
            id="/mc-ug", apps=[self.group_app("/mc-ug/a", instances=2)]))
        self.assert_deployment(answer, "update_group")
        self.settled("/mc-ug/a", 2)

    def test_scale_group(self):
        self.create(sleep_app("/mc-sg/a"))
        self.create(sleep_app("/mc-sg/b", instances=2))
        self.settled("/mc-sg/a", 1)
        self.settled("/mc-sg/b", 2)
        self.assert_deployment(self.call("scale_group", "mc-sg", 2), "scale_group")
        self.settled("/mc-sg/a", 2)
        self.settled("/mc-sg/b", 4)

    def test_rollback_group(self):
        self.create(sleep_app("/mc-rg/a", cmd="sleep 1000"))
        self.settled("/mc-rg/a", 1)
        status, group = self.api("GET", "/v2/groups/mc-rg")
        # Without groups, the app's version is the nearest thing to the group's.
        first = group["version"] if status == 200 else self.app("/mc-rg/a")["version"]
        self.api("PUT", "/v2/apps/mc-rg/a", {"cmd": "sleep 5000"}, expect=200)
        self.settled("/mc-rg/a", 1)
        self.assert_deployment(self.call("rollback_group", "mc-rg", first), "rollback_group")
        self.wait_for("the old cmd", lambda: self.app("/mc-rg/a")["cmd"] == "sleep 1000")

    def test_delete_group(self):
        self.create(sleep_app("/mc-dg/a"))
        self.create(sleep_app("/mc-dg/b"))
        self.settled("/mc-dg/a", 1)  # the client does not force: a deployment would lock them
        self.settled("/mc-dg/b", 1)
        answer = self.call("delete_group", "mc-dg")
        self.assertTrue(answer.get("version"), "no version in %r" % answer)
        for app_id in ("/mc-dg/a", "/mc-dg/b"):
            self.wait_for(app_id + " to go", lambda: self.app(app_id) is None)

    # ---- events
    def stream(self, **kwargs):
        """A thread reading mc.event_stream(**kwargs) into a queue (an exception ends it). The
        thread is a daemon: a stream that never ends cannot hold the suite."""
        events = queue.Queue()

        def read():
            try:
                for event in self.mc.event_stream(**kwargs):
                    events.put(event)
            except Exception as e:  # noqa: BLE001 -- handed to the case
                events.put(e)
        threading.Thread(target=read, daemon=True).start()
        return events

    def next_events(self, events, until, timeout=40, witness=None):
        """Events from the queue until `until(event)` holds; fails on the client's exception,
        showing what a raw stream (`witness`, from event_stream(raw=True)) got meanwhile."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(event, Exception):
                raw = []
                while witness is not None and not witness.empty():
                    raw.append(witness.get())
                raise self.failureException(
                    diagnose("event_stream", event, []) +
                    "\nafter the events %s" % [getattr(e, "event_type", e) for e in seen][-10:] +
                    "".join("\nraw stream: " + str(r).strip()[:400] for r in raw[-6:])) from None
            seen.append(event)
            if until(event):
                return seen
        self.fail("no such event in %d s; got %s\n%s" % (
            timeout, [getattr(e, "event_type", e) for e in seen][-20:], self.sent(1)))

    def test_event_stream(self):
        with self.subTest("every event, as objects"):
            events, witness = self.stream(), self.stream(raw=True)
            self.next_events(events, lambda e: e.event_type == "event_stream_attached", 10)
            self.next_events(witness, lambda e: '"event_stream_attached"' in e, 10)
            self.create(sleep_app("/mc-events"))
            seen = self.next_events(events, lambda e: (
                e.event_type == "status_update_event" and e.app_id == "/mc-events"
                and e.task_status == "TASK_RUNNING"), witness=witness)
            self.assertTrue(all(isinstance(e, MarathonEvent) for e in seen))
            self.assertIn("api_post_event", [e.event_type for e in seen])
            running = seen[-1]
            self.assertTrue(running.host)
            self.assertTrue(running.ports)
            self.assertTrue(running.task_id)
        with self.subTest("filtered by type"):
            self.settled("/mc-events", 1)
            wanted = {"event_stream_attached", "deployment_success"}
            events = self.stream(event_types=sorted(wanted))
            self.next_events(events, lambda e: e.event_type == "event_stream_attached", 10)
            answer = self.api("PUT", "/v2/apps/mc-events", {"instances": 2}, expect=200)[1]
            seen = self.next_events(events, lambda e: (e.event_type == "deployment_success"
                                                       and e.id == answer["deploymentId"]))
            self.assertLessEqual({e.event_type for e in seen}, wanted)
        with self.subTest("raw"):
            events = self.stream(raw=True)
            self.next_events(events, lambda e: '"event_stream_attached"' in e, 10)
            self.api("PUT", "/v2/apps/mc-events", {"instances": 1}, expect=200)
            seen = self.next_events(events, lambda e: json.loads(e)["eventType"] == "deployment_info")
            self.assertTrue(all(isinstance(e, str) for e in seen))

    # ---- event subscriptions (HTTP callbacks: removed in Marathon 1.5)
    def test_event_subscriptions(self):
        url = "http://127.0.0.1:9/mclient-callback"
        with self.subTest("create_event_subscription"):
            answer = self.call("create_event_subscription", url)
            self.assertEqual(answer.get("callbackUrl"), url)
        with self.subTest("list_event_subscriptions"):
            self.assertIn(url, self.call("list_event_subscriptions"))
        with self.subTest("delete_event_subscription"):
            answer = self.call("delete_event_subscription", url)
            self.assertEqual(answer.get("callbackUrl"), url)

    # ---- authentication the client's other way
    def test_auth_token(self):
        """MarathonClient(auth_token=...) sends `Authorization: token=<token>` (DC/OS's scheme)
        on every request but the event stream's, which carries Basic credentials only: so
        Basic, as the other cases use, is the one mechanism of the client that covers all."""
        client, wire = self.make_client(self.cluster.url, auth_token=self.cluster.token)
        try:
            leader = client.get_leader()
        except MarathonHttpError as e:
            raise self.failureException(
                diagnose("get_leader, with auth_token=", e, wire.log[-1:])) from None
        self.assertEqual(leader, {"leader": "127.0.0.1:%d" % self.cluster.port})


class HaLeaderTest(ClientCase):
    """DELETE /v2/leader where there is a standby: `berth up --masters 3` on etcd."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = BerthUp(masters=3, agents=1)
        client, cls.wire = cls.make_client(cls.cluster.urls, username="berth",
                                           password=cls.cluster.token)
        cls.mc = Recorder(client)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def leader(self):
        for url in self.cluster.urls:
            try:
                status, body = self.cluster.api("GET", "/v2/leader", url=url, timeout=2)
            except requests.RequestException:
                continue
            if status == 200 and body.get("leader"):
                return body["leader"]
        return None

    def test_delete_leader(self):
        before = self.wait_for("a leader", self.leader)
        self.assertIn(before, [u[len("http://"):] for u in self.cluster.urls])
        self.assertEqual(self.call("get_leader"), {"leader": before})
        self.assertEqual(self.call("delete_leader"), {"message": "Leadership abdicated"})
        after = self.wait_for("a leader again", self.leader, timeout=60)
        self.assertIn(after, [u[len("http://"):] for u in self.cluster.urls])


class CoverageTest(unittest.TestCase):
    """Runs last: every public method of MarathonClient was called by some case."""

    def test_every_public_method_called(self):
        public = {name for name, _ in inspect.getmembers(MarathonClient, inspect.isfunction)
                  if not name.startswith("_")}
        missing = sorted(public - CALLED)
        self.assertFalse(missing, "public MarathonClient methods no case called: %s" % missing)


def main():
    global BERTH
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    BERTH = os.path.abspath(sys.argv[1])
    names = sys.argv[2:]
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names, sys.modules[__name__])
    else:
        suite = unittest.TestSuite([loader.loadTestsFromTestCase(MarathonClientTest),
                                    loader.loadTestsFromTestCase(HaLeaderTest),
                                    loader.loadTestsFromTestCase(CoverageTest)])
    public = sorted(n for n, _ in inspect.getmembers(MarathonClient, inspect.isfunction)
                    if not n.startswith("_"))
    print("MarathonClient's public methods (%d): %s" % (len(public), ", ".join(public)), flush=True)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
