"""What the HA master benchmarks share: a `berth up --masters 3` cluster on loopback, the
Marathon API with the admin token, and SIGKILL + restart of its masters and agents.

`berth up` does not restart a child that dies, so `Proc.restart()` starts a killed master or
agent again exactly as it was: the argv of /proc/PID/cmdline, the environment of
/proc/PID/environ, the same working directory, output appended to <data-dir>/logs/NAME.log.
`Cluster.stop()` stops what the bench restarted and `berth up` (SIGINT) and checks that no
process of the cluster is left. Python 3 standard library only.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time

now = time.monotonic


def percentile(values, p):
    """The value at rank round(p * (n - 1)) of the sorted values, as `berth demo` computes it."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def summary(values):
    return "p50 %.2f s   p99 %.2f s   max %.2f s   (n=%d)" % (
        percentile(values, 0.5), percentile(values, 0.99), max(values) if values else float("nan"),
        len(values))


def history_report(things, listed_by, acknowledged, present, uncertain):
    """Prints the history check: every acknowledged write must be listed. True when none is missing."""
    missing = [x for x in acknowledged if x not in present]
    extra = [x for x in uncertain if x in present]
    print("history: %d %s acknowledged with 201, %d listed by %s, %d missing%s; "
          "%d attempts without an answer, %d of them exist" % (
              len(acknowledged), things, len(present), listed_by, len(missing),
              (" (" + ", ".join(missing) + ")") if missing else "", len(uncertain), len(extra)))
    return not missing


def request(port, method, path, body=None, token=None, timeout=1.0):
    """(status, parsed JSON or text) of one request on a fresh connection; (None, error) when
    the request could not be made or timed out."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body) if not isinstance(body, (bytes, str)) else body
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def proc_list(pid, what):
    with open("/proc/%d/%s" % (pid, what), "rb") as f:
        return [x.decode(errors="surrogateescape") for x in f.read().split(b"\0") if x]


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


class Proc:
    """A master or agent process of the cluster, captured so that it can be started again."""

    def __init__(self, pid, name, log):
        self.pid, self.name, self.log = pid, name, log
        self.argv = proc_list(pid, "cmdline")
        env = proc_list(pid, "environ")
        self.env = dict(e.split("=", 1) for e in env if "=" in e)
        self.cwd = os.readlink("/proc/%d/cwd" % pid)
        self.popen = None  # set once the bench started it

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def restart(self):
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.argv, executable=self.argv[0], env=self.env,
                                          cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.popen.pid
        return self


def arg_after(argv, flag):
    for i in range(len(argv) - 1):
        if argv[i] == flag:
            return argv[i + 1]
    return None


class Cluster:
    def __init__(self, berth, port, data_dir, agents=3, masters=3, env=None):
        self.berth = os.path.abspath(berth)
        self.port, self.data_dir, self.agents, self.masters = port, data_dir, agents, masters
        self.master_ports = [port + i for i in range(masters)]
        self.restarted = {}  # name -> Proc started by the bench
        os.makedirs(data_dir, exist_ok=True)
        token_file = os.path.join(data_dir, "admin-token")
        if not os.path.exists(token_file):
            old = os.umask(0o077)
            with open(token_file, "w") as f:
                f.write("admin." + os.urandom(24).hex() + "\n")
            os.umask(old)
        self.token = open(token_file).read().strip()
        self.up_log = open(os.path.join(data_dir, "up.out"), "ab")
        argv = [self.berth, "up", "--agents", str(agents), "--port", str(port), "--data-dir",
                data_dir]
        if masters > 1:
            argv[2:2] = ["--masters", str(masters)]
        self.up = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.up_log,
                                   stderr=subprocess.STDOUT, env=env or os.environ.copy())
        deadline = now() + 90
        while now() < deadline:
            if b"berth is up" in open(os.path.join(data_dir, "up.out"), "rb").read():
                break
            if self.up.poll() is not None:
                raise SystemExit("berth up exited:\n" + open(os.path.join(data_dir, "up.out")).read())
            time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit("berth up did not come up in 90 s")

    def api(self, port, method, path, body=None, timeout=2.0):
        return request(port, method, path, body, self.token, timeout)

    def leader_port(self, via=None, timeout=0.5):
        """The leader's port as some master names it (tries `via` first), else None."""
        for p in ([via] if via else []) + self.master_ports:
            st, body = self.api(p, "GET", "/v2/leader", timeout=timeout)
            if st == 200 and isinstance(body, dict) and body.get("leader"):
                return int(body["leader"].rsplit(":", 1)[1])
        return None

    def _is_ours(self, argv):
        return any(a.startswith(self.data_dir.rstrip("/") + "/") for a in argv)

    def master_proc(self, port):
        for pid in all_pids():
            try:
                argv = proc_list(pid, "cmdline")
            except OSError:
                continue
            if (len(argv) > 1 and argv[1] == "master" and arg_after(argv, "--port") == str(port)
                    and arg_after(argv, "--host") == "127.0.0.1" and self._is_ours(argv)):
                n = port - self.port + 1
                return Proc(pid, "master-%d" % n,
                            os.path.join(self.data_dir, "logs", "master-%d.log" % n))
        return None

    def agent_proc(self, hostname):
        for pid in all_pids():
            try:
                argv = proc_list(pid, "cmdline")
            except OSError:
                continue
            if (len(argv) > 1 and argv[1] == "agent" and arg_after(argv, "--hostname") == hostname
                    and self._is_ours(argv)):
                return Proc(pid, hostname, os.path.join(self.data_dir, "logs", hostname + ".log"))
        return None

    def kill_tasks_under(self, sandboxes):
        """SIGKILLs every process whose MESOS_SANDBOX lies under `sandboxes` (a node's tasks and
        their supervisors), as `berth demo` does when it kills a node. How many."""
        prefix = sandboxes.rstrip("/") + "/"
        killed = 0
        for pid in all_pids():
            try:
                env = proc_list(pid, "environ")
            except OSError:
                continue
            for e in env:
                if e.startswith("MESOS_SANDBOX=") and e[len("MESOS_SANDBOX="):].startswith(prefix):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed += 1
                    except OSError:
                        pass
                    break
        return killed

    def restart(self, proc):
        proc.restart()
        self.restarted[proc.name] = proc

    def wait_master_back(self, port, timeout=30):
        """Until the master on `port` answers /ping and GET /v2/leader with 200."""
        deadline = now() + timeout
        while now() < deadline:
            st, _ = request(port, "GET", "/ping", timeout=0.5)
            if st == 200:
                st, body = self.api(port, "GET", "/v2/leader", timeout=0.5)
                if st == 200:
                    return True
            time.sleep(0.05)
        return False

    def processes(self):
        """(pid, argv) of every process still running with an argument under the data dir."""
        found = []
        for pid in all_pids():
            try:
                argv = proc_list(pid, "cmdline")
            except OSError:
                continue
            if pid != os.getpid() and self._is_ours(argv):
                found.append((pid, argv))
        return found

    def stop(self):
        """Stops the masters and agents the bench restarted (SIGTERM), then `berth up` (SIGINT:
        its agents, its masters, then etcd); says what, if anything, is left."""
        for proc in self.restarted.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.terminate()
                try:
                    proc.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait()
        if self.up.poll() is None:
            self.up.send_signal(signal.SIGINT)
            try:
                self.up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                print("berth up did not stop in 90 s; SIGKILL", file=sys.stderr)
                self.up.kill()
                self.up.wait()
        left = self.processes()
        for pid, argv in left:
            print("left running: %d %s" % (pid, " ".join(argv)), file=sys.stderr)
        return not left


def load():
    return open("/proc/loadavg").read().split()[:3]
