"""Sweeps shared by several workers in a real PostgreSQL server started by the test, and the
faults of issue 30: a worker killed on "another machine" (its own UTS namespace, another
hostname), a worker in its own PID namespace with the same hostname, the database server
stopped mid-trial, and a password that must appear in no output and no file.

Short liveness settings keep the tests quick: ``--heartbeat 1 --grace-period 3`` (a running
trial without a heartbeat for 3 s is failed and its parameters run again)."""

import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sweep_processes import start_and_stop_mid_trial, wait_for_epoch
from sweep_processes import sweep_cmd as _sweep_cmd
from sweep_processes import sweep_env as _env

# Each case starts processes (and most a PostgreSQL server): 20-30 s apiece.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Trials that never end on their own, and trials that train for exactly 3 s: a signal or a
# kill lands mid-trial.
ENDLESS = ["adding", "--seq-len", "6", "--train-size", "96", "--test-size", "32",
           "--epochs", "100000", "--patience", "100000", "--no-plot", "--pruner", "none"]
TIMED = [*ENDLESS, "--time-limit", "3", "--heartbeat", "1", "--grace-period", "3"]


def _start(cmd):
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc, timeout=120):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def _trials(storage, study):
    from minirnn.apps.sweeps.study import load_study

    return load_study(study, storage).get_trials()


def _unshare(*flags):
    """The ``unshare`` command with ``flags`` if this machine lets us use it, else skip."""
    tool = shutil.which("unshare")
    if tool is None:
        pytest.skip("no unshare (util-linux) on this machine")
    probe = subprocess.run([tool, *flags, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"unshare {' '.join(flags)} is not permitted here: {probe.stderr!r}")
    return [tool, *flags]


# ------------------------------------------------------------------- a PostgreSQL server
def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_user(name):
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class _Server:
    """A throw-away PostgreSQL server (password authentication over TCP) that a test can stop
    and start again."""

    def __init__(self, bindir, folder, prefix, port, password):
        self.bindir, self.folder, self.prefix, self.port = bindir, folder, prefix, port
        self.password = password
        self.url = f"postgresql://minirnn:{password}@127.0.0.1:{port}/postgres"

    def _ctl(self, *args, check=True):
        return subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D",
                               str(self.folder / "data"), *args], check=check,
                              capture_output=True, text=True, timeout=120)

    def start(self):
        self._ctl("-l", str(self.folder / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def stop(self, mode="fast"):
        self._ctl("-m", mode, "-w", "stop", check=False)


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server in a temporary folder on a free port; the user
    ``minirnn`` logs in over TCP with a random password (``.url`` holds it)."""
    pytest.importorskip("optuna")
    pytest.importorskip("psycopg2", reason="PostgreSQL storage needs psycopg2-binary")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
    folder = Path(tempfile.mkdtemp(prefix="minirnn-pg-"))
    prefix: list[str] = []
    password = "pw" + secrets.token_hex(8)
    (folder / "pw").write_text(password + "\n")
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        import pwd

        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None:
            pytest.skip("running as root and no unprivileged user (postgres, nobody) exists")
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start PostgreSQL as another user")
        entry = pwd.getpwnam(user)
        for path in (folder, folder / "pw"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(folder, 0o700)
        prefix = ["runuser", "-u", user, "--"]
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(folder / "data"), "-U",
                    "minirnn", f"--pwfile={folder / 'pw'}", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8"],
                   check=True, capture_output=True, text=True, timeout=120)
    server = _Server(bindir, folder, prefix, _free_port(), password)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def _no_password_anywhere(password, texts, folders):
    """The password is in none of ``texts`` and in no file under ``folders``."""
    for text in texts:
        assert password not in text
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path


# -------------------------------------------------------------------------------- tests
def test_two_workers_share_a_postgresql_study_and_the_password_appears_nowhere(
        tmp_path, postgres):
    args = ["adding", "--seq-len", "8", "--train-size", "256", "--test-size", "32",
            "--epochs", "3", "--pruner", "none", "--no-plot", "--trials", "6",
            "--storage", postgres.url, "--study", "shared"]
    procs = [_start(_sweep_cmd(*args, "--output", str(tmp_path / f"w{i}"))) for i in range(2)]
    outputs = [_finish(p, timeout=300) for p in procs]
    for code, _, err in outputs:
        assert code == 0, err
    ran = [set(map(int, re.findall(r"^trial (\d+) \[", o, re.M))) for _, o, _ in outputs]
    trials = _trials(postgres.url, "shared")
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # no number twice, none missing
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 6  # exactly the target, even when both checked at once
    assert all(t.user_attrs.get("surplus") for t in trials if t.state.name != "COMPLETE")
    assert ran[0] and ran[1] and not ran[0] & ran[1]  # both workers' trials landed, no overlap
    by_pid = {p.pid: r for p, r in zip(procs, ran, strict=True)}
    for t in finished:  # each trial is recorded under the process that ran it
        assert t.number in by_pid[t.user_attrs["pid"]]
    # The hint, --show, a retrain from the study, and errors: no password in any of them.
    texts = [o + e for _, o, e in outputs]
    assert "--storage 'postgresql://minirnn:***@" in texts[0]
    for extra in (["sweep", "--show", "shared", "--storage", postgres.url, "--output",
                   str(tmp_path / "show")],
                  ["train", "adding", "--from-study", "shared", "--storage", postgres.url,
                   "--output", str(tmp_path / "retrain"), "--no-plot"],
                  ["sweep", "--show", "shared", "--storage",
                   postgres.url.replace(postgres.password, "wrong" + postgres.password)]):
        done = subprocess.run([sys.executable, "-m", "minirnn", *extra], env=_env(),
                              capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stdout + done.stderr
        texts.append(done.stdout + done.stderr)
        assert done.returncode == (2 if "wrong" in extra[-1] else 0), done.stderr
    assert "cannot open storage postgresql://minirnn:***@" in texts[-1]
    _no_password_anywhere(postgres.password, texts, [tmp_path])


def test_a_worker_killed_on_another_machine_has_its_trial_rerun(tmp_path, postgres):
    """kill -9 of a worker on "another machine" (its own UTS namespace, another hostname)
    mid-trial: the next command fails that trial once its heartbeat is older than the grace
    period, runs its parameters again, and the study ends with exactly --trials finished."""
    other = _unshare("--uts")
    args = [*TIMED, "--trials", "2", "--storage", postgres.url, "--study", "kill"]
    far = _start([*other, "sh", "-c", 'hostname other-machine && exec "$@"', "sh",
                  *_sweep_cmd(*args, "--output", str(tmp_path / "far"))])
    wait_for_epoch(tmp_path / "far", procs=[far])
    far.send_signal(signal.SIGKILL)  # `sh` exec'd the worker: this is its process
    assert _finish(far)[0] == -signal.SIGKILL
    (lost,) = _trials(postgres.url, "kill")
    assert lost.state.name == "RUNNING" and lost.user_attrs["host"] == "other-machine"
    code, out, err = _finish(_start(_sweep_cmd(*args, "--output", str(tmp_path / "here"))))
    assert code == 0, err
    assert "Traceback" not in out + err
    assert f"trial {lost.number}: no heartbeat for more than 3 s" in out
    trials = _trials(postgres.url, "kill")
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 2 and states.count("FAIL") == 1, states
    assert "RUNNING" not in states
    rerun = [t for t in trials if t.system_attrs.get("failed_trial") == lost.number]
    assert len(rerun) == 1 and rerun[0].params == lost.params
    assert rerun[0].state.name == "COMPLETE" and rerun[0].user_attrs["host"] == \
        socket.gethostname()
    _no_password_anywhere(postgres.password, [out, err], [tmp_path])


def test_a_worker_in_another_pid_namespace_keeps_its_live_trial(tmp_path, postgres):
    """Two machines with the same hostname (a worker in its own PID namespace, whose process
    ids mean nothing here) running trials at the same time: neither fails the other's live
    trial (liveness is the heartbeat alone), both finish."""
    pid_ns = _unshare("--pid", "--fork")
    args = [*TIMED, "--time-limit", "6", "--trials", "2", "--storage", postgres.url,
            "--study", "twins"]
    boxed = _start([*pid_ns, *_sweep_cmd(*args, "--output", str(tmp_path / "boxed"))])
    local = _start(_sweep_cmd(*args, "--output", str(tmp_path / "local")))
    results = [_finish(p) for p in (boxed, local)]
    for code, out, err in results:
        assert code == 0, err
        assert "Traceback" not in out + err and "no heartbeat" not in out
    trials = _trials(postgres.url, "twins")
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert {t.user_attrs["host"] for t in trials} == {socket.gethostname()}
    pids = {t.user_attrs["pid"] for t in trials}
    assert local.pid in pids and boxed.pid not in pids  # one id from inside the namespace
    first, second = sorted(trials, key=lambda t: t.datetime_start)
    assert second.datetime_start < first.datetime_complete  # they ran side by side


def test_the_database_stopped_mid_trial_then_a_rerun_completes(tmp_path, postgres):
    """The server stopped mid-trial (``pg_ctl stop -m fast``). Back within the grace period:
    the worker's retries reach it and the trial goes on. Gone for longer: the worker gives
    up with one line naming the storage (password masked), exit 1, no traceback. Once the
    server is back the same command fails the stranded trial (no heartbeat), runs its
    parameters again and completes the study."""
    args = [*TIMED, "--grace-period", "6", "--trials", "2", "--storage", postgres.url,
            "--study", "outage"]
    first = _start(_sweep_cmd(*args, "--output", str(tmp_path / "a")))
    wait_for_epoch(tmp_path / "a", procs=[first])
    postgres.stop("fast")  # a short outage: the server is back within the grace period
    postgres.start()
    wait_for_epoch(tmp_path / "a", count=2, procs=[first])
    postgres.stop("fast")  # a long one: the worker gives up
    code, out, err = _finish(first)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out + err
    assert lines[0].startswith("minirnn: error: storage postgresql://minirnn:***@127.0.0.1")
    assert "stopped answering" in lines[0] and "run the same command again" in lines[0]
    assert "is not answering" in out and "retrying for up to 6 s" in out, (out, err)
    assert re.search(r"^trial 0 \[worker 0\]: val_loss", out, re.M)  # survived the first
    postgres.start()
    survived, stranded = _trials(postgres.url, "outage")
    assert survived.state.name == "COMPLETE" and stranded.state.name == "RUNNING"
    code, out2, err2 = _finish(_start(_sweep_cmd(*args, "--output", str(tmp_path / "b"))))
    assert code == 0, err2
    assert "Traceback" not in out2 + err2
    trials = _trials(postgres.url, "outage")
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].params == stranded.params
    _no_password_anywhere(postgres.password, [out, err, out2, err2], [tmp_path])


def test_ctrl_c_stops_every_worker(tmp_path):
    """Ctrl-C from a terminal reaches the command and its workers; a signal sent to the
    command alone (SIGTERM, as ``timeout`` sends) is passed on. Either way every worker
    stops at once, each running trial is recorded as failed, and the command prints one
    line."""
    pytest.importorskip("optuna")
    for number, (sig, group, status) in enumerate([(signal.SIGINT, True, 130),
                                                   (signal.SIGTERM, False, 143)]):
        out = tmp_path / f"sw{number}"
        args = [*ENDLESS, "--output", str(out), "--study", "c", "--trials", "4", "--n-jobs",
                "2"]
        code, stdout, stderr, pid = start_and_stop_mid_trial(args, out, sig, group=group,
                                                             count=2)
        assert code == status, stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert "Traceback" not in stdout + stderr
        trials = _trials(f"sqlite:///{out / 'study.db'}", "c")  # SQLite: no server needed
        assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
        assert all("interrupted" in t.user_attrs["error"] for t in trials)
        if group:  # no worker is left behind (bounded wait for their exit)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    os.killpg(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("a process of the sweep outlived it")


def test_a_stop_signal_inside_the_connection_pool_prints_no_traceback():
    """The stop signal's KeyboardInterrupt can land in SQLAlchemy's pool reset, which logs it
    with a traceback (seen once in CI: 16 lines where the command prints one); other pool
    errors still print."""
    import contextlib
    import io
    import logging

    from minirnn.apps.sweeps import study

    study._quiet_pool_on_stop()
    study._quiet_pool_on_stop()  # once only
    pool = logging.getLogger("sqlalchemy.pool")
    assert sum(isinstance(h, study._PoolStderr) for h in pool.handlers) == 1
    assert not pool.propagate
    stream = io.StringIO()
    child = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    with contextlib.redirect_stderr(stream):  # written to the stderr of the moment
        for exc in (KeyboardInterrupt(), ValueError("bad connection")):
            try:
                raise exc
            except BaseException:
                child.error("Exception during reset or similar", exc_info=True)
    text = stream.getvalue()
    assert "KeyboardInterrupt" not in text
    assert text.count("Exception during reset or similar") == 1 and "bad connection" in text
