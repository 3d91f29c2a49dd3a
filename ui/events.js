// berth UI: the master's event stream, GET /v2/events (docs/compatibility.md §2.6), read with
// fetch() and a stream reader because EventSource cannot send the Authorization header. The
// SSE text (`event: <type>` / `data: <json>` / blank line) is parsed here. When the stream ends
// or fails, it reconnects with a growing backoff (0.5 s doubling to 10 s); every (re)connect
// calls onConnect so the store refetches everything it shows. A standby master answers the
// stream with a redirect to the leader, which the page's policy (connect-src 'self') may not
// follow: the state is then "standby" and the page says where the leader is (docs/ui.md §1).

import { getToken } from "./api.js";

// Every type the UI reacts to. berth's own events reach only streams that name them.
export const EVENT_TYPES = [
  "status_update_event",
  "health_status_changed_event",
  "api_post_event",
  "deployment_info",
  "deployment_success",
  "deployment_failed",
  "deployment_step_success",
  "deployment_step_failure",
  "group_change_success",
  "app_terminated_event",
  "berth_node_changed",
  "berth_node_heartbeat",
  "berth_dataset_changed",
  "berth_failover_changed",
];

// Parses SSE text; returns the unparsed rest. Calls emit(type, data) per complete event.
export function parseSse(buffer, emit) {
  let start = 0;
  for (;;) {
    const end = buffer.indexOf("\n\n", start);
    if (end < 0) break;
    const block = buffer.slice(start, end);
    start = end + 2;
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) emit(type, data.join("\n"));
  }
  return buffer.slice(start);
}

// Starts the stream; returns a function that stops it for good.
export function connectEvents({ onEvent, onConnect, onState }) {
  let stopped = false;
  let controller = null;
  let backoff = 500;
  const query = EVENT_TYPES.map((t) => `event_type=${t}`).join("&");

  async function readOnce() {
    controller = new AbortController();
    const response = await fetch(`/v2/events?${query}`, {
      headers: { Authorization: `Bearer ${getToken()}`, Accept: "text/event-stream" },
      cache: "no-store",
      redirect: "manual",
      signal: controller.signal,
    });
    if (response.type === "opaqueredirect") {
      onState("standby");
      return;
    }
    if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
    onState("live");
    backoff = 500;
    onConnect();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = parseSse(buffer + decoder.decode(value, { stream: true }), (type, data) => {
        let parsed = null;
        try {
          parsed = JSON.parse(data);
        } catch (e) {
          return;
        }
        onEvent(type, parsed);
      });
    }
  }

  async function loop() {
    while (!stopped) {
      try {
        await readOnce();
      } catch (e) {
        /* reconnect below */
      }
      if (stopped) return;
      onState((state) => (state === "standby" ? state : "reconnecting"));
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  loop();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
