"""ci/bench --xen: the Xen section of the benchmarks, run by hand. See BENCHMARKS.md.

On the two nested Xen hosts of `virtsmoke lab up --xen 2` (run when
`virtsmoke lab status --json` does not show xen1 and xen2 healthy), --runs times:
  ci/bench.d/xen-kinds.yaml    the test image as a xen-pv, xen-pvh, xen-pvhvm and
                               xen-hvm guest on xen1, one at a time: boot, save-restore
  ci/bench.d/xen-migrate.yaml  one xen-pvh guest moved live xen1 -> xen2 -> ..., 4 rounds
and reports, as medians over the runs (migration rounds pooled over the runs):
  xen_boot_ms_KIND         the case's boot_ms (KIND: pv, pvh, pvhvm, hvm)
  xen_save_ms_KIND         the save-restore check's GUEST.save_ms
  xen_restore_ms_KIND      the save-restore check's GUEST.restore_ms
  xen_migration_ms_median, xen_migration_ms_max   GUEST.migrate.round-N.migration_ms
  xen_downtime_ms_median, xen_downtime_ms_max     GUEST.migrate.round-N.downtime_ms
A round whose downtime was still open when the probe ended (downtime_open: a
lower bound) counts as what was measured; a note says how many were.
--quick: xen-pv and xen-pvh only, 2 rounds. Figures are printed and written
like the rest of ci/bench's, to --out (default ci/bench-results/xen-latest.txt,
details in the .json of the same name; each run's virtsmoke results beside it
as xen-latest.TAG.json). The helpers (figure, note, run_virtsmoke, ...) are
ci/bench's own, passed in as `bench`.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

KINDS = ("xen-pv", "xen-pvh", "xen-pvhvm", "xen-hvm")
QUICK_KINDS = ("xen-pv", "xen-pvh")
ROUNDS, QUICK_ROUNDS = 4, 2
HOSTS = ("xen1", "xen2")
KINDS_FILE, MIGRATE_FILE = "xen-kinds.yaml", "xen-migrate.yaml"
# The lines of the scenario files that --quick rewrites (each must occur once).
KINDS_LINE = "kind: [xen-pv, xen-pvh, xen-pvhvm, xen-hvm]"
ROUNDS_TEXT = f"rounds: {ROUNDS},"
# GUEST.migrate.round-N.FIELD: migration_ms, downtime_ms, downtime_open, probe, ...
ROUND_PROP = re.compile(r"[^.]+\.migrate\.round-(\d+)\.(\w+)")
CASE_KIND = re.compile(r"-(xen-[a-z]+)@[^/@]*$")   # SCENARIO/GUEST-KIND@HOST


class LoadAvg(threading.Thread):
    """The machine's 1-minute load average every 3 s: the nested hosts share its
    CPUs with whatever else runs, so the figures depend on it."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                with open("/proc/loadavg") as f:
                    self.samples.append(float(f.read().split()[0]))
            except (OSError, ValueError):
                pass
            self._halt.wait(3)

    def stop(self):
        self._halt.set()
        self.join()


# --------------------------------------------------------------------------- the lab

def xen_hosts(binary):
    """The Xen hosts `virtsmoke lab status --json` reports, by name; {} when it
    printed nothing usable. Its exit status is not used: it also counts the
    KVM hosts."""
    p = subprocess.run([binary, "lab", "status", "--json"], capture_output=True, text=True)
    try:
        return {h["name"]: h for h in json.loads(p.stdout).get("xen", [])}
    except (ValueError, AttributeError, KeyError, TypeError):
        return {}


def unhealthy(hosts):
    return [n for n in HOSTS if not hosts.get(n, {}).get("healthy")]


def ensure_lab(binary, bench):
    """xen1 and xen2 up and healthy (`virtsmoke lab up --xen 2` when they are
    not: it leaves the KVM hosts alone); their status, or None."""
    hosts = xen_hosts(binary)
    if unhealthy(hosts):
        bench.log(f"xen lab: {', '.join(unhealthy(hosts))} not up or not healthy: virtsmoke lab up --xen {len(HOSTS)}")
        # Its report to stderr: stdout is for the figures. Its exit status also counts the KVM hosts.
        subprocess.run([binary, "lab", "up", "--xen", str(len(HOSTS))], stdout=sys.stderr)
        hosts = xen_hosts(binary)
    bad = unhealthy(hosts)
    for n in bad:
        problems = "; ".join(hosts.get(n, {}).get("problems", [])) or "not in `lab status`"
        print(f"ci/bench: xen lab host {n} is not healthy: {problems}", file=sys.stderr)
    return None if bad else hosts


def build_of(host):
    d = host.get("dom0") or {}
    if not d:
        return "build unknown"
    return (f"{d.get('suite')}: Xen {d.get('xen_version')} libvirt {d.get('libvirt_version')} "
            f"dom0 kernel {d.get('kernel_version')}")


def scenario(bench, work, name, hosts, replace):
    """ci/bench.d/NAME checked against the lab (every lab host it names has the
    URI, dom0 SSH address, key and known_hosts that lab status reports), with
    `replace` made (each text must occur once), written into the work
    directory; its path."""
    text = open(os.path.join(bench.HERE, name)).read()
    for n, h in hosts.items():
        if not re.search(rf"^  {re.escape(n)}:\s*$", text, re.M):
            continue
        for field in ("uri", "ssh", "key", "known_hosts"):
            if str(h[field]) not in text:
                raise SystemExit(f"ci/bench: {name}: host {n} lacks the lab's {field} {h[field]}")
    for old, new in replace.items():
        if text.count(old) != 1:
            raise SystemExit(f"ci/bench: {name}: `{old}` should occur once")
        text = text.replace(old, new)
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# --------------------------------------------------------------------------- runs and their figures

def number(text):
    """A property's value as a number (virtsmoke's milliseconds are integers); None if it is not one."""
    for kind in (int, float):
        try:
            return kind(text)
        except (TypeError, ValueError):
            pass
    return None


def prop(p, pattern):
    """The first property whose name matches `pattern` entirely, as a number."""
    return next((number(v) for k, v in p.items() if re.fullmatch(pattern, k)), None)


def run_scenario(args, bench, binary, work, path, tag):
    """One `virtsmoke run -j 1 --json` (ci/bench's run_virtsmoke); its results are
    copied beside --out. Notes a failed run and every case that did not pass.
    The cases (without run-level ones) and the run."""
    r = bench.run_virtsmoke(binary, path, 1, work, tag)
    js = os.path.join(work, f"{tag}.json")
    if os.path.exists(js):
        shutil.copy(js, f"{os.path.splitext(args.out)[0]}.{tag}.json")
    cases = [c for c in (r["doc"] or {}).get("cases", []) if not c["name"].startswith("virtsmoke/")]
    passed = sum(1 for c in cases if c["outcome"] == "passed")
    bench.log(f"{tag}: {passed} of {len(cases)} cases passed in {r['wall_ms'] / 1000:.0f} s (exit {r['rc']})")
    if r["rc"] != 0 or not cases:
        args.keep = True
        bench.note(f"{tag}: virtsmoke exited {r['rc']}; artifacts in {r['art']}")
    for c in cases:
        if c["outcome"] != "passed":
            step = next((s for s in c.get("steps", []) if s["outcome"] != "passed" and s.get("message")), None)
            why = f"{step['name']}: {step['message'][:200]}" if step else "no message"
            bench.note(f"{tag}: {c['name']} {c['outcome']} ({why}); its figures are used where recorded")
    return cases, r


def case_facts(bench, case):
    """What a case says about the conditions it ran in."""
    p = bench.props(case)
    return {"case": case["name"], "outcome": case["outcome"], "run_id": p.get("run_id"),
            "xen_version": p.get("xen_version"), "host_load": p.get("host_load"),
            "admission_wait_ms": number(p.get("admission_wait_ms")), "duration_ms": case.get("duration")}


def kinds_of_run(bench, cases, kinds, per_kind):
    """Adds each case's boot, save and restore times to per_kind[KIND]."""
    for c in cases:
        m = CASE_KIND.search(c["name"])
        if not m or m.group(1) not in kinds:
            bench.note(f"{c['name']}: not a case of a kind measured here; ignored")
            continue
        p = bench.props(c)
        row = {"boot_ms": prop(p, r"boot_ms"), "save_ms": prop(p, r"[^.]+\.save_ms"),
               "restore_ms": prop(p, r"[^.]+\.restore_ms"), "save_bytes": prop(p, r"[^.]+\.save_bytes"),
               **case_facts(bench, c)}
        per_kind.setdefault(m.group(1), []).append(row)
        bench.log(f"  {m.group(1)}: boot {row['boot_ms']} ms, save {row['save_ms']} ms, restore {row['restore_ms']} ms")


def kinds_figures(args, bench, kinds, per_kind):
    """xen_{boot,save,restore}_ms_KIND: medians over the runs."""
    for kind in kinds:
        rows = per_kind.get(kind, [])
        passed = sum(1 for r in rows if r["outcome"] == "passed")
        bench.note(f"{kind}: {passed} of {args.runs} cases passed (medians of what was recorded below)")
        for what in ("boot", "save", "restore"):
            bench.figure(f"xen_{what}_ms_{kind[len('xen-'):]}", bench.median([r[f"{what}_ms"] for r in rows]), "ms")
    left = [k[len("xen-"):] for k in KINDS if k not in kinds]
    if left:
        bench.note(f"--quick: no {', '.join(left)} guests (their figures are not expected)")


def rounds_of(case):
    """The migrate check's rounds of one case, in order, as recorded."""
    found = {}
    for k, v in case.get("properties", []):
        m = ROUND_PROP.fullmatch(k)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = v
    return [{"round": n, "migration_ms": number(d.get("migration_ms")), "downtime_ms": number(d.get("downtime_ms")),
             "open": d.get("downtime_open") == "true", "probe": d.get("probe")} for n, d in sorted(found.items())]


def migration_figures(bench, rounds, expected):
    """xen_migration_ms_{median,max}, xen_downtime_ms_{median,max} over every round."""
    mig = [r["migration_ms"] for r in rounds if r["migration_ms"] is not None]
    down = [r["downtime_ms"] for r in rounds if r["downtime_ms"] is not None]
    opened = sum(1 for r in rounds if r["open"] and r["downtime_ms"] is not None)
    bench.note(f"xen migration: {len(mig)} of {expected} rounds measured, {len(down)} with a downtime, "
               f"{opened} of those open (no answer 30 s after the migration call returned: a lower bound, "
               f"counted as measured)")
    for r in rounds:
        if r["probe"]:
            bench.note(f"xen migration round {r['round']}: downtime {r['probe']}")
    bench.figure("xen_migration_ms_median", bench.median(mig), "ms")
    bench.figure("xen_migration_ms_max", max(mig) if mig else None, "ms")
    bench.figure("xen_downtime_ms_median", bench.median(down), "ms")
    bench.figure("xen_downtime_ms_max", max(down) if down else None, "ms")


# --------------------------------------------------------------------------- the section

def header(args, bench, binary, hosts, kinds, rounds):
    mach = bench.machine()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", bench.ROOT, "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    builds = {n: build_of(hosts[n]) for n in HOSTS}
    bench.details.update({"section": "xen", "machine": mach, "virtsmoke": version, "commit": commit,
                          "runs": args.runs, "quick": args.quick, "kinds": list(kinds), "rounds": rounds,
                          "xen_hosts": {n: hosts[n] for n in HOSTS}})
    bench.note(f"ci/bench --xen {'--quick ' if args.quick else ''}--runs {args.runs}: {version} ({commit}), {mach['date']}")
    bench.note(f"machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['mem_total_gib']} GiB, kernel {mach['kernel']}")
    for n in HOSTS:
        bench.note(f"{n}: {builds[n]}")


def run_all(args, bench, binary, work, paths, kinds, rounds):
    per_kind, all_rounds = {}, []
    for i in range(1, args.runs + 1):
        cases, _ = run_scenario(args, bench, binary, work, paths[0], f"kinds-{i}")
        kinds_of_run(bench, cases, kinds, per_kind)
        if args.skip_migration:
            continue
        cases, r = run_scenario(args, bench, binary, work, paths[1], f"migrate-{i}")
        for c in cases:
            got = rounds_of(c)
            all_rounds += got
            bench.details.setdefault("xen_migration", []).append({"rc": r["rc"], "rounds": got, **case_facts(bench, c)})
            for x in got:
                bench.log(f"  round {x['round']}: migration {x['migration_ms']} ms, downtime {x['downtime_ms']} ms"
                          + (" (open)" if x["open"] else ""))
    bench.details["xen_kinds"] = per_kind
    kinds_figures(args, bench, kinds, per_kind)
    if args.skip_migration:
        bench.note("xen migration skipped (--skip-migration)")
        bench.missing.append("xen_downtime_ms_median")
    else:
        migration_figures(bench, all_rounds, rounds * args.runs)


def write_results(args, bench, work, load):
    """--out and its .json, as ci/bench writes them; the work directory goes
    unless kept."""
    loads = load.samples
    bench.details["load"] = {"loadavg_mean": statistics.mean(loads) if loads else None,
                             "loadavg_max": max(loads, default=None)}
    bench.note("load during the bench: loadavg mean {:.1f} max {:.1f}".format(
        bench.details["load"]["loadavg_mean"] or 0, bench.details["load"]["loadavg_max"] or 0))
    with open(args.out, "w") as f:
        for n in bench.notes:
            f.write(f"# {n}\n")
        for name, value, unit in bench.figures:
            f.write(f"{name} {value} {unit}\n")
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"figures": {n: [v, u] for n, v, u in bench.figures}, "missing": bench.missing,
                   "notes": bench.notes, **bench.details}, f, indent=1, default=str)
    bench.log(f"results in {args.out}")
    if args.keep:
        bench.log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def measure(args, binary, bench):
    """The Xen section: ci/bench's exit status (0 every figure measured, 1 one
    missing or the lab not usable, 130 interrupted)."""
    hosts = ensure_lab(binary, bench)
    if hosts is None:
        print("ci/bench: the xen lab could not be brought up", file=sys.stderr)
        return 1
    kinds = QUICK_KINDS if args.quick else KINDS
    rounds = QUICK_ROUNDS if args.quick else ROUNDS
    os.makedirs("/var/tmp/virtsmoke-bench", exist_ok=True)
    work = os.path.join("/var/tmp/virtsmoke-bench", time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-xen")
    os.makedirs(work)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    try:
        paths = (scenario(bench, work, KINDS_FILE, hosts, {KINDS_LINE: f"kind: [{', '.join(kinds)}]"}),
                 scenario(bench, work, MIGRATE_FILE, hosts, {ROUNDS_TEXT: f"rounds: {rounds},"}))
    except SystemExit:
        shutil.rmtree(work, ignore_errors=True)
        raise
    header(args, bench, binary, hosts, kinds, rounds)
    load = LoadAvg()
    load.start()
    rc = 0
    try:
        run_all(args, bench, binary, work, paths, kinds, rounds)
    except KeyboardInterrupt:
        bench.note("interrupted")
        rc = 130
    finally:
        load.stop()
        write_results(args, bench, work, load)
    return rc or (1 if bench.missing else 0)
