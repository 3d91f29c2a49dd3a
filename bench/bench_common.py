"""What the benchmarks that start their own master share (api_scale.py, fleet_scale.py)."""
import os
import shutil
import signal
import socket
import subprocess


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """/proc/PID/status as {field: value}."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def find_sim(berth, given=None):
    """berth-bench-sim-agents: `given`, else next to berth or in the build's bench/."""
    if given:
        return given
    for candidate in (os.path.join(os.path.dirname(berth), "berth-bench-sim-agents"),
                      os.path.join(os.path.dirname(berth), "..", "bench",
                                   "berth-bench-sim-agents")):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def stop(procs, timeout=30):
    """SIGTERM to every process still running, then waits; SIGKILL past `timeout`."""
    procs = [p for p in procs if p]
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def finish(work, failed, no_check):
    """Removes `work` (kept with KEEP=1), prints the verdict and returns the exit status."""
    if os.environ.get("KEEP"):
        print("kept: " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed and not no_check:
        print("FAILED: " + ", ".join(failed))
        return 1
    print("passed" if not failed else "over target (not checked): " + ", ".join(failed))
    return 0
