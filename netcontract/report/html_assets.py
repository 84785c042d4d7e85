"""The HTML page's one style sheet and one script (report/html.py inlines both; its CSP allows them by hash).

Colours from the Okabe-Ito palette, which colour-blind readers tell apart; every state also has its own
symbol (✓ · ~ ✗ ! ?), so nothing depends on colour alone. The script only filters what the page
already shows: it reads no data from anywhere and sends nothing.
"""

from __future__ import annotations

CSS = """
:root{--pass:#007a56;--fail:#c24a00;--error:#9a6a00;--skip:#666;--flow:#3b6ea5}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1280px;padding:0 14px 40px;
color:#1b1b1b;background:#fff}
h1{font-size:1.4em;margin:.6em 0 .2em}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1em 0 .3em}h4{font-size:.95em;margin:.6em 0 .2em}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9em;overflow-wrap:anywhere}
pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;max-height:16em;overflow:auto}
a{color:#0b5cad}
.verdict{font-size:1.15em;font-weight:bold;padding:6px 10px;border-radius:6px;display:inline-block}
.verdict.ok{background:#d9f2e8;color:var(--pass)}.verdict.bad{background:#fbe3d6;color:var(--fail)}
.verdict.warn{background:#fbf0cc;color:var(--error)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:0 12px;margin:.5em 0}
.facts dt{color:#555}.facts dd{margin:0;overflow-wrap:anywhere}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #eee;z-index:2}
form fieldset{border:1px solid #ccc;border-radius:6px;display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
form select{max-width:14em}.verdicts label{margin-right:8px;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table.matrix{border-collapse:collapse;font-size:12px}
.matrix th,.matrix td{border:1px solid #ddd;padding:0}
.matrix thead th{min-width:1.8em;text-align:center;font-weight:normal;color:#555}
.matrix tbody th{text-align:left;padding:0 8px 0 4px;white-space:nowrap;font-weight:normal;position:sticky;left:0;
background:#fff;max-width:16em;overflow:hidden;text-overflow:ellipsis}
.matrix td{text-align:center;width:1.8em;height:1.8em}
.matrix td a{display:block;line-height:1.8em;text-decoration:none;color:inherit}
.ma{background:#d4f0e4;color:var(--pass)}.mb{background:#ececec;color:#555}
.mm{background:#d5e9f7;color:#005a8c}.md{background:#d55e00;color:#fff;font-weight:bold}
.me{background:#f0e442;color:#000;font-weight:bold}.ms{background:#fff;color:#777}
.m0{color:#bbb}.off{opacity:.15}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:.9em}
.sw{display:inline-block;width:1.6em;text-align:center;border:1px solid #ccc}
.key{display:inline-block;min-width:2.2em;font-weight:bold}.key.flow{color:var(--flow)}.key.member{color:#8c8c8c}
.key.never,.key.fail{color:#d62728}.key.error{color:#e08a00}.key.internal{color:#a86400}
#tier-graph{display:block;max-width:none}
#tier-graph .edge a:hover path,#tier-graph .edge a:focus path{stroke-width:5}
.card{border:1px solid #ddd;border-left:6px solid var(--fail);border-radius:4px;padding:4px 12px;margin:10px 0}
.card[class^=E]{border-left-color:#e69f00}.card h3{margin:.4em 0}
.badge{padding:1px 6px;border-radius:4px;color:#fff;white-space:nowrap}.bF{background:var(--fail)}
.bE{background:#e69f00;color:#000}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.4em 0}.kv dt{color:#555}
.kv dd{margin:0;overflow-wrap:anywhere}.links{font-size:.9em}
.grp ul{list-style:none;margin:0;padding:0 0 0 8px}.grp li{overflow-wrap:anywhere}
.pairs>li{margin:2px 0}.pairs>li>b{font-weight:600}.pairs>li>b::before{content:"→ "}
.pairs i{font-style:normal;display:inline-block;margin:0 0 0 14px}
.grp:target,.card:target,li:target,i:target{outline:3px solid #56b4e9}
.its>li::before,.pairs i::before{display:inline-block;width:1.2em;text-align:center;font-weight:bold}
.its>li[class^=P]::before,.pairs i[class^=P]::before{content:"✓";color:var(--pass)}
.its>li[class^=F]::before,.pairs i[class^=F]::before{content:"✗";color:var(--fail)}
.its>li[class^=E]::before,.pairs i[class^=E]::before{content:"!";color:var(--error)}
.its>li[class^=S]::before,.pairs i[class^=S]::before{content:"?";color:var(--skip)}
li[class^=F],li[class^=E],i[class^=F],i[class^=E]{background:#fff4ec}.d{color:#555;font-size:.9em}
[hidden]{display:none!important}
@media (max-width:600px){body{font-size:14px;padding:0 8px 30px}.facts,.kv{grid-template-columns:1fr}
.kv dt{font-weight:bold;margin-top:4px}form select{max-width:100%}}
"""

JS = """
(function () {
  var form = document.getElementById('filters');
  if (!form) { return; }
  form.hidden = false;
  var VERDICT = {ma: 'P', mb: 'P', mm: 'P', md: 'F', me: 'E', ms: 'S'};
  var cols = Array.prototype.map.call(document.querySelectorAll('.matrix thead th[data-s]'),
    function (th) { return th.getAttribute('data-s'); });
  function about(el, s) {
    if (el.classList.contains(s)) { return true; }
    var pair = el.closest('.pairs > li'), grp = el.closest('.grp');
    var m = pair && pair.id.match(/^p(\\d+)-(\\d+)$/);
    if (m && ('s' + m[1] === s || 's' + m[2] === s)) { return true; }
    return Boolean(pair && grp && grp.id === s);
  }
  function apply() {
    var verdicts = {};
    form.querySelectorAll('input[name=v]').forEach(function (c) { if (c.checked) { verdicts[c.value] = true; } });
    var s = form.elements.s.value, t = form.elements.t.value, k = form.elements.k.value;
    var shown = 0, total = 0;
    document.querySelectorAll('.its > li, .pairs i, .card').forEach(function (el) {
      var vk = el.classList[0] || '';
      var ok = Boolean(verdicts[vk.charAt(0)]) && (!s || about(el, s)) && (!t || el.classList.contains(t)) &&
        (!k || vk.slice(1) === k);
      el.hidden = !ok;
      if (!el.classList.contains('card')) { total += 1; if (ok) { shown += 1; } }
    });
    document.querySelectorAll('.pairs > li, .grp').forEach(function (g) {
      g.hidden = g.querySelector('.its > li:not([hidden]), i:not([hidden])') === null;
    });
    document.querySelectorAll('.matrix tbody tr').forEach(function (tr) {
      var row = tr.getAttribute('data-s');
      tr.querySelectorAll('td').forEach(function (td, j) {
        var v = VERDICT[td.classList[0]];
        var off = (s && row !== s && cols[j] !== s) || (v !== undefined && !verdicts[v]);
        td.classList.toggle('off', Boolean(off));
      });
    });
    document.getElementById('shown').textContent = 'showing ' + shown + ' of ' + total + ' lines';
  }
  form.addEventListener('change', apply);
  window.addEventListener('hashchange', function () {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (el && (el.hidden || el.closest('[hidden]'))) { form.reset(); apply(); el.scrollIntoView(); }
  });
  apply();
})();
"""
