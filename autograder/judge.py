"""Judge a student's work in the grader's own process, from plain arrays only.

The instructor's test cells are never run in the student's kernel. Instead:

1. :class:`Assignment` reads the instructor's source notebook: given cells,
   solution cells (what names each defines) and test cells (points, visible
   and hidden parts, which names they use).
2. :class:`Context` runs the instructor's notebook (given cells and the
   solutions, never a student's code) once in this process, and keeps a
   snapshot of the namespace as it stands before each test cell.
3. To judge test cell *k*, its code runs here, on a copy of snapshot *k* in
   which every name the student defines is replaced: a variable by the raw
   value captured from the student's kernel right where the test cell stood; a
   function by a :class:`Proxy` that answers each call with the student's
   recorded result for exactly those arguments. Calls not recorded yet are
   collected, sent to the student's kernel (inputs as ``.npy`` files), their
   results read back with ``allow_pickle=False``, and the cell judged again
   until no call is missing.
4. For a graded function of the exercise module, the student's function is also
   checked on fresh variants of the reference cases, drawn with a secret seed,
   against the solution run here; known mistakes name the likely error.

Nothing computed in the student's kernel is trusted except the raw values.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import hashlib
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .notebooks import BEGIN, END, nbgrader_meta, read, strip_markers

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MAX_JSON = 20 * 1024 * 1024
MAX_NPY = 512 * 1024 * 1024


# --- the instructor's notebook ----------------------------------------------------


def _strip_magics(source: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _defined_names(source: str) -> tuple[set[str], set[str]]:
    """(functions, variables) a cell binds at top level (imports are not the student's)."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set(), set()
    fns, vars_ = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            fns.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    vars_.add(sub.id)
    return fns, vars_ - fns


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def split_hidden(source: str) -> tuple[str, str]:
    """(visible code, hidden code) of a test cell."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            inside = True
        elif line.strip() == HIDDEN_END:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


@dataclass
class TestCell:
    index: int
    grade_id: str
    points: float
    source: str
    student_names: list[str]  # names defined by solution cells that this test uses
    used: set = field(default_factory=set)  # every name the test cell reads


@dataclass
class Assignment:
    aid: str
    nb: object
    solution_ids: list[str]
    stubs: dict[str, str]
    tests: list[TestCell]
    functions: set[str]  # every function a solution cell defines
    variables: set[str]
    specs: dict = field(default_factory=dict)  # FunctionSpec by name (exercise module)

    @classmethod
    def load(cls, aid: str, solutions: Path, releases: Path) -> "Assignment":
        from .spec import exercise_modules

        nb = read(solutions / aid / f"{aid}.ipynb")
        release_path = releases / aid / f"{aid}.ipynb"
        release = read(release_path) if release_path.exists() else None
        stubs = {}
        if release is not None:
            for c in release.cells:
                m = nbgrader_meta(c)
                if m.get("solution") and c.cell_type == "code":
                    stubs[m["grade_id"]] = c.source
        sol_ids, fns, vars_, tests = [], set(), set(), []
        for i, c in enumerate(nb.cells):
            m = nbgrader_meta(c)
            if c.cell_type != "code":
                continue
            if m.get("solution"):
                sol_ids.append(m["grade_id"])
                f, v = _defined_names(strip_markers(c.source))
                fns |= f
                vars_ |= v
                stubs.setdefault(m["grade_id"], _stub(c.source))
        for i, c in enumerate(nb.cells):
            m = nbgrader_meta(c)
            if c.cell_type == "code" and m.get("grade") and not m.get("solution"):
                used = _used_names(c.source)
                tests.append(TestCell(i, m["grade_id"], float(m.get("points", 0)), c.source,
                                      sorted(used & (fns | vars_)), used))
        mod = exercise_modules().get(aid)
        specs = dict(mod.FUNCTIONS) if mod else {}
        return cls(aid, nb, sol_ids, stubs, tests, fns, vars_, specs)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)


def _stub(source: str) -> str:
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


# --- the instructor's namespace, run here --------------------------------------------


class Context:
    """The instructor's notebook run in this process; a snapshot before each test cell."""

    def __init__(self, assignment: Assignment, cwd: Path):
        import os

        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.assignment = assignment
        self.snapshots: dict[int, dict] = {}
        self.problems: list[str] = []
        ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        old = os.getcwd()
        os.chdir(cwd)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                for i, c in enumerate(assignment.nb.cells):
                    if c.cell_type != "code":
                        continue
                    m = nbgrader_meta(c)
                    if m.get("grade") and not m.get("solution"):
                        self.snapshots[i] = dict(ns)
                        continue
                    try:
                        exec(compile(_strip_magics(strip_markers(c.source)), f"<instructor cell {i}>",
                                     "exec"), ns)
                    except Exception as exc:  # plots or widgets that need a browser, say
                        self.problems.append(f"instructor cell {i} did not run in the grader: "
                                             f"{type(exc).__name__}: {exc}")
                    plt.close("all")
        finally:
            os.chdir(old)
        self.solution_ns = ns

    def namespace(self, index: int, used: set[str]) -> dict:
        """A copy of snapshot ``index``; the plain data the test uses is copied deeply, so a
        test that changes it in place cannot change the next submission's test."""
        ns = dict(self.snapshots[index])
        for k in used & set(ns):
            v = ns[k]
            if isinstance(v, (np.ndarray, list, dict, set, np.random.Generator)):
                try:
                    ns[k] = copy.deepcopy(v)
                except Exception:
                    pass
        return ns


# --- plain values across the sandbox boundary -----------------------------------------


class Opaque:
    """A value the grader could not read back as plain data."""

    def __init__(self, what: str):
        self.what = what

    def __repr__(self):
        return f"<{self.what}, which the grader cannot read as plain data>"


def encode(value, folder: Path, prefix: str, counter: list, depth: int = 0):
    """A JSON description of a plain value; arrays go to .npy files (no pickle)."""
    if depth > 20:
        return {"t": "opaque", "type": "deeply nested value"}
    if value is None or type(value) in (bool, int, float, str):
        return {"t": "py", "v": value}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            return {"t": "opaque", "type": f"array of dtype {arr.dtype}"}
        name = f"{prefix}_{counter[0]}.npy"
        counter[0] += 1
        np.save(folder / name, arr, allow_pickle=False)
        return {"t": "ndscalar" if isinstance(value, np.generic) else "nd", "f": name}
    if type(value) in (list, tuple):
        return {"t": type(value).__name__,
                "v": [encode(v, folder, prefix, counter, depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"t": "dict", "v": {k: encode(v, folder, prefix, counter, depth + 1)
                                   for k, v in value.items()}}
    return {"t": "opaque", "type": type(value).__name__}


def decode(desc, folder: Path, depth: int = 0):
    """Read back what :func:`encode` (or the kernel's copy of it) wrote; never unpickles."""
    if depth > 40 or not isinstance(desc, dict):
        return Opaque("malformed value")
    t = desc.get("t")
    if t == "py":
        v = desc.get("v")
        return v if v is None or type(v) in (bool, int, float, str) else Opaque("malformed value")
    if t in ("nd", "ndscalar"):
        name = str(desc.get("f", ""))
        path = folder / name
        if "/" in name or not path.is_file() or path.stat().st_size > MAX_NPY:
            return Opaque("missing or oversized array")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception:
            return Opaque("unreadable array")
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc":
            return Opaque("array of an unsupported type")
        return arr[()] if t == "ndscalar" and arr.ndim == 0 else arr
    if t in ("list", "tuple") and isinstance(desc.get("v"), list):
        items = [decode(v, folder, depth + 1) for v in desc["v"]]
        return items if t == "list" else tuple(items)
    if t == "dict" and isinstance(desc.get("v"), dict):
        return {str(k): decode(v, folder, depth + 1) for k, v in desc["v"].items()}
    return Opaque(f"object of type {str(desc.get('type', '?'))[:60]}")


def read_json(path: Path):
    if not path.is_file() or path.stat().st_size > MAX_JSON:
        return None
    try:
        return json.loads(path.read_text(errors="replace"))
    except ValueError:
        return None


def call_key(fn: str, args, kwargs, err: dict) -> str:
    h = hashlib.sha256()

    def feed(v, depth=0):
        if depth > 20:
            h.update(b"deep")
        elif isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
            h.update(f"nd{a.dtype.str}{a.shape}{isinstance(v, np.generic)}".encode())
            h.update(np.ascontiguousarray(a).tobytes() if a.dtype.kind in "biufc" else repr(a).encode())
        elif type(v) in (list, tuple):
            h.update(f"{type(v).__name__}{len(v)}[".encode())
            for x in v:
                feed(x, depth + 1)
            h.update(b"]")
        elif type(v) is dict:
            h.update(b"{")
            for k in sorted(v, key=str):
                h.update(repr(k).encode())
                feed(v[k], depth + 1)
            h.update(b"}")
        else:
            h.update(f"{type(v).__name__}:{v!r}".encode())

    h.update(fn.encode())
    feed(list(args))
    feed(dict(kwargs))
    h.update(json.dumps(err, sort_keys=True).encode())
    return h.hexdigest()[:24]


# --- the kernel's side ---------------------------------------------------------------

# Sent to the student's kernel. It may be tampered with there: it only moves values.
KERNEL_CODE = r'''
def __grader_setup():
    import json as _json, traceback as _tb, warnings as _w
    from pathlib import Path as _P
    import numpy as _np
    def enc(v, d, prefix, n, depth=0):
        if depth > 20:
            return {"t": "opaque", "type": "deeply nested value"}
        if v is None or type(v) in (bool, int, float, str):
            if type(v) is str:
                v = v[:5000]
            if type(v) is int and abs(v) > 2 ** 62:
                return {"t": "opaque", "type": "huge int"}
            return {"t": "py", "v": v}
        if hasattr(v, "detach") and hasattr(v, "numpy"):
            try:
                v = v.detach().cpu().numpy()
            except Exception:
                pass
        if isinstance(v, (_np.ndarray, _np.generic)):
            a = _np.asarray(v)
            if a.dtype.kind not in "biufc" or a.nbytes > 256 * 2 ** 20:
                return {"t": "opaque", "type": "array of dtype %s" % a.dtype}
            name = "%s_%d.npy" % (prefix, n[0]); n[0] += 1
            _np.save(d / name, a, allow_pickle=False)
            return {"t": "ndscalar" if isinstance(v, _np.generic) else "nd", "f": name}
        if type(v) in (list, tuple):
            if len(v) > 200000:
                return {"t": "opaque", "type": "very long %s" % type(v).__name__}
            return {"t": type(v).__name__, "v": [enc(x, d, prefix, n, depth + 1) for x in v]}
        if type(v) is dict and all(type(k) is str for k in v):
            return {"t": "dict", "v": {k: enc(x, d, prefix, n, depth + 1) for k, x in v.items()}}
        return {"t": "opaque", "type": type(v).__name__}
    def dec(e, d):
        t = e["t"]
        if t in ("nd", "ndscalar"):
            a = _np.load(d / e["f"], allow_pickle=False)
            return a[()] if t == "ndscalar" else a
        if t == "list":
            return [dec(x, d) for x in e["v"]]
        if t == "tuple":
            return tuple(dec(x, d) for x in e["v"])
        if t == "dict":
            return {k: dec(x, d) for k, x in e["v"].items()}
        return e["v"]
    def capture(d, key, names, ns):
        d = _P(d); out = {}
        stash = ns.setdefault("__grader_fns__", {}).setdefault(key, {})
        for name in names:
            if name not in ns:
                out[name] = {"kind": "undefined"}
            elif callable(ns[name]) and not isinstance(ns[name], type):
                stash[name] = ns[name]
                out[name] = {"kind": "function"}
            else:
                try:
                    out[name] = {"kind": "value", "value": enc(ns[name], d, "var_%s_%s" % (key, name), [0])}
                except Exception as exc:
                    out[name] = {"kind": "value", "value": {"t": "opaque", "type": type(ns[name]).__name__}}
        (d / ("capture_%s.json" % key)).write_text(_json.dumps(out))
    def call(d, cid, ns):
        d = _P(d)
        spec = _json.loads((d / ("call_%s.json" % cid)).read_text())
        fn = ns.get("__grader_fns__", {}).get(spec["stash"], {}).get(spec["fn"])
        res = {"warnings": []}
        if fn is None:
            res.update(status="error", exc={"name": "NameError", "mro": ["NameError"],
                       "msg": "name %r is not defined" % spec["fn"], "tb": ""})
        else:
            args = dec(spec["args"], d); kwargs = dec(spec["kwargs"], d)
            with _w.catch_warnings(record=True) as caught:
                _w.simplefilter("always")
                try:
                    with _np.errstate(**spec["err"]):
                        value = fn(*args, **kwargs)
                    res.update(status="ok", value=enc(value, d, "out_%s" % cid, [0]))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    res.update(status="error", exc={
                        "name": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                        "msg": str(exc)[:2000], "tb": "".join(_tb.format_exception(exc))[-4000:]})
            res["warnings"] = [{"cat": w.category.__name__, "msg": str(w.message)[:500]}
                               for w in caught[:5]]
        (d / ("result_%s.json" % cid)).write_text(_json.dumps(res))
    return capture, call
__grader_capture, __grader_call = __grader_setup()
del __grader_setup
def __grader_quiet_plots():
    import matplotlib, warnings
    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    plt.show = lambda *a, **k: plt.close("all")
    warnings.filterwarnings("ignore", message=".*non-interactive.*")
__grader_quiet_plots()
del __grader_quiet_plots
'''


def capture_cell(exchange: Path, key: str, names: list[str]) -> str:
    return f"__grader_capture({str(exchange)!r}, {key!r}, {names!r}, globals())"


def call_cell(exchange: Path, cid: str) -> str:
    return f"__grader_call({str(exchange)!r}, {cid!r}, globals())"


# --- replaying the student's answers ---------------------------------------------------


class Pending(Exception):
    pass


_EXC = {name: obj for name, obj in vars(builtins).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)}


def rebuild_exception(info: dict) -> BaseException:
    name = str(info.get("name", "Exception"))[:80]
    msg = str(info.get("msg", ""))
    cls = _EXC.get(name)
    if cls is None:
        for base in info.get("mro", []):
            if base in _EXC and issubclass(_EXC[base], Exception):
                cls = type(name, (_EXC[base],), {})
                break
    if cls is None or not issubclass(cls, Exception):
        cls = type(name, (RuntimeError,), {})  # SystemExit, KeyboardInterrupt... stay contained
    try:
        exc = cls(msg)
    except Exception:
        exc = RuntimeError(f"{name}: {msg}")
    exc.__grader_tb__ = str(info.get("tb", ""))
    return exc


_WARN = {name: obj for name, obj in vars(builtins).items()
         if isinstance(obj, type) and issubclass(obj, Warning)}


@dataclass
class Call:
    cid: str
    fn: str
    stash: str
    args: tuple
    kwargs: dict
    err: dict


class Proxy:
    """Stands in for a student's function: answers from recorded results only."""

    def __init__(self, name: str, stash: str, fallback, judge: "Judgement"):
        self.__name__ = self.__qualname__ = name
        self._stash, self._fallback, self._judge = stash, fallback, judge

    def __call__(self, *args, **kwargs):
        err = {k: v for k, v in np.geterr().items()}
        cid = call_key(self.__name__, args, kwargs, err)
        j = self._judge
        if cid not in j.results:
            j.pending[cid] = Call(cid, self.__name__, self._stash, args, kwargs, err)
            if self._fallback is None:
                raise Pending(cid)
            return self._fallback(*args, **kwargs)  # keep going, to find the later calls too
        res = j.results[cid]
        for w in res.get("warnings", []):
            warnings.warn(str(w.get("msg", "")), _WARN.get(str(w.get("cat")), RuntimeWarning), 2)
        if res.get("status") == "ok":
            return res["value"]
        if res.get("status") == "timeout":
            raise TimeoutError(f"{self.__name__} did not finish within the time limit "
                               f"({j.timeout} s); is there an endless loop?")
        if res.get("status") == "crashed":
            raise RuntimeError(f"{self.__name__} crashed the Python kernel (it exited, ran out of "
                               "memory or segfaulted) on this call")
        exc = rebuild_exception(res.get("exc", {}))
        j.student_tracebacks.setdefault(self.__name__, exc.__grader_tb__)
        raise exc

    def __repr__(self):
        return f"<function {self.__name__}>"


@dataclass
class Judgement:
    """Everything needed to judge one submission's tests; `results` fills in over rounds."""

    timeout: int
    results: dict = field(default_factory=dict)  # cid -> {"status", "value", "exc", "warnings"}
    pending: dict = field(default_factory=dict)  # cid -> Call
    student_tracebacks: dict = field(default_factory=dict)


@dataclass
class Verdict:
    grade_id: str
    points: float
    score: float
    passed: bool
    part: str = ""  # "visible", "hidden", "variants"
    message: str = ""
    error: str = ""  # exception name
    traceback: str = ""  # the student's own code's traceback, if their code raised


_NUMBERS = re.compile(r"got [^\n]*?, expected [^\n]*?(?= \(tolerance|\.|$)")


def scrub(message: str) -> str:
    """A hidden test's message, without the expected values."""
    message = _NUMBERS.sub("the values differ from the expected ones", message)
    return re.sub(r"expected [-+0-9.e]+", "expected something else", message)


def run_test(test: TestCell, ctx: Context, bindings: dict, judge: Judgement, variants) -> Verdict:
    """Run one instructor test cell here, with the student's names bound to their values."""
    ns = ctx.namespace(test.index, test.used)
    for name, value in bindings.items():
        if value is _UNDEFINED:
            ns.pop(name, None)
        else:
            ns[name] = value
    visible, hidden = split_hidden(test.source)
    verdict = Verdict(test.grade_id, test.points, 0.0, False)
    parts = [("visible", visible), ("hidden", hidden)]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        for part, code in parts:
            if not code.strip():
                continue
            try:
                exec(compile(code, f"<{test.grade_id}>", "exec"), ns)
            except Pending:
                raise
            except BaseException as exc:  # noqa: BLE001 - the test failed, in whatever way
                return _failed(verdict, part, exc, judge)
        if variants is not None:
            try:
                variants(ns)
            except Pending:
                raise
            except BaseException as exc:  # noqa: BLE001
                return _failed(verdict, "variants", exc, judge)
    verdict.passed, verdict.score = True, test.points
    return verdict


def _failed(verdict: Verdict, part: str, exc: BaseException, judge: Judgement) -> Verdict:
    verdict.part = part
    verdict.error = type(exc).__name__
    msg = str(exc)
    if part != "visible":
        msg = scrub(msg)
    verdict.message = msg
    verdict.traceback = getattr(exc, "__grader_tb__", "")
    if not verdict.traceback:
        for tb in judge.student_tracebacks.values():
            if tb and type(exc).__name__ in tb:
                verdict.traceback = tb
                break
    return verdict


class _Undefined:
    pass


_UNDEFINED = _Undefined()


# --- fresh variants of the reference cases ---------------------------------------------


def variant_cases(spec, seed: int) -> list:
    """The reference cases with their float inputs perturbed by a secret seed."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    out = []
    for case in spec.cases:
        changed, args = False, []
        for a in case.args:
            arr = np.asarray(a)
            if arr.dtype.kind == "f" and arr.size:
                scale = float(np.std(arr)) or float(np.max(np.abs(arr))) or 1.0
                new = (arr + rng.standard_normal(arr.shape) * 0.2 * scale).astype(arr.dtype)
                args.append(new.tolist() if case.as_lists else new)
                changed = True
            else:
                args.append(a)
        if changed:
            out.append(replace(case, desc=case.desc + " (a fresh variant)", args=tuple(args)))
    return out


def make_variant_check(name: str, spec, solution_fn, cases):
    """A check run after the test cell passes: the student's function on fresh variants."""
    from attnlab.checks import _call, check_outputs

    from .spec import split_outputs

    expected, mistakes = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case in cases:
            try:
                exp = split_outputs(solution_fn(*case.args, **case.kwargs), spec.outputs)
            except Exception:
                exp = None
            expected.append(exp)
            wrong = []
            for m in spec.mistakes:
                try:
                    wrong.append((m.hint, split_outputs(m.fn(*case.args, **case.kwargs), spec.outputs)))
                except Exception:
                    pass
            mistakes.append(wrong)

    def check(ns):
        fn = ns.get(name)
        if fn is None:
            return
        for case, exp, wrong in zip(cases, expected, mistakes):
            if exp is None:
                continue
            label = f"{name} on {case.desc}"
            result = _call(fn, list(case.args), dict(case.kwargs), spec.strict_warnings, label)
            check_outputs(result, exp, name, spec.outputs, label, wrong, rtol=case.rtol, atol=case.atol)
    return check
