"""report.html: one self-contained page (inline CSS, pictures as data: URIs) that opens from
disk in any browser, with no network and no scripts.

The page is a Jinja2 template with autoescaping on: every string from the run (concepts,
prompts, narration, error messages) is text, never markup.
"""

from __future__ import annotations

import base64
import time
from io import BytesIO
from pathlib import Path

from videofactory.planning.choose import planner_text
from videofactory.report.data import RunReport
from videofactory.report.timeline import KIND_COLOURS
from videofactory.vocabulary import GPU_KINDS

__all__ = ["render_page", "thumbnail_uri"]

#: Keyframe thumbnails: at most this wide (JPEG, inlined).
THUMB_WIDTH = 192

CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       "Liberation Sans", "DejaVu Sans", system-ui, sans-serif;
       color: var(--ink); background: var(--bg); margin: 0; padding: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: white; border: 1px solid var(--line); border-radius: 6px;
        padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 18px; }
.card span { color: var(--muted); font-size: 12px; }
.state-done, .state-rendered { color: #1f7a36; }
.state-failed, .state-cancelled, .state-stopped { color: #b3261e; }
img.timeline { width: 100%; max-width: 1320px; background: white;
               border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; background: white; width: 100%; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left;
         vertical-align: top; }
th { background: #eef0f4; font-weight: 600; font-size: 13px; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { background: #e3e6ec; height: 10px; width: 140px; border-radius: 3px; }
.bar i { display: block; height: 10px; background: #2a9fc4; border-radius: 3px; }
td.text { min-width: 180px; }
img.thumb { width: 160px; border-radius: 4px; display: block; }
.kind { display: inline-block; padding: 0 6px; border-radius: 3px; color: white;
        font-size: 12px; }
.hero { color: #8a6400; font-weight: 600; }
.bad { color: #b3261e; }
.muted { color: var(--muted); }
pre.err { white-space: pre-wrap; margin: 0; font-size: 12px; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>videofactory run {{ run.id }}</title>
<style>{{ css|safe }}</style></head>
<body>
<h1>{{ run.concept }}</h1>
<p class="sub">run <b>{{ run.id }}</b> ·
 <span class="state-{{ run.state }}">{{ run.state }}</span> ·
 {{ "%g"|format(run.duration) }} s planned · {{ created }}
 {% if simulated %}· <b>simulated farm</b> (the videofactory simulator, not GPUs){% endif %}</p>
<p class="sub">planned by <b>{{ planner }}</b></p>
{% if run.error %}<p class="bad"><b>error:</b> {{ run.error }}</p>{% endif %}
<div class="cards">
 <div class="card"><b>{{ "%.1f"|format(r.span_s) }} s</b><span>wall time</span></div>
 <div class="card"><b>{{ r.shots|length }}</b><span>shots</span></div>
 <div class="card"><b>{{ attempts }}</b><span>GPU attempts</span></div>
 <div class="card"><b class="{{ 'bad' if r.failed_attempts else '' }}">{{ r.failed_attempts }}
   </b><span>failed attempts</span></div>
 <div class="card"><b>{{ "%.0f"|format(mean_util * 100) }} %</b><span>mean GPU use</span></div>
 {% if media %}<div class="card"><b>{{ "%.2f"|format(media.duration_s) }} s</b>
   <span>{{ media.width }}x{{ media.height }} {{ "%g"|format(media.fps or 0) }} fps
   {{ media.video_codec }}+{{ media.audio_codec }}</span></div>{% endif %}
</div>
{% if final %}<p>final video: <a href="{{ final }}">{{ final }}</a></p>{% endif %}
{% if r.voice %}<p class="voice">narration: spoken by <b>{{ r.voice.voice }}</b>
 {% if r.voice.fell_back %}<span class="bad">for the whole film, as the fallback</span>:
 {{ r.voice.why }}{% if r.voice.respoken %} ({{ r.voice.respoken }} shot(s) spoken again so
 that the film has one voice){% endif %}{% else %}({{ r.voice.why }}){% endif %}</p>{% endif %}

<h2>Timeline</h2>
<img class="timeline" src="{{ timeline_uri }}" alt="per-GPU timeline of every attempt">

<h2>Utilisation per GPU</h2>
<table><tr><th>lane</th><th>card</th><th>role</th><th>busy</th><th></th><th>busy s</th>
<th>idle s</th><th>jobs</th><th>failed</th></tr>
{% for l in r.lanes %}<tr><td><b>{{ l.id }}</b></td><td>{{ l.card }}</td>
<td>{{ l.roles|join("/") }}</td><td class="num">{{ "%.0f"|format(l.utilisation * 100) }} %</td>
<td><div class="bar"><i style="width: {{ "%.0f"|format(l.utilisation * 100) }}%"></i></div></td>
<td class="num">{{ "%.1f"|format(l.busy_s) }}</td><td class="num">{{ "%.1f"|format(l.idle_s) }}</td>
<td class="num">{{ l.jobs }}</td>
<td class="num {{ 'bad' if l.failed else '' }}">{{ l.failed }}</td></tr>{% endfor %}
</table>

{% if r.look %}<h2>Look</h2>
<p class="muted">The references made before the keyframes: each keyframe is an edit of them
where its worker can make one, so the character and the place look the same in every shot.</p>
<table><tr><th>picture</th><th>look</th><th>from</th></tr>
{% for l in r.look %}<tr><td><b>{{ l.name }}</b></td>
<td>{% if look_thumbs.get(l.name) %}<img class="thumb" src="{{ look_thumbs[l.name] }}"
 alt="look {{ l.name }}">{% else %}<span class="muted">none</span>{% endif %}</td>
<td>{% if l.given %}your picture<br><span class="muted">{{ l.picture }}</span>{% else %}made on
 {{ l.worker or "-" }}{% endif %}</td></tr>{% endfor %}
</table>
{% endif %}

<h2>Shots</h2>
<table><tr><th>shot</th><th>keyframe</th><th>prompt</th><th>narration</th><th>s</th>
<th>camera</th><th>rendered on</th><th>attempts</th></tr>
{% for s in r.shots %}<tr>
<td><b>{{ s.id }}</b>{% if s.hero %}<br><span class="hero">hero</span>{% endif %}
 {% if s.hero_missing %}<br><span class="bad">no hero pass:</span>
 <span class="muted">{{ s.hero_missing }}</span>{% endif %}
 <br><span class="muted">{{ s.shot_type }}</span></td>
<td>{% if thumbs.get(s.id) %}<img class="thumb" src="{{ thumbs[s.id] }}" alt="keyframe {{ s.id }}">
 {% else %}<span class="muted">none</span>{% endif %}</td>
<td>{{ s.prompt }}</td>
<td class="text">{{ s.narration }}{% if engines.get(s.id) %}<br><span class="muted">spoken by
 {{ engines[s.id] }}</span>{% endif %}</td>
<td class="num">{{ "%g"|format(s.duration) }}</td><td>{{ s.camera }}</td>
<td>{% for kind, w in s.workers.items() %}<span class="kind"
 style="background: {{ colours.get(kind, '#777') }}">{{ kind }}</span> {{ w }}<br>{% endfor %}</td>
<td class="num {{ 'bad' if s.attempts > s.workers|length else '' }}">{{ s.attempts }}</td>
</tr>{% endfor %}
</table>

<h2>Timings</h2>
<table><tr><th>task kind</th><th>finished</th><th>total s</th><th>mean s</th><th>min s</th>
<th>max s</th></tr>
{% for t in r.timings %}<tr><td><span class="kind" style="background:
 {{ colours.get(t.kind, '#777') }}">{{ t.kind }}</span></td><td class="num">{{ t.count }}</td>
<td class="num">{{ "%.2f"|format(t.total_s) }}</td>
<td class="num">{{ "%.2f"|format(t.mean_s) }}</td>
<td class="num">{{ "%.2f"|format(t.min_s) }}</td><td class="num">{{ "%.2f"|format(t.max_s) }}</td>
</tr>{% endfor %}
</table>

<h2>Retries, outages and warnings</h2>
{% if r.notices %}<table><tr><th>at s</th><th>what</th><th>where</th><th>why</th>
<th>then</th></tr>
{% for n in r.notices %}<tr><td class="num">{{ "%.1f"|format(n.at) }}</td>
<td class="{{ 'bad' if n.kind in bad_kinds else '' }}">{{ n.kind }}</td>
<td>{{ n.worker or "" }}</td><td><pre class="err">{{ n.message }}</pre></td>
<td>{{ (n.action or "")|replace("_", " ") }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">Nothing was retried: every attempt worked the first time.</p>
{% endif %}
<footer>videofactory run report · written {{ written }} · timeline.png beside this file</footer>
</body></html>
"""


def render_page(report: RunReport, timeline_png: bytes, *, now: float) -> str:
    """The report page as one HTML string."""
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    gpu = [lane for lane in report.lanes if lane.roles or lane.card != "CPU"]
    run = report.run
    final = run.get("final_path")
    return env.from_string(TEMPLATE).render(
        css=CSS,
        r=report,
        run=run,
        created=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["created_at"])),
        written=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
        simulated=bool(run.get("farm", {}).get("simulated")),
        attempts=sum(1 for b in report.bars if b.kind in GPU_KINDS),
        mean_util=sum(lane.utilisation for lane in gpu) / len(gpu) if gpu else 0.0,
        media=report.final_media,
        final=Path(final).name if final else None,
        timeline_uri=data_uri(timeline_png, "image/png"),
        thumbs={s.id: thumbnail_uri(s.keyframe) for s in report.shots if s.keyframe},
        look_thumbs={lk.name: thumbnail_uri(lk.picture) for lk in report.look if lk.picture},
        engines=report.speech_engines,
        colours=KIND_COLOURS,
        planner=planner_text(report.planner) if report.planner else "rules",
        bad_kinds={
            "task_failed",
            "worker_down",
            "run_failed",
            "run_cancelled",
            "task_lost",
            "hero_skipped",
        },
    )


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def thumbnail_uri(path: Path | None) -> str | None:
    """A small JPEG of a picture as a data: URI (None when it cannot be read)."""
    from PIL import Image, UnidentifiedImageError

    if path is None:
        return None
    try:
        with Image.open(path) as img:
            img.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
            buf = BytesIO()
            img.convert("RGB").save(buf, format="JPEG", quality=82)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return data_uri(buf.getvalue(), "image/jpeg")
