// drqa-ng web page: POST /v1/ask, show answers highlighted in their passages. Plain JS, no build step.
"use strict";

const SNIPPET = 220; // characters of context shown on each side of the answer

function snippet(answer) {
  // Build "…before <mark>answer</mark> after…" with text nodes only (no innerHTML: passages are untrusted).
  const text = answer.passage_text;
  const from = Math.max(0, answer.start - SNIPPET);
  const to = Math.min(text.length, answer.end + SNIPPET);
  const p = document.createElement("p");
  p.className = "passage";
  p.append((from > 0 ? "…" : "") + text.slice(from, answer.start));
  const mark = document.createElement("mark");
  mark.textContent = text.slice(answer.start, answer.end);
  p.append(mark);
  p.append(text.slice(answer.end, to) + (to < text.length ? "…" : ""));
  return p;
}

function render(result, elapsedMs, serverMs) {
  const list = document.getElementById("answers");
  list.replaceChildren();
  for (const a of result.answers) {
    const li = document.createElement("li");
    li.className = "answer";
    const head = document.createElement("div");
    head.className = "head";
    const strong = document.createElement("strong");
    strong.className = "answer-text";
    strong.textContent = a.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = ` — ${a.title} (doc ${a.doc_id}) · score ${a.score.toFixed(3)}` +
      ` (reader ${a.reader_score.toFixed(3)}, retriever ${a.retriever_score.toFixed(3)})`;
    head.append(strong, meta);
    li.append(head, snippet(a));
    list.append(li);
  }
  const n = result.answers.length;
  document.getElementById("status").textContent =
    `${n} answer${n === 1 ? "" : "s"} in ${elapsedMs.toFixed(0)} ms (server ${serverMs.toFixed(0)} ms)`;
}

async function ask(event) {
  event.preventDefault();
  const question = document.getElementById("question").value.trim();
  const status = document.getElementById("status");
  if (!question) { status.textContent = "Type a question first."; return; }
  const headers = { "Content-Type": "application/json" };
  const key = document.getElementById("api-key").value;
  if (key) { headers["X-API-Key"] = key; localStorage.setItem("drqa-ng-key", key); }
  status.textContent = "Thinking…";
  document.getElementById("answers").replaceChildren();
  const t0 = performance.now();
  try {
    const resp = await fetch("/v1/ask", {
      method: "POST", headers,
      body: JSON.stringify({ question, top_n: Number(document.getElementById("top-n").value) }),
    });
    const body = await resp.json();
    if (!resp.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      status.textContent = `Error ${resp.status}: ${detail}`;
      return;
    }
    render(body.results[0], performance.now() - t0, body.latency_ms);
  } catch (err) {
    status.textContent = `Request failed: ${err}`;
  }
}

document.getElementById("api-key").value = localStorage.getItem("drqa-ng-key") || "";
document.getElementById("ask-form").addEventListener("submit", ask);
