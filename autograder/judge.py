"""Judge a student's work in the grader's own process, from plain values only.

The instructor's test cells never run in the student's kernel. To judge test cell *k*, its
code runs here (see ``instructor.Context``), on a copy of the instructor's namespace in which
every name the student defines is replaced: a variable by the raw value captured from the
student's kernel right where the test cell stood; a function by a :class:`Proxy` that answers
each call with the student's recorded result for exactly those arguments. Calls not recorded
yet are collected (``Judgement.pending``), answered by the student's kernel, and the test is
judged again, in rounds, until no call is missing (``worker.judge_submission``).

Hidden tests and fresh inputs stay hidden: their failure messages keep the structure (which
test, which output, the likely mistake) but lose every real number, and nothing the student's
code wrote (exception messages, exception class names, warnings) reaches their feedback from
those parts, since it could print the hidden inputs out.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .instructor import Context, TestCell, split_hidden
from .records import Verdict
from .wire import call_key

HIDDEN_TEXT = "(not shown: it could reveal a hidden input)"


class Pending(Exception):
    """A test needs a call the student's kernel has not answered yet."""


_EXC = {name: obj for name, obj in vars(builtins).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)}
_WARN = {name: obj for name, obj in vars(builtins).items()
         if isinstance(obj, type) and issubclass(obj, Warning)}


def rebuild_exception(info: dict, hide: bool = False) -> BaseException:
    """The student's exception, as an exception of this process (never one that escapes:
    SystemExit, KeyboardInterrupt... become RuntimeErrors). With ``hide``, its message and
    any class name of the student's own are not kept."""
    name = str(info.get("name", "Exception"))[:80]
    msg = HIDDEN_TEXT if hide else str(info.get("msg", ""))
    cls = _EXC.get(name)
    if cls is None:
        for base in info.get("mro", []) if isinstance(info.get("mro"), list) else []:
            if base in _EXC and issubclass(_EXC[base], Exception):
                cls = _EXC[base] if hide else type(name, (_EXC[base],), {})
                break
    if cls is None or not issubclass(cls, Exception):
        cls = RuntimeError if hide else type(name, (RuntimeError,), {})
    try:
        exc = cls(msg)
    except Exception:
        exc = RuntimeError(f"{name}: {msg}")
    exc.__grader_tb__ = "" if hide else str(info.get("tb", ""))
    return exc


@dataclass
class Call:
    cid: str
    fn: str
    stash: str  # which capture's functions (the test cell's index)
    args: tuple
    kwargs: dict
    err: dict  # numpy's error state at the call


@dataclass
class Judgement:
    """Everything needed to judge one submission's tests; ``results`` fills in over rounds."""

    timeout: int
    results: dict = field(default_factory=dict)  # cid -> {"status", "value", "exc", "warnings"}
    pending: dict = field(default_factory=dict)  # cid -> Call, not answered yet
    requested: set = field(default_factory=set)  # cids the test being judged asked for
    hiding: bool = False  # judging a hidden part: student text must not come through
    student_tracebacks: dict = field(default_factory=dict)


class Proxy:
    """Stands in for a student's function: answers from recorded results only."""

    def __init__(self, name: str, stash: str, fallback, judge: Judgement):
        self.__name__ = self.__qualname__ = name
        self._stash, self._fallback, self._judge = stash, fallback, judge

    def __call__(self, *args, **kwargs):
        err = {k: v for k, v in np.geterr().items()}
        cid = call_key(self.__name__, args, kwargs, err)
        j = self._judge
        j.requested.add(cid)
        if cid not in j.results:
            j.pending[cid] = Call(cid, self.__name__, self._stash, args, kwargs, err)
            if self._fallback is None:
                raise Pending(cid)
            return self._fallback(*args, **kwargs)  # keep going, to find the later calls too
        res = j.results[cid]
        for w in res.get("warnings", []):
            text = HIDDEN_TEXT if j.hiding else str(w.get("msg", ""))
            warnings.warn(text, _WARN.get(str(w.get("cat")), RuntimeWarning), 2)
        if res.get("status") == "ok":
            return res["value"]
        if res.get("status") == "timeout":
            raise TimeoutError(f"{self.__name__} did not finish within the time limit "
                               f"({j.timeout} s); is there an endless loop?")
        if res.get("status") == "crashed":
            raise RuntimeError(f"{self.__name__} crashed the Python kernel (it exited, ran out of "
                               "memory or segfaulted) on this call")
        if res.get("status") == "refused":
            raise RuntimeError(f"{self.__name__}'s result could not be read back: {res.get('why')}")
        exc = rebuild_exception(res.get("exc", {}), hide=j.hiding)
        if exc.__grader_tb__:
            j.student_tracebacks.setdefault(self.__name__, exc.__grader_tb__)
        raise exc

    def __repr__(self):
        return f"<function {self.__name__}>"


class _Undefined:
    """A name the student's notebook does not define where the test stands."""


UNDEFINED = _Undefined()

_GOT_EXPECTED = re.compile(r"got [^\n]*?, expected [^\n]*?(?= \(tolerance|\.(?=\s|$)|$)")
_REAL = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(?![\w])")
_OPAQUE_TYPE = re.compile(r"object of type [^\s,;:)]+")


def scrub(message: str) -> str:
    """A hidden test's message without the values: no "got ..., expected ...", no real
    numbers, no type names the student's code chose. Integers (shapes, indices) stay."""
    message = _GOT_EXPECTED.sub("the values differ from the expected ones", message)
    message = _OPAQUE_TYPE.sub("an object of another type", message)
    message = re.sub(r"expected [-+0-9.eE]+", "expected something else", message)
    return _REAL.sub("…", message)


_LIKELY = re.compile(r"Likely mistake: (.+)", re.S)


def _diagnosis(diagnose, ns: dict, judge: Judgement) -> str:
    """The catalogued mistake the student's function makes on the reference cases, if one
    matches (``diagnose`` runs them and raises a CheckFailed naming it); else ''."""
    judge.hiding = True  # the reference cases' inputs are hidden
    try:
        diagnose(ns)
    except Pending:
        raise
    except BaseException as exc:  # noqa: BLE001 - a failure that names no mistake says nothing here
        m = _LIKELY.search(str(exc))
        return m.group(1).strip() if m else ""
    finally:
        judge.hiding = False
    return ""


def run_test(test: TestCell, ctx: Context, bindings: dict, judge: Judgement, variants,
             diagnose=None) -> Verdict:
    """Run one instructor test cell here, with the student's names bound to their values;
    then, if it passed, the student's function on fresh inputs (``variants``). If a visible
    check fails first, ``diagnose`` (the reference cases with their known mistakes) may still
    name the mistake, so the student and the class report learn what it was."""
    ns = ctx.namespace(test.index, test.used)
    for name, value in bindings.items():
        if value is UNDEFINED:
            ns.pop(name, None)
        else:
            ns[name] = value
    visible, hidden = split_hidden(test.source)
    verdict = Verdict(test.grade_id, test.points, 0.0, False)
    judge.requested = set()
    parts = [("visible", lambda: exec(compile(visible, f"<{test.grade_id}>", "exec"), ns)),
             ("hidden", lambda: exec(compile(hidden, f"<{test.grade_id} hidden>", "exec"), ns)),
             ("variants", lambda: variants(ns))]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        for part, run in parts:
            if (part == "visible" and not visible.strip()) or (part == "hidden" and not hidden.strip()) \
                    or (part == "variants" and variants is None):
                continue
            judge.hiding = part != "visible"
            try:
                run()
            except Pending:
                raise
            except BaseException as exc:  # noqa: BLE001 - the test failed, in whatever way
                judge.hiding = False
                failed = _failed(verdict, part, exc, judge)
                if diagnose is not None and "Likely mistake:" not in failed.message:
                    hint = _diagnosis(diagnose, ns, judge)
                    if hint:
                        failed.message += f"\nLikely mistake: {hint}"
                return failed
            finally:
                judge.hiding = False
    verdict.passed, verdict.score = True, test.points
    return verdict


def _failed(verdict: Verdict, part: str, exc: BaseException, judge: Judgement) -> Verdict:
    verdict.part = part
    verdict.error = type(exc).__name__
    msg = str(exc)
    if part == "visible":
        verdict.message = msg
        verdict.traceback = getattr(exc, "__grader_tb__", "")
        if not verdict.traceback:  # a check caught the student's exception and said it in words
            for tb in judge.student_tracebacks.values():
                if tb and type(exc).__name__ in tb:
                    verdict.traceback = tb
                    break
    else:
        verdict.message = scrub(msg)
    return verdict
