#!/usr/bin/env python3
"""bitops benchmarks: generates its inputs, measures side by side in one run, and
prints a Markdown table of medians and ratios. Not part of the test suite.

    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$(uname -m)-unknown-linux-gnu"
    python3 bench/run.py [--runs 7] [--only P1,P3] [--compare OLD] [--bitops PATH]

It measures the binary we ship (the Docker image's): the static one that command builds,
`target/ARCH-unknown-linux-gnu/release/bitops`; without it, `target/release/bitops` (a
plain `cargo build --release`, linked against the system's shared C library), and says so.
--bitops PATH measures another.

--compare OLD also runs P1, P3, P5, P6, P8 and P9 with the binary OLD (say, a build of the previous
commit), interleaved run by run with the current one, and reports both side by side.

P1  orchestration overhead: 4 deployments x (2 hooks + a no-op plugin), bitops versus a
    plain bash script running the same scripts in the same order.     target <= 1.15x
P1i the same deploy under `valgrind --tool=callgrind` (children not traced: only bitops'
    own instructions), total Ir / 12 child processes, versus callgrind of `bash noop.sh`
    (a script holding `true`). Deterministic, unlike P1's wall time on a busy machine.
    --only P1I; skipped, with a message, without valgrind.              target <= 25%
P2  large-repo start-up: 50 environments x 40 MB + the chosen 5 MB environment, versus a
    repo holding only that environment; time until the first hook starts. target <= 1.5x
P3  output path: a plugin prints 200 MB of mixed-length lines through 10 masks, bitops'
    stdout to a file. targets: >= 400 MB/s dense, >= 1 GB/s sparse, peak RSS <= 16 MB
P4  footprint: peak RSS of bitops during P1 (target <= 10 MB), release binary size.
P5  parallel steps: 8 independent deployments (depends_on: []) whose plugin sleeps 1 s,
    deploy --parallel 4, wall time (ideal 2 s).                        target <= 2.2 s
    --parallel 1 (ideal 8 s) and --parallel 8 (ideal 1 s) are reported alongside.
P6  a 200-step graph, random edges (seeded; each step depends on 0-3 earlier ones):
    P6a bitops plan wall time.                                         target <= 50 ms
    P6b scheduling overhead: deploy with a no-op plugin (`:`), --parallel 1, against a
    bash script running the same 200 scripts in order: (bitops - bash) / 200.
                                                                 target <= 0.5 ms/step
    --parallel 4, and --parallel 1 with TMPDIR on tmpfs (/dev/shm), are reported alongside.

P7  hub under load: one `bitops hub serve` on SQLite, 200 simulated agents (threads with
    a kept-alive connection each) polling every second for 60 s (--hub-seconds): p50 and
    p99 poll latency, errors, and the hub's peak RSS.                           reported

P8  scale: 1,000 deployments, each a before-hook, an after-hook and a no-op plugin (`true`):
    P8a bitops plan wall time.                                        target <= 100 ms
    P8b deploy against a bash script running the same 3,000 scripts with bash, in order,
    each from its tool folder (as P1's floor).                        target <= 1.2x
    Also with TMPDIR on tmpfs (/dev/shm), where the workspace is staged, as in P6b.
P9  10,000 hooks in one folder: bitops plan of one deployment whose before-hook folder
    holds 10,000 scripts, minus the plan of the same repo with the folder empty; the
    difference is what listing (and showing) the hooks costs.         target <= 50 ms

P5 and P6 need depends_on and --parallel; --compare skips them, with a message, for an
older binary without them.
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIC = os.path.join(ROOT, "target", f"{os.uname().machine}-unknown-linux-gnu", "release", "bitops")
BITOPS = STATIC if os.path.exists(STATIC) else os.path.join(ROOT, "target", "release", "bitops")
SCHEMA = "noop:\n  type: object\n  properties:\n    cli:\n      type: object\n      properties:\n        stack-action: {type: string, default: plan}\n"


def write(path, text, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mode:
        os.chmod(path, mode)


def peak_rss_kb(pid, result, stop):
    """Samples VmHWM (the process's own high-water mark) until it exits."""
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        result[0] = max(result[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.002)


def timed(argv, env=None, cwd=None, stdout=subprocess.DEVNULL, rss=False):
    """Wall time in seconds, and the peak RSS in KiB of the process itself."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.DEVNULL)
    peak, stop = [0], threading.Event()
    t = None
    if rss:
        t = threading.Thread(target=peak_rss_kb, args=(p.pid, peak, stop))
        t.start()
    code = p.wait()
    elapsed = time.perf_counter() - start
    stop.set()
    if t:
        t.join()
    if code != 0:
        sys.exit(f"{argv[0]} failed with {code}")
    return elapsed, peak[0]


def median_of(runs, fn):
    os.sync()  # what generating the inputs left to write back does not slow the runs
    fn()  # warm-up
    return statistics.median(fn() for _ in range(runs))


def medians_interleaved(runs, fns):
    """The median of each of `fns`, measured in turns (a, b, c, c, b, a, ...) after a
    warm-up of each, so that a noisy minute affects them alike."""
    # What generating the inputs (or the benchmark before) left to write back does not
    # slow the first rounds: P2's 2 GB repo made P3 dense's `cat` 2x slower.
    os.sync()
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for r in range(runs):
        # Every other round in reverse, so no command always runs right after another.
        order = list(enumerate(fns))
        for i, fn in order if r % 2 == 0 else order[::-1]:
            times[i].append(fn())
    return [statistics.median(t) for t in times]


def bench_env(base):
    env = dict(os.environ)
    env.update(HOME=base, TMPDIR=os.path.join(base, "tmp"), NO_COLOR="1")
    os.makedirs(env["TMPDIR"], exist_ok=True)
    return env


def hooks_repo(work, name, aliases, tool_file=None):
    """An environment `dev` whose deployments `aliases` each have a before-hook, an
    after-hook and a no-op plugin (`true`), and the bash floor running the same scripts
    in order, each from its tool folder. Returns the repo, plugins folder, floor script
    and environment."""
    repo, plugins = os.path.join(work, name, "repo"), os.path.join(work, name, "plugins")
    write(os.path.join(plugins, "noop", "bitops.schema.yaml"), SCHEMA)
    write(os.path.join(plugins, "noop", "deploy.sh"), "true\n")
    write(os.path.join(repo, "dev", "bitops.config.yaml"),
          "bitops:\n  deployments:\n" + "".join(f"    {a}: {{plugin: noop}}\n" for a in aliases))
    floor = ["set -e"]
    for a in aliases:
        tool = os.path.join(repo, "dev", a)
        write(os.path.join(tool, "bitops.config.yaml"), "noop: {}\n")
        if tool_file:
            write(os.path.join(tool, tool_file), "# config\n")
        for phase in ("before", "after"):
            write(os.path.join(tool, f"bitops.{phase}-deploy.d", "01.sh"), "true\n")
        floor += [f"cd {tool}", "bash bitops.before-deploy.d/01.sh",
                  f"bash {plugins}/noop/deploy.sh plan", "bash bitops.after-deploy.d/01.sh"]
    script = os.path.join(work, name, "floor.sh")
    write(script, "\n".join(floor) + "\n")
    return repo, plugins, script, bench_env(os.path.join(work, name))


def p1_inputs(work):
    """P1's repo, plugins folder, bash floor script and environment."""
    return hooks_repo(work, "p1", ["net", "db", "app", "dns"], tool_file="main.tf")


def p1_cmd(b, repo, plugins):
    return [b, "deploy", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins, "--color", "never"]


# P1's child processes: 4 deployments x (before-hook, plugin, after-hook).
P1_CHILDREN = 12


def p1(runs, work, bins):
    """4 deployments, each 2 hooks and a no-op plugin."""
    repo, plugins, script, env = p1_inputs(work)
    cmds = [p1_cmd(b, repo, plugins) for b in bins]
    fns = [lambda: timed(["bash", script], env=env)[0]] + [lambda c=c: timed(c, env=env)[0] for c in cmds]
    base, *ours = medians_interleaved(runs, fns)
    rss = max(timed(cmds[0], env=env, rss=True)[1] for _ in range(runs))
    return base, ours, rss


def callgrind_ir(argv, env, out_dir):
    """The instructions (Ir) callgrind counts in the process `argv` starts, its children
    not traced (`--trace-children=no`: each child runs natively from its exec on)."""
    os.makedirs(out_dir, exist_ok=True)
    pattern = os.path.join(out_dir, "callgrind.out.%p")
    p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={pattern}", *argv],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"valgrind {argv[0]} failed with {p.returncode}: {p.stderr[-2000:]}")
    # The pid of the traced process, as valgrind prints it on every line (==PID==); a
    # forked child writes no file of its own before its exec, but be sure to read ours.
    m = re.search(r"^==(\d+)==", p.stderr, re.M)
    path = os.path.join(out_dir, f"callgrind.out.{m.group(1)}") if m else None
    if not path or not os.path.exists(path):
        files = sorted(os.listdir(out_dir))
        sys.exit(f"callgrind wrote no profile for {argv[0]} (found {files})")
    total = None
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    shutil.rmtree(out_dir, ignore_errors=True)
    return total


def p1i(work):
    """P1's instruction count per child process, against bash running a no-op script."""
    if not shutil.which("valgrind"):
        return None
    repo, plugins, _, env = p1_inputs(work)
    noop = os.path.join(work, "p1", "noop.sh")
    write(noop, "true\n")
    out = os.path.join(work, "p1", "callgrind")
    bash = callgrind_ir(["bash", noop], env, out)
    ours = callgrind_ir(p1_cmd(BITOPS, repo, plugins), env, out)
    return bash, ours


def fill(folder, total, rng):
    """Real files (random bytes) of mixed sizes up to `total` bytes."""
    made, i = 0, 0
    while made < total:
        size = min(rng.choice([2_000, 20_000, 200_000, 1_000_000]), total - made)
        path = os.path.join(folder, f"dir{i % 20}", f"file{i}.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(size))
        made, i = made + size, i + 1


def p2(runs, work):
    rng = random.Random(7)
    big, small = os.path.join(work, "p2", "big"), os.path.join(work, "p2", "small")
    plugins = os.path.join(work, "p2", "plugins")
    write(os.path.join(plugins, "noop", "bitops.schema.yaml"), SCHEMA)
    write(os.path.join(plugins, "noop", "deploy.sh"), "true\n")
    stamp = os.path.join(work, "p2", "first-hook")
    for repo in (big, small):
        env_dir = os.path.join(repo, "chosen")
        write(os.path.join(env_dir, "bitops.config.yaml"), "bitops:\n  deployments:\n    app: {plugin: noop}\n")
        write(os.path.join(env_dir, "app", "bitops.config.yaml"), "noop: {}\n")
        write(os.path.join(env_dir, "app", "bitops.before-deploy.d", "01.sh"), f"date +%s.%N > {stamp}\n")
        fill(os.path.join(env_dir, "app", "files"), 5 * 1024 * 1024, rng)
    for i in range(50):
        fill(os.path.join(big, f"env{i:02}"), 40 * 1024 * 1024, rng)
    env = bench_env(os.path.join(work, "p2"))

    def first_hook(repo):
        start = time.time()
        timed([BITOPS, "deploy", "-e", "chosen", "--ops-repo", repo, "--plugins-dir", plugins], env=env)
        with open(stamp) as f:
            return float(f.read()) - start

    return median_of(runs, lambda: first_hook(small)), median_of(runs, lambda: first_hook(big))


def p3(runs, work, bins, dense=True):
    """dense: nearly every line holds something a mask hides; sparse: one line in ~2000."""
    rng = random.Random(3)
    work = os.path.join(work, "dense" if dense else "sparse")
    data = os.path.join(work, "p3", "output.txt")
    os.makedirs(os.path.dirname(data), exist_ok=True)
    words = ["deploy", "token=abc123", "aws_secret", "resource", "module.vpc", "ok", "changed", "password: x", "10.0.0.1", "arn:aws:iam::123456789012:role/x"]
    if not dense:
        words = ["deploy", "resource", "module.vpc", "ok", "changed", "aws_instance.web", "Plan:", "(known", "after", "apply)"]
    size = 200 * 1024 * 1024
    with open(data, "w") as f:
        written = 0
        while written < size:
            line = " ".join(rng.choice(words) for _ in range(rng.choice([1, 3, 8, 20, 60]))) + "\n"
            if not dense and rng.random() < 0.0005:
                line = "connecting with token=abc123\n"
            f.write(line)
            written += len(line)
    masks = [r"token=\w+", r"password: \S+", r"AKIA[0-9A-Z]{16}", r"arn:aws:iam::\d{12}", r"\b\d{1,3}(\.\d{1,3}){3}\b",
             r"secret_[a-z]+", r"ghp_[A-Za-z0-9]{36}", r"xox[bp]-[0-9A-Za-z-]+", r"-----BEGIN [A-Z ]+-----", r"sk_live_[0-9a-zA-Z]{24}"]
    plugins, repo = os.path.join(work, "p3", "plugins"), os.path.join(work, "p3", "repo")
    write(os.path.join(plugins, "noop", "bitops.schema.yaml"), SCHEMA)
    write(os.path.join(plugins, "noop", "deploy.sh"), f"cat {data}\n")
    write(os.path.join(repo, "dev", "bitops.config.yaml"),
          "bitops:\n  logging:\n    masks:\n" + "".join(f"      - {{search: '{m}', replace: '***'}}\n" for m in masks)
          + "  deployments:\n    app: {plugin: noop}\n")
    write(os.path.join(repo, "dev", "app", "bitops.config.yaml"), "noop: {}\n")
    env = bench_env(os.path.join(work, "p3"))
    out_path = os.path.join(work, "p3", "out.txt")
    cmds = [[b, "deploy", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins, "--color", "never"] for b in bins]

    def through(argv, rss=False):
        with open(out_path, "wb") as out:
            return timed(argv, env=env, stdout=out, rss=rss)

    fns = [lambda: through(["cat", data])[0]] + [lambda c=c: through(c)[0] for c in cmds]
    floor, *ours = medians_interleaved(runs, fns)
    rss = max(through(cmds[0], rss=True)[1] for _ in range(3))
    masked = open(out_path, "rb").read(1_000_000)
    assert b"token=abc123" not in masked, "the masks did not apply"
    return size, floor, ours, rss


def graph_repo(work, name, deps, script):
    """An environment `dev` whose deployments s000, s001, ... use a plugin running
    `script`, with `deps[i]` (indexes of earlier steps) as step i's depends_on."""
    repo, plugins = os.path.join(work, name, "repo"), os.path.join(work, name, "plugins")
    write(os.path.join(plugins, "noop", "bitops.schema.yaml"), SCHEMA)
    write(os.path.join(plugins, "noop", "deploy.sh"), script + "\n")
    aliases = [f"s{i:03}" for i in range(len(deps))]
    lines = ["bitops:", "  deployments:"]
    for alias, d in zip(aliases, deps):
        lines.append(f"    {alias}: {{plugin: noop, depends_on: [{', '.join(aliases[j] for j in d)}]}}")
        write(os.path.join(repo, "dev", alias, "bitops.config.yaml"), "noop: {}\n")
    write(os.path.join(repo, "dev", "bitops.config.yaml"), "\n".join(lines) + "\n")
    return repo, plugins, aliases


def graph_bins(bins, repo, plugins, env, name):
    """The binaries of `bins` that know depends_on and --parallel; a message for the others."""
    able = [bins[0]]
    for b in bins[1:]:
        help_text = subprocess.run([b, "deploy", "--help"], env=env, capture_output=True, text=True).stdout
        plan = subprocess.run([b, "plan", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins, "--color", "never"],
                              env=env, capture_output=True)
        if "--parallel" in help_text and plan.returncode == 0:
            able.append(b)
        else:
            print(f"{name}: not comparing {b}: it does not support depends_on/--parallel", file=sys.stderr)
    return able


def deploy_cmd(b, repo, plugins, parallel):
    return [b, "deploy", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins, "--color", "never",
            "--parallel", str(parallel)]


def p5(runs, work, bins):
    """8 independent steps sleeping 1 s each, at --parallel 1, 4 and 8.
    Returns {parallel: [median per binary]} and the binaries measured."""
    repo, plugins, _ = graph_repo(work, "p5", [[] for _ in range(8)], "sleep 1")
    env = bench_env(os.path.join(work, "p5"))
    bins = graph_bins(bins, repo, plugins, env, "P5")
    out = {}
    for n in (1, 4, 8):
        # --parallel 1 takes 8 s a run: 3 runs are enough to see it.
        fns = [lambda c=deploy_cmd(b, repo, plugins, n): timed(c, env=env)[0] for b in bins]
        out[n] = medians_interleaved(runs if n > 1 else min(runs, 3), fns)
    return out, bins


def p6_deps(count=200, seed=6):
    rng = random.Random(seed)
    return [sorted(rng.sample(range(i), min(i, rng.randint(0, 3)))) for i in range(count)]


def p6(runs, work, bins):
    """200 steps, random edges: plan time, and deploy of no-op steps against a bash floor."""
    deps = p6_deps()
    repo, plugins, aliases = graph_repo(work, "p6", deps, ":")
    env = bench_env(os.path.join(work, "p6"))
    bins = graph_bins(bins, repo, plugins, env, "P6")
    # The floor, as P1's: the same scripts with bash, in a valid order (each step's
    # dependencies come earlier in the list), from each step's folder.
    floor = ["set -e"]
    for a in aliases:
        floor += [f"cd {os.path.join(repo, 'dev', a)}", f"bash {plugins}/noop/deploy.sh plan"]
    script = os.path.join(work, "p6", "floor.sh")
    write(script, "\n".join(floor) + "\n")
    plan_fns = [lambda b=b: timed([b, "plan", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins,
                                   "--color", "never"], env=env)[0] for b in bins]
    plan = medians_interleaved(runs, plan_fns)
    fns = [lambda: timed(["bash", script], env=env)[0]]
    fns += [lambda c=deploy_cmd(b, repo, plugins, n): timed(c, env=env)[0] for n in (1, 4) for b in bins]
    # The workspace and each step's outputs/inputs files are created under TMPDIR; on
    # ext4 that costs more than the scheduling itself (see BENCHMARKS.md), so the current
    # binary is also measured with TMPDIR on tmpfs, when there is one.
    shm = tempfile.mkdtemp(prefix="bitops-bench-", dir="/dev/shm") if os.path.isdir("/dev/shm") else None
    if shm:
        env_shm = dict(env, TMPDIR=shm)
        fns.append(lambda c=deploy_cmd(bins[0], repo, plugins, 1): timed(c, env=env_shm)[0])
    try:
        base, *rest = medians_interleaved(runs, fns)
    finally:
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    k = len(bins)
    edges = sum(len(d) for d in deps)
    return len(deps), edges, plan, base, {1: rest[:k], 4: rest[k:2 * k]}, rest[2 * k] if shm else None, bins


def p8(runs, work, bins, count=1000):
    """`count` deployments, each a before-hook, an after-hook and a no-op plugin, no
    depends_on (the listed order): plan time, and deploy against the bash floor."""
    repo, plugins, script, env = hooks_repo(work, "p8", [f"d{i:04}" for i in range(count)])
    plan_fns = [lambda b=b: timed([b, "plan", "-e", "dev", "--ops-repo", repo, "--plugins-dir", plugins,
                                   "--color", "never"], env=env)[0] for b in bins]
    plan = medians_interleaved(runs, plan_fns)
    cmds = [p1_cmd(b, repo, plugins) for b in bins]
    fns = [lambda: timed(["bash", script], env=env)[0]] + [lambda c=c: timed(c, env=env)[0] for c in cmds]
    # As in P6: the workspace (one folder and the files of each tool folder) is created
    # under TMPDIR, so the current binary is also measured with TMPDIR on tmpfs.
    shm = tempfile.mkdtemp(prefix="bitops-bench-", dir="/dev/shm") if os.path.isdir("/dev/shm") else None
    if shm:
        env_shm = dict(env, TMPDIR=shm)
        fns.append(lambda c=cmds[0]: timed(c, env=env_shm)[0])
    try:
        base, *ours = medians_interleaved(runs, fns)
    finally:
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    tmpfs = ours.pop() if shm else None
    return count, plan, base, ours, tmpfs


def p9(runs, work, bins, count=10_000):
    """One deployment whose before-hook folder holds `count` scripts, against the same
    repo with the folder empty: `bitops plan` (which lists every hook) of each."""
    plugins = os.path.join(work, "p9", "plugins")
    write(os.path.join(plugins, "noop", "bitops.schema.yaml"), SCHEMA)
    write(os.path.join(plugins, "noop", "deploy.sh"), "true\n")
    repos = []
    for name, n in (("empty", 0), ("full", count)):
        repo = os.path.join(work, "p9", name)
        write(os.path.join(repo, "dev", "bitops.config.yaml"), "bitops:\n  deployments:\n    app: {plugin: noop}\n")
        write(os.path.join(repo, "dev", "app", "bitops.config.yaml"), "noop: {}\n")
        hooks = os.path.join(repo, "dev", "app", "bitops.before-deploy.d")
        os.makedirs(hooks, exist_ok=True)
        for i in range(n):
            with open(os.path.join(hooks, f"{i:05}.sh"), "w") as f:
                f.write("true\n")
        repos.append(repo)
    env = bench_env(os.path.join(work, "p9"))
    fns = [lambda b=b, r=r: timed([b, "plan", "-e", "dev", "--ops-repo", r, "--plugins-dir", plugins,
                                   "--color", "never"], env=env)[0] for b in bins for r in repos]
    times = medians_interleaved(runs, fns)
    return count, [(times[2 * i], times[2 * i + 1]) for i in range(len(bins))]


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p7(work, agents=200, seconds=60):
    """200 agents polling one hub (SQLite) every second."""
    import http.client
    import json
    import urllib.request
    base = os.path.join(work, "p7")
    os.makedirs(base, exist_ok=True)
    port = free_port()
    env = bench_env(base)
    env.update(BITOPS_HUB_ADMIN_TOKEN="admin-token-0123456789abcdef", BITOPS_HUB_JOIN_TOKEN="join-token-0123456789abcdef")
    hub = subprocess.Popen([BITOPS, "hub", "serve", "--listen", f"127.0.0.1:{port}", "--state-dir", os.path.join(base, "hub"),
                            "--lost-after", "60s"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or hub.poll() is not None:
                    sys.exit("P7: the hub did not start")
                time.sleep(0.05)

        def call(conn, path, body, token):
            conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            return r.status, data

        tokens = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(agents):
            status, data = call(conn, "/api/v1/agents/register",
                                {"name": f"agent-{i:03}", "labels": {"n": str(i % 10)}, "metadata": {}, "version": "bench"},
                                env["BITOPS_HUB_JOIN_TOKEN"])
            if status != 200:
                sys.exit(f"P7: register answered {status}: {data[:200]!r}")
            tokens.append(json.loads(data)["token"])
        conn.close()
        latencies, errors, lock = [], [0], threading.Lock()
        start = time.time()

        def agent(i):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            tick = start + (i / agents)  # spread over the second, as real agents drift apart
            while tick < start + seconds:
                time.sleep(max(0.0, tick - time.time()))
                t0 = time.perf_counter()
                try:
                    status, _ = call(c, "/api/v1/agent/poll", {"busy": False, "revision": None}, tokens[i])
                    ok = status == 200
                except OSError:
                    ok = False
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                took = time.perf_counter() - t0
                with lock:
                    if ok:
                        latencies.append(took)
                    else:
                        errors[0] += 1
                tick += 1.0
            c.close()

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
        peak, stop = [0], threading.Event()
        sampler = threading.Thread(target=peak_rss_kb, args=(hub.pid, peak, stop))
        sampler.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        sampler.join()
    finally:
        hub.terminate()
        hub.wait(timeout=20)
    latencies.sort()
    q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))]
    return len(latencies), errors[0], q(0.50), q(0.99), latencies[-1], peak[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="P1,P1I,P2,P3,P4,P5,P6,P7,P8,P9")
    ap.add_argument("--hub-seconds", type=int, default=60, help="P7: how long the agents poll")
    ap.add_argument("--compare", metavar="OLD", help="another bitops binary to measure side by side (P1, P3, P5, P6, P8, P9)")
    ap.add_argument("--bitops", metavar="PATH", help="the bitops binary to measure (default: the static release build, else target/release/bitops)")
    args = ap.parse_args()
    global BITOPS
    if args.bitops:
        BITOPS = os.path.abspath(args.bitops)
    if not os.path.exists(BITOPS):
        sys.exit("build first: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target \"$(uname -m)-unknown-linux-gnu\" (or cargo build --release)")
    print(f"measuring {BITOPS}", file=sys.stderr)
    only = set(args.only.upper().split(","))
    bins = [BITOPS] + ([os.path.abspath(args.compare)] if args.compare else [])
    work = tempfile.mkdtemp(prefix="bitops-bench-")
    rows = []
    try:
        if only & {"P1", "P4"}:
            base, ours, rss = p1(args.runs, work, bins)
            if "P1" in only:
                rows.append(("P1 orchestration overhead", f"bash {base*1000:.1f} ms", f"bitops {ours[0]*1000:.1f} ms", f"{ours[0]/base:.2f}x", "<= 1.15x"))
                if args.compare:
                    rows.append(("P1, the --compare binary", f"bash {base*1000:.1f} ms", f"old {ours[1]*1000:.1f} ms", f"{ours[1]/base:.2f}x", "reported"))
            if "P4" in only:
                rows.append(("P4 peak RSS during P1", "", f"{rss/1024:.1f} MB", "", "<= 10 MB"))
                rows.append(("P4 release binary size", "", f"{os.path.getsize(BITOPS)/1024/1024:.1f} MB", "", "reported"))
        if "P1I" in only:
            counted = p1i(work)
            if counted is None:
                print("P1i: valgrind is not installed; skipped (no row)", file=sys.stderr)
            else:
                bash, ours = counted
                per = ours / P1_CHILDREN
                rows.append((f"P1i instructions per child process (callgrind, {P1_CHILDREN} children)",
                             f"bash noop {bash/1e6:.2f} M", f"bitops {per/1e3:.0f} K ({ours/1e6:.2f} M in all)",
                             f"{per/bash*100:.0f}%", "<= 25%"))
        if "P2" in only:
            small, big = p2(args.runs, work)
            rows.append(("P2 start-up, 2 GB repo vs 5 MB env alone", f"small {small*1000:.1f} ms", f"big {big*1000:.1f} ms", f"{big/small:.2f}x", "<= 1.5x"))
        if "P3" in only:
            for dense in (True, False):
                size, floor, ours, rss = p3(args.runs, work, bins, dense)
                mb = size / 1024 / 1024
                kind = "every line masked" if dense else "1 line in 2000 masked"
                rows.append((f"P3 200 MB through 10 masks, {kind}", f"cat {mb/floor:.0f} MB/s", f"bitops {mb/ours[0]:.0f} MB/s", f"{ours[0]/floor:.2f}x", ">= 400 MB/s" if dense else ">= 1024 MB/s"))
                if args.compare:
                    rows.append((f"P3, the --compare binary, {kind}", f"cat {mb/floor:.0f} MB/s", f"old {mb/ours[1]:.0f} MB/s", f"{ours[1]/floor:.2f}x", "reported"))
                rows.append((f"P3 peak RSS, {kind}", "", f"{rss/1024:.1f} MB", "", "<= 16 MB"))
        if "P5" in only:
            p5_times, p5_bins = p5(args.runs, work, bins)
            targets = {1: "reported", 4: "<= 2.2 s", 8: "reported"}
            for n in (1, 4, 8):
                ideal = 8 / n
                rows.append((f"P5 8 steps x sleep 1, --parallel {n}", f"ideal {ideal:.1f} s", f"bitops {p5_times[n][0]:.3f} s",
                             f"{p5_times[n][0]/ideal:.3f}x", targets[n]))
                if len(p5_bins) > 1:
                    rows.append((f"P5, the --compare binary, --parallel {n}", f"ideal {ideal:.1f} s", f"old {p5_times[n][1]:.3f} s",
                                 f"{p5_times[n][1]/ideal:.3f}x", "reported"))
        if "P6" in only:
            steps, edges, plan, base, deploy, tmpfs, p6_bins = p6(args.runs, work, bins)
            rows.append((f"P6a plan of {steps} steps, {edges} edges", "", f"bitops {plan[0]*1000:.1f} ms", "", "<= 50 ms"))
            if len(p6_bins) > 1:
                rows.append(("P6a, the --compare binary", "", f"old {plan[1]*1000:.1f} ms", "", "reported"))
            for n in (1, 4):
                for i, who in enumerate(["bitops", "old"][:len(p6_bins)]):
                    t = deploy[n][i]
                    name = f"P6b {steps} no-op steps, --parallel {n}" if i == 0 else f"P6b, the --compare binary, --parallel {n}"
                    rows.append((name, f"bash {base*1000:.1f} ms", f"{who} {t*1000:.1f} ms",
                                 f"{t/base:.2f}x, {(t-base)/steps*1000:+.2f} ms/step",
                                 "<= 0.5 ms/step" if (n == 1 and i == 0) else "reported"))
            if tmpfs is not None:
                rows.append((f"P6b {steps} no-op steps, --parallel 1, TMPDIR on tmpfs", f"bash {base*1000:.1f} ms",
                             f"bitops {tmpfs*1000:.1f} ms", f"{tmpfs/base:.2f}x, {(tmpfs-base)/steps*1000:+.2f} ms/step", "reported"))
        if "P8" in only:
            count, plan, base, ours, tmpfs = p8(args.runs, work, bins)
            rows.append((f"P8a plan of {count} deployments x 2 hooks", "", f"bitops {plan[0]*1000:.1f} ms", "", "<= 100 ms"))
            if args.compare:
                rows.append(("P8a, the --compare binary", "", f"old {plan[1]*1000:.1f} ms", "", "reported"))
            for i, who in enumerate(["bitops", "old"][:len(bins)]):
                name = f"P8b deploy of {count} x (2 hooks + no-op plugin)" if i == 0 else "P8b, the --compare binary"
                rows.append((name, f"bash {base:.3f} s", f"{who} {ours[i]:.3f} s",
                             f"{ours[i]/base:.2f}x, {(ours[i]-base)/count*1000:+.2f} ms/step", "<= 1.2x" if i == 0 else "reported"))
            if tmpfs is not None:
                rows.append((f"P8b deploy of {count} x (2 hooks + no-op plugin), TMPDIR on tmpfs", f"bash {base:.3f} s",
                             f"bitops {tmpfs:.3f} s", f"{tmpfs/base:.2f}x, {(tmpfs-base)/count*1000:+.2f} ms/step", "reported"))
        if "P9" in only:
            count, pairs = p9(args.runs, work, bins)
            for i, (empty, full) in enumerate(pairs):
                name = f"P9 {count} hooks in one folder, listed by plan" if i == 0 else "P9, the --compare binary"
                rows.append((name, f"empty folder {empty*1000:.1f} ms", f"{['bitops', 'old'][i]} {full*1000:.1f} ms",
                             f"+{(full-empty)*1000:.1f} ms", "<= 50 ms" if i == 0 else "reported"))
        if "P7" in only:
            polls, errors, p50, p99, worst, rss = p7(work, seconds=args.hub_seconds)
            rows.append((f"P7 hub, 200 agents polling 1/s for {args.hub_seconds} s (SQLite)", f"{polls} polls, {errors} errors",
                         f"p50 {p50*1000:.1f} ms, p99 {p99*1000:.1f} ms", f"max {worst*1000:.0f} ms", "reported"))
            rows.append(("P7 hub peak RSS", "", f"{rss/1024:.1f} MB", "", "reported"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"median of {args.runs} runs after a warm-up; {os.cpu_count()} cores\n")
    print("| benchmark | baseline | bitops | ratio | target |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
