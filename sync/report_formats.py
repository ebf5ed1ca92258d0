"""Render a run report as text, JSON, CSV or HTML (SPEC §4, §6).

CSV and HTML carry values from the sources: CSV cells that a spreadsheet would run as a
formula (``=``, ``+``, ``-``, ``@``, tab, CR) are prefixed with ``'``; HTML is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable

from sync.report import RunResult, report_dict, text_summary_lines

FORMATS = ("text", "json", "csv", "html")


def render(result: RunResult, fmt: str) -> str:
    renderers: dict[str, Callable[[RunResult], str]] = {
        "text": render_text, "json": render_json, "csv": render_csv, "html": render_html,
    }
    return renderers[fmt](result)


def format_for_path(path: str) -> str:
    """``--report FILE``: the format follows the extension; unknown extensions get JSON."""
    lower = path.lower()
    for fmt, ext in (("csv", ".csv"), ("html", ".html"), ("html", ".htm"), ("text", ".txt")):
        if lower.endswith(ext):
            return fmt
    return "json"


def render_json(result: RunResult) -> str:
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False) + "\n"


def _row_text(entry: dict) -> str:
    action, key = entry["action"], entry["key"]
    src = f"  [{entry['source']}]" if "source" in entry else ""
    if action == "create":
        f = entry["fields"]
        who = " ".join(str(f[k]) for k in ("firstname", "lastname") if f.get(k))
        bits = [who] if who else []
        if f.get("email"):
            bits.append(f"<{f['email']}>")
        if f.get("loginname"):
            bits.append(f"login {f['loginname']}")
        if "status" in f:
            bits.append(f"status {f['status']}")
        return f"  + create  {key}  {' '.join(bits)}{src}"
    if action == "update":
        parts = []
        for name, change in entry["changes"].items():
            if name == "extra":
                parts += [f"extra.{n}: {_show(c['old'])} -> {_show(c['new'])}" for n, c in change.items()]
            else:
                parts.append(f"{name}: {_show(change['old'])} -> {_show(change['new'])}")
        return f"  ~ update  {key}  {'; '.join(parts)}{src}"
    sign = {"enable": "^", "disable": "-"}.get(action, "?")
    return f"  {sign} {action:<7} {key}{src}"


def _show(value) -> str:
    return "(none)" if value in (None, "") else repr(value) if isinstance(value, str) else str(value)


def render_text(result: RunResult) -> str:
    d = report_dict(result, change_sources=True)
    out = io.StringIO()
    title = {"plan": "Plan (dry run: nothing was changed)"}.get(d["mode"], f"Run: {d['mode']}")
    out.write(f"{title}, {d['started_at']}\n")
    for s in d["sources"]:
        out.write(f"source {s['name']}: {s['rows']} rows read, {s['rejected']} rejected\n")
    if d["changes"]:
        out.write("\nChanges:\n")
        for entry in d["changes"]:
            out.write(_row_text(entry) + "\n")
    else:
        out.write("\nNo changes: Chamilo is up to date with the sources.\n")
    if d["rejected"]:
        out.write("\nRejected rows (not sent; their users are left as they are):\n")
        for r in d["rejected"]:
            where = f"line {r['line']}" if "line" in r else f"dn {r['dn']}"
            out.write(f"  {r['source']} {where}: key {r['key']!r}, {r['field']}: {r['reason']}\n")
    failed = [o for o in d.get("outcomes", []) if o["status"] != "applied"]
    if failed:
        out.write("\nNot applied:\n")
        for o in failed:
            out.write(f"  {o['status']}: {o['action']} {o['key']}: {o['message']}\n")
    for note in result.notes:
        out.write(f"\n{note}\n")
    out.write("\n" + "\n".join(text_summary_lines(result)) + "\n")
    return out.getvalue()


def _cell(value) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def render_csv(result: RunResult) -> str:
    """One row per change, rejected row and outcome: kind, action, key, source, field, old,
    new, status, detail."""
    d = report_dict(result, change_sources=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["kind", "action", "key", "source", "field", "old", "new", "status", "detail"])
    for c in d["changes"]:
        src = c.get("source", "")
        if c["action"] == "create":
            for name, value in _flat(c["fields"]).items():
                w.writerow(map(_cell, ["change", "create", c["key"], src, name, "", value, "", ""]))
        elif c["action"] == "update":
            for name, ch in _flat(c["changes"]).items():
                w.writerow(map(_cell, ["change", "update", c["key"], src, name, ch["old"], ch["new"], "", ""]))
        else:
            w.writerow(map(_cell, ["change", c["action"], c["key"], src, "", "", "", "", ""]))
    for r in d["rejected"]:
        where = f"line {r['line']}" if "line" in r else r["dn"]
        w.writerow(map(_cell, ["rejected", "", r["key"], r["source"], r["field"], "", "", "rejected",
                               f"{where}: {r['reason']}"]))
    for o in d.get("outcomes", []):
        w.writerow(map(_cell, ["outcome", o["action"], o["key"], "", "", "", o["chamilo_user_id"],
                               o["status"], o["message"]]))
    return buf.getvalue()


def _flat(values: dict) -> dict:
    """Fields then ``extra.<name>`` entries, from the report's nested shape."""
    flat = {k: v for k, v in values.items() if k != "extra"}
    flat.update({f"extra.{k}": v for k, v in values.get("extra", {}).items()})
    return flat


def render_html(result: RunResult) -> str:
    d = report_dict(result, change_sources=True)
    e = html.escape
    s = d["summary"]
    rows = []
    for c in d["changes"]:
        if c["action"] == "create":
            fields = _flat(c["fields"])
            detail = ", ".join(f"{k}={v}" for k, v in fields.items())
        elif c["action"] == "update":
            detail = "; ".join(f"{k}: {v.get('old')} → {v.get('new')}"
                               for k, v in _flat(c["changes"]).items())
        else:
            detail = ""
        rows.append(f"<tr class='{e(c['action'])}'><td>{e(c['action'])}</td><td>{e(c['key'])}</td>"
                    f"<td>{e(c.get('source', ''))}</td><td>{e(detail)}</td></tr>")
    rejected = [f"<tr><td>{e(r['source'])}</td><td>{e(str(r.get('line', r.get('dn'))))}</td>"
                f"<td>{e(r['key'])}</td><td>{e(r['field'])}</td><td>{e(r['reason'])}</td></tr>"
                for r in d["rejected"]]
    outcomes = [f"<tr class='{e(o['status'])}'><td>{e(o['action'])}</td><td>{e(o['key'])}</td>"
                f"<td>{e(o['status'])}</td><td>{e(str(o['chamilo_user_id'] or ''))}</td>"
                f"<td>{e(o['message'])}</td></tr>" for o in d.get("outcomes", [])]
    summary = " · ".join(f"{e(k)}: {v}" for k, v in s.items())
    outcomes_table = (
        "<h2>Outcomes</h2><table><tr><th>action</th><th>key</th><th>status</th>"
        f"<th>Chamilo id</th><th>message</th></tr>\n{''.join(outcomes)}</table>\n"
        if result.applied else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chamilo-sync {e(d['mode'])} report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}.failed,.disable{{color:#a00}}
.create{{color:#060}}</style></head><body>
<h1>chamilo-sync: {e(d['mode'])}</h1>
<p>{e(d['started_at'])} – {e(d['finished_at'])}</p>
<p>{summary}</p>
<h2>Changes</h2><table><tr><th>action</th><th>key</th><th>source</th><th>detail</th></tr>
{''.join(rows)}</table>
<h2>Rejected rows</h2><table><tr><th>source</th><th>line / DN</th><th>key</th><th>field</th><th>reason</th></tr>
{''.join(rejected)}</table>
{outcomes_table}</body></html>
"""
