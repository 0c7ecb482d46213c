"""The grader's code inside the student's kernel: it only moves values in and out.

This file's source is sent to the kernel as the first cell of the run (see :func:`source`),
so everything lives inside ``_grader_setup`` and the student's namespace gains two names only:
``__grader_capture`` and ``__grader_call``. The student can tamper with them: nothing they
return is trusted. The grader reads the files they write with the limits of ``wire.Reader``.

- ``capture(out, key, names, ns)``: before a test cell, save the student's variables the test
  uses (``capture_<key>.json`` plus ``.npy`` files) and stash the functions it calls.
- ``call(calls, out, cid, ns)``: run one stashed function on the inputs the grader wrote into
  ``calls/`` (read-only here) and save its result (``result_<cid>.json``) into ``out/``.
"""


def _grader_setup():
    import json as _json
    import traceback as _tb
    import warnings as _w
    from pathlib import Path as _P

    import numpy as _np

    max_string, max_items, max_array = 5000, 100_000, 256 * 2**20

    def enc(v, d, prefix, n, depth=0):
        if depth > 20:
            return {"t": "opaque", "type": "deeply nested value"}
        if v is None or type(v) in (bool, int, float, str):
            if type(v) is str:
                v = v[:max_string]
            if type(v) is int and abs(v) > 2 ** 62:
                return {"t": "opaque", "type": "huge int"}
            return {"t": "py", "v": v}
        if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor
            try:
                v = v.detach().cpu().numpy()
            except Exception:
                pass
        if isinstance(v, (_np.ndarray, _np.generic)):
            a = _np.asarray(v)
            if a.dtype.kind not in "biufc" or a.nbytes > max_array:
                return {"t": "opaque", "type": "array of dtype %s" % a.dtype}
            name = "%s_%d.npy" % (prefix, n[0])
            n[0] += 1
            _np.save(d / name, a, allow_pickle=False)
            return {"t": "ndscalar" if isinstance(v, _np.generic) else "nd", "f": name}
        if type(v) in (list, tuple):
            if len(v) > max_items:
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

    def capture(out, key, names, ns):
        out = _P(out)
        found = {}
        stash = ns.setdefault("__grader_fns__", {}).setdefault(key, {})
        for name in names:
            if name not in ns:
                found[name] = {"kind": "undefined"}
            elif callable(ns[name]) and not isinstance(ns[name], type):
                stash[name] = ns[name]
                found[name] = {"kind": "function"}
            else:
                try:
                    found[name] = {"kind": "value",
                                   "value": enc(ns[name], out, "var_%s_%s" % (key, name), [0])}
                except Exception:
                    found[name] = {"kind": "value", "value": {"t": "opaque", "type": type(ns[name]).__name__}}
        (out / ("capture_%s.json" % key)).write_text(_json.dumps(found))

    def call(calls, out, cid, ns):
        calls, out = _P(calls), _P(out)
        spec = _json.loads((calls / ("call_%s.json" % cid)).read_text())
        fn = ns.get("__grader_fns__", {}).get(spec["stash"], {}).get(spec["fn"])
        res = {"warnings": []}
        if fn is None:
            res.update(status="error", exc={"name": "NameError", "mro": ["NameError"],
                                            "msg": "name %r is not defined" % spec["fn"], "tb": ""})
        else:
            args, kwargs = dec(spec["args"], calls), dec(spec["kwargs"], calls)
            with _w.catch_warnings(record=True) as caught:
                _w.simplefilter("always")
                try:
                    with _np.errstate(**spec["err"]):
                        value = fn(*args, **kwargs)
                    res.update(status="ok", value=enc(value, out, "out_%s" % cid, [0]))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    res.update(status="error", exc={
                        "name": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                        "msg": str(exc)[:2000], "tb": "".join(_tb.format_exception(exc))[-4000:]})
            res["warnings"] = [{"cat": w.category.__name__, "msg": str(w.message)[:500]}
                               for w in caught[:5]]
        (out / ("result_%s.json" % cid)).write_text(_json.dumps(res))

    def quiet_plots():
        # Figures are not graded: no window, no PNG, no "non-interactive backend" warning.
        import matplotlib
        matplotlib.use("agg")
        import matplotlib.pyplot as plt
        plt.show = lambda *a, **k: plt.close("all")
        _w.filterwarnings("ignore", message=".*non-interactive.*")

    quiet_plots()
    return capture, call


def source() -> str:
    """The first cell of every run: this setup, leaving only the two entry points behind."""
    import inspect

    return (inspect.getsource(_grader_setup)
            + "__grader_capture, __grader_call = _grader_setup()\ndel _grader_setup\n")


def capture_cell(out, key: str, names: list[str]) -> str:
    return f"__grader_capture({str(out)!r}, {key!r}, {names!r}, globals())"


def call_cell(calls, out, cids: list[str]) -> str:
    """One cell that answers several calls (each writes its own result)."""
    return (f"for __c in {list(cids)!r}:\n"
            f"    __grader_call({str(calls)!r}, {str(out)!r}, __c, globals())")
