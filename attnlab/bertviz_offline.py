"""BertViz's head view and model view, rendered with no internet.

Stock ``bertviz.head_view``/``model_view`` load require.js, d3 and jQuery from a
CDN: offline (a classroom, a blocked CDN) the output is only "Javascript Error:
require is not defined". These functions take the same arguments, let BertViz
build its data as usual, and then rewrite its output so that it needs nothing
from the network:

* the ``<script src=...require.js>`` tag and the ``require.config`` paths are
  dropped, and the ``requirejs([...], function ($, d3) {...})`` wrapper of
  BertViz's own ``head_view.js``/``model_view.js`` (read from the installed
  ``bertviz`` package) becomes a plain call of that function;
* d3 v5 (``mpld3/js/d3.v5.min.js``, from the ``mpld3`` package) and jQuery
  (``xstatic/pkg/jquery/data/jquery.min.js``, from ``xstatic-jquery``) are read
  from the installed packages at run time and inlined. They are loaded once per
  page into ``window.attnlabBertviz`` (``.d3``, ``.jQuery``), not into the
  page's ``$``/``d3``, so nothing else on the page is disturbed.

The views need a front end that runs the scripts of trusted HTML output
(JupyterLab, Jupyter Notebook, VS Code). Static renderers (GitHub, nbviewer,
PDF) show no script output: use :func:`attnlab.plots.attention_grid` there.

Markup, for tests and styling (see tests/test_browser.py):

* root: ``div.attnlab-bertviz`` with ``data-view="head"`` or ``"model"`` (and
  ``data-layers``, ``data-heads``, ``data-tokens``);
* the picture: ``div.attnlab-bertviz svg`` (BertViz draws it into ``#vis``);
* head view tokens: ``svg g#left text`` and ``svg g#right text`` (one per token);
  layer drop-down ``select#layer``; attention lines ``svg g#attention line``;
* model view: one thumbnail per (layer, head); clicking one draws the detail
  panel whose tokens are ``svg text.token``.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import uuid
from functools import lru_cache
from importlib import resources
from typing import Sequence

import numpy as np

__all__ = ["head_view", "model_view", "library_js", "offline_view_js"]

# Where the JavaScript libraries come from: (package, file inside it).
D3_SOURCE = ("mpld3", "js/d3.v5.min.js")
JQUERY_SOURCE = ("xstatic.pkg.jquery", "data/jquery.min.js")

_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
_REQUIREJS_CALL = re.compile(
    r"requirejs\(\[\s*['\"]jquery['\"]\s*,\s*['\"]d3['\"]\s*\]\s*,\s*function\s*\(\s*\$\s*,\s*d3\s*\)\s*\{")
_PARAMS = re.compile(r"const params = (\{.*\}); // HACK")


class OfflineViewError(RuntimeError):
    """The installed bertviz or library files are not what this module knows how to rewrite."""


def _read_package_file(package: str, path: str) -> str:
    try:
        return (resources.files(package) / path).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise OfflineViewError(
            f"{path} from the Python package {package!r} is missing ({exc.__class__.__name__}); "
            "install the course requirements: pip install -r requirements.txt") from None


@lru_cache(maxsize=None)
def library_js() -> dict[str, str]:
    """The JavaScript of d3 v5 and jQuery, read from the installed pip packages."""
    d3 = _read_package_file(*D3_SOURCE)
    jquery = _read_package_file(*JQUERY_SOURCE)
    if 'version="5.' not in d3:
        raise OfflineViewError(f"{D3_SOURCE} is not d3 version 5, which BertViz needs")
    for name, code in (("d3", d3), ("jQuery", jquery)):
        if "</script" in code.lower():
            raise OfflineViewError(f"the {name} code contains '</script' and cannot be inlined")
    return {"d3": d3, "jquery": jquery}


@lru_cache(maxsize=None)
def offline_view_js(view: str) -> str:
    """BertViz's ``<view>_view.js`` with its require.js wrapper turned into a plain function.

    The result is ``function ($, d3) { ...BertViz's code... }`` with the marker
    ``PYTHON_PARAMS`` still in it.
    """
    source = _read_package_file("bertviz", f"{view}_view.js")
    body, n_config = _REQUIRE_CONFIG.subn("", source, count=1)
    body, n_call = _REQUIREJS_CALL.subn("function ($, d3) {", body, count=1)
    end = body.rstrip().rfind("});")
    if n_config != 1 or n_call != 1 or end < 0 or "PYTHON_PARAMS" not in body:
        raise OfflineViewError(f"bertviz's {view}_view.js does not have the require.js wrapper this "
                               "module rewrites; is bertviz the version pinned in requirements.txt?")
    return body[:end] + "}"


def _as_layers(attention, decimals: int | None):
    """Per-layer torch tensors ``(1, heads, n_q, n_k)`` in float64, as bertviz expects.

    Accepts what ``model(..., output_attentions=True).attentions`` gives (a tuple
    of ``(1, h, n, n)`` tensors), NumPy arrays of ``(h, n, n)`` per layer, or one
    array ``(layers, h, n, n)``. Values are rounded to ``decimals`` places to keep
    the page small (``None``: no rounding).
    """
    import torch

    if attention is None:
        return None
    if hasattr(attention, "detach"):
        attention = attention.detach().cpu().numpy()
    if isinstance(attention, np.ndarray):
        if attention.ndim == 5 and attention.shape[1] == 1:
            attention = attention[:, 0]
        if attention.ndim != 4:
            raise ValueError("attention as one array must have shape (layers, heads, n_q, n_k), "
                             f"got {attention.shape}")
    layers = []
    for i, layer in enumerate(attention):
        a = np.asarray(layer.detach().cpu().numpy() if hasattr(layer, "detach") else layer,
                       dtype=np.float64)
        if a.ndim == 4:
            if a.shape[0] != 1:
                raise ValueError(f"layer {i} has a batch of {a.shape[0]}; show one sentence at a time "
                                 "(e.g. attention[:, 0] or [a[:1] for a in attentions])")
            a = a[0]
        if a.ndim != 3:
            raise ValueError(f"layer {i}: expected (heads, n_q, n_k) or (1, heads, n_q, n_k), got {a.shape}")
        if decimals is not None:
            a = np.round(a, decimals) + 0.0  # + 0.0: no "-0.0" in the page
        layers.append(torch.from_numpy(a)[None])
    return layers


def _render(bertviz_fn, view: str, html_action: str, decimals: int | None, **kwargs):
    for key in ("attention", "encoder_attention", "decoder_attention", "cross_attention"):
        kwargs[key] = _as_layers(kwargs.get(key), decimals)
    for key in ("tokens", "encoder_tokens", "decoder_tokens"):
        if kwargs.get(key) is not None:
            kwargs[key] = [str(t) for t in kwargs[key]]
    if html_action not in ("view", "return"):
        raise ValueError("'html_action' must be 'view' or 'return'")
    stock = bertviz_fn(html_action="return", **kwargs).data
    match = _PARAMS.search(stock)
    vis_start = stock.find("<div id=\"bertviz-")
    vis_end = stock.find('<script type="text/javascript">', vis_start)
    if match is None or vis_start < 0 or vis_end < 0:
        raise OfflineViewError("bertviz's HTML does not look as expected; is bertviz the version "
                               "pinned in requirements.txt?")
    params = json.loads(match.group(1))
    vis_html = stock[vis_start:vis_end].strip()
    page = _page(view, vis_html, params)
    from IPython.display import HTML, display

    out = HTML(page)
    if html_action == "return":
        return out
    display(out)
    return None


def _safe_json(obj) -> str:
    # "</script>" inside a token must not end the script element.
    return json.dumps(obj).replace("</", "<\\/").replace("<!--", "<\\!--")


def _page(view: str, vis_html: str, params: dict) -> str:
    libs = library_js()
    first = params["attention"][0]
    attn = first["attn"]
    tokens = first["left_text"]
    attrs = {
        "class": "attnlab-bertviz",
        "id": f"attnlab-bertviz-{uuid.uuid4().hex}",
        "data-view": view,
        "data-layers": len(attn),
        "data-heads": len(attn[0]) if attn else 0,
        "data-tokens": len(tokens),
    }
    attr_text = " ".join(f'{k}="{html_lib.escape(str(v), quote=True)}"' for k, v in attrs.items())
    body = offline_view_js(view).replace("PYTHON_PARAMS", _safe_json(params))
    script = f"""(function () {{
  // Libraries from pip packages (d3 v5: mpld3; jQuery: xstatic-jquery), loaded once per page,
  // out of the way of any other d3 or $ (define/exports/module hidden: no AMD/CommonJS path).
  var libs = window.attnlabBertviz = window.attnlabBertviz || {{}};
  if (!libs.d3) {{
    (function (define, exports, module) {{
{libs['d3']}
    }}).call(libs);
  }}
  if (!libs.jQuery) {{
    (function (define, exports, module) {{
{libs['jquery']}
    }}).call(window);
    libs.jQuery = window.jQuery.noConflict(true);
  }}
  // BertViz's {view}_view.js, its require.js wrapper replaced by a direct call.
  ({body})(libs.jQuery, libs.d3);
}})();"""
    return (f"<div {attr_text}>\n{vis_html}\n<script type=\"text/javascript\">\n{script}\n</script>\n</div>")


def head_view(attention=None, tokens: Sequence[str] | None = None, sentence_b_start: int | None = None,
              prettify_tokens: bool = True, layer: int | None = None, heads: Sequence[int] | None = None,
              encoder_attention=None, decoder_attention=None, cross_attention=None,
              encoder_tokens=None, decoder_tokens=None, include_layers: Sequence[int] | None = None,
              html_action: str = "view", *, decimals: int | None = 5):
    """BertViz's head view, offline. Same arguments as ``bertviz.head_view``.

    ``attention``: the model's ``output_attentions`` for ONE sentence (a tuple of
    ``(1, heads, n, n)`` tensors), or a NumPy array ``(layers, heads, n, n)``.
    ``tokens``: the token strings; ``sentence_b_start``: index of the first token
    of sentence B for a pair. ``layer``/``heads``: what is selected at first.
    ``html_action="view"`` displays the view; ``"return"`` returns the
    ``IPython.display.HTML`` instead. ``decimals``: weights are rounded to this
    many places in the page (``None`` keeps every digit).
    """
    from bertviz import head_view as stock

    return _render(stock, "head", html_action, decimals, attention=attention, tokens=tokens,
                   sentence_b_start=sentence_b_start, prettify_tokens=prettify_tokens, layer=layer,
                   heads=None if heads is None else list(heads), encoder_attention=encoder_attention,
                   decoder_attention=decoder_attention, cross_attention=cross_attention,
                   encoder_tokens=encoder_tokens, decoder_tokens=decoder_tokens,
                   include_layers=None if include_layers is None else list(include_layers))


def model_view(attention=None, tokens: Sequence[str] | None = None, sentence_b_start: int | None = None,
               prettify_tokens: bool = True, display_mode: str = "dark", encoder_attention=None,
               decoder_attention=None, cross_attention=None, encoder_tokens=None, decoder_tokens=None,
               include_layers: Sequence[int] | None = None, include_heads: Sequence[int] | None = None,
               html_action: str = "view", *, decimals: int | None = 5):
    """BertViz's model view (every layer x every head), offline. Same arguments as
    ``bertviz.model_view``; see :func:`head_view` for ``attention``, ``html_action``
    and ``decimals``. Click a thumbnail to see that head in detail.
    """
    from bertviz import model_view as stock

    return _render(stock, "model", html_action, decimals, attention=attention, tokens=tokens,
                   sentence_b_start=sentence_b_start, prettify_tokens=prettify_tokens,
                   display_mode=display_mode, encoder_attention=encoder_attention,
                   decoder_attention=decoder_attention, cross_attention=cross_attention,
                   encoder_tokens=encoder_tokens, decoder_tokens=decoder_tokens,
                   include_layers=None if include_layers is None else list(include_layers),
                   include_heads=None if include_heads is None else list(include_heads))
