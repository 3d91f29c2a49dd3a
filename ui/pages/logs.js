// berth UI: a task's log, tailed live (GET /berth/v1/tasks/{id}/logs?stream=&offset=&length=;
// docs/compatibility.md §2.1). It starts with the last 64 KiB, then asks for what follows the
// X-Berth-Log-Offset it got. This is the UI's one poll of the server: only while this view is
// open, once a second, and it stops when X-Berth-Task-Done says the log cannot grow.

import { html, useEffect, useRef, useState } from "../vendor/standalone.module.js";
import { getLog } from "../api.js";
import { ErrorLine } from "../util.js";

const FIRST = 65536;
const KEEP = 262144; // characters kept on screen
const TAIL_MS = 1000;

function useTail(taskId, stream) {
  const [text, setText] = useState("");
  const [done, setDone] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let timer = 0;
    let offset = -FIRST;
    setText("");
    setDone(false);
    setError(null);
    async function step() {
      try {
        const part = await getLog(taskId, stream, offset, 1048576);
        if (!live) return;
        offset = part.next;
        if (part.text) setText((t) => (t + part.text).slice(-KEEP));
        setError(null);
        if (part.done) {
          setDone(true);
          return;
        }
      } catch (e) {
        if (!live) return;
        setError(e);
      }
      timer = setTimeout(step, TAIL_MS);
    }
    step();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [taskId, stream]);
  return { text, done, error };
}

export function LogsPage({ taskId, appId: givenAppId }) {
  const [stream, setStream] = useState("stdout");
  const [follow, setFollow] = useState(true);
  const { text, done, error } = useTail(taskId, stream);
  const pre = useRef(null);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);
  const appId = givenAppId || `/${taskId.split(".instance-")[0]}`;
  return html`<div class="page" data-page="logs">
    <p class="crumbs"><a href="#/apps">Apps</a> / <a href=${`#/apps/${encodeURIComponent(appId)}`}>${appId}</a> /</p>
    <h1 class="mono small-h">${taskId}</h1>
    <div class="page-head">
      <div class="tabs" role="group" aria-label="Stream">
        ${["stdout", "stderr"].map((s) => html`<button key=${s} type="button"
          class=${`btn ${stream === s ? "current" : ""}`} aria-pressed=${stream === s}
          onClick=${() => setStream(s)}>${s}</button>`)}
      </div>
      <label class="inline"><input type="checkbox" checked=${follow}
        onChange=${(e) => setFollow(e.target.checked)} /> follow</label>
      <span class="muted">${done ? "the task has ended" : "live"}</span>
    </div>
    <${ErrorLine} error=${error} />
    <pre class="log" ref=${pre} tabindex="0" aria-label=${`${stream} of ${taskId}`}>${text || "(empty)"}</pre>
  </div>`;
}
