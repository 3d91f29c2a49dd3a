// The single page berth-counter serves at GET /, compiled into the binary so the image needs
// no asset files. Plain HTML, CSS and JavaScript with no external requests. CounterApp
// replaces {{NODE}} and {{TASK}} (HTML-escaped) with the node and task that served the page.
//
// The page loads GET /v1/clicks and draws a whale at each click; a click anywhere draws a
// faint whale at once, POSTs it to /v1/clicks and turns it solid on 201 (the click is on
// disk) or removes it and shows the server's message. GET /v1/ping every second shows
// whether the app is up and which task answers; when that task changes (a failover) or the
// count differs from the server's, the page reloads the clicks.
#pragma once

#include <string_view>

namespace berth::counter {

inline constexpr std::string_view kCounterPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth-counter</title>
<style>
html, body { margin: 0; min-height: 100%; }
body { font: 14px system-ui, sans-serif; background: #e8f4fb; min-height: 100vh;
       position: relative; cursor: crosshair; user-select: none; }
#bar { position: fixed; top: 0; left: 0; right: 0; z-index: 2; cursor: default;
       display: flex; flex-wrap: wrap; gap: 18px; align-items: center;
       padding: 8px 14px; background: #0b3d5c; color: #fff; }
#status.down { color: #ffb3b3; }
#error { color: #ffd27f; }
#hint { position: fixed; bottom: 14px; width: 100%; text-align: center; color: #4a6b80;
        pointer-events: none; }
.whale { position: absolute; width: 44px; height: 30px; margin: -15px 0 0 -22px;
         pointer-events: none; }
.whale.pending { opacity: 0.35; }
.whale.new { animation: pop 0.45s ease-out; }
@keyframes pop { 0% { transform: scale(0.2); } 60% { transform: scale(1.3); }
                 100% { transform: scale(1); } }
</style>
</head>
<body>
<div id="bar">
  <b>berth-counter</b>
  <span>page served by node <b>{{NODE}}</b>, task <b>{{TASK}}</b></span>
  <span id="status">connecting&hellip;</span>
  <span><b id="count">0</b> clicks</span>
  <span id="error"></span>
</div>
<div id="marks"></div>
<div id="hint">Click anywhere to add a whale. It turns solid once it is stored on disk.</div>
<script>
"use strict";
var WHALE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 44 30" width="44" height="30">' +
  '<path d="M4 16c0 7 7 11 17 11s17-5 17-12c0-2-1-3-3-3H8c-2 0-4 1-4 4z" fill="#1d91d0"/>' +
  '<path d="M35 13l7-7-1 9z" fill="#1d91d0"/>' +
  '<circle cx="11" cy="18" r="1.7" fill="#fff"/>' +
  '<path d="M20 10c0-3 1-5 3-7M20 10c0-3-1-5-3-7" stroke="#1d91d0" stroke-width="1.5" fill="none"/>' +
  '</svg>';
var marks = document.getElementById("marks");
var count = 0, pending = 0, lastTask = null;

function setText(id, text) { document.getElementById(id).textContent = text; }
function setCount(n) { count = n; setText("count", String(n)); }

function draw(click, extraClass) {
  var el = document.createElement("div");
  el.className = "whale" + (extraClass ? " " + extraClass : "");
  el.style.left = click.x + "px";
  el.style.top = click.y + "px";
  el.title = click.id ? "#" + click.id : "saving";
  el.innerHTML = WHALE;
  marks.appendChild(el);
  return el;
}

function call(method, path, body) {
  var init = { method: method, cache: "no-store" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then(function (r) {
    return r.text().then(function (text) {
      var data = null;
      try { data = JSON.parse(text); } catch (e) { /* not JSON: report the status */ }
      if (!r.ok) throw new Error((data && data.message) || ("HTTP " + r.status));
      return data;
    });
  });
}

function load() {
  return call("GET", "/v1/clicks").then(function (list) {
    marks.textContent = "";
    list.forEach(function (c) { draw(c); });
    setCount(list.length);
  });
}

function ping() {
  call("GET", "/v1/ping").then(function (p) {
    var status = document.getElementById("status");
    status.className = "";
    status.textContent = "up: node " + (p.node || "?") + ", task " + (p.task || "?");
    var moved = lastTask !== null && p.task !== lastTask;
    lastTask = p.task;
    if (pending === 0 && (moved || p.clicks !== count)) {
      load().catch(function (e) { setText("error", e.message); });
    }
  }).catch(function () {
    var status = document.getElementById("status");
    status.className = "down";
    status.textContent = "down: waiting for the app to come back";
  });
}

document.addEventListener("click", function (e) {
  if (e.target.closest && e.target.closest("#bar")) return;
  var x = Math.round(e.pageX), y = Math.round(e.pageY);
  var el = draw({ x: x, y: y }, "pending new");
  pending++;
  call("POST", "/v1/clicks", { x: x, y: y }).then(function (c) {
    el.className = "whale";
    el.title = "#" + c.id;
    setCount(count + 1);
    setText("error", "");
  }).catch(function (err) {
    el.remove();
    setText("error", "click not saved: " + err.message);
  }).then(function () { pending--; });
});

load().catch(function (e) { setText("error", e.message); });
ping();
setInterval(ping, 1000);
</script>
</body>
</html>
)page";

}  // namespace berth::counter
